//! `medguard repo`: the vendor's TUF repository (init, add, publish, rotate-key) and a
//! device-side `fetch` that only downloads and verifies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use medguard_tuf::{
    AddOptions, FetchOptions, InitOptions, PublishOptions, RepoKeys, RoleKey, RotateOptions,
    Timeouts,
};

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a TUF repository in DIR (root version 1 and an empty first publish).
    Init {
        dir: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
        /// Signatures required for every top-level role (give that many keys per role).
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        /// How long the root stays valid: 365d, 12h, 90m, 1h30m.
        #[arg(long, default_value = "365d", value_parser = super::duration_arg)]
        expires: Duration,
        #[command(flatten)]
        expiry: ExpiryArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stage bundles for the next publish, one target per device model. With --bundle-key the
    /// bundle's signature is checked first and its version and models come from its manifest.
    Add {
        dir: PathBuf,
        /// Bundle files.
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// Device model(s) the bundles are for; each gets its own delegated role.
        #[arg(long = "model", value_name = "MODEL")]
        models: Vec<String>,
        /// The bundles' version, recorded in the target's custom metadata.
        #[arg(long, value_name = "VERSION")]
        bundle_version: Option<String>,
        /// The vendor's bundle signing key (NAME.pub): refuse bundles it did not sign.
        #[arg(long, value_name = "NAME.pub")]
        bundle_key: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign and write a new consistent snapshot with everything staged.
    Publish {
        dir: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        expiry: ExpiryArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a role's key in a new root version signed by the old and the new root keys.
    RotateKey {
        dir: PathBuf,
        /// root, targets, snapshot or timestamp.
        #[arg(long)]
        role: String,
        /// The key being replaced (NAME.key).
        #[arg(long)]
        old: PathBuf,
        /// The replacement (NAME.key).
        #[arg(long)]
        new: PathBuf,
        /// Root keys to sign the new root with, besides --old/--new when they are root keys.
        #[arg(long = "root-key", value_name = "NAME.key")]
        root_keys: Vec<PathBuf>,
        /// How long the new root stays valid.
        #[arg(long, default_value = "365d", value_parser = super::duration_arg)]
        expires: Duration,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh TUF metadata and download the newest bundle for a model, verified (no install).
    Fetch {
        /// Base URL of the repository (http://, https:// or file://).
        #[arg(long)]
        repo: String,
        /// The root the device trusts (ROOT.json, e.g. the repository's 1.root.json).
        #[arg(long, value_name = "ROOT.json")]
        trust: PathBuf,
        /// The device's cache of verified metadata.
        #[arg(long)]
        metadata_dir: PathBuf,
        /// Where to write the bundle.
        #[arg(long)]
        out: PathBuf,
        /// The device model.
        #[arg(long)]
        model: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Signing keys: `--key` for every role (a lab), or per role (production).
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// One key (NAME.key) for every role.
    #[arg(long, value_name = "NAME.key")]
    key: Option<PathBuf>,
    #[arg(long = "root-key", value_name = "NAME.key")]
    root_key: Vec<PathBuf>,
    #[arg(long = "targets-key", value_name = "NAME.key")]
    targets_key: Vec<PathBuf>,
    #[arg(long = "snapshot-key", value_name = "NAME.key")]
    snapshot_key: Vec<PathBuf>,
    #[arg(long = "timestamp-key", value_name = "NAME.key")]
    timestamp_key: Vec<PathBuf>,
}

/// Expiry of what a publish signs.
#[derive(Debug, Args)]
pub struct ExpiryArgs {
    #[arg(long, default_value = "90d", value_parser = super::duration_arg)]
    targets_expires: Duration,
    #[arg(long, default_value = "30d", value_parser = super::duration_arg)]
    snapshot_expires: Duration,
    #[arg(long, default_value = "7d", value_parser = super::duration_arg)]
    timestamp_expires: Duration,
}

impl ExpiryArgs {
    fn at(&self, now: SystemTime) -> PublishOptions {
        PublishOptions {
            now,
            targets_expires: self.targets_expires,
            snapshot_expires: self.snapshot_expires,
            timestamp_expires: self.timestamp_expires,
        }
    }
}

fn load_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<RoleKey>> {
    paths
        .iter()
        .map(|p| RoleKey::load(p).with_context(|| format!("loading key {}", p.display())))
        .collect()
}

impl KeyArgs {
    fn load(&self, with_root: bool) -> anyhow::Result<RepoKeys> {
        let pick = |role: &str, specific: &[PathBuf]| -> anyhow::Result<Vec<RoleKey>> {
            if !specific.is_empty() {
                return load_keys(specific);
            }
            match &self.key {
                Some(k) => load_keys(std::slice::from_ref(k)),
                None => bail!("no key for the {role} role: give --key or --{role}-key"),
            }
        };
        Ok(RepoKeys {
            root: if with_root {
                pick("root", &self.root_key)?
            } else {
                Vec::new()
            },
            targets: pick("targets", &self.targets_key)?,
            snapshot: pick("snapshot", &self.snapshot_key)?,
            timestamp: pick("timestamp", &self.timestamp_key)?,
        })
    }
}

/// The release checks (`medguard_update::check_release`) as the repository's add options.
fn add_options(
    bundle: &Path,
    key: Option<&medguard_digest::PublicKey>,
    models: &[String],
    version: Option<&str>,
) -> anyhow::Result<AddOptions> {
    let release = medguard_update::check_release(&medguard_update::ReleaseRequest {
        bundle,
        key,
        models,
        version,
    })?;
    Ok(AddOptions {
        models: release.models,
        bundle_version: release.version,
        name: None,
    })
}

fn print_published(p: &medguard_tuf::Published, dir: &Path, json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(p);
    }
    println!(
        "{}: root v{}, targets v{}, snapshot v{}, timestamp v{}",
        dir.display(),
        p.root_version,
        p.targets_version,
        p.snapshot_version,
        p.timestamp_version
    );
    for (model, v) in &p.models {
        println!("  model {model}: v{v}");
    }
    for t in &p.added {
        println!("  published {t}");
    }
    Ok(())
}

pub fn run(cmd: RepoCommand) -> anyhow::Result<ExitCode> {
    let now = SystemTime::now();
    match cmd {
        RepoCommand::Init {
            dir,
            keys,
            threshold,
            expires,
            expiry,
            json,
        } => {
            let keys = keys.load(true)?;
            let p = medguard_tuf::init(
                &dir,
                &keys,
                &InitOptions {
                    threshold,
                    root_expires: expires,
                    publish: expiry.at(now),
                },
            )
            .with_context(|| format!("creating repository {}", dir.display()))?;
            print_published(&p, &dir, json)?;
            if !json {
                println!(
                    "devices trust {}",
                    dir.join("metadata/1.root.json").display()
                );
            }
        }
        RepoCommand::Add {
            dir,
            bundles,
            models,
            bundle_version,
            bundle_key,
            json,
        } => {
            let key = bundle_key
                .map(|k| {
                    medguard_digest::PublicKey::load(&k)
                        .with_context(|| format!("loading bundle key {}", k.display()))
                })
                .transpose()?;
            let options = bundles
                .iter()
                .map(|b| add_options(b, key.as_ref(), &models, bundle_version.as_deref()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let pairs: Vec<(&Path, &AddOptions)> = bundles
                .iter()
                .map(PathBuf::as_path)
                .zip(options.iter())
                .collect();
            let names = medguard_tuf::add_all(&dir, &pairs)
                .with_context(|| format!("adding bundles to {}", dir.display()))?;
            if json {
                super::print_json(&serde_json::json!({ "staged": names }))?;
            } else {
                for n in &names {
                    println!("staged {n}; run repo publish");
                }
            }
        }
        RepoCommand::Publish {
            dir,
            keys,
            expiry,
            json,
        } => {
            let keys = keys.load(false)?;
            let p = medguard_tuf::publish(&dir, &keys, &expiry.at(now))
                .with_context(|| format!("publishing {}", dir.display()))?;
            print_published(&p, &dir, json)?;
        }
        RepoCommand::RotateKey {
            dir,
            role,
            old,
            new,
            root_keys,
            expires,
            json,
        } => {
            let options = RotateOptions {
                role: role.clone(),
                old: RoleKey::load(&old).with_context(|| format!("loading {}", old.display()))?,
                new: RoleKey::load(&new).with_context(|| format!("loading {}", new.display()))?,
                root_keys: load_keys(&root_keys)?,
                now,
                root_expires: expires,
            };
            let p = medguard_tuf::rotate_key(&dir, &options)
                .with_context(|| format!("rotating the {role} key of {}", dir.display()))?;
            print_published(&p, &dir, json)?;
            if !json && role != "root" {
                println!("now run repo publish with the new {role} key");
            }
        }
        RepoCommand::Fetch {
            repo,
            trust,
            metadata_dir,
            out,
            model,
            json,
        } => {
            let got = medguard_tuf::fetch(&FetchOptions {
                repo_url: repo.clone(),
                trusted_root: trust,
                metadata_dir,
                download_dir: out,
                model,
                now,
                timeouts: Timeouts::default(),
            })
            .map_err(|e| anyhow!(e).context(format!("fetching from {repo}")))?;
            if json {
                super::print_json(&got)?;
            } else {
                println!(
                    "{} version {} verified through TUF: {}",
                    got.target,
                    got.bundle_version,
                    got.path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
