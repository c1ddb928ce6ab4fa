//! The agent against a stub fleet server over real mutual TLS: enrollment, every report
//! stored exactly once, and the faults the agent must survive with its outbox intact (an
//! unreachable server, another CA's server, garbage answers, lost acknowledgements, refused
//! reports), and certificate renewal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod stub;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use medguard_agent::{
    AgentConfig, AgentError, EnrollOptions, Outbox, ReportOptions, RunSummary, ScanPolicy,
    SendError, StateDir, TaskStatus, Timeouts, device_facts, enroll, report_once,
};
use medguard_audit::checkpoint::SignedCheckpoint;
use medguard_audit::record::ChainDigest;
use medguard_host::{Clock, ManualClock};
use medguard_proto::{EnrollmentToken, Report, ReportBody, ReportKind, codes};
use stub::{Mode, Stub};
use time::OffsetDateTime;

const TOKEN: &str = "enroll-me-please";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(OffsetDateTime::now_utc()))
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: std::time::Duration::from_secs(5),
        request: std::time::Duration::from_secs(20),
    }
}

/// A device: a small tree with a dpkg database, the vendor's key, a signed profile of the
/// tree, and a state directory.
struct Device {
    dir: tempfile::TempDir,
}

impl Device {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        for d in ["opt/viewer/bin", "etc", "var/lib/dpkg"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(
            root.join("opt/viewer/bin/viewer"),
            b"#!/bin/sh\necho viewer\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/hostname"), b"ct-01\n").unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n\n\
             Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\n",
        )
        .unwrap();
        medguard_digest::generate_key_pair(&dir.path().join("vendor")).unwrap();
        let key = medguard_digest::SigningKey::load(&dir.path().join("vendor.key")).unwrap();
        let (profile, problems) = medguard_profile::create(
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
        assert!(problems.is_empty());
        medguard_profile::write_profile(&dir.path().join("device.profile"), &profile, Some(&key))
            .unwrap();
        Self { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn state(&self) -> StateDir {
        StateDir::new(self.path("state"))
    }

    /// The configuration; `server` overrides the enrolled server's URL.
    fn config(&self, server: Option<&url::Url>) -> AgentConfig {
        let mut text = String::from(
            "[profile]\nroot = \"root\"\nprofile = \"device.profile\"\ntrust = [\"vendor.pub\"]\ninterval = \"1h\"\n\
             [device]\nmodel = \"CT 9000\"\n",
        );
        if let Some(u) = server {
            text.push_str(&format!("[server]\nurl = \"{u}\"\n"));
        }
        let path = self.path("agent.toml");
        std::fs::write(&path, text).unwrap();
        AgentConfig::load(&path).unwrap()
    }

    fn enroll(&self, rt: &tokio::runtime::Runtime, stub: &Stub) {
        let outcome = rt
            .block_on(enroll(
                &self.state(),
                EnrollOptions {
                    server: stub.url(),
                    token: EnrollmentToken::new(TOKEN.into()),
                    ca_pem: stub.ca_pem(),
                    facts: device_facts(Some("CT 9000".into()), Some("SN-1".into())),
                    audit_log: self.state().audit_dir(),
                    timeouts: timeouts(),
                },
                clock(),
            ))
            .unwrap();
        assert_eq!(outcome.enrollment.site, "test-site");
    }

    fn report(
        &self,
        rt: &tokio::runtime::Runtime,
        server: Option<&url::Url>,
        clock: Arc<dyn Clock>,
    ) -> RunSummary {
        rt.block_on(report_once(
            self.state(),
            self.config(server),
            clock,
            ReportOptions {
                scan: ScanPolicy::WhenDue,
                timeouts: timeouts(),
            },
        ))
        .unwrap()
    }

    fn outbox(&self) -> Outbox {
        Outbox::open(&self.state().outbox_path()).unwrap()
    }
}

/// The reports the stub holds for one device, parsed, by sequence number.
fn stored(stub: &Stub) -> Vec<Report> {
    stub.with_stored(|s| {
        s.reports
            .values()
            .map(|j| serde_json::from_str::<Report>(j).unwrap())
            .collect()
    })
}

fn kinds(reports: &[Report]) -> BTreeSet<ReportKind> {
    reports.iter().map(|r| r.body.kind()).collect()
}

fn each_stored_once(stub: &Stub) {
    stub.with_stored(|s| {
        assert!(s.stores.values().all(|n| *n == 1), "{:?}", s.stores);
    });
}

fn closed_port() -> url::Url {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    url::Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap()
}

#[test]
fn a_device_enrolls_and_each_report_is_stored_once() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    let key = dev.state().key_path();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let first = dev.report(&rt, None, clock());
    assert!(!first.failed(), "{first:#?}");
    assert!(!first.found(), "{first:#?}");
    assert_eq!(
        first
            .tasks
            .iter()
            .find(|t| t.task == "verify")
            .unwrap()
            .status,
        TaskStatus::Clean
    );
    let reports = stored(&stub);
    assert_eq!(
        kinds(&reports),
        [
            ReportKind::Verification,
            ReportKind::Inventory,
            ReportKind::Services,
            ReportKind::Allowlist,
            ReportKind::Health,
            ReportKind::Audit
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(dev.outbox().stats().unwrap().reports, 0);
    each_stored_once(&stub);

    // The inventory is the tree's dpkg database, as CycloneDX.
    let inv = reports.iter().find_map(|r| match &r.body {
        ReportBody::Inventory(i) => Some(i.sbom.get().to_owned()),
        _ => None,
    });
    let sbom = medguard_inventory::parse_sbom(inv.unwrap().as_bytes(), Path::new("x")).unwrap();
    let names: BTreeSet<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["openssl", "zlib1g"].into_iter().collect());

    // The audit upload starts the chain and is covered by checkpoints signed with the
    // device key (the key of its certificate).
    let public = medguard_digest::PublicKey::load(&dev.state().dir().join("device.pub")).unwrap();
    let audit: Vec<_> = reports
        .iter()
        .filter_map(|r| match &r.body {
            ReportBody::Audit(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(audit.len(), 1);
    let mut chain = ChainDigest::GENESIS;
    for r in &audit[0].records {
        chain = chain.next(r.seq, r.payload.as_bytes());
        assert_eq!(chain.to_hex(), r.digest);
    }
    assert_eq!(audit[0].records[0].seq, 1);
    assert!(audit[0].records[0].payload.contains("enrolled with"));
    let last = SignedCheckpoint::parse(audit[0].checkpoints.last().unwrap()).unwrap();
    last.verify(&[public]).unwrap();
    assert_eq!(last.checkpoint.seq, audit[0].records.last().unwrap().seq);

    // A second run continues the sequence numbers and the audit chain.
    let before = reports.iter().map(|r| r.seq).max().unwrap();
    let last_audit = audit[0].records.last().unwrap().seq;
    let second = dev.report(&rt, None, clock());
    assert!(!second.failed(), "{second:#?}");
    let reports = stored(&stub);
    let new: Vec<&Report> = reports.iter().filter(|r| r.seq > before).collect();
    assert_eq!(new.len(), 6, "one of each kind again");
    let next_audit = new
        .iter()
        .find_map(|r| match &r.body {
            ReportBody::Audit(a) => Some(a.records[0].seq),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        next_audit,
        last_audit + 1,
        "the upload continues where the last one ended"
    );
    each_stored_once(&stub);
}

#[test]
fn a_changed_file_is_a_deviation_and_an_audit_event() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    std::fs::write(dev.path("root/opt/viewer/bin/viewer"), b"#!/bin/sh\nevil\n").unwrap();
    let run = dev.report(&rt, None, clock());
    assert!(run.found() && !run.failed(), "{run:#?}");
    let reports = stored(&stub);
    let deviations = reports
        .iter()
        .find_map(|r| match &r.body {
            ReportBody::Verification(v) => Some(v.outcome.clone()),
            _ => None,
        })
        .unwrap();
    let medguard_proto::VerificationOutcome::Completed {
        deviations,
        summary,
        ..
    } = deviations
    else {
        panic!("not completed")
    };
    assert_eq!(summary.changed, 1);
    assert_eq!(deviations[0].path, "/opt/viewer/bin/viewer");
    assert!(deviations[0].attributes.contains(&"content".to_owned()));
    let audit_has_event = reports.iter().any(|r| match &r.body {
        ReportBody::Audit(a) => a.records.iter().any(|x| {
            x.payload.contains("integrity-deviation")
                && x.payload.contains("/opt/viewer/bin/viewer")
        }),
        _ => false,
    });
    assert!(audit_has_event);
}

#[test]
fn an_unreachable_server_keeps_the_reports_for_the_next_run() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    let down = closed_port();
    let run = dev.report(&rt, Some(&down), clock());
    assert!(run.failed());
    assert!(
        matches!(run.send.error, Some(SendError::Unreachable { .. })),
        "{:?}",
        run.send.error
    );
    let queued = dev.outbox().stats().unwrap().reports;
    assert_eq!(queued, 6);
    assert_eq!(run.send.remaining, 6);
    assert_eq!(stub.with_stored(|s| s.batches), 0);

    // The next run sends both runs' reports, in order, each once.
    let run = dev.report(&rt, None, clock());
    assert!(!run.failed(), "{run:#?}");
    assert_eq!(dev.outbox().stats().unwrap().reports, 0);
    let seqs: Vec<u64> = stored(&stub).iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    each_stored_once(&stub);
}

#[test]
fn a_server_with_another_ca_is_refused_and_nothing_is_sent() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let impostor = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    let run = dev.report(&rt, Some(&impostor.url()), clock());
    assert!(
        matches!(run.send.error, Some(SendError::NotTrusted { .. })),
        "{:?}",
        run.send.error
    );
    assert_eq!(impostor.with_stored(|s| s.batches), 0);
    assert_eq!(dev.outbox().stats().unwrap().reports, 6);
}

#[test]
fn a_garbage_answer_is_a_typed_error_and_the_outbox_stays_intact() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    stub.set_mode(Mode::Garbage);
    let run = dev.report(&rt, None, clock());
    match &run.send.error {
        Some(SendError::BadAnswer { source, .. }) => {
            assert!(
                matches!(source, medguard_proto::ProtoError::Malformed { .. }),
                "{source}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dev.outbox().stats().unwrap().reports, 6);
    stub.set_mode(Mode::Unavailable);
    let run = dev.report(&rt, None, clock());
    let e = run.send.error.as_ref().unwrap();
    assert!(
        e.is_transient() && e.problem_code() == Some(codes::UNAVAILABLE),
        "{e}"
    );
    assert_eq!(dev.outbox().stats().unwrap().reports, 12);
    stub.set_mode(Mode::Normal);
    let run = dev.report(&rt, None, clock());
    assert!(!run.failed(), "{run:#?}");
    assert_eq!(stored(&stub).len(), 18);
    each_stored_once(&stub);
}

#[test]
fn a_lost_acknowledgement_is_acknowledged_as_a_duplicate_next_time() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    stub.set_mode(Mode::LoseAcks);
    let run = dev.report(&rt, None, clock());
    assert!(run.send.error.is_some());
    assert_eq!(stored(&stub).len(), 6, "the server stored them");
    assert_eq!(
        dev.outbox().stats().unwrap().reports,
        6,
        "the agent does not know"
    );
    stub.set_mode(Mode::Normal);
    let run = dev.report(&rt, None, clock());
    assert!(!run.failed(), "{run:#?}");
    assert_eq!(run.send.duplicates, (1..=6).collect::<Vec<_>>());
    assert_eq!(run.send.stored.len(), 6);
    each_stored_once(&stub);
}

#[test]
fn a_refused_report_is_kept_aside_and_reported() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    stub.set_mode(Mode::RefuseSeqs([2].into_iter().collect()));
    let run = dev.report(&rt, None, clock());
    assert!(run.found(), "a refusal is something found");
    assert_eq!(
        run.send.refused.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2]
    );
    let aside = dev.outbox().refused().unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].problem.code, codes::STALE_REPORT);
    assert_eq!(run.refused.len(), 1);
    assert_eq!(dev.outbox().stats().unwrap().reports, 0);
    assert_eq!(stored(&stub).len(), 5);
}

#[test]
fn a_batch_refused_whole_is_sent_one_by_one_to_find_the_bad_report() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    stub.set_mode(Mode::RefuseBatchesWith("inventory"));
    let run = dev.report(&rt, None, clock());
    let refused: Vec<ReportKind> = run.send.refused.iter().map(|r| r.kind).collect();
    assert_eq!(refused, vec![ReportKind::Inventory]);
    assert_eq!(run.send.refused[0].problem.code, codes::INVALID);
    assert_eq!(stored(&stub).len(), 5);
    assert_eq!(dev.outbox().stats().unwrap().reports, 0);
}

#[test]
fn the_certificate_is_renewed_once_renew_after_has_passed() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    let before = dev.state().enrollment().unwrap().certificate;
    let run = dev.report(&rt, None, clock());
    assert!(run.renewed.is_none());
    let later = Arc::new(ManualClock::new(
        before.renew_after + time::Duration::hours(1),
    ));
    let run = dev.report(&rt, None, later);
    let renewed = run.renewed.clone().expect("renewed");
    assert!(!run.failed(), "{run:#?}");
    assert_ne!(renewed.serial, before.serial);
    assert_eq!(dev.state().enrollment().unwrap().certificate, renewed);
    assert_eq!(stub.with_stored(|s| s.renewals), 1);
    // Too late: an expired certificate needs a new enrollment.
    let expired = Arc::new(ManualClock::new(
        renewed.not_after + time::Duration::hours(1),
    ));
    let run = dev.report(&rt, None, expired);
    assert!(
        run.errors.iter().any(|e| e.contains("enroll again")),
        "{:?}",
        run.errors
    );
}

#[test]
fn a_wrong_token_is_refused_and_nothing_is_enrolled() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    let err = rt
        .block_on(enroll(
            &dev.state(),
            EnrollOptions {
                server: stub.url(),
                token: EnrollmentToken::new("guessed".into()),
                ca_pem: stub.ca_pem(),
                facts: device_facts(None, None),
                audit_log: dev.state().audit_dir(),
                timeouts: timeouts(),
            },
            clock(),
        ))
        .unwrap_err();
    match &err {
        AgentError::Send(SendError::Refused {
            status, problem, ..
        }) => {
            assert_eq!(*status, 401);
            assert_eq!(problem.code, codes::TOKEN_UNKNOWN);
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        dev.state().enrollment(),
        Err(AgentError::NotEnrolled { .. })
    ));
    // Reporting without an enrollment is a clear error, not a silent nothing.
    let err = rt
        .block_on(report_once(
            dev.state(),
            dev.config(None),
            clock(),
            ReportOptions::default(),
        ))
        .unwrap_err();
    assert!(matches!(err, AgentError::NotEnrolled { .. }), "{err}");
}

#[test]
fn re_enrolling_keeps_the_device_key_queue_and_audit_log() {
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dev = Device::new();
    dev.enroll(&rt, &stub);
    let key = std::fs::read(dev.state().key_path()).unwrap();
    let first = dev.state().enrollment().unwrap();
    dev.report(&rt, Some(&closed_port()), clock());
    dev.enroll(&rt, &stub);
    assert_eq!(
        std::fs::read(dev.state().key_path()).unwrap(),
        key,
        "the key is never replaced"
    );
    assert_ne!(
        dev.state().enrollment().unwrap().certificate.serial,
        first.certificate.serial
    );
    let run = dev.report(&rt, None, clock());
    assert!(!run.failed(), "{run:#?}");
    // The audit upload carries both enrollments' events, one chain.
    let audit: Vec<String> = stored(&stub)
        .iter()
        .filter_map(|r| match &r.body {
            ReportBody::Audit(a) => Some(
                a.records
                    .iter()
                    .map(|x| x.payload.clone())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        audit.iter().filter(|p| p.contains("enrolled with")).count(),
        2
    );
}

#[test]
fn a_configuration_that_names_a_missing_profile_is_refused_before_anything_runs() {
    let dev = Device::new();
    let path = dev.path("agent.toml");
    std::fs::write(
        &path,
        "[profile]\nroot = \"root\"\nprofile = \"missing.profile\"\ntrust = [\"vendor.pub\"]\n",
    )
    .unwrap();
    let err = AgentConfig::load(&path).unwrap_err();
    assert!(
        matches!(&err, medguard_agent::ConfigError::Path { key, .. } if key == "profile.profile"),
        "{err}"
    );
}

#[test]
fn simulated_devices_each_enroll_and_report_with_their_own_sequence_numbers() {
    use medguard_agent::simulate::{Plan, SimulateOptions, simulate};
    let rt = rt();
    let stub = Stub::start(&rt, TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&format!(
            "Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\nArchitecture: amd64\n\n"
        ));
    }
    std::fs::write(&status, text).unwrap();
    let plan = Arc::new(Plan::load(&[status], 15, 7).unwrap());
    let options = SimulateOptions {
        server: stub.url(),
        token: EnrollmentToken::new(TOKEN.into()),
        ca_pem: stub.ca_pem(),
        count: 20,
        concurrency: 4,
        rounds: 2,
        components: 15,
        deviating: 0.1,
        model: Some("CT 9000".into()),
        run_id: "test".into(),
        timeouts: timeouts(),
        duration: None,
        pause: std::time::Duration::ZERO,
        retry_for: std::time::Duration::ZERO,
    };
    let summary = rt.block_on(simulate(&options, plan)).unwrap();
    assert_eq!(summary.errors, Vec::<String>::new());
    assert_eq!(summary.enrolled, 20);
    assert_eq!(summary.reports_sent, 20 * 5);
    assert_eq!(summary.reports_stored, 20 * 5);
    assert_eq!(summary.report_latency.count, 40);
    assert_eq!(summary.deviating_devices, 2);
    assert_eq!(stub.with_stored(|s| s.enrollments), 20);
    each_stored_once(&stub);
    let per_device: std::collections::BTreeMap<String, Vec<u64>> = stub.with_stored(|s| {
        let mut m = std::collections::BTreeMap::<String, Vec<u64>>::new();
        for (d, seq) in s.reports.keys() {
            m.entry(d.clone()).or_default().push(*seq);
        }
        m
    });
    assert_eq!(per_device.len(), 20);
    assert!(per_device.values().all(|s| *s == vec![1, 2, 3, 4, 5]));
    // Each inventory has the base and three cohorts: 15 components, valid CycloneDX.
    let inv = stored(&stub)
        .into_iter()
        .find_map(|r| match r.body {
            ReportBody::Inventory(i) => Some(i.sbom.get().to_owned()),
            _ => None,
        })
        .unwrap();
    let sbom = medguard_inventory::parse_sbom(inv.as_bytes(), Path::new("x")).unwrap();
    assert_eq!(sbom.components.len(), 15);
}
