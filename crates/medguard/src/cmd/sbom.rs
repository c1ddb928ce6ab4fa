//! `medguard sbom` and `medguard services`: the inventory of a device's off-the-shelf
//! software as CycloneDX or SPDX, reading SBOMs back, and the listening network services
//! (library: `medguard-inventory`).
//!
//! Exit codes: 0 done, 2 error. Collection warnings (a broken manifest, an unreadable
//! process) go to stderr and do not change the exit code.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::Table;
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
pub struct ServicesArgs {
    /// The tree whose package databases own the executables (`ROOT/proc` is read when
    /// present; `/proc` for `/`).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
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
        Some(path) => medguard_profile::write_atomically(path, |w| w.write_all(&text))?,
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
    let (services, warnings) = medguard_inventory::services(&args.root)
        .with_context(|| format!("listing the services of {}", args.root.display()))?;
    print_warnings(&warnings);
    if args.json {
        super::print_json(&services)?;
    } else {
        print_services(&services)?;
    }
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
