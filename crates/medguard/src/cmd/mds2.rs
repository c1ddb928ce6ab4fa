//! `medguard server mds2`: a device model's MDS2 form from the server's data directory, as
//! printable HTML, JSON or CSV. Parsing and printing only: the form is `medguard-server`'s
//! (`medguard_server::mds2::form_of`) and `medguard-mds2`'s.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use medguard_server::DataDir;

/// What `medguard server mds2` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mds2Format {
    /// A printable HTML document, with its stylesheet inside.
    Html,
    /// JSON.
    Json,
    /// CSV, one row per question id (for NEMA's workbook).
    Csv,
}

/// The arguments of `medguard server mds2`.
#[derive(Debug, Args)]
pub struct Mds2Args {
    /// The data directory (the vendor's declarations: DIR/mds2/<model>.toml).
    #[arg(long)]
    data: PathBuf,
    /// The device model.
    #[arg(long)]
    model: String,
    /// The output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Mds2Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) async fn run_async(a: Mds2Args) -> anyhow::Result<ExitCode> {
    let form = medguard_server::mds2::form_of(&DataDir::new(&a.data), &a.model).await?;
    let text = match a.format {
        Mds2Format::Html => medguard_server::mds2::document(&form),
        Mds2Format::Json => serde_json::to_string_pretty(&form.to_json())? + "\n",
        Mds2Format::Csv => form.to_csv(),
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("{}", path.display()))?;
            eprintln!(
                "MDS2 of {:?} written to {} ({} from evidence, {} declared, {} unanswered)",
                a.model,
                path.display(),
                form.tally.evidence,
                form.tally.declared,
                form.tally.unanswered
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // A closed pipe (`| head`) is not an error.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
