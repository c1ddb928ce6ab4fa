//! People on the server over real TLS: the first administrator's set-up with codes computed by
//! `oathtool` (an independent TOTP implementation), people added by role, an auditor refused
//! every change, a break-glass session that ends by itself and is reviewed by someone else,
//! each action in the server's audit log (which verifies intact with the server's key); and
//! every person route tried by every role against the role table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Browser, client, oathtool, post, set_up, sign_in, start};
use medguard_accounts::{Role, SetupPurpose};
use medguard_server::openapi::{Caller, ROUTES};
use serde_json::{Value, json};

impl Browser {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "get" => self.http.get(&url),
            "delete" => self.http.delete(&url),
            _ => self.http.post(&url),
        }
        .header("cookie", &self.cookie)
        .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

async fn add(b: &Browser, name: &str, role: &str, site: Option<&str>) -> String {
    let (status, body) = b
        .call(
            "post",
            "/api/v1/users",
            Some(json!({ "name": name, "role": role, "site": site })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["setup_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_administrator_people_auditor_break_glass_and_the_audit_log() {
    let s = start(None).await;
    let http = client(&s.ca_pem, None);
    let fleet = medguard_server::open_fleet(&s.data).await.unwrap();
    fleet
        .create_enrollment_token("North", None, time::Duration::hours(1), 1)
        .await
        .unwrap();

    // The first administrator, as `server init` makes them.
    let first = medguard_server::host::first_administrator(&s.data, "admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.link.purpose, SetupPurpose::FirstAdministrator);
    let phrase = "violet tractors mumble under seventeen lanterns";
    // A weak passphrase is refused with the reason, and the link still works after.
    let offer: Value = http
        .get(format!("{}/api/v1/setup/{}", s.base, first.token.reveal()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = offer["totp_secret"].as_str().unwrap();
    let weak = post(
        &http,
        format!("{}/api/v1/setup/{}", s.base, first.token.reveal()),
        json!({ "passphrase": "password1234567", "totp_secret": secret, "code": oathtool(secret) }),
    )
    .await;
    assert_eq!(weak.status(), 422);
    let admin_codes = set_up(&s, &http, &first.token.reveal(), phrase).await;
    assert_eq!(admin_codes.len(), 10);
    // The link works once.
    let again = post(
        &http,
        format!("{}/api/v1/setup/{}", s.base, first.token.reveal()),
        json!({ "passphrase": phrase, "totp_secret": secret, "code": "000000" }),
    )
    .await;
    assert_eq!(again.status(), 401);

    // A wrong passphrase and a wrong code are refused alike.
    for body in [
        json!({ "user": "admin", "passphrase": "not the passphrase at all", "code": "123456" }),
        json!({ "user": "nobody", "passphrase": phrase, "code": "123456" }),
    ] {
        let r = post(&http, format!("{}/api/v1/session", s.base), body).await;
        assert_eq!(r.status(), 401);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], "login-failed");
    }
    // A 10 MB passphrase is refused before it is read.
    let r = post(
        &http,
        format!("{}/api/v1/session", s.base),
        json!({ "user": "admin", "passphrase": "x".repeat(10 << 20), "code": "123456" }),
    )
    .await;
    assert_eq!(r.status(), 413);

    let admin = sign_in(&s, &http, "admin", phrase, &admin_codes[0]).await;
    // A recovery code works once.
    let r = post(
        &http,
        format!("{}/api/v1/session", s.base),
        json!({ "user": "admin", "passphrase": phrase, "recovery_code": admin_codes[0] }),
    )
    .await;
    assert_eq!(r.status(), 401);

    // A change without the CSRF token is refused and changes nothing.
    let r = http
        .post(format!("{}/api/v1/users", s.base))
        .header("cookie", &admin.cookie)
        .json(&json!({ "name": "mallory", "role": "administrator" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "csrf-token-mismatch");

    let validator = add(&admin, "vera", "validator", None).await;
    let auditor = add(&admin, "aud", "auditor", None).await;
    let biomed = add(&admin, "bea", "biomedical-engineer", Some("North")).await;
    let (_, people) = admin.call("get", "/api/v1/users", None).await;
    let names: Vec<&str> = people
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "aud", "bea", "vera"]);
    assert!(!names.contains(&"mallory"));
    // A hospital role for all sites does not fit.
    let (status, _) = admin
        .call(
            "post",
            "/api/v1/users",
            Some(json!({ "name": "x", "role": "biomedical-engineer" })),
        )
        .await;
    assert_eq!(status, 422);

    set_up(
        &s,
        &http,
        &validator,
        "quiet harbour lamps count every sailing ship",
    )
    .await;
    let aud_codes = set_up(
        &s,
        &http,
        &auditor,
        "seven orange kites drift over the marsh",
    )
    .await;
    let bea_codes = set_up(
        &s,
        &http,
        &biomed,
        "the kettle sings when granite clouds arrive",
    )
    .await;
    let aud = sign_in(
        &s,
        &http,
        "aud",
        "seven orange kites drift over the marsh",
        &aud_codes[0],
    )
    .await;

    // The auditor reads, and is refused every change.
    let (status, _) = aud.call("get", "/api/v1/devices", None).await;
    assert_eq!(status, 200);
    for (method, path, body) in [
        (
            "post",
            "/api/v1/users",
            json!({ "name": "z", "role": "auditor" }),
        ),
        ("post", "/api/v1/advisories", json!([])),
        (
            "post",
            "/api/v1/enrollment-tokens",
            json!({ "site": "North" }),
        ),
        ("post", "/api/v1/users/vera/reset", json!({})),
        (
            "post",
            "/api/v1/break-glass",
            json!({ "reason": "I want to change things" }),
        ),
    ] {
        let (status, p) = aud.call(method, path, Some(body)).await;
        assert_eq!(status, 403, "{method} {path}: {p}");
        assert_eq!(p["code"], "forbidden");
    }

    // Break-glass: bounded, visible, ends by itself, reviewed by someone else.
    let bea = sign_in(
        &s,
        &http,
        "bea",
        "the kettle sings when granite clouds arrive",
        &bea_codes[0],
    )
    .await;
    let (status, p) = bea
        .call(
            "post",
            "/api/v1/break-glass",
            Some(json!({ "reason": "short" })),
        )
        .await;
    assert_eq!(status, 422, "{p}");
    let (status, started) = bea
        .call(
            "post",
            "/api/v1/break-glass",
            Some(json!({ "reason": "CT 2 stuck in a rollout during a stroke case", "duration": "2s" })),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["state"], "active");
    let id = started["id"].as_str().unwrap().to_owned();
    let (_, me) = bea.call("get", "/api/v1/session", None).await;
    assert!(me["break_glass"]["reason"].is_string(), "{me}");
    let (_, open) = admin.call("get", "/api/v1/break-glass", None).await;
    assert_eq!(open[0]["id"], id.as_str());
    assert_eq!(open[0]["needs_review"], true);
    let (status, p) = admin
        .call(
            "post",
            &format!("/api/v1/break-glass/{id}/review"),
            Some(json!({ "note": "reviewed too early" })),
        )
        .await;
    assert_eq!(status, 409, "{p}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (_, me) = bea.call("get", "/api/v1/session", None).await;
    assert!(me["break_glass"].is_null(), "{me}");
    let (_, open) = admin.call("get", "/api/v1/break-glass", None).await;
    assert_eq!(open[0]["state"], "expired");
    let (status, _) = bea
        .call(
            "post",
            &format!("/api/v1/break-glass/{id}/review"),
            Some(json!({ "note": "it was fine, really" })),
        )
        .await;
    assert_eq!(status, 403);
    let (status, reviewed) = admin
        .call(
            "post",
            &format!("/api/v1/break-glass/{id}/review"),
            Some(json!({ "note": "called the ward: the stroke case was real" })),
        )
        .await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(reviewed["state"], "reviewed");
    let (_, open) = admin.call("get", "/api/v1/break-glass", None).await;
    assert_eq!(open.as_array().unwrap().len(), 0);

    // Sign-out ends the session on the server.
    let (status, _) = bea.call("delete", "/api/v1/session", None).await;
    assert_eq!(status, 204);
    let (status, _) = bea.call("get", "/api/v1/session", None).await;
    assert_eq!(status, 401);

    // Every action is in the server's audit log, which verifies intact.
    let (status, log) = aud.call("get", "/api/v1/audit?limit=1000", None).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"]["type"].as_str().unwrap())
        .collect();
    for kind in [
        "login-success",
        "login-failure",
        "logout",
        "security-roles-changed",
        "user-security-changed",
        "access-denied",
        "break-glass",
        "break-glass-ended",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let key = medguard_digest::PublicKey::load(&s.data.root().join("keys/server.pub")).unwrap();
    let report = medguard_audit::verify(&s.data.root().join("audit"), &[key]).unwrap();
    assert!(report.is_intact(), "{report:?}");
}

/// Every person route, called with an API token of each role: refused (403 `forbidden`)
/// exactly when the role table does not give the route's permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_against_every_role() {
    let s = start(None).await;
    let http = client(&s.ca_pem, None);
    let fleet = medguard_server::open_fleet(&s.data).await.unwrap();
    fleet
        .create_enrollment_token("North", None, time::Duration::hours(1), 1)
        .await
        .unwrap();
    for role in Role::ALL {
        let site = matches!(
            role,
            Role::HospitalSecurityOfficer | Role::BiomedicalEngineer
        )
        .then_some("North");
        let name = role.as_str();
        medguard_server::host::add_person(&s.data, name, *role, site, SetupPurpose::NewAccount)
            .await
            .unwrap();
        let token = medguard_server::host::create_token(
            &s.data,
            name,
            "role test",
            std::time::Duration::from_secs(600),
        )
        .await
        .unwrap()
        .token
        .reveal();
        for route in ROUTES {
            let Caller::Person(Some(permission)) = route.caller else {
                continue;
            };
            let path = route
                .path
                .replace("{id}", "00000000-0000-4000-8000-000000000000")
                .replace("{name}", "x");
            let url = format!("{}{path}", s.base);
            let r = match route.method {
                "get" => http.get(&url),
                "post" => http.post(&url),
                "delete" => http.delete(&url),
                _ => http.put(&url),
            }
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let allowed = role.permissions().contains(permission);
            // Routes about every site refuse a one-site grant in the handler.
            let all_sites_only = matches!(
                (route.method, route.path),
                ("put", "/api/v1/models/{name}") | ("get", "/api/v1/security-events")
            );
            let expect_forbidden = !allowed || (all_sites_only && site.is_some());
            assert_eq!(
                status == 403 && body["code"] == "forbidden",
                expect_forbidden,
                "{role} {} {}: {status} {body}",
                route.method,
                route.path
            );
        }
    }
}
