//! A repository made by medguard, read by medguard's client: delegation per model, newest
//! version chosen, key rotation followed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, SystemTime};

use common::{Lab, key};
use medguard_tuf::{RoleKey, RotateOptions, TufError};

#[test]
fn newest_bundle_for_the_model_is_downloaded_and_checked() {
    let now = SystemTime::now();
    let lab = Lab::new(now);
    lab.add("CT-9000", "ct-1.9.mgb", "1.9", b"old ct bundle");
    lab.add("CT-9000", "ct-1.10.mgb", "1.10", b"new ct bundle");
    lab.add("MR-500", "mr-3.0.mgb", "3.0", b"mr bundle");
    lab.publish(now);

    let device = lab.device("ct");
    let got = lab.fetch(&device, "CT-9000", now).unwrap();
    assert_eq!(got.target, "CT-9000/ct-1.10.mgb");
    assert_eq!(got.bundle_version, "1.10");
    assert_eq!(std::fs::read(&got.path).unwrap(), b"new ct bundle");
    // Consistent snapshot on disk: versioned metadata, hash-prefixed target.
    assert!(lab.meta("2.snapshot.json").exists());
    assert!(lab.meta("2.CT-9000.json").is_file() || lab.meta("1.CT-9000.json").is_file());
    let ct_dir = lab.repo.join("targets/CT-9000");
    assert!(std::fs::read_dir(&ct_dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".ct-1.10.mgb")
    }));

    let mr = lab.fetch(&lab.device("mr"), "MR-500", now).unwrap();
    assert_eq!(mr.bundle_version, "3.0");
    let none = lab.fetch(&lab.device("x"), "XR-1", now).unwrap_err();
    assert!(
        matches!(none, TufError::NoApplicableBundle { .. }),
        "{none:?}"
    );
}

#[test]
fn a_second_publish_keeps_earlier_bundles_and_bumps_versions() {
    let now = SystemTime::now();
    let lab = Lab::new(now);
    lab.add("CT-9000", "a.mgb", "1.0", b"a");
    lab.publish(now);
    let device = lab.device("d");
    assert_eq!(
        lab.fetch(&device, "CT-9000", now).unwrap().bundle_version,
        "1.0"
    );
    lab.add("CT-9000", "b.mgb", "1.1", b"b");
    lab.publish(now);
    let got = lab.fetch(&device, "CT-9000", now).unwrap();
    assert_eq!(got.bundle_version, "1.1");
    assert_eq!(got.snapshot_version, 3);
    assert!(lab.meta("1.CT-9000.json").exists() && lab.meta("2.CT-9000.json").exists());
}

#[test]
fn client_follows_root_key_rotation() {
    let now = SystemTime::now();
    let lab = Lab::new(now);
    lab.add("CT-9000", "a.mgb", "1.0", b"a");
    lab.publish(now);
    let device = lab.device("d");
    lab.fetch(&device, "CT-9000", now).unwrap();

    // Rotate root, then timestamp, each time signing the new root with old and new keys.
    let new_root = key(lab.tmp.path(), "root2");
    let r = medguard_tuf::rotate_key(
        &lab.repo,
        &RotateOptions {
            role: "root".into(),
            old: RoleKey::load(&lab.key).unwrap(),
            new: RoleKey::load(&new_root).unwrap(),
            root_keys: vec![],
            now,
            root_expires: Duration::from_secs(86_400 * 365),
        },
    )
    .unwrap();
    assert_eq!(r.root_version, 2);
    let new_ts = key(lab.tmp.path(), "ts2");
    let r = medguard_tuf::rotate_key(
        &lab.repo,
        &RotateOptions {
            role: "timestamp".into(),
            old: RoleKey::load(&lab.key).unwrap(),
            new: RoleKey::load(&new_ts).unwrap(),
            root_keys: vec![RoleKey::load(&new_root).unwrap()],
            now,
            root_expires: Duration::from_secs(86_400 * 365),
        },
    )
    .unwrap();
    assert_eq!(r.root_version, 3);
    // The old timestamp key can no longer publish.
    let mut keys = common::keys_of(&lab.key);
    let err = medguard_tuf::publish(&lab.repo, &keys, &medguard_tuf::PublishOptions::at(now))
        .unwrap_err();
    assert!(matches!(err, TufError::Threshold { .. }), "{err:?}");
    keys.timestamp = vec![RoleKey::load(&new_ts).unwrap()];
    lab.add("CT-9000", "b.mgb", "2.0", b"b");
    medguard_tuf::publish(&lab.repo, &keys, &medguard_tuf::PublishOptions::at(now)).unwrap();

    // A device provisioned with root v1 walks v2 and v3.
    let got = lab.fetch(&lab.device("fresh"), "CT-9000", now).unwrap();
    assert_eq!((got.root_version, got.bundle_version.as_str()), (3, "2.0"));
    let got = lab.fetch(&device, "CT-9000", now).unwrap();
    assert_eq!(got.root_version, 3);
    assert!(device.join("tuf/root.json").exists());
}

#[test]
fn a_rotation_without_the_old_root_key_is_refused() {
    let now = SystemTime::now();
    let lab = Lab::new(now);
    let stranger = key(lab.tmp.path(), "stranger");
    let new = key(lab.tmp.path(), "new");
    let err = medguard_tuf::rotate_key(
        &lab.repo,
        &RotateOptions {
            role: "root".into(),
            old: RoleKey::load(&stranger).unwrap(),
            new: RoleKey::load(&new).unwrap(),
            root_keys: vec![],
            now,
            root_expires: Duration::from_secs(86_400),
        },
    )
    .unwrap_err();
    assert!(matches!(err, TufError::KeyNotInRole { .. }), "{err:?}");
    assert!(!lab.meta("2.root.json").exists());
}

#[test]
fn init_with_threshold_two_needs_two_keys_per_role() {
    let tmp = tempfile::tempdir().unwrap();
    let a = key(tmp.path(), "a");
    let b = key(tmp.path(), "b");
    let keys = |paths: &[&std::path::Path]| -> Vec<RoleKey> {
        paths.iter().map(|p| RoleKey::load(p).unwrap()).collect()
    };
    let one = medguard_tuf::RepoKeys {
        root: keys(&[&a]),
        targets: keys(&[&a, &b]),
        snapshot: keys(&[&a, &b]),
        timestamp: keys(&[&a, &b]),
    };
    let opts = medguard_tuf::InitOptions {
        threshold: 2,
        root_expires: Duration::from_secs(86_400),
        publish: medguard_tuf::PublishOptions::at(SystemTime::now()),
    };
    let err = medguard_tuf::init(&tmp.path().join("r"), &one, &opts).unwrap_err();
    assert!(
        matches!(err, TufError::Threshold { ref role, .. } if role == "root"),
        "{err:?}"
    );
    let two = medguard_tuf::RepoKeys {
        root: keys(&[&a, &b]),
        ..one
    };
    medguard_tuf::init(&tmp.path().join("r2"), &two, &opts).unwrap();
}
