//! RubyGems versions, ordered as Ruby's `Gem::Version#<=>` orders them.
//!
//! A version is accepted when it matches `Gem::Version`'s pattern: digits, then dot-separated
//! alphanumeric parts, then optionally `-` and dot-separated parts of letters, digits and `-`,
//! with white space around allowed. Every `-` stands for `.pre.`, and the version is read as
//! the runs of digits (numbers) and runs of letters (strings) in it, so `1.0-rc1` is
//! `1, 0, "pre", "rc", 1` and `1.0.b1` is `1, 0, "b", 1`.
//!
//! Comparison uses the canonical segments: the numbers before the first string and the
//! segments from it on, each part with trailing zeros dropped (`1.0.a.0` is `1, "a"`).
//! Segment by segment, a missing one counts as 0; a string is smaller than a number (a
//! pre-release); two strings compare byte by byte, so case matters (`1.A < 1.a`); two
//! numbers by value, however long.
//!
//! One deliberate difference: `Gem::Version.new("")` is version 0; an empty string is refused
//! here, because an empty version in an inventory is missing data, not version 0.

use std::cmp::Ordering;

use crate::util::cmp_digits;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Digits without leading zeros (`"0"` is the empty string).
    Number(String),
    Text(String),
}

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Self::Number(n) if n.is_empty())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GemVersion {
    canonical: Vec<Segment>,
}

/// Ruby's `\s` in a regular expression.
const fn is_ruby_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Whether `s` (already without surrounding white space) matches the version part of
/// `Gem::Version`'s pattern: `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
fn matches_pattern(s: &str) -> bool {
    let (release, pre) = match s.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (s, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()));
    // The pre-release part may itself contain `-`, so it is everything after the first one.
    let pre_ok = pre.is_none_or(|p| {
        p.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
    });
    first_ok && rest_ok && pre_ok
}

impl GemVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim_matches(|c: char| c.is_ascii() && is_ruby_space(c as u8));
        if s.is_empty() {
            return Err("version string is empty");
        }
        if !matches_pattern(s) {
            return Err("not a Gem::Version (digits, then dot-separated letters and digits)");
        }
        // `-` reads as `.pre.`: one more string segment, "pre", where it stands.
        let mut segments = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while let Some(&c) = bytes.get(i) {
            let digit = c.is_ascii_digit();
            let n = bytes
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| {
                    if digit {
                        b.is_ascii_digit()
                    } else {
                        b.is_ascii_alphabetic()
                    }
                })
                .count();
            if c == b'-' {
                segments.push(Segment::Text("pre".to_owned()));
                i += 1;
                continue;
            }
            if n == 0 {
                // A separator.
                i += 1;
                continue;
            }
            let run = s.get(i..i + n).unwrap_or_default();
            segments.push(if digit {
                Segment::Number(run.trim_start_matches('0').to_owned())
            } else {
                Segment::Text(run.to_owned())
            });
            i += n;
        }
        Ok(Self {
            canonical: canonical(segments),
        })
    }
}

/// The release numbers and the rest, each with its trailing zeros dropped, joined again.
fn canonical(mut segments: Vec<Segment>) -> Vec<Segment> {
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segments.len());
    let mut tail = segments.split_off(split);
    while segments.last().is_some_and(Segment::is_zero) {
        segments.pop();
    }
    while tail.last().is_some_and(Segment::is_zero) {
        tail.pop();
    }
    segments.append(&mut tail);
    segments
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number(String::new());
        let len = self.canonical.len().max(other.canonical.len());
        for i in 0..len {
            let a = self.canonical.get(i).unwrap_or(&zero);
            let b = other.canonical.get(i).unwrap_or(&zero);
            let ord = match (a, b) {
                (Segment::Number(x), Segment::Number(y)) => cmp_digits(x, y),
                (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
                (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
                (Segment::Text(x), Segment::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}
impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for GemVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        GemVersion::parse(a)
            .unwrap()
            .cmp(&GemVersion::parse(b).unwrap())
    }

    #[test]
    fn pre_releases_and_trailing_zeros() {
        assert_eq!(cmp("1.0.a", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0.0", "1"), Ordering::Equal);
        assert_eq!(cmp("1.0.a.0", "1.a"), Ordering::Equal);
        assert_eq!(cmp("1.0-rc1", "1.0.pre.rc.1"), Ordering::Equal);
        assert_eq!(cmp("1.A", "1.a"), Ordering::Less);
        assert_eq!(cmp(" 2.10 ", "2.9"), Ordering::Greater);
    }

    #[test]
    fn refuses_what_gem_version_refuses() {
        for v in [
            "", " ", "a", "1a", ".1", "1.", "1..2", "1.0-", "1.0-a..b", "1_0", "v1",
        ] {
            assert!(GemVersion::parse(v).is_err(), "{v:?}");
        }
    }
}
