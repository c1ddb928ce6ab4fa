//! The one byte-size grammar of every command and configuration: a positive whole number of
//! bytes, optionally with `K`, `M` or `G` (binary multiples, either case): `500000`, `64K`,
//! `20M`. It must not trim or guess: callers reading a file trim their own values.

/// Parses a byte size; the error says what is expected, for a clap value parser or a
/// configuration error.
///
/// # Errors
/// Not a number, too large for 64 bits, or zero.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let (digits, mult) = if let Some(d) = s.strip_suffix(['K', 'k']) {
        (d, 1u64 << 10)
    } else if let Some(d) = s.strip_suffix(['M', 'm']) {
        (d, 1 << 20)
    } else if let Some(d) = s.strip_suffix(['G', 'g']) {
        (d, 1 << 30)
    } else {
        (s, 1)
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a number of bytes (like 500000, 64K, 10M)"))?;
    let total = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if total == 0 {
        return Err("must be more than 0".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn sizes_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_byte_size("20M"), Ok(20 << 20));
        assert_eq!(parse_byte_size("64k"), Ok(64 << 10));
        assert_eq!(parse_byte_size("500000"), Ok(500_000));
        for bad in ["0", "lots", "", " 5", "99999999999G"] {
            assert!(parse_byte_size(bad).is_err(), "{bad:?}");
        }
    }
}
