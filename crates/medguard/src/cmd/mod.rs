//! One module per subcommand group.

pub mod agent;
pub mod allowlist;
pub mod audit;
pub mod bundle;
pub mod clinical;
pub mod cvss;
pub mod key;
pub mod mds2;
pub mod patch;
pub mod profile;
pub mod quickstart;
pub mod repo;
pub mod sbom;
pub mod scan;
pub mod server;
pub mod update;
pub mod update_install;
pub mod version;
pub mod vuln;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use medguard_profile::{UnsignedProfiles, VerifiedProfile};

/// Which keys make a signed system profile trusted (`profile`, `scan`).
#[derive(Debug, clap::Args)]
pub struct ProfileTrustArgs {
    /// Public key(s) whose signature makes a profile trusted (NAME.pub).
    #[arg(long = "trust", value_name = "NAME.pub")]
    keys: Vec<PathBuf>,
    /// Accept an unsigned or untrusted profile. For lab use only: nothing about the
    /// profile's origin or integrity is then checked.
    #[arg(long)]
    allow_unsigned: bool,
}

impl ProfileTrustArgs {
    /// Loads the profile at `path` (`medguard_profile::load_trusted`), saying loudly on
    /// standard error when unsigned profiles are accepted.
    pub fn load(&self, path: &Path) -> anyhow::Result<VerifiedProfile> {
        if self.keys.is_empty() && !self.allow_unsigned {
            anyhow::bail!(
                "no trusted key: give --trust NAME.pub (or --allow-unsigned, for lab use only)"
            );
        }
        let unsigned = if self.allow_unsigned {
            eprintln!(
                "medguard: WARNING: --allow-unsigned: the profile {} is used even if unsigned. \
                 Its origin and integrity are NOT checked. Never use this on a clinical device.",
                path.display()
            );
            UnsignedProfiles::AcceptForLabUse
        } else {
            UnsignedProfiles::Refuse
        };
        Ok(medguard_profile::load_trusted(path, &self.keys, unsigned)?)
    }
}

/// `code`, the verdict of a command, once its report is printed. A reader that went away
/// (`| head`) is not an error (nothing is printed about it), but it does not make the
/// verdict clean either: the exit status stays the verdict's.
pub fn exit_after_printing(
    code: ExitCode,
    printed: anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    match printed {
        Err(e) if crate::is_broken_pipe(&e) => Ok(code),
        other => other.map(|()| code),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // An io::Error (a closed pipe) stays an io::Error so main can recognise it.
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// A time as RFC 3339 (UTC), as every command prints times.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// A duration argument in `medguard-host`'s grammar (`30s`, `90m`, `12h`, `365d`, `1h30m`). A
/// bare number is refused with the spelling to use: commands once read it as days or as
/// seconds, and a silent guess here would change a key's lifetime or a wait a thousandfold.
pub(crate) fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{s:?} has no unit: write it with one, e.g. {s}s, {s}m, {s}h or {s}d"
        ));
    }
    medguard_host::parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::duration_arg;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(duration_arg("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(duration_arg("365d"), Ok(Duration::from_secs(365 * 86_400)));
        assert!(duration_arg("7w2x").is_err());
        assert!(duration_arg("").is_err());
    }

    /// Commands once read a bare number as days (`repo --expires`) or seconds (`update
    /// --wait`); it is refused now, saying what to write.
    #[test]
    fn a_bare_number_is_refused_with_the_spelling_to_use() {
        let e = duration_arg("7").unwrap_err();
        assert!(e.contains("7d") && e.contains("7s"), "{e}");
    }
}
