//! Stored passphrase hashes (PHC strings, `medguard-accounts`) on arbitrary text. Never panics,
//! and what parses is canonical: it prints back to exactly the same text, parses again to an
//! equal value, and survives a serde round trip. Parameters stay within the crate's bounds
//! (checked by re-parsing the printed form; verification is not run: its cost is the point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_accounts::PassphraseHash;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = PassphraseHash::parse(text) {
        let printed = h.to_phc();
        assert_eq!(printed, text, "not canonical");
        assert_eq!(PassphraseHash::parse(&printed).ok().as_ref(), Some(&h));
        let p = h.params();
        assert!(p.memory_kib() >= 8 * p.lanes() && p.memory_kib() <= 4 * 1024 * 1024);
        assert!((1..=64).contains(&p.passes()) && (1..=64).contains(&p.lanes()));
        let json = serde_json::to_string(&h).expect("serialises");
        assert_eq!(serde_json::from_str::<PassphraseHash>(&json).ok().as_ref(), Some(&h));
    }
});
