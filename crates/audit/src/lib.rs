//! The tamper-evident audit trail: a hash-chained, append-only log of audit events with
//! signed checkpoints, crash recovery, verification, queries and detection rules.
//!
//! This crate owns the audit event model (DICOM PS3.15 A.5 aligned), its storage in a log
//! directory and the judgement of its integrity. It must not print, read the wall clock
//! outside a [`Clock`], or talk to the network: forwarding to syslog and DICOM audit
//! repositories lives in `medguard-atna` and reads stored records through
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
pub mod clock;
pub mod detect;
mod error;
pub mod event;
pub mod export;
pub mod forward;
pub mod ingest;
pub mod log;
pub mod query;
pub mod record;
pub mod segment;
pub mod verify;

pub use checkpoint::{CHECKPOINT_CONTEXT, Checkpoint};
pub use clock::{Clock, FixedClock, SystemClock};
pub use detect::{
    Alert, Detection, DetectionRule, Detector, RuleCondition, RuleError, RuleSet, detect,
};
pub use error::AuditError;
pub use event::{
    ActionCode, ActiveParticipant, AuditEvent, AuditSource, Code, EventInput, EventKind,
    NetworkAccessPointType, ObjectDetail, ObjectType, Outcome, ParticipantObject,
};
pub use ingest::{IngestError, IngestSummary, RejectedLine, ingest_json_lines};
pub use log::{
    AuditLog, AuditWriter, PendingAppend, Records, Recovery, StoredRecord, WriterOptions,
};
pub use query::Query;
pub use record::ChainDigest;
pub use verify::{Problem, ProblemKind, Severity, VerifyReport, verify};
