//! `medguard cvss VECTOR`: the scores and severity of a CVSS v3.0, v3.1 or v4.0 vector;
//! `medguard cvss --file FILE`: the same for a list of vectors, one per line.

use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use medguard_cvss::{Report, Vector};

#[derive(Debug, Args)]
pub struct CvssArgs {
    /// The vector, e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H or CVSS:4.0/AV:N/...
    #[arg(value_name = "VECTOR", required_unless_present = "file")]
    vector: Option<String>,
    /// Score every vector of FILE (one per line, `-` for standard input) instead; prints
    /// one tab-separated line per vector: vector, version, base score and severity, overall
    /// score and severity. Invalid lines are reported on standard error and make the exit
    /// code 2 once every line is done.
    #[arg(long, value_name = "FILE", conflicts_with = "vector")]
    file: Option<PathBuf>,
    /// Print the result as JSON (with --file: one JSON object per line).
    #[arg(long)]
    json: bool,
}

pub fn run(args: CvssArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.file {
        return run_file(file, args.json);
    }
    let text = args.vector.unwrap_or_default();
    let vector = Vector::parse(&text).with_context(|| format!("invalid CVSS vector {text:?}"))?;
    let report = Report::new(&vector);
    if args.json {
        super::print_json(&report)?;
    } else {
        print_report(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<27}{}", "vector", r.vector)?;
    writeln!(out, "{:<27}{}", "version", r.version)?;
    let v4 = r.nomenclature.is_some();
    let base = if v4 { "base (CVSS-B)" } else { "base" };
    writeln!(out, "{base:<27}{:.1} {}", r.base_score, r.base_severity)?;
    if let (Some(score), Some(severity)) = (r.temporal_score, r.temporal_severity) {
        writeln!(out, "{:<27}{score:.1} {severity}", "temporal")?;
    }
    if let (Some(score), Some(severity)) = (r.threat_score, r.threat_severity) {
        writeln!(out, "{:<27}{score:.1} {severity}", "threat (CVSS-BT)")?;
    }
    if let (Some(score), Some(severity)) = (r.environmental_score, r.environmental_severity) {
        let label = match r.nomenclature {
            Some(n) => format!("environmental ({n})"),
            None => "environmental".to_owned(),
        };
        writeln!(out, "{label:<27}{score:.1} {severity}")?;
    }
    if !r.supplemental.is_empty() {
        let text: Vec<String> = r
            .supplemental
            .0
            .iter()
            .map(|(name, value)| format!("{name}:{value}"))
            .collect();
        writeln!(out, "{:<27}{}", "supplemental", text.join("/"))?;
    }
    Ok(())
}

fn run_file(file: &PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut invalid = 0_usize;
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match Vector::parse(text) {
            Ok(vector) if json => {
                serde_json::to_writer(&mut out, &Report::new(&vector))
                    .map_err(std::io::Error::from)?;
                writeln!(out)?;
            }
            Ok(vector) => {
                let r = Report::new(&vector);
                writeln!(
                    out,
                    "{}\t{}\t{:.1}\t{}\t{:.1}\t{}",
                    r.vector, r.version, r.base_score, r.base_severity, r.score, r.severity
                )?;
            }
            Err(err) => {
                invalid += 1;
                eprintln!(
                    "medguard: {}:{}: invalid CVSS vector {text:?}: {err}",
                    file.display(),
                    number + 1
                );
            }
        }
    }
    out.flush()?;
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
