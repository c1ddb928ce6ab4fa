//! The test server: a data directory made by `init`, served on a loopback port over real
//! TLS, clients pinning its CA, TOTP codes from `oathtool`, and people set up and signed in
//! as a browser is (a session cookie and its CSRF token).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::sync::Arc;

use medguard_server::{BoundServer, DataDir};
use serde_json::{Value, json};
use time::OffsetDateTime;

pub struct Server {
    pub base: String,
    pub ca_pem: String,
    pub data: DataDir,
    pub _dir: Arc<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start_on(dir: Arc<tempfile::TempDir>) -> Server {
    let data = DataDir::new(dir.path());
    let bound = BoundServer::bind(&data, Some("127.0.0.1:0")).await.unwrap();
    let port = bound.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.serve(async {
        let _ = rx.await;
    }));
    Server {
        base: format!("https://localhost:{port}"),
        ca_pem: std::fs::read_to_string(data.ca_path()).unwrap(),
        data,
        _dir: dir,
        stop: Some(tx),
    }
}

pub async fn start(database: Option<&str>) -> Server {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    medguard_server::init(
        &DataDir::new(dir.path()),
        database,
        &[],
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    start_on(dir).await
}

pub fn client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let config = medguard_pki::tls::device_client_config(ca_pem, identity).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls((*config).clone())
        .build()
        .unwrap()
}

/// An API token of the first administrator (made by `init`'s host command).
pub async fn admin_token(s: &Server) -> String {
    medguard_server::host::first_administrator(&s.data, "admin")
        .await
        .unwrap();
    medguard_server::host::create_token(
        &s.data,
        "admin",
        "tests",
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap()
    .token
    .reveal()
}

/// The current code of a base32 TOTP secret, from `oathtool`.
pub fn oathtool(secret: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret])
        .output()
        .expect("oathtool must be installed for this test (.ci/install-deps)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A browser-like session: the cookie and the CSRF token from sign-in.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

pub async fn post(http: &reqwest::Client, url: String, body: Value) -> reqwest::Response {
    http.post(url).json(&body).send().await.unwrap()
}

/// Completes a person's set-up from their one-time token; returns their recovery codes.
pub async fn set_up(
    s: &Server,
    http: &reqwest::Client,
    token: &str,
    passphrase: &str,
) -> Vec<String> {
    let offer: Value = http
        .get(format!("{}/api/v1/setup/{token}", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = offer["totp_secret"].as_str().unwrap();
    assert!(
        offer["qr_svg"].as_str().unwrap().starts_with("<svg")
            || offer["qr_svg"].as_str().unwrap().contains("<svg")
    );
    let r = post(
        http,
        format!("{}/api/v1/setup/{token}", s.base),
        json!({ "passphrase": passphrase, "totp_secret": secret, "code": oathtool(secret) }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    done["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// Signs in with a recovery code (the TOTP code of the set-up cannot be used twice, and the
/// next one is up to 30 s away).
pub async fn sign_in(
    s: &Server,
    http: &reqwest::Client,
    user: &str,
    passphrase: &str,
    code: &str,
) -> Browser {
    let r = post(
        http,
        format!("{}/api/v1/session", s.base),
        json!({ "user": user, "passphrase": passphrase, "recovery_code": code }),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-medguard-session="));
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let body: Value = r.json().await.unwrap();
    Browser {
        http: http.clone(),
        base: s.base.clone(),
        cookie: cookie.split(';').next().unwrap().to_owned(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}
