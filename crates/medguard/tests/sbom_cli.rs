//! `medguard sbom collect|show` and `medguard services` end to end through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

/// A device image: two dpkg packages; storescp (dcmtk) runs as pid 100 and listens on 104.
fn device(dir: &Path) -> std::path::PathBuf {
    let r = dir.join("device");
    let w = |p: &str, text: &str| {
        let path = r.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    w(
        "var/lib/dpkg/status",
        "Package: dcmtk\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.6.7-9~deb12u1\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\nPackage: broken\nStatus: install ok installed\n",
    );
    w("var/lib/dpkg/info/dcmtk.list", "/usr/bin/storescp\n");
    w("etc/os-release", "ID=debian\nVERSION_ID=12\n");
    w("proc/100/comm", "storescp\n");
    w("proc/100/maps", "");
    fs::create_dir_all(r.join("proc/100/fd")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/storescp", r.join("proc/100/exe")).unwrap();
    std::os::unix::fs::symlink("socket:[77]", r.join("proc/100/fd/3")).unwrap();
    w(
        "proc/net/tcp",
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0068 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0\n",
    );
    r
}

#[test]
fn collect_then_show_cyclonedx_and_spdx() {
    let dir = tempfile::tempdir().unwrap();
    let root = device(dir.path());
    for (format, file) in [("cyclonedx", "bom.cdx.json"), ("spdx", "bom.spdx.json")] {
        let out = dir.path().join(file);
        let assert = medguard()
            .args([
                "sbom",
                "collect",
                "--format",
                format,
                "--device-model",
                "ACME CT",
                "--root",
            ])
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(
            stderr.contains("status:12: stanza without Package or Version"),
            "{stderr}"
        );
        let table = medguard()
            .args(["sbom", "show"])
            .arg(&out)
            .assert()
            .success();
        let table = String::from_utf8_lossy(&table.get_output().stdout).into_owned();
        assert!(
            table.contains("dcmtk")
                && table.contains("running")
                && table.contains("tcp/0.0.0.0:104"),
            "{table}"
        );
        assert!(
            table.contains("ACME CT: 2 components, 1 running, 1 listening"),
            "{table}"
        );
        let json = medguard()
            .args(["sbom", "show", "--json"])
            .arg(&out)
            .assert()
            .success();
        let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
        let libc = v["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "libc6")
            .unwrap();
        assert_eq!(libc["source_package"], "glibc");
        assert_eq!(libc["ecosystem"]["debian"]["version_id"], "12");
    }
}

#[test]
fn collect_writes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let root = device(dir.path());
    let a = medguard()
        .args([
            "sbom",
            "collect",
            "--format",
            "cyclonedx",
            "--no-evidence",
            "--root",
        ])
        .arg(&root)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["specVersion"], "1.6");
    assert_eq!(v["components"].as_array().unwrap().len(), 2);
}

#[test]
fn an_invalid_sbom_is_an_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.json");
    fs::write(
        &f,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library"}]}"#,
    )
    .unwrap();
    let a = medguard().args(["sbom", "show"]).arg(&f).assert().code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("bad.json: invalid CycloneDX at /components/0/name"),
        "{err}"
    );
    medguard()
        .args(["sbom", "show"])
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(2);
    medguard()
        .args(["sbom", "collect", "--format", "spdx", "--root"])
        .arg(dir.path().join("nope"))
        .assert()
        .code(2);
}

#[test]
fn services_json_names_process_and_package() {
    let dir = tempfile::tempdir().unwrap();
    let root = device(dir.path());
    let a = medguard()
        .args(["services", "--json", "--root"])
        .arg(&root)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v[0]["socket"]["port"], 104);
    assert_eq!(v[0]["socket"]["address"], "0.0.0.0");
    assert_eq!(v[0]["socket"]["pid"], 100);
    assert_eq!(v[0]["component"]["name"], "dcmtk");
    let t = medguard()
        .args(["services", "--root"])
        .arg(&root)
        .assert()
        .success();
    let t = String::from_utf8_lossy(&t.get_output().stdout).into_owned();
    assert!(
        t.contains("tcp/0.0.0.0:104") && t.contains("dcmtk 3.6.7-9~deb12u1"),
        "{t}"
    );
}

/// Issue 12: `sbom show` read an SBOM of invalid UTF-8 (with replacement characters) where
/// `vuln ingest` refuses such bytes. Every command that reads an SBOM now refuses it the same
/// way: exit 2, the file and the byte offset named.
#[test]
fn regression_12_invalid_utf8_sbom_is_refused_by_show_and_scan() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("latin1.json");
    let head = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"caf"#;
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(b"\xe9\",\"version\":\"1\"}]}");
    fs::write(&f, &bytes).unwrap();
    let expected = format!(
        "latin1.json: not valid UTF-8: invalid byte sequence at byte offset {}",
        head.len()
    );

    let a = medguard().args(["sbom", "show"]).arg(&f).assert().code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains(&expected), "{err}");

    let a = medguard()
        .args(["vuln", "scan", "--db"])
        .arg(dir.path().join("db"))
        .arg("--sbom")
        .arg(&f)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains(&expected), "{err}");
}
