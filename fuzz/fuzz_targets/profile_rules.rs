//! The profile rules parser on arbitrary text: never panics, and rules that parse survive
//! the trip through a profile header unchanged and classify paths the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_profile::{ProfileHeader, Rules, SystemProfile, UnverifiedProfile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = Rules::from_toml(text) else {
        return;
    };
    let profile = SystemProfile {
        header: ProfileHeader::default(),
        rules: rules.clone(),
        entries: Vec::new(),
    };
    let back = UnverifiedProfile::parse(&profile.to_text())
        .expect("own output has the magic")
        .accept_unsigned()
        .expect("own header parses");
    assert_eq!(back.profile().rules, rules);
    for path in [&b"/"[..], b"/etc/hosts", b"/var/log/x", b"/proc/1/status"] {
        assert_eq!(back.profile().rules.classify(path), rules.classify(path));
    }
});
