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

    #[test]
    fn an_open_gate_grants() {
        assert!(ClinicalGate::open().is_open());
        assert!(matches!(
            ClinicalGate::open().permits(datetime!(2026-11-23 12:00 UTC)),
            Permission::Granted
        ));
    }
}
