//! The patch workflow's pages as HTML: what an auditor must be able to read (a signature's
//! status in words), what the signing dialog asks, who sees the rollout forms, and that no
//! page carries inline script or style (the Content-Security-Policy forbids both).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use medguard_patch::{
    Advance, ElectronicSignature, ErrorThreshold, Meaning, PatchRecord, Permille, Person, Rollout,
    RolloutPlan, SignatureCheck, SignatureStatus, TargetDevice, WavePlan, WaveSelection,
};
use medguard_web::Viewer;
use medguard_web::patches::{RecordPage, RolloutPage, patch_record_page, rollout_page};
use time::OffsetDateTime;

fn person(name: &str) -> Person {
    Person {
        id: name.into(),
        printed_name: name.into(),
    }
}

fn viewer() -> Viewer {
    Viewer {
        name: Some("val".into()),
        role: Some("validator".into()),
        csrf: Some("csrf-token-of-the-session".into()),
        alerts: Vec::new(),
        ..Viewer::default()
    }
}

fn at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

fn record() -> PatchRecord {
    PatchRecord::open(
        "PR-0001",
        "nginx fix",
        Vec::new(),
        &person("eng"),
        at(),
        "by hand",
    )
    .unwrap()
}

fn check(name: &str, meaning: Meaning, status: SignatureStatus) -> SignatureCheck {
    SignatureCheck {
        signature: ElectronicSignature {
            record_id: "PR-0001".into(),
            content_digest: "ab".repeat(32),
            signer: person(name),
            meaning,
            signed_at: at(),
            key_id: "00".repeat(8),
            server_signature: String::new(),
        },
        status,
    }
}

fn page(record: &PatchRecord, signatures: &[SignatureCheck], may_sign: &[Meaning]) -> String {
    patch_record_page(
        &viewer(),
        &RecordPage {
            record,
            content_digest: &"cd".repeat(32),
            signatures,
            rollouts: &[],
            may_sign,
            notice: None,
            error: None,
        },
    )
}

fn assert_no_inline_script_or_style(html: &str) {
    assert!(!html.contains("<script"), "inline script");
    assert!(!html.contains(" style="), "inline style attribute");
    assert!(!html.contains("<style"), "inline style element");
}

#[test]
fn each_signature_shows_name_meaning_utc_time_and_status_in_words() {
    let r = record();
    let checks = [
        check("val", Meaning::Validated, SignatureStatus::Valid),
        check(
            "app",
            Meaning::Approved,
            SignatureStatus::Void("the record changed after it was signed".into()),
        ),
        check(
            "mallory",
            Meaning::Reviewed,
            SignatureStatus::Forged("the countersignature does not verify".into()),
        ),
    ];
    let html = page(&r, &checks, &[]);
    for part in [
        "val",
        "validated",
        "approved for release",
        "2026-01-01 00:00:00 UTC",
        ">valid<",
        ">VOID<",
        "the record changed after it was signed",
        ">FORGED<",
        "the countersignature does not verify",
        "/api/v1/patch-records/PR-0001/export",
    ] {
        assert!(html.contains(part), "lacks {part}");
    }
    assert!(
        !html.contains("Sign this record"),
        "no dialog without a meaning to sign"
    );
    assert_no_inline_script_or_style(&html);
}

#[test]
fn the_signing_dialog_asks_passphrase_and_code_and_states_the_binding() {
    let r = record();
    let html = page(&r, &[], &[Meaning::Reviewed, Meaning::Validated]);
    for part in [
        "Sign this record",
        r#"action="/patches/PR-0001/sign""#,
        r#"name="csrf" value="csrf-token-of-the-session""#,
        r#"name="content_digest""#,
        r#"for="sign-passphrase""#,
        r#"type="password" name="passphrase""#,
        r#"for="sign-code""#,
        r#"name="code""#,
        r#"id="meaning-validated" value="validated" checked"#,
        r#"id="meaning-reviewed" value="reviewed""#,
        "binds to this record's content digest",
        "asked every time you sign",
    ] {
        assert!(html.contains(part), "lacks {part}");
    }
    assert!(
        !html.contains("meaning-approved"),
        "only the role's meanings"
    );
    assert_no_inline_script_or_style(&html);
}

fn rollout() -> Rollout {
    let plan = RolloutPlan::new(
        vec![TargetDevice {
            id: "device-1".into(),
            site: "Radiology".into(),
            model: "CT-9000".into(),
        }],
        vec![WavePlan {
            name: "everyone".into(),
            selection: WaveSelection::Rest,
            success: Permille::new(1000).unwrap(),
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Count(1),
        }],
    )
    .unwrap();
    Rollout::start(
        "RO-1",
        "PR-0001",
        "CT-9000/PR-0001.bundle",
        "2",
        plan,
        &person("app"),
        at(),
    )
    .unwrap()
}

fn rollout_html(r: &Rollout, may_manage: bool) -> String {
    let devices = r.outcomes();
    rollout_page(
        &viewer(),
        &RolloutPage {
            rollout: r,
            devices: &devices,
            may_manage,
            notice: None,
            error: None,
        },
    )
}

#[test]
fn a_rollout_shows_its_progress_and_the_forms_its_manager_may_use() {
    let mut r = rollout();
    let active = rollout_html(&r, true);
    assert!(active.contains(r#"action="/rollouts/RO-1/pause""#));
    assert!(active.contains(r#"for="pause-reason""#));
    assert!(
        active.contains(r#"<svg class="progress""#),
        "the progress bar"
    );
    assert!(active.contains("0 of 1 finished"));
    assert!(active.contains("Radiology"));
    assert_no_inline_script_or_style(&active);
    assert!(!rollout_html(&r, false).contains("<form method=\"post\" action=\"/rollouts"));

    r.pause(&person("app"), "MRI upgrade", at()).unwrap();
    let paused = rollout_html(&r, true);
    assert!(paused.contains("MRI upgrade"));
    assert!(paused.contains(r#"action="/rollouts/RO-1/resume""#));
    assert!(!paused.contains(r#"action="/rollouts/RO-1/pause""#));
}
