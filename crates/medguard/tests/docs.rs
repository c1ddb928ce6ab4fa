//! The documentation's pictures are rendered from their sources.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
fn threat_model_svg_is_rendered_from_its_source() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let out = Command::new("dot")
        .arg("-Tsvg")
        .arg(docs.join("threat-model.dot"))
        .output()
        .expect("Graphviz `dot` is installed (.ci/install-deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read(docs.join("threat-model.svg")).unwrap();
    assert!(
        out.stdout == committed,
        "docs/threat-model.svg is not what docs/threat-model.dot renders: run `dot -Tsvg docs/threat-model.dot -o docs/threat-model.svg`"
    );
}

/// Every test the threat model cites by name exists, so the table cannot point at nothing.
#[test]
fn every_test_the_threat_model_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("docs/threat-model.md")).unwrap();
    let mut sources = String::new();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let cited: Vec<&str> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() > 12
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && s.contains('_')
        })
        .collect();
    assert!(cited.len() > 20, "the table cites tests: {cited:?}");
    let squeezed: String = sources.split_whitespace().collect();
    let missing: Vec<&&str> = cited
        .iter()
        .filter(|name| {
            !sources.contains(&format!("fn {name}("))
                && !sources.contains(&format!("mod {name}"))
                && !squeezed.contains(&format!("on_both!({name},"))
                && !root.join(format!("fuzz/fuzz_targets/{name}.rs")).exists()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "cited in docs/threat-model.md but not found: {missing:?}"
    );
}
