//! The one error type of this crate.
//!
//! Attacks TUF defends against each get their own variant, so a caller (and a test) can tell
//! a rollback from an expired role from a wrong signature without reading messages.

use std::path::PathBuf;

/// A TUF role, for error reports.
pub type Role = String;

/// The error beneath a [`TufError`], kept for callers walking `source()`: `tough`'s,
/// `url`'s, `hex`'s and `serde_json`'s error types differ, so it is boxed.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in the repository editor or the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key file could not be used.
    #[error("key {path}: {reason}")]
    Key {
        path: PathBuf,
        reason: String,
        /// The error that refused the key, if one did (`None` for a rule of ours).
        #[source]
        source: Option<Cause>,
    },
    /// A metadata or state file is not what it should be.
    #[error("{path}: {reason}")]
    Malformed {
        path: PathBuf,
        reason: String,
        /// The parser's error, if one found the problem (`None` for a check of ours).
        #[source]
        source: Option<Cause>,
    },
    /// A name (device model, bundle file name, role) cannot be used in a repository.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    /// The keys given cannot meet a role's threshold.
    #[error(
        "{role} role needs {needed} signature(s) but only {have} of the given keys belong to it"
    )]
    Threshold { role: Role, needed: u64, have: u64 },
    /// `repo init` on a directory that already holds a repository.
    #[error("{path} already holds a TUF repository")]
    AlreadyExists { path: PathBuf },
    /// A key to rotate out is not listed for the role.
    #[error("key {key_id} is not a {role} key")]
    KeyNotInRole { role: Role, key_id: String },

    /// Metadata is not signed by a threshold of the keys trusted for its role.
    #[error("{role} metadata is not signed by its trusted keys: {reason}")]
    BadSignature {
        role: Role,
        reason: String,
        /// The signature check's error (`tough`'s), if one refused it.
        #[source]
        source: Option<Cause>,
    },
    /// Metadata is past its expiry (a freeze attack, or an unmaintained repository).
    #[error("{role} metadata expired at {expires}")]
    Expired { role: Role, expires: String },
    /// Metadata older than what the device already trusts (a rollback or replay).
    #[error("{role} metadata version {offered} is older than trusted version {trusted}")]
    Rollback {
        role: Role,
        trusted: u64,
        offered: u64,
    },
    /// Metadata that does not match what the role above it lists (mix-and-match).
    #[error("{role} metadata does not match the snapshot: {reason}")]
    MixAndMatch { role: Role, reason: String },
    /// A downloaded file (metadata or target) is longer than its metadata says (endless data).
    #[error("{name} is longer than the {limit} bytes its metadata allows")]
    TooLong { name: String, limit: u64 },
    /// A downloaded file's hash differs from its metadata (arbitrary software).
    #[error("{name}: hash mismatch, expected {algorithm} {expected}, got {actual}")]
    HashMismatch {
        name: String,
        /// The hash algorithm as the metadata names it (`sha256`, `sha512`...).
        algorithm: String,
        expected: String,
        actual: String,
    },
    /// Metadata vouches for a file with a hash this client cannot compute, so the file
    /// cannot be checked.
    #[error("{name}: unknown hash algorithm {algorithm:?}")]
    UnknownHashAlgorithm { name: String, algorithm: String },
    /// A downloaded target is shorter than its metadata says.
    #[error("{name}: {actual} bytes, metadata says {expected}")]
    LengthMismatch {
        name: String,
        expected: u64,
        actual: u64,
    },
    /// No bundle in the repository applies to this device.
    #[error("no bundle for device model {model:?} in the repository")]
    NoApplicableBundle { model: String },
    /// The repository could not be reached or a file could not be fetched.
    #[error("fetching {url}: {reason}")]
    Transport {
        url: String,
        reason: String,
        /// The transport's (or URL parser's) error; `reason` is its message, or that of
        /// the HTTP error inside it.
        #[source]
        source: Option<Cause>,
    },
    /// The repository did not connect or answer in time (a stalled or slow-drip server):
    /// `after` is the timeout that ran out (see [`crate::Timeouts`]).
    #[error("fetching {url}: no answer within {after:?}")]
    Timeout {
        url: String,
        after: std::time::Duration,
    },
    /// Any other refusal by the TUF client.
    #[error("TUF: {reason}")]
    Refused {
        reason: String,
        /// The error beneath, if one caused the refusal (`None` for a rule of ours).
        #[source]
        source: Option<Cause>,
    },
}

impl TufError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// A refusal caused by `err`: its message as the reason, the error as the source.
    pub(crate) fn refused_by(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Refused {
            reason: err.to_string(),
            source: Some(Box::new(err)),
        }
    }

    /// A refusal by a rule of ours (no error beneath).
    pub(crate) fn refused(reason: impl ToString) -> Self {
        Self::Refused {
            reason: reason.to_string(),
            source: None,
        }
    }

    /// A file that breaks a check of ours (no error beneath).
    pub(crate) fn malformed(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Self::Malformed {
            path: path.into(),
            reason: reason.to_string(),
            source: None,
        }
    }

    /// A file a parser refused: its message as the reason, the error as the source.
    pub(crate) fn malformed_by(
        path: impl Into<PathBuf>,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Malformed {
            path: path.into(),
            reason: err.to_string(),
            source: Some(Box::new(err)),
        }
    }

    /// A key refused by `err`: its message as the reason, the error as the source.
    pub(crate) fn key_by(path: impl Into<PathBuf>, err: impl Into<Cause>) -> Self {
        let err: Cause = err.into();
        Self::Key {
            path: path.into(),
            reason: err.to_string(),
            source: Some(err),
        }
    }
}
