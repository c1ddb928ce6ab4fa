//! Maven versions, ordered by Maven's version order specification (the POM reference,
//! "Version Order Specification", as `ComparableVersion` implements it).
//!
//! The version is split into tokens at `.`, `-` and at every change between digits and
//! other characters (which counts as `-`); each token keeps the separator before it.
//! `cr` means `rc`; `ga`, `final` and `release` mean the empty qualifier; `a`, `b`, `m`
//! directly followed by a number mean `alpha`, `beta`, `milestone`. Trailing "null" tokens
//! (`0`, the empty qualifier) are trimmed at the end and before each remaining `-`. Two
//! versions compare token by token, the shorter padded with nulls; separators order
//! `.qualifier < -qualifier < -number < .number`; known qualifiers order
//! `alpha < beta < milestone < rc < snapshot < "" < sp`, unknown ones after them, lexically.

use std::cmp::Ordering;

use crate::util::cmp_digits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Dot,
    Hyphen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    sep: Sep,
    value: String,
    null: bool,
}

impl Token {
    fn is_number(&self) -> bool {
        !self.value.is_empty() && self.value.bytes().all(|c| c.is_ascii_digit())
    }

    fn trimmable(&self) -> bool {
        self.value == "0" || self.value.is_empty()
    }

    /// The null token to pad the other version with, against `token`.
    fn null_for(token: &Self) -> Self {
        match token.sep {
            // "sp" is the one qualifier above the empty value: pad it with "".
            Sep::Dot => Self {
                sep: Sep::Dot,
                value: if token.value == "sp" {
                    String::new()
                } else {
                    "0".to_owned()
                },
                null: true,
            },
            Sep::Hyphen => Self {
                sep: Sep::Hyphen,
                value: String::new(),
                null: true,
            },
        }
    }

    fn separator_rank(&self) -> u8 {
        match (self.is_number(), self.sep) {
            (false, Sep::Dot) => 0,
            (false, Sep::Hyphen) => 1,
            (true, Sep::Hyphen) => 2,
            (true, Sep::Dot) => 3,
        }
    }

    fn less_than(&self, other: &Self) -> bool {
        if self.sep != other.sep {
            return self.separator_rank() < other.separator_rank();
        }
        let (a_num, b_num) = (self.is_number(), other.is_number());
        if a_num && b_num {
            return cmp_digits(&self.value, &other.value) == Ordering::Less;
        }
        // Numbers sort after qualifiers, unless the number is padding.
        if a_num && !self.null {
            return false;
        }
        if b_num && !other.null {
            return true;
        }
        match (keyword_rank(&self.value), keyword_rank(&other.value)) {
            (None, None) => self.value < other.value,
            (a, b) => a.unwrap_or(usize::MAX) < b.unwrap_or(usize::MAX),
        }
    }
}

const KEYWORDS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn keyword_rank(value: &str) -> Option<usize> {
    KEYWORDS.iter().position(|k| *k == value)
}

#[derive(Debug, Clone)]
pub(crate) struct MavenVersion {
    tokens: Vec<Token>,
}

impl MavenVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.trim();
        if s.is_empty() {
            return Err("version string is empty");
        }
        let lower = s.to_lowercase();
        let mut tokens = Vec::new();
        let mut sep = Sep::Dot;
        let mut rest = lower.as_str();
        loop {
            let end = rest.find(['.', '-']).unwrap_or(rest.len());
            let raw = rest.get(..end).unwrap_or_default();
            push_raw(&mut tokens, raw, sep);
            let Some(next) = rest.get(end..end + 1) else {
                break;
            };
            sep = if next == "." { Sep::Dot } else { Sep::Hyphen };
            rest = rest.get(end + 1..).unwrap_or_default();
        }
        trim_nulls(&mut tokens);
        Ok(Self { tokens })
    }

    fn less_than(&self, other: &Self) -> bool {
        let n = self.tokens.len().max(other.tokens.len());
        for i in 0..n {
            let (left, right) = match (self.tokens.get(i), other.tokens.get(i)) {
                (Some(l), Some(r)) => (l.clone(), r.clone()),
                (None, Some(r)) => (Token::null_for(r), r.clone()),
                (Some(l), None) => (l.clone(), Token::null_for(l)),
                (None, None) => return false,
            };
            if left.sep == right.sep && left.value == right.value {
                continue;
            }
            return left.less_than(&right);
        }
        false
    }
}

/// Splits one `.`/`-` delimited piece at digit/non-digit changes and normalises each part.
fn push_raw(tokens: &mut Vec<Token>, raw: &str, sep: Sep) {
    let mut parts: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut prev: Option<bool> = None;
    for (i, c) in raw.char_indices() {
        let digit = c.is_ascii_digit();
        if prev.is_some_and(|p| p != digit) {
            parts.push(raw.get(start..i).unwrap_or_default());
            start = i;
        }
        prev = Some(digit);
    }
    parts.push(raw.get(start..).unwrap_or_default());
    let count = parts.len();
    for (j, part) in parts.into_iter().enumerate() {
        let mut value = match part {
            "" => "0".to_owned(),
            "cr" => "rc".to_owned(),
            "ga" | "final" | "release" => String::new(),
            other => other.to_owned(),
        };
        if j + 1 < count {
            match value.as_str() {
                "a" => value = "alpha".to_owned(),
                "b" => value = "beta".to_owned(),
                "m" => value = "milestone".to_owned(),
                _ => {}
            }
        }
        if !value.is_empty() && value.bytes().all(|c| c.is_ascii_digit()) {
            let t = value.trim_start_matches('0');
            value = if t.is_empty() {
                "0".to_owned()
            } else {
                t.to_owned()
            };
        }
        tokens.push(Token {
            sep: if j == 0 { sep } else { Sep::Hyphen },
            value,
            null: false,
        });
    }
}

/// Removes trailing null tokens at the end and before each remaining hyphen, from the end
/// to the start; the first token always stays.
fn trim_nulls(tokens: &mut Vec<Token>) {
    let mut i = tokens.len().saturating_sub(1);
    while i > 0 {
        if tokens.get(i).is_some_and(Token::trimmable) {
            tokens.remove(i);
            i -= 1;
            continue;
        }
        // Move to the previous hyphen-separated group.
        while tokens.get(i).is_some_and(|t| t.sep != Sep::Hyphen) {
            if i == 0 {
                return;
            }
            i -= 1;
        }
        if i == 0 {
            return;
        }
        i -= 1;
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.less_than(other) {
            Ordering::Less
        } else if other.less_than(self) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }
}
impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MavenVersion {}
