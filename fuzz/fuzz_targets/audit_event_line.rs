//! An `audit append` input line on arbitrary text: never panics, and an event built from a
//! line that parses is stored and read back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_audit::{AuditEvent, EventInput};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(input) = EventInput::parse(text) else {
        return;
    };
    let event = input.into_event(time::OffsetDateTime::UNIX_EPOCH, "fuzz-host");
    let json = serde_json::to_string(&event).expect("an event serialises");
    let back: AuditEvent = serde_json::from_str(&json).expect("its JSON reads back");
    assert_eq!(back, event);
});
