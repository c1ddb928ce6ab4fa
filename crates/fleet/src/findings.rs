//! Advisories held by the server, and the fleet's findings.
//!
//! Matching is the expensive part, and a fleet shares most of its software: devices of one
//! model run one image. So findings are computed per *distinct inventory and model context*,
//! each distinct package once (the advisory crate's [`Matcher::match_packages`]), and then
//! written per device, where each finding is kept over time: first seen, still open, fixed
//! (gone from the device's findings), reopened.
//!
//! The matcher and the computed finding sets live in a cache keyed by the advisory revision
//! the database holds; ingesting advisories bumps the revision, so every server process
//! drops its cache at its next use and no two processes disagree for longer than a request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use medguard_advisory::{
    Advisory, DeviceContext, ExploitSignals, Finding, Matcher, Priority, Relevance, assess_all,
    packages_of,
};
use medguard_inventory::{Component, Sbom, SbomMetadata};
use serde::Serialize;
use sqlx::{Any, Row as _, Transaction};

use crate::error::corrupt;
use crate::{Fleet, FleetError, rfc3339};

/// Finding sets kept per revision before the cache is emptied (distinct inventory × model
/// contexts; a fleet has a few hundred at most).
const CACHED_SETS: usize = 4_096;

/// The in-process cache of matching, keyed by the advisory revision.
#[derive(Debug, Default)]
pub(crate) struct MatchCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    revision: i64,
    matcher: Option<Arc<Matcher>>,
    sets: HashMap<(String, String), Arc<Vec<Finding>>>,
}

/// What ingesting advisories did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdvisoryIngest {
    /// New advisories.
    pub added: u64,
    /// Changed advisories (a newer `modified`, or other content).
    pub updated: u64,
    /// Identical to the stored ones.
    pub unchanged: u64,
    /// Older than the stored ones: kept as stored.
    pub stale: u64,
    /// Inputs refused, with why.
    pub rejected: Vec<String>,
    /// Devices whose findings were recomputed.
    pub devices_matched: u64,
    /// The advisory revision now.
    pub revision: i64,
}

/// One finding on one device, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetFinding {
    /// The device.
    pub device_id: String,
    /// The advisory id.
    pub advisory: String,
    /// `ecosystem name version` of the component.
    pub component: String,
    /// Relevance.
    pub relevance: Relevance,
    /// Priority.
    pub priority: Priority,
    /// `open` or `fixed`.
    pub state: String,
    /// When first seen on the device (RFC 3339).
    pub first_seen: Option<String>,
    /// When it went away (RFC 3339).
    pub fixed_at: Option<String>,
    /// The whole assessment: rationale, CVSS, affected range, fixed versions, VEX
    /// justification.
    pub finding: Finding,
}

/// Which findings to list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Only this advisory.
    pub advisory: Option<String>,
    /// Only this device.
    pub device: Option<String>,
    /// Only devices of this site.
    pub site: Option<String>,
    /// Only devices of this model.
    pub model: Option<String>,
    /// `open` (default) or `fixed`, or all when `Some("all")`.
    pub state: Option<String>,
    /// Only this relevance (`relevant`, `not_relevant`, `needs_review`).
    pub relevance: Option<String>,
    /// Page size (at most 1,000).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

fn rank(p: Priority) -> i64 {
    match p {
        Priority::None => 0,
        Priority::Low => 1,
        Priority::Medium => 2,
        Priority::High => 3,
        Priority::Critical => 4,
    }
}

fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn component_key(f: &Finding) -> String {
    format!(
        "{} {} {}",
        f.component.ecosystem, f.component.name, f.component.version
    )
}

/// The digest and the stored form of an inventory's components (their order is the SBOM
/// model's stable one, so equal software gives an equal digest).
pub(crate) fn inventory_digest(components: &[Component]) -> Result<(String, String), FleetError> {
    let text = serde_json::to_string(components).map_err(corrupt("inventory"))?;
    Ok((blake3::hash(text.as_bytes()).to_hex().to_string(), text))
}

impl Fleet {
    /// Stores advisories (re-ingesting a changed one replaces it; an older one is kept as
    /// stored), bumps the advisory revision, and recomputes every device's findings.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Advisory`].
    pub async fn ingest_advisories(
        &self,
        parsed: Vec<medguard_advisory::Parsed>,
    ) -> Result<AdvisoryIngest, FleetError> {
        let mut report = AdvisoryIngest::default();
        let now = self.now_secs();
        let mut tx = self.store.write.begin().await?;
        for p in parsed {
            let (advisory, _problems) = match p.result {
                Ok(ok) => ok,
                Err(e) => {
                    report.rejected.push(format!("{}: {e}", p.origin));
                    continue;
                }
            };
            let stored = sqlx::query("SELECT modified, content_hash FROM advisories WHERE id = $1")
                .bind(&advisory.id)
                .fetch_optional(&mut *tx)
                .await?;
            let body = serde_json::to_string(&advisory).map_err(corrupt("advisory"))?;
            match stored {
                Some(row) => {
                    let modified: String = row.try_get(0)?;
                    let hash: String = row.try_get(1)?;
                    if hash == advisory.content_hash {
                        report.unchanged += 1;
                        continue;
                    }
                    if advisory.modified < modified {
                        report.stale += 1;
                        continue;
                    }
                    sqlx::query(
                        "UPDATE advisories SET modified = $2, content_hash = $3, body = $4, ingested_at = $5 WHERE id = $1",
                    )
                    .bind(&advisory.id)
                    .bind(&advisory.modified)
                    .bind(&advisory.content_hash)
                    .bind(&body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    report.updated += 1;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO advisories (id, modified, content_hash, body, ingested_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&advisory.id)
                    .bind(&advisory.modified)
                    .bind(&advisory.content_hash)
                    .bind(&body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    report.added += 1;
                }
            }
        }
        if report.added + report.updated > 0 {
            sqlx::query("UPDATE revisions SET value = value + 1 WHERE name = 'advisories'")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        report.revision = self.advisory_revision().await?;
        report.devices_matched = self.rematch_all().await?;
        Ok(report)
    }

    /// The advisory revision the database holds.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn advisory_revision(&self) -> Result<i64, FleetError> {
        let row = sqlx::query("SELECT value FROM revisions WHERE name = 'advisories'")
            .fetch_one(&self.store.read)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The matcher for the current revision, loaded once per revision per process.
    async fn matcher(&self) -> Result<(i64, Arc<Matcher>), FleetError> {
        let revision = self.advisory_revision().await?;
        {
            let inner = self
                .matching
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if inner.revision == revision
                && let Some(m) = &inner.matcher
            {
                return Ok((revision, m.clone()));
            }
        }
        let rows = sqlx::query("SELECT body FROM advisories")
            .fetch_all(&self.store.read)
            .await?;
        let mut advisories = Vec::with_capacity(rows.len());
        for row in &rows {
            let body: String = row.try_get(0)?;
            let a: Advisory = serde_json::from_str(&body).map_err(corrupt("advisory"))?;
            advisories.push(a);
        }
        let matcher = Arc::new(Matcher::new(advisories));
        let mut inner = self
            .matching
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *inner = CacheInner {
            revision,
            matcher: Some(matcher.clone()),
            sets: HashMap::new(),
        };
        Ok((revision, matcher))
    }

    /// The device context of a model, as declared (or assumed where not).
    pub(crate) async fn context_of(
        &self,
        model: Option<&str>,
    ) -> Result<DeviceContext, FleetError> {
        let Some(model) = model else {
            return Ok(DeviceContext::default());
        };
        let row = sqlx::query("SELECT criticality, network_exposed FROM models WHERE name = $1")
            .bind(model)
            .fetch_optional(&self.store.read)
            .await?;
        let (criticality, exposed) = match row {
            Some(r) => (
                r.try_get::<Option<String>, _>(0)?,
                r.try_get::<Option<i64>, _>(1)?,
            ),
            None => (None, None),
        };
        Ok(DeviceContext {
            model: Some(model.to_owned()),
            criticality: criticality
                .map(|c| serde_json::from_value(serde_json::Value::String(c)))
                .transpose()
                .map_err(corrupt("model criticality"))?,
            network_exposed: exposed.map(|e| e != 0),
        })
    }

    /// The findings of an inventory in a model context at the current revision (cached).
    pub(crate) async fn finding_set(
        &self,
        inventory: &str,
        components: Option<&[Component]>,
        context: &DeviceContext,
    ) -> Result<(i64, String, Arc<Vec<Finding>>), FleetError> {
        let (revision, matcher) = self.matcher().await?;
        let context_key = serde_json::to_string(context).map_err(corrupt("context"))?;
        let key = (inventory.to_owned(), context_key.clone());
        {
            let inner = self
                .matching
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if inner.revision == revision
                && let Some(set) = inner.sets.get(&key)
            {
                return Ok((revision, context_key, set.clone()));
            }
        }
        let owned;
        let components = match components {
            Some(c) => c,
            None => {
                let row = sqlx::query("SELECT components FROM inventories WHERE digest = $1")
                    .bind(inventory)
                    .fetch_one(&self.store.read)
                    .await?;
                let text: String = row.try_get(0)?;
                owned =
                    serde_json::from_str::<Vec<Component>>(&text).map_err(corrupt("inventory"))?;
                &owned
            }
        };
        let sbom = Sbom {
            metadata: SbomMetadata {
                name: String::new(),
                created: None,
                tool: None,
                device_model: None,
            },
            components: components.to_vec(),
        };
        let packages = packages_of(&sbom).map_err(|source| FleetError::Advisory { source })?;
        let set = Arc::new(assess_all(
            &matcher,
            &packages,
            context,
            &ExploitSignals::default(),
        ));
        let mut inner = self
            .matching
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if inner.revision == revision {
            if inner.sets.len() >= CACHED_SETS {
                inner.sets.clear();
            }
            inner.sets.insert(key, set.clone());
        }
        Ok((revision, context_key, set))
    }

    /// Recomputes the findings of every device whose last computation is older than the
    /// current advisory revision; returns how many devices were written.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Advisory`].
    pub async fn rematch_all(&self) -> Result<u64, FleetError> {
        let (revision, _) = self.matcher().await?;
        let rows = sqlx::query(
            "SELECT d.id, d.model, d.inventory_digest FROM devices d \
             LEFT JOIN finding_runs r ON r.device_id = d.id \
             WHERE d.inventory_digest IS NOT NULL AND d.revoked_at IS NULL \
               AND (r.advisories_revision IS NULL OR r.advisories_revision < $1 \
                    OR r.inventory_digest <> d.inventory_digest)",
        )
        .bind(revision)
        .fetch_all(&self.store.read)
        .await?;
        // Group by (inventory, model): each group's findings are computed once.
        let mut groups: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
        for r in &rows {
            let id: String = r.try_get(0)?;
            let model: Option<String> = r.try_get(1)?;
            let inventory: String = r.try_get(2)?;
            groups.entry((inventory, model)).or_default().push(id);
        }
        let mut written = 0u64;
        for ((inventory, model), devices) in groups {
            let context = self.context_of(model.as_deref()).await?;
            let (revision, context_key, set) = self.finding_set(&inventory, None, &context).await?;
            // One transaction per few hundred devices keeps each write short on SQLite.
            for chunk in devices.chunks(250) {
                let mut tx = self.store.write.begin().await?;
                for device in chunk {
                    self.write_findings(&mut tx, device, &inventory, &context_key, revision, &set)
                        .await?;
                    self.refresh_status(&mut tx, device).await?;
                    written += 1;
                }
                tx.commit().await?;
            }
        }
        Ok(written)
    }

    /// Writes a device's current findings: new ones open, vanished ones fixed, changed
    /// assessments updated, returning ones reopened.
    pub(crate) async fn write_findings(
        &self,
        tx: &mut Transaction<'static, Any>,
        device: &str,
        inventory: &str,
        context_key: &str,
        revision: i64,
        set: &[Finding],
    ) -> Result<(), FleetError> {
        let now = self.now_secs();
        let existing = sqlx::query(
            "SELECT advisory, component, state, body FROM findings WHERE device_id = $1",
        )
        .bind(device)
        .fetch_all(&mut **tx)
        .await?;
        let mut old: HashMap<(String, String), (String, String)> = HashMap::new();
        for r in &existing {
            old.insert(
                (r.try_get(0)?, r.try_get(1)?),
                (r.try_get(2)?, r.try_get(3)?),
            );
        }
        for f in set {
            let key = (f.advisory.clone(), component_key(f));
            let body = serde_json::to_string(f).map_err(corrupt("finding"))?;
            match old.remove(&key) {
                None => {
                    sqlx::query(
                        "INSERT INTO findings (device_id, advisory, component, relevance, priority, priority_rank, state, first_seen, body) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)",
                    )
                    .bind(device)
                    .bind(&key.0)
                    .bind(&key.1)
                    .bind(word(&f.relevance))
                    .bind(word(&f.priority))
                    .bind(rank(f.priority))
                    .bind(now)
                    .bind(&body)
                    .execute(&mut **tx)
                    .await?;
                }
                Some((state, old_body)) if state != "open" || old_body != body => {
                    sqlx::query(
                        "UPDATE findings SET relevance = $4, priority = $5, priority_rank = $6, state = 'open', fixed_at = NULL, body = $7 \
                         WHERE device_id = $1 AND advisory = $2 AND component = $3",
                    )
                    .bind(device)
                    .bind(&key.0)
                    .bind(&key.1)
                    .bind(word(&f.relevance))
                    .bind(word(&f.priority))
                    .bind(rank(f.priority))
                    .bind(&body)
                    .execute(&mut **tx)
                    .await?;
                }
                Some(_) => {}
            }
        }
        for ((advisory, component), (state, _)) in old {
            if state == "open" {
                sqlx::query(
                    "UPDATE findings SET state = 'fixed', fixed_at = $4 WHERE device_id = $1 AND advisory = $2 AND component = $3",
                )
                .bind(device)
                .bind(&advisory)
                .bind(&component)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
        }
        // The device's tallies follow its findings in the same transaction.
        sqlx::query("DELETE FROM finding_tallies WHERE device_id = $1")
            .bind(device)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO finding_tallies (device_id, state, relevance, n) \
             SELECT device_id, state, relevance, COUNT(*) FROM findings WHERE device_id = $1 \
             GROUP BY device_id, state, relevance",
        )
        .bind(device)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO finding_runs (device_id, inventory_digest, context, advisories_revision, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (device_id) DO UPDATE SET inventory_digest = excluded.inventory_digest, context = excluded.context, \
             advisories_revision = excluded.advisories_revision, at = excluded.at",
        )
        .bind(device)
        .bind(inventory)
        .bind(context_key)
        .bind(revision)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Lists findings across the fleet, most urgent first.
    ///
    /// Only the conditions a filter sets are in the query, so each one is served by its index
    /// (a condition such as `$1 IS NULL OR advisory = $1` is planned without one). The page is
    /// chosen in an index (`findings_list`, `findings_device`: schema version 4) and only its
    /// rows are read; the total of a list not limited to an advisory or a device is the sum of
    /// the devices' tallies (`finding_tallies`), not a count of every finding.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn findings(
        &self,
        filter: &FindingFilter,
    ) -> Result<crate::Page<FleetFinding>, FleetError> {
        let state = filter.state.clone().unwrap_or_else(|| "open".into());
        let state = (state != "all").then_some(state);
        let limit = i64::from(filter.limit.clamp(1, 1_000));
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        let by_device = filter.site.is_some() || filter.model.is_some();

        // The conditions set, each with its value (the values are bound, never written in).
        let mut on_findings: Vec<(&str, &String)> = Vec::new();
        let mut on_devices: Vec<(&str, &String)> = Vec::new();
        if let Some(v) = &filter.advisory {
            on_findings.push(("advisory", v));
        }
        if let Some(v) = &filter.device {
            on_findings.push(("device_id", v));
        }
        if let Some(v) = &state {
            on_findings.push(("state", v));
        }
        if let Some(v) = &filter.relevance {
            on_findings.push(("relevance", v));
        }
        if let Some(v) = &filter.site {
            on_devices.push(("site", v));
        }
        if let Some(v) = &filter.model {
            on_devices.push(("model", v));
        }
        let join = if by_device {
            " JOIN devices d ON d.id = f.device_id"
        } else {
            ""
        };
        let conditions = |table: &str| -> String {
            let all: Vec<String> = on_findings
                .iter()
                .map(|(c, _)| format!("{table}.{c}"))
                .chain(on_devices.iter().map(|(c, _)| format!("d.{c}")))
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 1))
                .collect();
            if all.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", all.join(" AND "))
            }
        };
        let values: Vec<&String> = on_findings
            .iter()
            .chain(on_devices.iter())
            .map(|(_, v)| *v)
            .collect();

        let count = if filter.advisory.is_some() || filter.device.is_some() {
            // One advisory's or one device's findings: counted in their index.
            format!("SELECT COUNT(*) FROM findings f{join}{}", conditions("f"))
        } else {
            format!(
                "SELECT CAST(COALESCE(SUM(f.n), 0) AS BIGINT) FROM finding_tallies f{join}{}",
                conditions("f")
            )
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(count));
        for v in &values {
            query = query.bind(*v);
        }
        let total: i64 = query.fetch_one(&self.store.read).await?.try_get(0)?;

        // The page's keys from the index, then the page's rows.
        let n = values.len();
        let rows_sql = format!(
            "SELECT f.device_id, f.advisory, f.component, f.state, f.first_seen, f.fixed_at, f.body \
             FROM (SELECT f.device_id, f.advisory, f.component, f.priority_rank FROM findings f{join}{} \
                   ORDER BY f.priority_rank DESC, f.advisory, f.device_id, f.component LIMIT ${} OFFSET ${}) k \
             JOIN findings f ON f.device_id = k.device_id AND f.advisory = k.advisory AND f.component = k.component \
             ORDER BY k.priority_rank DESC, k.advisory, k.device_id, k.component",
            conditions("f"),
            n + 1,
            n + 2
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(rows_sql));
        for v in &values {
            query = query.bind(*v);
        }
        let rows = query
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.store.read)
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let body: String = r.try_get(6)?;
            let finding: Finding = serde_json::from_str(&body).map_err(corrupt("finding"))?;
            items.push(FleetFinding {
                device_id: r.try_get(0)?,
                advisory: r.try_get(1)?,
                component: r.try_get(2)?,
                relevance: finding.relevance,
                priority: finding.priority,
                state: r.try_get(3)?,
                first_seen: rfc3339(r.try_get(4)?),
                fixed_at: r.try_get::<Option<i64>, _>(5)?.and_then(rfc3339),
                finding,
            });
        }
        Ok(crate::Page {
            total: u64::try_from(total).unwrap_or(0),
            offset: filter.offset,
            items,
        })
    }

    /// The advisories held, newest change first (id, modified, summary, aliases).
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn advisories(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<crate::Page<serde_json::Value>, FleetError> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM advisories")
            .fetch_one(&self.store.read)
            .await?
            .try_get(0)?;
        let rows = sqlx::query(
            "SELECT body FROM advisories ORDER BY modified DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(limit.clamp(1, 1_000)))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.store.read)
        .await?;
        let mut items = Vec::new();
        for r in &rows {
            let body: String = r.try_get(0)?;
            let a: Advisory = serde_json::from_str(&body).map_err(corrupt("advisory"))?;
            items.push(serde_json::json!({
                "id": a.id,
                "modified": a.modified,
                "published": a.published,
                "aliases": a.aliases,
                "summary": a.summary,
                "affected_packages": a.affected.len(),
            }));
        }
        Ok(crate::Page {
            total: u64::try_from(total).unwrap_or(0),
            offset,
            items,
        })
    }
}

impl Fleet {
    /// The components of a device's last inventory (`None` before it reported one).
    ///
    /// # Errors
    /// [`FleetError::NotFound`] for an unknown device; [`FleetError::Database`],
    /// [`FleetError::Corrupt`].
    pub async fn inventory(&self, device: &str) -> Result<Option<Vec<Component>>, FleetError> {
        let Some(state) = self.device(device).await?.state.inventory else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT components FROM inventories WHERE digest = $1")
            .bind(&state.digest)
            .fetch_one(&self.store.read)
            .await?;
        let text: String = row.try_get(0)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(corrupt("inventory"))
    }
}
