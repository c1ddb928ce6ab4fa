//! `medguard vuln`: ingest advisories into a local database, scan an SBOM against it with a
//! risk assessment per finding (`medguard_advisory::scan`), export not-relevant findings as
//! VEX. Parsing and printing only.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use medguard_advisory::{Database, DeviceContext, ExploitSignals, Finding, Relevance};

#[derive(Debug, Subcommand)]
pub enum VulnCommand {
    /// Add or update advisories (OSV JSON/YAML, CSAF 2.0; files, folders, zip archives).
    /// Exit 0 when every input was stored, 1 when one was refused (the rest are stored), 2 on
    /// error.
    Ingest {
        /// The database folder (created if missing).
        #[arg(long)]
        db: PathBuf,
        /// Files, folders or zip archives to read.
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Match an SBOM against the database and assess each finding. Exit 0 when no finding
    /// is relevant, 1 when one is relevant or needs review, 2 on error.
    Scan {
        #[command(flatten)]
        input: ScanInput,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export the findings judged not relevant as VEX.
    Vex {
        #[command(flatten)]
        input: ScanInput,
        /// The VEX format.
        #[arg(long)]
        format: VexFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ScanInput {
    /// The database folder.
    #[arg(long)]
    db: PathBuf,
    /// The device's CycloneDX SBOM (JSON).
    #[arg(long)]
    sbom: PathBuf,
    /// The device model's context, TOML: `model = "…"`, `criticality = "life-sustaining" |
    /// "high" | "medium" | "low"`, `network_exposed = true|false`.
    #[arg(long, value_name = "DEVICE.toml")]
    context: Option<PathBuf>,
    /// CISA Known Exploited Vulnerabilities catalogue (JSON).
    #[arg(long)]
    kev: Option<PathBuf>,
    /// EPSS scores (FIRST's CSV).
    #[arg(long)]
    epss: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VexFormat {
    /// CSAF 2.0 VEX profile.
    Csaf,
    /// CycloneDX 1.5 VEX.
    Cyclonedx,
}

pub fn run(cmd: VulnCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VulnCommand::Ingest { db, sources, json } => ingest(&db, &sources, json),
        VulnCommand::Scan { input, json } => {
            let findings = scan(&input)?;
            let found = findings
                .iter()
                .any(|f| f.relevance != Relevance::NotRelevant);
            if json {
                super::print_json(&findings)?;
            } else {
                print_findings(&findings);
            }
            Ok(if found {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        VulnCommand::Vex { input, format, out } => {
            let findings = scan(&input)?;
            let now = time::OffsetDateTime::now_utc();
            let doc = match format {
                VexFormat::Csaf => {
                    let id = format!(
                        "medguard-vex-{}",
                        input
                            .sbom
                            .file_stem()
                            .map(|s| s.to_string_lossy())
                            .unwrap_or_default()
                    );
                    medguard_advisory::vex::csaf_vex(&findings, "medguard", &id, now)
                }
                VexFormat::Cyclonedx => medguard_advisory::vex::cyclonedx_vex(&findings, now),
            };
            match out {
                Some(path) => {
                    let bytes = serde_json::to_vec_pretty(&doc)?;
                    std::fs::write(&path, bytes)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => super::print_json(&doc)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn ingest(db: &Path, sources: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut database =
        Database::open(db).with_context(|| format!("opening database {}", db.display()))?;
    let count = Arc::new(AtomicU64::new(0));
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("reading advisories");
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    });
    let counter = count.clone();
    let shown = bar.clone();
    let parsed = medguard_advisory::read_sources(sources, &move || {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(500)
            && let Some(b) = &shown
        {
            b.set_message(format!("{n} advisories read"));
        }
    })?;
    if let Some(b) = &bar {
        b.set_message(format!("storing {} advisories", parsed.len()));
    }
    let report = database.ingest(parsed)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        super::print_json(&report)?;
    } else {
        // Written, not printed: a reader that closes the pipe early (`| head`) ends the
        // output quietly instead of panicking in `println!`.
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{} added, {} updated, {} unchanged, {} stale (older than stored), {} rejected; {} advisories in {}",
            report.added,
            report.updated,
            report.unchanged,
            report.stale,
            report.rejected.len(),
            database.len(),
            db.display()
        )?;
        let undetermined: Vec<String> = report
            .ranges
            .undetermined
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        writeln!(
            out,
            "version ranges: {} ordered, {} undetermined{}",
            report.ranges.ordered,
            report.ranges.undetermined_total(),
            if undetermined.is_empty() {
                String::new()
            } else {
                format!(" ({})", undetermined.join("; "))
            }
        )?;
        for r in &report.rejected {
            match &r.pointer {
                Some(p) => writeln!(out, "rejected {} at {p}: {}", r.origin, r.reason)?,
                None => writeln!(out, "rejected {}: {}", r.origin, r.reason)?,
            }
        }
        for (origin, id, p) in &report.problems {
            writeln!(
                out,
                "problem {id} ({origin}) at {}: {}",
                p.pointer, p.reason
            )?;
        }
    }
    // As `audit append` does for lines: a refused input is worth a non-zero exit even though
    // the others were stored, so a script notices it; errors (exit 2) stop before this.
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn scan(input: &ScanInput) -> anyhow::Result<Vec<Finding>> {
    let database = Database::open(&input.db)
        .with_context(|| format!("opening database {}", input.db.display()))?;
    let sbom = medguard_inventory::read_sbom(&input.sbom)
        .with_context(|| format!("reading SBOM {}", input.sbom.display()))?;
    let device = match &input.context {
        Some(path) => DeviceContext::load(path)?,
        None => DeviceContext::default(),
    };
    let mut signals = ExploitSignals::default();
    if let Some(path) = &input.kev {
        signals.load_kev(path)?;
    }
    if let Some(path) = &input.epss {
        signals.load_epss(path)?;
    }
    medguard_advisory::scan(&database, &sbom, &device, &signals)
        .with_context(|| format!("scanning {}", input.sbom.display()))
}

fn print_findings(findings: &[Finding]) {
    if findings.is_empty() {
        println!("no findings");
        return;
    }
    for f in findings {
        let relevance = match f.relevance {
            Relevance::Relevant => "relevant",
            Relevance::NotRelevant => "not relevant",
            Relevance::NeedsReview => "needs review",
        };
        let aliases = if f.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", f.aliases.join(", "))
        };
        println!(
            "{} {} — {}{aliases}: {relevance}, priority {:?}",
            f.component.name, f.component.version, f.advisory, f.priority
        );
        println!("  affected: {}", f.affected_range);
        if !f.fixed.is_empty() {
            println!("  fixed in: {}", f.fixed.join(", "));
        }
        if let Some(c) = &f.cvss {
            println!("  CVSS {:.1} {} {}", c.base_score, c.severity, c.vector);
        }
        for sentence in &f.rationale {
            println!("  - {sentence}");
        }
    }
    let relevant = findings
        .iter()
        .filter(|f| f.relevance == Relevance::Relevant)
        .count();
    let review = findings
        .iter()
        .filter(|f| f.relevance == Relevance::NeedsReview)
        .count();
    println!(
        "{} findings: {relevant} relevant, {review} need review, {} not relevant",
        findings.len(),
        findings.len() - relevant - review
    );
}
