//! Rendered DICOM audit messages validate against our RELAX NG transcription of DICOM PS3.15
//! A.5.1 (`schema/dicom-audit-message.rng`), checked by libxml2's `xmllint`, including
//! messages full of markup, quotes, control characters and astral-plane characters.
// Test helpers outside #[test] functions may fail loudly, like the tests themselves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::messages::{Rng, audit_message};

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/dicom-audit-message.rng")
}

/// Runs xmllint on every file; returns (success, combined output).
fn xmllint(args: &[&str], files: &[PathBuf]) -> (bool, String) {
    let xmllint = support::require_tool("xmllint", "libxml2-utils");
    let output = Command::new(xmllint)
        .args(args)
        .args(files)
        .output()
        .expect("run xmllint");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn validate(files: &[PathBuf]) -> (bool, String) {
    let schema = schema();
    xmllint(&["--noout", "--relaxng", schema.to_str().unwrap()], files)
}

#[test]
fn varied_hostile_messages_validate_against_the_dicom_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x05EE_DA7A);
    let mut files = Vec::new();
    for index in 0..300 {
        let message = audit_message(&mut rng);
        let xml = message.to_xml();
        assert!(
            !xml.contains('\n') && !xml.contains('\r'),
            "one line: {xml}"
        );
        let path = dir.path().join(format!("message-{index:03}.xml"));
        std::fs::write(&path, xml).unwrap();
        files.push(path);
    }
    let (ok, output) = validate(&files);
    assert!(ok, "xmllint rejected rendered messages:\n{output}");
    assert_eq!(
        output.matches(" validates").count(),
        files.len(),
        "every file must validate:\n{output}"
    );
}

#[test]
fn the_schema_rejects_what_the_standard_forbids() {
    // Proves the validation above is not vacuous.
    let dir = tempfile::tempdir().unwrap();
    let valid_event = r#"<EventIdentification EventDateTime="2026-11-23T08:00:00Z" EventOutcomeIndicator="0"><EventID csd-code="110100" codeSystemName="DCM" originalText="Application Activity"/></EventIdentification>"#;
    let participant = r#"<ActiveParticipant UserID="u" UserIsRequestor="true"/>"#;
    let source = r#"<AuditSourceIdentification AuditSourceID="s"/>"#;
    let cases = [
        (
            "outcome-3",
            format!(
                "<AuditMessage>{}{participant}{source}</AuditMessage>",
                valid_event.replace("Indicator=\"0\"", "Indicator=\"3\"")
            ),
        ),
        (
            "no-participant",
            format!("<AuditMessage>{valid_event}{source}</AuditMessage>"),
        ),
        (
            "no-original-text",
            format!(
                "<AuditMessage>{}{participant}{source}</AuditMessage>",
                valid_event.replace(" originalText=\"Application Activity\"", "")
            ),
        ),
        (
            "bad-date",
            format!(
                "<AuditMessage>{}{participant}{source}</AuditMessage>",
                valid_event.replace("2026-11-23T08:00:00Z", "yesterday")
            ),
        ),
        (
            "requestor-yes",
            format!(
                "<AuditMessage>{valid_event}{}{source}</AuditMessage>",
                participant.replace("true", "yes")
            ),
        ),
    ];
    for (name, xml) in cases {
        let path = dir.path().join(format!("{name}.xml"));
        std::fs::write(&path, xml).unwrap();
        let (ok, output) = validate(std::slice::from_ref(&path));
        assert!(!ok, "{name} should fail validation:\n{output}");
    }
    let path = dir.path().join("valid.xml");
    std::fs::write(
        &path,
        format!("<AuditMessage>{valid_event}{participant}{source}</AuditMessage>"),
    )
    .unwrap();
    let (ok, output) = validate(&[path]);
    assert!(ok, "{output}");
}

#[test]
fn attribute_values_survive_escaping() {
    // What an XML parser reads back is what was put in, except characters XML 1.0 cannot
    // carry, which become U+FFFD.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(42);
    for index in 0..40 {
        let message = audit_message(&mut rng);
        let path = dir.path().join(format!("m{index}.xml"));
        std::fs::write(&path, message.to_xml()).unwrap();
        let (ok, output) = xmllint(
            &[
                "--xpath",
                "string(/AuditMessage/ActiveParticipant[1]/@UserID)",
            ],
            &[path],
        );
        let expected: String = message.active_participants()[0]
            .user_id
            .chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => c,
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
                c => c,
            })
            .collect();
        // xmllint prints nothing and fails for an empty string result.
        if expected.is_empty() {
            continue;
        }
        assert!(ok, "{output}");
        // xmllint ends its output with one line feed of its own.
        let output = output.strip_suffix('\n').unwrap_or(&output);
        assert_eq!(output, expected, "message {index}");
    }
}
