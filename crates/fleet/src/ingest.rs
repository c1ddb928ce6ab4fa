//! Storing reports: exactly once per device and sequence number, in one transaction per
//! batch.
//!
//! Each report is identified by (device, sequence number) and its digest (BLAKE3 of its
//! serialised form, which is canonical: the parser keeps an SBOM's bytes as sent and every
//! other field has one serialisation). So:
//! - the same report again (a retry, a replay) is acknowledged as a duplicate, nothing changes;
//! - another report under a stored sequence number is refused (`sequence-conflict`);
//! - a report with a sequence number below the device's last one, never stored, is refused
//!   (`stale-report`): reports arrive in order, so it can only be a replay of something
//!   compacted away or forged;
//! - a report whose content is refused (an SBOM that is not valid CycloneDX) is refused alone.
//!
//! Refusals store nothing and are security events.

use medguard_digest::PublicKey;
use medguard_proto::{
    Problem, Report, ReportAck, ReportBatch, ReportBody, ReportOutcome, ReportReceipt, codes,
};
use sqlx::{Any, Row as _, Transaction};

use crate::audit_chain::{ChainState, continue_chain};
use crate::enroll::AuthenticatedDevice;
use crate::error::corrupt;
use crate::events::SecurityEventInput;
use crate::findings::inventory_digest;
use crate::state::{DeviceState, HealthState, InventoryState, ServicesState};
use crate::status::{self, FindingCounts};
use crate::store::big;
use crate::{Fleet, FleetError};

enum Applied {
    Stored,
    Refused(Problem),
}

impl Fleet {
    /// Stores a batch of reports from an authenticated device and answers with one receipt
    /// per report.
    ///
    /// # Errors
    /// [`FleetError::Database`] (nothing of the batch is stored; the device sends it again).
    pub async fn ingest_reports(
        &self,
        device: &AuthenticatedDevice,
        batch: &ReportBatch,
        address: Option<&str>,
    ) -> Result<ReportAck, FleetError> {
        let now = self.now();
        let mut tx = self.store.write.begin().await?;
        let row =
            sqlx::query("SELECT last_seq, state, model, revoked_at FROM devices WHERE id = $1")
                .bind(device.id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        let mut last_seq = u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0);
        let state_text: String = row.try_get(1)?;
        let model: Option<String> = row.try_get(2)?;
        if row.try_get::<Option<i64>, _>(3)?.is_some() {
            // Revoked between authentication and now: refuse the whole batch.
            return Err(FleetError::DeviceRevoked {
                device: device.id.to_string(),
            });
        }
        let mut state: DeviceState =
            serde_json::from_str(&state_text).map_err(corrupt("device state"))?;
        let mut receipts = Vec::with_capacity(batch.reports.len());
        let mut refusals = Vec::new();
        let mut stored_any = false;
        let mut inventory_changed = None;
        for report in &batch.reports {
            let text = serde_json::to_string(report).map_err(corrupt("report"))?;
            let digest = blake3::hash(text.as_bytes()).to_hex().to_string();
            let stored =
                sqlx::query("SELECT digest FROM reports WHERE device_id = $1 AND seq = $2")
                    .bind(device.id.as_str())
                    .bind(big(report.seq))
                    .fetch_optional(&mut *tx)
                    .await?;
            let outcome = match stored {
                Some(r) if r.try_get::<String, _>(0)? == digest => ReportOutcome::Duplicate,
                Some(_) => {
                    let p = Problem::new(codes::SEQUENCE_CONFLICT, 409, "Sequence number reused")
                        .with_detail(format!(
                            "report {} differs from the report stored under that sequence number",
                            report.seq
                        ));
                    refusals.push(p.clone());
                    receipts.push(ReportReceipt {
                        seq: report.seq,
                        outcome: ReportOutcome::Refused,
                        problem: Some(p),
                    });
                    continue;
                }
                None if report.seq <= last_seq => {
                    let p = Problem::new(codes::STALE_REPORT, 409, "Report older than one stored")
                        .with_detail(format!(
                            "report {} is older than report {last_seq}, already stored",
                            report.seq
                        ));
                    refusals.push(p.clone());
                    receipts.push(ReportReceipt {
                        seq: report.seq,
                        outcome: ReportOutcome::Refused,
                        problem: Some(p),
                    });
                    continue;
                }
                None => match self
                    .apply(&mut tx, device, report, &mut state, &mut inventory_changed)
                    .await?
                {
                    Applied::Refused(p) => {
                        refusals.push(p.clone());
                        receipts.push(ReportReceipt {
                            seq: report.seq,
                            outcome: ReportOutcome::Refused,
                            problem: Some(p),
                        });
                        continue;
                    }
                    Applied::Stored => {
                        sqlx::query(
                            "INSERT INTO reports (device_id, seq, kind, digest, created_at, received_at, body) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(device.id.as_str())
                        .bind(big(report.seq))
                        .bind(report.body.kind().as_str())
                        .bind(&digest)
                        .bind(report.created.unix_timestamp())
                        .bind(now.unix_timestamp())
                        // An inventory is kept once per distinct content, in `inventories`.
                        .bind(match &report.body {
                            ReportBody::Inventory(_) => None,
                            _ => Some(text),
                        })
                        .execute(&mut *tx)
                        .await?;
                        last_seq = last_seq.max(report.seq);
                        stored_any = true;
                        ReportOutcome::Stored
                    }
                },
            };
            receipts.push(ReportReceipt {
                seq: report.seq,
                outcome,
                problem: None,
            });
        }
        let state_text = serde_json::to_string(&state).map_err(corrupt("device state"))?;
        sqlx::query(
            "UPDATE devices SET last_seq = $2, last_seen = $3, state = $4, \
             report_within_secs = COALESCE($5, report_within_secs), \
             inventory_digest = COALESCE($6, inventory_digest), \
             agent_version = COALESCE($7, agent_version) WHERE id = $1",
        )
        .bind(device.id.as_str())
        .bind(big(last_seq))
        .bind(now.unix_timestamp())
        .bind(&state_text)
        .bind(
            state
                .health
                .as_ref()
                .map(|h| big(h.health.report_within_secs)),
        )
        .bind(
            inventory_changed
                .as_ref()
                .map(|(d, _): &(String, Vec<_>)| d.clone()),
        )
        .bind(
            state
                .health
                .as_ref()
                .map(|h| h.health.agent_version.clone()),
        )
        .execute(&mut *tx)
        .await?;
        if let Some((digest, components)) = &inventory_changed {
            let context = self.context_of(model.as_deref()).await?;
            let (revision, context_key, set) =
                self.finding_set(digest, Some(components), &context).await?;
            self.write_findings(
                &mut tx,
                device.id.as_str(),
                digest,
                &context_key,
                revision,
                &set,
            )
            .await?;
        }
        if stored_any || inventory_changed.is_some() {
            self.refresh_status(&mut tx, device.id.as_str()).await?;
        }
        tx.commit().await?;
        for p in &refusals {
            self.record_event(SecurityEventInput {
                kind: "report-refused",
                outcome: "refused",
                actor: None,
                device_id: Some(device.id.as_str()),
                address,
                detail: p.detail.as_deref().unwrap_or(&p.title),
            })
            .await?;
        }
        // An install a rollout asked for moves that rollout (after the reports are stored: the
        // report is the device's fact even when the rollout refuses it).
        for (report, receipt) in batch.reports.iter().zip(&receipts) {
            if let (ReportBody::Install(install), ReportOutcome::Stored) =
                (&report.body, receipt.outcome)
                && install.rollout.is_some()
                && let Err(e) = self.rollout_outcome(device.id.as_str(), install).await
            {
                self.record_event(SecurityEventInput {
                    kind: "rollout-outcome-refused",
                    outcome: "refused",
                    actor: None,
                    device_id: Some(device.id.as_str()),
                    address,
                    detail: &format!(
                        "install report {} for rollout {}: {e}",
                        report.seq,
                        install.rollout.as_deref().unwrap_or_default()
                    ),
                })
                .await?;
            }
        }
        Ok(ReportAck {
            receipts,
            last_stored_seq: last_seq,
        })
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        device: &AuthenticatedDevice,
        report: &Report,
        state: &mut DeviceState,
        inventory_changed: &mut Option<(String, Vec<medguard_inventory::Component>)>,
    ) -> Result<Applied, FleetError> {
        let at = report.created;
        match &report.body {
            ReportBody::Verification(v) => state.apply_verification(report.seq, at, v),
            ReportBody::Inventory(inv) => {
                let sbom = match medguard_inventory::parse_sbom(
                    inv.sbom.get().as_bytes(),
                    std::path::Path::new("uploaded inventory"),
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        return Ok(Applied::Refused(
                            Problem::new(codes::INVALID, 422, "Inventory refused")
                                .with_detail(e.to_string()),
                        ));
                    }
                };
                let (digest, text) = inventory_digest(&sbom.components)?;
                sqlx::query(
                    "INSERT INTO inventories (digest, components, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (digest) DO NOTHING",
                )
                .bind(&digest)
                .bind(&text)
                .bind(self.now_secs())
                .execute(&mut **tx)
                .await?;
                state.inventory = Some(InventoryState {
                    at,
                    digest: digest.clone(),
                    components: sbom.components.len() as u64,
                });
                *inventory_changed = Some((digest, sbom.components));
            }
            ReportBody::Scan(s) => state.apply_scan(s),
            ReportBody::Audit(upload) => {
                let chain = sqlx::query(
                    "SELECT epoch, next_seq, last_digest, checkpoint_seq, state, problem \
                     FROM audit_chains WHERE device_id = $1 AND log = $2",
                )
                .bind(device.id.as_str())
                .bind(&upload.log)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| -> Result<ChainState, sqlx::Error> {
                    Ok(ChainState {
                        log: upload.log.clone(),
                        epoch: r.try_get(0)?,
                        next_seq: u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(1),
                        last_digest: r.try_get(2)?,
                        checkpoint_seq: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                        state: r.try_get(4)?,
                        problem: r.try_get(5)?,
                    })
                })
                .transpose()?;
                let existed = chain.is_some();
                let mut held = std::collections::HashMap::new();
                if let (Some(c), Some(first)) = (&chain, upload.records.first())
                    && first.seq < c.next_seq
                {
                    for r in sqlx::query(
                        "SELECT seq, digest FROM audit_records WHERE device_id = $1 AND log = $2 AND epoch = $3 AND seq >= $4 AND seq < $5",
                    )
                    .bind(device.id.as_str())
                    .bind(&upload.log)
                    .bind(c.epoch)
                    .bind(big(first.seq))
                    .bind(big(c.next_seq))
                    .fetch_all(&mut **tx)
                    .await?
                    {
                        held.insert(
                            u64::try_from(r.try_get::<i64, _>(0)?).unwrap_or(0),
                            r.try_get::<String, _>(1)?,
                        );
                    }
                }
                let key = PublicKey::from_raw(device.public_key);
                let result = continue_chain(chain, upload, &key, &held);
                for r in upload.records.iter().skip(result.store_from) {
                    sqlx::query(
                        "INSERT INTO audit_records (device_id, log, epoch, seq, payload, digest) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (device_id, log, epoch, seq) DO NOTHING",
                    )
                    .bind(device.id.as_str())
                    .bind(&upload.log)
                    .bind(result.chain.epoch)
                    .bind(big(r.seq))
                    .bind(&r.payload)
                    .bind(&r.digest)
                    .execute(&mut **tx)
                    .await?;
                }
                let c = &result.chain;
                let sql = if existed {
                    "UPDATE audit_chains SET epoch = $3, next_seq = $4, last_digest = $5, checkpoint_seq = $6, \
                     state = $7, problem = $8, updated_at = $9 WHERE device_id = $1 AND log = $2"
                } else {
                    "INSERT INTO audit_chains (device_id, log, epoch, next_seq, last_digest, checkpoint_seq, state, problem, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                };
                sqlx::query(sql)
                    .bind(device.id.as_str())
                    .bind(&upload.log)
                    .bind(c.epoch)
                    .bind(big(c.next_seq))
                    .bind(&c.last_digest)
                    .bind(big(c.checkpoint_seq))
                    .bind(&c.state)
                    .bind(&c.problem)
                    .bind(self.now_secs())
                    .execute(&mut **tx)
                    .await?;
                for p in &result.problems {
                    // Recorded after the fact too, so an auditor finds it among the events.
                    sqlx::query(
                        "INSERT INTO security_events (id, at, kind, outcome, actor, device_id, address, detail) \
                         VALUES ($1, $2, 'audit-chain', 'failure', NULL, $3, NULL, $4)",
                    )
                    .bind(hex::encode(crate::random_bytes::<12>()?))
                    .bind(self.now_secs())
                    .bind(device.id.as_str())
                    .bind(p)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            ReportBody::Allowlist(a) => state.apply_allowlist(at, a),
            ReportBody::Services(s) => {
                state.services = Some(ServicesState {
                    at,
                    listeners: s.listeners.clone(),
                });
            }
            ReportBody::Install(i) => state.apply_install(report.seq, i),
            ReportBody::Health(h) => {
                state.health = Some(HealthState {
                    at,
                    health: h.clone(),
                });
            }
            _ => {
                return Ok(Applied::Refused(Problem::new(
                    codes::INVALID,
                    422,
                    "Report kind not supported by this server",
                )));
            }
        }
        Ok(Applied::Stored)
    }

    /// Recomputes and stores a device's status from its state, findings and audit chains.
    pub(crate) async fn refresh_status(
        &self,
        tx: &mut Transaction<'static, Any>,
        device: &str,
    ) -> Result<(), FleetError> {
        let row = sqlx::query("SELECT state, revoked_at FROM devices WHERE id = $1")
            .bind(device)
            .fetch_one(&mut **tx)
            .await?;
        let state: DeviceState =
            serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("device state"))?;
        let revoked = row.try_get::<Option<i64>, _>(1)?.is_some();
        let chains = sqlx::query(
            "SELECT log, epoch, next_seq, last_digest, checkpoint_seq, state, problem FROM audit_chains WHERE device_id = $1",
        )
        .bind(device)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| -> Result<ChainState, sqlx::Error> {
            Ok(ChainState {
                log: r.try_get(0)?,
                epoch: r.try_get(1)?,
                next_seq: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(1),
                last_digest: r.try_get(3)?,
                checkpoint_seq: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                state: r.try_get(5)?,
                problem: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
        let mut counts = FindingCounts::default();
        for r in sqlx::query(
            "SELECT relevance, priority, COUNT(*) FROM findings WHERE device_id = $1 AND state = 'open' GROUP BY relevance, priority",
        )
        .bind(device)
        .fetch_all(&mut **tx)
        .await?
        {
            let relevance: String = r.try_get(0)?;
            let priority: String = r.try_get(1)?;
            let n = u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0);
            match (relevance.as_str(), priority.as_str()) {
                ("not_relevant", _) => counts.not_relevant += n,
                ("needs_review", _) => counts.needs_review += n,
                (_, "critical") => counts.critical += n,
                (_, "high") => counts.high += n,
                (_, "medium") => counts.medium += n,
                _ => counts.low += n,
            }
        }
        let computed = status::compute(&state, &chains, counts, revoked, self.now());
        let detail = serde_json::to_string(&computed).map_err(corrupt("status"))?;
        sqlx::query("UPDATE devices SET status = $2, status_detail = $3 WHERE id = $1")
            .bind(device)
            .bind(computed.overall.as_str())
            .bind(detail)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
