//! The CVSS v4.0 score, as FIRST's reference calculator (`cvss_score.js`) computes it.
//!
//! 1. The vector's effective values: a modified metric replaces its base metric; Not Defined
//!    E scores as Attacked, Not Defined CR/IR/AR as High.
//! 2. Six equivalence classes (EQ1..EQ6) put the vector in a macrovector, whose score (that
//!    of its highest severity vector) comes from the lookup table.
//! 3. For each EQ, the vector's severity distance from the highest severity vector of its
//!    level, as a share of the level's depth, scales the score drop to the next lower
//!    macrovector; the mean of these drops is subtracted.
//!
//! The arithmetic follows the calculator operation by operation (the same sums in the same
//! order, in `f64` like JavaScript numbers) so that results agree to the last bit before the
//! final rounding to one decimal, which lifts the value by 10⁻⁶ first as the calculator does:
//! the interpolation can land one ULP below a tie (5.6499999999999995 for 5.65).

use super::tables::{
    EQ1_MAX_SEVERITY, EQ1_MAXES, EQ2_MAX_SEVERITY, EQ2_MAXES, EQ3_EQ6_MAX_SEVERITY, EQ3_EQ6_MAXES,
    EQ4_MAX_SEVERITY, EQ4_MAXES, MACROVECTOR_SCORES,
};
use super::{
    AttackComplexity, AttackRequirements, ExploitMaturity, Impact, ModifiedSubsequentImpact,
    PrivilegesRequired, Requirement, UserInteraction, Vector,
};
use crate::AttackVector;
use crate::metric::MetricValue as _;

/// The values the score is computed from, after the environmental metrics have replaced the
/// base metrics they modify.
#[derive(Debug, Clone, Copy)]
struct Effective {
    av: AttackVector,
    ac: AttackComplexity,
    at: AttackRequirements,
    pr: PrivilegesRequired,
    ui: UserInteraction,
    vc: Impact,
    vi: Impact,
    va: Impact,
    sc: Impact,
    si: ModifiedSubsequentImpact,
    sa: ModifiedSubsequentImpact,
    e: ExploitMaturity,
    cr: Requirement,
    ir: Requirement,
    ar: Requirement,
}

fn subsequent(i: Impact) -> ModifiedSubsequentImpact {
    match i {
        Impact::High => ModifiedSubsequentImpact::High,
        Impact::Low => ModifiedSubsequentImpact::Low,
        Impact::None => ModifiedSubsequentImpact::None,
    }
}

impl Effective {
    fn of(v: &Vector) -> Self {
        let (b, m) = (&v.base, &v.environmental);
        Self {
            av: m.modified_attack_vector.unwrap_or(b.attack_vector),
            ac: m.modified_attack_complexity.unwrap_or(b.attack_complexity),
            at: m
                .modified_attack_requirements
                .unwrap_or(b.attack_requirements),
            pr: m
                .modified_privileges_required
                .unwrap_or(b.privileges_required),
            ui: m.modified_user_interaction.unwrap_or(b.user_interaction),
            vc: m
                .modified_vulnerable_confidentiality
                .unwrap_or(b.vulnerable_confidentiality),
            vi: m
                .modified_vulnerable_integrity
                .unwrap_or(b.vulnerable_integrity),
            va: m
                .modified_vulnerable_availability
                .unwrap_or(b.vulnerable_availability),
            sc: m
                .modified_subsequent_confidentiality
                .unwrap_or(b.subsequent_confidentiality),
            si: m
                .modified_subsequent_integrity
                .unwrap_or(subsequent(b.subsequent_integrity)),
            sa: m
                .modified_subsequent_availability
                .unwrap_or(subsequent(b.subsequent_availability)),
            e: v.threat
                .exploit_maturity
                .unwrap_or(ExploitMaturity::Attacked),
            cr: m.confidentiality_requirement.unwrap_or(Requirement::High),
            ir: m.integrity_requirement.unwrap_or(Requirement::High),
            ar: m.availability_requirement.unwrap_or(Requirement::High),
        }
    }

    /// The macrovector: the level of each equivalence class EQ1..EQ6.
    fn macrovector(&self) -> [u8; 6] {
        use AttackVector as Av;
        use ModifiedSubsequentImpact as Msi;
        let eq1 = if self.av == Av::Network
            && self.pr == PrivilegesRequired::None
            && self.ui == UserInteraction::None
        {
            0
        } else if (self.av == Av::Network
            || self.pr == PrivilegesRequired::None
            || self.ui == UserInteraction::None)
            && self.av != Av::Physical
        {
            1
        } else {
            2
        };
        let eq2 =
            u8::from(!(self.ac == AttackComplexity::Low && self.at == AttackRequirements::None));
        let high = |i: Impact| i == Impact::High;
        let eq3 = if high(self.vc) && high(self.vi) {
            0
        } else if high(self.vc) || high(self.vi) || high(self.va) {
            1
        } else {
            2
        };
        let eq4 = if self.si == Msi::Safety || self.sa == Msi::Safety {
            0
        } else if high(self.sc) || self.si == Msi::High || self.sa == Msi::High {
            1
        } else {
            2
        };
        let eq5 = match self.e {
            ExploitMaturity::Attacked => 0,
            ExploitMaturity::ProofOfConcept => 1,
            ExploitMaturity::Unreported => 2,
        };
        let req_high = |r: Requirement| r == Requirement::High;
        let eq6 = u8::from(
            !((req_high(self.cr) && high(self.vc))
                || (req_high(self.ir) && high(self.vi))
                || (req_high(self.ar) && high(self.va))),
        );
        [eq1, eq2, eq3, eq4, eq5, eq6]
    }
}

/// The severity level of a metric value as the calculator's `*_levels` tables give it
/// (0.0 = most severe, in steps of 0.1).
fn level(metric: &str, value: &str) -> f64 {
    match (metric, value) {
        ("AV", "N") | ("PR", "N") | ("UI", "N") | ("AC", "L") | ("AT", "N") => 0.0,
        ("AV", "A") | ("PR", "L") | ("UI", "P") | ("AC", "H") | ("AT", "P") => 0.1,
        ("AV", "L") | ("PR", "H") | ("UI", "A") => 0.2,
        ("AV", "P") => 0.3,
        ("VC" | "VI" | "VA" | "CR" | "IR" | "AR", "H") | ("SI" | "SA", "S") => 0.0,
        ("VC" | "VI" | "VA", "L") | ("CR" | "IR" | "AR", "M") | ("SC" | "SI" | "SA", "H") => 0.1,
        ("VC" | "VI" | "VA", "N") | ("CR" | "IR" | "AR", "L") | ("SC" | "SI" | "SA", "L") => 0.2,
        ("SC" | "SI" | "SA", "N") => 0.3,
        // Not reached: the tables and the typed values only hold the pairs above. NaN makes
        // any such candidate fail the non-negative distance test rather than be chosen.
        _ => f64::NAN,
    }
}

/// The value of `metric` in a highest severity vector fragment such as `AV:N/PR:N/UI:N/`.
fn value_in<'a>(fragment: &'a str, metric: &str) -> &'a str {
    fragment
        .split('/')
        .filter_map(|c| c.split_once(':'))
        .find(|(name, _)| *name == metric)
        .map_or("", |(_, value)| value)
}

/// The severity distances of the vector from the first highest severity vector of its level
/// that is at least as severe in every metric (the last one when none is, as the
/// calculator's loop leaves it), for the metrics of one EQ.
fn distances<const N: usize>(maxes: &[&str], selected: [(&str, &str); N]) -> [f64; N] {
    let mut result = [0.0; N];
    for max in maxes {
        for (slot, (metric, value)) in result.iter_mut().zip(selected) {
            *slot = level(metric, value) - level(metric, value_in(max, metric));
        }
        if result.iter().all(|d| *d >= 0.0) {
            break;
        }
    }
    result
}

fn lookup(macrovector: [u8; 6]) -> Option<f64> {
    if macrovector.iter().any(|d| *d > 9) {
        return None;
    }
    let key = macrovector.map(|d| b'0' + d);
    MACROVECTOR_SCORES
        .binary_search_by(|(k, _)| k.as_bytes().cmp(&key[..]))
        .ok()
        .and_then(|i| MACROVECTOR_SCORES.get(i))
        .map(|(_, score)| *score)
}

/// `macrovector` one level lower (one higher digit) in each of the given EQs (0-based).
fn lower(mut macrovector: [u8; 6], steps: &[usize]) -> [u8; 6] {
    for &eq in steps {
        if let Some(level) = macrovector.get_mut(eq) {
            *level += 1;
        }
    }
    macrovector
}

pub(super) fn score(vector: &Vector) -> f64 {
    let e = Effective::of(vector);
    // No impact on any system: 0.0 by definition.
    if [e.vc, e.vi, e.va, e.sc].iter().all(|i| *i == Impact::None)
        && e.si == ModifiedSubsequentImpact::None
        && e.sa == ModifiedSubsequentImpact::None
    {
        return 0.0;
    }
    let mv = e.macrovector();
    let [eq1, eq2, eq3, eq4, _, eq6] = mv;
    let Some(value) = lookup(mv) else {
        // Every macrovector a valid vector falls in is in the table.
        return 0.0;
    };

    // The score of the next lower macrovector of each EQ, when there is one. EQ3 and EQ6
    // move together: from 00 both 01 and 10 are one step lower, and the higher scoring wins.
    let next_eq1 = lookup(lower(mv, &[0]));
    let next_eq2 = lookup(lower(mv, &[1]));
    let next_eq3eq6 = match (eq3, eq6) {
        (0 | 1, 1) => lookup(lower(mv, &[2])),
        (1, 0) => lookup(lower(mv, &[5])),
        (0, 0) => {
            let left = lookup(lower(mv, &[5]));
            let right = lookup(lower(mv, &[2]));
            match (left, right) {
                (Some(l), Some(r)) if l > r => left,
                _ => right,
            }
        }
        _ => lookup(lower(mv, &[2, 5])),
    };
    let next_eq4 = lookup(lower(mv, &[3]));
    let next_eq5 = lookup(lower(mv, &[4]));

    let at = |i: u8| usize::from(i);
    let eq1_maxes = EQ1_MAXES.get(at(eq1)).copied().unwrap_or_default();
    let eq2_maxes = EQ2_MAXES.get(at(eq2)).copied().unwrap_or_default();
    let eq3eq6_maxes = EQ3_EQ6_MAXES
        .get(at(eq3))
        .and_then(|row| row.get(at(eq6)))
        .copied()
        .unwrap_or_default();
    let eq4_maxes = EQ4_MAXES.get(at(eq4)).copied().unwrap_or_default();

    let [d_av, d_pr, d_ui] = distances(
        eq1_maxes,
        [
            ("AV", e.av.abbrev()),
            ("PR", e.pr.abbrev()),
            ("UI", e.ui.abbrev()),
        ],
    );
    let [d_ac, d_at] = distances(eq2_maxes, [("AC", e.ac.abbrev()), ("AT", e.at.abbrev())]);
    let [d_vc, d_vi, d_va, d_cr, d_ir, d_ar] = distances(
        eq3eq6_maxes,
        [
            ("VC", e.vc.abbrev()),
            ("VI", e.vi.abbrev()),
            ("VA", e.va.abbrev()),
            ("CR", e.cr.abbrev()),
            ("IR", e.ir.abbrev()),
            ("AR", e.ar.abbrev()),
        ],
    );
    let [d_sc, d_si, d_sa] = distances(
        eq4_maxes,
        [
            ("SC", e.sc.abbrev()),
            ("SI", e.si.abbrev()),
            ("SA", e.sa.abbrev()),
        ],
    );

    let current_eq1 = d_av + d_pr + d_ui;
    let current_eq2 = d_ac + d_at;
    let current_eq3eq6 = d_vc + d_vi + d_va + d_cr + d_ir + d_ar;
    let current_eq4 = d_sc + d_si + d_sa;

    let step = 0.1;
    let max_eq1 = EQ1_MAX_SEVERITY.get(at(eq1)).copied().unwrap_or(f64::NAN) * step;
    let max_eq2 = EQ2_MAX_SEVERITY.get(at(eq2)).copied().unwrap_or(f64::NAN) * step;
    let max_eq3eq6 = EQ3_EQ6_MAX_SEVERITY
        .get(at(eq3))
        .and_then(|row| row.get(at(eq6)))
        .copied()
        .unwrap_or(f64::NAN)
        * step;
    let max_eq4 = EQ4_MAX_SEVERITY.get(at(eq4)).copied().unwrap_or(f64::NAN) * step;

    let mut existing_lower = 0_u32;
    let mut proportional = |next: Option<f64>, current: f64, max: f64| -> f64 {
        match next {
            Some(next) => {
                existing_lower += 1;
                (value - next) * (current / max)
            }
            None => 0.0,
        }
    };
    let n1 = proportional(next_eq1, current_eq1, max_eq1);
    let n2 = proportional(next_eq2, current_eq2, max_eq2);
    let n3 = proportional(next_eq3eq6, current_eq3eq6, max_eq3eq6);
    let n4 = proportional(next_eq4, current_eq4, max_eq4);
    // EQ5 (exploit maturity) has a single value per level: its distance is always 0, but a
    // lower level still counts in the mean.
    let n5 = proportional(next_eq5, 0.0, 1.0);

    let mean = if existing_lower == 0 {
        0.0
    } else {
        (n1 + n2 + n3 + n4 + n5) / f64::from(existing_lower)
    };
    let score = (value - mean).clamp(0.0, 10.0);
    ((score + 1e-6) * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_first_last_and_missing_macrovectors() {
        assert_eq!(lookup([0, 0, 0, 0, 0, 0]), Some(10.0));
        assert_eq!(lookup([2, 1, 2, 2, 2, 1]), Some(0.1));
        assert_eq!(lookup([0, 0, 2, 0, 0, 0]), None);
        assert_eq!(lookup([3, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn value_in_reads_a_fragment() {
        assert_eq!(value_in("VC:H/VI:L/VA:H/CR:M/IR:H/AR:M/", "VA"), "H");
        assert_eq!(value_in("VC:H/VI:L/VA:H/CR:M/IR:H/AR:M/", "AR"), "M");
        assert_eq!(value_in("AV:N/PR:N/UI:N/", "AC"), "");
    }
}
