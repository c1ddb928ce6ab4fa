//! What the browser tests share: chromedriver and Debian's chromium started by the test, a
//! journey that saves each page's screenshot, fails on any console error (CSP violations are
//! console errors in Chromium) and on any serious or critical accessibility violation found by
//! axe-core, and the form helpers.
//!
//! axe-core is injected by WebDriver, not served: `.ci/install-deps` installs the pinned
//! version with npm under `$MEDGUARD_NPM` (default `/opt/medguard-npm`). WebDriver's scripts
//! run in the page through the DevTools protocol, which the page's Content-Security-Policy
//! does not govern, so the policy served to users stays `default-src 'none'` (no script at
//! all); the console is read again after axe has run, so a script axe itself evaluated against
//! the policy would fail the test too.
// Each test binary includes this module (and `common`, which it uses) and uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use crate::common::{free_port, oathtool};
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

/// The pinned axe-core the tests inject (`.ci/install-deps` installs it).
pub const AXE_VERSION: &str = "4.14.1";

/// axe-core's `axe.min.js`, read once from `$MEDGUARD_NPM` (default `/opt/medguard-npm`).
/// Fails, saying how to install it, when it is missing or not the pinned version: an
/// accessibility check that cannot run must not pass.
pub fn axe_script() -> &'static str {
    static SCRIPT: OnceLock<String> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let dir = std::env::var_os("MEDGUARD_NPM")
            .map_or_else(|| PathBuf::from("/opt/medguard-npm"), PathBuf::from)
            .join("node_modules/axe-core");
        let how = format!(
            "axe-core {AXE_VERSION} must be installed for the browser tests' accessibility check: \
             run .ci/install-deps (npm install --prefix {} axe-core@{AXE_VERSION}), or set \
             MEDGUARD_NPM to the folder holding node_modules/axe-core",
            dir.parent()
                .and_then(std::path::Path::parent)
                .unwrap_or(&dir)
                .display()
        );
        let package = std::fs::read_to_string(dir.join("package.json"))
            .unwrap_or_else(|e| panic!("{how}: {}: {e}", dir.join("package.json").display()));
        let package: Value = serde_json::from_str(&package).unwrap();
        assert_eq!(
            package["version"],
            AXE_VERSION,
            "{how}: {} holds another version",
            dir.display()
        );
        std::fs::read_to_string(dir.join("axe.min.js"))
            .unwrap_or_else(|e| panic!("{how}: {}: {e}", dir.join("axe.min.js").display()))
    })
}

/// Runs axe-core (injected before) on the page shown with all its rules: every violation with
/// its impact, the first few elements it found and what is wrong with the first; how many rules
/// passed; which rules could not decide (they need a person's review).
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document).then(
  (r) => done({
    violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
      nodes: v.nodes.length,
      summary: (v.nodes[0] && v.nodes[0].failureSummary) || "" })),
    passes: r.passes.length,
    incomplete: r.incomplete.map((v) => v.id + " (" + v.nodes.length + " element(s)"
      + (v.nodes[0] ? ", first " + v.nodes[0].target.join(" ") + ": "
        + v.nodes[0].any.concat(v.nodes[0].all, v.nodes[0].none).map((c) => c.message).join("; ")
        : "") + ")") }),
  (e) => done({ error: String(e) }));
"#;

/// What axe-core found on one page.
#[derive(Debug)]
pub struct Accessibility {
    /// Serious and critical violations, one line each: rule, impact, what it asks, how many
    /// elements, the first few, and what is wrong with the first.
    pub serious: Vec<String>,
    /// The other violations' rules (moderate, minor), reported but not failing.
    pub other: Vec<String>,
    /// How many rules passed.
    pub passes: u64,
    /// The rules that could not decide, with how many elements (for a person to review).
    pub incomplete: Vec<String>,
}

/// A page with two violations axe-core must report as serious or worse: an image without a
/// text alternative (critical) and faint text (serious contrast).
const AXE_SELF_TEST: &str = "data:text/html,<!doctype html><html lang=en><title>axe self-test</title>\
<main><h1>Self-test</h1><img width=10 height=10><p style='color:%23bbb;background:%23fff'>faint</p></main></html>";

impl Journey {
    /// Saves the page's screenshot, fails on any console error (CSP violations are console
    /// errors in Chromium), then runs axe-core on the page and fails on any serious or critical
    /// accessibility violation, naming each.
    pub async fn check(&self, name: &str) {
        let png = self.browser.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        self.console_errors(name, "the page").await;
        let source = self.browser.source().await.unwrap();
        assert!(source.contains("<main"), "{name}: no main landmark");
        let found = self.accessibility().await;
        let url = self.browser.current_url().await.unwrap();
        eprintln!(
            "axe-core {AXE_VERSION} on {name} ({}): {} rules passed; not failing: {:?}; to review: {:?}",
            url.path(),
            found.passes,
            found.other,
            found.incomplete
        );
        assert!(
            found.serious.is_empty(),
            "{name} ({}): {} serious or critical accessibility violation(s) found by axe-core \
             {AXE_VERSION}:\n{}",
            url.path(),
            found.serious.len(),
            found.serious.join("\n")
        );
        self.console_errors(name, "axe-core's run").await;
    }

    /// Clicks the link `link` (failing the test, naming it, when the page has none) and
    /// waits until the page it opens shows `then`.
    pub async fn follow(&self, link: Locator<'_>, then: Locator<'_>) {
        self.browser
            .find(link)
            .await
            .unwrap_or_else(|e| panic!("no link {link:?} on this page: {e}"))
            .click()
            .await
            .unwrap();
        self.browser.wait().for_element(then).await.unwrap();
    }

    /// A person's set-up from their one-time link in the browser: the page (checked as
    /// `names[0]`), passphrase and a TOTP code from `oathtool`, then the recovery codes
    /// (checked as `names[1]`); returns the first recovery code (the set-up used the current
    /// TOTP step, so signing in right after needs a recovery code or the next step).
    pub async fn set_up(&self, link: &str, phrase: &str, names: [&str; 2]) -> String {
        self.browser.goto(link).await.unwrap();
        self.check(names[0]).await;
        let secret = self
            .browser
            .find(Locator::Css("main p code"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        self.fill("passphrase", phrase).await;
        self.fill("code", &oathtool(&secret, 0)).await;
        self.submit().await;
        self.check(names[1]).await;
        assert!(self.text().await.contains("Your account is set up"));
        self.browser
            .find(Locator::Css("ol.recovery li code"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Proves the accessibility check can fail: axe-core, injected as on every page, must
    /// report the two violations of a page made with them.
    pub async fn axe_self_test(&self) {
        self.browser.goto(AXE_SELF_TEST).await.unwrap();
        let found = self.accessibility().await;
        for rule in ["image-alt (critical)", "color-contrast (serious)"] {
            assert!(
                found
                    .serious
                    .iter()
                    .any(|v| v.trim_start().starts_with(rule)),
                "axe-core did not report {rule} on its self-test page: {found:?}"
            );
        }
        self.console_errors("the axe-core self-test", "axe-core's run")
            .await;
    }

    /// Fails on any console error or CSP violation since the console was last read.
    async fn console_errors(&self, name: &str, during: &str) {
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
        assert!(
            errors.is_empty(),
            "{name}: console errors during {during}: {errors:?}"
        );
    }

    /// axe-core injected into the page shown (through WebDriver, in the page's own context)
    /// and run on its whole document.
    pub async fn accessibility(&self) -> Accessibility {
        let loaded = self
            .browser
            .execute(&format!("{}\nreturn typeof axe.run;", axe_script()), vec![])
            .await
            .unwrap();
        assert_eq!(loaded, "function", "axe-core did not load in the page");
        let result = self.browser.execute_async(AXE_RUN, vec![]).await.unwrap();
        assert!(result["error"].is_null(), "axe-core failed: {result}");
        let mut found = Accessibility {
            serious: Vec::new(),
            other: Vec::new(),
            passes: result["passes"].as_u64().unwrap(),
            incomplete: result["incomplete"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect(),
        };
        for v in result["violations"].as_array().unwrap() {
            let (id, impact) = (
                v["id"].as_str().unwrap_or_default(),
                v["impact"].as_str().unwrap_or_default(),
            );
            if matches!(impact, "serious" | "critical") {
                found.serious.push(format!(
                    "  {id} ({impact}): {} — {} element(s), first {}; {}",
                    v["help"].as_str().unwrap_or_default(),
                    v["nodes"],
                    v["targets"],
                    v["summary"].as_str().unwrap_or_default().replace('\n', " ")
                ));
            } else {
                found.other.push(format!("{id} ({impact})"));
            }
        }
        found
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
