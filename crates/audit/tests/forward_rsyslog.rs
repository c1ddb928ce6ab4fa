//! End to end: events appended through the library are forwarded to a real rsyslog over TLS
//! as IHE ATNA messages; the collector restarts, forwarding fails while it is down and
//! resumes from the persistent cursor afterwards; every event arrives exactly once, in order.
// Test helpers outside #[test] functions may fail loudly, like the tests themselves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../atna/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use medguard_atna::syslog::{AppName, AtnaStructuredData, Hostname, Origin};
use medguard_atna::transport::{
    Endpoint, SenderOptions, SyslogTlsSender, client_config_from_files,
};
use medguard_audit::forward::{
    ForwardError, ForwardOptions, cursor_path, forward_pending, read_cursor,
};
use medguard_audit::{AuditEvent, AuditLog, AuditWriter, EventKind, Outcome, WriterOptions};
use support::collector::{ClientAuth, Collector, Pki};

fn event(index: usize) -> AuditEvent {
    let kind = EventKind::ALL[index % EventKind::ALL.len()];
    let mut event = AuditEvent::new(
        kind,
        time::OffsetDateTime::now_utc(),
        Outcome::Success,
        "ct-scanner-1",
    );
    event.detail = Some(format!("event {index} <&> \"quoted\" ]"));
    event
}

/// The record seqs in the collector's output, in arrival order.
fn seqs(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|line| {
            let start = line
                .find("[medguardRecord@32473 seq=\"")
                .expect("record SD")
                + 27;
            let rest = &line[start..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

#[test]
fn events_are_forwarded_once_across_a_collector_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let pki = Pki::generate(dir.path(), "audit");
    let mut collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);

    let writer = AuditWriter::open(&log_dir, WriterOptions::default()).unwrap();
    for index in 0..50 {
        writer.append(&event(index)).unwrap();
    }
    let log = AuditLog::open(&log_dir).unwrap();
    let endpoint = Endpoint::new("localhost", collector.port);
    let config = client_config_from_files(&pki.ca, None).unwrap();
    let options = SenderOptions {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(5),
        ..SenderOptions::default()
    };
    let mut sender = SyslogTlsSender::new(endpoint.clone(), config, options).unwrap();
    let forward_options = ForwardOptions {
        batch_size: 16,
        origin: Origin {
            hostname: Hostname::new("ct-scanner-1").ok(),
            app_name: AppName::new("medguard").ok(),
            proc_id: None,
        },
        structured_data: AtnaStructuredData::KeyFields,
    };

    let report = forward_pending(&log, &mut sender, &forward_options).unwrap();
    assert_eq!(
        (report.records, report.batches, report.next_seq),
        (50, 4, 51)
    );
    let cursor = cursor_path(&log_dir, &endpoint);
    assert_eq!(read_cursor(&cursor).unwrap(), 51);

    // The collector goes away; new events are kept and the cursor stays put.
    collector.stop();
    for index in 50..80 {
        writer.append(&event(index)).unwrap();
    }
    let error = forward_pending(&log, &mut sender, &forward_options).unwrap_err();
    assert!(matches!(error, ForwardError::Transport(_)), "{error}");
    assert_eq!(read_cursor(&cursor).unwrap(), 51);

    // Back again: forwarding resumes at the cursor.
    collector.restart();
    let report = forward_pending(&log, &mut sender, &forward_options).unwrap();
    assert_eq!((report.records, report.next_seq), (30, 81));
    let report = forward_pending(&log, &mut sender, &forward_options).unwrap();
    assert_eq!(report.records, 0, "nothing left to send");

    let lines = collector.wait_until(Duration::from_secs(30), |lines| lines.len() >= 80);
    assert_eq!(
        seqs(&lines),
        (1..=80).collect::<Vec<u64>>(),
        "{}",
        collector.diagnostics()
    );
    assert!(lines[0].contains("<AuditMessage>") && lines[0].contains("IHE+RFC-3881"));
    assert!(lines[0].contains("event 0 &lt;&amp;&gt; &quot;quoted&quot; ]"));
}
