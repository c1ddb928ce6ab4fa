//! Package URLs on arbitrary text: never panics, and a parsed URL maps to an OSV ecosystem
//! without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_advisory::{Package, Purl};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Purl::parse(text) {
        let _ = p.osv_ecosystem_and_name();
        let package = Package::from_purl(text, None).expect("parsed once, parses again");
        assert_eq!(package.version, p.version.clone().unwrap_or_default());
    }
});
