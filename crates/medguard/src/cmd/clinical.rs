//! `medguard clinical check`: asks the vendor's clinical-state provider and the maintenance
//! window whether intrusive work could start now, so a configuration can be tried before an
//! install or a scan relies on it.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use medguard_clinical::{ClinicalGate, ClinicalStateSource, MaintenanceWindow, Permission};

/// When intrusive work may start: the options of every command that asks the clinical gate
/// (`clinical check`, `update apply`, `update install`), defined once.
#[derive(Debug, Clone, Args)]
pub struct ClinicalArgs {
    /// The clinical-state provider: file:PATH (holding idle or in-use), socket:PATH,
    /// cmd:COMMAND (exit 0 means idle), or lock:PATH (an flock the clinical software holds
    /// while in use; an install holds it itself until done).
    #[arg(long, value_name = "SPEC")]
    pub clinical_state: Option<ClinicalStateSource>,
    /// The maintenance window, e.g. "Mon-Fri 22:00-06:00 +01:00" or "always".
    #[arg(long, value_name = "SPEC")]
    pub window: Option<MaintenanceWindow>,
}

impl ClinicalArgs {
    /// The gate these options describe (open when neither is given).
    pub fn gate(&self) -> ClinicalGate {
        ClinicalGate::new(self.clinical_state.clone(), self.window.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum ClinicalCommand {
    /// Whether intrusive work may start now: exit 0 yes, 1 no (with the reason), 2 error.
    Check {
        #[command(flatten)]
        clinical: ClinicalArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ClinicalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ClinicalCommand::Check { clinical, json } => {
            let gate = clinical.gate();
            let permission = gate.permits(time::OffsetDateTime::now_utc());
            let (allowed, reason) = match &permission {
                Permission::Granted => (true, None),
                Permission::Refused(refusal) => (false, Some(refusal.to_string())),
            };
            if json {
                super::print_json(&serde_json::json!({
                    "may_start": allowed,
                    "reason": reason,
                    "clinical_state": gate.source().map(ToString::to_string),
                    "window": gate.window().map(ToString::to_string),
                }))?;
            } else if let Some(reason) = reason {
                println!("intrusive work may not start: {reason}");
            } else if gate.is_open() {
                println!(
                    "intrusive work may start: no clinical-state provider or window is configured"
                );
            } else {
                println!("intrusive work may start now");
            }
            Ok(if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
