//! The packaging of the device agent: the systemd unit passes `systemd-analyze verify`, and
//! the default configuration is one the agent accepts, with its commented-out keys enabled
//! too (so the file documents only keys that exist); the Debian package built by `cargo deb`
//! holds them and installs, verifies and removes on this machine.
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

/// Runs `cmd`, failing the test with its output unless it succeeds; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} cannot run: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Purges the package (and the state directory it made) when the test ends, passed or not.
struct Purge {
    remove_state: bool,
}

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "medguard"]).output();
        if self.remove_state {
            let _ = std::fs::remove_dir_all("/var/lib/medguard");
        }
    }
}

/// `cargo deb` packages the binary the tests built (no second, release build: it is copied
/// where cargo-deb looks for it), `dpkg-deb` shows what the package holds, and `dpkg -i`
/// installs it on this machine (CI runs as root): binary, unit, configuration as a conffile,
/// `/var/lib/medguard` at 0700, the installed unit verifying. Then `dpkg -r` removes it and
/// keeps the edited-or-not configuration, and `dpkg --purge` takes that too.
#[test]
fn the_debian_package_installs_verifies_and_removes() {
    if !is_root() {
        let msg = "SKIPPED: the_debian_package_installs_verifies_and_removes needs root for dpkg -i \
                   (CI runs as root); nothing was checked";
        println!("{msg}");
        eprintln!("{msg}");
        return;
    }
    assert!(
        !installed("medguard") && !Path::new("/usr/bin/medguard").exists(),
        "medguard is already installed on this machine: the test will not replace it"
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let version = Command::new(&cargo).args(["deb", "--version"]).output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "cargo deb is not installed (.ci/install-deps installs it): {version:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_medguard"),
        target.join("release/medguard"),
    )
    .unwrap();
    let out = dir.path().join("deb");
    run(Command::new(&cargo)
        .args(["deb", "-p", "medguard", "--no-build", "--fast", "-o"])
        .arg(&out)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(packaging().join("..")));
    let deb = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("cargo deb made no .deb");

    let info = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(info.contains("Package: medguard"), "{info}");
    assert!(info.contains("Depends: libc6"), "{info}");
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "{info}");
    }
    let conffiles = run(Command::new("dpkg-deb")
        .arg("--info")
        .arg(&deb)
        .arg("conffiles"));
    assert_eq!(conffiles.trim(), "/etc/medguard/agent.toml");
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/medguard"),
        ("-rw-r--r--", "./lib/systemd/system/medguard-agent.service"),
        ("-rw-r--r--", "./etc/medguard/agent.toml"),
    ] {
        assert!(
            contents
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(path)),
            "{mode} {path} in:\n{contents}"
        );
    }

    let purge = Purge {
        remove_state: !Path::new("/var/lib/medguard").exists(),
    };
    run(Command::new("dpkg").arg("-i").arg(&deb));
    assert!(installed("medguard"));
    let version = run(Command::new("/usr/bin/medguard").arg("--version"));
    assert!(version.contains("medguard"), "{version}");
    let shipped = std::fs::read_to_string(packaging().join("medguard-agent.service")).unwrap();
    assert_eq!(
        std::fs::read_to_string("/lib/systemd/system/medguard-agent.service").unwrap(),
        shipped
    );
    assert_eq!(
        std::fs::read_to_string("/etc/medguard/agent.toml").unwrap(),
        std::fs::read_to_string(packaging().join("agent.toml")).unwrap()
    );
    let state = std::fs::metadata("/var/lib/medguard").unwrap();
    assert!(state.is_dir());
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&state.permissions()) & 0o7777,
        0o700
    );
    let listed = run(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "medguard"]));
    assert!(listed.contains("/etc/medguard/agent.toml"), "{listed}");
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        // The installed unit, naming the installed binary.
        let out = Command::new("systemd-analyze")
            .args([
                "verify",
                "--man=no",
                "/lib/systemd/system/medguard-agent.service",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("medguard-agent.service"),
            "systemd-analyze verify: {}\n{stderr}",
            out.status
        );
    } else {
        println!("SKIPPED: systemd-analyze verify of the installed unit (not installed)");
    }

    run(Command::new("dpkg").args(["-r", "medguard"]));
    assert!(!Path::new("/usr/bin/medguard").exists());
    assert!(!Path::new("/lib/systemd/system/medguard-agent.service").exists());
    assert!(
        Path::new("/etc/medguard/agent.toml").exists(),
        "remove keeps the configuration"
    );
    assert!(
        Path::new("/var/lib/medguard").is_dir(),
        "remove keeps the device's key and audit log"
    );
    run(Command::new("dpkg").args(["--purge", "medguard"]));
    assert!(!Path::new("/etc/medguard/agent.toml").exists());
    drop(purge);
}

fn is_root() -> bool {
    // The effective user id, from /proc (no libc call needed).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
