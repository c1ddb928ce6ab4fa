//! One module per subcommand group.

pub mod allowlist;
pub mod audit;
pub mod bundle;
pub mod clinical;
pub mod cvss;
pub mod key;
pub mod profile;
pub mod repo;
pub mod sbom;
pub mod scan;
pub mod update;
pub mod update_install;
pub mod version;
pub mod vuln;

use std::io::Write as _;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // An io::Error (a closed pipe) stays an io::Error so main can recognise it.
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}
