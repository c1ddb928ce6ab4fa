//! The staged rollout of a released patch (steps 5–6): which devices receive it in which
//! wave, what the server answers a device at its check-in, and what each device's report does
//! to the waves, the thresholds and the rollout's state.
//!
//! It owns:
//! - the plan ([`RolloutPlan`]): the targeted devices (already chosen by model and site) and
//!   the waves: canaries a person picks, percentages of the targets, named groups, the rest;
//!   a plan that exists is valid (no empty wave, no device twice, no device left out);
//! - the state machine ([`Rollout`], [`RolloutState`]) and each device's progress
//!   ([`DeviceProgress`], [`DeviceStatus`]), with per-wave counts kept incrementally so that
//!   [`Rollout::progress`] costs nothing and [`Rollout::decide`] is one map lookup;
//! - the thresholds: a success threshold opens the next wave (by hand, automatically, or after
//!   a pause for an outside check), an error threshold (a count or a share) stops the rollout
//!   by itself;
//! - bounded history: a device keeps its last [`HISTORY_CAP`] status changes, older ones are
//!   compacted into counts, and its last outcome is kept whatever happens after it.
//!
//! It must not store anything, read the clock, talk to the network or authenticate anyone:
//! the server stores a [`Rollout`] as JSON, passes "now" and the person, and checks that the
//! person holds the role and that the patch record is released
//! ([`crate::PatchRecord::start_rollout`]). Whether a device is idle and inside its maintenance
//! window is the agent's to enforce; the rollout records what the agent reports.
//!
//! Every method that changes something either succeeds or returns a [`RolloutError`] and
//! changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use crate::record::Person;

/// How many status changes a device keeps in full; older ones are counted per status.
pub const HISTORY_CAP: usize = 8;

// ---------------------------------------------------------------------------------------------
// The plan

/// A share in thousandths (0‰ to 1000‰).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Permille(u16);

impl Permille {
    /// Everything: 1000‰.
    pub const ALL: Self = Self(1000);

    /// A share in thousandths.
    ///
    /// # Errors
    /// [`RolloutError::InvalidShare`] above 1000.
    pub fn new(permille: u16) -> Result<Self, RolloutError> {
        if permille > 1000 {
            return Err(RolloutError::InvalidShare { permille });
        }
        Ok(Self(permille))
    }

    /// A share in percent.
    ///
    /// # Errors
    /// [`RolloutError::InvalidShare`] above 100.
    pub fn percent(percent: u8) -> Result<Self, RolloutError> {
        Self::new(u16::from(percent) * 10)
    }

    /// The value in thousandths.
    #[must_use]
    pub fn get(self) -> u16 {
        self.0
    }

    /// `part` of `whole` is at least this share (an empty whole meets every share).
    fn met_by(self, part: u32, whole: u32) -> bool {
        u64::from(part) * 1000 >= u64::from(self.0) * u64::from(whole)
    }

    /// `part` of `whole` is more than this share.
    fn exceeded_by(self, part: u32, whole: u32) -> bool {
        u64::from(part) * 1000 > u64::from(self.0) * u64::from(whole)
    }

    /// How many of `whole` meet this share.
    fn of(self, whole: u32) -> u32 {
        let needed = (u64::from(self.0) * u64::from(whole)).div_ceil(1000);
        u32::try_from(needed).unwrap_or(u32::MAX)
    }
}

impl TryFrom<u16> for Permille {
    type Error = RolloutError;
    fn try_from(permille: u16) -> Result<Self, Self::Error> {
        Self::new(permille)
    }
}

impl From<Permille> for u16 {
    fn from(p: Permille) -> Self {
        p.0
    }
}

impl fmt::Display for Permille {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}%", self.0 / 10, self.0 % 10)
    }
}

/// A device the rollout targets (the server chose it by model and site).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDevice {
    /// The device id.
    pub id: String,
    /// Its site (hospital), for deferrals by the site's security officer.
    pub site: String,
    /// Its model.
    pub model: String,
}

/// Which devices a wave takes.
///
/// Named waves ([`Devices`](Self::Devices), [`Group`](Self::Group)) take exactly the devices
/// they name. [`Percent`](Self::Percent) and [`Rest`](Self::Rest) take from the targets no
/// named wave names, in a fixed order derived from the rollout id and the device id (BLAKE3),
/// so the same rollout id and plan always give the same waves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaveSelection {
    /// Devices a person picked (canaries).
    Devices(Vec<String>),
    /// This percentage of all targeted devices (rounded up), not cumulative: `10` after the
    /// canaries is another tenth of the fleet. Capped at what is left.
    Percent(u8),
    /// A named group's devices.
    Group {
        /// The group's name.
        name: String,
        /// Its devices.
        devices: Vec<String>,
    },
    /// Every targeted device no other wave takes; only as the last wave.
    Rest,
}

/// How a wave whose success threshold is met opens the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Advance {
    /// A person advances ([`Rollout::advance`]).
    Manual,
    /// At once.
    Automatic,
    /// After a pause for an outside check (a person may still advance earlier).
    AfterPause {
        /// How long, in seconds.
        seconds: u32,
    },
}

/// When failures in a wave stop the rollout by itself. Failures are devices that failed or
/// rolled back; shares are of the wave's devices not deferred or excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorThreshold {
    /// Stop when this many devices of the wave failed (at least 1).
    Count(u32),
    /// Stop when more than this share of the wave failed.
    Share(Permille),
}

impl fmt::Display for ErrorThreshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "stop at {n} failures"),
            Self::Share(p) => write!(f, "stop above {p} failures"),
        }
    }
}

/// One wave of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WavePlan {
    /// Its name ("canaries", "10 %", "radiology"…).
    pub name: String,
    /// Its devices.
    pub selection: WaveSelection,
    /// The share of its devices (not deferred or excluded) that must be installed before the
    /// next wave opens (at least 0.1%).
    pub success: Permille,
    /// How the next wave opens once the success threshold is met.
    pub advance: Advance,
    /// When failures stop the rollout.
    pub stop_on: ErrorThreshold,
}

/// A valid rollout plan: targeted devices and waves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPlan")]
pub struct RolloutPlan {
    targets: Vec<TargetDevice>,
    waves: Vec<WavePlan>,
    /// How many devices each percent or rest wave takes from the pool (0 for named waves).
    #[serde(skip)]
    drawn: Vec<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    targets: Vec<TargetDevice>,
    waves: Vec<WavePlan>,
}

impl TryFrom<RawPlan> for RolloutPlan {
    type Error = RolloutError;
    fn try_from(raw: RawPlan) -> Result<Self, Self::Error> {
        Self::new(raw.targets, raw.waves)
    }
}

impl RolloutPlan {
    /// Checks a plan.
    ///
    /// # Errors
    /// [`RolloutError::NoDevices`], [`RolloutError::NoWaves`], [`RolloutError::Empty`] (an id,
    /// site, model or wave name), [`RolloutError::DuplicateDevice`] (a target twice, or a
    /// device named by two waves), [`RolloutError::NotATarget`] (a named device not among the
    /// targets), [`RolloutError::InvalidPercent`], [`RolloutError::PercentOver100`],
    /// [`RolloutError::RestNotLast`], [`RolloutError::InvalidThreshold`],
    /// [`RolloutError::EmptyWave`], [`RolloutError::Unassigned`] (devices no wave takes).
    pub fn new(targets: Vec<TargetDevice>, waves: Vec<WavePlan>) -> Result<Self, RolloutError> {
        if targets.is_empty() {
            return Err(RolloutError::NoDevices);
        }
        if waves.is_empty() {
            return Err(RolloutError::NoWaves);
        }
        let mut ids = HashSet::with_capacity(targets.len());
        for t in &targets {
            for (field, value) in [("device id", &t.id), ("site", &t.site), ("model", &t.model)] {
                if value.trim().is_empty() {
                    return Err(RolloutError::Empty { field });
                }
            }
            if !ids.insert(t.id.as_str()) {
                return Err(RolloutError::DuplicateDevice {
                    device: t.id.clone(),
                });
            }
        }
        let total = u32::try_from(targets.len()).map_err(|_| RolloutError::TooManyDevices)?;
        let mut named = HashSet::new();
        let mut percent_sum = 0u32;
        let last = waves.len() - 1;
        for (i, w) in waves.iter().enumerate() {
            if w.name.trim().is_empty() {
                return Err(RolloutError::Empty { field: "wave name" });
            }
            if w.success.get() == 0 || w.stop_on == ErrorThreshold::Count(0) {
                return Err(RolloutError::InvalidThreshold {
                    wave: w.name.clone(),
                });
            }
            match &w.selection {
                WaveSelection::Devices(list) | WaveSelection::Group { devices: list, .. } => {
                    if list.is_empty() {
                        return Err(RolloutError::EmptyWave {
                            wave: w.name.clone(),
                        });
                    }
                    for d in list {
                        if !ids.contains(d.as_str()) {
                            return Err(RolloutError::NotATarget {
                                wave: w.name.clone(),
                                device: d.clone(),
                            });
                        }
                        if !named.insert(d.as_str()) {
                            return Err(RolloutError::DuplicateDevice { device: d.clone() });
                        }
                    }
                }
                WaveSelection::Percent(p) => {
                    if *p == 0 || *p > 100 {
                        return Err(RolloutError::InvalidPercent {
                            wave: w.name.clone(),
                            percent: *p,
                        });
                    }
                    percent_sum += u32::from(*p);
                }
                WaveSelection::Rest if i != last => {
                    return Err(RolloutError::RestNotLast {
                        wave: w.name.clone(),
                    });
                }
                WaveSelection::Rest => {}
            }
        }
        if percent_sum > 100 {
            return Err(RolloutError::PercentOver100 {
                percent: percent_sum,
            });
        }
        // The pool: targets no named wave names. Percent and rest waves draw from it in order.
        let named_count = u32::try_from(named.len()).unwrap_or(u32::MAX);
        let mut pool = total.saturating_sub(named_count);
        let mut drawn = Vec::with_capacity(waves.len());
        for w in &waves {
            let take = match w.selection {
                WaveSelection::Percent(p) => {
                    let share = (u64::from(p) * u64::from(total)).div_ceil(100);
                    u32::try_from(share).unwrap_or(u32::MAX).min(pool)
                }
                WaveSelection::Rest => pool,
                WaveSelection::Devices(_) | WaveSelection::Group { .. } => {
                    drawn.push(0);
                    continue;
                }
            };
            if take == 0 {
                return Err(RolloutError::EmptyWave {
                    wave: w.name.clone(),
                });
            }
            pool -= take;
            drawn.push(take);
        }
        if pool > 0 {
            return Err(RolloutError::Unassigned { count: pool });
        }
        Ok(Self {
            targets,
            waves,
            drawn,
        })
    }

    /// The targeted devices.
    #[must_use]
    pub fn targets(&self) -> &[TargetDevice] {
        &self.targets
    }

    /// The waves.
    #[must_use]
    pub fn waves(&self) -> &[WavePlan] {
        &self.waves
    }
}

// ---------------------------------------------------------------------------------------------
// Devices

/// A device's status in a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DeviceStatus {
    /// Its wave is not open yet.
    Pending,
    /// Its wave is open: it receives the install command at its next check-in.
    Offered,
    /// It has the patch and waits for its maintenance window.
    WaitingForWindow,
    /// It is inside its window and waits until it is idle (not in clinical use).
    WaitingForIdle,
    /// It downloads the bundle.
    Downloading,
    /// It installs.
    Installing,
    /// Installed and confirmed (an outcome).
    Installed {
        /// Its self-tests after the install.
        self_tests: SelfTests,
        /// The verification of its tree against the new system profile.
        verification: ProfileVerification,
    },
    /// Installed, a self-test failed, the old tree was restored (an outcome; a failure).
    RolledBack {
        /// Why, as the device reported it.
        reason: String,
    },
    /// Failed in a way that needs a person (a failure; [`Rollout::retry_failed`] offers it
    /// again).
    Failed {
        /// Why, as the device reported it.
        reason: String,
    },
    /// Deferred by a person, typically the site's security officer (an outcome).
    Deferred {
        /// Who.
        by: Person,
        /// Why.
        reason: String,
    },
    /// Excluded from the rollout by a person (an outcome).
    Excluded {
        /// Who.
        by: Person,
        /// Why.
        reason: String,
    },
}

impl DeviceStatus {
    /// Its kind, without details.
    #[must_use]
    pub fn kind(&self) -> StatusKind {
        match self {
            Self::Pending => StatusKind::Pending,
            Self::Offered => StatusKind::Offered,
            Self::WaitingForWindow => StatusKind::WaitingForWindow,
            Self::WaitingForIdle => StatusKind::WaitingForIdle,
            Self::Downloading => StatusKind::Downloading,
            Self::Installing => StatusKind::Installing,
            Self::Installed { .. } => StatusKind::Installed,
            Self::RolledBack { .. } => StatusKind::RolledBack,
            Self::Failed { .. } => StatusKind::Failed,
            Self::Deferred { .. } => StatusKind::Deferred,
            Self::Excluded { .. } => StatusKind::Excluded,
        }
    }
}

/// A [`DeviceStatus`] without its details: what counts and compacted history count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusKind {
    /// See [`DeviceStatus::Pending`].
    Pending,
    /// See [`DeviceStatus::Offered`].
    Offered,
    /// See [`DeviceStatus::WaitingForWindow`].
    WaitingForWindow,
    /// See [`DeviceStatus::WaitingForIdle`].
    WaitingForIdle,
    /// See [`DeviceStatus::Downloading`].
    Downloading,
    /// See [`DeviceStatus::Installing`].
    Installing,
    /// See [`DeviceStatus::Installed`].
    Installed,
    /// See [`DeviceStatus::RolledBack`].
    RolledBack,
    /// See [`DeviceStatus::Failed`].
    Failed,
    /// See [`DeviceStatus::Deferred`].
    Deferred,
    /// See [`DeviceStatus::Excluded`].
    Excluded,
}

impl StatusKind {
    /// Every kind.
    pub const ALL: [Self; 11] = [
        Self::Pending,
        Self::Offered,
        Self::WaitingForWindow,
        Self::WaitingForIdle,
        Self::Downloading,
        Self::Installing,
        Self::Installed,
        Self::RolledBack,
        Self::Failed,
        Self::Deferred,
        Self::Excluded,
    ];

    /// The name used in storage and the API.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Offered => "offered",
            Self::WaitingForWindow => "waiting-for-window",
            Self::WaitingForIdle => "waiting-for-idle",
            Self::Downloading => "downloading",
            Self::Installing => "installing",
            Self::Installed => "installed",
            Self::RolledBack => "rolled-back",
            Self::Failed => "failed",
            Self::Deferred => "deferred",
            Self::Excluded => "excluded",
        }
    }

    /// An outcome step 6 records: installed, rolled back, deferred or excluded. A device
    /// whose every status is an outcome is finished; a failed one is not (it needs a person).
    #[must_use]
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            Self::Installed | Self::RolledBack | Self::Deferred | Self::Excluded
        )
    }

    /// Between an offer and an outcome: the agent works on it.
    fn is_in_progress(self) -> bool {
        matches!(
            self,
            Self::Offered
                | Self::WaitingForWindow
                | Self::WaitingForIdle
                | Self::Downloading
                | Self::Installing
        )
    }
}

/// A device's self-test results after an install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfTests {
    /// How many passed.
    pub passed: u32,
    /// How many failed.
    pub failed: u32,
}

/// The verification of a device's tree against the new system profile after an install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verification", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ProfileVerification {
    /// Every entry matches the profile.
    Intact,
    /// Some entries deviate (added, removed, changed or unverifiable).
    Deviates {
        /// How many.
        entries: u64,
    },
    /// The device did not verify.
    NotRun,
}

/// What a device reports about a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DeviceReport {
    /// It waits for its maintenance window.
    WaitingForWindow,
    /// It waits until it is idle.
    WaitingForIdle,
    /// It downloads.
    Downloading,
    /// It installs.
    Installing,
    /// Installed and confirmed.
    Installed {
        /// Its self-tests.
        self_tests: SelfTests,
        /// The verification against the new profile.
        verification: ProfileVerification,
    },
    /// Rolled back.
    RolledBack {
        /// Why.
        reason: String,
    },
    /// Failed.
    Failed {
        /// Why.
        reason: String,
    },
}

impl From<DeviceReport> for DeviceStatus {
    fn from(r: DeviceReport) -> Self {
        match r {
            DeviceReport::WaitingForWindow => Self::WaitingForWindow,
            DeviceReport::WaitingForIdle => Self::WaitingForIdle,
            DeviceReport::Downloading => Self::Downloading,
            DeviceReport::Installing => Self::Installing,
            DeviceReport::Installed {
                self_tests,
                verification,
            } => Self::Installed {
                self_tests,
                verification,
            },
            DeviceReport::RolledBack { reason } => Self::RolledBack { reason },
            DeviceReport::Failed { reason } => Self::Failed { reason },
        }
    }
}

/// One status change in a device's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusEntry {
    /// The new status.
    pub status: StatusKind,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A device's progress through a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceProgress {
    /// Its wave (index into [`Rollout::waves`]).
    pub wave: usize,
    /// Its site.
    pub site: String,
    /// Its model.
    pub model: String,
    /// Where it is now.
    pub status: DeviceStatus,
    /// How many times it was offered the patch (1 when its wave opens, one more per retry).
    pub attempts: u32,
    /// The last [`HISTORY_CAP`] status changes, oldest first.
    pub history: VecDeque<StatusEntry>,
    /// Older status changes, counted per status.
    #[serde(default)]
    pub compacted: BTreeMap<StatusKind, u64>,
    /// Its last outcome (installed, rolled back, failed, deferred, excluded), kept even when a
    /// retry starts it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<DeviceStatus>,
}

impl DeviceProgress {
    /// How many status changes it went through (kept and compacted).
    #[must_use]
    pub fn changes(&self) -> u64 {
        self.compacted.values().sum::<u64>() + self.history.len() as u64
    }

    fn set(&mut self, counts: &mut [StatusCounts], status: DeviceStatus, now: OffsetDateTime) {
        let (old, new) = (self.status.kind(), status.kind());
        if let Some(c) = counts.get_mut(self.wave) {
            c.moved(old, new);
        }
        if new.is_outcome() || new == StatusKind::Failed {
            self.outcome = Some(status.clone());
        }
        self.status = status;
        self.history.push_back(StatusEntry {
            status: new,
            at: now,
        });
        while self.history.len() > HISTORY_CAP {
            if let Some(e) = self.history.pop_front() {
                *self.compacted.entry(e.status).or_insert(0) += 1;
            }
        }
    }
}

/// How many devices are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Wave not open.
    pub pending: u32,
    /// Offered, not yet heard from.
    pub offered: u32,
    /// Waiting for their maintenance window.
    pub waiting_for_window: u32,
    /// Waiting until idle.
    pub waiting_for_idle: u32,
    /// Downloading.
    pub downloading: u32,
    /// Installing.
    pub installing: u32,
    /// Installed (done).
    pub installed: u32,
    /// Rolled back.
    pub rolled_back: u32,
    /// Failed.
    pub failed: u32,
    /// Deferred.
    pub deferred: u32,
    /// Excluded.
    pub excluded: u32,
}

impl StatusCounts {
    /// The count of one status.
    #[must_use]
    pub fn get(&self, kind: StatusKind) -> u32 {
        match kind {
            StatusKind::Pending => self.pending,
            StatusKind::Offered => self.offered,
            StatusKind::WaitingForWindow => self.waiting_for_window,
            StatusKind::WaitingForIdle => self.waiting_for_idle,
            StatusKind::Downloading => self.downloading,
            StatusKind::Installing => self.installing,
            StatusKind::Installed => self.installed,
            StatusKind::RolledBack => self.rolled_back,
            StatusKind::Failed => self.failed,
            StatusKind::Deferred => self.deferred,
            StatusKind::Excluded => self.excluded,
        }
    }

    fn slot(&mut self, kind: StatusKind) -> &mut u32 {
        match kind {
            StatusKind::Pending => &mut self.pending,
            StatusKind::Offered => &mut self.offered,
            StatusKind::WaitingForWindow => &mut self.waiting_for_window,
            StatusKind::WaitingForIdle => &mut self.waiting_for_idle,
            StatusKind::Downloading => &mut self.downloading,
            StatusKind::Installing => &mut self.installing,
            StatusKind::Installed => &mut self.installed,
            StatusKind::RolledBack => &mut self.rolled_back,
            StatusKind::Failed => &mut self.failed,
            StatusKind::Deferred => &mut self.deferred,
            StatusKind::Excluded => &mut self.excluded,
        }
    }

    fn moved(&mut self, from: StatusKind, to: StatusKind) {
        let f = self.slot(from);
        *f = f.saturating_sub(1);
        *self.slot(to) += 1;
    }

    /// All devices counted.
    #[must_use]
    pub fn total(&self) -> u32 {
        StatusKind::ALL.iter().map(|k| self.get(*k)).sum()
    }

    /// Downloading or installing.
    #[must_use]
    pub fn installing_now(&self) -> u32 {
        self.downloading + self.installing
    }

    /// Failed or rolled back: what error thresholds count.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failed + self.rolled_back
    }

    /// With an outcome (installed, rolled back, deferred, excluded).
    #[must_use]
    pub fn finished(&self) -> u32 {
        self.installed + self.rolled_back + self.deferred + self.excluded
    }

    /// Not set aside by a person: what thresholds are shares of.
    #[must_use]
    pub fn counted(&self) -> u32 {
        self.total() - self.deferred - self.excluded
    }
}

// ---------------------------------------------------------------------------------------------
// The rollout

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RolloutState {
    /// Devices in open waves receive the patch.
    Active,
    /// Paused by a person: no device receives an install command.
    Paused {
        /// Who.
        by: Person,
        /// Why.
        reason: String,
    },
    /// Stopped by an error threshold; a person resumes it (after fixing the cause and
    /// retrying the failed devices) or cancels it.
    Stopped {
        /// Which threshold, with the counts.
        reason: String,
    },
    /// Cancelled by a person (final).
    Cancelled {
        /// Who.
        by: Person,
        /// Why.
        reason: String,
    },
    /// Every targeted device has an outcome (final).
    Completed,
}

impl RolloutState {
    /// The name used in storage and the API.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused { .. } => "paused",
            Self::Stopped { .. } => "stopped",
            Self::Cancelled { .. } => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// No change is possible any more.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Cancelled { .. } | Self::Completed)
    }
}

/// A wave of a running rollout: its plan and the devices it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    /// The plan.
    pub plan: WavePlan,
    /// Its devices.
    pub devices: Vec<String>,
    /// When it opened.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub opened: Option<OffsetDateTime>,
}

/// What happens after the current wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "next", rename_all = "kebab-case", deny_unknown_fields)]
pub enum NextWave {
    /// The current wave has not met its success threshold (or it is the last).
    NotYet,
    /// The success threshold is met; a person advances ([`Advance::Manual`]).
    ReadyToAdvance,
    /// The success threshold is met; the next wave opens at this time
    /// ([`Advance::AfterPause`]).
    At {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

/// Something that happened to the rollout as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutEvent {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who, when a person did it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Person>,
    /// What, in words.
    pub what: String,
}

/// What the server answers a device at its check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Install this patch (the agent still waits for idle and its window).
    Install {
        /// The rollout.
        rollout: String,
        /// The TUF target name of the bundle.
        target: String,
        /// The bundle's version.
        version: String,
    },
    /// Nothing now; this may change.
    Wait(WaitReason),
    /// Nothing, and nothing more will come from this rollout unless a person acts.
    Nothing(NothingReason),
}

/// Why a device waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Its wave is not open.
    WaveNotOpen,
    /// The rollout is paused.
    Paused,
    /// The rollout was stopped by an error threshold.
    Stopped,
    /// It failed; a person retries it once the cause is fixed.
    FailedAwaitingRetry,
}

/// Why a device gets nothing from this rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingReason {
    /// It is not in this rollout.
    NotInRollout,
    /// It has an outcome already.
    Finished,
    /// A person deferred or excluded it.
    SetAside,
    /// The rollout was cancelled.
    Cancelled,
    /// The rollout is complete.
    Completed,
}

/// What a report or a tick changed beyond the device's own status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportEffect {
    /// The same status again: nothing changed.
    Unchanged,
    /// The device's status changed; nothing else.
    Recorded,
    /// An error threshold stopped the rollout.
    Stopped {
        /// Which threshold, with the counts.
        reason: String,
    },
    /// The next wave opened (this index).
    WaveOpened {
        /// The wave's index.
        wave: usize,
    },
    /// The current wave met its success threshold; a person may advance.
    ReadyToAdvance,
    /// The current wave met its success threshold; the next opens at this time.
    AdvanceAt {
        /// When.
        at: OffsetDateTime,
    },
    /// Every targeted device has an outcome.
    Completed,
}

/// A wave's progress, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveProgress {
    /// The wave's name.
    pub name: String,
    /// Whether it is open.
    pub open: bool,
    /// How many devices it targets.
    pub targeted: u32,
    /// How many are in each status.
    pub counts: StatusCounts,
}

/// A device's final outcome, for the patch record's step 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceOutcome<'a> {
    /// The device.
    pub device: &'a str,
    /// Its site.
    pub site: &'a str,
    /// Its model.
    pub model: &'a str,
    /// Its wave's name.
    pub wave: &'a str,
    /// How many times it was offered the patch.
    pub attempts: u32,
    /// Its current status.
    pub status: &'a DeviceStatus,
    /// Its last outcome, if it has one.
    pub outcome: Option<&'a DeviceStatus>,
}

/// Why a rollout or one of its changes was refused. Nothing is changed by a refused call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// A plan without targeted devices.
    #[error("a rollout needs at least one targeted device")]
    NoDevices,
    /// More devices than a rollout counts.
    #[error("too many devices for one rollout")]
    TooManyDevices,
    /// A plan without waves.
    #[error("a rollout needs at least one wave")]
    NoWaves,
    /// A value is empty.
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// A device targeted twice, or named by two waves.
    #[error("device {device} appears twice")]
    DuplicateDevice {
        /// The device.
        device: String,
    },
    /// A wave names a device the rollout does not target.
    #[error("wave {wave} names device {device}, which is not among the targets")]
    NotATarget {
        /// The wave.
        wave: String,
        /// The device.
        device: String,
    },
    /// A percentage outside 1–100.
    #[error("wave {wave}: {percent}% is not a percentage from 1 to 100")]
    InvalidPercent {
        /// The wave.
        wave: String,
        /// The percentage.
        percent: u8,
    },
    /// Percent waves adding up to more than 100.
    #[error("the percent waves add up to {percent}%")]
    PercentOver100 {
        /// Their sum.
        percent: u32,
    },
    /// A share above 1000‰.
    #[error("{permille}‰ is more than everything")]
    InvalidShare {
        /// The value.
        permille: u16,
    },
    /// A rest wave that is not the last.
    #[error("wave {wave} takes the rest, so it must be the last")]
    RestNotLast {
        /// The wave.
        wave: String,
    },
    /// A zero success threshold or an error count of zero.
    #[error("wave {wave}: a success threshold of 0 or an error count of 0 means nothing")]
    InvalidThreshold {
        /// The wave.
        wave: String,
    },
    /// A wave that takes no device.
    #[error("wave {wave} takes no device")]
    EmptyWave {
        /// The wave.
        wave: String,
    },
    /// Targeted devices no wave takes.
    #[error("{count} targeted devices are in no wave (end with a rest wave)")]
    Unassigned {
        /// How many.
        count: u32,
    },
    /// The device is not in this rollout.
    #[error("device {device} is not in this rollout")]
    NotInRollout {
        /// The device.
        device: String,
    },
    /// The device was never offered the patch (its wave is not open, or it was set aside
    /// before its wave opened).
    #[error("device {device} was not offered the patch yet")]
    NotOffered {
        /// The device.
        device: String,
    },
    /// The device has an outcome (or failed); only a retry starts it again.
    #[error("device {device} is {status} already")]
    OutcomeRecorded {
        /// The device.
        device: String,
        /// Its status.
        status: &'static str,
    },
    /// A person deferred or excluded the device.
    #[error("device {device} is {status}")]
    SetAside {
        /// The device.
        device: String,
        /// Its status.
        status: &'static str,
    },
    /// The device is downloading or installing: the agent cannot be stopped from here.
    #[error("device {device} is {status}: wait for its outcome")]
    DeviceBusy {
        /// The device.
        device: String,
        /// Its status.
        status: &'static str,
    },
    /// No targeted device is at this site.
    #[error("no device of this rollout is at site {site}")]
    UnknownSite {
        /// The site.
        site: String,
    },
    /// The state machine does not allow this from here.
    #[error("a rollout that is {from} cannot {action}")]
    NotAllowed {
        /// The current state.
        from: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// The current wave is the last.
    #[error("the last wave is open already")]
    NoNextWave,
    /// The current wave has not met its success threshold.
    #[error("wave {wave} has {installed} devices installed, its success threshold needs {needed}")]
    ThresholdNotMet {
        /// The wave.
        wave: String,
        /// Installed.
        installed: u32,
        /// Needed.
        needed: u32,
    },
    /// No device failed or rolled back in an open wave.
    #[error("no device to retry")]
    NothingToRetry,
    /// A stored rollout that does not hold together.
    #[error("stored rollout is inconsistent: {why}")]
    Inconsistent {
        /// What.
        why: &'static str,
    },
}

/// A staged rollout of one released patch. Stored as JSON by the server
/// (`serde_json::to_string` / `from_str`; reading checks that it holds together).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Stored")]
pub struct Rollout {
    s: Stored,
    /// Per-wave counts, derived from the devices (not stored).
    counts: Vec<StatusCounts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    id: String,
    patch: String,
    target: String,
    version: String,
    state: RolloutState,
    waves: Vec<Wave>,
    current: usize,
    next: NextWave,
    #[serde(serialize_with = "sorted")]
    devices: HashMap<String, DeviceProgress>,
    events: Vec<RolloutEvent>,
}

/// Devices in id order, so the same rollout always gives the same JSON.
fn sorted<S: Serializer>(
    devices: &HashMap<String, DeviceProgress>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let sorted: BTreeMap<&String, &DeviceProgress> = devices.iter().collect();
    sorted.serialize(s)
}

impl Serialize for Rollout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.s.serialize(s)
    }
}

impl TryFrom<Stored> for Rollout {
    type Error = RolloutError;
    fn try_from(s: Stored) -> Result<Self, Self::Error> {
        let inconsistent = |why| Err(RolloutError::Inconsistent { why });
        if s.waves.is_empty() || s.current >= s.waves.len() {
            return inconsistent("the current wave is not a wave");
        }
        let mut counts = vec![StatusCounts::default(); s.waves.len()];
        for d in s.devices.values() {
            let Some(c) = counts.get_mut(d.wave) else {
                return inconsistent("a device's wave is not a wave");
            };
            let kind = d.status.kind();
            if (kind == StatusKind::Pending) != (d.wave > s.current)
                && kind != StatusKind::Deferred
                && kind != StatusKind::Excluded
            {
                return inconsistent("a device's status does not match its wave");
            }
            *c.slot(kind) += 1;
        }
        for (i, w) in s.waves.iter().enumerate() {
            let listed = w
                .devices
                .iter()
                .all(|id| s.devices.get(id).is_some_and(|d| d.wave == i));
            let count_matches = counts
                .get(i)
                .is_some_and(|c| c.total() as usize == w.devices.len());
            if !listed || !count_matches {
                return inconsistent("a wave's devices do not match the devices' waves");
            }
        }
        Ok(Self { s, counts })
    }
}

/// The order percent and rest waves draw devices in: BLAKE3 of the rollout id and device id.
fn draw_key(rollout: &str, device: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&(rollout.len() as u64).to_le_bytes());
    h.update(rollout.as_bytes());
    h.update(device.as_bytes());
    *h.finalize().as_bytes()
}

impl Rollout {
    /// Starts a rollout of a released patch (the caller checks the record is released, and
    /// calls [`crate::PatchRecord::start_rollout`] with the same id). Assigns every targeted
    /// device its wave and opens the first.
    ///
    /// # Errors
    /// [`RolloutError::Empty`] for an empty id, patch, target or version.
    pub fn start(
        id: &str,
        patch: &str,
        target: &str,
        version: &str,
        plan: RolloutPlan,
        by: &Person,
        now: OffsetDateTime,
    ) -> Result<Self, RolloutError> {
        for (field, value) in [
            ("rollout id", id),
            ("patch record id", patch),
            ("target", target),
            ("version", version),
        ] {
            if value.trim().is_empty() {
                return Err(RolloutError::Empty { field });
            }
        }
        let RolloutPlan {
            targets,
            waves: plans,
            drawn,
        } = plan;
        let mut wave_of: HashMap<&str, usize> = HashMap::with_capacity(targets.len());
        for (i, w) in plans.iter().enumerate() {
            if let WaveSelection::Devices(list) | WaveSelection::Group { devices: list, .. } =
                &w.selection
            {
                for d in list {
                    wave_of.insert(d.as_str(), i);
                }
            }
        }
        let mut pool: Vec<([u8; 32], &str)> = targets
            .iter()
            .filter(|t| !wave_of.contains_key(t.id.as_str()))
            .map(|t| (draw_key(id, &t.id), t.id.as_str()))
            .collect();
        pool.sort_unstable();
        let mut pool = pool.into_iter().map(|(_, d)| d);
        for (i, take) in drawn.iter().enumerate() {
            for d in pool.by_ref().take(*take as usize) {
                wave_of.insert(d, i);
            }
        }
        // The plan assigned every target (checked by `RolloutPlan::new`).
        let assigned: Vec<usize> = targets
            .iter()
            .map(|t| wave_of.get(t.id.as_str()).copied().unwrap_or(0))
            .collect();
        let mut waves: Vec<Wave> = plans
            .into_iter()
            .map(|plan| Wave {
                plan,
                devices: Vec::new(),
                opened: None,
            })
            .collect();
        let mut counts = vec![StatusCounts::default(); waves.len()];
        let mut devices = HashMap::with_capacity(targets.len());
        for (t, &wave) in targets.iter().zip(&assigned) {
            if let Some(w) = waves.get_mut(wave) {
                w.devices.push(t.id.clone());
            }
            if let Some(c) = counts.get_mut(wave) {
                c.pending += 1;
            }
            devices.insert(
                t.id.clone(),
                DeviceProgress {
                    wave,
                    site: t.site.clone(),
                    model: t.model.clone(),
                    status: DeviceStatus::Pending,
                    attempts: 0,
                    history: VecDeque::new(),
                    compacted: BTreeMap::new(),
                    outcome: None,
                },
            );
        }
        let mut rollout = Self {
            s: Stored {
                id: id.to_owned(),
                patch: patch.to_owned(),
                target: target.to_owned(),
                version: version.to_owned(),
                state: RolloutState::Active,
                waves,
                current: 0,
                next: NextWave::NotYet,
                devices,
                events: vec![RolloutEvent {
                    at: now,
                    by: Some(by.clone()),
                    what: format!("started: {target} ({version}) to {} devices", targets.len()),
                }],
            },
            counts,
        };
        rollout.open(0, now);
        Ok(rollout)
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.s.id
    }

    /// The patch record it installs.
    #[must_use]
    pub fn patch(&self) -> &str {
        &self.s.patch
    }

    /// The TUF target name of the bundle.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.s.target
    }

    /// The bundle's version.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.s.version
    }

    /// Where it is.
    #[must_use]
    pub fn state(&self) -> &RolloutState {
        &self.s.state
    }

    /// The waves, with their devices.
    #[must_use]
    pub fn waves(&self) -> &[Wave] {
        &self.s.waves
    }

    /// The index of the last open wave.
    #[must_use]
    pub fn current_wave(&self) -> usize {
        self.s.current
    }

    /// What happens after the current wave.
    #[must_use]
    pub fn next_wave(&self) -> NextWave {
        self.s.next
    }

    /// One device's progress.
    #[must_use]
    pub fn device(&self, id: &str) -> Option<&DeviceProgress> {
        self.s.devices.get(id)
    }

    /// How many devices it targets.
    #[must_use]
    pub fn device_count(&self) -> usize {
        self.s.devices.len()
    }

    /// What happened to the rollout as a whole, oldest first.
    #[must_use]
    pub fn events(&self) -> &[RolloutEvent] {
        &self.s.events
    }

    /// Each wave's counts (kept as reports arrive: no scan over devices).
    #[must_use]
    pub fn progress(&self) -> Vec<WaveProgress> {
        self.s
            .waves
            .iter()
            .zip(&self.counts)
            .map(|(w, c)| WaveProgress {
                name: w.plan.name.clone(),
                open: w.opened.is_some(),
                targeted: c.total(),
                counts: *c,
            })
            .collect()
    }

    /// Every targeted device is installed, rolled back, deferred or excluded.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.counts.iter().map(StatusCounts::finished).sum::<u32>() as usize == self.s.devices.len()
    }

    /// Each device's final outcome, in device id order (step 6).
    #[must_use]
    pub fn outcomes(&self) -> Vec<DeviceOutcome<'_>> {
        let mut out: Vec<DeviceOutcome<'_>> = self
            .s
            .devices
            .iter()
            .map(|(id, d)| DeviceOutcome {
                device: id,
                site: &d.site,
                model: &d.model,
                wave: self
                    .s
                    .waves
                    .get(d.wave)
                    .map_or("", |w| w.plan.name.as_str()),
                attempts: d.attempts,
                status: &d.status,
                outcome: d.outcome.as_ref(),
            })
            .collect();
        out.sort_unstable_by(|a, b| a.device.cmp(b.device));
        out
    }

    /// What the server answers `device` at its check-in. One map lookup; first applies a
    /// due [`NextWave::At`] (see [`Rollout::tick`]).
    pub fn decide(&mut self, device: &str, now: OffsetDateTime) -> Decision {
        self.tick(now);
        let Some(d) = self.s.devices.get(device) else {
            return Decision::Nothing(NothingReason::NotInRollout);
        };
        let kind = d.status.kind();
        match (&self.s.state, kind) {
            (RolloutState::Cancelled { .. }, _) => Decision::Nothing(NothingReason::Cancelled),
            (RolloutState::Completed, _) => Decision::Nothing(NothingReason::Completed),
            (_, StatusKind::Deferred | StatusKind::Excluded) => {
                Decision::Nothing(NothingReason::SetAside)
            }
            (_, StatusKind::Installed | StatusKind::RolledBack) => {
                Decision::Nothing(NothingReason::Finished)
            }
            (_, StatusKind::Failed) => Decision::Wait(WaitReason::FailedAwaitingRetry),
            (_, StatusKind::Pending) => Decision::Wait(WaitReason::WaveNotOpen),
            (RolloutState::Paused { .. }, _) => Decision::Wait(WaitReason::Paused),
            (RolloutState::Stopped { .. }, _) => Decision::Wait(WaitReason::Stopped),
            (RolloutState::Active, _) => Decision::Install {
                rollout: self.s.id.clone(),
                target: self.s.target.clone(),
                version: self.s.version.clone(),
            },
        }
    }

    /// Records what `device` reports, then applies its wave's error threshold and the current
    /// wave's success threshold. Reports are accepted in any state (they are facts about the
    /// device), but only an active rollout stops or advances. The same status twice changes
    /// nothing (the agent may send a report again after being offline).
    ///
    /// # Errors
    /// [`RolloutError::NotInRollout`]; [`RolloutError::NotOffered`] when it was never offered
    /// the patch;
    /// [`RolloutError::OutcomeRecorded`] after an outcome or a failure (retry first);
    /// [`RolloutError::SetAside`] for progress from a deferred or excluded device (an outcome
    /// is still recorded: it acted before it was set aside).
    pub fn report(
        &mut self,
        device: &str,
        report: DeviceReport,
        now: OffsetDateTime,
    ) -> Result<ReportEffect, RolloutError> {
        let status = DeviceStatus::from(report);
        let Some(d) = self.s.devices.get_mut(device) else {
            return Err(RolloutError::NotInRollout {
                device: device.to_owned(),
            });
        };
        if d.status == status {
            return Ok(ReportEffect::Unchanged);
        }
        let (old, new) = (d.status.kind(), status.kind());
        // Never offered: its wave is not open (or it was set aside before it opened).
        if d.attempts == 0 {
            return Err(RolloutError::NotOffered {
                device: device.to_owned(),
            });
        }
        match old {
            StatusKind::Installed | StatusKind::RolledBack | StatusKind::Failed => {
                return Err(RolloutError::OutcomeRecorded {
                    device: device.to_owned(),
                    status: old.as_str(),
                });
            }
            StatusKind::Deferred | StatusKind::Excluded if new.is_in_progress() => {
                return Err(RolloutError::SetAside {
                    device: device.to_owned(),
                    status: old.as_str(),
                });
            }
            _ => {}
        }
        let wave = d.wave;
        d.set(&mut self.counts, status, now);
        if matches!(new, StatusKind::Failed | StatusKind::RolledBack)
            && let Some(effect) = self.check_errors(wave, now)
        {
            return Ok(effect);
        }
        Ok(self.settle(now).unwrap_or(ReportEffect::Recorded))
    }

    /// Opens the next wave when a pause after success has passed ([`NextWave::At`]).
    /// [`Rollout::decide`] calls it; the server may also call it on a timer.
    pub fn tick(&mut self, now: OffsetDateTime) -> Option<ReportEffect> {
        match self.s.next {
            NextWave::At { at } if at <= now => self.settle(now),
            _ => None,
        }
    }

    /// A person opens the next wave; the current wave must have met its success threshold.
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] unless active; [`RolloutError::NoNextWave`];
    /// [`RolloutError::ThresholdNotMet`].
    pub fn advance(&mut self, by: &Person, now: OffsetDateTime) -> Result<usize, RolloutError> {
        self.must_be_active("advance")?;
        let next = self.s.current + 1;
        if next >= self.s.waves.len() {
            return Err(RolloutError::NoNextWave);
        }
        let (wave, success) = self.current_plan();
        let c = self.current_counts();
        if !success.met_by(c.installed, c.counted()) {
            return Err(RolloutError::ThresholdNotMet {
                wave,
                installed: c.installed,
                needed: success.of(c.counted()),
            });
        }
        self.log(now, Some(by), format!("advanced past wave {wave}"));
        self.open(next, now);
        self.settle(now);
        Ok(next)
    }

    /// A person pauses the rollout: no device receives an install command.
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] unless active; [`RolloutError::Empty`] without a reason.
    pub fn pause(
        &mut self,
        by: &Person,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), RolloutError> {
        self.must_be_active("be paused")?;
        non_empty(reason)?;
        self.log(now, Some(by), format!("paused: {reason}"));
        self.s.state = RolloutState::Paused {
            by: by.clone(),
            reason: reason.to_owned(),
        };
        Ok(())
    }

    /// A person resumes a paused rollout, or one an error threshold stopped (retry the
    /// failed devices first, or the next failure stops it again).
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] unless paused or stopped.
    pub fn resume(
        &mut self,
        by: &Person,
        now: OffsetDateTime,
    ) -> Result<Option<ReportEffect>, RolloutError> {
        if !matches!(
            self.s.state,
            RolloutState::Paused { .. } | RolloutState::Stopped { .. }
        ) {
            return Err(self.not_allowed("be resumed"));
        }
        self.log(now, Some(by), "resumed".to_owned());
        self.s.state = RolloutState::Active;
        Ok(self.settle(now))
    }

    /// A person cancels the rollout (final). Devices keep their outcomes.
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] when cancelled or completed; [`RolloutError::Empty`]
    /// without a reason.
    pub fn cancel(
        &mut self,
        by: &Person,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), RolloutError> {
        if self.s.state.is_final() {
            return Err(self.not_allowed("be cancelled"));
        }
        non_empty(reason)?;
        self.log(now, Some(by), format!("cancelled: {reason}"));
        self.s.state = RolloutState::Cancelled {
            by: by.clone(),
            reason: reason.to_owned(),
        };
        self.s.next = NextWave::NotYet;
        Ok(())
    }

    /// A person offers the patch again to every device of an open wave that failed or rolled
    /// back, once the cause is fixed; each counts one more attempt. Returns how many.
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] when cancelled or completed;
    /// [`RolloutError::NothingToRetry`].
    pub fn retry_failed(&mut self, by: &Person, now: OffsetDateTime) -> Result<u32, RolloutError> {
        if self.s.state.is_final() {
            return Err(self.not_allowed("retry devices"));
        }
        if self.counts.iter().map(StatusCounts::failures).sum::<u32>() == 0 {
            return Err(RolloutError::NothingToRetry);
        }
        let mut retried = 0;
        for d in self.s.devices.values_mut() {
            if matches!(d.status.kind(), StatusKind::Failed | StatusKind::RolledBack) {
                d.attempts += 1;
                d.set(&mut self.counts, DeviceStatus::Offered, now);
                retried += 1;
            }
        }
        self.log(now, Some(by), format!("retried {retried} failed devices"));
        self.settle(now);
        Ok(retried)
    }

    /// A person (typically the site's security officer) defers one device, with a reason.
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] when cancelled or completed; [`RolloutError::Empty`]
    /// without a reason; [`RolloutError::NotInRollout`]; [`RolloutError::DeviceBusy`] while it
    /// downloads or installs; [`RolloutError::OutcomeRecorded`] once installed or rolled back;
    /// [`RolloutError::SetAside`] when deferred or excluded already.
    pub fn defer_device(
        &mut self,
        by: &Person,
        device: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ReportEffect>, RolloutError> {
        self.set_aside(by, device, reason, now, false)
    }

    /// A person excludes one device from the rollout, with a reason; a deferred device may
    /// be excluded.
    ///
    /// # Errors
    /// As [`Rollout::defer_device`].
    pub fn exclude(
        &mut self,
        by: &Person,
        device: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Option<ReportEffect>, RolloutError> {
        self.set_aside(by, device, reason, now, true)
    }

    /// A site's security officer defers every device of the site that has not started
    /// downloading and has no outcome; returns how many. The others are left as they are.
    ///
    /// # Errors
    /// [`RolloutError::NotAllowed`] when cancelled or completed; [`RolloutError::Empty`]
    /// without a reason; [`RolloutError::UnknownSite`].
    pub fn defer_site(
        &mut self,
        by: &Person,
        site: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<u32, RolloutError> {
        if self.s.state.is_final() {
            return Err(self.not_allowed("defer devices"));
        }
        non_empty(reason)?;
        if !self.s.devices.values().any(|d| d.site == site) {
            return Err(RolloutError::UnknownSite {
                site: site.to_owned(),
            });
        }
        let mut deferred = 0;
        for d in self.s.devices.values_mut() {
            if d.site == site && deferrable(d.status.kind(), false) {
                let status = DeviceStatus::Deferred {
                    by: by.clone(),
                    reason: reason.to_owned(),
                };
                d.set(&mut self.counts, status, now);
                deferred += 1;
            }
        }
        self.log(
            now,
            Some(by),
            format!("deferred {deferred} devices of site {site}: {reason}"),
        );
        self.settle(now);
        Ok(deferred)
    }

    // -----------------------------------------------------------------------------------------

    fn set_aside(
        &mut self,
        by: &Person,
        device: &str,
        reason: &str,
        now: OffsetDateTime,
        exclude: bool,
    ) -> Result<Option<ReportEffect>, RolloutError> {
        let action = if exclude {
            "exclude devices"
        } else {
            "defer devices"
        };
        if self.s.state.is_final() {
            return Err(self.not_allowed(action));
        }
        non_empty(reason)?;
        let Some(d) = self.s.devices.get_mut(device) else {
            return Err(RolloutError::NotInRollout {
                device: device.to_owned(),
            });
        };
        let kind = d.status.kind();
        if !deferrable(kind, exclude) {
            let (device, status) = (device.to_owned(), kind.as_str());
            return Err(match kind {
                StatusKind::Downloading | StatusKind::Installing => {
                    RolloutError::DeviceBusy { device, status }
                }
                StatusKind::Deferred | StatusKind::Excluded => {
                    RolloutError::SetAside { device, status }
                }
                _ => RolloutError::OutcomeRecorded { device, status },
            });
        }
        let (status, verb) = if exclude {
            (
                DeviceStatus::Excluded {
                    by: by.clone(),
                    reason: reason.to_owned(),
                },
                "excluded",
            )
        } else {
            (
                DeviceStatus::Deferred {
                    by: by.clone(),
                    reason: reason.to_owned(),
                },
                "deferred",
            )
        };
        d.set(&mut self.counts, status, now);
        self.log(now, Some(by), format!("{verb} device {device}: {reason}"));
        Ok(self.settle(now))
    }

    /// Offers the patch to every pending device of wave `i`.
    fn open(&mut self, i: usize, now: OffsetDateTime) {
        let Some(w) = self.s.waves.get_mut(i) else {
            return;
        };
        w.opened = Some(now);
        for id in &w.devices {
            if let Some(d) = self.s.devices.get_mut(id)
                && d.status == DeviceStatus::Pending
            {
                d.attempts += 1;
                d.set(&mut self.counts, DeviceStatus::Offered, now);
            }
        }
        self.s.current = i;
        self.s.next = NextWave::NotYet;
        let what = format!("wave {} opened ({} devices)", w.plan.name, w.devices.len());
        self.log(now, None, what);
    }

    /// Applies wave `wave`'s error threshold.
    fn check_errors(&mut self, wave: usize, now: OffsetDateTime) -> Option<ReportEffect> {
        if !matches!(
            self.s.state,
            RolloutState::Active | RolloutState::Paused { .. }
        ) {
            return None;
        }
        let w = self.s.waves.get(wave)?;
        let c = self.counts.get(wave)?;
        let (failures, counted) = (c.failures(), c.counted());
        let stop = match w.plan.stop_on {
            ErrorThreshold::Count(n) => failures >= n,
            ErrorThreshold::Share(p) => p.exceeded_by(failures, counted),
        };
        if !stop {
            return None;
        }
        let reason = format!(
            "wave {}: {failures} of {counted} devices failed or rolled back ({})",
            w.plan.name, w.plan.stop_on
        );
        self.log(now, None, format!("stopped: {reason}"));
        self.s.state = RolloutState::Stopped {
            reason: reason.clone(),
        };
        self.s.next = NextWave::NotYet;
        Some(ReportEffect::Stopped { reason })
    }

    /// Applies the success threshold of the current wave (opening, marking ready or
    /// scheduling the next) and completion. Only an active rollout advances or completes.
    fn settle(&mut self, now: OffsetDateTime) -> Option<ReportEffect> {
        if self.s.state != RolloutState::Active {
            return None;
        }
        let mut effect = None;
        loop {
            let next = self.s.current + 1;
            if next >= self.s.waves.len() {
                break;
            }
            let (_, success) = self.current_plan();
            let c = self.current_counts();
            if !success.met_by(c.installed, c.counted()) {
                // Met once, no longer (a deferred device reported a failure): not ready.
                self.s.next = NextWave::NotYet;
                break;
            }
            let advance = self
                .s
                .waves
                .get(self.s.current)
                .map_or(Advance::Manual, |w| w.plan.advance);
            match (advance, self.s.next) {
                (Advance::Automatic, _) => {}
                (Advance::AfterPause { .. }, NextWave::At { at }) if at <= now => {}
                (Advance::AfterPause { .. }, NextWave::At { .. }) => break,
                (Advance::AfterPause { seconds }, _) => {
                    let at = now + time::Duration::seconds(i64::from(seconds));
                    self.s.next = NextWave::At { at };
                    if at > now {
                        effect = Some(ReportEffect::AdvanceAt { at });
                        break;
                    }
                }
                (Advance::Manual, NextWave::ReadyToAdvance) => break,
                (Advance::Manual, _) => {
                    self.s.next = NextWave::ReadyToAdvance;
                    effect = Some(ReportEffect::ReadyToAdvance);
                    break;
                }
            }
            self.open(next, now);
            effect = Some(ReportEffect::WaveOpened { wave: next });
        }
        if self.s.current + 1 == self.s.waves.len() && self.is_complete() {
            self.s.state = RolloutState::Completed;
            self.s.next = NextWave::NotYet;
            self.log(now, None, "completed".to_owned());
            return Some(ReportEffect::Completed);
        }
        effect
    }

    fn current_plan(&self) -> (String, Permille) {
        self.s
            .waves
            .get(self.s.current)
            .map_or((String::new(), Permille::ALL), |w| {
                (w.plan.name.clone(), w.plan.success)
            })
    }

    fn current_counts(&self) -> StatusCounts {
        self.counts.get(self.s.current).copied().unwrap_or_default()
    }

    fn must_be_active(&self, action: &'static str) -> Result<(), RolloutError> {
        if self.s.state == RolloutState::Active {
            Ok(())
        } else {
            Err(self.not_allowed(action))
        }
    }

    fn not_allowed(&self, action: &'static str) -> RolloutError {
        RolloutError::NotAllowed {
            from: self.s.state.as_str(),
            action,
        }
    }

    fn log(&mut self, at: OffsetDateTime, by: Option<&Person>, what: String) {
        self.s.events.push(RolloutEvent {
            at,
            by: by.cloned(),
            what,
        });
    }
}

/// A device a person may defer (or exclude): not downloading or installing, no outcome
/// (a failed one may be set aside instead of retried; a deferred one may be excluded).
fn deferrable(kind: StatusKind, exclude: bool) -> bool {
    match kind {
        StatusKind::Pending
        | StatusKind::Offered
        | StatusKind::WaitingForWindow
        | StatusKind::WaitingForIdle
        | StatusKind::Failed => true,
        StatusKind::Deferred => exclude,
        StatusKind::Downloading
        | StatusKind::Installing
        | StatusKind::Installed
        | StatusKind::RolledBack
        | StatusKind::Excluded => false,
    }
}

fn non_empty(reason: &str) -> Result<(), RolloutError> {
    if reason.trim().is_empty() {
        Err(RolloutError::Empty { field: "reason" })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
