//! Verification of a whole log directory against trusted checkpoint keys.
//!
//! This module owns the judgement "is this log intact?": it walks every segment and every
//! checkpoint and reports each problem with the segment file, byte offset, record seq and
//! kind. It must not modify the directory (recovery is the writer's job) and must not parse
//! event JSON: the chain digest covers the payload bytes, so integrity does not depend on
//! the JSON, and skipping it keeps verification above a million records a second.
//!
//! # What a verdict proves
//! The chain digest is not keyed: whoever can write the directory can rewrite records and
//! recompute the chain after them. Only a checkpoint proves anything: a signed one in the
//! log's `checkpoints` file, or a [`KnownCheckpoint`] the caller holds outside the log (the
//! fleet server keeps the last checkpoint each device sent). So the [`Verdict`] is:
//!
//! - [`Verdict::Tampered`]: evidence that records were modified, removed, reordered or cut
//!   off (an error-level [`Problem`]).
//! - [`Verdict::Unproven`]: no such evidence, but something the checkpoints do not cover:
//!   records after the last checkpoint (which could have been rewritten or cut off), a torn
//!   record at the end, or an empty log (which is what a log with everything deleted looks
//!   like). A warning-level [`Problem`] says what.
//! - [`Verdict::Intact`]: every record is covered by a checkpoint, and the log reaches every
//!   known checkpoint with the same chain digest.
//!
//! A log cut back to an earlier checkpoint *together with* the lines of its `checkpoints`
//! file after it looks intact locally: nothing left on the device shows what was removed.
//! Only a copy of a later checkpoint held elsewhere proves it: pass it to
//! [`verify_against`], and the log is intact only when it reaches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use medguard_digest::PublicKey;

use crate::checkpoint::{CHECKPOINT_FILE, SignedCheckpoint};
use crate::error::AuditError;
use crate::record::{ChainDigest, FrameError};
use crate::segment::{LocatedFrame, SEGMENT_HEADER, SegmentFrames, check_header, list_segments};

/// What kind of problem verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A record's bytes do not match its chain digest (modified record, or the previous
    /// record's digest was rewritten).
    ModifiedRecord,
    /// Records between two present ones are missing (deleted).
    MissingRecords,
    /// A record appears after a record with a higher seq (reordered or duplicated).
    Reordered,
    /// A segment file is missing from the numbering.
    MissingSegment,
    /// A segment's header is wrong (not a segment, or renamed).
    BadSegmentHeader,
    /// Bytes that are not a whole record, inside the log.
    CorruptFrame,
    /// The log ends before a signed checkpoint: records were cut off.
    TruncatedSinceCheckpoint,
    /// The record a checkpoint covers has a different digest or position: the chain was
    /// rewritten.
    CheckpointMismatch,
    /// A checkpoint's signature does not verify, or its line is malformed.
    BadCheckpointSignature,
    /// A checkpoint is signed by a key that is not trusted.
    UntrustedCheckpointKey,
    /// Records after the last valid checkpoint are covered by the chain only (warning).
    UnsignedTail,
    /// A torn frame at the very end of the log (a crash not yet recovered; warning).
    TornTail,
    /// No records and no checkpoint: nothing shows whether the log was never written or
    /// emptied (warning).
    EmptyLog,
}

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// No evidence of tampering, but something no checkpoint proves: the verdict is
    /// [`Verdict::Unproven`], not intact.
    Warning,
    /// Evidence of tampering or damage.
    Error,
}

impl ProblemKind {
    /// The severity of this kind.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Self::UnsignedTail | Self::TornTail | Self::EmptyLog => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// What verification could prove about a log (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every record is covered by a checkpoint and every known checkpoint is reached.
    Intact,
    /// No evidence of tampering, but not everything is covered by a checkpoint.
    Unproven,
    /// Evidence of tampering or damage.
    Tampered,
}

/// A checkpoint held outside the log, which the caller vouches for: "record `seq` had
/// chain digest `digest`" (the last checkpoint a fleet server received from the device,
/// or one an auditor wrote down). Written `SEQ:DIGEST` (64 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KnownCheckpoint {
    /// The record it covers.
    pub seq: u64,
    /// That record's chain digest.
    pub digest: ChainDigest,
}

impl From<crate::checkpoint::Checkpoint> for KnownCheckpoint {
    fn from(c: crate::checkpoint::Checkpoint) -> Self {
        Self {
            seq: c.seq,
            digest: c.digest,
        }
    }
}

/// Why a `SEQ:DIGEST` text is not a [`KnownCheckpoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a checkpoint: expected SEQ:DIGEST (a record number, a colon, 64 hex digits)"
)]
pub struct KnownCheckpointError {
    /// The text given.
    pub text: String,
}

impl std::str::FromStr for KnownCheckpoint {
    type Err = KnownCheckpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || KnownCheckpointError {
            text: text.to_owned(),
        };
        let (seq, digest) = text.split_once(':').ok_or_else(bad)?;
        if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(Self {
            seq: seq.parse().map_err(|_| bad())?,
            digest: ChainDigest::from_hex(digest).ok_or_else(bad)?,
        })
    }
}

impl std::fmt::Display for KnownCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.digest)
    }
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// How serious.
    pub severity: Severity,
    /// The segment (or checkpoint) file.
    pub file: PathBuf,
    /// Byte offset in that file (for the checkpoint file: the 1-based line).
    pub offset: u64,
    /// The record seq concerned, when known.
    pub seq: Option<u64>,
    /// A sentence for people.
    pub detail: String,
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// What could be proven; follows from the problems' severities.
    pub verdict: Verdict,
    /// Segments read.
    pub segments: u64,
    /// Records read.
    pub records: u64,
    /// The highest seq seen.
    pub last_seq: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// The seq covered by the last valid checkpoint.
    pub signed_through: u64,
    /// The highest seq covered by a checkpoint, signed or known (records after it are
    /// covered by the chain only).
    pub proven_through: u64,
    /// Everything found, in file order.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether the log is proven intact: every record is covered by a checkpoint, and no
    /// problem at all was found.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.verdict == Verdict::Intact
    }

    /// Whether an error-level problem (evidence of tampering or damage) was found.
    #[must_use]
    pub fn is_tampered(&self) -> bool {
        self.verdict == Verdict::Tampered
    }

    fn judge(problems: &[Problem]) -> Verdict {
        match problems.iter().map(|p| p.severity).max() {
            None => Verdict::Intact,
            Some(Severity::Warning) => Verdict::Unproven,
            Some(Severity::Error) => Verdict::Tampered,
        }
    }
}

/// Verifies the log in `dir`: the chain through every segment, and every checkpoint against
/// the `trusted` keys. I/O errors are errors; everything wrong with the contents is a
/// [`Problem`] in the report. The same as [`verify_against`] with no known checkpoint.
pub fn verify(dir: &Path, trusted: &[PublicKey]) -> Result<VerifyReport, AuditError> {
    verify_against(dir, trusted, &[])
}

/// [`verify`], and the log must also reach each `known` checkpoint (held outside the log,
/// see [`KnownCheckpoint`]) with the same chain digest: a log that ends before one was cut
/// off ([`ProblemKind::TruncatedSinceCheckpoint`]), one with another digest there was
/// rewritten ([`ProblemKind::CheckpointMismatch`]). Known checkpoints cover records like
/// signed ones, so records up to the last one are not an unsigned tail.
pub fn verify_against(
    dir: &Path,
    trusted: &[PublicKey],
    known: &[KnownCheckpoint],
) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport {
        verdict: Verdict::Intact,
        segments: 0,
        records: 0,
        last_seq: 0,
        checkpoints: 0,
        signed_through: 0,
        proven_through: 0,
        problems: Vec::new(),
    };
    let checkpoints = read_checkpoints(dir, trusted, &mut report)?;
    let known: BTreeMap<u64, ChainDigest> = known.iter().map(|k| (k.seq, k.digest)).collect();
    report.proven_through = checkpoints
        .keys()
        .chain(known.keys())
        .copied()
        .max()
        .unwrap_or(0);
    let segments = list_segments(dir)?;
    let mut walk = Walk {
        proven_through: report.proven_through,
        ..Walk::default()
    };
    let mut expected_segment = segments.first().map_or(1, |s| s.number);
    if expected_segment > 1 {
        walk.problem(
            ProblemKind::MissingSegment,
            dir.join(crate::segment::segment_file_name(1)),
            0,
            None,
            format!(
                "segments 1 to {} are missing",
                expected_segment.saturating_sub(1)
            ),
        );
    }
    let count = segments.len();
    for (i, seg) in segments.iter().enumerate() {
        if seg.number != expected_segment {
            walk.problem(
                ProblemKind::MissingSegment,
                seg.path.clone(),
                0,
                None,
                format!(
                    "segments {} to {} are missing before this one",
                    expected_segment,
                    seg.number.saturating_sub(1)
                ),
            );
        }
        expected_segment = seg.number.saturating_add(1);
        report.segments += 1;
        let bytes = std::fs::read(&seg.path).map_err(AuditError::io(&seg.path))?;
        if let Err(reason) = check_header(&bytes, seg.number) {
            walk.problem(
                ProblemKind::BadSegmentHeader,
                seg.path.clone(),
                0,
                None,
                reason.to_owned(),
            );
            if bytes.len() < SEGMENT_HEADER {
                continue;
            }
        }
        let is_last = i + 1 == count;
        walk.segment(seg.number, &seg.path, &bytes, is_last, &checkpoints, &known);
    }
    report.records = walk.records;
    report.last_seq = walk.max_seen;
    for (seq, gap_end) in std::mem::take(&mut walk.gaps) {
        let (file, offset) = walk.gap_at.get(&seq).cloned().unwrap_or_default();
        walk.problem(
            ProblemKind::MissingRecords,
            file,
            offset,
            Some(seq),
            if seq == gap_end {
                format!("record {seq} is missing")
            } else {
                format!("records {seq} to {gap_end} are missing")
            },
        );
    }
    for (seq, (line, cp)) in checkpoints.range(walk.max_seen.saturating_add(1)..) {
        walk.problem(
            ProblemKind::TruncatedSinceCheckpoint,
            dir.join(CHECKPOINT_FILE),
            *line as u64,
            Some(*seq),
            format!(
                "log ends at record {} but checkpoint signs record {} (segment {}): records were cut off",
                walk.max_seen, cp.seq, cp.segment
            ),
        );
    }
    for (seq, digest) in known.range(walk.max_seen.saturating_add(1)..) {
        walk.problem(
            ProblemKind::TruncatedSinceCheckpoint,
            dir.to_owned(),
            0,
            Some(*seq),
            format!(
                "log ends at record {} but the known checkpoint {seq}:{digest} (held outside the log) covers record {seq}: records were cut off",
                walk.max_seen
            ),
        );
    }
    if walk.max_seen > report.proven_through {
        let (file, offset) = walk
            .tail_start
            .clone()
            .unwrap_or_else(|| (dir.to_owned(), 0));
        walk.problem(
            ProblemKind::UnsignedTail,
            file,
            offset,
            Some(report.proven_through.saturating_add(1)),
            format!(
                "records {} to {} follow the last valid checkpoint and are protected by the chain only: they could have been rewritten or cut off unseen",
                report.proven_through.saturating_add(1),
                walk.max_seen
            ),
        );
    }
    if walk.records == 0 && checkpoints.is_empty() && known.is_empty() {
        walk.problem(
            ProblemKind::EmptyLog,
            dir.to_owned(),
            0,
            None,
            "no records and no checkpoint: nothing shows whether the log was never written or everything in it was deleted".to_owned(),
        );
    }
    report.problems.append(&mut walk.problems);
    // File order: segments by name, then offset (the checkpoint file sorts after them).
    report
        .problems
        .sort_by(|a, b| (&a.file, a.offset).cmp(&(&b.file, b.offset)));
    report.verdict = VerifyReport::judge(&report.problems);
    Ok(report)
}

type Checkpoints = BTreeMap<u64, (usize, crate::checkpoint::Checkpoint)>;

fn read_checkpoints(
    dir: &Path,
    trusted: &[PublicKey],
    report: &mut VerifyReport,
) -> Result<Checkpoints, AuditError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(AuditError::io(&path)(e)),
    };
    let mut out = BTreeMap::new();
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // A file ending in a newline splits into a last empty piece; anything else there is a
    // torn last line (a crash while signing): a warning, not tampering.
    let torn_last = lines.pop().filter(|l| !l.is_empty());
    let mut bad = |kind: ProblemKind, line: usize, seq: Option<u64>, detail: String| {
        report.problems.push(Problem {
            kind,
            severity: kind.severity(),
            file: path.clone(),
            offset: line as u64,
            seq,
            detail,
        });
    };
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let parsed = std::str::from_utf8(line)
            .map_err(|_| "not UTF-8")
            .and_then(SignedCheckpoint::parse);
        let cp = match parsed {
            Ok(cp) => cp,
            Err(reason) => {
                bad(
                    ProblemKind::BadCheckpointSignature,
                    n,
                    None,
                    format!("line {n}: malformed checkpoint: {reason}"),
                );
                continue;
            }
        };
        match cp.verify(trusted) {
            Ok(()) => {
                report.checkpoints += 1;
                report.signed_through = report.signed_through.max(cp.checkpoint.seq);
                out.insert(cp.checkpoint.seq, (n, cp.checkpoint));
            }
            Err(crate::checkpoint::CheckpointSignatureError::UntrustedKey(id)) => bad(
                ProblemKind::UntrustedCheckpointKey,
                n,
                Some(cp.checkpoint.seq),
                format!(
                    "line {n}: checkpoint of record {} is signed by untrusted key {id}",
                    cp.checkpoint.seq
                ),
            ),
            Err(e) => bad(
                ProblemKind::BadCheckpointSignature,
                n,
                Some(cp.checkpoint.seq),
                format!("line {n}: checkpoint of record {}: {e}", cp.checkpoint.seq),
            ),
        }
    }
    if torn_last.is_some() {
        let n = lines.len() + 1;
        bad(
            ProblemKind::TornTail,
            n,
            None,
            format!("line {n}: torn checkpoint line (crash while signing)"),
        );
    }
    Ok(out)
}

#[derive(Debug, Default)]
struct Walk {
    /// Records up to this seq are covered by a checkpoint.
    proven_through: u64,
    records: u64,
    max_seen: u64,
    /// The physically previous record: seq and digest.
    prev: Option<(u64, ChainDigest)>,
    /// Missing seq ranges (start -> end), pending: a later reordered record may fill them.
    gaps: BTreeMap<u64, u64>,
    gap_at: BTreeMap<u64, (PathBuf, u64)>,
    tail_start: Option<(PathBuf, u64)>,
    problems: Vec<Problem>,
}

impl Walk {
    fn problem(
        &mut self,
        kind: ProblemKind,
        file: PathBuf,
        offset: u64,
        seq: Option<u64>,
        detail: String,
    ) {
        self.problems.push(Problem {
            kind,
            severity: kind.severity(),
            file,
            offset,
            seq,
            detail,
        });
    }

    fn segment(
        &mut self,
        number: u64,
        path: &Path,
        bytes: &[u8],
        is_last: bool,
        checkpoints: &Checkpoints,
        known: &BTreeMap<u64, ChainDigest>,
    ) {
        let proven_through = self.proven_through;
        let mut walker = SegmentFrames::new(bytes, SEGMENT_HEADER);
        let mut frames = Vec::new();
        let mut failure = None;
        while let Some(item) = walker.next() {
            match item {
                Ok(f) => frames.push((f, walker.position() as u64)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let links = chain_links(&frames);
        for (j, &(located, end)) in frames.iter().enumerate() {
            let frame = located.frame;
            let seq = frame.seq;
            self.records += 1;
            // The writer numbers records from 1: a record 0 was not written by it, and
            // would otherwise pass as the start of a chain no checkpoint needs to cover.
            if seq == 0 {
                self.problem(
                    ProblemKind::CorruptFrame,
                    path.to_owned(),
                    located.offset,
                    Some(0),
                    "record 0: the log numbers its records from 1, so this one was not written by it".to_owned(),
                );
                continue;
            }
            if seq > proven_through && self.tail_start.is_none() {
                self.tail_start = Some((path.to_owned(), located.offset));
            }
            if seq <= self.max_seen && self.records > 1 {
                self.fill_gap(seq);
                self.problem(
                    ProblemKind::Reordered,
                    path.to_owned(),
                    located.offset,
                    Some(seq),
                    format!(
                        "record {seq} appears after record {} (reordered or duplicated)",
                        self.max_seen
                    ),
                );
            } else {
                let expected = self.max_seen.saturating_add(1);
                if seq > expected {
                    self.gaps.insert(expected, seq.saturating_sub(1));
                    self.gap_at
                        .insert(expected, (path.to_owned(), located.offset));
                }
                // The digest can only be checked against the physically previous record
                // when they are consecutive; a gap is already reported as missing records.
                let linked = match self.prev {
                    // Frames after the first of a segment were hashed in parallel.
                    Some((ps, pd)) if ps.checked_add(1) == Some(seq) => {
                        Some(match j.checked_sub(1) {
                            Some(_) => links.get(j).copied().unwrap_or(false),
                            None => frame.links_to(&pd),
                        })
                    }
                    None if seq == 1 => Some(frame.links_to(&ChainDigest::GENESIS)),
                    _ => None,
                };
                if linked == Some(false) {
                    self.problem(
                        ProblemKind::ModifiedRecord,
                        path.to_owned(),
                        located.offset,
                        Some(seq),
                        format!("record {seq} does not match its chain digest: modified (or record {} rewritten)", seq.saturating_sub(1)),
                    );
                }
                self.max_seen = seq;
            }
            // Checkpoints, signed in the log or known from outside, that disagree with it.
            let mut mismatches = Vec::new();
            if let Some((line, cp)) = checkpoints.get(&seq) {
                if cp.digest != frame.digest {
                    mismatches.push(format!(
                        "checkpoint line {line} signs record {seq} with chain digest {}, found {}: the chain was rewritten",
                        cp.digest, frame.digest
                    ));
                } else if cp.segment != number || cp.end_offset != end {
                    mismatches.push(format!(
                        "checkpoint line {line} signs record {seq} as ending at segment {} offset {}, found segment {number} offset {end}: bytes before it were removed, added or moved",
                        cp.segment, cp.end_offset
                    ));
                }
            }
            if let Some(digest) = known.get(&seq)
                && *digest != frame.digest
            {
                mismatches.push(format!(
                    "the known checkpoint of record {seq} (held outside the log) has chain digest {digest}, found {}: the chain was rewritten",
                    frame.digest
                ));
            }
            for detail in mismatches {
                self.problem(
                    ProblemKind::CheckpointMismatch,
                    path.to_owned(),
                    located.offset,
                    Some(seq),
                    detail,
                );
            }
            self.prev = Some((seq, frame.digest));
        }
        if let Some((offset, e)) = failure {
            let torn = is_last && matches!(e, FrameError::Incomplete { .. });
            let (kind, detail) = if torn {
                (
                    ProblemKind::TornTail,
                    format!(
                        "torn record at the end of the log ({e}); the writer cuts it at its next open"
                    ),
                )
            } else {
                (
                    ProblemKind::CorruptFrame,
                    format!("not a record: {e}; the rest of the segment is unreadable"),
                )
            };
            self.problem(
                kind,
                path.to_owned(),
                offset,
                self.prev.map(|(s, _)| s.saturating_add(1)),
                detail,
            );
        }
    }

    fn fill_gap(&mut self, seq: u64) {
        let Some((&start, &end)) = self.gaps.range(..=seq).next_back() else {
            return;
        };
        if seq > end {
            return;
        }
        self.gaps.remove(&start);
        let at = self.gap_at.remove(&start).unwrap_or_default();
        if start < seq {
            self.gaps.insert(start, seq.saturating_sub(1));
            self.gap_at.insert(start, at.clone());
        }
        if seq < end {
            self.gaps.insert(seq.saturating_add(1), end);
            self.gap_at.insert(seq.saturating_add(1), at);
        }
    }
}

/// `links[j]`: whether frame `j` follows frame `j - 1`'s stored digest (`links[0]` is
/// unused). The check of each frame needs only stored bytes, so it runs in parallel.
fn chain_links(frames: &[(LocatedFrame<'_>, u64)]) -> Vec<bool> {
    let check = |j: usize| -> bool {
        match (frames.get(j.wrapping_sub(1)), frames.get(j)) {
            (Some((prev, _)), Some((this, _))) => this.frame.links_to(&prev.frame.digest),
            _ => false,
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8);
    if threads < 2 || frames.len() < 4096 {
        return (0..frames.len()).map(check).collect();
    }
    let chunk = frames.len().div_ceil(threads);
    let mut links = vec![false; frames.len()];
    std::thread::scope(|scope| {
        for (i, out) in links.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                for (k, slot) in out.iter_mut().enumerate() {
                    *slot = check(i * chunk + k);
                }
            });
        }
    });
    links
}
