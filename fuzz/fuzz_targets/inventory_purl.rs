//! Package URLs: parsing never panics, and what parses prints to a string that parses to the
//! same value (canonical form round trip).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_inventory::purl::Purl;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(p) = Purl::parse(s) else { return };
    let printed = p.to_string();
    let again = Purl::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(again, p, "{printed}");
});
