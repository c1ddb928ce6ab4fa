//! Properties over generated input: parsing never panics; every valid vector, whatever its
//! metric order (v3) or mix of optional metrics, round-trips through its normalised display
//! and scores within 0.0..=10.0 in tenths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_cvss::{Vector, v3, v4};
use proptest::prelude::*;
use proptest::sample::select;

fn metric(name: &'static str, values: &'static [&'static str]) -> impl Strategy<Value = String> {
    select(values).prop_map(move |v| format!("{name}:{v}"))
}

fn optional(
    name: &'static str,
    values: &'static [&'static str],
) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(metric(name, values))
}

fn v3_vector() -> impl Strategy<Value = String> {
    let base = (
        metric("AV", &["N", "A", "L", "P"]),
        metric("AC", &["L", "H"]),
        metric("PR", &["N", "L", "H"]),
        metric("UI", &["N", "R"]),
        metric("S", &["U", "C"]),
        metric("C", &["H", "L", "N"]),
        metric("I", &["H", "L", "N"]),
        metric("A", &["H", "L", "N"]),
    );
    let temporal = (
        optional("E", &["X", "H", "F", "P", "U"]),
        optional("RL", &["X", "U", "W", "T", "O"]),
        optional("RC", &["X", "C", "R", "U"]),
    );
    let environmental = (
        optional("CR", &["X", "H", "M", "L"]),
        optional("IR", &["X", "H", "M", "L"]),
        optional("AR", &["X", "H", "M", "L"]),
        optional("MAV", &["X", "N", "A", "L", "P"]),
        optional("MAC", &["X", "L", "H"]),
        optional("MPR", &["X", "N", "L", "H"]),
        optional("MUI", &["X", "N", "R"]),
        optional("MS", &["X", "U", "C"]),
        optional("MC", &["X", "H", "L", "N"]),
        optional("MI", &["X", "H", "L", "N"]),
        optional("MA", &["X", "H", "L", "N"]),
    );
    (select(&["3.0", "3.1"][..]), base, temporal, environmental).prop_flat_map(
        |(version, b, t, e)| {
            let mut parts = vec![b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7];
            parts.extend([t.0, t.1, t.2].into_iter().flatten());
            parts.extend(
                [e.0, e.1, e.2, e.3, e.4, e.5, e.6, e.7, e.8, e.9, e.10]
                    .into_iter()
                    .flatten(),
            );
            // v3.x accepts any order.
            Just(parts)
                .prop_shuffle()
                .prop_map(move |p| format!("CVSS:{version}/{}", p.join("/")))
        },
    )
}

fn v4_vector() -> impl Strategy<Value = String> {
    let base = (
        metric("AV", &["N", "A", "L", "P"]),
        metric("AC", &["L", "H"]),
        metric("AT", &["N", "P"]),
        metric("PR", &["N", "L", "H"]),
        metric("UI", &["N", "P", "A"]),
        metric("VC", &["H", "L", "N"]),
        metric("VI", &["H", "L", "N"]),
        metric("VA", &["H", "L", "N"]),
        metric("SC", &["H", "L", "N"]),
        metric("SI", &["H", "L", "N"]),
        metric("SA", &["H", "L", "N"]),
    );
    let environmental = (
        optional("E", &["X", "A", "P", "U"]),
        optional("CR", &["X", "H", "M", "L"]),
        optional("IR", &["X", "H", "M", "L"]),
        optional("AR", &["X", "H", "M", "L"]),
        optional("MAV", &["X", "N", "A", "L", "P"]),
        optional("MAC", &["X", "L", "H"]),
        optional("MAT", &["X", "N", "P"]),
        optional("MPR", &["X", "N", "L", "H"]),
        optional("MUI", &["X", "N", "P", "A"]),
        optional("MVC", &["X", "H", "L", "N"]),
        optional("MVI", &["X", "H", "L", "N"]),
        optional("MVA", &["X", "H", "L", "N"]),
    );
    let rest = (
        optional("MSC", &["X", "H", "L", "N"]),
        optional("MSI", &["X", "S", "H", "L", "N"]),
        optional("MSA", &["X", "S", "H", "L", "N"]),
        optional("S", &["X", "N", "P"]),
        optional("AU", &["X", "N", "Y"]),
        optional("R", &["X", "A", "U", "I"]),
        optional("V", &["X", "D", "C"]),
        optional("RE", &["X", "L", "M", "H"]),
        optional("U", &["X", "Clear", "Green", "Amber", "Red"]),
    );
    (base, environmental, rest).prop_map(|(b, e, r)| {
        let mut parts = vec![b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, b.8, b.9, b.10];
        parts.extend(
            [e.0, e.1, e.2, e.3, e.4, e.5, e.6, e.7, e.8, e.9, e.10, e.11]
                .into_iter()
                .flatten(),
        );
        parts.extend(
            [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8]
                .into_iter()
                .flatten(),
        );
        format!("CVSS:4.0/{}", parts.join("/"))
    })
}

fn in_tenths(score: f64) -> bool {
    (0.0..=10.0).contains(&score) && ((score * 10.0) - (score * 10.0).round()).abs() < 1e-9
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn v3_vectors_round_trip_and_score_in_range(text in v3_vector()) {
        let v = v3::Vector::parse(&text).unwrap();
        let shown = v.to_string();
        prop_assert_eq!(v3::Vector::parse(&shown).unwrap(), v);
        for s in [v.base_score(), v.temporal_score(), v.environmental_score()] {
            prop_assert!(in_tenths(s), "{} scored {}", text, s);
        }
        // Temporal metrics only lower the base score.
        prop_assert!(v.temporal_score() <= v.base_score());
    }

    #[test]
    fn v4_vectors_round_trip_and_score_in_range(text in v4_vector()) {
        let v = v4::Vector::parse(&text).unwrap();
        let shown = v.to_string();
        prop_assert_eq!(v4::Vector::parse(&shown).unwrap(), v);
        let s = v.scores();
        for score in [Some(s.base), s.threat, s.environmental].into_iter().flatten() {
            prop_assert!(in_tenths(score), "{} scored {}", text, score);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let _ = Vector::parse(&text);
    }

    #[test]
    fn damaged_vectors_never_panic(text in v4_vector(), cut in 0usize..200, junk in "[A-Z:/X]{0,6}") {
        let cut = cut.min(text.len());
        let damaged = format!("{}{junk}", &text[..cut]);
        if let Ok(v) = Vector::parse(&damaged) {
            prop_assert_eq!(Vector::parse(&v.to_string()).unwrap(), v);
        }
    }
}
