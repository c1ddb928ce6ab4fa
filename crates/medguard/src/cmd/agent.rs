//! `medguard agent`: enroll this device with a fleet server, report to it once, or simulate
//! a fleet of devices (library: `medguard-agent`).
//!
//! Exit codes: `enroll` 0 enrolled, 2 error; `report` 0 everything sent and the device
//! intact, 1 something found (a deviation, a verification that could not run, malware, a
//! denial, a report the server refused), 2 error (a task failed, reports remain queued);
//! `simulate` 0 every device enrolled and every report acknowledged, 1 some were not, 2 error.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use medguard_agent::simulate::{Plan, SimulateOptions, SimulateSummary};
use medguard_agent::{
    AgentConfig, DaemonOptions, EnrollOptions, ReportOptions, Round, RunSummary, ScanPolicy,
    StateDir, TaskStatus, Timeouts,
};
use medguard_host::{Clock as _, SystemClock};
use medguard_proto::EnrollmentToken;
use url::Url;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Enroll this device: make its key in --state, send a certificate request with the
    /// token, keep the certificate and the pinned CA.
    Enroll(EnrollArgs),
    /// Verify, inventory, scan (when due) and upload the audit log once, queue every report
    /// durably in --state, and send the queue. Exit 0 sent and intact, 1 something found,
    /// 2 error.
    Report(ReportArgs),
    /// Run as a daemon: each task on its own schedule from the configuration, the queue
    /// sent and the server checked in with after each round, until SIGTERM or Ctrl-C. Prints
    /// one line per round. Exit 0 stopped cleanly, 2 error.
    Run(RunArgs),
    /// Simulate N enrolled devices reporting to a server (for benchmarks).
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent's state directory (after `agent enroll`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The agent's configuration.
    #[arg(
        long,
        value_name = "agent.toml",
        default_value = "/etc/medguard/agent.toml"
    )]
    config: PathBuf,
    /// The first wait before sending again to an unreachable server (doubling, with jitter).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = super::duration_arg)]
    retry_min: std::time::Duration,
    /// The longest wait between sends to an unreachable server.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::duration_arg)]
    retry_max: std::time::Duration,
    /// Print each round as a line of JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The server's base URL (https://HOST:PORT).
    #[arg(long, value_name = "URL")]
    server: Url,
    /// The enrollment token (`medguard server enroll-token`).
    #[arg(long, value_name = "TOKEN")]
    token: String,
    /// The fleet CA to pin (the server's DIR/tls/ca.pem), obtained out of band.
    #[arg(long, value_name = "CA.pem")]
    ca: PathBuf,
    /// The agent's state directory (made if missing).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The agent's configuration, for `[device] model, serial` and `[audit] log`.
    #[arg(long, value_name = "agent.toml")]
    config: Option<PathBuf>,
    /// The device model (overrides the configuration's).
    #[arg(long)]
    model: Option<String>,
    /// The hardware serial number (overrides the configuration's and the firmware's).
    #[arg(long)]
    serial: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScanWhen {
    /// When `[scan] interval` has passed since the last completed scan.
    WhenDue,
    /// Now.
    Now,
    /// Not in this run.
    Skip,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The agent's state directory (after `agent enroll`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The agent's configuration.
    #[arg(
        long,
        value_name = "agent.toml",
        default_value = "/etc/medguard/agent.toml"
    )]
    config: PathBuf,
    /// Whether to run the malware scan (if `[scan]` is configured).
    #[arg(long, value_enum, default_value = "when-due")]
    scan: ScanWhen,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The server's base URL.
    #[arg(long, value_name = "URL")]
    server: Url,
    /// An enrollment token with at least --count uses.
    #[arg(long, value_name = "TOKEN")]
    token: String,
    /// The fleet CA.
    #[arg(long, value_name = "CA.pem")]
    ca: PathBuf,
    /// Simulated devices.
    #[arg(long)]
    count: usize,
    /// Where the components come from: dpkg status files (with an os-release beside them),
    /// CycloneDX or SPDX JSON files, or directories of them. Repeatable.
    #[arg(long, value_name = "PATH", required = true)]
    inventory: Vec<PathBuf>,
    /// Components per device inventory.
    #[arg(long, default_value_t = 1500)]
    components: usize,
    /// Devices enrolling or posting at the same time.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Report batches per device (the first carries the inventory).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Share of devices whose verification reports deviations.
    #[arg(long, default_value_t = 0.1)]
    deviating: f64,
    /// The model the devices claim.
    #[arg(long, default_value = "Simulated CT 9000")]
    model: String,
    /// Keep reporting (after --rounds) until this much time has passed (a soak).
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    duration: Option<std::time::Duration>,
    /// Each device's pause between its rounds.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::duration_arg)]
    pause: std::time::Duration,
    /// How long a device resends a batch the server did not answer (a restarting server)
    /// before it gives up; the same sequence numbers, so each report is stored once.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::duration_arg)]
    retry_for: std::time::Duration,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: AgentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AgentCommand::Enroll(a) => enroll(a),
        AgentCommand::Report(a) => report(&a),
        AgentCommand::Run(a) => run_daemon(&a),
        AgentCommand::Simulate(a) => simulate(&a),
    }
}

fn run_daemon(a: &RunArgs) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(&a.config)?;
    let options = DaemonOptions {
        backoff_min: a.retry_min,
        backoff_max: a.retry_max,
        // The binary is the unit's main process: it may answer NOTIFY_SOCKET.
        notify: medguard_agent::ServiceNotify::FromEnvironment,
        timeouts: config.timeouts,
    };
    let json = a.json;
    let summary = runtime()?
        .block_on(medguard_agent::run_daemon(
            StateDir::new(&a.state),
            config,
            Arc::new(SystemClock),
            options,
            super::server::shutdown_signal(),
            |round| {
                // A closed stdout must not stop the daemon: the reports are its output.
                let _ = if json {
                    print_json_line(round)
                } else {
                    print_round(round)
                };
            },
        ))
        .context("running the agent")?;
    // Not eprintln!: it panics when stderr cannot be written (a log file on a full disk),
    // turning a clean stop into exit 101.
    let _ = writeln!(
        std::io::stderr(),
        "medguard: agent stopped after {} round(s); {} report(s) queued",
        summary.rounds,
        summary.queued
    );
    Ok(ExitCode::SUCCESS)
}

fn print_json_line(round: &Round) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, round).map_err(std::io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn print_round(round: &Round) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut parts: Vec<String> = round
        .tasks
        .iter()
        .map(|t| format!("{}: {}", t.task, t.summary))
        .collect();
    match &round.send {
        Some(s) => parts.push(format!(
            "sent {} ({} stored, {} already held, {} refused)",
            s.acknowledged() + s.refused.len(),
            s.stored.len(),
            s.duplicates.len(),
            s.refused.len()
        )),
        None => parts.push("not sent (waiting before retrying)".to_owned()),
    }
    parts.push(format!("{} queued", round.queued));
    if let Some(c) = &round.checkin {
        parts.push(format!(
            "server holds up to seq {}, {} command(s)",
            c.last_stored_seq,
            c.commands.len()
        ));
    }
    for p in &round.problems {
        parts.push(format!("PROBLEM: {p}"));
    }
    if let Some(at) = round.retry_at {
        parts.push(format!("retry at {at}"));
    }
    writeln!(out, "{}: {}", round.at, parts.join("; "))?;
    out.flush()?;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn enroll(a: EnrollArgs) -> anyhow::Result<ExitCode> {
    let config = a.config.as_deref().map(AgentConfig::load).transpose()?;
    let state = StateDir::new(&a.state);
    let model = a
        .model
        .or_else(|| config.as_ref().and_then(|c| c.device.model.clone()));
    let serial = a
        .serial
        .or_else(|| config.as_ref().and_then(|c| c.device.serial.clone()));
    let audit_log = config
        .as_ref()
        .and_then(|c| c.audit.log.clone())
        .unwrap_or_else(|| state.audit_dir());
    let options = EnrollOptions {
        server: a.server,
        token: EnrollmentToken::new(a.token),
        ca_pem: read(&a.ca)?,
        facts: medguard_agent::device_facts(model, serial),
        audit_log,
        timeouts: config
            .as_ref()
            .map_or_else(Timeouts::default, |c| c.timeouts),
    };
    let outcome = runtime()?
        .block_on(medguard_agent::enroll(
            &state,
            options,
            Arc::new(SystemClock),
        ))
        .context("enrolling")?;
    for note in &outcome.notes {
        eprintln!("medguard: note: {note}");
    }
    let e = &outcome.enrollment;
    let printed = if a.json {
        super::print_json(&serde_json::json!({
            "device_id": e.device_id.as_str(),
            "site": e.site,
            "model": e.model,
            "server": e.server,
            "reenrolled": e.reenrolled,
            "key_created": outcome.key_created,
            "certificate": {
                "serial": e.certificate.serial,
                "not_after": e.certificate.not_after.unix_timestamp(),
                "renew_after": e.certificate.renew_after.unix_timestamp(),
            },
            "state": state.dir(),
        }))
    } else {
        (|| {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{} device {} at site {} with {}",
                if e.reenrolled {
                    "re-enrolled"
                } else {
                    "enrolled"
                },
                e.device_id,
                e.site,
                e.server
            )?;
            writeln!(
                out,
                "key {} ({}), certificate {} valid until {}, renewed after {}",
                state.key_path().display(),
                if outcome.key_created { "new" } else { "kept" },
                e.certificate.serial,
                e.certificate.not_after,
                e.certificate.renew_after
            )?;
            Ok(())
        })()
    };
    super::exit_after_printing(ExitCode::SUCCESS, printed)
}

fn report(a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(&a.config)?;
    let options = ReportOptions {
        scan: match a.scan {
            ScanWhen::WhenDue => ScanPolicy::WhenDue,
            ScanWhen::Now => ScanPolicy::Now,
            ScanWhen::Skip => ScanPolicy::Skip,
        },
        timeouts: config.timeouts,
    };
    let summary = runtime()?
        .block_on(medguard_agent::report_once(
            StateDir::new(&a.state),
            config,
            Arc::new(SystemClock),
            options,
        ))
        .context("reporting")?;
    let code = if summary.failed() {
        ExitCode::from(2)
    } else if summary.found() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let printed = if a.json {
        super::print_json(&summary)
    } else {
        print_report(&summary)
    };
    super::exit_after_printing(code, printed)
}

fn print_report(s: &RunSummary) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "device {} reporting to {}", s.device_id, s.server)?;
    if let Some(c) = &s.renewed {
        writeln!(
            out,
            "certificate renewed: {} valid until {}",
            c.serial, c.not_after
        )?;
    }
    for t in &s.tasks {
        let mark = match t.status {
            TaskStatus::Clean => "ok     ",
            TaskStatus::Found => "FOUND  ",
            TaskStatus::NotDue => "not due",
            TaskStatus::Failed => "FAILED ",
        };
        writeln!(out, "{mark} {:<10} {}", t.task, t.summary)?;
    }
    let send = &s.send;
    writeln!(
        out,
        "sent: {} stored, {} already held, {} refused; {} still queued",
        send.stored.len(),
        send.duplicates.len(),
        send.refused.len(),
        send.remaining
    )?;
    if let Some(e) = &send.error {
        writeln!(out, "NOT SENT: {e}")?;
    }
    for r in &s.refused {
        writeln!(
            out,
            "REFUSED report {} ({}): {} {}",
            r.seq,
            r.kind.as_str(),
            r.problem.code,
            r.problem.detail.as_deref().unwrap_or(&r.problem.title)
        )?;
    }
    for e in &s.errors {
        writeln!(out, "ERROR {e}")?;
    }
    Ok(())
}

fn simulate(a: &SimulateArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.deviating) {
        anyhow::bail!("--deviating must be between 0 and 1");
    }
    let seed = 0x6d65_6467_7561_7264;
    let plan = Arc::new(Plan::load(&a.inventory, a.components, seed)?);
    // Serial numbers unique to this run, so a second run enrolls new devices.
    let run_id = format!(
        "{:x}",
        SystemClock.now().unix_timestamp_nanos().unsigned_abs() ^ u128::from(std::process::id())
    );
    let options = SimulateOptions {
        server: a.server.clone(),
        token: EnrollmentToken::new(a.token.clone()),
        ca_pem: read(&a.ca)?,
        count: a.count,
        concurrency: a.concurrency,
        rounds: a.rounds,
        components: a.components,
        deviating: a.deviating,
        model: Some(a.model.clone()),
        run_id,
        timeouts: Timeouts::default(),
        duration: a.duration,
        pause: a.pause,
        retry_for: a.retry_for,
    };
    let summary = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(medguard_agent::simulate::simulate(&options, plan))?;
    let complete = summary.enrolled == summary.devices
        && summary.error_count == 0
        && summary.reports_stored + summary.reports_duplicate == summary.reports_sent;
    let printed = if a.json {
        super::print_json(&summary)
    } else {
        print_simulation(&summary)
    };
    super::exit_after_printing(
        if complete {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
        printed,
    )
}

fn print_simulation(s: &SimulateSummary) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "enrolled {}/{} devices in {:.1} s (p50 {:.0} ms, p99 {:.0} ms)",
        s.enrolled, s.devices, s.enroll_seconds, s.enroll_latency.p50_ms, s.enroll_latency.p99_ms
    )?;
    writeln!(
        out,
        "reports: {} sent, {} stored, {} already held, {} refused, {} batch(es) resent in {:.1} s: {:.0} reports/s, batch latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        s.reports_sent,
        s.reports_stored,
        s.reports_duplicate,
        s.reports_refused,
        s.batches_resent,
        s.report_seconds,
        s.reports_per_second,
        s.report_latency.p50_ms,
        s.report_latency.p99_ms,
        s.report_latency.max_ms
    )?;
    writeln!(
        out,
        "{} components per device, {} distinct in the fleet, {} device(s) with deviations",
        s.components_per_device, s.distinct_components, s.deviating_devices
    )?;
    for e in &s.errors {
        writeln!(out, "ERROR {e}")?;
    }
    if s.error_count > s.errors.len() {
        writeln!(
            out,
            "... and {} more errors",
            s.error_count - s.errors.len()
        )?;
    }
    Ok(())
}
