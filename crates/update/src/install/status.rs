//! The install's request, outcome and status types, and the exit statuses they map to.
//!
//! This module must not do any work on the tree; it only describes.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use medguard_audit::{AuditError, AuditWriter, EventKind};
use medguard_clinical::ClinicalGate;
use medguard_digest::PublicKey;
use medguard_host::Clock;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::UpdateError;

/// Exit status: installed, or already installed.
pub const EXIT_INSTALLED: u8 = 0;
/// Exit status: not installed: refused before anything was touched, or rolled back.
pub const EXIT_NOT_INSTALLED: u8 = 1;
/// Exit status: an error (unreadable input, or a rollback that could not finish).
pub const EXIT_ERROR: u8 = 2;
/// Exit status: deferred: the device is in clinical use or outside its maintenance window;
/// nothing was touched.
pub const EXIT_DEFERRED: u8 = 3;

/// What to do when the clinical gate refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitPolicy {
    /// Give up at once (the caller is run again later, e.g. by a timer).
    #[default]
    Exit,
    /// Ask again every 30 seconds (or less) until this much time has passed.
    WaitUpTo(Duration),
}

/// How often a waiting install asks the gate again.
pub const WAIT_POLL: Duration = Duration::from_secs(30);

/// A point in the transaction, reported to the observer right after it is reached (and,
/// for the journal records, made durable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "step", content = "index")]
pub enum Step {
    /// New content is staged and synced; the tree is untouched.
    Staged,
    /// The journal's begin record is durable; the tree may change from here.
    Begun,
    /// Operation N was applied.
    Applied(usize),
    /// Every operation is applied and synced.
    AllApplied,
    /// The journal's `committed` record is durable.
    Committed,
    /// Operation N was undone.
    Undone(usize),
    /// The rollback finished.
    RolledBack,
}

/// One install.
pub struct ApplyRequest<'a> {
    /// The bundle file.
    pub bundle: &'a Path,
    /// Keys trusted to sign bundles (and their new profiles).
    pub trust: &'a [PublicKey],
    /// The device's root.
    pub root: &'a Path,
    /// The device's model, checked against the bundle's target models.
    pub model: Option<&'a str>,
    /// When intrusive work may start.
    pub gate: &'a ClinicalGate,
    /// What to do when the gate refuses.
    pub policy: WaitPolicy,
    /// Journal, staging, backups, status record and the current profile live here; it must
    /// be on the root's file system.
    pub state_dir: &'a Path,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Where audit events go.
    pub audit: Option<&'a AuditWriter>,
    /// Called at each step (progress; tests inject crashes here).
    pub observer: Option<&'a (dyn Fn(Step) + Sync)>,
}

impl fmt::Debug for ApplyRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyRequest")
            .field("bundle", &self.bundle)
            .field("root", &self.root)
            .field("model", &self.model)
            .field("state_dir", &self.state_dir)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How an install ended (errors aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum InstallOutcome {
    /// The new tree is in place, its self-tests passed, its profile is the baseline.
    Installed {
        /// Bundle version.
        version: String,
        /// Operations applied.
        operations: usize,
        /// Content bytes written.
        content_bytes: u64,
        /// Self-tests passed.
        self_tests: usize,
    },
    /// The tree already equals the bundle's new profile.
    AlreadyInstalled {
        /// Bundle version.
        version: String,
    },
    /// The clinical gate refused; nothing was touched.
    Deferred {
        /// Bundle version.
        version: String,
        /// Why.
        reason: String,
    },
    /// The install failed after it started and was undone.
    RolledBack {
        /// Bundle version.
        version: String,
        /// What failed.
        reason: String,
        /// Whether the tree verifies against the old profile afterwards.
        old_tree_clean: bool,
        /// Deviations from the old profile afterwards (0 when clean).
        deviations: usize,
    },
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Recovered {
    /// Only staged content was left; it was deleted (the tree was never touched).
    DiscardedStaging,
    /// The install had committed; its last steps were finished.
    Completed {
        /// Bundle version.
        version: String,
    },
    /// The install had not committed; it was undone.
    RolledBack {
        /// Bundle version.
        version: String,
        /// Whether the tree verifies against the old profile afterwards.
        old_tree_clean: bool,
    },
}

impl InstallOutcome {
    /// The outcome's name, as in the status record: `installed`, `already-installed`,
    /// `deferred` or `rolled-back`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Installed { .. } => "installed",
            Self::AlreadyInstalled { .. } => "already-installed",
            Self::Deferred { .. } => "deferred",
            Self::RolledBack { .. } => "rolled-back",
        }
    }
}

/// The result of [`apply_bundle`](super::apply_bundle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallReport {
    /// The install's outcome.
    #[serde(flatten)]
    pub outcome: InstallOutcome,
    /// What was done first about an interrupted earlier install.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Recovered>,
}

impl InstallReport {
    /// The process exit status for this outcome.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            InstallOutcome::Installed { .. } | InstallOutcome::AlreadyInstalled { .. } => {
                EXIT_INSTALLED
            }
            InstallOutcome::Deferred { .. } => EXIT_DEFERRED,
            InstallOutcome::RolledBack { .. } => EXIT_NOT_INSTALLED,
        }
    }

    /// One line for a human.
    #[must_use]
    pub fn message(&self) -> String {
        match &self.outcome {
            InstallOutcome::Installed {
                version,
                operations,
                self_tests,
                ..
            } => format!(
                "installed {version}: {operations} changes, {self_tests} self-tests passed, new profile in place"
            ),
            InstallOutcome::AlreadyInstalled { version } => {
                format!("{version} is already installed: the tree matches its profile")
            }
            InstallOutcome::Deferred { version, reason } => {
                format!("deferred {version}: {reason}; nothing was touched")
            }
            InstallOutcome::RolledBack {
                version,
                reason,
                old_tree_clean,
                deviations,
            } => {
                if *old_tree_clean {
                    format!(
                        "rolled back {version}: {reason}; the tree verifies against the old profile"
                    )
                } else {
                    format!(
                        "rolled back {version}: {reason}; the tree DEVIATES from the old profile in {deviations} entries"
                    )
                }
            }
        }
    }
}

/// The record written to `STATE_DIR/status.json` after every run, and printed by `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusRecord {
    /// When, RFC 3339.
    pub time: String,
    /// The bundle.
    pub bundle: String,
    /// `installed`, `already-installed`, `deferred`, `rolled-back`, `refused` or `error`.
    pub outcome: String,
    /// The process exit status.
    pub exit_code: u8,
    /// The one-line result.
    pub message: String,
    /// The full report, when the install got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<InstallReport>,
    /// What this run could not record (an audit event, the status file): the outcome
    /// stands, but a trail of it is missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl StatusRecord {
    /// The record of a run's result.
    #[must_use]
    pub fn new(
        bundle: &Path,
        now: OffsetDateTime,
        result: &Result<InstallReport, UpdateError>,
    ) -> Self {
        let time = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let bundle = bundle.display().to_string();
        match result {
            Ok(report) => Self {
                time,
                bundle,
                outcome: report.outcome.name().to_owned(),
                exit_code: report.exit_code(),
                message: report.message(),
                report: Some(report.clone()),
                warnings: Vec::new(),
            },
            Err(e) => Self {
                time,
                bundle,
                outcome: if e.is_refusal() { "refused" } else { "error" }.to_owned(),
                exit_code: e.exit_code(),
                message: if e.is_refusal() {
                    format!("refused: {e}; nothing was touched")
                } else {
                    format!("error: {e}")
                },
                report: None,
                warnings: Vec::new(),
            },
        }
    }
}

/// Something a run could not record. The install's outcome stands (a finished install is
/// not undone because its audit event was lost), but the caller must say so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallWarning {
    /// An audit event could not be appended.
    #[error("the {kind} audit event could not be appended: {source}")]
    AuditAppend {
        /// The event's type.
        kind: EventKind,
        /// The cause.
        #[source]
        source: AuditError,
    },
    /// The status record could not be serialised (nothing was written).
    #[error("the status record could not be serialised: {source}")]
    StatusSerialise {
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The status record could not be written.
    #[error("the status record {path} could not be written: {source}")]
    StatusWrite {
        /// The status file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What [`apply_bundle`](super::apply_bundle) returns: the install's result, the status
/// record of it, and what could not be recorded.
#[derive(Debug)]
#[must_use]
pub struct InstallRun {
    /// How the install ended, or why it could not run.
    pub result: Result<InstallReport, UpdateError>,
    /// The status record (also written to `STATE_DIR/status.json` unless a warning says
    /// it could not be); its `warnings` list every warning below.
    pub status: StatusRecord,
    /// What could not be recorded.
    pub warnings: Vec<InstallWarning>,
}

/// What `STATE_DIR` says about installs: the last run's record and whether an install was
/// interrupted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallStatus {
    /// The last run's record, if any install ran with this state dir.
    pub last: Option<StatusRecord>,
    /// An interrupted install is pending (the next apply or `recover` finishes or undoes
    /// it).
    pub interrupted_install: bool,
    /// The current signed profile stored by the last install, if any.
    pub profile: Option<PathBuf>,
}
