//! The agent against the real fleet library (`medguard-fleet`, SQLite) behind the stub's
//! HTTPS front: what the agent sends is what the fleet stores and judges. Two devices, one
//! with a changed file: one intact, one with that deviation; both with the finding of a real
//! advisory from the shared data matching a package of their inventory; audit chains intact
//! across runs; a renewed certificate accepted. The HTTP server itself is tested end to end in
//! `crates/medguard/tests/fleet_e2e.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod stub;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use medguard_agent::{
    AgentConfig, EnrollOptions, ReportOptions, RunSummary, StateDir, Timeouts, device_facts,
    enroll, report_once,
};
use medguard_fleet::{
    DeviceFilter, DeviceSummary, FindingFilter, Fleet, FleetSettings, OverallStatus, Store,
};
use medguard_host::{Clock, ManualClock, SystemClock};
use medguard_pki::CertificateAuthority;
use medguard_proto::EnrollmentToken;
use stub::Stub;
use time::{Duration, OffsetDateTime};

fn shared_data() -> PathBuf {
    let dir = std::env::var_os("MEDGUARD_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let dir = if dir.exists() {
        dir
    } else {
        PathBuf::from("/work/shared/data")
    };
    assert!(
        dir.exists(),
        "shared test data not found at {}",
        dir.display()
    );
    dir
}

/// DSA-3029-1: nginx in Debian 7, fixed in 1.2.1-2.2+wheezy3.
fn advisory() -> PathBuf {
    shared_data()
        .join("osv-debian-ubuntu-samples/gcp/workers/oss_fuzz_worker/testdata/DSA-3029-1.json")
}

/// A Debian 7 device image with nginx 1.2.1-2.2+wheezy2 (affected by DSA-3029-1), the
/// vendor's key, its signed profile and an agent configuration.
fn device(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for d in ["opt/viewer/bin", "etc", "var/lib/dpkg"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("opt/viewer/bin/viewer"),
        b"#!/bin/sh\necho viewer\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian\nVERSION_ID=\"7\"\n").unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: nginx\nStatus: install ok installed\nVersion: 1.2.1-2.2+wheezy2\nArchitecture: amd64\n\n\
         Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.7.dfsg-13\nArchitecture: amd64\n\n",
    )
    .unwrap();
    medguard_digest::generate_key_pair(&dir.join("vendor")).unwrap();
    let key = medguard_digest::SigningKey::load(&dir.join("vendor.key")).unwrap();
    let (profile, _) = medguard_profile::create(
        &root,
        medguard_profile::CreateOptions {
            rules: medguard_profile::Rules::default(),
            sha256: false,
            walk: medguard_profile::WalkOptions::default(),
            created_unix: 0,
        },
        &medguard_profile::Progress::default(),
    )
    .unwrap();
    medguard_profile::write_profile(&dir.join("device.profile"), &profile, Some(&key)).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        "[profile]\nroot = \"root\"\nprofile = \"device.profile\"\ntrust = [\"vendor.pub\"]\n\
         [device]\nmodel = \"CT 9000\"\n",
    )
    .unwrap();
    config
}

struct Lab {
    rt: tokio::runtime::Runtime,
    fleet: Fleet,
    stub: Stub,
    token: String,
    _dir: tempfile::TempDir,
}

fn lab() -> Lab {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let ca = CertificateAuthority::generate("fleet", now, Duration::days(30)).unwrap();
    let fleet_ca = CertificateAuthority::load(ca.certificate_pem(), ca.key_pem()).unwrap();
    let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
    let fleet = rt.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        store.migrate(now.unix_timestamp()).await.unwrap();
        Fleet::new(
            store,
            fleet_ca,
            Arc::new(SystemClock),
            FleetSettings::default(),
        )
    });
    let token = rt
        .block_on(fleet.create_enrollment_token(
            "radiology",
            Some("CT 9000"),
            Duration::days(1),
            10,
        ))
        .unwrap()
        .secret;
    let parsed = medguard_advisory::read_sources(&[advisory()], &|| {}).unwrap();
    rt.block_on(fleet.ingest_advisories(parsed)).unwrap();
    let stub = Stub::start_fleet(&rt, ca, fleet.clone());
    Lab {
        rt,
        fleet,
        stub,
        token,
        _dir: dir,
    }
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: std::time::Duration::from_secs(5),
        request: std::time::Duration::from_secs(60),
    }
}

impl Lab {
    fn enroll(&self, dir: &Path, serial: &str) -> StateDir {
        let state = StateDir::new(dir.join("state"));
        self.rt
            .block_on(enroll(
                &state,
                EnrollOptions {
                    server: self.stub.url(),
                    token: EnrollmentToken::new(self.token.clone()),
                    ca_pem: self.stub.ca_pem(),
                    facts: device_facts(Some("CT 9000".into()), Some(serial.into())),
                    audit_log: state.audit_dir(),
                    timeouts: timeouts(),
                },
                Arc::new(SystemClock),
            ))
            .unwrap();
        state
    }

    fn report(&self, state: &StateDir, config: &Path, clock: Arc<dyn Clock>) -> RunSummary {
        self.rt
            .block_on(report_once(
                state.clone(),
                AgentConfig::load(config).unwrap(),
                clock,
                ReportOptions {
                    timeouts: timeouts(),
                    ..ReportOptions::default()
                },
            ))
            .unwrap()
    }

    fn device(&self, id: &str) -> DeviceSummary {
        let page = self
            .rt
            .block_on(self.fleet.devices(&DeviceFilter {
                limit: 100,
                ..DeviceFilter::default()
            }))
            .unwrap();
        page.items.into_iter().find(|d| d.id == id).unwrap()
    }
}

#[test]
fn the_fleet_stores_every_report_and_shows_one_intact_device_and_one_deviation() {
    let lab = lab();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a_config, b_config) = (device(a_dir.path()), device(b_dir.path()));
    let a = lab.enroll(a_dir.path(), "SN-A");
    let b = lab.enroll(b_dir.path(), "SN-B");
    std::fs::write(
        b_dir.path().join("root/opt/viewer/bin/viewer"),
        b"tampered\n",
    )
    .unwrap();

    for (state, config) in [(&a, &a_config), (&b, &b_config)] {
        let run = lab.report(state, config, Arc::new(SystemClock));
        assert!(run.send.refused.is_empty(), "{run:#?}");
        assert!(
            run.send.error.is_none() && run.send.remaining == 0,
            "{run:#?}"
        );
    }
    let a_id = a.enrollment().unwrap().device_id.to_string();
    let b_id = b.enrollment().unwrap().device_id.to_string();
    let da = lab.device(&a_id);
    let db = lab.device(&b_id);
    let (sa, sb) = (da.detail.clone().unwrap(), db.detail.clone().unwrap());
    assert_eq!(sa.integrity, "intact", "{sa:#?}");
    assert_eq!(sa.audit, "intact", "{sa:#?}");
    assert_eq!(sb.integrity, "deviations", "{sb:#?}");
    assert_eq!(sb.deviations, 1);
    assert_eq!(db.status, OverallStatus::Attention);
    assert_eq!(da.site, "radiology");

    // Both have the real advisory's finding for their nginx.
    for id in [&a_id, &b_id] {
        let findings = lab
            .rt
            .block_on(lab.fleet.findings(&FindingFilter {
                device: Some(id.clone()),
                limit: 100,
                ..FindingFilter::default()
            }))
            .unwrap();
        assert!(
            findings
                .items
                .iter()
                .any(|f| f.advisory == "DSA-3029-1" && f.component.contains("nginx")),
            "{findings:#?}"
        );
    }

    // A second run continues the audit chain; the renewed certificate is accepted.
    let a_cert = a.enrollment().unwrap().certificate;
    let later: Arc<dyn Clock> =
        Arc::new(ManualClock::new(a_cert.renew_after + Duration::minutes(1)));
    let run = lab.report(&a, &a_config, later);
    assert!(run.renewed.is_some(), "{run:#?}");
    assert!(
        run.send.refused.is_empty() && run.send.remaining == 0,
        "{run:#?}"
    );
    let sa = lab.device(&a_id).detail.unwrap();
    assert_eq!(sa.audit, "intact", "{sa:#?}");
    assert_eq!(sa.integrity, "intact");
}

#[test]
fn a_reenrolled_device_keeps_its_id_and_numbers_its_reports_after_the_old_ones() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let config = device(dir.path());
    let first = lab.enroll(dir.path(), "SN-R");
    lab.report(&first, &config, Arc::new(SystemClock));
    let id = first.enrollment().unwrap().device_id;

    // Re-imaged: a fresh state directory (new key, empty outbox), the same serial.
    let fresh = tempfile::tempdir().unwrap();
    let again = lab.enroll(fresh.path(), "SN-R");
    let e = again.enrollment().unwrap();
    assert!(e.reenrolled);
    assert_eq!(e.device_id, id, "the device keeps its id and history");
    let run = lab.report(&again, &config, Arc::new(SystemClock));
    assert!(
        run.send.refused.is_empty(),
        "reports after re-imaging are not stale: {run:#?}"
    );
    assert_eq!(run.send.remaining, 0);
}
