#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Random version pairs, ordered by us and by the real tools: `dpkg --compare-versions`,
//! Python `packaging` (in the venv) and Ruby's `Gem::Version`. Any disagreement is a failure,
//! shown with the pair.

use std::cmp::Ordering;
use std::process::Command;

use medguard_versions::{Scheme, compare};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};

mod common;

fn debian_version() -> impl Strategy<Value = String> {
    let part = "[0-9]{1,3}|[a-z]{1,2}|~|\\+|\\.|~[a-z]";
    (
        proptest::option::of(0u8..3),
        "[0-9]{1,2}",
        proptest::collection::vec(part, 0..5),
        proptest::option::of("[0-9]{1,2}(\\.[0-9a-z~+]{1,3})?"),
    )
        .prop_map(|(epoch, head, parts, rev)| {
            let mut s = String::new();
            if let Some(e) = epoch {
                s.push_str(&format!("{e}:"));
            }
            s.push_str(&head);
            for p in parts {
                s.push_str(&p);
            }
            if let Some(r) = rev {
                s.push('-');
                s.push_str(&r);
            }
            s
        })
}

fn pep440_version() -> impl Strategy<Value = String> {
    (
        proptest::option::of(0u8..2),
        proptest::collection::vec(0u8..12, 1..4),
        proptest::option::of(("(a|b|rc|alpha|c|pre)", 0u8..3)),
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..3),
        proptest::option::of("[a-z0-9]{1,3}(\\.[0-9]{1,2})?"),
    )
        .prop_map(|(epoch, release, pre, post, dev, local)| {
            let mut s = String::new();
            if let Some(e) = epoch {
                s.push_str(&format!("{e}!"));
            }
            let rel: Vec<String> = release.iter().map(u8::to_string).collect();
            s.push_str(&rel.join("."));
            if let Some((l, n)) = pre {
                s.push_str(&format!("{l}{n}"));
            }
            if let Some(n) = post {
                s.push_str(&format!(".post{n}"));
            }
            if let Some(n) = dev {
                s.push_str(&format!(".dev{n}"));
            }
            if let Some(l) = local {
                s.push_str(&format!("+{l}"));
            }
            s
        })
}

fn sample<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    // A fixed seed: the same pairs on every run, so a failure reproduces.
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn dpkg_order(a: &str, b: &str) -> Ordering {
    let rel = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .unwrap()
            .success()
    };
    if rel("lt") {
        Ordering::Less
    } else if rel("eq") {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

#[test]
fn debian_agrees_with_dpkg_on_random_pairs() {
    common::require_dpkg();
    let pairs = sample((debian_version(), debian_version()), 250);
    let mut mismatches = Vec::new();
    for (a, b) in &pairs {
        let ours = compare(Scheme::Debian, a, b).unwrap();
        let theirs = dpkg_order(a, b);
        if ours != theirs {
            mismatches.push(format!("{a} vs {b}: ours {ours:?}, dpkg {theirs:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn pep440_agrees_with_packaging_on_random_pairs() {
    let pairs = sample((pep440_version(), pep440_version()), 2000);
    let input: Vec<String> = pairs.iter().map(|(a, b)| format!("{a} {b}")).collect();
    let verdicts = common::run_python(
        "import sys\nfrom packaging.version import Version\nfor l in sys.stdin.read().split('\\n'):\n  a, b = l.split(' ')\n  x, y = Version(a), Version(b)\n  print(-1 if x < y else (0 if x == y else 1))",
        &input.join("\n"),
    );
    assert_eq!(verdicts.len(), pairs.len());
    let mut mismatches = Vec::new();
    for ((a, b), v) in pairs.iter().zip(&verdicts) {
        let theirs = v.parse::<i32>().unwrap().cmp(&0);
        let ours = compare(Scheme::Pep440, a, b).unwrap();
        if ours != theirs {
            mismatches.push(format!("{a} vs {b}: ours {ours:?}, packaging {theirs:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// Gem versions as gems publish them: numbers, letter parts, mixed parts, a `-` pre-release.
fn gem_version() -> impl Strategy<Value = String> {
    "[0-9]{1,2}(\\.([0-9]{1,2}|0|[a-cA-C]{1,3}|pre|rc|[0-9][a-b]|[a-b][0-9])){0,4}(-[0-9a-bA-B-]{1,3}(\\.[0-9a-b]{1,2}){0,2})?"
}

/// Asks Ruby about each pair: validity of each side, then `<=>` when both are valid.
const RUBY_COMPARE: &str = r##"
STDIN.each_line do |l|
  a, b = l.chomp("\n").split("\t", -1)
  ca, cb = Gem::Version.correct?(a), Gem::Version.correct?(b)
  c = (ca && cb) ? (Gem::Version.new(a) <=> Gem::Version.new(b)) : "-"
  puts "#{ca ? 1 : 0} #{cb ? 1 : 0} #{c}"
end
"##;

/// Our verdicts against Ruby's for each pair; returns (pairs compared, validity checks).
fn check_against_ruby(pairs: &[(String, String)]) -> (usize, usize) {
    let input: Vec<String> = pairs.iter().map(|(a, b)| format!("{a}\t{b}")).collect();
    let verdicts = common::run_ruby(RUBY_COMPARE, &input.join("\n"));
    assert_eq!(verdicts.len(), pairs.len());
    let (mut compared, mut validity, mut mismatches) = (0, 0, Vec::new());
    for ((a, b), v) in pairs.iter().zip(&verdicts) {
        let words: Vec<&str> = v.split(' ').collect();
        for (text, ruby_valid) in [(a, words[0] == "1"), (b, words[1] == "1")] {
            // The one deliberate difference: Gem::Version reads "" (or white space) as 0.
            if text.trim().is_empty() {
                continue;
            }
            validity += 1;
            let ours = medguard_versions::Version::parse(Scheme::RubyGems, text).is_ok();
            if ours != ruby_valid {
                mismatches.push(format!(
                    "{text:?}: ours valid={ours}, Ruby valid={ruby_valid}"
                ));
            }
        }
        if words[2] != "-" && !a.trim().is_empty() && !b.trim().is_empty() {
            compared += 1;
            let theirs = words[2].parse::<i32>().unwrap().cmp(&0);
            match compare(Scheme::RubyGems, a, b) {
                Ok(ours) if ours == theirs => {}
                ours => mismatches.push(format!("{a} vs {b}: ours {ours:?}, Ruby {theirs:?}")),
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    (compared, validity)
}

#[test]
fn rubygems_agrees_with_gem_version_on_random_pairs() {
    let mut pairs = sample((gem_version(), gem_version()), 3000);
    // Near-misses too: arbitrary strings of the characters versions use, for validity.
    let junk = "[0-9a-cA-C._ -]{0,7}";
    pairs.extend(sample((junk, junk), 1000));
    let (compared, validity) = check_against_ruby(&pairs);
    eprintln!("Gem::Version: {compared} pairs ordered alike, {validity} validity verdicts alike");
    assert!(compared > 3000);
}

#[test]
fn rubygems_agrees_with_gem_version_on_its_vectors() {
    // osv-scalibr's hand-written RubyGems list, and the versions we refuse in it.
    let path = common::shared_data().join("osv-scalibr-semantic/rubygems-versions.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            (p[0].to_owned(), p[2].to_owned())
        })
        .collect();
    let (compared, validity) = check_against_ruby(&pairs);
    eprintln!(
        "rubygems-versions.txt: {compared} pairs and {validity} validity verdicts agree with Ruby"
    );
}

proptest! {
    /// Every scheme's order is antisymmetric and transitive on arbitrary strings it accepts.
    #[test]
    fn orders_are_total(a in "[0-9a-z.~+:_^-]{0,12}", b in "[0-9a-z.~+:_^-]{0,12}", c in "[0-9a-z.~+:_^-]{0,12}") {
        for scheme in [Scheme::Debian, Scheme::Rpm, Scheme::Semver, Scheme::Pep440, Scheme::Maven, Scheme::Apk, Scheme::RubyGems, Scheme::NuGet, Scheme::Generic] {
            let (Ok(ab), Ok(ba)) = (compare(scheme, &a, &b), compare(scheme, &b, &a)) else { continue };
            prop_assert_eq!(ab, ba.reverse(), "{} {} {}", scheme, a, b);
            if let (Ok(bc), Ok(ac)) = (compare(scheme, &b, &c), compare(scheme, &a, &c))
                && ab != Ordering::Greater
                && bc != Ordering::Greater
            {
                prop_assert_ne!(ac, Ordering::Greater, "{} {} {} {}", scheme, a, b, c);
            }
        }
    }
}
