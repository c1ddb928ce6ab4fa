#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `medguard version compare` and `medguard vuln ingest|scan|vex`, end to end.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn compare(scheme: &str, a: &str, b: &str) -> String {
    let out = medguard()
        .args(["version", "compare", "--scheme", scheme, a, b])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn version_compare_per_scheme() {
    assert_eq!(compare("deb", "1:1.0~rc1-1", "1:1.0-1"), "<");
    assert_eq!(compare("deb", "1.0", "1.0-0"), "=");
    assert_eq!(compare("rpm", "1.0^git1", "1.0"), ">");
    assert_eq!(compare("pep440", "1.0.post1", "1.0"), ">");
    assert_eq!(compare("pep440", "1.0RC1", "1.0rc1"), "=");
    assert_eq!(compare("semver", "1.0.0-alpha", "1.0.0"), "<");
    assert_eq!(compare("maven", "1.0-SNAPSHOT", "1.0"), "<");
    assert_eq!(compare("generic", "10.2", "9.9"), ">");
    assert_eq!(compare("apk", "1.0_rc1", "1.0-r1"), "<");
    assert_eq!(compare("gem", "1.0.a", "1.0"), "<");
    assert_eq!(compare("nuget", "1.0.0-BETA", "1.0.0-beta+build"), "=");
    let out = medguard()
        .args([
            "version",
            "compare",
            "--scheme",
            "pep440",
            "french toast",
            "1.0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("french toast"));
}

fn osv_glibc(fixed: &str, modified: &str) -> Value {
    json!({
        "id": "DSA-9999-1",
        "modified": modified,
        "aliases": ["CVE-2099-0001"],
        "summary": "glibc: buffer overflow in the resolver",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": "glibc"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
}

fn osv_pypi() -> Value {
    json!({
        "id": "PYSEC-2099-1",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2099-0002"],
        "summary": "pydicom: path traversal",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "pydicom"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.4.0"}]}]
        }]
    })
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn sbom(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sbom.json");
    write_json(
        &path,
        &json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "components": [
                {"type": "library", "name": "libc6", "version": "2.36-9",
                 "purl": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc",
                 "properties": [{"name": "medguard:running", "value": "false"}]},
                {"type": "library", "name": "pydicom", "version": "2.3.1",
                 "purl": "pkg:pypi/pydicom@2.3.1",
                 "properties": [{"name": "medguard:running", "value": "true"},
                                {"name": "medguard:listening", "value": "tcp/0.0.0.0:104"}]},
                {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0"}
            ]
        }),
    );
    path
}

#[test]
fn ingest_scan_vex() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("feed");
    std::fs::create_dir(&feed).unwrap();
    write_json(
        &feed.join("DSA-9999-1.json"),
        &osv_glibc("2.36-9+deb12u4", "2024-01-01T00:00:00Z"),
    );
    write_json(&feed.join("PYSEC-2099-1.json"), &osv_pypi());
    std::fs::write(feed.join("broken.json"), r#"{"id": "X", "modified": 7}"#).unwrap();
    let db = dir.path().join("db");

    let out = medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(&feed)
        .arg("--json")
        .output()
        .unwrap();
    // broken.json is refused: exit 1, as `audit append` does for a refused line; the two
    // good records are stored all the same.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], 2);
    assert_eq!(report["rejected"][0]["pointer"], "/modified");
    assert!(
        report["rejected"][0]["origin"]
            .as_str()
            .unwrap()
            .ends_with("broken.json")
    );

    // Re-ingest: unchanged; a newer version of one advisory replaces it.
    write_json(
        &feed.join("DSA-9999-1.json"),
        &osv_glibc("2.36-9+deb12u5", "2024-02-01T00:00:00Z"),
    );
    let out = medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(&feed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("0 added, 1 updated, 1 unchanged"),
        "{text}"
    );
    assert!(text.contains("broken.json at /modified"), "{text}");

    let sbom = sbom(dir.path());
    let context = dir.path().join("device.toml");
    std::fs::write(
        &context,
        "model = \"Example CT\"\ncriticality = \"life-sustaining\"\n",
    )
    .unwrap();
    let out = medguard()
        .args(["vuln", "scan", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .arg("--context")
        .arg(&context)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let pydicom = findings
        .iter()
        .find(|f| f["component"]["name"] == "pydicom")
        .unwrap();
    assert_eq!(pydicom["relevance"], "relevant");
    assert_eq!(pydicom["priority"], "critical");
    assert_eq!(pydicom["fixed"][0], "2.4.0");
    assert_eq!(pydicom["cvss"]["base_score"], 7.5);
    let rationale = pydicom["rationale"].as_array().unwrap();
    assert!(rationale.iter().any(|s| {
        s.as_str()
            .unwrap()
            .contains("listens on the network (tcp/0.0.0.0:104)")
    }));
    assert!(
        rationale
            .iter()
            .any(|s| s.as_str().unwrap().contains("life-sustaining"))
    );
    // libc6 matched through its source package glibc, but does not run.
    let libc = findings
        .iter()
        .find(|f| f["component"]["name"] == "libc6")
        .unwrap();
    assert_eq!(libc["advisory"], "DSA-9999-1");
    assert_eq!(libc["fixed"][0], "2.36-9+deb12u5");
    assert_eq!(libc["relevance"], "not_relevant");
    assert_eq!(libc["justification"], "vulnerable_code_not_in_execute_path");

    // Known exploited: relevant even though it does not run.
    let kev = dir.path().join("kev.json");
    write_json(
        &kev,
        &json!({"vulnerabilities": [{"cveID": "CVE-2099-0001"}]}),
    );
    let out = medguard()
        .args(["vuln", "scan", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .arg("--kev")
        .arg(&kev)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("libc6 2.36-9 — DSA-9999-1 (CVE-2099-0001): relevant"),
        "{text}"
    );
    assert!(text.contains("known exploited vulnerabilities"), "{text}");

    // VEX: the not-relevant finding, with its justification.
    let out = medguard()
        .args(["vuln", "vex", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .args(["--format", "cyclonedx"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let vex: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vex["vulnerabilities"].as_array().unwrap().len(), 1);
    assert_eq!(vex["vulnerabilities"][0]["id"], "CVE-2099-0001");
    assert_eq!(
        vex["vulnerabilities"][0]["analysis"]["state"],
        "not_affected"
    );
    assert_eq!(
        vex["vulnerabilities"][0]["analysis"]["justification"],
        "code_not_reachable"
    );
    let csaf = dir.path().join("vex.csaf.json");
    medguard()
        .args(["vuln", "vex", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .args(["--format", "csaf", "--out"])
        .arg(&csaf)
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&std::fs::read(&csaf).unwrap()).unwrap();
    assert_eq!(doc["document"]["category"], "csaf_vex");
    assert_eq!(doc["vulnerabilities"][0]["cve"], "CVE-2099-0001");
    assert_eq!(
        doc["vulnerabilities"][0]["flags"][0]["label"],
        "vulnerable_code_not_in_execute_path"
    );
    // The exported VEX is itself a CSAF document medguard ingests.
    let out = medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(dir.path().join("db2"))
        .arg(&csaf)
        .arg("--json")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], 1, "{report}");
}

#[test]
fn scan_without_findings_exits_zero_and_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("a.json");
    write_json(&feed, &osv_pypi());
    let db = dir.path().join("db");
    medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(&feed)
        .assert()
        .success();
    let sbom = dir.path().join("s.json");
    write_json(
        &sbom,
        &json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"type": "library", "name": "pydicom", "version": "2.4.0", "purl": "pkg:pypi/pydicom@2.4.0"}]}),
    );
    medguard()
        .args(["vuln", "scan", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .assert()
        .code(0);
    let out = medguard()
        .args(["vuln", "scan", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}

#[test]
fn real_cisa_advisory_matches_vendor_product() {
    // BD Alaris advisory (CISA ICSMA-23-194-01): products named with `<=` version ranges.
    let data =
        Path::new("/work/shared/data/cisa-csaf/csaf_files/OT/white/2023/icsma-23-194-01.json");
    let data = if data.exists() {
        data.to_owned()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/cisa-csaf/csaf_files/OT/white/2023/icsma-23-194-01.json")
    };
    assert!(data.exists(), "shared data missing: {}", data.display());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(&data)
        .assert()
        .success();
    let sbom = dir.path().join("s.json");
    write_json(
        &sbom,
        &json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
            {"type": "application", "name": "BD Alaris Systems Manager", "version": "12.3"},
            {"type": "application", "name": "CQI Reporter", "version": "10.18"}
        ]}),
    );
    let out = medguard()
        .args(["vuln", "scan", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let findings: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["component"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"BD Alaris Systems Manager"), "{names:?}");
    assert!(
        !names.contains(&"CQI Reporter"),
        "10.18 is above <=10.17: {names:?}"
    );
}

/// A database holding the 9.8 network-vector glibc advisory, and an SBOM in which libc6
/// (glibc's binary package) runs.
fn glibc_running(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let feed = dir.join("DSA-9999-1.json");
    write_json(&feed, &osv_glibc("2.36-9+deb12u4", "2024-01-01T00:00:00Z"));
    let db = dir.join("db");
    medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(&feed)
        .assert()
        .success();
    let sbom = dir.join("sbom.json");
    write_json(
        &sbom,
        &json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
            {"type": "library", "name": "libc6", "version": "2.36-9",
             "purl": "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc",
             "properties": [{"name": "medguard:running", "value": "true"}]}
        ]}),
    );
    (db, sbom)
}

fn scan_text(db: &Path, sbom: &Path, context: Option<&Path>) -> String {
    let mut cmd = medguard();
    cmd.args(["vuln", "scan", "--db"])
        .arg(db)
        .arg("--sbom")
        .arg(sbom);
    if let Some(c) = context {
        cmd.arg("--context").arg(c);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Issue #12: for a life-sustaining model declared not network-exposed, a 9.8 network-vector
/// finding read "priority is raised" and then "not relevant ... no patch is needed ... can be
/// exported as VEX".
#[test]
fn regression_12_unexposed_life_sustaining_model_keeps_a_network_finding_relevant() {
    let dir = tempfile::tempdir().unwrap();
    let (db, sbom) = glibc_running(dir.path());
    let context = dir.path().join("device.toml");
    std::fs::write(
        &context,
        "model = \"Infusion 7\"\ncriticality = \"life-sustaining\"\nnetwork_exposed = false\n",
    )
    .unwrap();
    let text = scan_text(&db, &sbom, Some(&context));
    assert!(
        text.contains("libc6 2.36-9 — DSA-9999-1 (CVE-2099-0001): relevant, priority Critical"),
        "{text}"
    );
    assert!(
        text.contains("priority is lowered, but it stays relevant"),
        "{text}"
    );
    assert!(
        text.contains("Infusion 7 is declared life-sustaining"),
        "{text}"
    );
    for contradiction in ["not relevant on this device", "no patch is needed", "VEX"] {
        assert!(!text.contains(contradiction), "{contradiction}: {text}");
    }
    // Nothing for a VEX statement either.
    let out = medguard()
        .args(["vuln", "vex", "--db"])
        .arg(&db)
        .arg("--sbom")
        .arg(&sbom)
        .arg("--context")
        .arg(&context)
        .args(["--format", "cyclonedx"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let vex: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vex["vulnerabilities"].as_array().unwrap().len(), 0, "{vex}");
}

/// Issue #12: with no `--context`, the rationale said the model "is declared of medium
/// clinical criticality" although nothing was declared.
#[test]
fn regression_12_without_context_the_rationale_says_what_it_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let (db, sbom) = glibc_running(dir.path());
    let text = scan_text(&db, &sbom, None);
    assert!(!text.contains("is declared of"), "{text}");
    assert!(
        text.contains(
            "No clinical criticality is declared for this device model; medium is assumed."
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "Whether the device is reachable from a network is not declared; it is assumed to be."
        ),
        "{text}"
    );
}

/// Issue 14: a CSAF 2.0 document that fails a mandatory test is refused naming the test, and
/// `vuln ingest` exits 1 when any input is refused (0 when all are stored, 2 on error).
#[test]
fn issue_14_ingest_exit_codes_and_csaf_mandatory_tests() {
    let oasis = Path::new("/work/shared/data/oasis-csaf/csaf_2.0/test/validator/data/mandatory");
    let oasis = if oasis.exists() {
        oasis.to_owned()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/oasis-csaf/csaf_2.0/test/validator/data/mandatory")
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // Product CSAFPID-9080700 both known_affected and known_not_affected.
    let out = medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(oasis.join("oasis_csaf_tc-csaf_2_0-2021-6-1-06-01.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CSAF mandatory test 6.1.6 fails at /vulnerabilities/0/product_status/"),
        "{text}"
    );
    // A valid document: exit 0.
    medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(oasis.join("oasis_csaf_tc-csaf_2_0-2021-6-1-06-11.json"))
        .assert()
        .success();
    // A source that cannot be read is an error, not a refusal: exit 2.
    let out = medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(&db)
        .arg(dir.path().join("no-such-feed"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 14: the ingest summary counts the version ranges it can order and those it cannot,
/// by reason (real CISA advisories: Fortify Assura's ranges are release dates, Philips
/// IntelliSpace's `<= B.12` a lettered version).
#[test]
fn regression_14_ingest_summary_counts_ordered_and_undetermined_ranges() {
    let shared = |rel: &str| {
        let p = Path::new("/work/shared/data/cisa-csaf/csaf_files/OT/white").join(rel);
        if p.exists() {
            p
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/cisa-csaf/csaf_files/OT/white")
                .join(rel)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let out = medguard()
        .args(["vuln", "ingest", "--db"])
        .arg(dir.path().join("db"))
        .arg(shared("2018/icsma-18-107-01.json"))
        .arg(shared("2020/icsma-20-163-01.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().nth(1)
            == Some("version ranges: 1 ordered, 11 undetermined (11 a date, not a version)"),
        "{text}"
    );
    assert!(
        text.contains(
            "\"distributed  < april 1, 2018\" is not a version expression (a date, not a version)"
        ),
        "{text}"
    );
}
