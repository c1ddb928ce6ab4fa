//! CSAF documents on arbitrary JSON: never panics; an accepted document survives the
//! database's JSON round trip, and every version range it yields can be described.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_advisory::{Advisory, parse_csaf, parse_range};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_range(text).describe();
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok((advisory, _)) = parse_csaf(value, String::new()) {
        let bytes = serde_json::to_vec(&advisory).expect("serialises");
        let back: Advisory = serde_json::from_slice(&bytes).expect("own output parses");
        assert_eq!(back, advisory);
        for a in &advisory.affected {
            for r in &a.ranges {
                let _ = r.describe();
            }
        }
    }
});
