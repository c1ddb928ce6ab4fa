//! The latest known state of a device, one part per kind of report, kept as one JSON
//! document on the device's row. Each report replaces its part (denials and installs
//! accumulate, bounded); the full reports themselves are kept in `reports` as evidence.

use medguard_proto::{
    AgentHealth, AllowlistMode, AllowlistReport, Denial, DeviationRecord, InstallReport, Listener,
    MalwareFinding, ScanReport, ScanScope, UnverifiablePath, Verification, VerificationOutcome,
    VerificationSummary,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Deviations and findings kept on the device's state (the report keeps them all).
pub const KEPT_ITEMS: usize = 200;
/// Denials kept on the device's state.
pub const KEPT_DENIALS: usize = 100;
/// Install outcomes kept on the device's state.
pub const KEPT_INSTALLS: usize = 20;

/// Everything the server last heard from a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// The last verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<IntegrityState>,
    /// The last allowlist report, and its denials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowlist: Option<AllowlistState>,
    /// The last scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanState>,
    /// The listening services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ServicesState>,
    /// Recent installs, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installs: Vec<InstallState>,
    /// The last inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryState>,
    /// The agent's health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
}

/// The last verification of the device's tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrityState {
    /// When the report was made (device clock).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The sequence number of the report.
    pub seq: u64,
    /// The profile's digest, when it verified.
    pub profile_digest: Option<String>,
    /// The digest of its entries alone (the tree it describes).
    #[serde(default)]
    pub profile_entries: Option<String>,
    /// Counts, when the verification ran.
    pub summary: Option<VerificationSummary>,
    /// The first deviations.
    pub deviations: Vec<DeviationRecord>,
    /// Deviations not kept here.
    pub deviations_omitted: u64,
    /// The first unverifiable entries.
    pub unverifiable: Vec<UnverifiablePath>,
    /// Why it did not run.
    pub not_run: Option<String>,
}

/// The allowlist's state and recent denials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowlistState {
    /// When reported.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The mode.
    pub mode: AllowlistMode,
    /// Entries in the list.
    pub entries: u64,
    /// Why it is off.
    pub reason: Option<String>,
    /// Recent denials, newest first.
    pub denials: Vec<Denial>,
    /// Denials reported in all.
    pub denials_total: u64,
}

/// The last scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanState {
    /// When it finished.
    #[serde(with = "time::serde::rfc3339")]
    pub finished: OffsetDateTime,
    /// What it covered.
    pub scope: ScanScope,
    /// Whether it completed.
    pub completed: bool,
    /// Files examined.
    pub files: u64,
    /// Findings reported.
    pub findings_total: u64,
    /// The first findings.
    pub findings: Vec<MalwareFinding>,
    /// When a completed scan last found nothing.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_clean: Option<OffsetDateTime>,
}

/// The listening services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicesState {
    /// When reported.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The listeners.
    pub listeners: Vec<Listener>,
}

/// One install outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallState {
    /// The sequence number of the report.
    pub seq: u64,
    /// The report.
    pub report: InstallReport,
}

/// The last inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryState {
    /// When reported.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Its content digest (devices with the same software share it).
    pub digest: String,
    /// Components.
    pub components: u64,
}

/// The agent's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthState {
    /// When reported.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The report.
    pub health: AgentHealth,
}

impl DeviceState {
    pub(crate) fn apply_verification(&mut self, seq: u64, at: OffsetDateTime, v: &Verification) {
        let digest = v.profile.as_ref().map(|p| p.digest.clone());
        let entries = v.profile.as_ref().and_then(|p| p.entries_digest.clone());
        self.integrity = Some(match &v.outcome {
            VerificationOutcome::Completed {
                summary,
                deviations,
                deviations_omitted,
                unverifiable,
                ..
            } => {
                let kept: Vec<_> = deviations.iter().take(KEPT_ITEMS).cloned().collect();
                let omitted =
                    deviations_omitted.saturating_add((deviations.len() - kept.len()) as u64);
                IntegrityState {
                    at,
                    seq,
                    profile_digest: digest,
                    profile_entries: entries,
                    summary: Some(*summary),
                    deviations: kept,
                    deviations_omitted: omitted,
                    unverifiable: unverifiable.iter().take(KEPT_ITEMS).cloned().collect(),
                    not_run: None,
                }
            }
            VerificationOutcome::NotRun { reason } => IntegrityState {
                at,
                seq,
                profile_digest: digest,
                profile_entries: entries,
                summary: None,
                deviations: Vec::new(),
                deviations_omitted: 0,
                unverifiable: Vec::new(),
                not_run: Some(reason.clone()),
            },
        });
    }

    pub(crate) fn apply_allowlist(&mut self, at: OffsetDateTime, a: &AllowlistReport) {
        let (mut denials, total) = self
            .allowlist
            .take()
            .map(|s| (s.denials, s.denials_total))
            .unwrap_or_default();
        let mut fresh: Vec<Denial> = a.denials.clone();
        fresh.sort_by_key(|d| std::cmp::Reverse(d.time));
        fresh.append(&mut denials);
        fresh.truncate(KEPT_DENIALS);
        self.allowlist = Some(AllowlistState {
            at,
            mode: a.mode,
            entries: a.entries,
            reason: a.reason.clone(),
            denials: fresh,
            denials_total: total
                .saturating_add(a.denials.len() as u64)
                .saturating_add(a.denials_omitted),
        });
    }

    pub(crate) fn apply_scan(&mut self, s: &ScanReport) {
        let total = (s.findings.len() as u64).saturating_add(s.findings_omitted);
        let previous_clean = self.scan.as_ref().and_then(|x| x.last_clean);
        let clean_now = s.completed && total == 0;
        self.scan = Some(ScanState {
            finished: s.finished,
            scope: s.scope,
            completed: s.completed,
            files: s.files,
            findings_total: total,
            findings: s.findings.iter().take(KEPT_ITEMS).cloned().collect(),
            last_clean: if clean_now {
                Some(s.finished)
            } else {
                previous_clean
            },
        });
    }

    pub(crate) fn apply_install(&mut self, seq: u64, r: &InstallReport) {
        self.installs.insert(
            0,
            InstallState {
                seq,
                report: r.clone(),
            },
        );
        self.installs.truncate(KEPT_INSTALLS);
    }
}
