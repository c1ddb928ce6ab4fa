//! Durations as people write them in command lines and configuration files.
//!
//! The grammar is one or more `NUMBER UNIT` groups, largest unit first or not, with no spaces
//! inside: `30s`, `15m`, `24h`, `7d`, `2w`, `1h30m`. Units are `s`, `m` (minutes), `h`, `d`
//! and `w`. A bare number is refused rather than guessed: `--expires 7` could mean seconds
//! to one reader and days to another.

use std::fmt;
use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing was given.
    #[error("a duration is empty (write e.g. 30s, 15m, 24h or 7d)")]
    Empty,
    /// A number without a unit, or a unit without a number.
    #[error("{text:?} is not a duration: each number needs a unit (e.g. 30s, 15m, 24h, 7d, 1h30m)")]
    Malformed {
        /// The text given.
        text: String,
    },
    /// A unit that is not one of `s`, `m`, `h`, `d`, `w`.
    #[error("{text:?}: unknown unit {unit:?} (expected s, m, h, d or w)")]
    UnknownUnit {
        /// The text given.
        text: String,
        /// The unit found.
        unit: String,
    },
    /// Larger than any duration medguard has a use for.
    #[error("{text:?} is too long a duration")]
    TooLong {
        /// The text given.
        text: String,
    },
}

/// Parses a duration: `30s`, `15m`, `24h`, `7d`, `2w`, `1h30m`.
///
/// # Errors
/// [`DurationError`] naming what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let malformed = || DurationError::Malformed {
        text: text.to_owned(),
    };
    let too_long = || DurationError::TooLong {
        text: text.to_owned(),
    };
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(malformed());
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        if unit.is_empty() {
            return Err(malformed());
        }
        let scale: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => {
                return Err(DurationError::UnknownUnit {
                    text: text.to_owned(),
                    unit: unit.to_owned(),
                });
            }
        };
        let n: u64 = number.parse().map_err(|_| too_long())?;
        total = n
            .checked_mul(scale)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(too_long)?;
        rest = next;
    }
    // A hundred years: beyond it, adding the duration to a date overflows `time`.
    if total > 100 * 366 * 86_400 {
        return Err(too_long());
    }
    Ok(Duration::from_secs(total))
}

/// Writes a duration in the grammar [`parse_duration`] reads, largest units first, whole
/// seconds (`90s` is written `1m30s`; zero is `0s`).
#[must_use]
pub fn format_duration(d: Duration) -> String {
    struct Text(u64);
    impl fmt::Display for Text {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut rest = self.0;
            if rest == 0 {
                return f.write_str("0s");
            }
            for (unit, scale) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
                if rest >= scale {
                    write!(f, "{}{unit}", rest / scale)?;
                    rest %= scale;
                }
            }
            Ok(())
        }
    }
    Text(d.as_secs()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        let secs = |s| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("30s"), Ok(30));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("24h"), Ok(86_400));
        assert_eq!(secs("7d"), Ok(7 * 86_400));
        assert_eq!(secs("2w"), Ok(14 * 86_400));
        assert_eq!(secs("1h30m"), Ok(5_400));
        assert_eq!(secs(" 0s "), Ok(0));
        assert_eq!(secs(""), Err(DurationError::Empty));
        assert!(matches!(secs("7"), Err(DurationError::Malformed { .. })));
        assert!(matches!(secs("h"), Err(DurationError::Malformed { .. })));
        assert!(matches!(
            secs("1h 30m"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(secs("-1s"), Err(DurationError::Malformed { .. })));
        assert!(matches!(secs("3y"), Err(DurationError::UnknownUnit { .. })));
        assert!(matches!(
            secs("1.5h"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            secs("99999999999999999999s"),
            Err(DurationError::TooLong { .. })
        ));
        assert!(matches!(
            secs("36600000d"),
            Err(DurationError::TooLong { .. })
        ));
    }

    #[test]
    fn formatting_round_trips() {
        for secs in [0, 1, 59, 60, 90, 3_600, 5_400, 86_400, 90_061, 7 * 86_400] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{secs}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
