//! OSV records (<https://ossf.github.io/osv-schema/>), JSON or YAML, into [`Advisory`].
//!
//! Only the fields matching and reporting use are read; unknown fields are ignored as the
//! schema allows. A record that breaks the schema where we depend on it is refused with the
//! JSON pointer of the offending value.

use serde::Deserialize;
use serde_json::Value;

use crate::model::{Advisory, Affected, Event, Format, Range, Score};
use crate::{Problem, SourceError};

#[derive(Debug, Deserialize)]
struct RawRecord {
    id: String,
    modified: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
}

#[derive(Debug, Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
}

#[derive(Debug, Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: RangeType,
    events: Vec<RawEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum RangeType {
    Git,
    Semver,
    Ecosystem,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// Parses one OSV record from a JSON value.
///
/// # Errors
/// [`SourceError::Schema`] with the JSON pointer where the record breaks the schema.
pub fn parse_osv(
    value: Value,
    content_hash: String,
) -> Result<(Advisory, Vec<Problem>), SourceError> {
    let raw: RawRecord = crate::deserialize_at(value)?;
    let schema = |pointer: String, reason: &str| SourceError::Schema {
        pointer,
        reason: reason.to_owned(),
        source: None,
    };
    if raw.id.trim().is_empty() {
        return Err(schema("/id".into(), "the id is empty"));
    }
    if time::OffsetDateTime::parse(
        &raw.modified,
        &time::format_description::well_known::Rfc3339,
    )
    .is_err()
    {
        return Err(schema("/modified".into(), "not an RFC 3339 timestamp"));
    }
    let mut problems = Vec::new();
    let mut affected = Vec::new();
    for (i, a) in raw.affected.into_iter().enumerate() {
        let Some(package) = a.package else {
            // Records about a git repository only (no package) cannot match an inventory.
            continue;
        };
        let scheme = medguard_versions::Scheme::for_osv_ecosystem(&package.ecosystem);
        if scheme.is_none() {
            problems.push(Problem {
                pointer: format!("/affected/{i}/package/ecosystem"),
                reason: format!(
                    "unknown ecosystem {:?}: {} cannot be matched by version",
                    package.ecosystem, package.name
                ),
            });
        }
        let mut ranges = Vec::new();
        for (j, r) in a.ranges.into_iter().enumerate() {
            let mut events = Vec::new();
            for (k, e) in r.events.into_iter().enumerate() {
                let pointer = format!("/affected/{i}/ranges/{j}/events/{k}");
                let event = match (e.introduced, e.fixed, e.last_affected, e.limit) {
                    (Some(v), None, None, None) => Event::Introduced(v),
                    (None, Some(v), None, None) => Event::Fixed(v),
                    (None, None, Some(v), None) => Event::LastAffected(v),
                    (None, None, None, Some(v)) => Event::Limit(v),
                    _ => {
                        return Err(schema(
                            pointer,
                            "an event must have exactly one of introduced, fixed, last_affected, limit",
                        ));
                    }
                };
                if !matches!(r.kind, RangeType::Git) {
                    check_version(
                        &mut problems,
                        scheme_for(&r.kind, scheme),
                        &event,
                        &pointer,
                        &package.name,
                    );
                }
                events.push(event);
            }
            if events.is_empty() {
                return Err(schema(
                    format!("/affected/{i}/ranges/{j}/events"),
                    "a range needs at least one event",
                ));
            }
            ranges.push(match r.kind {
                RangeType::Git => Range::Git,
                RangeType::Semver => Range::Events {
                    semver: true,
                    events,
                },
                RangeType::Ecosystem => Range::Events {
                    semver: false,
                    events,
                },
            });
        }
        affected.push(Affected {
            ecosystem: package.ecosystem,
            name: package.name,
            purl: package.purl,
            ranges,
            versions: a.versions,
            fixed: Vec::new(),
            scores: a.severity.into_iter().filter_map(score).collect(),
        });
    }
    let mut aliases = raw.aliases;
    for u in raw.upstream {
        if !aliases.contains(&u) {
            aliases.push(u);
        }
    }
    let summary = raw
        .summary
        .or_else(|| {
            raw.details
                .map(|d| d.lines().next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default();
    let advisory = Advisory {
        id: raw.id,
        format: Format::Osv,
        modified: raw.modified,
        published: raw.published,
        aliases,
        summary,
        scores: raw.severity.into_iter().filter_map(score).collect(),
        affected: if raw.withdrawn.is_some() {
            Vec::new()
        } else {
            affected
        },
        not_affected: Vec::new(),
        remediations: Vec::new(),
        threats: Vec::new(),
        content_hash,
    };
    Ok((advisory, problems))
}

fn scheme_for(
    kind: &RangeType,
    ecosystem: Option<medguard_versions::Scheme>,
) -> Option<medguard_versions::Scheme> {
    match kind {
        RangeType::Semver => Some(medguard_versions::Scheme::Semver),
        _ => ecosystem,
    }
}

fn check_version(
    problems: &mut Vec<Problem>,
    scheme: Option<medguard_versions::Scheme>,
    event: &Event,
    pointer: &str,
    package: &str,
) {
    let (
        Some(scheme),
        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v),
    ) = (scheme, event)
    else {
        return;
    };
    if matches!(event, Event::Introduced(v) if v == "0") || v == "*" {
        return;
    }
    if let Err(err) = medguard_versions::Version::parse(scheme, v) {
        problems.push(Problem {
            pointer: pointer.to_owned(),
            reason: format!(
                "{package}: {err}; findings in this range are reported as undetermined"
            ),
        });
    }
}

fn score(s: RawSeverity) -> Option<Score> {
    s.kind
        .starts_with("CVSS")
        .then_some(Score { vector: s.score })
}
