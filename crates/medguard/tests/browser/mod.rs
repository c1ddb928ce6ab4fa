//! What the browser tests share: chromedriver and Debian's chromium started by the test, a
//! journey that saves each page's screenshot and fails on any console error (CSP violations
//! are console errors in Chromium), and the form helpers.
// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The TOTP code of a base32 secret, `ahead` steps of 30 s from now (a code's step cannot be
/// used twice, so a second code soon after the first is asked one step ahead).
pub fn oathtool(secret: &str, ahead: u32) -> String {
    let out = Command::new("oathtool")
        .args([
            "--totp",
            "-b",
            "-N",
            &format!("now + {} seconds", 30 * ahead),
            secret,
        ])
        .output()
        .expect("oathtool must be installed for this test (.ci/install-deps)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// chromedriver's (legacy, still served) log endpoint: the browser console since the last call.
#[derive(Debug)]
pub struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

pub struct Journey {
    pub browser: Client,
    pub shots: PathBuf,
    pub base: String,
}

impl Journey {
    /// Saves the page's screenshot and fails on any console error (CSP violations are
    /// console errors in Chromium).
    pub async fn check(&self, name: &str) {
        let png = self.browser.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        let log = self.browser.issue_cmd(BrowserLog).await.unwrap();
        let errors: Vec<&Value> = log
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| {
                        e["level"] == "SEVERE"
                            || e["message"]
                                .as_str()
                                .is_some_and(|m| m.contains("Content Security Policy"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(errors.is_empty(), "{name}: console errors {errors:?}");
        let source = self.browser.source().await.unwrap();
        assert!(source.contains("<main"), "{name}: no main landmark");
    }

    pub async fn text(&self) -> String {
        self.browser
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn fill(&self, id: &str, value: &str) {
        let input = self.browser.find(Locator::Id(id)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// Submits the page's form and waits until the next page replaced it (a click returns
    /// before the navigation it starts has finished).
    pub async fn submit(&self) {
        let old = self.browser.find(Locator::Css("main")).await.unwrap();
        self.browser
            .find(Locator::Css("main button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for _ in 0..200 {
            if old.text().await.is_err() {
                self.browser
                    .wait()
                    .for_element(Locator::Css("main"))
                    .await
                    .unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the form's page stayed");
    }
}

pub fn start_chromedriver(port: u16) -> Killed {
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed for this test (Debian: chromium chromium-driver; .ci/install-deps)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Killed(child)
}

/// Headless chromium under chromedriver on `driver_port`, console logging on, accepting the
/// fleet CA's certificate (the test's own CA, not in the system's store).
pub async fn open_browser(driver_port: u16) -> Client {
    let mut caps = Capabilities::new();
    caps.insert("acceptInsecureCerts".into(), json!(true));
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"] }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("chromium must start under chromedriver")
}

/// Where screenshots go: `target/dashboard-screenshots/`.
pub fn screenshots() -> PathBuf {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}
