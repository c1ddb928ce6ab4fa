//! VEX export of findings judged not relevant: CSAF 2.0 VEX (`csaf_vex` profile: product
//! status `known_not_affected`, a flag with the justification, an impact statement) and
//! CycloneDX 1.5 VEX (`vulnerabilities[].analysis`).
//!
//! Only [`Relevance::NotRelevant`] findings are exported: a VEX statement is a claim the
//! manufacturer makes to hospitals, and an undetermined match is no basis for one. The
//! caller passes the time (no clock is read here).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::risk::{Finding, Relevance};

/// Why a vulnerability does not affect a product: the five justifications of CSAF 2.0's VEX
/// flags (section 3.2.3.5), serialised as its labels. Each is a fact about the product, never
/// about how a hospital deploys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VexJustification {
    /// The vulnerable component is not in the product.
    ComponentNotPresent,
    /// The component is there, but not the vulnerable code.
    VulnerableCodeNotPresent,
    /// The vulnerable code is there, but an attacker cannot reach or control it.
    VulnerableCodeCannotBeControlledByAdversary,
    /// The vulnerable code is there, but never executed.
    VulnerableCodeNotInExecutePath,
    /// Built-in protections stop exploitation.
    InlineMitigationsAlreadyExist,
}

impl VexJustification {
    /// The CSAF flag label (`vulnerable_code_not_in_execute_path`, …).
    #[must_use]
    pub const fn csaf_label(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Self::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }

    /// The CycloneDX 1.5 `analysis.justification` that says the same.
    #[must_use]
    pub const fn cyclonedx(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "requires_dependency",
            Self::VulnerableCodeNotPresent => "code_not_present",
            Self::VulnerableCodeCannotBeControlledByAdversary => "requires_environment",
            Self::InlineMitigationsAlreadyExist => "protected_by_mitigating_control",
            Self::VulnerableCodeNotInExecutePath => "code_not_reachable",
        }
    }
}

/// The justification of a not-relevant finding (assessment gives every one a justification;
/// the fallback is the one assessment uses).
fn justification(f: &Finding) -> VexJustification {
    f.justification
        .unwrap_or(VexJustification::VulnerableCodeNotInExecutePath)
}

/// Sets `key` on a JSON object (built by `json!` just before, so always an object).
fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

fn not_relevant(findings: &[Finding]) -> impl Iterator<Item = &Finding> {
    findings
        .iter()
        .filter(|f| f.relevance == Relevance::NotRelevant)
}

fn vuln_id(f: &Finding) -> &str {
    f.aliases
        .iter()
        .find(|a| a.starts_with("CVE-"))
        .map_or(f.advisory.as_str(), String::as_str)
}

fn product_id(f: &Finding) -> String {
    format!("{}-{}", f.component.name, f.component.version)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A CSAF 2.0 VEX document stating the not-relevant findings of one device.
#[must_use]
pub fn csaf_vex(
    findings: &[Finding],
    publisher: &str,
    tracking_id: &str,
    now: OffsetDateTime,
) -> Value {
    let now = now.format(&Rfc3339).unwrap_or_default();
    let mut products = Vec::new();
    let mut vulnerabilities: Vec<Value> = Vec::new();
    for f in not_relevant(findings) {
        let pid = product_id(f);
        if !products.iter().any(|p: &Value| p["product_id"] == pid) {
            let mut product = json!({
                "name": format!("{} {}", f.component.name, f.component.version),
                "product_id": pid,
            });
            if let Some(purl) = &f.component.purl {
                set(
                    &mut product,
                    "product_identification_helper",
                    json!({ "purl": purl }),
                );
            }
            products.push(product);
        }
        let label = justification(f).csaf_label();
        let mut vuln = json!({
            "notes": [{"category": "description", "title": "Advisory", "text": format!("{}: {}", f.advisory, f.summary)}],
            "product_status": { "known_not_affected": [pid] },
            "flags": [{ "label": label, "product_ids": [pid] }],
            "threats": [{ "category": "impact", "details": f.rationale.join(" "), "product_ids": [pid] }],
        });
        let id = vuln_id(f);
        if id.starts_with("CVE-") {
            set(&mut vuln, "cve", json!(id));
        } else {
            set(
                &mut vuln,
                "ids",
                json!([{ "system_name": "advisory", "text": id }]),
            );
        }
        vulnerabilities.push(vuln);
    }
    json!({
        "document": {
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "title": format!("VEX statements for {tracking_id}"),
            "publisher": { "category": "vendor", "name": publisher, "namespace": "https://medguard.invalid" },
            "tracking": {
                "id": tracking_id,
                "status": "final",
                "version": "1",
                "initial_release_date": now,
                "current_release_date": now,
                "revision_history": [{ "date": now, "number": "1", "summary": "Initial version." }],
                "generator": { "engine": { "name": "medguard", "version": env!("CARGO_PKG_VERSION") } },
            },
        },
        "product_tree": { "full_product_names": products },
        "vulnerabilities": vulnerabilities,
    })
}

/// A CycloneDX 1.5 VEX document stating the not-relevant findings of one device.
#[must_use]
pub fn cyclonedx_vex(findings: &[Finding], now: OffsetDateTime) -> Value {
    let now = now.format(&Rfc3339).unwrap_or_default();
    let mut components = Vec::new();
    let mut vulnerabilities = Vec::new();
    for f in not_relevant(findings) {
        let bom_ref = f.component.purl.clone().unwrap_or_else(|| product_id(f));
        if !components.iter().any(|c: &Value| c["bom-ref"] == bom_ref) {
            let mut c = json!({ "type": "library", "bom-ref": bom_ref, "name": f.component.name, "version": f.component.version });
            if let Some(purl) = &f.component.purl {
                set(&mut c, "purl", json!(purl));
            }
            components.push(c);
        }
        vulnerabilities.push(json!({
            "id": vuln_id(f),
            "references": [{ "id": f.advisory, "source": { "name": "advisory" } }],
            "analysis": {
                "state": "not_affected",
                "justification": justification(f).cyclonedx(),
                "detail": f.rationale.join(" "),
            },
            "affects": [{ "ref": bom_ref }],
        }));
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": { "timestamp": now, "tools": { "components": [{ "type": "application", "name": "medguard", "version": env!("CARGO_PKG_VERSION") }] } },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}
