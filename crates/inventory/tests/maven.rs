//! Java archives: Maven coordinates from `pom.properties`, the archive's digest, and the
//! guards against broken and oversized archives.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write as _;
use std::path::Path;

use medguard_inventory::{CollectOptions, Ecosystem, HashAlgorithm, collect};
use zip::write::SimpleFileOptions;

fn jar(path: &Path, entries: &[(&str, &[u8])], method: zip::CompressionMethod) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in entries {
        w.start_file(
            *name,
            SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn jars_give_maven_components() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("opt/acme/lib");
    let good = lib.join("dcm4che-core-5.31.0.jar");
    jar(
        &good,
        &[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
            (
                "META-INF/maven/org.dcm4che/dcm4che-core/pom.properties",
                b"#Generated\ngroupId=org.dcm4che\nartifactId=dcm4che-core\nversion=5.31.0\n",
            ),
        ],
        zip::CompressionMethod::Deflated,
    );
    let huge = vec![b'#'; 100 * 1024];
    jar(
        &lib.join("bomb.jar"),
        &[("META-INF/maven/x/y/pom.properties", &huge)],
        zip::CompressionMethod::Deflated,
    );
    std::fs::write(lib.join("not-a-zip.jar"), b"PK\x03\x04 truncated").unwrap();
    let c = collect(&CollectOptions {
        root: dir.path().into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: common::now(),
    })
    .unwrap();
    assert_eq!(c.sbom.components.len(), 1, "{:?}", c.sbom.components);
    let m = &c.sbom.components[0];
    assert_eq!(m.ecosystem, Ecosystem::Maven);
    assert_eq!(m.name, "org.dcm4che:dcm4che-core");
    assert_eq!(
        m.purl.as_deref(),
        Some("pkg:maven/org.dcm4che/dcm4che-core@5.31.0")
    );
    assert_eq!(m.hashes[0].alg, HashAlgorithm::Sha256);
    assert_eq!(m.hashes[0].value.len(), 64);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.path.ends_with("bomb.jar") && w.message.contains("more than")),
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings.iter().any(|w| w.path.ends_with("not-a-zip.jar")),
        "{:?}",
        c.warnings
    );
}
