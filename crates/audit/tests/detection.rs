//! Detection over a stored log with the example rule file: alerts fire from the events'
//! own times, and recording them makes the next run quiet.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_audit::{
    ActiveParticipant, AuditEvent, AuditLog, AuditWriter, EventKind, Outcome, RuleSet,
    WriterOptions, detect,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn event(kind: EventKind, t: OffsetDateTime, user: &str, ip: &str) -> AuditEvent {
    let mut e = AuditEvent::new(kind, t, Outcome::MinorFailure, "pacs1");
    e.participants.push(ActiveParticipant {
        user_id: user.to_owned(),
        alternative_user_id: None,
        user_name: None,
        is_requestor: true,
        roles: vec![],
        network_access_point: Some(ip.to_owned()),
        network_access_point_type: None,
    });
    e
}

#[test]
fn the_example_rules_fire_on_a_scripted_attack_once() {
    let rules = RuleSet::parse(include_str!("../../../rules/audit-detection.toml")).unwrap();
    assert_eq!(rules.rules.len(), 5);
    let dir = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    let t = datetime!(2026-03-01 09:00 UTC);
    let mut events = Vec::new();
    // alice mistypes twice (no alert); mallory guesses 5 times in 40 s (alert).
    events.push(event(EventKind::LoginFailure, t, "alice", "10.0.0.2"));
    events.push(event(
        EventKind::LoginFailure,
        t + Duration::minutes(5),
        "alice",
        "10.0.0.2",
    ));
    for i in 0..5 {
        events.push(event(
            EventKind::LoginFailure,
            t + Duration::seconds(10 * i),
            "mallory",
            "10.9.9.9",
        ));
    }
    // A dropped binary, denied 3 minutes later (alert).
    events.push(event(
        EventKind::IntegrityDeviation,
        t + Duration::hours(1),
        "-",
        "-",
    ));
    events.push(event(
        EventKind::ExecutableDenied,
        t + Duration::hours(1) + Duration::minutes(3),
        "-",
        "-",
    ));
    // A configuration change at 12:00 local (fine) and at 23:30 local (alert).
    events.push(event(
        EventKind::ConfigurationChange,
        datetime!(2026-03-01 11:00 UTC),
        "bob",
        "10.0.0.3",
    ));
    events.push(event(
        EventKind::ConfigurationChange,
        datetime!(2026-03-01 22:30 UTC),
        "bob",
        "10.0.0.3",
    ));
    writer.append_batch(&events).unwrap();

    let log = AuditLog::open(dir.path()).unwrap();
    let found = detect(&log, &rules).unwrap();
    let fired: Vec<_> = found.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(
        fired,
        [
            "password-guessing",
            "tampering-then-execution",
            "off-hours-configuration"
        ]
    );
    assert_eq!(found.alerts[0].group.as_deref(), Some("mallory"));
    assert_eq!(found.alerts[0].seqs, vec![3, 4, 5, 6, 7]);

    let alerts: Vec<_> = found.alerts.iter().map(|a| a.to_event("pacs1")).collect();
    writer.append_batch(&alerts).unwrap();
    let again = detect(&log, &rules).unwrap();
    assert!(again.alerts.is_empty());
    assert_eq!(again.already_recorded, 3);
}
