//! `medguard bundle`: make and inspect signed patch bundles.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use medguard_digest::{PublicKey, SigningKey};
use medguard_profile::Rules;
use medguard_update::{
    Change, CreateRequest, Manifest, SelfTest, UnverifiedBundle, UpdateError, create_bundle,
};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Make a signed bundle that turns the validated tree FROM into the validated tree TO.
    #[command(disable_version_flag = true)]
    Create {
        /// The base tree (what devices have now).
        #[arg(long)]
        from: PathBuf,
        /// The new tree.
        #[arg(long)]
        to: PathBuf,
        /// Where to write the bundle.
        #[arg(long)]
        out: PathBuf,
        /// The vendor's signing key (NAME.key); it signs the bundle and the new profile.
        #[arg(long, value_name = "NAME.key")]
        key: PathBuf,
        /// A device model the bundle targets (repeat; none: any model).
        #[arg(long = "model", value_name = "MODEL")]
        models: Vec<String>,
        /// A self-test command run after install with MEDGUARD_ROOT set (repeat).
        #[arg(long = "self-test", value_name = "CMD")]
        self_tests: Vec<String>,
        /// Seconds each self-test may take.
        #[arg(long, default_value_t = 300)]
        self_test_timeout: u64,
        /// The bundle's version (default: the output file's name).
        #[arg(long)]
        version: Option<String>,
        /// Rules file (TOML) for both profiles, as for `profile create`.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what a bundle holds. With --trust, its signature is checked first and the
    /// manifest is shown; exit 1 when the signature or the manifest is refused.
    Inspect {
        /// The bundle.
        file: PathBuf,
        /// Public key(s) trusted to sign bundles (NAME.pub).
        #[arg(long = "trust", value_name = "NAME.pub")]
        trust: Vec<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: BundleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BundleCommand::Create {
            from,
            to,
            out,
            key,
            models,
            self_tests,
            self_test_timeout,
            version,
            rules,
            json,
        } => {
            let key = SigningKey::load(&key)
                .with_context(|| format!("loading signing key {}", key.display()))?;
            let rules = match &rules {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading rules {}", path.display()))?;
                    Rules::from_toml(&text).with_context(|| format!("rules {}", path.display()))?
                }
                None => Rules::default(),
            };
            let version = version.unwrap_or_else(|| {
                out.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "unversioned".to_owned())
            });
            let summary = create_bundle(&CreateRequest {
                from: &from,
                to: &to,
                out: &out,
                key: &key,
                models,
                self_tests: self_tests
                    .into_iter()
                    .map(|command| SelfTest {
                        command,
                        timeout_secs: self_test_timeout,
                    })
                    .collect(),
                version: version.clone(),
                rules,
                created_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
                level: 3,
            })?;
            if json {
                super::print_json(&summary)?;
            } else {
                println!(
                    "wrote {} ({version}): {} operations, {} blobs, {} content bytes in {} bytes",
                    out.display(),
                    summary.operations,
                    summary.blobs,
                    summary.content_bytes,
                    summary.bundle_bytes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BundleCommand::Inspect { file, trust, json } => inspect(&file, &trust, json),
    }
}

#[derive(Debug, Serialize)]
struct Inspection {
    file: String,
    claimed_signers: Vec<String>,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<serde_json::Value>,
}

fn inspect(file: &Path, trust: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let keys = trust
        .iter()
        .map(|k| PublicKey::load(k).with_context(|| format!("loading trusted key {}", k.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bundle = match UnverifiedBundle::open(file) {
        Ok(b) => b,
        Err(e @ UpdateError::Framing { .. }) => return refused(file, json, Vec::new(), &e),
        Err(e) => return Err(e.into()),
    };
    let claimed: Vec<String> = bundle.signers().iter().map(ToString::to_string).collect();
    if keys.is_empty() {
        // Nothing beyond the framing is parsed before a signature verified.
        let i = Inspection {
            file: file.display().to_string(),
            claimed_signers: claimed,
            verified: false,
            signer: None,
            refused: None,
            manifest: None,
        };
        if json {
            super::print_json(&i)?;
        } else {
            println!(
                "{}: a patch bundle claiming signatures by {}; give --trust NAME.pub to check it and see its manifest",
                i.file,
                i.claimed_signers.join(", ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let verified = match bundle.verify(&keys) {
        Ok(v) => v,
        Err(e) if e.is_refusal() => return refused(file, json, claimed, &e),
        Err(e) => return Err(e.into()),
    };
    let m = verified.manifest();
    if json {
        let manifest: serde_json::Value = serde_json::from_slice(&m.to_json())
            .context("re-reading the verified manifest as JSON")?;
        super::print_json(&Inspection {
            file: file.display().to_string(),
            claimed_signers: claimed,
            verified: true,
            signer: Some(verified.signer().to_string()),
            refused: None,
            manifest: Some(manifest),
        })?;
    } else {
        print_manifest(file, &verified.signer().to_string(), m)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn refused(
    file: &Path,
    json: bool,
    claimed: Vec<String>,
    e: &UpdateError,
) -> anyhow::Result<ExitCode> {
    if json {
        super::print_json(&Inspection {
            file: file.display().to_string(),
            claimed_signers: claimed,
            verified: false,
            signer: None,
            refused: Some(e.to_string()),
            manifest: None,
        })?;
    } else {
        println!("{}: refused: {e}", file.display());
    }
    Ok(ExitCode::from(1))
}

fn print_manifest(file: &Path, signer: &str, m: &Manifest) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: version {}, signed by {signer}",
        file.display(),
        m.version
    )?;
    let models = if m.models.is_empty() {
        "any".to_owned()
    } else {
        m.models.join(", ")
    };
    writeln!(out, "models: {models}")?;
    writeln!(
        out,
        "base profile: blake3 {}",
        hex_of(&m.base_profile_blake3)
    )?;
    writeln!(
        out,
        "content: {} blobs, {} bytes ({} compressed)",
        m.blobs.len(),
        m.content_bytes(),
        m.payload_size
    )?;
    for t in &m.self_tests {
        writeln!(
            out,
            "self-test: {} (timeout {} s)",
            t.command, t.timeout_secs
        )?;
    }
    if let Some(o) = m.root {
        writeln!(
            out,
            "meta    / mode {:04o} uid {} gid {}",
            o.mode, o.uid, o.gid
        )?;
    }
    for op in &m.operations {
        let (what, detail) = match &op.change {
            Change::Mkdir(o) => (
                "mkdir",
                format!("mode {:04o} uid {} gid {}", o.mode, o.uid, o.gid),
            ),
            Change::File { blob, owner, .. } => (
                if op.old.is_some() { "replace" } else { "add" },
                format!(
                    "{} bytes, mode {:04o} uid {} gid {}",
                    m.blobs.get(*blob).map_or(0, |b| b.size),
                    owner.mode,
                    owner.uid,
                    owner.gid
                ),
            ),
            Change::Symlink { target, .. } => (
                "symlink",
                format!("-> {}", medguard_profile::display_path(target)),
            ),
            Change::HardLink { to } => ("link", format!("= /{}", to.display())),
            Change::Remove => ("remove", String::new()),
            Change::Meta(o) => (
                "meta",
                format!("mode {:04o} uid {} gid {}", o.mode, o.uid, o.gid),
            ),
        };
        let xattrs = op
            .xattrs
            .as_ref()
            .filter(|x| !x.is_empty())
            .map(|x| {
                let names: Vec<_> = x.iter().map(|(n, _)| String::from_utf8_lossy(n)).collect();
                format!(" xattrs {}", names.join(","))
            })
            .unwrap_or_default();
        writeln!(out, "{what:<7} /{} {detail}{xattrs}", op.path.display())?;
    }
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
