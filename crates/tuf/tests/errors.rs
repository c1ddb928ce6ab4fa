//! Errors keep the error beneath them as `source()`, with the same message as before, so a
//! caller can walk the chain (issue 12).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::error::Error as _;
use std::path::Path;
use std::time::SystemTime;

use common::Lab;
use medguard_tuf::{RoleKey, TrustedRoot, TufError};

#[test]
fn regression_12_tuf_errors_keep_their_cause_as_source() {
    // Malformed metadata: serde_json's error beneath, its text in the message.
    let err = TrustedRoot::parse(b"{", Path::new("1.root.json")).unwrap_err();
    assert!(matches!(err, TufError::Malformed { .. }), "{err:?}");
    let json = err
        .source()
        .and_then(|s| s.downcast_ref::<serde_json::Error>())
        .unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(err.to_string(), format!("1.root.json: {json}"));

    // A key file that is no key: the parser's error beneath.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, b"not a key").unwrap();
    let err = RoleKey::load(&bad).unwrap_err();
    assert!(matches!(err, TufError::Key { .. }), "{err:?}");
    let cause = err.source().unwrap_or_else(|| panic!("{err:?}"));
    assert!(
        err.to_string()
            .ends_with(&format!("{}: {cause}", bad.display())),
        "{err}"
    );

    // A repository address that is no URL: url's error beneath.
    let lab = Lab::new(SystemTime::now());
    let anchor = TrustedRoot::load(&lab.meta("1.root.json")).unwrap();
    let err = medguard_tuf::refresh(
        "http://[::1",
        &lab.url(),
        &anchor,
        &dir.path().join("device"),
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(matches!(err, TufError::Transport { .. }), "{err:?}");
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<url::ParseError>())
            .is_some(),
        "{err:?}"
    );
    // A root whose signature does not cover its content: tough's signature check beneath.
    let root = String::from_utf8(std::fs::read(lab.meta("1.root.json")).unwrap()).unwrap();
    let edited = root.replacen("\"version\": 1", "\"version\": 7", 1);
    assert_ne!(root, edited);
    let err = TrustedRoot::parse(edited.as_bytes(), Path::new("1.root.json")).unwrap_err();
    assert!(matches!(err, TufError::BadSignature { .. }), "{err:?}");
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<tough::schema::Error>())
            .is_some(),
        "{err:?}"
    );

    // A role key whose own check refuses it carries no cause: nothing is invented.
    let pem = dir.path().join("cert.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = RoleKey::load(&pem).unwrap_err();
    assert!(matches!(err, TufError::Key { source: None, .. }), "{err:?}");
}
