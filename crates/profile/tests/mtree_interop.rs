//! Interoperability with the real mtree tools: libarchive's `bsdtar --format=mtree` and
//! NetBSD's `mtree` (Debian packages libarchive-tools and mtree-netbsd).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use medguard_profile::{
    Attribute, CreateOptions, DeviationKind, Progress, Rules, VerifiedProfile, WalkOptions, create,
    mtree, verify_tree,
};

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: install Debian packages libarchive-tools and mtree-netbsd (.ci/run does)"
    );
    Command::new(name)
}

fn tree(root: &Path) {
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir_all(root.join("sp ace")).unwrap();
    fs::write(root.join("usr/bin/viewer"), vec![1u8; 70_000]).unwrap();
    fs::write(root.join("sp ace/f#=1"), "x").unwrap();
    fs::write(root.join(std::ffi::OsStr::new("caf\u{e9}")), "utf-8 name").unwrap();
    symlink("viewer", root.join("usr/bin/v")).unwrap();
}

fn verify_with_spec(root: &Path, spec: &[u8]) -> medguard_profile::Report {
    let spec = mtree::parse(spec).unwrap();
    verify_tree(
        root,
        &spec.into_baseline(),
        WalkOptions::default(),
        &Progress::default(),
    )
    .unwrap()
}

#[test]
fn a_spec_written_by_bsdtar_verifies_and_catches_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    tree(&root);
    let out = tool("bsdtar")
        .current_dir(&root)
        .args([
            "--format=mtree",
            "--options",
            "mtree:sha256",
            "-cf",
            "-",
            ".",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sha256digest="));
    let r = verify_with_spec(&root, &out.stdout);
    assert!(r.is_clean(), "{:?}", r.deviations);
    assert_eq!(r.summary.expected_entries, 8);

    fs::write(root.join("usr/bin/viewer"), vec![2u8; 70_000]).unwrap();
    fs::write(root.join("usr/bin/implant"), "x").unwrap();
    let r = verify_with_spec(&root, &out.stdout);
    let got: Vec<_> = r
        .deviations
        .iter()
        .map(|d| {
            (
                String::from_utf8_lossy(&d.path).into_owned(),
                d.kind,
                d.attributes.clone(),
            )
        })
        .filter(|(p, _, _)| p != "/usr/bin")
        .collect();
    assert_eq!(
        got,
        vec![
            ("/usr/bin/implant".to_owned(), DeviationKind::Added, vec![]),
            (
                "/usr/bin/viewer".to_owned(),
                DeviationKind::Changed,
                vec![Attribute::Content, Attribute::Mtime]
            ),
        ]
    );
}

#[test]
fn a_spec_written_by_netbsd_mtree_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    tree(&root);
    let out = tool("mtree")
        .args(["-c", "-K", "sha256digest", "-p"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = verify_with_spec(&root, &out.stdout);
    assert!(r.is_clean(), "{:?}", r.deviations);
    fs::remove_file(root.join("sp ace/f#=1")).unwrap();
    let r = verify_with_spec(&root, &out.stdout);
    assert_eq!(r.summary.removed, 1);
}

/// NetBSD `mtree -p ROOT -f SPEC`: checks the tree against the spec.
fn netbsd_mtree_check(root: &Path, spec: &Path) -> std::process::Output {
    tool("mtree")
        .arg("-p")
        .arg(root)
        .arg("-f")
        .arg(spec)
        .output()
        .unwrap()
}

fn own_profile(root: &Path) -> VerifiedProfile {
    let (p, problems) = create(
        root,
        CreateOptions {
            rules: Rules::default(),
            sha256: true,
            walk: WalkOptions::default(),
            created_unix: 0,
        },
        &Progress::default(),
    )
    .unwrap();
    assert!(problems.is_empty());
    VerifiedProfile::from_own(p)
}

#[test]
fn our_export_is_accepted_by_bsdtar_and_by_netbsd_mtree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    tree(&root);
    let (spec, with_digests) = mtree::export(&own_profile(&root));
    assert!(with_digests);
    let spec_path = dir.path().join("spec.mtree");
    fs::write(&spec_path, &spec).unwrap();

    let listed = tool("bsdtar").arg("-tf").arg(&spec_path).output().unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let names = String::from_utf8_lossy(&listed.stdout);
    assert!(names.contains("./usr/bin/viewer"), "{names}");
    assert_eq!(names.lines().count(), 8);

    let checked = netbsd_mtree_check(&root, &spec_path);
    assert!(
        checked.status.success(),
        "mtree rejected our spec: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // And mtree sees a change through our digests.
    fs::write(root.join("usr/bin/viewer"), vec![3u8; 70_000]).unwrap();
    let checked = netbsd_mtree_check(&root, &spec_path);
    assert!(!checked.status.success());
    assert!(String::from_utf8_lossy(&checked.stdout).contains("sha256"));

    // Our own parser reads our own export back.
    let back = mtree::parse(spec.as_bytes()).unwrap();
    assert_eq!(back.entries().len(), 8);
}
