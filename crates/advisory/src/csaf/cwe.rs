//! CSAF 2.0 mandatory test 6.1.11: "It MUST be tested that given CWE exists and is valid",
//! against the CWE 4.14 catalogue (every weakness, category and view) in
//! `data/cwe-4.14.tsv`.
//!
//! A CWE id the catalogue does not hold is let through: CWE grows with each release and an
//! advisory written against a newer one is not wrong for it. A known id with another name is
//! refused: that is the mistake the test exists for (the OASIS example names CWE-79 "Improper
//! Input Validation"). All 540 CWE references of the CISA and OASIS documents in
//! `shared/data` carry the 4.14 names except that one.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::mandatory::{Failures, text};

static CATALOGUE: &str = include_str!("../../data/cwe-4.14.tsv");

fn catalogue() -> &'static BTreeMap<&'static str, &'static str> {
    static TABLE: OnceLock<BTreeMap<&'static str, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        CATALOGUE
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .collect()
    })
}

/// Checks one `/vulnerabilities[]/cwe` object.
pub(super) fn check(cwe: &Value, pointer: &str, f: &mut Failures) {
    let (Some(id), Some(name)) = (text(cwe, "id"), text(cwe, "name")) else {
        return;
    };
    let Some(number) = id.strip_prefix("CWE-") else {
        f.fail(
            "6.1.11",
            format!("{pointer}/id"),
            format!("{id:?} is not a CWE id"),
        );
        return;
    };
    if let Some(expected) = catalogue().get(number)
        && *expected != name
    {
        f.fail(
            "6.1.11",
            format!("{pointer}/name"),
            format!("{id} is named {expected:?}, not {name:?}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_read_whole() {
        assert_eq!(catalogue().len(), 1426);
        assert_eq!(
            catalogue().get("79").copied(),
            Some(
                "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"
            )
        );
    }
}
