//! dpkg collection against the fixtures in shared/data/dpkg-status (expected results from
//! its README) and against `dpkg-query` itself on the same root.
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

use common::{DEBIAN_12, dpkg_root, now, run, shared_data};
use medguard_inventory::dpkg::{is_installed, parse_status};
use medguard_inventory::{CollectOptions, Ecosystem, Warning, collect};

fn fixture(name: &str) -> std::path::PathBuf {
    shared_data().join("dpkg-status").join(name)
}

fn installed(path: &Path) -> (Vec<(String, String)>, Vec<Warning>) {
    let mut w = Vec::new();
    let text = std::fs::read(path).unwrap();
    let from_d = path.parent().unwrap().ends_with("status.d");
    let p = parse_status(&text, path, &mut w)
        .into_iter()
        .filter(|p| is_installed(p, from_d))
        .map(|p| (p.name, p.version))
        .collect();
    (p, w)
}

fn names(v: &[(String, String)]) -> Vec<String> {
    v.iter().map(|(n, v)| format!("{n} {v}")).collect()
}

#[test]
fn osv_scalibr_fixtures_give_the_expected_packages() {
    let (p, w) = installed(&fixture("osv-scalibr-fixtures/valid"));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        names(&p),
        [
            "accountsservice 22.08.8-6",
            "acl 2.3.1-3",
            "adduser 3.131",
            "admin-session 2023.06.26.c543406313-00",
            "attr 1:2.5.1-4",
            "libacl1 2.3.1-3",
            "util-linux-extra 2.38.1-5+b1"
        ]
    );
    for f in ["single", "trailingnewlines"] {
        assert_eq!(
            names(&installed(&fixture(&format!("osv-scalibr-fixtures/{f}"))).0),
            ["acl 2.3.1-3"]
        );
    }
    for f in ["noversion", "nopackage"] {
        let (p, w) = installed(&fixture(&format!("osv-scalibr-fixtures/{f}")));
        assert_eq!(names(&p), ["foo 1.0", "bar 2.0"], "{f}");
        assert_eq!(w.len(), 1, "{f}: the skipped stanza is a warning: {w:?}");
        assert!(w[0].line.is_some());
    }
    let (p, _) = installed(&fixture("osv-scalibr-fixtures/statusfield"));
    assert_eq!(
        p.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        [
            "wantinstall_installed",
            "wantdeinstall_installed",
            "wantpurge_installed"
        ]
    );
    assert_eq!(
        names(&installed(&fixture("osv-scalibr-fixtures/status.d/foo")).0),
        ["foo 1.2.3"]
    );
    let (p, w) = installed(&fixture("osv-scalibr-fixtures/status.d/foo.md5sums"));
    assert!(p.is_empty());
    assert!(!w.is_empty());
    let (p, w) = installed(&fixture("osv-scalibr-fixtures/empty"));
    assert!(p.is_empty() && w.is_empty());
    let (p, w) = installed(&fixture("osv-scalibr-fixtures/invalid"));
    assert!(p.is_empty());
    assert!(!w.is_empty(), "garbage must be reported");
}

#[test]
fn transitional_packages_are_flagged() {
    for (f, name) in [
        ("transitional", "iceweasel"),
        ("transitional_dummy", "git-core"),
        ("transitional_empty", "runit-systemd"),
    ] {
        let mut w = Vec::new();
        let path = fixture(&format!("osv-scalibr-fixtures/{f}"));
        let p = parse_status(&std::fs::read(&path).unwrap(), &path, &mut w);
        let pkg = p.iter().find(|p| p.name == name).unwrap();
        assert!(pkg.transitional, "{f}");
    }
}

#[test]
fn source_and_purl_of_a_binnmu() {
    let root = dpkg_root(&fixture("osv-scalibr-fixtures/valid"), DEBIAN_12);
    let c = collect(&CollectOptions {
        root: root.path().into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: now(),
    })
    .unwrap();
    let u = c
        .sbom
        .components
        .iter()
        .find(|c| c.name == "util-linux-extra")
        .unwrap();
    assert_eq!(u.ecosystem.osv_name(), "Debian:12");
    assert_eq!(u.source_package.as_deref(), Some("util-linux"));
    assert_eq!(u.source_version.as_deref(), Some("2.38.1-5"));
    let l = c
        .sbom
        .components
        .iter()
        .find(|c| c.name == "libacl1")
        .unwrap();
    assert_eq!(
        l.purl.as_deref(),
        Some("pkg:deb/debian/libacl1@2.3.1-3?arch=amd64&distro=debian-12&upstream=acl")
    );
    let a = c.sbom.components.iter().find(|c| c.name == "attr").unwrap();
    assert_eq!(
        a.purl.as_deref(),
        Some("pkg:deb/debian/attr@1:2.5.1-4?arch=amd64&distro=debian-12")
    );
}

/// What dpkg-query says is installed (`?i` abbreviated status) under `admindir`.
fn dpkg_query(admindir: &Path) -> BTreeSet<String> {
    let out = run(
        Command::new("dpkg-query")
            .arg("--admindir")
            .arg(admindir)
            .args([
                "-W",
                "-f",
                "${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n",
            ]),
        "dpkg",
    );
    assert!(
        out.status.success(),
        "dpkg-query: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            // db:Status-Abbrev: desired, status, error flag; status `i` = installed.
            (f.get(3).and_then(|s| s.chars().nth(1)) == Some('i'))
                .then(|| format!("{} {} {}", f[0], f[1], f[2]))
        })
        .collect()
}

fn ours(root: &Path) -> (BTreeSet<String>, Vec<Warning>) {
    let c = collect(&CollectOptions {
        root: root.into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: now(),
    })
    .unwrap();
    let set = c
        .sbom
        .components
        .iter()
        .filter(|c| matches!(c.ecosystem, Ecosystem::Debian(_)))
        .map(|c| {
            format!(
                "{} {} {}",
                c.name,
                c.version,
                c.arch.as_deref().unwrap_or("")
            )
        })
        .collect();
    (set, c.warnings)
}

#[test]
fn same_packages_as_dpkg_query_on_fixture_roots() {
    for (f, expected) in [
        ("local-debian-12/status", 737),
        ("trivy-ubuntu-18.04/status", 90),
        ("osv-scalibr-fixtures/statusfield", 3),
    ] {
        let root = dpkg_root(&fixture(f), DEBIAN_12);
        let theirs = dpkg_query(&root.path().join("var/lib/dpkg"));
        let (mine, _) = ours(root.path());
        assert_eq!(mine, theirs, "{f}");
        assert_eq!(mine.len(), expected, "{f}");
    }
}

#[test]
fn half_installed_packages_are_warned_about() {
    let root = dpkg_root(&fixture("osv-scalibr-fixtures/statusfield"), DEBIAN_12);
    let (_, w) = ours(root.path());
    let text: Vec<String> = w.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.contains("is unpacked")), "{text:?}");
    assert!(
        text.iter().any(|t| t.contains("is half-installed")),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.contains("config-files")), "{text:?}");
}

#[test]
fn same_packages_as_dpkg_query_on_this_machine() {
    let theirs = dpkg_query(Path::new("/var/lib/dpkg"));
    let (mine, _) = ours(Path::new("/"));
    assert_eq!(mine, theirs);
}

#[test]
fn a_broken_status_file_warns_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    std::fs::write(
        &status,
        "Package: good\nStatus: install ok installed\nVersion: 1\n\n continuation without field\nPackage: nover\nStatus: install ok installed\n\nnot a field\nPackage: also-good\nStatus: install ok installed\nVersion: 2\n",
    )
    .unwrap();
    let root = dpkg_root(&status, DEBIAN_12);
    let (mine, w) = ours(root.path());
    assert_eq!(
        mine.into_iter().collect::<Vec<_>>(),
        ["also-good 2 ", "good 1 "]
    );
    let lines: Vec<Option<usize>> = w.iter().map(|w| w.line).collect();
    assert_eq!(lines, [Some(5), Some(5), Some(9)], "{w:?}");
    assert!(w.iter().all(|w| w.path.ends_with("var/lib/dpkg/status")));
}

#[test]
fn file_lists_map_files_with_usr_merge() {
    let root = dpkg_root(&fixture("osv-scalibr-fixtures/valid"), DEBIAN_12);
    let info = root.path().join("var/lib/dpkg/info");
    std::fs::write(
        info.join("acl.list"),
        "/.\n/bin\n/bin/getfacl\n/usr/bin/chacl\n",
    )
    .unwrap();
    std::fs::write(
        info.join("libacl1:amd64.list"),
        "/lib/x86_64-linux-gnu/libacl.so.1\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("usr/bin", root.path().join("bin")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.path().join("lib")).unwrap();
    let c = collect(&CollectOptions {
        root: root.path().into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: now(),
    })
    .unwrap();
    assert!(c.files_indexed >= 5, "{}", c.files_indexed);
}
