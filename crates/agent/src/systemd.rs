//! The agent under systemd (`Type=notify`): `READY=1` once the agent has opened its state
//! (before the first round, so a long verification at start does not count against
//! `TimeoutStartSec=`), `WATCHDOG=1` keep-alives at half of `WATCHDOG_USEC` while the daemon
//! loop is healthy, a `STATUS=` line after each round, and `STOPPING=1` when it stops.
//!
//! # When the watchdog is fed
//! systemd restarts the agent when the keep-alives stop, so they must stop exactly when the
//! agent is stuck, and never while it does legitimately long work:
//! - The loop thread pings between rounds and between the tasks of a round, and naps no
//!   longer than half the watchdog interval ([`ServiceManager::keep_alive`]). A round stuck in
//!   a task without progress (a hung filesystem read, a deadlock) stops the pings.
//! - During a verification, a helper thread pings only while the verification's progress
//!   counters move ([`Cover::WhileAdvancing`]): a verification reading a large root is fed, one
//!   stuck on one file is not.
//! - During a scan or an install, the helper pings for as long as the task runs
//!   ([`Cover::Always`]): both wait, by design, for as long as the device is in clinical use
//!   (the scan's pacer, the install's idle gate), which can last hours, and both bound their own
//!   I/O (the scan's byte rate, the transport's timeouts). A watchdog that killed them would
//!   restart the same task into the same wait, forever.
//!
//! # Why the `sd-notify` crate
//! The protocol is one datagram to the socket named by `NOTIFY_SOCKET`. `sd-notify` is a few
//! hundred lines, pure Rust over the standard library's Unix sockets (its only dependency is
//! `libc`, already in the build), no `unsafe` on the paths used here, handles abstract socket
//! names and `WATCHDOG_PID`, and is the crate the Rust systemd ecosystem uses; linking
//! `libsystemd` would add a C library to a static-leaning binary, and hand-written socket code
//! would repeat it with fewer eyes on it.
//!
//! Without `NOTIFY_SOCKET` (not started by systemd, or `Type=` other than `notify`) every call
//! is a no-op. Children the agent starts inherit the variable; systemd's default
//! `NotifyAccess=main` ignores what they send.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use medguard_profile::Progress;
use sd_notify::NotifyState;

/// Whether [`crate::run_daemon`] talks to systemd. The default is off: only the binary, which
/// knows it is the service's main process, turns it on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServiceNotify {
    /// No notifications.
    #[default]
    Off,
    /// Notify the socket named by `NOTIFY_SOCKET`, feed the watchdog of `WATCHDOG_USEC`
    /// (when `WATCHDOG_PID` is unset or this process).
    FromEnvironment,
}

/// A notification could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// Sending the datagram failed (the socket is gone or refuses it).
    #[error("notifying systemd ({what}): {source}")]
    Send {
        /// The state sent (`READY=1`, ...).
        what: &'static str,
        /// The socket error.
        source: std::io::Error,
    },
}

/// The service manager's side: notifications and the watchdog. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ServiceManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    enabled: bool,
    /// Half of `WATCHDOG_USEC`: how often to ping.
    ping_every: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

/// What keeps the watchdog fed while a task runs (see the module's documentation).
#[derive(Debug, Clone)]
pub enum Cover {
    /// Ping only while these counters move.
    WhileAdvancing(Arc<Progress>),
    /// Ping for as long as the task runs (it paces and bounds itself).
    Always,
}

impl ServiceManager {
    /// As `notify` says: [`ServiceNotify::Off`] gives a manager whose calls do nothing.
    #[must_use]
    pub fn new(notify: ServiceNotify) -> Self {
        let (enabled, watchdog) = match notify {
            ServiceNotify::Off => (false, None),
            ServiceNotify::FromEnvironment => (
                std::env::var_os("NOTIFY_SOCKET").is_some(),
                sd_notify::watchdog_enabled(),
            ),
        };
        Self {
            inner: Arc::new(Inner {
                enabled,
                ping_every: watchdog
                    .filter(|_| enabled)
                    .map(|w| (w / 2).max(Duration::from_millis(1))),
                last_ping: Mutex::new(None),
            }),
        }
    }

    /// How often the watchdog wants a ping (half of `WATCHDOG_USEC`), if it is on.
    #[must_use]
    pub fn ping_every(&self) -> Option<Duration> {
        self.inner.ping_every
    }

    fn send(&self, what: &'static str, states: &[NotifyState<'_>]) -> Result<(), NotifyError> {
        if !self.inner.enabled {
            return Ok(());
        }
        sd_notify::notify(states).map_err(|source| NotifyError::Send { what, source })
    }

    /// `READY=1`: start-up is done.
    ///
    /// # Errors
    /// [`NotifyError`] when the datagram cannot be sent.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send("READY=1", &[NotifyState::Ready])?;
        self.ping();
        Ok(())
    }

    /// `STATUS=...`: one line for `systemctl status`.
    ///
    /// # Errors
    /// [`NotifyError`] when the datagram cannot be sent.
    pub fn status(&self, line: &str) -> Result<(), NotifyError> {
        self.send("STATUS", &[NotifyState::Status(line)])
    }

    /// `STOPPING=1`: the daemon is shutting down.
    ///
    /// # Errors
    /// [`NotifyError`] when the datagram cannot be sent.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send("STOPPING=1", &[NotifyState::Stopping])
    }

    /// Pings the watchdog if half its interval has passed since the last ping. A failed ping
    /// is not reported: the watchdog itself acts on it.
    pub fn keep_alive(&self) {
        let Some(every) = self.inner.ping_every else {
            return;
        };
        let due = self
            .inner
            .last_ping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none_or(|at| at.elapsed() >= every);
        if due {
            self.ping();
        }
    }

    fn ping(&self) {
        if self.inner.ping_every.is_none() {
            return;
        }
        if self.send("WATCHDOG=1", &[NotifyState::Watchdog]).is_ok() {
            *self
                .inner
                .last_ping
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
    }

    /// Keeps the watchdog fed as `cover` says until the guard is dropped (a helper thread; none
    /// when the watchdog is off).
    #[must_use]
    pub fn cover(&self, cover: Cover) -> CoverGuard {
        let Some(every) = self.inner.ping_every else {
            return CoverGuard { stop: None };
        };
        let stop = Arc::new(AtomicBool::new(false));
        let manager = self.clone();
        let flag = stop.clone();
        let step = (every / 4).clamp(Duration::from_millis(1), Duration::from_millis(250));
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                let count = |c: &Cover| match c {
                    Cover::WhileAdvancing(p) => Some(p.entries().wrapping_add(p.bytes())),
                    Cover::Always => None,
                };
                let mut seen = count(&cover);
                let mut since = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(step);
                    if since.elapsed() < every {
                        continue;
                    }
                    since = Instant::now();
                    let now = count(&cover);
                    if now.is_none() || now != seen {
                        manager.keep_alive();
                    }
                    seen = now;
                }
            })
            .ok();
        CoverGuard {
            stop: thread.map(|t| (stop, t)),
        }
    }
}

/// Ends a [`ServiceManager::cover`] when dropped.
#[derive(Debug)]
pub struct CoverGuard {
    stop: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Drop for CoverGuard {
    fn drop(&mut self) {
        if let Some((flag, thread)) = self.stop.take() {
            flag.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn off_sends_nothing_and_has_no_watchdog() {
        let m = ServiceManager::new(ServiceNotify::Off);
        assert!(m.ping_every().is_none());
        m.ready().unwrap();
        m.keep_alive();
        drop(m.cover(Cover::Always));
        m.stopping().unwrap();
    }
}
