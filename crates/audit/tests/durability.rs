//! Crash recovery, concurrent writers (threads, handles and processes) and full disks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use medguard_audit::{
    AuditEvent, AuditLog, AuditWriter, EventKind, FixedClock, Outcome, ProblemKind, WriterOptions,
    verify,
};
use medguard_digest::SigningKey;
use time::macros::datetime;

fn event(tag: &str) -> AuditEvent {
    let mut e = AuditEvent::new(
        EventKind::ConfigurationChange,
        datetime!(2026-03-01 10:00:00 UTC),
        Outcome::Success,
        "pacs1",
    );
    e.detail = Some(tag.to_owned());
    e
}

fn details(dir: &Path) -> Vec<(u64, String)> {
    AuditLog::open(dir)
        .unwrap()
        .records()
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.seq, r.event.detail.unwrap_or_default())
        })
        .collect()
}

fn only_problem_kinds(dir: &Path, key: &SigningKey) -> Vec<ProblemKind> {
    verify(dir, &[key.public_key().clone()])
        .unwrap()
        .problems
        .iter()
        .map(|p| p.kind)
        .collect()
}

#[test]
fn a_torn_tail_is_cut_saved_and_recorded_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let key = Arc::new(key);
    let options = WriterOptions {
        key: Some(Arc::clone(&key)),
        clock: Arc::new(FixedClock(datetime!(2026-03-02 00:00 UTC))),
        ..WriterOptions::default()
    };
    let writer = AuditWriter::open(dir.path(), options.clone()).unwrap();
    writer
        .append_batch(&[event("a"), event("b"), event("c")])
        .unwrap();
    drop(writer);
    // Power loss in the middle of the next write: half a frame at the end.
    let seg = dir.path().join("0000000001.seg");
    let clean_len = std::fs::metadata(&seg).unwrap().len();
    let mut frame = Vec::new();
    frame.extend_from_slice(&200u32.to_le_bytes());
    frame.extend_from_slice(&4u64.to_le_bytes());
    frame.extend_from_slice(b"{\"type\":\"conf");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&frame)
        .unwrap();
    assert!(only_problem_kinds(dir.path(), &key).contains(&ProblemKind::TornTail));

    let writer = AuditWriter::open(dir.path(), options).unwrap();
    let recoveries = writer.recoveries().unwrap();
    assert_eq!(recoveries.len(), 1);
    assert_eq!(recoveries[0].offset, clean_len);
    assert_eq!(recoveries[0].bytes, frame.len() as u64);
    assert_eq!(std::fs::read(&recoveries[0].saved_to).unwrap(), frame);
    assert_eq!(writer.append(&event("d")).unwrap(), 5);
    writer.close().unwrap();

    let recs: Vec<_> = AuditLog::open(dir.path())
        .unwrap()
        .records()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[3].event.kind, EventKind::AuditLogRecovery);
    assert!(
        recs[3]
            .event
            .detail
            .as_deref()
            .unwrap()
            .contains(&format!("{} bytes at offset {clean_len}", frame.len()))
    );
    assert_eq!(recs[3].event.time, datetime!(2026-03-02 00:00 UTC));
    assert!(only_problem_kinds(dir.path(), &key).is_empty());
}

#[test]
fn a_damaged_middle_is_not_cut_by_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    writer
        .append_batch(&[event("a"), event("b"), event("c")])
        .unwrap();
    drop(writer);
    let seg = dir.path().join("0000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[16 + 20] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let err = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            medguard_audit::AuditError::Corrupt {
                offset: 16,
                seq: Some(1),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&seg).unwrap(), bytes, "evidence untouched");
}

#[test]
fn concurrent_threads_and_handles_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| Arc::new(AuditWriter::open(dir.path(), WriterOptions::default()).unwrap()))
        .collect();
    std::thread::scope(|s| {
        for (h, writer) in handles.iter().enumerate() {
            for t in 0..3 {
                let writer = Arc::clone(writer);
                s.spawn(move || {
                    let mut last = 0;
                    for i in 0..150 {
                        let seq = if i % 10 == 0 {
                            writer
                                .append_batch(&[
                                    event(&format!("{h}-{t}-{i}")),
                                    event(&format!("{h}-{t}-{i}b")),
                                ])
                                .unwrap()
                                .start
                        } else {
                            writer.append(&event(&format!("{h}-{t}-{i}"))).unwrap()
                        };
                        assert!(seq > last);
                        last = seq;
                    }
                });
            }
        }
    });
    drop(handles);
    let recs = details(dir.path());
    let seqs: Vec<u64> = recs.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=recs.len() as u64).collect::<Vec<_>>());
    let tags: BTreeSet<_> = recs.iter().map(|r| r.1.clone()).collect();
    assert_eq!(tags.len(), recs.len(), "no duplicates");
    assert_eq!(recs.len(), 3 * 3 * (150 + 15));
    let (key, _) = SigningKey::generate().unwrap();
    assert_eq!(
        only_problem_kinds(dir.path(), &key),
        vec![ProblemKind::UnsignedTail]
    );
}

const CHILD_DIR: &str = "MEDGUARD_AUDIT_TEST_CHILD_DIR";

/// Runs as a child process of `writers_in_several_processes_serialise`, which runs it with
/// `--ignored`; on its own it has nothing to do.
#[test]
#[ignore = "a child process of writers_in_several_processes_serialise"]
fn child_writer_process() {
    let dir = std::env::var(CHILD_DIR)
        .expect("run by writers_in_several_processes_serialise, which sets the directory");
    let id = std::process::id();
    let writer = AuditWriter::open(
        Path::new(&dir),
        WriterOptions {
            segment_max_bytes: 16 << 10,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    for i in 0..200 {
        writer.append(&event(&format!("{id}-{i}"))).unwrap();
    }
}

#[test]
fn writers_in_several_processes_serialise() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_writer_process",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_DIR, dir.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let recs = details(dir.path());
    assert_eq!(recs.len(), 600);
    let seqs: Vec<u64> = recs.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=600).collect::<Vec<_>>());
    let tags: BTreeSet<_> = recs.iter().map(|r| r.1.clone()).collect();
    assert_eq!(tags.len(), 600);
    let segments = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("seg".as_ref()))
        .count();
    assert!(
        segments > 3,
        "rotation happened across processes: {segments}"
    );
    let (key, _) = SigningKey::generate().unwrap();
    assert_eq!(
        only_problem_kinds(dir.path(), &key),
        vec![ProblemKind::UnsignedTail]
    );
}

/// A small tmpfs mounted on a directory for one test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it). Tests run as root (CI
    /// does); without the right to mount, the test fails rather than passing untested.
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount(8) is installed");
        assert!(
            output.status.success(),
            "cannot mount a tmpfs (this test needs root to make a full disk): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// A full disk fails the append with an error naming the file and leaves no partial
/// record.
#[test]
fn a_full_disk_fails_cleanly() {
    let disk = Tmpfs::mount("64k");
    let dir = disk.path();
    let writer = AuditWriter::open(dir, WriterOptions::default()).unwrap();
    let mut acknowledged = 0;
    let mut failure = None;
    for i in 0..10_000 {
        let mut e = event(&format!("{i}"));
        e.detail = Some(format!("{i} {}", "x".repeat(900)));
        match writer.append_batch(&[e.clone(), e.clone(), e]) {
            Ok(r) => acknowledged = r.end - 1,
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    let failure = failure.expect("the disk filled up");
    let text = failure.to_string();
    assert!(text.contains(".seg"), "{text}");
    // The cause is there for callers that walk the chain (the binary reports ENOSPC so).
    let cause = std::error::Error::source(&failure)
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .expect("an io::Error cause");
    assert_eq!(cause.raw_os_error(), Some(28), "ENOSPC: {cause}");
    assert!(
        acknowledged > 0,
        "some appends fit before the disk was full"
    );
    drop(writer);
    let recs = details(dir);
    assert_eq!(recs.len() as u64, acknowledged);
    let (key, _) = SigningKey::generate().unwrap();
    assert_eq!(
        only_problem_kinds(dir, &key),
        vec![ProblemKind::UnsignedTail]
    );
}

#[test]
fn submitted_batches_keep_submission_order_whoever_waits() {
    let dir = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    let a = writer.submit(&[event("a1"), event("a2")]).unwrap();
    let b = writer.submit(&[event("b1")]).unwrap();
    let c = writer
        .submit(&[event("c1"), event("c2"), event("c3")])
        .unwrap();
    // Wait in reverse order, from other threads.
    let (rc, rb, ra) = std::thread::scope(|s| {
        let hc = s.spawn(|| c.wait().unwrap());
        let hb = s.spawn(|| b.wait().unwrap());
        let ra = a.wait().unwrap();
        (hc.join().unwrap(), hb.join().unwrap(), ra)
    });
    assert_eq!((ra, rb, rc), (1..3, 3..4, 4..7));
    let tags: Vec<_> = details(dir.path()).into_iter().map(|r| r.1).collect();
    assert_eq!(tags, ["a1", "a2", "b1", "c1", "c2", "c3"]);
}

/// A crash while signing leaves a torn last line in `checkpoints`; the next checkpoint must
/// not be glued onto it (which would read as a forged checkpoint).
#[test]
fn a_torn_checkpoint_line_is_cut_before_the_next_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let key = Arc::new(key);
    let options = WriterOptions {
        key: Some(Arc::clone(&key)),
        ..WriterOptions::default()
    };
    let writer = AuditWriter::open(dir.path(), options.clone()).unwrap();
    writer.append_batch(&[event("a"), event("b")]).unwrap();
    writer.close().unwrap();
    let checkpoints = dir.path().join("checkpoints");
    let whole = std::fs::read(&checkpoints).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(&whole[..whole.len() / 2]);
    std::fs::write(&checkpoints, &torn).unwrap();
    assert_eq!(
        only_problem_kinds(dir.path(), &key),
        vec![ProblemKind::TornTail]
    );

    let writer = AuditWriter::open(dir.path(), options).unwrap();
    writer.append(&event("c")).unwrap();
    writer.close().unwrap();
    assert_eq!(only_problem_kinds(dir.path(), &key), vec![]);
    let report = verify(dir.path(), &[key.public_key().clone()]).unwrap();
    assert_eq!(report.signed_through, 4);
    // The cut is on record, and the cut bytes are kept.
    let recs = details(dir.path());
    assert!(recs[2].1.contains("checkpoints"), "{recs:?}");
    let saved = dir
        .path()
        .join(format!("recovered-checkpoints-{}.torn", whole.len()));
    assert_eq!(std::fs::read(saved).unwrap(), &whole[..whole.len() / 2]);
}
