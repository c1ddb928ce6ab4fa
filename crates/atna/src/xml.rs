//! Minimal XML 1.0 writing: escaping of text and attribute values.
//!
//! Owns the mapping of any Rust string onto characters XML 1.0 can carry; must not know about
//! any document structure (that is [`crate::dicom`]'s job).

/// Whether XML 1.0 (§2.2 `Char`) allows `c` anywhere in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends `value` escaped for use inside a double- or single-quoted attribute value or as
/// text content. Tab, line feed and carriage return become character references so that
/// attribute-value normalisation keeps them; characters XML 1.0 cannot represent at all
/// (even as references) become U+FFFD REPLACEMENT CHARACTER.
pub(crate) fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// Appends ` name="value"` with `value` escaped.
pub(crate) fn push_attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_replaces_illegal_characters() {
        let mut out = String::new();
        push_escaped(&mut out, "a<b>&\"c'\t\n\r\u{0}\u{1F}\u{FFFE}\u{FFFF}é😀");
        assert_eq!(
            out,
            "a&lt;b&gt;&amp;&quot;c&apos;&#9;&#10;&#13;\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}é😀"
        );
    }
}
