//! NuGet package versions, ordered as NuGet.Versioning's `VersionComparer.Default` orders
//! `NuGetVersion`s.
//!
//! Parsing follows `NuGetVersion.TryParse` (NuGet.Client, `NuGetVersionFactory.cs` and
//! `SemanticVersionFactory.cs`): surrounding white space is ignored; the string splits at the
//! first `-` or `+` into the numbers, then the release labels up to the first `+`, then the
//! build metadata. The numbers are one to four parts read as .NET's `System.Version` reads
//! them (each a non-negative 32-bit integer; leading zeros allowed, so `1.01` is `1.1`);
//! missing parts are 0, so `1`, `1.0`, `1.0.0` and `1.0.0.0` are equal. Release labels and
//! metadata are dot-separated, non-empty, of letters, digits and `-`; a numeric release label
//! may not have a leading zero (`1.0.0-alpha.01` is refused), metadata may.
//!
//! Order (SemVer 2.0 with NuGet's rules): major, minor, patch, revision; a version with release
//! labels precedes the same numbers without; labels compare in turn, a label that .NET reads
//! as a 32-bit integer numerically and before any other label, other labels ignoring case
//! (`1.0.0-BETA` equals `1.0.0-beta`); fewer labels precede more. Build metadata is ignored.

use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub(crate) struct NuGetVersion {
    numbers: [u32; 4],
    labels: Vec<String>,
}

/// .NET's white space as `int.TryParse` skips it (`NumberStyles.Integer`): tab to carriage
/// return and space.
const fn is_dotnet_space(c: u8) -> bool {
    matches!(c, b'\t'..=b'\r' | b' ')
}

/// One `System.Version` component: `int.TryParse` with white space around and a sign
/// allowed, then not negative. `-0` is 0, as in .NET.
fn version_component(s: &str) -> Option<u32> {
    let s = s.trim_matches(|c: char| c.is_ascii() && is_dotnet_space(c as u8));
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let value = digits.parse::<i32>().ok()?;
    if negative && value != 0 {
        return None;
    }
    u32::try_from(value).ok()
}

/// A release label or metadata part: non-empty, letters, digits and `-`; without leading
/// zeros unless allowed (`0` and `0a` are fine, `01` is not).
fn valid_part(s: &str, allow_leading_zeros: bool) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    if !allow_leading_zeros
        && b.len() > 1
        && b.first() == Some(&b'0')
        && b.iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

impl NuGetVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim();
        if s.is_empty() {
            return Err("version string is empty");
        }
        // The numbers end at the first `-` or `+`; labels run from a `-` to the first `+`.
        let cut = s.find(['-', '+']).unwrap_or(s.len());
        let numbers_text = s.get(..cut).unwrap_or_default();
        let rest = s.get(cut..).unwrap_or_default();
        let (labels_text, metadata) = if let Some(after_dash) = rest.strip_prefix('-') {
            match after_dash.split_once('+') {
                Some((l, m)) => (Some(l), Some(m)),
                None => (Some(after_dash), None),
            }
        } else {
            (None, rest.strip_prefix('+'))
        };
        let parts: Vec<&str> = numbers_text.split('.').collect();
        if parts.len() > 4 {
            return Err("more than four version numbers");
        }
        let mut numbers = [0u32; 4];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            *slot = version_component(part)
                .ok_or("a version number is not a non-negative 32-bit integer")?;
        }
        let labels: Vec<String> = match labels_text {
            Some(l) => {
                let labels: Vec<&str> = l.split('.').collect();
                if !labels.iter().all(|p| valid_part(p, false)) {
                    return Err(
                        "invalid release label (letters, digits and `-`, no leading zeros)",
                    );
                }
                labels.into_iter().map(str::to_owned).collect()
            }
            None => Vec::new(),
        };
        if let Some(m) = metadata
            && !m.split('.').all(|p| valid_part(p, true))
        {
            return Err("invalid build metadata (letters, digits and `-`)");
        }
        Ok(Self { numbers, labels })
    }
}

/// .NET `Int32.TryParse` of a release label (it may be negative: `-1` is a valid label).
fn numeric_label(s: &str) -> Option<i32> {
    s.parse().ok()
}

fn cmp_label(a: &str, b: &str) -> Ordering {
    match (numeric_label(a), numeric_label(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        // `StringComparer.OrdinalIgnoreCase`: upper-cased, then ordinal.
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.labels.is_empty(), other.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.labels.iter().zip(&other.labels) {
                        let ord = cmp_label(a, b);
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    self.labels.len().cmp(&other.labels.len())
                }
            }
        })
    }
}
impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_version_components() {
        assert_eq!(version_component("01"), Some(1));
        assert_eq!(version_component(" +2 "), Some(2));
        assert_eq!(version_component("-0"), Some(0));
        assert_eq!(version_component("-1"), None);
        assert_eq!(version_component("2147483648"), None);
        assert_eq!(version_component(""), None);
    }
}
