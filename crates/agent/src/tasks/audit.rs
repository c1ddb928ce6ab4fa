//! Audit upload: the records of an audit log after a cursor, byte for byte as chained, with
//! the signed checkpoint lines that cover them, cut into uploads that fit the protocol.
//!
//! Records are read from the segment files directly (the audit crate's segment reader), not
//! re-serialised from parsed events: the server recomputes the chain over exactly the bytes
//! the device hashed.

use std::path::Path;

use medguard_audit::checkpoint::{CHECKPOINT_FILE, SignedCheckpoint};
use medguard_audit::record::{ChainDigest, FrameError};
use medguard_audit::segment::{SEGMENT_HEADER, SegmentFrames, check_header, list_segments};
use medguard_proto::limits::{MAX_AUDIT_RECORDS, MAX_CHECKPOINTS};
use medguard_proto::{AuditRecord, AuditUpload};

/// Payload bytes in one upload, at most: JSON escaping of the canonical event text can grow
/// it by a third or so, and the whole report must stay far under the request limit.
pub const MAX_UPLOAD_PAYLOAD: usize = 4 << 20;

/// Why an audit log could not be read for upload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The log could not be listed or read.
    #[error(transparent)]
    Audit(#[from] medguard_audit::AuditError),
    /// A segment could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The segment.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A segment is damaged before its end (only a torn last frame is expected).
    #[error("{path}: offset {offset}: {reason}")]
    Corrupt {
        /// The segment.
        path: std::path::PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// One upload and where it leaves the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The report body.
    pub upload: AuditUpload,
    /// The last record's seq.
    pub last_seq: u64,
    /// Its chain digest, hex.
    pub last_digest: String,
}

/// The records of the log in `dir` after seq `after`, cut into uploads (consecutive records,
/// at most [`MAX_AUDIT_RECORDS`] and [`MAX_UPLOAD_PAYLOAD`] each; a gap in the log starts a
/// new upload, so the server sees it), each with the checkpoint lines whose record falls in
/// it. `log` names the log on the wire.
///
/// # Errors
/// [`UploadError`] when the log cannot be read; a torn last frame (a write in progress, or a
/// crash not yet recovered) is not an error, it is left for the next upload.
pub fn pending(dir: &Path, log: &str, after: u64) -> Result<Vec<Upload>, UploadError> {
    let checkpoints = checkpoint_lines(dir)?;
    let segments = list_segments(dir)?;
    let mut uploads: Vec<Upload> = Vec::new();
    let mut current: Vec<AuditRecord> = Vec::new();
    let mut bytes = 0usize;
    let mut prev: Option<(u64, ChainDigest)> = None;
    let mut first_lower = after;

    let flush = |current: &mut Vec<AuditRecord>,
                 bytes: &mut usize,
                 lower: &mut u64,
                 uploads: &mut Vec<Upload>| {
        let (Some(last), Some(_)) = (current.last(), current.first()) else {
            return;
        };
        let last_seq = last.seq;
        let last_digest = last.digest.clone();
        let mut lines: Vec<String> = checkpoints
            .iter()
            .filter(|(seq, _)| *seq > *lower && *seq <= last_seq)
            .map(|(_, line)| line.clone())
            .collect();
        // The newest checkpoints matter most: they cover the latest records.
        if lines.len() > MAX_CHECKPOINTS {
            lines.drain(..lines.len() - MAX_CHECKPOINTS);
        }
        uploads.push(Upload {
            upload: AuditUpload {
                log: log.to_owned(),
                records: std::mem::take(current),
                checkpoints: lines,
            },
            last_seq,
            last_digest,
        });
        *bytes = 0;
        *lower = last_seq;
    };

    let count = segments.len();
    for (i, seg) in segments.iter().enumerate() {
        let data = std::fs::read(&seg.path).map_err(|source| UploadError::Io {
            path: seg.path.clone(),
            source,
        })?;
        check_header(&data, seg.number).map_err(|reason| UploadError::Corrupt {
            path: seg.path.clone(),
            offset: 0,
            reason: reason.to_owned(),
        })?;
        for item in SegmentFrames::new(&data, SEGMENT_HEADER) {
            let located = match item {
                Ok(l) => l,
                Err((_, FrameError::Incomplete { .. })) if i + 1 == count => break,
                Err((offset, e)) => {
                    return Err(UploadError::Corrupt {
                        path: seg.path.clone(),
                        offset,
                        reason: e.to_string(),
                    });
                }
            };
            let f = located.frame;
            let linked = prev.is_some_and(|(s, d)| f.seq == s.wrapping_add(1) && f.links_to(&d));
            prev = Some((f.seq, f.digest));
            if f.seq <= after {
                continue;
            }
            let payload = std::str::from_utf8(f.payload).map_err(|e| UploadError::Corrupt {
                path: seg.path.clone(),
                offset: located.offset,
                reason: format!("record {} is not UTF-8 text: {e}", f.seq),
            })?;
            let continues = current.last().is_none_or(|_| linked);
            if !continues
                || current.len() >= MAX_AUDIT_RECORDS
                || bytes + payload.len() > MAX_UPLOAD_PAYLOAD
            {
                flush(&mut current, &mut bytes, &mut first_lower, &mut uploads);
            }
            bytes += payload.len();
            current.push(AuditRecord {
                seq: f.seq,
                payload: payload.to_owned(),
                digest: f.digest.to_hex(),
            });
        }
    }
    flush(&mut current, &mut bytes, &mut first_lower, &mut uploads);
    Ok(uploads)
}

/// The complete, well-formed lines of the log's checkpoint file, with the seq each vouches
/// for (a torn last line after a crash is left out).
fn checkpoint_lines(dir: &Path) -> Result<Vec<(u64, String)>, UploadError> {
    let path = dir.join(CHECKPOINT_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(UploadError::Io { path, source }),
    };
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(i) => text.get(..i).unwrap_or_default(),
        None => return Ok(Vec::new()),
    };
    Ok(complete
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter_map(|l| {
            SignedCheckpoint::parse(l)
                .ok()
                .map(|c| (c.checkpoint.seq, l.to_owned()))
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use medguard_audit::{AuditEvent, AuditWriter, EventKind, Outcome, WriterOptions};
    use std::sync::Arc;

    fn log_with(n: usize, dir: &Path) {
        let (key, _) = medguard_digest::SigningKey::generate().unwrap();
        let w = AuditWriter::open(
            dir,
            WriterOptions {
                key: Some(Arc::new(key)),
                checkpoint_every: 3,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        for i in 0..n {
            let mut e = AuditEvent::new(
                EventKind::ConfigurationChange,
                time::macros::datetime!(2026-12-05 10:00 UTC),
                Outcome::Success,
                "dev",
            );
            e.detail = Some(format!("event {i}"));
            w.append(&e).unwrap();
        }
        w.close().unwrap();
    }

    #[test]
    fn records_after_the_cursor_come_with_their_checkpoints_and_chain() {
        let d = tempfile::tempdir().unwrap();
        log_with(7, d.path());
        let all = pending(d.path(), "agent", 0).unwrap();
        assert_eq!(all.len(), 1);
        let u = &all[0];
        assert_eq!(u.upload.records.len(), 7);
        assert_eq!(u.last_seq, 7);
        // The chain recomputed over the uploaded bytes gives the stored digests.
        let mut d0 = ChainDigest::GENESIS;
        for r in &u.upload.records {
            d0 = d0.next(r.seq, r.payload.as_bytes());
            assert_eq!(d0.to_hex(), r.digest);
        }
        assert!(!u.upload.checkpoints.is_empty());
        let last_cp = SignedCheckpoint::parse(u.upload.checkpoints.last().unwrap()).unwrap();
        assert_eq!(last_cp.checkpoint.seq, 7, "close signs the tail");

        let rest = pending(d.path(), "agent", 5).unwrap();
        assert_eq!(
            rest[0]
                .upload
                .records
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>(),
            vec![6, 7]
        );
        assert!(
            rest[0]
                .upload
                .checkpoints
                .iter()
                .all(|l| SignedCheckpoint::parse(l).unwrap().checkpoint.seq > 5)
        );
        assert!(pending(d.path(), "agent", 7).unwrap().is_empty());
    }

    #[test]
    fn a_torn_last_frame_waits_for_the_next_upload() {
        let d = tempfile::tempdir().unwrap();
        log_with(3, d.path());
        let seg = list_segments(d.path()).unwrap().pop().unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&seg.path)
            .unwrap();
        std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 4, 0]).unwrap();
        let all = pending(d.path(), "agent", 0).unwrap();
        assert_eq!(all[0].last_seq, 3);
    }

    #[test]
    fn an_empty_or_missing_log_has_nothing_to_upload() {
        let d = tempfile::tempdir().unwrap();
        assert!(pending(d.path(), "agent", 0).unwrap().is_empty());
    }
}
