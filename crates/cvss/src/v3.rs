//! CVSS v3.0 and v3.1: metrics, vector strings and the base, temporal and environmental
//! equations of section 7 of each specification.
//!
//! The two versions share their metrics and weights; they differ in the rounding function
//! (v3.1 Appendix A `Roundup` works on integers to avoid floating-point surprises such as
//! `ceil(4.000000000000001 * 10) / 10 = 4.1`; v3.0 is the plain ceiling) and in the
//! environmental Modified Impact when the modified scope is changed.
//!
//! In v3.x metrics may appear in any order (the specification only prefers its order); each
//! at most once; the eight base metrics are mandatory.

use std::fmt;

use crate::metric::{self, Components, Order, metric_values};
use crate::{AttackVector, CvssError, Severity, Version};

metric_values! {
    /// Attack Complexity (AC).
    pub enum AttackComplexity {
        /// `L`
        Low = "L",
        /// `H`
        High = "H",
    }
}

metric_values! {
    /// Privileges Required (PR).
    pub enum PrivilegesRequired {
        /// `N`
        None = "N",
        /// `L`
        Low = "L",
        /// `H`
        High = "H",
    }
}

metric_values! {
    /// User Interaction (UI).
    pub enum UserInteraction {
        /// `N`
        None = "N",
        /// `R`
        Required = "R",
    }
}

metric_values! {
    /// Scope (S): whether the impact reaches beyond the vulnerable component's authority.
    pub enum Scope {
        /// `U`
        Unchanged = "U",
        /// `C`
        Changed = "C",
    }
}

metric_values! {
    /// Confidentiality, Integrity or Availability impact (C, I, A and their modified forms).
    pub enum Impact {
        /// `H`
        High = "H",
        /// `L`
        Low = "L",
        /// `N`
        None = "N",
    }
}

metric_values! {
    /// Exploit Code Maturity (E), a temporal metric.
    pub enum ExploitCodeMaturity {
        /// `H`
        High = "H",
        /// `F`
        Functional = "F",
        /// `P`
        ProofOfConcept = "P",
        /// `U`
        Unproven = "U",
    }
}

metric_values! {
    /// Remediation Level (RL), a temporal metric.
    pub enum RemediationLevel {
        /// `U`
        Unavailable = "U",
        /// `W`
        Workaround = "W",
        /// `T`
        TemporaryFix = "T",
        /// `O`
        OfficialFix = "O",
    }
}

metric_values! {
    /// Report Confidence (RC), a temporal metric.
    pub enum ReportConfidence {
        /// `C`
        Confirmed = "C",
        /// `R`
        Reasonable = "R",
        /// `U`
        Unknown = "U",
    }
}

metric_values! {
    /// Confidentiality, Integrity or Availability Requirement (CR, IR, AR).
    pub enum Requirement {
        /// `H`
        High = "H",
        /// `M`
        Medium = "M",
        /// `L`
        Low = "L",
    }
}

/// The metrics of a v3.x vector in the specification's order (Table 15 of v3.1).
const METRICS: &[&str] = &[
    "AV", "AC", "PR", "UI", "S", "C", "I", "A", // base
    "E", "RL", "RC", // temporal
    "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA", // environmental
];

/// The base metric group: the intrinsic qualities of the vulnerability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaseMetrics {
    /// AV
    pub attack_vector: AttackVector,
    /// AC
    pub attack_complexity: AttackComplexity,
    /// PR
    pub privileges_required: PrivilegesRequired,
    /// UI
    pub user_interaction: UserInteraction,
    /// S
    pub scope: Scope,
    /// C
    pub confidentiality: Impact,
    /// I
    pub integrity: Impact,
    /// A
    pub availability: Impact,
}

/// The temporal metric group; `None` is Not Defined (`X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TemporalMetrics {
    /// E
    pub exploit_code_maturity: Option<ExploitCodeMaturity>,
    /// RL
    pub remediation_level: Option<RemediationLevel>,
    /// RC
    pub report_confidence: Option<ReportConfidence>,
}

/// The environmental metric group; `None` is Not Defined (`X`): a modified metric then takes
/// the base value, a requirement weighs as Medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EnvironmentalMetrics {
    /// CR
    pub confidentiality_requirement: Option<Requirement>,
    /// IR
    pub integrity_requirement: Option<Requirement>,
    /// AR
    pub availability_requirement: Option<Requirement>,
    /// MAV
    pub modified_attack_vector: Option<AttackVector>,
    /// MAC
    pub modified_attack_complexity: Option<AttackComplexity>,
    /// MPR
    pub modified_privileges_required: Option<PrivilegesRequired>,
    /// MUI
    pub modified_user_interaction: Option<UserInteraction>,
    /// MS
    pub modified_scope: Option<Scope>,
    /// MC
    pub modified_confidentiality: Option<Impact>,
    /// MI
    pub modified_integrity: Option<Impact>,
    /// MA
    pub modified_availability: Option<Impact>,
}

/// The scores of a v3.x vector. A group's score is `None` when the vector defines none of
/// its metrics (it would equal the base score).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Base score.
    pub base: f64,
    /// Temporal score.
    pub temporal: Option<f64>,
    /// Environmental score.
    pub environmental: Option<f64>,
}

/// A CVSS v3.0 or v3.1 vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vector {
    version: Version,
    /// The base metrics.
    pub base: BaseMetrics,
    /// The temporal metrics.
    pub temporal: TemporalMetrics,
    /// The environmental metrics.
    pub environmental: EnvironmentalMetrics,
}

impl Vector {
    /// A vector with the given base metrics and nothing else defined.
    ///
    /// # Errors
    /// [`CvssError::UnsupportedVersion`] unless `version` is 3.0 or 3.1.
    pub fn new(version: Version, base: BaseMetrics) -> Result<Self, CvssError> {
        match version {
            Version::V3_0 | Version::V3_1 => Ok(Self {
                version,
                base,
                temporal: TemporalMetrics::default(),
                environmental: EnvironmentalMetrics::default(),
            }),
            other => Err(CvssError::UnsupportedVersion {
                version: other.to_string(),
            }),
        }
    }

    /// Parses `CVSS:3.0/...` or `CVSS:3.1/...`.
    ///
    /// # Errors
    /// [`CvssError`] naming the component or metric at fault.
    pub fn parse(vector: &str) -> Result<Self, CvssError> {
        let rest = vector
            .strip_prefix("CVSS:")
            .ok_or(CvssError::MissingPrefix)?;
        let (version_text, body) = rest.split_once('/').unwrap_or((rest, ""));
        let version = match version_text {
            "3.0" => Version::V3_0,
            "3.1" => Version::V3_1,
            other => {
                return Err(CvssError::UnsupportedVersion {
                    version: other.to_owned(),
                });
            }
        };
        let offset = "CVSS:".len() + version_text.len() + 1;
        let c = Components::split(body, offset, version, METRICS, Order::Any)?;
        Ok(Self {
            version,
            base: BaseMetrics {
                attack_vector: c.required("AV")?,
                attack_complexity: c.required("AC")?,
                privileges_required: c.required("PR")?,
                user_interaction: c.required("UI")?,
                scope: c.required("S")?,
                confidentiality: c.required("C")?,
                integrity: c.required("I")?,
                availability: c.required("A")?,
            },
            temporal: TemporalMetrics {
                exploit_code_maturity: c.optional("E")?,
                remediation_level: c.optional("RL")?,
                report_confidence: c.optional("RC")?,
            },
            environmental: EnvironmentalMetrics {
                confidentiality_requirement: c.optional("CR")?,
                integrity_requirement: c.optional("IR")?,
                availability_requirement: c.optional("AR")?,
                modified_attack_vector: c.optional("MAV")?,
                modified_attack_complexity: c.optional("MAC")?,
                modified_privileges_required: c.optional("MPR")?,
                modified_user_interaction: c.optional("MUI")?,
                modified_scope: c.optional("MS")?,
                modified_confidentiality: c.optional("MC")?,
                modified_integrity: c.optional("MI")?,
                modified_availability: c.optional("MA")?,
            },
        })
    }

    /// [`Version::V3_0`] or [`Version::V3_1`].
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The base score (section 7.1).
    #[must_use]
    pub fn base_score(&self) -> f64 {
        let b = &self.base;
        let iss = 1.0
            - ((1.0 - cia(b.confidentiality))
                * (1.0 - cia(b.integrity))
                * (1.0 - cia(b.availability)));
        let changed = b.scope == Scope::Changed;
        let impact = if changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        let exploitability = 8.22
            * av(b.attack_vector)
            * ac(b.attack_complexity)
            * pr(b.privileges_required, changed)
            * ui(b.user_interaction);
        if impact <= 0.0 {
            0.0
        } else if changed {
            self.roundup(f64::min(1.08 * (impact + exploitability), 10.0))
        } else {
            self.roundup(f64::min(impact + exploitability, 10.0))
        }
    }

    /// The temporal score (section 7.2); the base score when no temporal metric is defined.
    #[must_use]
    pub fn temporal_score(&self) -> f64 {
        self.roundup(self.base_score() * self.temporal_factor())
    }

    fn temporal_factor(&self) -> f64 {
        let t = &self.temporal;
        e(t.exploit_code_maturity) * rl(t.remediation_level) * rc(t.report_confidence)
    }

    /// The environmental score (section 7.3); with no environmental metric defined it equals
    /// the temporal score.
    #[must_use]
    pub fn environmental_score(&self) -> f64 {
        let b = &self.base;
        let m = &self.environmental;
        let c = m.modified_confidentiality.unwrap_or(b.confidentiality);
        let i = m.modified_integrity.unwrap_or(b.integrity);
        let a = m.modified_availability.unwrap_or(b.availability);
        let miss = f64::min(
            1.0 - ((1.0 - requirement(m.confidentiality_requirement) * cia(c))
                * (1.0 - requirement(m.integrity_requirement) * cia(i))
                * (1.0 - requirement(m.availability_requirement) * cia(a))),
            0.915,
        );
        let changed = m.modified_scope.unwrap_or(b.scope) == Scope::Changed;
        let modified_impact = match (changed, self.version) {
            (false, _) => 6.42 * miss,
            (true, Version::V3_0) => 7.52 * (miss - 0.029) - 3.25 * (miss - 0.02).powi(15),
            (true, _) => 7.52 * (miss - 0.029) - 3.25 * (miss * 0.9731 - 0.02).powi(13),
        };
        let modified_exploitability = 8.22
            * av(m.modified_attack_vector.unwrap_or(b.attack_vector))
            * ac(m.modified_attack_complexity.unwrap_or(b.attack_complexity))
            * pr(
                m.modified_privileges_required
                    .unwrap_or(b.privileges_required),
                changed,
            )
            * ui(m.modified_user_interaction.unwrap_or(b.user_interaction));
        if modified_impact <= 0.0 {
            return 0.0;
        }
        let sum = if changed {
            1.08 * (modified_impact + modified_exploitability)
        } else {
            modified_impact + modified_exploitability
        };
        self.roundup(self.roundup(f64::min(sum, 10.0)) * self.temporal_factor())
    }

    /// The base, temporal and environmental scores, the latter two only when the vector
    /// defines a metric of their group.
    #[must_use]
    pub fn scores(&self) -> Scores {
        Scores {
            base: self.base_score(),
            temporal: (self.temporal != TemporalMetrics::default()).then(|| self.temporal_score()),
            environmental: (self.environmental != EnvironmentalMetrics::default())
                .then(|| self.environmental_score()),
        }
    }

    /// The most specific score the vector defines: environmental, else temporal, else base.
    #[must_use]
    pub fn overall_score(&self) -> f64 {
        let s = self.scores();
        s.environmental.or(s.temporal).unwrap_or(s.base)
    }

    /// The rating of the base score.
    #[must_use]
    pub fn severity(&self) -> Severity {
        Severity::from_score(self.base_score())
    }

    fn roundup(&self, x: f64) -> f64 {
        match self.version {
            Version::V3_0 => roundup_v30(x),
            _ => roundup_v31(x),
        }
    }
}

/// v3.0 section 7.4: "the smallest number, specified to one decimal place, that is equal to
/// or higher than its input", for the exact value of the input.
///
/// The equations are exact in decimal, but in `f64` `5.0 × 0.92` is `4.6000000000000005`,
/// and a bare `ceil(x * 10) / 10` (FIRST's v3.0 JavaScript calculator) makes that 4.7 where
/// the specification, and Red Hat's `cvss` computing in `Decimal`, give 4.6. A result within
/// 10⁻⁹ of a tenth is taken as that tenth: `f64` noise here is around 10⁻¹⁵, and an exact
/// value that close above a tenth does not come out of the v3.0 weights.
fn roundup_v30(x: f64) -> f64 {
    let tenths = x * 10.0;
    let nearest = tenths.round();
    if (tenths - nearest).abs() < 1e-9 {
        nearest / 10.0
    } else {
        tenths.ceil() / 10.0
    }
}

/// v3.1 Appendix A: the same rounding, computed on integers so that a floating-point result
/// a hair above a tenth (`4.000000000000001`) is not pushed to the next tenth.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn roundup_v31(x: f64) -> f64 {
    // Scores are in 0..=10.8 here, so the cast cannot truncate.
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

fn av(v: AttackVector) -> f64 {
    match v {
        AttackVector::Network => 0.85,
        AttackVector::Adjacent => 0.62,
        AttackVector::Local => 0.55,
        AttackVector::Physical => 0.2,
    }
}

fn ac(v: AttackComplexity) -> f64 {
    match v {
        AttackComplexity::Low => 0.77,
        AttackComplexity::High => 0.44,
    }
}

/// Privileges Required weighs more when the scope is changed.
fn pr(v: PrivilegesRequired, scope_changed: bool) -> f64 {
    match (v, scope_changed) {
        (PrivilegesRequired::None, _) => 0.85,
        (PrivilegesRequired::Low, false) => 0.62,
        (PrivilegesRequired::Low, true) => 0.68,
        (PrivilegesRequired::High, false) => 0.27,
        (PrivilegesRequired::High, true) => 0.5,
    }
}

fn ui(v: UserInteraction) -> f64 {
    match v {
        UserInteraction::None => 0.85,
        UserInteraction::Required => 0.62,
    }
}

fn cia(v: Impact) -> f64 {
    match v {
        Impact::High => 0.56,
        Impact::Low => 0.22,
        Impact::None => 0.0,
    }
}

fn e(v: Option<ExploitCodeMaturity>) -> f64 {
    match v {
        None | Some(ExploitCodeMaturity::High) => 1.0,
        Some(ExploitCodeMaturity::Functional) => 0.97,
        Some(ExploitCodeMaturity::ProofOfConcept) => 0.94,
        Some(ExploitCodeMaturity::Unproven) => 0.91,
    }
}

fn rl(v: Option<RemediationLevel>) -> f64 {
    match v {
        None | Some(RemediationLevel::Unavailable) => 1.0,
        Some(RemediationLevel::Workaround) => 0.97,
        Some(RemediationLevel::TemporaryFix) => 0.96,
        Some(RemediationLevel::OfficialFix) => 0.95,
    }
}

fn rc(v: Option<ReportConfidence>) -> f64 {
    match v {
        None | Some(ReportConfidence::Confirmed) => 1.0,
        Some(ReportConfidence::Reasonable) => 0.96,
        Some(ReportConfidence::Unknown) => 0.92,
    }
}

fn requirement(v: Option<Requirement>) -> f64 {
    match v {
        Some(Requirement::High) => 1.5,
        None | Some(Requirement::Medium) => 1.0,
        Some(Requirement::Low) => 0.5,
    }
}

impl fmt::Display for Vector {
    /// The normalised vector: the specification's metric order, Not Defined metrics left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use metric::{write_metric as w, write_optional as o};
        let (b, t, m) = (&self.base, &self.temporal, &self.environmental);
        write!(f, "CVSS:{}", self.version)?;
        w(f, "AV", b.attack_vector)?;
        w(f, "AC", b.attack_complexity)?;
        w(f, "PR", b.privileges_required)?;
        w(f, "UI", b.user_interaction)?;
        w(f, "S", b.scope)?;
        w(f, "C", b.confidentiality)?;
        w(f, "I", b.integrity)?;
        w(f, "A", b.availability)?;
        o(f, "E", t.exploit_code_maturity)?;
        o(f, "RL", t.remediation_level)?;
        o(f, "RC", t.report_confidence)?;
        o(f, "CR", m.confidentiality_requirement)?;
        o(f, "IR", m.integrity_requirement)?;
        o(f, "AR", m.availability_requirement)?;
        o(f, "MAV", m.modified_attack_vector)?;
        o(f, "MAC", m.modified_attack_complexity)?;
        o(f, "MPR", m.modified_privileges_required)?;
        o(f, "MUI", m.modified_user_interaction)?;
        o(f, "MS", m.modified_scope)?;
        o(f, "MC", m.modified_confidentiality)?;
        o(f, "MI", m.modified_integrity)?;
        o(f, "MA", m.modified_availability)
    }
}

impl std::str::FromStr for Vector {
    type Err = CvssError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(v: &str) -> (f64, f64, f64) {
        let v = Vector::parse(v).unwrap();
        (v.base_score(), v.temporal_score(), v.environmental_score())
    }

    #[test]
    fn roundup_v31_is_not_fooled_by_floating_point() {
        // Appendix A's own example.
        assert_eq!(roundup_v31(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup_v31(4.02), 4.1);
        assert_eq!(roundup_v31(4.0), 4.0);
        assert_eq!(roundup_v30(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup_v30(4.02), 4.1);
        assert_eq!(roundup_v30(5.0 * 0.92), 4.6);
    }

    #[test]
    fn v31_specification_examples() {
        // CVE-2014-0160 Heartbleed and CVE-2021-44228 Log4Shell as scored by NVD.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N").0, 7.5);
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H").0,
            10.0
        );
        // No impact: base 0 whatever the exploitability.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N").0, 0.0);
    }

    #[test]
    fn any_order_is_accepted_and_normalised() {
        let v = Vector::parse("CVSS:3.0/S:U/AV:N/AC:L/PR:H/UI:N/C:L/I:L/A:N/E:F/RL:X").unwrap();
        assert_eq!(
            v.to_string(),
            "CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:N/E:F"
        );
    }

    #[test]
    fn errors_name_the_metric() {
        let base = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H";
        assert_eq!(
            Vector::parse(base),
            Err(CvssError::MissingMetric { metric: "A" })
        );
        assert_eq!(
            Vector::parse(&format!("{base}/A:H/AV:L")),
            Err(CvssError::DuplicateMetric { metric: "AV" })
        );
        assert!(matches!(
            Vector::parse(&format!("{base}/A:Q")),
            Err(CvssError::InvalidValue { metric: "A", .. })
        ));
        assert!(matches!(
            Vector::parse(&format!("{base}/A:H/")),
            Err(CvssError::MalformedComponent { offset: 45, .. })
        ));
        assert!(matches!(
            Vector::parse(&format!("{base}/A:H/AT:N")),
            Err(CvssError::UnknownMetric { .. })
        ));
        // X is Not Defined, which base metrics cannot be.
        assert!(matches!(
            Vector::parse(&format!("{base}/A:X")),
            Err(CvssError::InvalidValue { metric: "A", .. })
        ));
    }
}
