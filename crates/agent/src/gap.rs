//! What the agent could not write while its state directory could not be written (a full
//! disk, most often): the events and reports it could not record, counted in memory.
//!
//! The daemon says so in every round while it lasts ([`Gap::problem`]), and as soon as a
//! write succeeds again the agent records the gap itself in its audit log (an
//! `audit-log-recovery` event naming the period, the cause and what was lost), which the next
//! audit upload carries to the server: a lost event is never silent. Reports and records
//! that were written before stay where they are; this module only remembers what never made
//! it to disk.
//!
//! This module owns the bookkeeping and the wording; recording the gap is the agent's
//! (`run`), which owns the audit log.

use std::sync::Mutex;

use time::OffsetDateTime;

use crate::AgentError;

/// Lost events named one by one in the gap's record, at most (the rest are counted).
const MAX_NAMED: usize = 20;

/// An open gap: writes have failed since `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenGap {
    /// The first failed write.
    pub since: OffsetDateTime,
    /// The last failed write.
    pub last: OffsetDateTime,
    /// The last failure, in words.
    pub cause: String,
    /// Whether a failure said the disk is full.
    pub disk_full: bool,
    /// Events and reports that could not be recorded.
    pub lost: u64,
    /// The first of them, in words.
    pub named: Vec<String>,
}

impl OpenGap {
    /// What the gap's audit record says, once it can be written at `now`.
    pub(crate) fn record_text(&self, state: &std::path::Path, now: OffsetDateTime) -> String {
        let what = if self.disk_full {
            "the disk holding the agent's state was full"
        } else {
            "the agent's state could not be written"
        };
        let mut text = format!(
            "from {} to {now} {what} ({}; last error: {}): {} security event(s) or report(s) \
             could not be recorded and are missing from this log and the queue",
            self.since,
            state.display(),
            self.cause,
            self.lost
        );
        if !self.named.is_empty() {
            text.push_str(": ");
            text.push_str(&self.named.join("; "));
            let unnamed = self.lost.saturating_sub(self.named.len() as u64);
            if unnamed > 0 {
                text.push_str(&format!("; and {unnamed} more"));
            }
        }
        text
    }
}

/// The agent's open gap, if writes are failing.
#[derive(Debug, Default)]
pub(crate) struct Gap {
    open: Mutex<Option<OpenGap>>,
}

impl Gap {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<OpenGap>> {
        // The bookkeeping stays usable after a panic elsewhere: it is plain data.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A write failed at `at` with `error`; `lost` names what could not be recorded because
    /// of it (`None`: nothing was lost, e.g. a task's bookkeeping).
    pub(crate) fn note(&self, at: OffsetDateTime, error: &AgentError, lost: Option<String>) {
        let mut open = self.lock();
        let gap = open.get_or_insert_with(|| OpenGap {
            since: at,
            last: at,
            cause: String::new(),
            disk_full: false,
            lost: 0,
            named: Vec::new(),
        });
        gap.last = at;
        gap.cause = error.to_string();
        gap.disk_full |= is_disk_full(error);
        if let Some(what) = lost {
            gap.lost += 1;
            if gap.named.len() < MAX_NAMED {
                gap.named.push(format!("{at}: {what}"));
            }
        }
    }

    /// The open gap, if any.
    pub(crate) fn open(&self) -> Option<OpenGap> {
        self.lock().clone()
    }

    /// The gap `recorded` is on record: forget it, unless more failed meanwhile (then what
    /// came after stays open).
    pub(crate) fn recorded(&self, recorded: &OpenGap) {
        let mut open = self.lock();
        if open.as_ref() == Some(recorded) {
            *open = None;
        }
    }

    /// The problem the daemon states in each round while the gap is open.
    pub(crate) fn problem(&self, state: &std::path::Path) -> Option<String> {
        let open = self.lock();
        let g = open.as_ref()?;
        let head = if g.disk_full {
            format!("DISK FULL: the agent's state directory {}", state.display())
        } else {
            format!("the agent's state directory {}", state.display())
        };
        Some(format!(
            "{head} cannot be written since {} ({}): {} security event(s) or report(s) not \
             recorded so far; what was queued before is kept and sent; the gap is recorded \
             as soon as a write succeeds again",
            g.since, g.cause, g.lost
        ))
    }
}

/// Whether `error` (or a cause beneath it) says the disk is full: `ENOSPC` or `EDQUOT` from
/// the system, `SQLITE_FULL` from the outbox.
pub(crate) fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && (io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded)
        {
            return true;
        }
        if let Some(rusqlite::Error::SqliteFailure(f, _)) = e.downcast_ref::<rusqlite::Error>()
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::{Path, PathBuf};

    use super::*;

    fn full() -> AgentError {
        AgentError::Io {
            path: PathBuf::from("/state/audit/00000001.log"),
            source: std::io::Error::from_raw_os_error(28),
        }
    }

    #[test]
    fn a_full_disk_is_recognised_in_the_agents_errors_and_sqlites() {
        assert!(is_disk_full(&full()));
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let outbox = AgentError::Outbox(crate::OutboxError::Database {
            path: PathBuf::from("/state/outbox.db"),
            source: sqlite,
        });
        assert!(is_disk_full(&outbox));
        let denied = AgentError::Io {
            path: PathBuf::from("/state"),
            source: std::io::Error::from_raw_os_error(13),
        };
        assert!(!is_disk_full(&denied));
    }

    #[test]
    fn a_gap_counts_what_was_lost_says_so_and_closes_only_when_recorded_as_it_was() {
        let gap = Gap::default();
        let state = Path::new("/state");
        assert!(gap.problem(state).is_none());
        let t0 = time::macros::datetime!(2026-12-05 10:00 UTC);
        gap.note(t0, &full(), Some("integrity deviation of /".into()));
        gap.note(t0 + time::Duration::minutes(1), &full(), None);
        let p = gap.problem(state).unwrap();
        assert!(
            p.starts_with("DISK FULL: the agent's state directory /state"),
            "{p}"
        );
        assert!(p.contains("1 security event(s)"), "{p}");
        let open = gap.open().unwrap();
        assert_eq!((open.lost, open.since), (1, t0));
        let text = open.record_text(state, t0 + time::Duration::minutes(5));
        assert!(
            text.contains("the disk holding the agent's state was full"),
            "{text}"
        );
        assert!(text.contains("integrity deviation of /"), "{text}");

        // Something else failed after the snapshot: the gap stays open.
        gap.note(
            t0 + time::Duration::minutes(2),
            &full(),
            Some("health report".into()),
        );
        gap.recorded(&open);
        assert_eq!(gap.open().unwrap().lost, 2);
        gap.recorded(&gap.open().unwrap());
        assert!(gap.open().is_none());
    }
}
