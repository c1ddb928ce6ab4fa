//! The SBOM reader (CycloneDX and SPDX JSON) on arbitrary bytes: never panics, and whatever
//! it accepts, medguard writes as CycloneDX 1.6 and SPDX 2.3 that it reads back with the
//! same components.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medguard_inventory::{cyclonedx, parse_sbom, spdx};

fuzz_target!(|data: &[u8]| {
    let Ok(sbom) = parse_sbom(data, Path::new("fuzz.json")) else {
        return;
    };
    let key = |s: &medguard_inventory::Sbom| -> Vec<(String, String)> {
        s.components.iter().map(|c| (c.name.clone(), c.version.clone())).collect()
    };
    let cdx = cyclonedx::from_value(cyclonedx::to_value(&sbom), Path::new("out.cdx.json"))
        .expect("our CycloneDX output must read back");
    assert_eq!(key(&cdx), key(&sbom));
    let sp = spdx::from_value(spdx::to_value(&sbom), Path::new("out.spdx.json"))
        .expect("our SPDX output must read back");
    assert_eq!(key(&sp), key(&sbom));
});
