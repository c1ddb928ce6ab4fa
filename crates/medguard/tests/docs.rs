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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = std::fs::read(docs.join("threat-model.svg")).unwrap();
    assert!(
        out.stdout == committed,
        "docs/threat-model.svg is not what docs/threat-model.dot renders: run `dot -Tsvg docs/threat-model.dot -o docs/threat-model.svg`"
    );
}
