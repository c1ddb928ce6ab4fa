//! OSV records (JSON and YAML) on arbitrary bytes: never panics; an accepted advisory
//! survives the database's JSON round trip unchanged, and matching a package against it
//! never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_advisory::{Advisory, Matcher, Package, UsageContext};

fn check(advisory: Advisory) {
    let bytes = serde_json::to_vec(&advisory).expect("serialises");
    let back: Advisory = serde_json::from_slice(&bytes).expect("own output parses");
    assert_eq!(back, advisory, "database round trip changed the advisory");
    let packages: Vec<Package> = advisory
        .affected
        .iter()
        .flat_map(|a| {
            ["0", "1.0", "2.36-9", "1.0.0-rc1"].map(|v| Package {
                ecosystem: a.ecosystem.clone(),
                name: a.name.clone(),
                version: v.to_owned(),
                purl: None,
                source_name: None,
                usage: UsageContext::default(),
            })
        })
        .collect();
    let matcher = Matcher::new(vec![advisory]);
    let refs: Vec<&Package> = packages.iter().collect();
    let _ = matcher.match_packages(&refs);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if let Ok((advisory, _)) = medguard_advisory::parse_record(rest, selector & 1 == 1) {
        check(advisory);
    }
});
