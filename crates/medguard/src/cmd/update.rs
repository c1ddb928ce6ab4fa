//! `medguard update`: install a patch bundle transactionally, show the last result,
//! recover an interrupted install.
//!
//! Exit codes of `apply` (and `install`): 0 installed (or already installed), 1 not
//! installed (refused before anything was touched, or rolled back after a failure),
//! 2 error, 3 deferred (the device is in clinical use or outside its maintenance window;
//! nothing was touched).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use medguard_audit::{AuditWriter, WriterOptions};
use medguard_digest::PublicKey;
use medguard_update::{
    ApplyRequest, Recovered, SystemClock, WaitPolicy, apply_bundle, read_status, recover,
};

/// Where journal, staging, status record and the current profile live by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/medguard/update";

#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
    /// Install a bundle from local media. Exit 0 installed, 1 refused or rolled back,
    /// 2 error, 3 deferred for clinical use.
    Apply {
        /// The bundle file.
        bundle: PathBuf,
        /// Public key(s) trusted to sign bundles (NAME.pub).
        #[arg(long = "trust", value_name = "NAME.pub", required = true)]
        trust: Vec<PathBuf>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Download the newest bundle for this device through TUF and install it like apply.
    /// Same exit codes as apply.
    Install(super::update_install::InstallArgs),
    /// Show the result of the last install and whether one was interrupted.
    Status {
        /// The state dir.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Finish or undo an interrupted install, and nothing else (apply does this first
    /// anyway). Exit 0 nothing to do or completed, 1 rolled back.
    Recover {
        /// The state dir.
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where and when to install: shared by `apply` and `install`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The device's root directory.
    #[arg(long)]
    pub root: PathBuf,
    /// The device's model, checked against the bundle's target models.
    #[arg(long)]
    pub model: Option<String>,
    #[command(flatten)]
    pub clinical: super::clinical::ClinicalArgs,
    /// Wait up to this long for the device to become idle and its window to open (`30m`,
    /// `2h`; default: exit at once with status 3).
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    pub wait: Option<Duration>,
    /// Journal, staging, status record and current profile; must be on the root's file
    /// system.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Append audit events to this audit log directory.
    #[arg(long, value_name = "DIR")]
    pub audit_log: Option<PathBuf>,
    /// Print the status record as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: UpdateCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UpdateCommand::Apply {
            bundle,
            trust,
            target,
        } => {
            let keys = trust
                .iter()
                .map(|k| {
                    PublicKey::load(k)
                        .with_context(|| format!("loading trusted key {}", k.display()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            install_file(&bundle, &keys, &target)
        }
        UpdateCommand::Install(args) => super::update_install::run(args),
        UpdateCommand::Status { state_dir, json } => status(&state_dir, json),
        UpdateCommand::Recover { state_dir, json } => {
            let r = recover(&state_dir, None)?;
            if json {
                super::print_json(&r)?;
            } else {
                println!(
                    "{}",
                    match &r {
                        None => "nothing to recover".to_owned(),
                        Some(Recovered::DiscardedStaging) => {
                            "discarded staged content of an install that had not started".to_owned()
                        }
                        Some(Recovered::Completed { version }) => {
                            format!("completed the committed install of {version}")
                        }
                        Some(Recovered::RolledBack {
                            version,
                            old_tree_clean,
                        }) => format!(
                            "rolled back the interrupted install of {version}; the tree {} the old profile",
                            if *old_tree_clean {
                                "verifies against"
                            } else {
                                "DEVIATES from"
                            }
                        ),
                    }
                );
            }
            Ok(match r {
                Some(Recovered::RolledBack { .. }) => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            })
        }
    }
}

/// Installs a bundle file that is already on this machine (from local media, or
/// downloaded and verified through TUF by `update install`), prints the one-line result or
/// the JSON status record, and returns the exit status.
pub fn install_file(
    bundle: &Path,
    keys: &[PublicKey],
    target: &TargetArgs,
) -> anyhow::Result<ExitCode> {
    let gate = target.clinical.gate();
    let audit = target
        .audit_log
        .as_deref()
        .map(|dir| {
            AuditWriter::open(dir, WriterOptions::default())
                .with_context(|| format!("opening audit log {}", dir.display()))
        })
        .transpose()?;
    let clock = SystemClock;
    let run = apply_bundle(&ApplyRequest {
        bundle,
        trust: keys,
        root: &target.root,
        model: target.model.as_deref(),
        gate: &gate,
        policy: target.wait.map_or(WaitPolicy::Exit, WaitPolicy::WaitUpTo),
        state_dir: &target.state_dir,
        clock: &clock,
        audit: audit.as_ref(),
        observer: None,
    });
    if let Some(a) = audit {
        a.close().context("closing the audit log")?;
    }
    // What the run could not record goes to stderr whatever the output format (the JSON
    // record carries it too).
    for w in &run.warnings {
        eprintln!("medguard: warning: {w}");
    }
    let record = run.status;
    if target.json {
        super::print_json(&record)?;
        return Ok(ExitCode::from(record.exit_code));
    }
    match run.result {
        // Operational errors go through main: printed on stderr, exit status 2.
        Err(e) if !e.is_refusal() => Err(e.into()),
        _ => {
            println!("{}", record.message);
            Ok(ExitCode::from(record.exit_code))
        }
    }
}

fn status(state_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let status = read_status(state_dir)?;
    if json {
        super::print_json(&status)?;
    } else {
        match &status.last {
            Some(r) => println!("last run {}: {}", r.time, r.message),
            None => println!("no install has run with state dir {}", state_dir.display()),
        }
        for w in status.last.iter().flat_map(|r| &r.warnings) {
            println!("  warning: {w}");
        }
        if status.interrupted_install {
            println!(
                "an interrupted install is pending: the next apply (or update recover) finishes or undoes it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
