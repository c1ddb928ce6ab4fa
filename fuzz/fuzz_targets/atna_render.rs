//! Rendering DICOM audit messages and their syslog form from arbitrary strings: never
//! panics, the XML holds only characters XML 1.0 allows and no raw markup from the values
//! (every `<` opens one of our elements), the syslog message is one line, and its frame
//! parses back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_atna::dicom::{
    ActiveParticipant, AuditMessage, AuditSourceIdentification, CodedValue, EventIdentification,
    EventOutcomeIndicator, ParticipantObjectDescriptor, ParticipantObjectIdentification,
};
use medguard_atna::syslog::{
    AtnaStructuredData, Hostname, Origin, SyslogMessage, frame, parse_frame,
};

const ELEMENTS: &[&str] = &[
    "<?xml",
    "<AuditMessage",
    "</AuditMessage",
    "<EventIdentification",
    "</EventIdentification",
    "<EventID ",
    "<EventTypeCode",
    "<EventOutcomeDescription",
    "</EventOutcomeDescription",
    "<ActiveParticipant",
    "</ActiveParticipant",
    "<RoleIDCode",
    "<AuditSourceIdentification",
    "</AuditSourceIdentification",
    "<AuditSourceTypeCode",
    "<ParticipantObjectIdentification",
    "</ParticipantObjectIdentification",
    "<ParticipantObjectIDTypeCode",
    "<ParticipantObjectName",
    "</ParticipantObjectName",
];

fuzz_target!(|data: &[u8]| {
    let mut parts = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut next = || parts.next().unwrap_or_default();
    let mut event = EventIdentification::new(
        CodedValue::new(next(), next(), next()).with_display_name(next()),
        time::OffsetDateTime::UNIX_EPOCH,
        EventOutcomeIndicator::SeriousFailure,
    );
    event.outcome_description = Some(next());
    let mut participant = ActiveParticipant::new(next(), true);
    participant.user_name = Some(next());
    participant
        .role_id_codes
        .push(CodedValue::new(next(), next(), next()));
    let mut source = AuditSourceIdentification::new(next());
    source.enterprise_site_id = Some(next());
    let mut object =
        ParticipantObjectIdentification::new(CodedValue::new(next(), next(), next()), next());
    object.descriptor = Some(ParticipantObjectDescriptor::Name(next()));
    let message = AuditMessage::new(event, participant, source).with_participant_object(object);

    let xml = message.to_xml();
    for c in xml.chars() {
        assert!(
            matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..),
            "character {c:?} in the XML"
        );
    }
    for (at, _) in xml.match_indices('<') {
        let rest = &xml[at..];
        assert!(
            ELEMENTS.iter().any(|e| rest.starts_with(e)),
            "stray markup at {at}: {xml}"
        );
    }

    let origin = Origin {
        hostname: Hostname::sanitized(&next()),
        app_name: None,
        proc_id: None,
    };
    let line = SyslogMessage::for_audit_message(&message, &origin, AtnaStructuredData::KeyFields)
        .to_string();
    assert!(!line.contains(['\n', '\r', '\0']));
    let framed = frame(line.as_bytes());
    let parsed = parse_frame(&framed, usize::MAX, 0).unwrap().unwrap();
    assert_eq!(parsed.message, line.as_bytes());
    assert_eq!(parsed.consumed, framed.len());
});
