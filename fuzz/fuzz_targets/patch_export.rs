//! An exported patch record from anywhere: never panic; nothing unsigned or foreign-signed is
//! accepted; a record that parses survives export and verification unchanged.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medguard_digest::SigningKey;
use medguard_patch::{PatchRecord, export, verify_export};

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("key").0)
}

fuzz_target!(|data: &[u8]| {
    let trusted = [key().public_key().clone()];
    // Arbitrary bytes were not signed by this key: never accepted.
    assert!(verify_export(data, &trusted).is_err());
    if let Ok(record) = serde_json::from_slice::<PatchRecord>(data) {
        let signed = export(&record, key());
        let back = verify_export(&signed, &trusted).expect("own export verifies");
        assert_eq!(back.record, record);
    }
});
