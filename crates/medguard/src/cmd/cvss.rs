//! `medguard cvss VECTOR`: the scores and severity of a CVSS v3.0, v3.1 or v4.0 vector;
//! `medguard cvss --file FILE`: the same for a list of vectors, one per line.

use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use medguard_cvss::{MetricValue, Severity, Vector, v4};
use serde_json::{Map, Value, json};

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

/// One score of a vector: which metric groups it covers and its value.
struct Line {
    key: &'static str,
    label: String,
    score: f64,
}

pub fn run(args: CvssArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.file {
        return run_file(file, args.json);
    }
    let text = args.vector.unwrap_or_default();
    let vector = Vector::parse(&text).with_context(|| format!("invalid CVSS vector {text:?}"))?;
    if args.json {
        super::print_json(&Value::Object(to_json(&vector)))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:<27}{vector}", "vector")?;
        writeln!(out, "{:<27}{}", "version", vector.version())?;
        for line in score_lines(&vector) {
            writeln!(
                out,
                "{:<27}{:.1} {}",
                line.label,
                line.score,
                Severity::from_score(line.score)
            )?;
        }
        let supplemental = supplemental_metrics(&vector);
        if !supplemental.is_empty() {
            let text: Vec<String> = supplemental
                .iter()
                .map(|(name, value)| format!("{name}:{value}"))
                .collect();
            writeln!(out, "{:<27}{}", "supplemental", text.join("/"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
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
                serde_json::to_writer(&mut out, &Value::Object(to_json(&vector)))
                    .map_err(std::io::Error::from)?;
                writeln!(out)?;
            }
            Ok(vector) => {
                let (base, overall) = (vector.base_score(), vector.overall_score());
                writeln!(
                    out,
                    "{vector}\t{}\t{base:.1}\t{}\t{overall:.1}\t{}",
                    vector.version(),
                    Severity::from_score(base),
                    Severity::from_score(overall)
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

/// The scores the vector defines, base first.
fn score_lines(vector: &Vector) -> Vec<Line> {
    let mut lines = vec![];
    match vector {
        Vector::V3(v) => {
            let s = v.scores();
            lines.push(Line {
                key: "base",
                label: "base".into(),
                score: s.base,
            });
            if let Some(score) = s.temporal {
                lines.push(Line {
                    key: "temporal",
                    label: "temporal".into(),
                    score,
                });
            }
            if let Some(score) = s.environmental {
                lines.push(Line {
                    key: "environmental",
                    label: "environmental".into(),
                    score,
                });
            }
        }
        Vector::V4(v) => {
            let s = v.scores();
            lines.push(Line {
                key: "base",
                label: "base (CVSS-B)".into(),
                score: s.base,
            });
            if let Some(score) = s.threat {
                lines.push(Line {
                    key: "threat",
                    label: "threat (CVSS-BT)".into(),
                    score,
                });
            }
            if let Some(score) = s.environmental {
                lines.push(Line {
                    key: "environmental",
                    label: format!("environmental ({})", v.nomenclature()),
                    score,
                });
            }
        }
    }
    lines
}

fn to_json(vector: &Vector) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("vector".into(), json!(vector.to_string()));
    out.insert("version".into(), json!(vector.version().as_str()));
    if let Vector::V4(v) = vector {
        out.insert("nomenclature".into(), json!(v.nomenclature().as_str()));
    }
    out.insert(
        "attack_vector".into(),
        json!(format!("{:?}", vector.attack_vector())),
    );
    for line in score_lines(vector) {
        out.insert(format!("{}_score", line.key), json!(line.score));
        out.insert(
            format!("{}_severity", line.key),
            json!(Severity::from_score(line.score).as_str()),
        );
    }
    let overall = vector.overall_score();
    out.insert("score".into(), json!(overall));
    out.insert(
        "severity".into(),
        json!(Severity::from_score(overall).as_str()),
    );
    let supplemental = supplemental_metrics(vector);
    if !supplemental.is_empty() {
        let map: Map<String, Value> = supplemental
            .iter()
            .map(|(name, value)| ((*name).to_owned(), json!(value)))
            .collect();
        out.insert("supplemental".into(), Value::Object(map));
    }
    out
}

/// The v4.0 supplemental metrics the vector defines, as (abbreviation, value) pairs.
fn supplemental_metrics(vector: &Vector) -> Vec<(&'static str, &'static str)> {
    fn pair<T: MetricValue>(
        name: &'static str,
        v: Option<T>,
    ) -> Option<(&'static str, &'static str)> {
        v.map(|v| (name, v.abbrev()))
    }
    let Vector::V4(v) = vector else {
        return Vec::new();
    };
    let s: &v4::SupplementalMetrics = &v.supplemental;
    [
        pair("S", s.safety),
        pair("AU", s.automatable),
        pair("R", s.recovery),
        pair("V", s.value_density),
        pair("RE", s.response_effort),
        pair("U", s.provider_urgency),
    ]
    .into_iter()
    .flatten()
    .collect()
}
