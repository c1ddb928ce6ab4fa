//! The client-under-test CLI of the TUF conformance suite (`tuf-conformance`, see its
//! `CLIENT-CLI.md`) over medguard's TUF client:
//!
//! ```text
//! tuf-conformance-client --metadata-dir D init ROOT
//! tuf-conformance-client --metadata-dir D --metadata-url URL refresh
//! tuf-conformance-client --metadata-dir D --metadata-url URL --target-name T... \
//!     --target-dir TD --target-base-url TURL download
//! ```
//! Exit 0 on success, 1 on any failure (the error on stderr). Not part of the device agent.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use medguard_tuf::{TrustedRoot, TufError};

#[derive(Debug, Default)]
struct Args {
    metadata_dir: Option<PathBuf>,
    metadata_url: Option<String>,
    target_names: Vec<String>,
    target_dir: Option<PathBuf>,
    target_base_url: Option<String>,
    command: Vec<String>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--metadata-dir" => a.metadata_dir = Some(value()?.into()),
            "--metadata-url" => a.metadata_url = Some(value()?),
            "--target-name" => a.target_names.push(value()?),
            "--target-dir" => a.target_dir = Some(value()?.into()),
            "--target-base-url" => a.target_base_url = Some(value()?),
            _ => a.command.push(arg),
        }
    }
    Ok(a)
}

fn need<T: Clone>(v: Option<&T>, what: &str) -> Result<T, String> {
    v.cloned().ok_or_else(|| format!("missing {what}"))
}

/// Target names become file names in the target dir: percent-encode what is not plain.
fn local_name(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn refresh(a: &Args, targets_url: &str) -> Result<medguard_tuf::Refreshed, String> {
    let dir = need(a.metadata_dir.as_ref(), "--metadata-dir")?;
    let url = need(a.metadata_url.as_ref(), "--metadata-url")?;
    let anchor = TrustedRoot::load(&dir.join("root.json")).map_err(|e| e.to_string())?;
    medguard_tuf::refresh(&url, targets_url, &anchor, &dir, SystemTime::now())
        .map_err(|e| e.to_string())
}

fn cached(path: &Path, name: &str, target: &medguard_tuf::TargetInfo) -> bool {
    std::fs::read(path).is_ok_and(|bytes| target.check(name, &bytes).is_ok())
}

fn run(a: &Args) -> Result<(), String> {
    match a.command.first().map(String::as_str) {
        Some("init") => {
            let dir = need(a.metadata_dir.as_ref(), "--metadata-dir")?;
            let root = a.command.get(1).ok_or("init needs TRUSTED_ROOT")?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::copy(root, dir.join("root.json")).map_err(|e| format!("{root}: {e}"))?;
            Ok(())
        }
        Some("refresh") => refresh(a, "http://127.0.0.1/unused/").map(|_| ()),
        Some("download") => {
            let targets_url = need(a.target_base_url.as_ref(), "--target-base-url")?;
            let out = need(a.target_dir.as_ref(), "--target-dir")?;
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let refreshed = refresh(a, &targets_url)?;
            for name in &a.target_names {
                let file = local_name(name);
                let target = refreshed
                    .target(name)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no target {name}"))?;
                if cached(&out.join(&file), name, &target) {
                    continue;
                }
                refreshed
                    .download(name, &out, &file)
                    .map_err(|e: TufError| e.to_string())?;
            }
            Ok(())
        }
        _ => {
            Err("usage: --metadata-dir D [--metadata-url U] init ROOT | refresh | download".into())
        }
    }
}

fn main() -> ExitCode {
    let args = parse(std::env::args().skip(1));
    let result = args.as_ref().map_err(Clone::clone).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tuf-conformance-client: {e}");
            ExitCode::from(1)
        }
    }
}
