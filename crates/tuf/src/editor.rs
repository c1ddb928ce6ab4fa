//! The vendor's TUF repository on disk: create it, stage bundles per device model, publish a
//! consistent snapshot, rotate keys.
//!
//! Layout (any static web server can serve `metadata/` and `targets/`):
//! - `metadata/N.root.json` for every root version (clients walk the chain from the one
//!   they trust), `metadata/root.json` a copy of the newest;
//! - `metadata/N.targets.json`, `metadata/N.MODEL.json` (one delegated targets role per device
//!   model, trusted only for `MODEL/*`), `metadata/N.snapshot.json`, `metadata/timestamp.json`;
//! - `targets/MODEL/SHA256.FILE` (consistent snapshot: a target's name carries its hash);
//! - `staged/` bundles added but not yet published (never served).
//!
//! Publishing writes every new versioned file first and `timestamp.json` last, by rename, so
//! a client refreshing during a publish sees either the old or the new repository whole.
//! This module must not trust its own files more than a client would: it re-reads them with
//! the same parser, and refuses to sign a role without a threshold of that role's keys.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tough::TargetName;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::schema::{
    DelegatedRole, Delegations, Hashes, Metafile, PathPattern, PathSet, RoleKeys, RoleType, Root,
    Signed, Snapshot, Target, Targets, Timestamp,
};

use crate::error::TufError;
use crate::keys::RoleKey;
use crate::metadata::{
    BundleInfo, SPEC_VERSION, TrustedRoot, expiry, file_bytes, parse_role, sign_role,
};

/// The keys for each top-level role. Delegated (per-model) roles use the targets keys.
#[derive(Debug, Default)]
pub struct RepoKeys {
    pub root: Vec<RoleKey>,
    pub targets: Vec<RoleKey>,
    pub snapshot: Vec<RoleKey>,
    pub timestamp: Vec<RoleKey>,
}

/// How to create a repository.
#[derive(Debug)]
pub struct InitOptions {
    /// Signatures needed for every top-level role.
    pub threshold: u64,
    /// How long the root stays valid.
    pub root_expires: Duration,
    /// Expiry of the first targets, snapshot and timestamp.
    pub publish: PublishOptions,
}

/// How long what `publish` signs stays valid, and the time it is signed at.
#[derive(Debug, Clone, Copy)]
pub struct PublishOptions {
    pub now: SystemTime,
    pub targets_expires: Duration,
    pub snapshot_expires: Duration,
    pub timestamp_expires: Duration,
}

impl PublishOptions {
    /// Defaults: targets 90 days, snapshot 30 days, timestamp 7 days.
    #[must_use]
    pub fn at(now: SystemTime) -> Self {
        const DAY: u64 = 86_400;
        Self {
            now,
            targets_expires: Duration::from_secs(90 * DAY),
            snapshot_expires: Duration::from_secs(30 * DAY),
            timestamp_expires: Duration::from_secs(7 * DAY),
        }
    }
}

/// A bundle to stage.
#[derive(Debug)]
pub struct AddOptions {
    /// Device models the bundle targets; one target per model.
    pub models: Vec<String>,
    /// The bundle's version (recorded in the target's custom metadata).
    pub bundle_version: String,
    /// The target's file name; defaults to the bundle's file name.
    pub name: Option<String>,
}

/// A key rotation.
#[derive(Debug)]
pub struct RotateOptions {
    /// `root`, `targets`, `snapshot` or `timestamp`.
    pub role: String,
    pub old: RoleKey,
    pub new: RoleKey,
    /// Further root keys, when the root threshold needs more signatures than old and new give.
    pub root_keys: Vec<RoleKey>,
    pub now: SystemTime,
    pub root_expires: Duration,
}

/// What a publish (or init, or rotation) wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub root_version: u64,
    pub targets_version: u64,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
    /// Delegated roles (device models) and their versions.
    pub models: BTreeMap<String, u64>,
    /// Targets published by this call.
    pub added: Vec<String>,
}

/// A bundle waiting in `staged/` for the next publish.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StagedTarget {
    model: String,
    file: String,
    bundle_version: String,
    length: u64,
    sha256: String,
}

impl StagedTarget {
    fn target_name(&self) -> String {
        format!("{}/{}", self.model, self.file)
    }
}

const TOP_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

fn metadata_dir(dir: &Path) -> PathBuf {
    dir.join("metadata")
}
fn staged_index(dir: &Path) -> PathBuf {
    dir.join("staged").join("index.json")
}

/// Device models and file names become path components and role names: keep them plain.
fn check_name(what: &'static str, name: &str) -> Result<(), TufError> {
    let bad = |reason| TufError::InvalidName {
        what,
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name.len() > 128 {
        return Err(bad("must be 1 to 128 characters"));
    }
    if name.starts_with('.') {
        return Err(bad("must not start with a dot"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
    {
        return Err(bad(
            "only letters, digits, '.', '_', '-' and '+' are allowed",
        ));
    }
    if what == "device model" && TOP_ROLES.contains(&name) {
        return Err(bad("is the name of a top-level TUF role"));
    }
    Ok(())
}

fn role_keys(role: &str, keys: &[RoleKey], threshold: u64) -> Result<RoleKeys, TufError> {
    let mut keyids: Vec<Decoded<Hex>> = Vec::new();
    for k in keys {
        let id = decode_id(k)?;
        if !keyids.contains(&id) {
            keyids.push(id);
        }
    }
    let have = keyids.len() as u64;
    let threshold = NonZeroU64::new(threshold).ok_or(TufError::Threshold {
        role: role.to_owned(),
        needed: 0,
        have,
    })?;
    if have < threshold.get() {
        return Err(TufError::Threshold {
            role: role.to_owned(),
            needed: threshold.get(),
            have,
        });
    }
    Ok(RoleKeys {
        keyids,
        threshold,
        _extra: HashMap::new(),
    })
}

fn decode_id(k: &RoleKey) -> Result<Decoded<Hex>, TufError> {
    hex::decode(k.key_id())
        .map(Decoded::from)
        .map_err(|e| TufError::key_by(k.path(), e))
}

/// The given keys that a role lists, checked against its threshold.
fn signers<'k>(
    role: &str,
    listed: &RoleKeys,
    keys: &'k [RoleKey],
) -> Result<Vec<&'k RoleKey>, TufError> {
    let mut out: Vec<&RoleKey> = Vec::new();
    for k in keys {
        let id = decode_id(k)?;
        if listed.keyids.contains(&id) && !out.iter().any(|o| o.key_id() == k.key_id()) {
            out.push(k);
        }
    }
    if (out.len() as u64) < listed.threshold.get() {
        return Err(TufError::Threshold {
            role: role.to_owned(),
            needed: listed.threshold.get(),
            have: out.len() as u64,
        });
    }
    Ok(out)
}

/// Replaces a metadata file durably (temporary file, fsync, rename, directory fsync), the
/// one way medguard replaces files.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TufError> {
    medguard_host::write_bytes_atomically(path, 0o644, bytes).map_err(write_error)
}

fn write_error(e: medguard_host::WriteError) -> TufError {
    TufError::Io {
        path: e.path,
        source: e.source,
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TufError> {
    std::fs::read(path).map_err(TufError::io(path))
}

/// The newest root in `metadata/`.
fn latest_root(dir: &Path) -> Result<TrustedRoot, TufError> {
    let meta = metadata_dir(dir);
    let mut best: Option<u64> = None;
    let entries = std::fs::read_dir(&meta).map_err(TufError::io(&meta))?;
    for entry in entries {
        let entry = entry.map_err(TufError::io(&meta))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_suffix(".root.json")
            .and_then(|v| v.parse::<u64>().ok())
        {
            best = best.max(Some(n));
        }
    }
    let n = best.ok_or_else(|| TufError::malformed(&meta, "no N.root.json: not a repository"))?;
    TrustedRoot::load(&meta.join(format!("{n}.root.json")))
}

/// Creates a repository: root version 1 and an empty first publish.
pub fn init(dir: &Path, keys: &RepoKeys, options: &InitOptions) -> Result<Published, TufError> {
    let meta = metadata_dir(dir);
    if meta.join("1.root.json").exists() {
        return Err(TufError::AlreadyExists {
            path: dir.to_owned(),
        });
    }
    for sub in ["metadata", "targets", "staged"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(TufError::io(&p))?;
    }
    let mut all_keys: HashMap<Decoded<Hex>, Key> = HashMap::new();
    for k in keys
        .root
        .iter()
        .chain(&keys.targets)
        .chain(&keys.snapshot)
        .chain(&keys.timestamp)
    {
        all_keys.insert(decode_id(k)?, k.public().clone());
    }
    let mut roles = HashMap::new();
    roles.insert(
        RoleType::Root,
        role_keys("root", &keys.root, options.threshold)?,
    );
    roles.insert(
        RoleType::Targets,
        role_keys("targets", &keys.targets, options.threshold)?,
    );
    roles.insert(
        RoleType::Snapshot,
        role_keys("snapshot", &keys.snapshot, options.threshold)?,
    );
    roles.insert(
        RoleType::Timestamp,
        role_keys("timestamp", &keys.timestamp, options.threshold)?,
    );
    let root = Root {
        spec_version: SPEC_VERSION.to_owned(),
        consistent_snapshot: true,
        version: NonZeroU64::MIN,
        expires: expiry(options.publish.now, options.root_expires)?,
        keys: all_keys,
        roles,
        _extra: HashMap::new(),
    };
    let root_listed = root
        .roles
        .get(&RoleType::Root)
        .ok_or_else(|| TufError::malformed(dir, "no root role"))?;
    let root_signers = signers("root", root_listed, &keys.root)?;
    let signed = sign_role(root, &root_signers)?;
    let bytes = file_bytes(&signed)?;
    write_file(&meta.join("1.root.json"), &bytes)?;
    write_file(&meta.join("root.json"), &bytes)?;
    publish(dir, keys, &options.publish)
}

fn read_staged(dir: &Path) -> Result<Vec<StagedTarget>, TufError> {
    let path = staged_index(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TufError::malformed_by(&path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(TufError::Io { path, source: e }),
    }
}

/// Stages a bundle for the next publish, once per device model. Returns the target names.
pub fn add(dir: &Path, bundle: &Path, options: &AddOptions) -> Result<Vec<String>, TufError> {
    add_all(dir, &[(bundle, options)])
}

/// Stages several bundles with one update of the staging index.
pub fn add_all(dir: &Path, bundles: &[(&Path, &AddOptions)]) -> Result<Vec<String>, TufError> {
    latest_root(dir)?;
    let mut index: BTreeMap<String, StagedTarget> = read_staged(dir)?
        .into_iter()
        .map(|e| (e.target_name(), e))
        .collect();
    let mut names = Vec::new();
    for (bundle, options) in bundles {
        for entry in stage(dir, bundle, options)? {
            names.push(entry.target_name());
            index.insert(entry.target_name(), entry);
        }
    }
    let index: Vec<&StagedTarget> = index.values().collect();
    let bytes = serde_json::to_vec_pretty(&index).map_err(TufError::refused_by)?;
    write_file(&staged_index(dir), &bytes)?;
    Ok(names)
}

/// Copies one bundle into `staged/` under its hash; returns its entries, one per model.
fn stage(dir: &Path, bundle: &Path, options: &AddOptions) -> Result<Vec<StagedTarget>, TufError> {
    let file = match &options.name {
        Some(n) => n.clone(),
        None => bundle
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| TufError::malformed(bundle, "no usable file name"))?,
    };
    check_name("bundle file name", &file)?;
    if options.models.is_empty() {
        return Err(TufError::InvalidName {
            what: "device model",
            name: String::new(),
            reason: "at least one device model is needed",
        });
    }
    for m in &options.models {
        check_name("device model", m)?;
    }
    if options.bundle_version.is_empty() {
        return Err(TufError::InvalidName {
            what: "bundle version",
            name: String::new(),
            reason: "must not be empty",
        });
    }
    let staged = dir.join("staged");
    std::fs::create_dir_all(&staged).map_err(TufError::io(&staged))?;
    // Copy and hash in one pass, so what is published is exactly what was hashed.
    let mut src = std::fs::File::open(bundle).map_err(TufError::io(bundle))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&staged).map_err(TufError::io(&staged))?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut length = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(TufError::io(bundle))?;
        let Some(chunk) = buf.get(..n) else { break };
        if chunk.is_empty() {
            break;
        }
        ctx.update(chunk);
        tmp.write_all(chunk).map_err(TufError::io(tmp.path()))?;
        length += n as u64;
    }
    let sha256 = hex::encode(ctx.finish());
    let payload = staged.join(&sha256);
    // The name is the content's hash, known only once it is written, so this cannot go
    // through `write_atomically`; it keeps the same durability by hand.
    tmp.as_file().sync_all().map_err(TufError::io(tmp.path()))?;
    tmp.persist(&payload).map_err(|e| TufError::Io {
        path: payload.clone(),
        source: e.error,
    })?;
    medguard_host::fsync_dir(&staged).map_err(write_error)?;
    Ok(options
        .models
        .iter()
        .map(|model| StagedTarget {
            model: model.clone(),
            file: file.clone(),
            bundle_version: options.bundle_version.clone(),
            length,
            sha256: sha256.clone(),
        })
        .collect())
}

/// The published state the next publish builds on.
struct Current {
    targets: Option<Signed<Targets>>,
    models: BTreeMap<String, Signed<Targets>>,
    snapshot_version: u64,
    timestamp_version: u64,
}

fn read_current(dir: &Path) -> Result<Current, TufError> {
    let meta = metadata_dir(dir);
    let ts_path = meta.join("timestamp.json");
    let ts_bytes = match std::fs::read(&ts_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Current {
                targets: None,
                models: BTreeMap::new(),
                snapshot_version: 0,
                timestamp_version: 0,
            });
        }
        Err(source) => {
            return Err(TufError::Io {
                path: ts_path,
                source,
            });
        }
    };
    let ts: Signed<Timestamp> = parse_role(&ts_bytes, &ts_path)?;
    let snap_version = ts
        .signed
        .meta
        .get("snapshot.json")
        .ok_or_else(|| TufError::malformed(&ts_path, "no snapshot.json entry"))?
        .version;
    let snap_path = meta.join(format!("{snap_version}.snapshot.json"));
    let snap: Signed<Snapshot> = parse_role(&read_file(&snap_path)?, &snap_path)?;
    let mut targets = None;
    let mut models = BTreeMap::new();
    for (file, m) in &snap.signed.meta {
        let Some(role) = file.strip_suffix(".json") else {
            continue;
        };
        let path = meta.join(format!("{}.{file}", m.version));
        let t: Signed<Targets> = parse_role(&read_file(&path)?, &path)?;
        if role == "targets" {
            targets = Some(t);
        } else {
            models.insert(role.to_owned(), t);
        }
    }
    Ok(Current {
        targets,
        models,
        snapshot_version: snap.signed.version.get(),
        timestamp_version: ts.signed.version.get(),
    })
}

fn next(v: u64) -> Result<NonZeroU64, TufError> {
    v.checked_add(1)
        .and_then(NonZeroU64::new)
        .ok_or_else(|| TufError::refused("version overflow"))
}

/// Signs and writes a new consistent snapshot with everything staged.
pub fn publish(
    dir: &Path,
    keys: &RepoKeys,
    options: &PublishOptions,
) -> Result<Published, TufError> {
    let root = latest_root(dir)?;
    let root_roles = &root.root().signed.roles;
    let role = |t: RoleType| {
        root_roles
            .get(&t)
            .ok_or_else(|| TufError::malformed(dir, format!("root lists no {t} role")))
    };
    let targets_listed = role(RoleType::Targets)?;
    let targets_signers = signers("targets", targets_listed, &keys.targets)?;
    let snapshot_signers = signers("snapshot", role(RoleType::Snapshot)?, &keys.snapshot)?;
    let timestamp_signers = signers("timestamp", role(RoleType::Timestamp)?, &keys.timestamp)?;

    let current = read_current(dir)?;
    let staged = read_staged(dir)?;
    let meta = metadata_dir(dir);

    // Delegated roles, one per model, signed by the targets keys.
    let mut models: BTreeMap<String, Targets> = current
        .models
        .into_iter()
        .map(|(name, s)| (name, s.signed))
        .collect();
    let mut added = Vec::new();
    for entry in &staged {
        let name = TargetName::new(entry.target_name()).map_err(|_| TufError::InvalidName {
            what: "target",
            name: entry.target_name(),
            reason: "not a safe TUF target name",
        })?;
        let sha =
            hex::decode(&entry.sha256).map_err(|e| TufError::malformed_by(staged_index(dir), e))?;
        let target = Target {
            length: entry.length,
            hashes: Hashes {
                sha256: sha.into(),
                _extra: HashMap::new(),
            },
            custom: BundleInfo {
                model: entry.model.clone(),
                bundle_version: entry.bundle_version.clone(),
            }
            .to_custom(),
            _extra: HashMap::new(),
        };
        let model_targets = models.entry(entry.model.clone()).or_insert_with(|| {
            Targets::new(
                SPEC_VERSION.to_owned(),
                NonZeroU64::MIN,
                jiff::Timestamp::UNIX_EPOCH,
            )
        });
        model_targets.targets.insert(name, target);
        added.push(entry.target_name());
    }

    // Payloads go in place before any metadata names them.
    for entry in &staged {
        let src = dir.join("staged").join(&entry.sha256);
        let out_dir = dir.join("targets").join(&entry.model);
        std::fs::create_dir_all(&out_dir).map_err(TufError::io(&out_dir))?;
        let dst = out_dir.join(format!("{}.{}", entry.sha256, entry.file));
        if !dst.exists() && std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(TufError::io(&dst))?;
        }
    }

    let targets_expires = expiry(options.now, options.targets_expires)?;
    let mut delegations = Delegations::new();
    for k in &targets_signers {
        delegations.keys.insert(decode_id(k)?, k.public().clone());
    }
    let mut snapshot_meta = HashMap::new();
    let mut model_versions = BTreeMap::new();
    for (model, mut t) in models {
        let version = if current_version_known(&t) {
            next(t.version.get())?
        } else {
            NonZeroU64::MIN
        };
        t.version = version;
        t.expires = targets_expires;
        t.spec_version = SPEC_VERSION.to_owned();
        let signed = sign_role(t, &targets_signers)?;
        write_file(
            &meta.join(format!("{version}.{model}.json")),
            &file_bytes(&signed)?,
        )?;
        delegations.roles.push(DelegatedRole {
            name: model.clone(),
            keyids: targets_listed.keyids.clone(),
            threshold: targets_listed.threshold,
            paths: PathSet::Paths(vec![
                PathPattern::new(format!("{model}/*")).map_err(TufError::refused_by)?,
            ]),
            terminating: true,
            targets: None,
        });
        snapshot_meta.insert(format!("{model}.json"), metafile(version));
        model_versions.insert(model, version.get());
    }

    let targets_version = next(current.targets.map_or(0, |t| t.signed.version.get()))?;
    let mut top = Targets::new(SPEC_VERSION.to_owned(), targets_version, targets_expires);
    top.delegations = Some(delegations);
    let top = sign_role(top, &targets_signers)?;
    write_file(
        &meta.join(format!("{targets_version}.targets.json")),
        &file_bytes(&top)?,
    )?;
    snapshot_meta.insert("targets.json".to_owned(), metafile(targets_version));

    let snapshot_version = next(current.snapshot_version)?;
    let mut snapshot = Snapshot::new(
        SPEC_VERSION.to_owned(),
        snapshot_version,
        expiry(options.now, options.snapshot_expires)?,
    );
    snapshot.meta = snapshot_meta;
    let snapshot = file_bytes(&sign_role(snapshot, &snapshot_signers)?)?;
    write_file(
        &meta.join(format!("{snapshot_version}.snapshot.json")),
        &snapshot,
    )?;

    let timestamp_version = next(current.timestamp_version)?;
    let mut timestamp = Timestamp::new(
        SPEC_VERSION.to_owned(),
        timestamp_version,
        expiry(options.now, options.timestamp_expires)?,
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &snapshot);
    let mut snap_file = metafile(snapshot_version);
    snap_file.length = Some(snapshot.len() as u64);
    snap_file.hashes = Some(Hashes {
        sha256: digest.as_ref().to_vec().into(),
        _extra: HashMap::new(),
    });
    timestamp.meta.insert("snapshot.json".to_owned(), snap_file);
    let timestamp = sign_role(timestamp, &timestamp_signers)?;
    // Last: until this rename, clients see the previous repository.
    write_file(&meta.join("timestamp.json"), &file_bytes(&timestamp)?)?;

    // Published: the staging area is emptied.
    for entry in &staged {
        let p = dir.join("staged").join(&entry.sha256);
        if p.exists() {
            std::fs::remove_file(&p).map_err(TufError::io(&p))?;
        }
    }
    let index = staged_index(dir);
    if index.exists() {
        std::fs::remove_file(&index).map_err(TufError::io(&index))?;
    }
    Ok(Published {
        root_version: root.version(),
        targets_version: targets_version.get(),
        snapshot_version: snapshot_version.get(),
        timestamp_version: timestamp_version.get(),
        models: model_versions,
        added,
    })
}

/// A delegated role read from disk has a real expiry; a new one has the epoch placeholder.
fn current_version_known(t: &Targets) -> bool {
    t.expires != jiff::Timestamp::UNIX_EPOCH
}

fn metafile(version: NonZeroU64) -> Metafile {
    Metafile {
        length: None,
        hashes: None,
        version,
        _extra: HashMap::new(),
    }
}

/// Writes root version N+1 with `old` replaced by `new` in `role`, signed by the old root's
/// keys and the new root's keys, so a client trusting version N accepts it.
pub fn rotate_key(dir: &Path, options: &RotateOptions) -> Result<Published, TufError> {
    let current = latest_root(dir)?;
    let old_root = &current.root().signed;
    let role_type = match options.role.as_str() {
        "root" => RoleType::Root,
        "targets" => RoleType::Targets,
        "snapshot" => RoleType::Snapshot,
        "timestamp" => RoleType::Timestamp,
        other => {
            return Err(TufError::InvalidName {
                what: "role",
                name: other.to_owned(),
                reason: "must be root, targets, snapshot or timestamp",
            });
        }
    };
    let old_id = decode_id(&options.old)?;
    let new_id = decode_id(&options.new)?;
    let mut root = old_root.clone();
    let listed = root
        .roles
        .get_mut(&role_type)
        .ok_or_else(|| TufError::malformed(dir, format!("root lists no {role_type} role")))?;
    let Some(pos) = listed.keyids.iter().position(|k| *k == old_id) else {
        return Err(TufError::KeyNotInRole {
            role: options.role.clone(),
            key_id: options.old.key_id().to_owned(),
        });
    };
    if listed.keyids.contains(&new_id) {
        listed.keyids.remove(pos);
    } else if let Some(slot) = listed.keyids.get_mut(pos) {
        *slot = new_id.clone();
    }
    root.keys.insert(new_id, options.new.public().clone());
    let still_used = root.roles.values().any(|r| r.keyids.contains(&old_id));
    if !still_used {
        root.keys.remove(&old_id);
    }
    root.version = next(old_root.version.get())?;
    root.expires = expiry(options.now, options.root_expires)?;

    let mut candidates: Vec<&RoleKey> = vec![&options.old, &options.new];
    candidates.extend(options.root_keys.iter());
    let in_root = |r: &Root, k: &RoleKey| {
        decode_id(k).is_ok_and(|id| {
            r.roles
                .get(&RoleType::Root)
                .is_some_and(|l| l.keyids.contains(&id))
        })
    };
    let sign_with: Vec<&RoleKey> = candidates
        .into_iter()
        .filter(|k| in_root(old_root, k) || in_root(&root, k))
        .collect();
    let signed = sign_role(root, &sign_with)?;
    // Both the trusted root and the new one must accept it, as a client checks.
    for (which, r) in [("old root", old_root), ("new root", &signed.signed)] {
        r.verify_role(&signed).map_err(|e| TufError::Threshold {
            role: format!("{which} ({e})"),
            needed: r
                .roles
                .get(&RoleType::Root)
                .map_or(1, |l| l.threshold.get()),
            have: sign_with.len() as u64,
        })?;
    }
    let version = signed.signed.version.get();
    let bytes = file_bytes(&signed)?;
    let meta = metadata_dir(dir);
    write_file(&meta.join(format!("{version}.root.json")), &bytes)?;
    write_file(&meta.join("root.json"), &bytes)?;
    let cur = read_current(dir)?;
    Ok(Published {
        root_version: version,
        targets_version: cur.targets.map_or(0, |t| t.signed.version.get()),
        snapshot_version: cur.snapshot_version,
        timestamp_version: cur.timestamp_version,
        models: cur
            .models
            .iter()
            .map(|(m, t)| (m.clone(), t.signed.version.get()))
            .collect(),
        added: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(check_name("device model", "CT-9000").is_ok());
        assert!(check_name("device model", "targets").is_err());
        assert!(check_name("device model", "../x").is_err());
        assert!(check_name("bundle file name", ".hidden").is_err());
        assert!(check_name("bundle file name", "a/b").is_err());
        assert!(check_name("bundle file name", "").is_err());
    }
}
