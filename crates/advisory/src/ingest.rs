//! Reading advisory sources: files, folders (recursively) and zip archives, parsed in
//! parallel. Files that are not records (`.asc` signatures, `.sha512` sums, Markdown) are
//! skipped by extension; a `.json`/`.yaml` file that is neither OSV nor CSAF is refused with
//! the reason, so a wrong folder is visible rather than silently empty.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::{Advisory, AdvisoryError, Problem, SourceError};

/// One record read from a source: where it came from and what it parsed into.
#[derive(Debug)]
pub struct Parsed {
    /// The file, or `archive.zip!entry/path.json`.
    pub origin: String,
    /// The advisory and its problems, or why it was refused.
    pub result: Result<(Advisory, Vec<Problem>), SourceError>,
}

/// A refused record, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rejection {
    /// The file (or archive entry).
    pub origin: String,
    /// JSON pointer of the offending value, when the schema was broken.
    pub pointer: Option<String>,
    /// Why.
    pub reason: String,
}

impl Rejection {
    pub(crate) fn new(origin: &str, err: &SourceError) -> Self {
        let (pointer, reason) = match err {
            SourceError::Schema {
                pointer, reason, ..
            } => (Some(pointer.clone()), reason.clone()),
            SourceError::CsafMandatoryTest { pointer, .. } => {
                (Some(pointer.clone()), err.to_string())
            }
            other => (None, other.to_string()),
        };
        Self {
            origin: origin.to_owned(),
            pointer,
            reason,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Yaml,
    Zip,
}

fn kind_of(name: &str) -> Option<Kind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Some(Kind::Json)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(Kind::Yaml)
    } else if lower.ends_with(".zip") {
        Some(Kind::Zip)
    } else {
        None
    }
}

fn collect_files(path: &Path, out: &mut Vec<(PathBuf, Kind)>) -> Result<(), AdvisoryError> {
    let meta = std::fs::metadata(path).map_err(AdvisoryError::io(path))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(AdvisoryError::io(path))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(AdvisoryError::io(path))?;
        entries.sort();
        for entry in entries {
            let hidden = entry
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden {
                collect_files(&entry, out)?;
            }
        }
    } else if let Some(kind) = kind_of(&path.to_string_lossy()) {
        out.push((path.to_owned(), kind));
    }
    Ok(())
}

fn read_zip(path: &Path) -> Result<Vec<(String, Vec<u8>, bool)>, AdvisoryError> {
    let zip_err = |e: zip::result::ZipError| AdvisoryError::Zip {
        path: path.to_owned(),
        reason: e.to_string(),
        source: Box::new(e),
    };
    let file = std::fs::File::open(path).map_err(AdvisoryError::io(path))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zip_err)?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.into_owned();
        let Some(kind @ (Kind::Json | Kind::Yaml)) = kind_of(&name) else {
            continue;
        };
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry
            .read_to_end(&mut bytes)
            .map_err(AdvisoryError::io(path.join(&name)))?;
        out.push((
            format!("{}!{name}", path.display()),
            bytes,
            kind == Kind::Yaml,
        ));
    }
    Ok(out)
}

/// Reads and parses every record under `sources`. `progress` is called once per record
/// parsed (from several threads).
///
/// # Errors
/// [`AdvisoryError`] when a source cannot be read at all (a missing path, a broken zip); a
/// record that cannot be parsed is a [`Parsed`] with an error instead.
pub fn read_sources(
    sources: &[PathBuf],
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Parsed>, AdvisoryError> {
    let mut files = Vec::new();
    for source in sources {
        let before = files.len();
        collect_files(source, &mut files)?;
        if files.len() == before && std::fs::metadata(source).is_ok_and(|m| m.is_file()) {
            files.push((source.clone(), Kind::Json));
        }
    }
    let mut parsed: Vec<Parsed> = files
        .par_iter()
        .filter(|(_, kind)| *kind != Kind::Zip)
        .map(|(path, kind)| {
            let origin = path.display().to_string();
            let result = std::fs::read(path)
                .map_err(|e| SourceError::Syntax {
                    format: "file",
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                })
                .and_then(|bytes| crate::parse_record(&bytes, *kind == Kind::Yaml));
            progress();
            Parsed { origin, result }
        })
        .collect();
    for (path, kind) in &files {
        if *kind != Kind::Zip {
            continue;
        }
        let entries = read_zip(path)?;
        parsed.par_extend(entries.into_par_iter().map(|(origin, bytes, yaml)| {
            let result = crate::parse_record(&bytes, yaml);
            progress();
            Parsed { origin, result }
        }));
    }
    Ok(parsed)
}

/// Parses a JSON body holding one advisory document (OSV or CSAF 2.0) or an array of them,
/// as an API receives it; `origin` names the source in reports.
///
/// # Errors
/// [`SourceError::Syntax`] when the body is not JSON at all; a document that cannot be
/// parsed is a [`Parsed`] with an error instead.
pub fn parse_json_documents(bytes: &[u8], origin: &str) -> Result<Vec<Parsed>, SourceError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| SourceError::Syntax {
            format: "JSON",
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })?;
    let documents = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    Ok(documents
        .into_iter()
        .enumerate()
        .map(|(i, doc)| {
            // Each document is hashed as it will be stored, so re-sending it is "unchanged".
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            Parsed {
                origin: format!("{origin}[{i}]"),
                result: crate::parse_record(&bytes, false),
            }
        })
        .collect())
}
