//! `medguard audit export` and `medguard audit forward` end to end: appended events export
//! as DICOM audit messages that validate against the PS3.15 schema (xmllint), as RFC 5424
//! lines, and forward to a real rsyslog over TLS exactly once across two runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../atna/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use support::collector::{ClientAuth, Collector, Pki};

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn append(log: &Path, from: usize, to: usize) {
    let input: String = (from..to)
        .map(|i| {
            format!(
                "{{\"type\":\"login-failure\",\"user\":\"user<{i}>&\",\"outcome\":\"minor-failure\",\"detail\":\"attempt {i} \\\"quoted\\\" \\u0001\"}}\n"
            )
        })
        .collect();
    medguard()
        .args(["audit", "append", "--host", "ct-1", "--log"])
        .arg(log)
        .write_stdin(input)
        .assert()
        .success();
}

#[test]
fn export_dicom_validates_against_the_schema_and_syslog_is_rfc5424() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    append(&log, 0, 25);

    let output = medguard()
        .args(["audit", "export", "--format", "dicom", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let documents: Vec<&str> = text.lines().collect();
    assert_eq!(documents.len(), 25);
    let mut files = Vec::new();
    for (i, document) in documents.iter().enumerate() {
        let path = dir.path().join(format!("{i}.xml"));
        std::fs::write(&path, document).unwrap();
        files.push(path);
    }
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../atna/schema/dicom-audit-message.rng");
    let result = std::process::Command::new(support::require_tool("xmllint", "libxml2-utils"))
        .arg("--noout")
        .arg("--relaxng")
        .arg(&schema)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );

    let output = medguard()
        .args([
            "audit", "export", "--format", "syslog", "--host", "ct-1", "--from", "11", "--log",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 15);
    assert!(
        lines[0].starts_with("<84>1 "),
        "authpriv.warning for a failure: {}",
        lines[0]
    );
    assert!(lines[0].contains(" ct-1 medguard "));
    assert!(lines[0].contains(" IHE+RFC-3881 [medguardRecord@32473 seq=\"11\" digest=\""));
    assert!(lines[0].contains("<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>"));
}

#[test]
fn forward_once_resumes_from_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let pki = Pki::generate(dir.path(), "cli");
    let collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let to = format!("localhost:{}", collector.port);
    let forward = |expected: &str| {
        let output = medguard()
            .args([
                "audit", "forward", "--once", "--batch", "7", "--to", &to, "--ca",
            ])
            .arg(&pki.ca)
            .arg("--log")
            .arg(&log)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains(expected), "{stdout}");
    };
    append(&log, 0, 20);
    forward("forwarded 20 records");
    append(&log, 20, 30);
    forward("forwarded 10 records");
    forward("forwarded 0 records");

    let lines = collector.wait_until(Duration::from_secs(30), |lines| lines.len() >= 30);
    let seqs: Vec<u64> = lines
        .iter()
        .map(|line| {
            let start = line.find("seq=\"").unwrap() + 5;
            line[start..start + line[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<u64>>());

    // Without a reachable collector --once fails with exit code 2 and names it.
    let output = medguard()
        .args(["audit", "forward", "--once", "--to", "127.0.0.1:1", "--ca"])
        .arg(&pki.ca)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("127.0.0.1:1"));
}
