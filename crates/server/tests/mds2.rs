//! A model's MDS2 form over the API: evidence from the devices' reports, the vendor's
//! declarations from `DIR/mds2/<model>.toml`, JSON and CSV; MLDP-4 follows the fleet.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_pgtest::PostgresCluster;
use medguard_pki::DeviceKey;
use medguard_proto::{
    AllowlistMode, AllowlistReport, DeviceFacts, EnrollRequest, EnrollResponse, EnrollmentToken,
    Report, ReportBatch, ReportBody,
};
use serde_json::Value;
use time::OffsetDateTime;

mod common;

use common::{Server, client, start};

const MODEL: &str = "CT 9000";

async fn enroll(s: &Server, token: &str, serial: &str) -> reqwest::Client {
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
    assert!(r.status().is_success());
    let response: EnrollResponse = r.json().await.unwrap();
    client(
        &s.ca_pem,
        Some((
            &response.certificate.certificate_pem,
            &key.private_key_pem(),
        )),
    )
}

async fn allowlist(s: &Server, device: &reqwest::Client, seq: u64, mode: AllowlistMode) {
    let batch = ReportBatch {
        reports: vec![Report {
            seq,
            created: OffsetDateTime::now_utc(),
            command: None,
            body: ReportBody::Allowlist(AllowlistReport {
                mode,
                list_digest: None,
                entries: 120,
                reason: None,
                denials: vec![],
                denials_omitted: 0,
            }),
        }],
    };
    let r = device
        .post(format!("{}/api/v1/device/reports", s.base))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

async fn form(s: &Server, token: &str) -> Value {
    let r = client(&s.ca_pem, None)
        .get(format!("{}/api/v1/models/CT%209000/mds2", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

fn entry<'a>(form: &'a Value, id: &str) -> &'a Value {
    form["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} is on the form"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_follows_the_fleet_and_the_vendors_declarations_on_sqlite() {
    scenario(&start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_follows_the_fleet_and_the_vendors_declarations_on_postgres() {
    let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
    let url = pg.create_database("fleet").unwrap();
    scenario(&start(Some(&url)).await).await;
}

async fn scenario(s: &Server) {
    let admin = common::admin_token(s).await;
    let http = client(&s.ca_pem, None);

    // A model nobody has heard of is not found.
    let r = http
        .get(format!("{}/api/v1/models/nothing/mds2", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    let fleet = medguard_server::open_fleet(&s.data).await.unwrap();
    let token = fleet
        .create_enrollment_token("General Hospital", Some(MODEL), time::Duration::hours(1), 2)
        .await
        .unwrap()
        .secret;
    let a = enroll(s, &token, "A").await;
    let b = enroll(s, &token, "B").await;
    std::fs::create_dir_all(s.data.root().join("mds2")).unwrap();
    std::fs::write(
        s.data.root().join("mds2/CT 9000.toml"),
        "model = \"CT 9000\"\n[answers]\n\"DOC-1\" = { note = \"Example Medical\" }\n\"MLDP-4\" = \"yes\"\n\"ALOF-1\" = \"yes\"\n",
    )
    .unwrap();

    allowlist(s, &a, 1, AllowlistMode::Enforce).await;
    allowlist(s, &b, 1, AllowlistMode::Enforce).await;
    let f = form(s, &admin).await;
    assert_eq!(f["model"], MODEL);
    assert_eq!(f["declarations"], "mds2/CT 9000.toml");
    let mldp4 = entry(&f, "MLDP-4");
    assert_eq!(mldp4["answer"], "yes", "{mldp4}");
    assert_eq!(mldp4["source"]["kind"], "evidence");
    assert_eq!(mldp4["source"]["link"], "/api/v1/devices?model=CT%209000");
    assert_eq!(entry(&f, "ALOF-1")["answer"], "yes");
    assert_eq!(entry(&f, "ALOF-1")["source"]["kind"], "declared");
    assert_eq!(entry(&f, "DOC-1")["answer"], "see-note");
    assert_eq!(entry(&f, "DOC-1")["note"], "Example Medical");
    // Certificates from enrollment: node authentication is seen on every device.
    assert_eq!(entry(&f, "NAUT-3")["answer"], "yes");
    // Nothing reported a scan and the vendor said nothing: unanswered, not yes.
    let rmot = entry(&f, "RMOT-1");
    assert!(rmot["answer"].is_null());
    assert_eq!(rmot["source"]["kind"], "unanswered");
    // Only some devices show a scan: not yes.
    assert_eq!(entry(&f, "MLDP-2")["answer"], "no");

    // One device stops enforcing: MLDP-4 is no, whatever the vendor declares.
    allowlist(s, &b, 2, AllowlistMode::Audit).await;
    let f = form(s, &admin).await;
    let mldp4 = entry(&f, "MLDP-4");
    assert_eq!(mldp4["answer"], "no", "{mldp4}");
    assert!(
        mldp4["note"]
            .as_str()
            .unwrap()
            .contains("Declared by the vendor: Yes")
    );

    // CSV: one row per question, keyed by the form's ids.
    for (query, accept) in [("?format=csv", "*/*"), ("", "text/csv")] {
        let r = http
            .get(format!("{}/api/v1/models/CT%209000/mds2{query}", s.base))
            .header("accept", accept)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = r.text().await.unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "id,group,question,answer,note,source");
        assert_eq!(rows.len() - 1, f["entries"].as_array().unwrap().len());
        assert!(rows.iter().any(|r| r.starts_with("MLDP-4,MLDP,")));
        assert!(rows.iter().any(|r| r.starts_with("SBOM-1,SBOM,")));
    }

    // A declarations file with an id the form does not have is refused, with its line.
    std::fs::write(
        s.data.root().join("mds2/CT 9000.toml"),
        "[answers]\n\"MLDP-99\" = \"yes\"\n",
    )
    .unwrap();
    let r = http
        .get(format!("{}/api/v1/models/CT%209000/mds2", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("line 2"), "{p}");

    // The page is for signed-in people: without a session it sends to sign-in.
    let r = reqwest::Client::builder()
        .use_preconfigured_tls(
            (*medguard_pki::tls::device_client_config(&s.ca_pem, None).unwrap()).clone(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/models/CT%209000/mds2", s.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/sign-in");
}
