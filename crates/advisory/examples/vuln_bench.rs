//! Timings for bench/vuln.sh: database load, one SBOM scan (match + assessment), and a
//! fleet of devices built from a few hundred images.
//!
//! `vuln_bench DB SBOM.json [DEVICES IMAGES]`: each image is a random selection of the SBOM's
//! components (as many as the SBOM has) with a tenth of their versions changed to the fixed
//! version named by the first matching advisory, and each device one image plus one
//! component of its own; the whole fleet goes through one `match_packages` call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use medguard_advisory::{Database, DeviceContext, ExploitSignals, Matcher, Package, assess};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let db = std::path::Path::new(&args[1]);
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&args[2]).unwrap()).unwrap();
    let devices: usize = args.get(3).map_or(10_000, |s| s.parse().unwrap());
    let images: usize = args.get(4).map_or(300, |s| s.parse().unwrap());

    let t = Instant::now();
    let advisories = Database::open(db).unwrap().load().unwrap();
    let n_adv = advisories.len();
    let matcher = Matcher::new(advisories);
    let load = t.elapsed();

    let packages: Vec<Package> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Package::from_purl(c["purl"].as_str().unwrap(), c["version"].as_str()).unwrap())
        .collect();

    // One device: match and assess every finding.
    let t = Instant::now();
    let refs: Vec<&Package> = packages.iter().collect();
    let matches = matcher.match_packages(&refs);
    let (device, signals) = (DeviceContext::default(), ExploitSignals::default());
    let mut findings = 0;
    for (i, p) in packages.iter().enumerate() {
        for m in matches.get(i) {
            let _ = assess(
                p,
                matcher.advisory(m.advisory).unwrap(),
                m,
                &device,
                &signals,
            );
            findings += 1;
        }
    }
    let scan = t.elapsed();

    // The fleet.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut image_packages: Vec<Vec<Package>> = Vec::with_capacity(images);
    for _ in 0..images {
        let mut img = Vec::with_capacity(packages.len());
        for _ in 0..packages.len() {
            let mut p = packages[rnd(packages.len())].clone();
            if rnd(10) == 0 {
                p.version.push_str(".1");
            }
            img.push(p);
        }
        image_packages.push(img);
    }
    let own: Vec<Package> = (0..devices)
        .map(|d| {
            let mut p = packages[rnd(packages.len())].clone();
            p.version = format!("{}.{d}", p.version);
            p
        })
        .collect();
    let t = Instant::now();
    let mut fleet: Vec<&Package> = Vec::with_capacity(devices * (packages.len() + 1));
    for (d, p) in own.iter().enumerate() {
        fleet.extend(image_packages[d % images].iter());
        fleet.push(p);
    }
    let fleet_matches = matcher.match_packages(&fleet);
    let fleet_findings = fleet_matches.total();
    let fleet_distinct = fleet_matches.distinct();
    let fleet_time = t.elapsed();

    println!("advisories {n_adv}");
    println!("load_ms {:.1}", load.as_secs_f64() * 1e3);
    println!("scan_components {}", packages.len());
    println!("scan_findings {findings}");
    println!("scan_ms {:.2}", scan.as_secs_f64() * 1e3);
    println!("fleet_devices {devices}");
    println!("fleet_component_refs {}", fleet.len());
    println!("fleet_distinct_components {fleet_distinct}");
    println!("fleet_findings {fleet_findings}");
    println!("fleet_ms {:.1}", fleet_time.as_secs_f64() * 1e3);
}
