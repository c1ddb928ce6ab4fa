//! Issue 14: where a CSAF document's published score and its vector disagree, the finding
//! carries the score computed from the vector. A CSAF 2.0 document with such a score is
//! refused (mandatory test 6.1.9); a CSAF 2.1 document is read without the 2.0 tests, and
//! its wrong `baseScore` must not reach the finding.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_advisory::{
    DeviceContext, ExploitSignals, Matcher, Package, SourceError, UsageContext, assess_all,
    parse_record,
};
use serde_json::{Value, json};

/// A vendor advisory for "Infusion Pump" 1.0 whose CVSS object says 2.0 LOW for a vector
/// that computes to 9.8 CRITICAL.
fn advisory(csaf_version: &str) -> Value {
    let cvss = json!({
        "version": "3.1",
        "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "baseScore": 2.0,
        "baseSeverity": "LOW"
    });
    let mut vulnerability = json!({
        "cve": "CVE-2099-1400",
        "product_status": {"known_affected": ["CSAFPID-1"]}
    });
    if csaf_version == "2.0" {
        vulnerability["scores"] = json!([{"products": ["CSAFPID-1"], "cvss_v3": cvss}]);
    } else {
        vulnerability["metrics"] =
            json!([{"products": ["CSAFPID-1"], "content": {"cvss_v3": cvss}}]);
    }
    json!({
        "document": {
            "category": "csaf_base",
            "csaf_version": csaf_version,
            "title": "Infusion pump remote code execution",
            "publisher": {"name": "Example", "namespace": "https://example.com", "category": "vendor"},
            "tracking": {
                "id": "EX-2099-14",
                "current_release_date": "2099-01-01T00:00:00Z",
                "initial_release_date": "2099-01-01T00:00:00Z",
                "status": "final",
                "version": "1",
                "revision_history": [{"date": "2099-01-01T00:00:00Z", "number": "1", "summary": "Initial."}]
            }
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Example", "branches": [
            {"category": "product_name", "name": "Infusion Pump", "branches": [
                {"category": "product_version", "name": "1.0",
                 "product": {"product_id": "CSAFPID-1", "name": "Example Infusion Pump 1.0"}}
            ]}
        ]}]},
        "vulnerabilities": [vulnerability]
    })
}

#[test]
fn issue_14_a_csaf_2_0_score_that_contradicts_its_vector_is_refused() {
    let bytes = serde_json::to_vec(&advisory("2.0")).unwrap();
    match parse_record(&bytes, false) {
        Err(SourceError::CsafMandatoryTest { test, pointer, .. }) => {
            assert_eq!(test, "6.1.9");
            assert_eq!(pointer, "/vulnerabilities/0/scores/0/cvss_v3/baseScore");
        }
        other => panic!("expected a 6.1.9 refusal, got {other:?}"),
    }
}

#[test]
fn issue_14_findings_use_the_score_computed_from_the_vector() {
    let bytes = serde_json::to_vec(&advisory("2.1")).unwrap();
    let (advisory, _) = parse_record(&bytes, false).unwrap();
    let package = Package {
        ecosystem: "CSAF".into(),
        name: "Infusion Pump".into(),
        version: "1.0".into(),
        purl: None,
        source_name: None,
        usage: UsageContext::default(),
    };
    let findings = assess_all(
        &Matcher::new(vec![advisory]),
        &[package],
        &DeviceContext::default(),
        &ExploitSignals::default(),
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let cvss = findings[0].cvss.as_ref().unwrap();
    assert!((cvss.base_score - 9.8).abs() < 1e-9, "{cvss:?}");
    assert_eq!(cvss.severity, "Critical");
}
