//! `medguard cvss VECTOR [--json]` end to end: text and JSON output for v3.1 and v4.0
//! vectors, and exit code 2 with the metric named for an invalid one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = medguard()
        .arg("cvss")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn v31_text_shows_version_scores_and_severity() {
    // Red Hat vectors_cvsslib3: (5.8, 5.2, 7.4).
    let out = medguard()
        .args([
            "cvss",
            "CVSS:3.0/AV:L/AC:L/PR:H/UI:R/S:U/C:H/I:N/A:H/E:H/RL:W/RC:U/CR:H/IR:H/AR:M/MAV:L/MAC:L/MPR:H/MUI:N/MS:C/MC:N/MI:H/MA:L",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["version", "3.0"]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["base", "5.8", "Medium"]
    );
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["temporal", "5.2", "Medium"]
    );
    assert_eq!(
        lines[4].split_whitespace().collect::<Vec<_>>(),
        ["environmental", "7.4", "High"]
    );
}

#[test]
fn v31_base_only_json() {
    let v = json(&["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]);
    assert_eq!(v["version"], "3.1");
    assert_eq!(v["base_score"], 9.8);
    assert_eq!(v["base_severity"], "Critical");
    assert_eq!(v["attack_vector"], "Network");
    assert!(v.get("temporal_score").is_none());
    assert!(v.get("environmental_score").is_none());
    assert_eq!(v["score"], 9.8);
}

#[test]
fn v4_json_has_threat_environmental_and_supplemental() {
    // Red Hat vectors_threat4: E:P on this vector scores 5.9; the base alone is 7.3.
    let v = json(&[
        "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:X/S:P/U:Red",
    ]);
    assert_eq!(v["version"], "4.0");
    assert_eq!(
        v["vector"],
        "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/S:P/U:Red"
    );
    assert_eq!(v["nomenclature"], "CVSS-BT");
    assert_eq!(v["base_score"], 7.3);
    assert_eq!(v["base_severity"], "High");
    assert_eq!(v["threat_score"], 5.9);
    assert_eq!(v["threat_severity"], "Medium");
    assert!(v.get("environmental_score").is_none());
    assert_eq!(v["score"], 5.9);
    assert_eq!(v["attack_vector"], "Physical");
    assert_eq!(v["supplemental"]["S"], "P");
    assert_eq!(v["supplemental"]["U"], "Red");
}

#[test]
fn v4_text_labels_the_nomenclature() {
    let out = medguard()
        .args([
            "cvss",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/MSI:S",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("base (CVSS-B)"), "{text}");
    assert!(text.contains("threat (CVSS-BT)"), "{text}");
    assert!(text.contains("environmental (CVSS-BTE)"), "{text}");
}

#[test]
fn invalid_vectors_exit_2_naming_the_metric() {
    let cases = [
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "mandatory metric A is missing",
        ),
        (
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "metric AV appears more than once",
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Z",
            "metric A has unknown value \"Z\"",
        ),
        (
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/junk",
            "malformed component \"junk\"",
        ),
        (
            "CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "metric AV is out of order",
        ),
        (
            "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "unsupported CVSS version \"2.0\"",
        ),
    ];
    for (vector, message) in cases {
        let out = medguard().args(["cvss", vector]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{vector}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(message), "{vector}: {err}");
        assert!(err.contains(vector), "the error quotes the vector: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn file_mode_scores_every_line_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("vectors.txt");
    std::fs::write(
        &list,
        "# vectors from an advisory feed\n\
         CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U\n\
         \n\
         CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:Q\n\
         CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U\n",
    )
    .unwrap();
    let out = medguard()
        .args(["cvss", "--file"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an invalid line makes the run an error"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows,
        [
            vec![
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U",
                "3.1",
                "9.8",
                "Critical",
                "9.0",
                "Critical"
            ],
            // Red Hat vectors_threat4: E:U on this vector scores 4.1.
            vec![
                "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U",
                "4.0",
                "7.3",
                "High",
                "4.1",
                "Medium"
            ],
        ]
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("vectors.txt:4:"), "{stderr}");
    assert!(
        stderr.contains("metric E has unknown value \"Q\""),
        "{stderr}"
    );

    let out = medguard()
        .args(["cvss", "--json", "--file", "-"])
        .write_stdin("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["base_score"], 9.3);
}
