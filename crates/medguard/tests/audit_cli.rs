//! `medguard audit` end to end: append, tamper with one byte, verify names the record;
//! rejected lines; detection; a writer killed in the middle of a big append.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

/// `audit verify --json` against the test's key, expecting `code`; the parsed report.
fn verify_json(log: &Path, dir: &Path, code: i32) -> serde_json::Value {
    verify_json_with(log, dir, &[], code)
}

/// `audit verify` (text) against the test's key, expecting `code`; what it printed.
fn verify_text(log: &Path, dir: &Path, code: i32) -> String {
    let out = medguard()
        .args(["audit", "verify", "--log"])
        .arg(log)
        .arg("--trust")
        .arg(dir.join("site.pub"))
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

/// `audit query --log LOG extra...`: the records printed, parsed.
fn query(log: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = medguard()
        .args(["audit", "query", "--log"])
        .arg(log)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn keys(dir: &Path) {
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.join("site"))
        .assert()
        .success();
}

fn lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"type\":\"login-failure\",\"user\":\"user{}\",\"outcome\":\"minor-failure\",\"time\":\"2026-03-01T10:{:02}:{:02}Z\",\"detail\":\"attempt {i}\"}}\n",
                i % 7,
                (i / 60) % 60,
                i % 60
            )
        })
        .collect()
}

#[test]
fn one_edited_byte_makes_verify_exit_1_and_name_the_record() {
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let log = dir.path().join("log");
    let out = medguard()
        .args(["audit", "append", "--log"])
        .arg(&log)
        .arg("--key")
        .arg(dir.path().join("site.key"))
        .write_stdin(lines(20))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("appended 20 events")
    );
    verify_text(&log, dir.path(), 0);

    let seg = log.join("0000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.windows(10).position(|w| w == b"attempt 13").unwrap();
    bytes[at + 9] = b'4';
    std::fs::write(&seg, &bytes).unwrap();

    let text = verify_text(&log, dir.path(), 1);
    assert!(text.contains("modified-record"), "{text}");
    assert!(text.contains("seq 14"), "{text}");
    assert!(text.contains("0000000001.seg"), "{text}");

    let report = verify_json(&log, dir.path(), 1);
    assert_eq!(report["problems"][0]["kind"], "modified-record");
    assert_eq!(report["problems"][0]["seq"], 14);
}

#[test]
fn malformed_lines_are_rejected_with_their_number_and_the_rest_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let input = "{\"type\":\"logout\",\"user\":\"a\"}\nnot json\n{\"type\":\"tea-break\"}\n\n{\"type\":\"break-glass\",\"user\":\"b\"}\n";
    let assert = medguard()
        .args(["audit", "append", "--log"])
        .arg(&log)
        .write_stdin(input)
        .assert()
        .code(1);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("tea-break"),
        "{stderr}"
    );
    let records = query(&log, &["--type", "break-glass"]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["seq"], 2);
    assert_eq!(records[0]["event"]["event_id"]["code"], "110113");
}

#[test]
fn detect_records_alerts_once_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    medguard()
        .args(["audit", "append", "--log"])
        .arg(&log)
        .write_stdin(lines(30))
        .assert()
        .success();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"guessing\"\nkind = \"threshold\"\nevent = \"login-failure\"\ncount = 3\nwindow = \"60s\"\ngroup-by = \"user\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = medguard()
            .args(["audit", "detect", "--json", "--log"])
            .arg(&log)
            .arg("--rules")
            .arg(&rules)
            .args(extra)
            .assert()
            .get_output()
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, dry) = run(&["--dry-run"]);
    assert_eq!(code, Some(1));
    let fired = dry["alerts"].as_array().unwrap().len();
    assert!(fired > 0);
    let (code, first) = run(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(first["recorded_as"].as_array().unwrap().len(), fired);
    // The next run reads only what the first added: its alert records.
    let (code, second) = run(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(second["records"], fired);
    assert_eq!(second["first_seq"], 31);
    // Over the whole log, the alerts are found recorded.
    let (code, whole) = run(&["--from-start"]);
    assert_eq!(code, Some(0));
    assert_eq!(whole["already_recorded"], fired);
}

/// Each run reads only the records after the saved position; a log removed and recreated is
/// recognised, and detection starts again from its first record, saying so.
#[test]
fn detect_keeps_a_position_and_restarts_on_a_recreated_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let append = |text: String| {
        medguard()
            .args(["audit", "append", "--log"])
            .arg(&log)
            .write_stdin(text)
            .assert()
            .success();
    };
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"guessing\"\nkind = \"threshold\"\nevent = \"login-failure\"\ncount = 3\nwindow = \"60s\"\ngroup-by = \"user\"\n",
    )
    .unwrap();
    let run = || {
        let out = medguard()
            .args(["audit", "detect", "--json", "--log"])
            .arg(&log)
            .arg("--rules")
            .arg(&rules)
            .assert()
            .get_output()
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mallory = |n: usize| -> String {
        (0..n)
            .map(|i| format!("{{\"type\":\"login-failure\",\"user\":\"mallory\",\"time\":\"2026-03-01T11:00:{i:02}Z\"}}\n"))
            .collect()
    };
    // Two guesses: no alert yet; the window stays open in the state beside the log.
    append(mallory(2));
    let (code, first, _) = run();
    assert_eq!((code, first["records"].as_u64()), (Some(0), Some(2)));
    assert!(dir.path().join("log.detect-state.json").is_file());
    // The third guess completes it, though the first two are not read again.
    append(mallory(3).lines().last().unwrap().to_owned() + "\n");
    let (code, second, _) = run();
    assert_eq!(code, Some(1));
    assert_eq!(second["records"], 1);
    assert_eq!(second["first_seq"], 3);
    assert_eq!(second["alerts"][0]["seqs"], serde_json::json!([1, 2, 3]));
    // Nothing new but its own alert record.
    let (code, third, _) = run();
    assert_eq!((code, third["records"].as_u64()), (Some(0), Some(1)));

    // Rotated: removed and recreated with fewer records than the saved position.
    std::fs::remove_dir_all(&log).unwrap();
    append(mallory(3));
    let (code, again, stderr) = run();
    assert_eq!(code, Some(1), "{again}");
    assert_eq!(again["restarted"]["reason"], "missing", "{again}");
    assert_eq!(again["records"], 3);
    assert!(
        stderr.contains("detection started again from the first record"),
        "{stderr}"
    );
}

/// A writer killed in the middle of a big append loses nothing it acknowledged, and the
/// log verifies (after the next open recovers a torn tail, if any).
#[test]
fn a_writer_killed_mid_batch_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    keys(dir.path());
    let log = dir.path().join("log");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("medguard"))
        .args([
            "audit",
            "append",
            "--json",
            "--checkpoint-every",
            "5000",
            "--log",
        ])
        .arg(&log)
        .arg("--key")
        .arg(dir.path().join("site.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let chunk = lines(5000);
        // Keeps writing until the child dies (broken pipe).
        while stdin.write_all(chunk.as_bytes()).is_ok() {}
    });
    let mut acknowledged = 0u64;
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while acknowledged < 30_000 {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "append ended early"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        acknowledged = v["last_seq"].as_u64().unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    feeder.join().unwrap();

    // Reopen (recovering a torn tail if the kill left one) by appending one more event.
    medguard()
        .args(["audit", "append", "--log"])
        .arg(&log)
        .arg("--key")
        .arg(dir.path().join("site.key"))
        .write_stdin("{\"type\":\"application-start\"}\n")
        .assert()
        .success();
    let report = verify_json(&log, dir.path(), 0);
    assert!(report["last_seq"].as_u64().unwrap() > acknowledged);
    assert_eq!(report["records"], report["last_seq"]);
    let seqs: Vec<u64> = query(&log, &["--type", "login-failure"])
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.len() as u64 >= acknowledged);
    assert_eq!(
        seqs[..acknowledged as usize],
        (1..=acknowledged).collect::<Vec<_>>()[..]
    );
}

/// `audit verify --json` with extra arguments, expecting `code`; the parsed report.
fn verify_json_with(log: &Path, dir: &Path, extra: &[&str], code: i32) -> serde_json::Value {
    let out = medguard()
        .args(["audit", "verify", "--json", "--log"])
        .arg(log)
        .arg("--trust")
        .arg(dir.join("site.pub"))
        .args(extra)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

/// A signed 20-record log; returns its last record as `SEQ:DIGEST`.
fn signed_log(dir: &Path) -> (std::path::PathBuf, String) {
    keys(dir);
    let log = dir.join("log");
    medguard()
        .args(["audit", "append", "--log"])
        .arg(&log)
        .arg("--key")
        .arg(dir.join("site.key"))
        .write_stdin(lines(20))
        .assert()
        .success();
    let report = verify_json_with(&log, dir, &[], 0);
    assert_eq!(report["verdict"], "intact");
    let last = query(&log, &[]).pop().unwrap();
    let known = format!("{}:{}", last["seq"], last["digest"].as_str().unwrap());
    (log, known)
}

#[test]
fn verify_does_not_say_intact_for_a_log_whose_checkpoints_were_emptied_and_tail_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (log, known) = signed_log(dir.path());
    std::fs::write(log.join("checkpoints"), "").unwrap();
    let seg = log.join("0000000001.seg");
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 40)
        .unwrap();
    let text = verify_text(&log, dir.path(), 3);
    assert!(text.contains("NOT PROVEN INTACT"), "{text}");
    assert!(!text.contains("intact:"), "{text}");
    let report = verify_json_with(&log, dir.path(), &[], 3);
    assert_eq!(report["verdict"], "unproven");
    // The server's copy of the last checkpoint proves the cut.
    let report = verify_json_with(&log, dir.path(), &["--known-checkpoint", &known], 1);
    assert_eq!(report["verdict"], "tampered");
}

#[test]
fn verify_does_not_say_intact_for_a_log_with_everything_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (log, known) = signed_log(dir.path());
    for entry in std::fs::read_dir(&log).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let report = verify_json_with(&log, dir.path(), &[], 3);
    assert_eq!(report["verdict"], "unproven");
    assert_eq!(report["problems"][0]["kind"], "empty-log");
    let report = verify_json_with(&log, dir.path(), &["--known-checkpoint", &known], 1);
    assert_eq!(report["verdict"], "tampered");
    // A malformed known checkpoint is an error, not a verdict.
    medguard()
        .args(["audit", "verify", "--known-checkpoint", "20:zz", "--log"])
        .arg(&log)
        .arg("--trust")
        .arg(dir.path().join("site.pub"))
        .assert()
        .code(2);
}

#[test]
fn a_log_reaching_the_known_checkpoint_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (log, known) = signed_log(dir.path());
    let report = verify_json_with(&log, dir.path(), &["--known-checkpoint", &known], 0);
    assert_eq!(report["verdict"], "intact");
    assert_eq!(report["proven_through"], 20);
}
