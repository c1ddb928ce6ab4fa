#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! CSAF 2.0 section 6.1, judged on the OASIS test files (oasis-tcs/csaf,
//! `csaf_2.0/test/validator/data/`, listed in its `testcases.json`): every file that breaks a
//! mandatory test is refused naming that test, every valid file is accepted. Prints the table
//! (test id | invalid files refused / total | valid files accepted / total) and lists every
//! misjudged file before failing, so one run shows the whole picture.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use medguard_advisory::{MANDATORY_TESTS, SourceError, mandatory_tests, parse_record};
use serde_json::Value;

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("MEDGUARD_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let dir = if dir.exists() {
        dir
    } else {
        PathBuf::from("/work/shared/data")
    };
    assert!(
        dir.exists(),
        "shared test data not found at {}",
        dir.display()
    );
    dir.join("oasis-csaf/csaf_2.0/test/validator/data")
}

#[derive(Default)]
struct Row {
    refused: usize,
    invalid: usize,
    accepted: usize,
    valid: usize,
}

#[test]
fn oasis_mandatory_test_files_are_judged_right() {
    let dir = data_dir();
    let cases: Value =
        serde_json::from_slice(&std::fs::read(dir.join("testcases.json")).unwrap()).unwrap();
    let mut table: BTreeMap<String, Row> = BTreeMap::new();
    let mut misjudged = Vec::new();
    for case in cases["tests"].as_array().unwrap() {
        if case["group"] != "mandatory" {
            continue;
        }
        let id = case["id"].as_str().unwrap().to_owned();
        let row = table.entry(id.clone()).or_default();
        for file in case["failures"].as_array().into_iter().flatten() {
            let name = file["name"].as_str().unwrap();
            let bytes = std::fs::read(dir.join(name)).unwrap();
            row.invalid += 1;
            let value: Value = serde_json::from_slice(&bytes).unwrap();
            let named = mandatory_tests(&value).iter().any(|f| f.test == id);
            match parse_record(&bytes, false) {
                Err(SourceError::CsafMandatoryTest { .. }) if named => row.refused += 1,
                Err(err) => misjudged.push(format!(
                    "{name}: refused, but not for {id}{}: {err}",
                    if named { " first" } else { "" }
                )),
                Ok(_) => misjudged.push(format!("{name}: accepted, but it fails {id}")),
            }
        }
        for file in case["valid"].as_array().into_iter().flatten() {
            let name = file["name"].as_str().unwrap();
            let bytes = std::fs::read(dir.join(name)).unwrap();
            row.valid += 1;
            match parse_record(&bytes, false) {
                Ok(_) => row.accepted += 1,
                Err(err) => misjudged.push(format!("{name} (valid for {id}): refused: {err}")),
            }
        }
    }
    // Every test of the specification has OASIS files, and only those.
    let ids: Vec<&str> = table.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = MANDATORY_TESTS.to_vec();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let mut out = String::from("test id   | invalid refused | valid accepted\n");
    let mut ordered: Vec<(&String, &Row)> = table.iter().collect();
    ordered.sort_by_key(|(id, _)| {
        id.split('.')
            .map(|n| n.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    });
    let mut total = Row::default();
    for (id, row) in ordered {
        writeln!(
            out,
            "{id:<9} | {:>7} / {:<5} | {:>6} / {}",
            row.refused, row.invalid, row.accepted, row.valid
        )
        .unwrap();
        total.refused += row.refused;
        total.invalid += row.invalid;
        total.accepted += row.accepted;
        total.valid += row.valid;
    }
    writeln!(
        out,
        "all       | {:>7} / {:<5} | {:>6} / {}",
        total.refused, total.invalid, total.accepted, total.valid
    )
    .unwrap();
    println!("{out}");
    assert!(
        misjudged.is_empty(),
        "{out}\n{} misjudged files:\n{}",
        misjudged.len(),
        misjudged.join("\n")
    );
    assert_eq!((total.invalid, total.valid), (87, 60));
}
