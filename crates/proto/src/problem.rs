//! Errors as RFC 9457 problem documents (`application/problem+json`).
//!
//! `code` is medguard's stable, machine-readable name for the problem: an agent decides by
//! it (retry later, re-enroll, drop a refused report), never by the human-readable title.

use serde::{Deserialize, Serialize};

use crate::validate::{self, Invalid, Validate};

/// A problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type (`urn:medguard:problem:CODE`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short, human-readable summary of the type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time, as far as the client may know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The stable machine-readable code (one of [`codes`]).
    pub code: String,
}

impl Problem {
    /// A problem of `code` with HTTP `status`.
    #[must_use]
    pub fn new(code: &str, status: u16, title: impl Into<String>) -> Self {
        Self {
            problem_type: format!("urn:medguard:problem:{code}"),
            title: title.into(),
            status,
            detail: None,
            instance: None,
            code: code.to_owned(),
        }
    }

    /// With what happened this time.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// With the request path.
    #[must_use]
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }
}

impl Validate for Problem {
    fn validate(&self) -> Result<(), Invalid> {
        validate::name("type", &self.problem_type, 1024)?;
        validate::prose("title", &self.title, 1024)?;
        validate::opt_prose("detail", self.detail.as_ref(), 16 << 10)?;
        validate::opt_name("instance", self.instance.as_ref(), 4096)?;
        validate::required("code", &self.code, 128)
    }
}

/// The stable problem codes.
pub mod codes {
    /// The body is over its size limit (413).
    pub const BODY_TOO_LARGE: &str = "body-too-large";
    /// The body is not JSON of the expected shape (400).
    pub const MALFORMED: &str = "malformed";
    /// The body breaks a rule of the protocol (422).
    pub const INVALID: &str = "invalid";
    /// The enrollment token is unknown (401).
    pub const TOKEN_UNKNOWN: &str = "enrollment-token-unknown";
    /// The enrollment token has expired (401).
    pub const TOKEN_EXPIRED: &str = "enrollment-token-expired";
    /// The enrollment token has no uses left (401).
    pub const TOKEN_SPENT: &str = "enrollment-token-spent";
    /// The certificate request is malformed or its signature is wrong (422).
    pub const BAD_CSR: &str = "bad-certificate-request";
    /// The request needs a client certificate and has none (401).
    pub const CERTIFICATE_REQUIRED: &str = "client-certificate-required";
    /// The client certificate names no device this server knows (403).
    pub const UNKNOWN_DEVICE: &str = "unknown-device";
    /// The device was revoked: re-enroll it (403).
    pub const DEVICE_REVOKED: &str = "device-revoked";
    /// The certificate was superseded or revoked (403).
    pub const CERTIFICATE_REVOKED: &str = "certificate-revoked";
    /// The client certificate was not issued by this server's CA, has expired, or names no
    /// device (401).
    pub const CERTIFICATE_REFUSED: &str = "client-certificate-refused";
    /// A report is older than one already stored and is not a retry of it (409).
    pub const STALE_REPORT: &str = "stale-report";
    /// A report reuses a stored sequence number with different content (409).
    pub const SEQUENCE_CONFLICT: &str = "sequence-conflict";
    /// An audit upload does not continue the chain the server holds (409).
    pub const AUDIT_CHAIN_BROKEN: &str = "audit-chain-broken";
    /// Authentication is missing or wrong (401).
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Authenticated, but not allowed (403).
    pub const FORBIDDEN: &str = "forbidden";
    /// No such resource (404).
    pub const NOT_FOUND: &str = "not-found";
    /// A sign-in was refused: wrong name, passphrase or code, said alike for each (401).
    pub const LOGIN_FAILED: &str = "login-failed";
    /// The session ended (idle too long, lifetime over, signed out) (401).
    pub const SESSION_ENDED: &str = "session-ended";
    /// A change from a browser session without its CSRF token (403).
    pub const CSRF: &str = "csrf-token-mismatch";
    /// Too many failed sign-ins: wait (429, with Retry-After).
    pub const THROTTLED: &str = "throttled";
    /// The request conflicts with the current state (a name taken, a review twice) (409).
    pub const CONFLICT: &str = "conflict";
    /// The server cannot serve now; try again later (503).
    pub const UNAVAILABLE: &str = "unavailable";
    /// Something failed on the server (500).
    pub const INTERNAL: &str = "internal";
}
