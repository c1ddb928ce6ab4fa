//! The tamper-evident audit trail: a hash-chained, append-only log of audit events with
//! signed checkpoints, crash recovery, verification, queries and detection rules.
//!
//! This crate owns the audit event model (DICOM PS3.15 A.5 aligned), its storage in a log
//! directory and the judgement of its integrity. It must not print, read the wall clock
//! outside a [`Clock`], or talk to the network: appending an event needs no network code,
//! so the allowlist enforcer and the installer record events without linking a TLS stack.
//! Export and forwarding to syslog and DICOM audit repositories live in `medguard-atna`
//! (which depends on this crate, never the reverse) and read stored records through
//! [`AuditLog::records_from`].
//!
//! ```no_run
//! # fn main() -> Result<(), medguard_audit::AuditError> {
//! use medguard_audit::{AuditLog, AuditWriter, EventInput, WriterOptions};
//! let dir = std::path::Path::new("/var/lib/medguard/audit");
//! let writer = AuditWriter::open(dir, WriterOptions::default())?;
//! let input = EventInput::parse(r#"{"type":"login-failure","user":"alice"}"#).unwrap();
//! let seq = writer.append(&input.into_event(time::OffsetDateTime::now_utc(), "pacs1"))?;
//! for record in AuditLog::open(dir)?.records_from(seq)? {
//!     println!("{}", record?.event.kind);
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod detect;
mod error;
pub mod event;
pub mod ingest;
pub mod log;
pub mod query;
pub mod record;
pub mod segment;
pub mod verify;

pub use checkpoint::{CHECKPOINT_CONTEXT, Checkpoint};
pub use detect::{
    Alert, DetectState, Detection, DetectionRule, Detector, Position, Restart, RuleCondition,
    RuleError, RuleSet, default_state_path, detect, detect_from,
};
pub use error::AuditError;
pub use event::{
    ActionCode, ActiveParticipant, AuditEvent, AuditSource, Code, EventInput, EventKind,
    NetworkAccessPointType, ObjectDetail, ObjectType, Outcome, ParticipantObject,
};
pub use ingest::{IngestError, IngestSummary, RejectedLine, ingest_json_lines};
pub use log::{
    AuditLog, AuditWriter, CHECKPOINT_EVERY, PendingAppend, Records, Recovery, StoredRecord,
    WriterOptions,
};
/// The one clock of `medguard-host`, re-exported because [`WriterOptions`] and
/// [`ingest_json_lines`] take it.
pub use medguard_host::{Clock, FixedClock, ManualClock, SystemClock};
pub use query::Query;
pub use record::ChainDigest;
pub use verify::{
    KnownCheckpoint, KnownCheckpointError, Problem, ProblemKind, Severity, Verdict, VerifyReport,
    verify, verify_against,
};
