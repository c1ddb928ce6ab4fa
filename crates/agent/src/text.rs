//! Text a device puts on the wire: paths and messages made to fit the protocol's rules (no
//! control characters, bounded length) without losing what they say.

use std::fmt::Write as _;

use medguard_proto::limits::{MAX_PATH, MAX_TEXT};

/// A path as the profile crate displays it (UTF-8 where it is, `\xNN` for other bytes, `\\`
/// for a backslash), with control characters escaped the same way, so a file named with an
/// escape sequence can neither be refused by the server nor reach a terminal raw. Cut at
/// [`MAX_PATH`] bytes with a visible marker (a real path is never that long once escaped
/// unless it is hostile).
pub(crate) fn wire_path(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    cut(out, MAX_PATH)
}

/// A path given as a `Path`.
pub(crate) fn wire_path_of(path: &std::path::Path) -> String {
    wire_path(path.as_os_str().as_encoded_bytes())
}

/// A short text (a name, a reason): control characters escaped, at most `max` bytes.
pub(crate) fn wire_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    cut(out, max)
}

/// A short text of the usual limit.
pub(crate) fn wire_name(s: &str) -> String {
    wire_text(s, MAX_TEXT)
}

fn push_escaped(out: &mut String, c: char) {
    if c == '\\' {
        out.push_str("\\\\");
    } else if c.is_control() {
        let n = u32::from(c);
        if n < 0x100 {
            let _ = write!(out, "\\x{n:02x}");
        } else {
            let _ = write!(out, "\\u{{{n:x}}}");
        }
    } else {
        out.push(c);
    }
}

const CUT_MARK: &str = "…[cut]";

fn cut(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub(CUT_MARK.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(CUT_MARK);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_foreign_bytes_are_escaped() {
        assert_eq!(wire_path(b"/etc/pass\x1b[2Jwd"), "/etc/pass\\x1b[2Jwd");
        assert_eq!(wire_path(b"/a\xffb\\c\nd"), "/a\\xffb\\\\c\\x0ad");
        assert_eq!(wire_path("/é".as_bytes()), "/é");
        assert_eq!(wire_text("a\u{85}b", 100), "a\\x85b");
    }

    #[test]
    fn long_text_is_cut_visibly_within_the_limit() {
        let long = "é".repeat(3000);
        let w = wire_path(long.as_bytes());
        assert!(w.len() <= MAX_PATH);
        assert!(w.ends_with(CUT_MARK));
        assert_eq!(wire_text("short", 10), "short");
    }
}
