//! The device side of the fleet protocol: the agent's library.
//!
//! A device enrolls once ([`enroll()`]): it makes its own Ed25519 key in its state directory
//! (the same file is the `medguard-digest` signing key of its audit log), sends a certificate
//! request with a one-time token, and keeps the short-lived client certificate, the pinned
//! CA and its device id ([`StateDir`], [`Enrollment`]); it renews the certificate before
//! `renew_after` ([`Agent::renew_if_due`]).
//!
//! An [`Agent`] then runs tasks, each callable alone so the daemon (issue 16) can schedule
//! them: profile verification, inventory and listening services, malware scan, allowlist
//! state, upload of its own signed audit log, and its own health. Each task turns what a
//! capability library found into its `medguard-proto` report and writes it durably to the
//! [`Outbox`] (SQLite in the state directory, synchronous commits) before anything is sent.
//! [`Agent::send`] then sends the queue in sequence order over mutual TLS and removes each
//! report only once the server acknowledged it (stored or duplicate); a report the server
//! refuses is kept aside with the problem and reported, never dropped. [`report_once`] is
//! `medguard agent report`: every task once, then send; [`run_daemon`] is `medguard agent
//! run`: each task on its own schedule, sending and checking in after each round.
//!
//! [`simulate`] runs many simulated devices in one process against a server, for the
//! server's benchmark and the daemon's soak test.
//!
//! This crate owns the device's protocol state (key, certificate, sequence numbers, queue,
//! cursors into audit logs) and the conversion of library results into reports. It must not
//! judge what it finds (the server computes status and findings), must not print (the binary
//! does), and must not open a listening port: the device pulls.
//!
//! Dependencies: `reqwest` over rustls with `medguard-pki`'s pinned-CA client settings (no
//! platform trust store: the agent trusts its fleet's CA and nothing else), and `hyper`
//! (already beneath reqwest, no features of its own) only to tell an answer that is not HTTP
//! from an unreachable server among reqwest's causes; `rusqlite`
//! (bundled SQLite, already in the build for the RPM database) for the outbox, because a
//! queue that survives power loss needs atomic multi-row updates (a report and the audit
//! cursor it advances commit together), which SQLite gives in one transaction; `tokio` for
//! the simulator's thousands of concurrent devices; `sd-notify` for systemd's readiness and
//! watchdog protocol (why: [`systemd`]).
#![forbid(unsafe_code)]

pub mod config;
pub mod daemon;
mod enroll;
mod error;
mod events;
mod gap;
pub mod outbox;
mod run;
mod send;
pub mod simulate;
mod state;
pub mod systemd;
pub mod tasks;
mod text;
pub mod transport;

pub use config::{AgentConfig, ConfigError};
pub use daemon::{DaemonOptions, DaemonSummary, Round, run_daemon};
pub use enroll::{EnrollOptions, EnrollOutcome, device_facts, enroll};
pub use error::AgentError;
pub use outbox::{
    Cursor, CursorMove, Outbox, OutboxError, QueueStats, QueuedReport, RefusedReport,
};
pub use run::{Agent, ReportOptions, RunSummary, ScanPolicy, TaskResult, TaskStatus, report_once};
pub use send::SendSummary;
pub use state::{CertificateRecord, Enrollment, StateDir};
pub use systemd::{ServiceManager, ServiceNotify};
pub use transport::{SendError, ServerLink, Timeouts};

/// The agent's version, sent in enrollment facts and health reports.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
