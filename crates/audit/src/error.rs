//! The audit crate's error type. Every variant names the file (and where it matters the
//! byte offset and record seq) so an operator can find the problem with a hex editor.

use std::path::PathBuf;
use std::sync::Arc;

/// Errors of the audit trail library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file or directory could not be read or written (a full disk lands here).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A segment holds bytes that are not a valid record at `offset`, and they are not a
    /// torn tail that recovery may cut.
    #[error("{path}: corrupt at byte offset {offset}{}: {reason}", seq.map(|s| format!(" (record seq {s})")).unwrap_or_default())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad frame.
        offset: u64,
        /// The seq of the bad record, when its header was readable.
        seq: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// An event serialises to more than [`crate::record::MAX_PAYLOAD`] bytes.
    #[error("event too large: {bytes} bytes")]
    EventTooLarge {
        /// Its size.
        bytes: usize,
    },
    /// An event could not be serialised or a stored one parsed.
    #[error("{path}: record seq {seq} at byte offset {offset}: event JSON: {source}")]
    EventJson {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// The record seq.
        seq: u64,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An event could not be serialised.
    #[error("cannot serialise event: {0}")]
    Serialise(#[source] serde_json::Error),
    /// A checkpoint line could not be parsed.
    #[error("{path}: line {line}: malformed checkpoint: {reason}")]
    BadCheckpointLine {
        /// The checkpoint file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A detection state file that this version did not write (or that was damaged).
    #[error(
        "{path}: not a detection state this medguard wrote ({reason}); delete it to run detection over the whole log"
    )]
    DetectState {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The writer was closed or poisoned by a panic in another thread.
    #[error("audit writer is unusable: {0}")]
    Unusable(&'static str),
    /// The batch this append belonged to failed; the leader's error is shared.
    #[error(transparent)]
    Batch(Arc<AuditError>),
}

impl From<medguard_host::WriteError> for AuditError {
    fn from(e: medguard_host::WriteError) -> Self {
        Self::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
