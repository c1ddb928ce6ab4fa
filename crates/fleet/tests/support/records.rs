//! A patch record carried through its state machine to "released", as the server's routes
//! carry one: shared by the fleet tests and the rollout bench (`benches/checkin.rs` includes
//! this file by path), so both start rollouts from the same record.

use medguard_patch::{
    BundleSummary, Evidence, EvidenceKind, ImpactAnalysis, Meaning, PatchRecord, Person,
};
use time::OffsetDateTime;

/// A person as the record names them.
pub fn person(id: &str) -> Person {
    Person {
        id: id.into(),
        printed_name: id.into(),
    }
}

/// Record `id` for `model`, signed (validated, approved) with `key` and released as `target`,
/// every step at `at`.
pub fn released_record(
    id: &str,
    model: &str,
    target: &str,
    at: OffsetDateTime,
    key: &medguard_digest::SigningKey,
) -> PatchRecord {
    let (eng, val, app) = (person("eng"), person("val"), person("app"));
    let mut r = PatchRecord::open(id, "fix", Vec::new(), &eng, at, "test").unwrap();
    let digest = "ab".repeat(32);
    r.attach_bundle(
        BundleSummary {
            digest: digest.clone(),
            version: "2".into(),
            models: vec![model.into()],
            signer: "vendor".into(),
            operations: Vec::new(),
            profile_diff: (0, 0, 1),
            components_changed: Vec::new(),
            reach: Vec::new(),
        },
        &eng,
        at,
    )
    .unwrap();
    r.record_impact(
        ImpactAnalysis {
            clinical_functions: "none".into(),
            safety_and_effectiveness: "none".into(),
            regression_tests: "self-test".into(),
            performance: "none".into(),
            author: eng.clone(),
            at,
        },
        at,
    )
    .unwrap();
    for (n, kind) in [
        EvidenceKind::MalwareScan {
            bundle: digest.clone(),
            files: 1,
            findings: 0,
            rules: "test".into(),
        },
        EvidenceKind::ReferenceInstall {
            device: "lab".into(),
            bundle: digest.clone(),
            outcome: "installed".into(),
            self_tests_passed: true,
            verification_intact: true,
        },
    ]
    .into_iter()
    .enumerate()
    {
        r.add_evidence(
            Evidence {
                digest: format!("{n:064}"),
                kind,
                added_by: eng.clone(),
                at,
            },
            at,
        )
        .unwrap();
    }
    r.sign(Meaning::Validated, &val, at, key).unwrap();
    r.sign(Meaning::Approved, &app, at, key).unwrap();
    r.release(target, &app, at).unwrap();
    r
}
