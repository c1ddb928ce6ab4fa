//! The detection rule file parser on arbitrary text: never panics, and a parsed rule set
//! runs over a few events without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_audit::{AuditEvent, Detector, EventKind, Outcome, RuleSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rules) = RuleSet::parse(text) else { return };
    let mut detector = Detector::new(&rules);
    let t0 = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    for (i, kind) in EventKind::ALL.iter().cycle().take(64).enumerate() {
        let t = t0 + time::Duration::seconds(i as i64 * 7919 % 86_400);
        let event = AuditEvent::new(*kind, t, Outcome::Success, "fuzz");
        let _ = detector.observe(i as u64 + 1, &event);
    }
});
