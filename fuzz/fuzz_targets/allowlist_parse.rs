//! The allowlist document parser and the allowlist rules TOML on arbitrary input: never
//! panic; a list that parses survives its own text unchanged (round trip), and a list
//! signed with a fresh key verifies with that key and no other.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medguard_allowlist::list::UnverifiedAllowlist;
use medguard_allowlist::rules::ListRules;
use medguard_digest::SigningKey;

fn keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            SigningKey::generate().expect("key").0,
            SigningKey::generate().expect("key").0,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rules) = ListRules::from_toml(text) {
            for s in &rules.scripts {
                assert!(s.dir.starts_with('/') && s.interpreter.starts_with('/'));
                let _ = rules.script_dir_for(&format!("{}/x.py", s.dir));
            }
            for x in &rules.exceptions {
                assert!(x.path.starts_with('/') && !x.reason.trim().is_empty());
            }
        }
    }
    let Ok(unverified) = UnverifiedAllowlist::parse(data) else {
        return;
    };
    let Ok(verified) = unverified.accept_unsigned() else {
        return;
    };
    let list = verified.list();
    let text = list.to_text();
    let back = UnverifiedAllowlist::parse(&text)
        .expect("own output has the magic")
        .accept_unsigned()
        .expect("own output parses");
    assert_eq!(back.list(), list);
    for e in list.entries() {
        assert!(e.path.starts_with(b"/"));
        assert_eq!(list.get(&e.path), Some(e));
    }
    let (key, other) = keys();
    let signed = list.to_signed_text(key);
    let ok = UnverifiedAllowlist::parse(&signed)
        .expect("magic")
        .verify(&[key.public_key().clone()])
        .expect("verifies with its key");
    assert_eq!(ok.list(), list);
    assert!(
        UnverifiedAllowlist::parse(&signed)
            .expect("magic")
            .verify(&[other.public_key().clone()])
            .is_err()
    );
});
