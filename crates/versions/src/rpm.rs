//! RPM versions, ordered as rpm orders `epoch:version-release`.
//!
//! Each part is compared with rpm's `rpmvercmp` (alphanumeric segments, `~` before anything,
//! `^` after the end but before more segments). A missing epoch is 0. A missing release sorts
//! before any release, even an empty one, which is how OSV's reference implementation and
//! `rpmdev-vercmp` treat `1.0` against `1.0-1`; a total order needs one answer.

use std::cmp::Ordering;

use crate::util::{cmp_digits, run_len};

#[derive(Debug, Clone)]
pub(crate) struct RpmVersion {
    epoch: String,
    version: String,
    release: Option<String>,
}

impl RpmVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim();
        if s.is_empty() {
            return Err("version string is empty");
        }
        if s.contains(char::is_whitespace) {
            return Err("version string has embedded spaces");
        }
        // rpm's rpmverParse: an epoch only when the characters before the first `:` are all
        // digits (possibly none, meaning 0); otherwise the `:` belongs to the version.
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = match s.get(digits..digits + 1) {
            Some(":") => {
                let e = s.get(..digits).unwrap_or_default();
                let e = if e.is_empty() { "0" } else { e };
                (e.to_owned(), s.get(digits + 1..).unwrap_or_default())
            }
            _ => ("0".to_owned(), s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_owned())),
            None => (rest, None),
        };
        Ok(Self {
            epoch,
            version: version.to_owned(),
            release,
        })
    }
}

/// rpm's `rpmvercmp` on one version or release string.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        if one.is_empty() && two.is_empty() {
            break;
        }
        one = one.get(run_len(one, sep)..).unwrap_or_default();
        two = two.get(run_len(two, sep)..).unwrap_or_default();
        let (c1, c2) = (one.first().copied(), two.first().copied());
        if c1 == Some(b'~') || c2 == Some(b'~') {
            if c1 != Some(b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(b'~') {
                return Ordering::Less;
            }
            one = one.get(1..).unwrap_or_default();
            two = two.get(1..).unwrap_or_default();
            continue;
        }
        if c1 == Some(b'^') || c2 == Some(b'^') {
            if c1.is_none() {
                return Ordering::Less;
            }
            if c2.is_none() {
                return Ordering::Greater;
            }
            if c1 != Some(b'^') {
                return Ordering::Greater;
            }
            if c2 != Some(b'^') {
                return Ordering::Less;
            }
            one = one.get(1..).unwrap_or_default();
            two = two.get(1..).unwrap_or_default();
            continue;
        }
        let (Some(c1), Some(_)) = (c1, c2) else {
            break;
        };
        let is_num = c1.is_ascii_digit();
        let pred: fn(u8) -> bool = if is_num {
            |c| c.is_ascii_digit()
        } else {
            |c| c.is_ascii_alphabetic()
        };
        let (l1, l2) = (run_len(one, pred), run_len(two, pred));
        if l2 == 0 {
            // A numeric segment is newer than an alphabetic one.
            return if is_num {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (s1, s2) = (
            std::str::from_utf8(one.get(..l1).unwrap_or_default()).unwrap_or_default(),
            std::str::from_utf8(two.get(..l2).unwrap_or_default()).unwrap_or_default(),
        );
        let ord = if is_num {
            cmp_digits(s1, s2)
        } else {
            s1.cmp(s2)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        one = one.get(l1..).unwrap_or_default();
        two = two.get(l2..).unwrap_or_default();
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(&self.epoch, &other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(a), Some(b)) => rpmvercmp(a, b),
            })
    }
}
impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for RpmVersion {}
