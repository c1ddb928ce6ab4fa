//! Making a system profile from a tree.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Mutex;

use crate::entry::{Attribute, Entry, EntryKind};
use crate::format::{ProfileHeader, SystemProfile};
use crate::progress::Progress;
use crate::rules::Rules;
use crate::walk::{self, EntryProblem, Found, ObserveWhat, WalkOptions};

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
    let entries: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    let problems: Mutex<Vec<EntryProblem>> = Mutex::new(Vec::new());
    let links: Mutex<Vec<((u64, u64), Box<[u8]>)>> = Mutex::new(Vec::new());
    walk::walk(root, &options.rules, options.walk, progress, &|found| match found {
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
            if entry.meta.nlink > 1 && entry.meta.kind != EntryKind::Dir {
                if let Ok(mut l) = links.lock() {
                    l.push(((v.meta.dev(), v.meta.ino()), entry.path.clone()));
                }
            }
            if let Ok(mut e) = entries.lock() {
                e.push(entry);
            }
            if let Some(p) = problem {
                if let Ok(mut v) = problems.lock() {
                    v.push(p);
                }
            }
        }
    })
    .map_err(|source| crate::ProfileError::Io {
        path: root.to_owned(),
        source,
    })?;
    let mut entries = entries.into_inner().unwrap_or_default();
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    entries.shrink_to_fit();
    let mut links = links.into_inner().unwrap_or_default();
    links.sort();
    for group in links.chunk_by(|a, b| a.0 == b.0) {
        let Some((_, first)) = group.first() else {
            continue;
        };
        for (_, path) in group.iter().skip(1) {
            if let Ok(i) = entries.binary_search_by(|e| (*e.path).cmp(path)) {
                if let Some(e) = entries.get_mut(i) {
                    e.extra_mut().hardlink = Some(first.clone());
                }
            }
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
