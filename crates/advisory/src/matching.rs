//! Matching packages against advisories, in memory.
//!
//! Affected entries are indexed by (ecosystem without release, name). A package is looked up
//! under its own name, under its source package name for Debian and Ubuntu (their OSV records
//! name source packages: `glibc`, not `libc6`), and under `CSAF` with its lower-cased name
//! for vendor products. The distribution release must agree when both sides give one
//! (`Debian:12` never matches a `Debian:11` record; a release agrees with a more precise one
//! of it, `8` with `8.6`; Red Hat's stream names, `Red Hat:enterprise_linux:8::appstream`,
//! give their release in the CPE's version).
//!
//! Versions are compared with the ecosystem's own order (`medguard-versions`). When the
//! installed version or a range bound cannot be parsed, or the range is free text, the match
//! is [`MatchStatus::Undetermined`]: reported for a person to decide, never dropped and
//! never counted as affected or unaffected.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use medguard_purl::{Purl, PurlError};
use medguard_versions::{Scheme, Version};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ecosystem::{normalize_pypi, osv_ecosystem_and_name};
use crate::model::{Advisory, Affected, Constraint, Event, Op, Range};

/// How a component is used on the device, from the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageContext {
    /// Whether a process of the component runs (or it is loaded); `None` when unknown.
    pub running: Option<bool>,
    /// Listening sockets, as `tcp/0.0.0.0:104`.
    pub listening: Vec<String>,
}

impl UsageContext {
    /// Whether it listens on an address other than loopback.
    #[must_use]
    pub fn listens_on_network(&self) -> bool {
        self.listening.iter().any(|l| {
            let addr = l.split_once('/').map_or(l.as_str(), |(_, a)| a);
            !(addr.starts_with("127.") || addr.starts_with("[::1]") || addr.starts_with("::1"))
        })
    }
}

/// An installed package, as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The OSV ecosystem (`Debian:12`, `PyPI`, …); empty for a vendor component without
    /// a package URL, which only matches CSAF products by name.
    pub ecosystem: String,
    /// The package name as the ecosystem spells it.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The package URL, when the inventory has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// The source package (Debian `upstream`/`source`), when it differs from the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// How the device uses it.
    pub usage: UsageContext,
}

impl Package {
    /// A package from its package URL; `version` overrides the URL's version when given.
    ///
    /// The URL comes from an SBOM another tool may have written, so it is read with
    /// [`Purl::parse_lenient`]: a URL that breaks its type's definition
    /// (`pkg:golang/stdlib@1.22.1` has no namespace) or has an upper-case qualifier key is
    /// still matched rather than failing the whole scan.
    ///
    /// # Errors
    /// [`PurlError`] when it is not a package URL at all. A URL type OSV does not cover
    /// gives a package with an empty ecosystem (matched against CSAF product names only).
    pub fn from_purl(purl: &str, version: Option<&str>) -> Result<Self, PurlError> {
        let p = Purl::parse_lenient(purl)?;
        let (ecosystem, name) =
            osv_ecosystem_and_name(&p).unwrap_or_else(|| (String::new(), p.name().to_owned()));
        let source_name = p
            .qualifier("upstream")
            .or_else(|| p.qualifier("source"))
            // `upstream=glibc 2.36` names the source and its version: keep the name.
            .map(|s| s.split_whitespace().next().unwrap_or_default().to_owned())
            .filter(|s| !s.is_empty() && *s != name);
        Ok(Self {
            ecosystem,
            name,
            version: version
                .or(p.version())
                .map(str::to_owned)
                .unwrap_or_default(),
            purl: Some(purl.to_owned()),
            source_name,
            usage: UsageContext::default(),
        })
    }
}

/// Whether a matched package is affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum MatchStatus {
    /// The installed version is inside an affected range or list.
    Affected,
    /// Cannot be decided (unparsable version or free-text range): a person must look.
    Undetermined(String),
}

/// One advisory entry that applies to one package.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    /// Index of the advisory in the matcher.
    #[serde(skip)]
    pub advisory: usize,
    /// Index of the affected entry in the advisory.
    #[serde(skip)]
    pub affected: usize,
    /// Affected or undetermined.
    pub status: MatchStatus,
    /// The ranges in words.
    pub range: String,
    /// Fixed versions named by the advisory.
    pub fixed: Vec<String>,
}

type Key = (String, String);

/// Advisories indexed for matching.
#[derive(Debug)]
pub struct Matcher {
    advisories: Vec<Advisory>,
    index: HashMap<Key, Vec<(u32, u32)>>,
}

fn base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// The release part of an ecosystem (`Debian:12` → `12`, `Ubuntu:22.04:LTS` → `22.04`,
/// `Alpine:v3.20` → `3.20`).
///
/// Red Hat's OSV records name a product stream, not a release: their ecosystem is the CPE of
/// the stream without its `cpe:/a:redhat` prefix (`Red Hat:enterprise_linux:8::appstream`,
/// `Red Hat:rhel_eus:9.2::crb`), so the release is the CPE's version, the third part. A
/// package's own ecosystem (`Red Hat:8`, from `distro=rhel-8`) puts it second, as others do.
fn release(ecosystem: &str) -> Option<&str> {
    let mut parts = ecosystem.split(':');
    let base = parts.next().unwrap_or_default();
    let mut r = parts.next()?;
    if base == "Red Hat" && !r.starts_with(|c: char| c.is_ascii_digit()) {
        r = parts.next()?;
    }
    // Alpine's ecosystems write `v3.20`; package URLs `distro=alpine-3.20.1`.
    let r = r
        .strip_prefix('v')
        .filter(|_| base == "Alpine")
        .unwrap_or(r);
    Some(r).filter(|r| !r.is_empty())
}

/// Whether a record's release and a package's agree: equal, or one names the release the
/// other gives more precisely. `8` (all of RHEL 8: `enterprise_linux:8`, or a package URL
/// with `distro=rhel-8`) agrees with `8.6`; `8.6` (an extended-support stream) does not
/// agree with `8.10`; Alpine `3.20` agrees with `3.20.1`.
fn releases_agree(a: &str, b: &str) -> bool {
    let prefix_of = |short: &str, long: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    a == b || prefix_of(a, b) || prefix_of(b, a)
}

fn key_name(ecosystem: &str, name: &str) -> String {
    match base(ecosystem) {
        "PyPI" => normalize_pypi(name),
        "CSAF" => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

impl Matcher {
    /// Indexes `advisories`.
    #[must_use]
    pub fn new(advisories: Vec<Advisory>) -> Self {
        let mut index: HashMap<Key, Vec<(u32, u32)>> = HashMap::new();
        for (i, a) in advisories.iter().enumerate() {
            for (j, aff) in a.affected.iter().enumerate() {
                let key = (
                    base(&aff.ecosystem).to_owned(),
                    key_name(&aff.ecosystem, &aff.name),
                );
                let (Ok(i), Ok(j)) = (u32::try_from(i), u32::try_from(j)) else {
                    continue;
                };
                index.entry(key).or_default().push((i, j));
            }
        }
        Self { advisories, index }
    }

    /// The advisory a [`Match`] refers to.
    #[must_use]
    pub fn advisory(&self, index: usize) -> Option<&Advisory> {
        self.advisories.get(index)
    }

    /// The number of indexed advisories.
    #[must_use]
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether no advisory is indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// The advisories that apply to one package.
    #[must_use]
    pub fn match_package(&self, package: &Package) -> Vec<Match> {
        let eco = base(&package.ecosystem);
        let mut keys: Vec<Key> = Vec::new();
        if !eco.is_empty() {
            keys.push((eco.to_owned(), key_name(eco, &package.name)));
            if matches!(eco, "Debian" | "Ubuntu")
                && let Some(src) = &package.source_name
            {
                keys.push((eco.to_owned(), src.clone()));
            }
        }
        keys.push(("CSAF".to_owned(), package.name.to_lowercase()));
        keys.dedup();
        let mut out = Vec::new();
        for key in &keys {
            for &(i, j) in self.index.get(key).into_iter().flatten() {
                let (i, j) = (i as usize, j as usize);
                let Some(aff) = self.advisories.get(i).and_then(|a| a.affected.get(j)) else {
                    continue;
                };
                if let (Some(a), Some(b)) = (release(&aff.ecosystem), release(&package.ecosystem))
                    && !releases_agree(a, b)
                {
                    continue;
                }
                // The same entry reached under two names counts once.
                if out
                    .iter()
                    .any(|m: &Match| m.advisory == i && m.affected == j)
                {
                    continue;
                }
                if let Some(status) = evaluate(aff, &package.version) {
                    out.push(Match {
                        advisory: i,
                        affected: j,
                        status,
                        range: describe(aff),
                        fixed: fixed_versions(aff),
                    });
                }
            }
        }
        out
    }

    /// Matches many packages (one device's, or a whole fleet's), each distinct
    /// (ecosystem, name, source, version) once, in parallel.
    #[must_use]
    pub fn match_packages(&self, packages: &[&Package]) -> MatchSet {
        type Distinct<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);
        // A fleet's inventories share package records (devices of one image): deduplicate
        // by address first, which costs one integer hash per reference, then the distinct
        // records by content.
        let mut by_address: HashMap<usize, u32, BuildHasherDefault<AddressHasher>> =
            HashMap::default();
        let mut by_content: HashMap<Distinct<'_>, u32> = HashMap::new();
        let mut distinct: Vec<&Package> = Vec::new();
        let mut slot_of = Vec::with_capacity(packages.len());
        for p in packages {
            let address = std::ptr::from_ref::<Package>(p) as usize;
            let slot = match by_address.get(&address) {
                Some(&slot) => slot,
                None => {
                    let key = (
                        p.ecosystem.as_str(),
                        p.name.as_str(),
                        p.source_name.as_deref(),
                        p.version.as_str(),
                    );
                    let next = u32::try_from(distinct.len()).unwrap_or(u32::MAX);
                    let slot = *by_content.entry(key).or_insert(next);
                    if slot == next {
                        distinct.push(p);
                    }
                    by_address.insert(address, slot);
                    slot
                }
            };
            slot_of.push(slot);
        }
        let results: Vec<Vec<Match>> = distinct.par_iter().map(|p| self.match_package(p)).collect();
        MatchSet { results, slot_of }
    }
}

/// A hasher for addresses: they are distinct and aligned, so a multiply and a shift spread
/// them well; SipHash would dominate the time of a 20-million-reference fleet.
#[derive(Debug, Default)]
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_right(29);
    }
}

/// The matches of many packages, stored once per distinct package.
#[derive(Debug)]
pub struct MatchSet {
    results: Vec<Vec<Match>>,
    slot_of: Vec<u32>,
}

impl MatchSet {
    /// The matches of the `index`th input package.
    #[must_use]
    pub fn get(&self, index: usize) -> &[Match] {
        self.slot_of
            .get(index)
            .and_then(|&s| self.results.get(s as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// The number of distinct packages that were matched.
    #[must_use]
    pub fn distinct(&self) -> usize {
        self.results.len()
    }

    /// The number of input packages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether there were no input packages.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// The total number of matches over all input packages.
    #[must_use]
    pub fn total(&self) -> usize {
        self.slot_of
            .iter()
            .map(|&s| self.results.get(s as usize).map_or(0, Vec::len))
            .sum()
    }
}

fn describe(aff: &Affected) -> String {
    let mut parts: Vec<String> = aff
        .ranges
        .iter()
        .filter(|r| !matches!(r, Range::Git))
        .map(Range::describe)
        .collect();
    if !aff.versions.is_empty() {
        let shown: Vec<&str> = aff.versions.iter().take(5).map(String::as_str).collect();
        let more = aff.versions.len().saturating_sub(shown.len());
        let mut s = format!("versions {}", shown.join(", "));
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        parts.push(s);
    }
    if parts.is_empty() || parts.iter().all(String::is_empty) {
        return "all versions".to_owned();
    }
    parts.join("; ")
}

fn fixed_versions(aff: &Affected) -> Vec<String> {
    let mut fixed: Vec<String> = aff
        .ranges
        .iter()
        .flat_map(Range::fixed_versions)
        .map(str::to_owned)
        .chain(aff.fixed.iter().cloned())
        .collect();
    fixed.dedup();
    fixed
}

/// Whether `version` of the package is affected by this entry: `Some(Affected)`,
/// `Some(Undetermined)`, or `None` (not affected).
fn evaluate(aff: &Affected, version: &str) -> Option<MatchStatus> {
    let ecosystem_scheme = if base(&aff.ecosystem) == "CSAF" {
        Some(Scheme::Generic)
    } else {
        Scheme::for_osv_ecosystem(&aff.ecosystem)
    };
    let mut undetermined: Option<String> = None;
    let mut note = |reason: String| {
        if undetermined.is_none() {
            undetermined = Some(reason);
        }
    };
    // Explicit versions: an exact listing, compared by the ecosystem's equality.
    for listed in &aff.versions {
        if listed == version {
            return Some(MatchStatus::Affected);
        }
        if let Some(scheme) = ecosystem_scheme
            && let (Ok(a), Ok(b)) = (
                Version::parse(scheme, listed),
                Version::parse(scheme, version),
            )
            && a == b
        {
            return Some(MatchStatus::Affected);
        }
    }
    for range in &aff.ranges {
        let scheme = match range {
            Range::Events { semver: true, .. } => Some(Scheme::Semver),
            _ => ecosystem_scheme,
        };
        let result = match range {
            Range::Git => continue,
            Range::Unparsed { text, reason } => Err(format!(
                "the advisory gives the affected versions as text ({text:?}, {reason}), which cannot be compared"
            )),
            Range::Events { events, .. } => scheme
                .ok_or_else(|| format!("ecosystem {:?} has no known version order", aff.ecosystem))
                .and_then(|s| in_events(s, events, version)),
            Range::Constraints { constraints } => scheme
                .ok_or_else(|| format!("ecosystem {:?} has no known version order", aff.ecosystem))
                .and_then(|s| {
                    let v = parse_installed(s, version)?;
                    let constraints = if base(&aff.ecosystem) == "CSAF" {
                        same_series(constraints, version)?
                    } else {
                        constraints.iter().collect()
                    };
                    for c in constraints {
                        let bound = Version::parse(s, &c.version).map_err(|e| e.to_string())?;
                        let ord = v.cmp(&bound);
                        let holds = match c.op {
                            Op::Lt => ord.is_lt(),
                            Op::Le => ord.is_le(),
                            Op::Gt => ord.is_gt(),
                            Op::Ge => ord.is_ge(),
                            Op::Eq => ord.is_eq(),
                            Op::Ne => ord.is_ne(),
                        };
                        if !holds {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }),
        };
        match result {
            Ok(true) => return Some(MatchStatus::Affected),
            Ok(false) => {}
            Err(reason) => note(reason),
        }
    }
    undetermined.map(MatchStatus::Undetermined)
}

/// The series of a vendor's version: what must agree before two of them can be ordered.
#[derive(Debug, PartialEq, Eq)]
enum Series {
    /// Starts with a digit (or `v` and a digit): `4.0`, `v20D32`, `012U000061`.
    Numbered,
    /// Letters only, a revision letter: `K`, `N`.
    Revision,
    /// Letters, then digits: the letters name the series (`B` of `B.06.18`, `VM` of `VM5.0`).
    Prefixed(String),
}

fn series(version: &str) -> Series {
    let v = version.trim();
    let unprefixed = v
        .strip_prefix(['v', 'V'])
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(v);
    let letters: String = unprefixed
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    if letters.is_empty() {
        Series::Numbered
    } else if letters.len() == unprefixed.len() {
        Series::Revision
    } else {
        Series::Prefixed(letters.to_ascii_lowercase())
    }
}

/// The constraints of a CSAF range that speak of the installed version's series.
///
/// Vendors number product lines with letters (`<= U61 |<= L81` names two lines, `<= R8.0.3`
/// one); the generic order would put every `L` version below every `U` one and every lettered
/// version below every number, an answer the vendor never gave. So a bound of another series
/// does not apply, and when none applies the match is undetermined, with the reason.
fn same_series<'a>(
    constraints: &'a [Constraint],
    version: &str,
) -> Result<Vec<&'a Constraint>, String> {
    let own = series(version);
    let same: Vec<&Constraint> = constraints
        .iter()
        .filter(|c| series(&c.version) == own)
        .collect();
    if same.is_empty() && !constraints.is_empty() {
        let bounds: Vec<String> = constraints
            .iter()
            .map(|c| format!("{} {}", c.op.as_str(), c.version))
            .collect();
        return Err(format!(
            "installed version {version:?} is of another series than the advisory's bounds ({}): the vendor's versions cannot be ordered across series",
            bounds.join(", ")
        ));
    }
    Ok(same)
}

fn parse_installed(scheme: Scheme, version: &str) -> Result<Version, String> {
    Version::parse(scheme, version).map_err(|e| format!("installed version: {e}"))
}

/// OSV range evaluation: the version is affected when some `introduced` bound is at or below
/// it and no closing event lies between that bound and it (`fixed`/`limit` at or below the
/// version, `last_affected` below it). This is the walk over sorted events that the OSV
/// specification describes, written as pairwise comparisons so that it never sorts: an
/// order that is not total (Maven's, on odd versions) must not be able to make a sort
/// panic or go wrong.
fn in_events(scheme: Scheme, events: &[Event], version: &str) -> Result<bool, String> {
    let v = parse_installed(scheme, version)?;
    let mut introduced: Vec<Option<Version>> = Vec::new();
    let mut closing: Vec<(Version, bool)> = Vec::new(); // (bound, inclusive of the bound)
    for e in events {
        let (Event::Introduced(t) | Event::Fixed(t) | Event::LastAffected(t) | Event::Limit(t)) = e;
        match e {
            Event::Introduced(_) if t == "0" => introduced.push(None),
            Event::Limit(_) if t == "*" => {}
            _ => {
                let bound =
                    Version::parse(scheme, t).map_err(|err| format!("advisory bound: {err}"))?;
                match e {
                    Event::Introduced(_) => introduced.push(Some(bound)),
                    Event::Fixed(_) | Event::Limit(_) => closing.push((bound, true)),
                    Event::LastAffected(_) => closing.push((bound, false)),
                }
            }
        }
    }
    Ok(introduced.iter().any(|start| {
        let opened = start.as_ref().is_none_or(|s| *s <= v);
        opened
            && !closing.iter().any(|(bound, at_bound)| {
                let after_start = start.as_ref().is_none_or(|s| s <= bound);
                let closes = if *at_bound { *bound <= v } else { *bound < v };
                after_start && closes
            })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(events: &[Event]) -> Vec<Event> {
        events.to_vec()
    }

    #[test]
    fn osv_events() {
        let e = ev(&[
            Event::Introduced("0".into()),
            Event::Fixed("2.36-9+deb12u4".into()),
        ]);
        assert_eq!(in_events(Scheme::Debian, &e, "2.36-9"), Ok(true));
        assert_eq!(in_events(Scheme::Debian, &e, "2.36-9+deb12u4"), Ok(false));
        assert_eq!(in_events(Scheme::Debian, &e, "2.36-9+deb12u10"), Ok(false));
        let e = ev(&[
            Event::Introduced("1.0".into()),
            Event::LastAffected("1.4".into()),
            Event::Introduced("2.0".into()),
            Event::Fixed("2.3".into()),
        ]);
        assert_eq!(in_events(Scheme::Pep440, &e, "0.9"), Ok(false));
        assert_eq!(in_events(Scheme::Pep440, &e, "1.4"), Ok(true));
        assert_eq!(in_events(Scheme::Pep440, &e, "1.5"), Ok(false));
        assert_eq!(in_events(Scheme::Pep440, &e, "2.2.9"), Ok(true));
        assert_eq!(in_events(Scheme::Pep440, &e, "2.3"), Ok(false));
        assert!(in_events(Scheme::Pep440, &e, "not a version").is_err());
    }

    /// Matching reads other tools' package URLs leniently (`Purl::parse_lenient`).
    #[test]
    fn from_purl_keeps_what_other_tools_write_matchable() {
        let go = Package::from_purl("pkg:golang/stdlib@1.22.1", None).unwrap();
        assert_eq!((go.ecosystem.as_str(), go.name.as_str()), ("Go", "stdlib"));
        assert_eq!(go.version, "1.22.1");
        let deb = Package::from_purl(
            "pkg:deb/debian/libc6@2.36-9?Distro=debian-12&Upstream=glibc",
            Some("2.36-9+deb12u4"),
        )
        .unwrap();
        assert_eq!(deb.ecosystem, "Debian:12");
        assert_eq!(deb.source_name.as_deref(), Some("glibc"));
        assert_eq!(deb.version, "2.36-9+deb12u4");
        let py = Package::from_purl("pkg:pypi/Typing_Extensions@4.12.2", None).unwrap();
        assert_eq!(py.name, "typing-extensions");
        assert!(Package::from_purl("libc6 2.36-9", None).is_err());
    }

    /// CISA's medical advisories give vendors' lettered versions; a bound of another series
    /// does not apply (`<= U61 |<= L81` is two product lines, not `<= L81` for all).
    #[test]
    fn csaf_lettered_versions_order_within_their_series() {
        let csaf = |range: &str| Affected {
            ecosystem: "CSAF".into(),
            name: "pump".into(),
            purl: None,
            ranges: vec![crate::csaf::parse_range(range)],
            versions: Vec::new(),
            fixed: Vec::new(),
            scores: Vec::new(),
        };
        let two_lines = csaf("<= U61 |<= L81");
        assert_eq!(evaluate(&two_lines, "U60"), Some(MatchStatus::Affected));
        assert_eq!(evaluate(&two_lines, "L81"), Some(MatchStatus::Affected));
        assert_eq!(evaluate(&two_lines, "L82"), None);
        assert_eq!(evaluate(&two_lines, "U62"), None);
        assert!(matches!(
            evaluate(&two_lines, "8.0"),
            Some(MatchStatus::Undetermined(r)) if r.contains("another series")
        ));
        let b = csaf("< B.06.18");
        assert_eq!(evaluate(&b, "B.06.17"), Some(MatchStatus::Affected));
        assert_eq!(evaluate(&b, "b.6.2"), Some(MatchStatus::Affected));
        assert_eq!(evaluate(&b, "B.06.18"), None);
        assert!(matches!(
            evaluate(&b, "C.01"),
            Some(MatchStatus::Undetermined(_))
        ));
        let revision = csaf("<=N");
        assert_eq!(evaluate(&revision, "M"), Some(MatchStatus::Affected));
        assert_eq!(evaluate(&revision, "P"), None);
        let numbered = csaf(">= 4.0 | <= 4.6");
        assert_eq!(evaluate(&numbered, "v4.2"), Some(MatchStatus::Affected));
        assert_eq!(evaluate(&numbered, "4.7"), None);
        assert!(matches!(
            evaluate(&csaf("distributed  < april 1, 2018"), "1.0"),
            Some(MatchStatus::Undetermined(r)) if r.contains("a date")
        ));
    }

    #[test]
    fn red_hat_streams_give_their_release_in_the_cpe_version() {
        assert_eq!(release("Red Hat:enterprise_linux:8::appstream"), Some("8"));
        assert_eq!(release("Red Hat:rhel_eus:9.2::crb"), Some("9.2"));
        assert_eq!(release("Red Hat:8.6"), Some("8.6"));
        assert_eq!(release("Red Hat"), None);
        assert_eq!(release("Alpine:v3.20"), Some("3.20"));
        assert_eq!(release("Debian:12"), Some("12"));
        assert_eq!(release("Ubuntu:22.04:LTS"), Some("22.04"));
    }

    #[test]
    fn a_release_agrees_with_a_more_precise_one_of_it() {
        assert!(releases_agree("8", "8.6"));
        assert!(releases_agree("8.6", "8"));
        assert!(releases_agree("8.6", "8.6"));
        assert!(!releases_agree("8.6", "8.10"));
        assert!(!releases_agree("8", "9.2"));
        assert!(!releases_agree("1", "12"));
        assert!(releases_agree("3.20", "3.20.1"));
        assert!(!releases_agree("22.04", "22.10"));
    }
}
