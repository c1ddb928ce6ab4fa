//! Package URLs (`pkg:type/namespace/name@version?qualifiers#subpath`), as the purl
//! specification (ECMA-427, <https://github.com/package-url/purl-spec>) defines them.
//!
//! This crate owns package URLs for the whole workspace: parsing ([`Purl::parse`]), building
//! ([`Purl::builder`]), the canonical form (`Display`), qualifiers, percent-encoding, and the
//! per-type rules and normalisation of the registered types ([`types`]: PyPI names lower
//! case with `_` as `-`, case-insensitive namespaces and names of `deb`, `rpm`, `github`,
//! `bitbucket`, `composer`..., the namespace `deb` and `maven` require and `pypi` prohibits).
//! A [`Purl`] that exists is valid and normalised, so two equal packages compare equal and
//! print the same canonical string.
//!
//! It must not know ecosystems beyond what the specification says about a type: mapping a
//! purl to an OSV ecosystem or a distribution release is the advisory and inventory crates'
//! business. It must not panic on any input, must not do I/O, and must not repair input
//! beyond the normalisation the specification mandates: [`Purl::parse`] refuses what the
//! specification forbids; the one place that accepts more, [`Purl::parse_lenient`], lists
//! each thing it tolerates.
//!
//! [`manual`] records how each difference between the two parsers this crate replaced was
//! decided. `tests/purl_spec.rs` runs the specification's own test suite.
#![forbid(unsafe_code)]

mod encoding;
mod error;
pub mod manual;
pub mod types;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::str::FromStr;

pub use error::{Component, PurlError};

use encoding::{Decoding, Encoded, decode};

/// A valid package URL, its components percent-decoded and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purl {
    ty: String,
    /// Segments joined with `/`; none is empty or contains `/`.
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    /// Valid keys, non-empty values; sorted by key, which is the canonical order.
    qualifiers: BTreeMap<String, String>,
    /// Segments joined with `/`; none is empty, `.`, `..` or contains `/`.
    subpath: Option<String>,
}

/// How much of the specification a parse enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conformance {
    Strict,
    Lenient,
}

impl Conformance {
    fn decoding(self) -> Decoding {
        match self {
            Conformance::Strict => Decoding::Strict,
            Conformance::Lenient => Decoding::Lenient,
        }
    }
}

impl Purl {
    /// Parses a package URL, enforcing the specification and the type's registered
    /// definition, and normalises it.
    ///
    /// Accepted beyond the canonical form, because the specification says so: `pkg:` in any
    /// case, slashes after `pkg:` (`pkg://npm/x`), a type in any case, empty namespace
    /// segments and leading or trailing slashes (of the name even percent-encoded, as the
    /// builder strips them), an empty version, qualifier or subpath,
    /// qualifiers with an empty value (they are absent), `.` and `..` subpath segments
    /// (dropped), and upper- or lower-case percent escapes. The unencoded `@` of an npm
    /// scope (`pkg:npm/@babel/core`) is read as part of the namespace: the version separator
    /// is the last `@` of the last path segment. A character that the canonical form would
    /// percent-encode is accepted unencoded.
    ///
    /// # Errors
    /// [`PurlError`]: the variant says what is wrong and where.
    pub fn parse(s: &str) -> Result<Self, PurlError> {
        parse(s, Conformance::Strict)
    }

    /// Parses a package URL written by a tool that does not follow the specification to the
    /// letter, for matching and for reading other tools' SBOMs (never for writing one).
    ///
    /// It accepts everything [`Purl::parse`] accepts, with the same result, and besides:
    /// - breaches of the type's registered definition: a missing or forbidden namespace
    ///   (`pkg:golang/stdlib@1.22.1`, as syft writes the Go standard library), a missing
    ///   required qualifier, characters the type does not allow. The type's normalisation
    ///   (case, PyPI names) is still applied;
    /// - qualifier keys in upper case (lower-cased, as the specification's "recommended"
    ///   tests remediate them); a qualifier without `=` or whose key is still not valid is
    ///   dropped; of a repeated key the last value wins;
    /// - a `%` not followed by two hexadecimal digits, kept as a literal `%`; percent-decoded
    ///   bytes that are not UTF-8, replaced by U+FFFD.
    ///
    /// The old advisory parser accepted all of this; matching keeps relying on it. The
    /// result prints (`Display`) to a string this function parses back to an equal value,
    /// but which [`Purl::parse`] may refuse.
    ///
    /// # Errors
    /// [`PurlError`] for what is not a package URL at all: no `pkg:` scheme, no or an invalid
    /// type, no name, a namespace or subpath segment with an encoded `/`.
    pub fn parse_lenient(s: &str) -> Result<Self, PurlError> {
        parse(s, Conformance::Lenient)
    }

    /// Starts building a package URL of type `ty` named `name` (both as the package manager
    /// spells them: the builder normalises).
    pub fn builder(ty: &str, name: &str) -> PurlBuilder {
        PurlBuilder {
            ty: ty.to_owned(),
            namespace: None,
            name: name.to_owned(),
            version: None,
            qualifiers: Vec::new(),
            subpath: None,
        }
    }

    /// The type, lower case (`deb`, `npm`, `maven`, ...).
    #[must_use]
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The namespace, decoded, its segments joined with `/` (`debian`, `@angular`,
    /// `org.apache.commons`, `github.com/gorilla`).
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The name, decoded.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version, decoded.
    #[must_use]
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The value of a qualifier.
    #[must_use]
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }

    /// All qualifiers, by key; values decoded and never empty.
    #[must_use]
    pub fn qualifiers(&self) -> &BTreeMap<String, String> {
        &self.qualifiers
    }

    /// The subpath, decoded, its segments joined with `/`.
    #[must_use]
    pub fn subpath(&self) -> Option<&str> {
        self.subpath.as_deref()
    }
}

impl FromStr for Purl {
    type Err = PurlError;

    /// [`Purl::parse`].
    fn from_str(s: &str) -> Result<Self, PurlError> {
        Purl::parse(s)
    }
}

/// The canonical form.
impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for segment in ns.split('/') {
                write!(f, "{}/", Encoded(segment))?;
            }
        }
        if types::name_is_path(&self.ty) {
            write_segments(f, &self.name)?;
        } else {
            write!(f, "{}", Encoded(&self.name))?;
        }
        if let Some(v) = &self.version {
            write!(f, "@{}", Encoded(v))?;
        }
        let mut sep = '?';
        for (k, v) in &self.qualifiers {
            write!(f, "{sep}{k}={}", Encoded(v))?;
            sep = '&';
        }
        if let Some(sp) = &self.subpath {
            f.write_str("#")?;
            write_segments(f, sp)?;
        }
        Ok(())
    }
}

fn write_segments(f: &mut fmt::Formatter<'_>, path: &str) -> fmt::Result {
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            f.write_str("/")?;
        }
        write!(f, "{}", Encoded(segment))?;
    }
    Ok(())
}

/// Builds a [`Purl`] from decoded components, as the specification's "How to build" says:
/// the type is lower-cased, leading and trailing `/` of namespace and name are dropped, as
/// are empty namespace segments, empty qualifier values, and empty, `.` and `..` subpath
/// segments; qualifier keys are lower-cased; then the type's normalisation and rules apply.
#[derive(Debug, Clone)]
#[must_use]
pub struct PurlBuilder {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: Vec<(String, String)>,
    subpath: Option<String>,
}

impl PurlBuilder {
    /// The namespace, segments separated by `/` (`org.apache.commons`, `@angular`,
    /// `github.com/gorilla`).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// The version.
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_owned());
        self
    }

    /// A qualifier; an empty value means none, a key given twice keeps the last value.
    pub fn qualifier(mut self, key: &str, value: &str) -> Self {
        self.qualifiers.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The subpath, segments separated by `/`.
    pub fn subpath(mut self, subpath: &str) -> Self {
        self.subpath = Some(subpath.to_owned());
        self
    }

    /// The package URL.
    ///
    /// # Errors
    /// [`PurlError`] when the type or a qualifier key is not valid, the name is empty, or
    /// the type's definition is not met.
    pub fn build(self) -> Result<Purl, PurlError> {
        let ty = check_type(&self.ty)?;
        let namespace = self
            .namespace
            .as_deref()
            .and_then(|ns| join_nonempty(ns.split('/').filter(|s| !s.is_empty())));
        let mut qualifiers = BTreeMap::new();
        for (k, v) in self.qualifiers {
            let key = k.to_ascii_lowercase();
            if !is_valid_key(&key) {
                return Err(PurlError::InvalidQualifierKey { key: k });
            }
            if v.is_empty() {
                qualifiers.remove(&key);
            } else {
                qualifiers.insert(key, v);
            }
        }
        let subpath = self
            .subpath
            .as_deref()
            .and_then(|sp| join_nonempty(sp.split('/').filter(|s| !matches!(*s, "" | "." | ".."))));
        finish(
            Purl {
                ty,
                namespace,
                name: self.name,
                version: self.version.filter(|v| !v.is_empty()),
                qualifiers,
                subpath,
            },
            Conformance::Strict,
        )
    }
}

fn join_nonempty<'a>(segments: impl Iterator<Item = &'a str>) -> Option<String> {
    let v: Vec<&str> = segments.collect();
    (!v.is_empty()).then(|| v.join("/"))
}

/// A type: ASCII letters, digits, `.` and `-`, starting with a letter; lower-cased.
fn check_type(ty: &str) -> Result<String, PurlError> {
    let mut bytes = ty.bytes();
    match bytes.next() {
        None => Err(PurlError::MissingType),
        Some(first)
            if first.is_ascii_alphabetic()
                && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
        {
            Ok(ty.to_ascii_lowercase())
        }
        Some(_) => Err(PurlError::InvalidType { ty: ty.to_owned() }),
    }
}

/// A qualifier key: lowercase ASCII letters, digits, `.`, `-`, `_`, starting with a letter.
fn is_valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Normalises and checks what parse and build made.
fn finish(mut p: Purl, conformance: Conformance) -> Result<Purl, PurlError> {
    // "All leading and trailing slashes are not significant ... They are not part of the
    // name": also when they were percent-encoded, so that parse and build agree.
    if p.name.starts_with('/') || p.name.ends_with('/') {
        p.name = p.name.trim_matches('/').to_owned();
    }
    types::normalize(&mut p);
    if p.name.is_empty() {
        return Err(PurlError::MissingName);
    }
    if conformance == Conformance::Strict {
        types::check(&p)?;
    }
    Ok(p)
}

fn parse(s: &str, conformance: Conformance) -> Result<Purl, PurlError> {
    let decoding = conformance.decoding();
    // RFC 3986: the fragment starts at the first `#`, the query at the first `?` before it.
    let (rest, subpath) = match s.split_once('#') {
        Some((r, sp)) => (r, Some(sp)),
        None => (s, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (scheme, rest) = rest.split_once(':').ok_or(PurlError::MissingScheme)?;
    if !scheme.eq_ignore_ascii_case("pkg") {
        return Err(PurlError::MissingScheme);
    }
    let rest = rest.trim_start_matches('/');
    let (ty, path) = rest.split_once('/').unwrap_or((rest, ""));
    let ty = check_type(ty)?;

    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.pop().ok_or(PurlError::MissingName)?;
    let (name, version) = match last.rsplit_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (last, None),
    };
    let name = decode(name, Component::Name, decoding)?;
    if name.is_empty() {
        return Err(PurlError::MissingName);
    }
    let version = match version {
        Some(v) => Some(decode(v, Component::Version, decoding)?).filter(|v| !v.is_empty()),
        None => None,
    };
    let namespace = decode_segments(segments.into_iter(), Component::Namespace, decoding)?;
    let qualifiers = match query {
        Some(q) => parse_qualifiers(q, conformance)?,
        None => BTreeMap::new(),
    };
    let subpath = match subpath {
        Some(sp) => decode_segments(sp.split('/'), Component::Subpath, decoding)?,
        None => None,
    };
    finish(
        Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers,
            subpath,
        },
        conformance,
    )
}

/// Decodes path segments; drops empty ones (and `.` and `..` in a subpath).
fn decode_segments<'a>(
    segments: impl Iterator<Item = &'a str>,
    component: Component,
    decoding: Decoding,
) -> Result<Option<String>, PurlError> {
    let mut out: Vec<String> = Vec::new();
    for raw in segments {
        let segment = decode(raw, component, decoding)?;
        if segment.is_empty()
            || (component == Component::Subpath && matches!(segment.as_str(), "." | ".."))
        {
            continue;
        }
        if segment.contains('/') {
            return Err(PurlError::SlashInSegment { component, segment });
        }
        out.push(segment);
    }
    Ok((!out.is_empty()).then(|| out.join("/")))
}

fn parse_qualifiers(
    query: &str,
    conformance: Conformance,
) -> Result<BTreeMap<String, String>, PurlError> {
    let strict = conformance == Conformance::Strict;
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let Some((raw_key, raw_value)) = pair.split_once('=') else {
            if strict {
                return Err(PurlError::QualifierWithoutEquals {
                    pair: pair.to_owned(),
                });
            }
            continue;
        };
        let key = if strict {
            raw_key.to_owned()
        } else {
            raw_key.to_ascii_lowercase()
        };
        if !is_valid_key(&key) {
            if strict {
                return Err(PurlError::InvalidQualifierKey {
                    key: raw_key.to_owned(),
                });
            }
            continue;
        }
        let value = decode(raw_value, Component::Qualifiers, conformance.decoding())?;
        if value.is_empty() {
            continue;
        }
        match out.entry(key) {
            Entry::Occupied(e) if strict => {
                return Err(PurlError::DuplicateQualifier {
                    key: e.key().clone(),
                });
            }
            Entry::Occupied(mut e) => {
                e.insert(value);
            }
            Entry::Vacant(e) => {
                e.insert(value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Purl {
        Purl::parse(s).unwrap()
    }

    #[test]
    fn deb_as_the_inventory_writes_it() {
        let built = Purl::builder("deb", "libc6")
            .namespace("debian")
            .version("2.36-9+deb12u4")
            .qualifier("distro", "debian-12")
            .qualifier("arch", "amd64")
            .qualifier("upstream", "glibc")
            .build()
            .unwrap();
        assert_eq!(
            built.to_string(),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(p(&built.to_string()), built);
    }

    #[test]
    fn epoch_colon_is_not_encoded_but_still_read_encoded() {
        let a = p("pkg:deb/debian/attr@1:2.5.1-4");
        assert_eq!(a.version(), Some("1:2.5.1-4"));
        assert_eq!(p("pkg:deb/debian/attr@1%3A2.5.1-4"), a);
        assert_eq!(a.to_string(), "pkg:deb/debian/attr@1:2.5.1-4");
    }

    #[test]
    fn npm_scope_encoded_or_not_and_maven() {
        let a = p("pkg:npm/%40angular/core@16.0.0");
        assert_eq!(a.namespace(), Some("@angular"));
        assert_eq!(a.name(), "core");
        assert_eq!(p("pkg:npm/@angular/core@16.0.0"), a);
        assert_eq!(a.to_string(), "pkg:npm/%40angular/core@16.0.0");
        assert_eq!(p("pkg:npm/@angular/core").version(), None);
        let m = p("pkg:maven/org.apache.commons/commons-lang3@3.12.0");
        assert_eq!(m.namespace(), Some("org.apache.commons"));
        assert_eq!(m.name(), "commons-lang3");
        assert_eq!(m.version(), Some("3.12.0"));
    }

    #[test]
    fn type_normalisation() {
        let py = p("pkg:PYPI/Django_Package@1.11.1.DEV1");
        assert_eq!(py.to_string(), "pkg:pypi/django-package@1.11.1.dev1");
        assert_eq!(p("pkg:pypi/zope.interface").name(), "zope.interface");
        assert_eq!(
            p("pkg:github/Package-url/purl-Spec").to_string(),
            "pkg:github/package-url/purl-spec"
        );
        // rpm: the namespace is case insensitive, the name is not.
        assert_eq!(
            p("pkg:rpm/Fedora/NetworkManager@1").to_string(),
            "pkg:rpm/fedora/NetworkManager@1"
        );
        // npm is case sensitive (the package.json rule came later; old names stay).
        assert_eq!(p("pkg:npm/JSONStream").name(), "JSONStream");
        let git = p("pkg:git/codeberg.org/forgejo/forgejo@a72d");
        assert_eq!(git.namespace(), Some("codeberg.org"));
        assert_eq!(git.name(), "forgejo/forgejo");
        assert_eq!(git.to_string(), "pkg:git/codeberg.org/forgejo/forgejo@a72d");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s| Purl::parse(s).unwrap_err();
        assert_eq!(e("deb/debian/x"), PurlError::MissingScheme);
        assert_eq!(e("pkg%3Adeb/debian/x"), PurlError::MissingScheme);
        assert_eq!(e("pkg:deb"), PurlError::MissingName);
        assert_eq!(e("pkg:/"), PurlError::MissingType);
        assert_eq!(e("pkg:maven/@1.3.4"), PurlError::MissingName);
        assert_eq!(e("pkg:3d/x"), PurlError::InvalidType { ty: "3d".into() });
        assert_eq!(e("pkg:c++/x"), PurlError::InvalidType { ty: "c++".into() });
        assert_eq!(
            e("pkg:deb/debian/x@1%2"),
            PurlError::InvalidEscape {
                component: Component::Version,
                offset: 1
            }
        );
        assert_eq!(
            e("pkg:deb/debian/x@1%FF"),
            PurlError::NotUtf8 {
                component: Component::Version
            }
        );
        assert_eq!(
            e("pkg:generic/a%2Fb/c"),
            PurlError::SlashInSegment {
                component: Component::Namespace,
                segment: "a/b".into()
            }
        );
        assert_eq!(
            e("pkg:deb/debian/x?arch"),
            PurlError::QualifierWithoutEquals {
                pair: "arch".into()
            }
        );
        assert_eq!(
            e("pkg:deb/debian/x?Arch=amd64"),
            PurlError::InvalidQualifierKey { key: "Arch".into() }
        );
        assert_eq!(
            e("pkg:deb/debian/x?arch=a&arch=b"),
            PurlError::DuplicateQualifier { key: "arch".into() }
        );
        assert_eq!(
            e("pkg:deb/libc6@2.36"),
            PurlError::NamespaceRequired { ty: "deb".into() }
        );
        assert_eq!(
            e("pkg:pypi/x/y"),
            PurlError::NamespaceProhibited { ty: "pypi".into() }
        );
        assert!(e("pkg:deb/libc6").is_type_rule());
        assert!(!e("pkg:deb/debian/x?arch").is_type_rule());
    }

    #[test]
    fn what_the_spec_lets_a_parser_accept() {
        let canonical = "pkg:maven/org.apache/io@1.0?a=1#sub/path";
        for s in [
            "PKG:Maven/org.apache/io@1.0?a=1#sub/path",
            "pkg:///maven//org.apache//io@1.0/?a=1&b=#/sub/./../path/",
            "pkg:maven/org.apache/io@1.0?&a=1&#sub//path",
        ] {
            assert_eq!(p(s).to_string(), canonical, "{s}");
        }
        assert_eq!(p("pkg:generic/%2Fx%2F").name(), "x");
        assert_eq!(p("pkg:generic/a%2Fb").to_string(), "pkg:generic/a%2Fb");
        assert_eq!(Purl::parse("pkg:generic/%2F"), Err(PurlError::MissingName));
        assert_eq!(p("pkg:generic/x@").version(), None);
        assert_eq!(p("pkg:generic/x?").qualifiers().len(), 0);
        assert_eq!(p("pkg:generic/x#").subpath(), None);
        assert_eq!(
            p("pkg:generic/a b@1 final").to_string(),
            "pkg:generic/a%20b@1%20final"
        );
    }

    #[test]
    fn lenient_accepts_what_matching_needs() {
        let l = |s| Purl::parse_lenient(s).unwrap();
        assert_eq!(l("pkg:golang/stdlib@1.22.1").name(), "stdlib");
        assert_eq!(l("pkg:deb/libc6@2.36").namespace(), None);
        let q = l("pkg:deb/debian/x@1?Arch=amd64&flag&in%20x=1&distro=a&distro=debian-12");
        assert_eq!(q.qualifier("arch"), Some("amd64"));
        assert_eq!(q.qualifier("distro"), Some("debian-12"));
        assert_eq!(q.qualifiers().len(), 2);
        assert_eq!(l("pkg:generic/x@50%").version(), Some("50%"));
        assert_eq!(l("pkg:generic/x@%FF").version(), Some("\u{FFFD}"));
        // Normalisation still applies.
        assert_eq!(l("pkg:pypi/PyJWT").name(), "pyjwt");
        // Not a package URL at all: still refused.
        assert!(Purl::parse_lenient("deb/debian/x").is_err());
        assert!(Purl::parse_lenient("pkg:deb").is_err());
        // What prints, parses back.
        let odd = l("pkg:generic/x@50%25%?a=%zz");
        assert_eq!(l(&odd.to_string()), odd);
    }

    #[test]
    fn builder() {
        let b = |ty: &str, name: &str| Purl::builder(ty, name);
        assert_eq!(
            b("PyPI", "Foo_Bar")
                .version("1.0")
                .build()
                .unwrap()
                .to_string(),
            "pkg:pypi/foo-bar@1.0"
        );
        assert_eq!(
            b("npm", "core")
                .namespace("@angular")
                .build()
                .unwrap()
                .to_string(),
            "pkg:npm/%40angular/core"
        );
        assert_eq!(
            b("generic", "x")
                .qualifier("A", "1")
                .qualifier("a", "2")
                .qualifier("b", "")
                .subpath("/a/../b/")
                .build()
                .unwrap()
                .to_string(),
            "pkg:generic/x?a=2#a/b"
        );
        assert_eq!(b("", "x").build(), Err(PurlError::MissingType));
        assert_eq!(b("npm", "").build(), Err(PurlError::MissingName));
        assert_eq!(
            b("npm", "x").qualifier("in production", "true").build(),
            Err(PurlError::InvalidQualifierKey {
                key: "in production".into()
            })
        );
        assert_eq!(
            b("deb", "x").build(),
            Err(PurlError::NamespaceRequired { ty: "deb".into() })
        );
    }

    /// The builder makes the same value from the components.
    fn rebuild(p: &Purl) -> Result<Purl, PurlError> {
        let mut b = Purl::builder(p.ty(), p.name());
        if let Some(ns) = p.namespace() {
            b = b.namespace(ns);
        }
        if let Some(v) = p.version() {
            b = b.version(v);
        }
        for (k, v) in p.qualifiers() {
            b = b.qualifier(k, v);
        }
        if let Some(sp) = p.subpath() {
            b = b.subpath(sp);
        }
        b.build()
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Purl::parse(&s);
            let _ = Purl::parse_lenient(&s);
        }

        #[test]
        fn canonical_round_trip(s in "pkg:[a-zA-Z][a-z.-]{0,6}/([^#?]{0,10}/)?[^#?/]{1,12}(@[^#?/]{0,8})?(\\?[a-zA-Z]{1,3}=[^#&]{0,6})?(#.{0,10})?") {
            if let Ok(p) = Purl::parse(&s) {
                proptest::prop_assert_eq!(rebuild(&p), Ok(p.clone()));
                let printed = p.to_string();
                proptest::prop_assert_eq!(Purl::parse(&printed), Ok(p.clone()), "{}", printed);
                proptest::prop_assert_eq!(Purl::parse_lenient(&s), Ok(p));
            }
            if let Ok(p) = Purl::parse_lenient(&s) {
                proptest::prop_assert_eq!(Purl::parse_lenient(&p.to_string()), Ok(p));
            }
        }

        #[test]
        fn deb_round_trip(name in "[a-z][a-z0-9+._-]{0,20}", version in "[0-9][0-9a-z.:+~-]{0,12}",
                          arch in "[a-z0-9]{1,6}") {
            let p = Purl::builder("deb", &name).namespace("debian").version(&version)
                .qualifier("arch", &arch).build().unwrap();
            proptest::prop_assert_eq!(Purl::parse(&p.to_string()).unwrap(), p);
        }
    }
}
