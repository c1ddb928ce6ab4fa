//! Ingesting audit events as JSON lines (one [`EventInput`] a line) from a reader.
//!
//! This module owns the pipeline that makes `medguard audit append` fast and safe: lines are
//! parsed and submitted in batches in input order by the calling thread, while two helper
//! threads wait for the batches to become durable, so one batch is serialised and written
//! while the previous one is being synced. A batch is submitted when it is full or when no
//! more input is already buffered, so a slow producer's events are durable as they come and
//! a fast producer's events share fsyncs. A malformed line is rejected with its number and
//! the rest are appended. It must not print: callers learn of rejections and commits
//! through callbacks.

use std::io::{BufRead as _, BufReader, Read};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::error::AuditError;
use crate::event::EventInput;
use crate::log::{AuditWriter, PendingAppend};
use medguard_host::Clock;

/// Events committed with one fsync at most.
pub const MAX_BATCH: usize = 8192;

/// An input line that was not appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// 1-based line number.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// What an ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Events appended and durable.
    pub appended: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The highest seq appended (0 if none).
    pub last_seq: u64,
}

/// Why an ingest stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The input could not be read.
    #[error("reading the event lines: {0}")]
    Read(#[source] std::io::Error),
    /// The log refused a batch; events acknowledged before it are durable.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// Appends every well-formed line of `input` to `writer`. `on_reject` hears of each
/// malformed line; `on_commit(appended so far, last seq)` of each batch once it is durable.
/// Events whose commit was reported are durable even if a later batch fails.
pub fn ingest_json_lines<R: Read>(
    writer: &AuditWriter,
    input: &mut BufReader<R>,
    default_host: &str,
    clock: &dyn Clock,
    on_reject: &mut dyn FnMut(&RejectedLine),
    on_commit: &(dyn Fn(u64, u64) + Sync),
) -> Result<IngestSummary, IngestError> {
    let (tx, rx) = sync_channel::<PendingAppend<'_>>(2);
    let rx = Mutex::new(rx);
    let committed = Mutex::new((0u64, 0u64));
    let failure: Mutex<Option<AuditError>> = Mutex::new(None);
    let submitted = std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| wait_for_batches(&rx, &committed, &failure, on_commit));
        }
        let result = read_and_submit(writer, input, default_host, clock, &tx, &failure, on_reject);
        drop(tx);
        result
    });
    drop(rx);
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(IngestError::Audit(e));
    }
    let (submitted, rejected) = submitted?;
    let (appended, last_seq) = committed.into_inner().unwrap_or((0, 0));
    debug_assert_eq!(submitted, appended);
    Ok(IngestSummary {
        appended,
        rejected,
        last_seq,
    })
}

fn wait_for_batches(
    rx: &Mutex<Receiver<PendingAppend<'_>>>,
    committed: &Mutex<(u64, u64)>,
    failure: &Mutex<Option<AuditError>>,
    on_commit: &(dyn Fn(u64, u64) + Sync),
) {
    loop {
        let next = rx
            .lock()
            .map_err(|_| ())
            .and_then(|r| r.recv().map_err(|_| ()));
        let Ok(pending) = next else { break };
        match pending.wait() {
            Ok(seqs) => {
                let Ok(mut c) = committed.lock() else { break };
                c.0 += seqs.end - seqs.start;
                c.1 = c.1.max(seqs.end.saturating_sub(1));
                on_commit(c.0, c.1);
            }
            Err(e) => {
                if let Ok(mut f) = failure.lock() {
                    f.get_or_insert(e);
                }
            }
        }
    }
}

/// Reads lines and submits them in batches; returns (submitted, rejected).
fn read_and_submit<'w, R: Read>(
    writer: &'w AuditWriter,
    input: &mut BufReader<R>,
    default_host: &str,
    clock: &dyn Clock,
    tx: &SyncSender<PendingAppend<'w>>,
    failure: &Mutex<Option<AuditError>>,
    on_reject: &mut dyn FnMut(&RejectedLine),
) -> Result<(u64, u64), IngestError> {
    let (mut submitted, mut rejected) = (0u64, 0u64);
    let mut batch = Vec::new();
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(IngestError::Read)?;
        if n > 0 {
            line_no += 1;
            let parsed = std::str::from_utf8(&line)
                .map_err(|_| "not UTF-8".to_owned())
                .map(str::trim)
                .and_then(|t| {
                    if t.is_empty() {
                        Ok(None)
                    } else {
                        EventInput::parse(t).map(Some).map_err(|e| e.to_string())
                    }
                });
            match parsed {
                Ok(Some(event)) => batch.push(event.into_event(clock.now(), default_host)),
                Ok(None) => {}
                Err(reason) => {
                    rejected += 1;
                    on_reject(&RejectedLine {
                        line: line_no,
                        reason,
                    });
                }
            }
        }
        let eof = n == 0;
        if !batch.is_empty() && (eof || batch.len() >= MAX_BATCH || input.buffer().is_empty()) {
            if failure.lock().map_or(true, |f| f.is_some()) {
                break;
            }
            let pending = writer.submit(&batch)?;
            submitted += batch.len() as u64;
            batch.clear();
            if tx.send(pending).is_err() {
                break;
            }
        }
        if eof {
            break;
        }
    }
    Ok((submitted, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{AuditLog, WriterOptions};
    use medguard_host::FixedClock;

    #[test]
    fn malformed_lines_are_rejected_with_their_numbers_and_the_rest_appended() {
        let dir = tempfile::tempdir().unwrap();
        let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
        let text = "{\"type\":\"login-failure\",\"user\":\"a\"}\n\nnot json\n{\"type\":\"no-such-type\"}\n{\"type\":\"login-success\",\"user\":\"b\"}";
        let mut input = BufReader::new(text.as_bytes());
        let mut rejected = Vec::new();
        let commits = Mutex::new(Vec::new());
        let clock = FixedClock(time::OffsetDateTime::UNIX_EPOCH);
        let summary = ingest_json_lines(
            &writer,
            &mut input,
            "host",
            &clock,
            &mut |r| rejected.push(r.line),
            &|n, last| commits.lock().unwrap().push((n, last)),
        )
        .unwrap();
        assert_eq!(rejected, vec![3, 4]);
        assert_eq!(
            summary,
            IngestSummary {
                appended: 2,
                rejected: 2,
                last_seq: 2
            }
        );
        assert_eq!(commits.into_inner().unwrap().last(), Some(&(2, 2)));
        writer.close().unwrap();
        let users: Vec<String> = AuditLog::open(dir.path())
            .unwrap()
            .records()
            .unwrap()
            .map(|r| r.unwrap().event.participants[0].user_id.clone())
            .collect();
        assert_eq!(users, vec!["a", "b"]);
    }
}
