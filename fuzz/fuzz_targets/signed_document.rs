//! The signature envelope on arbitrary bytes: never panics, and never accepts a document
//! that the trusted key did not sign.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medguard_digest::{SigningKey, UnverifiedDocument, sign_document};

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("key").0)
}

fuzz_target!(|data: &[u8]| {
    let trusted = [key().public_key().clone()];
    if let Ok(doc) = UnverifiedDocument::parse(data) {
        // Random bytes are never validly signed by our fresh key.
        assert!(doc.verify("fuzz", &trusted).is_err());
    }
    // Signing any body and verifying it back succeeds, with the body intact.
    let signed = sign_document("fuzz", data, key());
    let v = UnverifiedDocument::parse(&signed)
        .expect("own output parses")
        .verify("fuzz", &trusted)
        .expect("own signature verifies");
    assert!(v.body().starts_with(data) || data.is_empty());
});
