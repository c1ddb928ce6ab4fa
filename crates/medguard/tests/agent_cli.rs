//! `medguard agent` through the binary, where no server is needed: bad configuration, no
//! enrollment, an unreachable server. The protocol itself is tested in `medguard-agent`
//! (against a stub) and end to end against the real server in `fleet_e2e.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::fs::PermissionsExt as _;

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_configuration_with_an_unknown_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "[profile]\nroot = \"/\"\nintreval = \"1h\"\n").unwrap();
    // The one-shot report and the daemon refuse it alike, before touching the state.
    for command in ["report", "run"] {
        let out = medguard()
            .args(["agent", command, "--state"])
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}: {out:?}");
        assert!(
            stderr(&out).contains("unknown key `profile.intreval`"),
            "{command}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_configuration_naming_a_missing_file_is_an_error_naming_key_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "[profile]\nroot = \"/\"\nprofile = \"nowhere.profile\"\ntrust = [\"vendor.pub\"]\n",
    )
    .unwrap();
    for command in ["report", "run"] {
        let out = medguard()
            .args(["agent", command, "--state"])
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}: {out:?}");
        let e = stderr(&out);
        assert!(
            e.contains("`profile.profile`") && e.contains("nowhere.profile"),
            "{command}: {e}"
        );
    }
}

#[test]
fn a_missing_configuration_file_is_an_error_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nowhere/agent.toml");
    let out = medguard()
        .args(["agent", "run", "--state"])
        .arg(dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(e.contains(&config.display().to_string()), "{e}");
}

#[test]
fn reporting_before_enrolling_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "").unwrap();
    let out = medguard()
        .args(["agent", "report", "--state"])
        .arg(dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("medguard agent enroll"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn enrolling_with_an_unreachable_server_keeps_the_key_and_records_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let ca_cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&ca, ca_cert.cert.pem()).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let state = dir.path().join("state");
    let out = medguard()
        .args(["agent", "enroll", "--server"])
        .arg(format!("https://127.0.0.1:{port}"))
        .args(["--token", "t0ken", "--ca"])
        .arg(&ca)
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("cannot be reached"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("t0ken"), "the token is a secret");
    let key = std::fs::metadata(state.join("device.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert!(!state.join("enrollment.json").exists());
}

#[test]
fn simulating_needs_enough_components() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    std::fs::write(
        &status,
        "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n\n",
    )
    .unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "").unwrap();
    let out = medguard()
        .args([
            "agent",
            "simulate",
            "--server",
            "https://127.0.0.1:9",
            "--token",
            "x",
            "--count",
            "1",
            "--ca",
        ])
        .arg(&ca)
        .arg("--inventory")
        .arg(&status)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("components with package URLs"),
        "{}",
        stderr(&out)
    );
}
