//! End-to-end checks of profiling and verifying real trees on this machine's file system.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::Path;

use medguard_profile::{
    Attribute, Baseline, CreateOptions, DeviationKind, Progress, Report, Rules, VerifiedProfile,
    WalkOptions, create, verify_tree,
};

fn profile(root: &Path, rules: &str) -> VerifiedProfile {
    let (p, problems) = create(
        root,
        CreateOptions {
            rules: Rules::from_toml(rules).unwrap(),
            sha256: false,
            walk: WalkOptions::default(),
            created_unix: 0,
        },
        &Progress::default(),
    )
    .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // Through the text format, as a device would read it.
    let text = p.to_text();
    medguard_profile::UnverifiedProfile::parse(&text)
        .unwrap()
        .accept_unsigned()
        .unwrap()
}

fn verify(root: &Path, p: &VerifiedProfile) -> Report {
    verify_tree(
        root,
        &Baseline::from_profile(p.clone()),
        WalkOptions::default(),
        &Progress::default(),
    )
    .unwrap()
}

/// (path, kind, attributes) triples, for exact comparison.
fn found(r: &Report) -> Vec<(String, DeviationKind, Vec<Attribute>)> {
    r.deviations
        .iter()
        .map(|d| {
            (
                String::from_utf8_lossy(&d.path).into_owned(),
                d.kind,
                d.attributes.clone(),
            )
        })
        .collect()
}

fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("var/log")).unwrap();
    fs::create_dir_all(root.join("proc/1")).unwrap();
    fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    fs::write(root.join("etc/keep"), "same size\n").unwrap();
    fs::write(root.join("bin/tool"), vec![7u8; 300_000]).unwrap();
    fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("var/log/messages"), "boot\n").unwrap();
    fs::write(root.join("proc/1/status"), "ephemeral").unwrap();
    symlink("tool", root.join("bin/alias")).unwrap();
    fs::hard_link(root.join("bin/tool"), root.join("bin/tool-hard")).unwrap();
}

const RULES: &str = r#"
[[rule]]
path = "/proc"
skip = true
[[rule]]
path = "/var/log/**"
ignore = ["content", "size", "mtime"]
growing = true
"#;

#[test]
fn a_profiled_tree_verifies_clean() {
    let dir = tempfile::tempdir().unwrap();
    sample_tree(dir.path());
    let p = profile(dir.path(), RULES);
    assert!(
        p.profile().get(b"/proc").is_none(),
        "skipped paths are not recorded"
    );
    assert!(
        p.profile()
            .get(b"/bin/tool-hard")
            .unwrap()
            .extra()
            .hardlink
            .is_some()
    );
    let r = verify(dir.path(), &p);
    assert!(r.is_clean(), "{:?}", r.deviations);
    assert_eq!(r.summary.expected_entries, r.summary.actual_entries);
}

#[test]
fn exactly_the_changes_made_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sample_tree(root);
    let p = profile(root, RULES);

    // Same size, other content: only a digest can tell.
    fs::write(root.join("etc/keep"), "SAME SIZE\n").unwrap();
    fs::set_permissions(root.join("etc/hosts"), fs::Permissions::from_mode(0o666)).unwrap();
    fs::remove_file(root.join("bin/alias")).unwrap();
    symlink("/tmp/evil", root.join("bin/alias")).unwrap();
    fs::write(root.join("bin/dropper"), "malware").unwrap();
    // Breaking the hard link: tool-hard becomes a separate copy with the same content.
    fs::remove_file(root.join("bin/tool-hard")).unwrap();
    fs::copy(root.join("bin/tool"), root.join("bin/tool-hard")).unwrap();
    // A growing log is fine, and so is anything below a skipped directory.
    fs::write(root.join("var/log/messages"), "boot\nmore\n").unwrap();
    fs::write(root.join("proc/1/status"), "changed").unwrap();
    fs::remove_dir_all(root.join("var/log")).unwrap_or(());
    fs::create_dir_all(root.join("var/log")).unwrap();
    fs::write(root.join("var/log/messages"), "boot\nmore\n").unwrap();

    let r = verify(root, &p);
    let mut got = found(&r);
    // The parent directories' modification times change too, but mtime is not checked by
    // default.
    got.retain(|(p, _, _)| p != "/bin");
    assert_eq!(
        got,
        vec![
            (
                "/bin/alias".into(),
                DeviationKind::Changed,
                vec![Attribute::Target]
            ),
            ("/bin/dropper".into(), DeviationKind::Added, vec![]),
            (
                "/bin/tool-hard".into(),
                DeviationKind::Changed,
                vec![Attribute::Hardlink]
            ),
            (
                "/etc/hosts".into(),
                DeviationKind::Changed,
                vec![Attribute::Mode]
            ),
            (
                "/etc/keep".into(),
                DeviationKind::Changed,
                vec![Attribute::Content]
            ),
        ]
    );
    assert_eq!(r.summary.added, 1);
    assert_eq!(r.summary.changed, 4);
}

#[test]
fn a_shrinking_log_and_a_removed_file_and_a_type_change_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sample_tree(root);
    let p = profile(root, RULES);
    fs::write(root.join("var/log/messages"), "").unwrap();
    fs::remove_file(root.join("etc/hosts")).unwrap();
    fs::remove_file(root.join("etc/keep")).unwrap();
    fs::create_dir(root.join("etc/keep")).unwrap();
    let got = found(&verify(root, &p));
    assert!(got.contains(&(
        "/var/log/messages".into(),
        DeviationKind::Changed,
        vec![Attribute::Size]
    )));
    assert!(got.contains(&("/etc/hosts".into(), DeviationKind::Removed, vec![])));
    assert!(got.contains(&(
        "/etc/keep".into(),
        DeviationKind::Changed,
        vec![Attribute::Type]
    )));
}

/// A temporary directory whose file system takes user extended attributes: the usual one
/// (ext4, xfs, btrfs), else one in `/dev/shm` (tmpfs has them since Linux 6.6). None at all
/// fails the test: it must not pass without having looked at an attribute.
fn dir_with_user_xattrs() -> tempfile::TempDir {
    let mut tried = Vec::new();
    for parent in [std::env::temp_dir(), "/dev/shm".into()] {
        let Ok(dir) = tempfile::tempdir_in(&parent) else {
            tried.push(format!("{}: cannot create a directory", parent.display()));
            continue;
        };
        let probe = dir.path().join("probe");
        fs::write(&probe, "").unwrap();
        match xattr::set(&probe, "user.medguard.probe", b"1") {
            Ok(()) => {
                fs::remove_file(&probe).unwrap();
                return dir;
            }
            Err(e) => tried.push(format!("{}: {e}", parent.display())),
        }
    }
    panic!("no file system with user xattrs to test on: {tried:?}");
}

#[test]
fn extended_attributes_are_part_of_the_profile() {
    let dir = dir_with_user_xattrs();
    let root = dir.path();
    fs::write(root.join("f"), "x").unwrap();
    xattr::set(root.join("f"), "user.medguard.test", b"1").unwrap();
    let p = profile(root, "");
    assert_eq!(p.profile().get(b"/f").unwrap().extra().xattrs.len(), 1);
    xattr::set(root.join("f"), "user.medguard.test", b"2").unwrap();
    let got = found(&verify(root, &p));
    assert_eq!(
        got,
        vec![("/f".into(), DeviationKind::Changed, vec![Attribute::Xattrs])]
    );
}

#[test]
fn hostile_names_links_and_special_files_are_recorded_not_followed() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let names: [&[u8]; 5] = [
        b"new\nline",
        b"\xff\xfe not utf8",
        b"sp ace",
        b"#hash=eq\\",
        b"-",
    ];
    for n in names {
        fs::write(root.join(std::ffi::OsStr::from_bytes(n)), n).unwrap();
    }
    // A symbolic link loop and a link to the root: never followed.
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    symlink(".", root.join("self")).unwrap();
    // A FIFO: opening it would block the walk forever.
    assert!(
        std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    let p = profile(root, "");
    for n in names {
        let mut path = b"/".to_vec();
        path.extend_from_slice(n);
        assert!(
            p.profile().get(&path).is_some(),
            "{}",
            String::from_utf8_lossy(n)
        );
    }
    assert_eq!(
        p.profile().get(b"/pipe").unwrap().meta.kind,
        medguard_profile::EntryKind::Fifo
    );
    assert!(verify(root, &p).is_clean());
    fs::write(root.join(std::ffi::OsStr::from_bytes(b"new\nline")), "X").unwrap();
    let r = verify(root, &p);
    assert_eq!(r.deviations.len(), 1);
    assert_eq!(&*r.deviations[0].path, b"/new\nline");
}

#[test]
fn a_sparse_file_is_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let f = fs::File::create(dir.path().join("disk.img")).unwrap();
    // 1 GiB of holes: reading it whole into memory would show in the test's footprint,
    // streaming it does not.
    f.set_len(1 << 30).unwrap();
    let p = profile(dir.path(), "");
    let e = p.profile().get(b"/disk.img").unwrap();
    assert_eq!(e.meta.size, 1 << 30);
    let mut h = blake3::Hasher::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        h.update(&zeros);
    }
    assert_eq!(e.blake3.unwrap(), *h.finalize().as_bytes());
}

/// Needs root (`CAP_MKNOD`), as the tests have in CI; without it the test fails rather
/// than passing untested.
#[test]
fn device_files_record_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("mknod")
        .arg(dir.path().join("null"))
        .args(["c", "1", "3"])
        .output()
        .expect("mknod(1) is installed");
    assert!(
        made.status.success(),
        "mknod needs root to make a device node: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let p = profile(dir.path(), "");
    let e = p.profile().get(b"/null").unwrap();
    assert_eq!(e.meta.kind, medguard_profile::EntryKind::CharDevice);
    assert_eq!(e.meta.rdev, (1, 3));
    fs::remove_file(dir.path().join("null")).unwrap();
    assert!(
        std::process::Command::new("mknod")
            .arg(dir.path().join("null"))
            .args(["c", "1", "5"])
            .status()
            .unwrap()
            .success()
    );
    let got = found(&verify(dir.path(), &p));
    assert_eq!(
        got,
        vec![(
            "/null".into(),
            DeviationKind::Changed,
            vec![Attribute::Device]
        )]
    );
}

#[test]
fn diff_of_two_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sample_tree(root);
    let old = profile(root, RULES);
    fs::write(root.join("etc/hosts"), "10.0.0.1 pacs\n").unwrap();
    fs::write(root.join("etc/new.conf"), "x").unwrap();
    let new = profile(root, RULES);
    let r = medguard_profile::diff(&Baseline::from_profile(old), new.profile());
    let got = found(&r);
    assert_eq!(
        got,
        vec![
            (
                "/etc/hosts".into(),
                DeviationKind::Changed,
                vec![Attribute::Content, Attribute::Size]
            ),
            ("/etc/new.conf".into(), DeviationKind::Added, vec![]),
        ]
    );
}

#[test]
fn the_root_must_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), "x").unwrap();
    let err = create(
        &dir.path().join("f"),
        CreateOptions::default(),
        &Progress::default(),
    )
    .unwrap_err();
    assert!(matches!(err, medguard_profile::ProfileError::Io { .. }));
    let err = create(
        &dir.path().join("missing"),
        CreateOptions::default(),
        &Progress::default(),
    )
    .unwrap_err();
    assert!(matches!(err, medguard_profile::ProfileError::Io { .. }));
}
