//! A device's security status, and the rule that nothing unproven is "ok".
//!
//! The status has one part per measure the white papers ask for (integrity, allowlisting,
//! malware scanning, vulnerabilities, patches, the audit trail) and an overall verdict:
//!
//! - `revoked`: the device may no longer report;
//! - `attention`: something is wrong — deviations from the validated configuration, malware,
//!   a broken or gapped audit chain, recent allowlist denials, open relevant findings of high
//!   or critical priority, a failed install;
//! - `stale`: the device has been silent longer than it said it would be (computed when read,
//!   from the time of its last report, so a silent device turns stale without any write);
//! - `unknown`: nothing wrong is known, but integrity or the audit trail is not proven (never
//!   verified, verification could not run, no audit upload yet);
//! - `ok`: the tree verified intact against its signed profile, the audit chain is intact,
//!   and nothing needs attention. Parts not reported (no scan configured, say) show as
//!   `unknown` in the detail and are not claimed.
//!
//! An `attention` device that also went silent stays `attention`, since what it last said
//! still needs a person; the detail says it is silent.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit_chain::ChainState;
use crate::state::DeviceState;
use medguard_proto::{AllowlistMode, InstallOutcome};

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverallStatus {
    /// Proven in order.
    Ok,
    /// Something needs a person.
    Attention,
    /// Silent beyond its expected interval.
    Stale,
    /// Not proven either way.
    Unknown,
    /// Revoked.
    Revoked,
}

impl OverallStatus {
    /// The name used in storage, the API and filters.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Attention => "attention",
            Self::Stale => "stale",
            Self::Unknown => "unknown",
            Self::Revoked => "revoked",
        }
    }

    /// Parses a name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "attention" => Self::Attention,
            "stale" => Self::Stale,
            "unknown" => Self::Unknown,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }
}

/// Open findings by priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCounts {
    /// Relevant, critical.
    pub critical: u64,
    /// Relevant, high.
    pub high: u64,
    /// Relevant, medium.
    pub medium: u64,
    /// Relevant, low.
    pub low: u64,
    /// Needing a person's review.
    pub needs_review: u64,
    /// Not relevant (with a VEX justification).
    pub not_relevant: u64,
}

/// Install outcomes seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchCounts {
    /// Installed.
    pub installed: u64,
    /// Rolled back.
    pub rolled_back: u64,
    /// Deferred (clinical use, window closed).
    pub deferred: u64,
    /// Refused or failed.
    pub failed: u64,
    /// The last outcome's bundle version and outcome.
    pub last: Option<String>,
}

/// The status of a device, part by part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// The verdict as stored (staleness is applied when read: see [`DeviceStatus::at`]).
    pub overall: OverallStatus,
    /// `intact`, `deviations`, `not-run` or `unknown`.
    pub integrity: String,
    /// Deviations in the last verification.
    pub deviations: u64,
    /// `enforce`, `audit`, `off` or `unknown`.
    pub allowlist: String,
    /// Denials in the last allowlist report.
    pub recent_denials: u64,
    /// `clean`, `findings`, `incomplete` or `unknown`.
    pub malware: String,
    /// When a completed scan last found nothing (RFC 3339).
    pub last_clean_scan: Option<String>,
    /// Open findings.
    pub vulnerabilities: FindingCounts,
    /// Installs.
    pub patches: PatchCounts,
    /// `intact`, `broken`, `gap`, `reset` or `unknown`.
    pub audit: String,
    /// Why the verdict is what it is, in sentences.
    pub reasons: Vec<String>,
}

impl DeviceStatus {
    /// The verdict at `now`, given the last report at `last_seen` and the interval the device
    /// promised: a device silent beyond it is stale unless it needs attention anyway.
    #[must_use]
    pub fn at(
        stored: OverallStatus,
        last_seen: Option<i64>,
        within_secs: i64,
        now: i64,
    ) -> OverallStatus {
        let silent = last_seen.is_none_or(|seen| seen.saturating_add(within_secs) < now);
        match stored {
            OverallStatus::Revoked | OverallStatus::Attention => stored,
            _ if silent => OverallStatus::Stale,
            other => other,
        }
    }
}

/// Computes the status from what the device last said.
#[must_use]
pub fn compute(
    state: &DeviceState,
    chains: &[ChainState],
    findings: FindingCounts,
    revoked: bool,
    now: OffsetDateTime,
) -> DeviceStatus {
    let mut reasons = Vec::new();
    let mut attention = false;
    let mut unproven = false;

    let (integrity, deviations) = match &state.integrity {
        None => {
            unproven = true;
            reasons.push("The device has not sent a verification yet.".to_owned());
            ("unknown", 0)
        }
        Some(i) => match (&i.summary, &i.not_run) {
            (_, Some(why)) => {
                unproven = true;
                reasons.push(format!("The last verification could not run: {why}"));
                ("not-run", 0)
            }
            (Some(s), None) => {
                let n = s.added.saturating_add(s.removed).saturating_add(s.changed);
                if n > 0 {
                    attention = true;
                    reasons.push(format!(
                        "{n} deviations from the validated configuration ({} added, {} removed, {} changed).",
                        s.added, s.removed, s.changed
                    ));
                    ("deviations", n)
                } else if s.unverifiable > 0 {
                    unproven = true;
                    reasons.push(format!("{} entries could not be verified.", s.unverifiable));
                    ("unknown", 0)
                } else {
                    ("intact", 0)
                }
            }
            (None, None) => {
                unproven = true;
                ("unknown", 0)
            }
        },
    };

    let (allowlist, recent_denials) = match &state.allowlist {
        None => ("unknown", 0),
        Some(a) => {
            // Denials within a day of now count as recent.
            let recent = a
                .denials
                .iter()
                .filter(|d| now - d.time < time::Duration::days(1))
                .count() as u64;
            if recent > 0 {
                attention = true;
                reasons.push(format!(
                    "{recent} executables were refused by the allowlist in the last 24 hours."
                ));
            }
            (
                match a.mode {
                    AllowlistMode::Enforce => "enforce",
                    AllowlistMode::Audit => "audit",
                    AllowlistMode::Off => "off",
                },
                recent,
            )
        }
    };

    let (malware, last_clean_scan) = match &state.scan {
        None => ("unknown", None),
        Some(s) => {
            let last = s.last_clean.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
            if s.findings_total > 0 {
                attention = true;
                reasons.push(format!(
                    "The last scan found {} matches of malware signatures.",
                    s.findings_total
                ));
                ("findings", last)
            } else if s.completed {
                ("clean", last)
            } else {
                ("incomplete", last)
            }
        }
    };

    if findings.critical > 0 || findings.high > 0 {
        attention = true;
        reasons.push(format!(
            "{} critical and {} high priority vulnerabilities are open.",
            findings.critical, findings.high
        ));
    }

    let mut patches = PatchCounts::default();
    for i in &state.installs {
        match i.report.outcome {
            InstallOutcome::Installed | InstallOutcome::AlreadyInstalled => patches.installed += 1,
            InstallOutcome::RolledBack => patches.rolled_back += 1,
            InstallOutcome::Deferred => patches.deferred += 1,
            InstallOutcome::Refused | InstallOutcome::Failed => patches.failed += 1,
        }
    }
    if let Some(last) = state.installs.first() {
        patches.last = Some(format!(
            "{} {:?}",
            last.report.bundle.version, last.report.outcome
        ));
        if matches!(last.report.outcome, InstallOutcome::Failed) {
            attention = true;
            reasons.push(format!(
                "The install of {} failed and needs a person.",
                last.report.bundle.version
            ));
        }
    }

    let audit = if chains.is_empty() {
        unproven = true;
        reasons.push(
            "No audit records have been uploaded, so the device's log is not proven complete."
                .to_owned(),
        );
        "unknown"
    } else if let Some(bad) = chains.iter().find(|c| c.state != "intact") {
        attention = true;
        reasons.push(format!(
            "The audit log {:?} is {}: {}",
            bad.log,
            bad.state,
            bad.problem.as_deref().unwrap_or("no detail")
        ));
        match bad.state.as_str() {
            "broken" => "broken",
            "gap" => "gap",
            _ => "reset",
        }
    } else {
        "intact"
    };

    let overall = if revoked {
        OverallStatus::Revoked
    } else if attention {
        OverallStatus::Attention
    } else if unproven {
        OverallStatus::Unknown
    } else {
        OverallStatus::Ok
    };
    DeviceStatus {
        overall,
        integrity: integrity.to_owned(),
        deviations,
        allowlist: allowlist.to_owned(),
        recent_denials,
        malware: malware.to_owned(),
        last_clean_scan,
        vulnerabilities: findings,
        patches,
        audit: audit.to_owned(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_makes_a_device_stale_but_not_one_that_needs_attention() {
        let now = 10_000;
        assert_eq!(
            DeviceStatus::at(OverallStatus::Ok, Some(now - 100), 60, now),
            OverallStatus::Stale
        );
        assert_eq!(
            DeviceStatus::at(OverallStatus::Ok, Some(now - 10), 60, now),
            OverallStatus::Ok
        );
        assert_eq!(
            DeviceStatus::at(OverallStatus::Unknown, None, 60, now),
            OverallStatus::Stale
        );
        assert_eq!(
            DeviceStatus::at(OverallStatus::Attention, Some(0), 60, now),
            OverallStatus::Attention
        );
    }

    #[test]
    fn nothing_reported_is_unknown_never_ok() {
        let s = compute(
            &DeviceState::default(),
            &[],
            FindingCounts::default(),
            false,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(s.overall, OverallStatus::Unknown);
        assert_eq!(s.integrity, "unknown");
        assert_eq!(s.audit, "unknown");
    }
}
