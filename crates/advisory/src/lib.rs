//! Security advisories: ingestion (OSV, CSAF 2.0), the local advisory database, matching
//! against a device's packages, risk assessment with a written rationale, and VEX export.
//!
//! This crate owns the vulnerability side of the patch process, steps 1 (availability
//! awareness) and 2 (vulnerability risk assessment). It does not collect inventories (the
//! inventory crate does) and does not fetch feeds from the network: sources are files,
//! folders and zip archives the operator downloaded, so a closed hospital network works.
//!
//! - [`ingest`] reads sources into normalised [`Advisory`] records; a record that breaks its
//!   schema is refused with the file and JSON pointer and the rest go on; unknown ecosystems
//!   and unparsable versions are reported as [`Problem`]s, never silently dropped.
//! - [`Database`] keeps one normalised JSON file per advisory under `records/` and an
//!   `index.json` (id, modified, content hash), each written atomically (temp file, fsync, rename, directory fsync),
//!   so an interrupted ingest leaves the previous state. Loading reads the files in parallel.
//! - [`Matcher`] indexes affected packages by (ecosystem, name) in memory and matches each
//!   distinct (ecosystem, name, version) once, however many devices share it.
//! - [`assess`] turns a match into a [`Finding`] with relevance, priority and rationale.
//! - [`vex`] writes the not-relevant findings as CSAF VEX or CycloneDX VEX.
//!
//! YAML (the PyPA advisory database) is read with `serde_norway`, the maintained fork of
//! `serde_yaml`; zip archives (the OSV bulk downloads) with `zip` limited to deflate.
//! JSON pointers for schema errors come from `serde_path_to_error`.
#![forbid(unsafe_code)]

mod csaf;
mod db;
mod ecosystem;
mod ingest;
mod matching;
mod model;
mod osv;
mod pipeline;
mod risk;
pub mod vex;

use std::path::PathBuf;

pub use csaf::{MANDATORY_TESTS, TestFailure, mandatory_tests, parse_csaf, parse_range};
pub use db::{Database, IngestReport, Outcome, RangeCounts};
pub use ecosystem::{normalize_pypi, osv_ecosystem_and_name};
pub use ingest::{Parsed, Rejection, parse_json_documents, read_sources};
pub use matching::{Match, MatchSet, MatchStatus, Matcher, Package, UsageContext};
/// Package URLs are `medguard-purl`'s; re-exported for the paths callers already use.
pub use medguard_purl::{Purl, PurlError};
pub use model::{
    Advisory, Affected, Constraint, Event, Format, NotAffected, Op, Range, Score, UnparsedReason,
};
pub use osv::parse_osv;
pub use pipeline::{assess_all, package_of, packages_of, scan};
pub use risk::{
    Criticality, CvssScore, DeviceContext, ExploitSignals, Finding, Priority, Relevance, assess,
};
pub use vex::VexJustification;

/// Something worth reporting about an ingested advisory that does not refuse it: an unknown
/// ecosystem, a version its ecosystem cannot parse, a free-text range.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where in the record (a JSON pointer, or a product id for CSAF).
    pub pointer: String,
    /// What is wrong and what follows from it.
    pub reason: String,
}

/// Why one source record was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The record breaks its schema at `pointer`.
    #[error("schema violation at {pointer}: {reason}")]
    Schema {
        /// JSON pointer of the offending value.
        pointer: String,
        /// What is wrong.
        reason: String,
        /// The deserialiser's error, when one found the problem; `None` for a rule of ours.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A CSAF 2.0 document fails a mandatory test of its section 6.1 ("a program MUST handle
    /// a test failure as an error"): the first failure, and how many there are.
    #[error("CSAF mandatory test {test} fails at {pointer}: {reason}{}", more_failures(*.count))]
    CsafMandatoryTest {
        /// The test's number (`6.1.7`, `6.1.27.9`).
        test: &'static str,
        /// JSON pointer of the offending value.
        pointer: String,
        /// What is wrong.
        reason: String,
        /// How many failures the document has in all (at least 1); [`mandatory_tests`]
        /// lists them.
        count: usize,
    },
    /// Not JSON or YAML at all.
    #[error("not parseable as {format}: {reason}")]
    Syntax {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message (with line and column).
        reason: String,
        /// The parser's (or reader's) error, for callers walking the cause chain.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Neither an OSV record nor a CSAF document.
    #[error(
        "neither an OSV record (no id/modified) nor a CSAF document (no document/csaf_version)"
    )]
    UnknownFormat,
}

/// Errors of the database and of reading sources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdvisoryError {
    /// Reading or writing `path` failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A zip archive could not be read.
    #[error("{path}: not a readable zip archive: {reason}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The zip reader's message.
        reason: String,
        /// The zip reader's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A database file is corrupt (not written by this version, or damaged).
    #[error("{path}: corrupt database file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What could not be read.
        reason: String,
        /// The (de)serialiser's error, when one found the problem; `None` for a check of ours.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A device context, KEV catalogue or EPSS file is malformed.
    #[error("{path}: {reason}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line where known.
        reason: String,
        /// The parser's error, when one found the problem; `None` for a check of ours.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Matching was asked of a database that holds no advisories, which would read as "no
    /// vulnerabilities" when nothing was checked.
    #[error("{path}: the database holds no advisories: run `medguard vuln ingest` first")]
    EmptyDatabase {
        /// The database folder.
        path: PathBuf,
    },
    /// An inventory component's package URL is not a package URL at all.
    #[error("component {component}: {source}")]
    Component {
        /// `name version` of the component.
        component: String,
        /// Why its package URL was refused.
        #[source]
        source: PurlError,
    },
}

fn more_failures(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    }
}

impl AdvisoryError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// Deserialises `value` into `T`, turning a failure into a schema error at the JSON pointer
/// of the offending value.
pub(crate) fn deserialize_at<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, SourceError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let mut pointer = String::new();
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                }
                serde_path_to_error::Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                }
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => {}
            }
        }
        if pointer.is_empty() {
            pointer.push('/');
        }
        let inner = err.into_inner();
        SourceError::Schema {
            pointer,
            reason: inner.to_string(),
            source: Some(Box::new(inner)),
        }
    })
}

/// Parses one record's bytes (JSON, or YAML when `yaml`) as OSV or CSAF, whichever it is.
///
/// # Errors
/// [`SourceError`] saying why the record was refused.
pub fn parse_record(bytes: &[u8], yaml: bool) -> Result<(Advisory, Vec<Problem>), SourceError> {
    let value: serde_json::Value = if yaml {
        serde_norway::from_slice(bytes).map_err(|e| SourceError::Syntax {
            format: "YAML",
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?
    } else {
        serde_json::from_slice(bytes).map_err(|e| SourceError::Syntax {
            format: "JSON",
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?
    };
    let hash = blake3::hash(bytes).to_hex().to_string();
    if value.pointer("/document/csaf_version").is_some() {
        csaf::parse_csaf(value, hash)
    } else if value.get("id").is_some() && value.get("modified").is_some() {
        osv::parse_osv(value, hash)
    } else if value.get("document").is_some() {
        // Looks like CSAF but misses the version: let the schema say where.
        csaf::parse_csaf(value, hash)
    } else if value.get("id").is_some() || value.get("schema_version").is_some() {
        osv::parse_osv(value, hash)
    } else {
        Err(SourceError::UnknownFormat)
    }
}
