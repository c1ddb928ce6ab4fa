//! Judging one file against a verified allowlist: allowed or not, and why.
//!
//! The content is hashed through the open file with positional reads (`pread`), never by
//! mapping it (a mapped file that shrinks faults) and never moving the file offset, which
//! the enforcer shares with the process whose open it is judging.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use crate::list::{Content, Listing, VerifiedAllowlist};

/// The judgement of one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Listed, and the content is the validated one.
    Allowed {
        /// As what it is listed.
        listing: Listing,
    },
    /// No entry for this path.
    NotListed,
    /// Listed, but the content is not the validated one.
    DigestDiffers {
        /// The validated BLAKE3 (hex).
        expected: String,
        /// The file's BLAKE3 (hex); absent when the size already differed.
        #[serde(skip_serializing_if = "Option::is_none")]
        actual: Option<String>,
    },
    /// Not a regular file (nothing else can be executed).
    NotARegularFile,
}

impl Verdict {
    /// Whether the file may run.
    #[must_use]
    pub fn allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allowed { listing } => write!(f, "allowed: listed as {listing}"),
            Self::NotListed => f.write_str("denied: not in list"),
            Self::DigestDiffers { .. } => {
                f.write_str("denied: digest differs from the validated one")
            }
            Self::NotARegularFile => f.write_str("denied: not a regular file"),
        }
    }
}

/// A checked path with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Judgement {
    /// The path as given.
    pub path: PathBuf,
    /// The path the kernel would execute (links resolved): the one looked up.
    pub resolved: PathBuf,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Errors checking a path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file could not be opened or read.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
}

/// Judges the file at `path` (links resolved, as exec resolves them).
pub fn check_path(list: &VerifiedAllowlist, path: &Path) -> Result<Judgement, CheckError> {
    let io = |error| CheckError::Io {
        path: path.to_owned(),
        error,
    };
    let resolved = std::fs::canonicalize(path).map_err(io)?;
    let file = File::open(&resolved).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    use std::os::unix::ffi::OsStrExt as _;
    let verdict = judge(list, resolved.as_os_str().as_bytes(), &file, &meta).map_err(io)?;
    Ok(Judgement {
        path: path.to_owned(),
        resolved,
        verdict,
    })
}

/// Judges an open file found at `path`; `meta` is its `fstat`.
pub fn judge(
    list: &VerifiedAllowlist,
    path: &[u8],
    file: &File,
    meta: &std::fs::Metadata,
) -> std::io::Result<Verdict> {
    if !meta.is_file() {
        return Ok(Verdict::NotARegularFile);
    }
    let Some(entry) = list.list().get(path) else {
        return Ok(Verdict::NotListed);
    };
    let Content::Exact { blake3, size } = entry.content else {
        return Ok(Verdict::Allowed {
            listing: entry.listing,
        });
    };
    if meta.size() != size {
        return Ok(Verdict::DigestDiffers {
            expected: hex::encode(blake3),
            actual: None,
        });
    }
    let actual = hash_file(file)?;
    Ok(if actual == blake3 {
        Verdict::Allowed {
            listing: entry.listing,
        }
    } else {
        Verdict::DigestDiffers {
            expected: hex::encode(blake3),
            actual: Some(hex::encode(actual)),
        }
    })
}

/// BLAKE3 of a file's content, read with `pread` from offset 0.
pub fn hash_file(file: &File) -> std::io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut offset = 0u64;
    loop {
        match file.read_at(&mut buf, offset) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(buf.get(..n).unwrap_or_default());
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(*hasher.finalize().as_bytes())
}
