//! Package URLs (<https://github.com/package-url/purl-spec>): a small builder and parser.
//!
//! Our own rather than the `packageurl` crate: we need only building for six types and
//! parsing back what SBOMs carry, and the per-type normalisation (PEP 503 names for PyPI, the
//! `upstream`/`distro` qualifiers as syft writes them for Debian) is the part that matters.
//! Everything outside `A-Z a-z 0-9 . - _ ~` is percent-encoded in names, versions and
//! qualifier values (so a Debian epoch `1:2.3` is written `1%3A2.3`, `+` as `%2B`, as syft
//! does); qualifiers are sorted by key. Parsing never panics on any input.

use std::fmt;

/// A parsed or built package URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// The type (`deb`, `rpm`, `pypi`, ...), lower case.
    pub ty: String,
    /// Namespace segments joined with `/` (decoded), if any.
    pub namespace: Option<String>,
    /// The name (decoded).
    pub name: String,
    /// The version (decoded).
    pub version: Option<String>,
    /// Qualifiers, sorted by key.
    pub qualifiers: Vec<(String, String)>,
    /// The subpath, if any.
    pub subpath: Option<String>,
}

/// Why a string is not a package URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package URL: {0}")]
pub struct PurlError(pub &'static str);

impl Purl {
    /// A purl with type, optional namespace, name and version.
    #[must_use]
    pub fn new(ty: &str, namespace: Option<&str>, name: &str, version: Option<&str>) -> Self {
        Purl {
            ty: ty.to_ascii_lowercase(),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_owned),
            name: name.to_owned(),
            version: version.filter(|v| !v.is_empty()).map(str::to_owned),
            qualifiers: Vec::new(),
            subpath: None,
        }
    }

    /// Adds a qualifier (empty values are dropped, as the spec says).
    #[must_use]
    pub fn with_qualifier(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.qualifiers
                .push((key.to_ascii_lowercase(), value.to_owned()));
            self.qualifiers.sort();
        }
        self
    }

    /// The value of a qualifier.
    #[must_use]
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parses a purl string.
    ///
    /// # Errors
    /// When the scheme, type or name is missing or a percent escape is broken.
    pub fn parse(s: &str) -> Result<Self, PurlError> {
        let rest = s
            .strip_prefix("pkg:")
            .ok_or(PurlError("does not start with pkg:"))?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, sp)) => (r, Some(decode(sp.trim_matches('/'))?)),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, parse_qualifiers(q)?),
            None => (rest, Vec::new()),
        };
        let (ty, rest) = rest.split_once('/').ok_or(PurlError("no type"))?;
        if ty.is_empty()
            || !ty
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'+' || b == b'-')
            || ty.as_bytes().first().is_some_and(u8::is_ascii_digit)
        {
            return Err(PurlError("bad type"));
        }
        let rest = rest.trim_end_matches('/');
        let (path, version) = match rest.rsplit_once('@') {
            // An `@` in the namespace is the npm scope (`%40` when encoded properly).
            Some((p, v)) if !p.is_empty() => (p, Some(decode(v)?)),
            _ => (rest, None),
        };
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => {
                let segs: Result<Vec<String>, PurlError> = ns
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(decode)
                    .collect();
                let segs = segs?;
                (
                    if segs.is_empty() {
                        None
                    } else {
                        Some(segs.join("/"))
                    },
                    decode(n)?,
                )
            }
            None => (None, decode(path)?),
        };
        if name.is_empty() {
            return Err(PurlError("no name"));
        }
        Ok(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace,
            name,
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath: subpath.filter(|s| !s.is_empty()),
        })
    }
}

fn parse_qualifiers(q: &str) -> Result<Vec<(String, String)>, PurlError> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or(PurlError("qualifier without ="))?;
        let v = decode(v)?;
        if !k.is_empty() && !v.is_empty() {
            out.push((k.to_ascii_lowercase(), v));
        }
    }
    out.sort();
    Ok(out)
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for seg in ns.split('/').filter(|s| !s.is_empty()) {
                write!(f, "{}/", encode(seg))?;
            }
        }
        f.write_str(&encode(&self.name))?;
        if let Some(v) = &self.version {
            write!(f, "@{}", encode(v))?;
        }
        let mut sep = '?';
        for (k, v) in &self.qualifiers {
            write!(f, "{sep}{k}={}", encode(v))?;
            sep = '&';
        }
        if let Some(sp) = &self.subpath {
            f.write_str("#")?;
            let segs: Vec<String> = sp.split('/').map(encode).collect();
            f.write_str(&segs.join("/"))?;
        }
        Ok(())
    }
}

/// Percent-encodes everything but the unreserved characters.
#[must_use]
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Result<String, PurlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(PurlError("truncated escape"))?;
            let hex = std::str::from_utf8(hex).map_err(|_| PurlError("bad escape"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| PurlError("bad escape"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PurlError("escape is not UTF-8"))
}

/// PEP 503 normalisation: runs of `-`, `_`, `.` become one `-`, lower case.
#[must_use]
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_sep = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_as_syft_writes_it() {
        let p = Purl::new("deb", Some("debian"), "libc6", Some("2.36-9+deb12u4"))
            .with_qualifier("distro", "debian-12")
            .with_qualifier("arch", "amd64")
            .with_qualifier("upstream", "glibc");
        assert_eq!(
            p.to_string(),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(Purl::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn npm_scope_and_maven() {
        let p = Purl::new("npm", Some("@angular"), "core", Some("16.0.0"));
        assert_eq!(p.to_string(), "pkg:npm/%40angular/core@16.0.0");
        assert_eq!(Purl::parse("pkg:npm/%40angular/core@16.0.0").unwrap(), p);
        // Some tools leave the @ of the scope unencoded.
        assert_eq!(Purl::parse("pkg:npm/@angular/core@16.0.0").unwrap(), p);
        let m = Purl::parse("pkg:maven/org.apache.commons/commons-lang3@3.12.0").unwrap();
        assert_eq!(m.namespace.as_deref(), Some("org.apache.commons"));
        assert_eq!(m.name, "commons-lang3");
        assert_eq!(m.version.as_deref(), Some("3.12.0"));
    }

    #[test]
    fn epoch_round_trip_and_errors() {
        let p = Purl::new("deb", Some("debian"), "attr", Some("1:2.5.1-4"));
        assert_eq!(p.to_string(), "pkg:deb/debian/attr@1%3A2.5.1-4");
        assert_eq!(
            Purl::parse(&p.to_string()).unwrap().version.as_deref(),
            Some("1:2.5.1-4")
        );
        assert!(Purl::parse("deb/debian/x").is_err());
        assert!(Purl::parse("pkg:deb").is_err());
        assert!(Purl::parse("pkg:deb/debian/x@1%2").is_err());
        assert!(Purl::parse("pkg:deb/debian/x@1%zz").is_err());
        assert!(Purl::parse("pkg:deb/debian/x@1%FF").is_err());
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(pep503("PyJWT"), "pyjwt");
        assert_eq!(pep503("lazr.restfulclient"), "lazr-restfulclient");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Purl::parse(&s);
        }

        #[test]
        fn round_trip(name in "[a-z][a-z0-9+._-]{0,20}", version in "[0-9][0-9a-z.:+~-]{0,12}",
                      arch in "[a-z0-9]{1,6}") {
            let p = Purl::new("deb", Some("debian"), &name, Some(&version)).with_qualifier("arch", &arch);
            proptest::prop_assert_eq!(Purl::parse(&p.to_string()).unwrap(), p);
        }
    }
}
