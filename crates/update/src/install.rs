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

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use medguard_audit::{AuditEvent, AuditWriter, EventKind, Outcome};
use medguard_clinical::{ClinicalGate, Permission};
use medguard_digest::{PublicKey, UnverifiedDocument};
use medguard_profile::{Baseline, Progress, VerifiedProfile, WalkOptions};
use serde::Serialize;
use time::OffsetDateTime;

use crate::UpdateError;
use crate::bundle::{UnverifiedBundle, VerifiedBundle};
use crate::manifest::{Change, Kind, Manifest, Operation, Ownership};

/// Exit status: installed, or already installed.
pub const EXIT_INSTALLED: u8 = 0;
/// Exit status: not installed: refused before anything was touched, or rolled back.
pub const EXIT_NOT_INSTALLED: u8 = 1;
/// Exit status: an error (unreadable input, or a rollback that could not finish).
pub const EXIT_ERROR: u8 = 2;
/// Exit status: deferred: the device is in clinical use or outside its maintenance window;
/// nothing was touched.
pub const EXIT_DEFERRED: u8 = 3;

/// Where "now" comes from, and how waiting passes: tests pass a clock whose `sleep`
/// advances it.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// The result of [`apply_bundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<InstallReport>,
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
            Ok(report) => {
                let outcome = serde_json::to_value(&report.outcome)
                    .ok()
                    .and_then(|v| v.get("outcome").and_then(|o| o.as_str()).map(str::to_owned))
                    .unwrap_or_default();
                Self {
                    time,
                    bundle,
                    outcome,
                    exit_code: report.exit_code(),
                    message: report.message(),
                    report: Some(report.clone()),
                }
            }
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
            },
        }
    }
}

const TXN: &str = "txn";
const TXN_DONE: &str = "txn.done";
const JOURNAL_MAGIC: &str = "medguard-journal-v1";

struct Txn {
    dir: PathBuf,
    stage: PathBuf,
    backup: PathBuf,
}

impl Txn {
    fn at(state_dir: &Path) -> Self {
        let dir = state_dir.join(TXN);
        Self {
            stage: dir.join("stage"),
            backup: dir.join("backup"),
            dir,
        }
    }
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> UpdateError + '_ {
    move |error| UpdateError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Installs a bundle. Always writes `STATE_DIR/status.json`; audit events go to
/// `request.audit`.
pub fn apply_bundle(request: &ApplyRequest<'_>) -> Result<InstallReport, UpdateError> {
    let result = apply_inner(request);
    let record = StatusRecord::new(request.bundle, request.clock.now(), &result);
    if fs::create_dir_all(request.state_dir).is_ok() {
        let text = serde_json::to_vec_pretty(&record).unwrap_or_default();
        // The status record is a convenience; a failure to write it must not hide the result.
        let _ = medguard_profile::write_atomically(&request.state_dir.join("status.json"), |w| {
            w.write_all(&text)?;
            w.write_all(b"\n")
        });
    }
    if let Err(e) = &result {
        audit(
            request,
            EventKind::PatchFailed,
            Outcome::SeriousFailure,
            &record.message,
        );
        let _ = e;
    }
    result
}

fn audit(request: &ApplyRequest<'_>, kind: EventKind, outcome: Outcome, detail: &str) {
    if let Some(writer) = request.audit {
        let mut event = AuditEvent::new(kind, request.clock.now(), outcome, "medguard-update");
        event.detail = Some(detail.to_owned());
        // An audit failure must not turn a finished install into an error; the status
        // record still tells.
        let _ = writer.append(&event);
    }
}

fn observe(request_observer: Option<&(dyn Fn(Step) + Sync)>, step: Step) {
    if let Some(o) = request_observer {
        o(step);
    }
}

fn lock_state_dir(state_dir: &Path) -> Result<File, UpdateError> {
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

fn apply_inner(request: &ApplyRequest<'_>) -> Result<InstallReport, UpdateError> {
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
    if let Some(reason) = wait_for_gate(request) {
        audit(
            request,
            EventKind::PatchFailed,
            Outcome::MinorFailure,
            &format!("install of {version} deferred: {reason}"),
        );
        return Ok(InstallReport {
            outcome: InstallOutcome::Deferred { version, reason },
            recovered,
        });
    }
    let txn = Txn::at(request.state_dir);
    if let Err(e) = stage(&bundle, &txn) {
        // Nothing in the tree was touched; staged content is discarded.
        retire(request.state_dir)?;
        return Err(e);
    }
    observe(request.observer, Step::Staged);
    // Staging can take a while: ask again before the tree is touched.
    if let Permission::Refused(r) = request.gate.may_continue() {
        retire(request.state_dir)?;
        let reason = r.to_string();
        audit(
            request,
            EventKind::PatchFailed,
            Outcome::MinorFailure,
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
        EventKind::PatchInstalled,
        Outcome::Success,
        &report.message(),
    );
    Ok(report)
}

fn wait_for_gate(request: &ApplyRequest<'_>) -> Option<String> {
    let deadline = match request.policy {
        WaitPolicy::Exit => None,
        WaitPolicy::WaitUpTo(d) => Some(request.clock.now() + d),
    };
    loop {
        let now = request.clock.now();
        match request.gate.permits(now) {
            Permission::Granted => return None,
            Permission::Refused(r) => match deadline {
                Some(end) if now < end => {
                    let left = Duration::try_from(end - now).unwrap_or_default();
                    request.clock.sleep(left.min(WAIT_POLL));
                }
                _ => return Some(r.to_string()),
            },
        }
    }
}

/// Free space needed: the content plus a block per entry, plus a tenth and 16 MiB for
/// margin. Backups take no space: they are the old entries themselves, linked or moved.
fn check_space(root: &Path, manifest: &Manifest) -> Result<(), UpdateError> {
    let st = rustix::fs::statvfs(root).map_err(|e| UpdateError::Io {
        path: root.to_owned(),
        error: e.into(),
    })?;
    let entries = manifest.operations.len() as u64;
    let needed = needed_space(manifest.content_bytes(), entries);
    let available = st.f_bavail.saturating_mul(st.f_frsize);
    if needed > available {
        return Err(UpdateError::NoSpace {
            path: root.to_owned(),
            needed,
            available,
        });
    }
    if st.f_files > 0 && entries.saturating_add(64) > st.f_favail {
        return Err(UpdateError::NoSpace {
            path: root.to_owned(),
            needed: entries,
            available: st.f_favail,
        });
    }
    Ok(())
}

/// The bytes an install of `content` bytes in `entries` entries needs free.
#[must_use]
pub fn needed_space(content: u64, entries: u64) -> u64 {
    let raw = content.saturating_add(entries.saturating_mul(4096));
    raw.saturating_add(raw / 10).saturating_add(16 << 20)
}

fn stage(bundle: &VerifiedBundle, txn: &Txn) -> Result<(), UpdateError> {
    if txn.dir.exists() {
        fs::remove_dir_all(&txn.dir).map_err(io_at(&txn.dir))?;
    }
    fs::create_dir_all(&txn.stage).map_err(io_at(&txn.stage))?;
    fs::create_dir_all(&txn.backup).map_err(io_at(&txn.backup))?;
    let manifest = bundle.manifest();
    for (i, op) in manifest.operations.iter().enumerate() {
        let s = txn.stage.join(i.to_string());
        match &op.change {
            Change::File { blob, owner, mtime } => {
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&s)
                    .map_err(io_at(&s))?;
                let mut w = io::BufWriter::with_capacity(256 * 1024, &f);
                bundle.extract(*blob, &mut w, &op.path.display())?;
                w.flush().map_err(io_at(&s))?;
                drop(w);
                chown_if_needed(&s, owner.uid, owner.gid)?;
                // After chown: the kernel clears setuid and setgid bits on chown.
                f.set_permissions(fs::Permissions::from_mode(owner.mode))
                    .map_err(io_at(&s))?;
                if let Some(t) = system_time(*mtime) {
                    let _ = f.set_modified(t);
                }
            }
            Change::Symlink { target, uid, gid } => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes_compat(target), &s)
                    .map_err(io_at(&s))?;
                chown_if_needed(&s, *uid, *gid)?;
            }
            _ => {}
        }
    }
    sync_fs(&txn.stage)
}

trait FromBytesCompat {
    fn from_bytes_compat(b: &[u8]) -> &Self;
}

impl FromBytesCompat for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &Self {
        use std::os::unix::ffi::OsStrExt as _;
        std::ffi::OsStr::from_bytes(b)
    }
}

fn system_time((secs, nsec): (i64, u32)) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(secs).ok()?;
    std::time::UNIX_EPOCH.checked_add(Duration::new(secs, nsec))
}

fn sync_fs(path: &Path) -> Result<(), UpdateError> {
    let f = File::open(path).map_err(io_at(path))?;
    rustix::fs::syncfs(&f).map_err(|e| UpdateError::Io {
        path: path.to_owned(),
        error: e.into(),
    })
}

fn fsync_dir(path: &Path) -> Result<(), UpdateError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_at(path))
}

fn chown_if_needed(path: &Path, uid: u32, gid: u32) -> Result<(), UpdateError> {
    let m = fs::symlink_metadata(path).map_err(io_at(path))?;
    if m.uid() == uid && m.gid() == gid {
        return Ok(());
    }
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| UpdateError::Io {
        path: path.to_owned(),
        error: e.into(),
    })
}

fn set_owner(path: &Path, owner: Ownership) -> Result<(), UpdateError> {
    chown_if_needed(path, owner.uid, owner.gid)?;
    let m = fs::symlink_metadata(path).map_err(io_at(path))?;
    // A link's own mode cannot be set on Linux, and chmod would follow it.
    if !m.file_type().is_symlink() && m.mode() & 0o7777 != owner.mode {
        fs::set_permissions(path, fs::Permissions::from_mode(owner.mode)).map_err(io_at(path))?;
    }
    Ok(())
}

fn begin_journal(txn: &Txn, signed_manifest: &[u8], root: &Path) -> Result<(), UpdateError> {
    let manifest_path = txn.dir.join("manifest");
    medguard_profile::write_atomically(&manifest_path, |w| w.write_all(signed_manifest))?;
    let root = fs::canonicalize(root).map_err(io_at(root))?;
    let line = format!(
        "{JOURNAL_MAGIC} {} {}\n",
        blake3::hash(signed_manifest).to_hex(),
        medguard_profile::escape::escape(root.as_os_str().as_encoded_bytes())
    );
    // Atomic: a journal exists complete with its begin record, or not at all.
    medguard_profile::write_atomically(&txn.dir.join("journal"), |w| w.write_all(line.as_bytes()))?;
    fsync_dir(&txn.dir)
}

struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    fn open(txn: &Txn) -> Result<Self, UpdateError> {
        let path = txn.dir.join("journal");
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Ok(Self { path, file })
    }

    /// Appends a record; `durable` syncs it (progress records need not be: recovery does
    /// not depend on them).
    fn record(&mut self, line: &str, durable: bool) -> Result<(), UpdateError> {
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| {
                if durable {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(io_at(&self.path))
    }
}

/// How an operation swaps entries; the undo follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// Moved to the backup.
    Remove,
    /// Owner and mode only.
    Meta,
    /// Nothing was there.
    Add,
    /// Non-directory over non-directory: the old entry is hard-linked into the backup, then
    /// the new one renamed over it, so the path never disappears.
    Swap,
    /// A directory on either side: the old entry is moved to the backup, the new one put
    /// in its place.
    Move,
}

fn method(op: &Operation) -> Method {
    match (&op.change, op.old) {
        (Change::Remove, _) => Method::Remove,
        (Change::Meta(_), _) => Method::Meta,
        (_, None) => Method::Add,
        (Change::Mkdir(_), Some(_)) | (_, Some(Kind::Dir)) => Method::Move,
        (_, Some(_)) => Method::Swap,
    }
}

/// Refuses to work below anything but a real directory: never through a symbolic link.
fn check_ancestors(root: &Path, op: &Operation) -> Result<(), UpdateError> {
    for a in op.path.ancestors() {
        let p = root.join(std::ffi::OsStr::from_bytes_compat(a));
        let m = fs::symlink_metadata(&p).map_err(io_at(&p))?;
        if !m.is_dir() {
            return Err(UpdateError::Escape {
                path: op.path.under(root),
                reason: if m.file_type().is_symlink() {
                    "an ancestor is a symbolic link"
                } else {
                    "an ancestor is not a directory"
                },
            });
        }
    }
    Ok(())
}

fn lexists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

fn rename_noreplace(from: &Path, to: &Path) -> Result<(), UpdateError> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(|e| UpdateError::Io {
        path: to.to_owned(),
        error: e.into(),
    })
}

fn rename(from: &Path, to: &Path) -> Result<(), UpdateError> {
    fs::rename(from, to).map_err(io_at(to))
}

fn apply_all(
    manifest: &Manifest,
    txn: &Txn,
    root: &Path,
    journal: &mut Journal,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<(), UpdateError> {
    for (i, op) in manifest.operations.iter().enumerate() {
        apply_op(i, op, txn, root)?;
        journal.record(&format!("op {i}"), false)?;
        observe(observer, Step::Applied(i));
    }
    if let Some(owner) = manifest.root {
        set_owner(root, owner)?;
    }
    sync_fs(root)?;
    journal.record("applied", true)?;
    observe(observer, Step::AllApplied);
    Ok(())
}

fn place_new(op: &Operation, stage: &Path, p: &Path) -> Result<(), UpdateError> {
    match &op.change {
        Change::Mkdir(owner) => {
            fs::create_dir(p).map_err(io_at(p))?;
            set_owner(p, *owner)
        }
        _ => rename_noreplace(stage, p),
    }
}

fn apply_op(i: usize, op: &Operation, txn: &Txn, root: &Path) -> Result<(), UpdateError> {
    check_ancestors(root, op)?;
    let p = op.path.under(root);
    let b = txn.backup.join(i.to_string());
    let s = txn.stage.join(i.to_string());
    match method(op) {
        Method::Remove => rename(&p, &b),
        Method::Meta => match op.change {
            Change::Meta(owner) => set_owner(&p, owner),
            _ => Ok(()),
        },
        Method::Add => place_new(op, &s, &p),
        Method::Swap => {
            fs::hard_link(&p, &b).map_err(io_at(&b))?;
            rename(&s, &p)
        }
        Method::Move => {
            rename(&p, &b)?;
            place_new(op, &s, &p)
        }
    }
}

/// Removes what the install put at `p`. A directory the install created is removed with
/// whatever is still in it: the later operations are undone by now, so anything left was
/// made after the install (a self-test's log, say), and it did not exist in the old tree.
fn remove_entry(p: &Path) -> Result<(), UpdateError> {
    let m = fs::symlink_metadata(p).map_err(io_at(p))?;
    if m.is_dir() {
        fs::remove_dir_all(p).map_err(io_at(p))
    } else {
        fs::remove_file(p).map_err(io_at(p))
    }
}

fn undo_op(
    i: usize,
    op: &Operation,
    txn: &Txn,
    root: &Path,
    base: &VerifiedProfile,
) -> Result<(), UpdateError> {
    let p = op.path.under(root);
    let b = txn.backup.join(i.to_string());
    match method(op) {
        Method::Remove | Method::Swap => {
            if lexists(&b) {
                rename(&b, &p)?;
            }
        }
        Method::Meta => {
            if let Some(e) = base.profile().get(&op.path.to_profile_path())
                && lexists(&p)
            {
                set_owner(
                    &p,
                    Ownership {
                        mode: e.meta.mode,
                        uid: e.meta.uid,
                        gid: e.meta.gid,
                    },
                )?;
            }
        }
        Method::Add => {
            if lexists(&p) {
                remove_entry(&p)?;
            }
        }
        Method::Move => {
            if lexists(&b) {
                if lexists(&p) {
                    remove_entry(&p)?;
                }
                rename(&b, &p)?;
            }
        }
    }
    Ok(())
}

/// Undoes every operation in reverse order, syncs, and verifies the tree against the base
/// profile. Returns whether it is clean and how many deviations remain.
fn rollback(
    manifest: &Manifest,
    txn: &Txn,
    root: &Path,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<(bool, usize), UpdateError> {
    let base = &manifest.base_profile;
    if manifest.root.is_some()
        && let Some(e) = base.profile().get(b"/")
    {
        set_owner(
            root,
            Ownership {
                mode: e.meta.mode,
                uid: e.meta.uid,
                gid: e.meta.gid,
            },
        )?;
    }
    for (i, op) in manifest.operations.iter().enumerate().rev() {
        undo_op(i, op, txn, root, base).map_err(|e| UpdateError::RollbackFailed {
            journal: txn.dir.clone(),
            reason: e.to_string(),
        })?;
        observe(observer, Step::Undone(i));
    }
    sync_fs(root)?;
    let report = medguard_profile::verify_tree(
        root,
        &Baseline::from_profile(base.clone()),
        WalkOptions::default(),
        &Progress::default(),
    )?;
    observe(observer, Step::RolledBack);
    Ok((
        report.is_clean(),
        report.deviations.len() + report.unverifiable.len(),
    ))
}

fn finish_commit(state_dir: &Path, manifest: &Manifest) -> Result<(), UpdateError> {
    let path = state_dir.join("profile");
    medguard_profile::write_atomically(&path, |w| w.write_all(&manifest.new_profile_text))?;
    retire(state_dir)
}

/// Deletes the transaction directory: first renamed away atomically, so a crash while
/// deleting never leaves a half-deleted journal that recovery would read.
fn retire(state_dir: &Path) -> Result<(), UpdateError> {
    let txn = state_dir.join(TXN);
    let done = state_dir.join(TXN_DONE);
    if done.exists() {
        fs::remove_dir_all(&done).map_err(io_at(&done))?;
    }
    if txn.exists() {
        rename(&txn, &done)?;
        fsync_dir(state_dir)?;
        fs::remove_dir_all(&done).map_err(io_at(&done))?;
    }
    Ok(())
}

fn run_self_tests(manifest: &Manifest, root: &Path, txn: &Txn) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    for (i, t) in manifest.self_tests.iter().enumerate() {
        let log_path = txn.dir.join(format!("self-test-{i}.log"));
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&t.command)
            .current_dir(root)
            .env("MEDGUARD_ROOT", root)
            .env("MEDGUARD_BUNDLE_VERSION", &manifest.version)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("self-test {:?} could not start: {e}", t.command))?;
        let started = Instant::now();
        let limit = Duration::from_secs(t.timeout_secs);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= limit => {
                    if let Some(pid) =
                        rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0))
                    {
                        let _ =
                            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                    }
                    let _ = child.wait();
                    return Err(format!(
                        "self-test {:?} timed out after {} s",
                        t.command, t.timeout_secs
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("self-test {:?}: {e}", t.command)),
            }
        };
        if !status.success() {
            let tail = fs::read(&log_path).unwrap_or_default();
            let tail = String::from_utf8_lossy(
                tail.get(tail.len().saturating_sub(200)..)
                    .unwrap_or_default(),
            );
            let tail = tail.trim().replace('\n', " | ");
            return Err(format!(
                "self-test {:?} failed ({status}){}",
                t.command,
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            ));
        }
    }
    Ok(())
}

/// Finishes or undoes an install that a crash interrupted (nothing to do: `None`).
pub fn recover(
    state_dir: &Path,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<Option<Recovered>, UpdateError> {
    if !state_dir.exists() {
        return Ok(None);
    }
    let _lock = lock_state_dir(state_dir)?;
    recover_locked(state_dir, observer)
}

fn recover_locked(
    state_dir: &Path,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<Option<Recovered>, UpdateError> {
    let txn = Txn::at(state_dir);
    let done = state_dir.join(TXN_DONE);
    if done.exists() {
        fs::remove_dir_all(&done).map_err(io_at(&done))?;
    }
    if !txn.dir.exists() {
        return Ok(None);
    }
    let journal_path = txn.dir.join("journal");
    let journal_err = |reason: String| UpdateError::Journal {
        path: journal_path.clone(),
        reason,
    };
    let text = match fs::read(&journal_path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // No begin record: the tree was never touched.
            retire(state_dir)?;
            return Ok(Some(Recovered::DiscardedStaging));
        }
        Err(e) => return Err(io_at(&journal_path)(e)),
    };
    // Only complete lines count: a torn last record was never acknowledged.
    let complete = text
        .get(..text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1))
        .unwrap_or_default();
    let lines: Vec<&[u8]> = complete
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let begin = lines
        .first()
        .ok_or_else(|| journal_err("no begin record".into()))?;
    let begin =
        std::str::from_utf8(begin).map_err(|_| journal_err("begin record is not UTF-8".into()))?;
    let mut parts = begin.splitn(3, ' ');
    let fields: Vec<&str> = (0..3).filter_map(|_| parts.next()).collect();
    let (Some(magic), Some(digest), Some(root)) = (fields.first(), fields.get(1), fields.get(2))
    else {
        return Err(journal_err("bad begin record".into()));
    };
    if *magic != JOURNAL_MAGIC || digest.len() != 64 {
        return Err(journal_err("bad begin record".into()));
    }
    let root = medguard_profile::escape::unescape(root.as_bytes())
        .map_err(|e| journal_err(e.to_string()))?;
    let root = PathBuf::from(std::ffi::OsStr::from_bytes_compat(&root));
    let manifest_path = txn.dir.join("manifest");
    let signed = fs::read(&manifest_path).map_err(io_at(&manifest_path))?;
    if blake3::hash(&signed).to_hex().as_str() != *digest {
        return Err(journal_err(
            "the stored manifest does not match the journal's digest".into(),
        ));
    }
    // The manifest was verified against the trusted keys when this install began, and the
    // journal binds it by digest; the state dir is the device's own, like its profile.
    let doc = UnverifiedDocument::parse(&signed).map_err(UpdateError::Signature)?;
    let manifest = Manifest::from_json(doc.accept_unsigned().body())?;
    let version = manifest.version.clone();
    if lines.iter().any(|l| *l == b"committed") {
        finish_commit(state_dir, &manifest)?;
        return Ok(Some(Recovered::Completed { version }));
    }
    let (old_tree_clean, _) = rollback(&manifest, &txn, &root, observer)?;
    retire(state_dir)?;
    Ok(Some(Recovered::RolledBack {
        version,
        old_tree_clean,
    }))
}
