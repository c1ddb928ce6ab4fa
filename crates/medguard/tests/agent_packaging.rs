//! The packaging of the device agent: the systemd unit passes `systemd-analyze verify`, and
//! the default configuration is one the agent accepts, with its commented-out keys enabled
//! too (so the file documents only keys that exist).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging")
}

#[test]
fn the_systemd_unit_verifies() {
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        println!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    assert!(probe.status.success());
    let unit = std::fs::read_to_string(packaging().join("medguard-agent.service")).unwrap();
    assert!(unit.contains("Restart=on-failure"));
    // The agent notifies (agent_daemon.rs checks READY=1, WATCHDOG=1 and STOPPING=1).
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    assert!(unit.contains("ReadWritePaths=/var/lib/medguard"));
    // The unit names the installed binary; verify it against the one just built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("medguard-agent.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/medguard", env!("CARGO_BIN_EXE_medguard")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("medguard-agent.service"),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

#[test]
fn the_default_configuration_is_accepted_with_every_documented_key() {
    let text = std::fs::read_to_string(packaging().join("agent.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("rules")).unwrap();
    std::fs::create_dir_all(dir.path().join("state/allowlist-audit")).unwrap();
    for f in ["device.profile", "vendor.pub", "allowlist"] {
        std::fs::write(etc.join(f), "").unwrap();
    }
    let moved = text
        .replace("/etc/medguard/", &format!("{}/", etc.display()))
        .replace(
            "/var/lib/medguard/",
            &format!("{}/state/", dir.path().display()),
        )
        .replace(
            "/run/modality/state",
            &dir.path().join("clinical").display().to_string(),
        );
    let as_shipped = medguard_agent::AgentConfig::from_toml(&moved, &etc.join("agent.toml"));
    assert!(as_shipped.is_ok(), "{as_shipped:?}");

    // Every commented-out key and section, enabled.
    let enabled: String = moved
        .lines()
        .map(|l| {
            let body = l.strip_prefix("# ").unwrap_or(l);
            let is_key = body
                .split_once(" = ")
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            let is_section = body.starts_with('[') && body.contains(']');
            if l.starts_with("# ") && (is_key || is_section) {
                format!("{body}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.path().join("clinical"), "idle\n").unwrap();
    let everything = medguard_agent::AgentConfig::from_toml(&enabled, &etc.join("agent.toml"));
    let c = everything.unwrap_or_else(|e| panic!("{e}\n{enabled}"));
    assert!(c.scan.is_some() && c.allowlist.is_some() && c.clinical.window.is_some());
    assert_eq!(c.profile.as_ref().unwrap().interval.as_secs(), 3600);
}
