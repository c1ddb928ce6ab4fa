//! The pages for people, break-glass review and the audit trail over real TLS, on SQLite and
//! on PostgreSQL: the administrator adds a person from the page (the set-up link on the
//! answer), revokes their API token, resets and releases their account, reviews their
//! break-glass session (which lists what they did meanwhile) and searches the audit trail
//! (verified intact). A form without the session's CSRF token is refused and changes nothing;
//! a biomedical engineer is refused every one of these pages and forms with a clear message
//! and sees none of them in the navigation. Every action and refusal is in the server's audit
//! trail, which verifies intact with the server's key. The patch records list comes a page at
//! a time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Browser, Server, set_up, sign_in, start};
use medguard_pgtest::PostgresCluster;
use serde_json::{Value, json};

impl Browser {
    async fn page(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts a form (with this session's CSRF token unless `csrf` is false); the status, where
    /// it sends the browser, and the page.
    async fn form(&self, path: &str, fields: &[(&str, &str)], csrf: bool) -> (u16, String, String) {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        if csrf {
            fields.push(("csrf", &self.csrf));
        } else {
            fields.push(("csrf", "not-the-session-token"));
        }
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", medguard_web::encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, r.text().await.unwrap())
    }

    async fn api(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let r = match method {
            "get" => self.http.get(&url),
            _ => self.http.post(&url).json(&body),
        }
        .header("cookie", &self.cookie)
        .header("x-csrf-token", &self.csrf)
        .send()
        .await
        .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

/// The set-up token in a page's link.
fn setup_token(page: &str) -> String {
    let at = page.find("/setup/").expect("the page shows a set-up link") + "/setup/".len();
    page[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The server's audit trail: every record's (user, type, detail).
fn trail(s: &Server) -> Vec<(String, String, String)> {
    let log = medguard_audit::AuditLog::open(&s.data.root().join("audit")).unwrap();
    log.records()
        .unwrap()
        .map(|r| {
            let e = r.unwrap().event;
            (
                e.user().unwrap_or_default().to_owned(),
                e.kind.as_str().to_owned(),
                e.detail.unwrap_or_default(),
            )
        })
        .collect()
}

fn recorded(trail: &[(String, String, String)], user: &str, kind: &str, detail: &str) -> bool {
    trail
        .iter()
        .any(|(u, k, d)| u == user && k == kind && d.contains(detail))
}

/// A client pinning the server's CA that shows redirects instead of following them.
fn client(ca_pem: &str) -> reqwest::Client {
    let config = medguard_pki::tls::device_client_config(ca_pem, None).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls((*config).clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn scenario(s: &Server) {
    let http = client(&s.ca_pem);
    let fleet = medguard_server::open_fleet(&s.data).await.unwrap();
    fleet
        .create_enrollment_token("North", None, time::Duration::hours(1), 1)
        .await
        .unwrap();
    let first = medguard_server::host::first_administrator(&s.data, "admin")
        .await
        .unwrap()
        .unwrap();
    let phrase = "violet tractors mumble under seventeen lanterns";
    let codes = set_up(s, &http, &first.token.reveal(), phrase).await;
    let admin = sign_in(s, &http, "admin", phrase, &codes[0]).await;

    // The administrator's navigation has the three pages.
    let (status, people) = admin.page("/people").await;
    assert_eq!(status, 200, "{people}");
    for link in [
        r#"href="/people""#,
        r#"href="/break-glass""#,
        r#"href="/audit""#,
    ] {
        assert!(people.contains(link), "{link} missing from the navigation");
    }
    assert_eq!(people.matches("<h1").count(), 1);
    assert!(people.contains(r#"<label for="new-name">"#));

    // A form without the session's CSRF token is refused and adds nobody.
    let (status, _, refused) = admin
        .form(
            "/people",
            &[("name", "mallory"), ("role", "administrator"), ("site", "")],
            false,
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused.contains("did not come from this session"),
        "{refused}"
    );
    assert!(!admin.page("/people").await.1.contains("mallory"));

    // A hospital role for all sites does not fit: refused on the page, with the form kept.
    let (status, _, refused) = admin
        .form(
            "/people",
            &[
                ("name", "bea"),
                ("role", "biomedical-engineer"),
                ("site", ""),
            ],
            true,
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("Not added"), "{refused}");
    assert!(refused.contains(r#"value="bea""#), "the name typed is kept");

    // Added: the set-up link is on the answer.
    let (status, _, added) = admin
        .form(
            "/people",
            &[
                ("name", "bea"),
                ("role", "biomedical-engineer"),
                ("site", "North"),
            ],
            true,
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert!(added.contains("bea is added"), "{added}");
    let bea_phrase = "the kettle sings when granite clouds arrive";
    let bea_codes = set_up(s, &http, &setup_token(&added), bea_phrase).await;
    let bea = sign_in(s, &http, "bea", bea_phrase, &bea_codes[0]).await;
    let (_, list) = admin.page("/people").await;
    assert!(list.contains("site North"), "{list}");
    assert!(
        list.contains("done (passphrase and authenticator)"),
        "{list}"
    );

    // The biomedical engineer sees none of these pages in the navigation and is refused each.
    let (status, fleet_page) = bea.page("/").await;
    assert_eq!(status, 200);
    for link in [
        r#"href="/people""#,
        r#"href="/break-glass""#,
        r#"href="/audit""#,
    ] {
        assert!(
            !fleet_page.contains(link),
            "{link} shown to a biomedical engineer"
        );
    }
    for path in ["/people", "/people/admin", "/break-glass", "/audit"] {
        let (status, refused) = bea.page(path).await;
        assert_eq!(status, 403, "{path}: {refused}");
        assert!(
            refused.contains("the role biomedical-engineer may not"),
            "{path} says why: {refused}"
        );
    }
    let (status, _, refused) = bea
        .form(
            "/people",
            &[("name", "eve"), ("role", "administrator"), ("site", "")],
            true,
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert!(!admin.page("/people").await.1.contains("eve"));

    // Bea's API token, listed on her page and revoked there by the administrator.
    let (status, token) = bea
        .api("post", "/api/v1/tokens", json!({ "name": "bench-laptop" }))
        .await;
    assert_eq!(status, 201, "{token}");
    let token_id = token["id"].as_str().unwrap().to_owned();
    let (status, page) = admin.page("/people/bea").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("bench-laptop") && page.contains("valid"),
        "{page}"
    );
    let revoke = format!("/api-tokens/{token_id}/revoke");
    let (status, _, _) = bea.form(&revoke, &[], true).await;
    assert_eq!(status, 403, "the page is the administrator's");
    let (status, location, _) = admin.form(&revoke, &[], true).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/people/bea?done=revoked")
    );
    let (_, page) = admin.page(&location).await;
    assert!(page.contains("The API token is revoked") && page.contains("revoked"));
    let r = http
        .get(format!("{}/api/v1/devices", s.base))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a revoked token no longer works");

    // A reset gives a new link; a release answers back to the page.
    let (status, _, page) = admin.form("/people/bea/reset", &[], true).await;
    assert_eq!(status, 201, "{page}");
    assert!(!setup_token(&page).is_empty());
    let (status, location, _) = admin.form("/people/bea/release", &[], false).await;
    assert_eq!((status, location.as_str()), (403, ""));
    let (status, location, _) = admin.form("/people/bea/release", &[], true).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/people/bea?done=released")
    );

    // Break-glass: bea's session, what she did meanwhile, reviewed from the page.
    let (status, started) = bea
        .api(
            "post",
            "/api/v1/break-glass",
            json!({ "reason": "CT 2 stuck in a rollout during a stroke case", "duration": "2s" }),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let (status, _) = bea.api("get", "/api/v1/audit", json!(null)).await;
    assert_eq!(status, 403, "refused, and recorded as what she did");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, review_page) = admin.page("/break-glass").await;
    assert_eq!(status, 200, "{review_page}");
    assert!(
        review_page.contains("Break-glass (1 to review)"),
        "counted in the navigation"
    );
    for part in [
        "CT 2 stuck in a rollout during a stroke case",
        "awaiting review",
        "by itself",
        &format!("break-glass {id} started"),
        "refused GET /api/v1/audit",
        &format!(r#"action="/break-glass/{id}/review""#),
    ] {
        assert!(review_page.contains(part), "{part} missing: {review_page}");
    }
    let review = format!("/break-glass/{id}/review");
    let note = [("note", "called the ward: the stroke case was real")];
    let (status, _, _) = admin.form(&review, &note, false).await;
    assert_eq!(status, 403);
    let (status, _, refused) = bea.form(&review, &note, true).await;
    assert_eq!(status, 403, "{refused}");
    let (status, location, _) = admin.form(&review, &note, true).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/break-glass?done=reviewed")
    );
    let (_, after) = admin.page("/break-glass?done=reviewed").await;
    assert!(
        after.contains("Your review is recorded")
            && after.contains("No break-glass session awaits review")
    );
    assert!(!after.contains("to review)"));
    let (_, all) = admin.page("/break-glass?state=all").await;
    assert!(
        all.contains("called the ward: the stroke case was real"),
        "{all}"
    );

    // The audit trail: verified intact, searched by actor, action, object and time.
    let (status, audit) = admin.page("/audit").await;
    assert_eq!(status, 200, "{audit}");
    assert!(audit.contains("Verified intact"), "{audit}");
    let (_, found) = admin
        .page("/audit?actor=bea&action=access-denied&object=people")
        .await;
    assert!(found.contains("refused the people page"), "{found}");
    assert!(!found.contains("refused GET /api/v1/audit"), "{found}");
    let (_, none) = admin.page("/audit?since=2999-01-01").await;
    assert!(
        none.contains("No record matches") && none.contains("of 0"),
        "{none}"
    );
    let (status, bad) = admin.page("/audit?until=yesterday").await;
    assert_eq!(status, 422);
    assert!(bad.contains("is not a time"), "{bad}");
    // The JSON route searches alike.
    let (status, records) = admin
        .api(
            "get",
            "/api/v1/audit?actor=bea&action=break-glass",
            json!(null),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");

    // Every action and refusal is in the server's audit trail, which verifies intact.
    let t = trail(s);
    for (user, kind, detail) in [
        (
            "admin",
            "access-denied",
            "a form without its session's CSRF token was refused",
        ),
        (
            "admin",
            "security-roles-changed",
            "user bea added as biomedical-engineer for site North",
        ),
        ("bea", "access-denied", "refused the people page"),
        ("bea", "access-denied", "refused adding a person"),
        ("bea", "access-denied", "refused revoking an API token"),
        ("bea", "access-denied", "refused a break-glass review"),
        (
            "admin",
            "user-security-changed",
            &format!("API token {token_id} of bea revoked"),
        ),
        ("admin", "user-security-changed", "user bea reset"),
        (
            "admin",
            "user-security-changed",
            "sign-in hold on bea released",
        ),
        (
            "admin",
            "break-glass-ended",
            &format!("break-glass {id} of bea reviewed: called the ward"),
        ),
        (
            "admin",
            "audit-log-used",
            "audit trail read for the review of 1 break-glass sessions",
        ),
        ("admin", "audit-log-used", "audit trail searched"),
    ] {
        assert!(
            recorded(&t, user, kind, detail),
            "{user} {kind} {detail:?} not recorded"
        );
    }
    let key = medguard_digest::PublicKey::load(&s.data.root().join("keys/server.pub")).unwrap();
    let report = medguard_audit::verify(&s.data.root().join("audit"), &[key]).unwrap();
    assert!(report.is_intact(), "{report:?}");

    // 120 patch records come 50 a page.
    for _ in 0..120 {
        fleet
            .open_patch_record(|id| {
                medguard_patch::PatchRecord::open(
                    id,
                    "a fix",
                    Vec::new(),
                    &medguard_patch::Person {
                        id: "eng".into(),
                        printed_name: "eng".into(),
                    },
                    time::OffsetDateTime::now_utc(),
                    "test",
                )
            })
            .await
            .unwrap();
    }
    let (status, first) = admin.page("/patches").await;
    assert_eq!(status, 200);
    assert!(first.contains("Showing 1–50 of 120"), "{first}");
    assert_eq!(first.matches(r#"<a href="/patches/PR-"#).count(), 50);
    let (_, last) = admin.page("/patches?offset=100").await;
    assert!(last.contains("Showing 101–120 of 120"));
    assert_eq!(last.matches(r#"<a href="/patches/PR-"#).count(), 20);
    let (_, rollouts) = admin.page("/rollouts").await;
    assert!(rollouts.contains("Showing 0–0 of 0"), "{rollouts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_break_glass_and_audit_pages_on_sqlite() {
    scenario(&start(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_break_glass_and_audit_pages_on_postgres() {
    let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
    let url = pg.create_database("fleet").unwrap();
    scenario(&start(Some(&url)).await).await;
}
