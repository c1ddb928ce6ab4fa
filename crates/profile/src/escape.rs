//! Escaping of path bytes in text formats.
//!
//! Paths on a device are bytes, not text: a name may hold a newline, a space, or bytes that
//! are not UTF-8. Profiles and mtree specs are line- and space-separated, so every byte
//! outside printable ASCII, and the characters that carry syntax (space, `\`, `#`, `=`),
//! is written as a three-digit octal escape `\ooo`, the escape BSD `vis(3)` and mtree use.

/// Escapes `bytes` so the result holds only printable ASCII other than space, `\`, `#`, `=`.
#[must_use]
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if needs_escape(b) {
            out.push('\\');
            out.push(char::from(b'0' + (b >> 6)));
            out.push(char::from(b'0' + ((b >> 3) & 7)));
            out.push(char::from(b'0' + (b & 7)));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn needs_escape(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'\\' | b'#' | b'=')
}

/// Why an escaped string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnescapeError {
    /// A backslash not followed by a known escape.
    #[error("bad escape at byte {0}")]
    BadEscape(usize),
}

/// Decodes the escapes [`escape`] writes, plus the C-style escapes mtree writers use
/// (`\\`, `\n`, `\t`, `\r`, `\s`, `\a`, `\b`, `\f`, `\v`, `\#`, `\ `).
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, UnescapeError> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let next = text.get(i + 1).copied();
        let (byte, width) = match next {
            Some(d0 @ b'0'..=b'3') => {
                let d1 = text.get(i + 2).copied();
                let d2 = text.get(i + 3).copied();
                match (d1, d2) {
                    (Some(d1 @ b'0'..=b'7'), Some(d2 @ b'0'..=b'7')) => {
                        ((d0 - b'0') << 6 | (d1 - b'0') << 3 | (d2 - b'0'), 4)
                    }
                    _ if d0 == b'0' => (0, 2),
                    _ => return Err(UnescapeError::BadEscape(i)),
                }
            }
            Some(b'\\') => (b'\\', 2),
            Some(b'n') => (b'\n', 2),
            Some(b't') => (b'\t', 2),
            Some(b'r') => (b'\r', 2),
            Some(b's' | b' ') => (b' ', 2),
            Some(b'a') => (0x07, 2),
            Some(b'b') => (0x08, 2),
            Some(b'f') => (0x0c, 2),
            Some(b'v') => (0x0b, 2),
            Some(b'#') => (b'#', 2),
            // vis(3) meta and control escapes, as NetBSD `mtree -c` writes them.
            Some(b'M') => match (text.get(i + 2).copied(), text.get(i + 3).copied()) {
                (Some(b'-'), Some(c)) => (c | 0x80, 4),
                (Some(b'^'), Some(b'?')) => (0xff, 4),
                (Some(b'^'), Some(c)) => ((c & 0x1f) | 0x80, 4),
                _ => return Err(UnescapeError::BadEscape(i)),
            },
            Some(b'^') => match text.get(i + 2).copied() {
                Some(b'?') => (0x7f, 3),
                Some(c) => (c & 0x1f, 3),
                None => return Err(UnescapeError::BadEscape(i)),
            },
            Some(b'=') => (b'=', 2),
            _ => return Err(UnescapeError::BadEscape(i)),
        };
        out.push(byte);
        i += width;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_syntax_and_non_ascii() {
        assert_eq!(escape(b"a b\n#=\\"), "a\\040b\\012\\043\\075\\134");
        assert_eq!(escape("é".as_bytes()), "\\303\\251");
        assert_eq!(unescape(b"a\\sb\\040c").unwrap(), b"a b c");
        // NetBSD mtree's vis(3) output for the bytes ff fe, DEL and ^A.
        assert_eq!(
            unescape(b"\\M^?\\M-~\\^?\\^A").unwrap(),
            b"\xff\xfe\x7f\x01"
        );
        assert!(unescape(b"a\\q").is_err());
        assert!(unescape(b"a\\").is_err());
        assert!(unescape(b"\\47").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let e = escape(&bytes);
            prop_assert!(e.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'#' && b != b'='));
            prop_assert_eq!(unescape(e.as_bytes()).unwrap(), bytes);
        }
    }
}
