//! The fallback ordering for ecosystems without an implemented scheme: the string is split
//! into runs of digits and runs of other characters; digit runs compare as numbers, other
//! runs lexically, separators (`.`, `-`, `_`, `+`) only separate. A version that ends where
//! the other goes on is smaller. A leading `v` before a digit is not part of the version
//! (`v4.2` is `4.2`, as vendors, git tags and Composer write it); `VM5.0` keeps its letters.

use std::cmp::Ordering;

use crate::util::cmp_digits;

#[derive(Debug, Clone)]
pub(crate) struct GenericVersion {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Number(String),
    Text(String),
}

impl GenericVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim();
        if s.is_empty() {
            return Err("version string is empty");
        }
        let s = s
            .strip_prefix(['v', 'V'])
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(s);
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut cur_digit = false;
        for c in s.chars() {
            let is_sep = matches!(c, '.' | '-' | '_' | '+' | ':' | '~');
            let is_digit = c.is_ascii_digit();
            if (is_sep || is_digit != cur_digit) && !cur.is_empty() {
                parts.push(finish(std::mem::take(&mut cur), cur_digit));
            }
            if !is_sep {
                cur.push(c);
                cur_digit = is_digit;
            }
        }
        if !cur.is_empty() {
            parts.push(finish(cur, cur_digit));
        }
        Ok(Self { parts })
    }
}

fn finish(s: String, digit: bool) -> Part {
    if digit {
        Part::Number(s)
    } else {
        Part::Text(s.to_lowercase())
    }
}

impl Ord for GenericVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.parts.iter().zip(&other.parts) {
            let ord = match (a, b) {
                (Part::Number(x), Part::Number(y)) => cmp_digits(x, y),
                (Part::Number(_), Part::Text(_)) => Ordering::Greater,
                (Part::Text(_), Part::Number(_)) => Ordering::Less,
                (Part::Text(x), Part::Text(y)) => x.cmp(y),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        self.parts.len().cmp(&other.parts.len())
    }
}
impl PartialOrd for GenericVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for GenericVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for GenericVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_v_before_a_digit_is_not_part_of_the_version() {
        let p = |s| GenericVersion::parse(s).unwrap();
        assert_eq!(p("v4.2"), p("4.2"));
        assert_eq!(p("V20D32"), p("20D32"));
        assert!(p("VM5.0") < p("5.0"));
        assert!(p("v") < p("1"));
    }
}
