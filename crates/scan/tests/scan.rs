//! The scan on generated trees: EICAR found by rules and hash lists, pacing measured on a
//! controlled clock, the pause for clinical use, and files that cannot be read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use medguard_clinical::{ClinicalGate, ClinicalStateSource};
use medguard_profile::Progress;
use medguard_scan::{
    ChangedFiles, Clock, Detection, FileProblem, HashLists, ManualClock, PaceOptions, Priority,
    ProblemKind, ScanOptions, ScanReport, Targets, YaraRules,
};

/// The EICAR anti-virus test file, assembled here so that no scanner flags this source.
fn eicar() -> Vec<u8> {
    let mut s = String::from(r"X5O!P%@AP[4\PZX54(P^)7CC)7}$");
    s.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    s.into_bytes()
}

const RULES: &str = r#"
rule EICAR_test_file : test {
  meta:
    description = "EICAR anti-virus test file"
    severity = 3
  strings:
    $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition:
    $e
}
"#;

/// A clock that only moves when slept on.
fn clock() -> ManualClock {
    ManualClock::new(time::OffsetDateTime::UNIX_EPOCH)
}

fn tree(dir: &Path) -> PathBuf {
    let root = dir.join("tree");
    fs::create_dir_all(root.join("a/b")).unwrap();
    fs::write(root.join("a/b/eicar.com"), eicar()).unwrap();
    fs::write(root.join("a/clean.txt"), "nothing here\n").unwrap();
    let mut big = vec![7u8; 3 << 20];
    big.extend_from_slice(&eicar());
    fs::write(root.join("a/big.bin"), big).unwrap();
    std::os::unix::fs::symlink(root.join("a/b/eicar.com"), root.join("link")).unwrap();
    root
}

fn run(
    targets: Targets,
    rules: Option<&YaraRules>,
    hashes: &HashLists,
    options: &ScanOptions,
    clock: &dyn Clock,
) -> ScanReport {
    medguard_scan::scan(
        targets,
        rules,
        hashes,
        options,
        clock,
        &Progress::default(),
        &|_| {},
    )
    .unwrap()
}

fn names(report: &ScanReport) -> Vec<(String, String)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.path.file_name().unwrap().to_string_lossy().into_owned(),
                f.detection.name().to_owned(),
            )
        })
        .collect()
}

#[test]
fn rules_and_hash_lists_find_eicar_once_per_file_and_links_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let rules = YaraRules::from_source(Path::new("eicar.yar"), RULES.as_bytes()).unwrap();
    let mut hashes = HashLists::new();
    hashes
        .add_text(
            Path::new("eicar.hdb"),
            "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n",
        )
        .unwrap();
    let clock = clock();
    for threads in [1, 2] {
        let options = ScanOptions {
            threads,
            ..ScanOptions::default()
        };
        let report = run(
            Targets::Walk(vec![root.clone()]),
            Some(&rules),
            &hashes,
            &options,
            &clock,
        );
        assert_eq!(
            names(&report),
            [
                ("eicar.com".into(), "EICAR_test_file".into()),
                ("eicar.com".into(), "Eicar-Test-Signature".into()),
                ("big.bin".into(), "EICAR_test_file".into()),
            ],
            "{report:#?}"
        );
        assert_eq!(report.summary.files, 3);
        match &report.findings[0].detection {
            Detection::Yara {
                metadata,
                tags,
                source,
                ..
            } => {
                assert_eq!(tags, &["test"]);
                assert_eq!(source, Path::new("eicar.yar"));
                let m = serde_json::to_string(metadata).unwrap();
                assert!(
                    m.contains("EICAR anti-virus test file") && m.contains('3'),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        match &report.findings[1].detection {
            Detection::Hash { line, value, .. } => {
                assert_eq!(*line, 1);
                assert_eq!(value, "44d88612fea8a8f36de82e1278abb02f");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_file_above_the_yara_limit_is_streamed_through_the_hash_lists_only() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("disk.img");
    // 64 MiB of hole: streamed through SHA-256, never held in memory.
    let f = fs::File::create(&sparse).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    let sha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(vec![0u8; 64 << 20]))
    };
    let rules = YaraRules::from_source(Path::new("r.yar"), RULES.as_bytes()).unwrap();
    let mut hashes = HashLists::new();
    hashes
        .add_text(Path::new("img.hsb"), &format!("{sha}:*:Zero-Image:73\n"))
        .unwrap();
    let options = ScanOptions {
        max_yara_size: 1 << 20,
        ..ScanOptions::default()
    };
    let report = run(
        Targets::Walk(vec![sparse.clone()]),
        Some(&rules),
        &hashes,
        &options,
        &clock(),
    );
    assert_eq!(names(&report), [("disk.img".into(), "Zero-Image".into())]);
    assert_eq!(
        report.problems[0].problem,
        ProblemKind::TooLargeForYara {
            size: 64 << 20,
            limit: 1 << 20
        }
    );
    assert_eq!(report.summary.bytes, 64 << 20);
}

#[test]
fn an_unreadable_file_is_reported_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let rules = YaraRules::from_source(Path::new("r.yar"), RULES.as_bytes()).unwrap();
    // /proc/self/mem opens, claims to be a regular file, and fails to read at offset 0.
    let report = run(
        Targets::Files(vec![
            PathBuf::from("/proc/self/mem"),
            root.join("a/b/eicar.com"),
            root.join("does-not-exist"),
        ]),
        Some(&rules),
        &HashLists::new(),
        &ScanOptions::default(),
        &clock(),
    );
    assert_eq!(
        names(&report),
        [("eicar.com".into(), "EICAR_test_file".into())]
    );
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| {
            (
                p.path.clone(),
                matches!(p.problem, ProblemKind::Unreadable { .. }),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (PathBuf::from("/proc/self/mem"), true),
            (root.join("does-not-exist"), true)
        ]
    );
}

#[test]
fn the_rate_limit_paces_reading_on_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let rules = YaraRules::from_source(Path::new("r.yar"), RULES.as_bytes()).unwrap();
    let clock = clock();
    let options = ScanOptions {
        pace: PaceOptions {
            rate: Some(1 << 20),
            ..PaceOptions::default()
        },
        priority: Priority::Unchanged,
        ..ScanOptions::default()
    };
    let report = run(
        Targets::Walk(vec![root]),
        Some(&rules),
        &HashLists::new(),
        &options,
        &clock,
    );
    // About 3 MiB at 1 MiB/s, one second of which is the initial burst.
    let bytes = report.summary.bytes as f64;
    let expected = bytes / f64::from(1 << 20) - 1.0;
    let waited = clock.monotonic().as_secs_f64();
    assert!(
        (waited - expected).abs() < 0.05,
        "waited {waited}, expected {expected}"
    );
}

#[test]
fn the_scan_waits_while_the_device_is_in_use_and_finishes_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let state = dir.path().join("clinical-state");
    fs::write(&state, "in-use\n").unwrap();
    let rules = YaraRules::from_source(Path::new("r.yar"), RULES.as_bytes()).unwrap();
    let flip = state.clone();
    // Nothing is read while in use: after 5 polls the device goes idle.
    let progress = Progress::default();
    let clock = clock();
    clock.on_sleep(move |n| {
        if n == 5 {
            fs::write(&flip, "idle\n").unwrap();
        }
    });
    let options = ScanOptions {
        pace: PaceOptions {
            gate: ClinicalGate::new(Some(ClinicalStateSource::File(state)), None),
            poll_interval: Duration::from_secs(30),
            ..PaceOptions::default()
        },
        ..ScanOptions::default()
    };
    let events = std::sync::Mutex::new(Vec::new());
    let report = medguard_scan::scan(
        Targets::Walk(vec![root]),
        Some(&rules),
        &HashLists::new(),
        &options,
        &clock,
        &progress,
        &|e| events.lock().unwrap().push(format!("{e:?}")),
    )
    .unwrap();
    assert_eq!(report.findings.len(), 2);
    assert_eq!(report.pauses.len(), 1, "{:?}", report.pauses);
    assert_eq!(report.pauses[0].seconds, 150.0);
    assert!(report.pauses[0].reason.contains("in clinical use"));
    let events = events.into_inner().unwrap();
    assert!(
        events[0].contains("Paused") && events[1].contains("Resumed"),
        "{events:?}"
    );
}

#[test]
fn nothing_to_scan_with_is_an_error() {
    let err = medguard_scan::scan(
        Targets::Walk(vec![PathBuf::from("/nonexistent")]),
        None,
        &HashLists::new(),
        &ScanOptions::default(),
        &clock(),
        &Progress::default(),
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(err, medguard_scan::ScanError::NothingToScanWith));
}

/// Issue #12: the command line added the problems of the `--changed-since` comparison to
/// the report after the scan and fixed up the count; the library counts them itself.
#[test]
fn a_changed_since_scan_counts_the_comparisons_problems() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let rules = YaraRules::from_source(Path::new("r.yar"), RULES.as_bytes()).unwrap();
    let unreadable = FileProblem {
        path: root.join("a/locked"),
        problem: ProblemKind::Unreadable {
            error: "permission denied".into(),
        },
    };
    let report = run(
        Targets::Changed(ChangedFiles {
            files: vec![root.join("a/clean.txt"), root.join("a/b/eicar.com")],
            problems: vec![unreadable.clone()],
        }),
        Some(&rules),
        &HashLists::new(),
        &ScanOptions::default(),
        &clock(),
    );
    assert_eq!(report.summary.files, 2);
    assert_eq!(report.summary.findings, 1);
    assert_eq!(report.problems, [unreadable]);
    assert_eq!(report.summary.problems, 1);
}

/// A quarantine is recorded at the clock's time (the scan reads no clock of its own).
#[test]
fn a_quarantine_is_recorded_at_the_clocks_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path());
    let rules = YaraRules::from_source(Path::new("r.yar"), RULES.as_bytes()).unwrap();
    let quarantine = dir.path().join("quarantine");
    let clock = ManualClock::new(time::macros::datetime!(2026-05-01 12:00 UTC));
    let options = ScanOptions {
        quarantine: Some(quarantine.clone()),
        ..ScanOptions::default()
    };
    let report = run(
        Targets::Files(vec![root.join("a/b/eicar.com")]),
        Some(&rules),
        &HashLists::new(),
        &options,
        &clock,
    );
    let medguard_scan::Action::Quarantined { to } = &report.findings[0].action else {
        panic!("{:?}", report.findings[0].action);
    };
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(format!("{to}.json")).unwrap()).unwrap();
    assert_eq!(record["quarantined_at"], "2026-05-01T12:00:00Z");
}
