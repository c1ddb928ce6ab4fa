//! VEX export of findings judged not relevant: CSAF 2.0 VEX (`csaf_vex` profile: product
//! status `known_not_affected`, a flag with the justification, an impact statement) and
//! CycloneDX 1.5 VEX (`vulnerabilities[].analysis`).
//!
//! Only [`Relevance::NotRelevant`] findings are exported: a VEX statement is a claim the
//! manufacturer makes to hospitals, and an undetermined match is no basis for one. The
//! caller passes the time (no clock is read here).

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::risk::{Finding, Relevance};

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
        let label = f
            .justification
            .as_deref()
            .unwrap_or("vulnerable_code_not_in_execute_path");
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

/// The CycloneDX analysis justification for a CSAF flag label.
fn cyclonedx_justification(label: &str) -> &'static str {
    match label {
        "component_not_present" => "requires_dependency",
        "vulnerable_code_not_present" => "code_not_present",
        "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
        "inline_mitigations_already_exist" => "protected_by_mitigating_control",
        _ => "code_not_reachable",
    }
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
        let label = f
            .justification
            .as_deref()
            .unwrap_or("vulnerable_code_not_in_execute_path");
        vulnerabilities.push(json!({
            "id": vuln_id(f),
            "references": [{ "id": f.advisory, "source": { "name": "advisory" } }],
            "analysis": {
                "state": "not_affected",
                "justification": cyclonedx_justification(label),
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
