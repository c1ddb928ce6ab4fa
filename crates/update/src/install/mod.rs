//! Installing a verified bundle as one transaction that survives a crash at any point.
//!
//! Order: recover an interrupted install → verify the bundle's signature → check the
//! device model → check the base (a fresh walk of the tree against the base profile the
//! bundle carries; a tree already equal to the new profile is "already installed") → check
//! that state dir and root share a file system (renames must be atomic) and that the
//! content fits with a margin → ask the clinical gate (or wait, as the policy says) →
//! stage every new file and link in `STATE_DIR/txn/stage`, synced → ask the gate again →
//! write the journal's begin record, synced → apply the operations with renames, keeping
//! the old entries in `STATE_DIR/txn/backup` (hard links for files, renames for
//! directories) → sync the file system, journal `applied` → run the self-tests → journal
//! `committed`, store the new signed profile as `STATE_DIR/profile`, delete the backups.
//!
//! Recovery depends only on the journal's records `begin` and `committed` and on what is
//! on disk, never on how far the progress records got: without `committed`, every
//! operation is undone in reverse order, and each undo looks at the disk to see whether
//! its operation happened (an undo of an operation that never ran does nothing, an undo
//! that already ran does nothing again). So the end state after any crash, including one
//! during recovery, is the old tree exactly or, once `committed` is durable, the new one.
//!
//! This module must not parse bundle bytes itself (`bundle` does) and must not decide
//! clinical policy (`medguard-clinical` does); it never prints.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::Duration;

use medguard_audit::{AuditEvent, EventKind, Outcome};
use medguard_clinical::{ClinicalHold, Permission};
use medguard_profile::{Baseline, Progress, WalkOptions};

use crate::UpdateError;
use crate::bundle::UnverifiedBundle;

mod apply;
mod beneath;
mod fsops;
mod journal;
mod recovery;
mod self_test;
mod status;

use apply::{apply_all, rollback, stage};
use fsops::check_space;
use journal::{
    JOURNAL_FILE, Journal, PROFILE_FILE, STATUS_FILE, Txn, begin_journal, finish_commit, retire,
};
use self_test::run_self_tests;

pub use fsops::needed_space;
pub use recovery::recover;
use recovery::recover_locked;
pub use status::*;

pub(super) fn io_at(path: &Path) -> impl Fn(io::Error) -> UpdateError + '_ {
    move |error| UpdateError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Installs a bundle. Always tries to write `STATE_DIR/status.json`; audit events go to
/// `request.audit`. What could not be recorded (an audit event, the status record) is in
/// the run's `warnings`, never dropped.
pub fn apply_bundle(request: &ApplyRequest<'_>) -> InstallRun {
    let mut warnings = Vec::new();
    let result = apply_inner(request, &mut warnings);
    let mut status = StatusRecord::new(request.bundle, request.clock.now(), &result);
    if result.is_err() {
        audit(
            request,
            &mut warnings,
            EventKind::PatchFailed,
            Outcome::SeriousFailure,
            &status.message,
        );
    }
    status.warnings = warnings.iter().map(ToString::to_string).collect();
    if let Err(w) = write_status(request.state_dir, &status) {
        status.warnings.push(w.to_string());
        warnings.push(w);
    }
    InstallRun {
        result,
        status,
        warnings,
    }
}

/// Writes the status record. The record is a convenience beside the result, so a failure
/// is a warning, not an error; but it is never written empty.
fn write_status(state_dir: &Path, status: &StatusRecord) -> Result<(), InstallWarning> {
    let path = state_dir.join(STATUS_FILE);
    let mut text = serde_json::to_vec_pretty(status)
        .map_err(|source| InstallWarning::StatusSerialise { source })?;
    text.push(b'\n');
    fs::create_dir_all(state_dir).map_err(|source| InstallWarning::StatusWrite {
        path: path.clone(),
        source,
    })?;
    medguard_host::write_bytes_atomically(&path, 0o644, &text).map_err(|e| {
        InstallWarning::StatusWrite {
            path: path.clone(),
            source: e.source,
        }
    })
}

/// Reads what `state_dir` says about installs: the last run's status record, whether an
/// install was interrupted, and the stored profile.
///
/// # Errors
/// [`UpdateError::Io`] when the status record exists but cannot be read,
/// [`UpdateError::StatusRecord`] when it is not a status record.
pub fn read_status(state_dir: &Path) -> Result<InstallStatus, UpdateError> {
    let path = state_dir.join(STATUS_FILE);
    let last =
        match fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|source| {
                UpdateError::StatusRecord {
                    path: path.clone(),
                    source,
                }
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_at(&path)(e)),
        };
    let txn = Txn::at(state_dir);
    let profile = state_dir.join(PROFILE_FILE);
    Ok(InstallStatus {
        last,
        interrupted_install: txn.dir.join(JOURNAL_FILE).exists(),
        profile: profile.exists().then_some(profile),
    })
}

/// Appends an audit event; a failure becomes a warning of the run (an audit failure must
/// not turn a finished install into an error, nor go unsaid).
pub(super) fn audit(
    request: &ApplyRequest<'_>,
    warnings: &mut Vec<InstallWarning>,
    kind: EventKind,
    outcome: Outcome,
    detail: &str,
) {
    if let Some(writer) = request.audit {
        let mut event = AuditEvent::new(kind, request.clock.now(), outcome, "medguard-update");
        event.detail = Some(detail.to_owned());
        if let Err(source) = writer.append(&event) {
            warnings.push(InstallWarning::AuditAppend { kind, source });
        }
    }
}

pub(super) fn observe(request_observer: Option<&(dyn Fn(Step) + Sync)>, step: Step) {
    if let Some(o) = request_observer {
        o(step);
    }
}

pub(super) fn lock_state_dir(state_dir: &Path) -> Result<File, UpdateError> {
    fs::create_dir_all(state_dir).map_err(io_at(state_dir))?;
    let path = state_dir.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    // A few tries: a process that forked (to run a self-test) keeps a copy of the lock
    // until its child execs, which must not read as another install.
    for _ in 0..100 {
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
            return Ok(f);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(UpdateError::Busy { path })
}

pub(super) fn apply_inner(
    request: &ApplyRequest<'_>,
    warnings: &mut Vec<InstallWarning>,
) -> Result<InstallReport, UpdateError> {
    let _lock = lock_state_dir(request.state_dir)?;
    let recovered = recover_locked(request.state_dir, request.observer)?;
    let bundle = UnverifiedBundle::open(request.bundle)?.verify(request.trust)?;
    let manifest = bundle.manifest();
    let version = manifest.version.clone();
    if !manifest.models.is_empty()
        && !request
            .model
            .is_some_and(|m| manifest.models.iter().any(|x| x == m))
    {
        return Err(UpdateError::ModelMismatch {
            models: manifest.models.clone(),
            device: request.model.map(str::to_owned),
        });
    }
    let root_meta = fs::symlink_metadata(request.root).map_err(io_at(request.root))?;
    if !root_meta.is_dir() {
        return Err(UpdateError::Io {
            path: request.root.to_owned(),
            error: io::Error::new(io::ErrorKind::NotADirectory, "the root is not a directory"),
        });
    }
    let base = Baseline::from_profile(manifest.base_profile.clone());
    let report = medguard_profile::verify_tree(
        request.root,
        &base,
        WalkOptions::default(),
        &Progress::default(),
    )?;
    if !report.is_clean() {
        let new = Baseline::from_profile(bundle.new_profile(request.trust)?);
        let now = medguard_profile::verify_tree(
            request.root,
            &new,
            WalkOptions::default(),
            &Progress::default(),
        )?;
        if now.is_clean() {
            return Ok(InstallReport {
                outcome: InstallOutcome::AlreadyInstalled { version },
                recovered,
            });
        }
        let first = report
            .deviations
            .first()
            .map(|d| {
                format!("{} {:?}", medguard_profile::display_path(&d.path), d.kind).to_lowercase()
            })
            .or_else(|| {
                report
                    .unverifiable
                    .first()
                    .map(|p| medguard_profile::display_path(&p.path))
            })
            .unwrap_or_default();
        return Err(UpdateError::BaseMismatch {
            root: request.root.to_owned(),
            deviations: report.deviations.len() + report.unverifiable.len(),
            first,
        });
    }
    let state_meta = fs::metadata(request.state_dir).map_err(io_at(request.state_dir))?;
    if state_meta.dev() != root_meta.dev() {
        return Err(UpdateError::SeparateFileSystems {
            state_dir: request.state_dir.to_owned(),
            root: request.root.to_owned(),
        });
    }
    check_space(request.root, manifest)?;
    // Before anything is staged or journalled: a kernel without openat2 cannot apply (or
    // undo) safely, so the install is refused while the tree is untouched.
    beneath::probe(request.root)?;
    // Held to the end of this function: with a `lock:` provider, no clinical procedure can
    // start while the tree changes, is tested or is rolled back.
    let hold = match wait_for_gate(request) {
        Ok(hold) => hold,
        Err(reason) => {
            audit(
                request,
                warnings,
                EventKind::PatchDeferred,
                Outcome::Success,
                &format!("install of {version} deferred: {reason}"),
            );
            return Ok(InstallReport {
                outcome: InstallOutcome::Deferred { version, reason },
                recovered,
            });
        }
    };
    let txn = Txn::at(request.state_dir);
    if let Err(e) = stage(&bundle, &txn) {
        // Nothing in the tree was touched; staged content is discarded.
        retire(request.state_dir)?;
        return Err(e);
    }
    observe(request.observer, Step::Staged);
    // Staging can take a while: ask again before the tree is touched.
    if let Permission::Refused(r) = request.gate.may_continue_holding(&hold) {
        retire(request.state_dir)?;
        let reason = r.to_string();
        audit(
            request,
            warnings,
            EventKind::PatchDeferred,
            Outcome::Success,
            &format!("install of {version} deferred: {reason}"),
        );
        return Ok(InstallReport {
            outcome: InstallOutcome::Deferred { version, reason },
            recovered,
        });
    }
    begin_journal(&txn, bundle.signed_manifest(), request.root)?;
    observe(request.observer, Step::Begun);
    audit(
        request,
        warnings,
        EventKind::ConfigurationChange,
        Outcome::Success,
        &format!("install of {version} started"),
    );
    let mut journal = Journal::open(&txn)?;
    let applied = apply_all(manifest, &txn, request.root, &mut journal, request.observer);
    let failure = match applied {
        Ok(()) => run_self_tests(manifest, request.root, &txn).err(),
        Err(e) => Some(e.to_string()),
    };
    if let Some(reason) = failure {
        journal.record("rollback", true)?;
        let (clean, deviations) = rollback(manifest, &txn, request.root, request.observer)?;
        retire(request.state_dir)?;
        let outcome = InstallOutcome::RolledBack {
            version,
            reason,
            old_tree_clean: clean,
            deviations,
        };
        let report = InstallReport { outcome, recovered };
        audit(
            request,
            warnings,
            EventKind::PatchRolledBack,
            Outcome::SeriousFailure,
            &report.message(),
        );
        return Ok(report);
    }
    journal.record("committed", true)?;
    observe(request.observer, Step::Committed);
    finish_commit(request.state_dir, manifest)?;
    let report = InstallReport {
        outcome: InstallOutcome::Installed {
            version,
            operations: manifest.operations.len(),
            content_bytes: manifest.content_bytes(),
            self_tests: manifest.self_tests.len(),
        },
        recovered,
    };
    audit(
        request,
        warnings,
        EventKind::PatchInstalled,
        Outcome::Success,
        &report.message(),
    );
    Ok(report)
}

/// Asks the gate (and, by the policy, asks again) until it lets the install begin: the hold
/// it returns keeps a `lock:` provider's lock; `Err` is the last refusal.
pub(super) fn wait_for_gate(request: &ApplyRequest<'_>) -> Result<ClinicalHold, String> {
    let deadline = match request.policy {
        WaitPolicy::Exit => None,
        WaitPolicy::WaitUpTo(d) => Some(request.clock.now() + d),
    };
    loop {
        let now = request.clock.now();
        match request.gate.begin(now) {
            Ok(hold) => return Ok(hold),
            Err(r) => match deadline {
                Some(end) if now < end => {
                    let left = Duration::try_from(end - now).unwrap_or_default();
                    request.clock.sleep(left.min(WAIT_POLL));
                }
                _ => return Err(r.to_string()),
            },
        }
    }
}
