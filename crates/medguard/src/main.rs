//! The `medguard` command. Each subcommand parses its arguments, calls one library, and
//! prints the result as text or JSON. No domain logic lives here.
//!
//! Exit codes follow ripgrep's convention: 0 nothing found (clean), 1 something found
//! (deviations, tampering, alerts), 2 error.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod progress;

#[derive(Debug, Parser)]
#[command(name = "medguard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ed25519 signing keys.
    #[command(subcommand)]
    Key(cmd::key::KeyCommand),
    /// Signed system profiles: the validated directory structure of a device.
    #[command(subcommand)]
    Profile(cmd::profile::ProfileCommand),
    /// The tamper-evident audit trail and its forwarding to the hospital's collectors.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Whether the device is in clinical use and inside its maintenance window.
    #[command(subcommand)]
    Clinical(cmd::clinical::ClinicalCommand),
    /// Signed patch bundles: create and inspect.
    #[command(subcommand)]
    Bundle(cmd::bundle::BundleCommand),
    /// The patch record for auditors: export it signed, verify it offline.
    #[command(subcommand)]
    Patch(cmd::patch::PatchCommand),
    /// Install patch bundles transactionally, outside clinical use.
    #[command(subcommand)]
    Update(cmd::update::UpdateCommand),
    /// The vendor's TUF repository that delivers bundles to devices.
    #[command(subcommand)]
    Repo(cmd::repo::RepoCommand),
    /// Version ordering, exact for each packaging ecosystem.
    #[command(subcommand)]
    Version(cmd::version::VersionCommand),
    /// Advisories: ingest, scan an SBOM with a risk assessment, export VEX.
    #[command(subcommand)]
    Vuln(cmd::vuln::VulnCommand),
    /// Scores and severity of a CVSS v3.0, v3.1 or v4.0 vector.
    Cvss(cmd::cvss::CvssArgs),
    /// The inventory of the device's off-the-shelf software as CycloneDX or SPDX.
    #[command(subcommand)]
    Sbom(cmd::sbom::SbomCommand),
    /// Listening network services, with their process and package; with --allowed, those a
    /// signed declaration does not allow (exit 1).
    Services(cmd::sbom::ServicesArgs),
    /// Scan files with YARA rules and ClamAV hash lists, yielding to clinical work.
    /// Exit 0 clean, 1 found, 2 error.
    Scan(cmd::scan::ScanArgs),
    /// Executable allowlists from signed profiles, enforced by the kernel (fanotify).
    #[command(subcommand)]
    Allowlist(cmd::allowlist::AllowlistCommand),
    /// The device agent: enroll with a fleet server, report to it, simulate a fleet.
    #[command(subcommand)]
    Agent(cmd::agent::AgentCommand),
    /// The fleet server: every device's security status, over HTTPS.
    #[command(subcommand)]
    Server(cmd::server::ServerCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(c) => cmd::key::run(c),
        Command::Profile(c) => cmd::profile::run(c),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Clinical(c) => cmd::clinical::run(c),
        Command::Bundle(c) => cmd::bundle::run(c),
        Command::Patch(c) => cmd::patch::run(c),
        Command::Update(c) => cmd::update::run(c),
        Command::Repo(c) => cmd::repo::run(c),
        Command::Version(c) => cmd::version::run(c),
        Command::Vuln(c) => cmd::vuln::run(c),
        Command::Cvss(c) => cmd::cvss::run(c),
        Command::Sbom(c) => cmd::sbom::run(c),
        Command::Services(a) => cmd::sbom::services(&a),
        Command::Scan(c) => cmd::scan::run(c),
        Command::Allowlist(c) => cmd::allowlist::run(c),
        Command::Agent(c) => cmd::agent::run(c),
        Command::Server(c) => cmd::server::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("medguard: error: {}", describe(&err));
            ExitCode::from(2)
        }
    }
}

/// Whether `err`, or any error in its cause chain, is a write to a closed pipe: the reader
/// went away (`| head`), which is not an error (ripgrep's rule).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line. Library errors often show their cause in their own
/// message already; a cause is added only when its text is not there yet.
fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}
