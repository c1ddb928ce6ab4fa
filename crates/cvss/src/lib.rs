//! CVSS v3.0, v3.1 and v4.0 vectors: parsing, normalised display and scores; CVSS v2.0
//! vectors in [`v2`] (CSAF 2.0 documents still carry them).
//!
//! This crate owns the Common Vulnerability Scoring System arithmetic medguard's risk
//! assessment starts from. It parses a vector string into typed metrics (an invalid vector
//! is a typed [`CvssError`] naming the metric, never a panic), prints the normalised vector
//! back ([`Display`](std::fmt::Display) round-trips through [`Vector::parse`]), and computes:
//!
//! - v3.0 and v3.1: base, temporal and environmental scores with the formulas of section 7 of
//!   each specification; v3.1 uses the `Roundup` of its Appendix A (integer arithmetic, so
//!   `4.000000000000001` is 4.0), v3.0 the ceiling of the exact value (floating-point noise
//!   such as `5.0 × 0.92 = 4.6000000000000005` does not push it up a tenth), and the environmental
//!   modified impact differs between the two (`MISS × 0.9731` and exponent 13 in v3.1);
//! - v4.0: the score of the whole vector (CVSS-B, -BT, -BE or -BTE, see
//!   [`v4::Vector::nomenclature`]) from the macrovector lookup table and the interpolation
//!   algorithm of FIRST's reference calculator, and the base-only score.
//!
//! [`Report`] gathers every score of a vector and its rating into one record with a stable,
//! documented JSON shape (`medguard cvss --json` prints it); `serde` is here only for that.
//!
//! It must not decide what a score means for a device: that is the risk assessment's job.
//! It does no I/O and keeps no state.
//!
//! Why our own implementation rather than the RustSec `cvss` crate: scores drive patch
//! priorities next to patients, so the arithmetic is kept small, explicit and checked against
//! every published vector set we have (Red Hat's vector files, FIRST's calculator tables, the
//! scores CISA published in its CSAF advisories), like rustls runs its RFC vectors. The
//! RustSec crate had no v4.0 scoring when this was written and rejects nothing about metric
//! order; this crate follows the v4.0 rule that metrics appear in the specification's order.
//!
//! Normalisation: the displayed vector lists the metrics in the specification's order and
//! leaves out optional metrics whose value is Not Defined (`X`), which scores the same.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

mod metric;
mod report;
pub mod v2;
pub mod v3;
pub mod v4;

pub use metric::MetricValue;
pub use report::{Report, Supplemental};

metric::metric_values! {
    /// Attack Vector (AV): how remote the attacker can be. The same four values in v3 and v4.
    pub enum AttackVector {
        /// `N`: exploitable over the network, up to the whole Internet.
        Network = "N",
        /// `A`: limited to a logically adjacent network (same subnet, Bluetooth, ...).
        Adjacent = "A",
        /// `L`: local access (console, SSH session) or a user opening a file.
        Local = "L",
        /// `P`: the attacker must touch the device.
        Physical = "P",
    }
}

impl AttackVector {
    /// The value's name in the specification: `Network`, `Adjacent`, `Local`, `Physical`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Network => "Network",
            Self::Adjacent => "Adjacent",
            Self::Local => "Local",
            Self::Physical => "Physical",
        }
    }
}

impl fmt::Display for AttackVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CVSS specification version a vector follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Version {
    /// CVSS v2.0 (2007): only [`v2::Vector`] reads it; [`Vector::parse`] does not.
    V2_0,
    /// CVSS v3.0 (2015).
    V3_0,
    /// CVSS v3.1 (2019).
    V3_1,
    /// CVSS v4.0 (2023).
    V4_0,
}

impl Version {
    /// The version as written in the vector prefix: `3.0`, `3.1`, `4.0`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2_0 => "2.0",
            Self::V3_0 => "3.0",
            Self::V3_1 => "3.1",
            Self::V4_0 => "4.0",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The qualitative severity rating scale, the same in v3.x (section 5) and v4.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// 0.0
    None,
    /// 0.1 – 3.9
    Low,
    /// 4.0 – 6.9
    Medium,
    /// 7.0 – 8.9
    High,
    /// 9.0 – 10.0
    Critical,
}

impl Severity {
    /// The rating of a score. Scores are multiples of 0.1; comparing against the midpoints
    /// keeps a score computed as 6.8999999 or 7.0000001 in the right band.
    #[must_use]
    pub fn from_score(score: f64) -> Self {
        if score < 0.05 {
            Self::None
        } else if score < 3.95 {
            Self::Low
        } else if score < 6.95 {
            Self::Medium
        } else if score < 8.95 {
            Self::High
        } else {
            Self::Critical
        }
    }

    /// `None`, `Low`, `Medium`, `High`, `Critical`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a vector string is not a valid CVSS vector. Each variant names the metric at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CvssError {
    /// The string does not start with `CVSS:<version>/`.
    #[error(
        "not a CVSS v3.0, v3.1 or v4.0 vector: it must start with CVSS:3.0/, CVSS:3.1/ or \
         CVSS:4.0/ (CVSS v2 vectors, which have no prefix, are not scored)"
    )]
    MissingPrefix,
    /// The prefix names a version this crate does not score (v2 vectors have no prefix).
    #[error("unsupported CVSS version {version:?}: expected 3.0, 3.1 or 4.0")]
    UnsupportedVersion {
        /// What followed `CVSS:`.
        version: String,
    },
    /// A `/`-separated component is not `METRIC:VALUE` (an empty component from a doubled or
    /// trailing `/`, whitespace, a missing colon).
    #[error("malformed component {component:?} at byte {offset}: expected METRIC:VALUE")]
    MalformedComponent {
        /// The component as written.
        component: String,
        /// Its byte offset in the vector string.
        offset: usize,
    },
    /// A metric this version does not define.
    #[error("unknown metric {metric:?} for CVSS {version}")]
    UnknownMetric {
        /// The vector's version.
        version: Version,
        /// The metric abbreviation as written.
        metric: String,
    },
    /// A metric given twice.
    #[error("metric {metric} appears more than once")]
    DuplicateMetric {
        /// The metric abbreviation.
        metric: &'static str,
    },
    /// A value the metric does not define (values are case-sensitive).
    #[error("metric {metric} has unknown value {value:?}; expected one of {expected}")]
    InvalidValue {
        /// The metric abbreviation.
        metric: &'static str,
        /// The value as written.
        value: String,
        /// The values the metric accepts, comma-separated.
        expected: String,
    },
    /// A mandatory (base) metric is absent.
    #[error("mandatory metric {metric} is missing")]
    MissingMetric {
        /// The metric abbreviation.
        metric: &'static str,
    },
    /// CVSS v4.0 requires the metrics in the order of its specification (section 7).
    #[error("metric {metric} is out of order: CVSS 4.0 lists it before {after}")]
    OutOfOrder {
        /// The metric that came too late.
        metric: &'static str,
        /// The metric it came after.
        after: &'static str,
    },
}

/// A parsed CVSS vector of any supported version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Vector {
    /// A CVSS v3.0 or v3.1 vector.
    V3(v3::Vector),
    /// A CVSS v4.0 vector.
    V4(v4::Vector),
}

impl Vector {
    /// Parses `CVSS:3.0/...`, `CVSS:3.1/...` or `CVSS:4.0/...`.
    ///
    /// # Errors
    /// [`CvssError`] naming the prefix, component or metric at fault.
    pub fn parse(vector: &str) -> Result<Self, CvssError> {
        let rest = vector
            .strip_prefix("CVSS:")
            .ok_or(CvssError::MissingPrefix)?;
        let version = rest.split('/').next().unwrap_or_default();
        match version {
            "3.0" | "3.1" => v3::Vector::parse(vector).map(Self::V3),
            "4.0" => v4::Vector::parse(vector).map(Self::V4),
            other => Err(CvssError::UnsupportedVersion {
                version: other.to_owned(),
            }),
        }
    }

    /// The specification version the vector follows.
    #[must_use]
    pub fn version(&self) -> Version {
        match self {
            Self::V3(v) => v.version(),
            Self::V4(_) => Version::V4_0,
        }
    }

    /// The base score: v3.x base score; v4.0 CVSS-B (threat and environmental metrics left
    /// out).
    #[must_use]
    pub fn base_score(&self) -> f64 {
        match self {
            Self::V3(v) => v.base_score(),
            Self::V4(v) => v.base_score(),
        }
    }

    /// The rating of [`base_score`](Self::base_score).
    #[must_use]
    pub fn severity(&self) -> Severity {
        Severity::from_score(self.base_score())
    }

    /// The score of everything the vector says: v3.x the environmental score when an
    /// environmental metric is defined, else the temporal score when a temporal metric is,
    /// else the base score; v4.0 the score of all its metrics (CVSS-B, -BT, -BE or -BTE).
    #[must_use]
    pub fn overall_score(&self) -> f64 {
        match self {
            Self::V3(v) => v.overall_score(),
            Self::V4(v) => v.score(),
        }
    }

    /// The rating of [`overall_score`](Self::overall_score).
    #[must_use]
    pub fn overall_severity(&self) -> Severity {
        Severity::from_score(self.overall_score())
    }

    /// The base Attack Vector (not the environmental Modified Attack Vector).
    #[must_use]
    pub fn attack_vector(&self) -> AttackVector {
        match self {
            Self::V3(v) => v.base.attack_vector,
            Self::V4(v) => v.base.attack_vector,
        }
    }
}

impl FromStr for Vector {
    type Err = CvssError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V3(v) => v.fmt(f),
            Self::V4(v) => v.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_bands_follow_the_rating_scale() {
        let cases = [
            (0.0, Severity::None),
            (0.1, Severity::Low),
            (3.9, Severity::Low),
            (4.0, Severity::Medium),
            (6.9, Severity::Medium),
            (7.0, Severity::High),
            (8.9, Severity::High),
            (9.0, Severity::Critical),
            (10.0, Severity::Critical),
        ];
        for (score, severity) in cases {
            assert_eq!(Severity::from_score(score), severity, "{score}");
        }
    }

    #[test]
    fn dispatches_on_the_version_prefix() {
        let v = Vector::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(v.version(), Version::V3_1);
        assert!((v.base_score() - 9.8).abs() < 1e-9);
        assert_eq!(v.severity(), Severity::Critical);
        assert_eq!(v.attack_vector(), AttackVector::Network);
        let v = Vector::parse("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
            .unwrap();
        assert_eq!(v.version(), Version::V4_0);
        assert_eq!(v.attack_vector(), AttackVector::Local);
    }

    #[test]
    fn rejects_other_prefixes() {
        assert_eq!(
            Vector::parse("AV:N/AC:L/Au:N/C:P/I:P/A:P"),
            Err(CvssError::MissingPrefix)
        );
        assert_eq!(
            Vector::parse("CVSS:2.0/AV:N"),
            Err(CvssError::UnsupportedVersion {
                version: "2.0".into()
            })
        );
        assert_eq!(
            Vector::parse("CVSS:3.1/"),
            Err(CvssError::MissingMetric { metric: "AV" })
        );
        assert_eq!(
            Vector::parse("CVSS:4.0"),
            Err(CvssError::MissingMetric { metric: "AV" })
        );
        assert_eq!(
            Vector::parse("CVSS:"),
            Err(CvssError::UnsupportedVersion {
                version: String::new()
            })
        );
    }
}
