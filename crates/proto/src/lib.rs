//! The wire protocol between a medguard device agent and the fleet server.
//!
//! A device enrolls once with a one-time token and a certificate request made from its own key
//! ([`EnrollRequest`] → [`EnrollResponse`]); from then on it talks to the server over mutually
//! authenticated TLS: it sends [`ReportBatch`]es (each [`Report`] carrying the device's own
//! sequence number, so a retry or a replay is acknowledged and never stored twice), renews its
//! short-lived certificate ([`RenewRequest`]) and fetches its commands by checking in
//! ([`CheckinRequest`] → [`CheckinResponse`]); the device opens no listening port. Errors are
//! RFC 9457 problem documents ([`Problem`]) with a stable machine-readable [`Problem::code`].
//!
//! Paths are under `/api/v1` ([`paths`]); bodies are JSON.
//!
//! This crate owns the shapes and the limits of what crosses the wire, and the one parser of
//! it that both sides use ([`parse`]): every value that exists after parsing is within its
//! [`limits`] and internally consistent (a batch's sequence numbers rise, a device id is a
//! UUID). It must not know HTTP, TLS, storage or policy: whether a report is stale, a token
//! spent or a certificate revoked is the server's decision, not a parse error.
//!
//! Device input is untrusted: the server parses every body with [`parse`], which never
//! panics and refuses anything over its limits with a typed [`ProtoError`].
#![forbid(unsafe_code)]

mod checkin;
mod enroll;
mod ids;
pub mod limits;
mod problem;
mod report;
mod validate;

pub use checkin::{CheckinRequest, CheckinResponse, Command, CommandKind};
pub use enroll::{DeviceFacts, EnrollRequest, EnrollResponse, IssuedCertificate, RenewRequest};
pub use ids::{DeviceId, EnrollmentToken};
pub use problem::{Problem, codes};
pub use report::{
    AgentHealth, AllowlistMode, AllowlistReport, AuditRecord, AuditUpload, BundleRef,
    ClinicalReading, ClinicalStateReading, Denial, DenialDecision, DeviationKind, DeviationRecord,
    InstallOutcome, InstallReport, InventoryReport, Listener, MalwareEngine, MalwareFinding,
    PackageRef, ProfileRef, QueueHealth, Report, ReportAck, ReportBatch, ReportBody, ReportKind,
    ReportOutcome, ReportReceipt, ScanReport, ScanScope, SelfTestResult, ServicesReport,
    TaskHealth, TransportProtocol, UnverifiablePath, Verification, VerificationOutcome,
    VerificationSummary, WaitingFor,
};
pub use validate::{Invalid, Validate};

/// The API paths, relative to the server's base URL.
pub mod paths {
    /// Enrollment (no client certificate; the token authenticates).
    pub const ENROLL: &str = "/api/v1/enroll";
    /// Certificate renewal (client certificate).
    pub const RENEW: &str = "/api/v1/device/certificate";
    /// Report upload (client certificate).
    pub const REPORTS: &str = "/api/v1/device/reports";
    /// Check-in: commands for the device (client certificate).
    pub const CHECKIN: &str = "/api/v1/device/checkin";
    /// The media type of every request and answer body but problems.
    pub const JSON: &str = "application/json";
    /// The media type of problem documents (RFC 9457).
    pub const PROBLEM_JSON: &str = "application/problem+json";
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// Larger than the limit for its kind.
    #[error("body of {actual} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The body's size.
        actual: usize,
    },
    /// Not JSON, or not of the expected shape (wrong type, missing or unknown field).
    #[error("malformed JSON at line {line}, column {column}: {reason}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser said.
        reason: String,
    },
    /// Well-formed, but a value breaks a rule of the protocol.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// Parses and validates one body: at most `limit` bytes of JSON of type `T`, every value
/// within its limits.
///
/// # Errors
/// [`ProtoError`] saying what is wrong and where; never panics.
pub fn parse<T>(body: &[u8], limit: usize) -> Result<T, ProtoError>
where
    T: serde::de::DeserializeOwned + Validate,
{
    if body.len() > limit {
        return Err(ProtoError::TooLarge {
            limit,
            actual: body.len(),
        });
    }
    let value: T = serde_json::from_slice(body).map_err(|e| ProtoError::Malformed {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    value.validate()?;
    Ok(value)
}
