//! Alpine Linux package versions, ordered as apk-tools' `apk version -t` orders them.
//!
//! The grammar (apk-tools `src/version.c`): `digits{.digits}...{letter}{_suffix{digits}}...
//! {~hexhash}{-r digits}`, where a suffix is one of `alpha`, `beta`, `pre`, `rc` (pre-releases,
//! before the bare version) or `cvs`, `svn`, `git`, `hg`, `p` (after it). A version is read as a
//! list of typed tokens and two versions are compared token by token while their token kinds
//! agree:
//!
//! - the first number, suffix numbers and the revision compare as numbers;
//! - a later dotted number compares as a number, unless either side has a leading zero: then
//!   the two digit strings compare as strings (Gentoo's rule, so `1.01 < 1.1` and
//!   `8.2.0015 < 8.2.002`);
//! - a letter by its character, a suffix by its rank above, a commit hash as a string.
//!
//! Where the kinds first differ, a pre-release suffix makes its side smaller; otherwise the
//! side whose token kind comes later in the grammar (or which has ended) is smaller, so
//! `1.0 < 1.0.1 < 1.0.1a < 1.0.1a_p1` and `1.0_rc1 < 1.0`.
//!
//! Two deliberate differences from apk-tools 3:
//!
//! - A number right after the letter is accepted, as apk-tools 2 accepted it, and read as a
//!   dotted number (`6.6.2p1` is `6, 6, 2, p, 1`). Alpine published such versions (openssh,
//!   sudo) and OSV's Alpine records still name them; apk-tools 3 calls them invalid and then
//!   answers `6.0.2p1-r0 = 6.0.2p1-r8`, useless for matching. apk-tools 2 orders them as here
//!   (osv-scalibr's list ordered by apk agrees on all 58 lines with them).
//! - apk-tools reads numbers into a 64-bit integer that wraps on overflow; numbers are
//!   compared exactly here, whatever their length.
//!
//! Otherwise, like the rest of this crate, a string apk-tools calls invalid (`apk version -c`)
//! is refused rather than compared: apk-tools still returns an answer for those, by rules its
//! own tests describe as a fallback.

use std::cmp::Ordering;

use crate::util::{cmp_digits, run_len};

/// Token kinds in grammar order: the order decides comparisons where the kinds differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    Revision,
    End,
}

/// Suffix ranks: those before `None` are pre-releases.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 0),
    ("beta", 1),
    ("pre", 2),
    ("rc", 3),
    ("cvs", 5),
    ("svn", 6),
    ("git", 7),
    ("hg", 8),
    ("p", 9),
];
/// The rank of "no suffix", between the pre-releases and the post-releases.
const SUFFIX_NONE: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    /// The token's text: digits, the letter, the suffix name or the hash.
    text: String,
    /// The suffix rank, for [`Kind::Suffix`].
    suffix: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct ApkVersion {
    tokens: Vec<Token>,
}

impl ApkVersion {
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let s = text.as_bytes();
        let mut tokens = Vec::new();
        let mut i = run_len(s, |c| c.is_ascii_digit());
        if i == 0 {
            return Err("an apk version starts with a number");
        }
        tokens.push(token(Kind::InitialDigit, sub(text, 0, i)));
        while let Some(&c) = s.get(i) {
            let last = tokens.last().map_or(Kind::InitialDigit, |t: &Token| t.kind);
            let rest = s.get(i..).unwrap_or_default();
            let after = |skip: usize, pred: fn(u8) -> bool| {
                run_len(rest.get(skip..).unwrap_or_default(), pred)
            };
            match c {
                b'a'..=b'z' => {
                    if last > Kind::Digit {
                        return Err("a letter may only follow a number");
                    }
                    tokens.push(token(Kind::Letter, sub(text, i, i + 1)));
                    i += 1;
                }
                b'.' => {
                    if last > Kind::Digit {
                        return Err("a dotted number may only follow a number");
                    }
                    let n = after(1, |c| c.is_ascii_digit());
                    if n == 0 {
                        return Err("a dot must be followed by a number");
                    }
                    tokens.push(token(Kind::Digit, sub(text, i + 1, i + 1 + n)));
                    i += 1 + n;
                }
                b'0'..=b'9' => {
                    // Digits run to the end of the number, so they only start a token right
                    // after a suffix name (`_rc1`) or, as apk-tools 2 allowed, after the
                    // letter (`6.6.2p1`: a dotted number again).
                    let kind = match last {
                        Kind::Suffix => Kind::SuffixNumber,
                        Kind::Letter => Kind::Digit,
                        _ => return Err("a number may not follow a revision or hash"),
                    };
                    let n = after(0, |c| c.is_ascii_digit());
                    tokens.push(token(kind, sub(text, i, i + n)));
                    i += n;
                }
                b'_' => {
                    if last > Kind::SuffixNumber {
                        return Err("a suffix may not follow a hash or revision");
                    }
                    let n = after(1, |c| c.is_ascii_lowercase());
                    let name = sub(text, i + 1, i + 1 + n);
                    let rank = SUFFIXES
                        .iter()
                        .find(|(s, _)| *s == name)
                        .map(|&(_, r)| r)
                        .ok_or("unknown suffix (expected alpha, beta, pre, rc, cvs, svn, git, hg or p)")?;
                    tokens.push(Token {
                        kind: Kind::Suffix,
                        text: name.to_owned(),
                        suffix: rank,
                    });
                    i += 1 + n;
                }
                b'~' => {
                    if last >= Kind::CommitHash {
                        return Err("a commit hash may not follow a hash or revision");
                    }
                    let n = after(1, |c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                    if n == 0 {
                        return Err("`~` must be followed by a lower-case hexadecimal hash");
                    }
                    tokens.push(token(Kind::CommitHash, sub(text, i + 1, i + 1 + n)));
                    i += 1 + n;
                }
                b'-' => {
                    if last >= Kind::Revision || !rest.starts_with(b"-r") {
                        return Err("`-` must start the one revision, `-r` and a number");
                    }
                    let n = after(2, |c| c.is_ascii_digit());
                    if n == 0 {
                        return Err("the revision `-r` must be followed by a number");
                    }
                    tokens.push(token(Kind::Revision, sub(text, i + 2, i + 2 + n)));
                    i += 2 + n;
                }
                _ => return Err("character not allowed in an apk version"),
            }
        }
        Ok(Self { tokens })
    }
}

/// A part of `text` between byte offsets that the parser found on ASCII characters.
fn sub(text: &str, from: usize, to: usize) -> &str {
    text.get(from..to).unwrap_or_default()
}

fn token(kind: Kind, text: &str) -> Token {
    Token {
        kind,
        text: text.to_owned(),
        suffix: SUFFIX_NONE,
    }
}

fn cmp_token(a: &Token, b: &Token) -> Ordering {
    match a.kind {
        Kind::Digit if a.text.starts_with('0') || b.text.starts_with('0') => a.text.cmp(&b.text),
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNumber | Kind::Revision => {
            cmp_digits(&a.text, &b.text)
        }
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        Kind::Letter | Kind::CommitHash | Kind::End => a.text.cmp(&b.text),
    }
}

fn is_pre_release(t: Option<&Token>) -> bool {
    t.is_some_and(|t| t.kind == Kind::Suffix && t.suffix < SUFFIX_NONE)
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut i = 0;
        loop {
            let (a, b) = (self.tokens.get(i), other.tokens.get(i));
            let ka = a.map_or(Kind::End, |t| t.kind);
            let kb = b.map_or(Kind::End, |t| t.kind);
            if ka != kb {
                // The first difference in shape decides: a pre-release suffix is smaller
                // than whatever the other side has there, otherwise the later kind is.
                if is_pre_release(a) {
                    return Ordering::Less;
                }
                if is_pre_release(b) {
                    return Ordering::Greater;
                }
                return kb.cmp(&ka);
            }
            let (Some(a), Some(b)) = (a, b) else {
                return Ordering::Equal;
            };
            let ord = cmp_token(a, b);
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
        }
    }
}
impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a)
            .unwrap()
            .cmp(&ApkVersion::parse(b).unwrap())
    }

    #[test]
    fn grammar_orders() {
        assert_eq!(cmp("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(cmp("1.0_rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0_p1", "1.0"), Ordering::Greater);
        assert_eq!(cmp("1.0a", "1.0"), Ordering::Greater);
        assert_eq!(cmp("1.0-r1", "1.0"), Ordering::Greater);
        assert_eq!(cmp("1-r01", "1-r1"), Ordering::Equal);
        assert_eq!(cmp("8.2.0015", "8.2.002"), Ordering::Less);
        assert_eq!(cmp("1.01", "1.1"), Ordering::Less);
        // apk-tools 2's number after the letter.
        assert_eq!(cmp("5.1_p1-r2", "5.1p1-r0"), Ordering::Less);
        assert_eq!(cmp("6.0.2p1-r0", "6.0.2p1-r8"), Ordering::Less);
        assert_eq!(cmp("1.8.1-r1", "1.8.1p1-r1"), Ordering::Less);
    }

    #[test]
    fn refuses_what_apk_calls_invalid() {
        for v in [
            "", "a", ".1", "1.0bc", "1.0A", "0.1_foo", "1-r", "1-r2-r3", "1~", "1..2", "1-r1a",
        ] {
            assert!(ApkVersion::parse(v).is_err(), "{v:?}");
        }
    }
}
