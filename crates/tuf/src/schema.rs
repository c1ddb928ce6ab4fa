//! The client's view of TUF metadata: the bytes a repository served ([`Unverified`]), and
//! the roles that passed their signature check ([`Verified`]).
//!
//! Signatures are checked over the canonical JSON of the `signed` object *as received*
//! (every field, known or not), like python-tuf, and the typed view is read from that same
//! object afterwards; nothing is re-serialised from our types. The types here are our own
//! because `tough`'s refuse what TUF allows (a target with SHA-512 hashes only) and are
//! written back in `tough`'s own serialisation. Keys, key ids and the signature check
//! itself are `tough`'s: a key set (the root's, or a delegating role's) is a
//! `tough::schema::Root` and verifies through [`tough::schema::Root::verify_role`].
//!
//! A [`Verified`] value can only be made here, by [`Unverified::verify`] against the keys
//! of the role above it; it keeps the exact bytes it came from, which is what the client
//! stores in its cache.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::num::NonZeroU64;
use std::str::FromStr as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::schema::{RoleKeys, RoleType, Root, Signature, Signed};

use crate::error::TufError;

/// The major version of the TUF specification this client follows.
const SPEC_MAJOR: &str = "1";

/// A metadata file as served, parsed but trusted for nothing.
#[derive(Debug)]
pub(crate) struct Unverified {
    /// The role the file was fetched (or read from the cache) as.
    role: String,
    bytes: Vec<u8>,
    signed: Value,
    signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct Envelope {
    signed: Value,
    signatures: Vec<Signature>,
}

/// A role that a threshold of its keys signed, with the bytes it came from.
#[derive(Debug, Clone)]
pub(crate) struct Verified<T> {
    pub(crate) role: T,
    pub(crate) bytes: Vec<u8>,
}

/// The fields every role shares.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Common {
    #[serde(rename = "_type")]
    kind: String,
    spec_version: String,
    version: NonZeroU64,
    expires: String,
}

/// A role's typed view: its `_type` and how to read it.
pub(crate) trait RoleKind: Sized {
    /// The `_type` the role must carry.
    const TYPE: &'static str;
    /// The key set in a root that signs this kind of role.
    const ROOT_ROLE: RoleType;
    fn version(&self) -> u64;
    fn expires(&self) -> jiff::Timestamp;
    fn from_value(value: &Value, common: Common) -> Result<Self, serde_json::Error>;
}

/// The root role, as `tough` reads it (its key ids are checked against the keys).
#[derive(Debug, Clone)]
pub(crate) struct RootRole(pub(crate) Root);

impl RoleKind for RootRole {
    const TYPE: &'static str = "root";
    const ROOT_ROLE: RoleType = RoleType::Root;
    fn version(&self) -> u64 {
        self.0.version.get()
    }
    fn expires(&self) -> jiff::Timestamp {
        self.0.expires
    }
    fn from_value(value: &Value, _: Common) -> Result<Self, serde_json::Error> {
        Root::deserialize(value).map(RootRole)
    }
}

/// What a timestamp or snapshot says about one metadata file.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MetaFile {
    pub(crate) version: NonZeroU64,
    pub(crate) length: Option<u64>,
    pub(crate) hashes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
struct MetaFields {
    meta: HashMap<String, MetaFile>,
}

/// The timestamp role: which snapshot is current.
#[derive(Debug, Clone)]
pub(crate) struct TimestampRole {
    pub(crate) version: u64,
    pub(crate) expires: jiff::Timestamp,
    pub(crate) snapshot: MetaFile,
}

impl RoleKind for TimestampRole {
    const TYPE: &'static str = "timestamp";
    const ROOT_ROLE: RoleType = RoleType::Timestamp;
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> jiff::Timestamp {
        self.expires
    }
    fn from_value(value: &Value, common: Common) -> Result<Self, serde_json::Error> {
        let mut fields = MetaFields::deserialize(value)?;
        let snapshot = fields
            .meta
            .remove("snapshot.json")
            .ok_or_else(|| serde::de::Error::missing_field("meta.snapshot.json"))?;
        Ok(Self {
            version: common.version.get(),
            expires: expires_of(&common)?,
            snapshot,
        })
    }
}

/// The snapshot role: the version (and maybe length and hashes) of every targets role.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotRole {
    pub(crate) version: u64,
    pub(crate) expires: jiff::Timestamp,
    pub(crate) meta: HashMap<String, MetaFile>,
}

impl RoleKind for SnapshotRole {
    const TYPE: &'static str = "snapshot";
    const ROOT_ROLE: RoleType = RoleType::Snapshot;
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> jiff::Timestamp {
        self.expires
    }
    fn from_value(value: &Value, common: Common) -> Result<Self, serde_json::Error> {
        let fields = MetaFields::deserialize(value)?;
        Ok(Self {
            version: common.version.get(),
            expires: expires_of(&common)?,
            meta: fields.meta,
        })
    }
}

/// A target file as a targets role describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TargetInfo {
    /// Its length in bytes.
    pub length: u64,
    /// Hex digests by algorithm name (`sha256`, `sha512`...); all of them are checked.
    pub hashes: BTreeMap<String, String>,
    /// The repository's own fields (medguard's are under [`crate::metadata::CUSTOM_KEY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
}

/// A role a targets role delegates to.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DelegatedRole {
    pub(crate) name: String,
    pub(crate) keyids: Vec<Decoded<Hex>>,
    pub(crate) threshold: NonZeroU64,
    #[serde(default)]
    pub(crate) terminating: bool,
    pub(crate) paths: Option<Vec<String>>,
    pub(crate) path_hash_prefixes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Delegations {
    pub(crate) keys: HashMap<Decoded<Hex>, Key>,
    pub(crate) roles: Vec<DelegatedRole>,
}

#[derive(Debug, Clone, Deserialize)]
struct TargetsFields {
    targets: HashMap<String, TargetInfo>,
    delegations: Option<Delegations>,
}

/// A targets role (the top-level one or a delegated one).
#[derive(Debug, Clone)]
pub(crate) struct TargetsRole {
    pub(crate) version: u64,
    pub(crate) expires: jiff::Timestamp,
    pub(crate) targets: HashMap<String, TargetInfo>,
    pub(crate) delegations: Option<Delegations>,
}

impl RoleKind for TargetsRole {
    const TYPE: &'static str = "targets";
    const ROOT_ROLE: RoleType = RoleType::Targets;
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> jiff::Timestamp {
        self.expires
    }
    fn from_value(value: &Value, common: Common) -> Result<Self, serde_json::Error> {
        let fields = TargetsFields::deserialize(value)?;
        if let Some(d) = &fields.delegations {
            let mut names = std::collections::HashSet::new();
            for role in &d.roles {
                if role.paths.is_some() && role.path_hash_prefixes.is_some() {
                    return Err(serde::de::Error::custom(format!(
                        "delegated role {:?} has both paths and path_hash_prefixes",
                        role.name
                    )));
                }
                if !names.insert(role.name.as_str()) {
                    return Err(serde::de::Error::custom(format!(
                        "delegated role {:?} is listed twice",
                        role.name
                    )));
                }
            }
        }
        Ok(Self {
            version: common.version.get(),
            expires: expires_of(&common)?,
            targets: fields.targets,
            delegations: fields.delegations,
        })
    }
}

fn expires_of(common: &Common) -> Result<jiff::Timestamp, serde_json::Error> {
    jiff::Timestamp::from_str(&common.expires).map_err(serde::de::Error::custom)
}

/// The `signed` object as received, handed to `tough`'s signature check: it serialises to
/// exactly what was signed.
pub(crate) struct AsSigned<'a, K> {
    pub(crate) value: &'a Value,
    pub(crate) version: NonZeroU64,
    pub(crate) expires: jiff::Timestamp,
    pub(crate) kind: PhantomData<K>,
}

impl<K> Serialize for AsSigned<'_, K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<K: RoleKind> tough::schema::Role for AsSigned<'_, K> {
    const TYPE: RoleType = K::ROOT_ROLE;
    fn expires(&self) -> jiff::Timestamp {
        self.expires
    }
    fn version(&self) -> NonZeroU64 {
        self.version
    }
    fn filename(&self, _consistent_snapshot: bool) -> String {
        format!("{}.json", K::TYPE)
    }
}

/// The keys that may sign a role, and how many must.
pub(crate) enum KeySet<'a> {
    /// A top-level role: the root's keys for it.
    Root(&'a Root),
    /// A delegated role: the delegating role's keys for it.
    Delegation(&'a Delegations, &'a DelegatedRole),
}

impl Unverified {
    /// Parses a file served as `role`. Never panics; refuses what is not a signed envelope.
    pub(crate) fn parse(role: &str, bytes: Vec<u8>) -> Result<Self, TufError> {
        let envelope: Envelope =
            serde_json::from_slice(&bytes).map_err(|e| TufError::malformed_by(role, e))?;
        Ok(Self {
            role: role.to_owned(),
            bytes,
            signed: envelope.signed,
            signatures: envelope.signatures,
        })
    }

    /// Checks the type, the spec version and a threshold of signatures by `keys`, then reads
    /// the role. The only way to a [`Verified`] role.
    pub(crate) fn verify<K: RoleKind>(self, keys: &KeySet<'_>) -> Result<Verified<K>, TufError> {
        let (role, common) = self.common::<K>()?;
        self.check_signatures::<K>(&role, &common, keys)?;
        let typed =
            K::from_value(&self.signed, common).map_err(|e| TufError::malformed_by(&role, e))?;
        Ok(Verified {
            role: typed,
            bytes: self.bytes,
        })
    }

    /// A new root: signed by a threshold of the trusted root's root keys, and of its own.
    pub(crate) fn verify_root(self, trusted: &Root) -> Result<Verified<RootRole>, TufError> {
        let (role, common) = self.common::<RootRole>()?;
        self.check_signatures::<RootRole>(&role, &common, &KeySet::Root(trusted))?;
        let typed = RootRole::from_value(&self.signed, common.clone())
            .map_err(|e| TufError::malformed_by(&role, e))?;
        self.check_signatures::<RootRole>(&role, &common, &KeySet::Root(&typed.0))?;
        Ok(Verified {
            role: typed,
            bytes: self.bytes,
        })
    }

    fn check_signatures<K: RoleKind>(
        &self,
        role: &str,
        common: &Common,
        keys: &KeySet<'_>,
    ) -> Result<(), TufError> {
        let expires = expires_of(common).map_err(|e| TufError::malformed_by(role, e))?;
        let as_signed = Signed {
            signed: AsSigned::<K> {
                value: &self.signed,
                version: common.version,
                expires,
                kind: PhantomData,
            },
            signatures: self.signatures.clone(),
        };
        let checked = match keys {
            KeySet::Root(root) => root.verify_role(&as_signed),
            KeySet::Delegation(delegations, delegated) => {
                delegation_keys(delegations, delegated).verify_role(&as_signed)
            }
        };
        checked.map_err(|e| TufError::BadSignature {
            role: role.to_owned(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        })
    }

    fn common<K: RoleKind>(&self) -> Result<(String, Common), TufError> {
        let role = self.role.clone();
        let common =
            Common::deserialize(&self.signed).map_err(|e| TufError::malformed_by(&role, e))?;
        if common.kind != K::TYPE {
            return Err(TufError::malformed(
                &role,
                format!("_type is {:?}, expected {:?}", common.kind, K::TYPE),
            ));
        }
        let mut parts = common.spec_version.split('.');
        let major = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if major != SPEC_MAJOR || !(1..=2).contains(&rest.len()) || !rest.iter().all(|p| numeric(p))
        {
            return Err(TufError::malformed(
                &role,
                format!("unsupported spec_version {:?}", common.spec_version),
            ));
        }
        Ok((role, common))
    }
}

/// A delegating role's keys for one delegated role, in the shape `tough` verifies with.
fn delegation_keys(delegations: &Delegations, role: &DelegatedRole) -> Root {
    let keys = role
        .keyids
        .iter()
        .filter_map(|id| Some((id.clone(), delegations.keys.get(id)?.clone())))
        .collect();
    Root {
        spec_version: crate::metadata::SPEC_VERSION.to_owned(),
        consistent_snapshot: false,
        version: NonZeroU64::MIN,
        expires: jiff::Timestamp::MAX,
        keys,
        roles: HashMap::from([(
            RoleType::Targets,
            RoleKeys {
                keyids: role.keyids.clone(),
                threshold: role.threshold,
                _extra: HashMap::new(),
            },
        )]),
        _extra: HashMap::new(),
    }
}

/// Parses `bytes` as a served file of each role kind the way the client does, up to and
/// including the signature check (a root against its own keys; the others against no keys
/// at all, so they are refused there), and reads each typed view without trusting it.
/// Trusts nothing; for the fuzz target. Never panics.
pub fn exercise_parser(bytes: &[u8]) {
    let Ok(unverified) = Unverified::parse("fuzz", bytes.to_vec()) else {
        return;
    };
    if let Ok((_, common)) = unverified.common::<RootRole>()
        && let Ok(root) = RootRole::from_value(&unverified.signed, common)
    {
        let _ = Unverified::parse("fuzz", bytes.to_vec()).and_then(|u| u.verify_root(&root.0));
    }
    read_unchecked::<TimestampRole>(&unverified);
    read_unchecked::<SnapshotRole>(&unverified);
    if let Some(targets) = read_unchecked::<TargetsRole>(&unverified) {
        for (name, target) in &targets.targets {
            let _ = target.bundle();
            let _ = target.check(name, bytes);
            if let Some(d) = &targets.delegations {
                for role in &d.roles {
                    let _ = crate::workflow::is_delegated(role, name);
                }
            }
        }
    }
}

fn read_unchecked<K: RoleKind>(u: &Unverified) -> Option<K> {
    let (_, common) = u.common::<K>().ok()?;
    K::from_value(&u.signed, common).ok()
}

impl Verified<RootRole> {
    pub(crate) fn root(&self) -> &Root {
        &self.role.0
    }
}

impl TargetInfo {
    /// Checks that `bytes` are this target `name`: its length and every hash given (at
    /// least one, each of an algorithm this client computes).
    pub fn check(&self, name: &str, bytes: &[u8]) -> Result<(), TufError> {
        if self.hashes.is_empty() {
            return Err(TufError::UnknownHashAlgorithm {
                name: name.to_owned(),
                algorithm: "(none given)".into(),
            });
        }
        crate::workflow::check_length_and_hashes(name, bytes, Some(self.length), Some(&self.hashes))
    }

    /// Reads the medguard fields, if the target has them.
    #[must_use]
    pub fn bundle(&self) -> Option<crate::metadata::BundleInfo> {
        let value = self.custom.as_ref()?.get(crate::metadata::CUSTOM_KEY)?;
        serde_json::from_value(value.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_not_a_panic() {
        for bytes in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"signed\":{},\"signatures\":[]}",
            b"{\"signed\":{\"_type\":\"targets\"},\"signatures\":[]}",
            b"\xff",
        ] {
            let root = tough::schema::Root {
                spec_version: "1.0.0".into(),
                consistent_snapshot: false,
                version: NonZeroU64::MIN,
                expires: jiff::Timestamp::MAX,
                keys: HashMap::new(),
                roles: HashMap::new(),
                _extra: HashMap::new(),
            };
            let verified = Unverified::parse("targets", bytes.to_vec())
                .and_then(|u| u.verify::<TargetsRole>(&KeySet::Root(&root)));
            assert!(verified.is_err());
        }
    }

    #[test]
    fn spec_version_must_be_1_x() {
        for (spec, ok) in [
            ("1.0.31", true),
            ("1.0", true),
            ("2.0.0", false),
            ("1", false),
            ("1.a.0", false),
        ] {
            let json = format!(
                r#"{{"signed":{{"_type":"snapshot","spec_version":"{spec}","version":1,"expires":"2030-01-01T00:00:00Z","meta":{{}}}},"signatures":[]}}"#
            );
            let u = Unverified::parse("snapshot", json.into_bytes()).unwrap();
            assert_eq!(u.common::<SnapshotRole>().is_ok(), ok, "{spec}");
        }
    }
}
