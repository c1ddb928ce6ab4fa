//! `medguard audit`: append events, verify the chain and checkpoints, query, run detection
//! rules over the tamper-evident audit trail (library: `medguard-audit`), and export or
//! forward it (library: `medguard-atna`).
//!
//! Exit codes: 0 clean, 1 found (rejected input lines, tampering, alerts), 2 error; `verify`
//! exits 3 when it finds no tampering but cannot prove the log intact.

use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use medguard_audit::{
    AuditLog, AuditWriter, CHECKPOINT_EVERY, DetectState, EventKind, KnownCheckpoint, Query,
    RuleSet, Severity, Verdict, WriterOptions,
};
use medguard_digest::{PublicKey, SigningKey};
use medguard_host::{SystemClock, host_name};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Append JSON event lines from stdin, e.g. {"type":"login-failure","user":"alice"}.
    ///
    /// Malformed lines are reported on stderr with their line number and skipped; the
    /// others are appended. Exit 0 all appended, 1 some lines rejected, 2 error.
    Append {
        /// The log directory (created if missing).
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// Sign checkpoints with this private key (NAME.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Sign a checkpoint every N records (and at the end).
        #[arg(long, default_value_t = CHECKPOINT_EVERY, value_name = "N")]
        checkpoint_every: u64,
        /// AuditSourceID for lines without "host" (default: this machine's host name).
        #[arg(long)]
        host: Option<String>,
        /// Print JSON: one line per durable batch, then a summary line.
        #[arg(long)]
        json: bool,
    },
    /// Verify the chain and the signed checkpoints.
    ///
    /// Exit 0 intact (every record covered by a checkpoint), 1 tampering, 2 error, 3 no
    /// tampering found but not proven intact (records after the last checkpoint, a torn
    /// end, an empty log, which is what a log with everything deleted looks like).
    Verify {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// Trusted checkpoint key(s) (NAME.pub).
        #[arg(long, required = true, value_name = "NAME.pub")]
        trust: Vec<PathBuf>,
        /// A checkpoint held outside the log, SEQ:DIGEST (e.g. the last one the server
        /// received): the log must reach it with that chain digest. Repeatable.
        #[arg(long = "known-checkpoint", value_name = "SEQ:DIGEST")]
        known: Vec<KnownCheckpoint>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print matching records as JSON lines (seq, segment, offset, digest, event).
    Query {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// Only events at or after this time (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        since: Option<OffsetDateTime>,
        /// Only events before this time (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        until: Option<OffsetDateTime>,
        /// Only events of this type (repeatable).
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_kind)]
        kinds: Vec<EventKind>,
        /// Only events requested by this user.
        #[arg(long)]
        user: Option<String>,
    },
    /// Run detection rules (TOML) over the log and record new alerts as detection-alert
    /// events. Exit 0 no new alert, 1 alerts fired, 2 error.
    Detect {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// The rule file.
        #[arg(long)]
        rules: PathBuf,
        /// Sign a checkpoint after recording alerts with this key (NAME.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Report alerts without recording them (nor moving the saved position).
        #[arg(long)]
        dry_run: bool,
        /// Where detection stopped last time, and the rules' open windows: each run reads
        /// only the records after it (default: DIR.detect-state.json beside the log).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Read the whole log, ignoring the saved position (after adding rules, say); alerts
        /// already recorded are still not raised again.
        #[arg(long)]
        from_start: bool,
        /// AuditSourceID of the alert events (default: this machine's host name).
        #[arg(long)]
        host: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write stored records as DICOM audit messages (one XML document per line) or RFC 5424
    /// syslog lines, for importing into a SIEM.
    Export {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// dicom: PS3.15 A.5.1 XML; syslog: IHE ITI-20 RFC 5424 messages.
        #[arg(long, value_enum)]
        format: ExportFormatArg,
        /// First record seq to export.
        #[arg(long, default_value_t = 1, value_name = "SEQ")]
        from: u64,
        /// HOSTNAME of syslog lines (default: this machine's host name).
        #[arg(long)]
        host: Option<String>,
    },
    /// Forward the log to an IHE ATNA Audit Record Repository: RFC 5424 syslog over TLS
    /// (RFC 5425) carrying DICOM audit messages, resuming from a cursor kept in the log
    /// directory. Without --once, keeps forwarding new records and retries when the
    /// collector is away.
    Forward {
        /// The log directory.
        #[arg(long, value_name = "DIR")]
        log: PathBuf,
        /// The collector, HOST:PORT (port 6514 if omitted); HOST must match its certificate.
        #[arg(long, value_name = "HOST:PORT")]
        to: String,
        /// CA certificate(s) that issued the collector's certificate (PEM).
        #[arg(long, value_name = "CA.pem")]
        ca: PathBuf,
        /// Client certificate chain for mutual TLS (PEM).
        #[arg(long, requires = "key", value_name = "CERT.pem")]
        cert: Option<PathBuf>,
        /// Client private key for mutual TLS (PEM).
        #[arg(long, requires = "cert", value_name = "KEY.pem")]
        key: Option<PathBuf>,
        /// Send what is in the log now, then exit.
        #[arg(long)]
        once: bool,
        /// Records per batch (one TLS connection and cursor update each).
        #[arg(long, default_value_t = 500, value_name = "N")]
        batch: usize,
        /// Seconds between passes, and the first retry delay after a failure.
        #[arg(long, default_value_t = 5, value_name = "SECONDS")]
        interval: u64,
        /// HOSTNAME of the syslog header (default: this machine's host name).
        #[arg(long)]
        host: Option<String>,
        /// Print JSON: one line per pass that sent records.
        #[arg(long)]
        json: bool,
    },
}

/// `medguard audit export --format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// DICOM PS3.15 A.5.1 XML documents.
    Dicom,
    /// RFC 5424 syslog lines.
    Syslog,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    s.parse().map_err(|e| format!("{e}"))
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Append {
            log,
            key,
            checkpoint_every,
            host,
            json,
        } => append(&log, key.as_deref(), checkpoint_every, host, json),
        AuditCommand::Verify {
            log,
            trust,
            known,
            json,
        } => verify(&log, &trust, &known, json),
        AuditCommand::Query {
            log,
            since,
            until,
            kinds,
            user,
        } => query(
            &log,
            &Query {
                since,
                until,
                kinds,
                user,
            },
        ),
        AuditCommand::Detect {
            log,
            rules,
            key,
            dry_run,
            state,
            from_start,
            host,
            json,
        } => detect(&DetectArgs {
            log_dir: log,
            rules,
            key,
            dry_run,
            state,
            from_start,
            host,
            json,
        }),
        AuditCommand::Export {
            log,
            format,
            from,
            host,
        } => export(&log, format, from, host),
        AuditCommand::Forward {
            log,
            to,
            ca,
            cert,
            key,
            once,
            batch,
            interval,
            host,
            json,
        } => forward(&ForwardArgs {
            log,
            to,
            ca,
            identity: cert.zip(key),
            once,
            batch,
            interval: std::time::Duration::from_secs(interval.max(1)),
            host,
            json,
        }),
    }
}

fn writer(
    log: &Path,
    key: Option<&Path>,
    checkpoint_every: u64,
    host: &str,
) -> anyhow::Result<AuditWriter> {
    let key = key
        .map(|k| SigningKey::load(k).with_context(|| format!("loading key {}", k.display())))
        .transpose()?
        .map(Arc::new);
    let writer = AuditWriter::open(
        log,
        WriterOptions {
            key,
            checkpoint_every,
            source_id: host.to_owned(),
            ..WriterOptions::default()
        },
    )
    .with_context(|| format!("opening audit log {}", log.display()))?;
    for r in writer.recoveries()? {
        eprintln!(
            "medguard: recovered audit log: cut {} torn bytes at offset {} of {} (saved to {})",
            r.bytes,
            r.offset,
            r.path.display(),
            r.saved_to.display()
        );
    }
    Ok(writer)
}

fn append(
    log: &Path,
    key: Option<&Path>,
    checkpoint_every: u64,
    host: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let host = host.unwrap_or_else(host_name);
    let writer = writer(log, key, checkpoint_every, &host)?;
    let mut stdin = std::io::BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let summary = medguard_audit::ingest_json_lines(
        &writer,
        &mut stdin,
        &host,
        &SystemClock,
        &mut |r| eprintln!("medguard: stdin line {}: rejected: {}", r.line, r.reason),
        &|committed, last_seq| {
            // One line per durable batch, so a supervising process knows what is safe.
            if json {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({"committed": committed, "last_seq": last_seq})
                );
                let _ = out.flush();
            }
        },
    )
    .with_context(|| format!("appending to {}", log.display()))?;
    writer.close().context("signing the final checkpoint")?;
    let medguard_audit::IngestSummary {
        appended,
        rejected,
        last_seq,
    } = summary;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"appended": appended, "rejected": rejected, "last_seq": last_seq})
        )?;
    } else {
        writeln!(
            out,
            "appended {appended} events{}; {rejected} lines rejected",
            if appended > 0 {
                format!(" (through seq {last_seq})")
            } else {
                String::new()
            }
        )?;
    }
    Ok(if rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn verify(
    log: &Path,
    trust: &[PathBuf],
    known: &[KnownCheckpoint],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let keys = PublicKey::load_all(trust).context("loading the trusted keys")?;
    let report = medguard_audit::verify_against(log, &keys, known)
        .with_context(|| format!("verifying {}", log.display()))?;
    let code = match report.verdict {
        Verdict::Intact => ExitCode::SUCCESS,
        Verdict::Tampered => ExitCode::from(1),
        Verdict::Unproven => ExitCode::from(3),
    };
    super::exit_after_printing(code, print_verify(&report, json))
}

fn print_verify(report: &medguard_audit::VerifyReport, json: bool) -> anyhow::Result<()> {
    if json {
        super::print_json(report)?;
    } else {
        let mut out = std::io::stdout().lock();
        for p in &report.problems {
            let level = match p.severity {
                Severity::Warning => "unproven",
                Severity::Error => "TAMPERED",
            };
            let seq = p.seq.map(|s| format!(" seq {s}")).unwrap_or_default();
            let kind = serde_json::to_value(p.kind)?;
            writeln!(
                out,
                "{level}: {} at {} offset {}{seq}: {}",
                kind.as_str().unwrap_or("problem"),
                p.file.display(),
                p.offset,
                p.detail
            )?;
        }
        writeln!(
            out,
            "{}: {} records in {} segments, last seq {}, {} valid checkpoints (signed through seq {}, proven through seq {})",
            match report.verdict {
                Verdict::Intact => "intact",
                Verdict::Unproven => "NOT PROVEN INTACT",
                Verdict::Tampered => "TAMPERED",
            },
            report.records,
            report.segments,
            report.last_seq,
            report.checkpoints,
            report.signed_through,
            report.proven_through
        )?;
    }
    Ok(())
}

fn query(log: &Path, query: &Query) -> anyhow::Result<ExitCode> {
    let log = AuditLog::open(log).with_context(|| format!("opening {}", log.display()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for record in query.run(&log)? {
        let record = record?;
        serde_json::to_writer(&mut out, &record).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

struct DetectArgs {
    log_dir: PathBuf,
    rules: PathBuf,
    key: Option<PathBuf>,
    dry_run: bool,
    state: Option<PathBuf>,
    from_start: bool,
    host: Option<String>,
    json: bool,
}

fn detect(args: &DetectArgs) -> anyhow::Result<ExitCode> {
    let DetectArgs { log_dir, rules, .. } = args;
    let text = std::fs::read_to_string(rules)
        .with_context(|| format!("reading rules {}", rules.display()))?;
    let rules_set = RuleSet::parse(&text).with_context(|| format!("rules {}", rules.display()))?;
    let log = AuditLog::open(log_dir).with_context(|| format!("opening {}", log_dir.display()))?;
    let state_path = match &args.state {
        Some(p) => p.clone(),
        None => medguard_audit::default_state_path(log_dir).with_context(|| {
            format!(
                "{} has no name to put a state file beside: give --state FILE",
                log_dir.display()
            )
        })?,
    };
    let saved = if args.from_start {
        None
    } else {
        DetectState::load(&state_path)?
    };
    let (detection, state) = medguard_audit::detect_from(&log, &rules_set, saved.as_ref())?;
    if let Some(restart) = &detection.restarted {
        eprintln!("medguard: note: {restart}: detection started again from the first record");
    }
    let mut recorded = Vec::new();
    if !args.dry_run {
        if !detection.alerts.is_empty() {
            let host = args.host.clone().unwrap_or_else(host_name);
            let writer = writer(log_dir, args.key.as_deref(), CHECKPOINT_EVERY, &host)?;
            let events: Vec<_> = detection.alerts.iter().map(|a| a.to_event(&host)).collect();
            let seqs = writer.append_batch(&events)?;
            writer.close()?;
            recorded.extend(seqs);
        }
        // After the alerts are recorded: a crash in between reads these records again next
        // time and finds their alerts recorded, rather than losing the alerts.
        state.save(&state_path)?;
    }
    let code = if detection.alerts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    super::exit_after_printing(
        code,
        print_detection(&detection, &recorded, args.dry_run, args.json),
    )
}

fn print_detection(
    detection: &medguard_audit::Detection,
    recorded: &[u64],
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        super::print_json(&serde_json::json!({
            "records": detection.records,
            "first_seq": detection.first_seq,
            "restarted": detection.restarted,
            "alerts": detection.alerts,
            "already_recorded": detection.already_recorded,
            "recorded_as": recorded,
            "dry_run": dry_run,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for (i, a) in detection.alerts.iter().enumerate() {
            let at = a.time.format(&Rfc3339).unwrap_or_default();
            let rec = recorded
                .get(i)
                .map(|s| format!(" (recorded as seq {s})"))
                .unwrap_or_default();
            writeln!(out, "alert: {} at {at}: {}{rec}", a.rule, a.message)?;
        }
        writeln!(
            out,
            "{} records read{}, {} new alerts, {} already recorded{}",
            detection.records,
            detection
                .first_seq
                .map(|s| format!(" from seq {s}"))
                .unwrap_or_default(),
            detection.alerts.len(),
            detection.already_recorded,
            if dry_run { " (dry run)" } else { "" }
        )?;
    }
    Ok(())
}

fn export(
    log_dir: &Path,
    format: ExportFormatArg,
    from: u64,
    host: Option<String>,
) -> anyhow::Result<ExitCode> {
    use medguard_atna::export::{ExportFormat, export};
    let log = AuditLog::open(log_dir).with_context(|| format!("opening {}", log_dir.display()))?;
    let format = match format {
        ExportFormatArg::Dicom => ExportFormat::Dicom,
        ExportFormatArg::Syslog => ExportFormat::Syslog,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let origin = medguard_atna::forward::medguard_origin(&host.unwrap_or_else(host_name));
    export(&log, from, format, &origin, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

struct ForwardArgs {
    log: PathBuf,
    to: String,
    ca: PathBuf,
    identity: Option<(PathBuf, PathBuf)>,
    once: bool,
    batch: usize,
    interval: std::time::Duration,
    host: Option<String>,
    json: bool,
}

fn forward(args: &ForwardArgs) -> anyhow::Result<ExitCode> {
    use medguard_atna::forward::{
        ForwardOptions, ForwardPass, ForwardReport, Schedule, forward_continuously,
        forward_pending, medguard_origin,
    };
    use medguard_atna::syslog::AtnaStructuredData;
    use medguard_atna::transport::{
        Endpoint, SenderOptions, SyslogTlsSender, client_config_from_files,
    };

    let endpoint: Endpoint = args.to.parse()?;
    let identity = args
        .identity
        .as_ref()
        .map(|(cert, key)| (cert.as_path(), key.as_path()));
    let config = client_config_from_files(&args.ca, identity)?;
    let mut sender = SyslogTlsSender::new(endpoint.clone(), config, SenderOptions::default())?;
    let log =
        AuditLog::open(&args.log).with_context(|| format!("opening {}", args.log.display()))?;
    let options = ForwardOptions {
        batch_size: args.batch,
        origin: medguard_origin(&args.host.clone().unwrap_or_else(host_name)),
        structured_data: AtnaStructuredData::KeyFields,
    };
    let print = |report: &ForwardReport| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if args.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "to": endpoint.to_string(),
                    "records": report.records,
                    "batches": report.batches,
                    "next_seq": report.next_seq,
                })
            )?;
        } else if report.records > 0 || args.once {
            writeln!(
                out,
                "forwarded {} records to {endpoint} in {} batches; next seq {}",
                report.records, report.batches, report.next_seq
            )?;
        }
        out.flush()
    };
    if args.once {
        print(&forward_pending(&log, &mut sender, &options)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let schedule = Schedule {
        interval: args.interval,
        ..Schedule::default()
    };
    let stopped = forward_continuously(
        &log,
        &mut sender,
        &options,
        schedule,
        &SystemClock,
        &mut |pass| match pass {
            ForwardPass::Forwarded(report) => match print(&report) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => ControlFlow::Break(e),
            },
            ForwardPass::Failed { error, retry_in } => {
                eprintln!(
                    "medguard: forwarding: {error}; retrying in {} s",
                    retry_in.as_secs()
                );
                ControlFlow::Continue(())
            }
        },
    );
    // Only a failed write to standard output ends the loop (a closed pipe exits quietly).
    Err(stopped.into())
}
