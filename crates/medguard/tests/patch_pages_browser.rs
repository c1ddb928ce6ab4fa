//! The patch workflow's pages in a real browser (issue 18's journeys "a patch record's sign-off"
//! and "pausing a rollout"), against `medguard server run`.
//!
//! The record is brought to the validator's step through the binary and the API as
//! `patch_e2e.rs` does (a real advisory matched on enrolled devices, the vendor's bundle, the
//! impact analysis, a test report, the server's malware scan, a reference install). Then, in
//! the browser: the validator signs in, reads the record and signs it `validated` through the
//! signing dialog (a wrong passphrase first, refused on the page), with a code from `oathtool`;
//! the page shows the valid signature. Through the API the approver signs, releases and starts
//! a rollout to one device; in the browser the approver pauses it from its page with a reason,
//! and the page shows it paused. Then the rollouts, the fleet's findings, a device with its
//! findings and the model's MDS2 form. Each page's screenshot is saved under
//! `target/dashboard-screenshots/`; any console error, CSP violation or serious accessibility
//! violation (axe-core) fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod browser;
mod common;

use std::path::{Path, PathBuf};

use browser::{BrowserLog, Journey, free_port, oathtool, open_browser, screenshots};
use common::patch::{
    Api, MODEL, Person, copy_tree, device, enroll, enroll_token, passphrase, person, report, run,
    write,
};
use common::{RunningServer, shared_data};
use fantoccini::Locator;
use serde_json::json;

/// A record ready for the validator's signature, its server, and the validator and approver.
struct Prepared {
    server: RunningServer,
    data: PathBuf,
    record: String,
    val: Person,
    app: Person,
}

/// The record brought to the validator's step through the binary and the API, as
/// `patch_e2e.rs` does.
fn prepare(work: &Path, port: u16) -> Prepared {
    let data = work.join("server");
    run(&["server", "init", "--data"], &[&data], 0);
    let vendor = work.join("vendor");
    run(&["key", "generate", "--out"], &[&vendor], 0);
    std::fs::copy(
        vendor.with_extension("pub"),
        data.join("trust/bundles/vendor.pub"),
    )
    .unwrap();
    write(
        &data.join("scan/hashes/eicar.hdb"),
        "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n",
    );
    let base = work.join("trees/base");
    write(
        &base.join("opt/viewer/bin/viewer"),
        "#!/bin/sh\necho viewer 1\n",
    );
    write(
        &base.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"7\"\n",
    );
    write(
        &base.join("var/lib/dpkg/status"),
        "Package: nginx\nStatus: install ok installed\nVersion: 1.2.1-2.2+wheezy2\nArchitecture: amd64\n\n",
    );
    let fixed = work.join("trees/fixed");
    copy_tree(&base, &fixed);
    write(
        &fixed.join("opt/viewer/bin/viewer"),
        "#!/bin/sh\necho viewer 2\n",
    );
    write(
        &fixed.join("var/lib/dpkg/status"),
        "Package: nginx\nStatus: install ok installed\nVersion: 1.2.1-2.2+wheezy3\nArchitecture: amd64\n\n",
    );
    let bundle = work.join("nginx-wheezy3.bundle");
    run(
        &[
            "bundle",
            "create",
            "--model",
            MODEL,
            "--version",
            "1.2.1-2.2+wheezy3",
            "--self-test",
            "test -f \"$MEDGUARD_ROOT/opt/viewer/bin/viewer\"",
            "--from",
        ],
        &[
            &base,
            Path::new("--to"),
            &fixed,
            Path::new("--out"),
            &bundle,
            Path::new("--key"),
            &vendor.with_extension("key"),
        ],
        0,
    );

    let server = RunningServer::start(&data, &format!("127.0.0.1:{port}"));
    let api = Api {
        url: &server.url,
        ca: data.join("tls/ca.pem"),
    };
    // One device in Radiology (the rollout's), one reference device in the vendor's lab.
    let ward = device(work, "ward", &base, &vendor);
    let lab = device(work, "lab", &base, &vendor);
    enroll(
        &server,
        &data,
        &enroll_token(&data, "Radiology", "1"),
        &ward,
    );
    let lab_id = enroll(&server, &data, &enroll_token(&data, "Lab", "1"), &lab);
    report(&ward);
    report(&lab);
    let advisory = shared_data()
        .join("osv-debian-ubuntu-samples/gcp/workers/oss_fuzz_worker/testdata/DSA-3029-1.json");
    run(
        &["server", "advisories", "ingest", "--data"],
        &[&data, &advisory],
        0,
    );

    let Person { token: eng, .. } = person(&api, &data, "eng", "vendor-security-engineer");
    let val = person(&api, &data, "val", "validator");
    let app = person(&api, &data, "app", "release-approver");

    let opened = api.ok(
        &eng,
        "POST",
        "/api/v1/patch-records",
        Some(&json!({"title": "nginx 1.2.1-2.2+wheezy3 for DSA-3029-1", "advisory": "DSA-3029-1"})),
    );
    let id = opened["record"]["id"].as_str().unwrap().to_owned();
    let rec = |p: &str| format!("/api/v1/patch-records/{id}{p}");
    let (status, body) = api.call(&eng, "PUT", &rec("/bundle"), None, Some(&bundle));
    assert_eq!(status, 200, "{body:#}");
    api.ok(
        &eng,
        "PUT",
        &rec("/impact"),
        Some(&json!({
            "clinical_functions": "image viewing: the viewer binary is replaced",
            "safety_and_effectiveness": "none expected: web server fix, viewer unchanged in function",
            "regression_tests": "viewer start-up self-test; DICOM query on the reference device",
            "performance": "none measurable",
        })),
    );
    let test_report = work.join("regression-report.txt");
    write(
        &test_report,
        "Regression tests on the reference device: 12 of 12 passed.\n",
    );
    let (status, body) = api.call(
        &eng,
        "POST",
        &rec("/evidence?name=regression-report.txt"),
        None,
        Some(&test_report),
    );
    assert_eq!(status, 201, "{body:#}");
    api.ok(&eng, "POST", &rec("/evidence/malware-scan"), None);
    run(
        &["update", "apply", "--model", MODEL],
        &[
            &bundle,
            Path::new("--trust"),
            &vendor.with_extension("pub"),
            Path::new("--root"),
            &lab.with_file_name("root"),
            Path::new("--state-dir"),
            &lab.with_file_name("state").join("update"),
        ],
        0,
    );
    report(&lab);
    let (status, body) = api.call(
        &eng,
        "POST",
        &rec("/evidence/reference-install"),
        Some(&json!({"device": lab_id})),
        None,
    );
    assert_eq!(status, 201, "{body:#}");
    Prepared {
        server,
        data,
        record: id,
        val,
        app,
    }
}

impl Journey {
    /// Signs in through the sign-in page with a recovery code.
    async fn sign_in(&self, user: &str, recovery: &str) {
        self.browser
            .goto(&format!("{}/sign-in", self.base))
            .await
            .unwrap();
        self.fill("user", user).await;
        self.fill("passphrase", &passphrase(user)).await;
        self.fill("code", recovery).await;
        self.submit().await;
        assert!(
            self.text().await.contains("Fleet"),
            "{user} is signed in: {}",
            self.text().await
        );
        self.check(&format!("fleet-as-{user}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_is_signed_and_its_rollout_paused_in_a_browser() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let p = tokio::task::block_in_place(|| prepare(work.path(), port));
    let api = Api {
        url: &p.server.url,
        ca: p.data.join("tls/ca.pem"),
    };
    let driver_port = free_port();
    let _driver = browser::start_chromedriver(driver_port);
    let j = Journey {
        browser: open_browser(driver_port).await,
        shots: screenshots(),
        base: format!("https://localhost:{port}"),
    };
    j.axe_self_test().await;

    // A patch record's sign-off: the validator reads the record, then signs it.
    let Person {
        token: val_token,
        secret: val_secret,
        recovery: val_recovery,
    } = &p.val;
    j.sign_in("val", val_recovery).await;
    j.browser
        .goto(&format!("{}/patches", j.base))
        .await
        .unwrap();
    assert!(j.text().await.contains("impact analysed"));
    j.check("patch-1-records").await;
    j.follow(
        Locator::Css(&format!("main a[href='/patches/{}']", p.record)),
        Locator::Id("sign"),
    )
    .await;
    let record = j.text().await;
    for part in [
        "DSA-3029-1",
        "Operations",
        "Reach",
        "Radiology",
        "Impact analysis",
        "regression-report.txt",
        "Malware scan",
        "Reference install",
        "Not signed yet",
        "History",
        "Sign this record",
        "content digest",
    ] {
        assert!(
            record.contains(part),
            "the record page lacks {part}: {record}"
        );
    }
    j.check("patch-2-record").await;
    j.browser
        .goto(&format!("{}/patches/{}#sign", j.base, p.record))
        .await
        .unwrap();
    j.check("patch-3-signing-dialog").await;

    // A wrong passphrase is refused on the page, and nothing is signed.
    j.browser
        .find(Locator::Id("meaning-validated"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    j.fill("sign-passphrase", "not the passphrase at all").await;
    j.fill("sign-code", &oathtool(val_secret, 1)).await;
    j.submit().await;
    let refused = j.text().await;
    assert!(refused.contains("Not signed"), "{refused}");
    assert!(refused.contains("Not signed yet"), "{refused}");
    // The refusal's 401 is in the console as a failed load: expected here, and only here.
    j.browser.issue_cmd(BrowserLog).await.unwrap();
    j.check("patch-3-signing-refused").await;

    j.browser
        .find(Locator::Id("meaning-validated"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    j.fill("sign-passphrase", &passphrase("val")).await;
    j.fill("sign-code", &oathtool(val_secret, 1)).await;
    j.submit().await;
    let signed = j.text().await;
    assert!(
        signed.contains("Your signature (validated) is recorded"),
        "{signed}"
    );
    let row = j
        .browser
        .find(Locator::Css("table.signatures tbody tr"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for part in ["val", "validated", "UTC", "valid"] {
        assert!(row.contains(part), "the signature row lacks {part}: {row}");
    }
    j.check("patch-4-record-signed").await;
    let through_api = api.ok(
        val_token,
        "GET",
        &format!("/api/v1/patch-records/{}", p.record),
        None,
    );
    assert_eq!(through_api["record"]["state"], "validated");
    assert_eq!(through_api["signatures"][0]["status"]["status"], "valid");

    // The approver signs and releases through the API, and starts a rollout to the ward.
    let Person {
        token: app_token,
        secret: app_secret,
        recovery: app_recovery,
    } = &p.app;
    let (status, body) = tokio::task::block_in_place(|| {
        api.call(
            app_token,
            "POST",
            &format!("/api/v1/patch-records/{}/signatures", p.record),
            Some(&json!({"meaning": "approved", "passphrase": passphrase("app"), "code": oathtool(app_secret, 1)})),
            None,
        )
    });
    assert_eq!(status, 201, "{body:#}");
    api.ok(
        app_token,
        "POST",
        &format!("/api/v1/patch-records/{}/release", p.record),
        None,
    );
    let rollout = api.ok(
        app_token,
        "POST",
        "/api/v1/rollouts",
        Some(&json!({"record": p.record, "sites": ["Radiology"]})),
    );
    let rollout_id = rollout["id"].as_str().unwrap().to_owned();

    // Pausing a rollout: the approver, from the rollout's page, with a reason.
    j.browser.delete_all_cookies().await.unwrap();
    j.sign_in("app", app_recovery).await;
    j.browser
        .goto(&format!("{}/rollouts/{rollout_id}", j.base))
        .await
        .unwrap();
    let page = j.text().await;
    for part in [
        "Waves",
        "Waiting for window",
        "Radiology",
        "Events",
        "Pause the rollout",
    ] {
        assert!(page.contains(part), "the rollout page lacks {part}: {page}");
    }
    assert!(
        j.browser.source().await.unwrap().contains("<svg"),
        "the progress bar is drawn"
    );
    j.check("rollout-1-active").await;
    j.fill("pause-reason", "MRI upgrade in Radiology this week")
        .await;
    j.submit().await;
    let paused = j.text().await;
    assert!(paused.contains("The rollout is paused"), "{paused}");
    assert!(
        paused.contains("Paused by app: MRI upgrade in Radiology this week"),
        "{paused}"
    );
    assert!(paused.contains("Resume the rollout"), "{paused}");
    j.check("rollout-2-paused").await;
    let through_api = api.ok(
        app_token,
        "GET",
        &format!("/api/v1/rollouts/{rollout_id}"),
        None,
    );
    assert_eq!(through_api["state"]["state"], "paused", "{through_api:#}");
    j.browser
        .goto(&format!("{}/rollouts", j.base))
        .await
        .unwrap();
    assert!(j.text().await.contains(&rollout_id));
    j.check("rollout-3-list").await;

    // The record as released and rolling out, and the hospital's view per model.
    j.browser
        .goto(&format!("{}/patches/{}", j.base, p.record))
        .await
        .unwrap();
    let record = j.text().await;
    assert!(
        record.contains(&format!("Rollout {rollout_id}")),
        "{record}"
    );
    assert!(record.contains("approved for release"), "{record}");
    j.check("patch-5-record-rolling-out").await;
    j.browser
        .goto(&format!("{}/validated-patches", j.base))
        .await
        .unwrap();
    let validated = j.text().await;
    assert!(validated.contains(MODEL), "{validated}");
    assert!(validated.contains("1.2.1-2.2+wheezy3"), "{validated}");
    j.check("patch-6-validated-patches").await;

    // The advisory's findings across the fleet, a device with its findings, the model's MDS2
    // form.
    j.browser
        .goto(&format!("{}/findings", j.base))
        .await
        .unwrap();
    assert!(j.text().await.contains("DSA-3029-1"));
    j.check("findings-matched").await;
    j.follow(
        Locator::Css("main table a[href^='/devices/']"),
        Locator::Css("ul.tiles"),
    )
    .await;
    assert!(j.text().await.contains("DSA-3029-1"));
    j.check("device-with-findings").await;
    j.browser
        .goto(&format!("{}/models/{MODEL}/mds2", j.base))
        .await
        .unwrap();
    assert!(j.text().await.contains(&format!("MDS2: {MODEL}")));
    j.check("mds2-form").await;
    j.browser.close().await.unwrap();
}
