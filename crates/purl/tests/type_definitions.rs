#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `medguard_purl::types::DEFINITIONS` against the registered type definitions it
//! transcribes (package-url/purl-spec @ 16f3d0e3, `types/*-definition.json`, MIT;
//! `tests/data/SOURCES.md`). A type registered upstream and missing here, or a rule that
//! changed, fails this test when the vendored files are refreshed.

use std::path::Path;

use medguard_purl::types::{Case, DEFINITIONS, Requirement, definition};
use serde_json::Value;

fn case(component: &Value) -> Case {
    // The schema's default for `case_sensitive` is true.
    if component["case_sensitive"].as_bool().unwrap_or(true) {
        Case::Sensitive
    } else {
        Case::Insensitive
    }
}

#[test]
fn table_matches_the_registered_definitions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/purl-spec/types");
    let mut seen = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let d: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ty = d["type"].as_str().unwrap();
        let ours = definition(ty).unwrap_or_else(|| panic!("{ty} is not in the table"));
        seen += 1;
        let ns = &d["namespace_definition"];
        let requirement = match ns["requirement"].as_str() {
            Some("required") => Requirement::Required,
            Some("prohibited") => Requirement::Prohibited,
            _ => Requirement::Optional,
        };
        assert_eq!(ours.namespace, requirement, "{ty} namespace requirement");
        assert_eq!(ours.namespace_case, case(ns), "{ty} namespace case");
        assert_eq!(
            ours.name_case,
            case(&d["name_definition"]),
            "{ty} name case"
        );
        assert_eq!(
            ours.version_case,
            case(&d["version_definition"]),
            "{ty} version case"
        );
        assert_eq!(
            ours.subpath_case,
            case(&d["subpath_definition"]),
            "{ty} subpath case"
        );
        let mut required: Vec<&str> = d["qualifiers_definition"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|q| q["requirement"] == "required")
            .map(|q| q["key"].as_str().unwrap())
            .collect();
        required.sort_unstable();
        let mut ours_required = ours.required_qualifiers.to_vec();
        ours_required.sort_unstable();
        assert_eq!(ours_required, required, "{ty} required qualifiers");
    }
    assert_eq!(
        seen,
        DEFINITIONS.len(),
        "types in the table but not registered"
    );
}
