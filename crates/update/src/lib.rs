//! Signed patch bundles and their transactional installation (steps 5 and 6 of the patch
//! process).
//!
//! A bundle (`bundle`) carries a vendor-signed manifest, the file operations that turn a
//! validated base tree into a validated new tree, the compressed content, the base tree's
//! profile (the device must match it), the new tree's signed profile (which becomes the
//! device's integrity baseline in the same transaction), the target models and the
//! self-tests. Installing (`install`) verifies, asks the clinical gate, stages, applies
//! with a journal, runs the self-tests, and commits or rolls back; a crash at any point
//! ends, at the next run, in the old tree or the new one, never in between.
//!
//! This crate owns the bundle format and the transaction. It must not print, must not
//! decide clinical policy (`medguard-clinical`), and must not fetch anything (TUF delivery
//! is `medguard-tuf`'s; it hands a downloaded file to [`apply_bundle`]).
//!
//! Bundles carry regular files, directories, symbolic links, hard links between regular files
//! and the extended attributes `security.capability` and `user.*` (`manifest` says how). They
//! still refuse device files, FIFOs and sockets, device numbers, SELinux labels, ACLs,
//! `trusted.*` and other `security.*` attributes, and attributes of symbolic links: those are
//! the device's own policy or hardware, not a vendor's files.
//!
//! Dependencies: `zstd` for the payload; `rustix` for `renameat2(RENAME_NOREPLACE)`,
//! `syncfs`, `statvfs`, `flock`, `lchown`, the `*xattr` calls and `openat2` without `unsafe`
//! here. Applying works beneath the root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! and `*at` calls (`install::beneath`), not by checking each parent with `symlink_metadata`
//! first (a link swapped in between check and use could redirect a write). rustix was already
//! a dependency of this crate, and `cargo tree -p medguard-update` has no `cap-std`: one
//! system-call crate rather than a second abstraction; the cost is Linux 5.6 or later, which
//! `openat2` needs (on an older kernel the install is refused before anything is staged).
#![forbid(unsafe_code)]

pub mod bundle;
pub mod install;
pub mod manifest;
pub mod path;
pub mod release;

use std::path::PathBuf;

pub use bundle::{
    CreateRequest, CreateSummary, Frame, UnverifiedBundle, VerifiedBundle, create_bundle,
    parse_frame, write_frame,
};
pub use install::{
    ApplyRequest, EXIT_DEFERRED, EXIT_ERROR, EXIT_INSTALLED, EXIT_NOT_INSTALLED, InstallOutcome,
    InstallReport, InstallRun, InstallStatus, InstallWarning, Recovered, StatusRecord, Step,
    WaitPolicy, apply_bundle, read_status, recover,
};
pub use manifest::{BUNDLE_CONTEXT, Blob, Change, Kind, Manifest, Operation, Ownership, SelfTest};
/// The clock the installer takes (re-exported so callers need not name `medguard-host`).
pub use medguard_host::{Clock, SystemClock};
pub use path::BundlePath;
pub use release::{Release, ReleaseError, ReleaseRequest, check_release};

/// Errors of this crate. Every variant that [`UpdateError::is_refusal`] calls a refusal
/// happened before the device's tree was touched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// The file is not a well-formed bundle.
    #[error("{path}: not a well-formed patch bundle: {reason}")]
    Framing {
        /// The bundle.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The manifest's signature was refused (tampered, or signed by an untrusted key).
    #[error("bundle signature refused: {0}")]
    Signature(#[source] medguard_digest::EnvelopeError),
    /// The manifest is malformed or inconsistent.
    #[error("bundle manifest at {pointer:?}: {reason}")]
    Manifest {
        /// JSON pointer.
        pointer: String,
        /// What is wrong.
        reason: String,
    },
    /// A path in the manifest could escape the root.
    #[error("bundle manifest at {pointer:?}: unsafe path {path:?}: {reason}")]
    UnsafePath {
        /// JSON pointer.
        pointer: String,
        /// The path as written.
        path: String,
        /// Why it is unsafe.
        reason: &'static str,
    },
    /// The new system profile in the bundle is not signed by a trusted key.
    #[error("the bundle's new system profile is refused: {0}")]
    NewProfile(#[source] medguard_profile::FormatError),
    /// A blob decompresses to more than its declared size (endless data).
    #[error("blob {index} for {path}: longer than its declared {declared} bytes")]
    BlobTooLarge {
        /// Blob index.
        index: usize,
        /// Destination path.
        path: String,
        /// Declared size.
        declared: u64,
    },
    /// A blob decompresses to less than its declared size.
    #[error("blob {index} for {path}: {actual} bytes, {declared} declared")]
    BlobTruncated {
        /// Blob index.
        index: usize,
        /// Destination path.
        path: String,
        /// Declared size.
        declared: u64,
        /// Actual size.
        actual: u64,
    },
    /// A blob's content digest does not match the manifest.
    #[error("blob {index} for {path}: BLAKE3 {actual}, the manifest says {expected}")]
    BlobDigest {
        /// Blob index.
        index: usize,
        /// Destination path.
        path: String,
        /// Expected digest (hex).
        expected: String,
        /// Actual digest (hex).
        actual: String,
    },
    /// A blob is not valid zstd.
    #[error("blob {index} for {path}: corrupt: {reason}")]
    BlobCorrupt {
        /// Blob index.
        index: usize,
        /// Destination path.
        path: String,
        /// The decoder's message.
        reason: String,
    },
    /// The bundle is for other device models.
    #[error("the bundle targets models {models:?}, this device is {device:?}")]
    ModelMismatch {
        /// Target models.
        models: Vec<String>,
        /// This device's model.
        device: Option<String>,
    },
    /// The device's tree does not match the base the bundle applies to.
    #[error(
        "{root} does not match the bundle's base profile: {deviations} deviations, first {first}"
    )]
    BaseMismatch {
        /// The root.
        root: PathBuf,
        /// How many deviations.
        deviations: usize,
        /// The first one.
        first: String,
    },
    /// Not enough free space (or inodes) on the root's file system.
    #[error("{path}: not enough free space: {needed} needed, {available} available")]
    NoSpace {
        /// The root.
        path: PathBuf,
        /// Needed (bytes, or inodes).
        needed: u64,
        /// Available.
        available: u64,
    },
    /// The state dir is on another file system than the root, so renames between them
    /// would not be atomic.
    #[error("the state dir {state_dir} is not on the file system of {root}")]
    SeparateFileSystems {
        /// The state dir.
        state_dir: PathBuf,
        /// The root.
        root: PathBuf,
    },
    /// Applying would go through a symbolic link or a non-directory.
    #[error("{path}: refused, would escape the root: {reason}")]
    Escape {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// `bundle create` met something bundles do not carry.
    #[error("{path}: {reason}")]
    Unsupported {
        /// The path.
        path: String,
        /// What.
        reason: String,
    },
    /// Profiling a tree failed.
    #[error(transparent)]
    Profile(#[from] medguard_profile::ProfileError),
    /// The status record exists but is not one (written by something else, or damaged).
    #[error("{path}: not an install status record: {source}")]
    StatusRecord {
        /// The status file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Another install holds the state dir.
    #[error("{path}: another install is running")]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// The journal of an interrupted install cannot be read.
    #[error("{path}: interrupted install cannot be recovered: {reason}")]
    Journal {
        /// The journal.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A rollback could not finish; the journal keeps what is needed to retry.
    #[error("rollback could not finish ({reason}); run the command again to retry from {journal}")]
    RollbackFailed {
        /// The transaction directory.
        journal: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl From<medguard_host::WriteError> for UpdateError {
    fn from(e: medguard_host::WriteError) -> Self {
        Self::Io {
            path: e.path,
            error: e.source,
        }
    }
}

impl UpdateError {
    /// Whether this is a refusal of the bundle or of the device's state, decided before
    /// anything was touched (exit status 1), rather than an operational error (2).
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            UpdateError::Framing { .. }
                | UpdateError::Signature(_)
                | UpdateError::Manifest { .. }
                | UpdateError::UnsafePath { .. }
                | UpdateError::NewProfile(_)
                | UpdateError::BlobTooLarge { .. }
                | UpdateError::BlobTruncated { .. }
                | UpdateError::BlobDigest { .. }
                | UpdateError::BlobCorrupt { .. }
                | UpdateError::ModelMismatch { .. }
                | UpdateError::BaseMismatch { .. }
                | UpdateError::NoSpace { .. }
                | UpdateError::SeparateFileSystems { .. }
                | UpdateError::Escape { .. }
        )
    }

    /// The process exit status for this error.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        if self.is_refusal() {
            EXIT_NOT_INSTALLED
        } else {
            EXIT_ERROR
        }
    }
}
