//! The agent's one error type.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::outbox::OutboxError;
use crate::transport::SendError;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration file was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or directory of the agent could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file of the state directory is not what the agent wrote.
    #[error("{path}: {reason}")]
    StateCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The state directory holds no enrollment.
    #[error("{state} holds no enrollment: run `medguard agent enroll` first")]
    NotEnrolled {
        /// The state directory.
        state: PathBuf,
    },
    /// The device key could not be made or read.
    #[error("device key {path}: {source}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: medguard_digest::KeyError,
    },
    /// A certificate, certificate request or key could not be made, read or used.
    #[error("{what}: {source}")]
    Pki {
        /// What was being done.
        what: &'static str,
        /// The cause.
        #[source]
        source: medguard_pki::PkiError,
    },
    /// The server answered something that does not fit what the device asked or pins.
    #[error("the server's answer does not fit: {what}")]
    Mismatch {
        /// What does not fit.
        what: String,
    },
    /// The client certificate expired: the server will refuse it, and only a new
    /// enrollment can replace it.
    #[error("the client certificate expired at {not_after}: enroll again with a new token")]
    CertificateExpired {
        /// When it expired.
        not_after: OffsetDateTime,
    },
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// Talking to the server failed.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The agent's audit log failed.
    #[error("audit log {path}: {source}")]
    Audit {
        /// The log directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: medguard_audit::AuditError,
    },
    /// A task could not run at all.
    #[error("{task}: {reason}")]
    Task {
        /// The task.
        task: &'static str,
        /// Why.
        reason: String,
    },
}

impl AgentError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

impl From<medguard_host::WriteError> for AgentError {
    fn from(e: medguard_host::WriteError) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}
