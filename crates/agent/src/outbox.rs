//! The outbox: every report is written here, durably, before it is sent, and leaves only when
//! the server has acknowledged it.
//!
//! One SQLite file in the state directory (`outbox.db`), in WAL mode with `synchronous =
//! FULL`, so a committed report survives power loss. It holds:
//! - the queue: reports in sequence order, each as the exact JSON that will be sent;
//! - reports the server refused for good, kept aside with its problem document until a person
//!   looks (never silently dropped);
//! - the last sequence number given out (so numbers keep rising after the queue empties);
//! - cursors into audit logs (the last record queued for upload), advanced in the same
//!   transaction as the report that carries the records, so a record is queued exactly once;
//! - each task's last run, success and error, for the health report.
//!
//! This module owns the queue's storage and its invariants (sequence numbers rise, a report
//! and its cursor commit together, nothing refused is lost). It must not talk to the network
//! or decide what is worth reporting.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use medguard_proto::{Problem, Report, ReportBody, ReportKind, Validate as _, limits};
use rusqlite::{Connection, OptionalExtension as _, params};
use time::OffsetDateTime;

/// The schema version this agent writes; a newer one is refused, never half-used.
const SCHEMA_VERSION: i64 = 1;

/// Every kind of report.
const ALL_KINDS: [ReportKind; 8] = [
    ReportKind::Verification,
    ReportKind::Inventory,
    ReportKind::Scan,
    ReportKind::Audit,
    ReportKind::Allowlist,
    ReportKind::Services,
    ReportKind::Install,
    ReportKind::Health,
];

/// Bytes kept free in a request for the batch's own framing.
const BATCH_OVERHEAD: usize = 64;

/// The largest report the outbox accepts: one that fits a request on its own.
pub const MAX_REPORT_BYTES: usize = limits::MAX_BODY_BYTES - BATCH_OVERHEAD;

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// SQLite failed.
    #[error("outbox {path}: {source}")]
    Database {
        /// The outbox file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The outbox was written by a newer agent.
    #[error("outbox {path}: schema version {found} is newer than this agent's ({supported})")]
    NewerSchema {
        /// The outbox file.
        path: PathBuf,
        /// The version found.
        found: i64,
        /// The version this agent writes.
        supported: i64,
    },
    /// A stored row is not what the agent wrote.
    #[error("outbox {path}: report {seq}: {reason}")]
    Corrupt {
        /// The outbox file.
        path: PathBuf,
        /// The report's sequence number.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A report breaks a rule of the protocol (a bug in the agent: it is not queued).
    #[error("a {kind} report breaks the protocol: {source}")]
    Invalid {
        /// The report's kind.
        kind: &'static str,
        /// The rule broken.
        #[source]
        source: medguard_proto::Invalid,
    },
    /// A report is too large to be sent even alone.
    #[error("a {kind} report of {bytes} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// The report's kind.
        kind: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A cursor moved since its records were read (another agent process queued them).
    #[error(
        "outbox {path}: cursor {name} is at {found}, not {expected}: another agent queued these records"
    )]
    CursorMoved {
        /// The outbox file.
        path: PathBuf,
        /// The cursor.
        name: String,
        /// Where it was expected.
        expected: u64,
        /// Where it is.
        found: u64,
    },
    /// The lock on the connection was poisoned by a panic.
    #[error("outbox {path}: a thread panicked while using it")]
    Poisoned {
        /// The outbox file.
        path: PathBuf,
    },
}

/// A report waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedReport {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: ReportKind,
    /// When the device made it.
    pub created: OffsetDateTime,
    /// The report as it is sent (a `medguard_proto::Report` in JSON).
    pub json: String,
}

/// A report the server refused for good, kept aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedReport {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: ReportKind,
    /// When the device made it.
    pub created: OffsetDateTime,
    /// When the server refused it.
    pub refused_at: OffsetDateTime,
    /// Why.
    pub problem: Problem,
}

/// The queue's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Reports waiting.
    pub reports: u64,
    /// Bytes waiting.
    pub bytes: u64,
    /// Reports refused and kept aside.
    pub refused: u64,
    /// The last sequence number given out (0: none yet).
    pub last_seq: u64,
    /// Superseded reports dropped to stay under the bound, over the outbox's life.
    pub compacted: u64,
}

/// A task's record (see [`Outbox::record_task`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// The task.
    pub task: String,
    /// When it last ran.
    pub last_run: Option<OffsetDateTime>,
    /// When it last succeeded.
    pub last_success: Option<OffsetDateTime>,
    /// Its last error, when the last run failed.
    pub last_error: Option<String>,
    /// Its interval, seconds (0: continuous or on demand).
    pub interval_secs: u64,
}

/// Where an audit log's upload has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last record queued.
    pub seq: u64,
    /// A note kept with it (for an audit log: the chain digest of that record).
    pub note: Option<String>,
}

/// A cursor moved by [`Outbox::enqueue_advancing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorMove<'a> {
    /// The cursor.
    pub name: &'a str,
    /// Where it must be now (0: never moved).
    pub from: u64,
    /// Where it goes.
    pub to: Cursor,
}

/// The outbox.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_unix(path: &Path, seq: u64, secs: i64) -> Result<OffsetDateTime, OutboxError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| OutboxError::Corrupt {
        path: path.to_owned(),
        seq,
        reason: format!("time {secs}: {e}"),
    })
}

fn kind_from(path: &Path, seq: u64, s: &str) -> Result<ReportKind, OutboxError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        OutboxError::Corrupt {
            path: path.to_owned(),
            seq,
            reason: format!("unknown report kind {s:?}"),
        }
    })
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path`.
    ///
    /// # Errors
    /// [`OutboxError::Database`], or [`OutboxError::NewerSchema`] for an outbox a newer agent
    /// wrote.
    pub fn open(path: &Path) -> Result<Self, OutboxError> {
        let db = |source| OutboxError::Database {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        // WAL with FULL sync: a committed transaction is on disk when commit returns.
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(OutboxError::NewerSchema {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS queue (
                     seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, created INTEGER NOT NULL,
                     bytes INTEGER NOT NULL, report TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS refused (
                     seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, created INTEGER NOT NULL,
                     refused_at INTEGER NOT NULL, problem TEXT NOT NULL, report TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS cursors (
                     name TEXT PRIMARY KEY, seq INTEGER NOT NULL, note TEXT);
                 CREATE TABLE IF NOT EXISTS tasks (
                     task TEXT PRIMARY KEY, last_run INTEGER, last_success INTEGER,
                     last_error TEXT, interval_secs INTEGER NOT NULL);
                 PRAGMA user_version = 1;
                 COMMIT;",
            )
            .map_err(db)?;
        }
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The outbox file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, OutboxError> {
        self.conn.lock().map_err(|_| OutboxError::Poisoned {
            path: self.path.clone(),
        })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        |source| OutboxError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Queues a report durably and returns its sequence number.
    ///
    /// # Errors
    /// [`OutboxError::Invalid`] or [`OutboxError::TooLarge`] for a report the server would
    /// refuse (nothing is queued), [`OutboxError::Database`].
    pub fn enqueue(
        &self,
        created: OffsetDateTime,
        command: Option<String>,
        body: ReportBody,
    ) -> Result<u64, OutboxError> {
        self.enqueue_advancing(created, command, body, None)
    }

    /// Queues a report and, in the same transaction, moves a cursor: the records a report
    /// carries are queued exactly once even if the agent dies right after, and two agents
    /// reading the same log cannot both queue the same records (the cursor must still be
    /// where the records were read from).
    ///
    /// # Errors
    /// As [`Outbox::enqueue`], and [`OutboxError::CursorMoved`] when the cursor is no longer
    /// at `cursor.from` (nothing is queued).
    pub fn enqueue_advancing(
        &self,
        created: OffsetDateTime,
        command: Option<String>,
        body: ReportBody,
        cursor: Option<CursorMove<'_>>,
    ) -> Result<u64, OutboxError> {
        let kind = body.kind();
        let db = self.db();
        let mut conn = self.lock()?;
        // IMMEDIATE: the write lock is taken before the reads, so two processes cannot both
        // read the same last sequence number or cursor.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&db)?;
        if let Some(m) = &cursor {
            let at: i64 = tx
                .query_row(
                    "SELECT seq FROM cursors WHERE name = ?1",
                    params![m.name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(&db)?
                .unwrap_or(0);
            if to_u64(at) != m.from {
                return Err(OutboxError::CursorMoved {
                    path: self.path.clone(),
                    name: m.name.to_owned(),
                    expected: m.from,
                    found: to_u64(at),
                });
            }
        }
        let last: i64 = tx
            .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(&db)?
            .unwrap_or(0);
        let seq = to_u64(last) + 1;
        let report = Report {
            seq,
            created,
            command,
            body,
        };
        report.validate().map_err(|source| OutboxError::Invalid {
            kind: kind.as_str(),
            source,
        })?;
        let json = serde_json::to_string(&report).map_err(|e| OutboxError::Corrupt {
            path: self.path.clone(),
            seq,
            reason: format!("cannot be written as JSON: {e}"),
        })?;
        if json.len() > MAX_REPORT_BYTES {
            return Err(OutboxError::TooLarge {
                kind: kind.as_str(),
                bytes: json.len(),
                limit: MAX_REPORT_BYTES,
            });
        }
        tx.execute(
            "INSERT INTO queue (seq, kind, created, bytes, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                to_i64(seq),
                kind.as_str(),
                unix(created),
                to_i64(json.len() as u64),
                json
            ],
        )
        .map_err(&db)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seq', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![to_i64(seq)],
        )
        .map_err(&db)?;
        if let Some(m) = cursor {
            tx.execute(
                "INSERT INTO cursors (name, seq, note) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, note = excluded.note",
                params![m.name, to_i64(m.to.seq), m.to.note],
            )
            .map_err(&db)?;
        }
        tx.commit().map_err(&db)?;
        Ok(seq)
    }

    /// Where cursor `name` is (`None`: nothing queued from it yet).
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn cursor(&self, name: &str) -> Result<Option<Cursor>, OutboxError> {
        let conn = self.lock()?;
        conn.query_row(
            "SELECT seq, note FROM cursors WHERE name = ?1",
            params![name],
            |r| {
                Ok(Cursor {
                    seq: to_u64(r.get(0)?),
                    note: r.get(1)?,
                })
            },
        )
        .optional()
        .map_err(self.db())
    }

    /// The oldest queued reports, in sequence order: at most `max_reports`, and as many as
    /// fit in `max_bytes` (always at least one, when any is queued).
    ///
    /// # Errors
    /// [`OutboxError::Database`], [`OutboxError::Corrupt`].
    pub fn oldest(
        &self,
        max_reports: usize,
        max_bytes: usize,
    ) -> Result<Vec<QueuedReport>, OutboxError> {
        let db = self.db();
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached("SELECT seq, kind, created, report FROM queue ORDER BY seq LIMIT ?1")
            .map_err(&db)?;
        let rows = stmt
            .query_map(params![to_i64(max_reports as u64)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(&db)?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for row in rows {
            let (seq, kind, created, json) = row.map_err(&db)?;
            let seq = to_u64(seq);
            bytes = bytes.saturating_add(json.len() + 1);
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(QueuedReport {
                seq,
                kind: kind_from(&self.path, seq, &kind)?,
                created: from_unix(&self.path, seq, created)?,
                json,
            });
        }
        Ok(out)
    }

    /// Removes acknowledged reports.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn remove(&self, seqs: &[u64]) -> Result<(), OutboxError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let db = self.db();
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&db)?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM queue WHERE seq = ?1")
                .map_err(&db)?;
            for s in seqs {
                stmt.execute(params![to_i64(*s)]).map_err(&db)?;
            }
        }
        tx.commit().map_err(&db)
    }

    /// Moves a refused report out of the queue, keeping it with the problem.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn set_aside(
        &self,
        seq: u64,
        problem: &Problem,
        at: OffsetDateTime,
    ) -> Result<(), OutboxError> {
        let db = self.db();
        let problem = serde_json::to_string(problem).map_err(|e| OutboxError::Corrupt {
            path: self.path.clone(),
            seq,
            reason: format!("problem cannot be written as JSON: {e}"),
        })?;
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&db)?;
        tx.execute(
            "INSERT OR REPLACE INTO refused (seq, kind, created, refused_at, problem, report)
             SELECT seq, kind, created, ?2, ?3, report FROM queue WHERE seq = ?1",
            params![to_i64(seq), unix(at), problem],
        )
        .map_err(&db)?;
        tx.execute("DELETE FROM queue WHERE seq = ?1", params![to_i64(seq)])
            .map_err(&db)?;
        tx.commit().map_err(&db)
    }

    /// The reports the server refused, oldest first.
    ///
    /// # Errors
    /// [`OutboxError::Database`], [`OutboxError::Corrupt`].
    pub fn refused(&self) -> Result<Vec<RefusedReport>, OutboxError> {
        let db = self.db();
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, kind, created, refused_at, problem FROM refused ORDER BY seq",
            )
            .map_err(&db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(&db)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, kind, created, refused_at, problem) = row.map_err(&db)?;
            let seq = to_u64(seq);
            out.push(RefusedReport {
                seq,
                kind: kind_from(&self.path, seq, &kind)?,
                created: from_unix(&self.path, seq, created)?,
                refused_at: from_unix(&self.path, seq, refused_at)?,
                problem: serde_json::from_str(&problem).map_err(|e| OutboxError::Corrupt {
                    path: self.path.clone(),
                    seq,
                    reason: format!("stored problem: {e}"),
                })?,
            });
        }
        Ok(out)
    }

    /// The queue's size.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn stats(&self) -> Result<QueueStats, OutboxError> {
        let db = self.db();
        let conn = self.lock()?;
        let (reports, bytes): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM queue",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&db)?;
        let refused: i64 = conn
            .query_row("SELECT COUNT(*) FROM refused", [], |r| r.get(0))
            .map_err(&db)?;
        let meta = |key: &str| -> Result<u64, OutboxError> {
            Ok(to_u64(
                conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(&db)?
                .unwrap_or(0),
            ))
        };
        Ok(QueueStats {
            reports: to_u64(reports),
            bytes: to_u64(bytes),
            refused: to_u64(refused),
            last_seq: meta("last_seq")?,
            compacted: meta("compacted")?,
        })
    }

    /// Makes the next sequence number greater than `seq` (after a re-enrollment, when the
    /// server already holds reports of this device from an earlier installation).
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn raise_seq(&self, seq: u64) -> Result<(), OutboxError> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seq', ?1)
             ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
            params![to_i64(seq)],
        )
        .map_err(self.db())?;
        Ok(())
    }

    /// Drops queued reports that a newer queued report of the same kind supersedes
    /// ([`ReportKind::superseded_by_newer`]: inventories, services, health), oldest first,
    /// until the queue holds at most `max_bytes`. Security events (verifications, scans,
    /// audit records, denials, installs) are never dropped. Returns how many were dropped.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn compact(&self, max_bytes: u64) -> Result<u64, OutboxError> {
        let db = self.db();
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&db)?;
        let mut total: i64 = tx
            .query_row("SELECT COALESCE(SUM(bytes), 0) FROM queue", [], |r| {
                r.get(0)
            })
            .map_err(&db)?;
        let mut dropped = 0u64;
        if to_u64(total) > max_bytes {
            // The protocol decides which kinds a newer report supersedes.
            let kinds = ALL_KINDS
                .iter()
                .filter(|k| k.superseded_by_newer())
                .map(|k| format!("'{}'", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            let superseded: Vec<(i64, i64)> = {
                let mut stmt = tx
                    .prepare(&format!(
                        "SELECT q.seq, q.bytes FROM queue q
                         WHERE q.kind IN ({kinds})
                           AND EXISTS (SELECT 1 FROM queue n WHERE n.kind = q.kind AND n.seq > q.seq)
                         ORDER BY q.seq"
                    ))
                    .map_err(&db)?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(&db)?
                    .collect::<Result<_, _>>()
                    .map_err(&db)?
            };
            for (seq, bytes) in superseded {
                if to_u64(total) <= max_bytes {
                    break;
                }
                tx.execute("DELETE FROM queue WHERE seq = ?1", params![seq])
                    .map_err(&db)?;
                total -= bytes;
                dropped += 1;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('compacted', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                params![to_i64(dropped)],
            )
            .map_err(&db)?;
        }
        tx.commit().map_err(&db)?;
        Ok(dropped)
    }

    /// Records a task's run: `error` is `None` when it succeeded.
    ///
    /// # Errors
    /// [`OutboxError::Database`].
    pub fn record_task(
        &self,
        task: &str,
        at: OffsetDateTime,
        error: Option<&str>,
        interval_secs: u64,
    ) -> Result<(), OutboxError> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO tasks (task, last_run, last_success, last_error, interval_secs)
             VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, ?3, ?4)
             ON CONFLICT(task) DO UPDATE SET
                 last_run = excluded.last_run,
                 last_success = COALESCE(excluded.last_success, tasks.last_success),
                 last_error = excluded.last_error,
                 interval_secs = excluded.interval_secs",
            params![task, unix(at), error, to_i64(interval_secs)],
        )
        .map_err(self.db())?;
        Ok(())
    }

    /// Every task's record, by name.
    ///
    /// # Errors
    /// [`OutboxError::Database`], [`OutboxError::Corrupt`].
    pub fn tasks(&self) -> Result<Vec<TaskRecord>, OutboxError> {
        let db = self.db();
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT task, last_run, last_success, last_error, interval_secs
                 FROM tasks ORDER BY task",
            )
            .map_err(&db)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(&db)?;
        let mut out = Vec::new();
        for row in rows {
            let (task, run, success, error, interval) = row.map_err(&db)?;
            let time = |t: Option<i64>| t.map(|t| from_unix(&self.path, 0, t)).transpose();
            out.push(TaskRecord {
                task,
                last_run: time(run)?,
                last_success: time(success)?,
                last_error: error,
                interval_secs: to_u64(interval),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use medguard_proto::{AgentHealth, QueueHealth, codes};
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-12-05 10:00 UTC);

    fn health() -> ReportBody {
        ReportBody::Health(AgentHealth {
            agent_version: "0.1.0".into(),
            started: T,
            report_within_secs: 3600,
            queue: QueueHealth::default(),
            tasks: vec![],
            clinical: None,
        })
    }

    fn outbox() -> (tempfile::TempDir, Outbox) {
        let d = tempfile::tempdir().unwrap();
        let o = Outbox::open(&d.path().join("outbox.db")).unwrap();
        (d, o)
    }

    #[test]
    fn sequence_numbers_rise_across_reopening_and_emptying() {
        let (d, o) = outbox();
        assert_eq!(o.enqueue(T, None, health()).unwrap(), 1);
        assert_eq!(o.enqueue(T, None, health()).unwrap(), 2);
        o.remove(&[1, 2]).unwrap();
        drop(o);
        let o = Outbox::open(&d.path().join("outbox.db")).unwrap();
        assert_eq!(o.stats().unwrap().reports, 0);
        assert_eq!(o.enqueue(T, None, health()).unwrap(), 3);
        o.raise_seq(100).unwrap();
        o.raise_seq(50).unwrap();
        assert_eq!(o.enqueue(T, None, health()).unwrap(), 101);
        let q = o.oldest(10, usize::MAX).unwrap();
        assert_eq!(q.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 101]);
        let back: Report = serde_json::from_str(&q[1].json).unwrap();
        assert_eq!(back.seq, 101);
    }

    #[test]
    fn a_refused_report_is_kept_aside_with_its_problem() {
        let (_d, o) = outbox();
        let seq = o.enqueue(T, None, health()).unwrap();
        let problem = Problem::new(codes::STALE_REPORT, 409, "stale");
        o.set_aside(seq, &problem, T).unwrap();
        assert_eq!(o.stats().unwrap().reports, 0);
        let refused = o.refused().unwrap();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].seq, seq);
        assert_eq!(refused[0].problem, problem);
        assert_eq!(refused[0].kind, ReportKind::Health);
    }

    #[test]
    fn a_cursor_moves_with_its_report_only() {
        let (_d, o) = outbox();
        let c = Cursor {
            seq: 7,
            note: Some("ab".into()),
        };
        let to = |from: u64, c: &Cursor| {
            Some(CursorMove {
                name: "agent",
                from,
                to: c.clone(),
            })
        };
        o.enqueue_advancing(T, None, health(), to(0, &c)).unwrap();
        assert_eq!(o.cursor("agent").unwrap(), Some(c.clone()));
        // Records read from an older position are not queued twice.
        let err = o
            .enqueue_advancing(T, None, health(), to(0, &c))
            .unwrap_err();
        assert!(
            matches!(err, OutboxError::CursorMoved { found: 7, .. }),
            "{err}"
        );
        // A report the protocol refuses is not queued, and the cursor does not move.
        let bad = ReportBody::Health(AgentHealth {
            report_within_secs: 0,
            ..match health() {
                ReportBody::Health(h) => h,
                _ => unreachable!(),
            }
        });
        let c2 = Cursor { seq: 9, note: None };
        let err = o.enqueue_advancing(T, None, bad, to(7, &c2)).unwrap_err();
        assert!(matches!(err, OutboxError::Invalid { .. }), "{err}");
        assert_eq!(o.cursor("agent").unwrap().unwrap().seq, 7);
        assert_eq!(o.stats().unwrap().reports, 1);
    }

    #[test]
    fn batches_respect_the_byte_budget_but_always_take_one() {
        let (_d, o) = outbox();
        for _ in 0..5 {
            o.enqueue(T, None, health()).unwrap();
        }
        let one = o.oldest(10, 1).unwrap();
        assert_eq!(one.len(), 1);
        let len = one[0].json.len() + 1;
        assert_eq!(o.oldest(10, len * 3).unwrap().len(), 3);
        assert_eq!(o.oldest(2, usize::MAX).unwrap().len(), 2);
    }

    #[test]
    fn compaction_drops_only_superseded_kinds() {
        let (_d, o) = outbox();
        for _ in 0..3 {
            o.enqueue(T, None, health()).unwrap();
        }
        let audit = ReportBody::Audit(medguard_proto::AuditUpload {
            log: "agent".into(),
            records: vec![],
            checkpoints: vec![],
        });
        o.enqueue(T, None, audit.clone()).unwrap();
        o.enqueue(T, None, audit).unwrap();
        let dropped = o.compact(0).unwrap();
        assert_eq!(dropped, 2, "two older health reports go, the newest stays");
        let left: Vec<ReportKind> = o
            .oldest(10, usize::MAX)
            .unwrap()
            .iter()
            .map(|r| r.kind)
            .collect();
        assert_eq!(
            left,
            vec![ReportKind::Health, ReportKind::Audit, ReportKind::Audit]
        );
        assert_eq!(o.stats().unwrap().compacted, 2);
        assert_eq!(o.compact(u64::MAX).unwrap(), 0);
    }

    #[test]
    fn task_records_keep_the_last_success() {
        let (_d, o) = outbox();
        o.record_task("verify", T, None, 3600).unwrap();
        let later = T + time::Duration::hours(1);
        o.record_task("verify", later, Some("root unreadable"), 3600)
            .unwrap();
        let t = &o.tasks().unwrap()[0];
        assert_eq!(t.last_run, Some(later));
        assert_eq!(t.last_success, Some(T));
        assert_eq!(t.last_error.as_deref(), Some("root unreadable"));
    }

    #[test]
    fn an_outbox_from_a_newer_agent_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("outbox.db");
        Connection::open(&p)
            .unwrap()
            .execute_batch("PRAGMA user_version = 7")
            .unwrap();
        let err = Outbox::open(&p).unwrap_err();
        assert!(
            matches!(err, OutboxError::NewerSchema { found: 7, .. }),
            "{err}"
        );
    }
}
