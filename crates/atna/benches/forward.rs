//! Forwarding throughput to a real rsyslog over TLS, compared in the same run with
//! `gnutls-cli` piping the same pre-framed bytes into the same collector (GnuTLS on the
//! client side too, no per-message work at all: a bound on what the collector can take).
//!
//! Each run ends when the collector has written every message to its output file, so the
//! figures are end to end. Run with `bench/atna.sh` or
//! `cargo bench -p medguard-atna --bench forward -- [messages]`. Needs rsyslog,
//! rsyslog-gnutls and gnutls-bin. Times are printed, never asserted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use medguard_atna::syslog::{AppName, AtnaStructuredData, Hostname, Origin, SyslogMessage, frame};
use medguard_atna::transport::{
    DeliveryConfirmation, Endpoint, SenderOptions, SyslogTlsSender, client_config_from_files,
};
use support::collector::{ClientAuth, Collector, Pki};
use support::messages::{Rng, audit_message};

fn wait_for_size(collector: &Collector, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let now = std::fs::metadata(&collector.output).map_or(0, |m| m.len());
        if now >= size {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "collector wrote {now} of {size} bytes in 600 s:\n{}",
            collector.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn report(name: &str, messages: usize, bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    let rate = messages as f64 / secs;
    println!(
        "{name:<42} {secs:>7.3} s {rate:>10.0} msg/s {:>8.1} MB/s",
        bytes as f64 / secs / 1e6
    );
    rate
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let gnutls_cli = support::require_tool("gnutls-cli", "gnutls-bin");
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "bench");
    let collector = Collector::start(dir.path(), &pki, ClientAuth::Anonymous);

    let origin = Origin {
        hostname: Hostname::new("ct-scanner-1.example").ok(),
        app_name: AppName::new("medguard").ok(),
        proc_id: None,
    };
    let mut rng = Rng::new(7);
    let messages: Vec<String> = (0..count)
        .map(|_| {
            SyslogMessage::for_audit_message(
                &audit_message(&mut rng),
                &origin,
                AtnaStructuredData::KeyFields,
            )
            .to_string()
        })
        .collect();
    let payload: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let line_bytes = payload + count as u64; // one line feed per message in the output
    let framed: Vec<u8> = messages.iter().flat_map(|m| frame(m.as_bytes())).collect();
    let framed_path = dir.path().join("framed.bin");
    std::fs::write(&framed_path, &framed).unwrap();
    println!(
        "{count} ITI-20 messages, {:.1} MB of SYSLOG-MSG ({} bytes average), rsyslog imtcp+gtls on loopback",
        payload as f64 / 1e6,
        payload / count as u64,
    );

    let config = client_config_from_files(&pki.ca, None).unwrap();
    let endpoint = Endpoint::new("localhost", collector.port);
    let mut expected = 0;
    let mut rates = Vec::new();
    for (name, confirmation, batch) in [
        (
            "medguard-atna, flush, batches of 1000",
            DeliveryConfirmation::Flush,
            1000,
        ),
        (
            "medguard-atna, collector close, batches of 1000",
            DeliveryConfirmation::CollectorClose,
            1000,
        ),
        (
            "medguard-atna, collector close, batches of 100",
            DeliveryConfirmation::CollectorClose,
            100,
        ),
    ] {
        let options = SenderOptions {
            confirmation,
            ..SenderOptions::default()
        };
        let mut sender = SyslogTlsSender::new(endpoint.clone(), config.clone(), options).unwrap();
        expected += line_bytes;
        let start = Instant::now();
        for chunk in messages.chunks(batch) {
            sender.send_batch(chunk).unwrap();
        }
        sender.close().unwrap();
        wait_for_size(&collector, expected);
        rates.push((name, report(name, count, payload, start.elapsed())));
    }

    expected += line_bytes;
    let start = Instant::now();
    let mut child = Command::new(&gnutls_cli)
        .args(["--x509cafile"])
        .arg(&pki.ca)
        .args(["-p", &collector.port.to_string(), "localhost"])
        .stdin(Stdio::from(std::fs::File::open(&framed_path).unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gnutls-cli");
    wait_for_size(&collector, expected);
    let elapsed = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let competitor = report("gnutls-cli < pre-framed bytes", count, payload, elapsed);
    for (name, rate) in rates {
        println!("ratio {name} / gnutls-cli: {:.2}", rate / competitor);
    }
}
