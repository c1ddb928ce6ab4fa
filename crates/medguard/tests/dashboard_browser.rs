//! The dashboard in a real browser: Debian's `chromium` driven through `chromedriver` (both
//! started here), against `medguard server quickstart` as a newcomer runs it. The journey: the
//! first administrator's set-up page (a code from `oathtool`), the recovery codes, sign-in, the
//! fleet overview, this machine's device page (status, inventory), its model's MDS2 form,
//! findings, a page that is not there, sign-out. Each page's screenshot is saved under
//! `target/dashboard-screenshots/`; any console error, CSP violation or serious accessibility
//! violation (axe-core) fails the test. Without chromium, chromedriver or axe-core the test
//! fails, naming what to install.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod browser;
mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt as _;
use browser::{
    BrowserLog, Journey, Killed, free_port, open_browser, screenshots, start_chromedriver,
};
use fantoccini::Locator;

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

    let browser = open_browser(driver_port).await;
    let shots = screenshots();
    let j = Journey {
        browser,
        shots,
        base: format!("https://localhost:{port}"),
    };
    j.axe_self_test().await;

    // The first administrator's set-up.
    let phrase = "violet tractors mumble under seventeen lanterns";
    let first_code = j
        .set_up(&link, phrase, ["1-setup", "2-recovery-codes"])
        .await;

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
    j.check("3-sign-in-refused").await;
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

    // The model's MDS2 form, from the device page's link.
    j.follow(
        Locator::Css("main a[href$='/mds2']"),
        Locator::Css("article.mds2"),
    )
    .await;
    assert!(j.text().await.contains("MDS2: This machine"));
    j.check("5-mds2").await;

    j.browser
        .goto(&format!("{}/findings", j.base))
        .await
        .unwrap();
    j.check("6-findings").await;

    // A page that is not there: the error page, with its 404 in the console (expected here).
    j.browser
        .goto(&format!("{}/devices/no-such-device", j.base))
        .await
        .unwrap();
    j.browser.issue_cmd(BrowserLog).await.unwrap();
    j.check("7-not-found").await;

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
