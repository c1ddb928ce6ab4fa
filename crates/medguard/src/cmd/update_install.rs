//! `medguard update install`: refresh the TUF metadata, download the newest bundle for the
//! device's model (verified by TUF), then hand it to the same installer as `update apply`,
//! which checks the bundle's own Ed25519 signature, waits for clinical idle, and installs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, anyhow};
use clap::Args;
use medguard_digest::PublicKey;
use medguard_tuf::{FetchOptions, Timeouts};

use super::update::TargetArgs;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Base URL of the TUF repository (http://, https:// or file://).
    #[arg(long, value_name = "URL")]
    pub repo: String,
    /// The TUF root the device was provisioned with.
    #[arg(long, value_name = "ROOT.json")]
    pub trust: PathBuf,
    /// The device's cache of verified TUF metadata (keeps rollback protection between runs).
    #[arg(long, value_name = "DIR")]
    pub metadata_dir: PathBuf,
    /// Public key(s) trusted to sign bundles (NAME.pub): the installer still checks them.
    #[arg(long = "bundle-key", value_name = "NAME.pub", required = true)]
    pub bundle_keys: Vec<PathBuf>,
    /// Where the downloaded bundle is kept (default: METADATA_DIR/downloads).
    #[arg(long, value_name = "DIR")]
    pub download_dir: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let keys = args
        .bundle_keys
        .iter()
        .map(|k| PublicKey::load(k).with_context(|| format!("loading bundle key {}", k.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let download_dir = args
        .download_dir
        .clone()
        .unwrap_or_else(|| args.metadata_dir.join("downloads"));
    let fetched = medguard_tuf::fetch(&FetchOptions {
        repo_url: args.repo.clone(),
        trusted_root: args.trust.clone(),
        metadata_dir: args.metadata_dir.clone(),
        download_dir,
        model: args.target.model.clone(),
        now: SystemTime::now(),
        timeouts: Timeouts::default(),
    })
    .map_err(|e| anyhow!(e).context(format!("fetching the newest bundle from {}", args.repo)))?;
    if !args.target.json {
        println!(
            "{} version {} verified through TUF (root v{}, snapshot v{})",
            fetched.target, fetched.bundle_version, fetched.root_version, fetched.snapshot_version
        );
    }
    super::update::install_file(&fetched.path, &keys, &args.target)
}
