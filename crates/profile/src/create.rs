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
    // One vector for all threads: pushes are rare next to hashing, and a growing vector's
    // unused capacity is never touched, so it costs address space, not memory (large
    // reallocations are remapped, not copied). Memory per entry is a benchmark target.
    let entries: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
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
                if let Ok(mut e) = entries.lock() {
                    e.push(entry);
                }
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
    let mut entries = entries.into_inner().unwrap_or_default();
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    for (path, first) in links.into_first_links() {
        if let Some(i) = crate::entry::find(&entries, &path)
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
