//! Version ordering, exact for each packaging ecosystem.
//!
//! This crate owns one question: given two version strings of the same ecosystem, which is
//! greater? Each [`Scheme`] reproduces its ecosystem's reference implementation:
//!
//! - [`Scheme::Debian`]: `dpkg --compare-versions` (epochs, `~` sorting before everything,
//!   the dpkg `verrevcmp` character order).
//! - [`Scheme::Rpm`]: rpm's `rpmvercmp` on epoch, version and release, including `~` and `^`.
//! - [`Scheme::Semver`]: Semantic Versioning 2.0 precedence as npm, Cargo and Go use it
//!   (a leading `v` is accepted, build metadata is ignored).
//! - [`Scheme::Pep440`]: PEP 440 as Python `packaging` implements it (normalisation, epochs,
//!   pre/post/dev releases, local versions).
//! - [`Scheme::Maven`]: Maven's version order specification, as OSV's reference ordering
//!   implements it (its 14,000 generated comparisons pass). Known weakness, found by fuzzing:
//!   that order is not transitive on some odd versions (`1.p-al <= 1.0-alpha-1 <= 1.0` but
//!   `1.p-al > 1.0`), so do not sort Maven versions with it; pairwise comparisons are exact.
//! - [`Scheme::Apk`]: Alpine's apk-tools (`apk version -t`), for Alpine, Wolfi and Chainguard.
//! - [`Scheme::RubyGems`]: Ruby's `Gem::Version` (pre-release strings, trailing zeros).
//! - [`Scheme::NuGet`]: NuGet.Versioning's `NuGetVersion` order (four numbers, release labels
//!   compared ignoring case, metadata ignored).
//! - [`Scheme::Generic`]: a fallback that compares runs of digits numerically and other runs
//!   lexically, for ecosystems with no better definition.
//!
//! It must not guess across schemes: a version only compares with versions of its own scheme,
//! and a string a scheme cannot parse is an error, never a silent "less than everything".
//!
//! The algorithms are implemented here rather than wrapped (`debversion`, `rpm-version`,
//! `pep440_rs`, `semver` exist) because each is small, the crates differ from the reference
//! tools on edge cases (the semver crate rejects `v1.2.3` and `1.2`, which OSV records contain),
//! and one implementation per scheme checked against the reference tools' own test vectors is
//! easier to trust than four dependencies with four error types.
#![forbid(unsafe_code)]

mod apk;
mod debian;
mod generic;
mod maven;
mod nuget;
mod pep440;
mod rpm;
mod rubygems;
mod semver;
mod util;

use std::cmp::Ordering;
use std::fmt;

/// A version ordering scheme: one per family of packaging ecosystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Debian and Ubuntu packages (`dpkg`).
    Debian,
    /// RPM packages (Red Hat, AlmaLinux, Rocky Linux, SUSE).
    Rpm,
    /// Semantic versions (npm, crates.io, Go).
    Semver,
    /// Python packages (PEP 440).
    Pep440,
    /// Maven artifacts.
    Maven,
    /// Alpine packages (`apk`), also Wolfi's and Chainguard's.
    Apk,
    /// Ruby gems (`Gem::Version`).
    RubyGems,
    /// NuGet packages (`NuGetVersion`).
    NuGet,
    /// Any other ecosystem: digits numerically, everything else lexically.
    Generic,
}

impl Scheme {
    /// The scheme an OSV `affected[].package.ecosystem` value uses, or `None` when the
    /// ecosystem is not known (the caller must report it, not match it).
    ///
    /// Distribution ecosystems carry a release suffix (`Debian:12`, `AlmaLinux:8`); only the
    /// part before the first `:` decides the scheme.
    #[must_use]
    pub fn for_osv_ecosystem(ecosystem: &str) -> Option<Self> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Self::Debian,
            "AlmaLinux" | "Red Hat" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia"
            | "openEuler" | "Azure Linux" | "Fedora" | "CentOS" | "Oracle Linux" => Self::Rpm,
            "npm" | "crates.io" | "Go" | "Hex" | "Pub" | "SwiftURL" | "Bitnami" => Self::Semver,
            "PyPI" => Self::Pep440,
            "Maven" => Self::Maven,
            // Wolfi and Chainguard build apk packages; OSV orders their versions as Alpine's.
            "Alpine" | "Wolfi" | "Chainguard" => Self::Apk,
            "RubyGems" => Self::RubyGems,
            "NuGet" => Self::NuGet,
            "Packagist" | "Hackage" | "CRAN" | "GitHub Actions" | "Linux" | "OSS-Fuzz" | "GIT" => {
                Self::Generic
            }
            _ => return None,
        })
    }

    /// The scheme for a package URL type (`pkg:deb/...` → `deb`).
    #[must_use]
    pub fn for_purl_type(purl_type: &str) -> Option<Self> {
        Some(match purl_type {
            "deb" => Self::Debian,
            "rpm" => Self::Rpm,
            "npm" | "cargo" | "golang" | "hex" | "pub" | "swift" => Self::Semver,
            "pypi" => Self::Pep440,
            "maven" => Self::Maven,
            "apk" => Self::Apk,
            "gem" => Self::RubyGems,
            "nuget" => Self::NuGet,
            "composer" | "hackage" | "cran" | "generic" | "github" => Self::Generic,
            _ => return None,
        })
    }

    /// The short name used on the command line (`deb`, `rpm`, `semver`, `pep440`, `maven`,
    /// `apk`, `gem`, `nuget`, `generic`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Debian => "deb",
            Self::Rpm => "rpm",
            Self::Semver => "semver",
            Self::Pep440 => "pep440",
            Self::Maven => "maven",
            Self::Apk => "apk",
            Self::RubyGems => "gem",
            Self::NuGet => "nuget",
            Self::Generic => "generic",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scheme {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "deb" | "debian" | "dpkg" => Self::Debian,
            "rpm" => Self::Rpm,
            "semver" => Self::Semver,
            "pep440" | "pypi" | "python" => Self::Pep440,
            "maven" => Self::Maven,
            "apk" | "alpine" => Self::Apk,
            "gem" | "rubygems" | "ruby" => Self::RubyGems,
            "nuget" => Self::NuGet,
            "generic" => Self::Generic,
            _ => {
                return Err(VersionError::UnknownScheme { name: s.to_owned() });
            }
        })
    }
}

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The string is not a version of this scheme.
    #[error("{scheme} version {version:?} is invalid: {reason}")]
    Invalid {
        /// The scheme asked for.
        scheme: Scheme,
        /// The string as given.
        version: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The scheme name is not one of `deb`, `rpm`, `semver`, `pep440`, `maven`, `apk`, `gem`,
    /// `nuget`, `generic`.
    #[error(
        "unknown version scheme {name:?} (expected deb, rpm, semver, pep440, maven, apk, gem, nuget or generic)"
    )]
    UnknownScheme {
        /// The name given.
        name: String,
    },
}

#[derive(Debug, Clone)]
enum Parsed {
    Debian(debian::DebVersion),
    Rpm(rpm::RpmVersion),
    Semver(semver::SemVersion),
    Pep440(pep440::Pep440Version),
    Maven(maven::MavenVersion),
    Apk(apk::ApkVersion),
    RubyGems(rubygems::GemVersion),
    NuGet(nuget::NuGetVersion),
    Generic(generic::GenericVersion),
}

/// A parsed version of one scheme. Versions of the same scheme are totally ordered; versions
/// of different schemes order by scheme first (never meaningful, but keeps `Ord` total).
///
/// Equality is the scheme's equality, not string equality: `1.0` and `1.0-0` are equal Debian
/// versions, `1.0` and `1.0.0` equal PEP 440 versions.
#[derive(Debug, Clone)]
pub struct Version {
    scheme: Scheme,
    text: String,
    parsed: Parsed,
}

impl Version {
    /// Parses `text` as a version of `scheme`.
    ///
    /// # Errors
    /// [`VersionError::Invalid`] when the scheme's reference tool would refuse it.
    pub fn parse(scheme: Scheme, text: &str) -> Result<Self, VersionError> {
        let invalid = |reason| VersionError::Invalid {
            scheme,
            version: text.to_owned(),
            reason,
        };
        let parsed = match scheme {
            Scheme::Debian => Parsed::Debian(debian::DebVersion::parse(text).map_err(invalid)?),
            Scheme::Rpm => Parsed::Rpm(rpm::RpmVersion::parse(text).map_err(invalid)?),
            Scheme::Semver => Parsed::Semver(semver::SemVersion::parse(text).map_err(invalid)?),
            Scheme::Pep440 => Parsed::Pep440(pep440::Pep440Version::parse(text).map_err(invalid)?),
            Scheme::Maven => Parsed::Maven(maven::MavenVersion::parse(text).map_err(invalid)?),
            Scheme::Apk => Parsed::Apk(apk::ApkVersion::parse(text).map_err(invalid)?),
            Scheme::RubyGems => {
                Parsed::RubyGems(rubygems::GemVersion::parse(text).map_err(invalid)?)
            }
            Scheme::NuGet => Parsed::NuGet(nuget::NuGetVersion::parse(text).map_err(invalid)?),
            Scheme::Generic => {
                Parsed::Generic(generic::GenericVersion::parse(text).map_err(invalid)?)
            }
        };
        Ok(Self {
            scheme,
            text: text.to_owned(),
            parsed,
        })
    }

    /// The scheme this version belongs to.
    #[must_use]
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The string as it was given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.parsed, &other.parsed) {
            (Parsed::Debian(a), Parsed::Debian(b)) => a.cmp(b),
            (Parsed::Rpm(a), Parsed::Rpm(b)) => a.cmp(b),
            (Parsed::Semver(a), Parsed::Semver(b)) => a.cmp(b),
            (Parsed::Pep440(a), Parsed::Pep440(b)) => a.cmp(b),
            (Parsed::Maven(a), Parsed::Maven(b)) => a.cmp(b),
            (Parsed::Apk(a), Parsed::Apk(b)) => a.cmp(b),
            (Parsed::RubyGems(a), Parsed::RubyGems(b)) => a.cmp(b),
            (Parsed::NuGet(a), Parsed::NuGet(b)) => a.cmp(b),
            (Parsed::Generic(a), Parsed::Generic(b)) => a.cmp(b),
            _ => self.scheme.cmp(&other.scheme),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Compares two version strings of one scheme.
///
/// # Errors
/// [`VersionError::Invalid`] naming the first string the scheme refuses.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(Version::parse(scheme, a)?.cmp(&Version::parse(scheme, b)?))
}
