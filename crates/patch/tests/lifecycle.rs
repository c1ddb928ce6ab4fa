//! A patch record from assessment to confirmation, and every refusal on the way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_digest::SigningKey;
use medguard_patch::{
    BundleSummary, Evidence, EvidenceKind, ExportError, FindingRef, ImpactAnalysis, Meaning,
    PatchError, PatchRecord, PatchState, Person, SignatureStatus, export, verify_export,
};
use time::OffsetDateTime;
use time::macros::datetime;

const T: OffsetDateTime = datetime!(2026-12-05 09:00 UTC);

fn person(id: &str, name: &str) -> Person {
    Person {
        id: id.into(),
        printed_name: name.into(),
    }
}

fn engineer() -> Person {
    person("u-eng", "Erin Engineer")
}
fn validator() -> Person {
    person("u-val", "Victor Validator")
}
fn approver() -> Person {
    person("u-app", "Ada Approver")
}

fn bundle(digest: &str) -> BundleSummary {
    BundleSummary {
        digest: digest.into(),
        version: "2.1".into(),
        models: vec!["CT 9000".into()],
        signer: "0123456789abcdef".into(),
        operations: vec!["replace /opt/viewer/lib/libdcmtk.so.17".into()],
        profile_diff: (0, 0, 1),
        components_changed: vec!["dcmtk 3.6.7-8 -> 3.6.7-9".into()],
        reach: vec![],
    }
}

fn impact(author: Person) -> ImpactAnalysis {
    ImpactAnalysis {
        clinical_functions: "DICOM storage receiver".into(),
        safety_and_effectiveness: "none: the library's network parser only".into(),
        regression_tests: "DICOM conformance suite, store and retrieve 1,000 studies".into(),
        performance: "no change measured".into(),
        author,
        at: T,
    }
}

fn evidence(kind: EvidenceKind, digest: &str) -> Evidence {
    Evidence {
        digest: digest.into(),
        kind,
        added_by: engineer(),
        at: T,
    }
}

fn scan(findings: u64) -> Evidence {
    evidence(
        EvidenceKind::MalwareScan {
            bundle: "b1".into(),
            files: 12,
            findings,
            rules: "rules/".into(),
        },
        &format!("scan-{findings}"),
    )
}

fn install(ok: bool) -> Evidence {
    evidence(
        EvidenceKind::ReferenceInstall {
            device: "ref-ct-1".into(),
            bundle: "b1".into(),
            outcome: if ok { "installed" } else { "rolled-back" }.into(),
            self_tests_passed: ok,
            verification_intact: ok,
        },
        &format!("install-{ok}"),
    )
}

fn analysed() -> PatchRecord {
    let mut r = PatchRecord::open(
        "PR-1",
        "dcmtk DSA-9001-1",
        vec![FindingRef {
            advisory: "DSA-9001-1".into(),
            aliases: vec!["CVE-2099-0002".into()],
            component: "Debian:12 dcmtk 3.6.7-8".into(),
            devices: 2,
            priority: "critical".into(),
            rationale: vec!["relevant".into()],
        }],
        &engineer(),
        T,
        "opened from the finding",
    )
    .unwrap();
    r.attach_bundle(bundle("b1"), &engineer(), T).unwrap();
    r.record_impact(impact(engineer()), T).unwrap();
    r
}

fn key() -> SigningKey {
    SigningKey::generate().unwrap().0
}

#[test]
fn a_patch_goes_from_assessed_to_confirmed_and_exports_a_record_that_verifies() {
    let server = key();
    let mut r = analysed();
    assert_eq!(r.state, PatchState::ImpactAnalysed);
    r.add_evidence(scan(0), T).unwrap();
    r.add_evidence(install(true), T).unwrap();
    r.sign(Meaning::Validated, &validator(), T, &server)
        .unwrap();
    assert_eq!(r.state, PatchState::Validated);
    r.sign(Meaning::Approved, &approver(), T, &server).unwrap();
    r.release("ct-9000/viewer-2.1.mgb", &approver(), T).unwrap();
    r.start_rollout("RO-1", &approver(), T).unwrap();
    r.confirm(&approver(), T, "2 devices confirmed").unwrap();
    assert_eq!(r.state, PatchState::Confirmed);
    let states: Vec<_> = r.history.iter().map(|t| t.to).collect();
    assert_eq!(
        states,
        [
            PatchState::Assessed,
            PatchState::ImpactAnalysed,
            PatchState::Validated,
            PatchState::Approved,
            PatchState::Released,
            PatchState::RollingOut,
            PatchState::Confirmed
        ]
    );

    let bytes = export(&r, &server);
    let verified = verify_export(&bytes, &[server.public_key().clone()]).unwrap();
    assert_eq!(verified.record, r);
    assert!(
        verified
            .signatures
            .iter()
            .all(|s| s.status == SignatureStatus::Valid)
    );
    assert_eq!(
        verified.signatures[0].signature.signer.printed_name,
        "Victor Validator"
    );

    // One byte changed anywhere: refused.
    for i in [10, bytes.len() / 2, bytes.len() - 5] {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        assert!(
            verify_export(&tampered, &[server.public_key().clone()]).is_err(),
            "byte {i}"
        );
    }
    // Another server's key: refused.
    assert!(matches!(
        verify_export(&bytes, &[key().public_key().clone()]),
        Err(ExportError::Envelope(_))
    ));
}

#[test]
fn validation_needs_a_clean_scan_and_a_good_reference_install() {
    let server = key();
    let mut r = analysed();
    assert!(matches!(
        r.sign(Meaning::Validated, &validator(), T, &server),
        Err(PatchError::EvidenceMissing { .. })
    ));
    r.add_evidence(scan(0), T).unwrap();
    r.add_evidence(install(false), T).unwrap();
    assert!(matches!(
        r.sign(Meaning::Validated, &validator(), T, &server),
        Err(PatchError::EvidenceMissing { .. })
    ));
    r.add_evidence(install(true), T).unwrap();
    r.add_evidence(scan(3), T).unwrap();
    assert!(matches!(
        r.sign(Meaning::Validated, &validator(), T, &server),
        Err(PatchError::MalwareFound { findings: 3 })
    ));
    assert!(r.signatures.is_empty(), "a refusal changes nothing");
    assert_eq!(r.state, PatchState::ImpactAnalysed);
}

#[test]
fn duties_are_separated() {
    let server = key();
    let mut r = analysed();
    r.add_evidence(scan(0), T).unwrap();
    r.add_evidence(install(true), T).unwrap();
    assert!(matches!(
        r.sign(Meaning::Validated, &engineer(), T, &server),
        Err(PatchError::SeparationOfDuties { .. })
    ));
    r.sign(Meaning::Validated, &validator(), T, &server)
        .unwrap();
    assert!(matches!(
        r.sign(Meaning::Approved, &validator(), T, &server),
        Err(PatchError::SeparationOfDuties { .. })
    ));
    assert!(matches!(
        r.sign(Meaning::Approved, &engineer(), T, &server),
        Err(PatchError::SeparationOfDuties { .. })
    ));
    // Release without approval.
    assert!(matches!(
        r.release("t", &approver(), T),
        Err(PatchError::NotAllowed { .. })
    ));
    r.sign(Meaning::Approved, &approver(), T, &server).unwrap();
    assert!(matches!(
        r.sign(Meaning::Approved, &approver(), T, &server),
        Err(PatchError::NotAllowed { .. } | PatchError::SeparationOfDuties { .. })
    ));
}

#[test]
fn an_edit_after_signing_voids_the_signatures_visibly() {
    let server = key();
    let mut r = analysed();
    r.add_evidence(scan(0), T).unwrap();
    r.add_evidence(install(true), T).unwrap();
    r.sign(Meaning::Validated, &validator(), T, &server)
        .unwrap();
    r.sign(Meaning::Approved, &approver(), T, &server).unwrap();
    let mut edited = impact(engineer());
    edited.performance = "10% slower start".into();
    r.record_impact(edited, T).unwrap();
    assert_eq!(r.state, PatchState::ImpactAnalysed);
    let checks = r.check_signatures(&[server.public_key().clone()]);
    assert_eq!(checks.len(), 2, "void signatures stay in the record");
    assert!(
        checks
            .iter()
            .all(|c| matches!(c.status, SignatureStatus::Void(_)))
    );
    assert!(matches!(
        r.release("t", &approver(), T),
        Err(PatchError::NotAllowed { .. })
    ));
    assert!(
        r.history
            .last()
            .unwrap()
            .reason
            .contains("signatures are void")
    );
}

#[test]
fn a_signature_copied_to_another_record_is_void() {
    let server = key();
    let mut a = analysed();
    a.add_evidence(scan(0), T).unwrap();
    a.add_evidence(install(true), T).unwrap();
    let sig = a
        .sign(Meaning::Validated, &validator(), T, &server)
        .unwrap();
    let mut b = analysed();
    b.id = "PR-2".into();
    b.signatures.push(sig);
    let checks = b.check_signatures(&[server.public_key().clone()]);
    assert!(matches!(checks[0].status, SignatureStatus::Void(_)));
    // A forged countersignature.
    let mut c = a.clone();
    c.signatures[0].signer.printed_name = "Mallory".into();
    let checks = c.check_signatures(&[server.public_key().clone()]);
    assert!(matches!(checks[0].status, SignatureStatus::Forged(_)));
}

#[test]
fn deferral_resumes_where_it_was_and_final_states_are_final() {
    let mut r = analysed();
    r.defer(&engineer(), T, "waiting for the vendor's fix")
        .unwrap();
    assert_eq!(r.state, PatchState::Deferred);
    assert!(matches!(
        r.add_evidence(scan(0), T),
        Err(PatchError::NotAllowed { .. })
    ));
    r.resume(&engineer(), T, "fix available").unwrap();
    assert_eq!(r.state, PatchState::ImpactAnalysed);
    r.supersede("PR-9", &engineer(), T).unwrap();
    assert!(matches!(
        r.withdraw(&engineer(), T, "x"),
        Err(PatchError::NotAllowed { .. })
    ));
    assert!(matches!(
        r.defer(&engineer(), T, "x"),
        Err(PatchError::NotAllowed { .. })
    ));
}

#[test]
fn a_released_patch_rolls_out_in_waves_and_is_confirmed_when_every_device_has_an_outcome() {
    use medguard_patch::{
        Advance, DeviceReport, ErrorThreshold, Permille, ProfileVerification, Rollout, RolloutPlan,
        RolloutState, SelfTests, StatusKind, TargetDevice, WavePlan, WaveSelection,
    };
    let server = key();
    let mut r = analysed();
    r.add_evidence(scan(0), T).unwrap();
    r.add_evidence(install(true), T).unwrap();
    r.sign(Meaning::Validated, &validator(), T, &server)
        .unwrap();
    r.sign(Meaning::Approved, &approver(), T, &server).unwrap();
    r.release("ct-9000/viewer-2.1.mgb", &approver(), T).unwrap();

    let targets = ["ct-a", "ct-b", "ct-c"].map(|id| TargetDevice {
        id: id.into(),
        site: "st-mary".into(),
        model: "CT-9000".into(),
    });
    let waves = vec![
        WavePlan {
            name: "canary".into(),
            selection: WaveSelection::Devices(vec!["ct-a".into()]),
            success: Permille::ALL,
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Count(1),
        },
        WavePlan {
            name: "rest".into(),
            selection: WaveSelection::Rest,
            success: Permille::ALL,
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Share(Permille::percent(50).unwrap()),
        },
    ];
    let plan = RolloutPlan::new(targets.to_vec(), waves).unwrap();
    let target = r.released_as.clone().unwrap();
    let mut rollout = Rollout::start("RO-1", &r.id, &target, "2.1", plan, &approver(), T).unwrap();
    r.start_rollout(rollout.id(), &approver(), T).unwrap();

    let installed = || DeviceReport::Installed {
        self_tests: SelfTests {
            passed: 3,
            failed: 0,
        },
        verification: ProfileVerification::Intact,
    };
    rollout.report("ct-a", installed(), T).unwrap();
    rollout.report("ct-b", installed(), T).unwrap();
    rollout
        .defer_device(&engineer(), "ct-c", "replaced next month", T)
        .unwrap();
    assert_eq!(rollout.state(), &RolloutState::Completed);

    let outcomes = rollout.outcomes();
    let installed = outcomes
        .iter()
        .filter(|o| o.outcome.map(|s| s.kind()) == Some(StatusKind::Installed))
        .count();
    r.confirm(
        &approver(),
        T,
        &format!("{installed} installed, 1 deferred of {}", outcomes.len()),
    )
    .unwrap();
    assert_eq!(r.state, PatchState::Confirmed);
    assert_eq!(r.rollout.as_deref(), Some("RO-1"));
}
