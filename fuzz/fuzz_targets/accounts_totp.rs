//! TOTP codes and secrets (`medguard-accounts`) on arbitrary text. Never panics, and:
//! - an accepted code is the input's six digits (spaces removed) and parses again the same;
//! - an accepted secret prints as the input in upper case and parses again to the same secret;
//! - a code is accepted by `verify` only if it is the code of one of the three steps around
//!   the clock (no false acceptance), and never for a step at or before the last accepted one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_accounts::{TimeStep, TotpCode, TotpSecret};
use medguard_host::{Clock, FixedClock};
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = TotpCode::parse(text) {
        let digits: String = text.chars().filter(|&c| c != ' ').collect();
        assert_eq!(code.as_str(), digits);
        assert_eq!(TotpCode::parse(code.as_str()).ok().as_ref(), Some(&code));
        let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").expect("valid");
        let seconds = data.iter().fold(0i64, |a, &b| (a * 31 + i64::from(b)) % 4_000_000_000);
        let clock = FixedClock(OffsetDateTime::from_unix_timestamp(seconds).expect("in range"));
        let now = TimeStep::at(clock.now()).expect("after 1970");
        let last = (seconds % 2 == 0).then(|| TimeStep(now.0.saturating_sub(1)));
        if let Ok(step) = secret.verify(&code, &clock, last) {
            assert!(step.0 + 1 >= now.0 && step.0 <= now.0 + 1);
            assert_eq!(secret.code_at(step), code);
            assert!(last.is_none_or(|l| step > l));
        }
    }
    if let Ok(secret) = TotpSecret::from_base32(text) {
        let printed = secret.reveal_base32();
        assert_eq!(printed, text.to_ascii_uppercase());
        assert_eq!(TotpSecret::from_base32(&printed).ok().as_ref(), Some(&secret));
    }
});
