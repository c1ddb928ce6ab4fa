//! `medguard key`: Ed25519 key pairs shared by profiles, audit checkpoints and releases.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 pair: NAME.key (private, mode 0600) and NAME.pub.
    Generate {
        /// Path prefix of the pair; `.key` and `.pub` are appended.
        #[arg(long, value_name = "NAME")]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate { out, json } => {
            let (key, public, id) = medguard_digest::generate_key_pair(&out)
                .with_context(|| format!("generating key pair {}", out.display()))?;
            if json {
                super::print_json(&serde_json::json!({
                    "key": key, "public": public, "key_id": id.to_string(),
                }))?;
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(out, "private key {} (keep it secret)", key.display())?;
                writeln!(out, "public key  {}", public.display())?;
                writeln!(out, "key id      {id}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
