//! Evidence of use from a `/proc` fixture: running, mapped, listening, and the services list.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use medguard_inventory::{Ecosystem, Protocol};

#[test]
fn running_mapped_and_listening_components_are_marked() {
    let (_dir, c) = common::device_collection();
    let get = |n: &str| {
        c.sbom
            .components
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    let dcmtk = get("dcmtk");
    assert!(dcmtk.usage.running);
    assert_eq!(dcmtk.usage.processes[0].pid, 100);
    assert_eq!(dcmtk.usage.processes[0].comm.as_deref(), Some("storescp"));
    assert_eq!(dcmtk.usage.listening.len(), 1);
    assert_eq!(dcmtk.usage.listening[0].endpoint(), "tcp/0.0.0.0:104");
    assert!(dcmtk.usage.is_network_exposed());
    // libc6's file list says /lib/..., the process maps /usr/lib/...: usr-merge.
    let libc = get("libc6");
    assert!(libc.usage.mapped_libraries);
    assert!(!libc.usage.running);
    let pg = get("postgresql-15");
    assert!(pg.usage.running);
    assert_eq!(
        pg.usage.listening.len(),
        1,
        "the established connection is not listening"
    );
    assert!(!pg.usage.is_network_exposed(), "loopback only");
    let tz = get("tzdata");
    assert!(!tz.usage.in_use());
    let viewer = get("acme-pacs-viewer");
    assert_eq!(viewer.ecosystem, Ecosystem::Vendor);
    assert!(viewer.usage.running, "vendor files are evidence too");
    assert_eq!(c.sbom.metadata.name, "ACME CT 9000");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn services_name_process_and_package() {
    let (dir, _) = common::device_root();
    let (services, warnings) = medguard_inventory::services(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let summary: Vec<String> = services
        .iter()
        .map(|s| {
            format!(
                "{} {:?} {}",
                s.socket.endpoint(),
                s.socket.pid,
                s.component
                    .as_ref()
                    .map_or("-".to_owned(), |c| format!("{} {}", c.name, c.version))
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "tcp/0.0.0.0:104 Some(100) dcmtk 3.6.7-9~deb12u1",
            "tcp/127.0.0.1:5432 Some(200) postgresql-15 15.8-0+deb12u1",
            "udp/0.0.0.0:161 None -",
        ]
    );
    assert_eq!(services[2].socket.protocol, Protocol::Udp);
}

#[test]
fn language_packages_are_found_and_os_owned_ones_skipped() {
    let (dir, c) = common::device_collection();
    let py = c
        .sbom
        .components
        .iter()
        .find(|c| c.name == "pydicom")
        .unwrap();
    assert_eq!(py.purl.as_deref(), Some("pkg:pypi/pydicom@2.4.4"));
    assert_eq!(py.licenses, ["MIT"]);
    let npm = c
        .sbom
        .components
        .iter()
        .find(|c| c.name == "@acme/viewer-ui")
        .unwrap();
    assert_eq!(npm.purl.as_deref(), Some("pkg:npm/%40acme/viewer-ui@1.2.0"));
    // A dist-info that dpkg installed is the dpkg package's, not a second component.
    let root = dir.path();
    let meta = "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA";
    std::fs::create_dir_all(root.join(meta).parent().unwrap()).unwrap();
    std::fs::write(root.join(meta), "Name: six\nVersion: 1.16.0\n").unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/info/tzdata.list"),
        format!("/{meta}\n"),
    )
    .unwrap();
    let again = medguard_inventory::collect(&medguard_inventory::CollectOptions {
        root: root.into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: common::now(),
    })
    .unwrap();
    assert!(!again.sbom.components.iter().any(|c| c.name == "six"));
    std::fs::write(
        root.join("var/lib/dpkg/info/tzdata.list"),
        "/usr/share/zoneinfo/UTC\n",
    )
    .unwrap();
    let third = medguard_inventory::collect(&medguard_inventory::CollectOptions {
        root: root.into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: common::now(),
    })
    .unwrap();
    assert!(third.sbom.components.iter().any(|c| c.name == "six"));
}

#[test]
fn an_absurdly_large_or_broken_manifest_is_a_warning() {
    let (dir, _) = common::device_root();
    let root = dir.path();
    let big = root.join("opt/acme/web/node_modules/huge/package.json");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(17 << 20).unwrap(); // sparse: costs no disk
    let broken = root.join("opt/acme/web/node_modules/broken/package.json");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(&broken, "{\n\"name\": \"broken\",\n").unwrap();
    let c = medguard_inventory::collect(&medguard_inventory::CollectOptions {
        root: root.into(),
        vendor: None,
        evidence: false,
        device_model: None,
        now: common::now(),
    })
    .unwrap();
    assert!(
        c.warnings
            .iter()
            .any(|w| w.path == big && w.message.contains("more than")),
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.path == broken && w.line == Some(3)),
        "{:?}",
        c.warnings
    );
    assert!(
        c.sbom.components.iter().any(|c| c.name == "dcmtk"),
        "collection went on"
    );
}
