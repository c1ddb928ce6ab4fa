//! Package URLs (`pkg:type/namespace/name@version?qualifiers#subpath`), as far as matching
//! needs them: the type, namespace, name, version and qualifiers, percent-decoded.

use std::collections::BTreeMap;

/// A parsed package URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// `deb`, `rpm`, `pypi`, `npm`, `cargo`, `golang`, `maven`, …
    pub kind: String,
    /// The namespace (`debian`, a Maven group id, an npm scope), decoded.
    pub namespace: Option<String>,
    /// The name, decoded.
    pub name: String,
    /// The version, decoded.
    pub version: Option<String>,
    /// Qualifiers (`arch`, `distro`, `upstream`, …), decoded.
    pub qualifiers: BTreeMap<String, String>,
}

/// Why a string is not a package URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a package URL ({reason}): {purl:?}")]
pub struct PurlError {
    /// The string given.
    pub purl: String,
    /// What is wrong.
    pub reason: &'static str,
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if c == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(h) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Purl {
    /// Parses a package URL.
    ///
    /// # Errors
    /// [`PurlError`] when it does not start with `pkg:` or has no type or name.
    pub fn parse(purl: &str) -> Result<Self, PurlError> {
        let err = |reason| PurlError {
            purl: purl.to_owned(),
            reason,
        };
        let rest = purl
            .strip_prefix("pkg:")
            .ok_or_else(|| err("no pkg: scheme"))?;
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (rest, query) = rest
            .split_once('?')
            .map_or((rest, None), |(r, q)| (r, Some(q)));
        let rest = rest.trim_matches('/');
        let (kind, path) = rest.split_once('/').ok_or_else(|| err("no type/name"))?;
        if kind.is_empty() {
            return Err(err("empty type"));
        }
        // The version is after the last '@' of the last segment (npm scopes start with %40).
        let (path, version) = match path.rsplit_once('@') {
            Some((p, v)) if !p.ends_with('/') && !p.is_empty() => (p, Some(decode(v))),
            _ => (path, None),
        };
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (Some(decode(ns)), decode(n)),
            None => (None, decode(path)),
        };
        if name.is_empty() {
            return Err(err("empty name"));
        }
        let mut qualifiers = BTreeMap::new();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            qualifiers.insert(k.to_ascii_lowercase(), decode(v));
        }
        Ok(Self {
            kind: kind.to_ascii_lowercase(),
            namespace,
            name,
            version,
            qualifiers,
        })
    }

    /// The OSV ecosystem (with the distribution release where the `distro` qualifier gives
    /// one: `Debian:12`) and the package name as OSV spells it, or `None` for a type OSV does
    /// not cover.
    #[must_use]
    pub fn osv_ecosystem_and_name(&self) -> Option<(String, String)> {
        let ns = self.namespace.as_deref().unwrap_or_default();
        let distro_release = || {
            self.qualifiers
                .get("distro")
                .and_then(|d| d.rsplit_once('-').map(|(_, r)| r.to_owned()))
        };
        let with_release = |base: &str| match distro_release() {
            Some(r) => format!("{base}:{r}"),
            None => base.to_owned(),
        };
        let name = self.name.clone();
        Some(match self.kind.as_str() {
            "deb" => match ns.to_ascii_lowercase().as_str() {
                "ubuntu" => (with_release("Ubuntu"), name),
                _ => (with_release("Debian"), name),
            },
            "rpm" => {
                let base = match ns.to_ascii_lowercase().as_str() {
                    "almalinux" => "AlmaLinux",
                    "rocky" | "rocky-linux" => "Rocky Linux",
                    "opensuse" => "openSUSE",
                    "suse" => "SUSE",
                    _ => "Red Hat",
                };
                (with_release(base), name)
            }
            "pypi" => ("PyPI".to_owned(), normalize_pypi(&name)),
            "npm" => (
                "npm".to_owned(),
                if ns.is_empty() {
                    name
                } else {
                    format!("{ns}/{name}")
                },
            ),
            "cargo" => ("crates.io".to_owned(), name),
            "golang" => (
                "Go".to_owned(),
                if ns.is_empty() {
                    name
                } else {
                    format!("{ns}/{name}")
                },
            ),
            "maven" => ("Maven".to_owned(), format!("{ns}:{name}")),
            "gem" => ("RubyGems".to_owned(), name),
            "nuget" => ("NuGet".to_owned(), name),
            "composer" => ("Packagist".to_owned(), format!("{ns}/{name}")),
            "apk" => ("Alpine".to_owned(), name),
            _ => return None,
        })
    }
}

/// PEP 503 name normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
#[must_use]
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_purl_with_distro_and_upstream() {
        let p =
            Purl::parse("pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc")
                .unwrap();
        assert_eq!(p.name, "libc6");
        assert_eq!(p.version.as_deref(), Some("2.36-9"));
        assert_eq!(
            p.qualifiers.get("upstream").map(String::as_str),
            Some("glibc")
        );
        assert_eq!(
            p.osv_ecosystem_and_name(),
            Some(("Debian:12".into(), "libc6".into()))
        );
    }

    #[test]
    fn npm_scope_and_maven_group() {
        let p = Purl::parse("pkg:npm/%40angular/core@1.0.0").unwrap();
        assert_eq!(
            p.osv_ecosystem_and_name(),
            Some(("npm".into(), "@angular/core".into()))
        );
        let p = Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1").unwrap();
        assert_eq!(
            p.osv_ecosystem_and_name(),
            Some(("Maven".into(), "org.apache.logging.log4j:log4j-core".into()))
        );
        assert_eq!(normalize_pypi("Foo__Bar.baz"), "foo-bar-baz");
    }
}
