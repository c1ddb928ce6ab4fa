//! Each attack TUF defends against, built by tampering with a medguard-made repository:
//! refused with its own error, and nothing written into the device's download directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, SystemTime};

use common::{Lab, assert_untouched};
use medguard_tuf::TufError;

const DAY: Duration = Duration::from_secs(86_400);

fn lab_with_bundle(now: SystemTime) -> Lab {
    let lab = Lab::new(now);
    lab.add("CT-9000", "ct.mgb", "1.0", b"the genuine bundle");
    lab.publish(now);
    lab
}

fn target_file(lab: &Lab) -> std::path::PathBuf {
    let dir = lab.repo.join("targets/CT-9000");
    std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn metadata_signed_by_another_key_is_refused() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    // An attacker's own repository, same layout, other keys: its timestamp over ours.
    let evil = Lab::new(now);
    std::fs::copy(evil.meta("timestamp.json"), lab.meta("timestamp.json")).unwrap();
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(
        matches!(err, TufError::BadSignature { ref role, .. } if role == "timestamp"),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn edited_metadata_fails_its_signature() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let path = lab.meta("2.targets.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // Widen the model's delegation to every path: the signature no longer covers it.
    let tampered = text.replace("\"CT-9000/*\"", "\"*\"");
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).unwrap();
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    // The snapshot lists targets.json by version only, so the signature catches it.
    assert!(
        matches!(err, TufError::BadSignature { ref role, .. } if role == "targets"),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn expired_timestamp_is_refused_by_the_system_clock_check() {
    let now = SystemTime::now();
    // Published 8 days ago: the 7-day timestamp is past.
    let lab = lab_with_bundle(now - 8 * DAY);
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(
        matches!(err, TufError::Expired { ref role, .. } if role == "timestamp"),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn expiry_is_also_checked_against_the_callers_clock() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let device = lab.device("d");
    // tough's own check (system clock) passes; the caller's clock says ten days later.
    let err = lab.fetch(&device, "CT-9000", now + 10 * DAY).unwrap_err();
    assert!(
        matches!(err, TufError::Expired { ref role, .. } if role == "timestamp"),
        "{err:?}"
    );
    assert_untouched(&device);
    lab.fetch(&device, "CT-9000", now + DAY).unwrap();
}

#[test]
fn replayed_older_timestamp_is_a_rollback() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let old_timestamp = std::fs::read(lab.meta("timestamp.json")).unwrap();
    lab.add("CT-9000", "ct2.mgb", "2.0", b"the next bundle");
    lab.publish(now);
    let device = lab.device("d");
    assert_eq!(
        lab.fetch(&device, "CT-9000", now).unwrap().bundle_version,
        "2.0"
    );
    std::fs::remove_dir_all(device.join("downloads")).unwrap();

    // A mirror (or attacker) now serves the older, validly signed timestamp.
    std::fs::write(lab.meta("timestamp.json"), old_timestamp).unwrap();
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(
        matches!(err, TufError::Rollback { ref role, trusted: 3, offered: 2 } if role == "timestamp"),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn target_longer_than_its_metadata_is_endless_data() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let target = target_file(&lab);
    let mut bytes = std::fs::read(&target).unwrap();
    bytes.extend(std::iter::repeat_n(b'A', 1 << 20));
    std::fs::remove_file(&target).unwrap(); // a hard link to the staged copy: replace it
    std::fs::write(&target, bytes).unwrap();
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(
        matches!(err, TufError::TooLong { limit: 18, .. }),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn target_with_other_content_is_a_hash_mismatch() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let target = target_file(&lab);
    std::fs::remove_file(&target).unwrap();
    std::fs::write(&target, b"a malicious bundle").unwrap(); // same length, 18 bytes
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(matches!(err, TufError::HashMismatch { .. }), "{err:?}");
    assert_untouched(&device);
}

#[test]
fn shorter_target_is_refused() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let target = target_file(&lab);
    std::fs::remove_file(&target).unwrap();
    std::fs::write(&target, b"short").unwrap();
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(
        matches!(
            err,
            TufError::LengthMismatch {
                expected: 18,
                actual: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn older_targets_under_a_newer_snapshot_is_mix_and_match() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    lab.add("CT-9000", "ct2.mgb", "2.0", b"the next bundle");
    lab.publish(now);
    // Serve the validly signed version 2 of the model's role where the snapshot names 3.
    std::fs::copy(lab.meta("1.CT-9000.json"), lab.meta("2.CT-9000.json")).unwrap();
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(matches!(err, TufError::MixAndMatch { .. }), "{err:?}");
    assert_untouched(&device);
}

#[test]
fn snapshot_that_is_not_the_one_the_timestamp_hashes_is_refused() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    lab.add("CT-9000", "ct2.mgb", "2.0", b"the next bundle");
    lab.publish(now);
    // The previous snapshot, renamed to the version the timestamp names.
    std::fs::copy(lab.meta("2.snapshot.json"), lab.meta("3.snapshot.json")).unwrap();
    let device = lab.device("d");
    let err = lab.fetch(&device, "CT-9000", now).unwrap_err();
    assert!(
        matches!(
            err,
            TufError::HashMismatch { .. } | TufError::TooLong { .. } | TufError::MixAndMatch { .. }
        ),
        "{err:?}"
    );
    assert_untouched(&device);
}

#[test]
fn a_model_role_cannot_vouch_for_another_models_bundle() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    lab.add("MR-500", "mr.mgb", "9.9", b"mr bundle");
    lab.publish(now);
    // Only bundles under the device's own model path are ever chosen.
    let got = lab.fetch(&lab.device("d"), "CT-9000", now).unwrap();
    assert_eq!(got.model, "CT-9000");
}
