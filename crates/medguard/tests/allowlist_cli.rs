//! The allowlist workflow through the binary, against the real kernel: build a list from a
//! signed profile, check files, enforce it with fanotify on a directory the test made, see
//! an unlisted binary refused with EPERM and logged, a listed one run, a replaced one
//! refused, and everything run again once the enforcer stops.
//!
//! Needs root (fanotify permission events). Marks only directories this test creates, and
//! a guard kills the enforcer when a test fails, so a bug cannot stall the host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

struct Device {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    bin: PathBuf,
}

impl Device {
    fn list(&self) -> PathBuf {
        self.dir.join("device.allowlist")
    }
    fn trust(&self) -> PathBuf {
        self.dir.join("vendor.pub")
    }
}

/// A device tree with a listed copy of /bin/true, a listed script, and (added after the
/// profile was made) an unlisted copy with one byte more.
fn device() -> Device {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let bin = dir.join("device/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/true", bin.join("viewer")).unwrap();
    fs::write(bin.join("start.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    set_mode(&bin.join("start.sh"), 0o755);
    fs::write(bin.join("notes.txt"), "not a program\n").unwrap();
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.join("vendor"))
        .assert()
        .success();
    medguard()
        .args(["profile", "create"])
        .arg(dir.join("device"))
        .arg("--out")
        .arg(dir.join("device.profile"))
        .arg("--key")
        .arg(dir.join("vendor.key"))
        .assert()
        .success();
    let mut rogue = fs::read("/bin/true").unwrap();
    rogue.push(0);
    fs::write(bin.join("rogue"), rogue).unwrap();
    set_mode(&bin.join("rogue"), 0o755);
    let out = build_list(&dir, &dir.join("device"), &dir.join("device.allowlist"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["executables"], 1, "{summary}");
    assert_eq!(summary["scripts"], 1, "{summary}");
    Device {
        _tmp: tmp,
        dir,
        bin,
    }
}

/// `allowlist build --json` of `dir`'s signed profile, run in `dir`, with `root` as given.
fn build_list(dir: &Path, root: &Path, out: &Path) -> std::process::Output {
    medguard()
        .current_dir(dir)
        .args(["allowlist", "build", "--json", "--profile"])
        .arg(dir.join("device.profile"))
        .arg("--trust")
        .arg(dir.join("vendor.pub"))
        .arg("--root")
        .arg(root)
        .arg("--out")
        .arg(out)
        .arg("--key")
        .arg(dir.join("vendor.key"))
        .output()
        .unwrap()
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// The running enforcer; killed on drop so a failing test never leaves marks behind.
struct Enforcer {
    child: Child,
}

impl Drop for Enforcer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Enforcer {
    fn start(d: &Device, mode: &str) -> Self {
        let child = StdCommand::new(assert_cmd::cargo::cargo_bin("medguard"))
            .args(["allowlist", "enforce", "--list"])
            .arg(d.list())
            .arg("--trust")
            .arg(d.trust())
            .args(["--mode", mode, "--dir"])
            .arg(&d.bin)
            .arg("--audit-log")
            .arg(d.dir.join("audit"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut guard = Self { child };
        let mut line = String::new();
        BufReader::new(guard.child.stderr.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("marks on"), "enforcer did not start: {line}");
        guard
    }

    /// SIGTERM, then the exit code, stdout and stderr.
    fn stop(mut self) -> (Option<i32>, String, String) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let mut out = String::new();
        let mut err = String::new();
        use std::io::Read as _;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = self.child.wait().unwrap();
        (status.code(), out, err)
    }
}

/// Runs a program: Ok(exit code) or the errno exec failed with.
fn run(p: &Path) -> Result<i32, i32> {
    match StdCommand::new(p).status() {
        Ok(s) => Ok(s.code().unwrap_or(-1)),
        Err(e) => Err(e.raw_os_error().unwrap_or(-1)),
    }
}

const EPERM: i32 = 1;

fn audit_events(d: &Device) -> Vec<serde_json::Value> {
    let out = medguard()
        .args(["audit", "query", "--log"])
        .arg(d.dir.join("audit"))
        .args(["--type", "executable-denied"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn check_says_why() {
    let d = device();
    let out = medguard()
        .args(["allowlist", "check", "--list"])
        .arg(d.list())
        .arg("--trust")
        .arg(d.trust())
        .arg(d.bin.join("viewer"))
        .arg(d.bin.join("start.sh"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!(
        "allowed: listed as executable {}",
        d.bin.join("viewer").display()
    )));
    assert!(text.contains("allowed: listed as script"), "{text}");

    let out = medguard()
        .args(["allowlist", "check", "--list"])
        .arg(d.list())
        .arg("--trust")
        .arg(d.trust())
        .arg(d.bin.join("rogue"))
        .arg(d.bin.join("viewer"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rogue: denied: not in list"));

    fs::write(d.bin.join("viewer"), fs::read("/bin/false").unwrap()).unwrap();
    let out = medguard()
        .args(["allowlist", "check", "--json", "--list"])
        .arg(d.list())
        .arg("--trust")
        .arg(d.trust())
        .arg(d.bin.join("viewer"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["verdict"], "digest-differs", "{v}");
}

/// Issue #12: `allowlist build` with a relative `--root` signed a list that its own `check`
/// refused ("paths must be absolute"). The root is now resolved when the list is built.
#[test]
fn allowlist_build_with_a_relative_root_signs_a_list_that_check_accepts() {
    let d = device();
    let list = d.dir.join("relative.allowlist");
    let out = build_list(&d.dir, Path::new("device"), &list);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["root"], d.dir.join("device").display().to_string());
    assert_eq!(summary["executables"], 1, "{summary}");
    let out = medguard()
        .args(["allowlist", "check", "--list"])
        .arg(&list)
        .arg("--trust")
        .arg(d.trust())
        .arg(d.bin.join("viewer"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("allowed: listed as executable"), "{text}");
    // A relative root that does not exist here is refused before anything is signed.
    let out = build_list(
        &d.dir,
        Path::new("no/such/tree"),
        &d.dir.join("never.allowlist"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!d.dir.join("never.allowlist").exists());
}

#[test]
fn a_list_signed_by_another_key_is_refused() {
    let d = device();
    medguard()
        .args(["key", "generate", "--out"])
        .arg(d.dir.join("other"))
        .assert()
        .success();
    let out = medguard()
        .args(["allowlist", "check", "--list"])
        .arg(d.list())
        .arg("--trust")
        .arg(d.dir.join("other.pub"))
        .arg(d.bin.join("viewer"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none of which is trusted"));
    // A profile is not an allowlist, even signed by the trusted key.
    let out = medguard()
        .args(["allowlist", "check", "--list"])
        .arg(d.dir.join("device.profile"))
        .arg("--trust")
        .arg(d.trust())
        .arg(d.bin.join("viewer"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a medguard allowlist"));
}

#[test]
fn enforce_denies_unlisted_and_replaced_binaries_and_stops_cleanly() {
    let d = device();
    let viewer = d.bin.join("viewer");
    let rogue = d.bin.join("rogue");
    let e = Enforcer::start(&d, "enforce");
    assert_eq!(run(&viewer), Ok(0), "the listed binary runs");
    assert_eq!(
        run(&d.bin.join("start.sh")),
        Ok(0),
        "the listed script runs"
    );
    assert_eq!(run(&rogue), Err(EPERM), "the unlisted binary is refused");
    assert_eq!(run(&viewer), Ok(0), "cached: still allowed");
    // Replaced in place by other content: the cache must not keep allowing it.
    fs::write(&viewer, fs::read("/bin/false").unwrap()).unwrap();
    assert_eq!(run(&viewer), Err(EPERM), "the replaced binary is refused");
    // Put back: allowed again (re-hashed, not a stale deny either).
    fs::copy("/bin/true", &viewer).unwrap();
    assert_eq!(run(&viewer), Ok(0));

    let (code, out, err) = e.stop();
    assert_eq!(code, Some(1), "something was denied: {err}");
    assert!(err.contains("marks removed"), "{err}");
    assert!(
        out.contains(&format!("DENIED {}", rogue.display())),
        "{out}"
    );
    assert!(out.contains("not in list"), "{out}");
    assert!(
        out.contains("digest differs from the validated one"),
        "{out}"
    );
    // Stopped: every exec in the directory works again.
    assert_eq!(run(&rogue), Ok(0));
    fs::write(&viewer, fs::read("/bin/false").unwrap()).unwrap();
    assert_eq!(run(&viewer), Ok(1));

    let events = audit_events(&d);
    assert_eq!(events.len(), 2, "{events:?}");
    let rogue_event = &events[0]["event"];
    assert_eq!(rogue_event["objects"][0]["id"], rogue.display().to_string());
    assert_eq!(rogue_event["outcome"], "serious-failure");
    assert!(
        rogue_event["detail"]
            .as_str()
            .unwrap()
            .contains("not in list")
    );
    let viewer_event = &events[1]["event"];
    assert!(
        viewer_event["detail"]
            .as_str()
            .unwrap()
            .contains("digest differs"),
        "{viewer_event}"
    );
}

#[test]
fn audit_mode_allows_but_logs() {
    let d = device();
    let e = Enforcer::start(&d, "audit");
    assert_eq!(run(&d.bin.join("rogue")), Ok(0));
    assert_eq!(run(&d.bin.join("viewer")), Ok(0));
    let (code, out, _) = e.stop();
    assert_eq!(code, Some(1));
    assert!(out.contains("WOULD DENY"), "{out}");
    let events = audit_events(&d);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"]["outcome"], "success");
    assert!(
        events[0]["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("would be refused")
    );
}
