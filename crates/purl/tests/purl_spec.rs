#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The official purl-spec test suite (package-url/purl-spec @ 16f3d0e3, `tests/spec/` and
//! `tests/types/`, MIT; `tests/data/SOURCES.md`), every case of it.
//!
//! - "required" cases run against [`Purl::parse`] and [`Purl::builder`]: they define
//!   conformance;
//! - "recommended" cases show how to remediate non-conforming input, which is what
//!   [`Purl::parse_lenient`] does, so their parse and validate cases run against it.
//!
//! A `parse` case compares the decoded components, a `validate` case the canonical string of
//! what parses, a `build` case the canonical string of what the builder makes; an
//! `expected_failure` case must be refused. The cases in [`SKIPPED`] contradict the
//! specification or another case; each says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use medguard_purl::{Purl, PurlError};
use serde_json::Value;

/// (test file, description, test type, why it is skipped).
const SKIPPED: &[(&str, &str, &str, &str)] = &[
    (
        "maven-test.json",
        "maven pom reference",
        "parse",
        "a required parse case with the qualifier key `repositorY_url`, which ECMA-427 refuses \
         (\"the key shall be composed only of lowercase ASCII letters...\") and which the \
         required gem and rpm cases (`Platform=java`, `Arch=i386`) expect to fail; upstream \
         fixed the gem case for this reason (purl-spec#942, #951) but not this one. The \
         recommended validate case with the same input passes (lenient parse).",
    ),
    (
        "git-test.json",
        "git namespace and name should be lowercased. Validate an input purl.",
        "validate",
        "a recommended case that lower-cases a git namespace and name, which the git type \
         definition declares case sensitive; the required git cases keep the case.",
    ),
];

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/purl-spec/tests")
}

fn files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["spec", "types"] {
        for e in std::fs::read_dir(data().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn opt_str(v: &Value) -> Option<&str> {
    v.as_str()
}

/// The components of a purl in the suite's JSON shape.
fn components(p: &Purl) -> Value {
    let q: BTreeMap<&str, &str> = p
        .qualifiers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    serde_json::json!({
        "type": p.ty(),
        "namespace": p.namespace(),
        "name": p.name(),
        "version": p.version(),
        "qualifiers": if q.is_empty() { Value::Null } else { serde_json::json!(q) },
        "subpath": p.subpath(),
    })
}

fn build(input: &Value) -> Result<Purl, PurlError> {
    let mut b = Purl::builder(
        opt_str(&input["type"]).unwrap_or_default(),
        opt_str(&input["name"]).unwrap_or_default(),
    );
    if let Some(ns) = opt_str(&input["namespace"]) {
        b = b.namespace(ns);
    }
    if let Some(v) = opt_str(&input["version"]) {
        b = b.version(v);
    }
    if let Some(q) = input["qualifiers"].as_object() {
        for (k, v) in q {
            b = b.qualifier(k, v.as_str().unwrap());
        }
    }
    if let Some(sp) = opt_str(&input["subpath"]) {
        b = b.subpath(sp);
    }
    b.build()
}

/// Runs one case; `Err` says how it failed.
fn run(case: &Value) -> Result<(), String> {
    let required = case["test_group"] == "required";
    let parse = |s: &str| {
        if required {
            Purl::parse(s)
        } else {
            Purl::parse_lenient(s)
        }
    };
    let input = &case["input"];
    let expected = &case["expected_output"];
    let must_fail = case["expected_failure"].as_bool().unwrap();
    let got = match case["test_type"].as_str().unwrap() {
        "parse" => parse(input.as_str().unwrap()).map(|p| components(&p)),
        "validate" => parse(input.as_str().unwrap()).map(|p| Value::String(p.to_string())),
        "build" => build(input).map(|p| Value::String(p.to_string())),
        other => return Err(format!("unknown test type {other}")),
    };
    match (got, must_fail) {
        (Ok(v), false) if v == *expected => Ok(()),
        (Ok(v), false) => Err(format!("got {v}, expected {expected}")),
        (Ok(v), true) => Err(format!("accepted as {v}, expected a failure")),
        (Err(_), true) => Ok(()),
        (Err(e), false) => Err(format!("refused ({e}), expected {expected}")),
    }
}

#[test]
fn purl_spec_test_suite() {
    let mut failures = Vec::new();
    let mut used_skips = Vec::new();
    let mut counts: BTreeMap<(String, String, &str), usize> = BTreeMap::new();
    for path in files() {
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for case in doc["tests"].as_array().unwrap() {
            let description = case["description"].as_str().unwrap();
            let test_type = case["test_type"].as_str().unwrap();
            let group = case["test_group"].as_str().unwrap().to_owned();
            let skip = SKIPPED
                .iter()
                .position(|(f, d, t, _)| *f == file && *d == description && *t == test_type);
            let outcome = if let Some(i) = skip {
                used_skips.push(i);
                "skipped"
            } else if let Err(why) = run(case) {
                failures.push(format!(
                    "{file}: {description} ({group} {test_type}) {}: {why}",
                    case["input"]
                ));
                "failed"
            } else {
                "passed"
            };
            *counts
                .entry((group, test_type.to_owned(), outcome))
                .or_default() += 1;
        }
    }
    for ((group, ty, outcome), n) in &counts {
        println!("{group:<12} {ty:<9} {outcome:<8} {n}");
    }
    for i in 0..SKIPPED.len() {
        assert!(used_skips.contains(&i), "skip entry {i} matches no case");
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What the strict parser accepts, the lenient one accepts with the same result; what
/// either prints, it parses back to an equal value.
#[test]
fn every_suite_input_round_trips() {
    for path in files() {
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for case in doc["tests"].as_array().unwrap() {
            let Some(input) = case["input"].as_str() else {
                continue;
            };
            if let Ok(p) = Purl::parse(input) {
                assert_eq!(Purl::parse_lenient(input).as_ref(), Ok(&p), "{input}");
                assert_eq!(Purl::parse(&p.to_string()).as_ref(), Ok(&p), "{input}");
            }
            if let Ok(p) = Purl::parse_lenient(input) {
                assert_eq!(
                    Purl::parse_lenient(&p.to_string()).as_ref(),
                    Ok(&p),
                    "{input}"
                );
            }
        }
    }
}
