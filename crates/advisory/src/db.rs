//! The local advisory database: a folder with one normalised JSON file per advisory under
//! `records/` and an `index.json` naming each advisory's id, modified time, content hash and
//! file.
//!
//! Why files and not SQLite: records are written once and read all at once into memory for
//! matching; one file per record makes an incremental update touch only what changed, needs
//! no schema migration, and can be inspected with `jq`. Every file is written durably through
//! `medguard_host::write_bytes_atomically` (temporary file, fsync, rename, directory fsync),
//! and the index last, so a crash mid-ingest leaves a consistent database
//! (at worst an orphan record file that the next ingest overwrites).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ingest::{Parsed, Rejection};
use crate::model::{Range, UnparsedReason};
use crate::{Advisory, AdvisoryError, Problem};

const INDEX: &str = "index.json";
const RECORDS: &str = "records";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    modified: String,
    content_hash: String,
    file: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    format: u32,
    advisories: BTreeMap<String, IndexEntry>,
}

/// What happened to one ingested advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// New id.
    Added,
    /// Same id, different content, not older: replaced.
    Updated,
    /// Same id and content hash: nothing to do.
    Unchanged,
    /// Same id, different content, but older `modified` than the stored one: kept the stored.
    Stale,
}

/// Counts and details of one ingest.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    /// New advisories.
    pub added: usize,
    /// Replaced advisories.
    pub updated: usize,
    /// Advisories already stored as they are.
    pub unchanged: usize,
    /// Older versions of stored advisories, not applied.
    pub stale: usize,
    /// Records refused, with file and pointer.
    pub rejected: Vec<Rejection>,
    /// Problems in ingested advisories (unknown ecosystems, unparsable versions).
    pub problems: Vec<(String, String, Problem)>,
    /// The version ranges of the advisories read (stored or already stored): how many
    /// matching can order and how many it reports as undetermined.
    pub ranges: RangeCounts,
}

/// Version ranges by whether matching can order them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RangeCounts {
    /// Ranges matching orders (OSV events, constraint lists, vendors' lettered versions).
    pub ordered: usize,
    /// Ranges kept as the publisher's text, by the reason they cannot be ordered: findings
    /// under them are undetermined.
    pub undetermined: BTreeMap<UnparsedReason, usize>,
}

impl RangeCounts {
    /// Counts the ranges of one advisory (git commit ranges are neither: they never match
    /// an installed version).
    pub fn add(&mut self, advisory: &Advisory) {
        for range in advisory.affected.iter().flat_map(|a| &a.ranges) {
            match range {
                Range::Events { .. } | Range::Constraints { .. } => self.ordered += 1,
                Range::Unparsed { reason, .. } => {
                    *self.undetermined.entry(*reason).or_default() += 1;
                }
                Range::Git => {}
            }
        }
    }

    /// The number of undetermined ranges, whatever the reason.
    #[must_use]
    pub fn undetermined_total(&self) -> usize {
        self.undetermined.values().sum()
    }
}

/// The advisory database in a folder.
#[derive(Debug)]
pub struct Database {
    dir: PathBuf,
    index: Index,
}

fn file_name_for(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Distinct ids must never share a file ("A:1" and "A_1").
    let tag = blake3::hash(id.as_bytes()).to_hex();
    format!("{safe}.{}.json", tag.get(..12).unwrap_or_default())
}

/// Writes a database file through the workspace's one durable replacement (temporary file,
/// fsync, rename, directory fsync). Records are synced too, not only the index: the index
/// is written last and names them, so a record still in the page cache when the power goes
/// would leave an index pointing at an empty or torn file.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), AdvisoryError> {
    medguard_host::write_bytes_atomically(path, 0o644, bytes).map_err(|e| AdvisoryError::Io {
        path: e.path,
        source: e.source,
    })
}

impl Database {
    /// Opens (creating if needed) the database in `dir`.
    ///
    /// # Errors
    /// [`AdvisoryError`] when the folder cannot be created or the index is corrupt.
    pub fn open(dir: &Path) -> Result<Self, AdvisoryError> {
        std::fs::create_dir_all(dir.join(RECORDS)).map_err(AdvisoryError::io(dir))?;
        let index_path = dir.join(INDEX);
        let index = match std::fs::read(&index_path) {
            Ok(bytes) => {
                let index: Index =
                    serde_json::from_slice(&bytes).map_err(|e| AdvisoryError::Corrupt {
                        path: index_path.clone(),
                        reason: e.to_string(),
                        source: Some(Box::new(e)),
                    })?;
                if index.format != FORMAT_VERSION {
                    return Err(AdvisoryError::Corrupt {
                        path: index_path,
                        reason: format!("format {} is not {FORMAT_VERSION}", index.format),
                        source: None,
                    });
                }
                index
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index {
                format: FORMAT_VERSION,
                advisories: BTreeMap::new(),
            },
            Err(e) => return Err(AdvisoryError::io(index_path)(e)),
        };
        Ok(Self {
            dir: dir.to_owned(),
            index,
        })
    }

    /// The database folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The number of stored advisories.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.advisories.len()
    }

    /// Whether the database holds no advisory.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.advisories.is_empty()
    }

    /// Stores the parsed records: new ids are added, changed ones replaced (unless older),
    /// refused ones listed. The index is written once, at the end.
    ///
    /// # Errors
    /// [`AdvisoryError`] when a file cannot be written; what was written before stays valid.
    pub fn ingest(&mut self, parsed: Vec<Parsed>) -> Result<IngestReport, AdvisoryError> {
        let mut report = IngestReport::default();
        let mut to_write: BTreeMap<String, Advisory> = BTreeMap::new();
        for p in parsed {
            let (advisory, problems) = match p.result {
                Ok(ok) => ok,
                Err(err) => {
                    report.rejected.push(Rejection::new(&p.origin, &err));
                    continue;
                }
            };
            report.ranges.add(&advisory);
            for problem in problems {
                report
                    .problems
                    .push((p.origin.clone(), advisory.id.clone(), problem));
            }
            let outcome = match self.index.advisories.get(&advisory.id) {
                None => Outcome::Added,
                Some(e) if e.content_hash == advisory.content_hash => Outcome::Unchanged,
                Some(e) if newer_or_same(&advisory.modified, &e.modified) => Outcome::Updated,
                Some(_) => Outcome::Stale,
            };
            match outcome {
                Outcome::Added => report.added += 1,
                Outcome::Updated => report.updated += 1,
                Outcome::Unchanged => report.unchanged += 1,
                Outcome::Stale => report.stale += 1,
            }
            if matches!(outcome, Outcome::Added | Outcome::Updated) {
                self.index.advisories.insert(
                    advisory.id.clone(),
                    IndexEntry {
                        modified: advisory.modified.clone(),
                        content_hash: advisory.content_hash.clone(),
                        file: file_name_for(&advisory.id),
                    },
                );
                to_write.insert(advisory.id.clone(), advisory);
            }
        }
        let records = self.dir.join(RECORDS);
        to_write
            .par_iter()
            .try_for_each(|(id, advisory)| -> Result<(), AdvisoryError> {
                let bytes = serde_json::to_vec(advisory).map_err(|e| AdvisoryError::Corrupt {
                    path: records.join(file_name_for(id)),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                })?;
                write_durably(&records.join(file_name_for(id)), &bytes)
            })?;
        let index_path = self.dir.join(INDEX);
        let bytes = serde_json::to_vec(&self.index).map_err(|e| AdvisoryError::Corrupt {
            path: index_path.clone(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?;
        write_durably(&index_path, &bytes)?;
        Ok(report)
    }

    /// Reads every stored advisory (in parallel).
    ///
    /// # Errors
    /// [`AdvisoryError::Corrupt`] naming the first record that cannot be read.
    pub fn load(&self) -> Result<Vec<Advisory>, AdvisoryError> {
        let records = self.dir.join(RECORDS);
        self.index
            .advisories
            .par_iter()
            .map(|(id, entry)| {
                let path = records.join(&entry.file);
                let bytes = std::fs::read(&path).map_err(AdvisoryError::io(&path))?;
                let advisory: Advisory =
                    serde_json::from_slice(&bytes).map_err(|e| AdvisoryError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                        source: Some(Box::new(e)),
                    })?;
                if &advisory.id != id || advisory.content_hash != entry.content_hash {
                    return Err(AdvisoryError::Corrupt {
                        path,
                        reason: format!("does not hold {id} as indexed"),
                        source: None,
                    });
                }
                Ok(advisory)
            })
            .collect()
    }
}

/// Whether RFC 3339 time `a` is at or after `b` (compared as instants; text order when a
/// timestamp does not parse, which ingestion already reported).
fn newer_or_same(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x >= y,
        _ => a >= b,
    }
}
