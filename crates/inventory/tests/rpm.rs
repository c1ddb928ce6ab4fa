//! The RPM collector on a root built in the test with rpmbuild and `rpm --root` (Debian's
//! `rpm` package), compared with `rpm -qa` on the same root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{now, run};
use medguard_inventory::{CollectOptions, Ecosystem, collect};

fn build(top: &Path, name: &str, version: &str, epoch: Option<u32>, file: &str) {
    let specs = top.join("SPECS");
    std::fs::create_dir_all(&specs).unwrap();
    let spec = specs.join(format!("{name}.spec"));
    let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: {version}\nRelease: 2.el9\n{epoch}Summary: fixture\nLicense: BSD-3-Clause\nVendor: ACME Medical\nBuildArch: x86_64\n%description\nfixture\n%install\nmkdir -p %{{buildroot}}$(dirname {file})\nprintf '#!/bin/sh\\n' > %{{buildroot}}{file}\n%files\n{file}\n"
        ),
    )
    .unwrap();
    let out = run(
        Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args([
                "--define",
                "debug_package %{nil}",
                "--define",
                "__os_install_post %{nil}",
                "-bb",
            ])
            .arg(&spec),
        "rpm",
    );
    assert!(
        out.status.success(),
        "rpmbuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rpm_packages_match_rpm_qa() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top");
    build(&top, "acme-storescp", "3.6.7", Some(1), "/usr/bin/storescp");
    build(&top, "acme-viewer", "4.2", None, "/opt/acme/bin/viewer");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n",
    )
    .unwrap();
    let rpms: Vec<_> = std::fs::read_dir(top.join("RPMS/x86_64"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let out = run(
        Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args([
                "--dbpath",
                "/var/lib/rpm",
                "--nodeps",
                "--noscripts",
                "--ignorearch",
                "--ignoreos",
                "-i",
            ])
            .args(&rpms),
        "rpm",
    );
    assert!(
        out.status.success(),
        "rpm -i: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        root.join("var/lib/rpm/rpmdb.sqlite").is_file(),
        "rpm did not write a sqlite rpmdb"
    );

    let out = run(
        Command::new("rpm").arg("--root").arg(&root).args([
            "--dbpath",
            "/var/lib/rpm",
            "-qa",
            "--qf",
            "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}\\n",
        ]),
        "rpm",
    );
    let theirs: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let c = collect(&CollectOptions {
        root: root.clone(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: now(),
    })
    .unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let mine: BTreeSet<String> = c
        .sbom
        .components
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c.name,
                c.version,
                c.arch.as_deref().unwrap_or(""),
                c.licenses.join(" ")
            )
        })
        .collect();
    assert_eq!(mine, theirs);
    let s = c
        .sbom
        .components
        .iter()
        .find(|c| c.name == "acme-storescp")
        .unwrap();
    assert_eq!(s.ecosystem.osv_name(), "AlmaLinux:9");
    assert!(matches!(s.ecosystem, Ecosystem::Rpm(_)));
    assert_eq!(
        s.purl.as_deref(),
        Some(
            "pkg:rpm/almalinux/acme-storescp@3.6.7-2.el9?arch=x86_64&distro=almalinux-9.4&epoch=1"
        )
    );
    assert_eq!(
        s.source_package.as_deref(),
        Some("acme-storescp-3.6.7-2.el9.src.rpm")
    );
    assert_eq!(s.supplier.as_deref(), Some("ACME Medical"));
    assert_eq!(c.files_indexed, 2, "each package's file list is indexed");
}

#[test]
fn a_corrupt_rpmdb_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("var/lib/rpm/rpmdb.sqlite");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, b"not a database at all").unwrap();
    let c = collect(&CollectOptions {
        root: dir.path().into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: now(),
    })
    .unwrap();
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(c.warnings[0].path, db);
}
