//! The malware scan, paced and paused for clinical use as `medguard scan` is.

use std::sync::Arc;
use std::time::Duration;

use medguard_clinical::ClinicalGate;
use medguard_host::Clock;
use medguard_profile::{Progress, UnsignedProfiles};
use medguard_proto::limits::{MAX_MALWARE_FINDINGS, MAX_TEXT};
use medguard_proto::{MalwareEngine, MalwareFinding, ScanReport, ScanScope};
use medguard_scan::{
    Action, Detection, HashLists, PaceOptions, Priority, ScanOptions, Targets,
    ValidatedConfiguration, YaraRules,
};

use crate::config::{
    ClinicalConfig, ProfileConfig, ScanConfig, ScanScopeConfig, UnsignedProfilePolicy,
};
use crate::text::{wire_path_of, wire_text};

/// A scan's report and the findings worth naming in the agent's audit log.
#[derive(Debug, Clone)]
pub struct ScanRun {
    /// The report.
    pub report: ScanReport,
    /// `path: rule` of every finding.
    pub findings: Vec<String>,
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanTaskError {
    /// The rules, hash lists or targets were refused.
    #[error(transparent)]
    Scan(#[from] medguard_scan::ScanError),
    /// The profile (the validated configuration) could not be loaded.
    #[error(transparent)]
    Profile(#[from] medguard_profile::ProfileError),
}

/// Scans as configured: the files changed since the profile (or every file), at idle
/// priority, held to the configured byte rate, pausing while the clinical-state provider says
/// the device is in use (as `medguard scan --clinical-state` does; the maintenance window
/// limits full-speed work, which the daemon will add). Matches in files of the validated
/// configuration are never quarantined.
///
/// # Errors
/// [`ScanTaskError`] when rules, lists, profile or root are refused.
pub fn scan(
    config: &ScanConfig,
    profile: Option<&ProfileConfig>,
    clinical: &ClinicalConfig,
    clock: &dyn Clock,
    progress: &Arc<Progress>,
) -> Result<ScanRun, ScanTaskError> {
    let rules = if config.rules.is_empty() {
        None
    } else {
        Some(YaraRules::load(&config.rules).map_err(medguard_scan::ScanError::from)?)
    };
    let mut hashes = HashLists::new();
    for h in &config.hashes {
        hashes.add_file(h).map_err(medguard_scan::ScanError::from)?;
    }
    let validated = profile
        .map(|p| {
            let unsigned = match p.unsigned {
                UnsignedProfilePolicy::Refuse => UnsignedProfiles::Refuse,
                UnsignedProfilePolicy::AcceptForLabUse => UnsignedProfiles::AcceptForLabUse,
            };
            medguard_profile::load_trusted(&p.profile, &p.trust, unsigned)
        })
        .transpose()?;
    let started = clock.now();
    let (targets, scope, validated) = match (config.scope, validated) {
        (ScanScopeConfig::Changed, Some(v)) => {
            let changed = medguard_scan::changed_since(
                &config.root,
                v.clone(),
                std::slice::from_ref(&config.root),
                progress,
            )?;
            (
                Targets::Changed(changed),
                ScanScope::ChangedSinceProfile,
                Some(v),
            )
        }
        (_, v) => (Targets::Walk(vec![config.root.clone()]), ScanScope::Full, v),
    };
    let options = ScanOptions {
        pace: PaceOptions {
            rate: config.rate,
            gate: ClinicalGate::new(clinical.state.clone(), None),
            poll_interval: Duration::from_secs(5),
            ..PaceOptions::default()
        },
        priority: Priority::YieldToClinicalWork,
        validated: validated.map(|v| ValidatedConfiguration::new(config.root.clone(), v)),
        quarantine: config.quarantine.clone(),
        ..ScanOptions::default()
    };
    let report = medguard_scan::scan(
        targets,
        rules.as_ref(),
        &hashes,
        &options,
        clock,
        progress,
        &|_| {},
    )?;
    let finished = clock.now();
    let findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}: {}", wire_path_of(&f.path), f.detection.name()))
        .collect();
    let listed: Vec<MalwareFinding> = report
        .findings
        .iter()
        .take(MAX_MALWARE_FINDINGS)
        .map(|f| MalwareFinding {
            path: wire_path_of(&f.path),
            engine: match f.detection {
                Detection::Yara { .. } => MalwareEngine::Yara,
                Detection::Hash { .. } => MalwareEngine::Hash,
            },
            name: wire_text(f.detection.name(), MAX_TEXT),
            in_validated_configuration: f.in_validated_configuration,
            action: match &f.action {
                Action::PersonMustDecide => "person-must-decide".to_owned(),
                Action::Reported => "reported".to_owned(),
                Action::Quarantined { .. } => "quarantined".to_owned(),
                Action::QuarantineFailed { .. } => "quarantine-failed".to_owned(),
            },
        })
        .collect();
    let s = &report.summary;
    Ok(ScanRun {
        report: ScanReport {
            scope,
            started,
            finished: finished.max(started),
            completed: true,
            interrupted: None,
            files: s.files,
            bytes: s.bytes,
            problems: s.problems,
            yara_rules: s.yara_rules,
            hash_signatures: s.hash_signatures,
            findings_omitted: (report.findings.len() - listed.len()) as u64,
            findings: listed,
        },
        findings,
    })
}
