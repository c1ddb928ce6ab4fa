//! The log directory: reading stored records ([`AuditLog`]) and appending them durably
//! ([`AuditWriter`]) with group commit, multi-process locking, segment rotation, signed
//! checkpoints and torn-tail recovery.
//!
//! This module owns every write to a log directory. It must not judge tampering (that is
//! `verify.rs`, which reads with the trusted keys) and must not print.
//!
//! A log directory holds `NNNNNNNNNN.seg` segments, the `checkpoints` file, a `lock` file
//! (`flock`ed by a writer while it appends, so several processes serialise) and, after a
//! crash, `recovered-<segment>-<offset>.torn` files keeping the bytes recovery cut.
//!
//! Durability: `append` returns only after the record's bytes were written with one
//! `pwrite` and `fdatasync`ed. Concurrent appenders of one writer share an fsync: the first
//! becomes the leader and commits everything queued, the others wait on a condition
//! variable for their batch's outcome (leader/follower group commit).

use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use medguard_digest::SigningKey;
use rustix::fs::FlockOperation;

use crate::checkpoint::{CHECKPOINT_FILE, Checkpoint, last_checkpoint};
use crate::error::AuditError;
use crate::event::{AuditEvent, EventKind, ObjectDetail, ObjectType, Outcome, ParticipantObject};
use crate::record::{ChainDigest, FRAME_HEADER, Frame, FrameError, MAX_PAYLOAD};
use crate::segment::{
    SEGMENT_HEADER, Segment, SegmentFrames, check_header, list_segments, scan_tail,
    segment_file_name, segment_header,
};
use medguard_host::{Clock, SystemClock};

const SYNC_FAILED: &str =
    "an earlier fsync of the log failed, so later records cannot be acknowledged; reopen the log";

/// The lock file serialising writers of one directory.
pub const LOCK_FILE: &str = "lock";

/// Records between signed checkpoints unless the caller chooses otherwise: a checkpoint
/// costs one signature and one small fsync, so ten thousand records keep its cost out of
/// append throughput while bounding what a crash leaves covered by the chain only.
pub const CHECKPOINT_EVERY: u64 = 10_000;

/// One record as stored: its place in the chain and its event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredRecord {
    /// Sequence number (1 for the first record of a log).
    pub seq: u64,
    /// Segment number holding it.
    pub segment: u64,
    /// Byte offset of its frame in the segment.
    pub offset: u64,
    /// Its chain digest.
    pub digest: ChainDigest,
    /// The event.
    pub event: AuditEvent,
}

/// A log directory opened for reading. Reading takes no lock: writers only ever append
/// whole frames, and a frame still being written at the end is simply not returned yet.
#[derive(Debug, Clone)]
pub struct AuditLog {
    dir: PathBuf,
}

impl AuditLog {
    /// Opens the log in `dir` for reading; the directory must exist.
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        std::fs::metadata(dir).map_err(AuditError::io(dir))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The log directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored records with `seq >= from`, in order. The reader checks framing, seq
    /// continuity and the chain digests as it goes; the first problem is returned as an
    /// error item and ends the iteration (run `verify` for a full report). A torn frame at
    /// the very end of the last segment (a write in progress or an unrecovered crash) ends
    /// the iteration quietly.
    pub fn records_from(&self, from: u64) -> Result<Records, AuditError> {
        let segments = list_segments(&self.dir)?;
        // Start in the last segment whose first record is at or before `from`.
        let mut start = 0;
        for (i, seg) in segments.iter().enumerate() {
            match first_seq(&seg.path)? {
                Some(first) if first <= from => start = i,
                Some(_) => break,
                None => {}
            }
        }
        Ok(Records {
            segments,
            next_segment: start,
            current: None,
            from,
            prev: None,
            done: false,
        })
    }

    /// All stored records.
    pub fn records(&self) -> Result<Records, AuditError> {
        self.records_from(0)
    }
}

fn first_seq(path: &Path) -> Result<Option<u64>, AuditError> {
    let file = File::open(path).map_err(AuditError::io(path))?;
    let mut buf = [0u8; SEGMENT_HEADER + FRAME_HEADER];
    match file.read_exact_at(&mut buf, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(AuditError::io(path)(e)),
    }
    Ok(buf
        .get(SEGMENT_HEADER + 4..SEGMENT_HEADER + FRAME_HEADER)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes))
}

/// Iterator over stored records; see [`AuditLog::records_from`].
#[derive(Debug)]
pub struct Records {
    segments: Vec<Segment>,
    next_segment: usize,
    current: Option<(Segment, Vec<u8>, usize)>,
    from: u64,
    prev: Option<(u64, ChainDigest)>,
    done: bool,
}

impl Iterator for Records {
    type Item = Result<StoredRecord, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let Some((seg, bytes, pos)) = self.current.as_mut() else {
                let Some(seg) = self.segments.get(self.next_segment).cloned() else {
                    self.done = true;
                    return None;
                };
                self.next_segment += 1;
                let bytes = match std::fs::read(&seg.path) {
                    Ok(b) => b,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(AuditError::io(&seg.path)(e)));
                    }
                };
                if let Err(reason) = check_header(&bytes, seg.number) {
                    self.done = true;
                    return Some(Err(corrupt(&seg.path, 0, None, reason)));
                }
                self.current = Some((seg, bytes, SEGMENT_HEADER));
                continue;
            };
            let is_last = self.next_segment >= self.segments.len();
            let rest = bytes.get(*pos..).unwrap_or_default();
            if rest.is_empty() {
                self.current = None;
                continue;
            }
            let offset = *pos as u64;
            let (frame, used) = match Frame::decode(rest) {
                Ok(f) => f,
                Err(FrameError::Incomplete { .. }) if is_last => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    let path = seg.path.clone();
                    self.done = true;
                    return Some(Err(corrupt(&path, offset, None, &e.to_string())));
                }
            };
            *pos += used;
            if let Some((s, d)) = self.prev {
                let reason = if frame.seq != s.wrapping_add(1) {
                    Some("sequence number out of order")
                } else if !frame.links_to(&d) {
                    Some("chain digest does not match")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    let path = seg.path.clone();
                    self.done = true;
                    return Some(Err(corrupt(&path, offset, Some(frame.seq), reason)));
                }
            }
            self.prev = Some((frame.seq, frame.digest));
            if frame.seq < self.from {
                continue;
            }
            let event = match serde_json::from_slice(frame.payload) {
                Ok(e) => e,
                Err(source) => {
                    let path = seg.path.clone();
                    self.done = true;
                    return Some(Err(AuditError::EventJson {
                        path,
                        offset,
                        seq: frame.seq,
                        source,
                    }));
                }
            };
            return Some(Ok(StoredRecord {
                seq: frame.seq,
                segment: seg.number,
                offset,
                digest: frame.digest,
                event,
            }));
        }
    }
}

fn corrupt(path: &Path, offset: u64, seq: Option<u64>, reason: &str) -> AuditError {
    AuditError::Corrupt {
        path: path.to_owned(),
        offset,
        seq,
        reason: reason.to_owned(),
    }
}

/// How an [`AuditWriter`] writes.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Key signing checkpoints; without one, no checkpoints are written (verify then
    /// warns that the whole log is an unsigned tail).
    pub key: Option<Arc<SigningKey>>,
    /// Sign a checkpoint once this many records follow the last one (and on close).
    pub checkpoint_every: u64,
    /// Start a new segment once the current one would grow past this size.
    pub segment_max_bytes: u64,
    /// The AuditSourceID of events the writer makes itself (recovery).
    pub source_id: String,
    /// Time of events the writer makes itself.
    pub clock: Arc<dyn Clock>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            key: None,
            checkpoint_every: CHECKPOINT_EVERY,
            segment_max_bytes: 64 << 20,
            source_id: "medguard".to_owned(),
            clock: Arc::new(SystemClock),
        }
    }
}

type BatchOutcome = OnceLock<Result<u64, Arc<AuditError>>>;

/// Group commit state. Batches are numbered as they are taken for writing; one thread at
/// a time writes (hash + `pwrite`), then syncs outside the lock so the next batch can be
/// written during the fsync; a batch's outcome is published only after every earlier
/// batch's, so an acknowledged record never follows a lost one.
#[derive(Debug)]
struct Queue {
    /// Events submitted and not yet taken by a writer.
    payloads: Vec<Vec<u8>>,
    /// The outcome of those events' batch.
    outcome: Arc<BatchOutcome>,
    /// Whether a thread is writing a batch.
    writing: bool,
    /// Number of batches taken for writing so far.
    taken: u64,
    /// Number of batches whose outcome is published.
    published: u64,
    /// An fsync failed. Linux may have dropped the unsynced pages and a later fsync can
    /// still succeed, so nothing written after it may be acknowledged: the writer refuses
    /// every later batch (reopen the log, which re-reads what is really on disk).
    sync_failed: bool,
}

/// Events submitted with [`AuditWriter::submit`], not yet known to be durable.
#[derive(Debug)]
#[must_use = "events are only committed when some thread waits for them"]
pub struct PendingAppend<'a> {
    writer: &'a AuditWriter,
    outcome: Arc<BatchOutcome>,
    index: u64,
    count: u64,
}

/// A log directory opened for appending. Share it between threads (`&self` methods); open
/// one per process. Writers in several processes serialise on the directory's lock file.
#[derive(Debug)]
pub struct AuditWriter {
    queue: Mutex<Queue>,
    committed: Condvar,
    disk: Mutex<Disk>,
    options: WriterOptions,
}

/// What the last recovery cut (see [`AuditWriter::recoveries`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recovery {
    /// The segment file cut.
    pub path: PathBuf,
    /// Offset it was cut at.
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
    /// Where the cut bytes were saved.
    pub saved_to: PathBuf,
}

#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    lock: File,
    /// Current segment number, 0 when the log is empty.
    segment: u64,
    file: Option<File>,
    end: u64,
    last: Option<(u64, ChainDigest)>,
    checkpoint_seq: u64,
    checkpoint_len: u64,
    recoveries: Vec<Recovery>,
    closed: bool,
}

impl AuditWriter {
    /// Opens (creating if needed) the log in `dir` for appending. A torn tail left by a
    /// crash is cut here, saved beside the segment, and recorded as an
    /// `audit-log-recovery` event.
    pub fn open(dir: &Path, options: WriterOptions) -> Result<Self, AuditError> {
        std::fs::create_dir_all(dir).map_err(AuditError::io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(AuditError::io(&lock_path))?;
        let writer = Self {
            queue: Mutex::new(Queue {
                payloads: Vec::new(),
                outcome: Arc::new(OnceLock::new()),
                writing: false,
                taken: 0,
                published: 0,
                sync_failed: false,
            }),
            committed: Condvar::new(),
            disk: Mutex::new(Disk {
                dir: dir.to_owned(),
                lock,
                segment: 0,
                file: None,
                end: 0,
                last: None,
                checkpoint_seq: 0,
                checkpoint_len: u64::MAX,
                recoveries: Vec::new(),
                closed: false,
            }),
            options,
        };
        writer
            .lock_disk()?
            .commit(Vec::new(), &writer.options, true)?;
        Ok(writer)
    }

    /// Recoveries this writer performed (usually at open).
    pub fn recoveries(&self) -> Result<Vec<Recovery>, AuditError> {
        Ok(self.lock_disk()?.recoveries.clone())
    }

    /// The seq of the last record this writer knows of (0 for an empty log).
    pub fn last_seq(&self) -> Result<u64, AuditError> {
        Ok(self.lock_disk()?.last.map_or(0, |(s, _)| s))
    }

    /// Appends one event and returns its seq once it is durable.
    pub fn append(&self, event: &AuditEvent) -> Result<u64, AuditError> {
        let range = self.append_batch(std::slice::from_ref(event))?;
        Ok(range.start)
    }

    /// Appends events as consecutive records with (at most) one fsync, and returns their
    /// seqs once they are durable. Either all are stored or none is.
    pub fn append_batch(&self, events: &[AuditEvent]) -> Result<Range<u64>, AuditError> {
        self.submit(events)?.wait()
    }

    /// Queues events as consecutive records and returns at once; [`PendingAppend::wait`]
    /// commits them (with whatever else is queued) and returns their seqs once durable.
    /// Records keep submission order, so one thread can submit batch after batch while
    /// other threads wait for the earlier ones: serialising the next batch then overlaps
    /// the fsync of the previous one.
    pub fn submit(&self, events: &[AuditEvent]) -> Result<PendingAppend<'_>, AuditError> {
        let mut payloads = serialise_all(events)?;
        let count = payloads.len() as u64;
        let mut queue = self.lock_queue()?;
        let index = queue.payloads.len() as u64;
        queue.payloads.append(&mut payloads);
        Ok(PendingAppend {
            writer: self,
            outcome: Arc::clone(&queue.outcome),
            index,
            count,
        })
    }

    /// Writes the queued batch (the caller has set `writing`), syncs it, publishes its
    /// outcome in batch order, and signs a checkpoint when one is due.
    fn write_queued(
        &self,
        batch: Vec<Vec<u8>>,
        outcome: &BatchOutcome,
        number: u64,
    ) -> Result<(), AuditError> {
        let poisoned = self.lock_queue()?.sync_failed;
        let written = if poisoned {
            Err(AuditError::Unusable(SYNC_FAILED))
        } else {
            self.lock_disk()
                .and_then(|mut disk| disk.commit(batch, &self.options, false))
        };
        let mut queue = self.lock_queue()?;
        queue.writing = false;
        self.committed.notify_all();
        drop(queue);
        // The fsync runs outside both locks: the next batch is written meanwhile.
        let mut sync_error = false;
        let result = written.and_then(|(first, file)| match file {
            Some((file, path)) => file.sync_data().map(|()| first).map_err(|e| {
                sync_error = true;
                AuditError::io(path)(e)
            }),
            None => Ok(first),
        });
        let mut queue = self.lock_queue()?;
        while queue.published < number {
            queue = self
                .committed
                .wait(queue)
                .map_err(|_| AuditError::Unusable("a committing thread panicked"))?;
        }
        let result = if queue.sync_failed && result.is_ok() {
            Err(AuditError::Unusable(SYNC_FAILED))
        } else {
            result
        };
        queue.sync_failed |= sync_error;
        let ok = result.is_ok();
        let _ = outcome.set(result.map_err(Arc::new));
        queue.published = number + 1;
        self.committed.notify_all();
        drop(queue);
        if ok && self.options.key.is_some() {
            // A failed checkpoint loses nothing: the records are durable and chained, and
            // `close` signs (and reports errors) at the end.
            let _ = self.lock_disk()?.checkpoint_if_due(&self.options);
        }
        Ok(())
    }

    /// Signs a checkpoint over the current end of the log now, if a key is configured and
    /// records follow the last checkpoint.
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        self.lock_disk()?.checkpoint_now(&self.options)
    }

    /// Signs a final checkpoint and closes the writer.
    pub fn close(self) -> Result<Option<Checkpoint>, AuditError> {
        let mut disk = self.lock_disk()?;
        let cp = disk.checkpoint_now(&self.options)?;
        disk.closed = true;
        Ok(cp)
    }

    fn lock_queue(&self) -> Result<MutexGuard<'_, Queue>, AuditError> {
        self.queue
            .lock()
            .map_err(|_| AuditError::Unusable("a committing thread panicked"))
    }

    fn lock_disk(&self) -> Result<MutexGuard<'_, Disk>, AuditError> {
        self.disk
            .lock()
            .map_err(|_| AuditError::Unusable("a committing thread panicked"))
    }
}

impl PendingAppend<'_> {
    /// Waits until the submitted events are durable (committing queued events if no other
    /// thread is), and returns their seqs.
    pub fn wait(self) -> Result<Range<u64>, AuditError> {
        let w = self.writer;
        let mut queue = w.lock_queue()?;
        loop {
            if let Some(result) = self.outcome.get() {
                return match result {
                    Ok(first) => Ok(first + self.index..first + self.index + self.count),
                    Err(e) => Err(AuditError::Batch(Arc::clone(e))),
                };
            }
            if !queue.writing && !queue.payloads.is_empty() {
                // Take everything queued so far (our own events included) and commit it.
                queue.writing = true;
                let batch = std::mem::take(&mut queue.payloads);
                let outcome = std::mem::replace(&mut queue.outcome, Arc::new(OnceLock::new()));
                let number = queue.taken;
                queue.taken += 1;
                drop(queue);
                w.write_queued(batch, &outcome, number)?;
                queue = w.lock_queue()?;
                continue;
            }
            if self.count == 0 {
                // Nothing to wait for: the seqs would start after the current end.
                drop(queue);
                let last = w.last_seq()?;
                return Ok(last.saturating_add(1)..last.saturating_add(1));
            }
            queue = w
                .committed
                .wait(queue)
                .map_err(|_| AuditError::Unusable("a committing thread panicked"))?;
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        // Best effort: a writer dropped without `close` still leaves a signed end.
        if let Ok(mut disk) = self.disk.lock()
            && !disk.closed
        {
            let _ = disk.checkpoint_now(&self.options);
        }
    }
}

/// Holds the directory's `flock` for as long as it lives.
struct DirLock<'a>(&'a File);

impl<'a> DirLock<'a> {
    fn acquire(file: &'a File, dir: &Path) -> Result<Self, AuditError> {
        rustix::fs::flock(file, FlockOperation::LockExclusive)
            .map_err(|e| AuditError::io(dir.join(LOCK_FILE))(e.into()))?;
        Ok(Self(file))
    }
}

impl Drop for DirLock<'_> {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(self.0, FlockOperation::Unlock);
    }
}

impl Disk {
    fn segment_path(&self, number: u64) -> PathBuf {
        self.dir.join(segment_file_name(number))
    }

    /// Under the directory lock: catch up with other writers, recover a torn tail and
    /// write `payloads` as one batch. Returns the first seq, and (unless `sync`, when the
    /// data is already synced) the file the caller must sync before acknowledging.
    fn commit(
        &mut self,
        mut payloads: Vec<Vec<u8>>,
        options: &WriterOptions,
        sync: bool,
    ) -> Result<(u64, Option<(File, PathBuf)>), AuditError> {
        let lock = self.lock.try_clone().map_err(AuditError::io(&self.dir))?;
        let _guard = DirLock::acquire(&lock, &self.dir)?;
        let recovered = self.refresh()?;
        let extra = recovered.len() as u64;
        if !recovered.is_empty() {
            let mut events = Vec::with_capacity(recovered.len());
            for r in &recovered {
                events.push(recovery_event(r, options)?);
            }
            events.append(&mut payloads);
            payloads = events;
        }
        let first = self.last.map_or(0, |(s, _)| s).saturating_add(1);
        // Recovery events are synced here: the cut must be on record before anything else.
        let sync = sync || extra > 0;
        let mut to_sync = None;
        if !payloads.is_empty() {
            self.write_batch(&payloads, options, sync)?;
            if !sync && let Some(file) = &self.file {
                let path = self.segment_path(self.segment);
                to_sync = Some((file.try_clone().map_err(AuditError::io(&path))?, path));
            }
        }
        self.recoveries.extend(recovered);
        Ok((first + extra, to_sync))
    }

    fn checkpoint_if_due(&mut self, options: &WriterOptions) -> Result<(), AuditError> {
        let last = self.last.map_or(0, |(s, _)| s);
        if last >= self.checkpoint_seq + options.checkpoint_every.max(1) {
            self.checkpoint_now(options)?;
        }
        Ok(())
    }

    fn checkpoint_now(
        &mut self,
        options: &WriterOptions,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let Some(key) = &options.key else {
            return Ok(None);
        };
        let lock = self.lock.try_clone().map_err(AuditError::io(&self.dir))?;
        let _guard = DirLock::acquire(&lock, &self.dir)?;
        let recovered = self.refresh()?;
        if !recovered.is_empty() {
            let mut events = Vec::new();
            for r in &recovered {
                events.push(recovery_event(r, options)?);
            }
            self.write_batch(&events, options, true)?;
            self.recoveries.extend(recovered);
        }
        if self.last.map_or(0, |(s, _)| s) > self.checkpoint_seq {
            // Batches of other threads may be written but not yet synced: never sign
            // anything that is not durable.
            if let Some(file) = &self.file {
                file.sync_data()
                    .map_err(AuditError::io(self.segment_path(self.segment)))?;
            }
            return self.write_checkpoint(key).map(Some);
        }
        Ok(None)
    }

    /// Brings the in-memory tail up to date with the directory (other processes may have
    /// appended or rotated), cutting a torn tail. Returns the recoveries performed.
    fn refresh(&mut self) -> Result<Vec<Recovery>, AuditError> {
        let mut recoveries: Vec<Recovery> = self.refresh_checkpoint()?.into_iter().collect();
        let segments = list_segments(&self.dir)?;
        let Some(last_seg) = segments.last() else {
            self.segment = 0;
            self.file = None;
            self.end = 0;
            self.last = None;
            return Ok(recoveries);
        };
        let path = last_seg.path.clone();
        if last_seg.number == self.segment
            && let Some(file) = &self.file
        {
            let len = file.metadata().map_err(AuditError::io(&path))?.len();
            if len == self.end {
                return Ok(recoveries);
            }
            if len > self.end {
                let mut bytes = vec![0u8; usize::try_from(len - self.end).unwrap_or(0)];
                file.read_exact_at(&mut bytes, self.end)
                    .map_err(AuditError::io(&path))?;
                let scan = scan_tail(&bytes, 0, self.last);
                let base = self.end;
                self.end = base + scan.end;
                self.last = scan.last;
                recoveries.extend(self.cut_bad_tail(&path, base, &bytes, scan.bad)?);
                return Ok(recoveries);
            }
        }
        // A different segment, or a shrunk one: read it whole.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(AuditError::io(&path))?;
        let bytes = std::fs::read(&path).map_err(AuditError::io(&path))?;
        if bytes.len() < SEGMENT_HEADER {
            // Torn while the segment was being created: nothing in it was acknowledged.
            file.set_len(0).map_err(AuditError::io(&path))?;
            file.write_all_at(&segment_header(last_seg.number), 0)
                .map_err(AuditError::io(&path))?;
            file.sync_all().map_err(AuditError::io(&path))?;
            if !bytes.is_empty() {
                let name = format!("recovered-{:010}-0.torn", last_seg.number);
                recoveries.push(save_cut(&self.dir, &name, &path, 0, &bytes)?);
            }
        } else {
            check_header(&bytes, last_seg.number)
                .map_err(|reason| corrupt(&path, 0, None, reason))?;
        }
        // The first segment's first record must follow the genesis digest; a later segment's
        // first record is taken on trust here (verify checks it against the segment before).
        let start_prev = (last_seg.number == 1).then_some((0, ChainDigest::GENESIS));
        let scan = scan_tail(&bytes, SEGMENT_HEADER.min(bytes.len()), start_prev);
        self.segment = last_seg.number;
        self.file = Some(file);
        self.end = scan.end.max(SEGMENT_HEADER as u64);
        self.last = match scan.last.filter(|(seq, _)| *seq > 0) {
            Some(last) => Some(last),
            // An empty segment continues the chain of the one before it.
            None => self.tail_of_earlier(&segments)?,
        };
        recoveries.extend(self.cut_bad_tail(&path, 0, &bytes, scan.bad)?);
        Ok(recoveries)
    }

    fn tail_of_earlier(
        &self,
        segments: &[Segment],
    ) -> Result<Option<(u64, ChainDigest)>, AuditError> {
        for seg in segments.iter().rev().skip(1) {
            let bytes = std::fs::read(&seg.path).map_err(AuditError::io(&seg.path))?;
            let mut last = None;
            for item in SegmentFrames::new(&bytes, SEGMENT_HEADER) {
                match item {
                    Ok(f) => last = Some((f.frame.seq, f.frame.digest)),
                    Err((offset, e)) => {
                        return Err(corrupt(&seg.path, offset, None, &e.to_string()));
                    }
                }
            }
            if last.is_some() {
                return Ok(last);
            }
        }
        Ok(None)
    }

    /// `bytes` start at file offset `base`.
    fn cut_bad_tail(
        &mut self,
        path: &Path,
        base: u64,
        bytes: &[u8],
        bad: Option<crate::segment::BadTail>,
    ) -> Result<Vec<Recovery>, AuditError> {
        let Some(bad) = bad else {
            return Ok(Vec::new());
        };
        let offset = base + bad.offset;
        if !bad.torn {
            return Err(corrupt(path, offset, bad.seq, bad.reason));
        }
        let cut = bytes
            .get(usize::try_from(bad.offset).unwrap_or(usize::MAX)..)
            .unwrap_or_default();
        let name = format!("recovered-{:010}-{offset}.torn", self.segment);
        let recovery = save_cut(&self.dir, &name, path, offset, cut)?;
        let file = self
            .file
            .as_ref()
            .ok_or(AuditError::Unusable("no open segment"))?;
        file.set_len(offset).map_err(AuditError::io(path))?;
        file.sync_all().map_err(AuditError::io(path))?;
        self.end = offset;
        Ok(vec![recovery])
    }

    /// Re-reads the last checkpoint when the file changed. A torn last line (a crash while
    /// signing) is cut and saved aside, as a torn segment tail is: the next line appended
    /// would otherwise be glued onto it and read as a forged checkpoint.
    fn refresh_checkpoint(&mut self) -> Result<Option<Recovery>, AuditError> {
        let path = self.dir.join(CHECKPOINT_FILE);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(AuditError::io(&path)(e)),
        };
        if len == self.checkpoint_len {
            return Ok(None);
        }
        if len == 0 {
            self.checkpoint_seq = 0;
            self.checkpoint_len = 0;
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(AuditError::io(&path))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut recovery = None;
        if let Some(torn) = bytes.get(complete..).filter(|t| !t.is_empty()) {
            let offset = complete as u64;
            let name = format!("recovered-{CHECKPOINT_FILE}-{offset}.torn");
            recovery = Some(save_cut(&self.dir, &name, &path, offset, torn)?);
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(AuditError::io(&path))?;
            file.set_len(offset)
                .and_then(|()| file.sync_all())
                .map_err(AuditError::io(&path))?;
        }
        let complete = bytes.get(..complete).unwrap_or_default();
        self.checkpoint_seq = last_checkpoint(complete).map_or(0, |c| c.seq);
        self.checkpoint_len = complete.len() as u64;
        Ok(recovery)
    }

    /// Writes `payloads` as consecutive frames with one `pwrite` and one `fdatasync`,
    /// rotating first when the segment would outgrow its limit. On failure the segment is
    /// cut back to where it ended, so no partial record stays behind.
    fn write_batch(
        &mut self,
        payloads: &[Vec<u8>],
        options: &WriterOptions,
        sync: bool,
    ) -> Result<(), AuditError> {
        let size: usize = payloads
            .iter()
            .map(|p| p.len() + FRAME_HEADER + crate::record::FRAME_TRAILER)
            .sum();
        let rotate = self.file.is_none()
            || (self.end > SEGMENT_HEADER as u64
                && self.end + size as u64 > options.segment_max_bytes);
        let mut buf = Vec::with_capacity(size + SEGMENT_HEADER);
        if rotate && let Some(old) = &self.file {
            // The old segment is durable before the new one exists, so a crash can never
            // leave a hole before records of the next segment.
            old.sync_data()
                .map_err(AuditError::io(self.segment_path(self.segment)))?;
        }
        let (number, start) = if rotate {
            let number = self.segment + 1;
            buf.extend_from_slice(&segment_header(number));
            (number, 0)
        } else {
            (self.segment, self.end)
        };
        let (mut seq, mut digest) = self.last.unwrap_or((0, ChainDigest::GENESIS));
        for payload in payloads {
            seq = seq.checked_add(1).ok_or_else(|| {
                corrupt(
                    &self.segment_path(self.segment),
                    self.end,
                    Some(seq),
                    "the log's last seq is the largest possible",
                )
            })?;
            digest = digest.next(seq, payload);
            Frame {
                seq,
                payload,
                digest,
            }
            .encode(&mut buf);
        }
        let path = self.segment_path(number);
        let mut new_file = None;
        let file = if rotate {
            &*new_file.insert(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(AuditError::io(&path))?,
            )
        } else {
            self.file
                .as_ref()
                .ok_or(AuditError::Unusable("no open segment"))?
        };
        let written = file.write_all_at(&buf, start).and_then(|()| {
            if sync || rotate {
                file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Leave no partial record: cut back to the previous end (or drop the new
            // segment) before reporting the error.
            if rotate {
                let _ = std::fs::remove_file(&path);
            } else {
                let _ = file.set_len(start).and_then(|()| file.sync_all());
            }
            return Err(AuditError::io(&path)(e));
        }
        if rotate {
            sync_dir(&self.dir)?;
            self.file = new_file;
            self.segment = number;
        }
        self.end = start + buf.len() as u64;
        self.last = Some((seq, digest));
        Ok(())
    }

    fn write_checkpoint(&mut self, key: &SigningKey) -> Result<Checkpoint, AuditError> {
        let (seq, digest) = self
            .last
            .ok_or(AuditError::Unusable("no record to checkpoint"))?;
        let cp = Checkpoint {
            segment: self.segment,
            seq,
            end_offset: self.end,
            digest,
        };
        let line = cp.sign(key);
        let path = self.dir.join(CHECKPOINT_FILE);
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(AuditError::io(&path))?;
        let before = file.metadata().map_err(AuditError::io(&path))?.len();
        let written = (&file)
            .write_all_with(line.as_bytes())
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            let _ = file.set_len(before);
            return Err(AuditError::io(&path)(e));
        }
        if !existed {
            sync_dir(&self.dir)?;
        }
        self.checkpoint_seq = seq;
        self.checkpoint_len = before + line.len() as u64;
        Ok(cp)
    }
}

trait WriteAllWith {
    fn write_all_with(self, bytes: &[u8]) -> std::io::Result<()>;
}

impl WriteAllWith for &File {
    fn write_all_with(mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self, bytes)
    }
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    Ok(medguard_host::fsync_dir(dir)?)
}

/// Saves `bytes`, cut from `cut_from` at `offset`, as `name` in the log directory.
fn save_cut(
    dir: &Path,
    name: &str,
    cut_from: &Path,
    offset: u64,
    bytes: &[u8],
) -> Result<Recovery, AuditError> {
    let saved_to = dir.join(name);
    // Durable before the file is cut: the evidence is never lost to a second crash.
    medguard_host::write_bytes_atomically(&saved_to, 0o644, bytes)?;
    Ok(Recovery {
        path: cut_from.to_owned(),
        offset,
        bytes: bytes.len() as u64,
        saved_to,
    })
}

fn recovery_event(r: &Recovery, options: &WriterOptions) -> Result<Vec<u8>, AuditError> {
    let mut event = AuditEvent::new(
        EventKind::AuditLogRecovery,
        options.clock.now(),
        Outcome::MinorFailure,
        &options.source_id,
    );
    event.detail = Some(format!(
        "torn tail cut: {} bytes at offset {} of {}; saved to {}",
        r.bytes,
        r.offset,
        r.path.display(),
        r.saved_to.display()
    ));
    event.objects.push(ParticipantObject {
        id_type: crate::event::Code::dcm("12", "URI"),
        id: r.path.display().to_string(),
        kind: ObjectType::SystemObject,
        role: None,
        name: None,
        details: vec![
            ObjectDetail {
                kind: "offset".to_owned(),
                value: r.offset.to_string(),
            },
            ObjectDetail {
                kind: "bytes-cut".to_owned(),
                value: r.bytes.to_string(),
            },
        ],
    });
    event.to_canonical_json().map_err(AuditError::Serialise)
}

/// Canonical JSON of every event, on all cores for a big batch (serialising is most of the
/// CPU cost of appending).
fn serialise_all(events: &[AuditEvent]) -> Result<Vec<Vec<u8>>, AuditError> {
    let serialise = |chunk: &[AuditEvent]| -> Result<Vec<Vec<u8>>, AuditError> {
        chunk
            .iter()
            .map(|event| {
                let payload = event.to_canonical_json().map_err(AuditError::Serialise)?;
                if payload.len() > MAX_PAYLOAD {
                    return Err(AuditError::EventTooLarge {
                        bytes: payload.len(),
                    });
                }
                Ok(payload)
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8);
    if threads < 2 || events.len() < 2048 {
        return serialise(events);
    }
    let chunk = events.len().div_ceil(threads);
    let parts: Vec<Result<Vec<Vec<u8>>, AuditError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .chunks(chunk)
            .map(|c| scope.spawn(move || serialise(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or(Err(AuditError::Unusable("a serialising thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(events.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}
