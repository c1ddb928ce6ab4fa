//! The bundle manifest parser on arbitrary bytes: never panics; whatever it accepts has
//! only safe paths and writes back to a manifest that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_update::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::from_json(data) else {
        return;
    };
    for op in &m.operations {
        let p = op.path.as_bytes();
        assert!(!p.starts_with(b"/") && !p.contains(&0));
        assert!(
            p.split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b"..")
        );
    }
    let again = Manifest::from_json(&m.to_json()).expect("own output parses");
    assert_eq!(again, m);
});
