//! The wire format: round trips, limits, and the refusals a hostile device gets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_proto::{
    AuditRecord, AuditUpload, DeviationKind, DeviationRecord, EnrollRequest, InventoryReport,
    ProfileRef, ProtoError, Report, ReportBatch, ReportBody, ReportKind, Verification,
    VerificationOutcome, VerificationSummary, limits, parse,
};
use time::macros::datetime;

fn verification(deviations: Vec<DeviationRecord>, omitted: u64) -> ReportBody {
    let changed = deviations.len() as u64 + omitted;
    ReportBody::Verification(Verification {
        root: "/".into(),
        profile: Some(ProfileRef {
            path: "/etc/medguard/device.profile".into(),
            digest: "ab".repeat(32),
            signer: Some("0123456789abcdef".into()),
            entries: 5_000,
            entries_digest: None,
        }),
        outcome: VerificationOutcome::Completed {
            summary: VerificationSummary {
                expected_entries: 5_000,
                actual_entries: 5_000,
                changed,
                ..VerificationSummary::default()
            },
            deviations,
            deviations_omitted: omitted,
            unverifiable: vec![],
            unverifiable_omitted: 0,
        },
    })
}

fn changed(path: &str) -> DeviationRecord {
    DeviationRecord {
        path: path.into(),
        kind: DeviationKind::Changed,
        attributes: vec!["content".into(), "size".into()],
    }
}

fn batch(bodies: Vec<(u64, ReportBody)>) -> ReportBatch {
    ReportBatch {
        reports: bodies
            .into_iter()
            .map(|(seq, body)| Report {
                seq,
                created: datetime!(2026-12-05 10:00 UTC),
                command: None,
                body,
            })
            .collect(),
    }
}

fn parse_batch(json: &[u8]) -> Result<ReportBatch, ProtoError> {
    parse::<ReportBatch>(json, limits::MAX_BODY_BYTES)
}

#[test]
fn a_batch_round_trips_with_its_sbom_untouched() {
    let sbom = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"zlib1g","version":"1:1.2.13.dfsg-1"}]}"#;
    let b = batch(vec![
        (7, verification(vec![changed("/opt/viewer/bin/viewer")], 0)),
        (
            9,
            ReportBody::Inventory(InventoryReport {
                format: "application/vnd.cyclonedx+json".into(),
                sbom: serde_json::value::RawValue::from_string(sbom.into()).unwrap(),
            }),
        ),
    ]);
    let json = serde_json::to_vec(&b).unwrap();
    let back = parse_batch(&json).unwrap();
    assert_eq!(serde_json::to_vec(&back).unwrap(), json);
    let ReportBody::Inventory(inv) = &back.reports[1].body else {
        panic!("not an inventory")
    };
    assert_eq!(inv.sbom.get(), sbom);
    assert_eq!(back.reports[0].body.kind(), ReportKind::Verification);
}

#[test]
fn sequence_numbers_must_rise_within_a_batch() {
    let b = batch(vec![
        (5, verification(vec![], 0)),
        (5, verification(vec![], 0)),
    ]);
    let err = parse_batch(&serde_json::to_vec(&b).unwrap()).unwrap_err();
    let ProtoError::Invalid(invalid) = err else {
        panic!("{err}")
    };
    assert_eq!(invalid.field, "reports[1].seq");
    let b = batch(vec![(0, verification(vec![], 0))]);
    assert!(parse_batch(&serde_json::to_vec(&b).unwrap()).is_err());
    assert!(parse_batch(br#"{"reports":[]}"#).is_err());
}

#[test]
fn a_shortened_deviation_list_must_say_how_much_it_left_out() {
    let b = batch(vec![(1, verification(vec![changed("/a")], 41))]);
    parse_batch(&serde_json::to_vec(&b).unwrap()).unwrap();
    // A summary claiming 42 changes with one listed and none counted as omitted is a lie.
    let mut json = serde_json::to_value(&b).unwrap();
    json["reports"][0]["body"]["verification"]["outcome"]["deviations_omitted"] = 0.into();
    let err = parse_batch(&serde_json::to_vec(&json).unwrap()).unwrap_err();
    assert!(
        matches!(err, ProtoError::Invalid(ref i) if i.field.ends_with("outcome.deviations")),
        "{err}"
    );
}

#[test]
fn bodies_over_their_limit_are_refused_before_parsing() {
    let err = parse::<ReportBatch>(&[b' '; 100], 99).unwrap_err();
    assert_eq!(
        err,
        ProtoError::TooLarge {
            limit: 99,
            actual: 100
        }
    );
}

#[test]
fn malformed_and_wrongly_typed_json_is_refused_with_a_position() {
    for bad in [
        &b"{"[..],
        b"[]",
        br#"{"reports":[{"seq":"1","created":"2026-12-05T10:00:00Z","body":{"health":{}}}]}"#,
        br#"{"reports":[{"seq":-1,"created":"2026-12-05T10:00:00Z","body":{"health":{}}}]}"#,
        br#"{"reports":[{"seq":1,"created":"yesterday","body":{"health":{}}}]}"#,
        br#"{"reports":[{"seq":1,"created":"2026-12-05T10:00:00Z","body":{"rootkit":{}}}]}"#,
        b"\xff\xfe",
    ] {
        let err = parse_batch(bad).unwrap_err();
        assert!(matches!(err, ProtoError::Malformed { .. }), "{err}");
    }
}

#[test]
fn control_characters_in_paths_are_refused() {
    let b = batch(vec![(
        1,
        verification(vec![changed("/etc/pass\u{1b}[2Jwd")], 0),
    )]);
    let err = parse_batch(&serde_json::to_vec(&b).unwrap()).unwrap_err();
    assert!(matches!(err, ProtoError::Invalid(_)), "{err}");
}

#[test]
fn audit_records_must_be_consecutive() {
    let record = |seq| AuditRecord {
        seq,
        payload: r#"{"type":"login-failure"}"#.into(),
        digest: "00".repeat(32),
    };
    let upload = |records| {
        batch(vec![(
            1,
            ReportBody::Audit(AuditUpload {
                log: "agent".into(),
                records,
                checkpoints: vec![],
            }),
        )])
    };
    parse_batch(&serde_json::to_vec(&upload(vec![record(3), record(4)])).unwrap()).unwrap();
    let err =
        parse_batch(&serde_json::to_vec(&upload(vec![record(3), record(5)])).unwrap()).unwrap_err();
    assert!(matches!(err, ProtoError::Invalid(_)), "{err}");
}

#[test]
fn an_enrollment_needs_a_certificate_request() {
    let good = br#"{"token":"abc","csr_pem":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n","facts":{"hostname":"ct-01","agent_version":"0.1.0"}}"#;
    let req = parse::<EnrollRequest>(good, limits::MAX_ENROLL_BYTES).unwrap();
    assert!(
        !format!("{req:?}").contains("abc"),
        "the token leaks through Debug"
    );
    let bad = br#"{"token":"abc","csr_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","facts":{"hostname":"ct-01","agent_version":"0.1.0"}}"#;
    assert!(parse::<EnrollRequest>(bad, limits::MAX_ENROLL_BYTES).is_err());
}

#[test]
fn only_superseded_kinds_may_be_compacted() {
    for kind in [
        ReportKind::Verification,
        ReportKind::Scan,
        ReportKind::Audit,
        ReportKind::Allowlist,
        ReportKind::Install,
    ] {
        assert!(!kind.superseded_by_newer(), "{kind:?} is evidence");
    }
    for kind in [
        ReportKind::Inventory,
        ReportKind::Services,
        ReportKind::Health,
    ] {
        assert!(kind.superseded_by_newer(), "{kind:?}");
    }
}
