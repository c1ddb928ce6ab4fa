//! Ed25519 key pairs on disk.
//!
//! `NAME.key` holds the private key as a PEM `PRIVATE KEY` (PKCS#8, mode 0600) and
//! `NAME.pub` the public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), the encodings
//! OpenSSL and most HSM tooling read and write, so keys can move between tools.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 raw key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Errors about keys and signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// A key file exists already; keys are never overwritten silently.
    #[error("{0}: already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    /// The file is not a PEM block of the expected label.
    #[error("{path}: not a PEM {label} block")]
    NotPem {
        /// The file.
        path: PathBuf,
        /// The PEM label expected.
        label: &'static str,
    },
    /// The PEM block holds something other than an Ed25519 key.
    #[error("{path}: not an Ed25519 key ({reason})")]
    NotEd25519 {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The system random generator failed.
    #[error("cannot generate a key: the system random source failed")]
    Random,
    /// A signature did not verify under the key.
    #[error("signature does not verify under key {0}")]
    BadSignature(KeyId),
}

/// A short, stable name for a public key: the first 16 bytes of BLAKE3 over its raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 16]);

impl KeyId {
    fn of(raw: &[u8; 32]) -> Self {
        let h = blake3::derive_key("medguard key id v1", raw);
        let mut id = [0u8; 16];
        id.copy_from_slice(h.get(..16).unwrap_or(&[0; 16]));
        Self(id)
    }

    /// Parses the hexadecimal form.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(Self(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", B64.encode(self.0))
    }
}

impl Signature {
    /// The base64 form used in documents.
    #[must_use]
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Parses the base64 form.
    #[must_use]
    pub fn from_base64(s: &str) -> Option<Self> {
        let bytes = B64.decode(s).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

/// A private signing key. Its `Debug` shows only the key id.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public.id)
    }
}

impl SigningKey {
    /// A fresh random key, with its PKCS#8 encoding.
    pub fn generate() -> Result<(Self, Vec<u8>), KeyError> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Random)?;
        let bytes = pkcs8.as_ref().to_vec();
        let key = Self::from_pkcs8(&bytes, Path::new("<generated>"))?;
        Ok((key, bytes))
    }

    fn from_pkcs8(der: &[u8], path: &Path) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|e| KeyError::NotEd25519 {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let raw: [u8; 32] =
            pair.public_key()
                .as_ref()
                .try_into()
                .map_err(|_| KeyError::NotEd25519 {
                    path: path.to_owned(),
                    reason: "public key is not 32 bytes".into(),
                })?;
        Ok(Self {
            pair,
            public: PublicKey::from_raw(raw),
        })
    }

    /// Loads a `NAME.key` file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read(path)?;
        let der = pem_decode(&text, "PRIVATE KEY").ok_or_else(|| KeyError::NotPem {
            path: path.to_owned(),
            label: "PRIVATE KEY",
        })?;
        Self::from_pkcs8(&der, path)
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` under a context string, so a signature made for one kind of document
    /// can never be replayed as a signature over another kind.
    #[must_use]
    pub fn sign(&self, context: &str, message: &[u8]) -> Signature {
        let msg = contextualise(context, message);
        let sig = self.pair.sign(&msg);
        let mut out = [0u8; 64];
        out.copy_from_slice(sig.as_ref().get(..64).unwrap_or(&[0; 64]));
        Signature(out)
    }
}

/// An Ed25519 public key that a caller has chosen to trust (or is about to check).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    raw: [u8; 32],
    id: KeyId,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl PublicKey {
    /// From the 32 raw key bytes.
    #[must_use]
    pub fn from_raw(raw: [u8; 32]) -> Self {
        Self {
            id: KeyId::of(&raw),
            raw,
        }
    }

    /// Loads a `NAME.pub` file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read(path)?;
        Self::from_pem(&text).ok_or_else(|| KeyError::NotPem {
            path: path.to_owned(),
            label: "PUBLIC KEY (Ed25519)",
        })
    }

    /// Loads every `NAME.pub` file of `paths`, in order (the keys a caller trusts).
    ///
    /// # Errors
    /// The first [`KeyError`], naming its file.
    pub fn load_all<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Self>, KeyError> {
        paths.iter().map(|p| Self::load(p.as_ref())).collect()
    }

    /// Parses a PEM `PUBLIC KEY` holding an Ed25519 SubjectPublicKeyInfo.
    #[must_use]
    pub fn from_pem(text: &str) -> Option<Self> {
        let der = pem_decode(text, "PUBLIC KEY")?;
        let raw = der.strip_prefix(&ED25519_SPKI_PREFIX[..])?;
        Some(Self::from_raw(raw.try_into().ok()?))
    }

    /// The PEM encoding.
    #[must_use]
    pub fn to_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.raw);
        pem_encode(&der, "PUBLIC KEY")
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The raw key bytes.
    #[must_use]
    pub fn raw(&self) -> &[u8; 32] {
        &self.raw
    }

    /// Checks `signature` over `message` under `context`.
    pub fn verify(
        &self,
        context: &str,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), KeyError> {
        let msg = contextualise(context, message);
        UnparsedPublicKey::new(&ED25519, &self.raw)
            .verify(&msg, &signature.0)
            .map_err(|_| KeyError::BadSignature(self.id))
    }
}

fn contextualise(context: &str, message: &[u8]) -> Vec<u8> {
    // Length-prefixed so that no (context, message) pair collides with another.
    let mut out = Vec::with_capacity(16 + context.len() + message.len());
    out.extend_from_slice(b"medguard-sig-v1\0");
    out.extend_from_slice(&(context.len() as u64).to_be_bytes());
    out.extend_from_slice(context.as_bytes());
    out.extend_from_slice(message);
    out
}

/// Generates a key pair and writes `NAME.key` (mode 0600) and `NAME.pub`. Refuses to
/// overwrite either file.
pub fn generate_key_pair(name: &Path) -> Result<(PathBuf, PathBuf, KeyId), KeyError> {
    let key_path = with_suffix(name, ".key");
    let pub_path = with_suffix(name, ".pub");
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(KeyError::Exists(p.clone()));
        }
    }
    let (key, pkcs8) = SigningKey::generate()?;
    write_new(
        &key_path,
        pem_encode(&pkcs8, "PRIVATE KEY").as_bytes(),
        0o600,
    )?;
    write_new(&pub_path, key.public_key().to_pem().as_bytes(), 0o644)?;
    Ok((key_path, pub_path, key.public_key().id()))
}

fn with_suffix(name: &Path, suffix: &str) -> PathBuf {
    let mut s = name.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |error| KeyError::Io {
        path: path.to_owned(),
        error,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_owned())
            } else {
                io(e)
            }
        })?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|error| KeyError::Io {
        path: path.to_owned(),
        error,
    })
}

fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text.get(start..)?.find(&end)?;
    let body: String = text
        .get(start..stop)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn generate_writes_pair_with_private_mode_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("vendor");
        let (kp, pp, id) = generate_key_pair(&name).unwrap();
        assert_eq!(
            std::fs::metadata(&kp).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let key = SigningKey::load(&kp).unwrap();
        let public = PublicKey::load(&pp).unwrap();
        assert_eq!(public.id(), id);
        let sig = key.sign("test", b"hello");
        public.verify("test", b"hello", &sig).unwrap();
        assert!(matches!(
            public.verify("other", b"hello", &sig),
            Err(KeyError::BadSignature(_))
        ));
        assert!(matches!(
            public.verify("test", b"hellp", &sig),
            Err(KeyError::BadSignature(_))
        ));
        assert!(matches!(generate_key_pair(&name), Err(KeyError::Exists(_))));
    }

    #[test]
    fn rejects_non_ed25519_material() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pub");
        std::fs::write(
            &p,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        assert!(matches!(PublicKey::load(&p), Err(KeyError::NotPem { .. })));
        std::fs::write(&p, "garbage").unwrap();
        assert!(matches!(PublicKey::load(&p), Err(KeyError::NotPem { .. })));
        let k = dir.path().join("x.key");
        std::fs::write(
            &k,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(matches!(
            SigningKey::load(&k),
            Err(KeyError::NotEd25519 { .. })
        ));
    }

    /// RFC 8032 section 7.1, test 1: the public key of the all-zero-prefix secret, as SPKI.
    #[test]
    fn rfc8032_public_key_round_trips_through_pem() {
        let raw: [u8; 32] =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
                .try_into()
                .unwrap();
        let k = PublicKey::from_raw(raw);
        let back = PublicKey::from_pem(&k.to_pem()).unwrap();
        assert_eq!(back, k);
        // The RFC's signature of the empty message, checked without our context prefix
        // through aws-lc directly, proves the raw key is used as-is.
        let sig = hex::decode("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b").unwrap();
        UnparsedPublicKey::new(&ED25519, back.raw())
            .verify(b"", &sig)
            .unwrap();
    }
}
