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
    let v = PathBuf::from(
        std::env::var("MEDGUARD_VENV").unwrap_or_else(|_| "/opt/medguard-venv".into()),
    );
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

/// A device image: dpkg packages with file lists (usr-merged), a Python distribution, an
/// npm package, a vendor file, and a `/proc` where `storescp` (package `dcmtk`) runs and
/// listens on 0.0.0.0:104 and `postgres` listens on loopback only.
pub fn device_root() -> (tempfile::TempDir, PathBuf) {
    let status = "Package: dcmtk\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.6.7-9~deb12u1\nMaintainer: Debian Med Packaging Team <debian-med-packaging@lists.alioth.debian.org>\nDescription: OFFIS DICOM toolkit command line utilities\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n\nPackage: postgresql-15\nStatus: install ok installed\nArchitecture: amd64\nVersion: 15.8-0+deb12u1\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n";
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let w = |p: &str, text: &str| {
        let path = r.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    w("var/lib/dpkg/status", status);
    w(
        "var/lib/dpkg/info/dcmtk.list",
        "/.\n/usr\n/usr/bin\n/usr/bin/storescp\n",
    );
    w(
        "var/lib/dpkg/info/libc6:amd64.list",
        "/lib/x86_64-linux-gnu/libc.so.6\n",
    );
    w(
        "var/lib/dpkg/info/postgresql-15.list",
        "/usr/lib/postgresql/15/bin/postgres\n",
    );
    w("var/lib/dpkg/info/tzdata.list", "/usr/share/zoneinfo/UTC\n");
    w("etc/os-release", DEBIAN_12);
    w("etc/hostname", "modality-7\n");
    std::fs::create_dir_all(r.join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
    w(
        "opt/acme/venv/lib/python3.11/site-packages/pydicom-2.4.4.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: pydicom\nVersion: 2.4.4\nAuthor-email: Darcy Mason <darcymason@gmail.com>\nLicense: MIT\n\nlong text\n",
    );
    w(
        "opt/acme/web/node_modules/@acme/viewer-ui/package.json",
        r#"{"name":"@acme/viewer-ui","version":"1.2.0","license":"SEE LICENSE IN EULA.txt"}"#,
    );
    let vendor = r.join("vendor.toml");
    std::fs::write(
        &vendor,
        "[[component]]\nname = \"acme-pacs-viewer\"\nversion = \"4.2.1\"\nsupplier = \"ACME Medical\"\ncpe = \"cpe:2.3:a:acme:pacs_viewer:4.2.1:*:*:*:*:*:*:*\"\nlicenses = [\"ACME EULA 3\"]\nhashes = [{ alg = \"SHA-256\", value = \"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\" }]\nfiles = [\"/opt/acme/bin/viewer\"]\n",
    )
    .unwrap();
    // /proc: 100 storescp (listens on 0.0.0.0:104, maps libc via /lib), 200 postgres
    // (127.0.0.1:5432), 300 viewer (vendor), 2 a kernel thread (no exe).
    let proc = r.join("proc");
    let pid = |n: u32, exe: &str, comm: &str, maps: &str, fds: &[&str]| {
        let d = proc.join(n.to_string());
        std::fs::create_dir_all(d.join("fd")).unwrap();
        std::os::unix::fs::symlink(exe, d.join("exe")).unwrap();
        std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(d.join("maps"), maps).unwrap();
        for (i, t) in fds.iter().enumerate() {
            std::os::unix::fs::symlink(t, d.join("fd").join(i.to_string())).unwrap();
        }
    };
    pid(
        100,
        "/usr/bin/storescp",
        "storescp",
        "55d0-55d1 r--p 00000000 08:01 1 /usr/bin/storescp\n7f00-7f01 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libc.so.6\n",
        &["/dev/null", "socket:[1001]"],
    );
    pid(
        200,
        "/usr/lib/postgresql/15/bin/postgres",
        "postgres",
        "",
        &["socket:[1002]", "socket:[9999]"],
    );
    pid(300, "/opt/acme/bin/viewer", "viewer", "", &[]);
    std::fs::create_dir_all(proc.join("2")).unwrap();
    std::fs::create_dir_all(proc.join("net")).unwrap();
    let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    std::fs::write(
        proc.join("net/tcp"),
        format!(
            "{header}   0: 00000000:0068 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0\n   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 1002 1 0 100 0 0 10 0\n   2: 0100007F:1538 0100007F:D000 01 00000000:00000000 00:00000000 00000000   105        0 9999 1 0 100 0 0 10 0\n"
        ),
    )
    .unwrap();
    std::fs::write(proc.join("net/udp"), format!("{header}   0: 00000000:00A1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3003 2 0 0\n")).unwrap();
    (dir, vendor)
}

/// Collects [`device_root`] with evidence.
pub fn device_collection() -> (tempfile::TempDir, medguard_inventory::Collection) {
    let (dir, vendor) = device_root();
    let c = medguard_inventory::collect(&medguard_inventory::CollectOptions {
        root: dir.path().into(),
        vendor: Some(vendor),
        evidence: true,
        device_model: Some("ACME CT 9000".into()),
        now: now(),
    })
    .unwrap();
    (dir, c)
}
