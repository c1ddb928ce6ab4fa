//! The inventory of a device's off-the-shelf software, as CycloneDX 1.6 and SPDX 2.3.
//!
//! Collectors read what package managers recorded under a root (a live system `/` or an
//! image folder): dpkg ([`dpkg`]), the RPM sqlite database ([`rpm`]), Python distributions,
//! npm packages and Java archives ([`lang`]), and components a vendor declares in a TOML file
//! ([`vendor`]). Evidence of use comes from `/proc` ([`proc`]): which components own a
//! running executable, a mapped library, a listening socket. [`cyclonedx`] and [`spdx`] write
//! the [`Sbom`] model and read both formats (other tools' SBOMs too) back into it.
//! [`allowed`] reads a device model's signed declaration of the network services it needs and
//! names each listener it does not allow.
//!
//! This crate owns the model, the collectors and the two formats. It must not print, must
//! not fail a collection because one manifest is broken (that is a [`Warning`]), and must not
//! panic on any input: every file it reads may be hostile.
//!
//! Dependencies: `rusqlite` (bundled SQLite) reads the rpmdb; its 0.39 line links
//! `libsqlite3-sys` 0.37, which sqlx 0.9 (`>=0.30.1, <0.38`) accepts, so the server can link
//! both. `zip` (deflate only) opens Java archives. `serde_path_to_error` gives the JSON
//! pointer of the first problem in an SBOM we read. Package URLs are `medguard-purl`'s
//! ([`purl`]): we build every one we write with its builder (valid and canonical by
//! construction) and read other tools' with its lenient parser.
#![forbid(unsafe_code)]

pub mod allowed;
pub mod cyclonedx;
pub mod dpkg;
mod files;
mod fsutil;
pub mod lang;
mod licenses;
mod model;
pub mod osrelease;
pub mod proc;
/// Package URLs (`medguard-purl`), under the path this crate always had for them.
pub use medguard_purl as purl;
pub mod rpm;
pub mod spdx;
pub mod vendor;

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

pub use files::FileIndex;
pub use model::{
    Component, ComponentHash, Distro, Ecosystem, HashAlgorithm, ListeningSocket, ProcessEvidence,
    Protocol, Sbom, SbomMetadata, Usage, Warning,
};

/// The tool name written into SBOMs.
pub const TOOL_NAME: &str = "medguard";
/// The tool version written into SBOMs.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// A file or directory could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// An SBOM (or vendor file) is not well-formed or misses what its format requires.
    #[error("{path}: invalid {format} at {pointer}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// `CycloneDX`, `SPDX`, `vendor components`...
        format: &'static str,
        /// JSON pointer (or TOML key path) of the first problem; empty for the document.
        pointer: String,
        /// What was wrong.
        message: String,
        /// The parser's error when one found the problem (JSON, TOML, a package URL), kept
        /// so callers can walk the cause chain; `None` for a rule of ours.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A signed document (a declaration of allowed services) that is unsigned, signed by no
    /// trusted key, or altered.
    #[error("{path}: {source}")]
    Signature {
        /// The file.
        path: PathBuf,
        /// What the envelope check found.
        #[source]
        source: medguard_digest::EnvelopeError,
    },
    /// An SBOM's bytes are not valid text in its encoding (UTF-8, or UTF-16 after a
    /// byte-order mark): refused rather than read with replacement characters, so every
    /// command that reads an SBOM gives the same answer for the same file.
    #[error("{path}: not valid {encoding}: invalid byte sequence at byte offset {offset}")]
    Encoding {
        /// The file.
        path: PathBuf,
        /// `UTF-8` or `UTF-16`.
        encoding: &'static str,
        /// Offset in the file (byte-order mark included) of the first invalid byte.
        offset: usize,
    },
    /// A JSON document that is neither CycloneDX nor SPDX.
    #[error("{path}: neither a CycloneDX nor an SPDX JSON document")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// The tree to inventory (`/` for the running system).
    pub root: PathBuf,
    /// A vendor components file (TOML, see [`vendor`]).
    pub vendor: Option<PathBuf>,
    /// Look in `/proc` (or `ROOT/proc`) for running, mapped and listening components.
    pub evidence: bool,
    /// The device model, for the SBOM's metadata.
    pub device_model: Option<String>,
    /// The creation time to record (the caller's clock).
    pub now: OffsetDateTime,
}

/// A collected inventory.
#[derive(Debug, Serialize)]
pub struct Collection {
    /// The SBOM.
    pub sbom: Sbom,
    /// Every listening socket, with its process and owning component (when evidence was asked).
    pub services: Vec<Service>,
    /// What was odd but did not stop the collection.
    pub warnings: Vec<Warning>,
    /// How many file paths the package managers' file lists gave.
    pub files_indexed: usize,
}

/// A listening socket and the component that owns the listening process's executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The socket, with pid and executable when found.
    pub socket: ListeningSocket,
    /// `name version` of the owning component, if any.
    pub component: Option<ServiceOwner>,
}

/// The component a service belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceOwner {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Package URL.
    pub purl: Option<String>,
}

/// Collects the inventory of `options.root`.
///
/// # Errors
/// When the root is not a readable directory or the vendor file is unreadable or invalid.
/// Broken package manifests are [`Warning`]s, never errors.
pub fn collect(options: &CollectOptions) -> Result<Collection, InventoryError> {
    let root = options.root.as_path();
    std::fs::read_dir(root).map_err(|error| InventoryError::Io {
        path: root.to_path_buf(),
        error,
    })?;
    let mut warnings = Vec::new();
    let os = osrelease::read(root, &mut warnings);
    let mut components: Vec<Component> = Vec::new();
    let mut index = FileIndex::new(root);

    let deb_distro = os.clone().unwrap_or_else(|| Distro {
        id: "debian".to_owned(),
        version_id: None,
    });
    dpkg::collect(
        root,
        &deb_distro,
        &mut components,
        &mut index,
        &mut warnings,
    );
    let rpm_distro = os.clone().unwrap_or_else(|| Distro {
        id: "redhat".to_owned(),
        version_id: None,
    });
    rpm::collect(
        root,
        &rpm_distro,
        &mut components,
        &mut index,
        &mut warnings,
    );
    lang::collect(root, &mut components, &index, &mut warnings);
    if let Some(v) = &options.vendor {
        vendor::collect(v, &mut components, &mut index)?;
    }

    let services = if options.evidence {
        apply_evidence(root, &mut components, &index, &mut warnings)
    } else {
        Vec::new()
    };

    components.sort_by(|a, b| {
        (&a.ecosystem, &a.name, &a.version, &a.arch, &a.purl).cmp(&(
            &b.ecosystem,
            &b.name,
            &b.version,
            &b.arch,
            &b.purl,
        ))
    });
    let name = options
        .device_model
        .clone()
        .or_else(|| host_name(root))
        .unwrap_or_else(|| "device".to_owned());
    Ok(Collection {
        sbom: Sbom {
            metadata: SbomMetadata {
                name,
                created: Some(options.now),
                tool: Some(format!("{TOOL_NAME}-{TOOL_VERSION}")),
                device_model: options.device_model.clone(),
            },
            components,
        },
        services,
        warnings,
        files_indexed: index.len(),
    })
}

/// The listening sockets of `root`'s `/proc`, with process and owning component. Reads the
/// package databases for the file lists, but not the processes' mapped files.
///
/// # Errors
/// As [`collect`].
pub fn services(root: &Path) -> Result<(Vec<Service>, Vec<Warning>), InventoryError> {
    let c = collect(&CollectOptions {
        root: root.to_path_buf(),
        vendor: None,
        evidence: true,
        device_model: None,
        now: OffsetDateTime::UNIX_EPOCH,
    })?;
    Ok((c.services, c.warnings))
}

fn host_name(root: &Path) -> Option<String> {
    let h = std::fs::read_to_string(root.join("etc/hostname")).ok()?;
    let h = h.trim();
    (!h.is_empty() && h.len() < 256).then(|| h.to_owned())
}

/// Marks components with the evidence `/proc` gives, and returns the services.
fn apply_evidence(
    root: &Path,
    components: &mut [Component],
    index: &FileIndex,
    warnings: &mut Vec<Warning>,
) -> Vec<Service> {
    let Some(proc_dir) = proc::proc_dir(root) else {
        return Vec::new();
    };
    let scan = proc::scan(&proc_dir, true, warnings);
    for c in components.iter_mut() {
        c.usage.observed = true;
    }
    for p in &scan.processes {
        let Some(owner) = index.owner(p.exe.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        if let Some(c) = components.get_mut(owner) {
            c.usage.running = true;
            c.usage.processes.push(ProcessEvidence {
                pid: p.pid,
                exe: p.exe.clone(),
                comm: p.comm.clone(),
            });
        }
    }
    for path in &scan.mapped {
        if let Some(c) = index.owner(path).and_then(|o| components.get_mut(o)) {
            c.usage.mapped_libraries = true;
        }
    }
    let mut services = Vec::with_capacity(scan.listening.len());
    for socket in scan.listening {
        let owner = socket
            .process
            .as_ref()
            .and_then(|exe| index.owner(exe.as_os_str().as_encoded_bytes()))
            .and_then(|o| components.get_mut(o));
        let component = owner.map(|c| {
            if !c.usage.listening.contains(&socket) {
                c.usage.listening.push(socket.clone());
            }
            ServiceOwner {
                name: c.name.clone(),
                version: c.version.clone(),
                purl: c.purl.clone(),
            }
        });
        services.push(Service { socket, component });
    }
    services.sort_by(|a, b| {
        (a.socket.protocol, a.socket.port, a.socket.address).cmp(&(
            b.socket.protocol,
            b.socket.port,
            b.socket.address,
        ))
    });
    services
}

/// Reads an SBOM file, CycloneDX (1.4–1.6) or SPDX (2.2, 2.3) JSON, into the model.
///
/// # Errors
/// When the file cannot be read, is not valid text ([`InventoryError::Encoding`], with the
/// byte offset), is not JSON, is neither format, or breaks its format's rules:
/// [`InventoryError::Invalid`] carries the JSON pointer of the first problem.
pub fn read_sbom(path: &Path) -> Result<Sbom, InventoryError> {
    let bytes = std::fs::read(path).map_err(|error| InventoryError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_sbom(&bytes, path)
}

/// [`read_sbom`] on bytes; `path` names the source in errors.
///
/// # Errors
/// As [`read_sbom`].
pub fn parse_sbom(bytes: &[u8], path: &Path) -> Result<Sbom, InventoryError> {
    let text = decode_text(bytes, path)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| InventoryError::Invalid {
            path: path.to_path_buf(),
            format: "JSON",
            pointer: String::new(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        })?;
    if value.get("bomFormat").is_some() {
        cyclonedx::from_value(value, path)
    } else if value.get("spdxVersion").is_some() {
        spdx::from_value(value, path)
    } else {
        Err(InventoryError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }
}

/// The text of a JSON file: UTF-8 (with or without a byte-order mark) or, with a BOM, UTF-16
/// (some SPDX tools write it).
///
/// Invalid sequences are refused with their offset, not replaced with U+FFFD: JSON text must
/// be Unicode (RFC 8259, section 8.1), a replaced byte would silently change a package name or
/// version that matching then looks up, and the advisory side (`serde_json::from_slice`)
/// already refuses such bytes; one rule for both.
fn decode_text<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<std::borrow::Cow<'a, str>, InventoryError> {
    let refuse = |encoding, offset| InventoryError::Encoding {
        path: path.to_path_buf(),
        encoding,
        offset,
    };
    let utf8 = |rest: &'a [u8], bom: usize| {
        std::str::from_utf8(rest)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|e| refuse("UTF-8", bom + e.valid_up_to()))
    };
    let utf16 = |rest: &[u8], big: bool| {
        if !rest.len().is_multiple_of(2) {
            // A trailing half code unit.
            return Err(refuse("UTF-16", 2 + rest.len() - 1));
        }
        let units = rest.chunks_exact(2).map(|c| match c {
            [a, b] if big => u16::from_be_bytes([*a, *b]),
            [a, b] => u16::from_le_bytes([*a, *b]),
            _ => 0xfffd,
        });
        let mut text = String::with_capacity(rest.len() / 2);
        let mut offset = 2;
        for c in char::decode_utf16(units) {
            match c {
                Ok(c) => {
                    text.push(c);
                    offset += 2 * c.len_utf16();
                }
                Err(_) => return Err(refuse("UTF-16", offset)),
            }
        }
        Ok(std::borrow::Cow::Owned(text))
    };
    match bytes {
        [0xef, 0xbb, 0xbf, rest @ ..] => utf8(rest, 3),
        [0xff, 0xfe, rest @ ..] => utf16(rest, false),
        [0xfe, 0xff, rest @ ..] => utf16(rest, true),
        _ => utf8(bytes, 0),
    }
}
