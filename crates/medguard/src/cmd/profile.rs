//! `medguard profile`.
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {}

pub fn run(cmd: ProfileCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
