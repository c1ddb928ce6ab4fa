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

mod audit_log;
mod decision;
mod kernel_cache;
mod lifecycle;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use medguard_audit::Clock;
use nix::errno::Errno;

use crate::check::Verdict;

pub use audit_log::denial_event;
pub use lifecycle::{Enforcer, covering_mounts};

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

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Verdict { verdict } => write!(f, "{verdict}"),
            Self::Timeout => f.write_str("no decision within the timeout"),
            Self::Watchdog => f.write_str("decider stuck on an earlier file"),
            Self::Undecidable { error } => write!(f, "cannot examine the file: {error}"),
        }
    }
}

/// `DENIED /path (pid N): why`, or `WOULD DENY ...` when the kernel was told to allow.
impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (pid {}): {}",
            if self.denied { "DENIED" } else { "WOULD DENY" },
            self.path.display(),
            self.pid,
            self.cause
        )
    }
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
    Init(#[source] Errno),
    /// A mark could not be placed.
    #[error("{path}: fanotify_mark: {error}")]
    Mark {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        error: Errno,
    },
    /// A directory to mark could not be listed.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// Nothing to mark.
    #[error("nothing to watch: give at least one mount or directory")]
    NoMarks,
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The audit log could not be written when closing.
    #[error("audit log: {0}")]
    Audit(#[from] medguard_audit::AuditError),
}
