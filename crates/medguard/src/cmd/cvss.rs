//! `medguard cvss VECTOR`: the scores and severity of a CVSS v3.0, v3.1 or v4.0 vector.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use medguard_cvss::{MetricValue, Severity, Vector, v4};
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub struct CvssArgs {
    /// The vector, e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H or CVSS:4.0/AV:N/...
    #[arg(value_name = "VECTOR")]
    vector: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// One score line: what it covers, the score, its rating.
struct Line {
    key: &'static str,
    label: String,
    score: f64,
}

pub fn run(args: CvssArgs) -> anyhow::Result<ExitCode> {
    let vector = Vector::parse(&args.vector)
        .with_context(|| format!("invalid CVSS vector {:?}", args.vector))?;
    let mut lines = vec![];
    let mut supplemental = Vec::new();
    match &vector {
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
            supplemental = supplemental_metrics(&v.supplemental);
        }
    }

    if args.json {
        let mut out = Map::new();
        out.insert("vector".into(), json!(vector.to_string()));
        out.insert("version".into(), json!(vector.version().as_str()));
        if let Vector::V4(v) = &vector {
            out.insert("nomenclature".into(), json!(v.nomenclature().as_str()));
        }
        out.insert("attack_vector".into(), json!(format!("{:?}", vector.attack_vector())));
        for line in &lines {
            out.insert(format!("{}_score", line.key), json!(line.score));
            out.insert(
                format!("{}_severity", line.key),
                json!(Severity::from_score(line.score).as_str()),
            );
        }
        out.insert("score".into(), json!(vector.overall_score()));
        out.insert(
            "severity".into(),
            json!(Severity::from_score(vector.overall_score()).as_str()),
        );
        if !supplemental.is_empty() {
            let map: Map<String, Value> = supplemental
                .iter()
                .map(|(name, value)| ((*name).to_owned(), json!(value)))
                .collect();
            out.insert("supplemental".into(), Value::Object(map));
        }
        super::print_json(&Value::Object(out))?;
    } else {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:<27}{vector}", "vector")?;
        writeln!(out, "{:<27}{}", "version", vector.version())?;
        for line in &lines {
            writeln!(
                out,
                "{:<27}{:.1} {}",
                line.label,
                line.score,
                Severity::from_score(line.score)
            )?;
        }
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

/// The supplemental metrics the vector defines, as (abbreviation, value) pairs.
fn supplemental_metrics(s: &v4::SupplementalMetrics) -> Vec<(&'static str, &'static str)> {
    fn pair<T: MetricValue>(name: &'static str, v: Option<T>) -> Option<(&'static str, &'static str)> {
        v.map(|v| (name, v.abbrev()))
    }
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
