//! CSAF 2.0 mandatory test 6.1.12: "the language code is valid and exists" for
//! `/document/lang` and `/document/source_lang`.
//!
//! A BCP 47 tag is checked for its grammar (RFC 5646 section 2.1) and for the existence of its
//! language, script and region subtags in ISO 639 (-1 two-letter; -2, -3 and -5 three-letter),
//! ISO 15924 and ISO 3166-1, whose code lists (from Debian's iso-codes) are in `data/`. The
//! IANA registry is built from those same standards; what this does not check is the
//! registry's own additions (variants, extended language subtags, grandfathered tags other
//! than by grammar). `EZ`, the OASIS example, is a region (Eurozone), not a language.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

use super::mandatory::{Failures, text};

static ISO_639_1: &str = include_str!("../../data/iso-639-1.txt");
static ISO_639_3: &str = include_str!("../../data/iso-639-2-3-5.txt");
static ISO_3166_1: &str = include_str!("../../data/iso-3166-1.txt");
static ISO_15924: &str = include_str!("../../data/iso-15924.txt");

fn codes(list: &'static str) -> BTreeSet<String> {
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

struct Lists {
    languages: BTreeSet<String>,
    regions: BTreeSet<String>,
    scripts: BTreeSet<String>,
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let mut languages = codes(ISO_639_1);
        languages.extend(codes(ISO_639_3));
        let mut regions = codes(ISO_3166_1);
        // Exceptionally reserved codes the IANA registry lists as regions.
        regions.extend(["eu", "ez", "un"].map(str::to_owned));
        Lists {
            languages,
            regions,
            scripts: codes(ISO_15924),
        }
    })
}

fn alpha(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn alphanumeric(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Why `tag` is not a valid, existing language tag, or `None` when it is.
pub(super) fn problem(tag: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut parts = lower.split('-').peekable();
    let first = parts.next().unwrap_or_default();
    // Private-use (`x-…`) and grandfathered irregular (`i-…`) tags: grammar only.
    if first == "x" || first == "i" {
        let ok = parts.peek().is_some() && parts.all(|p| alphanumeric(p, 1..=8));
        return (!ok).then(|| format!("{tag:?} is not a well-formed private-use tag"));
    }
    let l = lists();
    // Private-use language subtags qaa–qtz are valid by definition.
    let private_language = first.len() == 3 && ("qaa"..="qtz").contains(&first);
    // Four letters are reserved and no five-to-eight-letter language is registered: only
    // ISO 639 codes exist.
    if !alpha(first, 2..=3) {
        return Some(format!(
            "{tag:?} does not start with an ISO 639 language code"
        ));
    }
    if !private_language && !l.languages.contains(first) {
        return Some(format!("{first:?} is not an ISO 639 language code"));
    }
    let mut stage = 0; // 0 extlang, 1 script, 2 region, 3 variants, 4 extensions
    while let Some(part) = parts.next() {
        if part.len() == 1 {
            // An extension or private use: singleton followed by subtags of 2–8 (1–8 for x).
            let min = if part == "x" { 1 } else { 2 };
            let mut any = false;
            while let Some(p) = parts.peek() {
                if p.len() == 1 && part != "x" {
                    break;
                }
                if !alphanumeric(p, min..=8) {
                    return Some(format!("{tag:?}: malformed subtag {p:?}"));
                }
                any = true;
                parts.next();
            }
            if !any {
                return Some(format!("{tag:?}: the singleton {part:?} has no subtags"));
            }
            stage = 4;
            continue;
        }
        if stage == 4 {
            return Some(format!("{tag:?}: {part:?} follows an extension"));
        }
        if stage == 0 && alpha(part, 3..=3) {
            // An extended language subtag is an ISO 639-3 code too.
            if !l.languages.contains(part) && !("qaa"..="qtz").contains(&part) {
                return Some(format!("{part:?} is not an ISO 639 language code"));
            }
            continue;
        }
        if stage <= 1 && alpha(part, 4..=4) {
            if !l.scripts.contains(part) && !("qaaa"..="qabx").contains(&part) {
                return Some(format!("{part:?} is not an ISO 15924 script code"));
            }
            stage = 2;
            continue;
        }
        if stage <= 2
            && (alpha(part, 2..=2) || (part.len() == 3 && part.bytes().all(|b| b.is_ascii_digit())))
        {
            let private_region = part.len() == 2
                && (part == "aa"
                    || part == "zz"
                    || ("qm"..="qz").contains(&part)
                    || ("xa"..="xz").contains(&part));
            if part.len() == 2 && !private_region && !l.regions.contains(part) {
                return Some(format!("{part:?} is not an ISO 3166-1 region code"));
            }
            stage = 3;
            continue;
        }
        let variant = alphanumeric(part, 5..=8)
            || (part.len() == 4
                && part.as_bytes().first().is_some_and(u8::is_ascii_digit)
                && alphanumeric(part, 4..=4));
        if variant {
            stage = 3;
            continue;
        }
        return Some(format!("{tag:?}: {part:?} is not a subtag here"));
    }
    None
}

/// Runs 6.1.12 on `/document`.
pub(super) fn check_languages(document: &Value, f: &mut Failures) {
    for field in ["lang", "source_lang"] {
        if let Some(tag) = text(document, field)
            && let Some(reason) = problem(tag)
        {
            f.fail("6.1.12", format!("/document/{field}"), reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_that_exist_and_tags_that_do_not() {
        for ok in [
            "en",
            "en-US",
            "de-DE",
            "zh-Hant-TW",
            "sr-Latn-RS",
            "es-419",
            "de-CH-1996",
            "x-private",
            "en-US-x-twain",
            "gsw",
            "qaa",
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
        for bad in ["EZ", "en-US-US", "e", "en-Abcd", "english", "en-", "123"] {
            assert!(problem(bad).is_some(), "{bad}");
        }
    }
}
