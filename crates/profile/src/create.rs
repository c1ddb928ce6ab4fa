//! Making a system profile from a tree.

use std::path::Path;
use std::sync::Mutex;

use crate::entry::{Attribute, Entry};
use crate::format::{ProfileHeader, SystemProfile};
use crate::progress::Progress;
use crate::rules::Rules;
use crate::walk::{self, EntryProblem, Found, HardLinks, ObserveWhat, WalkOptions};

/// How to make a profile.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Which paths to skip and which attributes matter where.
    pub rules: Rules,
    /// Record SHA-256 digests besides BLAKE3 (for mtree export and tools that need it).
    pub sha256: bool,
    /// Walk options.
    pub walk: WalkOptions,
    /// Creation time to record, seconds since the epoch.
    pub created_unix: i64,
}

/// Walks `root` and records every entry the rules do not skip. Entries that could not be
/// read completely are recorded with what could be read and returned as problems; they
/// never stop the walk.
pub fn create(
    root: &Path,
    options: CreateOptions,
    progress: &Progress,
) -> Result<(SystemProfile, Vec<EntryProblem>), crate::ProfileError> {
    let entries = Chunks::new();
    let problems: Mutex<Vec<EntryProblem>> = Mutex::new(Vec::new());
    let links = HardLinks::default();
    walk::walk(
        root,
        &options.rules,
        options.walk,
        progress,
        &|found| match found {
            Found::Problem(p) => {
                if let Ok(mut v) = problems.lock() {
                    v.push(p);
                }
            }
            Found::Entry(v) => {
                let content = v.checks.contains(Attribute::Content);
                let what = ObserveWhat {
                    blake3: content,
                    sha256: content && options.sha256,
                    xattrs: v.checks.contains(Attribute::Xattrs),
                };
                let (entry, problem) = walk::observe(&v, what, progress);
                links.record(v.meta, v.rel);
                entries.push(entry);
                if let Some(p) = problem
                    && let Ok(mut v) = problems.lock()
                {
                    v.push(p);
                }
            }
        },
    )
    .map_err(|error| crate::ProfileError::Io {
        path: root.to_owned(),
        error,
    })?;
    let mut entries = entries.into_vec();
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    for (path, first) in links.into_first_links() {
        if let Ok(i) = entries.binary_search_by(|e| (*e.path).cmp(&path))
            && let Some(e) = entries.get_mut(i)
        {
            e.extra_mut().hardlink = Some(first);
        }
    }
    let mut problems = problems.into_inner().unwrap_or_default();
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((
        SystemProfile {
            header: ProfileHeader {
                sha256: options.sha256,
                created_unix: options.created_unix,
            },
            rules: options.rules,
            entries,
        },
        problems,
    ))
}

/// Entries collected from many threads in fixed-size chunks, joined once at the end into a
/// vector of exactly the right size: a large tree never pays for a doubling vector's slack
/// or its copy (memory per entry is a benchmark target).
#[derive(Debug)]
struct Chunks {
    full: Mutex<Vec<Vec<Entry>>>,
    /// One open chunk per worker thread (and one for any other thread), so pushes do not
    /// contend.
    open: Vec<Mutex<Vec<Entry>>>,
}

const CHUNK: usize = 4096;

impl Chunks {
    fn new() -> Self {
        Self {
            full: Mutex::new(Vec::new()),
            open: (0..=rayon::current_num_threads())
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
        }
    }

    fn push(&self, entry: Entry) {
        let slot = rayon::current_thread_index().unwrap_or(self.open.len().saturating_sub(1));
        let Some(Ok(mut open)) = self.open.get(slot).map(Mutex::lock) else {
            return;
        };
        if open.capacity() == 0 {
            open.reserve_exact(CHUNK);
        }
        open.push(entry);
        if open.len() == CHUNK {
            let done = std::mem::take(&mut *open);
            drop(open);
            if let Ok(mut full) = self.full.lock() {
                full.push(done);
            }
        }
    }

    fn into_vec(self) -> Vec<Entry> {
        let mut chunks = self.full.into_inner().unwrap_or_default();
        chunks.extend(self.open.into_iter().filter_map(|m| m.into_inner().ok()));
        let mut out = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            out.extend(chunk);
        }
        out
    }
}
