//! The parallel walk of a tree and the observation of each entry.
//!
//! This module owns reading the file system: `lstat`, `readlink`, extended attributes and
//! content digests. It never follows a symbolic link (so link loops cannot trap it), never
//! opens anything but a regular file (a FIFO would block, a device could have side effects),
//! reads content through a bounded buffer (huge and sparse files are streamed; live files are
//! never memory-mapped, which faults when they shrink) and re-checks a file's metadata after
//! hashing it, so a file that changes while it is read is reported, not silently recorded
//! with a digest of no version that ever existed. It must not decide what is a deviation:
//! that is `compare`'s job.

use std::cell::RefCell;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::entry::{AttributeSet, Entry, EntryKind, Meta};
use crate::progress::Progress;
use crate::rules::{Decision, Rules};

/// Read buffer per worker thread. Large enough for BLAKE3's SIMD path, small enough that
/// a thread pool's buffers stay far below the memory budget.
const BUF_SIZE: usize = 256 * 1024;
/// How often a file that keeps changing while it is hashed is retried.
const HASH_ATTEMPTS: usize = 3;

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; BUF_SIZE]);
}

/// A problem with one entry that did not stop the walk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryProblem {
    /// The path below the root.
    #[serde(serialize_with = "crate::report::ser_path")]
    pub path: Box<[u8]>,
    /// What went wrong.
    pub problem: ProblemKind,
}

/// What went wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// Its metadata or content could not be read.
    #[error("unreadable: {0}")]
    Unreadable(String),
    /// It kept changing while it was hashed.
    #[error("changed while being read ({HASH_ATTEMPTS} attempts)")]
    Unstable,
    /// A directory whose entries could not be listed.
    #[error("directory cannot be listed: {0}")]
    Unlisted(String),
}

/// One entry found by the walk, before any content is read.
#[derive(Debug)]
pub(crate) struct Visit<'a> {
    pub rel: &'a [u8],
    pub fs_path: &'a Path,
    pub meta: &'a Metadata,
    pub checks: AttributeSet,
}

/// What the walk reports.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    Entry(Visit<'a>),
    Problem(EntryProblem),
}

/// Options for a walk.
#[derive(Debug, Clone, Copy, Default)]
pub struct WalkOptions {
    /// Do not descend into directories on another file system than the root.
    pub one_file_system: bool,
}

/// Walks `root` in parallel, calling `visit` for the root itself (as `/`) and for every
/// entry the rules do not skip. Only an unusable root is an error; anything below it is
/// reported through `visit` as a problem.
pub(crate) fn walk(
    root: &Path,
    rules: &Rules,
    options: WalkOptions,
    progress: &Progress,
    visit: &(dyn Fn(Found<'_>) + Sync),
) -> io::Result<()> {
    let meta = fs::symlink_metadata(root)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", root.display()),
        ));
    }
    let root_dev = meta.dev();
    let checks = match rules.classify(b"/") {
        Decision::Skip => return Ok(()),
        Decision::Check(c) => c,
    };
    visit(Found::Entry(Visit {
        rel: b"/",
        fs_path: root,
        meta: &meta,
        checks,
    }));
    progress.add_entry();
    let ctx = Ctx {
        rules,
        options,
        root_dev,
        progress,
        visit,
    };
    rayon::scope(|s| ctx.dir(s, root.to_path_buf(), Vec::new()));
    Ok(())
}

struct Ctx<'a> {
    rules: &'a Rules,
    options: WalkOptions,
    root_dev: u64,
    progress: &'a Progress,
    visit: &'a (dyn Fn(Found<'_>) + Sync),
}

impl<'a> Ctx<'a> {
    /// Lists one directory, visits its entries and spawns a task per subdirectory.
    /// `rel` is the directory's path below the root without a trailing slash (empty for
    /// the root).
    fn dir<'s>(&'s self, scope: &rayon::Scope<'s>, fs_dir: PathBuf, rel: Vec<u8>) {
        let rel_or_root = |rel: &[u8]| -> Box<[u8]> {
            if rel.is_empty() {
                Box::from(&b"/"[..])
            } else {
                Box::from(rel)
            }
        };
        let reader = match fs::read_dir(&fs_dir) {
            Ok(r) => r,
            Err(e) => {
                (self.visit)(Found::Problem(EntryProblem {
                    path: rel_or_root(&rel),
                    problem: ProblemKind::Unlisted(e.to_string()),
                }));
                return;
            }
        };
        let mut children = Vec::new();
        for item in reader {
            match item {
                Ok(de) => children.push(de),
                Err(e) => {
                    (self.visit)(Found::Problem(EntryProblem {
                        path: rel_or_root(&rel),
                        problem: ProblemKind::Unlisted(e.to_string()),
                    }));
                    break;
                }
            }
        }
        let visit_child = |de: &fs::DirEntry| {
            let name = de.file_name();
            let mut child_rel = Vec::with_capacity(rel.len() + 1 + name.len());
            child_rel.extend_from_slice(&rel);
            child_rel.push(b'/');
            child_rel.extend_from_slice(name.as_bytes());
            let checks = match self.rules.classify(&child_rel) {
                Decision::Skip => return None,
                Decision::Check(c) => c,
            };
            let fs_path = de.path();
            // DirEntry::metadata does not follow symbolic links.
            let meta = match de.metadata() {
                Ok(m) => m,
                Err(e) => {
                    (self.visit)(Found::Problem(EntryProblem {
                        path: child_rel.into(),
                        problem: ProblemKind::Unreadable(e.to_string()),
                    }));
                    return None;
                }
            };
            (self.visit)(Found::Entry(Visit {
                rel: &child_rel,
                fs_path: &fs_path,
                meta: &meta,
                checks,
            }));
            self.progress.add_entry();
            let descend =
                meta.is_dir() && !(self.options.one_file_system && meta.dev() != self.root_dev);
            descend.then_some((fs_path, child_rel))
        };
        // Files of one directory are observed in parallel too: a single directory can
        // hold most of a tree's bytes.
        let subdirs: Mutex<Vec<(PathBuf, Vec<u8>)>> = Mutex::new(Vec::new());
        use rayon::prelude::*;
        children.par_iter().with_min_len(8).for_each(|de| {
            if let Some(d) = visit_child(de)
                && let Ok(mut v) = subdirs.lock()
            {
                v.push(d);
            }
        });
        for (fs_path, child_rel) in subdirs.into_inner().unwrap_or_default() {
            scope.spawn(move |s| self.dir(s, fs_path, child_rel));
        }
    }
}

/// Paths seen to share an inode, collected during a walk to find hard-link groups.
#[derive(Debug, Default)]
pub(crate) struct HardLinks(Mutex<Vec<(Inode, Box<[u8]>)>>);

/// Device and inode number.
type Inode = (u64, u64);
/// A path and the first path of its hard-link group.
pub(crate) type FirstLink = (Box<[u8]>, Box<[u8]>);

impl HardLinks {
    /// Notes `path` if it is a non-directory with more than one link.
    pub fn record(&self, meta: &Metadata, path: &[u8]) {
        if meta.nlink() > 1
            && !meta.is_dir()
            && let Ok(mut v) = self.0.lock()
        {
            v.push(((meta.dev(), meta.ino()), path.into()));
        }
    }

    /// For every path that shares its inode with a path earlier in byte order, that first
    /// path: the representation profiles record.
    pub fn into_first_links(self) -> Vec<FirstLink> {
        let mut all = self.0.into_inner().unwrap_or_default();
        all.sort();
        let mut out = Vec::new();
        for group in all.chunk_by(|a, b| a.0 == b.0) {
            if let Some((_, first)) = group.first() {
                for (_, path) in group.iter().skip(1) {
                    out.push((path.clone(), first.clone()));
                }
            }
        }
        out
    }
}

/// The metadata fields a profile records, from `lstat`.
pub(crate) fn meta_of(m: &Metadata) -> Meta {
    let kind = EntryKind::from_file_type(m.file_type());
    let rdev = if matches!(kind, EntryKind::BlockDevice | EntryKind::CharDevice) {
        (libc::major(m.rdev()), libc::minor(m.rdev()))
    } else {
        (0, 0)
    };
    Meta {
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        size: if kind == EntryKind::Dir { 0 } else { m.size() },
        mtime: m.mtime(),
        mtime_nsec: u32::try_from(m.mtime_nsec()).unwrap_or(0),
        rdev,
        nlink: m.nlink(),
    }
}

/// What to read beyond `lstat` when observing an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObserveWhat {
    pub blake3: bool,
    pub sha256: bool,
    pub xattrs: bool,
}

/// Observes one visited entry: metadata, link target, extended attributes and, for regular
/// files, the content digests asked for.
pub(crate) fn observe(
    visit: &Visit<'_>,
    what: ObserveWhat,
    progress: &Progress,
) -> (Entry, Option<EntryProblem>) {
    let mut entry = Entry {
        path: visit.rel.into(),
        meta: meta_of(visit.meta),
        blake3: None,
        extra: None,
    };
    let mut problem = None;
    let mut report = |p: ProblemKind| {
        problem.get_or_insert(EntryProblem {
            path: visit.rel.into(),
            problem: p,
        });
    };
    if entry.meta.kind == EntryKind::Symlink {
        match fs::read_link(visit.fs_path) {
            Ok(t) => entry.extra_mut().target = Some(t.as_os_str().as_bytes().into()),
            Err(e) => report(ProblemKind::Unreadable(e.to_string())),
        }
    }
    if what.xattrs {
        match read_xattrs(visit.fs_path) {
            Ok(x) if !x.is_empty() => entry.extra_mut().xattrs = x,
            Ok(_) => {}
            Err(e) => report(ProblemKind::Unreadable(format!("extended attributes: {e}"))),
        }
    }
    if entry.meta.kind == EntryKind::File && (what.blake3 || what.sha256) {
        match hash_stable(visit.fs_path, visit.meta, what.sha256, progress) {
            Ok(Some((d, meta))) => {
                if what.blake3 {
                    entry.blake3 = Some(d.blake3);
                }
                if let Some(s) = d.sha256 {
                    entry.extra_mut().sha256 = Some(s);
                }
                // Record the metadata the digest belongs to.
                entry.meta = meta_of(&meta);
            }
            Ok(None) => report(ProblemKind::Unstable),
            Err(e) => report(ProblemKind::Unreadable(e.to_string())),
        }
    }
    entry.shrink();
    (entry, problem)
}

fn read_xattrs(path: &Path) -> io::Result<Vec<crate::entry::Xattr>> {
    let mut out = Vec::new();
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(out),
        Err(e) => return Err(e),
    };
    for name in names {
        // `xattr::get` does not follow symbolic links.
        if let Some(value) = xattr::get(path, &name)? {
            out.push((name.as_bytes().into(), value.into()));
        }
    }
    out.sort();
    Ok(out)
}

/// Hashes a regular file, retrying while it changes under us. Returns `None` when it kept
/// changing, and the metadata that the digest matches otherwise.
fn hash_stable(
    path: &Path,
    lstat: &Metadata,
    sha256: bool,
    progress: &Progress,
) -> io::Result<Option<(medguard_digest::ContentDigests, Metadata)>> {
    for _ in 0..HASH_ATTEMPTS {
        // O_NONBLOCK: if the path was swapped for a FIFO since lstat, open must not hang.
        // O_NOFOLLOW: nor may it follow a symbolic link planted there.
        let mut file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        let before = file.metadata()?;
        if !before.is_file() || before.ino() != lstat.ino() || before.dev() != lstat.dev() {
            return Err(io::Error::other(
                "replaced by another file while being read",
            ));
        }
        let (digests, len) = BUF.with(|b| -> io::Result<_> {
            let mut buf = b.borrow_mut();
            hash_file(&mut file, sha256, &mut buf, progress)
        })?;
        let after = file.metadata()?;
        if len == after.size()
            && before.size() == after.size()
            && before.mtime() == after.mtime()
            && before.mtime_nsec() == after.mtime_nsec()
            && before.ctime() == after.ctime()
            && before.ctime_nsec() == after.ctime_nsec()
        {
            return Ok(Some((digests, after)));
        }
    }
    Ok(None)
}

fn hash_file(
    file: &mut File,
    sha256: bool,
    buf: &mut [u8],
    progress: &Progress,
) -> io::Result<(medguard_digest::ContentDigests, u64)> {
    medguard_digest::hash_reader(&mut Counted { file, progress }, sha256, buf)
}

/// A file whose reads are counted into the progress counters.
struct Counted<'a> {
    file: &'a mut File,
    progress: &'a Progress,
}

impl io::Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = io::Read::read(self.file, buf)?;
        self.progress.add_bytes(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const ALL: ObserveWhat = ObserveWhat {
        blake3: true,
        sha256: true,
        xattrs: true,
    };

    fn visit<'a>(rel: &'a [u8], path: &'a Path, meta: &'a Metadata) -> Visit<'a> {
        Visit {
            rel,
            fs_path: path,
            meta,
            checks: AttributeSet::default_checks(),
        }
    }

    #[test]
    fn a_vanished_file_is_a_problem_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "x").unwrap();
        let meta = fs::symlink_metadata(&p).unwrap();
        fs::remove_file(&p).unwrap();
        let (entry, problem) = observe(&visit(b"/f", &p, &meta), ALL, &Progress::default());
        assert!(entry.blake3.is_none());
        assert!(matches!(
            problem.unwrap().problem,
            ProblemKind::Unreadable(_)
        ));
    }

    #[test]
    fn a_file_swapped_for_a_fifo_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, "x").unwrap();
        let meta = fs::symlink_metadata(&p).unwrap();
        fs::remove_file(&p).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap()
                .success()
        );
        let (_, problem) = observe(&visit(b"/f", &p, &meta), ALL, &Progress::default());
        assert!(matches!(
            problem.unwrap().problem,
            ProblemKind::Unreadable(_)
        ));
    }

    #[test]
    fn a_digest_always_matches_the_metadata_it_is_recorded_with() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("growing.log");
        fs::write(&p, vec![b'a'; 4 << 20]).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (p, stop) = (p.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
                // Bounded, so the test stays small whatever the scheduling.
                for _ in 0..4096 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    f.write_all(&[b'b'; 4096]).unwrap();
                }
            })
        };
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            let meta = fs::symlink_metadata(&p).unwrap();
            outcomes.push(observe(
                &visit(b"/growing.log", &p, &meta),
                ALL,
                &Progress::default(),
            ));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        let content = fs::read(&p).unwrap();
        for (entry, problem) in outcomes {
            match (entry.blake3, problem) {
                (Some(d), None) => {
                    // Appends only extend the file: the recorded size's prefix is what was hashed.
                    let prefix = &content[..usize::try_from(entry.meta.size).unwrap()];
                    assert_eq!(d, *blake3::hash(prefix).as_bytes());
                }
                (None, Some(p)) => assert_eq!(p.problem, ProblemKind::Unstable),
                other => panic!("{other:?}"),
            }
        }
    }
}
