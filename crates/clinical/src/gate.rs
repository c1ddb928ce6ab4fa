//! The one question intrusive work asks before it starts: may I, now?
//!
//! [`ClinicalGate`] combines the maintenance window and the clinical-state provider. It fails
//! safe: an unreadable provider refuses, like "in use". It answers for one instant; waiting,
//! pausing or giving up is the caller's policy.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::{ClinicalError, ClinicalState, ClinicalStateSource, MaintenanceWindow};

/// How long a provider may take to answer unless the caller says otherwise.
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);

/// The device's rules for intrusive work: a state provider, a window, or both.
#[derive(Debug, Clone)]
pub struct ClinicalGate {
    source: Option<ClinicalStateSource>,
    window: Option<MaintenanceWindow>,
    timeout: Duration,
}

/// The gate's answer.
#[derive(Debug)]
pub enum Permission {
    /// Intrusive work may start now.
    Granted,
    /// It may not, and this is why.
    Refused(Refusal),
}

/// Intrusive work under way: holds the `lock:` provider's lock (if that is the provider)
/// until dropped.
#[derive(Debug)]
#[must_use = "dropping the hold releases the clinical lock"]
pub struct ClinicalHold {
    lock: Option<std::fs::File>,
}

impl ClinicalHold {
    /// Whether this hold keeps a clinical lock taken.
    pub fn holds_lock(&self) -> bool {
        self.lock.is_some()
    }
}

/// Why intrusive work may not start now.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refusal {
    /// The provider says a patient session is running.
    InClinicalUse {
        /// The provider, as its spec.
        source: String,
    },
    /// The clock is outside the maintenance window.
    OutsideWindow {
        /// The window, as its spec.
        window: String,
        /// When it next opens, if ever.
        next_opening: Option<OffsetDateTime>,
    },
    /// The provider could not be read; treated as "in use".
    StateUnknown(ClinicalError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::InClinicalUse { source } => {
                write!(f, "the device is in clinical use (according to {source})")
            }
            Refusal::OutsideWindow {
                window,
                next_opening,
            } => {
                write!(f, "outside the maintenance window {window:?}")?;
                if let Some(at) = next_opening {
                    let at = at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_else(|_| at.to_string());
                    write!(f, ", which next opens at {at}")?;
                }
                Ok(())
            }
            Refusal::StateUnknown(error) => {
                write!(
                    f,
                    "the clinical state is unknown, so the device counts as in use: {error}"
                )
            }
        }
    }
}

impl ClinicalGate {
    /// A gate with neither provider nor window: it always grants. Only for lab use and for
    /// devices whose operator takes the decision by starting the command.
    pub fn open() -> ClinicalGate {
        ClinicalGate {
            source: None,
            window: None,
            timeout: DEFAULT_PROVIDER_TIMEOUT,
        }
    }

    /// A gate from an optional provider and an optional window.
    pub fn new(source: Option<ClinicalStateSource>, window: Option<MaintenanceWindow>) -> Self {
        ClinicalGate {
            source,
            window,
            timeout: DEFAULT_PROVIDER_TIMEOUT,
        }
    }

    /// How long the provider may take to answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The provider, if any.
    pub fn source(&self) -> Option<&ClinicalStateSource> {
        self.source.as_ref()
    }

    /// The window, if any.
    pub fn window(&self) -> Option<&MaintenanceWindow> {
        self.window.as_ref()
    }

    /// Whether the gate checks anything at all.
    pub fn is_open(&self) -> bool {
        self.source.is_none() && self.window.is_none()
    }

    /// May intrusive work start at `now`? The window is checked first: outside it, the
    /// provider is not even asked.
    pub fn permits(&self, now: OffsetDateTime) -> Permission {
        if let Some(window) = &self.window
            && !window.contains(now)
        {
            return Permission::Refused(Refusal::OutsideWindow {
                window: window.to_string(),
                next_opening: window.next_opening(now),
            });
        }
        self.may_continue()
    }

    /// Starts intrusive work at `now` if the gate permits it, and returns what must be kept
    /// until the work ends. With a `lock:` provider the lock is taken here (without
    /// waiting: taken by someone else means in use) and held by the returned
    /// [`ClinicalHold`], so no clinical procedure can start until it is dropped; the other
    /// providers are asked as [`permits`](Self::permits) does.
    ///
    /// # Errors
    /// The [`Refusal`], as `permits` gives it.
    pub fn begin(&self, now: OffsetDateTime) -> Result<ClinicalHold, Refusal> {
        let Some(ClinicalStateSource::Lock(path)) = &self.source else {
            return match self.permits(now) {
                Permission::Granted => Ok(ClinicalHold { lock: None }),
                Permission::Refused(r) => Err(r),
            };
        };
        if let Some(window) = &self.window
            && !window.contains(now)
        {
            return Err(Refusal::OutsideWindow {
                window: window.to_string(),
                next_opening: window.next_opening(now),
            });
        }
        let source = ClinicalStateSource::Lock(path.clone());
        match source.try_lock(path) {
            Ok(Some(file)) => Ok(ClinicalHold { lock: Some(file) }),
            Ok(None) => Err(Refusal::InClinicalUse {
                source: source.to_string(),
            }),
            Err(error) => Err(Refusal::StateUnknown(error)),
        }
    }

    /// Whether work started with [`begin`](Self::begin) may go on: granted while `hold`
    /// holds the lock (nobody can have started a procedure), otherwise as
    /// [`may_continue`](Self::may_continue).
    pub fn may_continue_holding(&self, hold: &ClinicalHold) -> Permission {
        if hold.lock.is_some() {
            Permission::Granted
        } else {
            self.may_continue()
        }
    }

    /// Whether work that has started may go on: only the provider is asked, because a
    /// window limits when work *starts*, and stopping a half-done install at the end of a
    /// window would be worse than finishing it.
    pub fn may_continue(&self) -> Permission {
        match &self.source {
            None => Permission::Granted,
            Some(source) => match source.read(self.timeout) {
                Ok(ClinicalState::Idle) => Permission::Granted,
                Ok(ClinicalState::InUse) => Permission::Refused(Refusal::InClinicalUse {
                    source: source.to_string(),
                }),
                Err(error) => Permission::Refused(Refusal::StateUnknown(error)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;
    use time::macros::datetime;

    #[test]
    fn window_then_state_and_fail_safe() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let gate = ClinicalGate::new(
            Some(ClinicalStateSource::File(state.clone())),
            Some("22:00-06:00".parse().unwrap()),
        );
        let night = datetime!(2026-11-23 23:00 UTC);
        let day = datetime!(2026-11-23 12:00 UTC);

        // No state file: unknown counts as in use.
        assert!(matches!(
            gate.permits(night),
            Permission::Refused(Refusal::StateUnknown(_))
        ));
        std::fs::write(&state, "in-use").unwrap();
        assert!(matches!(
            gate.permits(night),
            Permission::Refused(Refusal::InClinicalUse { .. })
        ));
        std::fs::write(&state, "idle").unwrap();
        assert!(matches!(gate.permits(night), Permission::Granted));
        match gate.permits(day) {
            Permission::Refused(r @ Refusal::OutsideWindow { .. }) => {
                assert!(r.to_string().contains("2026-11-23T22:00:00Z"), "{r}");
            }
            other => panic!("{other:?}"),
        }
        // Work that started in the window may go on after it closes, while idle.
        assert!(matches!(gate.may_continue(), Permission::Granted));
        std::fs::write(&state, "in-use").unwrap();
        assert!(matches!(gate.may_continue(), Permission::Refused(_)));
    }

    /// A `lock:` provider: free is idle, held by another process is in use; `begin` holds
    /// the lock, so another process cannot take it until the hold is dropped.
    #[test]
    fn a_lock_provider_is_held_for_the_whole_work() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("clinical.lock");
        let gate = ClinicalGate::new(Some(ClinicalStateSource::Lock(lock.clone())), None);
        let now = datetime!(2026-11-23 23:00 UTC);
        assert!(matches!(gate.permits(now), Permission::Granted));
        // Another process holds it: in use.
        // In its own process group, so that flock(1) and the command it runs (which
        // inherits the locked descriptor) die together.
        let mut holder = std::process::Command::new("flock")
            .arg(&lock)
            .args(["sleep", "30"])
            .process_group(0)
            .spawn()
            .expect("flock(1) from util-linux is installed");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(gate.permits(now), Permission::Granted) {
            assert!(
                std::time::Instant::now() < deadline,
                "flock(1) never took the lock"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(matches!(
            gate.permits(now),
            Permission::Refused(Refusal::InClinicalUse { .. })
        ));
        assert!(matches!(
            gate.begin(now),
            Err(Refusal::InClinicalUse { .. })
        ));
        let killed = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", holder.id())])
            .status()
            .unwrap();
        assert!(killed.success());
        holder.wait().unwrap();
        // Free again once the killed `sleep` (which inherited the locked descriptor) has
        // exited too: reaping flock(1) does not wait for it, so poll as when it was taken.
        // Then begin takes it and keeps it; another process cannot take it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let hold = loop {
            match gate.begin(now) {
                Ok(hold) => break hold,
                Err(Refusal::InClinicalUse { .. }) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the lock was never released after its holder was killed"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("{e:?}"),
            }
        };
        assert!(hold.holds_lock());
        assert!(matches!(
            gate.may_continue_holding(&hold),
            Permission::Granted
        ));
        let other = std::process::Command::new("flock")
            .arg("-n")
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap();
        assert_eq!(other.code(), Some(1), "another process took the held lock");
        drop(hold);
        let other = std::process::Command::new("flock")
            .arg("-n")
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap();
        assert!(other.success(), "the lock was not released with the hold");
    }

    #[test]
    fn an_open_gate_grants() {
        assert!(ClinicalGate::open().is_open());
        assert!(matches!(
            ClinicalGate::open().permits(datetime!(2026-11-23 12:00 UTC)),
            Permission::Granted
        ));
    }
}
