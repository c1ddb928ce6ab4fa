//! The agent's state directory: what makes this device this device.
//!
//! ```text
//! STATE/                 mode 0700
//!   device.key           the device's Ed25519 key (PKCS#8 PEM, mode 0600, never overwritten);
//!                        also the signing key of the agent's audit log
//!   device.pub           its public key (medguard-digest's NAME.pub)
//!   device.crt           the current client certificate (replaced whole on renewal)
//!   ca.pem               the pinned fleet CA
//!   enrollment.json      device id, site, server, certificate validity (written last: an
//!                        enrollment exists once this file does)
//!   outbox.db            the queue of reports (see `outbox`)
//!   audit/               the agent's own audit log, unless the configuration moves it
//! ```

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use medguard_pki::DeviceKey;
use medguard_proto::DeviceId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::AgentError;

/// What `agent enroll` recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// The device's id, bound into its certificate.
    pub device_id: DeviceId,
    /// The site it was enrolled into.
    pub site: String,
    /// The model on record at the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The server's base URL.
    pub server: String,
    /// When it enrolled (the device's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub enrolled: OffsetDateTime,
    /// Whether the server already knew the device (its history is kept).
    pub reenrolled: bool,
    /// The current client certificate.
    pub certificate: CertificateRecord,
}

/// The validity of the current client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecord {
    /// Serial number, hexadecimal.
    pub serial: String,
    /// Valid from.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Valid until.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// When to ask for the next one.
    #[serde(with = "time::serde::rfc3339")]
    pub renew_after: OffsetDateTime,
}

/// The PEM texts that make up the device's TLS identity.
#[derive(Clone)]
pub(crate) struct Identity {
    pub ca_pem: String,
    pub certificate_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(<certificate and key>)")
    }
}

/// The agent's state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory at `dir` (nothing is read or made yet).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Creates the directory (mode 0700) if it does not exist.
    ///
    /// # Errors
    /// [`AgentError::Io`] naming the directory.
    pub fn create(&self) -> Result<(), AgentError> {
        std::fs::create_dir_all(&self.dir).map_err(AgentError::io(&self.dir))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(AgentError::io(&self.dir))
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `device.key`.
    #[must_use]
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("device.key")
    }

    /// `device.crt`.
    #[must_use]
    pub fn certificate_path(&self) -> PathBuf {
        self.dir.join("device.crt")
    }

    /// `ca.pem`.
    #[must_use]
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `enrollment.json`.
    #[must_use]
    pub fn enrollment_path(&self) -> PathBuf {
        self.dir.join("enrollment.json")
    }

    /// `outbox.db`.
    #[must_use]
    pub fn outbox_path(&self) -> PathBuf {
        self.dir.join("outbox.db")
    }

    /// `audit/`, the default of the agent's own audit log.
    #[must_use]
    pub fn audit_dir(&self) -> PathBuf {
        self.dir.join("audit")
    }

    /// The device key, made now if there is none. Returns whether it was made. An existing
    /// key is never replaced: re-enrolling keeps the device's key (and so its audit log's
    /// signer).
    ///
    /// # Errors
    /// [`AgentError::Key`] or [`AgentError::Pki`] when the key cannot be made or read.
    pub fn ensure_key(&self) -> Result<(DeviceKey, bool), AgentError> {
        let path = self.key_path();
        let made = if path.exists() {
            false
        } else {
            medguard_digest::generate_key_pair(&self.dir.join("device")).map_err(|source| {
                AgentError::Key {
                    path: path.clone(),
                    source,
                }
            })?;
            medguard_host::fsync_dir(&self.dir)?;
            true
        };
        Ok((self.device_key()?, made))
    }

    /// The device key.
    ///
    /// # Errors
    /// [`AgentError::Io`] or [`AgentError::Pki`].
    pub fn device_key(&self) -> Result<DeviceKey, AgentError> {
        let path = self.key_path();
        let pem = std::fs::read_to_string(&path).map_err(AgentError::io(&path))?;
        DeviceKey::from_pem(&pem).map_err(|source| AgentError::Pki {
            what: "the device key",
            source,
        })
    }

    /// The device key as the signer of the agent's audit log.
    ///
    /// # Errors
    /// [`AgentError::Key`].
    pub fn signing_key(&self) -> Result<medguard_digest::SigningKey, AgentError> {
        let path = self.key_path();
        medguard_digest::SigningKey::load(&path).map_err(|source| AgentError::Key { path, source })
    }

    /// The recorded enrollment.
    ///
    /// # Errors
    /// [`AgentError::NotEnrolled`] when there is none, [`AgentError::StateCorrupt`] when it
    /// cannot be read as one.
    pub fn enrollment(&self) -> Result<Enrollment, AgentError> {
        let path = self.enrollment_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AgentError::NotEnrolled {
                    state: self.dir.clone(),
                });
            }
            Err(e) => return Err(AgentError::io(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| AgentError::StateCorrupt {
            path,
            reason: e.to_string(),
        })
    }

    pub(crate) fn write(&self, name: &Path, mode: u32, bytes: &[u8]) -> Result<(), AgentError> {
        Ok(medguard_host::write_bytes_atomically(name, mode, bytes)?)
    }

    /// Stores an issued certificate, the pinned CA and then the enrollment that names them
    /// (each file replaced whole; the enrollment last, so a crash in between leaves the old
    /// enrollment or none).
    pub(crate) fn store(
        &self,
        enrollment: &Enrollment,
        certificate_pem: &str,
        ca_pem: &str,
    ) -> Result<(), AgentError> {
        self.write(&self.certificate_path(), 0o644, certificate_pem.as_bytes())?;
        self.write(&self.ca_path(), 0o644, ca_pem.as_bytes())?;
        let mut json = serde_json::to_vec_pretty(enrollment).map_err(|e| AgentError::Io {
            path: self.enrollment_path(),
            source: std::io::Error::other(e),
        })?;
        json.push(b'\n');
        self.write(&self.enrollment_path(), 0o644, &json)
    }

    /// The TLS identity: pinned CA (or `ca_override`), certificate and key.
    pub(crate) fn identity(&self, ca_override: Option<&Path>) -> Result<Identity, AgentError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(AgentError::io(p));
        let ca_path = ca_override.map_or_else(|| self.ca_path(), Path::to_owned);
        Ok(Identity {
            ca_pem: read(&ca_path)?,
            certificate_pem: read(&self.certificate_path())?,
            key_pem: read(&self.key_path())?,
        })
    }
}
