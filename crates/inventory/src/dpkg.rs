//! dpkg: the status database (`var/lib/dpkg/status`, and distroless `status.d/*`) and the
//! file lists (`var/lib/dpkg/info/PKG[:ARCH].list`).
//!
//! Which packages count as installed: exactly those whose `Status` third word is
//! `installed` (what `dpkg-query` shows as `?i`), whatever the wanted state (`hold`,
//! `deinstall` pending) — their files are on disk. Packages in `config-files` or
//! `not-installed` state are skipped silently (only configuration is left). Packages caught
//! half-way (`half-installed`, `unpacked`, `half-configured`, `triggers-awaited`,
//! `triggers-pending`) are not reported as installed, but a warning names them: some of their
//! files may be on disk. A `status.d/` file without `Status` is installed (distroless images).
//!
//! The parser never panics: a stanza without `Package` or `Version`, a continuation line
//! with no field before it, or a line that is not a field gives a [`Warning`] with the line
//! and the collection goes on.

use std::path::{Path, PathBuf};

use crate::files::FileIndex;
use crate::fsutil::{read_bounded, under};
use crate::model::{Component, Distro, Ecosystem, Warning};
use crate::purl::Purl;

/// Largest status file accepted (Debian's full archive installed is ~100 MB).
const STATUS_LIMIT: u64 = 512 << 20;
/// Largest file list accepted.
const LIST_LIMIT: u64 = 64 << 20;

/// One package as the status database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgPackage {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub arch: Option<String>,
    /// `Source` name, when given.
    pub source: Option<String>,
    /// `Source` version, when given in parentheses.
    pub source_version: Option<String>,
    /// `Maintainer`.
    pub maintainer: Option<String>,
    /// `Status`, its three words.
    pub status: Option<String>,
    /// A transitional or dummy package (by its description).
    pub transitional: bool,
    /// The 1-based line where the stanza starts.
    pub line: usize,
}

impl DpkgPackage {
    /// `installed`, `config-files`, ... (the third word of `Status`); `None` without `Status`.
    #[must_use]
    pub fn state(&self) -> Option<&str> {
        self.status
            .as_deref()
            .and_then(|s| s.split_whitespace().nth(2))
    }
}

/// Parses a status file. Every stanza with `Package` and `Version` is returned, whatever
/// its state; see [`is_installed`].
#[must_use]
pub fn parse_status(text: &[u8], path: &Path, warnings: &mut Vec<Warning>) -> Vec<DpkgPackage> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let mut stanza = Stanza::default();
    let mut current: Option<&'static str> = None;
    for (i, line) in text.split('\n').enumerate() {
        let lineno = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            finish(&mut stanza, path, warnings, &mut out);
            current = None;
            continue;
        }
        if stanza.start == 0 {
            stanza.start = lineno;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match current {
                Some("Description") => {
                    let l = line.to_ascii_lowercase();
                    if l.contains("transitional") || l.contains("dummy package") {
                        stanza.transitional = true;
                    }
                }
                Some(_) => {}
                None if stanza.any_field => {}
                None => warnings.push(Warning::new(
                    path,
                    Some(lineno),
                    "continuation line with no field before it",
                )),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            warnings.push(Warning::new(
                path,
                Some(lineno),
                "not a `Field: value` line",
            ));
            current = None;
            continue;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            warnings.push(Warning::new(
                path,
                Some(lineno),
                "not a `Field: value` line",
            ));
            current = None;
            continue;
        }
        stanza.any_field = true;
        let value = value.trim();
        current = Some("other");
        // Field names are case-insensitive in deb822.
        let slot = match name.to_ascii_lowercase().as_str() {
            "package" => &mut stanza.package,
            "version" => &mut stanza.version,
            "architecture" => &mut stanza.arch,
            "source" => &mut stanza.source,
            "maintainer" => &mut stanza.maintainer,
            "status" => &mut stanza.status,
            "description" => {
                current = Some("Description");
                let l = value.to_ascii_lowercase();
                if l.contains("transitional") || l.contains("dummy package") {
                    stanza.transitional = true;
                }
                continue;
            }
            _ => continue,
        };
        if slot.is_some() {
            warnings.push(Warning::new(
                path,
                Some(lineno),
                format!("field {name} repeated"),
            ));
        }
        *slot = Some(value.to_owned());
    }
    finish(&mut stanza, path, warnings, &mut out);
    out
}

#[derive(Debug, Default)]
struct Stanza {
    start: usize,
    any_field: bool,
    package: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    source: Option<String>,
    maintainer: Option<String>,
    status: Option<String>,
    transitional: bool,
}

fn finish(
    stanza: &mut Stanza,
    path: &Path,
    warnings: &mut Vec<Warning>,
    out: &mut Vec<DpkgPackage>,
) {
    let s = std::mem::take(stanza);
    if s.start == 0 || !s.any_field {
        return;
    }
    let (Some(name), Some(version)) = (
        s.package.filter(|p| !p.is_empty()),
        s.version.filter(|v| !v.is_empty()),
    ) else {
        warnings.push(Warning::new(
            path,
            Some(s.start),
            "stanza without Package or Version: skipped",
        ));
        return;
    };
    let (source, source_version) = match s.source.as_deref().map(str::trim) {
        Some(src) if !src.is_empty() => match src.split_once('(') {
            Some((n, v)) => (
                Some(n.trim().to_owned()),
                Some(v.trim_end_matches(')').trim().to_owned()).filter(|v| !v.is_empty()),
            ),
            None => (Some(src.to_owned()), None),
        },
        _ => (None, None),
    };
    out.push(DpkgPackage {
        name,
        version,
        arch: s.arch,
        source,
        source_version,
        maintainer: s.maintainer,
        status: s.status,
        transitional: s.transitional,
        line: s.start,
    });
}

/// Installed as this crate counts it (see the module docs). `from_status_d`: a package from
/// a `status.d/` file, where a missing `Status` means installed.
#[must_use]
pub fn is_installed(p: &DpkgPackage, from_status_d: bool) -> bool {
    match p.state() {
        Some(state) => state == "installed",
        None => from_status_d,
    }
}

/// The component for an installed package.
#[must_use]
pub fn component(p: &DpkgPackage, distro: &Distro) -> Component {
    let mut c = Component::new(&p.name, &p.version, Ecosystem::Debian(distro.clone()));
    c.arch.clone_from(&p.arch);
    c.supplier.clone_from(&p.maintainer);
    c.transitional = p.transitional;
    let mut purl = Purl::builder("deb", &p.name)
        .namespace(&distro.id)
        .version(&p.version)
        .qualifier("distro", &distro.purl_qualifier());
    if let Some(arch) = &p.arch {
        purl = purl.qualifier("arch", arch);
    }
    let src_name = p.source.as_deref().unwrap_or(&p.name);
    let src_version = p.source_version.as_deref().filter(|v| *v != p.version);
    if src_name != p.name || src_version.is_some() {
        // syft's form: upstream=SOURCE or SOURCE@SOURCEVERSION.
        let upstream = match src_version {
            Some(v) => format!("{src_name}@{v}"),
            None => src_name.to_owned(),
        };
        purl = purl.qualifier("upstream", &upstream);
    }
    // Only an empty distribution id (a broken os-release) keeps the purl from building.
    c.purl = purl.build().ok().map(|p| p.to_string());
    c.source_package = Some(src_name.to_owned());
    c.source_version = src_version.map(str::to_owned);
    c
}

/// Collects the installed dpkg packages under `root` into `components` and their files into
/// `index`. Does nothing when the root has no dpkg database.
pub(crate) fn collect(
    root: &Path,
    distro: &Distro,
    components: &mut Vec<Component>,
    index: &mut FileIndex,
    warnings: &mut Vec<Warning>,
) {
    let admin = under(root, "/var/lib/dpkg");
    let mut found: Vec<(DpkgPackage, bool)> = Vec::new();
    let status = admin.join("status");
    if let Some(bytes) = read_bounded(&status, STATUS_LIMIT, true, warnings) {
        found.extend(
            parse_status(&bytes, &status, warnings)
                .into_iter()
                .map(|p| (p, false)),
        );
    }
    if let Ok(dir) = std::fs::read_dir(admin.join("status.d")) {
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if let Some(bytes) = read_bounded(&f, STATUS_LIMIT, false, warnings) {
                found.extend(
                    parse_status(&bytes, &f, warnings)
                        .into_iter()
                        .map(|p| (p, true)),
                );
            }
        }
    }
    let info = admin.join("info");
    let has_info = info.is_dir();
    for (p, from_d) in found {
        if !is_installed(&p, from_d) {
            match p.state() {
                Some("config-files" | "not-installed") | None => {}
                Some(other) => warnings.push(Warning::new(
                    &status,
                    Some(p.line),
                    format!(
                        "{} {} is {other}: not reported as installed, some of its files may be present",
                        p.name, p.version
                    ),
                )),
            }
            continue;
        }
        let owner = components.len();
        components.push(component(&p, distro));
        if has_info {
            read_list(&info, &p, owner, index, warnings);
        }
    }
}

fn read_list(
    info: &Path,
    p: &DpkgPackage,
    owner: usize,
    index: &mut FileIndex,
    warnings: &mut Vec<Warning>,
) {
    // Multi-Arch: same packages have NAME:ARCH.list; the others NAME.list.
    let mut candidates = Vec::with_capacity(2);
    if let Some(arch) = &p.arch {
        candidates.push(info.join(format!("{}:{arch}.list", p.name)));
    }
    candidates.push(info.join(format!("{}.list", p.name)));
    for path in &candidates {
        if let Some(bytes) = read_bounded(path, LIST_LIMIT, true, warnings) {
            for line in bytes.split(|&b| b == b'\n') {
                if line.first() == Some(&b'/') {
                    index.insert(line, owner);
                }
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<DpkgPackage>, Vec<Warning>) {
        let mut w = Vec::new();
        let p = parse_status(text.as_bytes(), Path::new("status"), &mut w);
        (p, w)
    }

    #[test]
    fn source_with_version() {
        let (p, w) = parse(
            "Package: util-linux-extra\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5)\nVersion: 2.38.1-5+b1\n",
        );
        assert!(w.is_empty());
        let d = Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
        };
        let c = component(&p[0], &d);
        assert_eq!(c.source_package.as_deref(), Some("util-linux"));
        assert_eq!(c.source_version.as_deref(), Some("2.38.1-5"));
        assert_eq!(
            c.purl.as_deref(),
            Some(
                "pkg:deb/debian/util-linux-extra@2.38.1-5%2Bb1?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5"
            )
        );
    }

    #[test]
    fn broken_lines_warn_with_line_numbers() {
        let (p, w) = parse(
            " orphan continuation\nPackage: a\nVersion: 1\nStatus: install ok installed\ngarbage\n\nPackage: b\n\n",
        );
        assert_eq!(p.len(), 1);
        let lines: Vec<_> = w.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![Some(1), Some(5), Some(7)]);
    }
}
