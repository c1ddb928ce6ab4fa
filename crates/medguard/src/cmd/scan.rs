//! `medguard scan`: YARA rules and ClamAV hash lists over files, yielding to clinical work.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use medguard_clinical::{ClinicalGate, ClinicalStateSource};
use medguard_host::SystemClock;
use medguard_profile::Progress;
use medguard_scan::{
    Action, Detection, HashLists, PaceEvent, PaceOptions, Priority, ScanEvent, ScanOptions,
    ScanReport, Targets, ValidatedConfiguration, YaraRules,
};

use crate::progress::ProgressLine;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan (directories recursively; links below them are not
    /// followed).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// YARA rule file, or directory of .yar/.yara files. Repeatable.
    #[arg(long, value_name = "DIR|FILE")]
    rules: Vec<PathBuf>,
    /// ClamAV hash signature list (.hdb: MD5:SIZE:NAME, .hsb: SHA1|SHA256:SIZE:NAME).
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    hashes: Vec<PathBuf>,
    /// The signed system profile of the validated configuration: matches in its files are
    /// never quarantined, they are alerts for a person to decide.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Scan only the files that were added or whose content changed since this signed
    /// profile (it also counts as the validated configuration unless --profile is given).
    #[arg(long, value_name = "PROFILE")]
    changed_since: Option<PathBuf>,
    /// The directory the profiles describe.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    #[command(flatten)]
    trust: super::ProfileTrustArgs,
    /// Where the device says whether it is in clinical use (file:PATH, socket:PATH,
    /// cmd:COMMAND). The scan pauses while it says "in use" or cannot be read.
    #[arg(long, value_name = "SPEC")]
    clinical_state: Option<ClinicalStateSource>,
    /// While paused, ask the clinical state again after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "5")]
    poll_interval: f64,
    /// Read at most this many bytes per second (suffixes K, M, G: powers of 1024).
    #[arg(long, value_name = "BYTES_PER_SEC", value_parser = medguard_host::parse_byte_size)]
    rate: Option<u64>,
    /// Move matching files outside the validated configuration into DIR (mode 000, with
    /// a JSON record beside each).
    #[arg(long, value_name = "DIR")]
    quarantine: Option<PathBuf>,
    /// Files larger than this are hash-checked only, not YARA-scanned.
    #[arg(long, value_name = "BYTES", value_parser = medguard_host::parse_byte_size, default_value = "256M")]
    max_yara_size: u64,
    /// Scanning threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Keep normal I/O and CPU priority (for a manufacturing scan off the device).
    #[arg(long)]
    normal_priority: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    if args.rules.is_empty() && args.hashes.is_empty() {
        bail!("give --rules DIR|FILE or --hashes FILE (or both)");
    }
    if !(args.poll_interval.is_finite() && args.poll_interval > 0.0) {
        bail!("--poll-interval must be a positive number of seconds");
    }
    // Rules and lists first: a broken rule file should fail in a second, not after a walk.
    let rules = if args.rules.is_empty() {
        None
    } else {
        Some(YaraRules::load(&args.rules)?)
    };
    let mut hashes = HashLists::new();
    for h in &args.hashes {
        hashes.add_file(h)?;
    }
    let root = std::path::absolute(&args.root)
        .with_context(|| format!("resolving {}", args.root.display()))?;
    let paths = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("resolving {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let validated = args
        .profile
        .as_deref()
        .map(|p| args.trust.load(p))
        .transpose()?;
    let progress = Arc::new(Progress::default());
    let (targets, validated) = match &args.changed_since {
        Some(since) => {
            let baseline = args.trust.load(since)?;
            let validated = validated.unwrap_or_else(|| baseline.clone());
            let changed = {
                let _line = ProgressLine::start("comparing", progress.clone());
                medguard_scan::changed_since(&root, baseline, &paths, &progress)?
            };
            (Targets::Changed(changed), Some(validated))
        }
        None => (Targets::Walk(paths), validated),
    };
    let options = ScanOptions {
        max_yara_size: args.max_yara_size,
        threads: args.threads,
        pace: PaceOptions {
            rate: args.rate,
            gate: ClinicalGate::new(args.clinical_state.clone(), None),
            poll_interval: Duration::from_secs_f64(args.poll_interval),
            ..PaceOptions::default()
        },
        priority: if args.normal_priority {
            Priority::Unchanged
        } else {
            Priority::YieldToClinicalWork
        },
        validated: validated.map(|v| ValidatedConfiguration::new(root.clone(), v)),
        quarantine: args.quarantine.clone(),
    };
    let clock = SystemClock;
    let scan_progress = Arc::new(Progress::default());
    let started = std::time::Instant::now();
    let report = {
        let _line = ProgressLine::start("scanning", scan_progress.clone());
        medguard_scan::scan(
            targets,
            rules.as_ref(),
            &hashes,
            &options,
            &clock,
            &scan_progress,
            &|event| match event {
                ScanEvent::Pace(PaceEvent::Paused { during, reason }) => {
                    eprintln!("medguard: scan paused at {}: {reason}", during.display())
                }
                ScanEvent::Pace(PaceEvent::Resumed(p)) => {
                    eprintln!("medguard: scan resumed after {:.1} s", p.seconds);
                }
                _ => {}
            },
        )?
    };
    let seconds = started.elapsed().as_secs_f64();
    let printed = if args.json {
        super::print_json(&serde_json::json!({
            "findings": report.findings,
            "problems": report.problems,
            "pauses": report.pauses,
            "priority": report.priority,
            "summary": report.summary,
            "seconds": seconds,
        }))
    } else {
        print_text(&report, seconds)
    };
    let code = if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    super::exit_after_printing(code, printed)
}

fn print_text(report: &ScanReport, seconds: f64) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for f in &report.findings {
        let what = match &f.detection {
            Detection::Yara { rule, source, .. } => {
                format!("YARA rule {rule} ({})", source.display())
            }
            Detection::Hash {
                signature,
                digest,
                list,
                line,
                ..
            } => format!(
                "{signature} ({} in {}:{line})",
                digest.name(),
                list.display()
            ),
        };
        let action = match &f.action {
            Action::PersonMustDecide => {
                " ALERT: in the validated configuration: a person must decide".to_owned()
            }
            Action::Reported => String::new(),
            Action::Quarantined { to } => format!(" quarantined as {to}"),
            Action::QuarantineFailed { error } => format!(" QUARANTINE FAILED: {error}"),
        };
        writeln!(out, "FOUND {}: {what}{action}", f.path.display())?;
    }
    for p in &report.problems {
        let what = match &p.problem {
            medguard_scan::ProblemKind::Unreadable { error } => format!("unreadable: {error}"),
            medguard_scan::ProblemKind::TooLargeForYara { size, limit } => {
                format!("too large for YARA ({size} bytes > {limit}), hash-checked only")
            }
            medguard_scan::ProblemKind::YaraFailed { error } => format!("YARA failed: {error}"),
            _ => "not fully scanned".to_owned(),
        };
        writeln!(out, "PROBLEM {}: {what}", p.path.display())?;
    }
    let s = &report.summary;
    let paused: f64 = report.pauses.iter().map(|p| p.seconds).sum();
    writeln!(
        out,
        "{} finding(s) in {} file(s), {} bytes read, {} problem(s), {:.2} s ({} pause(s) for clinical use, {:.1} s)",
        s.findings,
        s.files,
        s.bytes,
        s.problems,
        seconds,
        report.pauses.len(),
        paused
    )?;
    if let Some(e) = &report.priority.io_error {
        writeln!(out, "note: idle I/O priority could not be set: {e}")?;
    }
    if let Some(e) = &report.priority.cpu_error {
        writeln!(out, "note: lowest CPU priority could not be set: {e}")?;
    }
    Ok(())
}
