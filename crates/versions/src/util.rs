//! Small helpers shared by the schemes.

use std::cmp::Ordering;

/// Compares two strings of ASCII digits as unbounded non-negative integers: leading zeros are
/// ignored, then the longer number is greater, then the digits decide.
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The length of the leading run of bytes satisfying `pred`.
pub(crate) fn run_len(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&c| pred(c)).count()
}
