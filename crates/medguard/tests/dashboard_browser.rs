//! The dashboard in a real browser: Debian's `chromium` driven through `chromedriver` (both
//! started here), against `medguard server quickstart` as a newcomer runs it. The journey: the
//! first administrator's set-up page (a code from `oathtool`), the recovery codes, sign-in, the
//! fleet overview, this machine's device page (status, inventory), findings, sign-out. Each page's
//! screenshot is saved under `target/dashboard-screenshots/`; any console error or CSP violation
//! fails the test. Without chromium and chromedriver the test fails, naming what to install.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt as _;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn oathtool(secret: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret])
        .output()
        .expect("oathtool must be installed for this test (.ci/install-deps)");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// chromedriver's (legacy, still served) log endpoint: the browser console since the last call.
#[derive(Debug)]
struct BrowserLog;

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

struct Journey {
    browser: Client,
    shots: PathBuf,
    base: String,
}

impl Journey {
    /// Saves the page's screenshot and fails on any console error (CSP violations are
    /// console errors in Chromium).
    async fn check(&self, name: &str) {
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

    async fn text(&self) -> String {
        self.browser
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, id: &str, value: &str) {
        let input = self.browser.find(Locator::Id(id)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// Submits the page's form and waits until the next page replaced it (a click returns
    /// before the navigation it starts has finished).
    async fn submit(&self) {
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

fn start_quickstart(data: &Path, root: &Path, port: u16) -> (Killed, String) {
    let mut child = Command::cargo_bin("medguard")
        .unwrap()
        .args(["server", "quickstart", "--interval", "1h", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(data)
        .arg("--root")
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut link = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("/setup/") {
            link = Some(
                line[line[..at].rfind("https://").unwrap()..]
                    .trim()
                    .to_owned(),
            );
        }
        if line.contains("reports every") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (
        Killed(child),
        link.expect("quickstart printed no set-up link"),
    )
}

fn start_chromedriver(port: u16) -> Killed {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_reaches_their_machine_in_a_browser() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(root.join("bin/viewer"), "#!/bin/sh\necho viewer\n").unwrap();
    let port = free_port();
    let (_server, link) = start_quickstart(&work.path().join("server"), &root, port);
    let driver_port = free_port();
    let _driver = start_chromedriver(driver_port);

    let mut caps = Capabilities::new();
    caps.insert("acceptInsecureCerts".into(), json!(true));
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"] }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("chromium must start under chromedriver");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let j = Journey {
        browser,
        shots,
        base: format!("https://localhost:{port}"),
    };

    // The first administrator's set-up.
    j.browser.goto(&link).await.unwrap();
    j.check("1-setup").await;
    let secret = j
        .browser
        .find(Locator::Css("main p code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let phrase = "violet tractors mumble under seventeen lanterns";
    j.fill("passphrase", phrase).await;
    j.fill("code", &oathtool(&secret)).await;
    j.submit().await;
    j.check("2-recovery-codes").await;
    assert!(j.text().await.contains("Your account is set up"));
    let first_code = j
        .browser
        .find(Locator::Css("ol.recovery li code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // Sign-in (the set-up's TOTP code cannot be used again: the recovery code signs in).
    j.browser.goto(&format!("{}/", j.base)).await.unwrap();
    assert!(
        j.browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    j.check("3-sign-in").await;
    j.fill("user", "admin").await;
    j.fill("passphrase", "wrong passphrase entirely here").await;
    j.fill("code", &first_code).await;
    j.submit().await;
    let refused = j.text().await;
    assert!(
        refused.contains("wrong"),
        "a wrong passphrase is refused: {refused}"
    );
    // The refusal's 401 is in the console as a failed load: expected here, and only here.
    j.browser.issue_cmd(BrowserLog).await.unwrap();
    j.fill("user", "admin").await;
    j.fill("passphrase", phrase).await;
    j.fill("code", &first_code).await;
    j.submit().await;

    // The fleet overview, then this machine's page.
    let overview = j.text().await;
    assert!(overview.contains("Fleet"), "{overview}");
    j.check("4-fleet").await;
    j.browser
        .find(Locator::Css("main table a[href^='/devices/']"))
        .await
        .expect("this machine is listed")
        .click()
        .await
        .unwrap();
    let device = j.text().await;
    for part in [
        "Integrity",
        "intact",
        "Inventory",
        "Audit trail",
        "Quickstart",
    ] {
        assert!(device.contains(part), "device page lacks {part}: {device}");
    }
    j.check("5-device").await;

    j.browser
        .goto(&format!("{}/findings", j.base))
        .await
        .unwrap();
    j.check("6-findings").await;

    // Sign-out ends the session: the overview asks to sign in again.
    j.browser
        .find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Sign-out answers with a redirect to the sign-in page: wait for it to land (a click
    // returns before the navigation it starts has finished).
    for _ in 0..200 {
        if j.browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    j.browser.goto(&format!("{}/", j.base)).await.unwrap();
    assert!(
        j.browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sign-in")
    );
    j.browser.close().await.unwrap();
}
