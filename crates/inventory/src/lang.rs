//! Language packages: Python distributions (`*.dist-info/METADATA`, `*.egg-info`), npm
//! packages (`node_modules/**/package.json`) and Java archives (Maven `pom.properties`
//! inside `*.jar`, `*.war`, `*.ear`).
//!
//! Where: a walk (no symlinks followed, bounded depth and size) of `ROOT/opt`, `ROOT/srv`,
//! `ROOT/usr/local`, and `ROOT/usr/lib/python*` and `ROOT/usr/lib/node_modules`, where
//! vendors and `pip`/`npm` put software. Home directories are not searched. A package whose
//! manifest an OS package manager installed (it is in a dpkg/rpm file list) is skipped, as
//! trivy does: the distribution's package already stands for it, and its advisories apply.
//!
//! Jars nested inside jars (Spring Boot fat jars) are not opened: only the outer archive's
//! `pom.properties` entries count. A zip entry bigger than 64 KiB (a `pom.properties` is a
//! few hundred bytes) is refused, so a zip bomb costs nothing.

use std::io::Read as _;
use std::path::Path;

use crate::files::FileIndex;
use crate::fsutil::read_bounded;
use crate::model::{Component, ComponentHash, Ecosystem, HashAlgorithm, Warning};
use crate::purl::Purl;

const MANIFEST_LIMIT: u64 = 16 << 20;
const JAR_LIMIT: u64 = 1 << 30;
const POM_LIMIT: u64 = 64 << 10;
const MAX_DEPTH: usize = 32;

pub(crate) fn collect(
    root: &Path,
    components: &mut Vec<Component>,
    index: &FileIndex,
    warnings: &mut Vec<Warning>,
) {
    let mut starts = vec![
        root.join("opt"),
        root.join("srv"),
        root.join("usr/local"),
        root.join("usr/lib/node_modules"),
    ];
    if let Ok(rd) = std::fs::read_dir(root.join("usr/lib")) {
        let mut py: Vec<_> = rd
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("python"))
            })
            .map(|e| e.path())
            .collect();
        py.sort();
        starts.extend(py);
    }
    let mut walker = Walker {
        root,
        index,
        components,
        warnings,
    };
    for s in starts {
        // `usr/local` holds `lib/python3.11`: the python dirs of usr/lib are distinct trees.
        if std::fs::symlink_metadata(&s).is_ok_and(|m| m.is_dir()) {
            walker.walk(&s, 0);
        }
    }
}

struct Walker<'a> {
    root: &'a Path,
    index: &'a FileIndex,
    components: &'a mut Vec<Component>,
    warnings: &'a mut Vec<Warning>,
}

impl Walker<'_> {
    fn device_path(&self, p: &Path) -> Vec<u8> {
        let rel = p.strip_prefix(self.root).unwrap_or(p);
        let mut out = b"/".to_vec();
        out.extend_from_slice(rel.as_os_str().as_encoded_bytes());
        out
    }

    fn owned_by_os(&self, p: &Path) -> bool {
        self.index.contains(&self.device_path(p))
    }

    fn walk(&mut self, dir: &Path, depth: usize) {
        if depth > MAX_DEPTH {
            self.warnings.push(Warning::new(
                dir,
                None,
                format!("deeper than {MAX_DEPTH} levels: not searched"),
            ));
            return;
        }
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.warnings
                    .push(Warning::new(dir, None, format!("cannot list: {e}")));
                return;
            }
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = e.path();
            if ft.is_dir() {
                if name.ends_with(".dist-info") {
                    self.python(&path.join("METADATA"));
                } else if name.ends_with(".egg-info") {
                    self.python(&path.join("PKG-INFO"));
                } else if name != ".git" && name != "__pycache__" {
                    self.walk(&path, depth + 1);
                }
            } else if ft.is_file() {
                if name.ends_with(".egg-info") {
                    self.python(&path);
                } else if name == "package.json" && is_node_module(dir) {
                    self.npm(&path);
                } else if [".jar", ".war", ".ear"].iter().any(|x| name.ends_with(x)) {
                    self.jar(&path);
                }
            }
        }
    }

    fn python(&mut self, manifest: &Path) {
        if self.owned_by_os(manifest) {
            return;
        }
        let Some(bytes) = read_bounded(manifest, MANIFEST_LIMIT, false, self.warnings) else {
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        match parse_python_metadata(&text) {
            Some(c) => self.components.push(c),
            None => self
                .warnings
                .push(Warning::new(manifest, None, "no Name or Version: skipped")),
        }
    }

    fn npm(&mut self, manifest: &Path) {
        if self.owned_by_os(manifest) {
            return;
        }
        let Some(bytes) = read_bounded(manifest, MANIFEST_LIMIT, false, self.warnings) else {
            return;
        };
        match parse_package_json(&bytes) {
            Ok(Some(c)) => self.components.push(c),
            // A package.json without a version (a workspace root) is not a package.
            Ok(None) => {}
            Err(e) => self.warnings.push(Warning::new(
                manifest,
                Some(e.line()),
                format!("not JSON: {e}"),
            )),
        }
    }

    fn jar(&mut self, jar: &Path) {
        if self.owned_by_os(jar) {
            return;
        }
        let Some(found) = read_jar(jar, self.warnings) else {
            return;
        };
        self.components.extend(found);
    }
}

fn is_node_module(pkg_dir: &Path) -> bool {
    let parent = pkg_dir.parent();
    let pname = parent.and_then(Path::file_name).and_then(|n| n.to_str());
    match pname {
        Some("node_modules") => true,
        Some(scope) if scope.starts_with('@') => {
            parent
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                == Some("node_modules")
        }
        _ => false,
    }
}

/// Parses a Python core-metadata file (`METADATA`, `PKG-INFO`).
#[must_use]
pub fn parse_python_metadata(text: &str) -> Option<Component> {
    let mut name = None;
    let mut version = None;
    let mut license = None;
    let mut license_expr = None;
    let mut classifiers = Vec::new();
    let mut author = None;
    let mut author_email = None;
    let mut current: Option<&str> = None;
    for line in text.lines() {
        if line.is_empty() {
            break; // the body (long description) starts here
        }
        if line.starts_with([' ', '\t']) {
            if current == Some("License") {
                // A multi-line License field is the licence text, not an identifier.
                license = None;
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().to_owned();
        current = None;
        match k.to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "version" => version = Some(v),
            "license" => {
                current = Some("License");
                license = Some(v).filter(|v| !v.is_empty() && v.len() <= 100 && v != "UNKNOWN");
            }
            "license-expression" => license_expr = Some(v),
            "classifier" => {
                if let Some(l) = v.strip_prefix("License :: ") {
                    classifiers.push(l.rsplit(" :: ").next().unwrap_or(l).to_owned());
                }
            }
            "author" => author = Some(v).filter(|v| !v.is_empty() && v != "UNKNOWN"),
            "author-email" => author_email = Some(v).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    let name = name.filter(|n| !n.is_empty())?;
    let version = version.filter(|v| !v.is_empty())?;
    let mut c = Component::new(&name, &version, Ecosystem::PyPI);
    // The purl normalises the name (lower case, `_` as `-`).
    c.purl = Purl::builder("pypi", &name)
        .version(&version)
        .build()
        .ok()
        .map(|p| p.to_string());
    c.supplier = author.or(author_email);
    c.licenses = match (license_expr, license) {
        (Some(e), _) => vec![e],
        (None, Some(l)) => vec![l],
        (None, None) => classifiers,
    };
    Some(c)
}

/// Parses an npm `package.json`; `Ok(None)` when it has no name or version.
///
/// # Errors
/// When it is not JSON.
pub fn parse_package_json(bytes: &[u8]) -> Result<Option<Component>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_slice(bytes)?;
    let (Some(name), Some(version)) = (
        v.get("name").and_then(|n| n.as_str()),
        v.get("version").and_then(|n| n.as_str()),
    ) else {
        return Ok(None);
    };
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let mut c = Component::new(name, version, Ecosystem::Npm);
    let (ns, short) = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name),
    };
    let mut purl = Purl::builder("npm", short).version(version);
    if let Some(scope) = ns {
        purl = purl.namespace(scope);
    }
    c.purl = purl.build().ok().map(|p| p.to_string());
    let lic = |l: &serde_json::Value| -> Option<String> {
        l.as_str()
            .map(str::to_owned)
            .or_else(|| l.get("type")?.as_str().map(str::to_owned))
    };
    if let Some(l) = v.get("license").and_then(lic) {
        c.licenses.push(l);
    } else if let Some(arr) = v.get("licenses").and_then(|l| l.as_array()) {
        c.licenses.extend(arr.iter().filter_map(lic));
    }
    c.supplier = v.get("author").and_then(|a| {
        a.as_str()
            .map(str::to_owned)
            .or_else(|| a.get("name")?.as_str().map(str::to_owned))
    });
    Ok(Some(c))
}

/// Parses a `pom.properties` file into `(groupId, artifactId, version)`.
#[must_use]
pub fn parse_pom_properties(text: &str) -> Option<(String, String, String)> {
    let mut g = None;
    let mut a = None;
    let mut v = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((k, val)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        let val = val.trim().to_owned();
        match k.trim() {
            "groupId" => g = Some(val),
            "artifactId" => a = Some(val),
            "version" => v = Some(val),
            _ => {}
        }
    }
    Some((
        g.filter(|s| !s.is_empty())?,
        a.filter(|s| !s.is_empty())?,
        v.filter(|s| !s.is_empty())?,
    ))
}

/// The Maven components a Java archive declares.
fn read_jar(jar: &Path, warnings: &mut Vec<Warning>) -> Option<Vec<Component>> {
    let file = match std::fs::File::open(jar) {
        Ok(f) => f,
        Err(e) => {
            warnings.push(Warning::new(jar, None, format!("cannot read: {e}")));
            return None;
        }
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > JAR_LIMIT {
        warnings.push(Warning::new(
            jar,
            None,
            format!("{len} bytes, more than the {JAR_LIMIT} allowed: skipped"),
        ));
        return None;
    }
    let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            warnings.push(Warning::new(
                jar,
                None,
                format!("not a readable zip archive: {e}"),
            ));
            return None;
        }
    };
    let mut out = Vec::new();
    let wanted: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.starts_with("META-INF/maven/") && n.ends_with("/pom.properties"))
        .map(std::borrow::Cow::into_owned)
        .collect();
    for name in wanted {
        let mut entry = match archive.by_name(&name) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(Warning::new(jar, None, format!("{name}: {e}")));
                continue;
            }
        };
        if entry.size() > POM_LIMIT {
            warnings.push(Warning::new(
                jar,
                None,
                format!(
                    "{name}: {} bytes, more than {POM_LIMIT}: skipped",
                    entry.size()
                ),
            ));
            continue;
        }
        let mut buf = Vec::new();
        // The declared size may lie: read at most the limit.
        if let Err(e) = (&mut entry).take(POM_LIMIT + 1).read_to_end(&mut buf) {
            warnings.push(Warning::new(jar, None, format!("{name}: {e}")));
            continue;
        }
        if buf.len() as u64 > POM_LIMIT {
            warnings.push(Warning::new(
                jar,
                None,
                format!("{name}: more than {POM_LIMIT} bytes: skipped"),
            ));
            continue;
        }
        match parse_pom_properties(&String::from_utf8_lossy(&buf)) {
            Some((g, a, v)) => {
                let mut c = Component::new(format!("{g}:{a}"), &v, Ecosystem::Maven);
                c.purl = Purl::builder("maven", &a)
                    .namespace(&g)
                    .version(&v)
                    .build()
                    .ok()
                    .map(|p| p.to_string());
                out.push(c);
            }
            None => warnings.push(Warning::new(
                jar,
                None,
                format!("{name}: no groupId, artifactId or version"),
            )),
        }
    }
    // The archive's digest identifies the component only when it holds one artifact.
    if let [c] = out.as_mut_slice()
        && let Some(digest) = sha256_file(jar)
    {
        c.hashes.push(ComponentHash {
            alg: HashAlgorithm::Sha256,
            value: digest,
        });
    }
    Some(out)
}

fn sha256_file(path: &Path) -> Option<String> {
    use sha2::Digest as _;
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n)?);
    }
    Some(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_metadata() {
        let c = parse_python_metadata("Metadata-Version: 2.1\nName: PyJWT\nVersion: 2.6.0\nAuthor: Jose Padilla\nLicense: MIT\nClassifier: License :: OSI Approved :: MIT License\n\nbody: x\n").unwrap();
        assert_eq!(c.purl.as_deref(), Some("pkg:pypi/pyjwt@2.6.0"));
        assert_eq!(c.licenses, vec!["MIT"]);
        assert_eq!(c.supplier.as_deref(), Some("Jose Padilla"));
        let c = parse_python_metadata("Name: x\nVersion: 1\nLicense: Copyright foo\n        bar\nClassifier: License :: OSI Approved :: BSD License\n").unwrap();
        assert_eq!(c.licenses, vec!["BSD License"]);
        assert!(parse_python_metadata("Name: x\n").is_none());
    }

    #[test]
    fn npm_scoped() {
        let c = parse_package_json(br#"{"name":"@angular/core","version":"16.0.0","license":"MIT","author":{"name":"angular"}}"#).unwrap().unwrap();
        assert_eq!(c.purl.as_deref(), Some("pkg:npm/%40angular/core@16.0.0"));
        assert_eq!(c.licenses, vec!["MIT"]);
        assert!(parse_package_json(br#"{"name":"ws"}"#).unwrap().is_none());
        assert!(parse_package_json(b"{").is_err());
    }

    #[test]
    fn pom() {
        assert_eq!(
            parse_pom_properties(
                "#Generated\ngroupId=org.dcm4che\nartifactId=dcm4che-core\nversion=5.31.0\n"
            ),
            Some(("org.dcm4che".into(), "dcm4che-core".into(), "5.31.0".into()))
        );
        assert_eq!(parse_pom_properties("groupId=x\n"), None);
    }
}
