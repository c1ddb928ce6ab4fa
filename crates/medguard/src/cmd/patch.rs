//! `medguard patch`: the patch record for auditors: export a record from a server's data
//! directory as a signed document, and verify one offline with the server's public key.
//! Parsing and printing only: the work is `medguard-server`'s and `medguard-patch`'s.
//!
//! Exit codes of `verify`: 0 the export and every signature in it verify, 1 they do not (an
//! altered byte, an untrusted key, a void or forged signature), 2 error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use medguard_digest::PublicKey;
use medguard_patch::SignatureStatus;
use medguard_server::DataDir;

#[derive(Debug, Subcommand)]
pub enum PatchCommand {
    /// Export a patch record, signed by the server, for auditors.
    Export {
        /// The server's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The record's id (PR-0001).
        id: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an exported record offline: the server's signature over every byte, then each
    /// electronic signature. Exit 0 verified, 1 not, 2 error.
    Verify {
        /// The exported record.
        file: PathBuf,
        /// The server's public key (DIR/keys/server.pub).
        #[arg(long = "trust", value_name = "SERVER.pub", required = true)]
        trust: Vec<PathBuf>,
        /// Print the record and the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: PatchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PatchCommand::Export { data, id, out } => {
            let dir = DataDir::new(&data);
            let bytes = super::server::runtime()?
                .block_on(medguard_server::host::export_patch_record(&dir, &id))?;
            medguard_host::write_bytes_atomically(&out, 0o644, &bytes)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("{id} exported to {} ({} bytes)", out.display(), bytes.len());
            Ok(ExitCode::SUCCESS)
        }
        PatchCommand::Verify { file, trust, json } => {
            let keys = trust
                .iter()
                .map(|k| PublicKey::load(k).with_context(|| format!("loading key {}", k.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let verified = match medguard_patch::verify_export(&bytes, &keys) {
                Ok(v) => v,
                Err(e) => {
                    if json {
                        super::print_json(&serde_json::json!({
                            "verified": false,
                            "reason": e.to_string(),
                        }))?;
                    } else {
                        println!("NOT VERIFIED: {}: {e}", file.display());
                    }
                    return Ok(ExitCode::from(1));
                }
            };
            let all_valid = verified
                .signatures
                .iter()
                .all(|c| c.status == SignatureStatus::Valid);
            if json {
                super::print_json(&serde_json::json!({
                    "verified": all_valid,
                    "exported_by": verified.exported_by,
                    "record": verified.record,
                    "signatures": verified.signatures,
                }))?;
            } else {
                let r = &verified.record;
                println!(
                    "{}: {} ({}), exported by server key {}",
                    r.id,
                    r.title,
                    r.state.as_str(),
                    verified.exported_by
                );
                for c in &verified.signatures {
                    let s = &c.signature;
                    let status = match &c.status {
                        SignatureStatus::Valid => "valid".to_owned(),
                        SignatureStatus::Void(why) => format!("VOID: {why}"),
                        SignatureStatus::Forged(why) => format!("FORGED: {why}"),
                    };
                    println!(
                        "  signed {} by {} at {}: {status}",
                        s.meaning.as_str(),
                        s.signer.printed_name,
                        s.signed_at
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    );
                }
                println!(
                    "{}",
                    if all_valid {
                        "verified: the record is as the server exported it and every signature holds"
                    } else {
                        "NOT VERIFIED: a signature does not hold"
                    }
                );
            }
            Ok(if all_valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
