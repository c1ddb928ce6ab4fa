//! The test server: a data directory made by `init`, served on a loopback port over real
//! TLS, and clients pinning its CA.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use medguard_server::{BoundServer, DataDir};
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
