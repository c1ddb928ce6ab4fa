//! Where "now" comes from, and how waiting passes.
//!
//! One trait serves wall-clock questions (is this TUF metadata expired, is the maintenance
//! window open, when did this event happen) and monotonic ones (how long has this scan run,
//! how many bytes may it read now). Tests use a [`ManualClock`], whose `sleep` advances it,
//! so no test waits for time to pass.
//!
//! This module must not be used to order records: records are ordered by sequence numbers.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// A source of the current time, and a way to wait.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time, in UTC.
    fn now(&self) -> OffsetDateTime;
    /// Time since a fixed, arbitrary start; never goes backwards.
    fn monotonic(&self) -> Duration;
    /// Waits `d`.
    fn sleep(&self, d: Duration);
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
    fn sleep(&self, d: Duration) {
        (**self).sleep(d);
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
    fn sleep(&self, d: Duration) {
        (**self).sleep(d);
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
    fn sleep(&self, d: Duration) {
        (**self).sleep(d);
    }
}

/// The system's clocks: UTC wall time and `CLOCK_MONOTONIC`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn monotonic(&self) -> Duration {
        process_start().elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// A clock stopped at one instant: `sleep` returns at once and time does not move
/// (replays, and tests that only need a known "now").
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }
    fn sleep(&self, _d: Duration) {}
}

/// A clock that moves only when told to, or when someone sleeps on it: `sleep(d)` advances
/// it by `d` and returns at once. Clones share one time.
///
/// [`ManualClock::on_sleep`] lets a test change the world while the code under test waits
/// (the device leaves clinical use on the third poll, a collector comes back), without a
/// second thread or a real wait.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualTime>>,
    on_sleep: Arc<Mutex<Option<SleepHook>>>,
}

/// Called with the number of sleeps so far (1 for the first) after each one.
struct SleepHook(Box<dyn Fn(usize) + Send + Sync>);

impl fmt::Debug for SleepHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SleepHook")
    }
}

#[derive(Debug)]
struct ManualTime {
    wall: OffsetDateTime,
    monotonic: Duration,
    slept: Vec<Duration>,
}

impl ManualClock {
    /// A clock reading `start`.
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ManualTime {
                wall: start,
                monotonic: Duration::ZERO,
                slept: Vec::new(),
            })),
            on_sleep: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs `hook(n)` after the `n`-th sleep on this clock (or a clone), once the clock has
    /// advanced; the hook may read or advance the clock, but not sleep on it. Replaces an
    /// earlier hook.
    pub fn on_sleep(&self, hook: impl Fn(usize) + Send + Sync + 'static) {
        *self.on_sleep.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(SleepHook(Box::new(hook)));
    }

    /// Moves the clock forward by `d` (wall and monotonic time alike).
    pub fn advance(&self, d: Duration) {
        let mut t = self.lock();
        t.wall += d;
        t.monotonic += d;
    }

    /// Sets the wall-clock time (monotonic time does not move: it never goes back).
    pub fn set(&self, now: OffsetDateTime) {
        self.lock().wall = now;
    }

    /// Every `sleep` asked of this clock so far, in order.
    #[must_use]
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().slept.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualTime> {
        // A panicking test thread must not hide the time from the others.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.lock().wall
    }
    fn monotonic(&self) -> Duration {
        self.lock().monotonic
    }
    fn sleep(&self, d: Duration) {
        let n = {
            let mut t = self.lock();
            t.wall += d;
            t.monotonic += d;
            t.slept.push(d);
            t.slept.len()
        };
        // The time lock is released: the hook may read the clock. The hook lock also keeps
        // sleeps of several threads from running hooks at once.
        let hook = self.on_sleep.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(SleepHook(hook)) = hook.as_ref() {
            hook(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_manual_clock_moves_only_when_told_or_slept_on() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let shared = clock.clone();
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00 UTC));
        shared.sleep(Duration::from_secs(30));
        clock.advance(Duration::from_secs(30));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:01 UTC));
        assert_eq!(clock.monotonic(), Duration::from_secs(60));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(30)]);
        clock.set(datetime!(2025-01-01 00:00 UTC));
        assert_eq!(clock.monotonic(), Duration::from_secs(60));
    }

    #[test]
    fn a_sleep_hook_sees_each_sleep_after_the_clock_moved() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (inner, record) = (clock.clone(), Arc::clone(&seen));
        clock.on_sleep(move |n| record.lock().unwrap().push((n, inner.monotonic())));
        clock.sleep(Duration::from_secs(5));
        clock.clone().sleep(Duration::from_secs(7));
        clock.advance(Duration::from_secs(100));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(1, Duration::from_secs(5)), (2, Duration::from_secs(12))]
        );
    }

    #[test]
    fn the_system_clock_is_monotonic() {
        let a = SystemClock.monotonic();
        let b = SystemClock.monotonic();
        assert!(b >= a);
    }
}
