//! Debian versions, ordered exactly as `dpkg --compare-versions` orders them.
//!
//! `[epoch:]upstream[-revision]`: the epoch is the part before the first `:`, the revision the
//! part after the last `-`. Parsing follows dpkg's `parseversion`: hard errors are refused,
//! what dpkg only warns about (an upstream not starting with a digit, odd characters) is
//! accepted, because `dpkg --compare-versions` accepts it too.

use std::cmp::Ordering;

use crate::util::cmp_digits;

#[derive(Debug, Clone)]
pub(crate) struct DebVersion {
    epoch: u32,
    upstream: String,
    revision: String,
}

impl DebVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Err("version string is empty");
        }
        if s.contains(|c: char| c.is_ascii_whitespace()) {
            return Err("version string has embedded spaces");
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() {
                    return Err("epoch in version is empty");
                }
                if !e.bytes().all(|c| c.is_ascii_digit()) {
                    return Err("epoch in version is not number");
                }
                // dpkg refuses epochs above INT_MAX.
                let epoch = e
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| i32::try_from(n).is_ok())
                    .ok_or("epoch in version is too big")?;
                if rest.is_empty() {
                    return Err("nothing after colon in version number");
                }
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => {
                if r.is_empty() {
                    return Err("revision number is empty");
                }
                (u, r)
            }
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err("version number is empty");
        }
        Ok(Self {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

/// dpkg's character weight: `~` below the end of the string, letters below other symbols.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
pub(crate) fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        let si = i;
        while digit(a, i) {
            i += 1;
        }
        let sj = j;
        while digit(b, j) {
            j += 1;
        }
        let na = std::str::from_utf8(a.get(si..i).unwrap_or_default()).unwrap_or_default();
        let nb = std::str::from_utf8(b.get(sj..j).unwrap_or_default()).unwrap_or_default();
        let ord = cmp_digits(na, nb);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}
impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for DebVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_sorts_before_end() {
        assert_eq!(verrevcmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(verrevcmp("1.0", "1.0+b1"), Ordering::Less);
        assert_eq!(verrevcmp("a", "+"), Ordering::Less);
    }
}
