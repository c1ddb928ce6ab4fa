//! Pacing a scan so that it yields to clinical work: a byte-rate limit and a pause while
//! the device is in clinical use.
//!
//! This module owns the token bucket and the pause loop. Time comes from a [`Clock`]
//! (`medguard-host`'s: its monotonic time and its sleep), so tests drive it with a
//! `ManualClock` without sleeping. It must not decide whether the device is in use: that
//! is `medguard-clinical`'s [`ClinicalGate`], asked here between files and every
//! [`GATE_EVERY_BYTES`] within a file, at most once per `gate_interval`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use medguard_clinical::{ClinicalGate, Permission};
use medguard_host::Clock;

/// Within a big file, the gate is asked again after this many bytes.
pub const GATE_EVERY_BYTES: u64 = 8 << 20;

/// A byte-rate limit. Reading may run ahead by one chunk and then waits for the debt to
/// be paid, so the long-run rate never exceeds `rate` whatever the chunk size.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// `rate` bytes per second, with up to one second's worth saved up as burst.
    #[must_use]
    pub fn new(rate: u64, now: Duration) -> Self {
        let rate = rate.max(1) as f64;
        Self {
            rate,
            capacity: rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes `n` bytes at `now`; returns how long to wait before going on.
    pub fn take(&mut self, n: u64, now: Duration) -> Duration {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// A pause the scan made for clinical work.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pause {
    /// The file being scanned, or about to be, when the pause began.
    pub during: std::path::PathBuf,
    /// Why the gate refused.
    pub reason: String,
    /// How long the scan waited, in seconds.
    pub seconds: f64,
}

/// What the pacer reports as it goes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PaceEvent {
    /// The scan stopped: the device is in clinical use (or its state is unknown).
    Paused {
        /// The file at hand.
        during: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The device is idle again; the scan goes on.
    Resumed(Pause),
}

/// Options for [`Pacer`].
#[derive(Debug, Clone)]
pub struct PaceOptions {
    /// Bytes per second across all scanning threads; `None` for no limit.
    pub rate: Option<u64>,
    /// The clinical gate; [`ClinicalGate::open`] never pauses.
    pub gate: ClinicalGate,
    /// The gate is asked at most this often.
    pub gate_interval: Duration,
    /// While paused, the gate is asked again after this long.
    pub poll_interval: Duration,
}

impl Default for PaceOptions {
    fn default() -> Self {
        Self {
            rate: None,
            gate: ClinicalGate::open(),
            gate_interval: Duration::from_secs(1),
            poll_interval: Duration::from_secs(5),
        }
    }
}

/// Shared by all scanning threads.
#[derive(Debug)]
pub struct Pacer<'c> {
    clock: &'c dyn Clock,
    bucket: Option<Mutex<TokenBucket>>,
    options: PaceOptions,
    /// When the gate was last asked, and the pauses so far. One lock: while one thread
    /// waits for the device to become idle, the others wait behind it.
    gate_state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    last_check: Option<Duration>,
    pauses: Vec<Pause>,
}

impl<'c> Pacer<'c> {
    /// A pacer on `clock`.
    pub fn new(options: PaceOptions, clock: &'c dyn Clock) -> Self {
        let bucket = options
            .rate
            .map(|r| Mutex::new(TokenBucket::new(r, clock.monotonic())));
        Self {
            clock,
            bucket,
            options,
            gate_state: Mutex::new(GateState::default()),
        }
    }

    /// Accounts for `n` bytes just read, waiting as the rate limit asks.
    pub fn consumed(&self, n: u64) {
        let Some(bucket) = &self.bucket else { return };
        let wait = match bucket.lock() {
            Ok(mut b) => b.take(n, self.clock.monotonic()),
            Err(_) => Duration::ZERO,
        };
        if !wait.is_zero() {
            self.clock.sleep(wait);
        }
    }

    /// Asks the gate (unless it was asked within `gate_interval`) and waits while it
    /// refuses. `force` asks even within the interval (at the start of a scan).
    pub fn checkpoint(&self, during: &Path, force: bool, events: &(dyn Fn(&PaceEvent) + Sync)) {
        if self.options.gate.is_open() {
            return;
        }
        let Ok(mut state) = self.gate_state.lock() else {
            return;
        };
        let now = self.clock.monotonic();
        if !force
            && state
                .last_check
                .is_some_and(|t| now.saturating_sub(t) < self.options.gate_interval)
        {
            return;
        }
        let mut paused: Option<(Duration, String)> = None;
        loop {
            match self.options.gate.may_continue() {
                Permission::Granted => break,
                Permission::Refused(refusal) => {
                    if paused.is_none() {
                        let reason = refusal.to_string();
                        events(&PaceEvent::Paused {
                            during: during.to_owned(),
                            reason: reason.clone(),
                        });
                        paused = Some((self.clock.monotonic(), reason));
                    }
                    self.clock.sleep(self.options.poll_interval);
                }
            }
        }
        let now = self.clock.monotonic();
        state.last_check = Some(now);
        if let Some((since, reason)) = paused {
            let pause = Pause {
                during: during.to_owned(),
                reason,
                seconds: now.saturating_sub(since).as_secs_f64(),
            };
            events(&PaceEvent::Resumed(pause.clone()));
            state.pauses.push(pause);
        }
    }

    /// The pauses made so far.
    #[must_use]
    pub fn pauses(&self) -> Vec<Pause> {
        self.gate_state
            .lock()
            .map(|s| s.pauses.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medguard_host::ManualClock;

    fn clock() -> ManualClock {
        ManualClock::new(time::OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn the_bucket_holds_the_long_run_rate() {
        let clock = clock();
        let pacer = Pacer::new(
            PaceOptions {
                rate: Some(1_000_000),
                ..PaceOptions::default()
            },
            &clock,
        );
        // 10 MB in 64 KiB chunks at 1 MB/s: about 9 s of waiting (the first second is
        // the saved-up burst).
        let mut left = 10_000_000u64;
        while left > 0 {
            let n = left.min(65_536);
            pacer.consumed(n);
            left -= n;
        }
        let waited = clock.monotonic().as_secs_f64();
        assert!((8.9..=9.1).contains(&waited), "waited {waited} s");
    }

    #[test]
    fn no_limit_never_waits() {
        let clock = clock();
        let pacer = Pacer::new(PaceOptions::default(), &clock);
        pacer.consumed(u64::MAX / 2);
        assert_eq!(clock.monotonic(), Duration::ZERO);
    }

    #[test]
    fn the_pause_lasts_until_the_state_file_says_idle() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::write(&state, "in-use").unwrap();
        let flip = state.clone();
        let clock = clock();
        clock.on_sleep(move |n| {
            if n == 3 {
                std::fs::write(&flip, "idle").unwrap();
            }
        });
        let pacer = Pacer::new(
            PaceOptions {
                gate: ClinicalGate::new(
                    Some(medguard_clinical::ClinicalStateSource::File(state)),
                    None,
                ),
                poll_interval: Duration::from_secs(10),
                ..PaceOptions::default()
            },
            &clock,
        );
        let events = Mutex::new(Vec::new());
        pacer.checkpoint(Path::new("/f"), true, &|e| {
            events.lock().unwrap().push(format!("{e:?}"))
        });
        let pauses = pacer.pauses();
        assert_eq!(pauses.len(), 1);
        assert!((pauses[0].seconds - 30.0).abs() < 1e-6, "{pauses:?}");
        assert!(pauses[0].reason.contains("clinical use"), "{pauses:?}");
        let events = events.into_inner().unwrap();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].starts_with("Paused"));
        // Within the interval the gate is not asked again, even if the state changed.
        std::fs::write(dir.path().join("state"), "in-use").unwrap();
        pacer.checkpoint(Path::new("/g"), false, &|_| {});
        assert_eq!(pacer.pauses().len(), 1);
    }
}
