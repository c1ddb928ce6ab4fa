//! The risk rationale says what it knows, what it assumed, and never turns a deployment
//! assumption into "not relevant" (issue #12's defects).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_advisory::{
    Criticality, DeviceContext, ExploitSignals, Finding, Matcher, Package, Priority, Relevance,
    UsageContext, assess_all, parse_osv,
};
use serde_json::json;

fn network_advisory() -> Matcher {
    let record = json!({
        "schema_version": "1.6.0",
        "id": "DSA-2099-1",
        "aliases": ["CVE-2099-0002"],
        "modified": "2099-01-02T00:00:00Z",
        "summary": "remote code execution in a DICOM listener",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": "dcmtk"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.6.7-9"}]}]
        }]
    });
    let (advisory, _) = parse_osv(record, "x".into()).unwrap();
    Matcher::new(vec![advisory])
}

fn dcmtk() -> Package {
    Package {
        ecosystem: "Debian:12".into(),
        name: "dcmtk".into(),
        version: "3.6.7-8".into(),
        purl: None,
        source_name: None,
        usage: UsageContext {
            running: Some(true),
            listening: vec!["tcp/0.0.0.0:104".into()],
        },
    }
}

fn one(device: &DeviceContext) -> Finding {
    let findings = assess_all(
        &network_advisory(),
        &[dcmtk()],
        device,
        &ExploitSignals::default(),
    );
    assert_eq!(findings.len(), 1);
    findings.into_iter().next().unwrap()
}

#[test]
fn regression_12_an_unexposed_device_lowers_priority_but_stays_relevant() {
    let f = one(&DeviceContext {
        model: Some("Infusion 7".into()),
        criticality: Some(Criticality::LifeSustaining),
        network_exposed: Some(false),
    });
    assert_eq!(f.relevance, Relevance::Relevant);
    assert_eq!(f.justification, None, "no VEX from a deployment assumption");
    // 9.8 (level 4), not exposed (-1), life-sustaining (+1): critical.
    assert_eq!(f.priority, Priority::Critical);
    let text = f.rationale.join(" ");
    assert!(text.contains("priority is lowered"), "{text}");
    assert!(!text.contains("not relevant"), "{text}");
    assert!(!text.contains("no patch is needed"), "{text}");
    assert!(!text.contains("VEX"), "{text}");
}

#[test]
fn regression_12_an_undeclared_context_is_said_to_be_assumed() {
    let f = one(&DeviceContext::default());
    let text = f.rationale.join(" ");
    assert!(
        text.contains(
            "No clinical criticality is declared for this device model; medium is assumed."
        ),
        "{text}"
    );
    assert!(text.contains("it is assumed to be"), "{text}");
    assert!(!text.contains("is declared of medium"), "{text}");
}

#[test]
fn a_declared_context_is_not_called_assumed() {
    let f = one(&DeviceContext {
        model: Some("CT 9000".into()),
        criticality: Some(Criticality::Medium),
        network_exposed: Some(true),
    });
    let text = f.rationale.join(" ");
    assert!(
        text.contains("CT 9000 is declared of medium clinical criticality."),
        "{text}"
    );
    assert!(!text.contains("assumed"), "{text}");
}

#[test]
fn findings_round_trip_through_json() {
    let f = one(&DeviceContext::default());
    let back: Finding = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
}
