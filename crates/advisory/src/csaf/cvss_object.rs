//! The CVSS tests of CSAF 2.0: 6.1.7 (one score per CVSS version and product), 6.1.8 (the
//! `cvss_v2` / `cvss_v3` object is valid against FIRST's JSON schema), 6.1.9 (its scores are
//! those its vector computes to) and 6.1.10 (its properties agree with its vector).
//!
//! 6.1.8 is checked by typed rules that mirror FIRST's schemas (`cvss-v2.0.json`,
//! `cvss-v3.0.json`, `cvss-v3.1.json`, as the OASIS repository references them): required
//! properties, the `version` constant, the `vectorString` pattern (a sequence of known
//! `metric:value` components), each metric property's enumeration, scores as numbers from 0
//! to 10 and severities from their enumeration. The schemas allow other properties, and so do
//! we. Why not a JSON Schema crate: none is a dependency, a general validator (regex engine,
//! `$ref` resolution, format checks) is a large new surface in a crate that reads outside
//! input, and the three schemas are small and fixed: one table per version below says all
//! they say about metrics, and serves 6.1.10 as well.
//!
//! 6.1.9 and 6.1.10 run only on objects 6.1.8 accepts. Scores are computed by
//! `medguard-cvss` (v2 equations for `cvss_v2`, the v3.0/v3.1 formulas for `cvss_v3`).

use std::collections::BTreeMap;

use medguard_cvss::{Severity, v2, v3};
use serde_json::{Map, Value};

use super::mandatory::{Failures, array, text};

/// One metric property of a CVSS JSON object: its vector abbreviation and its values as
/// (vector abbreviation, JSON enumeration word). Optional metrics list their Not Defined.
struct Property {
    name: &'static str,
    metric: &'static str,
    values: &'static [(&'static str, &'static str)],
}

const fn p(
    name: &'static str,
    metric: &'static str,
    values: &'static [(&'static str, &'static str)],
) -> Property {
    Property {
        name,
        metric,
        values,
    }
}

const V3_CIA: &[(&str, &str)] = &[("N", "NONE"), ("L", "LOW"), ("H", "HIGH")];
const V3_MCIA: &[(&str, &str)] = &[
    ("X", "NOT_DEFINED"),
    ("N", "NONE"),
    ("L", "LOW"),
    ("H", "HIGH"),
];
const V3_REQ: &[(&str, &str)] = &[
    ("X", "NOT_DEFINED"),
    ("L", "LOW"),
    ("M", "MEDIUM"),
    ("H", "HIGH"),
];

/// FIRST's `cvss-v3.x.json` metric properties.
const V3: &[Property] = &[
    p(
        "attackVector",
        "AV",
        &[
            ("N", "NETWORK"),
            ("A", "ADJACENT_NETWORK"),
            ("L", "LOCAL"),
            ("P", "PHYSICAL"),
        ],
    ),
    p("attackComplexity", "AC", &[("L", "LOW"), ("H", "HIGH")]),
    p(
        "privilegesRequired",
        "PR",
        &[("N", "NONE"), ("L", "LOW"), ("H", "HIGH")],
    ),
    p("userInteraction", "UI", &[("N", "NONE"), ("R", "REQUIRED")]),
    p("scope", "S", &[("U", "UNCHANGED"), ("C", "CHANGED")]),
    p("confidentialityImpact", "C", V3_CIA),
    p("integrityImpact", "I", V3_CIA),
    p("availabilityImpact", "A", V3_CIA),
    p(
        "exploitCodeMaturity",
        "E",
        &[
            ("X", "NOT_DEFINED"),
            ("U", "UNPROVEN"),
            ("P", "PROOF_OF_CONCEPT"),
            ("F", "FUNCTIONAL"),
            ("H", "HIGH"),
        ],
    ),
    p(
        "remediationLevel",
        "RL",
        &[
            ("X", "NOT_DEFINED"),
            ("O", "OFFICIAL_FIX"),
            ("T", "TEMPORARY_FIX"),
            ("W", "WORKAROUND"),
            ("U", "UNAVAILABLE"),
        ],
    ),
    p(
        "reportConfidence",
        "RC",
        &[
            ("X", "NOT_DEFINED"),
            ("U", "UNKNOWN"),
            ("R", "REASONABLE"),
            ("C", "CONFIRMED"),
        ],
    ),
    p("confidentialityRequirement", "CR", V3_REQ),
    p("integrityRequirement", "IR", V3_REQ),
    p("availabilityRequirement", "AR", V3_REQ),
    p(
        "modifiedAttackVector",
        "MAV",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NETWORK"),
            ("A", "ADJACENT_NETWORK"),
            ("L", "LOCAL"),
            ("P", "PHYSICAL"),
        ],
    ),
    p(
        "modifiedAttackComplexity",
        "MAC",
        &[("X", "NOT_DEFINED"), ("L", "LOW"), ("H", "HIGH")],
    ),
    p(
        "modifiedPrivilegesRequired",
        "MPR",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NONE"),
            ("L", "LOW"),
            ("H", "HIGH"),
        ],
    ),
    p(
        "modifiedUserInteraction",
        "MUI",
        &[("X", "NOT_DEFINED"), ("N", "NONE"), ("R", "REQUIRED")],
    ),
    p(
        "modifiedScope",
        "MS",
        &[("X", "NOT_DEFINED"), ("U", "UNCHANGED"), ("C", "CHANGED")],
    ),
    p("modifiedConfidentialityImpact", "MC", V3_MCIA),
    p("modifiedIntegrityImpact", "MI", V3_MCIA),
    p("modifiedAvailabilityImpact", "MA", V3_MCIA),
];

const V2_CIA: &[(&str, &str)] = &[("N", "NONE"), ("P", "PARTIAL"), ("C", "COMPLETE")];
const V2_REQ: &[(&str, &str)] = &[
    ("L", "LOW"),
    ("M", "MEDIUM"),
    ("H", "HIGH"),
    ("ND", "NOT_DEFINED"),
];

/// FIRST's `cvss-v2.0.json` metric properties.
const V2: &[Property] = &[
    p(
        "accessVector",
        "AV",
        &[("N", "NETWORK"), ("A", "ADJACENT_NETWORK"), ("L", "LOCAL")],
    ),
    p(
        "accessComplexity",
        "AC",
        &[("H", "HIGH"), ("M", "MEDIUM"), ("L", "LOW")],
    ),
    p(
        "authentication",
        "Au",
        &[("M", "MULTIPLE"), ("S", "SINGLE"), ("N", "NONE")],
    ),
    p("confidentialityImpact", "C", V2_CIA),
    p("integrityImpact", "I", V2_CIA),
    p("availabilityImpact", "A", V2_CIA),
    p(
        "exploitability",
        "E",
        &[
            ("U", "UNPROVEN"),
            ("POC", "PROOF_OF_CONCEPT"),
            ("F", "FUNCTIONAL"),
            ("H", "HIGH"),
            ("ND", "NOT_DEFINED"),
        ],
    ),
    p(
        "remediationLevel",
        "RL",
        &[
            ("OF", "OFFICIAL_FIX"),
            ("TF", "TEMPORARY_FIX"),
            ("W", "WORKAROUND"),
            ("U", "UNAVAILABLE"),
            ("ND", "NOT_DEFINED"),
        ],
    ),
    p(
        "reportConfidence",
        "RC",
        &[
            ("UC", "UNCONFIRMED"),
            ("UR", "UNCORROBORATED"),
            ("C", "CONFIRMED"),
            ("ND", "NOT_DEFINED"),
        ],
    ),
    p(
        "collateralDamagePotential",
        "CDP",
        &[
            ("N", "NONE"),
            ("L", "LOW"),
            ("LM", "LOW_MEDIUM"),
            ("MH", "MEDIUM_HIGH"),
            ("H", "HIGH"),
            ("ND", "NOT_DEFINED"),
        ],
    ),
    p(
        "targetDistribution",
        "TD",
        &[
            ("N", "NONE"),
            ("L", "LOW"),
            ("M", "MEDIUM"),
            ("H", "HIGH"),
            ("ND", "NOT_DEFINED"),
        ],
    ),
    p("confidentialityRequirement", "CR", V2_REQ),
    p("integrityRequirement", "IR", V2_REQ),
    p("availabilityRequirement", "AR", V2_REQ),
];

const SEVERITIES: &[&str] = &["NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Which of FIRST's schemas an object follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    V2,
    V3_0,
    V3_1,
}

impl Schema {
    fn properties(self) -> &'static [Property] {
        match self {
            Self::V2 => V2,
            Self::V3_0 | Self::V3_1 => V3,
        }
    }

    fn version(self) -> &'static str {
        match self {
            Self::V2 => "2.0",
            Self::V3_0 => "3.0",
            Self::V3_1 => "3.1",
        }
    }

    /// The vector after its `CVSS:3.x/` prefix (v2 vectors have none).
    fn body(self, vector: &str) -> Option<&str> {
        match self {
            Self::V2 => Some(vector),
            Self::V3_0 => vector.strip_prefix("CVSS:3.0/"),
            Self::V3_1 => vector.strip_prefix("CVSS:3.1/"),
        }
    }

    fn scores(self) -> &'static [&'static str] {
        match self {
            Self::V2 => &["baseScore", "temporalScore", "environmentalScore"],
            Self::V3_0 | Self::V3_1 => &["baseScore", "temporalScore", "environmentalScore"],
        }
    }

    fn severities(self) -> &'static [&'static str] {
        match self {
            Self::V2 => &[],
            Self::V3_0 | Self::V3_1 => {
                &["baseSeverity", "temporalSeverity", "environmentalSeverity"]
            }
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            Self::V2 => &["version", "vectorString", "baseScore"],
            Self::V3_0 | Self::V3_1 => &["version", "vectorString", "baseScore", "baseSeverity"],
        }
    }
}

/// The metric values the vector states, by abbreviation (the pattern allows a metric twice;
/// the last one is what a reader of the string sees).
fn components(body: &str) -> BTreeMap<&str, &str> {
    body.split('/').filter_map(|c| c.split_once(':')).collect()
}

/// 6.1.8 for one object. Returns the schema it follows when it is valid.
fn schema_check(kind: &str, o: &Value, pointer: &str, f: &mut Failures) -> Option<Schema> {
    let Some(map) = o.as_object() else {
        f.fail("6.1.8", pointer, format!("{kind} is not an object"));
        return None;
    };
    let vector = map.get("vectorString").and_then(Value::as_str);
    let schema = if kind == "cvss_v2" {
        Schema::V2
    } else {
        // CSAF's schema takes either v3 schema; the version (or, without one, the vector)
        // says which applies.
        match map
            .get("version")
            .and_then(Value::as_str)
            .or_else(|| vector.and_then(|v| v.strip_prefix("CVSS:")?.get(..3)))
        {
            Some("3.0") => Schema::V3_0,
            Some("3.1") => Schema::V3_1,
            _ => {
                f.fail(
                    "6.1.8",
                    format!("{pointer}/version"),
                    "cvss_v3 needs version 3.0 or 3.1".into(),
                );
                return None;
            }
        }
    };
    let before = f.0.len();
    for required in schema.required() {
        if !map.contains_key(*required) {
            f.fail(
                "6.1.8",
                pointer,
                format!("the required property {required} is missing"),
            );
        }
    }
    if let Some(version) = map.get("version")
        && version.as_str() != Some(schema.version())
    {
        f.fail(
            "6.1.8",
            format!("{pointer}/version"),
            format!("version must be {:?}", schema.version()),
        );
    }
    match map.get("vectorString") {
        Some(Value::String(v)) => {
            if let Some(reason) = pattern_problem(schema, v) {
                f.fail("6.1.8", format!("{pointer}/vectorString"), reason);
            }
        }
        Some(_) => f.fail(
            "6.1.8",
            format!("{pointer}/vectorString"),
            "vectorString is not a string".into(),
        ),
        None => {}
    }
    enumerations(schema, map, pointer, f);
    (f.0.len() == before).then_some(schema)
}

/// The `vectorString` pattern of FIRST's schema: `metric:value` components joined by `/`,
/// each from the version's table (base metrics without Not Defined).
fn pattern_problem(schema: Schema, vector: &str) -> Option<String> {
    let Some(body) = schema.body(vector) else {
        return Some(format!(
            "{vector:?} does not start with CVSS:{}/",
            schema.version()
        ));
    };
    for component in body.split('/') {
        let known = component.split_once(':').is_some_and(|(metric, value)| {
            schema
                .properties()
                .iter()
                .any(|p| p.metric == metric && p.values.iter().any(|(abbrev, _)| *abbrev == value))
        });
        if !known {
            return Some(format!(
                "{component:?} in {vector:?} is not a CVSS {} metric and value",
                schema.version()
            ));
        }
    }
    None
}

/// The schema's enumerations and number ranges for each property present.
fn enumerations(schema: Schema, map: &Map<String, Value>, pointer: &str, f: &mut Failures) {
    for property in schema.properties() {
        if let Some(value) = map.get(property.name) {
            let known = value
                .as_str()
                .is_some_and(|s| property.values.iter().any(|(_, word)| *word == s));
            if !known {
                f.fail(
                    "6.1.8",
                    format!("{pointer}/{}", property.name),
                    format!("{value} is not a value of {}", property.name),
                );
            }
        }
    }
    for name in schema.scores() {
        if let Some(value) = map.get(*name)
            && !value.as_f64().is_some_and(|n| (0.0..=10.0).contains(&n))
        {
            f.fail(
                "6.1.8",
                format!("{pointer}/{name}"),
                format!("{value} is not a score from 0 to 10"),
            );
        }
    }
    for name in schema.severities() {
        if let Some(value) = map.get(*name)
            && !value.as_str().is_some_and(|s| SEVERITIES.contains(&s))
        {
            f.fail(
                "6.1.8",
                format!("{pointer}/{name}"),
                format!("{value} is not a severity"),
            );
        }
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::None => "NONE",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// 6.1.9: each score (and v3 severity) given is the one the vector computes to.
fn computation_check(schema: Schema, map: &Map<String, Value>, pointer: &str, f: &mut Failures) {
    let Some(vector) = map.get("vectorString").and_then(Value::as_str) else {
        return;
    };
    let computed: [f64; 3] = match schema {
        Schema::V2 => match v2::Vector::parse(vector) {
            Ok(v) => [v.base_score(), v.temporal_score(), v.environmental_score()],
            Err(err) => {
                f.fail(
                    "6.1.9",
                    format!("{pointer}/vectorString"),
                    format!("no score can be computed from {vector:?}: {err}"),
                );
                return;
            }
        },
        Schema::V3_0 | Schema::V3_1 => match v3::Vector::parse(vector) {
            Ok(v) => [v.base_score(), v.temporal_score(), v.environmental_score()],
            Err(err) => {
                f.fail(
                    "6.1.9",
                    format!("{pointer}/vectorString"),
                    format!("no score can be computed from {vector:?}: {err}"),
                );
                return;
            }
        },
    };
    for (name, expected) in schema.scores().iter().zip(computed) {
        if let Some(given) = map.get(*name).and_then(Value::as_f64)
            && (given - expected).abs() > 1e-6
        {
            f.fail(
                "6.1.9",
                format!("{pointer}/{name}"),
                format!("{name} is {given} but {vector} computes to {expected:.1}"),
            );
        }
    }
    for (name, expected) in schema.severities().iter().zip(computed) {
        let expected = severity_word(Severity::from_score(expected));
        if let Some(given) = map.get(*name).and_then(Value::as_str)
            && given != expected
        {
            f.fail(
                "6.1.9",
                format!("{pointer}/{name}"),
                format!("{name} is {given} but {vector} rates {expected}"),
            );
        }
    }
}

/// 6.1.10: each metric property agrees with the vector's value for that metric.
fn consistency_check(schema: Schema, map: &Map<String, Value>, pointer: &str, f: &mut Failures) {
    let Some(vector) = map.get("vectorString").and_then(Value::as_str) else {
        return;
    };
    let Some(body) = schema.body(vector) else {
        return;
    };
    let stated = components(body);
    for property in schema.properties() {
        let Some(given) = map.get(property.name).and_then(Value::as_str) else {
            continue;
        };
        // Only a metric the vector states can be contradicted: OASIS's own valid documents
        // (6.2.19's) give environmental properties their vector leaves out.
        let Some(abbrev) = stated.get(property.metric) else {
            continue;
        };
        let expected = property
            .values
            .iter()
            .find(|(a, _)| a == abbrev)
            .map(|(_, word)| *word);
        if expected != Some(given) {
            f.fail(
                "6.1.10",
                format!("{pointer}/{}", property.name),
                format!(
                    "{} is {given} but the vector says {}",
                    property.name,
                    expected.unwrap_or("nothing")
                ),
            );
        }
    }
}

/// Runs 6.1.7 … 6.1.10 on one vulnerability's `scores`.
pub(super) fn check_scores(vuln: &Value, base: &str, f: &mut Failures) {
    let mut seen: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for (s, score) in array(vuln, "scores").iter().enumerate() {
        for kind in ["cvss_v2", "cvss_v3"] {
            let Some(object) = score.get(kind) else {
                continue;
            };
            let pointer = format!("{base}/scores/{s}/{kind}");
            // 6.1.7 counts by the version the object states (or its vector's).
            let version = if kind == "cvss_v2" {
                "2.0".to_owned()
            } else {
                text(object, "version")
                    .map(str::to_owned)
                    .or_else(|| {
                        text(object, "vectorString")
                            .and_then(|v| v.strip_prefix("CVSS:")?.get(..3).map(str::to_owned))
                    })
                    .unwrap_or_default()
            };
            for (k, product) in array(score, "products")
                .iter()
                .enumerate()
                .filter_map(|(k, p)| p.as_str().map(|p| (k, p)))
            {
                if let Some(first) = seen.insert((product, version.clone()), s) {
                    f.fail(
                        "6.1.7",
                        format!("{base}/scores/{s}/products/{k}"),
                        format!(
                            "product {product:?} already has a CVSS {version} score in {base}/scores/{first}"
                        ),
                    );
                }
            }
            if let Some(schema) = schema_check(kind, object, &pointer, f)
                && let Some(map) = object.as_object()
            {
                computation_check(schema, map, &pointer, f);
                consistency_check(schema, map, &pointer, f);
            }
        }
    }
}
