//! SPDX JSON: writing 2.3, reading 2.2 and 2.3 into the [`Sbom`] model.
//!
//! Mapping: each component is a package (`filesAnalyzed: false`, `downloadLocation:
//! NOASSERTION`), described by the document (`DESCRIBES`). The purl and the CPE are
//! `externalRefs`; the supplier `Organization: NAME (EMAIL)`; licences that are SPDX ids or
//! expressions of them go into `licenseDeclared` as they are, any other text becomes a
//! `LicenseRef-` with its text in `hasExtractedLicensingInfos` (and is read back as that
//! text). Usage evidence and provenance go into package `annotations` of type `OTHER` whose
//! comment is `medguard:NAME=VALUE`, with the same names as the CycloneDX properties
//! (`medguard:running=true`, `medguard:listening=tcp/0.0.0.0:104`, ...): annotations are
//! structured, dated and attributed to the tool, where `comment` is one free-text field.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cyclonedx::{
    apply_property, content_uuid, ecosystem_from_purl, format_time, located, properties, uuid_parts,
};
use crate::licenses::{is_simple_expression, is_spdx_id};
use crate::model::{Component, ComponentHash, Ecosystem, HashAlgorithm, Sbom, SbomMetadata};
use crate::purl::Purl;
use crate::{InventoryError, TOOL_NAME, TOOL_VERSION};

/// The spec version written.
pub const SPEC_VERSION: &str = "SPDX-2.3";

fn spdx_id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `Name <email>` → `Organization: Name (email)`.
fn supplier_field(s: &str) -> String {
    let clean = |x: &str| x.replace(['(', ')'], "").trim().to_owned();
    match s.split_once('<') {
        Some((name, rest)) => {
            let email = rest.trim_end().trim_end_matches('>');
            format!("Organization: {} ({})", clean(name), clean(email))
        }
        None => format!("Organization: {}", clean(s)),
    }
}

/// `Organization: Name (email)` → `Name <email>`.
fn supplier_from_field(s: &str) -> Option<String> {
    let rest = s
        .strip_prefix("Organization:")
        .or_else(|| s.strip_prefix("Person:"))?
        .trim();
    if rest.is_empty() {
        return None;
    }
    Some(
        match rest.strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
            Some((name, email)) if !email.trim().is_empty() => {
                format!("{} <{}>", name.trim(), email.trim())
            }
            Some((name, _)) => name.trim().to_owned(),
            None => rest.to_owned(),
        },
    )
}

/// Writes `sbom` as an SPDX 2.3 JSON value.
#[must_use]
pub fn to_value(sbom: &Sbom) -> Value {
    let parts = uuid_parts(sbom);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let uuid = content_uuid(&refs);
    let created = format_time(sbom.metadata.created);
    let tool = format!("Tool: {TOOL_NAME}-{TOOL_VERSION}");
    let mut extracted: Vec<(String, String)> = Vec::new();
    let mut license_ref = |text: &str| -> String {
        if let Some((id, _)) = extracted.iter().find(|(_, t)| t == text) {
            return id.clone();
        }
        let id = format!(
            "LicenseRef-{}",
            spdx_id_part(text).chars().take(60).collect::<String>()
        );
        let id = if extracted.iter().any(|(i, _)| *i == id) {
            format!("{id}-{}", extracted.len())
        } else {
            id
        };
        extracted.push((id.clone(), text.to_owned()));
        id
    };
    let mut packages = Vec::with_capacity(sbom.components.len());
    let mut relationships = Vec::with_capacity(sbom.components.len());
    for (i, c) in sbom.components.iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}-{}", spdx_id_part(&c.name));
        let declared = if c.licenses.is_empty() {
            "NOASSERTION".to_owned()
        } else {
            let several = c.licenses.len() > 1;
            let parts: Vec<String> = c
                .licenses
                .iter()
                .map(|l| {
                    if is_spdx_id(l) {
                        l.clone()
                    } else if is_simple_expression(l) {
                        if several { format!("({l})") } else { l.clone() }
                    } else {
                        license_ref(l)
                    }
                })
                .collect();
            parts.join(" AND ")
        };
        let mut p = json!({
            "SPDXID": id,
            "name": c.name,
            "versionInfo": c.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": if c.ecosystem == Ecosystem::Vendor { "APPLICATION" } else { "LIBRARY" },
        });
        let Some(o) = p.as_object_mut() else { continue };
        o.insert(
            "supplier".into(),
            json!(
                c.supplier
                    .as_deref()
                    .map_or_else(|| "NOASSERTION".to_owned(), supplier_field)
            ),
        );
        if c.hashes.iter().any(ComponentHash::is_well_formed) {
            let cs: Vec<Value> = c
                .hashes
                .iter()
                .filter(|h| h.is_well_formed())
                .map(|h| json!({"algorithm": h.alg.spdx_name(), "checksumValue": h.value}))
                .collect();
            o.insert("checksums".into(), Value::Array(cs));
        }
        let mut ext = Vec::new();
        if let Some(purl) = &c.purl {
            ext.push(json!({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}));
        }
        if let Some(cpe) = &c.cpe {
            let ty = if cpe.starts_with("cpe:2.3:") {
                "cpe23Type"
            } else {
                "cpe22Type"
            };
            ext.push(json!({"referenceCategory": "SECURITY", "referenceType": ty, "referenceLocator": cpe}));
        }
        if !ext.is_empty() {
            o.insert("externalRefs".into(), Value::Array(ext));
        }
        if let Some(src) = &c.source_package {
            o.insert(
                "sourceInfo".into(),
                json!(format!("built from source package {src}")),
            );
        }
        let ann: Vec<Value> = properties(c)
            .into_iter()
            .map(|(n, v)| {
                json!({"annotationDate": created, "annotationType": "OTHER", "annotator": tool, "comment": format!("{n}={v}")})
            })
            .collect();
        o.insert("annotations".into(), Value::Array(ann));
        relationships.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id}));
        packages.push(p);
    }
    let mut doc = json!({
        "spdxVersion": SPEC_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": sbom.metadata.name,
        "documentNamespace": format!("https://spdx.org/spdxdocs/{}-{uuid}", spdx_id_part(&sbom.metadata.name)),
        "creationInfo": { "created": created, "creators": [tool] },
        "packages": packages,
        "relationships": relationships,
    });
    if let Some(o) = doc.as_object_mut() {
        if let Some(m) = &sbom.metadata.device_model {
            o.insert(
                "comment".into(),
                json!(format!("medguard:device-model={m}")),
            );
        }
        if !extracted.is_empty() {
            let infos: Vec<Value> = extracted
                .iter()
                .map(|(id, text)| json!({"licenseId": id, "extractedText": text, "name": text}))
                .collect();
            o.insert("hasExtractedLicensingInfos".into(), Value::Array(infos));
        }
    }
    doc
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "spdxVersion")]
    spdx_version: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(rename = "dataLicense", default)]
    data_license: Option<String>,
    name: String,
    #[serde(rename = "documentNamespace")]
    document_namespace: String,
    #[serde(rename = "creationInfo")]
    creation_info: RawCreation,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    packages: Vec<RawPackage>,
    #[serde(rename = "hasExtractedLicensingInfos", default)]
    extracted: Vec<RawExtracted>,
}

#[derive(Deserialize)]
struct RawCreation {
    created: String,
    creators: Vec<String>,
}

#[derive(Deserialize)]
struct RawExtracted {
    #[serde(rename = "licenseId")]
    license_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "extractedText", default)]
    extracted_text: Option<String>,
}

#[derive(Deserialize)]
struct RawPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(rename = "versionInfo", default)]
    version: Option<String>,
    #[serde(rename = "downloadLocation")]
    download_location: String,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default)]
    originator: Option<String>,
    #[serde(rename = "licenseDeclared", default)]
    license_declared: Option<String>,
    #[serde(rename = "licenseConcluded", default)]
    license_concluded: Option<String>,
    #[serde(default)]
    checksums: Vec<RawChecksum>,
    #[serde(rename = "externalRefs", default)]
    external_refs: Vec<RawExternalRef>,
    #[serde(default)]
    annotations: Vec<RawAnnotation>,
}

#[derive(Deserialize)]
struct RawChecksum {
    algorithm: String,
    #[serde(rename = "checksumValue")]
    value: String,
}

#[derive(Deserialize)]
struct RawExternalRef {
    #[serde(rename = "referenceCategory")]
    category: String,
    #[serde(rename = "referenceType")]
    ty: String,
    #[serde(rename = "referenceLocator")]
    locator: String,
}

#[derive(Deserialize)]
struct RawAnnotation {
    #[serde(default)]
    comment: Option<String>,
}

fn fail(path: &Path, pointer: String, message: impl Into<String>) -> InventoryError {
    InventoryError::Invalid {
        path: path.to_path_buf(),
        format: "SPDX",
        pointer,
        message: message.into(),
        source: None,
    }
}

fn valid_spdx_id(s: &str) -> bool {
    s.strip_prefix("SPDXRef-").is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    })
}

/// Reads an SPDX 2.2/2.3 JSON document.
///
/// # Errors
/// [`InventoryError::Invalid`] with the JSON pointer of the first problem.
pub fn from_value(value: Value, path: &Path) -> Result<Sbom, InventoryError> {
    let raw: RawDoc = serde_path_to_error::deserialize(value).map_err(|e| {
        let (p, message) = located(e);
        fail(path, p, message)
    })?;
    if !["SPDX-2.2", "SPDX-2.3"].contains(&raw.spdx_version.as_str()) {
        return Err(fail(
            path,
            "/spdxVersion".into(),
            format!(
                "unsupported version {:?} (SPDX-2.2 and SPDX-2.3 are read)",
                raw.spdx_version
            ),
        ));
    }
    if raw.spdx_id != "SPDXRef-DOCUMENT" {
        return Err(fail(
            path,
            "/SPDXID".into(),
            format!("expected \"SPDXRef-DOCUMENT\", found {:?}", raw.spdx_id),
        ));
    }
    if raw.data_license.as_deref().is_some_and(|l| l != "CC0-1.0") {
        return Err(fail(path, "/dataLicense".into(), "must be CC0-1.0"));
    }
    if raw.document_namespace.is_empty() || raw.document_namespace.contains('#') {
        return Err(fail(
            path,
            "/documentNamespace".into(),
            "must be a URI without '#'",
        ));
    }
    if raw.creation_info.creators.is_empty() {
        return Err(fail(
            path,
            "/creationInfo/creators".into(),
            "at least one creator is required",
        ));
    }
    let created = OffsetDateTime::parse(&raw.creation_info.created, &Rfc3339).map_err(|e| {
        fail(
            path,
            "/creationInfo/created".into(),
            format!("not a date-time: {e}"),
        )
    })?;
    let tool = raw
        .creation_info
        .creators
        .iter()
        .find_map(|c| c.strip_prefix("Tool:").map(|t| t.trim().to_owned()));
    let device_model = raw
        .comment
        .as_deref()
        .and_then(|c| c.strip_prefix("medguard:device-model="))
        .map(str::to_owned);
    let names: HashMap<&str, &str> = raw
        .extracted
        .iter()
        .filter_map(|e| {
            Some((
                e.license_id.as_str(),
                e.name.as_deref().or(e.extracted_text.as_deref())?,
            ))
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut components = Vec::with_capacity(raw.packages.len());
    for (i, p) in raw.packages.iter().enumerate() {
        let at = format!("/packages/{i}");
        if !valid_spdx_id(&p.spdx_id) {
            return Err(fail(
                path,
                format!("{at}/SPDXID"),
                format!("{:?} is not an SPDX id", p.spdx_id),
            ));
        }
        if !ids.insert(p.spdx_id.as_str()) {
            return Err(fail(
                path,
                format!("{at}/SPDXID"),
                format!("{:?} is not unique", p.spdx_id),
            ));
        }
        if p.download_location.is_empty() {
            return Err(fail(
                path,
                format!("{at}/downloadLocation"),
                "must not be empty",
            ));
        }
        let purl = p
            .external_refs
            .iter()
            .find(|r| r.ty == "purl" && r.category.replace('_', "-") == "PACKAGE-MANAGER")
            .map(|r| r.locator.clone());
        // Other tools' purls do not always follow the specification to the letter.
        let parsed = purl.as_deref().and_then(|s| Purl::parse_lenient(s).ok());
        let ecosystem = parsed.as_ref().map_or_else(
            || Ecosystem::Other("unknown".to_owned()),
            ecosystem_from_purl,
        );
        let mut c = Component::new(
            p.name.clone(),
            p.version.clone().unwrap_or_default(),
            ecosystem,
        );
        c.arch = parsed
            .as_ref()
            .and_then(|p| p.qualifier("arch").map(str::to_owned));
        c.purl = purl;
        c.cpe = p
            .external_refs
            .iter()
            .find(|r| r.ty.starts_with("cpe"))
            .map(|r| r.locator.clone());
        c.supplier = p
            .supplier
            .as_deref()
            .and_then(supplier_from_field)
            .or_else(|| p.originator.as_deref().and_then(supplier_from_field));
        let lic = p
            .license_declared
            .as_deref()
            .filter(|l| !matches!(*l, "NOASSERTION" | "NONE"))
            .or_else(|| {
                p.license_concluded
                    .as_deref()
                    .filter(|l| !matches!(*l, "NOASSERTION" | "NONE"))
            });
        if let Some(l) = lic {
            for part in split_top_level_and(l) {
                let part = part.trim();
                let text = names.get(part).map_or_else(
                    || {
                        part.strip_prefix('(')
                            .and_then(|p| p.strip_suffix(')'))
                            .unwrap_or(part)
                            .to_owned()
                    },
                    |n| (*n).to_owned(),
                );
                c.licenses.push(text);
            }
        }
        for (j, h) in p.checksums.iter().enumerate() {
            if !h.value.bytes().all(|b| b.is_ascii_hexdigit()) || h.value.is_empty() {
                return Err(fail(
                    path,
                    format!("{at}/checksums/{j}/checksumValue"),
                    "not a hex digest",
                ));
            }
            if let Some(alg) = HashAlgorithm::from_name(&h.algorithm) {
                c.hashes.push(ComponentHash {
                    alg,
                    value: h.value.to_ascii_lowercase(),
                });
            }
        }
        for a in &p.annotations {
            if let Some((n, v)) = a
                .comment
                .as_deref()
                .and_then(|c| c.split_once('='))
                .filter(|(n, _)| n.starts_with("medguard:"))
            {
                apply_property(&mut c, n, v);
            }
        }
        components.push(c);
    }
    Ok(Sbom {
        metadata: SbomMetadata {
            name: raw.name,
            created: Some(created),
            tool,
            device_model,
        },
        components,
    })
}

/// Splits `A AND (B OR C) AND LicenseRef-x` at the top-level ANDs we write between licences.
fn split_top_level_and(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for token in s.replace('(', " ( ").replace(')', " ) ").split_whitespace() {
        match token {
            "(" => depth += 1,
            ")" => depth -= 1,
            _ => {}
        }
        if token == "AND" && depth == 0 {
            out.push(std::mem::take(&mut current));
            continue;
        }
        if !current.is_empty() && token != ")" && !current.ends_with('(') {
            current.push(' ');
        }
        current.push_str(token);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppliers() {
        let f = supplier_field("Guillem Jover <guillem@debian.org>");
        assert_eq!(f, "Organization: Guillem Jover (guillem@debian.org)");
        assert_eq!(
            supplier_from_field(&f).as_deref(),
            Some("Guillem Jover <guillem@debian.org>")
        );
        assert_eq!(supplier_from_field("Person: Jane"), Some("Jane".into()));
        assert_eq!(supplier_from_field("NOASSERTION"), None);
    }

    #[test]
    fn and_split() {
        assert_eq!(
            split_top_level_and("MIT AND (BSD-3-Clause OR Apache-2.0) AND LicenseRef-x"),
            vec!["MIT", "(BSD-3-Clause OR Apache-2.0)", "LicenseRef-x"]
        );
    }
}
