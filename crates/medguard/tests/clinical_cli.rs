//! `medguard clinical check` through the binary: the exit code is the answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

#[test]
fn state_file_decides_and_unknown_counts_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let spec = format!("file:{}", state.display());
    let check = |expect: i32| {
        let out = medguard()
            .args(["clinical", "check", "--clinical-state", &spec, "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(expect), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let missing = check(1);
    assert!(missing["reason"].as_str().unwrap().contains("unknown"));
    std::fs::write(&state, "in-use\n").unwrap();
    let busy = check(1);
    assert!(busy["reason"].as_str().unwrap().contains("clinical use"));
    std::fs::write(&state, "idle\n").unwrap();
    assert_eq!(check(0)["may_start"], true);
}

#[test]
fn bad_specs_are_errors() {
    let out = medguard()
        .args(["clinical", "check", "--window", "Mon-Fry 22:00-06:00"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Fry"));
    let out = medguard()
        .args(["clinical", "check", "--clinical-state", "http://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
