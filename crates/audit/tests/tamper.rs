//! Tampering with a stored log is detected and located: modified, deleted, reordered and
//! truncated records, deleted segments, forged checkpoints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use medguard_audit::{
    AuditEvent, AuditLog, AuditWriter, EventKind, KnownCheckpoint, Outcome, ProblemKind,
    StoredRecord, Verdict, WriterOptions, verify, verify_against,
};
use medguard_digest::{PublicKey, SigningKey};
use time::macros::datetime;

fn key() -> (Arc<SigningKey>, PublicKey) {
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.public_key().clone();
    (Arc::new(key), public)
}

fn event(i: u64) -> AuditEvent {
    let mut e = AuditEvent::new(
        EventKind::LoginFailure,
        datetime!(2026-03-01 10:00:00 UTC) + time::Duration::seconds(i as i64),
        Outcome::MinorFailure,
        "pacs1",
    );
    e.detail = Some(format!("attempt {i}"));
    e
}

/// A log of `n` records, checkpointed every 4 and on close.
fn log_with(n: u64, segment_max_bytes: u64) -> (tempfile::TempDir, PublicKey) {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key();
    let writer = AuditWriter::open(
        dir.path(),
        WriterOptions {
            key: Some(key),
            checkpoint_every: 4,
            segment_max_bytes,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    for i in 1..=n {
        assert_eq!(writer.append(&event(i)).unwrap(), i);
    }
    writer.close().unwrap();
    (dir, public)
}

fn records(dir: &Path) -> Vec<StoredRecord> {
    AuditLog::open(dir)
        .unwrap()
        .records()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:010}.seg"))
}

/// Byte range of record `seq`'s frame in its segment.
fn frame_range(dir: &Path, seq: u64) -> (PathBuf, std::ops::Range<usize>) {
    let recs = records(dir);
    let r = recs.iter().find(|r| r.seq == seq).unwrap();
    let path = segment_path(dir, r.segment);
    let start = r.offset as usize;
    let end = recs
        .iter()
        .find(|n| n.seq == seq + 1 && n.segment == r.segment)
        .map_or_else(
            || std::fs::metadata(&path).unwrap().len() as usize,
            |n| n.offset as usize,
        );
    (path, start..end)
}

#[test]
fn an_intact_log_verifies_with_no_problems() {
    let (dir, public) = log_with(10, 64 << 20);
    let report = verify(dir.path(), &[public]).unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.records, 10);
    assert_eq!(report.signed_through, 10);
    assert_eq!(records(dir.path()).len(), 10);
}

#[test]
fn one_modified_byte_names_the_record() {
    let (dir, public) = log_with(10, 64 << 20);
    let (path, range) = frame_range(dir.path(), 5);
    let mut bytes = std::fs::read(&path).unwrap();
    // A byte inside the payload: "attempt 5" becomes "attempt 6".
    let payload = &bytes[range.clone()];
    let at = range.start + payload.windows(9).position(|w| w == b"attempt 5").unwrap() + 8;
    bytes[at] = b'6';
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(dir.path(), &[public]).unwrap();
    assert!(report.is_tampered());
    let p = &report.problems[0];
    assert_eq!(p.kind, ProblemKind::ModifiedRecord);
    assert_eq!(p.seq, Some(5));
    assert_eq!(p.offset, range.start as u64);
    assert_eq!(p.file, path);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    // The reader refuses the record too, naming its position.
    let err = AuditLog::open(dir.path())
        .unwrap()
        .records()
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert!(
        err.to_string().contains(&format!("offset {}", range.start)),
        "{err}"
    );
}

#[test]
fn a_deleted_record_is_reported_missing() {
    let (dir, public) = log_with(10, 64 << 20);
    let (path, range) = frame_range(dir.path(), 5);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.drain(range.clone());
    std::fs::write(&path, &bytes).unwrap();
    let report = verify(dir.path(), &[public]).unwrap();
    let missing: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::MissingRecords)
        .collect();
    assert_eq!(missing.len(), 1, "{:#?}", report.problems);
    assert_eq!(missing[0].seq, Some(5));
    assert_eq!(missing[0].offset, range.start as u64);
}

#[test]
fn swapped_records_are_reported_reordered() {
    let (dir, public) = log_with(10, 64 << 20);
    let (path, r4) = frame_range(dir.path(), 4);
    let (_, r5) = frame_range(dir.path(), 5);
    let bytes = std::fs::read(&path).unwrap();
    let mut swapped = bytes[..r4.start].to_vec();
    swapped.extend_from_slice(&bytes[r5.clone()]);
    swapped.extend_from_slice(&bytes[r4.clone()]);
    swapped.extend_from_slice(&bytes[r5.end..]);
    std::fs::write(&path, &swapped).unwrap();
    let report = verify(dir.path(), &[public]).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Reordered && p.seq == Some(4)),
        "{:#?}",
        report.problems
    );
    assert!(
        !report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::MissingRecords),
        "{:#?}",
        report.problems
    );
}

#[test]
fn truncation_after_a_checkpoint_is_reported() {
    let (dir, public) = log_with(10, 64 << 20);
    let (path, range) = frame_range(dir.path(), 8);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(range.start as u64).unwrap();
    let report = verify(dir.path(), &[public]).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::TruncatedSinceCheckpoint && p.seq == Some(8)),
        "{:#?}",
        report.problems
    );
    assert!(report.is_tampered());
}

#[test]
fn a_deleted_segment_is_reported() {
    let (dir, public) = log_with(40, 2048);
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("seg".as_ref()))
        .count();
    assert!(segments >= 3, "{segments} segments");
    std::fs::remove_file(segment_path(dir.path(), 2)).unwrap();
    let report = verify(dir.path(), &[public]).unwrap();
    let kinds: Vec<_> = report.problems.iter().map(|p| p.kind).collect();
    assert!(kinds.contains(&ProblemKind::MissingSegment), "{kinds:?}");
    assert!(kinds.contains(&ProblemKind::MissingRecords), "{kinds:?}");
}

#[test]
fn records_from_crosses_segments() {
    let (dir, public) = log_with(40, 2048);
    let log = AuditLog::open(dir.path()).unwrap();
    let seqs: Vec<u64> = log
        .records_from(17)
        .unwrap()
        .map(|r| r.unwrap().seq)
        .collect();
    assert_eq!(seqs, (17..=40).collect::<Vec<_>>());
    assert!(verify(dir.path(), &[public]).unwrap().problems.is_empty());
}

#[test]
fn forged_or_untrusted_checkpoints_are_reported() {
    let (dir, public) = log_with(10, 64 << 20);
    let path = dir.path().join("checkpoints");
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text.lines().next().unwrap();
    // Claim a different digest under the same signature.
    let mut fields: Vec<&str> = first.split(' ').collect();
    let fake = "0".repeat(64);
    fields[4] = &fake;
    std::fs::write(&path, format!("{}\n{text}", fields.join(" "))).unwrap();
    let report = verify(dir.path(), &[public]).unwrap();
    assert_eq!(report.problems[0].kind, ProblemKind::BadCheckpointSignature);
    assert_eq!(report.problems[0].offset, 1);
    let (_, other) = key();
    let report = verify(dir.path(), &[other]).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::UntrustedCheckpointKey)
    );
}

/// An unsigned tail is no evidence of tampering, but nothing proves it either: the log is
/// not called intact (it was before issue #12).
#[test]
fn an_unsigned_tail_is_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    writer.append_batch(&[event(1), event(2)]).unwrap();
    drop(writer);
    let (_, public) = key();
    let report = verify(dir.path(), &[public]).unwrap();
    assert!(!report.is_tampered());
    assert_eq!(report.verdict, Verdict::Unproven);
    assert!(!report.is_intact());
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].kind, ProblemKind::UnsignedTail);
    assert_eq!(report.problems[0].seq, Some(1));
}

/// The record a fully signed log's last checkpoint covers, as a fleet server keeps it.
fn last_checkpoint(dir: &Path) -> KnownCheckpoint {
    let last = records(dir).pop().unwrap();
    KnownCheckpoint {
        seq: last.seq,
        digest: last.digest,
    }
}

#[test]
fn verify_does_not_call_intact_a_log_whose_checkpoints_were_emptied_and_tail_truncated() {
    let (dir, public) = log_with(10, 64 << 20);
    let known = last_checkpoint(dir.path());
    std::fs::write(dir.path().join("checkpoints"), "").unwrap();
    let (path, range) = frame_range(dir.path(), 9);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(range.start as u64 + 5).unwrap();
    let report = verify(dir.path(), std::slice::from_ref(&public)).unwrap();
    assert_eq!(report.verdict, Verdict::Unproven, "{:#?}", report.problems);
    let kinds: Vec<_> = report.problems.iter().map(|p| p.kind).collect();
    assert!(kinds.contains(&ProblemKind::UnsignedTail), "{kinds:?}");
    assert!(kinds.contains(&ProblemKind::TornTail), "{kinds:?}");
    // With the checkpoint the server kept, the cut is proven.
    let report = verify_against(dir.path(), &[public], &[known]).unwrap();
    assert_eq!(report.verdict, Verdict::Tampered);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::TruncatedSinceCheckpoint && p.seq == Some(10)),
        "{:#?}",
        report.problems
    );
}

#[test]
fn verify_does_not_call_intact_a_log_with_everything_deleted() {
    let (dir, public) = log_with(10, 64 << 20);
    let known = last_checkpoint(dir.path());
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let report = verify(dir.path(), std::slice::from_ref(&public)).unwrap();
    assert_eq!(report.verdict, Verdict::Unproven);
    assert_eq!(report.records, 0);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    assert_eq!(report.problems[0].kind, ProblemKind::EmptyLog);
    let report = verify_against(dir.path(), &[public], &[known]).unwrap();
    assert_eq!(report.verdict, Verdict::Tampered, "{:#?}", report.problems);
}

#[test]
fn a_log_cut_back_to_an_earlier_checkpoint_is_caught_only_by_a_known_checkpoint() {
    let (dir, public) = log_with(10, 64 << 20);
    let known = last_checkpoint(dir.path());
    assert!(
        verify(dir.path(), std::slice::from_ref(&public))
            .unwrap()
            .is_intact()
    );
    // Cut records 9 and 10 and the checkpoint lines after the one of record 8.
    let (path, range) = frame_range(dir.path(), 9);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(range.start as u64).unwrap();
    let checkpoints = dir.path().join("checkpoints");
    let text = std::fs::read_to_string(&checkpoints).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| l.split(' ').nth(2).unwrap().parse::<u64>().unwrap() <= 8)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(kept.len() < text.len());
    std::fs::write(&checkpoints, kept).unwrap();
    // Locally nothing shows it (the documented limit)...
    let report = verify(dir.path(), std::slice::from_ref(&public)).unwrap();
    assert_eq!(report.verdict, Verdict::Intact, "{:#?}", report.problems);
    // ...the checkpoint held elsewhere does.
    let report = verify_against(dir.path(), &[public], &[known]).unwrap();
    assert_eq!(report.verdict, Verdict::Tampered);
    assert_eq!(
        report.problems[0].kind,
        ProblemKind::TruncatedSinceCheckpoint
    );
}

#[test]
fn a_known_checkpoint_proves_a_tail_and_catches_a_rewritten_chain() {
    // No signing key at all: only the checkpoint held outside proves anything.
    let dir = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    for i in 1..=5 {
        writer.append(&event(i)).unwrap();
    }
    drop(writer);
    let known = last_checkpoint(dir.path());
    let text = known.to_string();
    assert_eq!(text.parse::<KnownCheckpoint>().unwrap(), known);
    assert!("5".parse::<KnownCheckpoint>().is_err());
    assert!("x:00".parse::<KnownCheckpoint>().is_err());
    let report = verify_against(dir.path(), &[], &[known]).unwrap();
    assert_eq!(report.verdict, Verdict::Intact, "{:#?}", report.problems);
    assert_eq!(report.proven_through, 5);
    // A record appended since is the unproven tail.
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    writer.append(&event(6)).unwrap();
    drop(writer);
    let report = verify_against(dir.path(), &[], &[known]).unwrap();
    assert_eq!(report.verdict, Verdict::Unproven);
    assert_eq!(report.problems[0].seq, Some(6));
    // The same log rewritten from record 3 on, chain recomputed: consistent in itself.
    let rewritten = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(rewritten.path(), WriterOptions::default()).unwrap();
    for i in [1, 2, 33, 4, 5, 6] {
        writer.append(&event(i)).unwrap();
    }
    drop(writer);
    let report = verify_against(rewritten.path(), &[], &[known]).unwrap();
    assert_eq!(report.verdict, Verdict::Tampered);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::CheckpointMismatch && p.seq == Some(5)),
        "{:#?}",
        report.problems
    );
}

mod any_byte {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A signed 6-record log's segment and checkpoint file, made once.
    fn pristine() -> &'static (Vec<u8>, Vec<u8>, PublicKey) {
        static LOG: OnceLock<(Vec<u8>, Vec<u8>, PublicKey)> = OnceLock::new();
        LOG.get_or_init(|| {
            let (dir, public) = log_with(6, 64 << 20);
            (
                std::fs::read(segment_path(dir.path(), 1)).unwrap(),
                std::fs::read(dir.path().join("checkpoints")).unwrap(),
                public,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Changing any byte of a fully signed segment is an error-level finding.
        #[test]
        fn any_changed_byte_of_a_signed_segment_is_detected(at in any::<prop::sample::Index>(), xor in 1u8..) {
            let (segment, checkpoints, public) = pristine();
            let mut bytes = segment.clone();
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(segment_path(dir.path(), 1), &bytes).unwrap();
            std::fs::write(dir.path().join("checkpoints"), checkpoints).unwrap();
            let report = verify(dir.path(), std::slice::from_ref(public)).unwrap();
            prop_assert!(report.is_tampered(), "byte {} ^ {:#x} undetected: {:?}", i, xor, report.problems);
            // The reader never panics on it either.
            for r in AuditLog::open(dir.path()).unwrap().records().unwrap() {
                let _ = r;
            }
        }
    }
}

/// Found by the `audit_segment` fuzz target: a segment holding one well-formed record
/// numbered 0 was called intact with no key and no checkpoint.
#[test]
fn a_record_numbered_zero_is_never_intact() {
    let dir = tempfile::tempdir().unwrap();
    let payload = br#"{"x":1}"#;
    let frame = medguard_audit::record::Frame {
        seq: 0,
        payload,
        digest: medguard_audit::ChainDigest::GENESIS.next(0, payload),
    };
    let mut bytes = medguard_audit::segment::segment_header(1).to_vec();
    frame.encode(&mut bytes);
    std::fs::write(segment_path(dir.path(), 1), &bytes).unwrap();
    let report = verify(dir.path(), &[]).unwrap();
    assert!(!report.is_intact(), "{:?}", report.problems);
    assert!(report.is_tampered(), "{:?}", report.problems);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::CorruptFrame && p.seq == Some(0)),
        "{:?}",
        report.problems
    );
}
