//! Enforcing an allowlist with Linux fanotify permission events.
//!
//! The kernel holds every `execve` (`FAN_OPEN_EXEC_PERM`) of a file below a mark until this
//! process answers `FAN_ALLOW` or `FAN_DENY`; a denied exec fails with `EPERM`. A reader
//! that stops answering freezes every exec on the marked mounts, so the design is about
//! always answering:
//!
//! - **A dedicated blocking reader thread** (`poll` on the group and a wake pipe) reads
//!   events and answers them. It never opens a file, so it can never wait on itself.
//! - **Our own process is always allowed** (the event's pid is ours): the audit writer may
//!   open files on a marked mount.
//! - **Cached decisions are answered inline.** The cache is keyed by file identity (device,
//!   inode, size, mtime and ctime, each to the nanosecond) and also holds the path, so a
//!   binary rewritten in place (new mtime/ctime), replaced by rename (new inode) or reached
//!   through another hard link is judged again.
//! - **A cache miss goes to the decider thread**, which hashes the file (BLAKE3 through the
//!   event's descriptor, positional reads). The reader waits at most the timeout and then
//!   answers per `on_timeout`. **Watchdog:** while the decider is still stuck on an event
//!   that timed out, later misses are answered per `on_timeout` at once instead of queueing
//!   behind it, so a hung disk costs one timeout, not one per exec.
//! - **Allowed files are remembered by the kernel** ([`EnforceOptions::kernel_cache`]). After
//!   an allowed answer the reader puts an *ignore mark* on the file's inode (fanotify's
//!   `FAN_MARK_IGNORED_MASK`, evictable), so later execs of it raise no event at all: no
//!   round trip, which on a busy host is most of the cost (two cross-CPU wake-ups per
//!   exec). The kernel clears an ignore mask when the file is written (`FS_MODIFY`, which
//!   `write`, `truncate`, `fallocate` and copy/splice raise); writes through a shared
//!   mapping raise no `FS_MODIFY`, so the same inode mark also asks for `FAN_CLOSE_WRITE`,
//!   which comes when the last writer (mapping included) is gone and makes the reader drop
//!   the mark (an exec cannot start while a writable mapping exists: `ETXTBSY`). Only
//!   files with a single link are remembered, so a hard link elsewhere is still judged by
//!   its own path. What the kernel remembers is the inode: a remembered file *renamed*
//!   to an unlisted path keeps running until it is written, evicted or the enforcer
//!   restarts. Renaming needs write access to the listed directory, which the allowlist
//!   does not protect against anyway. After placing the mark the reader checks the file's
//!   identity once more and drops the mark if the file changed in between. The group's
//!   queue is unlimited, so a `FAN_CLOSE_WRITE` can't be lost to an overflow.
//! - **Denials are logged by a third thread** through a bounded queue the reader never
//!   waits on (a full queue drops and counts), writing `executable-denied` audit events.
//! - **Stopping** removes every mark first (`FAN_MARK_FLUSH`), then wakes the reader, which
//!   answers what is still queued and exits. Closing the group makes the kernel allow
//!   anything left; nothing can stay blocked on a dead enforcer.
//!
//! Shared libraries: fanotify has no event for `mmap(PROT_EXEC)`. With
//! [`EnforceOptions::libraries`] the group also asks for `FAN_OPEN_PERM` and judges opens of
//! files that are libraries (a `*.so*` name, or ELF `ET_DYN` without x bits, read from the
//! file's header): that is how `ld.so` loads them, but it means a plain read of an
//! unlisted library is refused too, and every open on the marked area pays a round trip to
//! this process (fapolicyd pays it always). Opens of other files are allowed and cached.
//!
//! Marks: [`Mark::Mount`] marks a whole mount (`FAN_MARK_MOUNT`), the deployment case.
//! [`Mark::Directory`] marks a directory and every directory below it at start (directory
//! marks only see their direct children; directories created later are not covered). Tests
//! use only directory marks on directories they made, so a bug cannot stall the host.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use medguard_audit::{
    ActiveParticipant, AuditEvent, AuditWriter, Clock, Code, EventKind, ObjectDetail, ObjectType,
    Outcome, ParticipantObject,
};
use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::fanotify::{
    EventFFlags, Fanotify, FanotifyEvent, FanotifyResponse, InitFlags, MarkFlags, MaskFlags,
    Response,
};

use crate::check::{Verdict, judge};
use crate::list::VerifiedAllowlist;

/// Whether denials are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Allow everything, log what would be denied.
    Audit,
    /// Deny what the list does not allow, and log it.
    Enforce,
}

/// The answer given when no decision came in time (or none could be made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutAnswer {
    /// Let it run.
    Allow,
    /// Refuse it.
    Deny,
}

impl TimeoutAnswer {
    /// The default: allow in audit mode, deny in enforce mode.
    #[must_use]
    pub fn default_for(mode: Mode) -> Self {
        match mode {
            Mode::Audit => Self::Allow,
            Mode::Enforce => Self::Deny,
        }
    }
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The whole mount containing this path.
    Mount(PathBuf),
    /// This directory and every directory below it (at start).
    Directory(PathBuf),
}

/// How to enforce.
#[derive(Debug, Clone)]
pub struct EnforceOptions {
    /// Audit or enforce.
    pub mode: Mode,
    /// What to mark; at least one.
    pub marks: Vec<Mark>,
    /// How long an event may wait for a decision.
    pub timeout: Duration,
    /// The answer when the decision does not come in time.
    pub on_timeout: TimeoutAnswer,
    /// Also judge opens of shared libraries (`FAN_OPEN_PERM`).
    pub libraries: bool,
    /// Let the kernel remember allowed files (ignore marks; see the module docs). Needs
    /// Linux 5.19 (evictable marks); on older kernels it is turned off at start.
    pub kernel_cache: bool,
    /// Time of audit events.
    pub clock: Arc<dyn Clock>,
    /// AuditSourceID of audit events (the host name).
    pub source_id: String,
}

/// Why an event was answered as it was, when it was not allowed by the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum Cause {
    /// The list's verdict.
    Verdict {
        /// The verdict.
        #[serde(flatten)]
        verdict: Verdict,
    },
    /// No decision within the timeout.
    Timeout,
    /// The decider was still stuck on an earlier event.
    Watchdog,
    /// The file could not be examined.
    Undecidable {
        /// Why.
        error: String,
    },
}

/// One exec (or library open) that was denied, or in audit mode would have been.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Denial {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub time: time::OffsetDateTime,
    /// The requesting process.
    pub pid: i32,
    /// The file.
    pub path: PathBuf,
    /// Exec or library open.
    pub access: Access,
    /// Whether the kernel was told to deny (false in audit mode or on an allowing timeout).
    pub denied: bool,
    /// Why.
    #[serde(flatten)]
    pub cause: Cause,
}

/// The kind of access judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// `execve` (`FAN_OPEN_EXEC_PERM`).
    Exec,
    /// Open of a shared library (`FAN_OPEN_PERM`).
    LibraryOpen,
}

/// Counters, readable while enforcing.
#[derive(Debug, Default)]
pub struct Stats {
    /// Permission events answered.
    pub events: AtomicU64,
    /// Events of our own process (always allowed).
    pub own: AtomicU64,
    /// Answered from the cache.
    pub cache_hits: AtomicU64,
    /// Answered `FAN_DENY`.
    pub denied: AtomicU64,
    /// Would have been denied (audit mode, or allowed by `on_timeout`).
    pub would_deny: AtomicU64,
    /// Answered on timeout.
    pub timeouts: AtomicU64,
    /// Answered by the watchdog.
    pub watchdog: AtomicU64,
    /// Denials not logged because the log queue was full.
    pub log_dropped: AtomicU64,
    /// Audit events that could not be written.
    pub log_errors: AtomicU64,
    /// Responses the kernel refused.
    pub response_errors: AtomicU64,
    /// Allowed files handed to the kernel's cache (ignore marks placed).
    pub kernel_cached: AtomicU64,
    /// Kernel cache entries dropped because the file was written or changed.
    pub kernel_forgotten: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct StatsSnapshot {
    pub events: u64,
    pub own: u64,
    pub cache_hits: u64,
    pub denied: u64,
    pub would_deny: u64,
    pub timeouts: u64,
    pub watchdog: u64,
    pub log_dropped: u64,
    pub log_errors: u64,
    pub response_errors: u64,
    pub kernel_cached: u64,
    pub kernel_forgotten: u64,
}

impl Stats {
    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            events: g(&self.events),
            own: g(&self.own),
            cache_hits: g(&self.cache_hits),
            denied: g(&self.denied),
            would_deny: g(&self.would_deny),
            timeouts: g(&self.timeouts),
            watchdog: g(&self.watchdog),
            log_dropped: g(&self.log_dropped),
            log_errors: g(&self.log_errors),
            response_errors: g(&self.response_errors),
            kernel_cached: g(&self.kernel_cached),
            kernel_forgotten: g(&self.kernel_forgotten),
        }
    }
}

/// Errors starting or stopping enforcement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnforceError {
    /// `fanotify_init` failed (needs `CAP_SYS_ADMIN` and a kernel with fanotify
    /// permission events, `CONFIG_FANOTIFY_ACCESS_PERMISSIONS`).
    #[error("fanotify_init: {0} (needs root and a kernel with fanotify permission events)")]
    Init(Errno),
    /// A mark could not be placed.
    #[error("{path}: fanotify_mark: {error}")]
    Mark {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: Errno,
    },
    /// A directory to mark could not be listed.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// Nothing to mark.
    #[error("nothing to watch: give at least one mount or directory")]
    NoMarks,
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// The audit log could not be written when closing.
    #[error("audit log: {0}")]
    Audit(#[from] medguard_audit::AuditError),
}

/// A running enforcer. Dropping it stops it, like [`Enforcer::stop`].
#[derive(Debug)]
pub struct Enforcer {
    group: Arc<Fanotify>,
    stop: Arc<AtomicBool>,
    wake: Option<std::io::PipeWriter>,
    stats: Arc<Stats>,
    reader: Option<JoinHandle<()>>,
    decider: Option<JoinHandle<()>>,
    logger: Option<JoinHandle<Option<AuditWriter>>>,
    marked: usize,
}

/// Identity of a file's content as far as `fstat` can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    // The stat field types differ between targets.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn of(st: &nix::sys::stat::FileStat) -> Self {
        Self {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }
}

/// The link count (`nlink_t` is 32 bits on some targets).
#[allow(clippy::useless_conversion)]
fn links(st: &nix::sys::stat::FileStat) -> u64 {
    u64::from(st.st_nlink)
}

#[derive(Debug, Clone)]
struct Cached {
    path: PathBuf,
    verdict: Verdict,
    library: bool,
}

/// Bound on cached identities; the cache is cleared when it grows past it.
const CACHE_MAX: usize = 1 << 16;
/// Bound on denials waiting to be logged.
const LOG_QUEUE: usize = 4096;

type Cache = Arc<Mutex<HashMap<FileId, Cached>>>;

struct Job {
    id: u64,
    file: File,
    path: PathBuf,
    key: FileId,
    meta: std::fs::Metadata,
}

struct Reply {
    id: u64,
    result: Result<Cached, String>,
}

impl Enforcer {
    /// Starts enforcing `list`; denials are written to `audit` when given and passed to
    /// `on_denial` (called on the logging thread, never on the reader).
    pub fn start(
        list: Arc<VerifiedAllowlist>,
        options: EnforceOptions,
        audit: Option<AuditWriter>,
        on_denial: Box<dyn FnMut(&Denial) + Send>,
    ) -> Result<Self, EnforceError> {
        if options.marks.is_empty() {
            return Err(EnforceError::NoMarks);
        }
        // Unlimited queue: the only notification events are FAN_CLOSE_WRITE of remembered
        // files, and losing one would leave a stale ignore mark.
        let group = Fanotify::init(
            InitFlags::FAN_CLASS_CONTENT
                | InitFlags::FAN_CLOEXEC
                | InitFlags::FAN_NONBLOCK
                | InitFlags::FAN_UNLIMITED_QUEUE,
            EventFFlags::O_RDONLY | EventFFlags::O_LARGEFILE | EventFFlags::O_CLOEXEC,
        )
        .map_err(EnforceError::Init)?;
        let group = Arc::new(group);
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (wake_rx, wake_tx) = std::io::pipe().map_err(EnforceError::Thread)?;
        let cache: Cache = Arc::new(Mutex::new(HashMap::new()));
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(1);
        let (reply_tx, reply_rx) = mpsc::channel::<Reply>();
        let (log_tx, log_rx) = mpsc::sync_channel::<Denial>(LOG_QUEUE);

        let mut enforcer = Self {
            group: Arc::clone(&group),
            stop: Arc::clone(&stop),
            wake: Some(wake_tx),
            stats: Arc::clone(&stats),
            reader: None,
            decider: None,
            logger: None,
            marked: 0,
        };
        let libraries = options.libraries;
        {
            let list = Arc::clone(&list);
            let cache = Arc::clone(&cache);
            enforcer.decider = Some(
                std::thread::Builder::new()
                    .name("allowlist-decider".into())
                    .spawn(move || decider(&list, &cache, libraries, &job_rx, &reply_tx))
                    .map_err(EnforceError::Thread)?,
            );
        }
        {
            let stats = Arc::clone(&stats);
            let clock = Arc::clone(&options.clock);
            let source = options.source_id.clone();
            let mode = options.mode;
            enforcer.logger = Some(
                std::thread::Builder::new()
                    .name("allowlist-audit".into())
                    .spawn(move || {
                        logger(&log_rx, audit, on_denial, &*clock, &source, mode, &stats)
                    })
                    .map_err(EnforceError::Thread)?,
            );
        }
        let kernel_cache = options.kernel_cache && evictable_marks_supported(&group);
        {
            let reader = Reader {
                kernel_cache,
                group: Arc::clone(&group),
                own_pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
                options: options.clone(),
                cache,
                jobs: job_tx,
                replies: reply_rx,
                log: log_tx,
                stats: Arc::clone(&stats),
                next_id: 0,
                stuck: None,
            };
            let stop = Arc::clone(&stop);
            enforcer.reader = Some(
                std::thread::Builder::new()
                    .name("allowlist-reader".into())
                    .spawn(move || reader.run(&stop, &wake_rx))
                    .map_err(EnforceError::Thread)?,
            );
        }
        // Marks last: from here on the kernel waits for the reader, which is running.
        for mark in &options.marks {
            if let Err(e) = enforcer.add_mark(mark, libraries) {
                let _ = enforcer.shutdown();
                return Err(e);
            }
        }
        Ok(enforcer)
    }

    fn add_mark(&mut self, mark: &Mark, libraries: bool) -> Result<(), EnforceError> {
        let mut mask = MaskFlags::FAN_OPEN_EXEC_PERM;
        if libraries {
            mask |= MaskFlags::FAN_OPEN_PERM;
        }
        let place = |flags: MarkFlags, mask: MaskFlags, path: &Path| {
            self.group
                .mark(MarkFlags::FAN_MARK_ADD | flags, mask, AT_FDCWD, Some(path))
                .map_err(|error| EnforceError::Mark {
                    path: path.to_owned(),
                    error,
                })
        };
        match mark {
            Mark::Mount(path) => {
                place(MarkFlags::FAN_MARK_MOUNT, mask, path)?;
                self.marked += 1;
            }
            Mark::Directory(root) => {
                let mut dirs = vec![root.clone()];
                while let Some(dir) = dirs.pop() {
                    // Never follow a link out of the tree the caller chose.
                    place(
                        MarkFlags::FAN_MARK_DONT_FOLLOW | MarkFlags::FAN_MARK_ONLYDIR,
                        mask | MaskFlags::FAN_EVENT_ON_CHILD,
                        &dir,
                    )?;
                    self.marked += 1;
                    let io = |error| EnforceError::Io {
                        path: dir.clone(),
                        error,
                    };
                    for e in std::fs::read_dir(&dir).map_err(io)? {
                        let e = e.map_err(io)?;
                        if e.file_type().map_err(io)?.is_dir() {
                            dirs.push(e.path());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// How many marks were placed.
    #[must_use]
    pub fn marked(&self) -> usize {
        self.marked
    }

    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Removes every mark, answers what is queued, stops the threads and closes the audit
    /// log (writing its checkpoint). Returns the final counters.
    pub fn stop(mut self) -> Result<StatsSnapshot, EnforceError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<StatsSnapshot, EnforceError> {
        // Marks first, so nothing new waits on us while the threads wind down.
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_FLUSH | MarkFlags::FAN_MARK_MOUNT,
            MaskFlags::empty(),
            AT_FDCWD,
            None::<&Path>,
        );
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_FLUSH,
            MaskFlags::empty(),
            AT_FDCWD,
            None::<&Path>,
        );
        self.stop.store(true, Ordering::SeqCst);
        if let Some(mut w) = self.wake.take() {
            use std::io::Write as _;
            let _ = w.write_all(b"x");
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if let Some(d) = self.decider.take() {
            // The reader dropped the job sender; a decider stuck on a hung file is left
            // behind rather than waited for.
            if d.is_finished() {
                let _ = d.join();
            }
        }
        let writer = self.logger.take().and_then(|l| l.join().ok()).flatten();
        if let Some(w) = writer {
            w.close()?;
        }
        Ok(self.stats.snapshot())
    }
}

impl Drop for Enforcer {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.shutdown();
        }
    }
}

struct Reader {
    group: Arc<Fanotify>,
    /// Whether allowed files get ignore marks.
    kernel_cache: bool,
    own_pid: i32,
    options: EnforceOptions,
    cache: Cache,
    jobs: SyncSender<Job>,
    replies: Receiver<Reply>,
    log: SyncSender<Denial>,
    stats: Arc<Stats>,
    next_id: u64,
    /// The id of a job that timed out and whose reply has not come back yet.
    stuck: Option<u64>,
}

/// How the reader answered one event.
enum Outcome2 {
    /// Allowed; with the file's identity when the list allows it (not merely a non-library
    /// open), so that the kernel may remember it.
    Allowed(Option<Identity>),
    Refused(Cause),
}

/// What the reader knew of an allowed file when it decided.
struct Identity {
    key: FileId,
    nlink: u64,
}

impl Reader {
    fn run(mut self, stop: &AtomicBool, wake: &std::io::PipeReader) {
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            if !stopping {
                let mut fds = [
                    PollFd::new(self.group.as_fd(), PollFlags::POLLIN),
                    PollFd::new(wake.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // Read until the queue is empty (the group is non-blocking).
            loop {
                match self.group.read_events() {
                    Ok(events) if events.is_empty() => break,
                    Ok(events) => {
                        for event in &events {
                            self.answer(event);
                        }
                    }
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
            if stopping {
                return;
            }
        }
    }

    fn answer(&mut self, event: &FanotifyEvent) {
        let Some(fd) = event.fd() else {
            return; // A queue overflow notice; the queue is unlimited.
        };
        let mask = event.mask();
        if mask.contains(MaskFlags::FAN_CLOSE_WRITE) {
            self.forget(fd);
        }
        if !mask.intersects(MaskFlags::FAN_OPEN_EXEC_PERM | MaskFlags::FAN_OPEN_PERM) {
            return;
        }
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.options.timeout;
        let access = if mask.contains(MaskFlags::FAN_OPEN_EXEC_PERM) {
            Access::Exec
        } else {
            Access::LibraryOpen
        };
        let (outcome, path) = if event.pid() == self.own_pid {
            self.stats.own.fetch_add(1, Ordering::Relaxed);
            (Outcome2::Allowed(None), PathBuf::new())
        } else {
            self.decide(fd, access, deadline)
        };
        let deny = match &outcome {
            Outcome2::Allowed(_) => false,
            Outcome2::Refused(Cause::Verdict { .. } | Cause::Undecidable { .. }) => {
                self.options.mode == Mode::Enforce
            }
            Outcome2::Refused(Cause::Timeout | Cause::Watchdog) => {
                self.options.mode == Mode::Enforce && self.options.on_timeout == TimeoutAnswer::Deny
            }
        };
        let response = if deny {
            Response::FAN_DENY
        } else {
            Response::FAN_ALLOW
        };
        if self
            .group
            .write_response(FanotifyResponse::new(fd, response))
            .is_err()
        {
            self.stats.response_errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Outcome2::Allowed(Some(identity)) = &outcome
            && self.kernel_cache
        {
            self.remember(fd, identity);
        }
        if let Outcome2::Refused(cause) = outcome {
            let counter = if deny {
                &self.stats.denied
            } else {
                &self.stats.would_deny
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let denial = Denial {
                time: self.options.clock.now(),
                pid: event.pid(),
                path,
                access,
                denied: deny,
                cause,
            };
            if let Err(TrySendError::Full(_)) = self.log.try_send(denial) {
                self.stats.log_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn decide(
        &mut self,
        fd: BorrowedFd<'_>,
        access: Access,
        deadline: Instant,
    ) -> (Outcome2, PathBuf) {
        let path =
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default();
        let undecidable = |e: &dyn std::fmt::Display| {
            Outcome2::Refused(Cause::Undecidable {
                error: e.to_string(),
            })
        };
        // A cache hit costs one fstat; the descriptor is duplicated for the decider only on
        // a miss.
        let st = match nix::sys::stat::fstat(fd) {
            Ok(st) => st,
            Err(e) => return (undecidable(&e), path),
        };
        let key = FileId::of(&st);
        let meta_nlink = links(&st);
        let hit = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).filter(|c| c.path == path).cloned());
        let cached = if let Some(c) = hit {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            c
        } else {
            let file = match fd.try_clone_to_owned() {
                Ok(f) => File::from(f),
                Err(e) => return (undecidable(&e), path),
            };
            let meta = match file.metadata() {
                Ok(m) => m,
                Err(e) => return (undecidable(&e), path),
            };
            match self.ask_decider(file, path.clone(), key, meta, deadline) {
                Ok(c) => c,
                Err(outcome) => return (outcome, path),
            }
        };
        let outcome = match access {
            _ if cached.verdict.allowed() => Outcome2::Allowed(Some(Identity {
                key,
                nlink: meta_nlink,
            })),
            Access::LibraryOpen if !cached.library => Outcome2::Allowed(None),
            _ => Outcome2::Refused(Cause::Verdict {
                verdict: cached.verdict,
            }),
        };
        (outcome, path)
    }

    /// The ignore-mask bits of a remembered file: every permission event the marks ask for.
    fn ignored(&self) -> MaskFlags {
        if self.options.libraries {
            MaskFlags::FAN_OPEN_EXEC_PERM | MaskFlags::FAN_OPEN_PERM
        } else {
            MaskFlags::FAN_OPEN_EXEC_PERM
        }
    }

    /// Lets the kernel answer later opens of this allowed file itself (module docs).
    fn remember(&self, fd: BorrowedFd<'_>, identity: &Identity) {
        if identity.nlink != 1 {
            return; // Each of its paths must be judged on its own.
        }
        let evictable = MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_EVICTABLE;
        // The FAN_CLOSE_WRITE mark first: from the moment the ignore mask exists, a write
        // through a mapping must reach us.
        if self
            .group
            .mark(evictable, MaskFlags::FAN_CLOSE_WRITE, fd, None::<&Path>)
            .is_err()
        {
            return;
        }
        if self
            .group
            .mark(
                evictable | MarkFlags::FAN_MARK_IGNORED_MASK,
                self.ignored(),
                fd,
                None::<&Path>,
            )
            .is_err()
        {
            self.unmark(fd);
            return;
        }
        // A write between the decision and the mark raised its FS_MODIFY before the mark
        // existed; its new mtime/ctime shows here.
        let unchanged = nix::sys::stat::fstat(fd)
            .is_ok_and(|st| FileId::of(&st) == identity.key && links(&st) == 1);
        if unchanged {
            self.stats.kernel_cached.fetch_add(1, Ordering::Relaxed);
        } else {
            self.unmark(fd);
        }
    }

    /// A remembered file was written: the kernel must ask again.
    fn forget(&self, fd: BorrowedFd<'_>) {
        self.unmark(fd);
        self.stats.kernel_forgotten.fetch_add(1, Ordering::Relaxed);
    }

    fn unmark(&self, fd: BorrowedFd<'_>) {
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_REMOVE | MarkFlags::FAN_MARK_IGNORED_MASK,
            self.ignored(),
            fd,
            None::<&Path>,
        );
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_REMOVE,
            MaskFlags::FAN_CLOSE_WRITE,
            fd,
            None::<&Path>,
        );
    }

    fn ask_decider(
        &mut self,
        file: File,
        path: PathBuf,
        key: FileId,
        meta: std::fs::Metadata,
        deadline: Instant,
    ) -> Result<Cached, Outcome2> {
        // A late reply for the stuck job means the decider is free again.
        while let Ok(r) = self.replies.try_recv() {
            if Some(r.id) == self.stuck {
                self.stuck = None;
            }
        }
        if self.stuck.is_some() {
            self.stats.watchdog.fetch_add(1, Ordering::Relaxed);
            return Err(Outcome2::Refused(Cause::Watchdog));
        }
        self.next_id += 1;
        let id = self.next_id;
        let job = Job {
            id,
            file,
            path,
            key,
            meta,
        };
        if self.jobs.try_send(job).is_err() {
            self.stats.watchdog.fetch_add(1, Ordering::Relaxed);
            return Err(Outcome2::Refused(Cause::Watchdog));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(r) if r.id == id => {
                    return r
                        .result
                        .map_err(|error| Outcome2::Refused(Cause::Undecidable { error }));
                }
                Ok(_) => {} // A stale reply to an event already answered.
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    self.stuck = Some(id);
                    self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(Outcome2::Refused(Cause::Timeout));
                }
            }
        }
    }
}

fn decider(
    list: &VerifiedAllowlist,
    cache: &Cache,
    libraries: bool,
    jobs: &Receiver<Job>,
    replies: &mpsc::Sender<Reply>,
) {
    use std::os::unix::ffi::OsStrExt as _;
    while let Ok(job) = jobs.recv() {
        let path_bytes = job.path.as_os_str().as_bytes();
        let result = judge(list, path_bytes, &job.file, &job.meta)
            .map(|verdict| Cached {
                library: libraries && is_library(path_bytes, &job.file, &job.meta),
                path: job.path.clone(),
                verdict,
            })
            .map_err(|e| format!("{}: {e}", job.path.display()));
        if let (Ok(c), Ok(mut cache)) = (&result, cache.lock()) {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(job.key, c.clone());
        }
        if replies.send(Reply { id: job.id, result }).is_err() {
            return;
        }
    }
}

/// Whether this kernel takes evictable inode marks (Linux 5.19), tried with a mark on `/`
/// that is removed at once (directories never see `FAN_CLOSE_WRITE`).
fn evictable_marks_supported(group: &Fanotify) -> bool {
    let probe = MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_EVICTABLE;
    let root = Path::new("/");
    if group
        .mark(probe, MaskFlags::FAN_CLOSE_WRITE, AT_FDCWD, Some(root))
        .is_err()
    {
        return false;
    }
    let _ = group.mark(
        MarkFlags::FAN_MARK_REMOVE,
        MaskFlags::FAN_CLOSE_WRITE,
        AT_FDCWD,
        Some(root),
    );
    true
}

fn is_library(path: &[u8], file: &File, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileExt as _;
    if crate::build::has_library_name(path) {
        return true;
    }
    if meta.mode() & 0o111 != 0 {
        return false;
    }
    let mut head = [0u8; 18];
    file.read_exact_at(&mut head, 0).is_ok() && crate::build::elf_type(&head) == Some(3)
}

fn logger(
    rx: &Receiver<Denial>,
    audit: Option<AuditWriter>,
    mut on_denial: Box<dyn FnMut(&Denial) + Send>,
    clock: &dyn Clock,
    source: &str,
    mode: Mode,
    stats: &Stats,
) -> Option<AuditWriter> {
    let write = |w: &AuditWriter, e: &AuditEvent| {
        if w.append(e).is_err() {
            stats.log_errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    if let Some(w) = &audit {
        let mut e = AuditEvent::new(
            EventKind::ApplicationStart,
            clock.now(),
            Outcome::Success,
            source,
        );
        e.detail = Some(format!("allowlist enforcer started in {mode:?} mode").to_lowercase());
        write(w, &e);
    }
    while let Ok(d) = rx.recv() {
        on_denial(&d);
        if let Some(w) = &audit {
            write(w, &denial_event(&d, source));
        }
    }
    if let Some(w) = &audit {
        let mut e = AuditEvent::new(
            EventKind::ApplicationStop,
            clock.now(),
            Outcome::Success,
            source,
        );
        e.detail = Some("allowlist enforcer stopped; marks removed".into());
        write(w, &e);
    }
    audit
}

/// The `executable-denied` audit event of a denial.
#[must_use]
pub fn denial_event(d: &Denial, source: &str) -> AuditEvent {
    let outcome = if d.denied {
        Outcome::SeriousFailure
    } else {
        Outcome::Success
    };
    let mut e = AuditEvent::new(EventKind::ExecutableDenied, d.time, outcome, source);
    let why = match &d.cause {
        Cause::Verdict { verdict } => verdict.to_string(),
        Cause::Timeout => "no decision within the timeout".into(),
        Cause::Watchdog => "decider stuck on an earlier file".into(),
        Cause::Undecidable { error } => format!("cannot examine the file: {error}"),
    };
    let access = match d.access {
        Access::Exec => "exec",
        Access::LibraryOpen => "library open",
    };
    e.detail = Some(if d.denied {
        format!("{access} of {} refused: {why}", d.path.display())
    } else {
        format!(
            "{access} of {} would be refused (allowed: audit mode or timeout policy): {why}",
            d.path.display()
        )
    });
    let (uid, exe) = process_identity(d.pid);
    e.participants.push(ActiveParticipant {
        user_id: uid.unwrap_or_else(|| "unknown".into()),
        alternative_user_id: Some(format!("pid={}", d.pid)),
        user_name: exe,
        is_requestor: true,
        roles: Vec::new(),
        network_access_point: None,
        network_access_point_type: None,
    });
    let mut details = vec![ObjectDetail {
        kind: "reason".into(),
        value: why,
    }];
    if let Cause::Verdict {
        verdict: Verdict::DigestDiffers { expected, actual },
    } = &d.cause
    {
        details.push(ObjectDetail {
            kind: "expected-blake3".into(),
            value: expected.clone(),
        });
        if let Some(a) = actual {
            details.push(ObjectDetail {
                kind: "blake3".into(),
                value: a.clone(),
            });
        }
    }
    e.objects.push(ParticipantObject {
        id_type: Code::dcm("12", "URI"),
        id: d.path.display().to_string(),
        kind: ObjectType::SystemObject,
        role: None,
        name: None,
        details,
    });
    e
}

/// The real uid and executable of a process, while it still exists.
fn process_identity(pid: i32) -> (Option<String>, Option<String>) {
    let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        });
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.display().to_string());
    (uid, exe)
}

/// One [`Mark::Mount`] per mount holding a listed file: the directories of the listed
/// files that exist here, one per device.
#[must_use]
pub fn covering_mounts(list: &crate::list::Allowlist) -> Vec<Mark> {
    use std::os::unix::ffi::OsStrExt as _;
    let mut seen = std::collections::HashSet::new();
    let mut marks = Vec::new();
    for e in list.entries() {
        let path = Path::new(std::ffi::OsStr::from_bytes(&e.path));
        let Some(parent) = path.parent() else {
            continue;
        };
        if let Ok(m) = std::fs::metadata(parent)
            && seen.insert(m.dev())
        {
            marks.push(Mark::Mount(parent.to_owned()));
        }
    }
    marks
}
