//! End to end: events appended through `medguard-audit` are forwarded to a real rsyslog over
//! TLS as IHE ATNA messages; the collector restarts, forwarding fails while it is down and
//! resumes from the persistent cursor afterwards; every event arrives exactly once, in order.
//! The forwarding loop backs off on a controlled clock while the collector is away.
// Test helpers outside #[test] functions may fail loudly, like the tests themselves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use medguard_atna::forward::{
    ForwardError, ForwardOptions, ForwardPass, Schedule, cursor_path, forward_continuously,
    forward_pending, read_cursor,
};
use medguard_atna::syslog::{AppName, AtnaStructuredData, Hostname, Origin};
use medguard_atna::transport::{
    Endpoint, SenderOptions, SyslogTlsSender, client_config_from_files,
};
use medguard_audit::{
    AuditEvent, AuditLog, AuditWriter, EventKind, ManualClock, Outcome, WriterOptions,
};
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

#[test]
fn the_forwarding_loop_backs_off_while_the_collector_is_away_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let pki = Pki::generate(dir.path(), "loop");
    let mut collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let endpoint = Endpoint::new("localhost", collector.port);
    collector.stop();
    let collector = Arc::new(Mutex::new(collector));

    let writer = AuditWriter::open(&log_dir, WriterOptions::default()).unwrap();
    for index in 0..20 {
        writer.append(&event(index)).unwrap();
    }
    let log = AuditLog::open(&log_dir).unwrap();
    let config = client_config_from_files(&pki.ca, None).unwrap();
    let options = SenderOptions {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(5),
        ..SenderOptions::default()
    };
    let mut sender = SyslogTlsSender::new(endpoint, config, options).unwrap();
    let forward_options = ForwardOptions {
        batch_size: 8,
        origin: Origin {
            hostname: Hostname::new("ct-scanner-1").ok(),
            app_name: AppName::new("medguard").ok(),
            proc_id: None,
        },
        structured_data: AtnaStructuredData::KeyFields,
    };
    // The collector comes back during the fifth wait.
    let clock = ManualClock::new(time::OffsetDateTime::UNIX_EPOCH);
    let back = Arc::clone(&collector);
    clock.on_sleep(move |n| {
        if n == 5 {
            back.lock().unwrap().restart();
        }
    });
    let mut passes = Vec::new();
    let forwarded = forward_continuously(
        &log,
        &mut sender,
        &forward_options,
        Schedule {
            interval: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30),
        },
        &clock,
        &mut |pass| match pass {
            ForwardPass::Failed { error, retry_in } => {
                assert!(matches!(error, ForwardError::Transport(_)), "{error}");
                passes.push(format!("failed, retry in {}s", retry_in.as_secs()));
                ControlFlow::Continue(())
            }
            ForwardPass::Forwarded(report) if report.records > 0 => {
                passes.push(format!("forwarded {}", report.records));
                ControlFlow::Continue(())
            }
            ForwardPass::Forwarded(report) => ControlFlow::Break(report.next_seq),
        },
    );
    assert_eq!(forwarded, 21);
    assert_eq!(
        passes,
        [
            "failed, retry in 5s",
            "failed, retry in 10s",
            "failed, retry in 20s",
            "failed, retry in 30s",
            "failed, retry in 30s",
            "forwarded 20",
        ]
    );
    // After a good pass the wait is the interval again.
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [5, 10, 20, 30, 30, 5]);
    let collector = collector.lock().unwrap();
    let lines = collector.wait_until(Duration::from_secs(30), |lines| lines.len() >= 20);
    assert_eq!(
        seqs(&lines),
        (1..=20).collect::<Vec<u64>>(),
        "{}",
        collector.diagnostics()
    );
}
