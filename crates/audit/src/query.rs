//! Filtering stored records by time, event type and user.
//!
//! This module owns the meaning of a query; it must not format output (the CLI prints JSON
//! lines) and must not read the clock: bounds are explicit times.

use time::OffsetDateTime;

use crate::error::AuditError;
use crate::event::EventKind;
use crate::log::{AuditLog, StoredRecord};

/// Which records a query selects. Empty fields select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events strictly before this time.
    pub until: Option<OffsetDateTime>,
    /// Only events of these types (any of them).
    pub kinds: Vec<EventKind>,
    /// Only events whose requesting user is this.
    pub user: Option<String>,
}

impl Query {
    /// Whether `record` matches.
    #[must_use]
    pub fn matches(&self, record: &StoredRecord) -> bool {
        let e = &record.event;
        self.since.is_none_or(|t| e.time >= t)
            && self.until.is_none_or(|t| e.time < t)
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && self.user.as_deref().is_none_or(|u| e.user() == Some(u))
    }

    /// The matching records of `log`, in seq order. A damaged log yields an error item
    /// where the damage starts.
    pub fn run<'a>(
        &'a self,
        log: &AuditLog,
    ) -> Result<impl Iterator<Item = Result<StoredRecord, AuditError>> + 'a, AuditError> {
        Ok(log
            .records()?
            .filter(move |r| r.as_ref().map_or(true, |r| self.matches(r))))
    }
}
