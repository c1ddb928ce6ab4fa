//! `medguard agent run`: the daemon. Each task runs on its own interval ([`Schedule`]), the
//! queue is sent after each round and the agent checks in with the server; an unreachable
//! server makes the queue grow and the sends back off with jitter ([`Backoff`]); the
//! shutdown future ends the loop between rounds, after which the audit log is closed with a
//! signed checkpoint.
//!
//! Tasks run on the calling thread, one after the other: a verification or scan in progress
//! finishes before a shutdown is seen (the scan itself runs at idle priority and pauses while
//! the clinical-state provider says the device is in use).
//!
//! Under systemd ([`DaemonOptions::notify`]) the daemon reports readiness once the agent is
//! open, feeds the watchdog from the loop and says when it stops ([`crate::systemd`]).

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::time::Duration;

use medguard_host::Clock;
use medguard_profile::Progress;
use medguard_proto::{CheckinResponse, Command, CommandKind};
use time::OffsetDateTime;

use crate::AgentError;
use crate::config::AgentConfig;
use crate::run::{Agent, ScanPolicy, TaskResult};
use crate::send::SendSummary;
use crate::state::StateDir;
use crate::systemd::{Cover, ServiceManager, ServiceNotify};
use crate::transport::Timeouts;

/// How often the allowlist's denials and the agent's own audit records are uploaded: the
/// "continuous" tasks, polled.
pub const CONTINUOUS_INTERVAL: Duration = Duration::from_secs(60);
/// The longest the daemon sleeps before looking at the clock again (a wall clock that jumps
/// must not delay a task by more than this).
const MAX_NAP: Duration = Duration::from_secs(30);

/// A scheduled task of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    /// Profile verification (`[profile] interval`, and at start).
    Verify,
    /// Inventory and listening services (`[inventory] interval`, and at start).
    Inventory,
    /// Listening services alone (`[services] interval`).
    Services,
    /// Malware scan (`[scan] interval`, only while the maintenance window is open).
    Scan,
    /// Allowlist state and the enforcer's denials ([`CONTINUOUS_INTERVAL`]).
    Allowlist,
    /// The agent's health (half of `[report] within`, so the server never sees it stale
    /// while it runs).
    Health,
    /// Upload of the agent's own audit log ([`CONTINUOUS_INTERVAL`], and after each round).
    Audit,
}

/// When each task is next due. Pure: the caller passes the instant.
#[derive(Debug, Clone)]
pub struct Schedule {
    next: BTreeMap<Job, OffsetDateTime>,
    intervals: BTreeMap<Job, Duration>,
    window: Option<medguard_clinical::MaintenanceWindow>,
}

impl Schedule {
    /// The schedule of `config` at start (`now`): every task is due at once, except the scan,
    /// which is due at `scan_due` (when the last completed scan's interval ends) and only
    /// inside the maintenance window.
    #[must_use]
    pub fn new(
        config: &AgentConfig,
        now: OffsetDateTime,
        scan_due: Option<OffsetDateTime>,
    ) -> Self {
        let mut intervals = BTreeMap::new();
        if let Some(p) = &config.profile {
            intervals.insert(Job::Verify, p.interval);
        }
        intervals.insert(Job::Inventory, config.inventory.interval);
        if config.inventory.evidence {
            intervals.insert(Job::Services, config.services.interval);
        }
        if let Some(s) = &config.scan {
            intervals.insert(Job::Scan, s.interval);
        }
        if config.allowlist.is_some() {
            intervals.insert(Job::Allowlist, CONTINUOUS_INTERVAL);
        }
        intervals.insert(
            Job::Health,
            (config.report.within / 2).max(Duration::from_secs(1)),
        );
        intervals.insert(Job::Audit, CONTINUOUS_INTERVAL);
        let mut next: BTreeMap<Job, OffsetDateTime> = intervals.keys().map(|j| (*j, now)).collect();
        // The inventory collects the services too: the first services round comes one
        // services interval later.
        if let Some(i) = intervals.get(&Job::Services) {
            next.insert(Job::Services, now + *i);
        }
        if let Some(due) = scan_due {
            next.insert(Job::Scan, due.max(now));
        }
        let mut schedule = Self {
            next,
            intervals,
            window: config.clinical.window.clone(),
        };
        schedule.defer_scan_to_window(now);
        schedule
    }

    fn defer_scan_to_window(&mut self, now: OffsetDateTime) {
        if let (Some(w), Some(due)) = (&self.window, self.next.get(&Job::Scan).copied()) {
            let at = due.max(now);
            if !w.contains(at) {
                match w.next_opening(at) {
                    Some(open) => self.next.insert(Job::Scan, open),
                    None => self.next.remove(&Job::Scan),
                };
            }
        }
    }

    /// The tasks due at `now`, in running order (the audit upload last, so it carries what
    /// the round recorded).
    #[must_use]
    pub fn due(&self, now: OffsetDateTime) -> Vec<Job> {
        self.next
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(j, _)| *j)
            .collect()
    }

    /// Records that `job` ran at `now`: it is next due one interval later (the scan: at the
    /// window's next opening after that).
    pub fn ran(&mut self, job: Job, now: OffsetDateTime) {
        if let Some(i) = self.intervals.get(&job) {
            self.next.insert(job, now + *i);
        }
        if job == Job::Inventory
            && let Some(i) = self.intervals.get(&Job::Services)
        {
            // The inventory collected the services as well.
            self.next.insert(Job::Services, now + *i);
        }
        if job == Job::Scan {
            self.defer_scan_to_window(now);
        }
    }

    /// Makes `job` due at `now` (a command from the server). A task that is not configured
    /// stays unscheduled; returns whether it was scheduled.
    pub fn request(&mut self, job: Job, now: OffsetDateTime) -> bool {
        if !self.intervals.contains_key(&job) {
            return false;
        }
        self.next.insert(job, now);
        if job == Job::Scan {
            self.defer_scan_to_window(now);
        }
        true
    }

    /// When the next task is due (`None`: nothing is scheduled).
    #[must_use]
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.next.values().min().copied()
    }
}

/// Exponential backoff of sends to an unreachable server, with jitter so that a fleet that
/// lost its server together does not come back in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    retry_at: Option<OffsetDateTime>,
    seed: RandomState,
}

impl Backoff {
    /// A backoff from `min` doubling up to `max`.
    #[must_use]
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            failures: 0,
            retry_at: None,
            seed: RandomState::new(),
        }
    }

    /// A send failed at `now`; returns when to retry: `min × 2^(failures-1)`, capped at
    /// `max`, plus up to half of it again at random.
    pub fn failed(&mut self, now: OffsetDateTime) -> OffsetDateTime {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(20);
        let base = self.min.saturating_mul(1u32 << exp).min(self.max);
        let half = base.as_millis() / 2;
        let jitter = if half == 0 {
            0
        } else {
            u128::from(
                self.seed
                    .hash_one((self.failures, now.unix_timestamp_nanos())),
            ) % half
        };
        let wait = base + Duration::from_millis(u64::try_from(jitter).unwrap_or(0));
        let at = now + wait;
        self.retry_at = Some(at);
        at
    }

    /// A send succeeded: the next failure starts from `min` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// Failures in a row.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a send may be tried at `now`.
    #[must_use]
    pub fn may_send(&self, now: OffsetDateTime) -> bool {
        self.retry_at.is_none_or(|at| at <= now)
    }

    /// When the next retry is due, if the last send failed.
    #[must_use]
    pub fn retry_at(&self) -> Option<OffsetDateTime> {
        self.retry_at
    }
}

/// Options of [`run_daemon`].
#[derive(Debug, Clone, Copy)]
pub struct DaemonOptions {
    /// How long to wait on the server.
    pub timeouts: Timeouts,
    /// The first wait after a failed send.
    pub backoff_min: Duration,
    /// The longest wait between sends to an unreachable server.
    pub backoff_max: Duration,
    /// Whether to notify systemd (readiness, watchdog, stopping).
    pub notify: ServiceNotify,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            backoff_min: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            notify: ServiceNotify::Off,
        }
    }
}

/// What one round of the daemon did (for the binary to print).
#[derive(Debug, serde::Serialize)]
pub struct Round {
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The tasks that ran.
    pub tasks: Vec<TaskResult>,
    /// Sending, if it was tried (`None`: waiting out the backoff).
    #[serde(skip)]
    pub send: Option<SendSummary>,
    /// Reports still queued after the round.
    pub queued: u64,
    /// The server's answer to the check-in, if it answered.
    #[serde(skip)]
    pub checkin: Option<CheckinResponse>,
    /// Problems that did not stop the daemon (a failed send or check-in, a command it
    /// cannot carry out, a failed renewal, a queue over its bound).
    pub problems: Vec<String>,
    /// When the next send is tried after a failure.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
}

/// How the daemon ended.
#[derive(Debug, serde::Serialize)]
pub struct DaemonSummary {
    /// Rounds run.
    pub rounds: u64,
    /// Reports still queued at the end.
    pub queued: u64,
}

/// `medguard agent run`: runs the enrolled agent in `state` until `shutdown` completes.
/// `observe` is called after each round.
///
/// # Errors
/// [`AgentError`] when the agent cannot start (not enrolled, outbox or log unusable) or its
/// outbox or audit log fail; the server being unreachable is not an error (the queue grows).
pub async fn run_daemon(
    state: StateDir,
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
    mut observe: impl FnMut(&Round),
) -> Result<DaemonSummary, AgentError> {
    let mut agent = Agent::open(state, config, clock.clone(), options.timeouts)?;
    let manager = ServiceManager::new(options.notify);
    // Ready once the state is open: the first round's verification may take minutes and
    // must not count against the unit's start timeout.
    let mut startup_problem = manager.ready().err().map(|e| e.to_string());
    let mut schedule = Schedule::new(agent.config(), clock.now(), agent.scan_due()?);
    let mut backoff = Backoff::new(options.backoff_min, options.backoff_max);
    let mut scan_now = false;
    let mut rounds = 0u64;
    tokio::pin!(shutdown);
    loop {
        // Polled before every round: the first poll installs a signal handler, so a stop
        // asked for during a long round ends the loop after it instead of killing it.
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = std::future::ready(()) => {}
        }
        manager.keep_alive();
        let now = clock.now();
        let due = schedule.due(now);
        let send_due = backoff.retry_at().is_some_and(|at| at <= now);
        if !due.is_empty() || send_due || rounds == 0 {
            let mut round = round(
                &mut agent,
                &mut schedule,
                &mut backoff,
                &due,
                &mut scan_now,
                clock.as_ref(),
                &manager,
            )
            .await?;
            rounds += 1;
            round.problems.extend(startup_problem.take());
            let mut status = format!("round {rounds}: {} report(s) queued", round.queued);
            if let Some(p) = round.problems.last() {
                status.push_str("; ");
                status.push_str(p);
            }
            // The status line is a convenience: its failure is not the round's problem.
            let _ = manager.status(&status);
            observe(&round);
        }
        let now = clock.now();
        let wake = [schedule.next_due(), backoff.retry_at()]
            .into_iter()
            .flatten()
            .min();
        let longest = manager.ping_every().map_or(MAX_NAP, |p| p.min(MAX_NAP));
        let nap = wake.map_or(longest, |at| {
            Duration::try_from(at - now)
                .unwrap_or(Duration::ZERO)
                .min(longest)
        });
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(nap) => {}
        }
    }
    // Said before the closing checkpoint, which may take a moment: systemd then knows the
    // stop was seen.
    let _ = manager.stopping();
    // A gap still open is recorded if the log can take it now: the next start uploads it.
    let _ = agent.record_gap();
    let queued = agent.outbox().stats()?.reports;
    agent.close()?;
    Ok(DaemonSummary { rounds, queued })
}

async fn round(
    agent: &mut Agent,
    schedule: &mut Schedule,
    backoff: &mut Backoff,
    due: &[Job],
    scan_now: &mut bool,
    clock: &dyn Clock,
    manager: &ServiceManager,
) -> Result<Round, AgentError> {
    let at = clock.now();
    let mut problems = Vec::new();
    // What earlier rounds could not write (a full disk) goes on record first, as soon as the
    // log can take it; this round's audit upload carries it to the server.
    if let Some(Ok(text)) = agent.record_gap() {
        // The audit log took a record again; that is not proof the disk has room for the
        // rest (a small append can fit where the outbox cannot), so a later failure opens a
        // new gap, recorded in turn.
        problems.push(format!(
            "writes succeed again; the gap is recorded in the audit log: {text}"
        ));
    }
    if let Err(e) = agent.renew_if_due().await {
        problems.push(format!("certificate renewal: {e}"));
    }
    let mut tasks = Vec::new();
    for job in due {
        match job {
            Job::Verify => {
                let progress = Arc::new(Progress::default());
                let _fed = manager.cover(Cover::WhileAdvancing(progress.clone()));
                tasks.push(agent.verify(&progress));
            }
            Job::Inventory => tasks.extend(agent.inventory()),
            Job::Services => tasks.push(agent.services()),
            Job::Scan => {
                let policy = if std::mem::take(scan_now) {
                    ScanPolicy::Now
                } else {
                    ScanPolicy::WhenDue
                };
                let _fed = manager.cover(Cover::Always);
                tasks.extend(agent.scan(policy, &Arc::new(Progress::default())));
            }
            Job::Allowlist => tasks.push(agent.allowlist()),
            Job::Health => tasks.push(agent.health()),
            Job::Audit => {}
        }
        schedule.ran(*job, clock.now());
        manager.keep_alive();
    }
    tasks.extend(agent.local_install());
    // Every round ends with the audit upload, so the server gets what the round recorded.
    if !due.is_empty() {
        tasks.push(agent.audit_upload());
        schedule.ran(Job::Audit, clock.now());
    }
    match agent.compact() {
        Ok(0) => {}
        Ok(n) => problems.push(format!(
            "the queue was over its bound: {n} superseded report(s) dropped"
        )),
        Err(e) => problems.push(e.to_string()),
    }
    let mut send = None;
    let mut checkin = None;
    if backoff.may_send(clock.now()) {
        let (s, failed) = match agent.send().await {
            Ok(s) => {
                let failed = s.error.as_ref().map(ToString::to_string);
                (s, failed)
            }
            // The outbox could not be updated (a full disk): what the server acknowledged
            // is sent again later and held once by the server (a duplicate).
            Err(e) => {
                let s = SendSummary {
                    remaining: agent.outbox().stats()?.reports,
                    ..SendSummary::default()
                };
                (s, Some(e.to_string()))
            }
        };
        if let Some(e) = failed {
            problems.push(format!("sending: {e}"));
            backoff.failed(clock.now());
        } else {
            match agent.checkin().await {
                Ok(c) => {
                    backoff.succeeded();
                    problems.extend(apply_commands(schedule, &c.commands, scan_now, clock.now()));
                    let installs: Vec<(&str, &str)> = c
                        .commands
                        .iter()
                        .filter_map(|cmd| match &cmd.kind {
                            CommandKind::Install {
                                rollout, target, ..
                            } => Some((rollout.as_str(), target.as_str())),
                            _ => None,
                        })
                        .collect();
                    if !installs.is_empty() {
                        for (rollout, target) in installs {
                            let _fed = manager.cover(Cover::Always);
                            tasks.push(agent.install(rollout, target).await);
                        }
                        // The outcome goes to the server now, not a round later.
                        if let Err(e) = agent.send().await.map(|s| s.error) {
                            problems.push(format!("sending the install outcome: {e}"));
                        }
                    }
                    checkin = Some(c);
                }
                Err(e) => {
                    problems.push(format!("check-in: {e}"));
                    backoff.failed(clock.now());
                }
            }
        }
        send = Some(s);
    }
    // Said last, so it is the unit's status line while it lasts.
    problems.extend(agent.storage_problem());
    Ok(Round {
        at,
        tasks,
        send,
        queued: agent.outbox().stats()?.reports,
        checkin,
        problems,
        retry_at: backoff.retry_at(),
    })
}

/// Makes the tasks the server's commands ask for due at `now`; returns what could not be
/// done (a task this device does not have, a command this agent does not carry out yet).
fn apply_commands(
    schedule: &mut Schedule,
    commands: &[Command],
    scan_now: &mut bool,
    now: OffsetDateTime,
) -> Vec<String> {
    let mut problems = Vec::new();
    for command in commands {
        let job = match &command.kind {
            CommandKind::VerifyNow => Some(Job::Verify),
            CommandKind::ScanNow => Some(Job::Scan),
            CommandKind::CollectInventory => Some(Job::Inventory),
            CommandKind::CollectServices => Some(Job::Services),
            // Carried out by the round itself, right after the check-in.
            CommandKind::Install { .. } => continue,
            _ => None,
        };
        match job {
            Some(j) if schedule.request(j, now) => {
                if j == Job::Scan {
                    *scan_now = true;
                }
            }
            Some(j) => problems.push(format!(
                "command {}: {j:?} is not configured on this device",
                command.id
            )),
            None => problems.push(format!(
                "command {}: this agent does not carry out {:?} yet",
                command.id, command.kind
            )),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::path::Path;

    use medguard_host::ManualClock;

    use super::*;

    fn config(extra: &str) -> AgentConfig {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[inventory]\nroot = \"/\"\n[report]\nwithin = \"20m\"\n{extra}");
        let c = AgentConfig::from_toml(&text, &dir.path().join("agent.toml")).unwrap();
        drop(dir);
        c
    }

    fn start() -> OffsetDateTime {
        // A Wednesday, 10:00 UTC.
        time::macros::datetime!(2026-12-02 10:00 UTC)
    }

    #[test]
    fn every_task_is_due_at_start_and_then_on_its_own_interval() {
        let c = config("");
        let clock = ManualClock::new(start());
        let mut s = Schedule::new(&c, clock.now(), None);
        assert_eq!(
            s.due(clock.now()),
            [Job::Inventory, Job::Health, Job::Audit]
        );
        for j in s.due(clock.now()) {
            s.ran(j, clock.now());
        }
        assert!(s.due(clock.now()).is_empty());
        clock.advance(Duration::from_secs(60));
        assert_eq!(s.due(clock.now()), [Job::Audit]);
        s.ran(Job::Audit, clock.now());
        clock.advance(Duration::from_secs(8 * 60));
        assert_eq!(
            s.due(clock.now()),
            [Job::Audit],
            "10:09: health not yet due"
        );
        s.ran(Job::Audit, clock.now());
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            s.due(clock.now()),
            [Job::Health, Job::Audit],
            "10:10: health every half of report.within"
        );
        clock.advance(Duration::from_secs(24 * 3600));
        assert!(s.due(clock.now()).contains(&Job::Inventory));
    }

    #[test]
    fn services_run_hourly_between_daily_inventories() {
        let c = config("[services]\ninterval = \"1h\"\n");
        let clock = ManualClock::new(start());
        let mut s = Schedule::new(&c, clock.now(), None);
        assert!(
            !s.due(clock.now()).contains(&Job::Services),
            "the inventory collects them"
        );
        s.ran(Job::Inventory, clock.now());
        clock.advance(Duration::from_secs(3600));
        assert!(s.due(clock.now()).contains(&Job::Services));
        assert!(!s.due(clock.now()).contains(&Job::Inventory));
        s.ran(Job::Services, clock.now());
        clock.advance(Duration::from_secs(1800));
        assert!(!s.due(clock.now()).contains(&Job::Services));
    }

    #[test]
    fn the_scan_waits_for_the_maintenance_window() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[inventory]\nroot = \"/\"\n[clinical]\nwindow = \"22:00-06:00\"\n\
             [scan]\nroot = {:?}\nhashes = [{:?}]\ninterval = \"24h\"\n",
            dir.path(),
            dir.path().join("hashes.txt")
        );
        std::fs::write(dir.path().join("hashes.txt"), "").unwrap();
        let c = AgentConfig::from_toml(&text, Path::new("/nonexistent/agent.toml")).unwrap();
        let clock = ManualClock::new(start());
        let mut s = Schedule::new(&c, clock.now(), None);
        assert!(
            !s.due(clock.now()).contains(&Job::Scan),
            "10:00 is outside 22:00-06:00"
        );
        clock.advance(Duration::from_secs(12 * 3600));
        assert!(
            s.due(clock.now()).contains(&Job::Scan),
            "22:00 opens the window"
        );
        s.ran(Job::Scan, clock.now());
        // 24 hours later it is 22:00 again: inside.
        clock.advance(Duration::from_secs(23 * 3600));
        assert!(!s.due(clock.now()).contains(&Job::Scan));
        clock.advance(Duration::from_secs(3600));
        assert!(s.due(clock.now()).contains(&Job::Scan));
        // A scan-now command outside the window waits for it too.
        s.ran(Job::Scan, clock.now());
        clock.set(start() + Duration::from_secs(2 * 86400));
        assert!(s.request(Job::Scan, clock.now()));
        assert!(!s.due(clock.now()).contains(&Job::Scan));
        clock.advance(Duration::from_secs(12 * 3600));
        assert!(s.due(clock.now()).contains(&Job::Scan));
    }

    #[test]
    fn a_command_for_a_task_that_is_not_configured_is_refused() {
        let c = config("");
        let mut s = Schedule::new(&c, start(), None);
        assert!(!s.request(Job::Verify, start()));
        assert!(!s.request(Job::Scan, start()));
        assert!(s.request(Job::Inventory, start() + Duration::from_secs(5)));
    }

    #[test]
    fn commands_make_their_tasks_due_and_the_rest_are_reported() {
        let c = config("[services]\ninterval = \"1h\"\n");
        let mut s = Schedule::new(&c, start(), None);
        for j in s.due(start()) {
            s.ran(j, start());
        }
        let later = start() + Duration::from_secs(5);
        assert!(s.due(later).is_empty());
        let command = |id: &str, kind| Command {
            id: id.into(),
            kind,
        };
        let mut scan_now = false;
        let problems = apply_commands(
            &mut s,
            &[
                command("c1", CommandKind::CollectInventory),
                command("c2", CommandKind::CollectServices),
                command("c3", CommandKind::VerifyNow),
                command("c4", CommandKind::ScanNow),
                command(
                    "c5",
                    CommandKind::Install {
                        rollout: "r1".into(),
                        target: "t".into(),
                        version: "1".into(),
                    },
                ),
            ],
            &mut scan_now,
            later,
        );
        assert_eq!(s.due(later), [Job::Inventory, Job::Services]);
        assert!(!scan_now, "no scan is configured");
        // The install is carried out by the round itself, not scheduled.
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("command c3: Verify is not configured"));
        assert!(problems[1].starts_with("command c4: Scan is not configured"));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_bound_and_resets() {
        let clock = ManualClock::new(start());
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        assert!(b.may_send(clock.now()));
        let mut waits = Vec::new();
        for _ in 0..6 {
            let at = b.failed(clock.now());
            let wait = Duration::try_from(at - clock.now()).unwrap();
            waits.push(wait);
            assert!(!b.may_send(clock.now()));
            clock.set(at);
            assert!(b.may_send(clock.now()));
        }
        let bases = [5, 10, 20, 40, 60, 60];
        for (w, base) in waits.iter().zip(bases) {
            let base = Duration::from_secs(base);
            assert!(*w >= base && *w < base + base / 2, "{waits:?}");
        }
        b.succeeded();
        assert_eq!(b.failures(), 0);
        let at = b.failed(clock.now());
        assert!(Duration::try_from(at - clock.now()).unwrap() < Duration::from_millis(7500));
    }
}
