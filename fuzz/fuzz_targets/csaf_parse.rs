//! CSAF documents on arbitrary JSON: never panics; an accepted document survives the
//! database's JSON round trip, and every version range it yields can be described; the
//! mandatory tests name only tests of section 6.1 and pointers into the document, and a
//! CSAF 2.0 document is accepted exactly when it fails none of them (or breaks the schema).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_advisory::{
    Advisory, MANDATORY_TESTS, SourceError, mandatory_tests, parse_csaf, parse_range,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_range(text).describe();
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let failures = mandatory_tests(&value);
    for f in &failures {
        assert!(MANDATORY_TESTS.contains(&f.test), "{f:?}");
        assert!(f.pointer.starts_with('/'), "{f:?}");
    }
    let tested = value.pointer("/document/csaf_version").and_then(|v| v.as_str()) == Some("2.0");
    let result = parse_csaf(value, String::new());
    if tested {
        match &result {
            Ok(_) => assert!(failures.is_empty(), "accepted despite {failures:?}"),
            Err(SourceError::CsafMandatoryTest { test, count, .. }) => {
                assert_eq!(Some(*test), failures.first().map(|f| f.test));
                assert_eq!(*count, failures.len());
            }
            Err(_) => {}
        }
    }
    if let Ok((advisory, _)) = result {
        let bytes = serde_json::to_vec(&advisory).expect("serialises");
        let back: Advisory = serde_json::from_slice(&bytes).expect("own output parses");
        assert_eq!(back, advisory);
        for a in &advisory.affected {
            for r in &a.ranges {
                let _ = r.describe();
            }
        }
    }
});
