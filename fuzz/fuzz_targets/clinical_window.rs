//! Maintenance window specs on arbitrary text: never panic; a spec that parses reparses from
//! its own display to the same window, and `next_opening` is inside the window.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_clinical::MaintenanceWindow;
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(window) = text.parse::<MaintenanceWindow>() else {
        return;
    };
    let again: MaintenanceWindow = window.to_string().parse().expect("own display parses");
    assert_eq!(again, window);
    let now = OffsetDateTime::from_unix_timestamp(1_700_000_000 + i64::from(seed) * 3_600 * 7)
        .expect("in range");
    if let Some(at) = window.next_opening(now) {
        assert!(at >= now);
        assert!(window.contains(at), "{text:?} opens at {at} but does not contain it");
    }
});
