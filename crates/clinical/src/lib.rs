//! Whether a device is in clinical use, and when maintenance may happen.
//!
//! Anything intrusive that medguard does on a device (installing a patch, scanning at full
//! speed, rebooting) must wait until the device says it is not in clinical use and the clock
//! is inside a maintenance window. This crate owns those two questions and nothing else:
//!
//! - [`ClinicalStateSource`]: the provider the vendor configures (`file:PATH`, `socket:PATH`,
//!   `cmd:COMMAND` or `lock:PATH`) and how to read a [`ClinicalState`] from it.
//! - [`MaintenanceWindow`]: when maintenance may start (`Mon-Fri 22:00-06:00 +01:00`).
//! - [`ClinicalGate`]: both together, answering "may intrusive work start now?" with a
//!   [`Permission`] that says why not; [`ClinicalGate::begin`] also holds a `lock:`
//!   provider's lock for as long as the work runs ([`ClinicalHold`]).
//!
//! It fails safe: a provider that cannot be read, answers something unknown or takes too long
//! counts as "in clinical use". It must not decide *what* to do while the device is in use
//! (wait, give up, pause): that is the caller's policy, so the installer and the scanner can
//! differ.

#![forbid(unsafe_code)]

mod gate;
mod state;
mod window;

pub use gate::{ClinicalGate, ClinicalHold, Permission, Refusal};
pub use state::{ClinicalError, ClinicalState, ClinicalStateSource};
pub use window::{MaintenanceWindow, WindowError};
