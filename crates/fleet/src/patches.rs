//! Patch records as the server keeps them: each [`PatchRecord`] (the `medguard-patch` state
//! machine) stored whole as its JSON, changed only through [`Fleet::change_patch_record`], a
//! compare-and-swap on the record's version so two servers on one database never lose each
//! other's edits; the evidence files (content-addressed); the released patches per device
//! model (the hospital's list of validated patches); and the signing periods of §11.200.
//!
//! This module decides nothing about a record: every rule is the patch library's, every
//! permission the accounts'. It only reads and writes.

use base64::Engine as _;
use medguard_accounts::{Session, SigningSession};
use medguard_patch::{FindingRef, PatchError, PatchRecord, Reach};
use serde::Serialize;
use sqlx::Row as _;

use crate::error::corrupt;
use crate::{Fleet, FleetError, Page, rfc3339};

/// Longest evidence file kept (a test report, a protocol).
pub const MAX_EVIDENCE_BYTES: usize = 32 << 20;

/// How many times a change is tried again when another writer changed the record first.
const CAS_TRIES: usize = 5;

/// A record in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchSummary {
    /// Its id (`PR-0001`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: String,
    /// When it last changed (RFC 3339).
    pub updated_at: Option<String>,
}

/// A released patch, as the hospital's list of validated patches shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidatedPatch {
    /// The device model.
    pub model: String,
    /// The patch record.
    pub record: String,
    /// Its title.
    pub title: String,
    /// The bundle's version.
    pub version: String,
    /// The TUF target.
    pub target: String,
    /// When it was released (RFC 3339).
    pub released_at: Option<String>,
}

/// An evidence file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    /// BLAKE3 of the content, hex.
    pub digest: String,
    /// Its name as uploaded.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// The content.
    pub content: Vec<u8>,
}

impl From<PatchError> for FleetError {
    fn from(source: PatchError) -> Self {
        Self::Patch { source }
    }
}

fn patch_summary_of(r: &sqlx::any::AnyRow) -> Result<PatchSummary, FleetError> {
    Ok(PatchSummary {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        state: r.try_get(2)?,
        updated_at: rfc3339(r.try_get(3)?),
    })
}

impl Fleet {
    /// What a fleet finding says, summed over the devices where advisory `advisory` is open
    /// (for one component when given): the finding a patch record answers.
    ///
    /// # Errors
    /// [`FleetError::NotFound`] when no device has it open.
    pub async fn finding_ref(
        &self,
        advisory: &str,
        component: Option<&str>,
    ) -> Result<FindingRef, FleetError> {
        let page = self
            .findings(&crate::FindingFilter {
                advisory: Some(advisory.to_owned()),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        let open: Vec<_> = page
            .items
            .iter()
            .filter(|f| component.is_none_or(|c| f.component == c))
            .collect();
        let first = open.first().ok_or_else(|| FleetError::NotFound {
            what: format!("an open finding of {advisory}"),
        })?;
        let mut devices: Vec<&str> = open.iter().map(|f| f.device_id.as_str()).collect();
        devices.sort_unstable();
        devices.dedup();
        let priority = open
            .iter()
            .map(|f| f.priority)
            .max()
            .unwrap_or(first.priority);
        Ok(FindingRef {
            advisory: advisory.to_owned(),
            aliases: first.finding.aliases.clone(),
            component: first.component.clone(),
            devices: devices.len() as u64,
            priority: serde_json::to_value(priority)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            rationale: first.finding.rationale.clone(),
        })
    }

    /// Stores a new record, numbering it `PR-0001`, `PR-0002`...; `open` builds it from its id.
    ///
    /// # Errors
    /// [`FleetError::Patch`] from `open`; [`FleetError::Database`].
    pub async fn open_patch_record(
        &self,
        open: impl Fn(&str) -> Result<PatchRecord, PatchError>,
    ) -> Result<PatchRecord, FleetError> {
        for _ in 0..CAS_TRIES {
            let row = sqlx::query("SELECT COALESCE(MAX(number), 0) FROM patch_records")
                .fetch_one(&self.store.write)
                .await?;
            let number = row.try_get::<i64, _>(0)? + 1;
            let id = format!("PR-{number:04}");
            let record = open(&id)?;
            let now = self.now_secs();
            let inserted = sqlx::query(
                "INSERT INTO patch_records (id, number, state, title, version, data, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(number)
            .bind(record.state.as_str())
            .bind(&record.title)
            .bind(to_json(&record)?)
            .bind(now)
            .execute(&self.store.write)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(record);
            }
        }
        Err(FleetError::Conflict {
            reason: "another record took the number; try again".into(),
        })
    }

    /// A record with its stored version.
    async fn patch_record_versioned(&self, id: &str) -> Result<(PatchRecord, i64), FleetError> {
        let row = sqlx::query("SELECT data, version FROM patch_records WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.write)
            .await?
            .ok_or_else(|| FleetError::NotFound {
                what: format!("patch record {id}"),
            })?;
        let record: PatchRecord =
            serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("patch record"))?;
        Ok((record, row.try_get(1)?))
    }

    /// A record.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Corrupt`], [`FleetError::Database`].
    pub async fn patch_record(&self, id: &str) -> Result<PatchRecord, FleetError> {
        Ok(self.patch_record_versioned(id).await?.0)
    }

    /// Every record, newest change first.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn patch_records(&self) -> Result<Vec<PatchSummary>, FleetError> {
        let rows = sqlx::query(
            "SELECT id, title, state, updated_at FROM patch_records ORDER BY updated_at DESC, number DESC",
        )
        .fetch_all(&self.store.read)
        .await?;
        rows.iter().map(patch_summary_of).collect()
    }

    /// One page of the records, newest change first, with how many there are in all: `limit`
    /// (1 to 1,000) records after the first `offset`.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn patch_records_page(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Page<PatchSummary>, FleetError> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM patch_records")
            .fetch_one(&self.store.read)
            .await?
            .try_get(0)?;
        let rows = sqlx::query(
            "SELECT id, title, state, updated_at FROM patch_records \
             ORDER BY updated_at DESC, number DESC LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(limit.clamp(1, 1_000)))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.store.read)
        .await?;
        Ok(Page {
            total: u64::try_from(total).unwrap_or(0),
            offset,
            items: rows
                .iter()
                .map(patch_summary_of)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Changes a record with `change` (which calls the record's own methods: the state machine
    /// decides), and stores it only if nobody changed it meanwhile; otherwise reads it again
    /// and retries. A refused change stores nothing.
    ///
    /// # Errors
    /// [`FleetError::Patch`] when the record refuses; [`FleetError::NotFound`];
    /// [`FleetError::Conflict`] when other writers won every try; [`FleetError::Database`].
    pub async fn change_patch_record<T>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut PatchRecord) -> Result<T, PatchError>,
    ) -> Result<(PatchRecord, T), FleetError> {
        for _ in 0..CAS_TRIES {
            let (mut record, version) = self.patch_record_versioned(id).await?;
            let out = change(&mut record)?;
            let n = sqlx::query(
                "UPDATE patch_records SET data = $3, state = $4, title = $5, version = $2 + 1, updated_at = $6 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .bind(to_json(&record)?)
            .bind(record.state.as_str())
            .bind(&record.title)
            .bind(self.now_secs())
            .execute(&self.store.write)
            .await?
            .rows_affected();
            if n == 1 {
                return Ok((record, out));
            }
        }
        Err(FleetError::Conflict {
            reason: format!("patch record {id} kept changing under this request; try again"),
        })
    }

    /// Keeps an evidence file, content-addressed; returns its BLAKE3 (hex). The same content
    /// twice is kept once.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] for an empty or too large file; [`FleetError::Database`].
    pub async fn put_evidence_file(
        &self,
        name: &str,
        media_type: &str,
        content: &[u8],
    ) -> Result<String, FleetError> {
        if content.is_empty() || content.len() > MAX_EVIDENCE_BYTES {
            return Err(FleetError::Invalid {
                reason: format!(
                    "an evidence file holds 1 byte to {} MiB",
                    MAX_EVIDENCE_BYTES >> 20
                ),
            });
        }
        let digest = blake3::hash(content).to_hex().to_string();
        sqlx::query(
            "INSERT INTO evidence_files (digest, name, media_type, size, content, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&digest)
        .bind(name)
        .bind(media_type)
        .bind(i64::try_from(content.len()).unwrap_or(i64::MAX))
        .bind(base64::engine::general_purpose::STANDARD.encode(content))
        .bind(self.now_secs())
        .execute(&self.store.write)
        .await?;
        Ok(digest)
    }

    /// An evidence file by its digest; its content is checked against the digest on the way
    /// out, so a file changed in the database is refused, not served.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Corrupt`], [`FleetError::Database`].
    pub async fn evidence_file(&self, digest: &str) -> Result<EvidenceFile, FleetError> {
        let row =
            sqlx::query("SELECT name, media_type, content FROM evidence_files WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.store.read)
                .await?
                .ok_or_else(|| FleetError::NotFound {
                    what: format!("evidence file {digest}"),
                })?;
        let content = base64::engine::general_purpose::STANDARD
            .decode(row.try_get::<String, _>(2)?)
            .map_err(|e| FleetError::Corrupt {
                what: "evidence file".into(),
                reason: e.to_string(),
            })?;
        if blake3::hash(&content).to_hex().as_str() != digest {
            return Err(FleetError::Corrupt {
                what: format!("evidence file {digest}"),
                reason: "its content no longer matches its digest".into(),
            });
        }
        Ok(EvidenceFile {
            digest: digest.to_owned(),
            name: row.try_get(0)?,
            media_type: row.try_get(1)?,
            content,
        })
    }

    /// The devices (not revoked) of `models` per site and model: who a bundle reaches.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn reach(&self, models: &[String]) -> Result<Vec<Reach>, FleetError> {
        let rows = sqlx::query(
            "SELECT site, model, COUNT(*) FROM devices WHERE revoked_at IS NULL AND model IS NOT NULL \
             GROUP BY site, model ORDER BY site, model",
        )
        .fetch_all(&self.store.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let model: String = r.try_get(1)?;
            if models.is_empty() || models.contains(&model) {
                out.push(Reach {
                    site: r.try_get(0)?,
                    model,
                    devices: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                });
            }
        }
        Ok(out)
    }

    /// Whether a device of `models` (any model when empty), not revoked, last verified its
    /// tree against a profile whose entries digest (`medguard_profile::entries_digest`) is
    /// `profile`: a bundle over a base tree no device has reaches nobody.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn profile_in_use(
        &self,
        profile: &str,
        models: &[String],
    ) -> Result<bool, FleetError> {
        let rows = sqlx::query("SELECT model, state FROM devices WHERE revoked_at IS NULL")
            .fetch_all(&self.store.read)
            .await?;
        for r in &rows {
            let model: Option<String> = r.try_get(0)?;
            if !models.is_empty() && !model.is_some_and(|m| models.contains(&m)) {
                continue;
            }
            let state: crate::state::DeviceState =
                serde_json::from_str(&r.try_get::<String, _>(1)?).unwrap_or_default();
            if state
                .integrity
                .and_then(|i| i.profile_entries)
                .is_some_and(|d| d.eq_ignore_ascii_case(profile))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The install of bundle `digest` (BLAKE3 hex) that `device` reported last.
    ///
    /// # Errors
    /// [`FleetError::NotFound`] when the device reported none.
    pub async fn reported_install(
        &self,
        device: &str,
        digest: &str,
    ) -> Result<medguard_proto::InstallReport, FleetError> {
        let detail = self.device(device).await?;
        detail
            .state
            .installs
            .into_iter()
            .map(|i| i.report)
            .find(|r| r.bundle.digest.eq_ignore_ascii_case(digest))
            .ok_or_else(|| FleetError::NotFound {
                what: format!("an install of bundle {digest} reported by {device}"),
            })
    }

    /// Lists a released record as validated for each of `models`.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn record_release(
        &self,
        record: &str,
        models: &[String],
        target: &str,
        version: &str,
    ) -> Result<(), FleetError> {
        let mut tx = self.store.write.begin().await?;
        for model in models {
            sqlx::query(
                "INSERT INTO released_patches (record_id, model, target, version, released_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (record_id, model) DO NOTHING",
            )
            .bind(record)
            .bind(model)
            .bind(target)
            .bind(version)
            .bind(self.now_secs())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The validated (released) patches, for one model or all, newest first.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn validated_patches(
        &self,
        model: Option<&str>,
    ) -> Result<Vec<ValidatedPatch>, FleetError> {
        let rows = sqlx::query(
            "SELECT r.model, r.record_id, p.title, r.version, r.target, r.released_at \
             FROM released_patches r JOIN patch_records p ON p.id = r.record_id \
             WHERE ($1 IS NULL OR r.model = $1) ORDER BY r.model, r.released_at DESC",
        )
        .bind(model)
        .fetch_all(&self.store.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ValidatedPatch {
                    model: r.try_get(0)?,
                    record: r.try_get(1)?,
                    title: r.try_get(2)?,
                    version: r.try_get(3)?,
                    target: r.try_get(4)?,
                    released_at: rfc3339(r.try_get(5)?),
                })
            })
            .collect()
    }

    /// The signing period kept beside a login session, if any.
    ///
    /// # Errors
    /// [`FleetError::Corrupt`], [`FleetError::Database`].
    pub async fn signing_session(
        &self,
        login: &Session,
    ) -> Result<Option<SigningSession>, FleetError> {
        let row = sqlx::query("SELECT data FROM signing_sessions WHERE session_key = $1")
            .bind(login.key.to_string())
            .fetch_optional(&self.store.write)
            .await?;
        row.map(|r| {
            serde_json::from_str(&r.try_get::<String, _>(0)?).map_err(corrupt("signing session"))
        })
        .transpose()
    }

    /// Keeps (or, with `None`, ends) the signing period of a login session.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn store_signing_session(
        &self,
        login: &Session,
        signing: Option<&SigningSession>,
    ) -> Result<(), FleetError> {
        match signing {
            Some(s) => {
                sqlx::query(
                    "INSERT INTO signing_sessions (session_key, data) VALUES ($1, $2) \
                     ON CONFLICT (session_key) DO UPDATE SET data = excluded.data",
                )
                .bind(login.key.to_string())
                .bind(to_json(s)?)
                .execute(&self.store.write)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM signing_sessions WHERE session_key = $1")
                    .bind(login.key.to_string())
                    .execute(&self.store.write)
                    .await?;
            }
        }
        Ok(())
    }
}

fn to_json(value: &impl Serialize) -> Result<String, FleetError> {
    serde_json::to_string(value).map_err(|e| FleetError::Invalid {
        reason: e.to_string(),
    })
}
