//! The bundle manifest: what a bundle changes, checked as a whole before anything uses it.
//!
//! The manifest is a JSON document inside the bundle's signed envelope. It is parsed only
//! after its signature verified (see `bundle`), and parsing validates everything a later
//! step relies on: every path is a [`BundlePath`], every operation is consistent with the
//! base profile it names (a replaced entry exists with the stated kind, an added one does
//! not, every ancestor is a real directory and never a symbolic link, also after the
//! operations before it), every blob lies inside the payload with a bounded expansion
//! ratio. A manifest that exists is one the installer can follow without re-checking
//! shape; it still checks the real file system as it goes.
//!
//! Paths and link targets are written as the profile format escapes them, so any byte
//! string survives JSON.
//!
//! Extended attributes are carried only in the namespaces [`is_carried_xattr`] names: file
//! capabilities (`security.capability`) and `user.*`. SELinux labels, ACLs (`system.*`),
//! `trusted.*` and other `security.*` attributes are refused when a bundle is made, as are
//! attributes on symbolic links, device files, FIFOs and sockets. Hard links are a
//! [`Change::HardLink`] to an earlier path of the same group.

use std::collections::BTreeMap;

use medguard_profile::escape::{escape, unescape};
use medguard_profile::{EntryKind, UnverifiedProfile, VerifiedProfile};
use serde::{Deserialize, Serialize};

use crate::UpdateError;
use crate::path::BundlePath;

/// The signing context of bundle manifests: a signature over a profile or an audit
/// checkpoint cannot be passed off as one over a bundle.
pub const BUNDLE_CONTEXT: &str = "medguard patch bundle v1";

/// The manifest format this crate writes and reads.
pub const FORMAT: u32 = 1;

/// A blob may expand to at most this many times its compressed size (plus
/// [`SMALL_BLOB`]): a decompression bomb is refused before any byte is written. zstd
/// reaches about 1:30,000 only on runs of one byte; real files stay far below.
pub const MAX_RATIO: u64 = 4096;
/// Blobs up to this size are exempt from the ratio bound.
pub const SMALL_BLOB: u64 = 1 << 20;

/// Kinds of entries a bundle can create or replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Link,
}

impl Kind {
    fn of(kind: EntryKind) -> Option<Kind> {
        match kind {
            EntryKind::File => Some(Kind::File),
            EntryKind::Dir => Some(Kind::Dir),
            EntryKind::Symlink => Some(Kind::Link),
            _ => None,
        }
    }
}

/// Owner and permissions of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ownership {
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// An extended attribute: name and value.
pub type Xattr = (Box<[u8]>, Box<[u8]>);

/// The largest extended attribute value carried (the Linux limit on most file systems).
pub const MAX_XATTR_VALUE: usize = 64 * 1024;

/// Whether bundles carry the extended attribute `name`: file capabilities and the `user.`
/// namespace. Everything else (SELinux labels, ACLs, `trusted.*`) is the device's own
/// policy, which a vendor's bundle must not silently rewrite.
#[must_use]
pub fn is_carried_xattr(name: &[u8]) -> bool {
    name == b"security.capability" || (name.starts_with(b"user.") && name.len() > 5)
}

/// What an operation puts at its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A directory.
    Mkdir(Ownership),
    /// A regular file with a blob's content.
    File {
        /// Index into [`Manifest::blobs`].
        blob: usize,
        /// Owner and mode.
        owner: Ownership,
        /// Modification time (seconds, nanoseconds).
        mtime: (i64, u32),
    },
    /// A symbolic link.
    Symlink {
        /// The link's target, as stored (never resolved by the installer).
        target: Box<[u8]>,
        /// Owner (a link's mode is not settable on Linux).
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// A hard link to the regular file at `to`, which an earlier operation (or the base
    /// tree) put there: the two paths then share one inode, its content, owner, mode and
    /// extended attributes.
    HardLink {
        /// The path linked to.
        to: BundlePath,
    },
    /// The entry (and everything below it) goes away.
    Remove,
    /// Only owner and mode change.
    Meta(Ownership),
}

/// One file operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Where.
    pub path: BundlePath,
    /// What the base tree has there (`None`: nothing).
    pub old: Option<Kind>,
    /// What to do.
    pub change: Change,
    /// The carried extended attributes (see [`is_carried_xattr`]) the entry ends with,
    /// sorted by name; `None` leaves them as they are (the profile's rules do not check
    /// extended attributes there). Only for files, directories and metadata changes.
    pub xattrs: Option<Vec<Xattr>>,
}

impl Operation {
    /// The kind of entry the operation leaves at its path (`None` after a removal).
    #[must_use]
    pub fn new_kind(&self) -> Option<Kind> {
        match &self.change {
            Change::Mkdir(_) => Some(Kind::Dir),
            Change::File { .. } => Some(Kind::File),
            Change::Symlink { .. } => Some(Kind::Link),
            Change::HardLink { .. } => Some(Kind::File),
            Change::Remove => None,
            Change::Meta(_) => self.old,
        }
    }
}

/// A compressed, content-addressed piece of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blob {
    /// BLAKE3 of the uncompressed content.
    #[serde(with = "hex_digest")]
    pub blake3: [u8; 32],
    /// Uncompressed size: the installer never writes more.
    pub size: u64,
    /// Offset of the zstd frame in the payload.
    pub offset: u64,
    /// Length of the zstd frame.
    pub compressed_size: u64,
}

/// A self-test the device runs after the install; a non-zero exit rolls the install back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfTest {
    /// Shell command (`sh -c`), run with `MEDGUARD_ROOT` set to the installed root.
    pub command: String,
    /// Killed (and counted as failed) after this many seconds.
    pub timeout_secs: u64,
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The bundle's version, as the vendor names it.
    pub version: String,
    /// Device models it applies to (empty: any).
    pub models: Vec<String>,
    /// When it was made, seconds since the epoch.
    pub created_unix: i64,
    /// The base tree's profile: the device must match it before anything is changed.
    pub base_profile: VerifiedProfile,
    /// BLAKE3 of the base profile's text.
    pub base_profile_blake3: [u8; 32],
    /// The base profile's text, as signed (kept so the manifest writes back byte for byte).
    pub base_profile_text: String,
    /// The new tree's profile, signed on its own so it can serve as the device's baseline.
    pub new_profile_text: Vec<u8>,
    /// Self-tests, in order.
    pub self_tests: Vec<SelfTest>,
    /// Owner and mode of the root directory itself, when they change.
    pub root: Option<Ownership>,
    /// Operations, in the order they are applied.
    pub operations: Vec<Operation>,
    /// Blobs.
    pub blobs: Vec<Blob>,
    /// Exact length of the payload that follows the manifest.
    pub payload_size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    format: u32,
    version: String,
    #[serde(default)]
    models: Vec<String>,
    created_unix: i64,
    #[serde(with = "hex_digest")]
    base_profile_blake3: [u8; 32],
    base_profile: String,
    new_profile: String,
    #[serde(default)]
    self_tests: Vec<SelfTest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root: Option<Ownership>,
    operations: Vec<RawOp>,
    blobs: Vec<Blob>,
    payload_size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum RawOp {
    Mkdir {
        path: String,
        #[serde(default)]
        old: Option<Kind>,
        #[serde(flatten)]
        owner: Ownership,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        xattrs: Option<RawXattrs>,
    },
    File {
        path: String,
        #[serde(default)]
        old: Option<Kind>,
        blob: usize,
        mode: u32,
        uid: u32,
        gid: u32,
        #[serde(default)]
        mtime: i64,
        #[serde(default)]
        mtime_nsec: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        xattrs: Option<RawXattrs>,
    },
    Link {
        path: String,
        #[serde(default)]
        old: Option<Kind>,
        to: String,
    },
    Symlink {
        path: String,
        #[serde(default)]
        old: Option<Kind>,
        target: String,
        uid: u32,
        gid: u32,
    },
    Remove {
        path: String,
        old: Kind,
    },
    Meta {
        path: String,
        old: Kind,
        #[serde(flatten)]
        owner: Ownership,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        xattrs: Option<RawXattrs>,
    },
}

/// Extended attributes as JSON: name (UTF-8) to value (hex).
type RawXattrs = BTreeMap<String, String>;

fn xattrs_from_raw(i: usize, raw: Option<RawXattrs>) -> Result<Option<Vec<Xattr>>, UpdateError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let pointer = format!("/operations/{i}/xattrs/{name}");
        if !is_carried_xattr(name.as_bytes()) || name.len() > 255 || name.contains('\0') {
            return Err(bad(
                pointer,
                "only security.capability and user.* extended attributes are carried",
            ));
        }
        let value = hex::decode(&value).map_err(|_| bad(pointer.clone(), "value is not hex"))?;
        if value.len() > MAX_XATTR_VALUE {
            return Err(bad(pointer, "value longer than 64 KiB"));
        }
        out.push((name.into_bytes().into(), value.into()));
    }
    // A BTreeMap is sorted by name already.
    Ok(Some(out))
}

fn xattrs_to_raw(x: Option<&Vec<Xattr>>) -> Option<RawXattrs> {
    x.map(|x| {
        x.iter()
            .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), hex::encode(v)))
            .collect()
    })
}

fn bad(pointer: impl Into<String>, reason: impl Into<String>) -> UpdateError {
    UpdateError::Manifest {
        pointer: pointer.into(),
        reason: reason.into(),
    }
}

impl Manifest {
    /// Parses and validates a manifest body (already verified by its envelope signature).
    pub fn from_json(body: &[u8]) -> Result<Manifest, UpdateError> {
        let raw: RawManifest = serde_json::from_slice(body)
            .map_err(|e| bad("", format!("line {} column {}: {e}", e.line(), e.column())))?;
        if raw.format != FORMAT {
            return Err(bad(
                "/format",
                format!("format {} (this medguard reads {FORMAT})", raw.format),
            ));
        }
        if raw.version.is_empty() || raw.version.len() > 256 {
            return Err(bad("/version", "empty or longer than 256 bytes"));
        }
        if *blake3::hash(raw.base_profile.as_bytes()).as_bytes() != raw.base_profile_blake3 {
            return Err(bad(
                "/base_profile_blake3",
                "does not match the base profile's text",
            ));
        }
        // The envelope's signature covers both profiles' text, so the base profile is as
        // trusted as the manifest itself. The new profile is signed again on its own so that
        // it can become the device's baseline; that signature is checked at install.
        let base_profile = UnverifiedProfile::parse(raw.base_profile.as_bytes())
            .and_then(UnverifiedProfile::accept_unsigned)
            .map_err(|e| bad("/base_profile", e.to_string()))?;
        UnverifiedProfile::parse(raw.new_profile.as_bytes())
            .map_err(|e| bad("/new_profile", e.to_string()))?;
        for (i, t) in raw.self_tests.iter().enumerate() {
            if t.command.is_empty() || t.command.contains('\0') {
                return Err(bad(
                    format!("/self_tests/{i}/command"),
                    "empty or contains NUL",
                ));
            }
            if t.timeout_secs == 0 || t.timeout_secs > 24 * 3600 {
                return Err(bad(
                    format!("/self_tests/{i}/timeout_secs"),
                    "must be 1 to 86400",
                ));
            }
        }
        if let Some(o) = &raw.root {
            check_mode("/root/mode", o.mode)?;
        }
        for (i, b) in raw.blobs.iter().enumerate() {
            let end = b.offset.checked_add(b.compressed_size);
            if end.is_none_or(|end| end > raw.payload_size) {
                return Err(bad(format!("/blobs/{i}"), "lies outside the payload"));
            }
            let bound = b
                .compressed_size
                .saturating_mul(MAX_RATIO)
                .saturating_add(SMALL_BLOB);
            if b.size > bound {
                return Err(bad(
                    format!("/blobs/{i}/size"),
                    format!(
                        "{} bytes from {} compressed exceeds the ratio bound 1:{MAX_RATIO}",
                        b.size, b.compressed_size
                    ),
                ));
            }
        }
        let mut operations = Vec::with_capacity(raw.operations.len());
        for (i, op) in raw.operations.into_iter().enumerate() {
            operations.push(convert_op(i, op, raw.blobs.len())?);
        }
        check_consistency(&base_profile, &operations)?;
        Ok(Manifest {
            version: raw.version,
            models: raw.models,
            created_unix: raw.created_unix,
            base_profile,
            base_profile_blake3: raw.base_profile_blake3,
            base_profile_text: raw.base_profile,
            new_profile_text: raw.new_profile.into_bytes(),
            self_tests: raw.self_tests,
            root: raw.root,
            operations,
            blobs: raw.blobs,
            payload_size: raw.payload_size,
        })
    }

    /// The manifest as JSON, the form [`Manifest::from_json`] reads.
    pub fn to_json(&self) -> Vec<u8> {
        let raw = RawManifest {
            format: FORMAT,
            version: self.version.clone(),
            models: self.models.clone(),
            created_unix: self.created_unix,
            base_profile_blake3: self.base_profile_blake3,
            base_profile: self.base_profile_text.clone(),
            new_profile: String::from_utf8_lossy(&self.new_profile_text).into_owned(),
            self_tests: self.self_tests.clone(),
            root: self.root,
            operations: self.operations.iter().map(to_raw).collect(),
            blobs: self.blobs.clone(),
            payload_size: self.payload_size,
        };
        serde_json::to_vec_pretty(&raw).unwrap_or_default()
    }

    /// Bytes the installer writes: the sum of the files' sizes.
    #[must_use]
    pub fn content_bytes(&self) -> u64 {
        self.operations
            .iter()
            .filter_map(|op| match op.change {
                Change::File { blob, .. } => self.blobs.get(blob).map(|b| b.size),
                _ => None,
            })
            .fold(0u64, u64::saturating_add)
    }
}

fn check_mode(pointer: &str, mode: u32) -> Result<(), UpdateError> {
    if mode > 0o7777 {
        return Err(bad(pointer, format!("mode {mode:o} has bits beyond 07777")));
    }
    Ok(())
}

fn convert_op(i: usize, op: RawOp, blobs: usize) -> Result<Operation, UpdateError> {
    let path_of = |text: &str| -> Result<BundlePath, UpdateError> {
        let bytes = unescape(text.as_bytes()).map_err(|_| UpdateError::UnsafePath {
            pointer: format!("/operations/{i}/path"),
            path: text.to_owned(),
            reason: "bad escape",
        })?;
        BundlePath::new(&bytes).map_err(|reason| UpdateError::UnsafePath {
            pointer: format!("/operations/{i}/path"),
            path: text.to_owned(),
            reason,
        })
    };
    let mode_at = |m| check_mode(&format!("/operations/{i}/mode"), m);
    Ok(match op {
        RawOp::Mkdir {
            path,
            old,
            owner,
            xattrs,
        } => {
            mode_at(owner.mode)?;
            Operation {
                path: path_of(&path)?,
                old,
                change: Change::Mkdir(owner),
                xattrs: xattrs_from_raw(i, xattrs)?,
            }
        }
        RawOp::File {
            path,
            old,
            blob,
            mode,
            uid,
            gid,
            mtime,
            mtime_nsec,
            xattrs,
        } => {
            mode_at(mode)?;
            if blob >= blobs {
                return Err(bad(format!("/operations/{i}/blob"), "no such blob"));
            }
            if mtime_nsec >= 1_000_000_000 {
                return Err(bad(format!("/operations/{i}/mtime_nsec"), "out of range"));
            }
            Operation {
                path: path_of(&path)?,
                old,
                change: Change::File {
                    blob,
                    owner: Ownership { mode, uid, gid },
                    mtime: (mtime, mtime_nsec),
                },
                xattrs: xattrs_from_raw(i, xattrs)?,
            }
        }
        RawOp::Link { path, old, to } => Operation {
            path: path_of(&path)?,
            old,
            change: Change::HardLink { to: path_of(&to)? },
            xattrs: None,
        },
        RawOp::Symlink {
            path,
            old,
            target,
            uid,
            gid,
        } => {
            let target = unescape(target.as_bytes())
                .map_err(|_| bad(format!("/operations/{i}/target"), "bad escape"))?;
            if target.is_empty() || target.contains(&0) || target.len() > 4096 {
                return Err(bad(
                    format!("/operations/{i}/target"),
                    "empty, too long or contains NUL",
                ));
            }
            Operation {
                path: path_of(&path)?,
                old,
                change: Change::Symlink {
                    target: target.into(),
                    uid,
                    gid,
                },
                xattrs: None,
            }
        }
        RawOp::Remove { path, old } => Operation {
            path: path_of(&path)?,
            old: Some(old),
            change: Change::Remove,
            xattrs: None,
        },
        RawOp::Meta {
            path,
            old,
            owner,
            xattrs,
        } => {
            mode_at(owner.mode)?;
            if old == Kind::Link && xattrs.is_some() {
                return Err(bad(
                    format!("/operations/{i}/xattrs"),
                    "extended attributes of symbolic links are not carried",
                ));
            }
            Operation {
                path: path_of(&path)?,
                old: Some(old),
                change: Change::Meta(owner),
                xattrs: xattrs_from_raw(i, xattrs)?,
            }
        }
    })
}

fn to_raw(op: &Operation) -> RawOp {
    let path = escape(op.path.as_bytes());
    match &op.change {
        Change::Mkdir(owner) => RawOp::Mkdir {
            path,
            old: op.old,
            owner: *owner,
            xattrs: xattrs_to_raw(op.xattrs.as_ref()),
        },
        Change::File { blob, owner, mtime } => RawOp::File {
            path,
            old: op.old,
            blob: *blob,
            mode: owner.mode,
            uid: owner.uid,
            gid: owner.gid,
            mtime: mtime.0,
            mtime_nsec: mtime.1,
            xattrs: xattrs_to_raw(op.xattrs.as_ref()),
        },
        Change::HardLink { to } => RawOp::Link {
            path,
            old: op.old,
            to: escape(to.as_bytes()),
        },
        Change::Symlink { target, uid, gid } => RawOp::Symlink {
            path,
            old: op.old,
            target: escape(target),
            uid: *uid,
            gid: *gid,
        },
        Change::Remove => RawOp::Remove {
            path,
            old: op.old.unwrap_or(Kind::File),
        },
        Change::Meta(owner) => RawOp::Meta {
            path,
            old: op.old.unwrap_or(Kind::File),
            owner: *owner,
            xattrs: xattrs_to_raw(op.xattrs.as_ref()),
        },
    }
}

/// Replays the operations over the base profile's kinds: each must find what it says it
/// replaces, and every ancestor of its path must be a real directory at that moment. This
/// is what refuses a path through a symbolic link (`lib -> /` then `lib/evil`) before
/// anything is written.
fn check_consistency(base: &VerifiedProfile, ops: &[Operation]) -> Result<(), UpdateError> {
    let mut tree: BTreeMap<Vec<u8>, Option<Kind>> = BTreeMap::new();
    for e in &base.profile().entries {
        if let Some(rel) = e.path.strip_prefix(b"/")
            && !rel.is_empty()
        {
            // Device files and the like are kept as `None`: present, not replaceable.
            tree.insert(rel.to_vec(), Kind::of(e.meta.kind));
        }
    }
    for (i, op) in ops.iter().enumerate() {
        let pointer = format!("/operations/{i}");
        for a in op.path.ancestors() {
            match tree.get(a) {
                Some(Some(Kind::Dir)) => {}
                Some(Some(Kind::Link)) => {
                    return Err(UpdateError::UnsafePath {
                        pointer,
                        path: op.path.display(),
                        reason: "an ancestor is a symbolic link",
                    });
                }
                _ => {
                    return Err(UpdateError::UnsafePath {
                        pointer,
                        path: op.path.display(),
                        reason: "an ancestor is not a directory of the base tree",
                    });
                }
            }
        }
        if let Change::HardLink { to } = &op.change {
            // The file linked to must be a regular file there at this moment, reached
            // through real directories only: a link can never point out of the root.
            let target_ok = to.as_bytes() != op.path.as_bytes()
                && to
                    .ancestors()
                    .all(|a| matches!(tree.get(a), Some(Some(Kind::Dir))))
                && matches!(tree.get(to.as_bytes()), Some(Some(Kind::File)));
            if !target_ok {
                return Err(bad(
                    format!("{pointer}/to"),
                    format!(
                        "{}: not a regular file of the tree at this point",
                        to.display()
                    ),
                ));
            }
        }
        let key = op.path.as_bytes().to_vec();
        let found = tree.get(&key);
        let matches = match (op.old, found) {
            (None, None) => true,
            (Some(k), Some(Some(f))) => k == *f,
            _ => false,
        };
        if !matches {
            return Err(bad(
                pointer,
                format!(
                    "{}: the operation expects {:?} but the tree has {:?} there",
                    op.path.display(),
                    op.old,
                    found.copied().flatten()
                ),
            ));
        }
        let replaces_dir = op.old == Some(Kind::Dir) && op.new_kind() != Some(Kind::Dir);
        if replaces_dir {
            // The directory goes away with everything below it.
            let mut prefix = key.clone();
            prefix.push(b'/');
            let below: Vec<Vec<u8>> = tree
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for k in below {
                tree.remove(&k);
            }
        }
        match op.new_kind() {
            Some(k) => tree.insert(key, Some(k)),
            None => tree.remove(&key),
        };
    }
    Ok(())
}

mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}
