//! SPDX licence identifiers: which licence strings both formats may carry as an id.
//!
//! The list is the enumeration of CycloneDX's `spdx.schema.json` (CycloneDX specification,
//! Apache-2.0), one id per line in `spdx-license-ids.txt`. A string that is not an id on
//! the list goes into CycloneDX as a licence `name` and into SPDX as a `LicenseRef-`.

use std::collections::HashSet;
use std::sync::OnceLock;

const IDS: &str = include_str!("spdx-license-ids.txt");

fn ids() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| IDS.lines().filter(|l| !l.is_empty()).collect())
}

/// Whether `s` is an SPDX licence (or exception) identifier, exactly as listed.
pub(crate) fn is_spdx_id(s: &str) -> bool {
    ids().contains(s)
}

/// Whether `s` is an SPDX expression made only of listed ids, `AND`/`OR`/`WITH` and
/// parentheses (e.g. `MIT OR Apache-2.0`).
pub(crate) fn is_simple_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut tokens = 0usize;
    let mut depth = 0i32;
    let mut expect_id = true;
    for t in spaced.split_whitespace() {
        tokens += 1;
        match t {
            "(" if expect_id => depth += 1,
            ")" if !expect_id => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            "AND" | "OR" | "WITH" if !expect_id => expect_id = true,
            id if expect_id && is_spdx_id(id.trim_end_matches('+')) => expect_id = false,
            _ => return false,
        }
    }
    tokens > 0 && depth == 0 && !expect_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_expressions() {
        assert!(is_spdx_id("MIT"));
        assert!(is_spdx_id("Apache-2.0"));
        assert!(!is_spdx_id("GPLv2+"));
        assert!(is_simple_expression("MIT OR Apache-2.0"));
        assert!(is_simple_expression("(MIT OR Apache-2.0) AND BSD-3-Clause"));
        assert!(is_simple_expression(
            "GPL-2.0-or-later WITH Classpath-exception-2.0"
        ));
        assert!(!is_simple_expression("MIT OR"));
        assert!(!is_simple_expression("GPLv2+ and BSD"));
        assert!(!is_simple_expression(""));
        assert!(!is_simple_expression("(MIT"));
    }
}
