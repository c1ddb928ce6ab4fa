#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Every real advisory in `shared/data` ingests, or is refused for a stated reason.

use std::collections::BTreeMap;
use std::path::PathBuf;

use medguard_advisory::{Database, Parsed, read_sources};

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("MEDGUARD_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let dir = if dir.exists() {
        dir
    } else {
        PathBuf::from("/work/shared/data")
    };
    assert!(
        dir.exists(),
        "shared test data not found at {}",
        dir.display()
    );
    dir
}

fn read(sub: &str) -> Vec<Parsed> {
    read_sources(&[data_dir().join(sub)], &|| {}).unwrap()
}

fn rejected(parsed: &[Parsed]) -> BTreeMap<String, String> {
    parsed
        .iter()
        .filter_map(|p| {
            p.result
                .as_ref()
                .err()
                .map(|e| (p.origin.clone(), e.to_string()))
        })
        .collect()
}

#[test]
fn osv_feeds_ingest_completely() {
    for (sub, min) in [
        ("osv-go/data/osv", 1500),
        ("osv-rustsec/osv/crates", 1200),
        ("osv-almalinux/advisories", 500),
        ("osv-pypa/vulns", 2000),
        ("osv-debian-ubuntu-samples/gcp/website/testdata/osv", 12),
    ] {
        let parsed = read(sub);
        let bad = rejected(&parsed);
        assert!(bad.is_empty(), "{sub}: {bad:#?}");
        assert!(parsed.len() >= min, "{sub}: only {} records", parsed.len());
    }
}

#[test]
fn cisa_medical_csaf_advisories_ingest() {
    let parsed = read("cisa-csaf");
    let mut bad = rejected(&parsed);
    // The ROLIE feed index beside the advisories is not an advisory, and says so.
    bad.retain(|origin, reason| {
        !(origin.ends_with("-feed-tlp-white.json") && reason.contains("neither an OSV record"))
    });
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(parsed.len() >= 150);
    // Each names affected products with versions.
    let with_products = parsed
        .iter()
        .filter(|p| p.result.as_ref().is_ok_and(|(a, _)| !a.affected.is_empty()))
        .count();
    assert!(
        with_products * 10 >= parsed.len() * 9,
        "{with_products} of {}",
        parsed.len()
    );
}

#[test]
fn oasis_csaf_examples_ingest() {
    let parsed = read("oasis-csaf/csaf_2.0/examples/csaf");
    let bad = rejected(&parsed);
    assert!(bad.is_empty(), "{bad:#?}");
    // The VEX examples carry known_not_affected with a justification flag.
    let vex = parsed
        .iter()
        .filter_map(|p| p.result.as_ref().ok())
        .flat_map(|(a, _)| a.not_affected.iter())
        .filter(|n| n.justification.is_some())
        .count();
    assert!(vex > 0);
}

/// The OASIS validator test documents: every one marked valid (for a mandatory, optional or
/// informative test) must ingest; the invalid ones of 6.1.1 (missing product definition) and
/// 6.1.2 (duplicate definition) must be refused with a pointer. `csaf_mandatory.rs` judges
/// every mandatory test's files.
#[test]
fn oasis_validator_testcases() {
    let base = data_dir().join("oasis-csaf/csaf_2.0/test/validator/data");
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("testcases.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for test in cases["tests"].as_array().unwrap() {
        let id = test["id"].as_str().unwrap();
        for valid in test["valid"].as_array().into_iter().flatten() {
            let path = base.join(valid["name"].as_str().unwrap());
            let parsed = read_sources(std::slice::from_ref(&path), &|| {}).unwrap();
            assert!(
                parsed[0].result.is_ok(),
                "{id} {}: {:?}",
                path.display(),
                parsed[0].result.as_ref().err()
            );
            checked += 1;
        }
        if id == "6.1.1" || id == "6.1.2" {
            for invalid in test["failures"].as_array().into_iter().flatten() {
                let path = base.join(invalid["name"].as_str().unwrap());
                let parsed = read_sources(std::slice::from_ref(&path), &|| {}).unwrap();
                match &parsed[0].result {
                    Err(medguard_advisory::SourceError::CsafMandatoryTest {
                        test,
                        pointer,
                        ..
                    }) => {
                        assert!(pointer.starts_with('/'), "{pointer}");
                        assert_eq!(*test, id);
                    }
                    other => panic!("{id} {} must be refused, got {other:?}", path.display()),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn schema_violation_is_refused_with_pointer_and_others_ingest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":5}]}]}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("good.json"),
        r#"{"id":"X-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Nonesuch","name":"a"},"versions":["1"]},{"package":{"ecosystem":"PyPI","name":"b"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"not a version!"}]}]}]}"#,
    )
    .unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(db_dir.path()).unwrap();
    let report = db
        .ingest(read_sources(&[dir.path().to_owned()], &|| {}).unwrap())
        .unwrap();
    assert_eq!(report.added, 1);
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0].origin.ends_with("bad.json"));
    assert_eq!(
        report.rejected[0].pointer.as_deref(),
        Some("/affected/0/ranges/0/events/0/introduced")
    );
    // The unknown ecosystem and the unparsable bound are reported, not dropped.
    let pointers: Vec<&str> = report
        .problems
        .iter()
        .map(|(_, _, p)| p.pointer.as_str())
        .collect();
    assert_eq!(
        pointers,
        [
            "/affected/0/package/ecosystem",
            "/affected/1/ranges/0/events/1"
        ]
    );
}

/// Red Hat's real OSV records (ossf/osv-schema's converter output for RHSA-2024:4546, git-lfs
/// in the RHEL 8.6 AUS/E4S/TUS streams) match the package URLs syft and Trivy write for RHEL
/// (`distro=rhel-8.6`, `distro=redhat-8.6`, `distro=rhel-8`), and not other releases.
#[test]
fn red_hat_osv_streams_match_rhel_package_urls() {
    use medguard_advisory::{MatchStatus, Matcher, Package};
    let parsed = read("osv-schema/tools/redhat/testdata/OSV");
    let advisories: Vec<_> = parsed.into_iter().map(|p| p.result.unwrap().0).collect();
    assert!(
        advisories
            .iter()
            .flat_map(|a| &a.affected)
            .all(|aff| aff.ecosystem.starts_with("Red Hat:rhel_"))
    );
    let matcher = Matcher::new(advisories);
    let status = |purl: &str| -> Vec<MatchStatus> {
        let p = Package::from_purl(purl, None).unwrap();
        matcher
            .match_package(&p)
            .into_iter()
            .map(|m| m.status)
            .collect()
    };
    // Fixed in 0:2.13.3-3.el8_6.1; one match per stream (AUS, E4S, TUS).
    for purl in [
        "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6?arch=x86_64&distro=rhel-8.6",
        "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6?arch=x86_64&distro=redhat-8.6",
        "pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6?arch=x86_64&distro=rhel-8",
    ] {
        assert_eq!(status(purl), vec![MatchStatus::Affected; 3], "{purl}");
    }
    assert!(
        status("pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6.1?arch=x86_64&distro=rhel-8.6").is_empty()
    );
    assert!(status("pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6?arch=x86_64&distro=rhel-9.4").is_empty());
    assert!(
        status("pkg:rpm/redhat/git-lfs@2.13.3-3.el8_6?arch=x86_64&distro=rhel-8.10").is_empty()
    );
    // A module stream's fixed version (epoch 0, `.module+el8...`) against an installed one.
    assert_eq!(
        status("pkg:rpm/redhat/PyYAML@5.4.1-1.module+el8.4.0+9000+aaaaaaaa?distro=rhel-8.6"),
        vec![MatchStatus::Affected; 3]
    );
}

/// Every `product_version_range` of the 144 real CISA medical advisories (ICSMA).
fn icsma_ranges() -> (usize, Vec<(String, String)>) {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("category").and_then(|c| c.as_str()) == Some("product_version_range")
                    && let Some(name) = m.get("name").and_then(|n| n.as_str())
                {
                    out.push(name.to_owned());
                }
                m.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    fn files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("icsma-")
                && p.extension().is_some_and(|x| x == "json")
            {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    files(&data_dir().join("cisa-csaf/csaf_files"), &mut paths);
    let mut ranges = Vec::new();
    for p in &paths {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let mut names = Vec::new();
        walk(&doc["product_tree"], &mut names);
        let file = p.file_name().unwrap().to_str().unwrap().to_owned();
        ranges.extend(names.into_iter().map(|n| (file.clone(), n)));
    }
    (paths.len(), ranges)
}

/// Issue 14: 53 ranges in 25 of the 144 CISA medical advisories were "not a version
/// expression". Vendors' versions with letters now order; dates, versions with words beside
/// them and versions on both sides of an operator stay undetermined, with the reason, and the
/// ingest summary counts both.
#[test]
fn regression_14_cisa_lettered_versions_order_and_the_rest_say_why_not() {
    use medguard_advisory::{Range, UnparsedReason, parse_range};
    let (files, ranges) = icsma_ranges();
    assert_eq!(files, 144);
    // The rule before: a version had to start with a digit (or `v` and a digit).
    let old_rule_refuses = |text: &str| {
        let body = text.trim();
        let body = body
            .strip_prefix("vers:")
            .and_then(|r| r.split_once('/').map(|(_, c)| c))
            .unwrap_or(body);
        body != "*"
            && body.split('|').any(|part| {
                let v = part.trim().trim_start_matches(['<', '>', '=', '!']).trim();
                v.is_empty()
                    || v.contains(char::is_whitespace)
                    || !v
                        .trim_start_matches(['v', 'V'])
                        .starts_with(|c: char| c.is_ascii_digit())
            })
    };
    let before: Vec<&(String, String)> =
        ranges.iter().filter(|(_, t)| old_rule_refuses(t)).collect();
    let before_files: std::collections::BTreeSet<&String> = before.iter().map(|(f, _)| f).collect();
    let mut now_ordered = Vec::new();
    let mut undetermined: BTreeMap<UnparsedReason, Vec<&str>> = BTreeMap::new();
    for (_, text) in &before {
        match parse_range(text) {
            Range::Unparsed { reason, .. } => undetermined.entry(reason).or_default().push(text),
            _ => now_ordered.push(text.as_str()),
        }
    }
    let still: usize = undetermined.values().map(Vec::len).sum();
    eprintln!(
        "CISA ICSMA: {} ranges in {files} advisories; before: {} not a version expression in {} advisories; \
         after: {} of them ordered, {still} undetermined",
        ranges.len(),
        before.len(),
        before_files.len(),
        now_ordered.len(),
    );
    for (reason, texts) in &undetermined {
        eprintln!("  undetermined, {reason}: {}", texts.len());
    }
    eprintln!("  now ordered: {now_ordered:?}");
    assert_eq!((before.len(), before_files.len()), (53, 25));
    for example in [
        "<= B.12",
        "<= R8.0.3",
        "< B.06.18",
        "<= C.00.04",
        "<=N",
        ">=BT02 | <= BT06",
    ] {
        assert!(now_ordered.contains(&example), "{example}");
        assert!(matches!(parse_range(example), Range::Constraints { .. }));
    }
    assert!(undetermined[&UnparsedReason::Date].contains(&"distributed  < april 1, 2018"));
    assert!(undetermined[&UnparsedReason::Interval].contains(&"A10 < A11"));
    assert_eq!((now_ordered.len(), still), (19, 34));
    // No range the old rule ordered is lost, but for one date it took for a version
    // (`<8/30/2024`, ICSMA-24-249-01): undetermined now, as a date.
    let mut dates = Vec::new();
    for (_, text) in ranges.iter().filter(|(_, t)| !old_rule_refuses(t)) {
        match parse_range(text) {
            Range::Constraints { .. } => {}
            Range::Unparsed {
                reason: UnparsedReason::Date,
                ..
            } => dates.push(text.as_str()),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(dates, ["<8/30/2024"]);

    // The ingest summary counts both, over the same files.
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path()).unwrap();
    let parsed: Vec<Parsed> = read("cisa-csaf/csaf_files")
        .into_iter()
        .filter(|p| p.origin.contains("icsma-"))
        .collect();
    assert_eq!(parsed.len(), 144);
    let report = db.ingest(parsed).unwrap();
    eprintln!(
        "ingest summary: {} ranges ordered, {} undetermined {:?}",
        report.ranges.ordered,
        report.ranges.undetermined_total(),
        report.ranges.undetermined
    );
    assert_eq!(report.ranges.undetermined_total(), 34 + dates.len());
    // The ranges of affected products (the rest name fixed or unaffected ones).
    assert_eq!(report.ranges.ordered, 195);
}
