//! Against a real rsyslog (imtcp with the gtls driver): every message arrives byte for byte
//! and in order, mutual TLS works, an untrusted server is refused, and a collector restart
//! in the middle of a stream loses nothing, with duplicates confined to the one batch that
//! was in flight when the collector went away.
// Test helpers outside #[test] functions may fail loudly, like the tests themselves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use medguard_atna::syslog::{AppName, AtnaStructuredData, Hostname, Origin, ProcId, SyslogMessage};
use medguard_atna::transport::{
    ClientIdentity, DeliveryConfirmation, Endpoint, SenderOptions, SyslogTlsSender, TransportError,
    client_config_from_files,
};
use support::collector::{ClientAuth, Collector, Pki};
use support::messages::{Rng, audit_message};

/// `count` distinct ITI-20 syslog messages with hostile content; every other one carries the
/// structured-data rendering too.
fn syslog_messages(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let origin = Origin {
        hostname: Hostname::new("ct-scanner-1.example").ok(),
        app_name: AppName::new("medguard").ok(),
        proc_id: None,
    };
    (0..count)
        .map(|index| {
            let mut message = audit_message(&mut rng);
            // Make each message unique so arrival can be counted per message.
            message.audit_source.source_id = format!("seq-{index:06}");
            let sd = if index % 2 == 0 {
                AtnaStructuredData::KeyFields
            } else {
                AtnaStructuredData::Omit
            };
            let mut origin = origin.clone();
            origin.proc_id = ProcId::new(&index.to_string()).ok();
            SyslogMessage::for_audit_message(&message, &origin, sd).to_string()
        })
        .collect()
}

fn sender(collector: &Collector, pki: &Pki, options: SenderOptions) -> SyslogTlsSender {
    let config = client_config_from_files(&pki.ca, None).unwrap();
    SyslogTlsSender::new(Endpoint::new("localhost", collector.port), config, options).unwrap()
}

const ARRIVAL: Duration = Duration::from_secs(30);

#[test]
fn every_message_arrives_byte_for_byte_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "a");
    let collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let messages = syslog_messages(1, 400);
    let mut sender = sender(&collector, &pki, SenderOptions::default());
    for batch in messages.chunks(37) {
        let delivery = sender.send_batch(batch).unwrap();
        assert_eq!(delivery.messages, batch.len());
        assert_eq!(delivery.confirmation, DeliveryConfirmation::CollectorClose);
    }
    let received = collector.wait_until(ARRIVAL, |lines| lines.len() >= messages.len());
    assert_eq!(
        received.len(),
        messages.len(),
        "{}",
        collector.diagnostics()
    );
    for (index, (got, sent)) in received.iter().zip(&messages).enumerate() {
        assert_eq!(got, sent, "message {index} differs");
    }
}

#[test]
fn flush_mode_keeps_one_connection_and_close_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "b");
    let collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let messages = syslog_messages(2, 300);
    let options = SenderOptions {
        confirmation: DeliveryConfirmation::Flush,
        ..SenderOptions::default()
    };
    let mut sender = sender(&collector, &pki, options);
    for batch in messages.chunks(50) {
        sender.send_batch(batch).unwrap();
    }
    sender.close().unwrap();
    assert_eq!(sender.connections_opened(), 1);
    let received = collector.wait_until(ARRIVAL, |lines| lines.len() >= messages.len());
    assert_eq!(received, messages, "{}", collector.diagnostics());
}

#[test]
fn flush_mode_notices_a_collector_that_went_away_before_reusing_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "f");
    let mut collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let messages = syslog_messages(5, 40);
    let options = SenderOptions {
        connect_timeout: Duration::from_secs(2),
        confirmation: DeliveryConfirmation::Flush,
        ..SenderOptions::default()
    };
    let mut sender = sender(&collector, &pki, options);
    sender.send_batch(&messages[..20]).unwrap();
    collector.wait_until(ARRIVAL, |lines| lines.len() >= 20);
    collector.stop();
    // The idle connection was closed by the collector: the sender sees it before writing,
    // reconnects, and fails to connect instead of writing into a dead socket.
    let error = sender.send_batch(&messages[20..]).unwrap_err();
    assert!(matches!(error, TransportError::Connect { .. }), "{error}");
    collector.restart();
    sender.send_batch(&messages[20..]).unwrap();
    sender.close().unwrap();
    assert_eq!(sender.connections_opened(), 2);
    let received = collector.wait_until(ARRIVAL, |lines| lines.len() >= messages.len());
    assert_eq!(received, messages, "{}", collector.diagnostics());
}

#[test]
fn mutual_tls_accepts_the_client_certificate_and_refuses_its_absence() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "c");
    let collector = Collector::start(dir.path(), &pki, ClientAuth::CertificateRequired);
    let messages = syslog_messages(3, 20);
    let endpoint = Endpoint::new("127.0.0.1", collector.port);

    let without = client_config_from_files(&pki.ca, None).unwrap();
    let mut anonymous =
        SyslogTlsSender::new(endpoint.clone(), without, SenderOptions::default()).unwrap();
    let refused = anonymous.send_batch(&messages[..1]);
    assert!(
        refused.is_err(),
        "a collector requiring client certificates must refuse"
    );

    let identity = ClientIdentity::from_files(&pki.client_cert, &pki.client_key).unwrap();
    let with =
        medguard_atna::transport::client_config(&std::fs::read(&pki.ca).unwrap(), Some(&identity))
            .unwrap();
    let mut device = SyslogTlsSender::new(endpoint, with, SenderOptions::default()).unwrap();
    device.send_batch(&messages[1..]).unwrap();
    let received = collector.wait_until(ARRIVAL, |lines| lines.len() >= messages.len() - 1);
    assert_eq!(received, messages[1..], "{}", collector.diagnostics());
}

#[test]
fn a_server_certificate_from_another_ca_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "d");
    let other = Pki::generate(dir.path(), "other");
    let collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let config = client_config_from_files(&other.ca, None).unwrap();
    let mut sender = SyslogTlsSender::new(
        Endpoint::new("localhost", collector.port),
        config,
        SenderOptions::default(),
    )
    .unwrap();
    let error = sender.send_batch(&["<85>1 - - - - - -"]).unwrap_err();
    assert!(matches!(error, TransportError::Handshake { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("localhost:{}", collector.port))
    );
}

/// The sender's side of the restart test: a cursor over `messages`, advanced only after a
/// delivered batch; failed batches are retried from the cursor.
struct Progress {
    delivered: AtomicUsize,
    failures: AtomicUsize,
    /// Index ranges of batches that failed at least once (and were therefore sent again).
    retried: Mutex<Vec<std::ops::Range<usize>>>,
}

#[test]
fn collector_restart_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "e");
    let mut collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);
    let messages = Arc::new(syslog_messages(4, 3000));
    let batch_size = 25;
    let options = SenderOptions {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(5),
        confirmation: DeliveryConfirmation::CollectorClose,
    };
    let mut sender = sender(&collector, &pki, options);
    let progress = Arc::new(Progress {
        delivered: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        retried: Mutex::new(Vec::new()),
    });

    let thread = {
        let messages = Arc::clone(&messages);
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut cursor = 0;
            while cursor < messages.len() {
                assert!(Instant::now() < deadline, "sender did not finish in 120 s");
                let end = (cursor + batch_size).min(messages.len());
                match sender.send_batch(&messages[cursor..end]) {
                    Ok(delivery) => {
                        cursor += delivery.messages;
                        progress.delivered.store(cursor, Ordering::SeqCst);
                    }
                    Err(_) => {
                        progress.failures.fetch_add(1, Ordering::SeqCst);
                        let mut retried = progress.retried.lock().unwrap();
                        if retried.last() != Some(&(cursor..end)) {
                            retried.push(cursor..end);
                        }
                        drop(retried);
                        // Back off before reconnecting; correctness does not depend on it.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            sender.connections_opened()
        })
    };

    // Kill the collector once part of the stream has been written out.
    let partial = collector.wait_until(ARRIVAL, |lines| lines.len() >= messages.len() / 4);
    assert!(
        partial.len() >= messages.len() / 4,
        "{}",
        collector.diagnostics()
    );
    collector.stop();
    let deadline = Instant::now() + ARRIVAL;
    while progress.failures.load(Ordering::SeqCst) == 0 {
        assert!(
            progress.delivered.load(Ordering::SeqCst) < messages.len(),
            "the stream ended before the collector went away; make it longer"
        );
        assert!(
            Instant::now() < deadline,
            "the sender never noticed the collector was gone"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    collector.restart();
    let connections = thread.join().unwrap();

    let index: HashMap<&str, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let received = collector.wait_until(ARRIVAL, |lines| {
        let distinct: std::collections::HashSet<&String> = lines.iter().collect();
        distinct.len() >= messages.len()
    });
    let mut seen = vec![0_usize; messages.len()];
    let mut first_arrivals = Vec::new();
    for line in &received {
        let i = *index
            .get(line.as_str())
            .unwrap_or_else(|| panic!("received a message that was never sent: {line}"));
        if seen[i] == 0 {
            first_arrivals.push(i);
        }
        seen[i] += 1;
    }
    let missing: Vec<usize> = (0..messages.len()).filter(|&i| seen[i] == 0).collect();
    assert!(
        missing.is_empty(),
        "lost messages {missing:?}\n{}",
        collector.diagnostics()
    );
    assert!(
        first_arrivals.windows(2).all(|w| w[0] < w[1]),
        "messages arrived out of order"
    );
    let retried = progress.retried.lock().unwrap().clone();
    for (i, &count) in seen.iter().enumerate() {
        if count > 1 {
            assert!(
                count == 2 && retried.iter().any(|range| range.contains(&i)),
                "message {i} arrived {count} times but its batch was never retried ({retried:?})"
            );
        }
    }
    let duplicates: usize = seen.iter().map(|&c| c.saturating_sub(1)).sum();
    eprintln!(
        "restart: {} failed attempts, retried batches {retried:?}, {duplicates} duplicates, {connections} connections",
        progress.failures.load(Ordering::SeqCst)
    );
    assert!(
        duplicates <= batch_size,
        "{duplicates} duplicates, more than one batch"
    );
    assert!(connections as usize >= messages.len() / batch_size);
}
