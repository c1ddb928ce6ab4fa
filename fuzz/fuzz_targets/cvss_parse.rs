//! The CVSS vector parser on arbitrary text: never panics; a vector that parses displays as
//! a normalised string that parses back to the same vector and displays the same again; and
//! every score it has is a multiple of 0.1 within 0.0..=10.0. CVSS v2 vectors likewise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_cvss::{Vector, v2};

fn check_score(score: f64, what: &str, vector: &Vector) {
    assert!(
        (0.0..=10.0).contains(&score),
        "{what} {score} out of range for {vector}"
    );
    let tenths = score * 10.0;
    assert!(
        (tenths - tenths.round()).abs() < 1e-9,
        "{what} {score} is not rounded to one decimal for {vector}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // CVSS v2 (no prefix): the same properties.
    if let Ok(v) = v2::Vector::parse(text) {
        let shown = v.to_string();
        let again = v2::Vector::parse(&shown).expect("the normalised v2 vector parses");
        assert_eq!(again, v, "{text} -> {shown}");
        for (what, score) in [
            ("v2 base", v.base_score()),
            ("v2 temporal", v.temporal_score()),
            ("v2 environmental", v.environmental_score()),
        ] {
            assert!((0.0..=10.0).contains(&score), "{what} {score} for {shown}");
            let tenths = score * 10.0;
            assert!((tenths - tenths.round()).abs() < 1e-9, "{what} {score} for {shown}");
        }
    }
    let Ok(vector) = Vector::parse(text) else {
        return;
    };
    let shown = vector.to_string();
    let again = Vector::parse(&shown).expect("the normalised vector parses");
    assert_eq!(again, vector, "{text} -> {shown}");
    assert_eq!(again.to_string(), shown);

    check_score(vector.base_score(), "base score", &vector);
    check_score(vector.overall_score(), "overall score", &vector);
    match &vector {
        Vector::V3(v) => {
            check_score(v.temporal_score(), "temporal score", &vector);
            check_score(v.environmental_score(), "environmental score", &vector);
        }
        Vector::V4(v) => {
            let s = v.scores();
            for score in [Some(s.base), s.threat, s.environmental]
                .into_iter()
                .flatten()
            {
                check_score(score, "score", &vector);
            }
        }
    }
});
