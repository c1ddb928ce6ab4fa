#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The reference tools' own test vectors, as data (`shared/data/version-vectors`, see its
//! README for sources), and osv-scalibr's ordered lists produced with the native tools
//! (`shared/data/osv-scalibr-semantic`).

use std::cmp::Ordering;
use std::path::PathBuf;

use medguard_versions::{Scheme, Version, compare};
use serde_json::Value;

mod common;

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

fn load(name: &str) -> Value {
    let path = data_dir().join("version-vectors").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn ord(n: i64) -> Ordering {
    n.cmp(&0)
}

fn check_triples(scheme: Scheme, cases: &Value) -> usize {
    let mut failures = Vec::new();
    let cases = cases.as_array().unwrap();
    for case in cases {
        let a = case[0].as_str().unwrap();
        let b = case[1].as_str().unwrap();
        let want = ord(case[2].as_i64().unwrap());
        match compare(scheme, a, b) {
            Ok(got) if got == want => {}
            other => failures.push(format!("{a} vs {b}: want {want:?}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{scheme}: {failures:#?}");
    cases.len()
}

#[test]
fn dpkg_compare_vectors() {
    let d = load("dpkg-version.json");
    assert!(check_triples(Scheme::Debian, &d["compare"]["cases"]) > 50);
}

#[test]
fn dpkg_sort_list() {
    let d = load("dpkg-version.json");
    let mut input: Vec<Version> = d["sort_full_versions"]["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Version::parse(Scheme::Debian, v.as_str().unwrap()).unwrap())
        .collect();
    input.sort();
    let got: Vec<&str> = input.iter().map(Version::as_str).collect();
    let want: Vec<&str> = d["sort_full_versions"]["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn dpkg_parse_errors_and_warnings() {
    let d = load("dpkg-version.json");
    for v in d["parse_errors"]["versions"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        assert!(
            Version::parse(Scheme::Debian, v).is_err(),
            "{v:?} must be refused"
        );
    }
    for v in d["parse_warnings"]["versions"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        assert!(
            Version::parse(Scheme::Debian, v).is_ok(),
            "{v:?} must be accepted"
        );
    }
}

#[test]
fn rpmvercmp_vectors() {
    let d = load("rpm-rpmvercmp.json");
    assert!(check_triples(Scheme::Rpm, &d["cases"]) > 80);
}

#[test]
fn pep440_ordered_versions() {
    let d = load("pep440-packaging.json");
    let versions: Vec<Version> = d["ordered_versions"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Version::parse(Scheme::Pep440, v.as_str().unwrap()).unwrap())
        .collect();
    for (i, a) in versions.iter().enumerate() {
        for (j, b) in versions.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
        }
    }
}

#[test]
fn pep440_invalid_versions() {
    let d = load("pep440-packaging.json");
    for v in d["invalid_versions"]["versions"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        assert!(
            Version::parse(Scheme::Pep440, v).is_err(),
            "{v:?} must be refused"
        );
    }
}

#[test]
fn pep440_normalised_forms_are_equal() {
    let d = load("pep440-packaging.json");
    for case in d["normalized"]["cases"].as_array().unwrap() {
        let (a, b) = (case[0].as_str().unwrap(), case[1].as_str().unwrap());
        assert_eq!(
            compare(Scheme::Pep440, a, b),
            Ok(Ordering::Equal),
            "{a} vs {b}"
        );
    }
}

/// Runs one osv-scalibr comparison file: `A <op> B` per line. Returns the lines where a
/// version was refused as invalid (they do not count as passes).
fn check_scalibr(scheme: Scheme, file: &str) -> Vec<String> {
    let path = data_dir().join("osv-scalibr-semantic").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut failures = Vec::new();
    let mut refused = Vec::new();
    let mut count = 0;
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with("# ") || line.starts_with("// ") {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{file}: malformed line {line:?}");
        let want = match parts[1] {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            op => panic!("{file}: unknown operator {op}"),
        };
        count += 1;
        match compare(scheme, parts[0], parts[2]) {
            Ok(got) if got == want => {}
            Err(_) if scheme == Scheme::Pep440 => refused.push(line.to_owned()),
            other => failures.push(format!("{line}: got {other:?}")),
        }
    }
    assert!(count > 0, "{file} has no comparisons");
    assert!(
        failures.is_empty(),
        "{file}: {} of {count} wrong: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    refused
}

#[test]
fn scalibr_debian() {
    check_scalibr(Scheme::Debian, "debian-versions.txt");
    check_scalibr(Scheme::Debian, "debian-versions-generated.txt");
}

#[test]
fn scalibr_redhat() {
    check_scalibr(Scheme::Rpm, "redhat-versions.txt");
}

#[test]
fn scalibr_pypi() {
    // Some lines compare pre-PEP 440 "legacy" versions (`0.1-bulbasaur`, dates), which
    // packaging 22 and later refuse; refusing them is the correct answer. Check that each
    // version we refuse is refused by the real packaging too.
    let mut refused = check_scalibr(Scheme::Pep440, "pypi-versions.txt");
    refused.extend(check_scalibr(Scheme::Pep440, "pypi-versions-generated.txt"));
    let versions: Vec<&str> = refused
        .iter()
        .flat_map(|l| [l.split(' ').next().unwrap(), l.split(' ').nth(2).unwrap()])
        .filter(|v| Version::parse(Scheme::Pep440, v).is_err())
        .collect();
    assert!(!versions.is_empty());
    let verdicts = common::run_python(
        "import sys\nfrom packaging.version import Version, InvalidVersion\nfor l in sys.stdin.read().split('\\n'):\n  try: Version(l); print('valid', l)\n  except InvalidVersion: print('invalid')",
        &versions.join("\n"),
    );
    let valid: Vec<&String> = verdicts.iter().filter(|v| v.starts_with("valid")).collect();
    assert!(
        valid.is_empty(),
        "packaging accepts versions we refuse: {valid:?}"
    );
}

#[test]
fn scalibr_semver() {
    check_scalibr(Scheme::Semver, "semver-versions.txt");
}

#[test]
fn scalibr_maven() {
    check_scalibr(Scheme::Maven, "maven-versions.txt");
    check_scalibr(Scheme::Maven, "maven-versions-generated.txt");
}

#[test]
fn osv_ecosystems_map_to_schemes() {
    assert_eq!(Scheme::for_osv_ecosystem("Debian:12"), Some(Scheme::Debian));
    assert_eq!(
        Scheme::for_osv_ecosystem("Ubuntu:22.04:LTS"),
        Some(Scheme::Debian)
    );
    assert_eq!(Scheme::for_osv_ecosystem("AlmaLinux:8"), Some(Scheme::Rpm));
    assert_eq!(Scheme::for_osv_ecosystem("Red Hat"), Some(Scheme::Rpm));
    assert_eq!(Scheme::for_osv_ecosystem("PyPI"), Some(Scheme::Pep440));
    assert_eq!(Scheme::for_osv_ecosystem("crates.io"), Some(Scheme::Semver));
    assert_eq!(Scheme::for_osv_ecosystem("Go"), Some(Scheme::Semver));
    assert_eq!(Scheme::for_osv_ecosystem("Maven"), Some(Scheme::Maven));
    assert_eq!(Scheme::for_osv_ecosystem("Alpine:v3.20"), Some(Scheme::Apk));
    assert_eq!(Scheme::for_osv_ecosystem("Wolfi"), Some(Scheme::Apk));
    assert_eq!(
        Scheme::for_osv_ecosystem("RubyGems"),
        Some(Scheme::RubyGems)
    );
    assert_eq!(Scheme::for_osv_ecosystem("NuGet"), Some(Scheme::NuGet));
    assert_eq!(Scheme::for_purl_type("apk"), Some(Scheme::Apk));
    assert_eq!(Scheme::for_purl_type("gem"), Some(Scheme::RubyGems));
    assert_eq!(Scheme::for_purl_type("nuget"), Some(Scheme::NuGet));
    assert_eq!(Scheme::for_osv_ecosystem("NoSuchEcosystem"), None);
}

/// apk-tools' own vectors (`tests/data/apk-tools-version.data`, its `test/unit/version.data`),
/// read as its `version_test.c` reads them. Fuzzy operators (`~`, prefix matching for
/// dependencies) are not an order and are skipped; a comparison with a version that apk-tools'
/// own validity lines call invalid is refused by us, never answered.
#[test]
fn apk_tools_vectors() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/apk-tools-version.data");
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut agreed, mut refused, mut fuzzy, mut validity) = (0, Vec::new(), 0, 0);
    let mut failures = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [a, op, b] = words[..] {
            let (invert, op) = op.strip_prefix('!').map_or((false, op), |o| (true, o));
            if op.contains('~') {
                fuzzy += 1;
                continue;
            }
            let (Ok(x), Ok(y)) = (
                Version::parse(Scheme::Apk, a),
                Version::parse(Scheme::Apk, b),
            ) else {
                refused.push(line.to_owned());
                continue;
            };
            let got = x.cmp(&y);
            let holds = match got {
                Ordering::Less => op.contains('<'),
                Ordering::Equal => op.contains('='),
                Ordering::Greater => op.contains('>'),
            };
            if holds == invert {
                failures.push(format!("{line}: got {got:?}"));
            } else {
                agreed += 1;
            }
        } else {
            let (want_valid, v) = line.strip_prefix('!').map_or((true, line), |v| (false, v));
            // The one deliberate difference (see the apk module): a number after the letter
            // is accepted, as apk-tools 2 did.
            if line == "!0.1a1" {
                assert!(Version::parse(Scheme::Apk, v).is_ok());
                continue;
            }
            validity += 1;
            if Version::parse(Scheme::Apk, v).is_ok() != want_valid {
                failures.push(format!("{line}: validity"));
            }
        }
    }
    eprintln!(
        "apk-tools version.data: {agreed} comparisons agree, {validity} validity lines agree, \
         {} refused (an invalid version), {fuzzy} fuzzy skipped",
        refused.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    // Two comparisons name a version apk-tools itself calls invalid (an unknown suffix, two
    // letters; the second is marked "invalid" in the file): refused, not guessed.
    assert_eq!(refused, ["23_foo > 4_beta", "1.0 < 1.0bc"]);
    assert!(agreed > 700 && validity >= 30);
}

/// Runs an osv-scalibr comparison file and returns the lines with a version the scheme
/// refuses, after checking every other line.
fn scalibr_lines(scheme: Scheme, file: &str) -> (usize, Vec<String>) {
    let path = data_dir().join("osv-scalibr-semantic").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut agreed, mut refused, mut failures) = (0, Vec::new(), Vec::new());
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with("// ") {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        let want = match parts[1] {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            op => panic!("{file}: unknown operator {op}"),
        };
        match compare(scheme, parts[0], parts[2]) {
            Ok(got) if got == want => agreed += 1,
            Ok(got) => failures.push(format!("{line}: got {got:?}")),
            Err(_) => refused.push(line.to_owned()),
        }
    }
    assert!(failures.is_empty(), "{file}: {failures:#?}");
    eprintln!("{file}: {agreed} agree, {} refused", refused.len());
    (agreed, refused)
}

#[test]
fn scalibr_alpine() {
    // The generated list: real Alpine versions from OSV, ordered by apk-tools itself.
    let (agreed, refused) = scalibr_lines(Scheme::Apk, "alpine-versions-generated.txt");
    assert!(agreed > 13_000);
    assert!(refused.is_empty(), "{refused:#?}");
    // The hand-written list also compares versions apk-tools calls invalid (its comments say
    // the answers differ between apk-tools 2 and 3): those must be refused, the rest agree.
    let (_, refused) = scalibr_lines(Scheme::Apk, "alpine-versions.txt");
    for line in &refused {
        assert!(
            line.split(' ')
                .any(|v| Version::parse(Scheme::Apk, v).is_err() && v != "<" && v != ">"),
            "{line}"
        );
    }
}

/// NuGet.Client's own versioning tests, transcribed (`tests/data/nuget-client-vectors.json`).
#[test]
fn nuget_client_vectors() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/nuget-client-vectors.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let pairs = |key: &str| -> Vec<(String, String)> {
        d[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect()
    };
    let mut count = 0;
    for (a, b) in pairs("equal") {
        assert_eq!(
            compare(Scheme::NuGet, &a, &b),
            Ok(Ordering::Equal),
            "{a} = {b}"
        );
        count += 1;
    }
    for (a, b) in pairs("less") {
        assert_eq!(
            compare(Scheme::NuGet, &a, &b),
            Ok(Ordering::Less),
            "{a} < {b}"
        );
        assert_eq!(
            compare(Scheme::NuGet, &b, &a),
            Ok(Ordering::Greater),
            "{b} > {a}"
        );
        count += 1;
    }
    for v in d["invalid"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        assert!(
            Version::parse(Scheme::NuGet, v).is_err(),
            "{v:?} must be refused"
        );
        count += 1;
    }
    for v in d["valid"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        assert!(
            Version::parse(Scheme::NuGet, v).is_ok(),
            "{v:?} must be accepted"
        );
        count += 1;
    }
    eprintln!("NuGet.Client vectors: {count} agree");
}

#[test]
fn scalibr_nuget() {
    let (agreed, refused) = scalibr_lines(Scheme::NuGet, "nuget-versions.txt");
    assert!(agreed > 20);
    // osv-scalibr compares 30-digit numbers; NuGet's `System.Version` refuses any number
    // beyond a 32-bit integer, and so do we.
    assert_eq!(refused.len(), 2, "{refused:#?}");
    for line in &refused {
        assert!(line.contains("999999999999999999999999999991"), "{line}");
    }
}

#[test]
fn scalibr_rubygems() {
    // Versions we refuse must be ones `Gem::Version` refuses too (checked with Ruby in
    // reference_tools.rs); here every line we accept must agree.
    let (agreed, _) = scalibr_lines(Scheme::RubyGems, "rubygems-versions.txt");
    let (generated, refused) = scalibr_lines(Scheme::RubyGems, "rubygems-versions-generated.txt");
    assert!(agreed > 15 && generated > 4000);
    assert!(refused.is_empty(), "{refused:#?}");
}
