//! Malware scanning that yields to clinical work.
//!
//! Scans files with YARA rules (compiled by yara-x, the memory-safe reimplementation of
//! YARA) and ClamAV hash signature lists (`.hdb`, `.hsb`), and reports a [`Finding`] per
//! match. A device's clinical function comes first: scanning threads run at idle I/O
//! priority and nice 19, reading is held to a byte rate, and the scan pauses while the
//! clinical state provider (`medguard-clinical`) says the device is in use.
//!
//! The validated configuration (a signed system profile) is respected: a match in one of
//! its files is an alert for a person to decide, never an automatic quarantine, because
//! moving a validated file could stop the device's clinical function. `changed_since`
//! narrows a scan to the files that differ from the profile.
//!
//! This crate owns the scan, the hash lists, rule loading, pacing and quarantine. It must
//! not print, and it must not touch a file it was not asked to scan.
//!
//! Decisions:
//! - Files are read with `read`, never memory-mapped: a mapped file that shrinks under the
//!   scanner raises SIGBUS, and a device's files change while it runs. A file up to
//!   [`ScanOptions::max_yara_size`] is read into one buffer and scanned by yara-x as a
//!   whole, so rules see exactly what `yara` sees. A larger file (a sparse disk image, a
//!   DICOM archive) is streamed through the hash lists only and reported as
//!   [`ProblemKind::TooLargeForYara`]: yara-x's block scanner could look at it, but
//!   without modules, `filesize` or matches across blocks, so rules would silently mean
//!   something else.
//! - Only the digests the loaded lists need for a file's size are computed, in the same
//!   pass as the YARA read (ClamAV's hash signatures name a size, so most files need none).
//! - yara-x is pinned with only the modules device rules use (pe, elf, hash, math, string,
//!   time, console), which roughly halves its build. `md-5`/`sha1`/`sha2` are the RustCrypto
//!   crates yara-x itself links, so they cost nothing extra.
#![deny(unsafe_code)]

pub mod hashlist;
pub mod pace;
pub mod priority;
pub mod quarantine;
pub mod rules;
mod scan;

use std::path::{Path, PathBuf};

pub use hashlist::{DigestKind, HashListError, HashLists};
/// The one clock of `medguard-host`, re-exported because [`scan`] takes it: pacing uses its
/// monotonic time and its sleep.
pub use medguard_host::{Clock, ManualClock, SystemClock};
pub use pace::{PaceEvent, PaceOptions, Pause};
pub use priority::{PriorityOutcome, yield_to_clinical_work};
pub use quarantine::QuarantineRecord;
pub use rules::{RulesError, YaraRules};
pub use scan::{
    Action, ChangedFiles, Detection, FileProblem, Finding, Priority, ProblemKind, ScanEvent,
    ScanOptions, ScanReport, ScanSummary, Targets, ValidatedConfiguration, changed_since, scan,
};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A YARA rule file was refused.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// A hash list was refused.
    #[error(transparent)]
    HashList(#[from] HashListError),
    /// A path to scan does not exist or cannot be examined.
    #[error("{path}: {error}")]
    Target {
        /// The path given.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// A file could not be quarantined.
    #[error("quarantine of {path}: {error}")]
    Quarantine {
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// The profile comparison behind `changed_since` failed.
    #[error(transparent)]
    Profile(#[from] medguard_profile::ProfileError),
    /// Neither rules nor hash lists: a scan would check nothing and look clean.
    #[error("no YARA rules and no hash list to scan with")]
    NothingToScanWith,
}

/// A path as text: UTF-8 where it is, `\xNN` for other bytes (as the profile shows paths).
pub(crate) fn display(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    medguard_profile::display_path(path.as_os_str().as_bytes())
}

/// Serialises a path with [`display`], so that a non-UTF-8 name cannot fail a report.
pub(crate) fn ser_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&display(path))
}
