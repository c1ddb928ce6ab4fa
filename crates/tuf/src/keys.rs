//! Signing keys for TUF roles: medguard's PKCS#8 PEM Ed25519 files, used through `tough`'s
//! signer so that the key ids and signatures are the ones every TUF client computes.

use std::fmt;
use std::path::{Path, PathBuf};

use tough::schema::key::Key;
use tough::sign::Sign;

use crate::error::TufError;

/// A private key loaded for signing TUF metadata. `Debug` shows the key id only.
pub struct RoleKey {
    path: PathBuf,
    signer: Box<dyn Sign>,
    key: Key,
    key_id: String,
}

impl fmt::Debug for RoleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleKey({}, {})", self.path.display(), self.key_id)
    }
}

impl RoleKey {
    /// Loads a `NAME.key` file (PKCS#8 PEM, as `medguard key generate` writes; raw PKCS#8
    /// DER is accepted too).
    pub fn load(path: &Path) -> Result<Self, TufError> {
        let bytes = std::fs::read(path).map_err(TufError::io(path))?;
        let der = match pem::parse(&bytes) {
            Ok(block) if block.tag() == "PRIVATE KEY" => block.into_contents(),
            Ok(block) => {
                return Err(TufError::Key {
                    path: path.to_owned(),
                    reason: format!("PEM block is {:?}, expected PRIVATE KEY", block.tag()),
                    source: None,
                });
            }
            Err(_) => bytes,
        };
        let signer = tough::sign::parse_keypair(&der).map_err(|e| TufError::key_by(path, e))?;
        let key = signer.tuf_key();
        if !matches!(key, Key::Ed25519 { .. }) {
            return Err(TufError::Key {
                path: path.to_owned(),
                reason: "not an Ed25519 key".into(),
                source: None,
            });
        }
        let key_id = key.key_id().map_err(|e| TufError::key_by(path, e))?;
        let key_id = hex::encode(key_id);
        Ok(Self {
            path: path.to_owned(),
            signer: Box::new(signer),
            key,
            key_id,
        })
    }

    /// The TUF key id (hex SHA-256 of the canonical public key).
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as TUF metadata lists it.
    #[must_use]
    pub fn public(&self) -> &Key {
        &self.key
    }

    pub(crate) fn signer(&self) -> &dyn Sign {
        self.signer.as_ref()
    }

    /// The file the key came from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}
