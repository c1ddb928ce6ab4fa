//! Data-driven tests: every published vector set in `tests/data/` (see its `SOURCES.md`).
//!
//! Each file is scored whole and every disagreement is listed before the test fails, so one
//! run shows the shape of a bug rather than its first instance.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use medguard_cvss::{Severity, Vector, v2, v3, v4};

fn data(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Parses `0.0`, `-0.0` or `None` (Red Hat's files print Python values).
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    (text != "None").then(|| text.parse::<f64>().unwrap().abs())
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn report(file: &str, checked: usize, failures: &[String]) {
    assert!(checked > 0, "{file}: no vectors read");
    assert!(
        failures.is_empty(),
        "{file}: {} of {checked} vectors disagree:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Red Hat's v3 files: `VECTOR - (base, temporal, environmental)`.
fn check_v3_file(file: &str) {
    let text = data(file);
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (vector, scores) = line.split_once(" - ").unwrap();
        let scores: Vec<f64> = scores
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(|s| number(s).unwrap())
            .collect();
        let v = v3::Vector::parse(vector).unwrap_or_else(|e| panic!("{file}: {vector}: {e}"));
        let ours = [v.base_score(), v.temporal_score(), v.environmental_score()];
        if !ours.iter().zip(&scores).all(|(a, b)| same(*a, *b)) {
            failures.push(format!("{vector}: expected {scores:?}, computed {ours:?}"));
        }
        checked += 1;
    }
    report(file, checked, &failures);
}

/// Red Hat's v4 files: `VECTOR - score`, `VECTOR - (score,)` or `VECTOR - score - Severity`.
fn check_v4_file(file: &str) {
    let text = data(file);
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split(" - ");
        let vector = parts.next().unwrap();
        let expected = number(parts.next().unwrap().trim_matches(['(', ')', ','])).unwrap();
        let severity = parts.next();
        let v = v4::Vector::parse(vector).unwrap_or_else(|e| panic!("{file}: {vector}: {e}"));
        let ours = v.score();
        if !same(ours, expected) {
            failures.push(format!("{vector}: expected {expected}, computed {ours}"));
        }
        if let Some(severity) = severity {
            let ours = Severity::from_score(ours);
            if ours.as_str() != severity.trim() {
                failures.push(format!("{vector}: expected {severity}, rated {ours}"));
            }
        }
        checked += 1;
    }
    report(file, checked, &failures);
}

/// Red Hat: all 2,592 v3.0 base vectors.
#[test]
fn redhat_vectors_simple3() {
    check_v3_file("redhat-cvss/vectors_simple3");
}

/// Red Hat: all 2,592 v3.1 base vectors.
#[test]
fn redhat_vectors_simple31() {
    check_v3_file("redhat-cvss/vectors_simple31");
}

/// Red Hat: vectors checked against the NVD v3 calculator, incl. out-of-order metrics.
#[test]
fn redhat_vectors_calculator3() {
    check_v3_file("redhat-cvss/vectors_calculator3");
}

/// Red Hat: vectors checked against the cvsslib library, temporal and environmental.
#[test]
fn redhat_vectors_cvsslib3() {
    check_v3_file("redhat-cvss/vectors_cvsslib3");
}

/// 3,000 random v3.1 vectors with temporal and environmental metrics, scored with Red Hat's
/// `cvss` 3.6.
#[test]
fn generated_vectors_random31_env() {
    check_v3_file("generated-redhat-cvss-3.6/vectors_random31_env");
}

/// Red Hat: 1,058 v4.0 base vectors (scores from FIRST's calculator).
#[test]
fn redhat_vectors_simple4() {
    check_v4_file("redhat-cvss/vectors_simple4");
}

/// Red Hat: v4.0 vectors with supplemental metrics, which must not change the score.
#[test]
fn redhat_vectors_supplemental4() {
    check_v4_file("redhat-cvss/vectors_supplemental4");
}

/// Red Hat: v4.0 vectors with security requirements (CR, IR, AR).
#[test]
fn redhat_vectors_security4() {
    check_v4_file("redhat-cvss/vectors_security4");
}

/// Red Hat: v4.0 vectors with the threat metric.
#[test]
fn redhat_vectors_threat4() {
    check_v4_file("redhat-cvss/vectors_threat4");
}

/// 3,000 random v4.0 vectors with any optional metric, scored with Red Hat's `cvss` 3.6.
#[test]
fn generated_vectors_random4_full() {
    check_v4_file("generated-redhat-cvss-3.6/vectors_random4_full");
}

/// 1,265 real-world v3.0/v3.1 vectors with the base score and severity CISA published in its
/// CSAF advisories (ICSA/ICSMA), the advisories medical device makers receive.
#[test]
fn cisa_csaf_published_scores() {
    let text = data("cisa-csaf-pairs/cvss3-vector-score-pairs.json");
    let pairs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for pair in &pairs {
        let vector = pair["vector"].as_str().unwrap();
        let expected = pair["baseScore"].as_f64().unwrap();
        let severity = pair["baseSeverity"].as_str().unwrap();
        let v = Vector::parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
        if !same(v.base_score(), expected) || !v.severity().as_str().eq_ignore_ascii_case(severity)
        {
            failures.push(format!(
                "{vector} ({}): CISA {expected} {severity}, computed {} {}",
                pair["seen_in"],
                v.base_score(),
                v.severity()
            ));
        }
    }
    report("cisa-csaf-pairs", pairs.len(), &failures);
}

/// Every vector of every file survives parse → display → parse unchanged, and the displayed
/// form is a fixed point.
#[test]
fn every_vector_round_trips_through_display() {
    let files = [
        "redhat-cvss/vectors_simple3",
        "redhat-cvss/vectors_simple31",
        "redhat-cvss/vectors_calculator3",
        "redhat-cvss/vectors_cvsslib3",
        "generated-redhat-cvss-3.6/vectors_random31_env",
        "redhat-cvss/vectors_simple4",
        "redhat-cvss/vectors_supplemental4",
        "redhat-cvss/vectors_security4",
        "redhat-cvss/vectors_threat4",
        "generated-redhat-cvss-3.6/vectors_random4_full",
    ];
    for file in files {
        for line in data(file).lines().filter(|l| !l.trim().is_empty()) {
            let vector = line.split(" - ").next().unwrap();
            let v = Vector::parse(vector).unwrap();
            let shown = v.to_string();
            let again = Vector::parse(&shown).unwrap();
            assert_eq!(again, v, "{file}: {vector} → {shown}");
            assert_eq!(again.to_string(), shown);
            if !vector.contains(":X") && file != "redhat-cvss/vectors_calculator3" {
                // Already in the specification's order with nothing Not Defined: unchanged.
                assert_eq!(shown, vector, "{file}");
            }
        }
    }
}

/// Base vectors of FIRST's "CVSS v3.1 Examples" document with the scores it gives.
#[test]
fn first_v31_examples_document() {
    let examples = [
        ("CVE-2013-1937", "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVE-2013-0375", "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
        ("CVE-2014-3566", "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
        ("CVE-2012-1516", "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVE-2012-0384", "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
        ("CVE-2015-1098", "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8),
        ("CVE-2014-0160", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
        ("CVE-2014-6271", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVE-2008-1447", "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8),
        ("CVE-2014-2005", "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8),
        ("CVE-2010-0467", "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8),
        ("CVE-2012-1342", "AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8),
        ("CVE-2013-6014", "AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3),
        ("CVE-2016-1645", "AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),
        ("CVE-2016-0128", "AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N", 6.8),
        ("CVE-2018-3652", "AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 7.6),
    ];
    for (cve, metrics, expected) in examples {
        let v = Vector::parse(&format!("CVSS:3.1/{metrics}")).unwrap();
        assert!(same(v.base_score(), expected), "{cve}: {}", v.base_score());
    }
}

/// What the v4.0 specification says about its metric groups, on a Safety-relevant vector.
#[test]
fn v4_metric_groups_behave_as_the_specification_says() {
    let base = "CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:L/SI:L/SA:L";
    let score = |suffix: &str| {
        v4::Vector::parse(&format!("{base}{suffix}"))
            .unwrap()
            .score()
    };
    let b = score("");
    // Supplemental metrics never change the score.
    assert!(same(score("/S:P/AU:Y/R:I/V:C/RE:H/U:Red"), b));
    // Not Defined is the worst case: E:X is E:A, CR:X is CR:H.
    assert!(same(score("/E:X/CR:X/IR:X/AR:X"), b));
    assert!(same(score("/E:A/CR:H/IR:H/AR:H"), b));
    // Unreported exploits and low requirements lower the score; Safety raises it.
    assert!(score("/E:U") < b);
    assert!(score("/CR:L/IR:L/AR:L") < b);
    assert!(score("/MSI:S") > b);
    // No impact on any system: 0.0 whatever else.
    let none = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N/E:A";
    assert!(same(v4::Vector::parse(none).unwrap().score(), 0.0));
}

/// Red Hat's v2 files: `VECTOR - (base, temporal, environmental)`, `None` where the vector
/// defines no metric of the group.
fn check_v2_file(file: &str) {
    let text = data(file);
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (vector, scores) = line.split_once(" - ").unwrap();
        let scores: Vec<Option<f64>> = scores
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(number)
            .collect();
        let v = v2::Vector::parse(vector).unwrap_or_else(|e| panic!("{file}: {vector}: {e}"));
        let ours = [
            Some(v.base_score()),
            v.has_temporal().then(|| v.temporal_score()),
            v.has_environmental().then(|| v.environmental_score()),
        ];
        let agree = ours.iter().zip(&scores).all(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => same(*a, *b),
            (None, None) => true,
            _ => false,
        });
        if !agree {
            failures.push(format!("{vector}: expected {scores:?}, computed {ours:?}"));
        }
        checked += 1;
    }
    report(file, checked, &failures);
}

/// Red Hat: all 729 v2 base vectors.
#[test]
fn redhat_vectors_simple2() {
    check_v2_file("redhat-cvss/vectors_simple2");
}

/// Red Hat: v2 vectors with temporal and environmental metrics (cvsslib's and NVD
/// calculator's results).
#[test]
fn redhat_vectors_cvsslib2_and_calculator2() {
    check_v2_file("redhat-cvss/vectors_cvsslib2");
    check_v2_file("redhat-cvss/vectors_calculator2");
}
