//! The pages for people, break-glass review and the audit trail in a real browser, against
//! `medguard server run` (issue 18): the first administrator sets up their account from the
//! link `server init` printed, signs in, adds an auditor from the people page (the answer shows
//! their one-time set-up link), opens the break-glass review, and searches the audit trail for
//! the account just added (the trail verified intact). Each page's screenshot is saved under
//! `target/dashboard-screenshots/`; any console error or CSP violation fails the test. Without
//! chromium and chromedriver the test fails, naming what to install.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod browser;
mod common;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;
use browser::{Journey, free_port, open_browser, screenshots, start_chromedriver};
use common::RunningServer;
use fantoccini::Locator;

/// Chooses an option of a select by its value.
async fn choose(j: &Journey, select: &str, value: &str) {
    j.browser
        .find(Locator::Css(&format!("#{select} option[value='{value}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_adds_a_person_reviews_break_glass_and_searches_the_trail() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("server");
    let out = Command::cargo_bin("medguard")
        .unwrap()
        .args(["server", "init", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let token = printed
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .unwrap_or_else(|| panic!("no set-up link printed: {printed}"))
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let port = free_port();
    let _server = RunningServer::start(&data, &format!("127.0.0.1:{port}"));
    let driver_port = free_port();
    let _driver = start_chromedriver(driver_port);
    let j = Journey {
        browser: open_browser(driver_port).await,
        shots: screenshots(),
        base: format!("https://localhost:{port}"),
    };
    j.axe_self_test().await;

    // The first administrator's set-up, then sign-in with a recovery code.
    let phrase = "violet tractors mumble under seventeen lanterns";
    let code = j
        .set_up(
            &format!("{}/setup/{token}", j.base),
            phrase,
            ["people-0-setup", "people-0-recovery-codes"],
        )
        .await;
    j.browser
        .goto(&format!("{}/sign-in", j.base))
        .await
        .unwrap();
    j.fill("user", "admin").await;
    j.fill("passphrase", phrase).await;
    j.fill("code", &code).await;
    j.submit().await;
    assert!(j.text().await.contains("Fleet"));

    // People: from the navigation, add an auditor; the answer shows their set-up link.
    j.follow(
        Locator::Css("header nav a[href='/people']"),
        Locator::Id("new-name"),
    )
    .await;
    let people = j.text().await;
    assert!(
        people.contains("admin") && people.contains("Add a person"),
        "{people}"
    );
    j.check("people-1-list").await;
    j.fill("new-name", "nina").await;
    choose(&j, "new-role", "auditor").await;
    j.submit().await;
    let added = j.text().await;
    assert!(added.contains("nina is added"), "{added}");
    assert!(added.contains("Set-up link for nina"), "{added}");
    assert!(
        added.contains(&format!("https://localhost:{port}/setup/")),
        "{added}"
    );
    j.check("people-2-added").await;
    j.follow(
        Locator::Css("main table a[href='/people/nina']"),
        Locator::Css("main dl.facts"),
    )
    .await;
    let nina = j.text().await;
    assert!(
        nina.contains("Account nina") && nina.contains("no API token"),
        "{nina}"
    );
    j.check("people-3-person").await;

    // Break-glass review: nothing awaits review on a new server.
    j.follow(
        Locator::Css("header nav a[href='/break-glass']"),
        Locator::Css("main h1"),
    )
    .await;
    let review = j.text().await;
    assert!(
        review.contains("No break-glass session awaits review"),
        "{review}"
    );
    j.check("people-4-break-glass").await;

    // The audit trail: verified intact, searched for the change just made.
    j.follow(
        Locator::Css("header nav a[href='/audit']"),
        Locator::Id("actor"),
    )
    .await;
    let audit = j.text().await;
    assert!(audit.contains("Verified intact"), "{audit}");
    j.fill("actor", "admin").await;
    choose(&j, "action", "security-roles-changed").await;
    j.fill("object", "nina").await;
    j.submit().await;
    let found = j.text().await;
    assert!(found.contains("user nina added as auditor"), "{found}");
    assert!(found.contains("1 matching record,"), "{found}");
    j.check("people-5-audit-search").await;
    j.browser.close().await.unwrap();
}
