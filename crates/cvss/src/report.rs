//! [`Report`]: every score of one vector as one serialisable record, the shape
//! `medguard cvss --json` prints and scripts read.

use serde::ser::{Serialize, SerializeMap as _, Serializer};

use crate::metric::MetricValue;
use crate::{AttackVector, Severity, Vector, Version, v4};

/// Every score of one vector, with its rating, as one record.
///
/// Serialised (`serde`), its JSON shape is stable; the keys, in this order:
///
/// | key | value | present |
/// |---|---|---|
/// | `vector` | the normalised vector string | always |
/// | `version` | `"3.0"`, `"3.1"` or `"4.0"` | always |
/// | `nomenclature` | `"CVSS-B"`, `"CVSS-BT"`, `"CVSS-BE"` or `"CVSS-BTE"` | v4.0 |
/// | `attack_vector` | the base Attack Vector by its specification name: `"Network"`, `"Adjacent"`, `"Local"` or `"Physical"` | always |
/// | `base_score`, `base_severity` | the base score (v4.0: CVSS-B) and its rating | always |
/// | `temporal_score`, `temporal_severity` | the v3.x temporal score | v3.x with a temporal metric |
/// | `threat_score`, `threat_severity` | the v4.0 CVSS-BT score | v4.0 with a threat metric |
/// | `environmental_score`, `environmental_severity` | the environmental score (v4.0: CVSS-BE or -BTE) | with an environmental metric |
/// | `score`, `severity` | the score of everything the vector says ([`Vector::overall_score`]) | always |
/// | `supplemental` | the v4.0 supplemental metrics by abbreviation, in the specification's order (`{"S": "P", "U": "Red"}`) | v4.0 with one |
///
/// Scores are numbers with one decimal; ratings are the specification's words (`"None"`,
/// `"Low"`, `"Medium"`, `"High"`, `"Critical"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// The normalised vector string.
    pub vector: String,
    /// The specification version.
    pub version: Version,
    /// Which metric groups the v4.0 score covers; `None` for v3.x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature: Option<v4::Nomenclature>,
    /// The base Attack Vector.
    pub attack_vector: AttackVector,
    /// The base score (v4.0: CVSS-B).
    pub base_score: f64,
    /// Its rating.
    pub base_severity: Severity,
    /// The v3.x temporal score, when a temporal metric is defined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal_score: Option<f64>,
    /// Its rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal_severity: Option<Severity>,
    /// The v4.0 CVSS-BT score, when a threat metric is defined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_score: Option<f64>,
    /// Its rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_severity: Option<Severity>,
    /// The environmental score, when an environmental metric is defined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environmental_score: Option<f64>,
    /// Its rating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environmental_severity: Option<Severity>,
    /// The score of everything the vector says.
    pub score: f64,
    /// Its rating.
    pub severity: Severity,
    /// The v4.0 supplemental metrics the vector defines.
    #[serde(skip_serializing_if = "Supplemental::is_empty")]
    pub supplemental: Supplemental,
}

impl Report {
    /// Scores `vector`.
    #[must_use]
    pub fn new(vector: &Vector) -> Self {
        let (nomenclature, temporal, threat, environmental, supplemental) = match vector {
            Vector::V3(v) => {
                let s = v.scores();
                (
                    None,
                    s.temporal,
                    None,
                    s.environmental,
                    Supplemental::default(),
                )
            }
            Vector::V4(v) => {
                let s = v.scores();
                (
                    Some(v.nomenclature()),
                    None,
                    s.threat,
                    s.environmental,
                    Supplemental::of(&v.supplemental),
                )
            }
        };
        let (base, score) = (vector.base_score(), vector.overall_score());
        Self {
            vector: vector.to_string(),
            version: vector.version(),
            nomenclature,
            attack_vector: vector.attack_vector(),
            base_score: base,
            base_severity: Severity::from_score(base),
            temporal_score: temporal,
            temporal_severity: temporal.map(Severity::from_score),
            threat_score: threat,
            threat_severity: threat.map(Severity::from_score),
            environmental_score: environmental,
            environmental_severity: environmental.map(Severity::from_score),
            score,
            severity: Severity::from_score(score),
            supplemental,
        }
    }
}

/// The v4.0 supplemental metrics a vector defines, as (abbreviation, value) pairs in the
/// specification's order; serialised as a map (`{"S": "P", "AU": "Y"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supplemental(pub Vec<(&'static str, &'static str)>);

impl Supplemental {
    fn of(s: &v4::SupplementalMetrics) -> Self {
        fn pair<T: MetricValue>(
            name: &'static str,
            v: Option<T>,
        ) -> Option<(&'static str, &'static str)> {
            v.map(|v| (name, v.abbrev()))
        }
        Self(
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
            .collect(),
        )
    }

    /// Whether the vector defines no supplemental metric.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Supplemental {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The types a [`Report`] holds serialise as the words the specification uses.
macro_rules! serialize_as_str {
    ($($ty:ty),+) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )+};
}
serialize_as_str!(Version, Severity, AttackVector, v4::Nomenclature);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_base_only_has_no_optional_groups() {
        let v = Vector::parse("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        let r = Report::new(&v);
        assert_eq!(r.attack_vector, AttackVector::Adjacent);
        assert_eq!((r.temporal_score, r.environmental_score), (None, None));
        assert!(r.supplemental.is_empty());
        assert_eq!(r.nomenclature, None);
        assert_eq!(r.score, r.base_score);
    }
}
