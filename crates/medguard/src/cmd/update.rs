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

use anyhow::{Context as _, anyhow};
use clap::{Args, Subcommand};
use medguard_audit::{AuditWriter, WriterOptions};
use medguard_clinical::{ClinicalGate, ClinicalStateSource, MaintenanceWindow};
use medguard_digest::PublicKey;
use medguard_update::{
    ApplyRequest, Recovered, StatusRecord, SystemClock, WaitPolicy, apply_bundle, recover,
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
    /// Clinical state provider: file:PATH (holding idle or in-use), socket:PATH, or
    /// cmd:COMMAND (exit 0 means idle).
    #[arg(long, value_name = "SPEC")]
    pub clinical_state: Option<String>,
    /// Maintenance window, e.g. "Mon-Fri 22:00-06:00 +01:00".
    #[arg(long, value_name = "SPEC")]
    pub window: Option<String>,
    /// Wait up to this many seconds for the device to become idle (default: exit at once
    /// with status 3).
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
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
    let source = target
        .clinical_state
        .as_deref()
        .map(|s| {
            s.parse::<ClinicalStateSource>()
                .map_err(|e| anyhow!("--clinical-state {s:?}: {e}"))
        })
        .transpose()?;
    let window = target
        .window
        .as_deref()
        .map(|s| {
            s.parse::<MaintenanceWindow>()
                .map_err(|e| anyhow!("--window {s:?}: {e}"))
        })
        .transpose()?;
    let gate = ClinicalGate::new(source, window);
    let audit = target
        .audit_log
        .as_deref()
        .map(|dir| {
            AuditWriter::open(dir, WriterOptions::default())
                .with_context(|| format!("opening audit log {}", dir.display()))
        })
        .transpose()?;
    let clock = SystemClock;
    let result = apply_bundle(&ApplyRequest {
        bundle,
        trust: keys,
        root: &target.root,
        model: target.model.as_deref(),
        gate: &gate,
        policy: target.wait.map_or(WaitPolicy::Exit, |s| {
            WaitPolicy::WaitUpTo(Duration::from_secs(s))
        }),
        state_dir: &target.state_dir,
        clock: &clock,
        audit: audit.as_ref(),
        observer: None,
    });
    if let Some(a) = audit {
        a.close().context("closing the audit log")?;
    }
    let record = StatusRecord::new(bundle, time::OffsetDateTime::now_utc(), &result);
    if target.json {
        super::print_json(&record)?;
        return Ok(ExitCode::from(record.exit_code));
    }
    match result {
        // Operational errors go through main: printed on stderr, exit status 2.
        Err(e) if !e.is_refusal() => Err(e.into()),
        _ => {
            println!("{}", record.message);
            Ok(ExitCode::from(record.exit_code))
        }
    }
}

fn status(state_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let path = state_dir.join("status.json");
    let interrupted = state_dir.join("txn").join("journal").exists();
    let record: Option<serde_json::Value> = match std::fs::read(&path) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if json {
        super::print_json(&serde_json::json!({
            "last": record,
            "interrupted_install": interrupted,
            "profile": state_dir.join("profile").exists().then(|| state_dir.join("profile")),
        }))?;
    } else {
        match &record {
            Some(r) => println!(
                "last run {}: {}",
                r.get("time").and_then(|t| t.as_str()).unwrap_or("?"),
                r.get("message").and_then(|t| t.as_str()).unwrap_or("?")
            ),
            None => println!("no install has run with state dir {}", state_dir.display()),
        }
        if interrupted {
            println!(
                "an interrupted install is pending: the next apply (or update recover) finishes or undoes it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
