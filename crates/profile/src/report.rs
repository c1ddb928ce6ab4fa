//! Deviation reports: what differs between an expected and an actual tree.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::entry::Attribute;
use crate::walk::EntryProblem;

/// How an entry deviates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviationKind {
    /// Present now, absent from the baseline.
    Added,
    /// In the baseline, absent now.
    Removed,
    /// Present in both with different attributes.
    Changed,
}

/// One deviation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deviation {
    /// Path below the root.
    #[serde(serialize_with = "ser_path")]
    pub path: Box<[u8]>,
    /// Added, removed or changed.
    pub kind: DeviationKind,
    /// The attributes that differ (empty unless changed).
    pub attributes: Vec<Attribute>,
    /// Expected and actual values of the changed attributes, as text.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<Attribute, Change>,
}

/// An attribute's expected and actual value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The baseline's value.
    pub expected: String,
    /// The value found.
    pub actual: String,
}

/// Counts for a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Entries in the baseline.
    pub expected_entries: u64,
    /// Entries found in the tree (or the second profile).
    pub actual_entries: u64,
    /// Added entries.
    pub added: u64,
    /// Removed entries.
    pub removed: u64,
    /// Changed entries.
    pub changed: u64,
    /// Entries that could not be checked.
    pub unverifiable: u64,
    /// Content bytes read.
    pub bytes_hashed: u64,
    /// Nothing deviates and everything could be checked.
    pub clean: bool,
}

/// The result of verifying a tree or diffing two profiles.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Deviations, sorted by path.
    pub deviations: Vec<Deviation>,
    /// Entries that could not be read, so their integrity is unknown.
    pub unverifiable: Vec<EntryProblem>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// True when nothing deviates and everything could be checked.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.deviations.is_empty() && self.unverifiable.is_empty()
    }

    pub(crate) fn finish(&mut self) {
        self.deviations.sort_by(|a, b| a.path.cmp(&b.path));
        self.unverifiable.sort_by(|a, b| a.path.cmp(&b.path));
        self.unverifiable.dedup();
        let count = |k| self.deviations.iter().filter(|d| d.kind == k).count() as u64;
        self.summary.added = count(DeviationKind::Added);
        self.summary.removed = count(DeviationKind::Removed);
        self.summary.changed = count(DeviationKind::Changed);
        self.summary.unverifiable = self.unverifiable.len() as u64;
        self.summary.clean = self.is_clean();
    }
}

/// Paths are bytes: shown as UTF-8 where they are, with each other byte as `\xNN`.
pub fn display_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

pub(crate) fn ser_path<S: Serializer>(path: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&display_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_losslessly() {
        assert_eq!(display_path(b"/a\xffb\\c\nd"), "/a\\xffb\\\\c\nd");
        assert_eq!(display_path("/é".as_bytes()), "/é");
    }
}
