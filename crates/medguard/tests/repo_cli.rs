#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `medguard repo` and `medguard update install` end to end, against the real python-tuf
//! (PyPI `tuf==7.0.0` in the venv `.ci/install-deps` creates), `python3 -m http.server` on
//! loopback, and `faketime` (Debian `faketime`).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt as _;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuf/tests/python")
}

/// The venv's python with python-tuf; fails (never skips) when it is missing.
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("MEDGUARD_VENV")
        .map_or_else(|| PathBuf::from("/opt/medguard-venv"), PathBuf::from);
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args([
            "-c",
            "import tuf.ngclient, tuf.api.metadata, securesystemslib.signer",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python-tuf is missing from {}: run .ci/install-deps (PyPI tuf==7.0.0, securesystemslib[crypto]==1.4.0)",
        venv.display()
    );
    py
}

/// `python3 -m http.server` on a free loopback port, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn serve(dir: &Path) -> Self {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 (Debian python3) is needed to serve the repository");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected http.server banner {line:?}"))
            .to_owned();
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Lab {
    tmp: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        let lab = Self {
            tmp: tempfile::tempdir().unwrap(),
        };
        let st = medguard()
            .args(["key", "generate", "--out"])
            .arg(lab.p("vendor"))
            .output()
            .unwrap();
        assert!(st.status.success());
        let st = medguard()
            .args(["repo", "init"])
            .arg(lab.repo())
            .arg("--key")
            .arg(lab.p("vendor.key"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        lab
    }
    fn p(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    fn repo(&self) -> PathBuf {
        self.p("repo")
    }
    fn add_and_publish(&self, bundle: &Path, model: &str, version: &str) {
        let out = medguard()
            .args(["repo", "add"])
            .arg(self.repo())
            .arg(bundle)
            .args(["--model", model, "--bundle-version", version])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = medguard()
            .args(["repo", "publish"])
            .arg(self.repo())
            .arg("--key")
            .arg(self.p("vendor.key"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fn fetch(&self, url: &str, trust: &Path, device: &str) -> std::process::Output {
        medguard()
            .args([
                "repo", "fetch", "--repo", url, "--model", "CT-9000", "--json", "--trust",
            ])
            .arg(trust)
            .arg("--metadata-dir")
            .arg(self.p(device).join("tuf"))
            .arg("--out")
            .arg(self.p(device).join("downloads"))
            .output()
            .unwrap()
    }
}

#[test]
fn repository_made_by_medguard_is_read_by_python_tuf_over_http() {
    let py = venv_python();
    let lab = Lab::new();
    std::fs::write(lab.p("ct-1.0.mgb"), b"bundle one").unwrap();
    lab.add_and_publish(&lab.p("ct-1.0.mgb"), "CT-9000", "1.0");
    let server = Server::serve(&lab.repo());
    let out = Command::new(py)
        .arg(python_dir().join("client.py"))
        .arg(&server.url)
        .arg(lab.repo().join("metadata/1.root.json"))
        .arg(lab.p("py-device/tuf"))
        .arg(lab.p("py-device/downloads"))
        .arg("CT-9000/ct-1.0.mgb")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-tuf refused: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        std::fs::read(v["path"].as_str().unwrap()).unwrap(),
        b"bundle one"
    );
    assert_eq!(v["custom"]["medguard"]["bundle_version"], "1.0");
    assert_eq!(v["custom"]["medguard"]["model"], "CT-9000");
}

#[test]
fn repository_made_by_python_tuf_is_read_by_medguard_over_http() {
    let py = venv_python();
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("pyrepo");
    for (f, body) in [("ct-2.0.mgb", "two"), ("ct-10.0.mgb", "ten")] {
        std::fs::write(tmp.path().join(f), body).unwrap();
    }
    let st = Command::new(py)
        .arg(python_dir().join("make_repo.py"))
        .arg(&repo)
        .arg("CT-9000")
        .arg(tmp.path().join("ct-2.0.mgb"))
        .arg("2.0")
        .arg(tmp.path().join("ct-10.0.mgb"))
        .arg("10.0")
        .status()
        .unwrap();
    assert!(st.success());
    let server = Server::serve(&repo);
    let out = medguard()
        .args([
            "repo",
            "fetch",
            "--repo",
            &server.url,
            "--model",
            "CT-9000",
            "--json",
            "--trust",
        ])
        .arg(repo.join("metadata/1.root.json"))
        .arg("--metadata-dir")
        .arg(tmp.path().join("dev/tuf"))
        .arg("--out")
        .arg(tmp.path().join("dev/dl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bundle_version"], "10.0");
    assert_eq!(std::fs::read(v["path"].as_str().unwrap()).unwrap(), b"ten");
}

#[test]
fn tampered_target_over_http_is_refused_and_nothing_is_written() {
    let lab = Lab::new();
    std::fs::write(lab.p("ct.mgb"), b"genuine").unwrap();
    lab.add_and_publish(&lab.p("ct.mgb"), "CT-9000", "1.0");
    let dir = lab.repo().join("targets/CT-9000");
    let target = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&target).unwrap();
    std::fs::write(&target, b"evil!!!").unwrap();
    let server = Server::serve(&lab.repo());
    let out = lab.fetch(&server.url, &lab.repo().join("metadata/1.root.json"), "dev");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hash mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(lab.p("dev/downloads")).unwrap().count(),
        0
    );
}

#[test]
fn expired_metadata_is_refused_under_faketime() {
    let lab = Lab::new();
    std::fs::write(lab.p("ct.mgb"), b"genuine").unwrap();
    lab.add_and_publish(&lab.p("ct.mgb"), "CT-9000", "1.0");
    let found = Command::new("faketime").arg("--version").output();
    assert!(
        found.is_ok(),
        "faketime is missing: run .ci/install-deps (Debian package faketime)"
    );
    // Eight days on, the 7-day timestamp has expired; the system clock says so.
    let out = Command::new("faketime")
        .args(["-f", "+8d"])
        .arg(assert_cmd::cargo::cargo_bin("medguard"))
        .args(["repo", "fetch", "--model", "CT-9000", "--repo"])
        .arg(format!("file://{}", lab.repo().display()))
        .arg("--trust")
        .arg(lab.repo().join("metadata/1.root.json"))
        .arg("--metadata-dir")
        .arg(lab.p("dev/tuf"))
        .arg("--out")
        .arg(lab.p("dev/downloads"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("timestamp metadata expired"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(lab.p("dev/downloads")).unwrap().count(),
        0
    );
    // Today it is fine.
    let out = lab.fetch(
        &format!("file://{}", lab.repo().display()),
        &lab.repo().join("metadata/1.root.json"),
        "dev2",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_tree(root: &Path, version: &str) {
    std::fs::create_dir_all(root.join("opt/app")).unwrap();
    std::fs::write(root.join("opt/app/viewer"), format!("viewer {version}\n")).unwrap();
    std::fs::write(root.join("opt/app/config"), "setting=1\n").unwrap();
}

#[test]
fn update_install_fetches_through_tuf_and_installs_only_when_idle() {
    let lab = Lab::new();
    let (old, new) = (lab.p("old"), lab.p("new"));
    write_tree(&old, "1.0");
    write_tree(&new, "1.1");
    let bundle = lab.p("ct-1.1.mgb");
    let out = medguard()
        .args([
            "bundle",
            "create",
            "--model",
            "CT-9000",
            "--self-test",
            "true",
            "--from",
        ])
        .arg(&old)
        .arg("--to")
        .arg(&new)
        .arg("--out")
        .arg(&bundle)
        .arg("--key")
        .arg(lab.p("vendor.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A bundle signed by another key is refused at the repository already.
    let out = medguard()
        .args(["key", "generate", "--out"])
        .arg(lab.p("other"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let add = |key: &str| {
        medguard()
            .args(["repo", "add"])
            .arg(lab.repo())
            .arg(&bundle)
            .arg("--bundle-key")
            .arg(lab.p(key))
            .output()
            .unwrap()
    };
    let out = add("other.pub");
    assert_eq!(out.status.code(), Some(2));
    // Signed by the vendor: version and model come from the bundle's manifest.
    let out = add("vendor.pub");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("staged CT-9000/ct-1.1.mgb"));
    let out = medguard()
        .args(["repo", "publish"])
        .arg(lab.repo())
        .arg("--key")
        .arg(lab.p("vendor.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::serve(&lab.repo());

    let device = lab.p("device");
    write_tree(&device, "1.0");
    let state = lab.p("clinical-state");
    let install = || {
        medguard()
            .args([
                "update",
                "install",
                "--model",
                "CT-9000",
                "--repo",
                &server.url,
                "--trust",
            ])
            .arg(lab.repo().join("metadata/1.root.json"))
            .arg("--metadata-dir")
            .arg(lab.p("device-tuf"))
            .arg("--bundle-key")
            .arg(lab.p("vendor.pub"))
            .arg("--root")
            .arg(&device)
            .arg("--state-dir")
            .arg(lab.p("device-state"))
            .arg("--clinical-state")
            .arg(format!("file:{}", state.display()))
            .output()
            .unwrap()
    };
    std::fs::write(&state, "in-use\n").unwrap();
    let out = install();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(device.join("opt/app/viewer")).unwrap(),
        "viewer 1.0\n"
    );

    std::fs::write(&state, "idle\n").unwrap();
    let out = install();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verified through TUF"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(device.join("opt/app/viewer")).unwrap(),
        "viewer 1.1\n"
    );
}
