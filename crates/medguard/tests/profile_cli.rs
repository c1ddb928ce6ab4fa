//! The README's workflow, end to end through the binary: generate a key, profile a folder,
//! change it, and see exactly those changes; and every way a profile can be refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn setup(dir: &Path) {
    let root = dir.join("device");
    fs::create_dir_all(root.join("opt/vendor/bin")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("opt/vendor/bin/viewer"), "ELF...").unwrap();
    fs::write(root.join("etc/pacs.conf"), "aet=PACS\n").unwrap();
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.join("vendor"))
        .assert()
        .success();
    medguard()
        .args(["profile", "create"])
        .arg(&root)
        .arg("--out")
        .arg(dir.join("device.profile"))
        .arg("--key")
        .arg(dir.join("vendor.key"))
        .assert()
        .success();
}

fn verify(dir: &Path) -> Command {
    let mut c = medguard();
    c.args(["profile", "verify"])
        .arg(dir.join("device"))
        .arg("--profile")
        .arg(dir.join("device.profile"))
        .arg("--trust")
        .arg(dir.join("vendor.pub"));
    c
}

#[test]
fn profile_change_verify_reports_exactly_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = verify(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("CLEAN"));

    let root = dir.path().join("device");
    fs::write(root.join("etc/pacs.conf"), "aet=EVIL\n").unwrap();
    fs::write(root.join("opt/vendor/bin/implant"), "x").unwrap();
    fs::remove_file(root.join("opt/vendor/bin/viewer")).unwrap();

    let out = verify(dir.path()).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<(String, String, Vec<String>)> = report["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "/etc/pacs.conf".into(),
                "changed".into(),
                vec!["content".into()]
            ),
            ("/opt/vendor/bin/implant".into(), "added".into(), vec![]),
            ("/opt/vendor/bin/viewer".into(), "removed".into(), vec![]),
        ]
    );
    assert_eq!(report["summary"]["added"], 1);
    assert_eq!(report["summary"]["removed"], 1);
    assert_eq!(report["summary"]["changed"], 1);
    assert_eq!(report["summary"]["clean"], false);
}

#[test]
fn unsigned_foreign_and_altered_profiles_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    // Signed by another key.
    medguard()
        .args(["key", "generate", "--out"])
        .arg(d.join("intruder"))
        .assert()
        .success();
    let out = medguard()
        .args(["profile", "verify"])
        .arg(d.join("device"))
        .arg("--profile")
        .arg(d.join("device.profile"))
        .arg("--trust")
        .arg(d.join("intruder.pub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none of which is trusted"));

    // Altered after signing.
    let text = fs::read_to_string(d.join("device.profile")).unwrap();
    fs::write(
        d.join("device.profile"),
        text.replace("mode=0644", "mode=0666"),
    )
    .unwrap();
    let out = verify(d).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("altered"));

    // Truncated.
    fs::write(d.join("device.profile"), &text[..text.len() / 2]).unwrap();
    let out = verify(d).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Unsigned: refused, unless the lab switch is given, which warns loudly.
    medguard()
        .args(["profile", "create"])
        .arg(d.join("device"))
        .arg("--out")
        .arg(d.join("device.profile"))
        .assert()
        .success();
    let out = verify(d).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed"));
    let out = medguard()
        .args(["profile", "verify"])
        .arg(d.join("device"))
        .arg("--profile")
        .arg(d.join("device.profile"))
        .arg("--allow-unsigned")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT checked"));
}

#[test]
fn diff_export_and_mtree_verify_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    fs::write(d.join("device/etc/pacs.conf"), "aet=NEW\n").unwrap();
    medguard()
        .args(["profile", "create"])
        .arg(d.join("device"))
        .arg("--out")
        .arg(d.join("new.profile"))
        .arg("--key")
        .arg(d.join("vendor.key"))
        .arg("--sha256")
        .assert()
        .success();
    let out = medguard()
        .args(["profile", "diff"])
        .arg(d.join("device.profile"))
        .arg(d.join("new.profile"))
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deviations"][0]["path"], "/etc/pacs.conf");

    medguard()
        .args(["profile", "export", "--format", "mtree", "--profile"])
        .arg(d.join("new.profile"))
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .arg("--out")
        .arg(d.join("device.mtree"))
        .assert()
        .success();
    let mut v = medguard();
    v.args(["profile", "verify"])
        .arg(d.join("device"))
        .arg("--mtree")
        .arg(d.join("device.mtree"));
    v.assert().code(0);
    fs::write(d.join("device/etc/pacs.conf"), "aet=NEX\n").unwrap();
    let mut v = medguard();
    v.args(["profile", "verify", "--json"])
        .arg(d.join("device"))
        .arg("--mtree")
        .arg(d.join("device.mtree"));
    v.assert().code(1);
}

#[test]
fn key_generate_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.path().join("k"))
        .assert()
        .success();
    let out = medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}
