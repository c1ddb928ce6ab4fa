//! The document tracking tests: version numbers and the revision history (CSAF 2.0 6.1.14,
//! 6.1.16 … 6.1.22, 6.1.30).
//!
//! A CSAF version (`version_t`) is either an integer (`0`, `1`, `2`, …) or a semantic version
//! (`1.2.0-rc.1+build`). "Sorted ascending by date": dates are compared as instants (the same
//! instant written with more fractional digits is the same date), and items of the same date
//! keep the order of their numbers, so an issuer that released several revisions in one
//! instant is not held to the order it listed them in.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::mandatory::{Failures, array, text};

/// A parsed `version_t`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Number {
    Integer(u64),
    Semantic {
        major: u64,
        minor: u64,
        patch: u64,
        pre: Option<String>,
        build: Option<String>,
    },
}

impl Number {
    fn parse(s: &str) -> Option<Self> {
        let canonical = |n: &str| n == "0" || (!n.starts_with('0') && !n.is_empty());
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return canonical(s).then(|| s.parse().ok().map(Self::Integer))?;
        }
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) => (r, Some(b.to_owned())),
            None => (s, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p.to_owned())),
            None => (rest, None),
        };
        let mut parts = core.split('.');
        let mut next = || {
            parts
                .next()
                .filter(|n| canonical(n) && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok())
        };
        let (major, minor, patch) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self::Semantic {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    fn major(&self) -> u64 {
        match self {
            Self::Integer(n) => *n,
            Self::Semantic { major, .. } => *major,
        }
    }

    fn is_zero_major(&self) -> bool {
        self.major() == 0
    }

    fn pre_release(&self) -> Option<&str> {
        match self {
            Self::Semantic { pre: Some(p), .. } => Some(p),
            _ => None,
        }
    }

    /// The number without build metadata, and without the pre-release part when asked.
    fn comparable(&self, drop_pre_release: bool) -> Self {
        match self {
            Self::Integer(n) => Self::Integer(*n),
            Self::Semantic {
                major,
                minor,
                patch,
                pre,
                ..
            } => Self::Semantic {
                major: *major,
                minor: *minor,
                patch: *patch,
                pre: if drop_pre_release { None } else { pre.clone() },
                build: None,
            },
        }
    }

    /// Semantic-versioning precedence (build metadata ignored; a pre-release sorts before its
    /// release; pre-release identifiers compare numerically when numeric).
    fn precedence(&self, other: &Self) -> Ordering {
        let key = |n: &Self| match n {
            Self::Integer(i) => (*i, 0, 0),
            Self::Semantic {
                major,
                minor,
                patch,
                ..
            } => (*major, *minor, *patch),
        };
        key(self)
            .cmp(&key(other))
            .then_with(|| match (self.pre_release(), other.pre_release()) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare_pre_release(a, b),
            })
    }
}

fn compare_pre_release(a: &str, b: &str) -> Ordering {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// A date-time as an instant, when it is one.
pub(super) fn instant(date: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(date, &Rfc3339).ok()
}

/// One revision history item, parsed.
struct Item<'a> {
    index: usize,
    number_text: &'a str,
    number: Option<Number>,
    date: Option<OffsetDateTime>,
}

/// Runs 6.1.14, 6.1.16 … 6.1.22 and 6.1.30 on `/document`.
pub(super) fn check_tracking(document: &Value, f: &mut Failures) {
    let Some(tracking) = document.get("tracking") else {
        return;
    };
    let status = text(tracking, "status").unwrap_or_default();
    let released = matches!(status, "final" | "interim");
    let version_text = text(tracking, "version");
    let version = version_text.and_then(Number::parse);
    let history = "/document/tracking/revision_history";
    let items: Vec<Item<'_>> = array(tracking, "revision_history")
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let number_text = text(item, "number")?;
            Some(Item {
                index,
                number_text,
                number: Number::parse(number_text),
                date: text(item, "date").and_then(instant),
            })
        })
        .collect();

    // 6.1.17
    if let (Some(v), Some(text)) = (&version, version_text)
        && (v.is_zero_major() || v.pre_release().is_some())
        && status != "draft"
    {
        f.fail(
            "6.1.17",
            "/document/tracking/status",
            format!("the document version is {text} but the status is {status:?}, not draft"),
        );
    }
    // 6.1.20
    if released && let Some(pre) = version.as_ref().and_then(Number::pre_release) {
        f.fail(
            "6.1.20",
            "/document/tracking/version",
            format!(
                "the document status is {status} but the version has the pre-release part -{pre}"
            ),
        );
    }
    for item in &items {
        let Some(number) = &item.number else { continue };
        let pointer = format!("{history}/{}/number", item.index);
        // 6.1.18
        if released && number.is_zero_major() {
            f.fail(
                "6.1.18",
                pointer.clone(),
                format!(
                    "the document status is {status} but the history has version {}",
                    item.number_text
                ),
            );
        }
        // 6.1.19
        if number.pre_release().is_some() {
            f.fail(
                "6.1.19",
                pointer,
                format!("{} is a pre-release version", item.number_text),
            );
        }
    }
    // 6.1.22
    let mut numbers = std::collections::BTreeSet::new();
    for item in &items {
        if !numbers.insert(item.number_text) {
            f.fail(
                "6.1.22",
                format!("{history}/{}/number", item.index),
                format!("version {} is in the history twice", item.number_text),
            );
        }
    }
    // 6.1.30: integer and semantic versioning are not mixed.
    let mut kinds = items
        .iter()
        .filter_map(|i| i.number.as_ref())
        .chain(version.as_ref())
        .map(|n| matches!(n, Number::Integer(_)));
    if let Some(first) = kinds.next()
        && kinds.any(|k| k != first)
    {
        f.fail(
            "6.1.30",
            "/document/tracking",
            "the revision history and the version mix integer and semantic versioning".into(),
        );
        // The order tests below compare numbers of one kind only.
        return;
    }

    // Sorted by date, then by number.
    let mut sorted: Vec<&Item<'_>> = items.iter().filter(|i| i.number.is_some()).collect();
    sorted.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| match (&a.number, &b.number) {
                (Some(x), Some(y)) => x.precedence(y),
                _ => Ordering::Equal,
            })
    });
    // 6.1.14
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && let (Some(x), Some(y)) = (&a.number, &b.number)
            && x.precedence(y) == Ordering::Greater
        {
            f.fail(
                "6.1.14",
                format!("{history}/{}/number", b.index),
                format!(
                    "sorted by date, version {} follows version {}",
                    b.number_text, a.number_text
                ),
            );
        }
    }
    // 6.1.16: the version is the last item's number, build metadata ignored, and the
    // pre-release part too for drafts.
    if let (Some(last), Some(v)) = (sorted.last(), &version)
        && let Some(n) = &last.number
    {
        let draft = status == "draft";
        if n.comparable(draft) != v.comparable(draft) {
            f.fail(
                "6.1.16",
                "/document/tracking/version",
                format!(
                    "the document version is {} but the latest revision is {}",
                    version_text.unwrap_or_default(),
                    last.number_text
                ),
            );
        }
    }
    // 6.1.21: no major version is skipped, and the first is 0 or 1.
    if let Some(first) = sorted.first().and_then(|i| i.number.as_ref())
        && first.major() > 1
    {
        f.fail(
            "6.1.21",
            format!("{history}/{}/number", sorted.first().map_or(0, |i| i.index)),
            format!(
                "the history starts at version {}, not 0 or 1",
                first.major()
            ),
        );
    }
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && let (Some(x), Some(y)) = (&a.number, &b.number)
            && y.major() > x.major().saturating_add(1)
        {
            f.fail(
                "6.1.21",
                format!("{history}/{}/number", b.index),
                format!(
                    "version {} follows {}: the versions between are missing",
                    b.number_text, a.number_text
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_integer_or_semantic_versions() {
        assert_eq!(Number::parse("10"), Some(Number::Integer(10)));
        assert_eq!(Number::parse("01"), None);
        let v = Number::parse("1.0.0-rc.1+21AF").unwrap();
        assert_eq!(v.pre_release(), Some("rc.1"));
        assert_eq!(v.comparable(true), Number::parse("1.0.0").unwrap());
        assert_eq!(Number::parse("1.0"), None);
        assert_eq!(
            Number::parse("1.10.0")
                .unwrap()
                .precedence(&Number::parse("1.9.0").unwrap()),
            Ordering::Greater
        );
    }
}
