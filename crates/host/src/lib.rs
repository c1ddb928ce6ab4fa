//! What medguard needs from the host it runs on, written once.
//!
//! Every capability crate needs a few things from the operating system that are easy to get
//! subtly wrong and must behave the same everywhere:
//!
//! - [`Clock`]: where "now" comes from and how waiting passes, so code that depends on time
//!   (TUF expiry, maintenance windows, detection windows, pacing, lockouts) is tested by
//!   moving a [`ManualClock`] instead of sleeping.
//! - [`write_atomically`]: replacing a file so that a crash, a power loss or a full disk
//!   leaves either the old file or the complete new one, never a torn one.
//! - [`run_bounded`]: running a child process (a self-test, a clinical-state probe) with a
//!   time limit, killing its whole process group when the limit passes.
//! - [`parse_duration`]: one grammar for durations in command lines and configuration files
//!   (`90s`, `15m`, `24h`, `7d`, `1h30m`).
//! - [`host_name`]: the running system's host name, as audit sources and syslog headers
//!   name it.
//!
//! This crate must not know what medguard does: no profiles, no audit events, no policy. It
//! must not print. Errors name the path or command they concern.
#![forbid(unsafe_code)]

mod clock;
mod duration;
mod file;
mod process;
mod size;
mod system;

pub use clock::{Clock, FixedClock, ManualClock, SystemClock};
pub use duration::{DurationError, format_duration, parse_duration};
pub use file::{WriteError, fsync_dir, write_atomically, write_bytes_atomically};
pub use process::{RunError, run_bounded};
pub use size::parse_byte_size;
pub use system::{UNNAMED_HOST, host_name};
