//! The bundle framing on arbitrary bytes: never panics, the parts it finds account for
//! every byte (nothing trailing, nothing missing), and writing them back gives the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_update::{parse_frame, write_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = parse_frame(data) else {
        return;
    };
    let mut out = Vec::new();
    let mut payload = frame.payload;
    write_frame(
        &mut out,
        frame.signed_manifest,
        &mut payload,
        frame.payload.len() as u64,
    )
    .expect("writing to memory");
    assert_eq!(out, data);
});
