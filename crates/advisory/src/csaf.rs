//! CSAF 2.0 documents (OASIS Common Security Advisory Framework) into [`Advisory`].
//!
//! One document becomes one advisory keyed by `/document/tracking/id`; its vulnerabilities'
//! CVE ids become aliases. The product tree is walked (vendor → product name → version or
//! version range branches, `full_product_names`, and `relationships`, whose product is the
//! component it refers to), and every product named in `known_affected`, `first_affected` or
//! `last_affected` becomes an [`Affected`] entry; `fixed`/`first_fixed` products of the same
//! name give the fixed versions; `known_not_affected` products with their VEX flag and impact
//! statement become [`NotAffected`].
//!
//! Checked beyond the JSON shape: every mandatory test of CSAF 2.0 section 6.1 (the
//! `mandatory` module), run on CSAF 2.0 documents; a document failing one is refused with
//! [`SourceError::CsafMandatoryTest`], naming the test and the pointer of the offending value.
//! CSAF 2.1 documents are read but not tested (2.1 has its own, different test list).
//!
//! Version ranges: a `product_version_range` is read as a `vers:` URI (`vers:generic/<2.0`)
//! or, as CISA writes them, a bare constraint list (`<=12.1.3`, `>=1.0|<2.0`, and vendors'
//! versions with letters: `<= B.12`, `< B.06.18`, `<=N`). Anything else (a date, a version
//! with words beside it, versions on both sides of an operator) is kept as
//! [`Range::Unparsed`] with its [`UnparsedReason`] and reported, so matching says
//! "undetermined" instead of guessing.

mod cvss_object;
mod cwe;
mod language;
mod mandatory;
mod revision;

use std::collections::{BTreeMap, BTreeSet};

use medguard_purl::Purl;
use serde::Deserialize;
use serde_json::Value;

use crate::ecosystem::osv_ecosystem_and_name;
use crate::model::{
    Advisory, Affected, Constraint, Format, NotAffected, Op, Range, Score, UnparsedReason,
};
use crate::{Problem, SourceError};
pub use mandatory::{MANDATORY_TESTS, TestFailure, mandatory_tests};

#[derive(Debug, Deserialize)]
struct RawDocument {
    document: RawMeta,
    #[serde(default)]
    product_tree: Option<RawProductTree>,
    #[serde(default)]
    vulnerabilities: Vec<RawVulnerability>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct RawMeta {
    category: String,
    csaf_version: String,
    title: String,
    publisher: RawPublisher,
    tracking: RawTracking,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct RawPublisher {
    name: String,
    namespace: String,
    category: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct RawTracking {
    id: String,
    current_release_date: String,
    initial_release_date: String,
    status: String,
    version: String,
    revision_history: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawProductTree {
    #[serde(default)]
    branches: Vec<RawBranch>,
    #[serde(default)]
    full_product_names: Vec<RawProduct>,
    #[serde(default)]
    relationships: Vec<RawRelationship>,
    #[serde(default)]
    product_groups: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
struct RawBranch {
    category: String,
    name: String,
    #[serde(default)]
    branches: Vec<RawBranch>,
    #[serde(default)]
    product: Option<RawProduct>,
}

#[derive(Debug, Deserialize)]
struct RawProduct {
    name: String,
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<RawHelper>,
}

#[derive(Debug, Deserialize)]
struct RawHelper {
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawRelationship {
    product_reference: String,
    relates_to_product_reference: String,
    full_product_name: RawProduct,
}

#[derive(Debug, Deserialize)]
struct RawGroup {
    group_id: String,
    product_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawVulnerability {
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    product_status: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    flags: Vec<RawFlag>,
    #[serde(default)]
    threats: Vec<RawNote>,
    #[serde(default)]
    remediations: Vec<RawNote>,
    #[serde(default)]
    scores: Vec<RawScore>,
    // CSAF 2.1 moved scores into `metrics`.
    #[serde(default)]
    metrics: Vec<RawMetric>,
}

#[derive(Debug, Deserialize)]
struct RawFlag {
    label: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawNote {
    category: String,
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawScore {
    #[serde(default)]
    cvss_v3: Option<RawCvss>,
}

#[derive(Debug, Deserialize)]
struct RawMetric {
    #[serde(default)]
    content: Option<RawMetricContent>,
}

#[derive(Debug, Deserialize)]
struct RawMetricContent {
    #[serde(default)]
    cvss_v3: Option<RawCvss>,
    #[serde(default)]
    cvss_v4: Option<RawCvss>,
}

#[derive(Debug, Deserialize)]
struct RawCvss {
    #[serde(rename = "vectorString")]
    vector_string: String,
}

/// What the product tree says about one product id.
#[derive(Debug, Clone, Default)]
struct ProductInfo {
    full_name: String,
    product_name: Option<String>,
    version: Option<String>,
    version_range: Option<String>,
    purl: Option<String>,
}

fn walk(
    branches: &[RawBranch],
    path: &ProductInfo,
    out: &mut Vec<(String, ProductInfo, String)>,
    pointer: &str,
) {
    for (i, b) in branches.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        let mut info = path.clone();
        match b.category.as_str() {
            "product_name" => info.product_name = Some(b.name.clone()),
            "product_version" => info.version = Some(b.name.clone()),
            "product_version_range" => info.version_range = Some(b.name.clone()),
            _ => {}
        }
        if let Some(p) = &b.product {
            let mut info = info.clone();
            info.full_name.clone_from(&p.name);
            info.purl = p
                .product_identification_helper
                .as_ref()
                .and_then(|h| h.purl.clone());
            out.push((
                p.product_id.clone(),
                info,
                format!("{here}/product/product_id"),
            ));
        }
        walk(&b.branches, &info, out, &format!("{here}/branches"));
    }
}

/// Parses one CSAF document from a JSON value.
///
/// # Errors
/// [`SourceError::Schema`] with the JSON pointer where the document breaks the schema or a
/// mandatory test this crate relies on.
#[allow(clippy::too_many_lines)]
pub fn parse_csaf(
    value: Value,
    content_hash: String,
) -> Result<(Advisory, Vec<Problem>), SourceError> {
    // The mandatory tests read the JSON the typed reading consumes; a schema error still
    // comes first, as it would from a validator.
    let failures = if value
        .pointer("/document/csaf_version")
        .and_then(Value::as_str)
        == Some("2.0")
    {
        mandatory_tests(&value)
    } else {
        Vec::new()
    };
    let raw: RawDocument = crate::deserialize_at(value)?;
    if let Some(first) = failures.first() {
        return Err(SourceError::CsafMandatoryTest {
            test: first.test,
            pointer: first.pointer.clone(),
            reason: first.reason.clone(),
            count: failures.len(),
        });
    }
    let schema = |pointer: String, reason: String| SourceError::Schema {
        pointer,
        reason,
        source: None,
    };
    if !matches!(raw.document.csaf_version.as_str(), "2.0" | "2.1") {
        return Err(schema(
            "/document/csaf_version".into(),
            format!("CSAF version {:?} is not 2.0", raw.document.csaf_version),
        ));
    }
    let tracking = &raw.document.tracking;
    if tracking.id.trim().is_empty() {
        return Err(schema(
            "/document/tracking/id".into(),
            "the tracking id is empty".into(),
        ));
    }
    let tree = raw.product_tree.unwrap_or_default();

    // Every product definition, with where it is defined.
    let mut defined: Vec<(String, ProductInfo, String)> = Vec::new();
    walk(
        &tree.branches,
        &ProductInfo::default(),
        &mut defined,
        "/product_tree/branches",
    );
    for (i, p) in tree.full_product_names.iter().enumerate() {
        defined.push((
            p.product_id.clone(),
            ProductInfo {
                full_name: p.name.clone(),
                purl: p
                    .product_identification_helper
                    .as_ref()
                    .and_then(|h| h.purl.clone()),
                ..ProductInfo::default()
            },
            format!("/product_tree/full_product_names/{i}/product_id"),
        ));
    }
    let mut products: BTreeMap<String, ProductInfo> = BTreeMap::new();
    for (id, info, pointer) in &defined {
        if products.insert(id.clone(), info.clone()).is_some() {
            return Err(schema(
                pointer.clone(),
                format!("product id {id:?} is defined twice (CSAF 6.1.2)"),
            ));
        }
    }
    // A relationship's product is the component it names, installed on a platform. A
    // relationship may refer to a product another relationship defines: define them all
    // first, then check the references.
    for (i, r) in tree.relationships.iter().enumerate() {
        let id = &r.full_product_name.product_id;
        let info = ProductInfo {
            full_name: r.full_product_name.name.clone(),
            ..ProductInfo::default()
        };
        if products.insert(id.clone(), info).is_some() {
            return Err(schema(
                format!("/product_tree/relationships/{i}/full_product_name/product_id"),
                format!("product id {id:?} is defined twice (CSAF 6.1.2)"),
            ));
        }
    }
    for (i, r) in tree.relationships.iter().enumerate() {
        let base = format!("/product_tree/relationships/{i}");
        for (field, id) in [
            ("product_reference", &r.product_reference),
            (
                "relates_to_product_reference",
                &r.relates_to_product_reference,
            ),
        ] {
            if !products.contains_key(id) {
                return Err(schema(
                    format!("{base}/{field}"),
                    format!("product id {id:?} is not defined (CSAF 6.1.1)"),
                ));
            }
        }
        let mut info = products
            .get(&r.product_reference)
            .cloned()
            .unwrap_or_default();
        info.full_name.clone_from(&r.full_product_name.name);
        products.insert(r.full_product_name.product_id.clone(), info);
    }
    let mut groups: BTreeMap<&str, &[String]> = BTreeMap::new();
    for (i, g) in tree.product_groups.iter().enumerate() {
        for (j, id) in g.product_ids.iter().enumerate() {
            if !products.contains_key(id) {
                return Err(schema(
                    format!("/product_tree/product_groups/{i}/product_ids/{j}"),
                    format!("product id {id:?} is not defined (CSAF 6.1.1)"),
                ));
            }
        }
        groups.insert(&g.group_id, &g.product_ids);
    }
    let check = |ids: &[String], pointer: &str| -> Result<(), SourceError> {
        for (k, id) in ids.iter().enumerate() {
            if !products.contains_key(id) {
                return Err(schema(
                    format!("{pointer}/{k}"),
                    format!("product id {id:?} is not defined (CSAF 6.1.1)"),
                ));
            }
        }
        Ok(())
    };
    let expand = |ids: &[String], group_ids: &[String]| -> Vec<String> {
        let mut all: Vec<String> = ids.to_vec();
        for g in group_ids {
            all.extend(
                groups
                    .get(g.as_str())
                    .map(|p| p.to_vec())
                    .unwrap_or_default(),
            );
        }
        all
    };

    let mut problems = Vec::new();
    let mut aliases = Vec::new();
    let mut scores = Vec::new();
    let mut affected_ids: BTreeSet<String> = BTreeSet::new();
    let mut first_affected: BTreeSet<String> = BTreeSet::new();
    let mut last_affected: BTreeSet<String> = BTreeSet::new();
    let mut fixed_ids: BTreeSet<String> = BTreeSet::new();
    let mut not_affected = Vec::new();
    let mut remediations = Vec::new();
    let mut threats = Vec::new();
    for (v, vuln) in raw.vulnerabilities.iter().enumerate() {
        let base = format!("/vulnerabilities/{v}");
        if let Some(cve) = &vuln.cve
            && !aliases.contains(cve)
        {
            aliases.push(cve.clone());
        }
        let status = vuln.product_status.clone().unwrap_or_default();
        for (category, ids) in &status {
            check(ids, &format!("{base}/product_status/{category}"))?;
            match category.as_str() {
                "known_affected" => affected_ids.extend(ids.iter().cloned()),
                "first_affected" => first_affected.extend(ids.iter().cloned()),
                "last_affected" => last_affected.extend(ids.iter().cloned()),
                "fixed" | "first_fixed" => fixed_ids.extend(ids.iter().cloned()),
                _ => {}
            }
        }
        for (f, flag) in vuln.flags.iter().enumerate() {
            check(&flag.product_ids, &format!("{base}/flags/{f}/product_ids"))?;
        }
        for (t, threat) in vuln.threats.iter().enumerate() {
            check(
                &threat.product_ids,
                &format!("{base}/threats/{t}/product_ids"),
            )?;
            threats.push(format!("{}: {}", threat.category, threat.details));
        }
        for (r, rem) in vuln.remediations.iter().enumerate() {
            check(
                &rem.product_ids,
                &format!("{base}/remediations/{r}/product_ids"),
            )?;
            remediations.push(format!("{}: {}", rem.category, rem.details));
        }
        for s in &vuln.scores {
            if let Some(c) = &s.cvss_v3 {
                scores.push(Score {
                    vector: c.vector_string.clone(),
                });
            }
        }
        for m in &vuln.metrics {
            if let Some(c) = &m.content {
                for cvss in [&c.cvss_v4, &c.cvss_v3].into_iter().flatten() {
                    scores.push(Score {
                        vector: cvss.vector_string.clone(),
                    });
                }
            }
        }
        // VEX: not affected, with the flag's justification and the impact statement.
        for id in status.get("known_not_affected").into_iter().flatten() {
            let justification = vuln
                .flags
                .iter()
                .find(|f| expand(&f.product_ids, &f.group_ids).contains(id))
                .map(|f| f.label.clone());
            let detail = vuln
                .threats
                .iter()
                .find(|t| {
                    t.category == "impact" && expand(&t.product_ids, &t.group_ids).contains(id)
                })
                .map(|t| t.details.clone());
            let product = products
                .get(id)
                .map_or_else(|| id.clone(), |p| p.full_name.clone());
            not_affected.push(NotAffected {
                product,
                justification,
                detail,
            });
        }
    }
    scores.dedup();
    remediations.dedup();
    threats.dedup();

    // Fixed versions by product name.
    let mut fixed_by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in &fixed_ids {
        if let Some(p) = products.get(id)
            && let (Some(name), Some(version)) = (&p.product_name, &p.version)
        {
            fixed_by_name
                .entry(name.to_lowercase())
                .or_default()
                .push(version.clone());
        }
    }

    let mut affected = Vec::new();
    let all_affected = affected_ids
        .iter()
        .chain(&first_affected)
        .chain(&last_affected);
    let mut seen = BTreeSet::new();
    for id in all_affected {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(p) = products.get(id) else { continue };
        let name = p
            .product_name
            .clone()
            .unwrap_or_else(|| p.full_name.clone());
        let mut entry = Affected {
            ecosystem: "CSAF".to_owned(),
            name: name.clone(),
            purl: p.purl.clone(),
            ranges: Vec::new(),
            versions: Vec::new(),
            fixed: fixed_by_name
                .get(&name.to_lowercase())
                .cloned()
                .unwrap_or_default(),
            scores: Vec::new(),
        };
        // Product trees carry hand-written URLs: read them as matching reads SBOMs.
        if let Some(purl) = p.purl.as_deref().and_then(|u| Purl::parse_lenient(u).ok())
            && let Some((ecosystem, pname)) = osv_ecosystem_and_name(&purl)
        {
            entry.ecosystem = ecosystem;
            entry.name = pname;
            if entry.versions.is_empty()
                && p.version.is_none()
                && let Some(v) = purl.version().map(str::to_owned)
            {
                entry.versions.push(v);
            }
        }
        if let Some(v) = &p.version {
            if first_affected.contains(id) {
                entry.ranges.push(Range::Constraints {
                    constraints: vec![Constraint {
                        op: Op::Ge,
                        version: v.clone(),
                    }],
                });
            } else if last_affected.contains(id) {
                entry.ranges.push(Range::Constraints {
                    constraints: vec![Constraint {
                        op: Op::Le,
                        version: v.clone(),
                    }],
                });
            } else {
                entry.versions.push(v.clone());
            }
        } else if let Some(r) = &p.version_range {
            let range = parse_range(r);
            if let Range::Unparsed { text, reason } = &range {
                problems.push(Problem {
                    pointer: format!("product {id}"),
                    reason: format!("{name}: version range {text:?} is not a version expression ({reason}); findings are reported as undetermined"),
                });
            }
            entry.ranges.push(range);
        } else if entry.versions.is_empty() {
            // A product named without any version: every version is affected.
            entry.ranges.push(Range::Constraints {
                constraints: Vec::new(),
            });
        }
        affected.push(entry);
    }

    let advisory = Advisory {
        id: tracking.id.clone(),
        format: Format::Csaf,
        modified: tracking.current_release_date.clone(),
        published: Some(tracking.initial_release_date.clone()),
        aliases,
        summary: raw.document.title.clone(),
        scores,
        affected,
        not_affected,
        remediations,
        threats,
        content_hash,
    };
    Ok((advisory, problems))
}

/// Reads a `vers:` URI or a bare `|`-separated constraint list.
///
/// A version is one word of letters, digits and `.`, `-`, `_`, `+`, `~` with a digit in it, or
/// a revision letter or two (`K`, `N`): vendors' versions with letters (`B.06.18`, `R8.0.3`,
/// `VM5.0`, `BT02`) are versions, ordered by the generic order within their series (see
/// `matching`). Anything else is kept as [`Range::Unparsed`] with the reason.
#[must_use]
pub fn parse_range(text: &str) -> Range {
    let unparsed = |reason| Range::Unparsed {
        text: text.to_owned(),
        reason,
    };
    if names_a_date(text) {
        return unparsed(UnparsedReason::Date);
    }
    let body = match text.trim().strip_prefix("vers:") {
        Some(rest) => match rest.split_once('/') {
            Some((_, c)) => c,
            None => return unparsed(UnparsedReason::Other),
        },
        None => text.trim(),
    };
    if body == "*" {
        return Range::Constraints {
            constraints: Vec::new(),
        };
    }
    let mut constraints = Vec::new();
    for part in body.split('|') {
        let part = part.trim();
        let (op, rest) = if let Some(r) = part.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = part.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = part.strip_prefix("!=") {
            (Op::Ne, r)
        } else if let Some(r) = part.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = part.strip_prefix('>') {
            (Op::Gt, r)
        } else if let Some(r) = part.strip_prefix('=') {
            (Op::Eq, r)
        } else {
            (Op::Eq, part)
        };
        let version = rest.trim();
        // A note or condition in brackets comes first: `9.x (with Wireless Battery Modules
        // >= 22D19` has an operator too, but inside words.
        if version.contains(['(', ')', ',', '/']) {
            return unparsed(UnparsedReason::Qualified);
        }
        if version.contains(['<', '>', '=']) {
            return unparsed(UnparsedReason::Interval);
        }
        if version.contains(char::is_whitespace) {
            return unparsed(UnparsedReason::Qualified);
        }
        if !is_version_word(version) {
            return unparsed(UnparsedReason::Other);
        }
        constraints.push(Constraint {
            op,
            version: version.to_owned(),
        });
    }
    Range::Constraints { constraints }
}

/// One word that reads as a version: a digit somewhere (`B.12`, `v20D32`, `4.0`), or one or
/// two letters alone (a revision: `K`, `N`); starting with a letter or digit.
fn is_version_word(v: &str) -> bool {
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~'));
    let starts_well = v.starts_with(|c: char| c.is_ascii_alphanumeric());
    let has_digit = v.contains(|c: char| c.is_ascii_digit());
    let revision_letters = (1..=2).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphabetic());
    allowed && starts_well && (has_digit || revision_letters)
}

/// Whether the text names a month (`< august 28`, `<May 2018`) or is written as a date
/// (`<8/30/2024`): a release date, which says nothing about which versions it covers.
fn names_a_date(text: &str) -> bool {
    let slashed_date = text
        .split(|c: char| !(c.is_ascii_digit() || c == '/'))
        .any(|w| {
            let parts: Vec<&str> = w.split('/').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
        });
    if slashed_date {
        return true;
    }
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    text.split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| MONTHS.contains(&w.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_cisa_and_vers_write_them() {
        let c = |op, v: &str| Constraint {
            op,
            version: v.to_owned(),
        };
        assert_eq!(
            parse_range("<=12.1.3"),
            Range::Constraints {
                constraints: vec![c(Op::Le, "12.1.3")]
            }
        );
        assert_eq!(
            parse_range("vers:generic/>=1.0|<2.0"),
            Range::Constraints {
                constraints: vec![c(Op::Ge, "1.0"), c(Op::Lt, "2.0")]
            }
        );
        assert_eq!(
            parse_range("vers:all/*"),
            Range::Constraints {
                constraints: vec![]
            }
        );
        // Vendors' versions with letters, as CISA's medical advisories write them.
        assert_eq!(
            parse_range(">=BT02 | <= BT06"),
            Range::Constraints {
                constraints: vec![c(Op::Ge, "BT02"), c(Op::Le, "BT06")]
            }
        );
        assert_eq!(
            parse_range("<=N"),
            Range::Constraints {
                constraints: vec![c(Op::Le, "N")]
            }
        );
        let reason = |t| match parse_range(t) {
            Range::Unparsed { reason, .. } => Some(reason),
            _ => None,
        };
        assert_eq!(reason("< august 28"), Some(UnparsedReason::Date));
        assert_eq!(reason("<May 2018"), Some(UnparsedReason::Date));
        assert_eq!(reason("<8/30/2024"), Some(UnparsedReason::Date));
        assert_eq!(reason("A10 < A11"), Some(UnparsedReason::Interval));
        assert_eq!(reason("<= 3.0 D15"), Some(UnparsedReason::Qualified));
        assert_eq!(
            reason("<= 1.54 (integrated into GE MobileLink)"),
            Some(UnparsedReason::Qualified)
        );
        assert_eq!(reason("<=latest"), Some(UnparsedReason::Other));
        assert_eq!(reason("vers:<1.0"), Some(UnparsedReason::Other));
        assert_eq!(reason("<= .5"), Some(UnparsedReason::Other));
    }
}
