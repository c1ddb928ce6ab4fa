//! Percent-encoding as the specification's "Character encoding" clause defines it.

use std::fmt;

use crate::error::{Component, PurlError};

/// Whether `b` is written as itself in the canonical form: the alphanumerics, the
/// punctuation `.-_~`, and the colon, which "shall not be percent-encoded, whether used as a
/// separator or otherwise".
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':')
}

/// Displays a component percent-encoded: every UTF-8 byte outside the plain set becomes
/// `%XX` (upper-case hex).
pub(crate) struct Encoded<'a>(pub(crate) &'a str);

impl fmt::Display for Encoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            let plain = rest.bytes().take_while(|&b| is_plain(b)).count();
            // `plain` counts ASCII bytes, so it is a character boundary.
            let (head, tail) = rest.split_at_checked(plain).unwrap_or(("", rest));
            f.write_str(head)?;
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(f, "%{b:02X}")?;
                }
            }
            rest = chars.as_str();
        }
        Ok(())
    }
}

/// How to treat a broken escape or bytes that are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoding {
    /// Refuse them.
    Strict,
    /// Keep a broken escape as literal text; replace bytes that are not UTF-8 by U+FFFD.
    Lenient,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one component.
pub(crate) fn decode(s: &str, component: Component, mode: Decoding) -> Result<String, PurlError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let pair = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            );
            match (pair, mode) {
                ((Some(hi), Some(lo)), _) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                (_, Decoding::Strict) => {
                    return Err(PurlError::InvalidEscape {
                        component,
                        offset: i,
                    });
                }
                (_, Decoding::Lenient) => {}
            }
        }
        out.push(b);
        i += 1;
    }
    match mode {
        Decoding::Strict => String::from_utf8(out).map_err(|_| PurlError::NotUtf8 { component }),
        Decoding::Lenient => Ok(String::from_utf8_lossy(&out).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_but_the_plain_set() {
        assert_eq!(Encoded("1:2.5-4+b1").to_string(), "1:2.5-4%2Bb1");
        assert_eq!(
            Encoded("a b/c@d?e#f&g=h%").to_string(),
            "a%20b%2Fc%40d%3Fe%23f%26g%3Dh%25"
        );
        assert_eq!(Encoded("é").to_string(), "%C3%A9");
        assert_eq!(Encoded("Az09._~-").to_string(), "Az09._~-");
    }

    #[test]
    fn strict_and_lenient_decoding() {
        let d = |s, m| decode(s, Component::Version, m);
        assert_eq!(d("1%3A2%2bb1", Decoding::Strict).unwrap(), "1:2+b1");
        assert_eq!(
            d("1%2", Decoding::Strict),
            Err(PurlError::InvalidEscape {
                component: Component::Version,
                offset: 1
            })
        );
        assert_eq!(
            d("%FF", Decoding::Strict),
            Err(PurlError::NotUtf8 {
                component: Component::Version
            })
        );
        assert_eq!(d("1%2", Decoding::Lenient).unwrap(), "1%2");
        assert_eq!(d("50%zz", Decoding::Lenient).unwrap(), "50%zz");
        assert_eq!(d("%FF", Decoding::Lenient).unwrap(), "\u{FFFD}");
    }
}
