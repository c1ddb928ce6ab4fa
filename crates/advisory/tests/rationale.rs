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
    UsageContext, VexJustification, assess_all, parse_osv,
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

fn assess_with(package: &Package, device: &DeviceContext, signals: &ExploitSignals) -> Finding {
    let findings = assess_all(
        &network_advisory(),
        std::slice::from_ref(package),
        device,
        signals,
    );
    assert_eq!(findings.len(), 1);
    findings.into_iter().next().unwrap()
}

fn not_running() -> Package {
    Package {
        usage: UsageContext {
            running: Some(false),
            listening: Vec::new(),
        },
        ..dcmtk()
    }
}

fn every_context() -> Vec<DeviceContext> {
    let mut out = Vec::new();
    for criticality in [
        None,
        Some(Criticality::Low),
        Some(Criticality::Medium),
        Some(Criticality::High),
        Some(Criticality::LifeSustaining),
    ] {
        for network_exposed in [None, Some(true), Some(false)] {
            out.push(DeviceContext {
                model: Some("Infusion 7".into()),
                criticality,
                network_exposed,
            });
        }
    }
    out
}

/// The issue's case, the other way round: a finding concluded not relevant (its code does
/// not run) said "priority is raised" for a life-sustaining model first.
#[test]
fn regression_12_a_not_relevant_finding_never_says_its_priority_moves() {
    let mut signals = ExploitSignals::default();
    let epss = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(epss.path(), "cve,epss,percentile\nCVE-2099-0002,0.5,0.99\n").unwrap();
    signals.load_epss(epss.path()).unwrap();
    for device in every_context() {
        let f = assess_with(&not_running(), &device, &signals);
        assert_eq!(f.relevance, Relevance::NotRelevant, "{device:?}");
        assert_eq!(f.priority, Priority::None);
        let text = f.rationale.join(" ");
        assert!(!text.contains("priority is"), "{device:?}: {text}");
        assert!(
            text.contains("not in the device's execute path"),
            "{device:?}: {text}"
        );
    }
}

/// A VEX "not affected" comes from facts about the product (here: its code does not run),
/// never from what the device context declares or leaves out.
#[test]
fn regression_12_vex_justification_only_from_facts_about_the_product() {
    let signals = ExploitSignals::default();
    let unknown_usage = Package {
        usage: UsageContext::default(),
        ..dcmtk()
    };
    for device in every_context() {
        for package in [dcmtk(), unknown_usage.clone()] {
            let f = assess_with(&package, &device, &signals);
            assert_eq!(f.relevance, Relevance::Relevant, "{device:?} {package:?}");
            assert_eq!(f.justification, None, "{device:?} {package:?}");
            assert!(f.priority >= Priority::Low);
        }
        let f = assess_with(&not_running(), &device, &signals);
        assert_eq!(
            f.justification,
            Some(VexJustification::VulnerableCodeNotInExecutePath),
            "{device:?}"
        );
    }
}

#[test]
fn regression_12_unknown_usage_and_missing_scores_are_said_to_be_assumed() {
    let record = json!({
        "id": "GHSA-0000-0000-0001",
        "modified": "2099-01-02T00:00:00Z",
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": "dcmtk"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.6.7-9"}]}]
        }]
    });
    let (advisory, _) = parse_osv(record, "x".into()).unwrap();
    let package = Package {
        usage: UsageContext::default(),
        ..dcmtk()
    };
    let findings = assess_all(
        &Matcher::new(vec![advisory]),
        &[package],
        &DeviceContext::default(),
        &ExploitSignals::default(),
    );
    let text = findings[0].rationale.join(" ");
    assert!(
        text.contains("does not say whether dcmtk runs; it is assumed to run"),
        "{text}"
    );
    assert!(text.contains("medium severity is assumed"), "{text}");
    assert_eq!(findings[0].priority, Priority::Medium);
}

#[test]
fn known_exploitation_keeps_code_that_does_not_run_relevant() {
    let kev = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        kev.path(),
        r#"{"vulnerabilities": [{"cveID": "CVE-2099-0002"}]}"#,
    )
    .unwrap();
    let mut signals = ExploitSignals::default();
    signals.load_kev(kev.path()).unwrap();
    let f = assess_with(&not_running(), &DeviceContext::default(), &signals);
    assert_eq!(f.relevance, Relevance::Relevant);
    assert_eq!(f.justification, None);
    assert!(f.priority >= Priority::High);
    let text = f.rationale.join(" ");
    assert!(text.contains("kept relevant"), "{text}");
}
