//! Components the device vendor declares: what no package manager knows (the vendor's own
//! application, a bundled DICOM toolkit, a statically linked library).
//!
//! The file is TOML, one `[[component]]` table each:
//!
//! ```toml
//! [[component]]
//! name = "acme-dicom-store"                 # required
//! version = "5.2.1"                         # required
//! supplier = "ACME Medical Systems"
//! purl = "pkg:generic/acme/dicom-store@5.2.1"   # default pkg:generic/NAME@VERSION
//! cpe = "cpe:2.3:a:acme:dicom_store:5.2.1:*:*:*:*:*:*:*"
//! licenses = ["LicenseRef-ACME-EULA"]
//! hashes = [{ alg = "SHA-256", value = "9f86d0..." }]
//! files = ["/opt/acme/bin/storescp"]        # device paths it owns: evidence of use
//! ```
//!
//! The ecosystem is `Vendor` unless the purl names another one (a bundled `pkg:pypi/...` is
//! matched as PyPI). Unknown keys are refused, so a typo is not silently ignored. The file is
//! the vendor's explicit input: a broken one is an error, not a warning.

use std::path::Path;

use serde::Deserialize;

use crate::InventoryError;
use crate::cyclonedx::ecosystem_from_purl;
use crate::files::FileIndex;
use crate::model::{Component, ComponentHash, Ecosystem, HashAlgorithm};
use crate::purl::Purl;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VendorFile {
    #[serde(default)]
    component: Vec<VendorComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VendorComponent {
    name: String,
    version: String,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    cpe: Option<String>,
    #[serde(default)]
    licenses: Vec<String>,
    #[serde(default)]
    hashes: Vec<VendorHash>,
    #[serde(default)]
    files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VendorHash {
    alg: String,
    value: String,
}

/// Parses a vendor components file.
///
/// # Errors
/// [`InventoryError::Invalid`] naming the component (`/component/N/field`) or the TOML line.
pub fn parse(text: &str, path: &Path) -> Result<Vec<(Component, Vec<String>)>, InventoryError> {
    let caused = |pointer: String,
                  message: String,
                  source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        InventoryError::Invalid {
            path: path.to_path_buf(),
            format: "vendor components",
            pointer,
            message,
            source,
        }
    };
    let fail = |pointer: String, message: String| caused(pointer, message, None);
    let file: VendorFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| {
            text.get(..s.start)
                .unwrap_or_default()
                .matches('\n')
                .count()
                + 1
        });
        let message = e.message().to_owned();
        caused(
            line.map(|l| format!("line {l}")).unwrap_or_default(),
            message,
            Some(Box::new(e)),
        )
    })?;
    let mut out = Vec::with_capacity(file.component.len());
    for (i, v) in file.component.into_iter().enumerate() {
        let at = |f: &str| format!("/component/{i}/{f}");
        if v.name.trim().is_empty() {
            return Err(fail(at("name"), "must not be empty".into()));
        }
        if v.version.trim().is_empty() {
            return Err(fail(at("version"), "must not be empty".into()));
        }
        let (purl, ecosystem) = match &v.purl {
            Some(p) => {
                // Our own input, written into our SBOM: it must follow the specification,
                // and is written in canonical form.
                let parsed = Purl::parse(p)
                    .map_err(|e| caused(at("purl"), e.to_string(), Some(Box::new(e))))?;
                let eco = match ecosystem_from_purl(&parsed) {
                    Ecosystem::Other(_) => Ecosystem::Vendor,
                    e => e,
                };
                (Some(parsed.to_string()), eco)
            }
            None => (
                Purl::builder("generic", &v.name)
                    .version(&v.version)
                    .build()
                    .ok()
                    .map(|p| p.to_string()),
                Ecosystem::Vendor,
            ),
        };
        let mut c = Component::new(v.name, v.version, ecosystem);
        c.purl = purl;
        c.cpe = v.cpe;
        c.supplier = v.supplier;
        c.licenses = v.licenses;
        for (j, h) in v.hashes.into_iter().enumerate() {
            let alg = HashAlgorithm::from_name(&h.alg).ok_or_else(|| {
                fail(
                    format!("/component/{i}/hashes/{j}/alg"),
                    format!("unknown algorithm {:?}", h.alg),
                )
            })?;
            if h.value.is_empty() || !h.value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fail(
                    format!("/component/{i}/hashes/{j}/value"),
                    "not a hex digest".into(),
                ));
            }
            c.hashes.push(ComponentHash {
                alg,
                value: h.value.to_ascii_lowercase(),
            });
        }
        for (j, f) in v.files.iter().enumerate() {
            if !f.starts_with('/') {
                return Err(fail(
                    format!("/component/{i}/files/{j}"),
                    format!("{f:?} is not an absolute device path"),
                ));
            }
        }
        out.push((c, v.files));
    }
    Ok(out)
}

pub(crate) fn collect(
    path: &Path,
    components: &mut Vec<Component>,
    index: &mut FileIndex,
) -> Result<(), InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|error| InventoryError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    for (c, files) in parse(&text, path)? {
        let owner = components.len();
        components.push(c);
        for f in files {
            index.insert(f.as_bytes(), owner);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let p = Path::new("v.toml");
        let e = parse("[[component]]\nname = \"a\"\nversion = \"1\"\nhashes = [{ alg = \"CRC\", value = \"00\" }]\n", p).unwrap_err();
        assert!(
            matches!(e, InventoryError::Invalid { ref pointer, .. } if pointer == "/component/0/hashes/0/alg"),
            "{e}"
        );
        let e = parse("[[component]]\nname = \"a\"\nversoin = \"1\"\n", p).unwrap_err();
        assert!(
            matches!(e, InventoryError::Invalid { ref pointer, .. } if pointer == "line 3"),
            "{e}"
        );
        let ok = parse("[[component]]\nname = \"viewer\"\nversion = \"4.2\"\npurl = \"pkg:pypi/pydicom@2.4.0\"\n", p).unwrap();
        assert_eq!(ok[0].0.ecosystem, Ecosystem::PyPI);
        // Written in canonical form; a purl that breaks its type's definition is refused.
        let ok = parse("[[component]]\nname = \"viewer\"\nversion = \"4.2\"\npurl = \"pkg:PyPI/PyDicom@2.4.0\"\n", p).unwrap();
        assert_eq!(ok[0].0.purl.as_deref(), Some("pkg:pypi/pydicom@2.4.0"));
        let e = parse(
            "[[component]]\nname = \"a\"\nversion = \"1\"\npurl = \"pkg:deb/a@1\"\n",
            p,
        )
        .unwrap_err();
        assert!(
            matches!(e, InventoryError::Invalid { ref pointer, .. } if pointer == "/component/0/purl"),
            "{e}"
        );
    }
}
