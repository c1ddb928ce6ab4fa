//! The agent's tasks, as conversions: each runs one capability library and turns what it
//! found into that report's `medguard-proto` body. They queue nothing and record nothing
//! ([`crate::Agent`] does), so each can be called and tested alone.

pub mod allowlist;
pub mod audit;
pub mod install;
pub mod inventory;
pub mod scan;
pub mod verify;
