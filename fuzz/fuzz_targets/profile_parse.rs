//! The profile parser on arbitrary bytes: never panics, and whatever parses writes back to
//! text that parses to the same profile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_profile::UnverifiedProfile;

fuzz_target!(|data: &[u8]| {
    let Ok(un) = UnverifiedProfile::parse(data) else {
        return;
    };
    let Ok(profile) = un.accept_unsigned() else {
        return;
    };
    let text = profile.profile().to_text();
    let again = UnverifiedProfile::parse(&text)
        .expect("own output has the magic")
        .accept_unsigned()
        .expect("own output parses");
    assert_eq!(again.profile(), profile.profile(), "round trip changed the profile");
});
