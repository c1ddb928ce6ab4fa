//! Risk assessment: from a match to a [`Finding`] with relevance, priority and the sentences
//! that justify them.
//!
//! The order of reasoning, each step written into the rationale:
//! 1. Severity: the highest CVSS base score the advisory publishes (v3.x or v4.0, computed by
//!    `medguard-cvss`, not copied from the advisory), and the attack vector it needs.
//! 2. Device context: is the component running or only installed; does the device or the
//!    component listen on the network; does the attack vector need that reach.
//! 3. Clinical criticality of the device model (declared in the device context file; medium
//!    is assumed when it is not).
//! 4. Exploitation signals when supplied: listed in CISA's Known Exploited Vulnerabilities
//!    catalogue, EPSS probability.
//!
//! Not relevant is only ever concluded from a fact about the product as inventoried (the
//! component's code does not run on the device), never from an assumption about its
//! deployment, and never when the vulnerability is known to be exploited; only then does a
//! finding carry a VEX justification. A device declared not reachable from any network keeps
//! a network-vector finding relevant at a lower priority: a hospital's network changes. An
//! undetermined version match is reported as needing review. A value the device context
//! leaves out (criticality, network reach) or the inventory does not say (whether a component
//! runs) is assumed, cautiously, and the rationale says it was assumed.
//!
//! The device context file (`DEVICE.toml`):
//! ```toml
//! model = "Example CT 9000"          # device model, for the rationale
//! criticality = "life-sustaining"    # life-sustaining | high | medium | low
//! network_exposed = true             # reachable from the hospital network (assumed when left out)
//! ```

use std::collections::{HashMap, HashSet};
use std::path::Path;

use medguard_cvss::AttackVector;
use serde::{Deserialize, Serialize};

use crate::AdvisoryError;
use crate::matching::{Match, MatchStatus, Package};
use crate::model::Advisory;
use crate::vex::VexJustification;

/// How much harm a compromise of the device model could do to a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criticality {
    /// Administrative or viewing use only.
    Low,
    /// Diagnostic use with a human in the loop.
    Medium,
    /// Diagnosis or therapy depends on it.
    High,
    /// Keeps a patient alive or delivers therapy directly.
    LifeSustaining,
}

/// What the manufacturer declares about a device model. A value left out is not declared:
/// the assessment then assumes the cautious default and says that it assumed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceContext {
    /// The device model.
    #[serde(default)]
    pub model: Option<String>,
    /// Its clinical criticality; when not declared, medium is assumed.
    #[serde(default)]
    pub criticality: Option<Criticality>,
    /// Whether the device is reachable from a network (the hospital's, not only a
    /// point-to-point cable); when not declared, it is assumed to be.
    #[serde(default)]
    pub network_exposed: Option<bool>,
}

impl DeviceContext {
    /// Reads a device context TOML file.
    ///
    /// # Errors
    /// [`AdvisoryError`] naming the file and what is wrong in it.
    pub fn load(path: &Path) -> Result<Self, AdvisoryError> {
        let text = std::fs::read_to_string(path).map_err(AdvisoryError::io(path))?;
        toml::from_str(&text).map_err(|e| AdvisoryError::Input {
            path: path.to_owned(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })
    }
}

/// Exploitation signals: CISA KEV and EPSS, keyed by CVE id.
#[derive(Debug, Default, Clone)]
pub struct ExploitSignals {
    kev: HashSet<String>,
    epss: HashMap<String, (f64, f64)>,
}

#[derive(Deserialize)]
struct KevCatalogue {
    vulnerabilities: Vec<KevEntry>,
}

#[derive(Deserialize)]
struct KevEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
}

impl ExploitSignals {
    /// Adds the CVEs of a CISA Known Exploited Vulnerabilities catalogue (its JSON format:
    /// `{"vulnerabilities": [{"cveID": …}, …]}`).
    ///
    /// # Errors
    /// [`AdvisoryError`] naming the file.
    pub fn load_kev(&mut self, path: &Path) -> Result<(), AdvisoryError> {
        let bytes = std::fs::read(path).map_err(AdvisoryError::io(path))?;
        let kev: KevCatalogue =
            serde_json::from_slice(&bytes).map_err(|e| AdvisoryError::Input {
                path: path.to_owned(),
                reason: format!("not a CISA KEV catalogue: {e}"),
                source: Some(Box::new(e)),
            })?;
        self.kev
            .extend(kev.vulnerabilities.into_iter().map(|v| v.cve_id));
        Ok(())
    }

    /// Adds EPSS scores from FIRST's CSV (`#model_version…` comment line, then
    /// `cve,epss,percentile`).
    ///
    /// # Errors
    /// [`AdvisoryError`] naming the file and line.
    pub fn load_epss(&mut self, path: &Path) -> Result<(), AdvisoryError> {
        let text = std::fs::read_to_string(path).map_err(AdvisoryError::io(path))?;
        self.parse_epss(&text)
            .map_err(|(line, reason)| AdvisoryError::Input {
                path: path.to_owned(),
                reason: format!("line {line}: {reason}"),
                source: None,
            })
    }

    fn parse_epss(&mut self, text: &str) -> Result<(), (usize, String)> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("cve,") {
                continue;
            }
            let mut cols = line.split(',');
            let (Some(cve), Some(epss), Some(pct)) = (cols.next(), cols.next(), cols.next()) else {
                return Err((n + 1, "expected cve,epss,percentile".into()));
            };
            let num = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| (0.0..=1.0).contains(x))
                    .ok_or((n + 1, format!("{s:?} is not a probability")))
            };
            self.epss
                .insert(cve.trim().to_owned(), (num(epss)?, num(pct)?));
        }
        Ok(())
    }

    /// Whether any of `ids` is in the KEV catalogue.
    #[must_use]
    pub fn known_exploited<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        ids.into_iter().find(|id| self.kev.contains(*id))
    }

    /// The highest EPSS probability among `ids`, with its percentile.
    #[must_use]
    pub fn epss<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Option<(f64, f64)> {
        ids.into_iter()
            .filter_map(|id| self.epss.get(id).copied())
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }
}

/// Whether a finding needs action on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relevance {
    /// The vulnerability applies to the device as it is used.
    Relevant,
    /// It does not, for the stated reason (exportable as VEX).
    NotRelevant,
    /// The version match could not be decided: a person must review it.
    NeedsReview,
}

/// How soon to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Nothing to do (not relevant).
    None,
    /// Next regular maintenance.
    Low,
    /// Plan a patch.
    Medium,
    /// Patch soon, mitigate meanwhile.
    High,
    /// Act now.
    Critical,
}

impl Priority {
    fn from_level(level: i32) -> Self {
        match level {
            i32::MIN..=1 => Self::Low,
            2 => Self::Medium,
            3 => Self::High,
            _ => Self::Critical,
        }
    }
}

/// The CVSS score a finding is based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// The vector.
    pub vector: String,
    /// Its base score, computed.
    pub base_score: f64,
    /// Its severity.
    pub severity: String,
    /// The attack vector it needs.
    pub attack_vector: String,
}

/// One assessed finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The component.
    pub component: Package,
    /// The advisory id.
    pub advisory: String,
    /// Its aliases (CVE ids).
    pub aliases: Vec<String>,
    /// What the advisory is about.
    pub summary: String,
    /// The affected range in words.
    pub affected_range: String,
    /// Fixed versions.
    pub fixed: Vec<String>,
    /// The highest published CVSS score.
    pub cvss: Option<CvssScore>,
    /// Listed in CISA KEV (the CVE id), when signals were given.
    pub known_exploited: Option<String>,
    /// EPSS probability and percentile, when given.
    pub epss: Option<(f64, f64)>,
    /// Relevant, not relevant, or needs review.
    pub relevance: Relevance,
    /// How soon to act.
    pub priority: Priority,
    /// Why it does not affect the device, when not relevant: the VEX justification.
    pub justification: Option<VexJustification>,
    /// Sentences that justify relevance and priority.
    pub rationale: Vec<String>,
}

fn best_score(advisory: &Advisory, m: &Match) -> (Option<(CvssScore, AttackVector)>, Vec<String>) {
    let affected_scores = advisory
        .affected
        .get(m.affected)
        .map(|a| a.scores.as_slice())
        .unwrap_or_default();
    let mut best: Option<(CvssScore, AttackVector)> = None;
    let mut refused = Vec::new();
    for s in advisory.scores.iter().chain(affected_scores) {
        match medguard_cvss::Vector::parse(&s.vector) {
            Ok(v) => {
                let score = v.base_score();
                if best.as_ref().is_none_or(|(b, _)| score > b.base_score) {
                    let av = v.attack_vector();
                    best = Some((
                        CvssScore {
                            vector: s.vector.clone(),
                            base_score: score,
                            severity: v.severity().as_str().to_owned(),
                            attack_vector: av_words(av).to_owned(),
                        },
                        av,
                    ));
                }
            }
            Err(e) => refused.push(format!(
                "The published vector {:?} was not used: {e}.",
                s.vector
            )),
        }
    }
    (best, refused)
}

fn av_words(av: AttackVector) -> &'static str {
    match av {
        AttackVector::Network => "network",
        AttackVector::Adjacent => "adjacent network",
        AttackVector::Local => "local",
        AttackVector::Physical => "physical",
    }
}

/// The sentences of one assessment and the priority level they move.
///
/// A finding that is not relevant has no priority, so its sentences state the facts without
/// saying that they raise or lower one (a rationale that says "priority is raised" and then
/// "not relevant" contradicts itself).
struct Reasoning {
    why: Vec<String>,
    level: i32,
    ranked: bool,
}

impl Reasoning {
    fn say(&mut self, sentence: String) {
        self.why.push(sentence);
    }

    /// States `fact`, which moves the priority by `delta` levels when the finding has one.
    fn weigh(&mut self, fact: &str, delta: i32) {
        let effect = match delta {
            _ if !self.ranked => "",
            d if d > 0 => "; priority is raised",
            d if d < 0 => "; priority is lowered",
            _ => "",
        };
        if self.ranked {
            self.level += delta;
        }
        self.why.push(format!("{fact}{effect}."));
    }
}

/// Assesses one match of `package` against `advisory` on a device.
///
/// Relevance comes from facts about the product as inventoried (the version is affected; the
/// component's code runs or not) and from exploitation in the wild; the device's deployment
/// (network reach, clinical criticality) and exploitation signals only move the priority.
/// Every value that was not declared or observed is said to be assumed.
#[must_use]
pub fn assess(
    package: &Package,
    advisory: &Advisory,
    m: &Match,
    device: &DeviceContext,
    signals: &ExploitSignals,
) -> Finding {
    let mut why = Vec::new();
    let component = format!("{} {}", package.name, package.version);
    let ids: Vec<&str> = std::iter::once(advisory.id.as_str())
        .chain(advisory.aliases.iter().map(String::as_str))
        .collect();
    match &m.status {
        MatchStatus::Affected => why.push(format!(
            "{component} is in the affected range of {} ({}).",
            advisory.id, m.range
        )),
        MatchStatus::Undetermined(reason) => why.push(format!(
            "Whether {component} is affected by {} could not be decided: {reason}.",
            advisory.id
        )),
    }
    let (score, refused) = best_score(advisory, m);
    why.extend(refused);
    let level = match &score {
        Some((s, _)) => {
            why.push(format!(
                "Its highest published CVSS base score is {:.1} ({}), and exploiting it needs {} access.",
                s.base_score, s.severity, s.attack_vector
            ));
            match s.base_score {
                x if x >= 9.0 => 4,
                x if x >= 7.0 => 3,
                x if x >= 4.0 => 2,
                _ => 1,
            }
        }
        None => {
            why.push("The advisory publishes no usable CVSS vector; medium severity is assumed until it is scored.".to_owned());
            2
        }
    };
    let av = score.as_ref().map(|(_, av)| *av);
    let kev = signals
        .known_exploited(ids.iter().copied())
        .map(str::to_owned);
    let epss = signals.epss(ids.iter().copied());

    // Relevance: facts about the product as inventoried, and exploitation in the wild.
    let mut relevance = match m.status {
        MatchStatus::Affected => Relevance::Relevant,
        MatchStatus::Undetermined(_) => Relevance::NeedsReview,
    };
    let mut justification = None;
    match package.usage.running {
        Some(false) => {
            why.push(format!(
                "{} is installed, but the inventory found no process running it or mapping it, so the vulnerable code is not in the device's execute path.",
                package.name
            ));
            if relevance == Relevance::Relevant {
                relevance = Relevance::NotRelevant;
                justification = Some(VexJustification::VulnerableCodeNotInExecutePath);
            }
        }
        Some(true) => why.push(format!("{} runs on the device.", package.name)),
        None => why.push(format!(
            "The inventory does not say whether {} runs; it is assumed to run.",
            package.name
        )),
    }
    let kept_relevant = kev.is_some() && relevance == Relevance::NotRelevant;
    if kept_relevant {
        relevance = Relevance::Relevant;
        justification = None;
    }

    // Priority: the device's deployment and the exploitation signals.
    let mut r = Reasoning {
        why,
        level,
        ranked: relevance != Relevance::NotRelevant,
    };
    if matches!(av, Some(AttackVector::Network | AttackVector::Adjacent)) {
        match device.network_exposed {
            // Not being reachable is a fact about a deployment, which a hospital can change
            // (a new network, a remote-service link): it lowers the priority, it never makes
            // the vulnerability not relevant, and it never becomes a VEX statement.
            Some(false) if r.ranked => {
                r.say("The device is declared not reachable from any network, and this vulnerability needs network access; priority is lowered, but it stays relevant because a hospital's network can change.".to_owned());
                r.level -= 1;
            }
            Some(false) => {
                r.say("The device is declared not reachable from any network.".to_owned())
            }
            exposed => {
                if exposed.is_none() {
                    r.say("Whether the device is reachable from a network is not declared; it is assumed to be.".to_owned());
                }
                if package.usage.listens_on_network() {
                    r.weigh(
                        &format!(
                            "{} listens on the network ({}), which is the reach this attack needs",
                            package.name,
                            package.usage.listening.join(", ")
                        ),
                        1,
                    );
                }
            }
        }
    } else if matches!(av, Some(AttackVector::Local | AttackVector::Physical)) {
        r.weigh(
            "An attacker needs local or physical access to the device, which the hospital controls",
            -1,
        );
    }
    let model = device.model.as_deref().unwrap_or("This device model");
    match device.criticality {
        Some(Criticality::LifeSustaining) => {
            r.weigh(&format!("{model} is declared life-sustaining"), 1);
        }
        Some(Criticality::High) => {
            r.weigh(
                &format!("{model} is declared of high clinical criticality"),
                0,
            );
        }
        Some(Criticality::Medium) => {
            r.weigh(
                &format!("{model} is declared of medium clinical criticality"),
                0,
            );
        }
        Some(Criticality::Low) => {
            r.weigh(
                &format!("{model} is declared of low clinical criticality"),
                -1,
            );
        }
        None => r.say(format!(
            "No clinical criticality is declared for {}; medium is assumed.",
            device.model.as_deref().unwrap_or("this device model")
        )),
    }
    if let Some(cve) = &kev {
        // Known exploitation forces relevance above, so this finding is always ranked.
        r.say(format!(
            "{cve} is in CISA's catalogue of known exploited vulnerabilities; priority is raised to at least high."
        ));
        r.level = (r.level + 1).max(3);
        if kept_relevant {
            r.say("Because it is exploited in the wild, it is kept relevant despite the context above.".to_owned());
        }
    }
    if let Some((p, pct)) = epss {
        if p >= 0.1 {
            r.weigh(
                &format!(
                    "EPSS estimates a {:.0}% probability of exploitation in the next 30 days (percentile {pct:.2})",
                    p * 100.0
                ),
                1,
            );
        } else {
            r.weigh(
                &format!(
                    "EPSS estimates a {:.1}% probability of exploitation in the next 30 days (percentile {pct:.2})",
                    p * 100.0
                ),
                0,
            );
        }
    }
    let priority = match relevance {
        Relevance::NotRelevant => {
            r.say("Conclusion: not relevant on this device as inventoried, because the vulnerable code is not in its execute path; this can be stated as VEX.".to_owned());
            Priority::None
        }
        Relevance::NeedsReview => {
            let p = Priority::from_level(r.level);
            r.say(format!(
                "Conclusion: needs review by a person; priority {p:?} if it applies."
            ));
            p
        }
        Relevance::Relevant => {
            let p = Priority::from_level(r.level);
            r.say(format!("Conclusion: relevant, priority {p:?}."));
            p
        }
    };
    Finding {
        component: package.clone(),
        advisory: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        summary: advisory.summary.clone(),
        affected_range: m.range.clone(),
        fixed: m.fixed.clone(),
        cvss: score.map(|(s, _)| s),
        known_exploited: kev,
        epss,
        relevance,
        priority,
        justification,
        rationale: r.why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epss_csv() {
        let mut s = ExploitSignals::default();
        s.parse_epss("#model_version:v2025.03.14,score_date:2025-06-01T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.94358,0.99961\n")
            .unwrap();
        assert_eq!(s.epss(["CVE-2021-44228"]), Some((0.94358, 0.99961)));
        assert!(s.parse_epss("CVE-1,2.0,0.1").is_err());
    }
}
