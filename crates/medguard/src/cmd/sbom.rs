//! `medguard sbom` and `medguard services`: the inventory of a device's off-the-shelf
//! software as CycloneDX or SPDX, reading SBOMs back, and the listening network services
//! (library: `medguard-inventory`).
//!
//! Exit codes: 0 done, 2 error; `services --allowed` exits 1 when a listener is not declared.
//! Collection warnings (a broken manifest, an unreadable process) go to stderr and do not
//! change the exit code.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::Table;
use medguard_digest::{PublicKey, SigningKey};
use medguard_inventory::allowed::UndeclaredService;
use medguard_inventory::{CollectOptions, Sbom, Service, Warning};
use time::OffsetDateTime;

#[derive(Debug, Subcommand)]
pub enum SbomCommand {
    /// Inventory the installed software of ROOT (default: this system) as an SBOM.
    Collect {
        /// The tree to inventory (an image folder; `/` for the running system).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// The SBOM format.
        #[arg(long, value_enum)]
        format: SbomFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Vendor-declared components (TOML, `[[component]]` tables).
        #[arg(long, value_name = "FILE")]
        vendor: Option<PathBuf>,
        /// The device model, recorded in the SBOM's metadata.
        #[arg(long, value_name = "NAME")]
        device_model: Option<String>,
        /// Do not look in /proc for running, mapped and listening components.
        #[arg(long)]
        no_evidence: bool,
    },
    /// Read a CycloneDX (1.2–1.6) or SPDX (2.2, 2.3) JSON file and print its components.
    Show {
        /// The SBOM file.
        file: PathBuf,
        /// Print the normalised model as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

/// `medguard services`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServicesArgs {
    #[command(subcommand)]
    command: Option<ServicesCommand>,
    /// The tree whose package databases own the executables (`ROOT/proc` is read when
    /// present; `/proc` for `/`).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// A signed declaration of the services the device may offer (`medguard services sign`).
    /// Exit 1 and name each listener it does not allow, 0 when it allows them all.
    #[arg(long, value_name = "FILE", requires = "trust")]
    allowed: Option<PathBuf>,
    /// Public key(s) trusted to sign the declaration (NAME.pub).
    #[arg(long = "trust", value_name = "NAME.pub", requires = "allowed")]
    trust: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Check a declaration of allowed services (TOML) and sign it.
    Sign {
        /// The declaration (TOML, `[[service]]` tables; see the inventory crate's `allowed`
        /// module).
        file: PathBuf,
        /// Sign with this private key (NAME.key from `medguard key generate`).
        #[arg(long, value_name = "NAME.key")]
        key: PathBuf,
        /// Where to write the signed declaration.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: SbomCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SbomCommand::Collect {
            root,
            format,
            out,
            vendor,
            device_model,
            no_evidence,
        } => collect(
            &root,
            format,
            out.as_deref(),
            vendor,
            device_model,
            !no_evidence,
        ),
        SbomCommand::Show { file, json } => show(&file, json),
    }
}

fn print_warnings(warnings: &[Warning]) {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(err, "medguard: warning: {w}");
    }
}

fn collect(
    root: &Path,
    format: SbomFormat,
    out: Option<&Path>,
    vendor: Option<PathBuf>,
    device_model: Option<String>,
    evidence: bool,
) -> anyhow::Result<ExitCode> {
    let collection = medguard_inventory::collect(&CollectOptions {
        root: root.to_path_buf(),
        vendor,
        evidence,
        device_model,
        now: OffsetDateTime::now_utc(),
    })
    .with_context(|| format!("collecting the inventory of {}", root.display()))?;
    print_warnings(&collection.warnings);
    let value = match format {
        SbomFormat::Cyclonedx => medguard_inventory::cyclonedx::to_value(&collection.sbom),
        SbomFormat::Spdx => medguard_inventory::spdx::to_value(&collection.sbom),
    };
    let mut text = serde_json::to_vec_pretty(&value)?;
    text.push(b'\n');
    match out {
        Some(path) => medguard_host::write_atomically(path, 0o644, |w| w.write_all(&text))?,
        None => std::io::stdout().lock().write_all(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn show(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let sbom = medguard_inventory::read_sbom(file)?;
    if json {
        super::print_json(&sbom)?;
    } else {
        print_table(&sbom)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(sbom: &Sbom) -> anyhow::Result<()> {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["NAME", "VERSION", "ECOSYSTEM", "IN USE", "LISTENING"]);
    for c in &sbom.components {
        let in_use = if c.usage.running {
            "running"
        } else if c.usage.mapped_libraries {
            "mapped"
        } else {
            ""
        };
        let listening: Vec<String> = c.usage.listening.iter().map(|s| s.endpoint()).collect();
        table.add_row([
            c.name.clone(),
            c.version.clone(),
            c.ecosystem.osv_name(),
            in_use.to_owned(),
            listening.join(" "),
        ]);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{table}")?;
    writeln!(
        out,
        "{}: {} components, {} running, {} listening",
        sbom.metadata.name,
        sbom.components.len(),
        sbom.components.iter().filter(|c| c.usage.running).count(),
        sbom.components
            .iter()
            .filter(|c| !c.usage.listening.is_empty())
            .count()
    )?;
    Ok(())
}

pub fn services(args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    if let Some(ServicesCommand::Sign { file, key, out }) = &args.command {
        return sign_allowed(file, key, out);
    }
    // Load the declaration before looking: an untrusted file is an error, not a finding.
    let allowed = match &args.allowed {
        Some(path) => {
            let trusted = PublicKey::load_all(&args.trust)?;
            Some(medguard_inventory::allowed::load(path, &trusted)?)
        }
        None => None,
    };
    let (services, warnings) = medguard_inventory::services(&args.root)
        .with_context(|| format!("listing the services of {}", args.root.display()))?;
    print_warnings(&warnings);
    let Some(allowed) = allowed else {
        if args.json {
            super::print_json(&services)?;
        } else {
            print_services(&services)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let undeclared = medguard_inventory::allowed::undeclared(&services, &allowed.allowed);
    let code = if undeclared.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    let printed = if args.json {
        super::print_json(&serde_json::json!({
            "services": services,
            "declaration_signer": allowed.signer.to_string(),
            "undeclared": undeclared,
        }))
    } else {
        print_services(&services).and_then(|()| print_undeclared(&undeclared, services.len()))
    };
    super::exit_after_printing(code, printed)
}

fn print_undeclared(undeclared: &[UndeclaredService], listeners: usize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for u in undeclared {
        writeln!(out, "undeclared: {u}")?;
    }
    writeln!(
        out,
        "{} listeners, {} undeclared",
        listeners,
        undeclared.len()
    )?;
    Ok(())
}

fn sign_allowed(file: &Path, key: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let key =
        SigningKey::load(key).with_context(|| format!("loading signing key {}", key.display()))?;
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let signed = medguard_inventory::allowed::sign(&text, file, &key)?;
    medguard_host::write_bytes_atomically(out, 0o644, &signed)?;
    writeln!(
        std::io::stdout().lock(),
        "{}: signed by key {}",
        out.display(),
        key.public_key().id()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn print_services(services: &[Service]) -> anyhow::Result<()> {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["LISTENING", "EXPOSED", "PID", "EXECUTABLE", "PACKAGE"]);
    for s in services {
        table.add_row([
            s.socket.endpoint(),
            if s.socket.is_network_exposed() {
                "yes"
            } else {
                "loopback"
            }
            .to_owned(),
            s.socket.pid.map(|p| p.to_string()).unwrap_or_default(),
            s.socket
                .process
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            s.component
                .as_ref()
                .map(|c| format!("{} {}", c.name, c.version))
                .unwrap_or_default(),
        ]);
    }
    writeln!(std::io::stdout().lock(), "{table}")?;
    Ok(())
}
