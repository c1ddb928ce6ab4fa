//! The server over real TLS: enrollment and reports over mutual TLS, the bearer-token API,
//! every kind of bad input answered with a typed problem document and nothing stored, and two
//! server processes on one PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_pgtest::PostgresCluster;
use medguard_pki::{CertificateAuthority, DeviceKey};
use medguard_proto::{
    AgentHealth, DeviceFacts, EnrollRequest, EnrollResponse, EnrollmentToken, QueueHealth, Report,
    ReportAck, ReportBatch, ReportBody,
};

use serde_json::Value;
use time::OffsetDateTime;

mod common;

use common::{Server, client, start, start_on};

async fn operator_token(s: &Server) -> String {
    common::admin_token(s).await
}

async fn enroll_token(s: &Server, uses: u32) -> String {
    let fleet = medguard_server::open_fleet(&s.data).await.unwrap();
    fleet
        .create_enrollment_token(
            "General Hospital",
            Some("CT 9000"),
            time::Duration::hours(1),
            uses,
        )
        .await
        .unwrap()
        .secret
}

struct Enrolled {
    http: reqwest::Client,
    id: String,
}

async fn enroll(s: &Server, token: &str, serial: &str) -> Result<Enrolled, Value> {
    let key = DeviceKey::generate().unwrap();
    let request = EnrollRequest {
        token: EnrollmentToken::new(token.into()),
        csr_pem: key.certificate_request("ct").unwrap(),
        facts: DeviceFacts {
            hostname: format!("ct-{serial}"),
            serial: Some(serial.into()),
            model: None,
            os: None,
            agent_version: "test".into(),
        },
    };
    let r = client(&s.ca_pem, None)
        .post(format!("{}/api/v1/enroll", s.base))
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = r.status();
    if !status.is_success() {
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct, "application/problem+json");
        let mut p: Value = r.json().await.unwrap();
        p["http_status"] = status.as_u16().into();
        return Err(p);
    }
    let response: EnrollResponse = r.json().await.unwrap();
    let key_pem = key.private_key_pem();
    Ok(Enrolled {
        http: client(
            &s.ca_pem,
            Some((&response.certificate.certificate_pem, &key_pem)),
        ),
        id: response.device_id.to_string(),
    })
}

fn health(seq: u64) -> Report {
    Report {
        seq,
        created: OffsetDateTime::now_utc(),
        command: None,
        body: ReportBody::Health(AgentHealth {
            agent_version: "test".into(),
            started: OffsetDateTime::now_utc(),
            report_within_secs: 3600,
            queue: QueueHealth::default(),
            tasks: vec![],
            clinical: None,
        }),
    }
}

async fn post_reports(s: &Server, d: &Enrolled, body: Vec<u8>) -> (u16, Value) {
    let r = d
        .http
        .post(format!("{}/api/v1/device/reports", s.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn batch(reports: Vec<Report>) -> Vec<u8> {
    serde_json::to_vec(&ReportBatch { reports }).unwrap()
}

async fn devices(s: &Server, token: &str) -> Value {
    client(&s.ca_pem, None)
        .get(format!("{}/api/v1/devices", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn scenario(s: &Server) {
    let token = enroll_token(s, 2).await;
    let operator = operator_token(s).await;
    let d = enroll(s, &token, "A").await.unwrap();
    let (status, ack) = post_reports(s, &d, batch(vec![health(1), health(2)])).await;
    assert_eq!(status, 200, "{ack}");
    let ack: ReportAck = serde_json::from_value(ack).unwrap();
    assert_eq!(ack.last_stored_seq, 2);
    let list = devices(s, &operator).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], d.id.as_str());
    assert_eq!(list["items"][0]["site"], "General Hospital");
    assert_eq!(list["items"][0]["model"], "CT 9000");
    assert!(list["items"][0]["last_seen"].is_string());
    assert_eq!(list["items"][0]["status"], "unknown", "nothing proven yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrolls_and_reports_over_mutual_tls_on_sqlite() {
    scenario(&start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrolls_and_reports_over_mutual_tls_on_postgres() {
    let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
    let url = pg.create_database("fleet").unwrap();
    scenario(&start(Some(&url)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_typed_problem_and_stores_nothing() {
    let s = start(None).await;
    let token = enroll_token(&s, 1).await;
    let d = enroll(&s, &token, "B").await.unwrap();
    // A reused token.
    let p = enroll(&s, &token, "C").await.err().unwrap();
    assert_eq!(
        (p["http_status"].as_u64(), p["code"].as_str()),
        (Some(401), Some("enrollment-token-spent"))
    );
    // Malformed and wrongly typed JSON.
    let (st, p) = post_reports(&s, &d, b"{not json".to_vec()).await;
    assert_eq!((st, p["code"].as_str()), (400, Some("malformed")));
    let (st, p) = post_reports(&s, &d, br#"{"reports":"all of them"}"#.to_vec()).await;
    assert_eq!((st, p["code"].as_str()), (400, Some("malformed")));
    // Over the body limit.
    let (st, p) = post_reports(
        &s,
        &d,
        vec![b' '; medguard_proto::limits::MAX_BODY_BYTES + 1],
    )
    .await;
    assert_eq!((st, p["code"].as_str()), (413, Some("body-too-large")));
    // An old report after a newer one.
    assert_eq!(post_reports(&s, &d, batch(vec![health(5)])).await.0, 200);
    let (st, p) = post_reports(&s, &d, batch(vec![health(3)])).await;
    assert_eq!((st, p["code"].as_str()), (409, Some("stale-report")));
    // A certificate from another CA: the TLS handshake succeeds, the request does not.
    let other = CertificateAuthority::generate(
        "impostor",
        OffsetDateTime::now_utc(),
        time::Duration::days(1),
    )
    .unwrap();
    let key = DeviceKey::generate().unwrap();
    let cert = other
        .issue_device_certificate(
            &key.certificate_request("x").unwrap(),
            &medguard_proto::DeviceId::parse(&d.id).unwrap(),
            OffsetDateTime::now_utc(),
            time::Duration::days(1),
        )
        .unwrap();
    let key_pem = key.private_key_pem();
    let impostor = Enrolled {
        http: client(&s.ca_pem, Some((&cert.certificate_pem, &key_pem))),
        id: d.id.clone(),
    };
    let (st, p) = post_reports(&s, &impostor, batch(vec![health(9)])).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (401, Some("client-certificate-refused"))
    );
    // Revoked.
    let operator = operator_token(&s).await;
    let r = client(&s.ca_pem, None)
        .post(format!("{}/api/v1/devices/{}/revoke", s.base, d.id))
        .bearer_auth(&operator)
        .json(&serde_json::json!({"reason": "stolen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (st, p) = post_reports(&s, &d, batch(vec![health(10)])).await;
    assert_eq!((st, p["code"].as_str()), (403, Some("device-revoked")));
    // Nothing of the refusals was stored: the device's last report is still 5.
    let detail: Value = client(&s.ca_pem, None)
        .get(format!("{}/api/v1/devices/{}", s.base, d.id))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["last_seq"], 5);
    assert_eq!(detail["status"], "revoked");
    // Each security-relevant refusal is an event.
    let events: Value = client(&s.ca_pem, None)
        .get(format!("{}/api/v1/security-events?limit=100", s.base))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "device-enrollment",
        "device-authentication",
        "report-refused",
        "device-revocation",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    // A wrong bearer token.
    let r = client(&s.ca_pem, None)
        .get(format!("{}/api/v1/devices", s.base))
        .bearer_auth("mgt_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_serve_one_fleet() {
    let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
    let url = pg.create_database("fleet").unwrap();
    let a = start(Some(&url)).await;
    // The second process shares the data directory's CA and settings, as servers behind a
    // load balancer share their configuration.
    let b = start_on(a._dir.clone()).await;
    let token = enroll_token(&a, 3).await;
    let d1 = enroll(&a, &token, "P1").await.unwrap();
    let d2 = enroll(&b, &token, "P2").await.unwrap();
    for seq in 1..=6u64 {
        let server = if seq % 2 == 0 { &a } else { &b };
        for d in [&d1, &d2] {
            let sent = batch(vec![health(seq)]);
            let (st, body) = post_reports(server, d, sent.clone()).await;
            assert_eq!(st, 200, "{body}");
            // The retry lands on the other server: acknowledged, not stored twice.
            let other = if seq % 2 == 0 { &b } else { &a };
            let (st, body) = post_reports(other, d, sent).await;
            assert_eq!(st, 200);
            assert_eq!(body["receipts"][0]["outcome"], "duplicate");
        }
    }
    let operator = operator_token(&a).await;
    assert_eq!(devices(&b, &operator).await["total"], 2);
    let r = client(&a.ca_pem, None)
        .post(format!("{}/api/v1/devices/{}/revoke", a.base, d1.id))
        .bearer_auth(&operator)
        .json(&serde_json::json!({"reason": "decommissioned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (st, p) = post_reports(&b, &d1, batch(vec![health(7)])).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (403, Some("device-revoked")),
        "revocation is effective on the other server"
    );
    assert_eq!(post_reports(&b, &d2, batch(vec![health(7)])).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let s = start(None).await;
    let http = client(&s.ca_pem, None);
    for route in medguard_server::openapi::ROUTES {
        let path = route
            .path
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{name}", "x")
            .replace("{token}", "x");
        let url = format!("{}{path}", s.base);
        let r = match route.method {
            "get" => http.get(&url),
            "post" => http.post(&url),
            "delete" => http.delete(&url),
            _ => http.put(&url),
        }
        .send()
        .await
        .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            !(status == 404 && body["detail"] == "no such route"),
            "{} {} is not served",
            route.method,
            route.path
        );
    }
    let doc: Value = http
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: std::collections::BTreeSet<_> = medguard_server::openapi::ROUTES
        .iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(doc["paths"].as_object().unwrap().len(), paths.len());
}
