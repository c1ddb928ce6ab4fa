//! CycloneDX JSON: writing 1.6, reading 1.2–1.6 into the [`Sbom`] model.
//!
//! Usage evidence travels as component `properties` in medguard's namespace:
//! `medguard:running` (`true`/`false`; present only when evidence of use was looked for, so its
//! absence means "unknown", never "not running"), `medguard:mapped-libraries`, one
//! `medguard:listening` per socket (`tcp/0.0.0.0:104`), one `medguard:process` per process
//! (`PID:EXE`), and `medguard:source-package`, `medguard:source-version`,
//! `medguard:transitional`, `medguard:ecosystem` (only where the purl cannot tell it).
//!
//! Reading checks what the schema requires that serde does not (bomFormat, specVersion,
//! component type and name, hash algorithm and length, licence choice and id, bom-ref,
//! property names, serialNumber, timestamp) and reports the JSON pointer of the first
//! problem. It must not reject what the schema allows: unknown fields are ignored.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::licenses::{is_simple_expression, is_spdx_id};
use crate::model::{
    Component, ComponentHash, Distro, Ecosystem, HashAlgorithm, ListeningSocket, ProcessEvidence,
    Sbom, SbomMetadata,
};
use crate::purl::Purl;
use crate::{InventoryError, TOOL_NAME, TOOL_VERSION};

/// The spec version written.
pub const SPEC_VERSION: &str = "1.6";
const COMPONENT_TYPES: [&str; 13] = [
    "cryptographic-asset",
    "application",
    "framework",
    "library",
    "container",
    "platform",
    "operating-system",
    "device",
    "device-driver",
    "firmware",
    "file",
    "machine-learning-model",
    "data",
];
const HASH_ALGS: [&str; 12] = [
    "MD5",
    "SHA-1",
    "SHA-256",
    "SHA-384",
    "SHA-512",
    "SHA3-256",
    "SHA3-384",
    "SHA3-512",
    "BLAKE2b-256",
    "BLAKE2b-384",
    "BLAKE2b-512",
    "BLAKE3",
];

/// A deterministic RFC 4122-shaped UUID from the document's content.
pub(crate) fn content_uuid(parts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        x.get(0..8).unwrap_or_default(),
        x.get(8..12).unwrap_or_default(),
        x.get(12..16).unwrap_or_default(),
        x.get(16..20).unwrap_or_default(),
        x.get(20..32).unwrap_or_default()
    )
}

pub(crate) fn uuid_parts(sbom: &Sbom) -> Vec<String> {
    let mut parts = vec![
        sbom.metadata.name.clone(),
        format_time(sbom.metadata.created),
    ];
    parts.extend(
        sbom.components
            .iter()
            .map(|c| format!("{}@{}@{:?}", c.name, c.version, c.purl)),
    );
    parts
}

pub(crate) fn format_time(t: Option<OffsetDateTime>) -> String {
    let t = t.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Whole seconds, UTC: both schemas' date-time and SPDX's `YYYY-MM-DDThh:mm:ssZ`.
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// The usage and provenance properties of a component, `(name, value)`.
pub(crate) fn properties(c: &Component) -> Vec<(String, String)> {
    let mut p = Vec::new();
    if c.usage.observed {
        p.push(("medguard:running".to_owned(), c.usage.running.to_string()));
    }
    if c.usage.mapped_libraries {
        p.push(("medguard:mapped-libraries".to_owned(), "true".to_owned()));
    }
    for s in &c.usage.listening {
        p.push(("medguard:listening".to_owned(), s.endpoint()));
    }
    for pr in &c.usage.processes {
        p.push((
            "medguard:process".to_owned(),
            format!("{}:{}", pr.pid, pr.exe.display()),
        ));
    }
    if matches!(c.ecosystem, Ecosystem::Debian(_) | Ecosystem::Rpm(_))
        && let Some(s) = &c.source_package
    {
        p.push(("medguard:source-package".to_owned(), s.clone()));
    }
    if let Some(v) = &c.source_version {
        p.push(("medguard:source-version".to_owned(), v.clone()));
    }
    if c.transitional {
        p.push(("medguard:transitional".to_owned(), "true".to_owned()));
    }
    let purl_tells = c
        .purl
        .as_deref()
        // As `flatten` will read it back.
        .and_then(|p| Purl::parse_lenient(p).ok())
        .is_some_and(|p| ecosystem_from_purl(&p) == c.ecosystem);
    if !purl_tells {
        p.push(("medguard:ecosystem".to_owned(), ecosystem_tag(&c.ecosystem)));
    }
    p
}

fn ecosystem_tag(e: &Ecosystem) -> String {
    match e {
        Ecosystem::Debian(d) => format!("deb:{}", d.purl_qualifier()),
        Ecosystem::Rpm(d) => format!("rpm:{}", d.purl_qualifier()),
        Ecosystem::Vendor => "vendor".to_owned(),
        Ecosystem::Other(s) => format!("other:{s}"),
        other => other.purl_type().to_owned(),
    }
}

fn ecosystem_from_tag(tag: &str) -> Ecosystem {
    let distro = |q: &str| {
        let (id, v) = q
            .split_once('-')
            .map_or((q, None), |(a, b)| (a, Some(b.to_owned())));
        Distro {
            id: id.to_owned(),
            version_id: v,
        }
    };
    match tag.split_once(':') {
        Some(("deb", q)) => Ecosystem::Debian(distro(q)),
        Some(("rpm", q)) => Ecosystem::Rpm(distro(q)),
        Some(("other", s)) => Ecosystem::Other(s.to_owned()),
        _ => match tag {
            "vendor" => Ecosystem::Vendor,
            "pypi" => Ecosystem::PyPI,
            "npm" => Ecosystem::Npm,
            "maven" => Ecosystem::Maven,
            "cargo" => Ecosystem::Cargo,
            other => Ecosystem::Other(other.to_owned()),
        },
    }
}

/// The ecosystem a purl names; `deb`/`rpm` take the distro from the `distro` qualifier
/// (`debian-12`) or, without it, from the namespace.
#[must_use]
pub fn ecosystem_from_purl(p: &Purl) -> Ecosystem {
    let distro = || {
        let ns = p.namespace().unwrap_or_default().to_owned();
        match p.qualifier("distro") {
            Some(q) => match q.split_once('-') {
                Some((id, v)) if id == ns || ns.is_empty() => Distro {
                    id: id.to_owned(),
                    version_id: Some(v.to_owned()),
                },
                _ => Distro {
                    id: ns.clone(),
                    version_id: Some(q.to_owned()),
                },
            },
            None => Distro {
                id: ns,
                version_id: None,
            },
        }
    };
    match p.ty() {
        "deb" => Ecosystem::Debian(distro()),
        "rpm" => Ecosystem::Rpm(distro()),
        "pypi" => Ecosystem::PyPI,
        "npm" => Ecosystem::Npm,
        "maven" => Ecosystem::Maven,
        "cargo" => Ecosystem::Cargo,
        other => Ecosystem::Other(other.to_owned()),
    }
}

/// Applies properties read back (either format) to a component.
pub(crate) fn apply_property(c: &mut Component, name: &str, value: &str) {
    match name {
        "medguard:running" => {
            c.usage.observed = true;
            c.usage.running = value == "true";
        }
        "medguard:mapped-libraries" => c.usage.mapped_libraries = value == "true",
        "medguard:listening" => {
            if let Some(s) = ListeningSocket::parse_endpoint(value) {
                c.usage.listening.push(s);
            }
        }
        "medguard:process" => {
            if let Some((pid, exe)) = value.split_once(':')
                && let Ok(pid) = pid.parse()
            {
                c.usage.processes.push(ProcessEvidence {
                    pid,
                    exe: exe.into(),
                    comm: None,
                });
            }
        }
        "medguard:source-package" => c.source_package = Some(value.to_owned()),
        "medguard:source-version" => c.source_version = Some(value.to_owned()),
        "medguard:transitional" => c.transitional = value == "true",
        "medguard:ecosystem" => c.ecosystem = ecosystem_from_tag(value),
        _ => {}
    }
}

/// Writes `sbom` as a CycloneDX 1.6 JSON value.
#[must_use]
pub fn to_value(sbom: &Sbom) -> Value {
    let parts = uuid_parts(sbom);
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let serial = format!("urn:uuid:{}", content_uuid(&refs));
    let mut used_refs = HashSet::new();
    let components: Vec<Value> = sbom
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let bom_ref = match &c.purl {
                Some(p) if used_refs.insert(p.clone()) => p.clone(),
                _ => format!("medguard-component-{i}"),
            };
            let mut o = serde_json::Map::new();
            let ty = if c.ecosystem == Ecosystem::Vendor {
                "application"
            } else {
                "library"
            };
            o.insert("type".into(), json!(ty));
            o.insert("bom-ref".into(), json!(bom_ref));
            if let Some(s) = &c.supplier {
                o.insert("supplier".into(), json!({ "name": s }));
            }
            o.insert("name".into(), json!(c.name));
            o.insert("version".into(), json!(c.version));
            // A digest of the wrong shape (read from another tool's SBOM) is not written.
            if c.hashes.iter().any(ComponentHash::is_well_formed) {
                let h: Vec<Value> = c
                    .hashes
                    .iter()
                    .filter(|h| h.is_well_formed())
                    .map(|h| json!({"alg": h.alg.cyclonedx_name(), "content": h.value}))
                    .collect();
                o.insert("hashes".into(), Value::Array(h));
            }
            if let Some(l) = licenses_value(&c.licenses) {
                o.insert("licenses".into(), l);
            }
            if let Some(cpe) = &c.cpe {
                o.insert("cpe".into(), json!(cpe));
            }
            if let Some(p) = &c.purl {
                o.insert("purl".into(), json!(p));
            }
            let props: Vec<Value> = properties(c)
                .into_iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            o.insert("properties".into(), Value::Array(props));
            Value::Object(o)
        })
        .collect();
    let mut metadata = json!({
        "timestamp": format_time(sbom.metadata.created),
        "tools": { "components": [ { "type": "application", "name": TOOL_NAME, "version": TOOL_VERSION } ] },
        "component": { "type": "device", "bom-ref": "medguard-device", "name": sbom.metadata.name },
    });
    if let Some(m) = &sbom.metadata.device_model
        && let Some(obj) = metadata.as_object_mut()
    {
        obj.insert(
            "properties".into(),
            json!([{ "name": "medguard:device-model", "value": m }]),
        );
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial,
        "version": 1,
        "metadata": metadata,
        "components": components,
    })
}

fn licenses_value(licenses: &[String]) -> Option<Value> {
    match licenses {
        [] => None,
        [one] if !is_spdx_id(one) && is_simple_expression(one) => {
            Some(json!([{ "expression": one }]))
        }
        many => Some(Value::Array(
            many.iter()
                .map(|l| {
                    if is_spdx_id(l) {
                        json!({"license": {"id": l}})
                    } else {
                        json!({"license": {"name": l}})
                    }
                })
                .collect(),
        )),
    }
}

#[derive(Deserialize)]
struct RawBom {
    #[serde(rename = "bomFormat")]
    bom_format: String,
    #[serde(rename = "specVersion")]
    spec_version: String,
    #[serde(rename = "serialNumber", default)]
    serial_number: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    metadata: Option<RawMetadata>,
    #[serde(default)]
    components: Vec<RawComponent>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    tools: Option<Value>,
    #[serde(default)]
    component: Option<RawComponent>,
    #[serde(default)]
    licenses: Vec<RawLicenseChoice>,
    #[serde(default)]
    properties: Vec<RawProperty>,
}

#[derive(Deserialize)]
struct RawComponent {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(rename = "bom-ref", default)]
    bom_ref: Option<String>,
    #[serde(default)]
    supplier: Option<RawEntity>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    licenses: Vec<RawLicenseChoice>,
    #[serde(default)]
    hashes: Vec<RawHash>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    cpe: Option<String>,
    #[serde(default)]
    properties: Vec<RawProperty>,
    #[serde(default)]
    components: Vec<RawComponent>,
}

#[derive(Deserialize)]
struct RawEntity {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawLicenseChoice {
    #[serde(default)]
    license: Option<RawLicense>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Deserialize)]
struct RawLicense {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawHash {
    alg: String,
    content: String,
}

#[derive(Deserialize)]
struct RawProperty {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// The JSON pointer and message of a deserialisation error. A missing field is reported at
/// the field, not at the object that lacks it.
pub(crate) fn located(e: serde_path_to_error::Error<serde_json::Error>) -> (String, String) {
    let mut p = pointer(e.path());
    let message = e.into_inner().to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        p.push('/');
        p.push_str(&field.replace('~', "~0").replace('/', "~1"));
    }
    (p, message)
}

/// JSON pointer from serde_path_to_error's path.
pub(crate) fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

struct Check<'a> {
    path: &'a Path,
}

impl Check<'_> {
    fn fail(&self, pointer: String, message: impl Into<String>) -> InventoryError {
        InventoryError::Invalid {
            path: self.path.to_path_buf(),
            format: "CycloneDX",
            pointer,
            message: message.into(),
            source: None,
        }
    }
}

/// Reads a CycloneDX JSON document.
///
/// # Errors
/// [`InventoryError::Invalid`] with the JSON pointer of the first problem.
pub fn from_value(value: Value, path: &Path) -> Result<Sbom, InventoryError> {
    let ck = Check { path };
    let raw: RawBom = serde_path_to_error::deserialize(value).map_err(|e| {
        let (p, message) = located(e);
        ck.fail(p, message)
    })?;
    if raw.bom_format != "CycloneDX" {
        return Err(ck.fail(
            "/bomFormat".into(),
            format!("expected \"CycloneDX\", found {:?}", raw.bom_format),
        ));
    }
    if !["1.2", "1.3", "1.4", "1.5", "1.6"].contains(&raw.spec_version.as_str()) {
        return Err(ck.fail(
            "/specVersion".into(),
            format!(
                "unsupported spec version {:?} (1.2 to 1.6 are read)",
                raw.spec_version
            ),
        ));
    }
    if let Some(s) = &raw.serial_number
        && !valid_serial(s)
    {
        return Err(ck.fail("/serialNumber".into(), format!("not a urn:uuid: {s:?}")));
    }
    if raw.version == Some(0) {
        return Err(ck.fail("/version".into(), "must be 1 or more"));
    }
    let mut metadata = SbomMetadata {
        name: String::new(),
        created: None,
        tool: None,
        device_model: None,
    };
    if let Some(m) = &raw.metadata {
        if let Some(t) = &m.timestamp {
            metadata.created = Some(OffsetDateTime::parse(t, &Rfc3339).map_err(|e| {
                ck.fail(
                    "/metadata/timestamp".into(),
                    format!("not an RFC 3339 date-time: {e}"),
                )
            })?);
        }
        metadata.tool = m.tools.as_ref().and_then(tool_name);
        check_licenses(&ck, &m.licenses, "/metadata/licenses")?;
        check_properties(&ck, &m.properties, "/metadata/properties")?;
        for p in &m.properties {
            if p.name.as_deref() == Some("medguard:device-model") {
                metadata.device_model.clone_from(&p.value);
            }
        }
        if let Some(c) = &m.component {
            check_component(&ck, c, "/metadata/component", &mut HashSet::new())?;
            metadata.name = c.name.clone().unwrap_or_default();
        }
    }
    let mut components = Vec::new();
    let mut refs = HashSet::new();
    for (i, c) in raw.components.iter().enumerate() {
        flatten(
            &ck,
            c,
            &format!("/components/{i}"),
            &mut refs,
            &mut components,
        )?;
    }
    Ok(Sbom {
        metadata,
        components,
    })
}

fn valid_serial(s: &str) -> bool {
    let Some(u) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let groups: Vec<&str> = u.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn tool_name(tools: &Value) -> Option<String> {
    // 1.5+: {"components": [...], "services": [...]}; 1.2-1.4 (deprecated later): [...].
    let first = match tools {
        Value::Array(a) => a.first()?,
        Value::Object(o) => o
            .get("components")
            .and_then(|c| c.as_array()?.first())
            .or_else(|| o.get("services").and_then(|c| c.as_array()?.first()))?,
        _ => return None,
    };
    let name = first.get("name")?.as_str()?;
    Some(match first.get("version").and_then(Value::as_str) {
        Some(v) => format!("{name}-{v}"),
        None => name.to_owned(),
    })
}

fn check_licenses(ck: &Check<'_>, l: &[RawLicenseChoice], at: &str) -> Result<(), InventoryError> {
    for (i, choice) in l.iter().enumerate() {
        match (&choice.license, &choice.expression) {
            (Some(lic), None) => match (&lic.id, &lic.name) {
                (Some(id), None) => {
                    if !is_spdx_id(id) {
                        return Err(ck.fail(
                            format!("{at}/{i}/license/id"),
                            format!("{id:?} is not an SPDX licence id"),
                        ));
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(ck.fail(
                        format!("{at}/{i}/license"),
                        "needs exactly one of id and name",
                    ));
                }
            },
            (None, Some(_)) => {}
            _ => {
                return Err(ck.fail(
                    format!("{at}/{i}"),
                    "needs exactly one of license and expression",
                ));
            }
        }
    }
    Ok(())
}

fn check_properties(ck: &Check<'_>, p: &[RawProperty], at: &str) -> Result<(), InventoryError> {
    for (i, prop) in p.iter().enumerate() {
        if prop.name.is_none() {
            return Err(ck.fail(format!("{at}/{i}/name"), "a property needs a name"));
        }
    }
    Ok(())
}

fn check_component(
    ck: &Check<'_>,
    c: &RawComponent,
    at: &str,
    refs: &mut HashSet<String>,
) -> Result<(), InventoryError> {
    match &c.ty {
        None => return Err(ck.fail(format!("{at}/type"), "missing")),
        Some(t) if !COMPONENT_TYPES.contains(&t.as_str()) => {
            return Err(ck.fail(
                format!("{at}/type"),
                format!("unknown component type {t:?}"),
            ));
        }
        Some(_) => {}
    }
    if c.name.is_none() {
        return Err(ck.fail(format!("{at}/name"), "missing"));
    }
    if let Some(r) = &c.bom_ref {
        if r.is_empty() {
            return Err(ck.fail(format!("{at}/bom-ref"), "must not be empty"));
        }
        if !refs.insert(r.clone()) {
            return Err(ck.fail(format!("{at}/bom-ref"), format!("{r:?} is not unique")));
        }
    }
    for (i, h) in c.hashes.iter().enumerate() {
        if !HASH_ALGS.contains(&h.alg.as_str()) {
            return Err(ck.fail(
                format!("{at}/hashes/{i}/alg"),
                format!("unknown algorithm {:?}", h.alg),
            ));
        }
        let ok_len = [32, 40, 64, 96, 128].contains(&h.content.len());
        if !ok_len || !h.content.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ck.fail(format!("{at}/hashes/{i}/content"), "not a hex digest"));
        }
        let expected = match h.alg.as_str() {
            "MD5" => Some(32),
            "SHA-1" => Some(40),
            "SHA-256" | "SHA3-256" | "BLAKE2b-256" => Some(64),
            "SHA-384" | "SHA3-384" | "BLAKE2b-384" => Some(96),
            "SHA-512" | "SHA3-512" | "BLAKE2b-512" => Some(128),
            _ => None,
        };
        if expected.is_some_and(|n| n != h.content.len()) {
            return Err(ck.fail(
                format!("{at}/hashes/{i}/content"),
                format!("wrong length for {}", h.alg),
            ));
        }
    }
    check_licenses(ck, &c.licenses, &format!("{at}/licenses"))?;
    check_properties(ck, &c.properties, &format!("{at}/properties"))?;
    Ok(())
}

fn flatten(
    ck: &Check<'_>,
    c: &RawComponent,
    at: &str,
    refs: &mut HashSet<String>,
    out: &mut Vec<Component>,
) -> Result<(), InventoryError> {
    check_component(ck, c, at, refs)?;
    let name = c.name.clone().unwrap_or_default();
    // Other tools' purls do not always follow the specification to the letter.
    let purl = c.purl.as_deref().and_then(|p| Purl::parse_lenient(p).ok());
    let ecosystem = purl.as_ref().map_or_else(
        || Ecosystem::Other("unknown".to_owned()),
        ecosystem_from_purl,
    );
    // Maven coordinates: CycloneDX keeps the group apart; the model's name is group:artifact
    // only through the purl, so keep the plain name.
    let _ = &c.group;
    let mut comp = Component::new(name, c.version.clone().unwrap_or_default(), ecosystem);
    comp.arch = purl
        .as_ref()
        .and_then(|p| p.qualifier("arch").map(str::to_owned));
    comp.purl.clone_from(&c.purl);
    comp.cpe.clone_from(&c.cpe);
    comp.supplier = c
        .supplier
        .as_ref()
        .and_then(|s| s.name.clone())
        .or_else(|| c.publisher.clone())
        .or_else(|| c.author.clone());
    for l in &c.licenses {
        if let Some(e) = &l.expression {
            comp.licenses.push(e.clone());
        } else if let Some(lic) = &l.license
            && let Some(s) = lic.id.clone().or_else(|| lic.name.clone())
        {
            comp.licenses.push(s);
        }
    }
    for h in &c.hashes {
        if let Some(alg) = HashAlgorithm::from_name(&h.alg) {
            comp.hashes.push(ComponentHash {
                alg,
                value: h.content.to_ascii_lowercase(),
            });
        }
    }
    for p in &c.properties {
        if let (Some(n), Some(v)) = (&p.name, &p.value) {
            apply_property(&mut comp, n, v);
        }
    }
    out.push(comp);
    for (i, sub) in c.components.iter().enumerate() {
        flatten(ck, sub, &format!("{at}/components/{i}"), refs, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = content_uuid(&["a", "b"]);
        assert!(valid_serial(&format!("urn:uuid:{u}")));
        assert_eq!(u.as_bytes()[14], b'4');
    }
}
