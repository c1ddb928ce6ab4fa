//! Patch bundles end to end through the binary: make a bundle from two trees, see it
//! refused while the device is in clinical use, installed while idle, rolled back when a
//! self-test fails, refused when tampered, and recovered after SIGKILL at random moments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("medguard")
}

/// Old and new vendor trees with `files` files each, a key, both trees' profiles.
fn setup(dir: &Path, files: usize) {
    for (tree, version) in [("old", "2.0"), ("new", "2.1")] {
        let root = dir.join(tree);
        fs::create_dir_all(root.join("opt/viewer/lib")).unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("opt/viewer/version"), format!("{version}\n")).unwrap();
        fs::write(root.join("etc/viewer.conf"), "aet=VIEWER\n").unwrap();
        for i in 0..files {
            // Half the libraries change between versions.
            let v = if i % 2 == 0 { "2.0" } else { version };
            fs::write(
                root.join(format!("opt/viewer/lib/lib{i}.so")),
                format!("{v} {i} ").repeat(2000),
            )
            .unwrap();
        }
    }
    fs::create_dir(dir.join("new/opt/viewer/plugins")).unwrap();
    fs::write(dir.join("new/opt/viewer/plugins/dicom.so"), "plugin").unwrap();
    fs::remove_file(dir.join("new/etc/viewer.conf")).unwrap();
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.join("vendor"))
        .assert()
        .success();
    for tree in ["old", "new"] {
        medguard()
            .args(["profile", "create"])
            .arg(dir.join(tree))
            .arg("--out")
            .arg(dir.join(format!("{tree}.profile")))
            .arg("--key")
            .arg(dir.join("vendor.key"))
            .assert()
            .success();
    }
}

fn create_bundle(dir: &Path, name: &str, self_test: &str) -> PathBuf {
    let out = dir.join(name);
    medguard()
        .args(["bundle", "create", "--from"])
        .arg(dir.join("old"))
        .arg("--to")
        .arg(dir.join("new"))
        .arg("--out")
        .arg(&out)
        .arg("--key")
        .arg(dir.join("vendor.key"))
        .args([
            "--model",
            "ct-9000",
            "--version",
            "2.1",
            "--self-test",
            self_test,
        ])
        .assert()
        .success();
    out
}

fn device(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(name);
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(dir.join("old"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    root
}

/// Whether `root` verifies against `TREE.profile`.
fn matches(dir: &Path, root: &Path, tree: &str) -> bool {
    let out = medguard()
        .args(["profile", "verify"])
        .arg(root)
        .arg("--profile")
        .arg(dir.join(format!("{tree}.profile")))
        .arg("--trust")
        .arg(dir.join("vendor.pub"))
        .output()
        .unwrap();
    out.status.code() == Some(0)
}

fn apply(dir: &Path, bundle: &Path, root: &Path, state: &str) -> std::process::Output {
    let state_file = dir.join("clinical-state");
    fs::write(&state_file, format!("{state}\n")).unwrap();
    medguard()
        .args(["update", "apply"])
        .arg(bundle)
        .arg("--trust")
        .arg(dir.join("vendor.pub"))
        .arg("--root")
        .arg(root)
        .args(["--model", "ct-9000"])
        .arg("--clinical-state")
        .arg(format!("file:{}", state_file.display()))
        .arg("--state-dir")
        .arg(root.with_extension("state"))
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn in_use_defers_idle_installs_and_the_new_profile_is_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, 20);
    let bundle = create_bundle(
        dir,
        "viewer-2.1.bundle",
        "test -f \"$MEDGUARD_ROOT/opt/viewer/plugins/dicom.so\"",
    );
    let inspect = medguard()
        .args(["bundle", "inspect"])
        .arg(&bundle)
        .arg("--trust")
        .arg(dir.join("vendor.pub"))
        .output()
        .unwrap();
    assert_eq!(inspect.status.code(), Some(0));
    let text = stdout(&inspect);
    assert!(
        text.contains("version 2.1") && text.contains("add     /opt/viewer/plugins/dicom.so"),
        "{text}"
    );
    assert!(text.contains("remove  /etc/viewer.conf"), "{text}");

    let root = device(dir, "device");
    let out = apply(dir, &bundle, &root, "in-use");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("deferred 2.1: the device is in clinical use"),
        "{}",
        stdout(&out)
    );
    assert!(matches(dir, &root, "old"));

    let out = apply(dir, &bundle, &root, "idle");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("installed 2.1"),
        "{}",
        stdout(&out)
    );
    assert!(matches(dir, &root, "new"));
    // The device's baseline moved with the install: the stored profile verifies the tree.
    medguard()
        .args(["profile", "verify"])
        .arg(&root)
        .arg("--profile")
        .arg(root.with_extension("state").join("profile"))
        .arg("--trust")
        .arg(dir.join("vendor.pub"))
        .assert()
        .success();
    let status = medguard()
        .args(["update", "status", "--json", "--state-dir"])
        .arg(root.with_extension("state"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["last"]["outcome"], "installed");
    assert_eq!(v["interrupted_install"], false);
}

#[test]
fn a_failing_self_test_rolls_back_with_exit_1_and_the_old_profile_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, 10);
    let bundle = create_bundle(dir, "bad.bundle", "echo cannot open DICOM port >&2; exit 1");
    let root = device(dir, "device");
    let out = apply(dir, &bundle, &root, "idle");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("rolled back 2.1") && text.contains("cannot open DICOM port"),
        "{text}"
    );
    assert!(text.contains("verifies against the old profile"), "{text}");
    assert!(matches(dir, &root, "old"));
}

#[test]
fn a_tampered_bundle_is_refused_with_exit_1_as_json_and_in_the_audit_trail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, 10);
    let bundle = create_bundle(dir, "b.bundle", "true");
    let mut bytes = fs::read(&bundle).unwrap();
    let at = bytes.windows(7).position(|w| w == b"ct-9000").unwrap();
    bytes[at] = b'm';
    fs::write(&bundle, bytes).unwrap();
    let root = device(dir, "device");
    let audit = dir.join("audit");
    let out = medguard()
        .args(["update", "apply"])
        .arg(&bundle)
        .arg("--trust")
        .arg(dir.join("vendor.pub"))
        .arg("--root")
        .arg(&root)
        .arg("--state-dir")
        .arg(root.with_extension("state"))
        .arg("--audit-log")
        .arg(&audit)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "refused");
    assert!(v["message"].as_str().unwrap().contains("signature"), "{v}");
    assert!(matches(dir, &root, "old"));
    let stored: serde_json::Value = serde_json::from_slice(
        &fs::read(root.with_extension("state").join("status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stored["outcome"], "refused");
    let log = medguard_audit::AuditLog::open(&audit).unwrap();
    let kinds: Vec<String> = log
        .records()
        .unwrap()
        .map(|r| r.unwrap().event.kind.to_string())
        .collect();
    assert_eq!(kinds, ["patch-failed"]);
}

/// SIGKILL the real installer at random moments; after `update recover` the tree is
/// exactly the old or exactly the new one, and the same apply then installs.
#[test]
fn sigkill_at_random_moments_recovers_to_old_or_new() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, 150);
    let bundle = create_bundle(dir, "b.bundle", "true");
    // How long an uninterrupted install takes here, to spread the kills over it.
    let root = device(dir, "timing");
    let start = Instant::now();
    let out = apply(dir, &bundle, &root, "idle");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let full = start.elapsed().as_micros().max(1000) as u64;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    eprintln!("seed {seed}, uninterrupted install {full} µs");
    let mut rng = seed | 1;
    let state_file = dir.join("clinical-state");
    let (mut old, mut new) = (0, 0);
    for round in 0..10 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_micros(rng % full);
        let root = device(dir, &format!("dev-{round}"));
        let state = root.with_extension("state");
        let mut child = std::process::Command::new(bin())
            .args(["update", "apply"])
            .arg(&bundle)
            .arg("--trust")
            .arg(dir.join("vendor.pub"))
            .arg("--root")
            .arg(&root)
            .args(["--model", "ct-9000"])
            .arg("--clinical-state")
            .arg(format!("file:{}", state_file.display()))
            .arg("--state-dir")
            .arg(&state)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Sleeping here chooses the kill moment; no test outcome waits on time passing.
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let rec = medguard()
            .args(["update", "recover", "--state-dir"])
            .arg(&state)
            .output()
            .unwrap();
        assert!(
            matches!(rec.status.code(), Some(0 | 1)),
            "round {round}: {}",
            String::from_utf8_lossy(&rec.stderr)
        );
        let is_old = matches(dir, &root, "old");
        let is_new = matches(dir, &root, "new");
        assert!(
            is_old ^ is_new,
            "round {round} (kill after {delay:?}): neither old nor new; {}",
            stdout(&rec)
        );
        if is_old {
            old += 1
        } else {
            new += 1
        }
        let out = apply(dir, &bundle, &root, "idle");
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stdout(&out)
        );
        assert!(matches(dir, &root, "new"), "round {round}");
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&state).unwrap();
    }
    eprintln!("after recovery: {old} old, {new} new");
}

/// `bundle inspect DIRECTORY` is unreadable input (exit 2, the error on stderr), as for
/// every other command, not a refused bundle (exit 1, "too short").
#[test]
fn bundle_inspect_of_a_directory_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = medguard()
        .args(["bundle", "inspect"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("too short"), "{err}");
    assert!(err.contains(&tmp.path().display().to_string()), "{err}");
}

/// A status record the installer cannot write is said on stderr (and in the JSON record),
/// not swallowed; the install's own result and exit status stand.
#[test]
fn a_status_record_that_cannot_be_written_is_a_warning_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, 5);
    let bundle = create_bundle(dir, "b.bundle", "true");
    let root = device(dir, "device");
    fs::create_dir_all(root.with_extension("state").join("status.json/occupied")).unwrap();
    let out = apply(dir, &bundle, &root, "in-use");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the status record") && err.contains("could not be written"),
        "{err}"
    );
}
