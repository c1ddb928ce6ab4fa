//! `medguard ... | head`: a reader that stops early closes the pipe. That ends the output
//! quietly, with the exit status of the work done and no error printed, also when the
//! write fails inside a library (whose error wraps the I/O error: the binary finds it
//! through the cause chain).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use assert_cmd::Command as CargoCommand;

fn medguard() -> CargoCommand {
    CargoCommand::cargo_bin("medguard").unwrap()
}

/// Runs `medguard args...`, reads the first 100 bytes of its output and closes the pipe, as
/// `head -c 100` does. The output must be larger than a pipe's buffer for the writer to
/// notice.
fn read_a_little_then_close(args: &[&std::ffi::OsStr]) -> Output {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("medguard"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    child.wait_with_output().unwrap()
}

#[test]
fn profile_verify_into_a_closed_pipe_prints_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("device");
    std::fs::create_dir_all(&root).unwrap();
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.path().join("vendor"))
        .assert()
        .success();
    medguard()
        .args(["profile", "create"])
        .arg(&root)
        .arg("--out")
        .arg(dir.path().join("device.profile"))
        .arg("--key")
        .arg(dir.path().join("vendor.key"))
        .assert()
        .success();
    // Enough deviations that the report overflows a pipe's buffer.
    for i in 0..3000 {
        std::fs::write(root.join(format!("new-{i}.conf")), "x").unwrap();
    }
    let profile = dir.path().join("device.profile");
    let trust = dir.path().join("vendor.pub");
    let output = read_a_little_then_close(&[
        "profile".as_ref(),
        "verify".as_ref(),
        "--json".as_ref(),
        "--profile".as_ref(),
        profile.as_os_str(),
        "--trust".as_ref(),
        trust.as_os_str(),
        root.as_os_str(),
    ]);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    // Deviations found: 1, as without the pipe; never 2 (error).
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn audit_export_into_a_closed_pipe_prints_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let input: String = (0..400)
        .map(|i| format!("{{\"type\":\"login-failure\",\"user\":\"user{i}\"}}\n"))
        .collect();
    medguard()
        .args(["audit", "append", "--host", "ct-1", "--log"])
        .arg(&log)
        .write_stdin(input)
        .assert()
        .success();
    let output = read_a_little_then_close(&[
        "audit".as_ref(),
        "export".as_ref(),
        "--format".as_ref(),
        "dicom".as_ref(),
        "--log".as_ref(),
        Path::new(&log).as_os_str(),
    ]);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert_eq!(output.status.code(), Some(0));
}
