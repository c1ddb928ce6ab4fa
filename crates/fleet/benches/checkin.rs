//! The server's side of a staged rollout, on its real store (SQLite in a temporary
//! directory): one released patch rolled out to N enrolled devices (default 10,000; set
//! `MEDGUARD_BENCH_DEVICES`) in three waves (2 canaries, 10 %, the rest). Every device checks in
//! once per wave ([`Fleet::checkin_commands`]: the indexed lookup, the version check and the
//! decision); the devices of each open wave report their install ([`Fleet::rollout_outcome`]).
//! Prints the decision cost per check-in (p50, p95, p99, max in µs), check-ins per second, and
//! the cost of a report. Run by `bench/rollout.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use medguard_fleet::rollouts::RolloutRequest;
use medguard_fleet::{Fleet, FleetSettings, Store};
use medguard_host::SystemClock;
use medguard_patch::{Advance, ErrorThreshold, Permille, WavePlan, WaveSelection};
use medguard_pki::{CertificateAuthority, DeviceKey};
use medguard_proto::{
    BundleRef, DeviceFacts, EnrollRequest, EnrollmentToken, InstallOutcome, InstallReport,
    SelfTestResult, VerificationSummary,
};
use time::OffsetDateTime;

#[path = "../tests/support/records.rs"]
mod records;

const MODEL: &str = "CT-9000";

/// A record carried through the state machine to "released", as the server's routes do.
fn released(id: &str, key: &medguard_digest::SigningKey) -> medguard_patch::PatchRecord {
    records::released_record(
        id,
        MODEL,
        &format!("{MODEL}/bench.bundle"),
        OffsetDateTime::now_utc(),
        key,
    )
}

fn installed(rollout: &str) -> InstallReport {
    let now = OffsetDateTime::now_utc();
    InstallReport {
        bundle: BundleRef {
            version: "2".into(),
            digest: "ab".repeat(32),
            target: Some(format!("{MODEL}/bench.bundle")),
        },
        rollout: Some(rollout.into()),
        outcome: InstallOutcome::Installed,
        reason: None,
        self_tests: vec![SelfTestResult {
            command: "true".into(),
            passed: true,
            detail: None,
        }],
        verification: Some(VerificationSummary {
            expected_entries: 10,
            actual_entries: 10,
            added: 0,
            removed: 0,
            changed: 0,
            unverifiable: 0,
        }),
        waiting_for: None,
        started: now,
        finished: now,
    }
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("MEDGUARD_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("fleet.db").display()
    ))
    .await
    .unwrap();
    store.migrate(0).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let ca = CertificateAuthority::generate(
        "bench fleet",
        now - time::Duration::days(1),
        time::Duration::days(30),
    )
    .unwrap();
    let fleet = Fleet::new(store, ca, Arc::new(SystemClock), FleetSettings::default());

    let started = Instant::now();
    let token = fleet
        .create_enrollment_token(
            "Radiology",
            Some(MODEL),
            time::Duration::hours(1),
            1_000_000,
        )
        .await
        .unwrap();
    // One key for every simulated device: the bench measures the rollout, not key generation.
    let key = DeviceKey::generate().unwrap();
    let csr = key.certificate_request("bench").unwrap();
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let r = fleet
            .enroll(
                &EnrollRequest {
                    token: EnrollmentToken::new(token.secret.clone()),
                    csr_pem: csr.clone(),
                    facts: DeviceFacts {
                        hostname: format!("ct-{i}"),
                        serial: Some(format!("SN-{i}")),
                        model: Some(MODEL.into()),
                        os: None,
                        agent_version: "bench".into(),
                    },
                },
                None,
            )
            .await
            .unwrap();
        devices.push(r.device_id.to_string());
    }
    println!(
        "enrolled {n} devices in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let server_key = medguard_digest::SigningKey::generate().unwrap().0;
    let record = fleet
        .open_patch_record(|id| Ok(released(id, &server_key)))
        .await
        .unwrap();
    fleet
        .record_release(
            &record.id,
            &[MODEL.into()],
            &format!("{MODEL}/bench.bundle"),
            "2",
        )
        .await
        .unwrap();
    let waves = vec![
        WavePlan {
            name: "canaries".into(),
            selection: WaveSelection::Devices(devices[..2].to_vec()),
            success: Permille::new(1000).unwrap(),
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Count(1),
        },
        WavePlan {
            name: "10 %".into(),
            selection: WaveSelection::Percent(10),
            success: Permille::new(950).unwrap(),
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Share(Permille::new(50).unwrap()),
        },
        WavePlan {
            name: "everyone else".into(),
            selection: WaveSelection::Rest,
            success: Permille::new(1000).unwrap(),
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Share(Permille::new(50).unwrap()),
        },
    ];
    let t = Instant::now();
    let rollout = fleet
        .start_rollout(
            &record.id,
            RolloutRequest {
                sites: Vec::new(),
                models: Vec::new(),
                waves,
            },
            &records::person("app"),
        )
        .await
        .unwrap();
    println!(
        "rollout {} to {} devices started in {:.1} ms",
        rollout.id(),
        rollout.device_count(),
        t.elapsed().as_secs_f64() * 1e3
    );

    let mut decisions = Vec::with_capacity(3 * n);
    let mut reports = Vec::new();
    let report_sample: usize = std::env::var("MEDGUARD_BENCH_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let all = Instant::now();
    for round in 0..3 {
        let mut offered = Vec::new();
        for d in &devices {
            let t = Instant::now();
            let commands = fleet.checkin_commands(d).await.unwrap();
            decisions.push(t.elapsed());
            if !commands.is_empty() {
                offered.push(d.clone());
            }
        }
        // The canaries and the 10 % wave all install (the next wave opens); of the last wave
        // only a sample reports: each report rewrites the stored rollout, which at 10,000
        // devices is megabytes (see the printed figure).
        let reporting = if round < 2 {
            offered.len()
        } else {
            offered.len().min(report_sample)
        };
        for (i, d) in offered.iter().take(reporting).enumerate() {
            let t = Instant::now();
            fleet
                .rollout_outcome(d, &installed(rollout.id()))
                .await
                .unwrap();
            if i < report_sample {
                reports.push(t.elapsed());
            }
        }
        println!(
            "round {round}: {} device(s) offered the install",
            offered.len()
        );
    }
    let total = all.elapsed();
    let done = fleet.rollout(rollout.id()).await.unwrap();
    let installed_now: u32 = done.progress().iter().map(|w| w.counts.installed).sum();
    println!(
        "rollout: {installed_now} of {n} installed, wave {} of 3 open ({})",
        done.current_wave() + 1,
        done.state().as_str()
    );
    decisions.sort();
    reports.sort();
    let mean = decisions.iter().sum::<Duration>().as_secs_f64() / decisions.len() as f64;
    println!(
        "decision per check-in ({} check-ins): mean {:.0} µs, p50 {:.0} µs, p95 {:.0} µs, p99 {:.0} µs, max {:.0} µs (goal < 2,000 µs)",
        decisions.len(),
        mean * 1e6,
        quantile(&decisions, 0.5),
        quantile(&decisions, 0.95),
        quantile(&decisions, 0.99),
        quantile(&decisions, 1.0),
    );
    println!(
        "check-ins per second (one server process, SQLite): {:.0}",
        1.0 / mean
    );
    println!(
        "outcome report ({} timed): p50 {:.1} ms, p99 {:.1} ms (each rewrites the stored rollout)",
        reports.len(),
        quantile(&reports, 0.5) / 1e3,
        quantile(&reports, 0.99) / 1e3,
    );
    println!("whole rollout: {:.1} s", total.as_secs_f64());
}
