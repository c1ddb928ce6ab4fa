//! Executable allowlisting: which executables, shared libraries and scripts may run on a
//! device, derived from its signed system profile, and its enforcement by the kernel.
//!
//! This crate owns the allowlist document (a signed text file, see [`list`]), building it
//! from a verified profile plus vendor rules ([`build`]), judging one file against it
//! ([`check`]), and answering Linux fanotify permission events with it ([`enforce`]).
//! It must not print, must not trust a list read from disk (only
//! [`UnverifiedAllowlist::verify`] makes a [`VerifiedAllowlist`]), and its enforcer must
//! never leave a permission event unanswered: a host whose exec waits on a stuck reader is
//! a frozen device next to a patient.
#![forbid(unsafe_code)]

pub mod build;
pub mod check;
pub mod enforce;
pub mod list;
pub mod rules;
