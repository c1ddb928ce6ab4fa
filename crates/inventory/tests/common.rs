//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `/work/shared/data` (or `$MEDGUARD_SHARED_DATA`): the project's third-party test data.
pub fn shared_data() -> PathBuf {
    if let Ok(p) = std::env::var("MEDGUARD_SHARED_DATA") {
        return PathBuf::from(p);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for up in here.ancestors() {
        let c = up.join("shared/data");
        if c.is_dir() {
            return c;
        }
    }
    PathBuf::from("/work/shared/data")
}

/// Runs `cmd`, failing the test with the Debian package to install when the tool is missing.
pub fn run(cmd: &mut Command, package: &str) -> std::process::Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run {:?} ({e}): install the `{package}` package (.ci/install-deps does)",
            cmd.get_program()
        ),
    }
}

/// The Python venv with the official SBOM validators.
pub fn venv() -> PathBuf {
    let v = PathBuf::from(std::env::var("MEDGUARD_VENV").unwrap_or_else(|_| "/opt/medguard-venv".into()));
    assert!(
        v.join("bin/python").exists(),
        "no Python venv at {}: run .ci/install-deps (pip packages cyclonedx-python-lib[json-validation], spdx-tools)",
        v.display()
    );
    v
}

pub fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-23 12:00:00 UTC)
}

/// A root with a dpkg status file (and os-release) copied from `status`.
pub fn dpkg_root(status: &Path, os_release: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::create_dir_all(admin.join("updates")).unwrap();
    std::fs::copy(status, admin.join("status")).unwrap();
    std::fs::write(admin.join("available"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/os-release"), os_release).unwrap();
    dir
}

pub const DEBIAN_12: &str = "ID=debian\nVERSION_ID=\"12\"\n";
