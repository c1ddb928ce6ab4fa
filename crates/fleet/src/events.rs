//! Security-relevant events the server itself witnesses: enrollments and refused ones,
//! refused device certificates, revocations, API token use and refusals.
//!
//! They are kept in the database, beside what they concern, so every server process records
//! into one place and an auditor queries one place. (The accounts issue adds people's actions
//! and a signed, hash-chained copy forwarded over ATNA; until then this table is the record.)

use sqlx::Row as _;

use crate::{Fleet, FleetError, random_bytes, rfc3339};

/// What happened, as the caller tells it.
#[derive(Debug, Clone, Copy)]
pub struct SecurityEventInput<'a> {
    /// The kind (`device-enrollment`, `device-authentication`, `device-revocation`,
    /// `api-token`, `report-refused`...).
    pub kind: &'a str,
    /// `success`, `refused` or `failure`.
    pub outcome: &'a str,
    /// Who acted (a token name, a user), when known.
    pub actor: Option<&'a str>,
    /// The device concerned, when known.
    pub device_id: Option<&'a str>,
    /// The network address it came from, when known.
    pub address: Option<&'a str>,
    /// What happened, in words.
    pub detail: &'a str,
}

/// A recorded security event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecurityEvent {
    /// Its id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// The kind.
    pub kind: String,
    /// The outcome.
    pub outcome: String,
    /// Who acted.
    pub actor: Option<String>,
    /// The device.
    pub device_id: Option<String>,
    /// The address.
    pub address: Option<String>,
    /// What happened.
    pub detail: String,
}

impl Fleet {
    /// Records a security event.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn record_event(&self, e: SecurityEventInput<'_>) -> Result<(), FleetError> {
        let detail: String = e.detail.chars().take(2_000).collect();
        sqlx::query(
            "INSERT INTO security_events (id, at, kind, outcome, actor, device_id, address, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(hex::encode(random_bytes::<12>()?))
        .bind(self.now_secs())
        .bind(e.kind)
        .bind(e.outcome)
        .bind(e.actor)
        .bind(e.device_id)
        .bind(e.address)
        .bind(detail)
        .execute(&self.store.write)
        .await?;
        Ok(())
    }

    /// The most recent security events, newest first, optionally of one device.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn security_events(
        &self,
        device: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SecurityEvent>, FleetError> {
        // One device's events come from its index; the condition is left out for all events,
        // so neither query is planned around a parameter that may be NULL.
        const COLUMNS: &str =
            "SELECT id, at, kind, outcome, actor, device_id, address, detail FROM security_events";
        let limit = i64::from(limit.min(10_000));
        let rows = match device {
            Some(device) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{COLUMNS} WHERE device_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
                )))
                .bind(device)
                .bind(limit)
                .fetch_all(&self.store.read)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{COLUMNS} ORDER BY at DESC, id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.store.read)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(SecurityEvent {
                    id: r.try_get(0)?,
                    at: rfc3339(r.try_get(1)?).unwrap_or_default(),
                    kind: r.try_get(2)?,
                    outcome: r.try_get(3)?,
                    actor: r.try_get(4)?,
                    device_id: r.try_get(5)?,
                    address: r.try_get(6)?,
                    detail: r.try_get(7)?,
                })
            })
            .collect()
    }
}
