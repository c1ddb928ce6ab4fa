//! Installing the patch of a rollout: refresh the server's TUF repository (over the enrolled,
//! pinned connection), download the rollout's target (length and hash checked by TUF), ask
//! the clinical gate, install with the update crate (which checks the bundle's own vendor
//! signature, holds the clinical lock for the whole install, runs the self-tests and rolls
//! back on failure), then verify the tree against the bundle's new profile. Every ending is an
//! [`InstallReport`] for the server's rollout: installed, already installed, deferred (and
//! what it waits for), rolled back, refused or failed.
//!
//! This task never installs without a rollout's command (a person on the device can still
//! run `medguard update apply`), and never while the gate refuses: a deferral touches
//! nothing and is tried again at a later check-in.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use medguard_audit::AuditWriter;
use medguard_clinical::{ClinicalGate, Permission, Refusal};
use medguard_digest::PublicKey;
use medguard_host::Clock;
use medguard_profile::{Baseline, Progress, WalkOptions};
use medguard_proto::{
    BundleRef, InstallOutcome, InstallReport, SelfTestResult, VerificationSummary, WaitingFor,
};
use medguard_update::{ApplyRequest, UnverifiedBundle, WaitPolicy, apply_bundle};
use time::OffsetDateTime;

use crate::config::{ClinicalConfig, UpdateConfig};

/// What one install needs.
pub struct InstallInputs<'a> {
    /// The `[update]` section.
    pub update: &'a UpdateConfig,
    /// The clinical-state provider and window.
    pub clinical: &'a ClinicalConfig,
    /// The device's model.
    pub model: Option<&'a str>,
    /// The installer's state directory.
    pub state_dir: &'a Path,
    /// The device's TUF metadata cache and downloads.
    pub tuf_dir: &'a Path,
    /// The TUF root the device trusts.
    pub anchor: &'a Path,
    /// `https://server/tuf/`.
    pub repository: &'a str,
    /// The TLS configuration of the enrolled device (pinned CA, its certificate).
    pub tls: Arc<rustls::ClientConfig>,
    /// The rollout.
    pub rollout: &'a str,
    /// The TUF target to install.
    pub target: &'a str,
    /// Where the installer's audit events go.
    pub audit: Option<&'a AuditWriter>,
    /// Time.
    pub clock: &'a dyn Clock,
}

impl std::fmt::Debug for InstallInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallInputs")
            .field("rollout", &self.rollout)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Installs the rollout's target; never fails: every ending is a report.
#[must_use]
pub fn install(i: &InstallInputs<'_>) -> InstallReport {
    let started = i.clock.now();
    let report = |outcome, reason: String, bundle: BundleRef| InstallReport {
        bundle,
        rollout: Some(i.rollout.to_owned()),
        outcome,
        reason: Some(reason),
        self_tests: Vec::new(),
        verification: None,
        waiting_for: None,
        started,
        finished: i.clock.now(),
    };
    let unknown = BundleRef {
        version: "unknown".into(),
        digest: "0".repeat(64),
        target: Some(i.target.to_owned()),
    };
    // The gate first: a device in use downloads nothing either.
    let gate = ClinicalGate::new(i.clinical.state.clone(), i.clinical.window.clone());
    if let Permission::Refused(why) = gate.permits(i.clock.now()) {
        let mut r = report(InstallOutcome::Deferred, why.to_string(), unknown);
        r.waiting_for = Some(match why {
            Refusal::OutsideWindow { .. } => WaitingFor::Window,
            _ => WaitingFor::Idle,
        });
        return r;
    }
    let bundle_path = match fetch(i) {
        Ok(p) => p,
        Err(e) => return report(InstallOutcome::Refused, e, unknown),
    };
    let trust = match load_keys(&i.update.bundle_trust) {
        Ok(k) => k,
        Err(e) => return report(InstallOutcome::Failed, e, unknown),
    };
    let digest = match std::fs::read(&bundle_path) {
        Ok(bytes) => blake3::hash(&bytes).to_hex().to_string(),
        Err(e) => return report(InstallOutcome::Failed, e.to_string(), unknown),
    };
    let verified = match UnverifiedBundle::open(&bundle_path).and_then(|b| b.verify(&trust)) {
        Ok(v) => v,
        Err(e) => return report(InstallOutcome::Refused, e.to_string(), unknown),
    };
    let bundle = BundleRef {
        version: verified.manifest().version.clone(),
        digest,
        target: Some(i.target.to_owned()),
    };
    let commands: Vec<String> = verified
        .manifest()
        .self_tests
        .iter()
        .map(|t| t.command.clone())
        .collect();
    let run = apply_bundle(&ApplyRequest {
        bundle: &bundle_path,
        trust: &trust,
        root: &i.update.root,
        model: i.model,
        gate: &gate,
        policy: WaitPolicy::Exit,
        state_dir: i.state_dir,
        clock: i.clock,
        audit: i.audit,
        observer: None,
    });
    let mut r = match run.result {
        Ok(done) => match done.outcome {
            medguard_update::InstallOutcome::Installed { .. } => {
                let mut r = report(InstallOutcome::Installed, done.message(), bundle);
                r.self_tests = passed(&commands);
                r
            }
            medguard_update::InstallOutcome::AlreadyInstalled { .. } => {
                report(InstallOutcome::AlreadyInstalled, done.message(), bundle)
            }
            medguard_update::InstallOutcome::Deferred { ref reason, .. } => {
                let mut r = report(InstallOutcome::Deferred, reason.clone(), bundle);
                r.waiting_for = Some(if reason.contains("maintenance window") {
                    WaitingFor::Window
                } else {
                    WaitingFor::Idle
                });
                r
            }
            medguard_update::InstallOutcome::RolledBack { ref reason, .. } => {
                let mut r = report(InstallOutcome::RolledBack, reason.clone(), bundle);
                r.self_tests = vec![SelfTestResult {
                    command: commands.join(" && "),
                    passed: false,
                    detail: Some(reason.clone()),
                }];
                r
            }
        },
        Err(e) if e.is_refusal() => report(InstallOutcome::Refused, e.to_string(), bundle),
        Err(e) => report(InstallOutcome::Failed, e.to_string(), bundle),
    };
    if matches!(
        r.outcome,
        InstallOutcome::Installed | InstallOutcome::AlreadyInstalled
    ) {
        r.verification = verify_after(i, &verified, &trust);
    }
    r.finished = i.clock.now();
    r
}

fn passed(commands: &[String]) -> Vec<SelfTestResult> {
    commands
        .iter()
        .map(|c| SelfTestResult {
            command: c.clone(),
            passed: true,
            detail: None,
        })
        .collect()
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>, String> {
    paths
        .iter()
        .map(|p| PublicKey::load(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect()
}

/// Refreshes TUF and downloads the target; returns the file.
fn fetch(i: &InstallInputs<'_>) -> Result<PathBuf, String> {
    let anchor = medguard_tuf::TrustedRoot::load(i.anchor).map_err(|e| e.to_string())?;
    let metadata = i.tuf_dir.join("metadata");
    let refreshed = medguard_tuf::refresh_with_tls(
        &format!("{}metadata/", i.repository),
        &format!("{}targets/", i.repository),
        &anchor,
        &metadata,
        SystemTime::now(),
        i.tls.clone(),
    )
    .map_err(|e| format!("TUF refused the repository: {e}"))?;
    let downloads = i.tuf_dir.join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|e| format!("{}: {e}", downloads.display()))?;
    let file = i.target.replace('/', "_");
    refreshed
        .download(i.target, &downloads, &file)
        .map_err(|e| format!("TUF refused target {}: {e}", i.target))
}

/// The tree against the bundle's new profile, right after the install.
fn verify_after(
    i: &InstallInputs<'_>,
    bundle: &medguard_update::VerifiedBundle,
    trust: &[PublicKey],
) -> Option<VerificationSummary> {
    let profile = bundle.new_profile(trust).ok()?;
    let baseline = Baseline::from_profile(profile);
    let report = medguard_profile::verify_tree(
        &i.update.root,
        &baseline,
        WalkOptions {
            one_file_system: false,
        },
        &Progress::default(),
    )
    .ok()?;
    let s = &report.summary;
    Some(VerificationSummary {
        expected_entries: s.expected_entries,
        actual_entries: s.actual_entries,
        added: s.added,
        removed: s.removed,
        changed: s.changed,
        unverifiable: s.unverifiable,
    })
}

/// The install a person ran on the device (`medguard update apply`), from the installer's
/// status record, as a report: how a reference device's install reaches the patch record's
/// evidence. `None` when the record names no bundle file that can still be read.
#[must_use]
pub fn local_install(
    update: &UpdateConfig,
    status: &medguard_update::InstallStatus,
) -> Option<InstallReport> {
    let last = status.last.as_ref()?;
    let at =
        OffsetDateTime::parse(&last.time, &time::format_description::well_known::Rfc3339).ok()?;
    let path = Path::new(&last.bundle);
    let bytes = std::fs::read(path).ok()?;
    let trust = load_keys(&update.bundle_trust).ok()?;
    let verified = UnverifiedBundle::open(path)
        .and_then(|b| b.verify(&trust))
        .ok()?;
    let commands: Vec<String> = verified
        .manifest()
        .self_tests
        .iter()
        .map(|t| t.command.clone())
        .collect();
    let outcome = match last.outcome.as_str() {
        "installed" => InstallOutcome::Installed,
        "already-installed" => InstallOutcome::AlreadyInstalled,
        "deferred" => InstallOutcome::Deferred,
        "rolled-back" => InstallOutcome::RolledBack,
        "refused" => InstallOutcome::Refused,
        _ => InstallOutcome::Failed,
    };
    let verification = if matches!(
        outcome,
        InstallOutcome::Installed | InstallOutcome::AlreadyInstalled
    ) {
        let profile = verified.new_profile(&trust).ok()?;
        medguard_profile::verify_tree(
            &update.root,
            &Baseline::from_profile(profile),
            WalkOptions {
                one_file_system: false,
            },
            &Progress::default(),
        )
        .ok()
        .map(|r| VerificationSummary {
            expected_entries: r.summary.expected_entries,
            actual_entries: r.summary.actual_entries,
            added: r.summary.added,
            removed: r.summary.removed,
            changed: r.summary.changed,
            unverifiable: r.summary.unverifiable,
        })
    } else {
        None
    };
    Some(InstallReport {
        bundle: BundleRef {
            version: verified.manifest().version.clone(),
            digest: blake3::hash(&bytes).to_hex().to_string(),
            target: None,
        },
        rollout: None,
        outcome,
        reason: Some(last.message.clone()),
        self_tests: match outcome {
            InstallOutcome::Installed => passed(&commands),
            InstallOutcome::RolledBack => vec![SelfTestResult {
                command: commands.join(" && "),
                passed: false,
                detail: Some(last.message.clone()),
            }],
            _ => Vec::new(),
        },
        verification,
        waiting_for: None,
        started: at,
        finished: at,
    })
}
