//! CSAF 2.0 test 6.1.8 is implemented as typed rules mirroring FIRST's CVSS JSON schemas
//! (`cvss-v2.0.json`, `cvss-v3.0.json`, `cvss-v3.1.json`) rather than with a JSON Schema
//! validator at run time. This test holds the rules to the schemas: every CVSS object in the
//! OASIS and CISA documents of `shared/data`, and variants of each with a property removed,
//! mistyped, out of range or not in its enumeration, or with a broken vector, is judged the
//! same way by the rules and by the `jsonschema` crate with the real schema files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use medguard_advisory::mandatory_tests;
use serde_json::{Value, json};

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("MEDGUARD_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    if dir.exists() {
        dir
    } else {
        PathBuf::from("/work/shared/data")
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = data_dir()
        .join("oasis-csaf/csaf_2.0/referenced_schema/first")
        .join(name);
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::options().build(&schema).unwrap()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Every `cvss_v2` / `cvss_v3` object of the CSAF documents under `dir`.
fn objects(dir: &Path) -> Vec<(&'static str, Value)> {
    let mut files = Vec::new();
    json_files(dir, &mut files);
    let mut out = Vec::new();
    for file in files {
        let Ok(doc) = serde_json::from_slice::<Value>(&std::fs::read(&file).unwrap()) else {
            continue;
        };
        for vuln in doc["vulnerabilities"].as_array().into_iter().flatten() {
            for score in vuln["scores"].as_array().into_iter().flatten() {
                for kind in ["cvss_v2", "cvss_v3"] {
                    if let Some(o) = score.get(kind) {
                        out.push((kind, o.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The object and variants of it that break one schema rule each (or happen not to).
fn variants(object: &Value) -> Vec<Value> {
    let mut out = vec![object.clone()];
    let Some(map) = object.as_object() else {
        return out;
    };
    for key in map.keys() {
        let mut without = map.clone();
        without.remove(key);
        out.push(Value::Object(without));
        for bad in [
            json!("BOGUS"),
            json!(11),
            json!(-0.5),
            json!(null),
            json!("NOT_DEFINED"),
            json!("LOW"),
        ] {
            let mut changed = map.clone();
            changed.insert(key.clone(), bad);
            out.push(Value::Object(changed));
        }
    }
    if let Some(vector) = map.get("vectorString").and_then(Value::as_str) {
        let broken = [
            format!("{vector}/"),
            format!("{vector}/XX:Y"),
            vector.to_lowercase(),
            vector.replace("3.1", "3.0"),
            vector.replace("3.0", "3.1"),
            vector.replace("AV:", "AV:X"),
            format!("{vector}/E:X"),
            format!("{vector}/E:ND"),
            vector
                .rsplit_once('/')
                .map_or(String::new(), |(head, _)| head.to_owned()),
        ];
        for v in broken {
            let mut changed = map.clone();
            changed.insert("vectorString".into(), json!(v));
            out.push(Value::Object(changed));
        }
    }
    let mut extra = map.clone();
    extra.insert("somethingElse".into(), json!(true));
    out.push(Value::Object(extra));
    out
}

/// Whether the typed rules find the object valid (no 6.1.8 failure).
fn typed_verdict(kind: &str, object: &Value) -> bool {
    let doc = json!({"vulnerabilities": [{"scores": [{"products": [], kind: object}]}]});
    !mandatory_tests(&doc).iter().any(|f| f.test == "6.1.8")
}

#[test]
fn typed_cvss_rules_agree_with_firsts_schemas() {
    let v2 = validator("cvss-v2.0.json");
    let v30 = validator("cvss-v3.0.json");
    let v31 = validator("cvss-v3.1.json");
    let mut found = objects(&data_dir().join("oasis-csaf/csaf_2.0"));
    found.extend(objects(&data_dir().join("cisa-csaf")));
    assert!(found.len() > 500, "{}", found.len());
    let mut checked = 0;
    let mut invalid = 0;
    let mut disagreements = Vec::new();
    for (kind, object) in &found {
        for variant in variants(object) {
            // CSAF's schema: cvss_v2 is the v2 schema; cvss_v3 is one of the v3 schemas.
            let schema = if *kind == "cvss_v2" {
                v2.is_valid(&variant)
            } else {
                v30.is_valid(&variant) != v31.is_valid(&variant)
            };
            let typed = typed_verdict(kind, &variant);
            invalid += usize::from(!schema);
            if schema != typed {
                disagreements.push(format!("{kind} {variant}: schema {schema}, typed {typed}"));
            }
            checked += 1;
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {checked} disagree:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Both verdicts are exercised.
    println!("{checked} CVSS objects and variants, {invalid} invalid by the schemas");
    assert!(
        invalid > 1000 && checked - invalid > 1000,
        "{checked} {invalid}"
    );
}
