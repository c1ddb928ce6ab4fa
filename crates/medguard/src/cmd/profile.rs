//! `medguard profile`: create, verify, diff and export signed system profiles.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::Table;
use medguard_digest::SigningKey;
use medguard_host::Clock as _;
use medguard_profile::{
    Baseline, CreateOptions, Progress, Report, Rules, WalkOptions, display_path,
};

use super::ProfileTrustArgs as TrustArgs;
use crate::progress::ProgressLine;

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Record the complete directory structure of ROOT as a (signed) system profile.
    Create {
        /// The tree to profile.
        root: PathBuf,
        /// Where to write the profile.
        #[arg(long)]
        out: PathBuf,
        /// Sign with this private key (NAME.key from `medguard key generate`).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Rules file (TOML) choosing skipped paths and checked attributes.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Record SHA-256 digests besides BLAKE3 (needed for mtree export).
        #[arg(long)]
        sha256: bool,
        #[command(flatten)]
        walk: WalkArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare ROOT with a signed profile (or an mtree spec). Exit 0 clean, 1 deviations, 2 error.
    Verify {
        /// The tree to verify.
        root: PathBuf,
        /// The signed profile.
        #[arg(long, required_unless_present = "mtree", conflicts_with = "mtree")]
        profile: Option<PathBuf>,
        /// A BSD mtree spec (as `bsdtar --format=mtree` or `mtree -c` write) instead of a profile.
        #[arg(long)]
        mtree: Option<PathBuf>,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        walk: WalkArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two profiles. Exit 0 identical, 1 different, 2 error.
    Diff {
        /// The earlier profile (its rules decide what is compared).
        old: PathBuf,
        /// The later profile.
        new: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a profile in another format.
    Export {
        /// The signed profile.
        #[arg(long)]
        profile: PathBuf,
        /// The output format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// BSD mtree spec, read by bsdtar and mtree.
    Mtree,
}

#[derive(Debug, Args)]
pub struct WalkArgs {
    /// Stay on the file system of ROOT.
    #[arg(long)]
    one_file_system: bool,
}

impl WalkArgs {
    fn options(&self) -> WalkOptions {
        WalkOptions {
            one_file_system: self.one_file_system,
        }
    }
}

pub fn run(cmd: ProfileCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfileCommand::Create {
            root,
            out,
            key,
            rules,
            sha256,
            walk,
            json,
        } => create(
            &root,
            &out,
            key.as_deref(),
            rules.as_deref(),
            sha256,
            &walk,
            json,
        ),
        ProfileCommand::Verify {
            root,
            profile,
            mtree,
            trust,
            walk,
            json,
        } => {
            let (baseline, label) = match (profile, mtree) {
                (Some(p), _) => {
                    let verified = trust.load(&p)?;
                    (Baseline::from_profile(verified), p)
                }
                (None, Some(m)) => (load_mtree(&m)?, m),
                (None, None) => bail!("give --profile or --mtree"),
            };
            let progress = Arc::new(Progress::default());
            let started = Instant::now();
            let report = {
                let _line = ProgressLine::start("verifying", progress.clone());
                medguard_profile::verify_tree(&root, &baseline, walk.options(), &progress)?
            };
            super::exit_after_printing(
                exit_for(&report),
                print_report(&report, json, &label, started),
            )
        }
        ProfileCommand::Diff {
            old,
            new,
            trust,
            json,
        } => {
            let old_p = trust.load(&old)?;
            let new_p = trust.load(&new)?;
            let started = Instant::now();
            let report = medguard_profile::diff(&Baseline::from_profile(old_p), new_p.profile());
            super::exit_after_printing(
                exit_for(&report),
                print_report(&report, json, &old, started),
            )
        }
        ProfileCommand::Export {
            profile,
            format: ExportFormat::Mtree,
            out,
            trust,
        } => {
            let verified = trust.load(&profile)?;
            let (text, has_sha256) = medguard_profile::mtree::export(&verified);
            if !has_sha256 {
                eprintln!(
                    "medguard: note: the profile has no SHA-256 digests (create it with --sha256), \
                     so the mtree spec checks metadata only"
                );
            }
            match out {
                Some(path) => medguard_host::write_bytes_atomically(&path, 0o644, text.as_bytes())?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create(
    root: &Path,
    out: &Path,
    key: Option<&Path>,
    rules: Option<&Path>,
    sha256: bool,
    walk: &WalkArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // Load the key before the walk: a wrong key path should fail in a second, not after
    // an hour of hashing.
    let key = key
        .map(|k| {
            SigningKey::load(k).with_context(|| format!("loading signing key {}", k.display()))
        })
        .transpose()?;
    let rules = rules
        .map(medguard_profile::load_rules)
        .transpose()?
        .unwrap_or_else(Rules::default);
    let created_unix = medguard_host::SystemClock.now().unix_timestamp();
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let (profile, problems) = {
        let _line = ProgressLine::start("profiling", progress.clone());
        medguard_profile::create(
            root,
            CreateOptions {
                rules,
                sha256,
                walk: walk.options(),
                created_unix,
            },
            &progress,
        )?
    };
    medguard_profile::write_profile(out, &profile, key.as_ref())?;
    let elapsed = started.elapsed();
    let signer = key.as_ref().map(|k| k.public_key().id().to_string());
    if json {
        super::print_json(&serde_json::json!({
            "profile": out,
            "entries": profile.entries.len(),
            "bytes_hashed": progress.bytes(),
            "seconds": elapsed.as_secs_f64(),
            "signed_by": signer,
            "problems": problems,
        }))?;
    } else {
        for p in &problems {
            eprintln!(
                "medguard: warning: {}: {}",
                display_path(&p.path),
                p.problem
            );
        }
        writeln!(
            std::io::stdout().lock(),
            "{}: {} entries, {} hashed in {:.2}s, {}",
            out.display(),
            profile.entries.len(),
            indicatif::HumanBytes(progress.bytes()),
            elapsed.as_secs_f64(),
            signer.map_or_else(
                || "UNSIGNED (give --key to sign it)".to_owned(),
                |s| format!("signed by key {s}")
            )
        )?;
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn load_mtree(path: &Path) -> anyhow::Result<Baseline> {
    let spec = medguard_profile::load_mtree(path)?;
    eprintln!(
        "medguard: note: an mtree spec carries no signature: {} is trusted as it is",
        path.display()
    );
    if !spec.unchecked().is_empty() {
        let names: Vec<&str> = spec.unchecked().iter().map(String::as_str).collect();
        eprintln!(
            "medguard: note: mtree keywords not checked: {}",
            names.join(", ")
        );
    }
    Ok(spec.into_baseline())
}

fn exit_for(report: &Report) -> ExitCode {
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Rows shown in the human report before pointing at `--json`.
const TABLE_ROWS: usize = 40;

fn print_report(
    report: &Report,
    json: bool,
    baseline: &Path,
    started: Instant,
) -> anyhow::Result<()> {
    if json {
        return super::print_json(report);
    }
    let mut out = std::io::stdout().lock();
    let s = &report.summary;
    if !report.deviations.is_empty() {
        let mut table = Table::new();
        table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_header(vec!["", "path", "what differs"]);
        for d in report.deviations.iter().take(TABLE_ROWS) {
            let what = d
                .attributes
                .iter()
                .map(|a| match d.details.get(a) {
                    Some(c) if !matches!(a, medguard_profile::Attribute::Content) => {
                        format!("{a} {} -> {}", c.expected, c.actual)
                    }
                    _ => a.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let kind = match d.kind {
                medguard_profile::DeviationKind::Added => "added",
                medguard_profile::DeviationKind::Removed => "removed",
                medguard_profile::DeviationKind::Changed => "changed",
            };
            table.add_row(vec![kind.to_owned(), display_path(&d.path), what]);
        }
        writeln!(out, "{table}")?;
        if report.deviations.len() > TABLE_ROWS {
            writeln!(
                out,
                "... and {} more (use --json for all)",
                report.deviations.len() - TABLE_ROWS
            )?;
        }
    }
    for p in &report.unverifiable {
        writeln!(
            out,
            "unverifiable  {}: {}",
            display_path(&p.path),
            p.problem
        )?;
    }
    writeln!(
        out,
        "{}: {} added, {} removed, {} changed, {} unverifiable ({} expected, {} found, {} hashed, {:.2}s) against {}",
        if report.is_clean() {
            "CLEAN"
        } else {
            "DEVIATIONS"
        },
        s.added,
        s.removed,
        s.changed,
        s.unverifiable,
        s.expected_entries,
        s.actual_entries,
        indicatif::HumanBytes(s.bytes_hashed),
        started.elapsed().as_secs_f64(),
        baseline.display()
    )?;
    Ok(())
}
