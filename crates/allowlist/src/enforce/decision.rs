//! Deciding one permission event: the reader thread answers from the cache or waits (at
//! most the timeout) for the decider thread, which hashes the file; the watchdog answers at
//! once while the decider is stuck.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::fanotify::{Fanotify, FanotifyEvent, FanotifyResponse, MaskFlags, Response};

use super::{Access, Cause, Denial, EnforceOptions, Mode, Stats, TimeoutAnswer};
use crate::check::{Verdict, judge};
use crate::list::VerifiedAllowlist;

/// Identity of a file's content as far as `fstat` can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    // The stat field types differ between targets.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    pub(super) fn of(st: &nix::sys::stat::FileStat) -> Self {
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
pub(super) fn links(st: &nix::sys::stat::FileStat) -> u64 {
    u64::from(st.st_nlink)
}

#[derive(Debug, Clone)]
pub(super) struct Cached {
    path: PathBuf,
    verdict: Verdict,
    library: bool,
}

/// Bound on cached identities; the cache is cleared when it grows past it.
const CACHE_MAX: usize = 1 << 16;

pub(super) type Cache = Arc<Mutex<HashMap<FileId, Cached>>>;

pub(super) struct Job {
    pub(super) id: u64,
    pub(super) file: File,
    pub(super) path: PathBuf,
    pub(super) key: FileId,
    pub(super) meta: std::fs::Metadata,
}

pub(super) struct Reply {
    pub(super) id: u64,
    pub(super) result: Result<Cached, String>,
}

pub(super) struct Reader {
    pub(super) group: Arc<Fanotify>,
    /// Whether allowed files get ignore marks.
    pub(super) kernel_cache: bool,
    pub(super) own_pid: i32,
    pub(super) options: EnforceOptions,
    pub(super) cache: Cache,
    pub(super) jobs: SyncSender<Job>,
    pub(super) replies: Receiver<Reply>,
    pub(super) log: SyncSender<Denial>,
    pub(super) stats: Arc<Stats>,
    pub(super) next_id: u64,
    /// The id of a job that timed out and whose reply has not come back yet.
    pub(super) stuck: Option<u64>,
}

/// How the reader answered one event.
pub(super) enum Outcome2 {
    /// Allowed; with the file's identity when the list allows it (not merely a non-library
    /// open), so that the kernel may remember it.
    Allowed(Option<Identity>),
    Refused(Cause),
}

/// What the reader knew of an allowed file when it decided.
pub(super) struct Identity {
    pub(super) key: FileId,
    pub(super) nlink: u64,
}

impl Reader {
    pub(super) fn run(mut self, stop: &AtomicBool, wake: &std::io::PipeReader) {
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
}

impl Reader {
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

pub(super) fn decider(
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
