//! CycloneDX 1.6 and SPDX 2.3 output against the official JSON schemas (jsonschema) and the
//! official validators (cyclonedx-python-lib, spdx-tools from PyPI); round trips; the
//! published examples load; invalid documents are refused with the pointer of the problem.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{device_collection, shared_data, venv};
use medguard_inventory::{InventoryError, Sbom, cyclonedx, parse_sbom, read_sbom, spdx};
use serde_json::Value;

struct LocalSchemas(PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .path()
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let text = std::fs::read_to_string(self.0.join(&name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn validate(schema_file: &Path, doc: &Value) {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_file).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_retriever(LocalSchemas(schema_file.parent().unwrap().to_path_buf()))
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", schema_file.display());
}

fn cdx_schema() -> PathBuf {
    shared_data().join("cyclonedx-spec/schema/bom-1.6.schema.json")
}

fn spdx_schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schemas/spdx-2.3.schema.json")
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

/// The model as it survives a trip through a file: process names are not carried.
fn portable(mut s: Sbom) -> Sbom {
    for c in &mut s.components {
        for p in &mut c.usage.processes {
            p.comm = None;
        }
        for l in &mut c.usage.listening {
            l.pid = None;
            l.process = None;
        }
    }
    s
}

#[test]
fn cyclonedx_output_is_valid_and_round_trips() {
    let (dir, c) = device_collection();
    let v = cyclonedx::to_value(&c.sbom);
    validate(&cdx_schema(), &v);
    let back = cyclonedx::from_value(v.clone(), Path::new("x.json")).unwrap();
    let mut expected = portable(c.sbom.clone());
    expected.metadata.tool = Some(format!("medguard-{}", medguard_inventory::TOOL_VERSION));
    assert_eq!(back, expected);
    // The properties the vulnerability matcher relies on.
    let dcmtk = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "dcmtk")
        .unwrap();
    let props: Vec<(String, String)> = dcmtk["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(props.contains(&("medguard:running".into(), "true".into())));
    assert!(props.contains(&("medguard:listening".into(), "tcp/0.0.0.0:104".into())));
    assert!(props.contains(&("medguard:source-package".into(), "dcmtk".into())));

    let file = write_json(dir.path(), "bom.cdx.json", &v);
    let out = Command::new(venv().join("bin/python"))
        .args([
            "-c",
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\ne = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nprint(e)\nsys.exit(1 if e else 0)",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cyclonedx-python-lib: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn spdx_output_is_valid_and_round_trips() {
    let (dir, c) = device_collection();
    let v = spdx::to_value(&c.sbom);
    validate(&spdx_schema(), &v);
    let back = spdx::from_value(v.clone(), Path::new("x.json")).unwrap();
    let mut expected = portable(c.sbom.clone());
    expected.metadata.tool = Some(format!("medguard-{}", medguard_inventory::TOOL_VERSION));
    assert_eq!(back, expected);
    let file = write_json(dir.path(), "bom.spdx.json", &v);
    let out = Command::new(venv().join("bin/pyspdxtools"))
        .arg("-i")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "pyspdxtools: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn published_cyclonedx_examples_load() {
    let mut files = Vec::new();
    for v in ["1.4", "1.5", "1.6"] {
        json_files(
            &shared_data()
                .join("cyclonedx-spec/tools/src/test/resources")
                .join(v),
            &mut files,
        );
    }
    json_files(&shared_data().join("cyclonedx-bom-examples"), &mut files);
    let mut loaded = 0;
    for f in files.iter().filter(|f| {
        !f.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("invalid-")
    }) {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        if v.get("bomFormat").is_none() || v["specVersion"] == "1.7" {
            continue; // not a BOM (a VEX-only side file), or a later spec
        }
        read_sbom(f).unwrap_or_else(|e| panic!("{e}"));
        loaded += 1;
    }
    assert!(loaded > 150, "{loaded}");
}

#[test]
fn published_spdx_examples_load() {
    let mut files = Vec::new();
    json_files(&shared_data().join("spdx-examples"), &mut files);
    json_files(&shared_data().join("spdx-tools-python"), &mut files);
    let mut loaded = 0;
    for f in files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("/invalid/"))
    {
        let bytes = std::fs::read(f).unwrap();
        if !String::from_utf8_lossy(&bytes).contains("spdxVersion")
            && !f.to_string_lossy().contains("UTF-16")
        {
            continue; // SPDX 3.0 JSON-LD
        }
        let s = read_sbom(f).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.metadata.name.is_empty(), "{}", f.display());
        loaded += 1;
    }
    assert!(loaded >= 17, "{loaded}");
    let ex = read_sbom(
        &shared_data().join("spdx-tools-python/tests/spdx/data/SPDXJSONExample-v2.3.spdx.json"),
    )
    .unwrap();
    assert!(ex.components.iter().any(|c| c.purl.is_some()));
}

fn pointer_of(f: &str) -> String {
    let p = shared_data()
        .join("cyclonedx-spec/tools/src/test/resources/1.6")
        .join(f);
    match read_sbom(&p) {
        Err(InventoryError::Invalid { pointer, .. }) => pointer,
        other => panic!("{f}: {other:?}"),
    }
}

#[test]
fn invalid_cyclonedx_is_refused_with_the_pointer() {
    assert_eq!(pointer_of("invalid-bomformat-1.6.json"), "/bomFormat");
    assert_eq!(
        pointer_of("invalid-empty-component-1.6.json"),
        "/components/0/name"
    );
    assert_eq!(
        pointer_of("invalid-missing-component-type-1.6.json"),
        "/components/0/type"
    );
    assert_eq!(
        pointer_of("invalid-component-type-1.6.json"),
        "/components/0/type"
    );
    assert_eq!(pointer_of("invalid-serialnumber-1.6.json"), "/serialNumber");
    assert_eq!(
        pointer_of("invalid-metadata-timestamp-1.6.json"),
        "/metadata/timestamp"
    );
    assert_eq!(
        pointer_of("invalid-metadata-license-1.6.json"),
        "/metadata/licenses/0/license/id"
    );
    assert_eq!(
        pointer_of("invalid-properties-1.6.json"),
        "/metadata/properties/0/name"
    );
    assert_eq!(
        pointer_of("invalid-component-ref-1.6.json"),
        "/components/1/bom-ref"
    );
    assert!(pointer_of("invalid-hash-alg-1.6.json").ends_with("/alg"));
    assert!(pointer_of("invalid-hash-md5-1.6.json").ends_with("/content"));
    assert!(pointer_of("invalid-license-choice-1.6.json").starts_with("/components/0/licenses/0"));
    // A type error deep inside: serde_path_to_error's path.
    let bad = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a"},{"type":"library","name":7}]}"#;
    match parse_sbom(bad, Path::new("b.json")) {
        Err(InventoryError::Invalid { pointer, .. }) => assert_eq!(pointer, "/components/1/name"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_spdx_is_refused_with_the_pointer() {
    let good = spdx::to_value(&device_collection().1.sbom);
    let refuse = |mutate: &dyn Fn(&mut Value), expected: &str| {
        let mut v = good.clone();
        mutate(&mut v);
        match parse_sbom(&serde_json::to_vec(&v).unwrap(), Path::new("s.json")) {
            Err(InventoryError::Invalid { pointer, .. }) => assert_eq!(pointer, expected),
            other => panic!("{expected}: {other:?}"),
        }
    };
    refuse(&|v| v["spdxVersion"] = "SPDX-9.9".into(), "/spdxVersion");
    refuse(
        &|v| v["packages"][1]["SPDXID"] = "Package-1".into(),
        "/packages/1/SPDXID",
    );
    refuse(
        &|v| {
            v["packages"][2]
                .as_object_mut()
                .unwrap()
                .remove("downloadLocation");
        },
        "/packages/2/downloadLocation",
    );
    refuse(
        &|v| v["creationInfo"]["created"] = "yesterday".into(),
        "/creationInfo/created",
    );
    refuse(&|v| v["packages"][0]["name"] = 3.into(), "/packages/0/name");
    match parse_sbom(b"{\"hello\": 1}", Path::new("x.json")) {
        Err(InventoryError::UnknownFormat { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_sbom(b"{", Path::new("x.json")),
        Err(InventoryError::Invalid { .. })
    ));
}

/// Issue 12: an SBOM with invalid UTF-8 was read with replacement characters (a package name
/// silently changed) where advisories with the same bytes were refused. Now it is refused with
/// the byte offset (in the file, byte-order mark included), in UTF-8 and in UTF-16.
#[test]
fn regression_12_invalid_text_in_an_sbom_is_refused_with_its_offset() {
    let path = Path::new("bad.json");
    let offset_of = |bytes: &[u8]| match parse_sbom(bytes, path) {
        Err(InventoryError::Encoding {
            path: p,
            encoding,
            offset,
        }) => {
            assert_eq!(p, path);
            (encoding, offset)
        }
        other => panic!("{other:?}"),
    };
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"x"#;
    let mut bad = doc.to_vec();
    bad.extend_from_slice(b"\xff\"}]}");
    assert_eq!(offset_of(&bad), ("UTF-8", doc.len()));
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(&bad);
    assert_eq!(offset_of(&bom), ("UTF-8", doc.len() + 3));
    // UTF-16LE: `{"` then an unpaired high surrogate.
    let utf16 = b"\xff\xfe{\0\"\0\x00\xd8a\0";
    assert_eq!(offset_of(utf16), ("UTF-16", 6));
    // The valid UTF-16 form of a document still reads.
    let mut le = b"\xff\xfe".to_vec();
    let text = r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#;
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    parse_sbom(&le, path).unwrap();
}

/// Issue 12: library errors keep their cause as `source()`, so a caller (the binary's
/// broken-pipe check) can walk the chain down to the `io::Error` or the parser's error.
#[test]
fn regression_12_errors_keep_their_cause_as_source() {
    use std::error::Error as _;
    let dir = tempfile::tempdir().unwrap();
    let err = read_sbom(&dir.path().join("missing.json")).unwrap_err();
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    let err = parse_sbom(b"{", Path::new("x.json")).unwrap_err();
    assert!(matches!(err, InventoryError::Invalid { .. }), "{err:?}");
    let json = err
        .source()
        .and_then(|s| s.downcast_ref::<serde_json::Error>())
        .unwrap_or_else(|| panic!("{err:?}"));
    assert!(json.is_eof());
    // The message is unchanged: the cause's text was already in it.
    assert!(err.to_string().contains(&json.to_string()), "{err}");
}
