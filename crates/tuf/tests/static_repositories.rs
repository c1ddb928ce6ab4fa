//! Real repositories made by other implementations (Sigstore's root-signing, tuf-on-ci),
//! read by medguard's client through the conformance-client binary, at the time each
//! repository was valid (`faketime`, Debian package `faketime`, as the suite does).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn client() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tuf-conformance-client"))
}

fn read_trimmed(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap().trim().to_owned()
}

/// Walks the repository at its own time; returns the metadata dir and the download.
fn load(repo: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = data(repo);
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("meta");
    let st = client()
        .arg("--metadata-dir")
        .arg(&meta)
        .arg("init")
        .arg(dir.join("initial_root.json"))
        .status()
        .unwrap();
    assert!(st.success());
    let when = read_trimmed(&dir.join("faketime"));
    let target = read_trimmed(&dir.join("targetpath"));
    let out = Command::new("faketime")
        .arg(&when)
        .arg(env!("CARGO_BIN_EXE_tuf-conformance-client"))
        .arg("--metadata-dir")
        .arg(&meta)
        .arg("--metadata-url")
        .arg(format!("file://{}/metadata", dir.display()))
        .args(["--target-name", &target, "--target-dir"])
        .arg(tmp.path().join("targets"))
        .arg("--target-base-url")
        .arg(format!("file://{}/targets", dir.display()))
        .arg("download")
        .output()
        .expect("faketime is missing: run .ci/install-deps (Debian package faketime)");
    assert!(
        out.status.success(),
        "{repo}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: String = target.replace('/', "%2F");
    (tmp, PathBuf::from(file))
}

fn root_version(meta: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join("root.json")).unwrap()).unwrap();
    v["signed"]["version"].as_u64().unwrap()
}

#[test]
fn sigstore_root_chain_v1_to_v12_is_followed() {
    let (tmp, file) = load("sigstore-root-signing");
    assert_eq!(root_version(&tmp.path().join("meta")), 12);
    let got = std::fs::read(tmp.path().join("targets").join(file)).unwrap();
    let dir = data("sigstore-root-signing/targets");
    let expected = std::fs::read_dir(dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(got, std::fs::read(expected).unwrap());
}

#[test]
fn tuf_on_ci_repository_with_a_delegation_loads() {
    let (tmp, file) = load("tuf-on-ci-0.11");
    assert!(tmp.path().join("targets").join(file).is_file());
}

#[test]
fn today_the_sigstore_snapshot_is_expired() {
    let dir = data("sigstore-root-signing");
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("meta");
    assert!(
        client()
            .arg("--metadata-dir")
            .arg(&meta)
            .arg("init")
            .arg(dir.join("initial_root.json"))
            .status()
            .unwrap()
            .success()
    );
    let out = client()
        .arg("--metadata-dir")
        .arg(&meta)
        .arg("--metadata-url")
        .arg(format!("file://{}/metadata", dir.display()))
        .arg("refresh")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expired"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
