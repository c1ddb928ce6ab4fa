//! The normalised inventory model every collector fills and every SBOM format maps to.
//!
//! This module owns the shape of a device's inventory as the rest of medguard (vulnerability
//! matching, the server) consumes it. It must not know about file formats: the CycloneDX and
//! SPDX mappings live in their own modules.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A software bill of materials: what COTS software one device (or image) has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// About the document.
    pub metadata: SbomMetadata,
    /// The components, in a stable order (ecosystem, name, version).
    pub components: Vec<Component>,
}

/// About an SBOM document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomMetadata {
    /// The document's name (for SPDX its `name`, for CycloneDX the metadata component).
    pub name: String,
    /// When the SBOM was made (a document read from elsewhere may not say).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub created: Option<OffsetDateTime>,
    /// The tool that made it, as `name-version` (e.g. `medguard-0.1.0`), if known.
    pub tool: Option<String>,
    /// The device model the SBOM describes, if the vendor said.
    #[serde(default)]
    pub device_model: Option<String>,
}

/// One piece of software found on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// The package name as its ecosystem spells it (Maven: `groupId:artifactId`, as OSV names
    /// Maven packages; npm: with its `@scope/`).
    pub name: String,
    /// The version as its ecosystem spells it (Debian with epoch, RPM `[epoch:]version-release`).
    pub version: String,
    /// Which ecosystem names and orders its versions.
    pub ecosystem: Ecosystem,
    /// Package URL.
    #[serde(default)]
    pub purl: Option<String>,
    /// CPE 2.3 name, where the source declares one.
    #[serde(default)]
    pub cpe: Option<String>,
    /// Who supplies it (Debian maintainer, RPM vendor, author, vendor).
    #[serde(default)]
    pub supplier: Option<String>,
    /// Licences as the source states them (an SPDX id or expression where the source uses one).
    #[serde(default)]
    pub licenses: Vec<String>,
    /// Digests of the component's artefact, where the source gives them.
    #[serde(default)]
    pub hashes: Vec<ComponentHash>,
    /// The source package it was built from (Debian `Source:`, RPM source rpm), when known.
    #[serde(default)]
    pub source_package: Option<String>,
    /// The source package's version, when it differs from `version` (Debian binNMUs `+b1`,
    /// `Source: name (version)`). OSV's Debian advisories are keyed by source name and version.
    #[serde(default)]
    pub source_version: Option<String>,
    /// The architecture (Debian/RPM), when known.
    #[serde(default)]
    pub arch: Option<String>,
    /// Debian transitional or dummy package: it ships no real code.
    #[serde(default)]
    pub transitional: bool,
    /// Evidence that the component is in use.
    #[serde(default)]
    pub usage: Usage,
}

impl Component {
    /// A component with only the identity fields set.
    pub fn new(name: impl Into<String>, version: impl Into<String>, ecosystem: Ecosystem) -> Self {
        Component {
            name: name.into(),
            version: version.into(),
            ecosystem,
            purl: None,
            cpe: None,
            supplier: None,
            licenses: Vec::new(),
            hashes: Vec::new(),
            source_package: None,
            source_version: None,
            arch: None,
            transitional: false,
            usage: Usage::default(),
        }
    }
}

/// A Linux distribution as `/etc/os-release` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Distro {
    /// `ID` (e.g. `debian`, `ubuntu`, `almalinux`).
    pub id: String,
    /// `VERSION_ID` (e.g. `12`, `18.04`, `9.4`), absent on testing/unstable.
    #[serde(default)]
    pub version_id: Option<String>,
}

impl Distro {
    /// The purl `distro` qualifier value, e.g. `debian-12`.
    #[must_use]
    pub fn purl_qualifier(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{v}", self.id),
            None => self.id.clone(),
        }
    }
}

/// The ecosystem a component belongs to: it decides how names and versions compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// A dpkg package of a Debian-family distribution.
    Debian(Distro),
    /// An RPM package of a Red Hat/SUSE-family distribution.
    Rpm(Distro),
    /// A Python distribution.
    #[serde(rename = "pypi")]
    PyPI,
    /// An npm package.
    Npm,
    /// A Java archive with Maven coordinates.
    Maven,
    /// A Rust crate.
    Cargo,
    /// A component the device vendor declared.
    Vendor,
    /// Anything else, by the name the source used.
    Other(String),
}

impl Ecosystem {
    /// The ecosystem as OSV names it (`Debian:12`, `Ubuntu:22.04:LTS`, `AlmaLinux:9`, `PyPI`,
    /// `npm`, `Maven`, `crates.io`). Vendor components have no OSV ecosystem: `Vendor`.
    #[must_use]
    pub fn osv_name(&self) -> String {
        match self {
            Ecosystem::Debian(d) | Ecosystem::Rpm(d) => osv_distro_name(d),
            Ecosystem::PyPI => "PyPI".to_owned(),
            Ecosystem::Npm => "npm".to_owned(),
            Ecosystem::Maven => "Maven".to_owned(),
            Ecosystem::Cargo => "crates.io".to_owned(),
            Ecosystem::Vendor => "Vendor".to_owned(),
            Ecosystem::Other(s) => s.clone(),
        }
    }

    /// The purl type of the ecosystem.
    #[must_use]
    pub fn purl_type(&self) -> &str {
        match self {
            Ecosystem::Debian(_) => "deb",
            Ecosystem::Rpm(_) => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Maven => "maven",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Vendor | Ecosystem::Other(_) => "generic",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.osv_name())
    }
}

fn osv_distro_name(d: &Distro) -> String {
    let major = |v: &str| v.split('.').next().unwrap_or(v).to_owned();
    let name = match d.id.as_str() {
        "debian" => "Debian",
        "ubuntu" => {
            // OSV: "Ubuntu:22.04:LTS" for long-term releases (even year, April).
            return match &d.version_id {
                Some(v) if is_ubuntu_lts(v) => format!("Ubuntu:{v}:LTS"),
                Some(v) => format!("Ubuntu:{v}"),
                None => "Ubuntu".to_owned(),
            };
        }
        "almalinux" => "AlmaLinux",
        "rocky" => "Rocky Linux",
        "rhel" => return "Red Hat".to_owned(),
        "opensuse-leap" => {
            return match &d.version_id {
                Some(v) => format!("openSUSE:Leap {v}"),
                None => "openSUSE".to_owned(),
            };
        }
        "sles" => "SUSE",
        "alpine" => {
            return match &d.version_id {
                Some(v) => {
                    let mut parts = v.split('.');
                    match (parts.next(), parts.next()) {
                        (Some(a), Some(b)) => format!("Alpine:v{a}.{b}"),
                        _ => format!("Alpine:v{v}"),
                    }
                }
                None => "Alpine".to_owned(),
            };
        }
        other => return other.to_owned(),
    };
    match &d.version_id {
        Some(v) => format!("{name}:{}", major(v)),
        None => name.to_owned(),
    }
}

fn is_ubuntu_lts(v: &str) -> bool {
    let mut parts = v.split('.');
    match (
        parts.next().and_then(|y| y.parse::<u32>().ok()),
        parts.next(),
    ) {
        (Some(year), Some("04")) => year % 2 == 0,
        _ => false,
    }
}

/// A digest of a component's artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHash {
    /// The algorithm.
    pub alg: HashAlgorithm,
    /// Lower-case hex.
    pub value: String,
}

impl ComponentHash {
    /// Lower-case or upper-case hex of the algorithm's length: what both formats accept.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        let len = match self.alg {
            HashAlgorithm::Md5 => 32,
            HashAlgorithm::Sha1 => 40,
            HashAlgorithm::Sha256 | HashAlgorithm::Blake3 => 64,
            HashAlgorithm::Sha384 => 96,
            HashAlgorithm::Sha512 => 128,
        };
        self.value.len() == len && self.value.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// Digest algorithms both SBOM formats can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// MD5 (legacy sources only).
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// BLAKE3.
    Blake3,
}

impl HashAlgorithm {
    /// The CycloneDX name.
    #[must_use]
    pub fn cyclonedx_name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Sha1 => "SHA-1",
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha384 => "SHA-384",
            HashAlgorithm::Sha512 => "SHA-512",
            HashAlgorithm::Blake3 => "BLAKE3",
        }
    }

    /// The SPDX 2.3 name.
    #[must_use]
    pub fn spdx_name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
            HashAlgorithm::Sha384 => "SHA384",
            HashAlgorithm::Sha512 => "SHA512",
            HashAlgorithm::Blake3 => "BLAKE3",
        }
    }

    /// Parses either format's name (and the `sha256` spelling of vendor files).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let n: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        Some(match n.as_str() {
            "MD5" => HashAlgorithm::Md5,
            "SHA1" => HashAlgorithm::Sha1,
            "SHA256" => HashAlgorithm::Sha256,
            "SHA384" => HashAlgorithm::Sha384,
            "SHA512" => HashAlgorithm::Sha512,
            "BLAKE3" => HashAlgorithm::Blake3,
            _ => return None,
        })
    }
}

/// Evidence that a component is in use on the device, from `/proc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Whether evidence of use was looked for at all. When false, `running` and the other
    /// fields say nothing: an SBOM made without `/proc` (an image folder, `--no-evidence`,
    /// another tool) must not read as "never runs", or a risk assessment would wrongly dismiss
    /// findings.
    #[serde(default)]
    pub observed: bool,
    /// A running process executes a file of this component.
    pub running: bool,
    /// The processes whose executable belongs to this component.
    #[serde(default)]
    pub processes: Vec<ProcessEvidence>,
    /// A running process has a file of this component mapped (a shared library, usually).
    #[serde(default)]
    pub mapped_libraries: bool,
    /// Listening sockets of processes whose executable belongs to this component.
    #[serde(default)]
    pub listening: Vec<ListeningSocket>,
}

impl Usage {
    /// Whether the component listens on an address other than loopback.
    #[must_use]
    pub fn is_network_exposed(&self) -> bool {
        self.listening
            .iter()
            .any(ListeningSocket::is_network_exposed)
    }

    /// Whether there is any evidence of use.
    #[must_use]
    pub fn in_use(&self) -> bool {
        self.running || self.mapped_libraries || !self.listening.is_empty()
    }
}

/// A running process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEvidence {
    /// Process id.
    pub pid: u32,
    /// The executable's path (from `/proc/PID/exe`).
    pub exe: PathBuf,
    /// The command name (from `/proc/PID/comm`), if readable.
    #[serde(default)]
    pub comm: Option<String>,
}

/// Transport protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// A socket accepting connections (TCP `LISTEN`) or datagrams (unconnected bound UDP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListeningSocket {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The local address (`0.0.0.0`/`::` for all interfaces).
    pub address: IpAddr,
    /// The local port.
    pub port: u16,
    /// The owning process, if it could be found.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The owning process's executable, if known.
    #[serde(default)]
    pub process: Option<PathBuf>,
}

impl ListeningSocket {
    /// Reachable from the network: bound to something other than a loopback address.
    #[must_use]
    pub fn is_network_exposed(&self) -> bool {
        let loopback = match self.address {
            IpAddr::V4(a) => a.is_loopback(),
            IpAddr::V6(a) => {
                a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        !loopback
    }

    /// `tcp/0.0.0.0:104`, `udp/[::]:161`: the value of the `medguard:listening` property.
    #[must_use]
    pub fn endpoint(&self) -> String {
        match self.address {
            IpAddr::V4(a) => format!("{}/{a}:{}", self.protocol, self.port),
            IpAddr::V6(a) => format!("{}/[{a}]:{}", self.protocol, self.port),
        }
    }

    /// Parses [`ListeningSocket::endpoint`]'s form back (without process).
    #[must_use]
    pub fn parse_endpoint(s: &str) -> Option<Self> {
        let (proto, rest) = s.split_once('/')?;
        let protocol = match proto {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => return None,
        };
        let sa: std::net::SocketAddr = rest.parse().ok()?;
        Some(ListeningSocket {
            protocol,
            address: sa.ip(),
            port: sa.port(),
            pid: None,
            process: None,
        })
    }
}

/// Something odd in the input that did not stop the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The file (or `/proc` entry) concerned.
    pub path: PathBuf,
    /// The 1-based line, where it applies.
    #[serde(default)]
    pub line: Option<usize>,
    /// What was wrong.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Warning {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_names() {
        let d = |id: &str, v: &str| Distro {
            id: id.into(),
            version_id: Some(v.into()),
        };
        assert_eq!(Ecosystem::Debian(d("debian", "12")).osv_name(), "Debian:12");
        assert_eq!(
            Ecosystem::Debian(d("ubuntu", "22.04")).osv_name(),
            "Ubuntu:22.04:LTS"
        );
        assert_eq!(
            Ecosystem::Debian(d("ubuntu", "23.10")).osv_name(),
            "Ubuntu:23.10"
        );
        assert_eq!(
            Ecosystem::Rpm(d("almalinux", "9.4")).osv_name(),
            "AlmaLinux:9"
        );
        assert_eq!(
            Ecosystem::Rpm(d("rocky", "8.9")).osv_name(),
            "Rocky Linux:8"
        );
        assert_eq!(Ecosystem::PyPI.osv_name(), "PyPI");
        assert_eq!(Ecosystem::Cargo.osv_name(), "crates.io");
    }

    #[test]
    fn exposure() {
        let s = |e: &str| ListeningSocket::parse_endpoint(e).unwrap();
        assert!(s("tcp/0.0.0.0:104").is_network_exposed());
        assert!(!s("tcp/127.0.0.1:5432").is_network_exposed());
        assert!(!s("udp/[::1]:53").is_network_exposed());
        assert!(!s("tcp/[::ffff:127.0.0.1]:80").is_network_exposed());
        assert!(s("tcp/[::]:22").is_network_exposed());
        assert_eq!(s("udp/[::]:161").endpoint(), "udp/[::]:161");
        assert!(ListeningSocket::parse_endpoint("sctp/1.2.3.4:5").is_none());
    }
}
