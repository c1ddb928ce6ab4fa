//! Segment files: naming, the 16-byte header, listing a log directory, and walking the
//! frames of one segment's bytes.
//!
//! This module owns the segment layout; it must not write (the writer in `log.rs` does) or
//! judge tampering (that is `verify.rs`). A segment is `NNNNNNNNNN.seg`:
//!
//! ```text
//! "MGAUDIT1" | u64 LE segment number | frame | frame | ...
//! ```
//!
//! The number in the header must match the file name, so renaming segments is detected.

use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::record::{ChainDigest, Frame, FrameError};

/// Magic bytes at the start of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"MGAUDIT1";
/// Length of the segment header.
pub const SEGMENT_HEADER: usize = 16;

/// The file name of segment `number`.
#[must_use]
pub fn segment_file_name(number: u64) -> String {
    format!("{number:010}.seg")
}

/// The segment number of a file name, if it is a segment.
#[must_use]
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of segment `number`.
#[must_use]
pub fn segment_header(number: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    let (magic, num) = h.split_at_mut(8);
    magic.copy_from_slice(&SEGMENT_MAGIC);
    num.copy_from_slice(&number.to_le_bytes());
    h
}

/// Checks a segment's header; returns why it is wrong.
pub fn check_header(bytes: &[u8], number: u64) -> Result<(), &'static str> {
    let Some(header) = bytes.get(..SEGMENT_HEADER) else {
        return Err("segment shorter than its 16-byte header");
    };
    if header.get(..8) != Some(&SEGMENT_MAGIC[..]) {
        return Err("not an audit segment (bad magic)");
    }
    if header.get(8..16) != Some(&number.to_le_bytes()[..]) {
        return Err("segment number in the header does not match the file name");
    }
    Ok(())
}

/// One segment file of a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Its number (from the file name).
    pub number: u64,
    /// Its path.
    pub path: PathBuf,
}

/// Lists the segments of `dir`, in number order.
pub fn list_segments(dir: &Path) -> Result<Vec<Segment>, AuditError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(AuditError::io(dir))? {
        let entry = entry.map_err(AuditError::io(dir))?;
        let name = entry.file_name();
        if let Some(number) = name.to_str().and_then(parse_segment_name) {
            out.push(Segment {
                number,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.number);
    Ok(out)
}

/// A frame found in a segment, with its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocatedFrame<'a> {
    /// Byte offset of the frame in the segment.
    pub offset: u64,
    /// The frame.
    pub frame: Frame<'a>,
}

/// Walks the frames of one segment's bytes, starting after the header. Stops at the first
/// undecodable frame, reporting it as an error with its offset.
#[derive(Debug, Clone)]
pub struct SegmentFrames<'a> {
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> SegmentFrames<'a> {
    /// Frames of `bytes` (a whole segment including its header) from byte `start`.
    #[must_use]
    pub fn new(bytes: &'a [u8], start: usize) -> Self {
        Self {
            bytes,
            pos: start,
            done: false,
        }
    }

    /// The offset just past the last frame returned.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for SegmentFrames<'a> {
    type Item = Result<LocatedFrame<'a>, (u64, FrameError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = self.pos as u64;
        match Frame::decode(rest) {
            Ok((frame, used)) => {
                self.pos += used;
                Some(Ok(LocatedFrame { offset, frame }))
            }
            Err(e) => {
                self.done = true;
                Some(Err((offset, e)))
            }
        }
    }
}

/// The valid tail of the last segment as the writer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailScan {
    /// Offset just past the last good frame.
    pub end: u64,
    /// Seq and digest of the last good frame, if any (else the `prev` given).
    pub last: Option<(u64, ChainDigest)>,
    /// Where the good frames stop before the end of the bytes, and why.
    pub bad: Option<BadTail>,
}

/// Bytes after the last good frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTail {
    /// Offset of the first bad byte.
    pub offset: u64,
    /// The bad frame's seq, if its header was readable.
    pub seq: Option<u64>,
    /// Why the frame there is bad.
    pub reason: &'static str,
    /// Whether the bytes look like a torn write that recovery may cut: nothing after
    /// `offset` decodes as a plausible continuation of the chain.
    pub torn: bool,
}

/// Walks `bytes[start..]`, checking that each frame follows `prev` (seq + 1, chain digest).
/// When `prev` is `None` the first frame is taken on trust (its predecessor lives in an
/// earlier segment the writer has not read).
#[must_use]
pub fn scan_tail(bytes: &[u8], start: usize, prev: Option<(u64, ChainDigest)>) -> TailScan {
    let mut last = prev;
    let mut frames = SegmentFrames::new(bytes, start);
    let mut end = start as u64;
    while let Some(item) = frames.next() {
        let (offset, seq, reason) = match item {
            Ok(LocatedFrame { offset, frame }) => match last {
                Some((s, _)) if frame.seq != s.wrapping_add(1) => {
                    (offset, Some(frame.seq), "sequence number out of order")
                }
                Some((_, d)) if !frame.links_to(&d) => {
                    (offset, Some(frame.seq), "chain digest does not match")
                }
                _ => {
                    last = Some((frame.seq, frame.digest));
                    end = frames.position() as u64;
                    continue;
                }
            },
            Err((offset, FrameError::Incomplete { .. })) => {
                (offset, None, "incomplete frame (torn write)")
            }
            Err((offset, FrameError::TooLong(_))) => (offset, None, "impossible frame length"),
        };
        let after = last.map_or(0, |(s, _)| s);
        let torn = !has_continuation(bytes, offset as usize + 1, after);
        return TailScan {
            end,
            last,
            bad: Some(BadTail {
                offset,
                seq,
                reason,
                torn,
            }),
        };
    }
    TailScan {
        end,
        last,
        bad: None,
    }
}

/// Whether any offset from `from` holds a whole frame whose seq plausibly continues a
/// chain that ended at `after`: then the bad bytes are followed by real records, and
/// cutting them would destroy evidence.
fn has_continuation(bytes: &[u8], from: usize, after: u64) -> bool {
    (from..bytes.len()).any(|pos| {
        bytes
            .get(pos..)
            .and_then(|rest| Frame::decode(rest).ok())
            .is_some_and(|(f, _)| f.seq > after && f.seq <= after.saturating_add(1 << 20))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(n: u64, count: u64) -> (Vec<u8>, Vec<ChainDigest>) {
        let mut out = segment_header(n).to_vec();
        let mut prev = ChainDigest::GENESIS;
        let mut digests = Vec::new();
        for seq in 1..=count {
            let payload = format!("{{\"n\":{seq}}}").into_bytes();
            let digest = prev.next(seq, &payload);
            Frame {
                seq,
                payload: &payload,
                digest,
            }
            .encode(&mut out);
            digests.push(digest);
            prev = digest;
        }
        (out, digests)
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_segment_name(&segment_file_name(42)), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("00000000042.seg"), None);
    }

    #[test]
    fn torn_tail_is_cuttable_but_a_middle_hole_is_not() {
        let (bytes, digests) = segment(1, 5);
        let full = scan_tail(&bytes, SEGMENT_HEADER, None);
        assert_eq!(full.bad, None);
        assert_eq!(full.last, Some((5, digests[4])));
        let torn = &bytes[..bytes.len() - 3];
        let scan = scan_tail(torn, SEGMENT_HEADER, None);
        assert!(scan.bad.unwrap().torn);
        assert_eq!(scan.last.unwrap().0, 4);
        // Flip a byte in record 2's payload: records 3..5 follow, so it is not torn.
        let mut bad = bytes.clone();
        let second = SEGMENT_HEADER + 12 + 7 + 32 + 12 + 1;
        bad[second] ^= 1;
        let scan = scan_tail(&bad, SEGMENT_HEADER, None);
        let tail = scan.bad.unwrap();
        assert!(!tail.torn);
        assert_eq!(tail.seq, Some(2));
    }

    #[test]
    fn header_is_checked() {
        let h = segment_header(7);
        assert!(check_header(&h, 7).is_ok());
        assert!(check_header(&h, 8).is_err());
        assert!(check_header(&h[..5], 7).is_err());
    }
}
