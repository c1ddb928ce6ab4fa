//! Parsing and signing of TUF metadata, and the medguard fields inside it.
//!
//! Every byte of metadata the client trusts first passes [`TrustedRoot::parse`] (the root a
//! device ships with, or the newer one it saved) or the client workflow's parser
//! ([`exercise_parser`] runs it for the fuzz target); [`parse_role`] is `tough`'s
//! deserialisation, for the editor and the fuzz target. Nothing here decides
//! trust on its own except [`TrustedRoot::parse`], which checks the root's self-signature.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tough::schema::{Role, Root, Signature, Signed, Target};

use crate::error::TufError;
use crate::keys::RoleKey;
pub use crate::schema::exercise_parser;

/// The TUF specification version medguard writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// The key under a target's `custom` object that holds [`BundleInfo`].
pub const CUSTOM_KEY: &str = "medguard";

/// A root metadata file whose signatures verify against its own root role. This is the
/// trust anchor: a device ships with one (`--trust ROOT.json`) and keeps the newest it has
/// verified through the chain of root versions.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    signed: Signed<Root>,
    bytes: Vec<u8>,
}

impl TrustedRoot {
    /// Parses `bytes` and checks that a threshold of the root role's own keys signed it.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, TufError> {
        let signed: Signed<Root> = parse_role(bytes, path)?;
        signed
            .signed
            .verify_role(&signed)
            .map_err(|e| TufError::BadSignature {
                role: format!("root ({})", path.display()),
                reason: e.to_string(),
                source: Some(Box::new(e)),
            })?;
        Ok(Self {
            signed,
            bytes: bytes.to_vec(),
        })
    }

    /// Reads and parses a root file.
    pub fn load(path: &Path) -> Result<Self, TufError> {
        let bytes = std::fs::read(path).map_err(TufError::io(path))?;
        Self::parse(&bytes, path)
    }

    /// The root's version.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.signed.signed.version.get()
    }

    /// The bytes as read, for handing to the loader.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed root.
    #[must_use]
    pub fn root(&self) -> &Signed<Root> {
        &self.signed
    }
}

/// Deserialises one signed metadata file. Never panics on any input.
pub fn parse_role<T: DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<Signed<T>, TufError> {
    serde_json::from_slice(bytes).map_err(|e| TufError::malformed_by(path, e))
}

/// What medguard records about a bundle target in its `custom` metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BundleInfo {
    /// The device model the bundle is for (the delegated role's name too).
    pub model: String,
    /// The bundle's version, as the vendor released it.
    pub bundle_version: String,
}

impl BundleInfo {
    /// Reads the medguard fields of a target, if it has them.
    #[must_use]
    pub fn of(target: &Target) -> Option<Self> {
        let value = target.custom.get(CUSTOM_KEY)?;
        serde_json::from_value(value.clone()).ok()
    }

    /// The `custom` object for a target.
    #[must_use]
    pub fn to_custom(&self) -> HashMap<String, serde_json::Value> {
        let mut custom = HashMap::new();
        custom.insert(
            CUSTOM_KEY.to_owned(),
            serde_json::json!({ "model": self.model, "bundle_version": self.bundle_version }),
        );
        custom
    }
}

/// Orders bundle versions: dot/dash separated parts, numeric parts numerically
/// (`1.10` > `1.9`), other parts as text, a longer version after its prefix.
#[must_use]
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .map(str::to_owned)
            .collect()
    };
    let (pa, pb) = (split(a), split(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

/// Signs a role's canonical JSON with each key (once per distinct key id).
pub(crate) fn sign_role<T: Role + Serialize>(
    role: T,
    keys: &[&RoleKey],
) -> Result<Signed<T>, TufError> {
    let data = role.canonical_form().map_err(TufError::refused_by)?;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut signatures: Vec<Signature> = Vec::new();
    for key in keys {
        if signatures
            .iter()
            .any(|s| hex::encode(&s.keyid) == key.key_id())
        {
            continue;
        }
        let sig = crate::block_on(key.signer().sign(&data, &rng))?
            .map_err(|e| TufError::key_by(key.path(), e))?;
        let keyid = hex::decode(key.key_id()).map_err(|e| TufError::key_by(key.path(), e))?;
        signatures.push(Signature {
            keyid: keyid.into(),
            sig: sig.into(),
        });
    }
    Ok(Signed {
        signed: role,
        signatures,
    })
}

/// The bytes of a metadata file as written: pretty JSON and a newline, like python-tuf.
pub(crate) fn file_bytes<T: Serialize>(signed: &Signed<T>) -> Result<Vec<u8>, TufError> {
    let mut out = serde_json::to_vec_pretty(signed).map_err(TufError::refused_by)?;
    out.push(b'\n');
    Ok(out)
}

/// `now + after`, truncated to whole seconds (TUF's date format has no fraction).
pub(crate) fn expiry(now: SystemTime, after: Duration) -> Result<jiff::Timestamp, TufError> {
    let at = now
        .checked_add(after)
        .ok_or_else(|| TufError::refused("expiry out of range"))?;
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| TufError::refused("time before 1970"))?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| TufError::refused("expiry out of range"))?;
    jiff::Timestamp::from_second(secs).map_err(TufError::refused_by)
}

/// The jiff form of a `SystemTime`.
pub(crate) fn timestamp(now: SystemTime) -> Result<jiff::Timestamp, TufError> {
    expiry(now, Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        assert_eq!(compare_versions("1.10.0", "1.9.3"), Ordering::Greater);
        assert_eq!(compare_versions("2.0", "2.0.1"), Ordering::Less);
        assert_eq!(compare_versions("3.1-rc1", "3.1-rc1"), Ordering::Equal);
        assert_eq!(compare_versions("10", "9"), Ordering::Greater);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"{", b"{\"signed\":{}}", b"[]", b"\xff\xfe"] {
            assert!(parse_role::<Root>(bytes, Path::new("x")).is_err());
            assert!(TrustedRoot::parse(bytes, Path::new("x")).is_err());
        }
    }
}
