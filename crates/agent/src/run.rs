//! The agent: tasks that queue reports, renewal, sending; and `agent report`, which runs
//! each task once and sends.

use std::sync::Arc;
use std::time::Duration;

use medguard_audit::{EventKind, Outcome};
use medguard_clinical::ClinicalState;
use medguard_host::Clock;
use medguard_profile::Progress;
use medguard_proto::{
    AgentHealth, CheckinRequest, CheckinResponse, ClinicalReading, ClinicalStateReading,
    IssuedCertificate, QueueHealth, RenewRequest, ReportBody, TaskHealth, VerificationOutcome,
    limits, paths,
};
use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

use crate::config::AgentConfig;
use crate::enroll::check_certificate;
use crate::events::AgentLog;
use crate::gap::Gap;
use crate::outbox::{Cursor, CursorMove, Outbox, RefusedReport};
use crate::send::{SendSummary, send_queued};
use crate::state::{CertificateRecord, Enrollment, StateDir};
use crate::tasks;
use crate::text::wire_text;
use crate::transport::{ServerLink, Timeouts};
use crate::{AGENT_VERSION, AgentError};

/// The cursor of the agent's own audit log in the outbox.
const AGENT_LOG_CURSOR: &str = "audit:agent";
/// The cursor of the allowlist enforcer's audit log in the outbox.
const ALLOWLIST_CURSOR: &str = "allowlist";
/// How long the clinical-state provider may take for the health report.
const CLINICAL_TIMEOUT: Duration = Duration::from_secs(5);

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    /// It ran and found nothing to worry about; its report is queued.
    Clean,
    /// It ran and found something (a deviation, malware, a denial, a verification that
    /// could not run); its report is queued.
    Found,
    /// It was not due.
    NotDue,
    /// It failed; nothing was queued (the health report carries the error).
    Failed,
}

/// One task's result.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    /// The task (`verify`, `inventory`, `services`, `scan`, `allowlist`, `audit`, `health`).
    pub task: &'static str,
    /// How it ended.
    pub status: TaskStatus,
    /// What it did, in one line.
    pub summary: String,
    /// The sequence numbers of the reports it queued.
    pub queued: Vec<u64>,
}

/// Whether `agent report` runs the scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScanPolicy {
    /// When `[scan] interval` has passed since the last completed scan (the default).
    #[default]
    WhenDue,
    /// Now, whatever the interval.
    Now,
    /// Not in this run.
    Skip,
}

/// Options of [`report_once`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportOptions {
    /// Whether to scan.
    pub scan: ScanPolicy,
    /// How long to wait on the server.
    pub timeouts: Timeouts,
}

/// What `agent report` did.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// The device.
    pub device_id: String,
    /// The server.
    pub server: String,
    /// The certificate renewed in this run, if it was due.
    pub renewed: Option<CertificateRecord>,
    /// Each task.
    pub tasks: Vec<TaskResult>,
    /// Sending.
    #[serde(serialize_with = "ser_send")]
    pub send: SendSummary,
    /// Every report kept aside because the server refused it (this run's and earlier ones).
    #[serde(serialize_with = "ser_refused")]
    pub refused: Vec<RefusedReport>,
    /// Problems that did not stop the run (a renewal that failed, ...).
    pub errors: Vec<String>,
}

impl RunSummary {
    /// Whether something was found: a deviation, a verification that could not run,
    /// malware, a denial, or a report the server refused in this run.
    #[must_use]
    pub fn found(&self) -> bool {
        self.tasks.iter().any(|t| t.status == TaskStatus::Found) || !self.send.refused.is_empty()
    }

    /// Whether something failed: a task, sending (reports remain queued), a renewal.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.tasks.iter().any(|t| t.status == TaskStatus::Failed)
            || self.send.error.is_some()
            || self.send.remaining > 0
            || !self.errors.is_empty()
    }
}

fn ser_send<S: serde::Serializer>(s: &SendSummary, ser: S) -> Result<S::Ok, S::Error> {
    serde_json::json!({
        "requests": s.requests,
        "stored": s.stored,
        "duplicates": s.duplicates,
        "refused": s.refused.iter().map(|r| r.seq).collect::<Vec<_>>(),
        "remaining": s.remaining,
        "last_stored_seq": s.last_stored_seq,
        "error": s.error.as_ref().map(ToString::to_string),
    })
    .serialize(ser)
}

fn ser_refused<S: serde::Serializer>(r: &[RefusedReport], ser: S) -> Result<S::Ok, S::Error> {
    r.iter()
        .map(|r| {
            serde_json::json!({
                "seq": r.seq,
                "kind": r.kind,
                "created": r.created.unix_timestamp(),
                "refused_at": r.refused_at.unix_timestamp(),
                "problem": r.problem,
            })
        })
        .collect::<Vec<_>>()
        .serialize(ser)
}

/// An enrolled device's agent: its configuration, state, outbox and audit log.
#[derive(Debug)]
pub struct Agent {
    state: StateDir,
    config: AgentConfig,
    enrollment: Enrollment,
    outbox: Outbox,
    log: AgentLog,
    clock: Arc<dyn Clock>,
    started: OffsetDateTime,
    timeouts: Timeouts,
    /// The last deferral queued (rollout, outcome, what it waited for).
    last_deferral: std::sync::Mutex<Option<String>>,
    /// What could not be written while the state directory could not be (a full disk).
    gap: Gap,
}

impl Agent {
    /// Opens the agent of the enrolled device in `state`.
    ///
    /// # Errors
    /// [`AgentError::NotEnrolled`], and when the outbox or audit log cannot be opened.
    pub fn open(
        state: StateDir,
        config: AgentConfig,
        clock: Arc<dyn Clock>,
        timeouts: Timeouts,
    ) -> Result<Self, AgentError> {
        let enrollment = state.enrollment()?;
        let outbox = Outbox::open(&state.outbox_path())?;
        let log_dir = config
            .audit
            .log
            .clone()
            .unwrap_or_else(|| state.audit_dir());
        let log = AgentLog::open(&state, &log_dir, &enrollment.device_id, clock.clone())?;
        Ok(Self {
            started: clock.now(),
            state,
            config,
            enrollment,
            outbox,
            log,
            clock,
            timeouts,
            last_deferral: std::sync::Mutex::new(None),
            gap: Gap::default(),
        })
    }

    /// The enrollment in force.
    #[must_use]
    pub fn enrollment(&self) -> &Enrollment {
        &self.enrollment
    }

    /// The outbox.
    #[must_use]
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    fn server(&self) -> Result<Url, AgentError> {
        match &self.config.server {
            Some(s) => Ok(s.url.clone()),
            None => Url::parse(&self.enrollment.server).map_err(|e| AgentError::StateCorrupt {
                path: self.state.enrollment_path(),
                reason: format!("server URL: {e}"),
            }),
        }
    }

    fn link(&self) -> Result<ServerLink, AgentError> {
        let ca = self.config.server.as_ref().and_then(|s| s.ca.as_deref());
        let id = self.state.identity(ca)?;
        Ok(ServerLink::device(
            &self.server()?,
            &id.ca_pem,
            &id.certificate_pem,
            &id.key_pem,
            self.timeouts,
        )?)
    }

    fn finish(
        &self,
        task: &'static str,
        interval: Duration,
        result: Result<(TaskStatus, String, Vec<u64>), AgentError>,
    ) -> TaskResult {
        let now = self.clock.now();
        let (status, summary, queued) = match result {
            Ok(r) => r,
            Err(e) => {
                if could_not_write(&e) {
                    // An audit upload that failed loses nothing: its records stay in the log
                    // behind the cursor and go with the next upload.
                    let lost = (task != "audit").then(|| format!("the {task} task's report"));
                    self.gap.note(now, &e, lost);
                }
                (TaskStatus::Failed, e.to_string(), Vec::new())
            }
        };
        let error = (status == TaskStatus::Failed).then_some(summary.as_str());
        let recorded = self
            .outbox
            .record_task(task, now, error, interval.as_secs());
        let summary = match recorded {
            Ok(()) => summary,
            Err(e) => {
                let e = AgentError::from(e);
                self.gap.note(now, &e, None);
                format!("{summary} (its health could not be recorded: {e})")
            }
        };
        TaskResult {
            task,
            status,
            summary,
            queued,
        }
    }

    /// Appends an event to the agent's audit log. When it cannot be written (a full disk),
    /// the gap remembers it and the caller goes on: its report is still queued if the outbox
    /// can take it, and the gap is recorded once writes succeed again.
    fn record_event(&self, kind: EventKind, outcome: Outcome, detail: String, objects: &[String]) {
        let named = format!("{} event: {}", kind.as_str(), wire_text(&detail, 300));
        if let Err(e) = self.log.record(kind, outcome, detail, objects) {
            self.gap.note(self.clock.now(), &e, Some(named));
        }
    }

    /// Records the open gap, if any: what could not be written while the state directory
    /// could not be (a full disk), as an `audit-log-recovery` event in the agent's audit log,
    /// which the next audit upload carries to the server. Returns the record's text, or the
    /// error when it still cannot be written (the gap stays open); `None` without a gap.
    pub fn record_gap(&self) -> Option<Result<String, AgentError>> {
        let open = self.gap.open()?;
        let text = open.record_text(self.state.dir(), self.clock.now());
        Some(
            match self.log.record(
                EventKind::AuditLogRecovery,
                Outcome::SeriousFailure,
                text.clone(),
                &[],
            ) {
                Ok(_) => {
                    self.gap.recorded(&open);
                    Ok(text)
                }
                Err(e) => {
                    self.gap.note(self.clock.now(), &e, None);
                    Err(e)
                }
            },
        )
    }

    /// While writes to the state directory fail (a full disk): since when, why, and how many
    /// events or reports could not be recorded so far.
    #[must_use]
    pub fn storage_problem(&self) -> Option<String> {
        self.gap.problem(self.state.dir())
    }

    fn enqueue(&self, body: ReportBody) -> Result<u64, AgentError> {
        Ok(self.outbox.enqueue(self.clock.now(), None, body)?)
    }

    /// Verifies the tree against the profile and queues the verification. Deviations and a
    /// verification that could not run are recorded in the agent's audit log.
    pub fn verify(&self, progress: &Progress) -> TaskResult {
        let interval = self
            .config
            .profile
            .as_ref()
            .map_or(Duration::ZERO, |p| p.interval);
        // After an install, the bundle's new profile is the device's baseline: the installer
        // keeps it in its state directory, signed by the vendor (checked again here).
        let installed = self.config.update.as_ref().and_then(|u| {
            let dir = u
                .state_dir
                .clone()
                .unwrap_or_else(|| self.state.dir().join("update"));
            medguard_update::read_status(&dir).ok()?.profile
        });
        let config = self.config.profile.as_ref().map(|p| {
            let mut p = p.clone();
            if let Some(profile) = &installed {
                p.profile.clone_from(profile);
            }
            p
        });
        let result = (|| {
            let run = tasks::verify::verify(config.as_ref(), progress);
            let (status, line) = match &run.report.outcome {
                VerificationOutcome::NotRun { reason } => {
                    self.record_event(
                        EventKind::IntegrityDeviation,
                        Outcome::MajorFailure,
                        format!(
                            "the verification of {} could not run: {reason}",
                            run.report.root
                        ),
                        &[],
                    );
                    (TaskStatus::Found, format!("NOT RUN: {reason}"))
                }
                VerificationOutcome::Completed { summary: s, .. } => {
                    let line = format!(
                        "{} added, {} removed, {} changed, {} unverifiable of {} entries",
                        s.added, s.removed, s.changed, s.unverifiable, s.expected_entries
                    );
                    if run.is_intact() {
                        (TaskStatus::Clean, format!("intact: {line}"))
                    } else {
                        self.record_event(
                            EventKind::IntegrityDeviation,
                            Outcome::SeriousFailure,
                            format!("{} deviates from its profile: {line}", run.report.root),
                            &run.deviating_paths,
                        );
                        (TaskStatus::Found, format!("DEVIATIONS: {line}"))
                    }
                }
            };
            let seq = self.enqueue(ReportBody::Verification(run.report))?;
            Ok((status, line, vec![seq]))
        })();
        self.finish("verify", interval, result)
    }

    /// Collects the inventory and the listening services (one collection) and queues both
    /// reports.
    pub fn inventory(&self) -> [TaskResult; 2] {
        let collected = tasks::inventory::collect(
            &self.config.inventory,
            self.config.device.model.clone(),
            self.clock.now(),
        )
        .map_err(|e| AgentError::Task {
            task: "inventory",
            reason: e.to_string(),
        });
        match collected {
            Ok(c) => {
                let warnings = if c.warnings.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} warning(s), first: {})",
                        c.warnings.len(),
                        c.warnings.first().map_or("", String::as_str)
                    )
                };
                let listeners = c.services.listeners.len();
                let inv = self.enqueue(ReportBody::Inventory(c.inventory)).map(|seq| {
                    (
                        TaskStatus::Clean,
                        format!("{} components{warnings}", c.components),
                        vec![seq],
                    )
                });
                let svc = if self.config.inventory.evidence {
                    self.enqueue(ReportBody::Services(c.services)).map(|seq| {
                        (
                            TaskStatus::Clean,
                            format!("{listeners} listening socket(s)"),
                            vec![seq],
                        )
                    })
                } else {
                    Err(AgentError::Task {
                        task: "services",
                        reason: "inventory.evidence = false: listening services are not looked for"
                            .into(),
                    })
                };
                [
                    self.finish("inventory", self.config.inventory.interval, inv),
                    self.finish("services", self.config.services.interval, svc),
                ]
            }
            Err(e) => {
                let text = e.to_string();
                [
                    self.finish("inventory", self.config.inventory.interval, Err(e)),
                    self.finish(
                        "services",
                        self.config.services.interval,
                        Err(AgentError::Task {
                            task: "services",
                            reason: text,
                        }),
                    ),
                ]
            }
        }
    }

    /// Collects the listening services alone and queues their report (the daemon's hourly
    /// task between daily inventories; the collection is the inventory's, its inventory is
    /// not queued).
    pub fn services(&self) -> TaskResult {
        let result = if self.config.inventory.evidence {
            tasks::inventory::collect(
                &self.config.inventory,
                self.config.device.model.clone(),
                self.clock.now(),
            )
            .map_err(|e| AgentError::Task {
                task: "services",
                reason: e.to_string(),
            })
            .and_then(|c| {
                let listeners = c.services.listeners.len();
                let seq = self.enqueue(ReportBody::Services(c.services))?;
                Ok((
                    TaskStatus::Clean,
                    format!("{listeners} listening socket(s)"),
                    vec![seq],
                ))
            })
        } else {
            Err(AgentError::Task {
                task: "services",
                reason: "inventory.evidence = false: listening services are not looked for".into(),
            })
        };
        self.finish("services", self.config.services.interval, result)
    }

    /// Checks in with the server: says how far the queue is, and gets the server's commands
    /// and the last sequence number it stored.
    ///
    /// # Errors
    /// [`AgentError::Send`] when the server cannot be reached or answers badly,
    /// [`AgentError::Outbox`].
    pub async fn checkin(&self) -> Result<CheckinResponse, AgentError> {
        let stats = self.outbox.stats()?;
        let body = serde_json::to_vec(&CheckinRequest {
            agent_version: AGENT_VERSION.to_owned(),
            last_queued_seq: stats.last_seq,
            queued_reports: stats.reports,
        })
        .map_err(|e| AgentError::Task {
            task: "checkin",
            reason: e.to_string(),
        })?;
        Ok(self
            .link()?
            .post_json(paths::CHECKIN, body, limits::MAX_ENROLL_BYTES)
            .await?)
    }

    /// Installs the patch of rollout `rollout` (TUF target `target`) as the server's command
    /// asks, and queues the outcome: installed, deferred (and what it waits for), rolled
    /// back, refused or failed. A deferral of the same rollout for the same reason as the last
    /// one is not queued again (the server already shows it).
    ///
    /// # Errors
    /// None: every ending is a report or a failed task.
    pub async fn install(&self, rollout: &str, target: &str) -> TaskResult {
        let result = self.install_inner(rollout, target).await;
        self.finish("install", Duration::ZERO, result)
    }

    async fn install_inner(
        &self,
        rollout: &str,
        target: &str,
    ) -> Result<(TaskStatus, String, Vec<u64>), AgentError> {
        let Some(update) = &self.config.update else {
            return Err(AgentError::Task {
                task: "install",
                reason: format!(
                    "rollout {rollout} asks to install {target}, but {} has no [update] section",
                    self.config.source.display()
                ),
            });
        };
        let tuf_dir = self.state.dir().join("tuf");
        let anchor = match &update.tuf_root {
            Some(p) => p.clone(),
            None => {
                let saved = tuf_dir.join("root.json");
                if !saved.exists() {
                    std::fs::create_dir_all(&tuf_dir).map_err(AgentError::io(&tuf_dir))?;
                    // Trust on first use, over the enrolled connection that pins the fleet CA.
                    let bytes = self
                        .link()?
                        .get_bytes("/tuf/metadata/1.root.json", 1 << 20)
                        .await?;
                    self.state.write(&saved, 0o644, &bytes)?;
                }
                saved
            }
        };
        let ca = self.config.server.as_ref().and_then(|s| s.ca.as_deref());
        let id = self.state.identity(ca)?;
        let tls = medguard_pki::tls::device_client_config(
            &id.ca_pem,
            Some((&id.certificate_pem, &id.key_pem)),
        )
        .map_err(|e| AgentError::Task {
            task: "install",
            reason: e.to_string(),
        })?;
        let state_dir = update
            .state_dir
            .clone()
            .unwrap_or_else(|| self.state.dir().join("update"));
        std::fs::create_dir_all(&state_dir).map_err(AgentError::io(&state_dir))?;
        let repository = format!("{}/tuf/", self.server()?.as_str().trim_end_matches('/'));
        let inputs = tasks::install::InstallInputs {
            update,
            clinical: &self.config.clinical,
            model: self.config.device.model.as_deref(),
            state_dir: &state_dir,
            tuf_dir: &tuf_dir,
            anchor: &anchor,
            repository: &repository,
            tls,
            rollout,
            target,
            audit: Some(self.log.writer()),
            clock: self.clock.as_ref(),
        };
        // The TUF client and the installer block (TUF runs its own runtime): a thread of
        // their own, joined here; tasks run one after the other anyway.
        let report = std::thread::scope(|s| s.spawn(|| tasks::install::install(&inputs)).join())
            .map_err(|_| AgentError::Task {
                task: "install",
                reason: "the install thread panicked".into(),
            })?;
        let summary = format!(
            "rollout {rollout}: {} {}{}",
            target,
            serde_json::to_value(report.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            report
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        let key = format!("{rollout}\n{:?}\n{:?}", report.outcome, report.waiting_for);
        if report.outcome == medguard_proto::InstallOutcome::Deferred {
            let mut last = self
                .last_deferral
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.as_deref() == Some(key.as_str()) {
                return Ok((TaskStatus::Clean, summary, Vec::new()));
            }
            *last = Some(key);
        }
        let status = match report.outcome {
            medguard_proto::InstallOutcome::Installed
            | medguard_proto::InstallOutcome::AlreadyInstalled
            | medguard_proto::InstallOutcome::Deferred => TaskStatus::Clean,
            _ => TaskStatus::Found,
        };
        let seq = self.enqueue(ReportBody::Install(report))?;
        if let Ok(Some(last)) = medguard_update::read_status(&state_dir).map(|s| s.last) {
            self.state.write(
                &self.state.dir().join("install-reported"),
                0o644,
                last.time.as_bytes(),
            )?;
        }
        Ok((status, summary, vec![seq]))
    }

    /// Reports an install a person ran on the device (`medguard update apply`) once: the
    /// installer's last status record, when it is newer than the last one reported. `None`
    /// when there is nothing new (or no `[update]` section).
    pub fn local_install(&self) -> Option<TaskResult> {
        let update = self.config.update.as_ref()?;
        let dir = update
            .state_dir
            .clone()
            .unwrap_or_else(|| self.state.dir().join("update"));
        let status = medguard_update::read_status(&dir).ok()?;
        let time = status.last.as_ref()?.time.clone();
        let marker = self.state.dir().join("install-reported");
        if std::fs::read_to_string(&marker).is_ok_and(|t| t.trim() == time) {
            return None;
        }
        let result = (|| {
            let report =
                tasks::install::local_install(update, &status).ok_or_else(|| AgentError::Task {
                    task: "install",
                    reason: "the last install's bundle can no longer be read or verified".into(),
                })?;
            let line = format!(
                "{} {:?} (installed by a person on the device)",
                report.bundle.version, report.outcome
            );
            let seq = self.enqueue(ReportBody::Install(report))?;
            self.state.write(&marker, 0o644, time.as_bytes())?;
            Ok((TaskStatus::Clean, line, vec![seq]))
        })();
        Some(self.finish("install", Duration::ZERO, result))
    }

    /// When the scan is next due (`None`: no scan configured).
    ///
    /// # Errors
    /// [`AgentError::Outbox`].
    pub fn scan_due(&self) -> Result<Option<OffsetDateTime>, AgentError> {
        let Some(scan) = &self.config.scan else {
            return Ok(None);
        };
        let last = self
            .outbox
            .tasks()?
            .into_iter()
            .find(|t| t.task == "scan")
            .and_then(|t| t.last_success);
        Ok(Some(
            last.map_or(OffsetDateTime::UNIX_EPOCH, |t| t + scan.interval),
        ))
    }

    /// Scans (when configured and `policy` says so) and queues the scan report. Findings are
    /// recorded in the agent's audit log.
    pub fn scan(&self, policy: ScanPolicy, progress: &Arc<Progress>) -> Option<TaskResult> {
        let config = self.config.scan.as_ref()?;
        if policy == ScanPolicy::Skip {
            return None;
        }
        if policy == ScanPolicy::WhenDue
            && let Ok(Some(due)) = self.scan_due()
            && due > self.clock.now()
        {
            return Some(TaskResult {
                task: "scan",
                status: TaskStatus::NotDue,
                summary: format!("not due until {due}"),
                queued: Vec::new(),
            });
        }
        let result = (|| {
            let run = tasks::scan::scan(
                config,
                self.config.profile.as_ref(),
                &self.config.clinical,
                self.clock.as_ref(),
                progress,
            )
            .map_err(|e| AgentError::Task {
                task: "scan",
                reason: e.to_string(),
            })?;
            for f in run.findings.iter().take(crate::events::MAX_OBJECTS) {
                self.record_event(
                    EventKind::MalwareFound,
                    Outcome::SeriousFailure,
                    format!("malware scan: {f}"),
                    &[],
                );
            }
            let r = &run.report;
            let line = format!(
                "{} finding(s) in {} file(s), {} problem(s)",
                run.findings.len(),
                r.files,
                r.problems
            );
            let status = if run.findings.is_empty() {
                TaskStatus::Clean
            } else {
                TaskStatus::Found
            };
            let seq = self.enqueue(ReportBody::Scan(run.report))?;
            Ok((status, line, vec![seq]))
        })();
        Some(self.finish("scan", config.interval, result))
    }

    /// Reads the allowlist's state and the enforcer's denials since the last report, and
    /// queues the report (the enforcer-log cursor moves with it).
    pub fn allowlist(&self) -> TaskResult {
        let result = (|| {
            let cursor = self.outbox.cursor(ALLOWLIST_CURSOR)?;
            let run = tasks::allowlist::state(self.config.allowlist.as_ref(), cursor.as_ref());
            let r = &run.report;
            let denials = r.denials.len() as u64 + r.denials_omitted;
            let line = format!(
                "{:?}, {} entries, {denials} denial(s){}",
                r.mode,
                r.entries,
                r.reason
                    .as_ref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default()
            )
            .to_lowercase();
            let status = if denials > 0 {
                TaskStatus::Found
            } else {
                TaskStatus::Clean
            };
            let seq = self.outbox.enqueue_advancing(
                self.clock.now(),
                None,
                ReportBody::Allowlist(run.report),
                Some(CursorMove {
                    name: ALLOWLIST_CURSOR,
                    from: cursor.map_or(0, |c| c.seq),
                    to: run.cursor,
                }),
            )?;
            Ok((status, line, vec![seq]))
        })();
        self.finish("allowlist", Duration::ZERO, result)
    }

    /// Signs a checkpoint over the agent's audit log and queues its records since the last
    /// upload (the cursor moves with each upload).
    pub fn audit_upload(&self) -> TaskResult {
        let result = (|| {
            self.log.checkpoint()?;
            let after = self.outbox.cursor(AGENT_LOG_CURSOR)?.map_or(0, |c| c.seq);
            let uploads = tasks::audit::pending(self.log.dir(), "agent", after).map_err(|e| {
                AgentError::Task {
                    task: "audit",
                    reason: e.to_string(),
                }
            })?;
            let mut queued = Vec::new();
            let mut records = 0;
            let mut from = after;
            for u in uploads {
                records += u.upload.records.len();
                let to = Cursor {
                    seq: u.last_seq,
                    note: Some(u.last_digest),
                };
                queued.push(self.outbox.enqueue_advancing(
                    self.clock.now(),
                    None,
                    ReportBody::Audit(u.upload),
                    Some(CursorMove {
                        name: AGENT_LOG_CURSOR,
                        from,
                        to,
                    }),
                )?);
                from = u.last_seq;
            }
            Ok((
                TaskStatus::Clean,
                format!("{records} record(s) in {} upload(s)", queued.len()),
                queued,
            ))
        })();
        self.finish("audit", Duration::ZERO, result)
    }

    /// Queues the agent's health: queue, tasks, clinical state.
    pub fn health(&self) -> TaskResult {
        let result = (|| {
            let stats = self.outbox.stats()?;
            let tasks = self
                .outbox
                .tasks()?
                .into_iter()
                .take(limits::MAX_TASKS)
                .map(|t| TaskHealth {
                    task: t.task,
                    last_run: t.last_run,
                    last_success: t.last_success,
                    last_error: t.last_error.map(|e| wire_text(&e, limits::MAX_TEXT * 4)),
                    interval_secs: t.interval_secs,
                })
                .collect();
            let health = AgentHealth {
                agent_version: AGENT_VERSION.to_owned(),
                started: self.started,
                report_within_secs: self.config.report.within.as_secs().max(1),
                queue: QueueHealth {
                    reports: stats.reports,
                    bytes: stats.bytes,
                    compacted: stats.compacted,
                    overflowing: stats.bytes > self.config.report.outbox_max,
                },
                tasks,
                clinical: self.clinical_reading(),
            };
            let line = format!("{} report(s) queued before this one", stats.reports);
            let seq = self.enqueue(ReportBody::Health(health))?;
            Ok((TaskStatus::Clean, line, vec![seq]))
        })();
        self.finish("health", Duration::ZERO, result)
    }

    fn clinical_reading(&self) -> Option<ClinicalReading> {
        let c = &self.config.clinical;
        if c.state.is_none() && c.window.is_none() {
            return None;
        }
        let state = match &c.state {
            // Fails safe, as the gate does: unreadable counts as in use.
            Some(source) => match source.read(CLINICAL_TIMEOUT) {
                Ok(ClinicalState::Idle) => ClinicalStateReading::Idle,
                _ => ClinicalStateReading::InUse,
            },
            None => ClinicalStateReading::Idle,
        };
        Some(ClinicalReading {
            state,
            window_open: c.window.as_ref().map(|w| w.contains(self.clock.now())),
        })
    }

    /// Renews the client certificate when `renew_after` has passed; returns the new one.
    ///
    /// # Errors
    /// [`AgentError::CertificateExpired`] when it is too late (enroll again), and when the
    /// server refuses or cannot be reached ([`AgentError::Send`]).
    pub async fn renew_if_due(&mut self) -> Result<Option<CertificateRecord>, AgentError> {
        let now = self.clock.now();
        let current = &self.enrollment.certificate;
        if now < current.renew_after {
            return Ok(None);
        }
        if now >= current.not_after {
            return Err(AgentError::CertificateExpired {
                not_after: current.not_after,
            });
        }
        let link = self.link()?;
        let key = self.state.device_key()?;
        let csr = key
            .certificate_request(&medguard_host::host_name())
            .map_err(|source| AgentError::Pki {
                what: "the certificate request",
                source,
            })?;
        let body =
            serde_json::to_vec(&RenewRequest { csr_pem: csr }).map_err(|e| AgentError::Task {
                task: "renew",
                reason: e.to_string(),
            })?;
        let issued: IssuedCertificate = link
            .post_json(paths::RENEW, body, limits::MAX_ENROLL_BYTES)
            .await?;
        let ca_override = self.config.server.as_ref().and_then(|s| s.ca.as_deref());
        let id = self.state.identity(ca_override)?;
        let certified = check_certificate(
            &id.ca_pem,
            &issued.certificate_pem,
            &key.public_key(),
            self.clock.now(),
        )?;
        if certified.device_id != self.enrollment.device_id {
            return Err(AgentError::Mismatch {
                what: format!(
                    "the renewed certificate names device {}, this is {}",
                    certified.device_id, self.enrollment.device_id
                ),
            });
        }
        let record = CertificateRecord {
            serial: issued.serial.clone(),
            not_before: issued.not_before,
            not_after: issued.not_after,
            renew_after: issued.renew_after,
        };
        let mut enrollment = self.enrollment.clone();
        enrollment.certificate = record.clone();
        let pinned = std::fs::read_to_string(self.state.ca_path())
            .map_err(AgentError::io(self.state.ca_path()))?;
        self.state
            .store(&enrollment, &issued.certificate_pem, &pinned)?;
        self.enrollment = enrollment;
        self.record_event(
            EventKind::ConfigurationChange,
            Outcome::Success,
            format!(
                "client certificate renewed: {} valid until {}",
                record.serial, record.not_after
            ),
            &[],
        );
        Ok(Some(record))
    }

    /// Sends the queue; records what happened in the agent's audit log.
    ///
    /// # Errors
    /// [`AgentError::Outbox`] or [`AgentError::Audit`]; failures of the exchange are in the
    /// summary (the queue stays as it is).
    pub async fn send(&self) -> Result<SendSummary, AgentError> {
        let link = match self.link() {
            Ok(l) => l,
            Err(AgentError::Send(e)) => {
                return Ok(SendSummary {
                    remaining: self.outbox.stats()?.reports,
                    error: Some(e),
                    ..SendSummary::default()
                });
            }
            Err(e) => return Err(e),
        };
        let summary = send_queued(&self.outbox, &link, self.clock.as_ref())
            .await
            .map_err(|e| {
                let e = AgentError::from(e);
                self.gap.note(self.clock.now(), &e, None);
                e
            })?;
        let sent: Vec<u64> = summary
            .stored
            .iter()
            .chain(&summary.duplicates)
            .copied()
            .collect();
        if !sent.is_empty() {
            self.record_event(
                EventKind::Export,
                Outcome::Success,
                format!(
                    "{} report(s) delivered to {} ({} stored, {} already held), seq {}..{}",
                    sent.len(),
                    link.base(),
                    summary.stored.len(),
                    summary.duplicates.len(),
                    sent.iter().min().unwrap_or(&0),
                    sent.iter().max().unwrap_or(&0)
                ),
                &[],
            );
        }
        if let Some(e) = &summary.error {
            self.record_event(
                EventKind::Export,
                Outcome::MinorFailure,
                format!(
                    "{} report(s) could not be delivered and stay queued: {e}",
                    summary.remaining
                ),
                &[],
            );
        }
        for r in &summary.refused {
            self.record_event(
                EventKind::Export,
                Outcome::SeriousFailure,
                format!(
                    "the server refused {} report {}: {} ({}); it is kept aside",
                    r.kind.as_str(),
                    r.seq,
                    r.problem.code,
                    r.problem.detail.as_deref().unwrap_or(&r.problem.title)
                ),
                &[],
            );
        }
        Ok(summary)
    }

    /// Drops superseded reports while the queue is over `[report] outbox_max`.
    ///
    /// # Errors
    /// [`AgentError::Outbox`].
    pub fn compact(&self) -> Result<u64, AgentError> {
        Ok(self.outbox.compact(self.config.report.outbox_max)?)
    }

    /// Closes the agent's audit log with a signed checkpoint.
    ///
    /// # Errors
    /// [`AgentError::Audit`].
    pub fn close(self) -> Result<(), AgentError> {
        self.log.close()
    }
}

/// Whether `e` is a failure to write the agent's own state (the outbox, the audit log, or
/// any file on a full disk), which loses what was being recorded.
fn could_not_write(e: &AgentError) -> bool {
    matches!(
        e,
        AgentError::Outbox(crate::OutboxError::Database { .. }) | AgentError::Audit { .. }
    ) || crate::gap::is_disk_full(e)
}

/// `medguard agent report`: renews the certificate if due, runs each task once (verify,
/// inventory and services, scan when due, allowlist, audit upload, health), queues every
/// report durably, and sends the queue.
///
/// # Errors
/// [`AgentError`] when the agent cannot start (not enrolled, outbox or log unusable) or the
/// outbox fails; a task's failure, a failed renewal and a failed send are in the summary.
pub async fn report_once(
    state: StateDir,
    config: AgentConfig,
    clock: Arc<dyn Clock>,
    options: ReportOptions,
) -> Result<RunSummary, AgentError> {
    let mut agent = Agent::open(state, config, clock, options.timeouts)?;
    let mut errors = Vec::new();
    let renewed = match agent.renew_if_due().await {
        Ok(r) => r,
        Err(e) => {
            errors.push(format!("certificate renewal: {e}"));
            None
        }
    };
    let progress = Arc::new(Progress::default());
    let mut results = vec![agent.verify(&progress)];
    results.extend(agent.inventory());
    results.extend(agent.local_install());
    if let Some(scan) = agent.scan(options.scan, &Arc::new(Progress::default())) {
        results.push(scan);
    }
    results.push(agent.allowlist());
    results.push(agent.health());
    // What this run could not write (a full disk) is recorded as soon as it can be, before
    // the upload that carries it.
    if let Some(Err(e)) = agent.record_gap() {
        errors.push(format!("the gap in what was recorded: {e}"));
    }
    // The audit upload goes last of the reports, so it carries what this run recorded.
    results.push(agent.audit_upload());
    match agent.compact() {
        Ok(0) => {}
        Ok(n) => errors.push(format!(
            "the queue was over its bound: {n} superseded report(s) dropped"
        )),
        Err(e) => errors.push(e.to_string()),
    }
    let send = agent.send().await?;
    errors.extend(agent.storage_problem());
    let refused = agent.outbox().refused()?;
    let summary = RunSummary {
        device_id: agent.enrollment().device_id.to_string(),
        server: agent.server().map(|u| u.to_string()).unwrap_or_default(),
        renewed,
        tasks: results,
        send,
        refused,
        errors,
    };
    agent.close()?;
    Ok(summary)
}
