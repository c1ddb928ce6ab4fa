//! Comparing a tree, or a second profile, with a baseline.
//!
//! This module owns the meaning of "deviation": which attributes are compared for which
//! entry kinds, how a growing file is judged, and when content must be read at all (only
//! when the size matches: a different size is already a content change, and hashing it
//! would only cost time). It must not read the file system itself; `walk` does.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::entry::{Attribute, AttributeSet, Entry, EntryKind};
use crate::format::{SystemProfile, VerifiedProfile};
use crate::progress::Progress;
use crate::report::{Change, Deviation, DeviationKind, Report, display_path};
use crate::rules::{Decision, Rules};
use crate::walk::{self, EntryProblem, Found, HardLinks, ObserveWhat, ProblemKind, WalkOptions};

/// What a tree is checked against: entries with the attributes to check for each, and the
/// rules for paths the baseline does not list.
#[derive(Debug, Clone)]
pub struct Baseline {
    entries: Vec<Entry>,
    checks: Vec<AttributeSet>,
    optional: Vec<bool>,
    rules: Rules,
}

impl Baseline {
    /// The baseline a verified profile defines: its entries, checked as its rules say.
    #[must_use]
    pub fn from_profile(profile: VerifiedProfile) -> Self {
        let SystemProfile { rules, entries, .. } = profile.into_profile();
        let checks = entries
            .iter()
            .map(|e| match rules.classify(&e.path) {
                Decision::Check(c) => c,
                Decision::Skip => AttributeSet::EMPTY,
            })
            .collect();
        let optional = vec![false; entries.len()];
        Self {
            entries,
            checks,
            optional,
            rules,
        }
    }

    /// A baseline from explicit parts. `entries` must be sorted by path and unique; each
    /// has its own check set and may be optional (absence is not a deviation).
    pub(crate) fn from_parts(
        entries: Vec<Entry>,
        checks: Vec<AttributeSet>,
        optional: Vec<bool>,
        rules: Rules,
    ) -> Self {
        Self {
            entries,
            checks,
            optional,
            rules,
        }
    }
}

/// Which attributes of `actual` differ from `expected` among `checks`. Hard links are
/// compared by the caller, which alone knows the whole tree.
fn differing(expected: &Entry, actual: &Entry, checks: AttributeSet) -> AttributeSet {
    let mut out = AttributeSet::EMPTY;
    let (e, a) = (&expected.meta, &actual.meta);
    if e.kind != a.kind {
        // Every other attribute means something else for another kind of entry.
        if checks.contains(Attribute::Type) {
            out.insert(Attribute::Type);
        }
        return out;
    }
    let mut check = |attr: Attribute, differs: bool| {
        if checks.contains(attr) && differs {
            out.insert(attr);
        }
    };
    check(Attribute::Mode, e.mode != a.mode);
    check(Attribute::Uid, e.uid != a.uid);
    check(Attribute::Gid, e.gid != a.gid);
    check(
        Attribute::Mtime,
        (e.mtime, e.mtime_nsec) != (a.mtime, a.mtime_nsec),
    );
    check(
        Attribute::Xattrs,
        expected.extra().xattrs != actual.extra().xattrs,
    );
    match e.kind {
        EntryKind::File => {
            if checks.growing() {
                // "May grow" is itself a size check, whatever else the rule ignores.
                if a.size < e.size {
                    out.insert(Attribute::Size);
                }
            } else {
                check(Attribute::Size, a.size != e.size);
                let content_differs = a.size != e.size || content_mismatch(expected, actual);
                check(Attribute::Content, content_differs);
            }
        }
        EntryKind::Symlink => check(
            Attribute::Target,
            expected.extra().target != actual.extra().target,
        ),
        EntryKind::BlockDevice | EntryKind::CharDevice => {
            check(Attribute::Device, e.rdev != a.rdev)
        }
        EntryKind::Dir | EntryKind::Fifo | EntryKind::Socket => {}
    }
    out
}

/// Whether the digests both sides carry disagree. Sides with no digest in common (not
/// hashed) do not disagree.
fn content_mismatch(expected: &Entry, actual: &Entry) -> bool {
    if let (Some(x), Some(y)) = (&expected.blake3, &actual.blake3) {
        return x != y;
    }
    if let (Some(x), Some(y)) = (&expected.extra().sha256, &actual.extra().sha256) {
        return x != y;
    }
    false
}

fn details(expected: &Entry, actual: &Entry, changed: AttributeSet) -> BTreeMap<Attribute, Change> {
    let mut out = BTreeMap::new();
    for attr in changed.iter() {
        let show = |e: &Entry| -> String {
            let m = &e.meta;
            let x = e.extra();
            match attr {
                Attribute::Type => m.kind.keyword().to_owned(),
                Attribute::Mode => format!("{:04o}", m.mode),
                Attribute::Uid => m.uid.to_string(),
                Attribute::Gid => m.gid.to_string(),
                Attribute::Size => m.size.to_string(),
                Attribute::Content => e
                    .blake3
                    .map(|d| format!("blake3:{}", hex::encode(d)))
                    .or_else(|| x.sha256.map(|d| format!("sha256:{}", hex::encode(d))))
                    .unwrap_or_else(|| "(size differs, not hashed)".to_owned()),
                Attribute::Target => x.target.as_deref().map(display_path).unwrap_or_default(),
                Attribute::Device => format!("{},{}", m.rdev.0, m.rdev.1),
                Attribute::Xattrs => x
                    .xattrs
                    .iter()
                    .map(|(n, _)| display_path(n))
                    .collect::<Vec<_>>()
                    .join(","),
                Attribute::Hardlink => x.hardlink.as_deref().map(display_path).unwrap_or_default(),
                Attribute::Mtime => format!("{}.{:09}", m.mtime, m.mtime_nsec),
            }
        };
        out.insert(
            attr,
            Change {
                expected: show(expected),
                actual: show(actual),
            },
        );
    }
    out
}

fn deviation(path: &[u8], kind: DeviationKind) -> Deviation {
    Deviation {
        path: path.into(),
        kind,
        attributes: Vec::new(),
        details: BTreeMap::new(),
    }
}

fn changed(expected: &Entry, actual: &Entry, diff: AttributeSet) -> Deviation {
    Deviation {
        path: expected.path.clone(),
        kind: DeviationKind::Changed,
        attributes: diff.iter().collect(),
        details: details(expected, actual, diff),
    }
}

/// Verifies the tree at `root` against `baseline`.
pub fn verify_tree(
    root: &Path,
    baseline: &Baseline,
    options: WalkOptions,
    progress: &Progress,
) -> Result<Report, crate::ProfileError> {
    let seen: Vec<AtomicBool> = (0..baseline.entries.len())
        .map(|_| AtomicBool::new(false))
        .collect();
    let report = Mutex::new(Report::default());
    let unlisted: Mutex<Vec<Box<[u8]>>> = Mutex::new(Vec::new());
    let links = HardLinks::default();
    let actual_entries = std::sync::atomic::AtomicU64::new(0);
    let push = |d: Deviation| {
        if let Ok(mut r) = report.lock() {
            r.deviations.push(d);
        }
    };
    let problem = |p: EntryProblem| {
        if let Ok(mut r) = report.lock() {
            r.unverifiable.push(p);
        }
    };
    walk::walk(
        root,
        &baseline.rules,
        options,
        progress,
        &|found| match found {
            Found::Problem(p) => {
                if matches!(p.problem, ProblemKind::Unlisted(_))
                    && let Ok(mut u) = unlisted.lock()
                {
                    u.push(p.path.clone());
                }
                problem(p);
            }
            Found::Entry(v) => {
                actual_entries.fetch_add(1, Ordering::Relaxed);
                let Some(i) = crate::entry::find(&baseline.entries, v.rel) else {
                    push(deviation(v.rel, DeviationKind::Added));
                    return;
                };
                if let Some(s) = seen.get(i) {
                    s.store(true, Ordering::Relaxed);
                }
                let (Some(expected), Some(&checks)) =
                    (baseline.entries.get(i), baseline.checks.get(i))
                else {
                    return;
                };
                let meta = walk::meta_of(v.meta);
                let content = checks.contains(Attribute::Content)
                    && !checks.growing()
                    && expected.meta.kind == EntryKind::File
                    && meta.kind == EntryKind::File
                    && meta.size == expected.meta.size;
                let what = ObserveWhat {
                    blake3: content && expected.blake3.is_some(),
                    sha256: content
                        && expected.blake3.is_none()
                        && expected.extra().sha256.is_some(),
                    xattrs: checks.contains(Attribute::Xattrs),
                };
                let (actual, trouble) = walk::observe(&v, what, progress);
                let had_trouble = trouble.is_some();
                if let Some(p) = trouble {
                    problem(p);
                }
                links.record(v.meta, v.rel);
                let mut diff = differing(expected, &actual, checks);
                if had_trouble && content && !diff.contains(Attribute::Size) {
                    // Unread content is unverifiable, not changed.
                    diff.remove(Attribute::Content);
                }
                if !diff.is_empty() {
                    push(changed(expected, &actual, diff));
                }
            }
        },
    )
    .map_err(|error| crate::ProfileError::Io {
        path: root.to_owned(),
        error,
    })?;

    let mut report = report.into_inner().unwrap_or_default();
    let unlisted = unlisted.into_inner().unwrap_or_default();
    for (i, e) in baseline.entries.iter().enumerate() {
        let was_seen = seen.get(i).is_some_and(|s| s.load(Ordering::Relaxed));
        if was_seen || baseline.optional.get(i).copied().unwrap_or(false) {
            continue;
        }
        if matches!(baseline.rules.classify(&e.path), Decision::Skip) {
            continue;
        }
        if unlisted.iter().any(|d| is_below(&e.path, d)) {
            continue;
        }
        report
            .deviations
            .push(deviation(&e.path, DeviationKind::Removed));
    }
    check_hardlinks(baseline, &seen, links, &mut report);
    report.summary.expected_entries = baseline.entries.len() as u64;
    report.summary.actual_entries = actual_entries.into_inner();
    report.summary.bytes_hashed = progress.bytes();
    merge_changes(&mut report);
    report.finish();
    Ok(report)
}

/// Compares the hard-link groups seen in the tree with the baseline's.
fn check_hardlinks(
    baseline: &Baseline,
    seen: &[AtomicBool],
    links: HardLinks,
    report: &mut Report,
) {
    let first_links = links.into_first_links();
    let actual: HashMap<&[u8], &[u8]> = first_links
        .iter()
        .map(|(p, first)| (&**p, &**first))
        .collect();
    for (i, e) in baseline.entries.iter().enumerate() {
        let checked = baseline
            .checks
            .get(i)
            .is_some_and(|c| c.contains(Attribute::Hardlink));
        let was_seen = seen.get(i).is_some_and(|s| s.load(Ordering::Relaxed));
        if !checked || !was_seen {
            continue;
        }
        let found = actual.get(&*e.path).copied();
        if e.extra().hardlink.as_deref() != found {
            let mut d = deviation(&e.path, DeviationKind::Changed);
            d.attributes.push(Attribute::Hardlink);
            d.details.insert(
                Attribute::Hardlink,
                Change {
                    expected: e
                        .extra()
                        .hardlink
                        .as_deref()
                        .map(display_path)
                        .unwrap_or_default(),
                    actual: found.map(display_path).unwrap_or_default(),
                },
            );
            report.deviations.push(d);
        }
    }
}

/// Joins two "changed" deviations of one path into one.
fn merge_changes(report: &mut Report) {
    report
        .deviations
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.kind.cmp(&b.kind)));
    report.deviations.dedup_by(|later, earlier| {
        if later.path == earlier.path
            && later.kind == DeviationKind::Changed
            && earlier.kind == DeviationKind::Changed
        {
            earlier.attributes.append(&mut later.attributes);
            earlier.attributes.sort();
            earlier.attributes.dedup();
            earlier.details.append(&mut later.details);
            true
        } else {
            false
        }
    });
}

fn is_below(path: &[u8], dir: &[u8]) -> bool {
    if dir == b"/" {
        return path != b"/";
    }
    path.len() > dir.len() && path.starts_with(dir) && path.get(dir.len()) == Some(&b'/')
}

/// What changed from the `old` baseline to the `new` profile, checked as the old profile's
/// rules say.
#[must_use]
pub fn diff(old: &Baseline, new: &SystemProfile) -> Report {
    let mut report = Report::default();
    let mut n = new.entries.iter().peekable();
    let mut o = old.entries.iter().enumerate().peekable();
    loop {
        let next = match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some((_, a)), Some(b)) => a.path.cmp(&b.path),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
        };
        match next {
            std::cmp::Ordering::Less => {
                if let Some((i, e)) = o.next()
                    && !old.optional.get(i).copied().unwrap_or(false)
                {
                    report
                        .deviations
                        .push(deviation(&e.path, DeviationKind::Removed));
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some(e) = n.next()
                    && !matches!(old.rules.classify(&e.path), Decision::Skip)
                {
                    report
                        .deviations
                        .push(deviation(&e.path, DeviationKind::Added));
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some((i, a)), Some(b)) = (o.next(), n.next()) {
                    let checks = old.checks.get(i).copied().unwrap_or_default();
                    let mut d = differing(a, b, checks);
                    if checks.contains(Attribute::Hardlink)
                        && a.meta.kind == b.meta.kind
                        && a.extra().hardlink != b.extra().hardlink
                    {
                        d.insert(Attribute::Hardlink);
                    }
                    if !d.is_empty() {
                        report.deviations.push(changed(a, b, d));
                    }
                }
            }
        }
    }
    report.summary.expected_entries = old.entries.len() as u64;
    report.summary.actual_entries = new.entries.len() as u64;
    report.finish();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below() {
        assert!(is_below(b"/a/b", b"/a"));
        assert!(!is_below(b"/ab", b"/a"));
        assert!(!is_below(b"/a", b"/a"));
        assert!(is_below(b"/a", b"/"));
    }
}
