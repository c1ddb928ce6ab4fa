//! The fleet end to end on both databases: enrollment, authentication, reports stored exactly
//! once, status and staleness, audit chains, findings over time. Every test runs on SQLite and
//! on a private PostgreSQL cluster.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use medguard_audit::ChainDigest;
use medguard_fleet::{
    DeviceFilter, FindingFilter, Fleet, FleetError, FleetSettings, OverallStatus, Store,
};
use medguard_host::ManualClock;
use medguard_pgtest::PostgresCluster;
use medguard_pki::{CertificateAuthority, DeviceKey};
use medguard_proto::{
    AgentHealth, AuditRecord, AuditUpload, DeviationKind, DeviationRecord, DeviceFacts,
    EnrollRequest, EnrollmentToken, InventoryReport, ProfileRef, QueueHealth, Report, ReportBatch,
    ReportBody, ReportOutcome, Verification, VerificationOutcome, VerificationSummary,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

#[path = "support/records.rs"]
mod support;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2026-12-05 08:00 UTC);

struct Lab {
    fleet: Fleet,
    clock: ManualClock,
    _dir: tempfile::TempDir,
    _pg: Option<PostgresCluster>,
}

async fn lab(postgres: bool) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = if postgres {
        let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
        let url = pg.create_database("fleet").unwrap();
        (url, Some(pg))
    } else {
        (
            format!("sqlite://{}", dir.path().join("fleet.db").display()),
            None,
        )
    };
    let store = Store::connect(&url).await.unwrap();
    store.migrate(0).await.unwrap();
    let clock = ManualClock::new(START);
    let ca = CertificateAuthority::generate(
        "test fleet",
        START - Duration::days(1),
        Duration::days(3650),
    )
    .unwrap();
    let fleet = Fleet::new(store, ca, Arc::new(clock.clone()), FleetSettings::default());
    Lab {
        fleet,
        clock,
        _dir: dir,
        _pg: pg,
    }
}

/// Runs the scenario on SQLite, then on PostgreSQL.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f: fn(Lab) -> _ = $body;
                f(lab(false).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let f: fn(Lab) -> _ = $body;
                f(lab(true).await).await;
            }
        }
    };
}

struct Device {
    key: DeviceKey,
    certificate: Vec<u8>,
    id: String,
}

async fn enroll(fleet: &Fleet, token: &str, serial: &str) -> Result<Device, FleetError> {
    let key = DeviceKey::generate().unwrap();
    let request = EnrollRequest {
        token: EnrollmentToken::new(token.into()),
        csr_pem: key.certificate_request("ct-01").unwrap(),
        facts: DeviceFacts {
            hostname: format!("ct-{serial}"),
            serial: Some(serial.into()),
            model: Some("CT 9000".into()),
            os: None,
            agent_version: "0.1.0".into(),
        },
    };
    let response = fleet.enroll(&request, Some("127.0.0.1")).await?;
    let certificate =
        CertificateDer::from_pem_slice(response.certificate.certificate_pem.as_bytes())
            .unwrap()
            .to_vec();
    Ok(Device {
        key,
        certificate,
        id: response.device_id.to_string(),
    })
}

fn report(seq: u64, body: ReportBody) -> Report {
    Report {
        seq,
        created: START,
        command: None,
        body,
    }
}

fn verification(changed: &[&str]) -> ReportBody {
    ReportBody::Verification(Verification {
        root: "/".into(),
        profile: Some(ProfileRef {
            path: "/etc/medguard/device.profile".into(),
            digest: "ab".repeat(32),
            signer: None,
            entries: 100,
            entries_digest: None,
        }),
        outcome: VerificationOutcome::Completed {
            summary: VerificationSummary {
                expected_entries: 100,
                actual_entries: 100,
                changed: changed.len() as u64,
                ..VerificationSummary::default()
            },
            deviations: changed
                .iter()
                .map(|p| DeviationRecord {
                    path: (*p).into(),
                    kind: DeviationKind::Changed,
                    attributes: vec!["content".into()],
                })
                .collect(),
            deviations_omitted: 0,
            unverifiable: vec![],
            unverifiable_omitted: 0,
        },
    })
}

fn audit(key: &DeviceKey, from: u64, to: u64, prev: ChainDigest) -> (ReportBody, ChainDigest) {
    let mut d = prev;
    let mut records = Vec::new();
    for seq in from..=to {
        let payload = format!(r#"{{"type":"agent-started","n":{seq}}}"#);
        d = d.next(seq, payload.as_bytes());
        records.push(AuditRecord {
            seq,
            payload,
            digest: d.to_hex(),
        });
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.key"), key.private_key_pem()).unwrap();
    let signing = medguard_digest::SigningKey::load(&dir.path().join("k.key")).unwrap();
    let checkpoint = medguard_audit::Checkpoint {
        segment: 1,
        seq: to,
        end_offset: 0,
        digest: d,
    }
    .sign(&signing);
    (
        ReportBody::Audit(AuditUpload {
            log: "agent".into(),
            records,
            checkpoints: vec![checkpoint.trim_end().to_owned()],
        }),
        d,
    )
}

fn health() -> ReportBody {
    ReportBody::Health(AgentHealth {
        agent_version: "0.1.0".into(),
        started: START,
        report_within_secs: 3_600,
        queue: QueueHealth::default(),
        tasks: vec![],
        clinical: None,
    })
}

fn inventory(components: &[(&str, &str)]) -> ReportBody {
    let components: Vec<_> = components
        .iter()
        .map(|(name, version)| {
            serde_json::json!({
                "type": "library", "name": name, "version": version,
                "purl": format!("pkg:deb/debian/{name}@{version}?distro=debian-12"),
            })
        })
        .collect();
    let doc = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": components});
    ReportBody::Inventory(InventoryReport {
        format: "application/vnd.cyclonedx+json".into(),
        sbom: serde_json::value::RawValue::from_string(doc.to_string()).unwrap(),
    })
}

fn advisory(id: &str, package: &str, fixed: &str) -> medguard_advisory::Parsed {
    let record = serde_json::json!({
        "schema_version": "1.6.0", "id": id, "modified": "2026-11-01T00:00:00Z",
        "summary": "remote code execution",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]
    });
    medguard_advisory::Parsed {
        origin: format!("{id}.json"),
        result: medguard_advisory::parse_osv(record, id.into()),
    }
}

async fn authenticate(fleet: &Fleet, d: &Device) -> medguard_fleet::AuthenticatedDevice {
    fleet
        .authenticate_device(Some(&d.certificate), None)
        .await
        .unwrap()
}

on_both!(enrollment_tokens_are_checked, |lab: Lab| async move {
    // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
    // scenario, not only the fields it names.
    let lab = lab;
    let fleet = &lab.fleet;
    let once = fleet
        .create_enrollment_token("St. Elsewhere", None, Duration::hours(24), 1)
        .await
        .unwrap();
    assert!(once.site_created);
    enroll(fleet, &once.secret, "A1").await.unwrap();
    assert!(matches!(
        enroll(fleet, &once.secret, "A2").await,
        Err(FleetError::TokenSpent)
    ));
    assert!(matches!(
        enroll(fleet, "mge_nonsense", "A3").await,
        Err(FleetError::TokenUnknown)
    ));
    let short = fleet
        .create_enrollment_token("St. Elsewhere", None, Duration::hours(1), 5)
        .await
        .unwrap();
    lab.clock.advance(StdDuration::from_secs(2 * 3600));
    assert!(matches!(
        enroll(fleet, &short.secret, "A4").await,
        Err(FleetError::TokenExpired)
    ));
    let events = fleet.security_events(None, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.outcome == "refused").count(), 3);
});

on_both!(
    a_reimaged_device_keeps_its_history_and_old_certificates_die,
    |lab: Lab| async move {
        // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
        // scenario, not only the fields it names.
        let lab = lab;
        let fleet = &lab.fleet;
        let token = fleet
            .create_enrollment_token("site", Some("CT 9000"), Duration::hours(24), 5)
            .await
            .unwrap();
        let first = enroll(fleet, &token.secret, "SN-7").await.unwrap();
        let device = authenticate(fleet, &first).await;
        fleet
            .ingest_reports(
                &device,
                &ReportBatch {
                    reports: vec![report(1, verification(&[]))],
                },
                None,
            )
            .await
            .unwrap();
        let again = enroll(fleet, &token.secret, "SN-7").await.unwrap();
        assert_eq!(again.id, first.id, "same serial, same site: same device");
        assert!(matches!(
            fleet
                .authenticate_device(Some(&first.certificate), None)
                .await,
            Err(FleetError::CertificateRevoked { .. })
        ));
        let device = authenticate(fleet, &again).await;
        let page = fleet
            .devices(&DeviceFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        // The re-imaged agent numbers its reports after the ones the server holds (it asks
        // at check-in): they are stored, not refused as conflicts with the old ones.
        assert_eq!(fleet.device(&again.id).await.unwrap().last_seq, 1);
        let ack = fleet
            .ingest_reports(
                &device,
                &ReportBatch {
                    reports: vec![report(2, verification(&[]))],
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(ack.receipts[0].outcome, ReportOutcome::Stored);
    }
);

on_both!(
    foreign_missing_and_revoked_certificates_are_refused,
    |lab: Lab| async move {
        // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
        // scenario, not only the fields it names.
        let lab = lab;
        let fleet = &lab.fleet;
        assert!(matches!(
            fleet.authenticate_device(None, None).await,
            Err(FleetError::CertificateRequired)
        ));
        let other = CertificateAuthority::generate("impostor", START, Duration::days(30)).unwrap();
        let key = DeviceKey::generate().unwrap();
        let foreign = other
            .issue_device_certificate(
                &key.certificate_request("x").unwrap(),
                &medguard_proto::DeviceId::from_random_bytes([1; 16]),
                START,
                Duration::days(7),
            )
            .unwrap();
        let der = CertificateDer::from_pem_slice(foreign.certificate_pem.as_bytes()).unwrap();
        assert!(matches!(
            fleet.authenticate_device(Some(&der), None).await,
            Err(FleetError::CertificateRefused { .. })
        ));
        let token = fleet
            .create_enrollment_token("site", None, Duration::hours(24), 1)
            .await
            .unwrap();
        let d = enroll(fleet, &token.secret, "R1").await.unwrap();
        fleet
            .revoke_device(&d.id, "stolen", Some("test"))
            .await
            .unwrap();
        assert!(matches!(
            fleet.authenticate_device(Some(&d.certificate), None).await,
            Err(FleetError::DeviceRevoked { .. })
        ));
        // An expired certificate: eight days later.
        lab.clock.advance(StdDuration::from_secs(8 * 86_400));
        assert!(matches!(
            fleet.authenticate_device(Some(&d.certificate), None).await,
            Err(FleetError::CertificateRefused { .. })
        ));
    }
);

on_both!(reports_are_stored_exactly_once, |lab: Lab| async move {
    // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
    // scenario, not only the fields it names.
    let lab = lab;
    let fleet = &lab.fleet;
    let token = fleet
        .create_enrollment_token("site", None, Duration::hours(24), 1)
        .await
        .unwrap();
    let d = enroll(fleet, &token.secret, "E1").await.unwrap();
    let device = authenticate(fleet, &d).await;
    let batch = ReportBatch {
        reports: vec![report(1, verification(&[])), report(2, health())],
    };
    let ack = fleet.ingest_reports(&device, &batch, None).await.unwrap();
    assert!(
        ack.receipts
            .iter()
            .all(|r| r.outcome == ReportOutcome::Stored)
    );
    assert_eq!(ack.last_stored_seq, 2);
    // A retry: acknowledged, nothing stored twice.
    let again = fleet.ingest_reports(&device, &batch, None).await.unwrap();
    assert!(
        again
            .receipts
            .iter()
            .all(|r| r.outcome == ReportOutcome::Duplicate)
    );
    // Another report under a stored number, and an older one never stored.
    let conflict = ReportBatch {
        reports: vec![report(2, verification(&["/etc/x"]))],
    };
    let ack = fleet
        .ingest_reports(&device, &conflict, None)
        .await
        .unwrap();
    assert_eq!(ack.receipts[0].outcome, ReportOutcome::Refused);
    assert_eq!(
        ack.receipts[0].problem.as_ref().unwrap().code,
        "sequence-conflict"
    );
    let detail = fleet.device(&d.id).await.unwrap();
    assert_eq!(
        detail.state.integrity.unwrap().deviations.len(),
        0,
        "nothing of a refusal is stored"
    );
    let later = ReportBatch {
        reports: vec![report(5, health())],
    };
    fleet.ingest_reports(&device, &later, None).await.unwrap();
    let old = ReportBatch {
        reports: vec![report(4, health())],
    };
    let ack = fleet.ingest_reports(&device, &old, None).await.unwrap();
    assert_eq!(
        ack.receipts[0].problem.as_ref().unwrap().code,
        "stale-report"
    );
    // A broken SBOM is refused alone.
    let bad = ReportBody::Inventory(InventoryReport {
        format: "application/vnd.cyclonedx+json".into(),
        sbom: serde_json::value::RawValue::from_string(r#"{"bomFormat":"SPDX"}"#.into()).unwrap(),
    });
    let ack = fleet
        .ingest_reports(
            &device,
            &ReportBatch {
                reports: vec![report(6, bad), report(7, health())],
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(ack.receipts[0].outcome, ReportOutcome::Refused);
    assert_eq!(ack.receipts[1].outcome, ReportOutcome::Stored);
});

on_both!(
    status_is_ok_only_when_proven_and_silence_is_stale,
    |lab: Lab| async move {
        // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
        // scenario, not only the fields it names.
        let lab = lab;
        let fleet = &lab.fleet;
        let token = fleet
            .create_enrollment_token("site", None, Duration::hours(24), 2)
            .await
            .unwrap();
        let good = enroll(fleet, &token.secret, "S1").await.unwrap();
        let bad = enroll(fleet, &token.secret, "S2").await.unwrap();
        let (audit_good, _) = audit(&good.key, 1, 3, ChainDigest::GENESIS);
        let g = authenticate(fleet, &good).await;
        fleet
            .ingest_reports(
                &g,
                &ReportBatch {
                    reports: vec![report(1, verification(&[])), report(2, health())],
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            fleet.device(&good.id).await.unwrap().summary.status,
            OverallStatus::Unknown,
            "no audit yet"
        );
        fleet
            .ingest_reports(
                &g,
                &ReportBatch {
                    reports: vec![report(3, audit_good)],
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            fleet.device(&good.id).await.unwrap().summary.status,
            OverallStatus::Ok
        );
        let b = authenticate(fleet, &bad).await;
        fleet
            .ingest_reports(
                &b,
                &ReportBatch {
                    reports: vec![report(1, verification(&["/opt/viewer/bin/viewer"]))],
                },
                None,
            )
            .await
            .unwrap();
        let detail = fleet.device(&bad.id).await.unwrap();
        assert_eq!(detail.summary.status, OverallStatus::Attention);
        assert_eq!(
            detail.state.integrity.unwrap().deviations[0].path,
            "/opt/viewer/bin/viewer"
        );
        // Silence beyond the promised hour.
        lab.clock.advance(StdDuration::from_secs(2 * 3600));
        assert_eq!(
            fleet.device(&good.id).await.unwrap().summary.status,
            OverallStatus::Stale
        );
        assert_eq!(
            fleet.device(&bad.id).await.unwrap().summary.status,
            OverallStatus::Attention
        );
        let stale = fleet
            .devices(&DeviceFilter {
                status: Some(OverallStatus::Stale),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(stale.total, 1);
        assert_eq!(stale.items[0].id, good.id);
    }
);

on_both!(
    a_deleted_stretch_of_a_device_log_is_detected,
    |lab: Lab| async move {
        // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
        // scenario, not only the fields it names.
        let lab = lab;
        let fleet = &lab.fleet;
        let token = fleet
            .create_enrollment_token("site", None, Duration::hours(24), 1)
            .await
            .unwrap();
        let d = enroll(fleet, &token.secret, "L1").await.unwrap();
        let device = authenticate(fleet, &d).await;
        let (first, digest) = audit(&d.key, 1, 4, ChainDigest::GENESIS);
        fleet
            .ingest_reports(
                &device,
                &ReportBatch {
                    reports: vec![report(1, first), report(2, verification(&[]))],
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            fleet.device(&d.id).await.unwrap().summary.status,
            OverallStatus::Ok
        );
        // Records 5 to 7 are deleted on the device; 8 to 9 arrive.
        let (all, _) = audit(&d.key, 5, 9, digest);
        let ReportBody::Audit(mut upload) = all else {
            unreachable!()
        };
        upload.records.drain(..3);
        upload.checkpoints.clear();
        fleet
            .ingest_reports(
                &device,
                &ReportBatch {
                    reports: vec![report(3, ReportBody::Audit(upload))],
                },
                None,
            )
            .await
            .unwrap();
        let detail = fleet.device(&d.id).await.unwrap();
        assert_eq!(detail.summary.status, OverallStatus::Attention);
        assert_eq!(detail.audit_chains[0].state, "gap");
        assert!(
            fleet
                .security_events(Some(&d.id), 10)
                .await
                .unwrap()
                .iter()
                .any(|e| e.kind == "audit-chain")
        );
    }
);

on_both!(
    findings_follow_advisories_and_inventories_over_time,
    |lab: Lab| async move {
        // The whole lab (its temporary directory, its PostgreSQL cluster) lives as long as the
        // scenario, not only the fields it names.
        let lab = lab;
        let fleet = &lab.fleet;
        let token = fleet
            .create_enrollment_token("site", Some("CT 9000"), Duration::hours(24), 3)
            .await
            .unwrap();
        let a = enroll(fleet, &token.secret, "F1").await.unwrap();
        let b = enroll(fleet, &token.secret, "F2").await.unwrap();
        let old = inventory(&[("dcmtk", "3.6.7-8"), ("zlib1g", "1:1.2.13.dfsg-1")]);
        for d in [&a, &b] {
            let dev = authenticate(fleet, d).await;
            fleet
                .ingest_reports(
                    &dev,
                    &ReportBatch {
                        reports: vec![report(1, old.clone())],
                    },
                    None,
                )
                .await
                .unwrap();
        }
        let none = fleet
            .findings(&FindingFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(none.total, 0);
        let ingest = fleet
            .ingest_advisories(vec![advisory("DSA-9001-1", "dcmtk", "3.6.7-9")])
            .await
            .unwrap();
        assert_eq!(ingest.added, 1);
        assert_eq!(ingest.devices_matched, 2);
        let open = fleet
            .findings(&FindingFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(open.total, 2);
        assert!(
            open.items[0]
                .finding
                .rationale
                .iter()
                .any(|s| s.contains("affected range"))
        );
        // The same advisory again changes nothing.
        let again = fleet
            .ingest_advisories(vec![advisory("DSA-9001-1", "dcmtk", "3.6.7-9")])
            .await
            .unwrap();
        assert_eq!(again.unchanged, 1);
        // Device a is patched: its finding is fixed, b's stays open.
        let dev = authenticate(fleet, &a).await;
        let patched = inventory(&[("dcmtk", "3.6.7-9"), ("zlib1g", "1:1.2.13.dfsg-1")]);
        fleet
            .ingest_reports(
                &dev,
                &ReportBatch {
                    reports: vec![report(2, patched)],
                },
                None,
            )
            .await
            .unwrap();
        let open = fleet
            .findings(&FindingFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(open.total, 1);
        assert_eq!(open.items[0].device_id, b.id);
        let fixed = fleet
            .findings(&FindingFilter {
                state: Some("fixed".into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(fixed.total, 1);
        assert_eq!(fixed.items[0].device_id, a.id);
        assert!(fixed.items[0].fixed_at.is_some());
        // Totals over the fleet are the devices' tallies (kept as findings are written), with
        // the devices joined for a site; one device's or advisory's are counted; a page deep in
        // the list is read from the index.
        let all = |f: FindingFilter| FindingFilter {
            state: Some("all".into()),
            limit: 1,
            ..f
        };
        for (what, filter, total, shown) in [
            ("all", all(FindingFilter::default()), 2, 1),
            (
                "the second page of all",
                all(FindingFilter {
                    offset: 1,
                    ..Default::default()
                }),
                2,
                1,
            ),
            (
                "past the end",
                all(FindingFilter {
                    offset: 2,
                    ..Default::default()
                }),
                2,
                0,
            ),
            (
                "open at the site",
                FindingFilter {
                    site: Some("site".into()),
                    limit: 10,
                    ..Default::default()
                },
                1,
                1,
            ),
            (
                "another site",
                all(FindingFilter {
                    site: Some("elsewhere".into()),
                    ..Default::default()
                }),
                0,
                0,
            ),
            (
                "not relevant",
                all(FindingFilter {
                    relevance: Some("not_relevant".into()),
                    ..Default::default()
                }),
                0,
                0,
            ),
            (
                "of the advisory",
                all(FindingFilter {
                    advisory: Some("DSA-9001-1".into()),
                    ..Default::default()
                }),
                2,
                1,
            ),
            (
                "of device a, open",
                FindingFilter {
                    device: Some(a.id.clone()),
                    limit: 10,
                    ..Default::default()
                },
                0,
                0,
            ),
            (
                "of device a, all",
                all(FindingFilter {
                    device: Some(a.id.clone()),
                    ..Default::default()
                }),
                1,
                1,
            ),
        ] {
            let page = fleet.findings(&filter).await.unwrap();
            assert_eq!((page.total, page.items.len()), (total, shown), "{what}");
        }
        let detail = fleet.device(&b.id).await.unwrap();
        assert_eq!(detail.summary.detail.unwrap().vulnerabilities.critical, 1);
    }
);

#[tokio::test]
async fn a_database_newer_than_this_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
    let store = Store::connect(&url).await.unwrap();
    let first = store.migrate(0).await.unwrap();
    let current = medguard_fleet::store::SCHEMA_VERSION;
    assert_eq!((first.from, first.to), (0, current));
    let second = store.migrate(0).await.unwrap();
    assert_eq!(
        (second.from, second.to),
        (current, current),
        "a second run changes nothing"
    );
    store.check_schema().await.unwrap();
    drop(store);
    let raw = rusqlite_free_insert(&url).await;
    assert!(matches!(
        raw.migrate(0).await,
        Err(FleetError::SchemaNewer { found: 99, .. })
    ));
    assert!(matches!(
        raw.check_schema().await,
        Err(FleetError::SchemaNewer { .. })
    ));
}

/// A newer medguard's migration, recorded as if it had run.
async fn rusqlite_free_insert(url: &str) -> Store {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query("INSERT INTO schema_migrations (version, description, checksum, applied_at) VALUES (99, 'future', 'x', 0)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    Store::connect(url).await.unwrap()
}

fn released_record_at(id: &str, key: &medguard_digest::SigningKey) -> medguard_patch::PatchRecord {
    support::released_record(id, "CT 9000", "CT 9000/fix.bundle", START, key)
}

fn install_report(rollout: &str) -> ReportBody {
    ReportBody::Install(medguard_proto::InstallReport {
        bundle: medguard_proto::BundleRef {
            version: "2".into(),
            digest: "ab".repeat(32),
            target: Some("CT 9000/fix.bundle".into()),
        },
        rollout: Some(rollout.into()),
        outcome: medguard_proto::InstallOutcome::Installed,
        reason: None,
        self_tests: Vec::new(),
        verification: None,
        waiting_for: None,
        started: START,
        finished: START,
    })
}

on_both!(
    an_outcome_from_a_device_outside_the_rollout_is_refused_and_recorded,
    |lab: Lab| async move {
        let lab = lab;
        let fleet = &lab.fleet;
        let token = fleet
            .create_enrollment_token("North", None, Duration::hours(1), 2)
            .await
            .unwrap();
        let inside = enroll(fleet, &token.secret, "IN-1").await.unwrap();
        let outside = enroll(fleet, &token.secret, "OUT-1").await.unwrap();
        let key = medguard_digest::SigningKey::generate().unwrap().0;
        let record = fleet
            .open_patch_record(|id| Ok(released_record_at(id, &key)))
            .await
            .unwrap();
        fleet
            .record_release(&record.id, &["CT 9000".into()], "CT 9000/fix.bundle", "2")
            .await
            .unwrap();
        // A rollout of the record to one device only.
        let wave = medguard_patch::WavePlan {
            name: "the one".into(),
            selection: medguard_patch::WaveSelection::Devices(vec![inside.id.clone()]),
            success: medguard_patch::Permille::new(1000).unwrap(),
            advance: medguard_patch::Advance::Automatic,
            stop_on: medguard_patch::ErrorThreshold::Count(1),
        };
        let app = medguard_patch::Person {
            id: "app".into(),
            printed_name: "app".into(),
        };
        // Both devices are of the record's model; a plan that leaves one of them in no wave is
        // refused, so the other device is revoked (revoked devices are never targeted).
        let refused = fleet
            .start_rollout(
                &record.id,
                medguard_fleet::rollouts::RolloutRequest {
                    sites: Vec::new(),
                    models: Vec::new(),
                    waves: vec![wave.clone()],
                },
                &app,
            )
            .await;
        assert!(
            matches!(refused, Err(FleetError::Rollout { .. })),
            "{refused:?}"
        );
        fleet
            .revoke_device(&outside.id, "test: outside the rollout", None)
            .await
            .unwrap();
        let rollout = fleet
            .start_rollout(
                &record.id,
                medguard_fleet::rollouts::RolloutRequest {
                    sites: Vec::new(),
                    models: Vec::new(),
                    waves: vec![wave],
                },
                &app,
            )
            .await
            .unwrap();
        assert_eq!(rollout.device_count(), 1);
        // The lists come a page at a time, with how many there are in all.
        let page = fleet.rollouts_page(None, 10, 0).await.unwrap();
        assert_eq!((page.total, page.items.len()), (1, 1));
        assert_eq!(page.items[0].id, rollout.id());
        let page = fleet.rollouts_page(None, 10, 1).await.unwrap();
        assert_eq!((page.total, page.items.len()), (1, 0));
        let page = fleet.rollouts_page(Some("PR-9999"), 10, 0).await.unwrap();
        assert_eq!((page.total, page.items.len()), (0, 0));
        for _ in 0..6 {
            fleet
                .open_patch_record(|id| Ok(released_record_at(id, &key)))
                .await
                .unwrap();
        }
        let all = fleet.patch_records().await.unwrap();
        let first = fleet.patch_records_page(3, 0).await.unwrap();
        let last = fleet.patch_records_page(3, 6).await.unwrap();
        assert_eq!((first.total, last.total), (7, 7));
        assert_eq!(first.items, all[..3]);
        assert_eq!(last.items, all[6..]);
        assert_eq!(fleet.checkin_commands(&inside.id).await.unwrap().len(), 1);
        assert!(
            fleet
                .checkin_commands(&outside.id)
                .await
                .unwrap()
                .is_empty()
        );

        // The outside device reports an outcome for it: stored as its fact, refused by the
        // rollout, recorded; the rollout is unchanged.
        let before = serde_json::to_string(&fleet.rollout(rollout.id()).await.unwrap()).unwrap();
        let err = fleet
            .rollout_outcome(
                &outside.id,
                match &install_report(rollout.id()) {
                    ReportBody::Install(i) => i,
                    _ => unreachable!(),
                },
            )
            .await;
        assert!(
            matches!(&err, Err(FleetError::Rollout { reason, .. }) if reason.contains(&outside.id)),
            "{err:?}"
        );
        let after = serde_json::to_string(&fleet.rollout(rollout.id()).await.unwrap()).unwrap();
        assert_eq!(before, after);

        // Through the report path of the inside device: the rollout completes and the record is
        // confirmed.
        let d = authenticate(fleet, &inside).await;
        let batch = ReportBatch {
            reports: vec![report(1, install_report(rollout.id()))],
        };
        let ack = fleet.ingest_reports(&d, &batch, None).await.unwrap();
        assert_eq!(ack.receipts[0].outcome, ReportOutcome::Stored);
        assert!(fleet.rollout(rollout.id()).await.unwrap().is_complete());
        let record = fleet.patch_record(&record.id).await.unwrap();
        assert_eq!(record.state, medguard_patch::PatchState::Confirmed);

        // An outcome for a rollout that does not exist, through the report path: recorded.
        let batch = ReportBatch {
            reports: vec![report(2, install_report("RO-nowhere"))],
        };
        fleet.ingest_reports(&d, &batch, None).await.unwrap();
        let events = fleet.security_events(Some(&inside.id), 50).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == "rollout-outcome-refused" && e.detail.contains("RO-nowhere")),
            "{events:#?}"
        );
    }
);

on_both!(
    a_command_a_person_queued_is_handed_out_once_at_check_in,
    |lab: Lab| async move {
        let lab = lab;
        let fleet = &lab.fleet;
        let token = fleet
            .create_enrollment_token("North", None, Duration::hours(1), 1)
            .await
            .unwrap();
        let d = enroll(fleet, &token.secret, "C-1").await.unwrap();
        assert!(fleet.checkin_commands(&d.id).await.unwrap().is_empty());
        let id = fleet
            .queue_command(&d.id, &medguard_proto::CommandKind::VerifyNow, "bea")
            .await
            .unwrap();
        fleet
            .queue_command(&d.id, &medguard_proto::CommandKind::CollectInventory, "bea")
            .await
            .unwrap();
        let first = fleet.checkin_commands(&d.id).await.unwrap();
        assert_eq!(first.len(), 2, "{first:?}");
        assert_eq!(first[0].id, id);
        assert_eq!(first[0].kind, medguard_proto::CommandKind::VerifyNow);
        assert!(
            fleet.checkin_commands(&d.id).await.unwrap().is_empty(),
            "once"
        );
        let install = medguard_proto::CommandKind::Install {
            rollout: "r".into(),
            target: "t".into(),
            version: "1".into(),
        };
        assert!(matches!(
            fleet.queue_command(&d.id, &install, "bea").await,
            Err(FleetError::Invalid { .. })
        ));
    }
);
