//! CVSS v4.0: metrics, vector strings and scores.
//!
//! Section 7 of the specification: all eleven base metrics are mandatory; threat,
//! environmental and supplemental metrics are optional (absent means Not Defined, `X`);
//! each metric appears at most once and in the order of the specification's table, which this
//! module enforces. Supplemental metrics describe but never change the score.
//!
//! The score comes from [`score`](mod@score): the macrovector lookup and interpolation of
//! FIRST's reference calculator.

use std::fmt;

use crate::metric::{self, Components, Order, metric_values};
use crate::{AttackVector, CvssError, Severity, Version};

mod score;
mod tables;

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
    /// Attack Requirements (AT): deployment conditions the attack depends on.
    pub enum AttackRequirements {
        /// `N`
        None = "N",
        /// `P`
        Present = "P",
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
        /// `P`: involuntary interaction.
        Passive = "P",
        /// `A`: conscious interaction.
        Active = "A",
    }
}

metric_values! {
    /// Impact on the vulnerable or a subsequent system (VC, VI, VA, SC, SI, SA, MVC, MVI, MVA,
    /// MSC).
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
    /// Modified Subsequent System Integrity or Availability (MSI, MSA), which can say Safety.
    pub enum ModifiedSubsequentImpact {
        /// `S`: the impact can cause injury (IEC 61508), the value a patient monitor cares about.
        Safety = "S",
        /// `H`
        High = "H",
        /// `L`
        Low = "L",
        /// `N`
        None = "N",
    }
}

metric_values! {
    /// Exploit Maturity (E), the threat metric.
    pub enum ExploitMaturity {
        /// `A`: attacks reported.
        Attacked = "A",
        /// `P`: proof of concept public.
        ProofOfConcept = "P",
        /// `U`: no known exploit.
        Unreported = "U",
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

metric_values! {
    /// Safety (S), supplemental.
    pub enum Safety {
        /// `N`
        Negligible = "N",
        /// `P`
        Present = "P",
    }
}

metric_values! {
    /// Automatable (AU), supplemental.
    pub enum Automatable {
        /// `N`
        No = "N",
        /// `Y`
        Yes = "Y",
    }
}

metric_values! {
    /// Recovery (R), supplemental.
    pub enum Recovery {
        /// `A`
        Automatic = "A",
        /// `U`
        User = "U",
        /// `I`
        Irrecoverable = "I",
    }
}

metric_values! {
    /// Value Density (V), supplemental.
    pub enum ValueDensity {
        /// `D`
        Diffuse = "D",
        /// `C`
        Concentrated = "C",
    }
}

metric_values! {
    /// Vulnerability Response Effort (RE), supplemental.
    pub enum ResponseEffort {
        /// `L`
        Low = "L",
        /// `M`
        Moderate = "M",
        /// `H`
        High = "H",
    }
}

metric_values! {
    /// Provider Urgency (U), supplemental.
    pub enum ProviderUrgency {
        /// `Clear`
        Clear = "Clear",
        /// `Green`
        Green = "Green",
        /// `Amber`
        Amber = "Amber",
        /// `Red`
        Red = "Red",
    }
}

/// The metrics of a v4.0 vector in the specification's order (section 7, table 23).
const METRICS: &[&str] = &[
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA", // base
    "E",  // threat
    "CR", "IR", "AR", "MAV", "MAC", "MAT", "MPR", "MUI", "MVC", "MVI", "MVA", "MSC", "MSI",
    "MSA", // environmental
    "S", "AU", "R", "V", "RE", "U", // supplemental
];

/// The base metric group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BaseMetrics {
    /// AV
    pub attack_vector: AttackVector,
    /// AC
    pub attack_complexity: AttackComplexity,
    /// AT
    pub attack_requirements: AttackRequirements,
    /// PR
    pub privileges_required: PrivilegesRequired,
    /// UI
    pub user_interaction: UserInteraction,
    /// VC
    pub vulnerable_confidentiality: Impact,
    /// VI
    pub vulnerable_integrity: Impact,
    /// VA
    pub vulnerable_availability: Impact,
    /// SC
    pub subsequent_confidentiality: Impact,
    /// SI
    pub subsequent_integrity: Impact,
    /// SA
    pub subsequent_availability: Impact,
}

/// The threat metric group; `None` is Not Defined (`X`), which scores as Attacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ThreatMetrics {
    /// E
    pub exploit_maturity: Option<ExploitMaturity>,
}

/// The environmental metric group; `None` is Not Defined (`X`): a modified metric then takes
/// the base value, a requirement scores as High.
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
    /// MAT
    pub modified_attack_requirements: Option<AttackRequirements>,
    /// MPR
    pub modified_privileges_required: Option<PrivilegesRequired>,
    /// MUI
    pub modified_user_interaction: Option<UserInteraction>,
    /// MVC
    pub modified_vulnerable_confidentiality: Option<Impact>,
    /// MVI
    pub modified_vulnerable_integrity: Option<Impact>,
    /// MVA
    pub modified_vulnerable_availability: Option<Impact>,
    /// MSC
    pub modified_subsequent_confidentiality: Option<Impact>,
    /// MSI
    pub modified_subsequent_integrity: Option<ModifiedSubsequentImpact>,
    /// MSA
    pub modified_subsequent_availability: Option<ModifiedSubsequentImpact>,
}

/// The supplemental metric group: information for the consumer, no effect on the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SupplementalMetrics {
    /// S
    pub safety: Option<Safety>,
    /// AU
    pub automatable: Option<Automatable>,
    /// R
    pub recovery: Option<Recovery>,
    /// V
    pub value_density: Option<ValueDensity>,
    /// RE
    pub response_effort: Option<ResponseEffort>,
    /// U
    pub provider_urgency: Option<ProviderUrgency>,
}

/// Which metric groups a v4.0 score covers (specification section 1.3 nomenclature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nomenclature {
    /// CVSS-B: base metrics only.
    Base,
    /// CVSS-BT: base and threat metrics.
    BaseThreat,
    /// CVSS-BE: base and environmental metrics.
    BaseEnvironmental,
    /// CVSS-BTE: base, threat and environmental metrics.
    BaseThreatEnvironmental,
}

impl Nomenclature {
    /// `CVSS-B`, `CVSS-BT`, `CVSS-BE` or `CVSS-BTE`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "CVSS-B",
            Self::BaseThreat => "CVSS-BT",
            Self::BaseEnvironmental => "CVSS-BE",
            Self::BaseThreatEnvironmental => "CVSS-BTE",
        }
    }
}

impl fmt::Display for Nomenclature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scores of a v4.0 vector. A score is `None` when the vector defines none of the
/// metrics that would set it apart from the one before.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// CVSS-B: the base metrics alone.
    pub base: f64,
    /// CVSS-BT: base and threat metrics, when a threat metric is defined.
    pub threat: Option<f64>,
    /// CVSS-BE or CVSS-BTE: all metrics, when an environmental metric is defined.
    pub environmental: Option<f64>,
}

/// A CVSS v4.0 vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vector {
    /// The base metrics.
    pub base: BaseMetrics,
    /// The threat metric.
    pub threat: ThreatMetrics,
    /// The environmental metrics.
    pub environmental: EnvironmentalMetrics,
    /// The supplemental metrics.
    pub supplemental: SupplementalMetrics,
}

impl Vector {
    /// A vector with the given base metrics and nothing else defined.
    #[must_use]
    pub fn new(base: BaseMetrics) -> Self {
        Self {
            base,
            threat: ThreatMetrics::default(),
            environmental: EnvironmentalMetrics::default(),
            supplemental: SupplementalMetrics::default(),
        }
    }

    /// Parses `CVSS:4.0/...`.
    ///
    /// # Errors
    /// [`CvssError`] naming the component or metric at fault.
    pub fn parse(vector: &str) -> Result<Self, CvssError> {
        let rest = vector
            .strip_prefix("CVSS:")
            .ok_or(CvssError::MissingPrefix)?;
        let (version_text, body) = rest.split_once('/').unwrap_or((rest, ""));
        if version_text != "4.0" {
            return Err(CvssError::UnsupportedVersion {
                version: version_text.to_owned(),
            });
        }
        let offset = "CVSS:4.0/".len();
        let c = Components::split(body, offset, Version::V4_0, METRICS, Order::Specification)?;
        Ok(Self {
            base: BaseMetrics {
                attack_vector: c.required("AV")?,
                attack_complexity: c.required("AC")?,
                attack_requirements: c.required("AT")?,
                privileges_required: c.required("PR")?,
                user_interaction: c.required("UI")?,
                vulnerable_confidentiality: c.required("VC")?,
                vulnerable_integrity: c.required("VI")?,
                vulnerable_availability: c.required("VA")?,
                subsequent_confidentiality: c.required("SC")?,
                subsequent_integrity: c.required("SI")?,
                subsequent_availability: c.required("SA")?,
            },
            threat: ThreatMetrics {
                exploit_maturity: c.optional("E")?,
            },
            environmental: EnvironmentalMetrics {
                confidentiality_requirement: c.optional("CR")?,
                integrity_requirement: c.optional("IR")?,
                availability_requirement: c.optional("AR")?,
                modified_attack_vector: c.optional("MAV")?,
                modified_attack_complexity: c.optional("MAC")?,
                modified_attack_requirements: c.optional("MAT")?,
                modified_privileges_required: c.optional("MPR")?,
                modified_user_interaction: c.optional("MUI")?,
                modified_vulnerable_confidentiality: c.optional("MVC")?,
                modified_vulnerable_integrity: c.optional("MVI")?,
                modified_vulnerable_availability: c.optional("MVA")?,
                modified_subsequent_confidentiality: c.optional("MSC")?,
                modified_subsequent_integrity: c.optional("MSI")?,
                modified_subsequent_availability: c.optional("MSA")?,
            },
            supplemental: SupplementalMetrics {
                safety: c.optional("S")?,
                automatable: c.optional("AU")?,
                recovery: c.optional("R")?,
                value_density: c.optional("V")?,
                response_effort: c.optional("RE")?,
                provider_urgency: c.optional("U")?,
            },
        })
    }

    /// The score of all the vector's metrics; its [`nomenclature`](Self::nomenclature) says
    /// which groups it covers.
    #[must_use]
    pub fn score(&self) -> f64 {
        score::score(self)
    }

    /// CVSS-B: the score of the base metrics alone, threat and environmental metrics left out.
    #[must_use]
    pub fn base_score(&self) -> f64 {
        score::score(&Self::new(self.base))
    }

    /// CVSS-B, -BT, -BE or -BTE, after the groups the vector defines.
    #[must_use]
    pub fn nomenclature(&self) -> Nomenclature {
        let threat = self.threat != ThreatMetrics::default();
        let environmental = self.environmental != EnvironmentalMetrics::default();
        match (threat, environmental) {
            (false, false) => Nomenclature::Base,
            (true, false) => Nomenclature::BaseThreat,
            (false, true) => Nomenclature::BaseEnvironmental,
            (true, true) => Nomenclature::BaseThreatEnvironmental,
        }
    }

    /// CVSS-B always; CVSS-BT when a threat metric is defined; CVSS-BE/BTE when an
    /// environmental metric is.
    #[must_use]
    pub fn scores(&self) -> Scores {
        let threat = (self.threat != ThreatMetrics::default()).then(|| {
            score::score(&Self {
                base: self.base,
                threat: self.threat,
                environmental: EnvironmentalMetrics::default(),
                supplemental: SupplementalMetrics::default(),
            })
        });
        let environmental =
            (self.environmental != EnvironmentalMetrics::default()).then(|| self.score());
        Scores {
            base: self.base_score(),
            threat,
            environmental,
        }
    }

    /// The rating of the CVSS-B score.
    #[must_use]
    pub fn severity(&self) -> Severity {
        Severity::from_score(self.base_score())
    }
}

impl fmt::Display for Vector {
    /// The normalised vector: the specification's order, Not Defined metrics left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use metric::{write_metric as w, write_optional as o};
        let (b, m, s) = (&self.base, &self.environmental, &self.supplemental);
        f.write_str("CVSS:4.0")?;
        w(f, "AV", b.attack_vector)?;
        w(f, "AC", b.attack_complexity)?;
        w(f, "AT", b.attack_requirements)?;
        w(f, "PR", b.privileges_required)?;
        w(f, "UI", b.user_interaction)?;
        w(f, "VC", b.vulnerable_confidentiality)?;
        w(f, "VI", b.vulnerable_integrity)?;
        w(f, "VA", b.vulnerable_availability)?;
        w(f, "SC", b.subsequent_confidentiality)?;
        w(f, "SI", b.subsequent_integrity)?;
        w(f, "SA", b.subsequent_availability)?;
        o(f, "E", self.threat.exploit_maturity)?;
        o(f, "CR", m.confidentiality_requirement)?;
        o(f, "IR", m.integrity_requirement)?;
        o(f, "AR", m.availability_requirement)?;
        o(f, "MAV", m.modified_attack_vector)?;
        o(f, "MAC", m.modified_attack_complexity)?;
        o(f, "MAT", m.modified_attack_requirements)?;
        o(f, "MPR", m.modified_privileges_required)?;
        o(f, "MUI", m.modified_user_interaction)?;
        o(f, "MVC", m.modified_vulnerable_confidentiality)?;
        o(f, "MVI", m.modified_vulnerable_integrity)?;
        o(f, "MVA", m.modified_vulnerable_availability)?;
        o(f, "MSC", m.modified_subsequent_confidentiality)?;
        o(f, "MSI", m.modified_subsequent_integrity)?;
        o(f, "MSA", m.modified_subsequent_availability)?;
        o(f, "S", s.safety)?;
        o(f, "AU", s.automatable)?;
        o(f, "R", s.recovery)?;
        o(f, "V", s.value_density)?;
        o(f, "RE", s.response_effort)?;
        o(f, "U", s.provider_urgency)
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

    const BASE: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";

    #[test]
    fn order_is_enforced() {
        assert_eq!(
            Vector::parse("CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            Err(CvssError::OutOfOrder {
                metric: "AV",
                after: "AC"
            })
        );
        assert_eq!(
            Vector::parse(&format!("{BASE}/CR:H/E:A")),
            Err(CvssError::OutOfOrder {
                metric: "E",
                after: "CR"
            })
        );
    }

    #[test]
    fn errors_name_the_metric() {
        assert_eq!(
            Vector::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N"),
            Err(CvssError::MissingMetric { metric: "SA" })
        );
        assert_eq!(
            Vector::parse(&format!("{BASE}/E:A/E:A")),
            Err(CvssError::DuplicateMetric { metric: "E" })
        );
        assert_eq!(
            Vector::parse(&format!("{BASE}/MSC:S")),
            Err(CvssError::InvalidValue {
                metric: "MSC",
                value: "S".into(),
                expected: "H, L, N, X".into()
            })
        );
        assert!(matches!(
            Vector::parse(&format!("{BASE}/U:red")),
            Err(CvssError::InvalidValue { metric: "U", .. })
        ));
        assert!(matches!(
            Vector::parse(&format!("{BASE} ")),
            Err(CvssError::InvalidValue { metric: "SA", .. })
        ));
    }

    #[test]
    fn display_normalises_not_defined_away() {
        let v = Vector::parse(&format!("{BASE}/E:X/CR:H/MSI:S/U:Amber")).unwrap();
        assert_eq!(v.to_string(), format!("{BASE}/CR:H/MSI:S/U:Amber"));
        assert_eq!(v.nomenclature(), Nomenclature::BaseEnvironmental);
    }
}
