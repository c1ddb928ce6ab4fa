//! The RPM header parser on arbitrary blobs: never panics, never reads outside the blob, and
//! a package it accepts has a name and no more files than the blob has bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = medguard_inventory::rpm::parse_header(data) {
        assert!(p.files.len() <= data.len());
        let _ = p.name.len();
    }
});
