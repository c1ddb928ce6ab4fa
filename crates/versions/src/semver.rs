//! Semantic versions (npm, Cargo, Go), with Semantic Versioning 2.0 precedence.
//!
//! Parsing is as lenient as OSV's reference ordering, because advisories and lock files
//! contain such strings: a leading `v`, missing minor or patch (taken as 0), numbers of any
//! size, and anything after the third number that is not a pre-release (`1.1.3.4`) is treated
//! like build metadata, which precedence ignores.

use std::cmp::Ordering;

use crate::util::{cmp_digits, run_len};

#[derive(Debug, Clone)]
pub(crate) struct SemVersion {
    core: [String; 3],
    pre: Vec<String>,
}

impl SemVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let mut rest = s.as_bytes();
        let mut core: [String; 3] = Default::default();
        for (k, slot) in core.iter_mut().enumerate() {
            if k > 0 {
                match rest.first() {
                    Some(b'.') if rest.get(1).is_some_and(u8::is_ascii_digit) => {
                        rest = rest.get(1..).unwrap_or_default();
                    }
                    _ => {
                        *slot = "0".to_owned();
                        continue;
                    }
                }
            }
            let n = run_len(rest, |c| c.is_ascii_digit());
            if n == 0 {
                return Err("expected a number");
            }
            *slot = String::from_utf8_lossy(rest.get(..n).unwrap_or_default()).into_owned();
            rest = rest.get(n..).unwrap_or_default();
        }
        let mut pre = Vec::new();
        if let Some(b'-') = rest.first() {
            let tail = rest.get(1..).unwrap_or_default();
            let end = tail.iter().position(|&c| c == b'+').unwrap_or(tail.len());
            let text = std::str::from_utf8(tail.get(..end).unwrap_or_default())
                .map_err(|_| "pre-release is not UTF-8")?;
            pre = text.split('.').map(str::to_owned).collect();
            rest = tail.get(end..).unwrap_or_default();
        }
        match rest.first() {
            None | Some(b'+' | b'.') => {}
            Some(_) => return Err("unexpected character after the version numbers"),
        }
        Ok(Self { core, pre })
    }
}

fn cmp_identifier(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => cmp_digits(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl Ord for SemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.core.iter().zip(&other.core) {
            let ord = cmp_digits(a, b);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        for (a, b) in self.pre.iter().zip(&other.pre) {
            let ord = cmp_identifier(a, b);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        self.pre.len().cmp(&other.pre.len())
    }
}
impl PartialOrd for SemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for SemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for SemVersion {}
