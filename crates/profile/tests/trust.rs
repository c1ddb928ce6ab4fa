//! Which profiles [`medguard_profile::load_trusted`] accepts: only one a trusted key signed,
//! unless unsigned profiles are accepted for lab use, which has to be asked for by name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use medguard_profile::{
    CreateOptions, FormatError, ProfileError, Progress, UnsignedProfiles, create, load_trusted,
    write_profile,
};

/// A profile of a one-file tree written to `dir/NAME.profile`, signed by `key` if given.
fn profile_file(dir: &Path, name: &str, key: Option<&medguard_digest::SigningKey>) -> PathBuf {
    let tree = dir.join(format!("{name}-tree"));
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("f"), "x").unwrap();
    let (profile, _) = create(&tree, CreateOptions::default(), &Progress::default()).unwrap();
    let path = dir.join(format!("{name}.profile"));
    write_profile(&path, &profile, key).unwrap();
    path
}

fn key_pair(dir: &Path, name: &str) -> (medguard_digest::SigningKey, PathBuf) {
    let (key_path, public, _) = medguard_digest::generate_key_pair(&dir.join(name)).unwrap();
    (
        medguard_digest::SigningKey::load(&key_path).unwrap(),
        public,
    )
}

#[test]
fn unsigned_profiles_are_refused_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path(), "vendor");
    let signed = profile_file(dir.path(), "signed", Some(&key));
    let unsigned = profile_file(dir.path(), "unsigned", None);
    assert_eq!(UnsignedProfiles::default(), UnsignedProfiles::Refuse);

    let p = load_trusted(
        &signed,
        std::slice::from_ref(&public),
        UnsignedProfiles::default(),
    )
    .unwrap();
    assert_eq!(p.signer(), Some(key.public_key().id()));
    let err = load_trusted(&unsigned, &[public], UnsignedProfiles::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ProfileError::Format {
                error: FormatError::Signature(_),
                ..
            }
        ),
        "{err}"
    );
    let err = load_trusted(&signed, &[], UnsignedProfiles::default()).unwrap_err();
    assert!(matches!(err, ProfileError::NoTrustedKey), "{err}");
}

#[test]
fn lab_use_accepts_an_unsigned_profile_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let unsigned = profile_file(dir.path(), "unsigned", None);
    let p = load_trusted(&unsigned, &[], UnsignedProfiles::AcceptForLabUse).unwrap();
    assert_eq!(p.signer(), None);
    assert_eq!(p.profile().entries.len(), 2);
    // A profile signed by a key other than the given one is still refused.
    let (other, _) = key_pair(dir.path(), "other");
    let (_, public) = key_pair(dir.path(), "vendor");
    let foreign = profile_file(dir.path(), "foreign", Some(&other));
    assert!(load_trusted(&foreign, &[public], UnsignedProfiles::AcceptForLabUse).is_err());
}

#[test]
fn a_key_that_cannot_be_loaded_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signed = profile_file(dir.path(), "p", None);
    let missing = dir.path().join("missing.pub");
    let err = load_trusted(&signed, &[missing], UnsignedProfiles::Refuse).unwrap_err();
    assert!(matches!(err, ProfileError::TrustedKey(_)), "{err}");
    assert!(err.to_string().contains("missing.pub"), "{err}");
    // The cause is reachable through the chain (the binary looks for broken pipes there).
    let io = std::error::Error::source(&err)
        .and_then(std::error::Error::source)
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .expect("an io::Error cause");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}
