//! The dpkg status parser on arbitrary bytes: never panics; every package it returns has a
//! name and a version, and every warning points at a line of the input.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut warnings = Vec::new();
    let packages = medguard_inventory::dpkg::parse_status(data, Path::new("status"), &mut warnings);
    let lines = data.split(|b| *b == b'\n').count();
    for p in &packages {
        assert!(!p.name.is_empty() && !p.version.is_empty());
        assert!(p.line >= 1 && p.line <= lines);
    }
    for w in &warnings {
        let l = w.line.expect("status warnings carry a line");
        assert!(l >= 1 && l <= lines, "line {l} of {lines}");
    }
});
