//! The enforcer's lifecycle: starting its threads, placing the marks (last, once the
//! reader runs), and stopping (marks first, so nothing new waits on a process that is
//! winding down).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use medguard_audit::AuditWriter;
use nix::fcntl::AT_FDCWD;
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};

use super::audit_log::{LOG_QUEUE, logger};
use super::decision::{Cache, Job, Reader, Reply, decider};
use super::{Denial, EnforceError, EnforceOptions, Mark, Stats, StatsSnapshot};
use crate::list::VerifiedAllowlist;

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
