//! The evidence behind a model's MDS2 form ([`medguard_mds2`]): what the model's devices last
//! reported, their audit chains and certificates, and the people of the server. Only what
//! the store shows is counted; the form's rules decide what it answers.

use std::collections::{BTreeMap, BTreeSet};

use medguard_accounts::Permission;
use medguard_mds2::{ModelEvidence, PeopleEvidence};
use medguard_proto::{AllowlistMode, InstallOutcome};
use sqlx::Row as _;

use crate::error::corrupt;
use crate::state::DeviceState;
use crate::{Fleet, FleetError};

impl Fleet {
    /// What the fleet shows about `model`'s devices (of `site` only, when given: a hospital
    /// sees its own devices) and about the server's people.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn model_evidence(
        &self,
        model: &str,
        site: Option<&str>,
    ) -> Result<ModelEvidence, FleetError> {
        let now = self.now_secs();
        let mut ev = ModelEvidence {
            model: model.to_owned(),
            site: site.map(str::to_owned),
            ..ModelEvidence::default()
        };
        let rows = sqlx::query(
            "SELECT id, last_seen, state FROM devices \
             WHERE model = $1 AND ($2 IS NULL OR site = $2) AND revoked_at IS NULL",
        )
        .bind(model)
        .bind(site)
        .fetch_all(&self.store.read)
        .await?;
        // Chains by device: a device uploads its log once it has any chain; every chain must
        // be intact for the log to be proven unaltered.
        let mut chains: BTreeMap<String, bool> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT c.device_id, c.state FROM audit_chains c JOIN devices d ON d.id = c.device_id \
             WHERE d.model = $1 AND ($2 IS NULL OR d.site = $2) AND d.revoked_at IS NULL",
        )
        .bind(model)
        .bind(site)
        .fetch_all(&self.store.read)
        .await?
        {
            let id: String = r.try_get(0)?;
            let state: String = r.try_get(1)?;
            let intact = chains.entry(id).or_insert(true);
            *intact = *intact && state == "intact";
        }
        let certified: BTreeSet<String> = sqlx::query(
            "SELECT DISTINCT c.device_id FROM certificates c JOIN devices d ON d.id = c.device_id \
             WHERE d.model = $1 AND ($2 IS NULL OR d.site = $2) AND d.revoked_at IS NULL \
             AND c.revoked_at IS NULL AND c.not_before <= $3 AND c.not_after > $3",
        )
        .bind(model)
        .bind(site)
        .bind(now)
        .fetch_all(&self.store.read)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;

        let mut listening = BTreeSet::new();
        let mut last_inventory = None;
        for r in &rows {
            let id: String = r.try_get(0)?;
            let last_seen: Option<i64> = r.try_get(1)?;
            let state: DeviceState = serde_json::from_str(&r.try_get::<String, _>(2)?)
                .map_err(corrupt("device state"))?;
            ev.devices += 1;
            ev.reporting += u64::from(last_seen.is_some());
            if let Some(a) = &state.allowlist {
                ev.allowlist_reported += 1;
                ev.allowlist_enforcing += u64::from(a.mode == AllowlistMode::Enforce);
            }
            if let Some(s) = &state.scan {
                ev.scan_reported += 1;
                ev.scan_completed += u64::from(s.completed);
            }
            // A completed verification names its profile, and a profile is named only when
            // its signature verified on the device.
            if let Some(i) = &state.integrity
                && let (Some(summary), Some(_), None) = (&i.summary, &i.profile_digest, &i.not_run)
            {
                ev.integrity_verified += 1;
                let deviations = summary
                    .added
                    .saturating_add(summary.removed)
                    .saturating_add(summary.changed);
                ev.integrity_intact += u64::from(deviations == 0);
            }
            if let Some(intact) = chains.get(&id) {
                ev.audit_uploading += 1;
                ev.audit_intact += u64::from(*intact);
            }
            if let Some(inv) = &state.inventory {
                ev.inventory_collected += 1;
                if last_inventory.is_none_or(|t| inv.at > t) {
                    last_inventory = Some(inv.at);
                }
            }
            ev.certified += u64::from(certified.contains(&id));
            ev.installed_updates += u64::from(state.installs.iter().any(|i| {
                matches!(
                    i.report.outcome,
                    InstallOutcome::Installed | InstallOutcome::AlreadyInstalled
                )
            }));
            if let Some(s) = &state.services {
                ev.services_reported += 1;
                for l in &s.listeners {
                    let protocol = serde_json::to_value(l.protocol)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    listening.insert(format!("{protocol}/{}", l.port));
                }
            }
        }
        ev.listening = listening.into_iter().collect();
        ev.last_inventory = last_inventory.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
        ev.advisories = count(self, "SELECT COUNT(*) FROM advisories").await?;
        ev.people = self.people_evidence().await?;
        Ok(ev)
    }

    async fn people_evidence(&self) -> Result<PeopleEvidence, FleetError> {
        let mut p = PeopleEvidence::default();
        let mut roles: BTreeMap<String, u64> = BTreeMap::new();
        for person in self.people().await?.iter().filter(|p| p.set_up) {
            p.set_up += 1;
            *roles.entry(person.role.as_str().to_owned()).or_default() += 1;
            p.break_glass_holders +=
                u64::from(person.role.permissions().contains(Permission::BreakGlass));
        }
        p.roles = roles.into_iter().collect();
        // Set-up asks for an authenticator; count the secrets stored rather than trust that.
        p.with_second_factor = count(
            self,
            "SELECT COUNT(*) FROM users WHERE set_up_at IS NOT NULL AND passphrase IS NOT NULL \
             AND totp_secret IS NOT NULL",
        )
        .await?;
        p.break_glass_sessions = count(self, "SELECT COUNT(*) FROM break_glass").await?;
        Ok(p)
    }
}

async fn count(fleet: &Fleet, sql: &'static str) -> Result<u64, FleetError> {
    let n: i64 = sqlx::query(sql)
        .fetch_one(&fleet.store.read)
        .await?
        .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
