//! Profile verification: the device's tree against its signed system profile.

use std::path::Path;

use medguard_profile::{Baseline, Progress, UnsignedProfiles, WalkOptions};
use medguard_proto::limits::{MAX_DEVIATIONS, MAX_TEXT, MAX_UNVERIFIABLE};
use medguard_proto::{
    DeviationKind, DeviationRecord, ProfileRef, UnverifiablePath, Verification,
    VerificationOutcome, VerificationSummary,
};

use crate::config::{ProfileConfig, UnsignedProfilePolicy};
use crate::text::{wire_path, wire_text};

/// A verification's report and the paths worth naming in the agent's audit log.
#[derive(Debug, Clone)]
pub struct VerificationRun {
    /// The report.
    pub report: Verification,
    /// Every deviating path, in the profile crate's order (capped in the report only).
    pub deviating_paths: Vec<String>,
}

impl VerificationRun {
    /// Whether the tree is proven intact: verified, nothing deviates, nothing unreadable.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        match &self.report.outcome {
            VerificationOutcome::Completed { summary, .. } => summary.is_intact(),
            VerificationOutcome::NotRun { .. } => false,
        }
    }
}

fn not_run(root: &Path, reason: String) -> VerificationRun {
    VerificationRun {
        report: Verification {
            root: wire_path(root.as_os_str().as_encoded_bytes()),
            profile: None,
            outcome: VerificationOutcome::NotRun {
                reason: wire_text(&reason, MAX_TEXT * 4),
            },
        },
        deviating_paths: Vec::new(),
    }
}

/// Verifies the configured tree. Never fails: a profile that cannot be loaded or trusted, or
/// a tree that cannot be walked, is a verification that did not run, which the server shows
/// as integrity unknown.
#[must_use]
pub fn verify(config: Option<&ProfileConfig>, progress: &Progress) -> VerificationRun {
    let Some(config) = config else {
        return not_run(Path::new("/"), "no [profile] is configured".into());
    };
    let digest = match hash_file(&config.profile) {
        Ok(d) => d,
        Err(e) => {
            return not_run(&config.root, format!("{}: {e}", config.profile.display()));
        }
    };
    let unsigned = match config.unsigned {
        UnsignedProfilePolicy::Refuse => UnsignedProfiles::Refuse,
        UnsignedProfilePolicy::AcceptForLabUse => UnsignedProfiles::AcceptForLabUse,
    };
    let verified = match medguard_profile::load_trusted(&config.profile, &config.trust, unsigned) {
        Ok(v) => v,
        Err(e) => return not_run(&config.root, e.to_string()),
    };
    let profile = ProfileRef {
        path: wire_path(config.profile.as_os_str().as_encoded_bytes()),
        digest,
        signer: verified.signer().map(|k| k.to_string()),
        entries_digest: std::fs::read(&config.profile)
            .ok()
            .map(|t| medguard_profile::entries_digest(&t)),
        entries: verified.profile().entries.len() as u64,
    };
    let baseline = Baseline::from_profile(verified);
    let options = WalkOptions {
        one_file_system: config.one_file_system,
    };
    let report = match medguard_profile::verify_tree(&config.root, &baseline, options, progress) {
        Ok(r) => r,
        Err(e) => return not_run(&config.root, e.to_string()),
    };
    let deviating_paths: Vec<String> = report
        .deviations
        .iter()
        .map(|d| wire_path(&d.path))
        .collect();
    let deviations: Vec<DeviationRecord> = report
        .deviations
        .iter()
        .zip(&deviating_paths)
        .take(MAX_DEVIATIONS)
        .map(|(d, path)| DeviationRecord {
            path: path.clone(),
            kind: match d.kind {
                medguard_profile::DeviationKind::Added => DeviationKind::Added,
                medguard_profile::DeviationKind::Removed => DeviationKind::Removed,
                medguard_profile::DeviationKind::Changed => DeviationKind::Changed,
            },
            attributes: d
                .attributes
                .iter()
                .take(32)
                .map(|a| a.name().to_owned())
                .collect(),
        })
        .collect();
    let unverifiable: Vec<UnverifiablePath> = report
        .unverifiable
        .iter()
        .take(MAX_UNVERIFIABLE)
        .map(|p| UnverifiablePath {
            path: wire_path(&p.path),
            reason: wire_text(&p.problem.to_string(), MAX_TEXT),
        })
        .collect();
    let s = &report.summary;
    let summary = VerificationSummary {
        expected_entries: s.expected_entries,
        actual_entries: s.actual_entries,
        added: s.added,
        removed: s.removed,
        changed: s.changed,
        unverifiable: s.unverifiable,
    };
    let deviations_omitted = (report.deviations.len() - deviations.len()) as u64;
    let unverifiable_omitted = (report.unverifiable.len() - unverifiable.len()) as u64;
    VerificationRun {
        report: Verification {
            root: wire_path(config.root.as_os_str().as_encoded_bytes()),
            profile: Some(profile),
            outcome: VerificationOutcome::Completed {
                summary,
                deviations,
                deviations_omitted,
                unverifiable,
                unverifiable_omitted,
            },
        },
        deviating_paths,
    }
}

/// BLAKE3 of a file, hex.
pub(crate) fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let file = std::fs::File::open(path)?;
    hasher.update_reader(file)?;
    Ok(hasher.finalize().to_hex().to_string())
}
