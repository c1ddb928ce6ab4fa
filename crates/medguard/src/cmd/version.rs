//! `medguard version compare`: one version question, answered as the ecosystem's own tool
//! would (dpkg, rpm, packaging, semver, Maven, apk, Gem::Version, NuGet).

use std::cmp::Ordering;
use std::process::ExitCode;

use clap::Subcommand;
use medguard_versions::Scheme;

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Compare two versions; prints `<`, `=` or `>`.
    Compare {
        /// The ordering: deb, rpm, semver, pep440, maven, apk, gem, nuget or generic.
        #[arg(long)]
        scheme: Scheme,
        /// The left-hand version.
        #[arg(allow_hyphen_values = true)]
        a: String,
        /// The right-hand version.
        #[arg(allow_hyphen_values = true)]
        b: String,
    },
}

pub fn run(cmd: VersionCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VersionCommand::Compare { scheme, a, b } => {
            let sign = match medguard_versions::compare(scheme, &a, &b)? {
                Ordering::Less => "<",
                Ordering::Equal => "=",
                Ordering::Greater => ">",
            };
            println!("{sign}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
