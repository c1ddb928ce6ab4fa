//! Staged rollouts as the server keeps them: each [`Rollout`] (the `medguard-patch` domain:
//! waves, thresholds, per-device progress) stored whole as its JSON with a version, changed
//! only by compare-and-swap ([`Fleet::change_rollout`]); which devices each rollout targets
//! (`rollout_devices`), so a device's check-in finds its rollouts with one indexed lookup; the
//! decision at check-in ([`Fleet::checkin_commands`]); and the outcomes devices report
//! ([`Fleet::rollout_outcome`]), which complete the patch record (step 6) when every device
//! has one.
//!
//! Decisions read a cache of parsed rollouts keyed by the version the database holds (one
//! small query per check-in says whether the cached copy is current), so a check-in never
//! parses a large rollout. A decision's own bookkeeping (a device "offered") is not written:
//! only what changes the rollout (a wave opening after its pause) is; a report replays the
//! offer before it records the outcome. This module decides nothing the rollout domain
//! decides.

use std::collections::HashMap;
use std::sync::Mutex;

use medguard_patch::{
    Decision, DeviceReport, PatchState, Person, ProfileVerification, Rollout, RolloutError,
    RolloutPlan, SelfTests, TargetDevice, WavePlan,
};
use medguard_proto::{Command, CommandKind, InstallOutcome, InstallReport, WaitingFor, codes};
use serde::Serialize;
use sqlx::Row as _;

use crate::error::corrupt;
use crate::{Fleet, FleetError, Page, rfc3339};

/// How many times a change is tried again when another writer changed the rollout first.
const CAS_TRIES: usize = 8;

/// Parsed rollouts by id, with the version they were read at.
#[derive(Debug, Default)]
pub(crate) struct RolloutCache(Mutex<HashMap<String, (i64, Rollout)>>);

impl RolloutCache {
    fn get(&self, id: &str, version: i64) -> Option<Rollout> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(id)
            .filter(|(v, _)| *v == version)
            .map(|(_, r)| r.clone())
    }

    /// Decides for `device` on the cached rollout itself (no copy: a rollout of 10,000
    /// devices is megabytes), when the cache holds `version`. Returns the decision, and the
    /// rollout to store when the decision opened a wave.
    fn decide(
        &self,
        id: &str,
        version: i64,
        device: &str,
        now: time::OffsetDateTime,
    ) -> Option<(Decision, Option<Rollout>)> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (v, rollout) = map.get_mut(id)?;
        if *v != version {
            return None;
        }
        let wave = rollout.current_wave();
        let decision = rollout.decide(device, now);
        let changed = (rollout.current_wave() != wave).then(|| rollout.clone());
        Some((decision, changed))
    }

    fn put(&self, id: &str, version: i64, rollout: &Rollout) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(id.to_owned(), (version, rollout.clone()));
    }
}

/// What a person asks for when starting a rollout.
#[derive(Debug, Clone)]
pub struct RolloutRequest {
    /// Only devices of these sites (empty: every site).
    pub sites: Vec<String>,
    /// Only these models (empty: the bundle's models).
    pub models: Vec<String>,
    /// The waves, in order.
    pub waves: Vec<WavePlan>,
}

/// A rollout in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutSummary {
    /// Its id.
    pub id: String,
    /// The patch record.
    pub record: String,
    /// Its state.
    pub state: String,
    /// When it last changed (RFC 3339).
    pub updated_at: Option<String>,
}

impl From<RolloutError> for FleetError {
    fn from(e: RolloutError) -> Self {
        let code = match e {
            RolloutError::NoDevices
            | RolloutError::TooManyDevices
            | RolloutError::NoWaves
            | RolloutError::Empty { .. }
            | RolloutError::DuplicateDevice { .. }
            | RolloutError::NotATarget { .. }
            | RolloutError::InvalidPercent { .. }
            | RolloutError::PercentOver100 { .. }
            | RolloutError::InvalidShare { .. }
            | RolloutError::RestNotLast { .. }
            | RolloutError::InvalidThreshold { .. }
            | RolloutError::EmptyWave { .. }
            | RolloutError::Unassigned { .. }
            | RolloutError::UnknownSite { .. } => codes::INVALID,
            RolloutError::NotInRollout { .. } => codes::FORBIDDEN,
            _ => codes::CONFLICT,
        };
        Self::Rollout {
            reason: e.to_string(),
            code,
        }
    }
}

/// The rollout's view of an install report.
#[must_use]
pub fn device_report(r: &InstallReport) -> DeviceReport {
    let reason = || r.reason.clone().unwrap_or_else(|| "no reason given".into());
    match r.outcome {
        InstallOutcome::Installed | InstallOutcome::AlreadyInstalled => {
            let passed = r.self_tests.iter().filter(|t| t.passed).count();
            DeviceReport::Installed {
                self_tests: SelfTests {
                    passed: u32::try_from(passed).unwrap_or(u32::MAX),
                    failed: u32::try_from(r.self_tests.len() - passed).unwrap_or(u32::MAX),
                },
                verification: match &r.verification {
                    None => ProfileVerification::NotRun,
                    Some(v) if v.added + v.removed + v.changed == 0 => ProfileVerification::Intact,
                    Some(v) => ProfileVerification::Deviates {
                        entries: v.added + v.removed + v.changed,
                    },
                },
            }
        }
        InstallOutcome::RolledBack => DeviceReport::RolledBack { reason: reason() },
        InstallOutcome::Deferred => match r.waiting_for {
            Some(WaitingFor::Window) => DeviceReport::WaitingForWindow,
            _ => DeviceReport::WaitingForIdle,
        },
        _ => DeviceReport::Failed { reason: reason() },
    }
}

fn rollout_summary_of(r: &sqlx::any::AnyRow) -> Result<RolloutSummary, FleetError> {
    Ok(RolloutSummary {
        id: r.try_get(0)?,
        record: r.try_get(1)?,
        state: r.try_get(2)?,
        updated_at: rfc3339(r.try_get(3)?),
    })
}

impl Fleet {
    /// Starts a rollout of a released patch record to the devices of its models (and the
    /// sites asked), in the waves asked, and marks the record rolling out.
    ///
    /// # Errors
    /// [`FleetError::Patch`] unless the record is released; [`FleetError::Rollout`] for a
    /// plan the rollout domain refuses (no devices, a canary not among them...).
    pub async fn start_rollout(
        &self,
        record_id: &str,
        request: RolloutRequest,
        by: &Person,
    ) -> Result<Rollout, FleetError> {
        let record = self.patch_record(record_id).await?;
        if record.state != PatchState::Released {
            return Err(medguard_patch::PatchError::NotAllowed {
                from: record.state.as_str(),
                action: "be rolled out",
            }
            .into());
        }
        let bundle = record
            .bundle
            .as_ref()
            .ok_or(medguard_patch::PatchError::BundleMissing)?;
        let released = self.validated_patches(None).await?;
        let models = if request.models.is_empty() {
            bundle.models.clone()
        } else {
            request.models.clone()
        };
        let rows = sqlx::query(
            "SELECT id, site, model FROM devices WHERE revoked_at IS NULL AND model IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.store.read)
        .await?;
        let mut targets = Vec::new();
        for r in &rows {
            let (id, site, model): (String, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            if (models.is_empty() || models.contains(&model))
                && (request.sites.is_empty() || request.sites.contains(&site))
            {
                targets.push(TargetDevice { id, site, model });
            }
        }
        // One target per model: the repository names it `MODEL/FILE`.
        let target = released
            .iter()
            .find(|v| v.record == record_id)
            .map(|v| v.target.clone())
            .ok_or_else(|| FleetError::Conflict {
                reason: format!("{record_id} is not in the repository's released patches"),
            })?;
        let plan = RolloutPlan::new(targets, request.waves)?;
        let id = format!("RO-{}", hex::encode(crate::random_bytes::<6>()?));
        let now = self.now();
        let rollout = Rollout::start(&id, record_id, &target, &bundle.version, plan, by, now)?;
        let data = serde_json::to_string(&rollout).map_err(|e| FleetError::Invalid {
            reason: e.to_string(),
        })?;
        let mut tx = self.store.write.begin().await?;
        sqlx::query(
            "INSERT INTO rollouts (id, record_id, state, version, data, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5, $5)",
        )
        .bind(&id)
        .bind(record_id)
        .bind(rollout.state().as_str())
        .bind(&data)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
        for o in rollout.outcomes() {
            sqlx::query("INSERT INTO rollout_devices (device_id, rollout_id) VALUES ($1, $2)")
                .bind(o.device)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // The record moves only once the rollout is stored; if another writer released or
        // withdrew it meanwhile, the rollout is cancelled again.
        if let Err(e) = self
            .change_patch_record(record_id, |r| r.start_rollout(&id, by, now))
            .await
        {
            let _ = self
                .change_rollout(&id, |r| {
                    r.cancel(by, "the patch record refused the rollout", now)
                })
                .await;
            return Err(e);
        }
        self.rollout_cache.put(&id, 1, &rollout);
        Ok(rollout)
    }

    async fn rollout_versioned(&self, id: &str) -> Result<(Rollout, i64), FleetError> {
        let row = sqlx::query("SELECT version FROM rollouts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.write)
            .await?
            .ok_or_else(|| FleetError::NotFound {
                what: format!("rollout {id}"),
            })?;
        let version: i64 = row.try_get(0)?;
        if let Some(r) = self.rollout_cache.get(id, version) {
            return Ok((r, version));
        }
        let row = sqlx::query("SELECT data, version FROM rollouts WHERE id = $1")
            .bind(id)
            .fetch_one(&self.store.write)
            .await?;
        let rollout: Rollout =
            serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("rollout"))?;
        let version: i64 = row.try_get(1)?;
        self.rollout_cache.put(id, version, &rollout);
        Ok((rollout, version))
    }

    /// A rollout.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Corrupt`], [`FleetError::Database`].
    pub async fn rollout(&self, id: &str) -> Result<Rollout, FleetError> {
        Ok(self.rollout_versioned(id).await?.0)
    }

    /// Rollouts, of one record or all, newest first.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn rollouts(&self, record: Option<&str>) -> Result<Vec<RolloutSummary>, FleetError> {
        let rows = sqlx::query(
            "SELECT id, record_id, state, updated_at FROM rollouts \
             WHERE ($1 IS NULL OR record_id = $1) ORDER BY created_at DESC, id",
        )
        .bind(record)
        .fetch_all(&self.store.read)
        .await?;
        rows.iter().map(rollout_summary_of).collect()
    }

    /// One page of the rollouts (of one record or all), newest first, with how many there are
    /// in all: `limit` (1 to 1,000) rollouts after the first `offset`.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn rollouts_page(
        &self,
        record: Option<&str>,
        limit: u32,
        offset: u64,
    ) -> Result<Page<RolloutSummary>, FleetError> {
        let total: i64 =
            sqlx::query("SELECT COUNT(*) FROM rollouts WHERE ($1 IS NULL OR record_id = $1)")
                .bind(record)
                .fetch_one(&self.store.read)
                .await?
                .try_get(0)?;
        let rows = sqlx::query(
            "SELECT id, record_id, state, updated_at FROM rollouts \
             WHERE ($1 IS NULL OR record_id = $1) ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        )
        .bind(record)
        .bind(i64::from(limit.clamp(1, 1_000)))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.store.read)
        .await?;
        Ok(Page {
            total: u64::try_from(total).unwrap_or(0),
            offset,
            items: rows
                .iter()
                .map(rollout_summary_of)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Changes a rollout with `change` (the rollout's own methods decide), stored only if
    /// nobody changed it meanwhile (else read again and retried). A refusal stores nothing.
    ///
    /// # Errors
    /// [`FleetError::Rollout`] when the rollout refuses; [`FleetError::NotFound`];
    /// [`FleetError::Conflict`]; [`FleetError::Database`].
    pub async fn change_rollout<T>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Rollout) -> Result<T, RolloutError>,
    ) -> Result<(Rollout, T), FleetError> {
        for _ in 0..CAS_TRIES {
            let (mut rollout, version) = self.rollout_versioned(id).await?;
            let out = change(&mut rollout)?;
            if self.store_rollout(&rollout, version).await? {
                return Ok((rollout, out));
            }
        }
        Err(FleetError::Conflict {
            reason: format!("rollout {id} kept changing under this request; try again"),
        })
    }

    /// Writes `rollout` over `version`; `false` when another writer was first.
    async fn store_rollout(&self, rollout: &Rollout, version: i64) -> Result<bool, FleetError> {
        let data = serde_json::to_string(rollout).map_err(|e| FleetError::Invalid {
            reason: e.to_string(),
        })?;
        let n = sqlx::query(
            "UPDATE rollouts SET data = $3, state = $4, version = $2 + 1, updated_at = $5 \
             WHERE id = $1 AND version = $2",
        )
        .bind(rollout.id())
        .bind(version)
        .bind(&data)
        .bind(rollout.state().as_str())
        .bind(self.now_secs())
        .execute(&self.store.write)
        .await?
        .rows_affected();
        if n == 1 {
            self.rollout_cache.put(rollout.id(), version + 1, rollout);
        }
        Ok(n == 1)
    }

    /// Queues a command a person gave a device (verify now, scan now, collect the inventory
    /// or the services), handed out at its next check-in. Returns the command's id.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] for an install (only a rollout installs); [`FleetError::Database`].
    pub async fn queue_command(
        &self,
        device: &str,
        kind: &CommandKind,
        by: &str,
    ) -> Result<String, FleetError> {
        let kind = match kind {
            CommandKind::VerifyNow => "verify-now",
            CommandKind::ScanNow => "scan-now",
            CommandKind::CollectInventory => "collect-inventory",
            CommandKind::CollectServices => "collect-services",
            _ => {
                return Err(FleetError::Invalid {
                    reason: "only a rollout asks a device to install".into(),
                });
            }
        };
        let id = format!("cmd-{}", hex::encode(crate::random_bytes::<8>()?));
        // The next number in the device's queue; two people queueing at the same moment
        // collide on (device_id, seq), and the later one takes the number after.
        let mut attempts = 0;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO device_commands (id, device_id, kind, requested_by, requested_at, seq) \
                 SELECT $1, $2, $3, $4, $5, COALESCE(MAX(seq), 0) + 1 FROM device_commands \
                 WHERE device_id = $2",
            )
            .bind(&id)
            .bind(device)
            .bind(kind)
            .bind(by)
            .bind(self.now_secs())
            .execute(&self.store.write)
            .await;
            match inserted {
                Ok(_) => return Ok(id),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempts < 5 => {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The commands people queued for `device` and not yet handed out; marks them handed out
    /// (each is carried out once).
    async fn take_queued_commands(&self, device: &str) -> Result<Vec<Command>, FleetError> {
        let rows = sqlx::query(
            "SELECT id, kind FROM device_commands WHERE device_id = $1 AND delivered_at IS NULL \
             ORDER BY seq",
        )
        .bind(device)
        .fetch_all(&self.store.read)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get(0)?;
            let kind = match r.try_get::<String, _>(1)?.as_str() {
                "verify-now" => CommandKind::VerifyNow,
                "scan-now" => CommandKind::ScanNow,
                "collect-inventory" => CommandKind::CollectInventory,
                "collect-services" => CommandKind::CollectServices,
                other => {
                    return Err(FleetError::Corrupt {
                        what: format!("command {id}"),
                        reason: format!("unknown kind {other:?}"),
                    });
                }
            };
            // Handed out by exactly one check-in, even with two servers.
            let taken = sqlx::query(
                "UPDATE device_commands SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
            )
            .bind(&id)
            .bind(self.now_secs())
            .execute(&self.store.write)
            .await?
            .rows_affected();
            if taken == 1 {
                out.push(Command { id, kind });
            }
        }
        Ok(out)
    }

    /// What the server asks `device` to do at its check-in: the commands people queued for
    /// it, and the install of each rollout whose open wave holds it.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn checkin_commands(&self, device: &str) -> Result<Vec<Command>, FleetError> {
        let rows = sqlx::query(
            "SELECT r.id, r.version FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id \
             WHERE d.device_id = $1 AND r.state IN ('active', 'paused', 'stopped') ORDER BY r.created_at",
        )
        .bind(device)
        .fetch_all(&self.store.read)
        .await?;
        let mut commands = self.take_queued_commands(device).await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let version: i64 = row.try_get(1)?;
            let now = self.now();
            let (decision, changed) = match self.rollout_cache.decide(&id, version, device, now) {
                Some(d) => d,
                None => {
                    // Not cached at this version: read it (and cache it), then decide.
                    let (mut rollout, version) = self.rollout_versioned(&id).await?;
                    let wave = rollout.current_wave();
                    let decision = rollout.decide(device, now);
                    self.rollout_cache.put(&id, version, &rollout);
                    (
                        decision,
                        (rollout.current_wave() != wave).then_some(rollout),
                    )
                }
            };
            // Only a wave that opened (its pause over) is worth a write; the offer itself is
            // replayed when the device reports.
            if let Some(rollout) = changed {
                let _ = self.store_rollout(&rollout, version).await?;
            }
            if let Decision::Install {
                rollout,
                target,
                version,
            } = decision
            {
                commands.push(Command {
                    id: format!("install:{rollout}"),
                    kind: CommandKind::Install {
                        rollout,
                        target,
                        version,
                    },
                });
            }
        }
        Ok(commands)
    }

    /// Records what `device` reported about the install of a rollout (from its install
    /// report); when every targeted device has an outcome, the patch record is confirmed with
    /// each device's outcome.
    ///
    /// # Errors
    /// [`FleetError::Rollout`] (`NotInRollout` for a device the rollout never targeted:
    /// nothing is changed), [`FleetError::NotFound`] for an unknown rollout.
    pub async fn rollout_outcome(
        &self,
        device: &str,
        report: &InstallReport,
    ) -> Result<(), FleetError> {
        let Some(id) = &report.rollout else {
            return Ok(());
        };
        let now = self.now();
        let update = device_report(report);
        let (rollout, effect) = self
            .change_rollout(id, |r| {
                // The decision that offered the install was not stored: replay it.
                let _ = r.decide(device, now);
                r.report(device, update.clone(), now)
            })
            .await?;
        if rollout.is_complete() {
            let record = rollout.patch().to_owned();
            let summary = outcome_summary(&rollout);
            let system = Person {
                id: "medguard-server".into(),
                printed_name: "medguard server (rollout completed)".into(),
            };
            let confirmed = self
                .change_patch_record(&record, |r| {
                    if r.state == PatchState::RollingOut {
                        r.confirm(&system, now, &summary)
                    } else {
                        Ok(())
                    }
                })
                .await;
            confirmed?;
        }
        let _ = effect;
        Ok(())
    }
}

/// Each device's outcome in one line, for the record's confirmation.
fn outcome_summary(rollout: &Rollout) -> String {
    let mut lines: Vec<String> = rollout
        .outcomes()
        .iter()
        .map(|o| {
            let status = o.outcome.unwrap_or(o.status);
            format!(
                "{} ({}, {}, wave {}): {}",
                o.device,
                o.site,
                o.model,
                o.wave,
                serde_json::to_string(status).unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    format!(
        "rollout {} complete: every targeted device has an outcome\n{}",
        rollout.id(),
        lines.join("\n")
    )
}
