//! Reading the server's audit trail back: a search by who, what and when, a page at a time
//! (newest first, with how many match in all), the actions of people during given windows
//! (what a break-glass holder did), and the verification of the trail with the server's key.
//!
//! The trail is a medguard audit log; `medguard-audit` owns reading and verifying it. This
//! module only filters what it reads and decides nothing about integrity: the verdict is the
//! audit library's. The functions block on file reads: call them from a blocking thread.

use std::collections::HashSet;
use std::path::Path;

use medguard_audit::{AuditError, AuditLog, EventKind, StoredRecord, VerifyReport};
use medguard_digest::PublicKey;
use time::OffsetDateTime;

/// Which records a search selects; empty fields select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailFilter {
    /// The requesting user, exactly.
    pub actor: Option<String>,
    /// The event type.
    pub action: Option<EventKind>,
    /// Words the record's text (its detail, or an object's id or name) contains, in any case.
    pub object: Option<String>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Strictly before.
    pub until: Option<OffsetDateTime>,
}

impl TrailFilter {
    /// Whether `record` matches.
    #[must_use]
    pub fn matches(&self, record: &StoredRecord) -> bool {
        self.matches_words(
            record,
            self.object.as_deref().map(str::to_lowercase).as_deref(),
        )
    }

    /// [`Self::matches`] with the words already in lower case, so a search over the whole
    /// trail lowers them once, not once per record.
    fn matches_words(&self, record: &StoredRecord, words: Option<&str>) -> bool {
        let e = &record.event;
        self.since.is_none_or(|t| e.time >= t)
            && self.until.is_none_or(|t| e.time < t)
            && self.action.is_none_or(|k| e.kind == k)
            && self.actor.as_deref().is_none_or(|u| e.user() == Some(u))
            && words.is_none_or(|words| {
                e.detail
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(words))
                    || e.objects.iter().any(|o| {
                        o.id.to_lowercase().contains(words)
                            || o.name
                                .as_deref()
                                .is_some_and(|n| n.to_lowercase().contains(words))
                    })
            })
    }
}

/// A page of matching records.
#[derive(Debug, Clone)]
pub struct TrailPage {
    /// Matching records in all.
    pub total: u64,
    /// This page, newest first.
    pub records: Vec<StoredRecord>,
}

/// The records of the trail in `dir` matching `filter`, newest first: `limit` of them after
/// the first `offset`. Two passes: the first keeps only the matching records' numbers, the
/// second reads the page's records from the first of them on.
///
/// # Errors
/// The log cannot be opened or read, or is damaged where the reading reached.
pub fn search(
    dir: &Path,
    filter: &TrailFilter,
    limit: usize,
    offset: u64,
) -> Result<TrailPage, AuditError> {
    let log = AuditLog::open(dir)?;
    let words = filter.object.as_deref().map(str::to_lowercase);
    let mut matching = Vec::new();
    for record in log.records()? {
        let record = record?;
        if filter.matches_words(&record, words.as_deref()) {
            matching.push(record.seq);
        }
    }
    let total = matching.len() as u64;
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let wanted: HashSet<u64> = matching
        .iter()
        .rev()
        .skip(skip)
        .take(limit)
        .copied()
        .collect();
    let mut records = Vec::with_capacity(wanted.len());
    if let Some(&first) = wanted.iter().min() {
        for record in log.records_from(first)? {
            let record = record?;
            if wanted.contains(&record.seq) {
                records.push(record);
                if records.len() == wanted.len() {
                    break;
                }
            }
        }
    }
    records.reverse();
    Ok(TrailPage { total, records })
}

/// A person's window: their actions from `from` to before `to`.
#[derive(Debug, Clone)]
pub struct Window {
    /// Whose.
    pub user: String,
    /// From.
    pub from: OffsetDateTime,
    /// Until (excluded).
    pub to: OffsetDateTime,
}

/// The records of each window's user within it, in trail order, in one reading of the trail.
///
/// # Errors
/// The log cannot be opened or read, or is damaged.
pub fn actions_during(
    dir: &Path,
    windows: &[Window],
) -> Result<Vec<Vec<StoredRecord>>, AuditError> {
    let mut found = vec![Vec::new(); windows.len()];
    if windows.is_empty() {
        return Ok(found);
    }
    let log = AuditLog::open(dir)?;
    for record in log.records()? {
        let record = record?;
        let (Some(user), time) = (record.event.user(), record.event.time) else {
            continue;
        };
        for (window, out) in windows.iter().zip(found.iter_mut()) {
            if window.user == user && time >= window.from && time < window.to {
                out.push(record.clone());
            }
        }
    }
    Ok(found)
}

/// Verifies the trail in `dir` against the server's public key: the audit library's report.
///
/// # Errors
/// The log's files cannot be read.
pub fn verify(dir: &Path, key: &PublicKey) -> Result<VerifyReport, AuditError> {
    medguard_audit::verify(dir, std::slice::from_ref(key))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::sync::Arc;

    use medguard_audit::{ActiveParticipant, AuditEvent, AuditWriter, Outcome, WriterOptions};

    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600 + secs).unwrap()
    }

    fn event(kind: EventKind, secs: i64, user: &str, detail: &str) -> AuditEvent {
        let mut e = AuditEvent::new(kind, at(secs), Outcome::Success, "test");
        e.detail = Some(detail.into());
        e.participants.push(ActiveParticipant {
            user_id: user.into(),
            alternative_user_id: None,
            user_name: None,
            is_requestor: true,
            roles: Vec::new(),
            network_access_point: None,
            network_access_point_type: None,
        });
        e
    }

    /// 25 records: a login of `u{i%3}` every second, detail naming `device-{i}`.
    fn trail() -> (tempfile::TempDir, PublicKey) {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = medguard_digest::SigningKey::generate().unwrap();
        let public = key.public_key().clone();
        let writer = AuditWriter::open(
            dir.path(),
            WriterOptions {
                key: Some(Arc::new(key)),
                checkpoint_every: 1,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        for i in 0..25 {
            let kind = if i % 5 == 0 {
                EventKind::LoginFailure
            } else {
                EventKind::LoginSuccess
            };
            writer
                .append(&event(
                    kind,
                    i,
                    &format!("u{}", i % 3),
                    &format!("Device-{i} touched"),
                ))
                .unwrap();
        }
        writer.close().unwrap();
        (dir, public)
    }

    #[test]
    fn search_pages_newest_first_with_the_total() {
        let (dir, key) = trail();
        let all = search(dir.path(), &TrailFilter::default(), 10, 0).unwrap();
        assert_eq!(all.total, 25);
        let seqs: Vec<u64> = all.records.iter().map(|r| r.seq).collect();
        let last = all.records[0].seq;
        assert_eq!(seqs, (last - 9..=last).rev().collect::<Vec<_>>());
        let third = search(dir.path(), &TrailFilter::default(), 10, 20).unwrap();
        assert_eq!(third.records.len(), 5);
        assert_eq!(third.records[4].seq, last - 24);
        let beyond = search(dir.path(), &TrailFilter::default(), 10, 30).unwrap();
        assert_eq!((beyond.total, beyond.records.len()), (25, 0));
        assert!(verify(dir.path(), &key).unwrap().is_intact());
    }

    #[test]
    fn search_by_actor_action_object_and_time() {
        let (dir, _) = trail();
        let by = |filter: TrailFilter| {
            let page = search(dir.path(), &filter, 100, 0).unwrap();
            let details: Vec<String> = page
                .records
                .iter()
                .map(|r| r.event.detail.clone().unwrap())
                .collect();
            (page.total, details)
        };
        let (n, _) = by(TrailFilter {
            actor: Some("u1".into()),
            ..TrailFilter::default()
        });
        assert_eq!(n, 8, "1, 4, ... 22");
        let (n, _) = by(TrailFilter {
            action: Some(EventKind::LoginFailure),
            ..TrailFilter::default()
        });
        assert_eq!(n, 5);
        let (n, details) = by(TrailFilter {
            object: Some("device-12 ".into()),
            ..TrailFilter::default()
        });
        assert_eq!((n, details), (1, vec!["Device-12 touched".to_owned()]));
        let (n, _) = by(TrailFilter {
            since: Some(at(10)),
            until: Some(at(20)),
            ..TrailFilter::default()
        });
        assert_eq!(n, 10, "from 10 to before 20");
        let (n, _) = by(TrailFilter {
            actor: Some("u0".into()),
            action: Some(EventKind::LoginFailure),
            since: Some(at(1)),
            ..TrailFilter::default()
        });
        assert_eq!(n, 1, "0 and 15 fail for u0; 0 is before the window");
    }

    #[test]
    fn actions_within_each_window() {
        let (dir, _) = trail();
        let found = actions_during(
            dir.path(),
            &[
                Window {
                    user: "u2".into(),
                    from: at(5),
                    to: at(12),
                },
                Window {
                    user: "nobody".into(),
                    from: at(0),
                    to: at(30),
                },
            ],
        )
        .unwrap();
        let details: Vec<&str> = found[0]
            .iter()
            .map(|r| r.event.detail.as_deref().unwrap())
            .collect();
        assert_eq!(
            details,
            ["Device-5 touched", "Device-8 touched", "Device-11 touched"]
        );
        assert!(found[1].is_empty());
    }
}
