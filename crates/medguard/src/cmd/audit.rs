//! `medguard audit`: placeholder, filled by issue 3.
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {}

pub fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
