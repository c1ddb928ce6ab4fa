//! Maintenance windows: the times at which intrusive work may *start*.
//!
//! A window spec is one or more ranges separated by `;`, each `[DAYS ]HH:MM-HH:MM`, and an
//! optional UTC offset at the end that applies to all of them:
//!
//! ```text
//! always
//! 22:00-06:00                      every night, UTC
//! Mon-Fri 22:00-06:00 +01:00       weeknights, at UTC+1
//! Sat,Sun 00:00-24:00; Wed 12:00-13:00 -05:00
//! ```
//!
//! A range whose end is not after its start runs past midnight and belongs to the day it
//! starts on: `Fri 22:00-06:00` covers Friday 22:00 to Saturday 06:00. Offsets are fixed, not
//! zone names: a hospital that changes to daylight saving time changes its spec, because a
//! window that silently moves by an hour on a device next to a patient is worse than one that
//! is visibly wrong. The module must not read the clock: callers pass the instant.

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime, Time, UtcOffset, Weekday};

/// A spec that could not be parsed, with the part that was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maintenance window {spec:?}: {problem}")]
pub struct WindowError {
    /// The whole spec as given.
    pub spec: String,
    /// What is wrong, naming the offending part.
    pub problem: String,
}

/// When maintenance may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    spec: String,
    ranges: Vec<Range>,
    offset: UtcOffset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    /// Bit `n` set: the range starts on the weekday `n` days from Monday.
    days: u8,
    start: Time,
    length: Duration,
}

const EVERY_DAY: u8 = 0b111_1111;

impl MaintenanceWindow {
    /// A window that is always open.
    pub fn always() -> MaintenanceWindow {
        MaintenanceWindow {
            spec: "always".to_owned(),
            ranges: vec![Range {
                days: EVERY_DAY,
                start: Time::MIDNIGHT,
                length: Duration::DAY,
            }],
            offset: UtcOffset::UTC,
        }
    }

    /// Whether `now` lies inside the window.
    pub fn contains(&self, now: OffsetDateTime) -> bool {
        let local = now.to_offset(self.offset);
        // A range that started yesterday may still be open.
        [local.date().previous_day(), Some(local.date())]
            .into_iter()
            .flatten()
            .any(|day| {
                self.ranges.iter().any(|r| {
                    if r.days & day_bit(day.weekday()) == 0 {
                        return false;
                    }
                    let start = day.with_time(r.start).assume_offset(self.offset);
                    start <= now && now < start + r.length
                })
            })
    }

    /// The first instant at or after `now` at which the window is open, or `None` if the
    /// window is never open (which a parsed spec cannot express, but keeps the API total).
    pub fn next_opening(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.contains(now) {
            return Some(now);
        }
        let today = now.to_offset(self.offset).date();
        (0..=7)
            .filter_map(|n| today.checked_add(Duration::days(n)))
            .flat_map(|day| {
                self.ranges
                    .iter()
                    .filter(move |r| r.days & day_bit(day.weekday()) != 0)
                    .map(move |r| day.with_time(r.start).assume_offset(self.offset))
            })
            .filter(|start| *start >= now)
            .min()
    }
}

fn day_bit(day: Weekday) -> u8 {
    1 << day.number_days_from_monday()
}

impl fmt::Display for MaintenanceWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

impl FromStr for MaintenanceWindow {
    type Err = WindowError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| WindowError {
            spec: spec.to_owned(),
            problem,
        };
        let trimmed = spec.trim();
        if trimmed.eq_ignore_ascii_case("always") {
            return Ok(MaintenanceWindow::always());
        }
        let mut parts: Vec<&str> = trimmed.split(';').map(str::trim).collect();
        // The offset, if any, is the last word of the last range.
        let mut offset = UtcOffset::UTC;
        if let Some(last) = parts.last_mut()
            && let Some((head, word)) = last.rsplit_once(char::is_whitespace)
            && let Some(parsed) = parse_offset(word)
        {
            offset = parsed.map_err(fail)?;
            *last = head.trim_end();
        }
        let ranges = parts
            .iter()
            .map(|part| parse_range(part))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        if ranges.is_empty() {
            return Err(fail("no range given".to_owned()));
        }
        Ok(MaintenanceWindow {
            spec: trimmed.to_owned(),
            ranges,
            offset,
        })
    }
}

/// `None` if `word` does not look like an offset at all (so it belongs to the range).
fn parse_offset(word: &str) -> Option<Result<UtcOffset, String>> {
    if word.eq_ignore_ascii_case("utc") || word == "Z" {
        return Some(Ok(UtcOffset::UTC));
    }
    let (sign, rest) = match word.as_bytes().first() {
        Some(b'+') => (1, word.get(1..)?),
        Some(b'-') => (-1, word.get(1..)?),
        _ => return None,
    };
    let bad = || format!("{word:?} is not a UTC offset like +01:00");
    Some((|| {
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let h: i8 = h.parse().map_err(|_| bad())?;
        let m: i8 = m.parse().map_err(|_| bad())?;
        UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())
    })())
}

fn parse_range(part: &str) -> Result<Range, String> {
    let (days, times) = match part.split_once(char::is_whitespace) {
        Some((days, times)) => (parse_days(days)?, times.trim()),
        None => (EVERY_DAY, part),
    };
    let (start, end) = times
        .split_once('-')
        .ok_or_else(|| format!("{times:?} is not a time range like 22:00-06:00"))?;
    let start_minutes = parse_clock(start)?;
    let end_minutes = parse_clock(end)?;
    if start_minutes == 24 * 60 {
        return Err(format!("{start:?}: a range cannot start at 24:00"));
    }
    let mut length = end_minutes - start_minutes;
    if length <= 0 {
        length += 24 * 60;
    }
    let start = Time::from_hms(
        u8::try_from(start_minutes / 60).map_err(|e| e.to_string())?,
        u8::try_from(start_minutes % 60).map_err(|e| e.to_string())?,
        0,
    )
    .map_err(|e| format!("{start:?}: {e}"))?;
    Ok(Range {
        days,
        start,
        length: Duration::minutes(length),
    })
}

/// `HH:MM`, 00:00 to 24:00, as minutes after midnight.
fn parse_clock(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a time like 06:30");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `Mon`, `Mon-Fri`, `Sat,Sun`, `Mon-Wed,Fri`, `*`.
fn parse_days(text: &str) -> Result<u8, String> {
    if text == "*" {
        return Ok(EVERY_DAY);
    }
    let mut days = 0;
    for item in text.split(',') {
        match item.split_once('-') {
            Some((from, to)) => {
                let from = parse_day(from)?;
                let to = parse_day(to)?;
                let mut d = from;
                loop {
                    days |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << parse_day(item)?,
        }
    }
    Ok(days)
}

fn parse_day(text: &str) -> Result<u8, String> {
    const NAMES: [(&str, &str); 7] = [
        ("mon", "monday"),
        ("tue", "tuesday"),
        ("wed", "wednesday"),
        ("thu", "thursday"),
        ("fri", "friday"),
        ("sat", "saturday"),
        ("sun", "sunday"),
    ];
    let lower = text.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .position(|(short, long)| lower == *short || lower == *long)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| format!("{text:?} is not a day like Mon or Mon-Fri"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn w(spec: &str) -> MaintenanceWindow {
        spec.parse().unwrap()
    }

    #[test]
    fn overnight_weekday_window_with_offset() {
        // 2026-11-20 is a Friday.
        let win = w("Mon-Fri 22:00-06:00 +01:00");
        assert!(win.contains(datetime!(2026-11-20 21:00 UTC))); // Fri 22:00 local
        assert!(!win.contains(datetime!(2026-11-20 20:59 UTC)));
        assert!(win.contains(datetime!(2026-11-21 04:59 UTC))); // Sat 05:59 local, Fri's range
        assert!(!win.contains(datetime!(2026-11-21 05:00 UTC)));
        assert!(!win.contains(datetime!(2026-11-21 21:30 UTC))); // Sat night: closed
        assert!(!win.contains(datetime!(2026-11-23 00:30 UTC))); // Mon 01:30 local: no Sun range
        assert!(win.contains(datetime!(2026-11-24 00:30 UTC))); // Tue 01:30 local: Mon's range
    }

    #[test]
    fn next_opening() {
        let win = w("Sat,Sun 08:00-10:00");
        // Friday noon → Saturday 08:00.
        assert_eq!(
            win.next_opening(datetime!(2026-11-20 12:00 UTC)),
            Some(datetime!(2026-11-21 08:00 UTC))
        );
        let inside = datetime!(2026-11-22 09:00 UTC);
        assert_eq!(win.next_opening(inside), Some(inside));
        // Sunday after the window → next Saturday.
        assert_eq!(
            win.next_opening(datetime!(2026-11-22 10:00 UTC)),
            Some(datetime!(2026-11-28 08:00 UTC))
        );
    }

    #[test]
    fn always_and_whole_days() {
        assert!(w("always").contains(datetime!(2026-01-01 00:00 UTC)));
        let weekend = w("Sat-Sun 00:00-24:00");
        assert!(weekend.contains(datetime!(2026-11-21 00:00 UTC)));
        assert!(weekend.contains(datetime!(2026-11-22 23:59 UTC)));
        assert!(!weekend.contains(datetime!(2026-11-23 00:00 UTC)));
        // Wrapping day ranges.
        let wrap = w("Fri-Mon 12:00-13:00");
        assert!(wrap.contains(datetime!(2026-11-23 12:30 UTC))); // Monday
        assert!(!wrap.contains(datetime!(2026-11-24 12:30 UTC))); // Tuesday
    }

    #[test]
    fn several_ranges() {
        let win = w("Wed 12:00-13:00; Sat 00:00-01:00 -05:00");
        assert!(win.contains(datetime!(2026-11-18 17:30 UTC))); // Wed 12:30 at -05:00
        assert!(win.contains(datetime!(2026-11-21 05:30 UTC))); // Sat 00:30 at -05:00
        assert!(!win.contains(datetime!(2026-11-18 12:30 UTC)));
    }

    #[test]
    fn bad_specs_name_the_part() {
        for (spec, part) in [
            ("", "is not a time range"),
            ("Mon-Fry 22:00-06:00", "Fry"),
            ("25:00-06:00", "25:00"),
            ("22:00", "22:00"),
            ("Mon 22:00-06:00 +1", "+1"),
            ("24:00-01:00", "24:00"),
            ("7:00-08:00", "7:00"),
        ] {
            let err = spec.parse::<MaintenanceWindow>().unwrap_err();
            assert!(err.to_string().contains(part), "{spec}: {err}");
        }
    }
}
