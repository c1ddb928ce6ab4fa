//! The patch process end to end, through the binary and the API as a new user runs it (issue
//! 17's Done-when): a real advisory (DSA-3029-1, nginx) matched on enrolled devices, a patch
//! record opened from the finding, the vendor's bundle attached (its signature checked), the
//! impact analysis, evidence (a test report, the server's malware scan of the payload, the
//! install on a reference device reported by its agent), signatures by a validator and a
//! release approver (two people, passphrase and a TOTP code from `oathtool` asked again),
//! release through the server's TUF repository, a rollout to two devices (one canary) whose
//! agents install through TUF, both confirmed on the record; the exported record verifies
//! offline with `medguard patch verify`, and fails after one byte is changed.
//!
//! Refusals on the way: a signature with a wrong passphrase, the same person signing twice,
//! a release before the approval, a rollout of an unreleased record, a bundle signed by an
//! unknown key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::{Child, Command as StdCommand};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;
use common::patch::{
    Api, MODEL, Person, copy_tree, device, enroll, enroll_token, passphrase, person, report, run,
    write,
};
use common::{RunningServer, oathtool, shared_data};
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(180);

/// `medguard agent run`, SIGKILLed when dropped.
struct RunningAgent(Child);

impl RunningAgent {
    fn start(config: &Path) -> Self {
        let log = std::fs::File::create(config.with_file_name("agent.log")).unwrap();
        let child = StdCommand::cargo_bin("medguard")
            .unwrap()
            .args([
                "agent",
                "run",
                "--retry-min",
                "1s",
                "--retry-max",
                "2s",
                "--state",
            ])
            .arg(config.with_file_name("state"))
            .arg("--config")
            .arg(config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_finding_becomes_a_validated_released_patch_confirmed_on_two_devices() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let data = work.join("server");
    run(&["server", "init", "--data"], &[&data], 0);

    // The vendor: a signing key trusted by the server for bundles, and a hash list for the
    // server's malware scan (the EICAR test file's signature, as ClamAV ships it).
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

    // The base tree devices run (nginx 1.2.1-2.2+wheezy2, affected by DSA-3029-1) and the
    // fixed one; the bundle between them, with a self-test.
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

    let server = RunningServer::start(&data, "127.0.0.1:0");
    let api = Api {
        url: &server.url,
        ca: data.join("tls/ca.pem"),
    };

    // Three devices of the model: two in Radiology (the rollout's), one reference device in
    // the vendor's lab.
    let radiology = enroll_token(&data, "Radiology", "2");
    let lab_token = enroll_token(&data, "Lab", "1");
    let canary = device(work, "canary", &base, &vendor);
    let second = device(work, "second", &base, &vendor);
    let lab = device(work, "lab", &base, &vendor);
    let canary_id = enroll(&server, &data, &radiology, &canary);
    let second_id = enroll(&server, &data, &radiology, &second);
    let lab_id = enroll(&server, &data, &lab_token, &lab);
    for c in [&canary, &second, &lab] {
        report(c);
    }

    // Steps 1–2: the advisory, and its finding on the devices.
    let advisory = shared_data()
        .join("osv-debian-ubuntu-samples/gcp/workers/oss_fuzz_worker/testdata/DSA-3029-1.json");
    run(
        &["server", "advisories", "ingest", "--data"],
        &[&data, &advisory],
        0,
    );

    let Person { token: eng, .. } = person(&api, &data, "eng", "vendor-security-engineer");
    let Person {
        token: val,
        secret: val_secret,
        ..
    } = person(&api, &data, "val", "validator");
    let Person {
        token: app,
        secret: app_secret,
        ..
    } = person(&api, &data, "app", "release-approver");

    let opened = api.ok(
        &eng,
        "POST",
        "/api/v1/patch-records",
        Some(&json!({"title": "nginx 1.2.1-2.2+wheezy3 for DSA-3029-1", "advisory": "DSA-3029-1"})),
    );
    let id = opened["record"]["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["record"]["state"], "assessed");
    assert_eq!(opened["record"]["findings"][0]["devices"], 3, "{opened:#}");
    let rec = |p: &str| format!("/api/v1/patch-records/{id}{p}");

    // A rollout of an unreleased record is refused.
    let (status, body) = api.call(
        &app,
        "POST",
        "/api/v1/rollouts",
        Some(&json!({"record": id})),
        None,
    );
    assert_eq!(status, 409, "{body:#}");

    // Step 3: a bundle signed by an unknown key is refused; the vendor's is attached.
    let stranger = work.join("stranger");
    run(&["key", "generate", "--out"], &[&stranger], 0);
    let forged = work.join("forged.bundle");
    run(
        &[
            "bundle",
            "create",
            "--model",
            MODEL,
            "--version",
            "9",
            "--from",
        ],
        &[
            &base,
            Path::new("--to"),
            &fixed,
            Path::new("--out"),
            &forged,
            Path::new("--key"),
            &stranger.with_extension("key"),
        ],
        0,
    );
    let (status, body) = api.call(&eng, "PUT", &rec("/bundle"), None, Some(&forged));
    assert_eq!(status, 422, "{body:#}");
    let (status, body) = api.call(&eng, "PUT", &rec("/bundle"), None, Some(&bundle));
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["record"]["bundle"]["models"][0], MODEL);
    assert_eq!(
        body["record"]["bundle"]["reach"].as_array().unwrap().len(),
        2,
        "{body:#}"
    );
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

    // Step 4: evidence.
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
    let scanned = api.ok(&eng, "POST", &rec("/evidence/malware-scan"), None);
    let scan = scanned["record"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "malware-scan")
        .cloned()
        .unwrap();
    assert_eq!(scan["findings"], 0, "{scan:#}");
    assert!(scan["files"].as_u64().unwrap() >= 1, "{scan:#}");

    // The reference install: a person installs the bundle on the lab device; its agent
    // reports it.
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
    let reference = body["record"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "reference-install")
        .cloned()
        .unwrap();
    assert_eq!(reference["outcome"], "installed", "{reference:#}");
    assert_eq!(reference["self_tests_passed"], true);
    assert_eq!(reference["verification_intact"], true, "{reference:#}");

    // Signatures: a wrong passphrase is refused; the validator signs; signing again is
    // refused; a release before the approval is refused; the approver signs.
    let sign = |token: &str, meaning: &str, name: &str, secret: &str, ahead: u32| {
        api.call(
            token,
            "POST",
            &rec("/signatures"),
            Some(&json!({"meaning": meaning, "passphrase": passphrase(name), "code": oathtool(secret, ahead)})),
            None,
        )
    };
    let (status, body) = api.call(
        &val,
        "POST",
        &rec("/signatures"),
        Some(&json!({"meaning": "validated", "passphrase": "not the passphrase at all", "code": oathtool(&val_secret, 1)})),
        None,
    );
    assert_eq!(status, 401, "{body:#}");
    let (status, body) = sign(&val, "validated", "val", &val_secret, 1);
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["record"]["record"]["state"], "validated");
    assert_eq!(body["signature"]["signer"]["printed_name"], "val");
    let (status, body) = api.call(&app, "POST", &rec("/release"), None, None);
    assert_eq!(status, 409, "release before approval: {body:#}");
    let (status, body) = sign(&app, "approved", "app", &app_secret, 1);
    assert_eq!(status, 201, "{body:#}");
    assert_eq!(body["record"]["record"]["state"], "approved");
    for s in body["record"]["signatures"].as_array().unwrap() {
        assert_eq!(s["status"]["status"], "valid", "{s:#}");
    }

    // Step 5: release, and the validated patches per model.
    let released = api.ok(&app, "POST", &rec("/release"), None);
    assert_eq!(released["record"]["state"], "released");
    let validated = api.ok(
        &app,
        "GET",
        &format!("/api/v1/validated-patches?model={MODEL}"),
        None,
    );
    assert_eq!(validated[0]["record"], id, "{validated:#}");

    // Staged rollout to the two Radiology devices: the canary first.
    let rollout = api.ok(
        &app,
        "POST",
        "/api/v1/rollouts",
        Some(&json!({"record": id, "sites": ["Radiology"], "canaries": [canary_id]})),
    );
    let rollout_id = rollout["id"].as_str().unwrap().to_owned();
    assert_eq!(
        rollout["devices"].as_array().unwrap().len(),
        2,
        "{rollout:#}"
    );

    let agents = [RunningAgent::start(&canary), RunningAgent::start(&second)];
    let deadline = Instant::now() + PATIENCE;
    let record = loop {
        let r = api.ok(&app, "GET", &rec(""), None);
        if r["record"]["state"] == "confirmed" {
            break r;
        }
        let progress = api.ok(&app, "GET", &format!("/api/v1/rollouts/{rollout_id}"), None);
        assert!(
            Instant::now() < deadline,
            "not confirmed: {r:#}\n{progress:#}\ncanary agent:\n{}\nsecond agent:\n{}",
            std::fs::read_to_string(canary.with_file_name("agent.log")).unwrap_or_default(),
            std::fs::read_to_string(second.with_file_name("agent.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    drop(agents);
    let progress = api.ok(&app, "GET", &format!("/api/v1/rollouts/{rollout_id}"), None);
    assert_eq!(progress["complete"], true, "{progress:#}");
    for d in progress["devices"].as_array().unwrap() {
        assert_eq!(d["outcome"]["status"], "installed", "{d:#}");
        assert_eq!(
            d["outcome"]["verification"]["verification"], "intact",
            "{d:#}"
        );
    }
    let confirmation = record["record"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(confirmation["to"], "confirmed");
    for d in [&canary_id, &second_id] {
        assert!(
            confirmation["reason"]
                .as_str()
                .unwrap()
                .contains(d.as_str()),
            "{confirmation:#}"
        );
    }
    for d in [&canary, &second] {
        let viewer =
            std::fs::read_to_string(d.with_file_name("root").join("opt/viewer/bin/viewer"))
                .unwrap();
        assert!(viewer.contains("viewer 2"), "{viewer}");
    }

    // The record for auditors: exported, verified offline; one changed byte fails.
    let exported = work.join("record.json");
    run(
        &["patch", "export", &id, "--data"],
        &[&data, Path::new("--out"), &exported],
        0,
    );
    let verified = run(
        &["patch", "verify"],
        &[
            &exported,
            Path::new("--trust"),
            &data.join("keys/server.pub"),
        ],
        0,
    );
    assert!(verified.contains("signed validated by val"), "{verified}");
    assert!(
        verified.contains("signed approved for release by app"),
        "{verified}"
    );
    let mut bytes = std::fs::read(&exported).unwrap();
    let at = bytes.windows(9).position(|w| w == b"confirmed").unwrap();
    bytes[at] = b'C';
    std::fs::write(&exported, &bytes).unwrap();
    let refused = run(
        &["patch", "verify"],
        &[
            &exported,
            Path::new("--trust"),
            &data.join("keys/server.pub"),
        ],
        1,
    );
    assert!(refused.contains("NOT VERIFIED"), "{refused}");
}
