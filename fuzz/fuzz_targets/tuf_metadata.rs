//! TUF metadata as the client parses it (the trusted root, and roles through the same
//! deserialisation tough's loader uses): never panics, and whatever parses survives a
//! serialise/parse round trip unchanged, so a signature checked over the canonical form
//! means the same document on both sides.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medguard_tuf::metadata::{BundleInfo, parse_role};
use medguard_tuf::TrustedRoot;
use tough::schema::{Role, Root, Signed, Snapshot, Targets, Timestamp};

fn round_trip<T>(signed: &Signed<T>)
where
    T: Role + serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let path = Path::new("fuzz.json");
    let bytes = serde_json::to_vec(signed).expect("serialises");
    let again: Signed<T> = parse_role(&bytes, path).expect("own output parses");
    assert_eq!(
        again.signed.canonical_form().expect("canonical"),
        signed.signed.canonical_form().expect("canonical")
    );
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    if let Ok(root) = TrustedRoot::parse(data, path) {
        // Self-signed by random bytes would mean a broken verifier.
        assert!(root.root().signatures.len() > 0);
    }
    if let Ok(root) = parse_role::<Root>(data, path) {
        round_trip(&root);
        let _ = root.signed.verify_role(&root);
    }
    if let Ok(targets) = parse_role::<Targets>(data, path) {
        round_trip(&targets);
        for (_, target) in targets.signed.targets_iter() {
            let _ = BundleInfo::of(target);
        }
    }
    if let Ok(s) = parse_role::<Snapshot>(data, path) {
        round_trip(&s);
    }
    if let Ok(t) = parse_role::<Timestamp>(data, path) {
        round_trip(&t);
    }
});
