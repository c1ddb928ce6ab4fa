//! The network services a device model is allowed to offer, and the listeners that are not
//! among them.
//!
//! The white paper asks that a device's network services be restricted to those it needs. The
//! vendor writes what its device model needs as a TOML declaration and signs it with the
//! digest crate's envelope under [`SIGNING_CONTEXT`] (so a signed profile, allowlist or bundle
//! can never be passed off as a declaration, nor the other way round):
//!
//! ```toml
//! device_model = "ACME CT 9000"
//!
//! [[service]]
//! protocol = "tcp"
//! port = 104
//! process = "/opt/vendor/bin/storescp"   # optional: the listening executable
//! package = "dcmtk"                      # optional: the component owning that executable
//! exposure = "network"                   # optional: "network" (default) or "loopback"
//! reason = "DICOM storage SCP"
//!
//! [[service]]
//! protocol = "udp"
//! port = "32768-32800"                   # a range, both ends included
//! reason = "DICOM query/retrieve callbacks"
//! ```
//!
//! [`undeclared`] compares the listeners [`crate::services`] found with a declaration and
//! returns each listener no entry allows, with the reason, as a typed [`UndeclaredService`]
//! a caller (the command line, the device agent) reports as a finding.
//!
//! Unknown keys are refused rather than ignored: a misspelt `prcess` would otherwise widen an
//! entry to every process on that port without anyone noticing.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use medguard_digest::{KeyId, PublicKey, SigningKey, UnverifiedDocument, sign_document};
use serde::{Deserialize, Serialize};

use crate::model::{ListeningSocket, Protocol};
use crate::{InventoryError, Service};

/// The signing context of allowed-services declarations.
pub const SIGNING_CONTEXT: &str = "medguard allowed services v1";

/// The largest declaration read: a device needs a handful of services, not megabytes.
const MAX_SIZE: u64 = 1 << 20;

const FORMAT: &str = "allowed services";

/// Where a service may listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// On any address, reachable from the network.
    #[default]
    Network,
    /// Only on a loopback address (`127.0.0.0/8`, `::1`): a local helper service.
    Loopback,
}

/// A port or an inclusive range of ports, never port 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPorts", into = "RawPorts")]
pub struct Ports {
    first: u16,
    last: u16,
}

impl Ports {
    /// The range `first..=last`; `None` when it is empty or includes port 0.
    #[must_use]
    pub fn new(first: u16, last: u16) -> Option<Self> {
        (first != 0 && first <= last).then_some(Self { first, last })
    }

    /// The lowest port of the range.
    #[must_use]
    pub fn first(self) -> u16 {
        self.first
    }

    /// The highest port of the range.
    #[must_use]
    pub fn last(self) -> u16 {
        self.last
    }

    /// Whether `port` is in the range.
    #[must_use]
    pub fn contains(self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RawPorts {
    One(i64),
    Range(String),
}

impl TryFrom<RawPorts> for Ports {
    type Error = String;

    fn try_from(raw: RawPorts) -> Result<Self, String> {
        let port = |n: i64| -> Result<u16, String> {
            u16::try_from(n)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("port {n} is not in 1-65535"))
        };
        match raw {
            RawPorts::One(n) => {
                let p = port(n)?;
                Ok(Self { first: p, last: p })
            }
            RawPorts::Range(s) => {
                let number = |t: &str| -> Result<u16, String> {
                    let n: i64 = t
                        .trim()
                        .parse()
                        .map_err(|_| format!("{s:?} is not a port or a range FIRST-LAST"))?;
                    port(n)
                };
                let (first, last) = match s.split_once('-') {
                    Some((a, b)) => (number(a)?, number(b)?),
                    None => {
                        let p = number(&s)?;
                        (p, p)
                    }
                };
                Self::new(first, last).ok_or_else(|| format!("range {s:?} is empty"))
            }
        }
    }
}

impl From<Ports> for RawPorts {
    fn from(p: Ports) -> Self {
        if p.first == p.last {
            RawPorts::One(i64::from(p.first))
        } else {
            RawPorts::Range(p.to_string())
        }
    }
}

/// One allowed service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawService")]
pub struct AllowedService {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The port, or range of ports.
    pub port: Ports,
    /// The listening executable (absolute path on the device); any process when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<PathBuf>,
    /// The name of the component (package) owning the listening executable; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Where it may listen.
    #[serde(default)]
    pub exposure: Exposure,
    /// Why the device needs it, for the people reading a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    protocol: Protocol,
    port: Ports,
    #[serde(default)]
    process: Option<PathBuf>,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    exposure: Exposure,
    #[serde(default)]
    reason: Option<String>,
}

impl TryFrom<RawService> for AllowedService {
    type Error = String;

    fn try_from(r: RawService) -> Result<Self, String> {
        if let Some(p) = &r.process
            && !p.is_absolute()
        {
            return Err(format!(
                "process {} is not an absolute path on the device",
                p.display()
            ));
        }
        if r.package.as_ref().is_some_and(|p| p.trim().is_empty()) {
            return Err("package is empty".to_owned());
        }
        Ok(Self {
            protocol: r.protocol,
            port: r.port,
            process: r.process,
            package: r.package,
            exposure: r.exposure,
            reason: r.reason,
        })
    }
}

impl AllowedService {
    /// Why `service` does not fit this entry, or `None` when it does. Assumes protocol and
    /// port match.
    fn mismatch(&self, service: &Service) -> Option<UndeclaredReason> {
        let socket = &service.socket;
        if self.exposure == Exposure::Loopback && socket.is_network_exposed() {
            return Some(UndeclaredReason::NotLoopback);
        }
        let owner_needed = self.process.is_some() || self.package.is_some();
        if owner_needed && socket.process.is_none() {
            return Some(UndeclaredReason::OwnerUnknown);
        }
        if let Some(declared) = &self.process
            && socket.process.as_ref() != Some(declared)
        {
            return Some(UndeclaredReason::ProcessDiffers {
                declared: declared.clone(),
            });
        }
        if let Some(declared) = &self.package
            && service.component.as_ref().map(|c| &c.name) != Some(declared)
        {
            return Some(UndeclaredReason::PackageDiffers {
                declared: declared.clone(),
            });
        }
        None
    }
}

/// A device model's declaration of the services it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedServices {
    /// The device model the declaration is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model: Option<String>,
    /// The allowed services.
    #[serde(default, rename = "service")]
    pub services: Vec<AllowedService>,
}

impl AllowedServices {
    /// Parses a declaration's TOML text (the body of the signed document).
    ///
    /// # Errors
    /// [`InventoryError::Invalid`] naming `path`, the TOML key path and line of the first
    /// problem.
    pub fn parse(body: &[u8], path: &Path) -> Result<Self, InventoryError> {
        let invalid =
            |pointer: String, message: String, source: Box<dyn std::error::Error + Send + Sync>| {
                InventoryError::Invalid {
                    path: path.to_path_buf(),
                    format: FORMAT,
                    pointer,
                    message,
                    source: Some(source),
                }
            };
        let text = std::str::from_utf8(body)
            .map_err(|e| invalid(String::new(), format!("not UTF-8: {e}"), Box::new(e)))?;
        let de = toml::Deserializer::parse(text).map_err(|e| {
            let message = toml_message(text, &e);
            invalid(String::new(), message, Box::new(e))
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let pointer = e.path().to_string();
            let message = toml_message(text, e.inner());
            invalid(
                if pointer == "." {
                    String::new()
                } else {
                    pointer
                },
                message,
                Box::new(e.into_inner()),
            )
        })
    }

    /// The declaration as TOML (what [`sign`] signs).
    ///
    /// # Errors
    /// Never for a parsed declaration; typed for the serializer's sake.
    pub fn to_toml(&self) -> Result<String, InventoryError> {
        toml::to_string(self).map_err(|e| InventoryError::Invalid {
            path: PathBuf::new(),
            format: FORMAT,
            pointer: String::new(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        })
    }
}

/// A toml error's message with its line number (toml's own `Display` draws a multi-line
/// snippet, which does not fit an error line).
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let line = text
                .as_bytes()
                .get(..span.start)
                .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
                + 1;
            format!("line {line}: {message}")
        }
        None => message.to_owned(),
    }
}

/// A declaration whose signature a trusted key made.
#[derive(Debug, Clone)]
pub struct SignedAllowedServices {
    /// The declaration.
    pub allowed: AllowedServices,
    /// The trusted key that signed it.
    pub signer: KeyId,
}

/// Checks that `text` is a valid declaration and returns it signed with `key`: the text is
/// signed as written (comments kept), so what the vendor reviewed is what devices read.
///
/// # Errors
/// [`InventoryError::Invalid`] when `text` is not a valid declaration (`path` names it).
pub fn sign(text: &[u8], path: &Path, key: &SigningKey) -> Result<Vec<u8>, InventoryError> {
    AllowedServices::parse(text, path)?;
    Ok(sign_document(SIGNING_CONTEXT, text, key))
}

/// Parses and verifies a signed declaration in memory; `path` names it in errors.
///
/// # Errors
/// [`InventoryError::Signature`] when it is unsigned, signed by no trusted key or altered;
/// [`InventoryError::Invalid`] when the signed body is not a valid declaration.
pub fn verify(
    document: &[u8],
    path: &Path,
    trusted: &[PublicKey],
) -> Result<SignedAllowedServices, InventoryError> {
    let signature = |source| InventoryError::Signature {
        path: path.to_path_buf(),
        source,
    };
    let verified = UnverifiedDocument::parse(document)
        .map_err(signature)?
        .verify(SIGNING_CONTEXT, trusted)
        .map_err(signature)?;
    let allowed = AllowedServices::parse(verified.body(), path)?;
    Ok(SignedAllowedServices {
        allowed,
        // `verify` succeeded, so a trusted key signed it.
        signer: verified
            .signer()
            .ok_or_else(|| signature(medguard_digest::EnvelopeError::Unsigned))?,
    })
}

/// Reads and verifies the signed declaration at `path`.
///
/// # Errors
/// [`InventoryError::Io`] when it cannot be read, [`InventoryError::Invalid`] when it is
/// larger than 1 MiB, and as [`verify`].
pub fn load(path: &Path, trusted: &[PublicKey]) -> Result<SignedAllowedServices, InventoryError> {
    let io = |error| InventoryError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(InventoryError::Invalid {
            path: path.to_path_buf(),
            format: FORMAT,
            pointer: String::new(),
            message: format!("larger than {MAX_SIZE} bytes"),
            source: None,
        });
    }
    verify(&bytes, path, trusted)
}

/// Why a listener is not declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UndeclaredReason {
    /// No entry names its protocol and port.
    PortNotDeclared,
    /// Entries for its port name a process or package, and its owner could not be found
    /// (another user's process read without root, or a socket of another namespace).
    OwnerUnknown,
    /// The entries for its port name another executable.
    ProcessDiffers {
        /// The executable the (first) entry names.
        declared: PathBuf,
    },
    /// The entries for its port name another package.
    PackageDiffers {
        /// The package the (first) entry names.
        declared: String,
    },
    /// The entries for its port allow loopback only, and it listens on the network.
    NotLoopback,
}

impl fmt::Display for UndeclaredReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PortNotDeclared => f.write_str("port not declared"),
            Self::OwnerUnknown => f.write_str(
                "declared for a process or package, and the listening process is unknown",
            ),
            Self::ProcessDiffers { declared } => {
                write!(f, "declared for process {}", declared.display())
            }
            Self::PackageDiffers { declared } => write!(f, "declared for package {declared}"),
            Self::NotLoopback => f.write_str("declared for loopback only, listens on the network"),
        }
    }
}

/// A listener the declaration does not allow: a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndeclaredService {
    /// The listener, with its process and owning component when found.
    pub service: Service,
    /// Why no entry allows it.
    pub reason: UndeclaredReason,
}

impl UndeclaredService {
    /// The socket.
    #[must_use]
    pub fn socket(&self) -> &ListeningSocket {
        &self.service.socket
    }
}

impl fmt::Display for UndeclaredService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.service.socket;
        f.write_str(&s.endpoint())?;
        if let Some(pid) = s.pid {
            write!(f, " pid {pid}")?;
        }
        if let Some(p) = &s.process {
            write!(f, " {}", p.display())?;
        }
        if let Some(c) = &self.service.component {
            write!(f, " ({} {})", c.name, c.version)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The listeners of `services` that no entry of `allowed` allows, in `services`' order.
///
/// A listener is allowed when an entry has its protocol and port and each of the entry's
/// process, package and exposure (those it gives) fits. Otherwise the reason is the first
/// candidate entry's mismatch (or [`UndeclaredReason::PortNotDeclared`]).
#[must_use]
pub fn undeclared(services: &[Service], allowed: &AllowedServices) -> Vec<UndeclaredService> {
    let mut out = Vec::new();
    for service in services {
        let socket = &service.socket;
        let mut reason = Some(UndeclaredReason::PortNotDeclared);
        let mut first = true;
        for entry in allowed
            .services
            .iter()
            .filter(|e| e.protocol == socket.protocol && e.port.contains(socket.port))
        {
            match entry.mismatch(service) {
                None => {
                    reason = None;
                    break;
                }
                Some(r) if first => reason = Some(r),
                Some(_) => {}
            }
            first = false;
        }
        if let Some(reason) = reason {
            out.push(UndeclaredService {
                service: service.clone(),
                reason,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::ServiceOwner;

    fn service(endpoint: &str, exe: Option<&str>, package: Option<&str>) -> Service {
        let mut socket = ListeningSocket::parse_endpoint(endpoint).unwrap();
        socket.process = exe.map(PathBuf::from);
        socket.pid = exe.map(|_| 42);
        Service {
            socket,
            component: package.map(|p| ServiceOwner {
                name: p.to_owned(),
                version: "1".to_owned(),
                purl: None,
            }),
        }
    }

    const DECLARATION: &str = r#"
device_model = "ACME CT 9000"
[[service]]
protocol = "tcp"
port = 104
process = "/opt/vendor/bin/storescp"
package = "dcmtk"
reason = "DICOM storage SCP"
[[service]]
protocol = "tcp"
port = 8080
exposure = "loopback"
[[service]]
protocol = "udp"
port = "32768-32800"
"#;

    fn declared() -> AllowedServices {
        AllowedServices::parse(DECLARATION.as_bytes(), Path::new("a.toml")).unwrap()
    }

    #[test]
    fn allowed_listeners_pass_and_each_other_one_is_named_with_its_reason() {
        let a = declared();
        let services = vec![
            service(
                "tcp/0.0.0.0:104",
                Some("/opt/vendor/bin/storescp"),
                Some("dcmtk"),
            ),
            service("tcp/0.0.0.0:104", Some("/usr/bin/nc"), Some("netcat")),
            service("tcp/[::]:104", None, None),
            service("tcp/127.0.0.1:8080", Some("/usr/bin/x"), None),
            service("tcp/0.0.0.0:8080", Some("/usr/bin/x"), None),
            service("udp/0.0.0.0:32800", None, None),
            service("udp/0.0.0.0:32801", None, None),
            service(
                "tcp/0.0.0.0:22",
                Some("/usr/sbin/sshd"),
                Some("openssh-server"),
            ),
        ];
        let u = undeclared(&services, &a);
        let got: Vec<(String, UndeclaredReason)> = u
            .iter()
            .map(|u| (u.socket().endpoint(), u.reason.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "tcp/0.0.0.0:104".to_owned(),
                    UndeclaredReason::ProcessDiffers {
                        declared: "/opt/vendor/bin/storescp".into()
                    }
                ),
                ("tcp/[::]:104".to_owned(), UndeclaredReason::OwnerUnknown),
                ("tcp/0.0.0.0:8080".to_owned(), UndeclaredReason::NotLoopback),
                (
                    "udp/0.0.0.0:32801".to_owned(),
                    UndeclaredReason::PortNotDeclared
                ),
                (
                    "tcp/0.0.0.0:22".to_owned(),
                    UndeclaredReason::PortNotDeclared
                ),
            ]
        );
        assert_eq!(
            u[4].to_string(),
            "tcp/0.0.0.0:22 pid 42 /usr/sbin/sshd (openssh-server 1): port not declared"
        );
    }

    #[test]
    fn a_package_mismatch_is_named() {
        let a = AllowedServices::parse(
            b"[[service]]\nprotocol = \"tcp\"\nport = 104\npackage = \"dcmtk\"\n",
            Path::new("a.toml"),
        )
        .unwrap();
        let u = undeclared(
            &[service(
                "tcp/0.0.0.0:104",
                Some("/usr/bin/nc"),
                Some("netcat"),
            )],
            &a,
        );
        assert_eq!(
            u[0].reason,
            UndeclaredReason::PackageDiffers {
                declared: "dcmtk".into()
            }
        );
    }

    #[test]
    fn bad_declarations_are_refused_with_where() {
        for (text, pointer, needle) in [
            (
                "[[service]]\nprotocol = \"tcp\"\nport = 104\nprcess = \"/x\"\n",
                "service[0]",
                "unknown field",
            ),
            (
                "[[service]]\nprotocol = \"tcp\"\nport = 0\n",
                "service[0]",
                "port 0",
            ),
            (
                "[[service]]\nprotocol = \"tcp\"\nport = \"90-80\"\n",
                "service[0]",
                "empty",
            ),
            (
                "[[service]]\nprotocol = \"sctp\"\nport = 1\n",
                "service[0].protocol",
                "sctp",
            ),
            (
                "[[service]]\nprotocol = \"tcp\"\nport = 1\nprocess = \"bin/x\"\n",
                "service[0]",
                "absolute",
            ),
            ("[[service]\n", "", "line 1"),
        ] {
            match AllowedServices::parse(text.as_bytes(), Path::new("a.toml")) {
                Err(InventoryError::Invalid {
                    pointer: p,
                    message,
                    ..
                }) => {
                    assert!(
                        p.starts_with(pointer) && message.contains(needle),
                        "{text}: {p} {message}"
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn signed_declaration_verifies_with_its_key_only() {
        let (key, _) = SigningKey::generate().unwrap();
        let (other, _) = SigningKey::generate().unwrap();
        let path = Path::new("a.toml.signed");
        let signed = sign(DECLARATION.as_bytes(), path, &key).unwrap();
        let ok = verify(&signed, path, &[key.public_key().clone()]).unwrap();
        assert_eq!(ok.allowed, declared());
        assert_eq!(ok.signer, key.public_key().id());
        assert!(matches!(
            verify(&signed, path, &[other.public_key().clone()]),
            Err(InventoryError::Signature {
                source: medguard_digest::EnvelopeError::UntrustedSigner { .. },
                ..
            })
        ));
        assert!(matches!(
            verify(DECLARATION.as_bytes(), path, &[key.public_key().clone()]),
            Err(InventoryError::Signature {
                source: medguard_digest::EnvelopeError::Unsigned,
                ..
            })
        ));
        // A profile's signature does not make a declaration.
        let as_profile = sign_document("medguard system profile v1", DECLARATION.as_bytes(), &key);
        assert!(matches!(
            verify(&as_profile, path, &[key.public_key().clone()]),
            Err(InventoryError::Signature {
                source: medguard_digest::EnvelopeError::Altered(_),
                ..
            })
        ));
        assert!(matches!(
            sign(b"[[service]]\nport = 1\n", path, &key),
            Err(InventoryError::Invalid { .. })
        ));
    }

    #[test]
    fn declaration_round_trips_through_toml() {
        let a = declared();
        let text = a.to_toml().unwrap();
        assert_eq!(
            AllowedServices::parse(text.as_bytes(), Path::new("x")).unwrap(),
            a
        );
    }
}
