//! Detection over a stored log with the example rule file: alerts fire from the events'
//! own times, and recording them makes the next run quiet.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_audit::{
    ActiveParticipant, AuditError, AuditEvent, AuditLog, AuditWriter, DetectState, EventKind,
    Outcome, Restart, RuleSet, WriterOptions, detect, detect_from,
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

/// A scripted stream whose alerts straddle any split: 5 guesses by mallory 10 s apart, an
/// integrity deviation followed 3 minutes later by a denied executable, an off-hours change.
fn scripted() -> Vec<AuditEvent> {
    let t = datetime!(2026-03-01 09:00 UTC);
    let mut events = vec![event(EventKind::LoginFailure, t, "alice", "10.0.0.2")];
    for i in 0..5 {
        events.push(event(
            EventKind::LoginFailure,
            t + Duration::seconds(10 * i),
            "mallory",
            "10.9.9.9",
        ));
    }
    events.push(event(
        EventKind::IntegrityDeviation,
        t + Duration::hours(1),
        "-",
        "-",
    ));
    events.push(event(
        EventKind::LoginFailure,
        t + Duration::hours(1) + Duration::minutes(1),
        "alice",
        "10.0.0.2",
    ));
    events.push(event(
        EventKind::ExecutableDenied,
        t + Duration::hours(1) + Duration::minutes(3),
        "-",
        "-",
    ));
    events.push(event(
        EventKind::ConfigurationChange,
        datetime!(2026-03-01 22:30 UTC),
        "bob",
        "10.0.0.3",
    ));
    events
}

fn rules() -> RuleSet {
    RuleSet::parse(include_str!("../../../rules/audit-detection.toml")).unwrap()
}

fn alert_keys(alerts: &[medguard_audit::Alert]) -> Vec<(String, Vec<u64>)> {
    alerts
        .iter()
        .map(|a| (a.rule.clone(), a.seqs.clone()))
        .collect()
}

/// Whatever record a run stops at, the next run reads only what follows and the two together
/// raise exactly the alerts of one run over the whole log: windows open at the split carry over.
#[test]
fn incremental_runs_raise_what_one_whole_run_raises_wherever_they_split() {
    let rules = rules();
    let events = scripted();
    let whole = {
        let dir = tempfile::tempdir().unwrap();
        let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
        writer.append_batch(&events).unwrap();
        alert_keys(
            &detect(&AuditLog::open(dir.path()).unwrap(), &rules)
                .unwrap()
                .alerts,
        )
    };
    assert_eq!(whole.len(), 3, "{whole:?}");
    let state_dir = tempfile::tempdir().unwrap();
    for split in 0..=events.len() {
        let dir = tempfile::tempdir().unwrap();
        let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        let (head, tail) = events.split_at(split);
        if !head.is_empty() {
            writer.append_batch(head).unwrap();
        }
        let (first, state) = detect_from(&log, &rules, None).unwrap();
        assert_eq!(first.records, split as u64);
        // Through the file, as the command saves it between runs.
        let path = state_dir.path().join("state.json");
        state.save(&path).unwrap();
        let state = DetectState::load(&path).unwrap().unwrap();
        if !tail.is_empty() {
            writer.append_batch(tail).unwrap();
        }
        let (second, _) = detect_from(&log, &rules, Some(&state)).unwrap();
        assert_eq!(second.restarted, None);
        assert_eq!(second.records, tail.len() as u64, "split {split}");
        if !tail.is_empty() {
            assert_eq!(second.first_seq, Some(split as u64 + 1));
        }
        let mut got = alert_keys(&first.alerts);
        got.extend(alert_keys(&second.alerts));
        assert_eq!(got, whole, "split after {split} records");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn recorded_alerts_are_not_raised_again_and_old_records_are_not_reread() {
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let writer = AuditWriter::open(dir.path(), WriterOptions::default()).unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    writer.append_batch(&scripted()).unwrap();
    let (first, state) = detect_from(&log, &rules, None).unwrap();
    assert_eq!(first.alerts.len(), 3);
    let alerts: Vec<_> = first.alerts.iter().map(|a| a.to_event("pacs1")).collect();
    writer.append_batch(&alerts).unwrap();
    let (second, state) = detect_from(&log, &rules, Some(&state)).unwrap();
    // Only the three alert records are new.
    assert_eq!((second.records, second.alerts.len()), (3, 0));
    let (third, _) = detect_from(&log, &rules, Some(&state)).unwrap();
    assert_eq!((third.records, third.alerts.len()), (0, 0));

    // A crash after recording the alerts and before saving the state: the next run reads the
    // same records again and finds the alerts recorded.
    let (again, _) = detect_from(&log, &rules, None).unwrap();
    assert_eq!((again.alerts.len(), again.already_recorded), (0, 3));
}

#[test]
fn a_recreated_or_shorter_log_restarts_from_its_first_record() {
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let writer = AuditWriter::open(&log_dir, WriterOptions::default()).unwrap();
    writer.append_batch(&scripted()).unwrap();
    drop(writer);
    let (_, state) = detect_from(&AuditLog::open(&log_dir).unwrap(), &rules, None).unwrap();
    assert_eq!(state.position().unwrap().seq, 10);

    // Recreated with more records than before: record 10 is another record.
    std::fs::remove_dir_all(&log_dir).unwrap();
    let writer = AuditWriter::open(&log_dir, WriterOptions::default()).unwrap();
    let mut other = scripted();
    other.rotate_left(3);
    other.extend(scripted());
    writer.append_batch(&other).unwrap();
    drop(writer);
    let log = AuditLog::open(&log_dir).unwrap();
    let (d, _) = detect_from(&log, &rules, Some(&state)).unwrap();
    assert_eq!(d.restarted, Some(Restart::DigestDiffers { seq: 10 }));
    assert_eq!((d.records, d.first_seq), (20, Some(1)));
    assert!(!d.alerts.is_empty());

    // Rotated to a shorter log: there is no record 10.
    std::fs::remove_dir_all(&log_dir).unwrap();
    let writer = AuditWriter::open(&log_dir, WriterOptions::default()).unwrap();
    writer.append_batch(&scripted()[..4]).unwrap();
    drop(writer);
    let (d, _) = detect_from(&AuditLog::open(&log_dir).unwrap(), &rules, Some(&state)).unwrap();
    assert_eq!(d.restarted, Some(Restart::Missing { seq: 10 }));
    assert_eq!(d.records, 4);
}

#[test]
fn a_damaged_state_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    assert_eq!(DetectState::load(&path).unwrap(), None);
    std::fs::write(&path, "{\"version\": 1, \"posit").unwrap();
    let err = DetectState::load(&path).unwrap_err();
    assert!(
        matches!(&err, AuditError::DetectState { path: p, .. } if *p == path),
        "{err:?}"
    );
}
