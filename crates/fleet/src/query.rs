//! Reading the fleet: devices by site, model and status, one device in full, sites and
//! models. A device's stored verdict is turned stale here when it has been silent too long,
//! so silence needs no write to show.

use serde::Serialize;
use sqlx::Row as _;

use crate::audit_chain::ChainState;
use crate::error::corrupt;
use crate::state::DeviceState;
use crate::status::{DeviceStatus, OverallStatus};
use crate::{Fleet, FleetError, rfc3339};

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// Items matching the filter, in all.
    pub total: u64,
    /// Items skipped before this page.
    pub offset: u64,
    /// This page.
    pub items: Vec<T>,
}

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Only this site.
    pub site: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Only this verdict (staleness applied).
    pub status: Option<OverallStatus>,
    /// Page size (at most 1,000).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// A device in a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSummary {
    /// Its id.
    pub id: String,
    /// Its name (host name).
    pub name: String,
    /// Its site.
    pub site: String,
    /// Its model.
    pub model: Option<String>,
    /// Its serial number.
    pub serial: Option<String>,
    /// When it last reported (RFC 3339), if ever.
    pub last_seen: Option<String>,
    /// The verdict now.
    pub status: OverallStatus,
    /// The status part by part.
    pub detail: Option<DeviceStatus>,
}

/// A device in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: DeviceSummary,
    /// The operating system it reported at enrollment.
    pub os: Option<String>,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// When it enrolled (RFC 3339).
    pub enrolled_at: Option<String>,
    /// When it was revoked, and why.
    pub revoked: Option<(String, String)>,
    /// The last report's sequence number.
    pub last_seq: u64,
    /// The longest silence before it is stale, in seconds.
    pub report_within_secs: i64,
    /// What it last reported, by kind.
    pub state: DeviceState,
    /// Its audit chains.
    pub audit_chains: Vec<ChainState>,
}

// Built from constants only: the verdict a stored status has at read time.
const STALE: &str = "(CASE WHEN status IN ('revoked', 'attention') THEN status \
     WHEN last_seen IS NULL OR last_seen + COALESCE(report_within_secs, $1) < $2 THEN 'stale' \
     ELSE status END)";

impl Fleet {
    fn within_default(&self) -> i64 {
        self.settings.default_report_within.whole_seconds()
    }

    /// Lists devices, those needing attention first, then by site and name.
    ///
    /// Only the conditions the filter sets are in the query; the count and the page's order
    /// are read from the `devices_verdict` index (schema version 4), and only the page's rows
    /// are read in full.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn devices(&self, filter: &DeviceFilter) -> Result<Page<DeviceSummary>, FleetError> {
        let now = self.now_secs();
        let status = filter.status.map(OverallStatus::as_str);
        // The filter's conditions, numbered from `first`: the rows' query always computes the
        // verdict, whose values ($1, the default interval; $2, now) come first; the count only
        // when it filters by verdict.
        let mut columns: Vec<&str> = Vec::new();
        let mut values: Vec<&str> = Vec::new();
        for (column, value) in [
            ("site", filter.site.as_deref()),
            ("model", filter.model.as_deref()),
            (STALE, status),
        ] {
            if let Some(v) = value {
                columns.push(column);
                values.push(v);
            }
        }
        let conditions = |first: usize| {
            if columns.is_empty() {
                String::new()
            } else {
                let all: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c} = ${}", first + i))
                    .collect();
                format!(" WHERE {}", all.join(" AND "))
            }
        };
        let by_verdict = status.is_some();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM devices{}",
            conditions(if by_verdict { 3 } else { 1 })
        )));
        if by_verdict {
            query = query.bind(self.within_default()).bind(now);
        }
        for v in &values {
            query = query.bind(*v);
        }
        let total: i64 = query.fetch_one(&self.store.read).await?.try_get(0)?;
        let conditions = conditions(3);
        let n = values.len();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.id, d.name, d.site, d.model, d.serial, d.last_seen, {STALE} AS verdict, d.status_detail \
             FROM (SELECT id AS key, CASE {STALE} WHEN 'attention' THEN 0 WHEN 'stale' THEN 1 WHEN 'unknown' THEN 2 \
                   WHEN 'revoked' THEN 4 ELSE 3 END AS rank, site AS key_site, name AS key_name FROM devices{conditions} \
                   ORDER BY rank, key_site, key_name, key LIMIT ${} OFFSET ${}) k \
             JOIN devices d ON d.id = k.key ORDER BY k.rank, k.key_site, k.key_name, k.key",
            n + 3,
            n + 4
        )))
        .bind(self.within_default())
        .bind(now);
        for v in &values {
            query = query.bind(*v);
        }
        let rows = query
            .bind(i64::from(filter.limit.clamp(1, 1_000)))
            .bind(i64::try_from(filter.offset).unwrap_or(i64::MAX))
            .fetch_all(&self.store.read)
            .await?;
        let items = rows.iter().map(summary_of).collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            total: u64::try_from(total).unwrap_or(0),
            offset: filter.offset,
            items,
        })
    }

    /// One device in full.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn device(&self, id: &str) -> Result<DeviceDetail, FleetError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, site, model, serial, last_seen, {STALE} AS verdict, status_detail, \
             os, agent_version, enrolled_at, revoked_at, revoked_reason, last_seq, \
             COALESCE(report_within_secs, $1), state FROM devices WHERE id = $3"
        )))
        .bind(self.within_default())
        .bind(self.now_secs())
        .bind(id)
        .fetch_optional(&self.store.read)
        .await?
        .ok_or_else(|| FleetError::NotFound {
            what: format!("device {id}"),
        })?;
        let summary = summary_of(&row)?;
        let chains = sqlx::query(
            "SELECT log, epoch, next_seq, last_digest, checkpoint_seq, state, problem FROM audit_chains \
             WHERE device_id = $1 ORDER BY log",
        )
        .bind(id)
        .fetch_all(&self.store.read)
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
        let revoked_at: Option<i64> = row.try_get(11)?;
        let revoked_reason: Option<String> = row.try_get(12)?;
        Ok(DeviceDetail {
            summary,
            os: row.try_get(8)?,
            agent_version: row.try_get(9)?,
            enrolled_at: rfc3339(row.try_get(10)?),
            revoked: revoked_at
                .and_then(rfc3339)
                .map(|at| (at, revoked_reason.unwrap_or_default())),
            last_seq: u64::try_from(row.try_get::<i64, _>(13)?).unwrap_or(0),
            report_within_secs: row.try_get(14)?,
            state: serde_json::from_str(&row.try_get::<String, _>(15)?)
                .map_err(corrupt("device state"))?,
            audit_chains: chains,
        })
    }

    /// Declares (or changes) a device model: its clinical criticality (`life-sustaining`,
    /// `high`, `medium`, `low`), whether it is reachable from a network, and how long its
    /// devices may stay silent. Values left `None` stay undeclared (assumed, and said so).
    /// Its devices' findings are recomputed.
    ///
    /// # Errors
    /// [`FleetError::Invalid`], [`FleetError::Database`].
    pub async fn declare_model(
        &self,
        name: &str,
        criticality: Option<medguard_advisory::Criticality>,
        network_exposed: Option<bool>,
        report_within: Option<time::Duration>,
    ) -> Result<(), FleetError> {
        crate::enroll::check_name("model", name)?;
        let criticality = criticality
            .map(|c| serde_json::to_value(c).map(|v| v.as_str().unwrap_or_default().to_owned()))
            .transpose()
            .map_err(corrupt("criticality"))?;
        sqlx::query(
            "INSERT INTO models (name, criticality, network_exposed, report_within_secs, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET criticality = excluded.criticality, \
             network_exposed = excluded.network_exposed, report_within_secs = excluded.report_within_secs",
        )
        .bind(name)
        .bind(criticality)
        .bind(network_exposed.map(i64::from))
        .bind(report_within.map(|d| d.whole_seconds()))
        .bind(self.now_secs())
        .execute(&self.store.write)
        .await?;
        // Findings depend on the model's context: recompute its devices'.
        sqlx::query(
            "DELETE FROM finding_runs WHERE device_id IN (SELECT id FROM devices WHERE model = $1)",
        )
        .bind(name)
        .execute(&self.store.write)
        .await?;
        self.rematch_all().await?;
        Ok(())
    }

    /// The sites, with their device counts.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn sites(&self) -> Result<Vec<(String, u64)>, FleetError> {
        sqlx::query(
            "SELECT s.name, COUNT(d.id) FROM sites s LEFT JOIN devices d ON d.site = s.name GROUP BY s.name ORDER BY s.name",
        )
        .fetch_all(&self.store.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
            ))
        })
        .collect()
    }

    /// Counts of devices by verdict (staleness applied), optionally of one site.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn status_counts(
        &self,
        site: Option<&str>,
    ) -> Result<Vec<(OverallStatus, u64)>, FleetError> {
        let query = match site {
            Some(_) => format!(
                "SELECT {STALE} AS verdict, COUNT(*) FROM devices WHERE site = $3 GROUP BY verdict"
            ),
            None => format!("SELECT {STALE} AS verdict, COUNT(*) FROM devices GROUP BY verdict"),
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(self.within_default())
            .bind(self.now_secs());
        if let Some(site) = site {
            query = query.bind(site);
        }
        let rows = query.fetch_all(&self.store.read).await?;
        let mut out = Vec::new();
        for r in &rows {
            let s: String = r.try_get(0)?;
            if let Some(status) = OverallStatus::parse(&s) {
                out.push((status, u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0)));
            }
        }
        Ok(out)
    }
}

fn summary_of(row: &sqlx::any::AnyRow) -> Result<DeviceSummary, FleetError> {
    let verdict: String = row.try_get(6)?;
    let detail: String = row.try_get(7)?;
    Ok(DeviceSummary {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        site: row.try_get(2)?,
        model: row.try_get(3)?,
        serial: row.try_get(4)?,
        last_seen: row.try_get::<Option<i64>, _>(5)?.and_then(rfc3339),
        status: OverallStatus::parse(&verdict).unwrap_or(OverallStatus::Unknown),
        detail: serde_json::from_str(&detail).ok(),
    })
}
