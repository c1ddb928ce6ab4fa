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

/// `lock:PATH`: free means idle (exit 0), held by the clinical software means in use (1).
#[test]
fn a_lock_provider_is_idle_when_free_and_in_use_when_held() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("clinical.lock");
    let spec = format!("lock:{}", lock.display());
    let check = || {
        medguard()
            .args(["clinical", "check", "--clinical-state", &spec])
            .output()
            .unwrap()
    };
    assert_eq!(check().status.code(), Some(0));
    let ready = dir.path().join("holding");
    // Its own process group, so flock(1) and the shell holding the lock die together.
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .arg("sh")
        .arg("-c")
        .arg(format!("touch '{}'; sleep 30", ready.display()))
        .process_group(0)
        .spawn()
        .expect("flock(1) from util-linux is installed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "flock(1) never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let held = check();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", holder.id())])
        .status()
        .unwrap();
    holder.wait().unwrap();
    assert!(killed.success());
    assert_eq!(held.status.code(), Some(1), "{held:?}");
    assert!(String::from_utf8_lossy(&held.stdout).contains("clinical use"));
}
