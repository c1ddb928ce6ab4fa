//! CVSS v2.0 vectors (FIRST's "Complete Guide to the CVSS Version 2", 2007): parsing and the
//! base, temporal and environmental equations of its section 3.2.
//!
//! v2 vectors have no `CVSS:` prefix (`AV:N/AC:L/Au:N/C:P/I:P/A:P`); optional metrics are
//! Not Defined when absent or `ND`. CSAF 2.0 documents still carry `cvss_v2` objects, whose
//! scores are checked against these equations (CSAF mandatory test 6.1.9).

use std::fmt;

use crate::metric::{Components, Order, metric_values, write_metric, write_optional};
use crate::{CvssError, Version};

metric_values! {
    /// AV
    pub enum AccessVector { Local = "L", AdjacentNetwork = "A", Network = "N" }
}
metric_values! {
    /// AC
    pub enum AccessComplexity { High = "H", Medium = "M", Low = "L" }
}
metric_values! {
    /// Au
    pub enum Authentication { Multiple = "M", Single = "S", None = "N" }
}
metric_values! {
    /// C, I, A
    pub enum Impact { None = "N", Partial = "P", Complete = "C" }
}
metric_values! {
    /// E
    pub enum Exploitability { Unproven = "U", ProofOfConcept = "POC", Functional = "F", High = "H" }
}
metric_values! {
    /// RL
    pub enum RemediationLevel { OfficialFix = "OF", TemporaryFix = "TF", Workaround = "W", Unavailable = "U" }
}
metric_values! {
    /// RC
    pub enum ReportConfidence { Unconfirmed = "UC", Uncorroborated = "UR", Confirmed = "C" }
}
metric_values! {
    /// CDP
    pub enum CollateralDamagePotential { None = "N", Low = "L", LowMedium = "LM", MediumHigh = "MH", High = "H" }
}
metric_values! {
    /// TD
    pub enum TargetDistribution { None = "N", Low = "L", Medium = "M", High = "H" }
}
metric_values! {
    /// CR, IR, AR
    pub enum Requirement { Low = "L", Medium = "M", High = "H" }
}

const METRICS: &[&str] = &[
    "AV", "AC", "Au", "C", "I", "A", "E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR",
];

/// The base metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaseMetrics {
    /// AV
    pub access_vector: AccessVector,
    /// AC
    pub access_complexity: AccessComplexity,
    /// Au
    pub authentication: Authentication,
    /// C
    pub confidentiality_impact: Impact,
    /// I
    pub integrity_impact: Impact,
    /// A
    pub availability_impact: Impact,
}

/// The temporal metrics; `None` is Not Defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TemporalMetrics {
    /// E
    pub exploitability: Option<Exploitability>,
    /// RL
    pub remediation_level: Option<RemediationLevel>,
    /// RC
    pub report_confidence: Option<ReportConfidence>,
}

/// The environmental metrics; `None` is Not Defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EnvironmentalMetrics {
    /// CDP
    pub collateral_damage_potential: Option<CollateralDamagePotential>,
    /// TD
    pub target_distribution: Option<TargetDistribution>,
    /// CR
    pub confidentiality_requirement: Option<Requirement>,
    /// IR
    pub integrity_requirement: Option<Requirement>,
    /// AR
    pub availability_requirement: Option<Requirement>,
}

/// A CVSS v2.0 vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vector {
    /// The base metrics.
    pub base: BaseMetrics,
    /// The temporal metrics.
    pub temporal: TemporalMetrics,
    /// The environmental metrics.
    pub environmental: EnvironmentalMetrics,
}

/// v2 writes Not Defined as `ND` where v3 writes `X`: read it as absent.
fn optional<T: crate::MetricValue>(
    c: &Components<'_>,
    metric: &'static str,
) -> Result<Option<T>, CvssError> {
    c.optional_with(metric, "ND")
}

impl Vector {
    /// Parses `AV:N/AC:L/Au:N/C:P/I:P/A:P[/E:…/RL:…/RC:…/CDP:…/TD:…/CR:…/IR:…/AR:…]`, in
    /// any order, each metric at most once; `(…)` around it, as NVD once wrote it, is
    /// accepted.
    ///
    /// # Errors
    /// [`CvssError`] naming the component or metric at fault.
    pub fn parse(vector: &str) -> Result<Self, CvssError> {
        let body = vector
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .unwrap_or(vector);
        let c = Components::split(body, 0, Version::V2_0, METRICS, Order::Any)?;
        Ok(Self {
            base: BaseMetrics {
                access_vector: c.required("AV")?,
                access_complexity: c.required("AC")?,
                authentication: c.required("Au")?,
                confidentiality_impact: c.required("C")?,
                integrity_impact: c.required("I")?,
                availability_impact: c.required("A")?,
            },
            temporal: TemporalMetrics {
                exploitability: optional(&c, "E")?,
                remediation_level: optional(&c, "RL")?,
                report_confidence: optional(&c, "RC")?,
            },
            environmental: EnvironmentalMetrics {
                collateral_damage_potential: optional(&c, "CDP")?,
                target_distribution: optional(&c, "TD")?,
                confidentiality_requirement: optional(&c, "CR")?,
                integrity_requirement: optional(&c, "IR")?,
                availability_requirement: optional(&c, "AR")?,
            },
        })
    }

    /// The base score (section 3.2.1).
    #[must_use]
    pub fn base_score(&self) -> f64 {
        let b = &self.base;
        let impact = 10.41
            * (1.0
                - (1.0 - impact(b.confidentiality_impact))
                    * (1.0 - impact(b.integrity_impact))
                    * (1.0 - impact(b.availability_impact)));
        self.base_equation(impact)
    }

    fn base_equation(&self, impact: f64) -> f64 {
        let b = &self.base;
        let exploitability =
            20.0 * av(b.access_vector) * ac(b.access_complexity) * au(b.authentication);
        let f = if impact == 0.0 { 0.0 } else { 1.176 };
        round1(((0.6 * impact) + (0.4 * exploitability) - 1.5) * f)
    }

    fn temporal_of(&self, base: f64) -> f64 {
        let t = &self.temporal;
        round1(base * e(t.exploitability) * rl(t.remediation_level) * rc(t.report_confidence))
    }

    /// The temporal score (section 3.2.2); the base score when no temporal metric is defined.
    #[must_use]
    pub fn temporal_score(&self) -> f64 {
        self.temporal_of(self.base_score())
    }

    /// The environmental score (section 3.2.3), computed with Not Defined environmental
    /// metrics as the guide's tables weigh them.
    #[must_use]
    pub fn environmental_score(&self) -> f64 {
        let b = &self.base;
        let m = &self.environmental;
        let adjusted_impact = f64::min(
            10.0,
            10.41
                * (1.0
                    - (1.0
                        - impact(b.confidentiality_impact)
                            * requirement(m.confidentiality_requirement))
                        * (1.0
                            - impact(b.integrity_impact) * requirement(m.integrity_requirement))
                        * (1.0
                            - impact(b.availability_impact)
                                * requirement(m.availability_requirement))),
        );
        let adjusted_temporal = self.temporal_of(self.base_equation(adjusted_impact));
        round1(
            (adjusted_temporal + (10.0 - adjusted_temporal) * cdp(m.collateral_damage_potential))
                * td(m.target_distribution),
        )
    }

    /// Whether any temporal metric is defined.
    #[must_use]
    pub fn has_temporal(&self) -> bool {
        self.temporal != TemporalMetrics::default()
    }

    /// Whether any environmental metric is defined.
    #[must_use]
    pub fn has_environmental(&self) -> bool {
        self.environmental != EnvironmentalMetrics::default()
    }
}

impl fmt::Display for Vector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.base;
        write!(f, "AV:{}", crate::MetricValue::abbrev(b.access_vector))?;
        write_metric(f, "AC", b.access_complexity)?;
        write_metric(f, "Au", b.authentication)?;
        write_metric(f, "C", b.confidentiality_impact)?;
        write_metric(f, "I", b.integrity_impact)?;
        write_metric(f, "A", b.availability_impact)?;
        let t = &self.temporal;
        write_optional(f, "E", t.exploitability)?;
        write_optional(f, "RL", t.remediation_level)?;
        write_optional(f, "RC", t.report_confidence)?;
        let m = &self.environmental;
        write_optional(f, "CDP", m.collateral_damage_potential)?;
        write_optional(f, "TD", m.target_distribution)?;
        write_optional(f, "CR", m.confidentiality_requirement)?;
        write_optional(f, "IR", m.integrity_requirement)?;
        write_optional(f, "AR", m.availability_requirement)
    }
}

/// Rounds to one decimal, half away from zero, as the guide's `round_to_1_decimal`. The small
/// nudge keeps `x.x5` computed as `x.x4999999` from rounding down.
fn round1(x: f64) -> f64 {
    ((x * 10.0) + 1e-9).round() / 10.0
}

fn av(v: AccessVector) -> f64 {
    match v {
        AccessVector::Local => 0.395,
        AccessVector::AdjacentNetwork => 0.646,
        AccessVector::Network => 1.0,
    }
}

fn ac(v: AccessComplexity) -> f64 {
    match v {
        AccessComplexity::High => 0.35,
        AccessComplexity::Medium => 0.61,
        AccessComplexity::Low => 0.71,
    }
}

fn au(v: Authentication) -> f64 {
    match v {
        Authentication::Multiple => 0.45,
        Authentication::Single => 0.56,
        Authentication::None => 0.704,
    }
}

fn impact(v: Impact) -> f64 {
    match v {
        Impact::None => 0.0,
        Impact::Partial => 0.275,
        Impact::Complete => 0.660,
    }
}

fn e(v: Option<Exploitability>) -> f64 {
    match v {
        Some(Exploitability::Unproven) => 0.85,
        Some(Exploitability::ProofOfConcept) => 0.9,
        Some(Exploitability::Functional) => 0.95,
        Some(Exploitability::High) | None => 1.0,
    }
}

fn rl(v: Option<RemediationLevel>) -> f64 {
    match v {
        Some(RemediationLevel::OfficialFix) => 0.87,
        Some(RemediationLevel::TemporaryFix) => 0.9,
        Some(RemediationLevel::Workaround) => 0.95,
        Some(RemediationLevel::Unavailable) | None => 1.0,
    }
}

fn rc(v: Option<ReportConfidence>) -> f64 {
    match v {
        Some(ReportConfidence::Unconfirmed) => 0.9,
        Some(ReportConfidence::Uncorroborated) => 0.95,
        Some(ReportConfidence::Confirmed) | None => 1.0,
    }
}

fn cdp(v: Option<CollateralDamagePotential>) -> f64 {
    match v {
        Some(CollateralDamagePotential::None) | None => 0.0,
        Some(CollateralDamagePotential::Low) => 0.1,
        Some(CollateralDamagePotential::LowMedium) => 0.3,
        Some(CollateralDamagePotential::MediumHigh) => 0.4,
        Some(CollateralDamagePotential::High) => 0.5,
    }
}

fn td(v: Option<TargetDistribution>) -> f64 {
    match v {
        Some(TargetDistribution::None) => 0.0,
        Some(TargetDistribution::Low) => 0.25,
        Some(TargetDistribution::Medium) => 0.75,
        Some(TargetDistribution::High) | None => 1.0,
    }
}

fn requirement(v: Option<Requirement>) -> f64 {
    match v {
        Some(Requirement::Low) => 0.5,
        Some(Requirement::Medium) | None => 1.0,
        Some(Requirement::High) => 1.51,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_examples() {
        // Section 3.3.1, CVE-2002-0392.
        let v =
            Vector::parse("AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H")
                .unwrap();
        assert!((v.base_score() - 7.8).abs() < 1e-9);
        assert!((v.temporal_score() - 6.4).abs() < 1e-9);
        assert!((v.environmental_score() - 9.2).abs() < 1e-9);
        assert_eq!(
            v.to_string(),
            "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H"
        );
    }

    #[test]
    fn refuses_what_is_not_a_v2_vector() {
        assert_eq!(
            Vector::parse("AV:N/AC:L/Au:N/C:N/I:N"),
            Err(CvssError::MissingMetric { metric: "A" })
        );
        assert!(Vector::parse("AV:N/AC:L/Au:N/C:N/I:N/A:X").is_err());
        assert!(Vector::parse("CVSS:3.1/AV:N").is_err());
        assert!(Vector::parse("").is_err());
    }
}
