//! The scan itself: which files, read how, matched against what, and what follows.
//!
//! This module owns walking the targets, reading each file once (paced), matching it
//! against the rules and lists, and applying the quarantine policy. It must not follow
//! symbolic links below a target, and it must not quarantine a file of the validated
//! configuration.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use md5::Digest as _;
use medguard_profile::{
    Attribute, Baseline, DeviationKind, EntryKind, Progress, VerifiedProfile, WalkOptions,
};

use crate::hashlist::{DigestKind, HashLists};
use crate::pace::{GATE_EVERY_BYTES, PaceEvent, PaceOptions, Pacer, Pause};
use crate::priority::{PriorityOutcome, yield_to_clinical_work};
use crate::rules::YaraRules;
use crate::{ScanError, ser_path};
use medguard_host::Clock;

/// Read size: large enough for full disk throughput, small enough that the rate limit
/// and the clinical gate are consulted often.
const CHUNK: usize = 1 << 20;

/// Which priority the scanning threads take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Priority {
    /// Idle I/O class and nice 19: the device's own work always goes first.
    #[default]
    YieldToClinicalWork,
    /// The caller's priority, for a manufacturing scan of an image on a build machine.
    Unchanged,
}

/// The files of the validated configuration: a verified profile and the directory it
/// describes.
#[derive(Debug)]
pub struct ValidatedConfiguration {
    root: PathBuf,
    profile: VerifiedProfile,
}

impl ValidatedConfiguration {
    /// `profile` describes the tree at `root` (`/` on a device).
    #[must_use]
    pub fn new(root: PathBuf, profile: VerifiedProfile) -> Self {
        Self { root, profile }
    }

    /// The path as the profile names it (`/usr/bin/x`), if it is below the root.
    fn profile_path(&self, path: &Path) -> Option<Vec<u8>> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let mut out = Vec::with_capacity(rel.as_os_str().len() + 1);
        for c in rel.components() {
            out.push(b'/');
            out.extend_from_slice(c.as_os_str().as_bytes());
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Some(out)
    }

    /// Whether `path` is a regular file of the validated configuration.
    #[must_use]
    pub fn contains(&self, path: &Path) -> bool {
        self.profile_path(path)
            .and_then(|p| self.profile.profile().get(&p).map(|e| e.meta.kind))
            .is_some_and(|k| k == EntryKind::File)
    }
}

/// How to scan.
#[derive(Debug)]
pub struct ScanOptions {
    /// Files up to this size are YARA-scanned whole; larger ones are hash-checked only.
    pub max_yara_size: u64,
    /// Scanning threads.
    pub threads: usize,
    /// Rate limit and clinical gate.
    pub pace: PaceOptions,
    /// Thread priority.
    pub priority: Priority,
    /// The validated configuration, whose files are never quarantined.
    pub validated: Option<ValidatedConfiguration>,
    /// Quarantine directory for matches outside the validated configuration.
    pub quarantine: Option<PathBuf>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_yara_size: 256 << 20,
            threads: 1,
            pace: PaceOptions::default(),
            priority: Priority::default(),
            validated: None,
            quarantine: None,
        }
    }
}

/// What was found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "engine", rename_all = "lowercase")]
pub enum Detection {
    /// A YARA rule matched.
    Yara {
        /// The rule's identifier.
        rule: String,
        /// Its namespace (the rule file's name below the rules directory).
        namespace: String,
        /// The rule file.
        #[serde(serialize_with = "ser_path")]
        source: PathBuf,
        /// The rule's tags.
        tags: Vec<String>,
        /// The rule's metadata, as written in its `meta:` section.
        metadata: serde_json::Value,
    },
    /// A hash signature matched.
    Hash {
        /// The signature's malware name.
        signature: String,
        /// The digest algorithm.
        digest: DigestKind,
        /// The file's digest, hex.
        value: String,
        /// The hash list.
        #[serde(serialize_with = "ser_path")]
        list: PathBuf,
        /// The line in the hash list.
        line: usize,
    },
}

impl Detection {
    /// The rule or signature name.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Detection::Yara { rule, .. } => rule,
            Detection::Hash { signature, .. } => signature,
        }
    }
}

/// What was done about a finding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The file belongs to the validated configuration: a person must decide.
    PersonMustDecide,
    /// Reported only (no quarantine asked for).
    Reported,
    /// Moved to the quarantine.
    Quarantined {
        /// Where it is now.
        to: String,
    },
    /// Quarantine was asked for and failed; the file is where it was.
    QuarantineFailed {
        /// Why.
        error: String,
    },
}

/// One match in one file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The file.
    #[serde(serialize_with = "ser_path")]
    pub path: PathBuf,
    /// What matched.
    pub detection: Detection,
    /// Whether the file belongs to the validated configuration.
    pub in_validated_configuration: bool,
    /// What was done.
    #[serde(flatten)]
    pub action: Action,
}

/// A file that could not be fully scanned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileProblem {
    /// The file.
    #[serde(serialize_with = "ser_path")]
    pub path: PathBuf,
    /// What went wrong.
    #[serde(flatten)]
    pub problem: ProblemKind,
}

/// What went wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// It could not be opened, listed or read.
    Unreadable {
        /// The cause.
        error: String,
    },
    /// Larger than the YARA size limit: hash-checked only.
    TooLargeForYara {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// yara-x failed on it (a rule timed out, for example).
    YaraFailed {
        /// The cause.
        error: String,
    },
}

/// Counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScanSummary {
    /// Regular files examined.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Findings.
    pub findings: u64,
    /// Findings in files of the validated configuration.
    pub person_must_decide: u64,
    /// Files quarantined.
    pub quarantined: u64,
    /// Files with problems.
    pub problems: u64,
    /// YARA rules loaded.
    pub yara_rules: u64,
    /// Hash signatures loaded.
    pub hash_signatures: u64,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScanReport {
    /// Findings, by path.
    pub findings: Vec<Finding>,
    /// Files that could not be fully scanned, by path.
    pub problems: Vec<FileProblem>,
    /// Pauses for clinical work.
    pub pauses: Vec<Pause>,
    /// Whether the priority could be lowered.
    pub priority: PriorityOutcome,
    /// Counts.
    pub summary: ScanSummary,
}

/// What the scan reports while it runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ScanEvent {
    /// A pause began or ended.
    Pace(PaceEvent),
}

/// The files [`changed_since`] found, and the entries it could not compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedFiles {
    /// Files added or changed since the profile.
    pub files: Vec<PathBuf>,
    /// Entries the comparison could not read: they may have changed, so they are reported
    /// as problems of the scan.
    pub problems: Vec<FileProblem>,
}

/// The files that differ from the validated profile: added, or with changed content,
/// size or type (a file whose mode or time changed has validated content). The profile
/// describes `root`; only files below one of `targets` are kept. Entries the comparison
/// could not read are returned as problems, which [`scan`] of [`Targets::Changed`] reports
/// with its own.
pub fn changed_since(
    root: &Path,
    profile: VerifiedProfile,
    targets: &[PathBuf],
    progress: &Progress,
) -> Result<ChangedFiles, ScanError> {
    let baseline = Baseline::from_profile(profile);
    let report = medguard_profile::verify_tree(root, &baseline, WalkOptions::default(), progress)?;
    let to_fs = |rel: &[u8]| {
        let rel = std::ffi::OsStr::from_bytes(rel.strip_prefix(b"/").unwrap_or(rel));
        root.join(rel)
    };
    let wanted = |p: &Path| targets.iter().any(|t| p.starts_with(t));
    let mut files = Vec::new();
    for d in &report.deviations {
        let content = match d.kind {
            DeviationKind::Added => true,
            DeviationKind::Changed => d
                .attributes
                .iter()
                .any(|a| matches!(a, Attribute::Content | Attribute::Size | Attribute::Type)),
            DeviationKind::Removed => false,
        };
        let path = to_fs(&d.path);
        if content && wanted(&path) {
            files.push(path);
        }
    }
    let problems = report
        .unverifiable
        .iter()
        .map(|p| FileProblem {
            path: to_fs(&p.path),
            problem: ProblemKind::Unreadable {
                error: format!("{:?}", p.problem),
            },
        })
        .filter(|p| wanted(&p.path))
        .collect();
    Ok(ChangedFiles { files, problems })
}

/// Lists the regular files below `targets`, never following a symbolic link below a
/// target. A target itself may be a link to a file or directory.
fn collect_files(
    targets: &[PathBuf],
    problems: &mut Vec<FileProblem>,
) -> Result<Vec<PathBuf>, ScanError> {
    let mut files = Vec::new();
    for t in targets {
        let meta = std::fs::metadata(t).map_err(|error| ScanError::Target {
            path: t.clone(),
            error,
        })?;
        if meta.is_dir() {
            walk_dir(t, &mut files, problems);
        } else if meta.is_file() {
            files.push(t.clone());
        }
    }
    Ok(files)
}

fn walk_dir(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<FileProblem>) {
    let unreadable = |e: std::io::Error| FileProblem {
        path: dir.to_owned(),
        problem: ProblemKind::Unreadable {
            error: e.to_string(),
        },
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            problems.push(unreadable(e));
            return;
        }
    };
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(unreadable(e));
                break;
            }
        };
        // DirEntry::file_type does not follow links.
        match entry.file_type() {
            Ok(ft) if ft.is_dir() => subdirs.push(entry.path()),
            Ok(ft) if ft.is_file() => files.push(entry.path()),
            // Links, devices, FIFOs and sockets are not scanned: reading a FIFO or a
            // device could block or never end.
            Ok(ft) if ft.is_symlink() || ft.is_fifo() || ft.is_socket() => {}
            Ok(_) => {}
            Err(e) => problems.push(FileProblem {
                path: entry.path(),
                problem: ProblemKind::Unreadable {
                    error: e.to_string(),
                },
            }),
        }
    }
    for d in subdirs {
        walk_dir(&d, files, problems);
    }
}

/// What to scan.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Files, and directories walked recursively.
    Walk(Vec<PathBuf>),
    /// Exactly these files.
    Files(Vec<PathBuf>),
    /// The files [`changed_since`] found; the entries it could not compare are problems
    /// of the scan.
    Changed(ChangedFiles),
}

/// Scans `targets` with `rules` and `hashes`.
pub fn scan(
    targets: Targets,
    rules: Option<&YaraRules>,
    hashes: &HashLists,
    options: &ScanOptions,
    clock: &dyn Clock,
    progress: &Progress,
    events: &(dyn Fn(&ScanEvent) + Sync),
) -> Result<ScanReport, ScanError> {
    if rules.is_none() && hashes.is_empty() {
        return Err(ScanError::NothingToScanWith);
    }
    let mut problems = Vec::new();
    let files = match targets {
        Targets::Files(f) => f,
        Targets::Walk(t) => collect_files(&t, &mut problems)?,
        Targets::Changed(changed) => {
            problems = changed.problems;
            changed.files
        }
    };
    let pacer = Pacer::new(options.pace.clone(), clock);
    let pace_events = |e: &PaceEvent| events(&ScanEvent::Pace(e.clone()));
    let next = AtomicUsize::new(0);
    let shared = Mutex::new(Collected::default());
    let threads = options.threads.clamp(1, 64);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let priority = match options.priority {
                    Priority::YieldToClinicalWork => yield_to_clinical_work(),
                    Priority::Unchanged => PriorityOutcome::default(),
                };
                let mut worker = Worker {
                    scanner: rules.map(|r| yara_x::Scanner::new(r.compiled())),
                    rules,
                    hashes,
                    options,
                    pacer: &pacer,
                    progress,
                    events: &pace_events,
                    buf: Vec::new(),
                    out: Collected::default(),
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    worker.file(path);
                }
                if let Ok(mut all) = shared.lock() {
                    all.findings.append(&mut worker.out.findings);
                    all.problems.append(&mut worker.out.problems);
                    all.files += worker.out.files;
                    all.bytes += worker.out.bytes;
                    if all.priority.is_none() {
                        all.priority = Some(priority);
                    }
                }
            });
        }
    });
    let collected = shared.into_inner().unwrap_or_default();
    problems.extend(collected.problems);
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    let mut findings = collected.findings;
    findings.sort_by(|a, b| (&a.path, a.detection.name()).cmp(&(&b.path, b.detection.name())));
    let mut summary = ScanSummary {
        files: collected.files,
        bytes: collected.bytes,
        yara_rules: rules.map_or(0, |r| r.len() as u64),
        hash_signatures: hashes.signatures().len() as u64,
        ..ScanSummary::default()
    };
    apply_policy(&mut findings, options, clock, &mut summary);
    summary.findings = findings.len() as u64;
    summary.problems = problems.len() as u64;
    Ok(ScanReport {
        findings,
        problems,
        pauses: pacer.pauses(),
        priority: collected.priority.unwrap_or_default(),
        summary,
    })
}

/// Marks findings in the validated configuration for a person, and quarantines the
/// others' files if asked to (once per file, with every detection in its record).
fn apply_policy(
    findings: &mut [Finding],
    options: &ScanOptions,
    clock: &dyn Clock,
    summary: &mut ScanSummary,
) {
    let mut by_file: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter_mut().enumerate() {
        f.in_validated_configuration = options
            .validated
            .as_ref()
            .is_some_and(|v| v.contains(&f.path));
        if f.in_validated_configuration {
            f.action = Action::PersonMustDecide;
            summary.person_must_decide += 1;
        } else {
            by_file.entry(f.path.clone()).or_default().push(i);
        }
    }
    let Some(dir) = &options.quarantine else {
        return;
    };
    let now = clock.now();
    for (path, indices) in by_file {
        let detections = indices
            .iter()
            .filter_map(|&i| findings.get(i))
            .map(|f| f.detection.name().to_owned())
            .collect();
        let action = match crate::quarantine::quarantine(&path, dir, detections, now) {
            Ok(record) => {
                summary.quarantined += 1;
                Action::Quarantined {
                    to: record.quarantined_as,
                }
            }
            Err(e) => Action::QuarantineFailed {
                error: e.to_string(),
            },
        };
        for i in indices {
            if let Some(f) = findings.get_mut(i) {
                f.action = action.clone();
            }
        }
    }
}

#[derive(Debug, Default)]
struct Collected {
    findings: Vec<Finding>,
    problems: Vec<FileProblem>,
    files: u64,
    bytes: u64,
    priority: Option<PriorityOutcome>,
}

struct Worker<'a, 'r> {
    scanner: Option<yara_x::Scanner<'r>>,
    rules: Option<&'r YaraRules>,
    hashes: &'a HashLists,
    options: &'a ScanOptions,
    pacer: &'a Pacer<'a>,
    progress: &'a Progress,
    events: &'a (dyn Fn(&PaceEvent) + Sync),
    buf: Vec<u8>,
    out: Collected,
}

/// The digests one file needs, fed in one pass.
#[derive(Default)]
struct Hashers {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Hashers {
    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
    }

    fn finish(self) -> Vec<(DigestKind, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(h) = self.md5 {
            out.push((DigestKind::Md5, h.finalize().to_vec()));
        }
        if let Some(h) = self.sha1 {
            out.push((DigestKind::Sha1, h.finalize().to_vec()));
        }
        if let Some(h) = self.sha256 {
            out.push((DigestKind::Sha256, h.finalize().to_vec()));
        }
        out
    }
}

impl Worker<'_, '_> {
    fn problem(&mut self, path: &Path, problem: ProblemKind) {
        self.out.problems.push(FileProblem {
            path: path.to_owned(),
            problem,
        });
    }

    fn file(&mut self, path: &Path) {
        self.pacer
            .checkpoint(path, self.out.files == 0, self.events);
        self.out.files += 1;
        self.progress.add_entry();
        let unreadable = |e: std::io::Error| ProblemKind::Unreadable {
            error: e.to_string(),
        };
        // O_NONBLOCK: a path replaced by a FIFO between the walk and the open must not
        // hang the scan; regular files ignore the flag.
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => f,
            Err(e) => return self.problem(path, unreadable(e)),
        };
        let size = match file.metadata() {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return,
            Err(e) => return self.problem(path, unreadable(e)),
        };
        let needs = self.hashes.needs(size);
        let mut yara_whole = self.scanner.is_some();
        if yara_whole && size > self.options.max_yara_size {
            yara_whole = false;
            self.problem(
                path,
                ProblemKind::TooLargeForYara {
                    size,
                    limit: self.options.max_yara_size,
                },
            );
        }
        if !needs.any() && !yara_whole {
            return;
        }
        let mut hashers = Hashers {
            md5: needs.md5.then(md5::Md5::new),
            sha1: needs.sha1.then(sha1::Sha1::new),
            sha256: needs.sha256.then(sha2::Sha256::new),
        };
        match self.read(&mut file, path, size, &mut hashers, &mut yara_whole) {
            Ok(total) => {
                for (kind, digest) in hashers.finish() {
                    for sig in self.hashes.lookup(kind, &digest, total) {
                        let list = self
                            .hashes
                            .sources()
                            .get(sig.source)
                            .cloned()
                            .unwrap_or_default();
                        self.out.findings.push(Finding {
                            path: path.to_owned(),
                            detection: crate::Detection::Hash {
                                signature: sig.name.clone(),
                                digest: kind,
                                value: hex::encode(&digest),
                                list,
                                line: sig.line,
                            },
                            in_validated_configuration: false,
                            action: Action::Reported,
                        });
                    }
                }
                if yara_whole {
                    self.yara(path);
                }
            }
            Err(e) => self.problem(path, unreadable(e)),
        }
    }

    /// Reads the file once: paced, hashed, and kept in `buf` for YARA while it fits.
    fn read(
        &mut self,
        file: &mut File,
        path: &Path,
        size: u64,
        hashers: &mut Hashers,
        yara_whole: &mut bool,
    ) -> std::io::Result<u64> {
        self.buf.clear();
        if *yara_whole {
            self.buf
                .reserve(usize::try_from(size).unwrap_or(0).saturating_add(1));
        }
        let mut chunk = Vec::new();
        let mut total = 0u64;
        let mut since_gate = 0u64;
        loop {
            let n = if *yara_whole {
                let start = self.buf.len();
                self.buf.resize(start + CHUNK, 0);
                let dest = self.buf.get_mut(start..).unwrap_or_default();
                let n = read_retrying(file, dest);
                self.buf.truncate(start + n.as_ref().map_or(0, |n| *n));
                let n = n?;
                if let Some(data) = self.buf.get(start..) {
                    hashers.update(data);
                }
                n
            } else {
                chunk.resize(CHUNK, 0);
                let n = read_retrying(file, &mut chunk)?;
                if let Some(data) = chunk.get(..n) {
                    hashers.update(data);
                }
                n
            };
            if n == 0 {
                break;
            }
            let n = n as u64;
            total += n;
            since_gate += n;
            self.out.bytes += n;
            self.progress.add_bytes(n);
            self.pacer.consumed(n);
            if since_gate >= GATE_EVERY_BYTES {
                since_gate = 0;
                self.pacer.checkpoint(path, false, self.events);
            }
            if *yara_whole && total > self.options.max_yara_size {
                // It grew while being read.
                *yara_whole = false;
                self.buf = Vec::new();
                self.problem(
                    path,
                    ProblemKind::TooLargeForYara {
                        size: total,
                        limit: self.options.max_yara_size,
                    },
                );
            }
        }
        Ok(total)
    }

    fn yara(&mut self, path: &Path) {
        let (Some(scanner), Some(rules)) = (self.scanner.as_mut(), self.rules) else {
            return;
        };
        let results = match scanner.scan(&self.buf) {
            Ok(r) => r,
            Err(e) => {
                let error = e.to_string();
                return self.problem(path, ProblemKind::YaraFailed { error });
            }
        };
        for rule in results.matching_rules() {
            let namespace = rule.namespace().to_owned();
            self.out.findings.push(Finding {
                path: path.to_owned(),
                detection: crate::Detection::Yara {
                    rule: rule.identifier().to_owned(),
                    source: rules
                        .source_of(&namespace)
                        .map(Path::to_path_buf)
                        .unwrap_or_default(),
                    namespace,
                    tags: rule.tags().map(|t| t.identifier().to_owned()).collect(),
                    metadata: metadata_json(rule.metadata()),
                },
                in_validated_configuration: false,
                action: Action::Reported,
            });
        }
        // Large buffers are not kept between files: one big file must not pin its size
        // in memory for the rest of the scan.
        if self.buf.capacity() > 64 << 20 {
            self.buf = Vec::new();
        }
    }
}

/// A rule's `meta:` section as a JSON object; a key given more than once (several
/// `reference` lines are common) becomes an array of its values, in order.
fn metadata_json(meta: yara_x::Metadata<'_, '_>) -> serde_json::Value {
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    for (key, value) in meta {
        let v = match value {
            yara_x::MetaValue::Integer(i) => Value::from(i),
            yara_x::MetaValue::Float(f) => Value::from(f),
            yara_x::MetaValue::Bool(b) => Value::from(b),
            yara_x::MetaValue::String(s) => Value::from(s),
            yara_x::MetaValue::Bytes(b) => Value::from(b.to_string()),
        };
        match out.get_mut(key) {
            None => {
                out.insert(key.to_owned(), v);
            }
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
        }
    }
    Value::Object(out)
}

fn read_retrying(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keeps_repeated_keys_as_arrays() {
        let rules = yara_x::compile(
            r#"rule r { meta: reference = "a" reference = "b" score = 7 ok = true condition: true }"#,
        )
        .unwrap();
        let mut scanner = yara_x::Scanner::new(&rules);
        let results = scanner.scan(b"").unwrap();
        let rule = results.matching_rules().next().unwrap();
        assert_eq!(
            metadata_json(rule.metadata()),
            serde_json::json!({"reference": ["a", "b"], "score": 7, "ok": true})
        );
    }

    #[test]
    fn walking_skips_links_and_special_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("d"), dir.path().join("l")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.path().join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let mut problems = Vec::new();
        let files = collect_files(&[dir.path().to_owned()], &mut problems).unwrap();
        assert_eq!(files, [dir.path().join("d/f")]);
        assert!(problems.is_empty());
        assert!(matches!(
            collect_files(&[dir.path().join("missing")], &mut problems),
            Err(ScanError::Target { .. })
        ));
    }
}
