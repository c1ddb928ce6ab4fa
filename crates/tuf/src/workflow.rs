//! The TUF client workflow (specification 1.0.x §5.3–5.7), the way python-tuf's `ngclient`
//! runs it: the root walk, timestamp, snapshot and top-level targets at refresh, and the
//! delegated roles only when a target is looked up, by a preorder depth-first search of the
//! delegation graph (paths, path hash prefixes, terminating delegations, at most
//! [`MAX_DELEGATIONS`] roles visited per search). A delegated role that is broken (bad
//! signature, expired, missing from the snapshot) therefore only denies the targets the
//! search would have asked it about.
//!
//! This module owns the device's metadata cache: each role the client trusts is stored as
//! `<role>.json` (the role name percent-encoded) holding the exact bytes the repository
//! served, never a re-serialisation. A cached file is only a candidate: it is verified again
//! (signatures against the current root or delegating role, and the snapshot's length and
//! hashes for targets roles) before it is used, and one that fails is ignored.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use tough::{Transport as _, TransportErrorKind};
use url::Url;

use crate::error::TufError;
use crate::metadata::TrustedRoot;
use crate::schema::{
    KeySet, MetaFile, RoleKind, RootRole, SnapshotRole, TargetInfo, TargetsRole, TimestampRole,
    Unverified, Verified,
};
use crate::transport::{ClientTransport, transport_error};

/// At most this many new root versions are taken in one refresh (python-tuf's default).
pub(crate) const MAX_ROOT_ROTATIONS: u64 = 256;
/// At most this many roles are visited in one target search (python-tuf's default).
pub(crate) const MAX_DELEGATIONS: usize = 32;
/// Size limits for metadata whose length no role above gives (python-tuf's defaults, but a
/// targets role may be larger: medguard lists a device model's bundles in one role).
const ROOT_MAX: u64 = 512_000;
const TIMESTAMP_MAX: u64 = 16_384;
const SNAPSHOT_MAX: u64 = 2_000_000;
const TARGETS_MAX: u64 = 10_000_000;

/// The top-level targets role's name, and the name the root goes by as a delegator.
const TARGETS: &str = "targets";
const ROOT: &str = "root";

/// A file fetched from the repository, or the answer that it is not there.
pub(crate) enum Fetched {
    Bytes(Vec<u8>),
    NotFound,
}

/// The transport with a runtime of its own (callers are synchronous), kept for the whole
/// session so connections are reused from refresh to download.
pub(crate) struct Fetcher {
    rt: tokio::runtime::Runtime,
    transport: ClientTransport,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub(crate) fn new(transport: ClientTransport) -> Result<Self, TufError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| TufError::Io {
                path: "<tokio runtime>".into(),
                source,
            })?;
        Ok(Self { rt, transport })
    }

    /// Fetches `url`, refusing at the first byte past `limit`.
    pub(crate) fn get(&self, url: &Url, name: &str, limit: u64) -> Result<Fetched, TufError> {
        self.rt.block_on(async {
            let mut stream = match self.transport.fetch(url.clone()).await {
                Ok(s) => s,
                Err(e) if e.kind() == TransportErrorKind::FileNotFound => {
                    return Ok(Fetched::NotFound);
                }
                Err(e) => return Err(transport_error(url.as_str(), e)),
            };
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) if bytes.is_empty() && e.kind() == TransportErrorKind::FileNotFound => {
                        return Ok(Fetched::NotFound);
                    }
                    Err(e) => return Err(transport_error(url.as_str(), e)),
                };
                if bytes.len() as u64 + chunk.len() as u64 > limit {
                    return Err(TufError::TooLong {
                        name: name.to_owned(),
                        limit,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Fetched::Bytes(bytes))
        })
    }

    /// Fetches `url`; "not there" is an error here.
    fn get_file(&self, url: &Url, name: &str, limit: u64) -> Result<Vec<u8>, TufError> {
        match self.get(url, name, limit)? {
            Fetched::Bytes(b) => Ok(b),
            Fetched::NotFound => Err(TufError::Transport {
                url: url.to_string(),
                reason: "not found".into(),
                source: None,
            }),
        }
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    pub(crate) fn transport(&self) -> &ClientTransport {
        &self.transport
    }
}

/// The trusted metadata of one refresh, and what it needs to load delegated roles later.
#[derive(Debug)]
pub(crate) struct Session {
    root: Verified<RootRole>,
    timestamp: Option<Verified<TimestampRole>>,
    snapshot: Option<Verified<SnapshotRole>>,
    /// Targets roles verified in this session, by the delegation path that reached them
    /// (`["targets", "a", "b"]`): a role that two roles delegate to is verified against
    /// each delegator it is reached through.
    targets: HashMap<Vec<String>, Verified<TargetsRole>>,
    now: jiff::Timestamp,
    dir: PathBuf,
    metadata_url: Url,
    fetcher: Fetcher,
}

/// A role name as a file name or URL path segment: percent-encoded but for letters, digits
/// and `-._~` (as python-tuf does), so `../x` or `a/b` stay one plain file name.
pub(crate) fn quote(role: &str) -> String {
    let mut out = String::with_capacity(role.len());
    for b in role.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn join(base: &Url, path: &str) -> Result<Url, TufError> {
    base.join(path).map_err(|e| TufError::Transport {
        url: format!("{base}{path}"),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })
}

/// Checks `data` against the length and every hash a role above gives for it.
pub(crate) fn check_length_and_hashes(
    name: &str,
    data: &[u8],
    length: Option<u64>,
    hashes: Option<&std::collections::BTreeMap<String, String>>,
) -> Result<(), TufError> {
    if let Some(expected) = length
        && data.len() as u64 != expected
    {
        return Err(TufError::LengthMismatch {
            name: name.to_owned(),
            expected,
            actual: data.len() as u64,
        });
    }
    for (algorithm, expected) in hashes.into_iter().flatten() {
        let mut digest = Digest::new(name, algorithm)?;
        digest.update(data);
        digest.check(name, expected)?;
    }
    Ok(())
}

/// One running digest of a hash algorithm TUF metadata names.
pub(crate) struct Digest {
    algorithm: String,
    ctx: aws_lc_rs::digest::Context,
}

impl Digest {
    /// SHA-256, SHA-384 and SHA-512 are known; any other name is refused (it cannot be
    /// checked, so what it vouches for cannot be trusted).
    pub(crate) fn new(name: &str, algorithm: &str) -> Result<Self, TufError> {
        let alg = match algorithm {
            "sha256" => &aws_lc_rs::digest::SHA256,
            "sha384" => &aws_lc_rs::digest::SHA384,
            "sha512" => &aws_lc_rs::digest::SHA512,
            _ => {
                return Err(TufError::UnknownHashAlgorithm {
                    name: name.to_owned(),
                    algorithm: algorithm.to_owned(),
                });
            }
        };
        Ok(Self {
            algorithm: algorithm.to_owned(),
            ctx: aws_lc_rs::digest::Context::new(alg),
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The hex digest.
    pub(crate) fn hex(self) -> String {
        hex::encode(self.ctx.finish().as_ref())
    }

    /// The hex digest, checked against the metadata's.
    pub(crate) fn check(self, name: &str, expected: &str) -> Result<String, TufError> {
        let actual = hex::encode(self.ctx.finish().as_ref());
        if actual != expected {
            return Err(TufError::HashMismatch {
                name: name.to_owned(),
                algorithm: self.algorithm,
                expected: expected.to_owned(),
                actual,
            });
        }
        Ok(actual)
    }
}

/// Does `target` match a delegation's path pattern? Both are split at `/` and must have as
/// many parts; each part matches with shell wildcards (`*`, `?`, `[...]`, `[!...]`), so
/// `*` never crosses a `/`. Case-sensitive.
pub(crate) fn path_matches(pattern: &str, target: &str) -> bool {
    let (p, t): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), target.split('/').collect());
    p.len() == t.len()
        && p.iter().zip(&t).all(|(p, t)| {
            let (p, t): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
            glob(&p, &t)
        })
}

/// Shell wildcard match of one path part (no `/` in either). Every token but `*` matches
/// exactly one character, so the greedy match with one backtrack point (the last `*`) is
/// exact and takes O(pattern × text) steps: a pattern in a (signed, but maybe hostile)
/// delegation cannot make a lookup exponential.
fn glob(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // After the last `*`: where the pattern resumes, and where in the text it was tried.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = t.get(ti) {
        if p.get(pi) == Some(&'*') {
            pi += 1;
            star = Some((pi, ti));
            continue;
        }
        if let Some(next) = match_one(p, pi, c) {
            pi = next;
            ti += 1;
            continue;
        }
        let Some((resume, tried)) = star else {
            return false;
        };
        pi = resume;
        ti = tried + 1;
        star = Some((resume, tried + 1));
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Does the token at `p[pi]` (not `*`) match `c`? Where the pattern goes on if so.
fn match_one(p: &[char], pi: usize, c: char) -> Option<usize> {
    match p.get(pi)? {
        '?' => Some(pi + 1),
        '[' => match p.get(pi + 1..).and_then(class) {
            Some((negated, set, consumed)) => {
                (set_contains(set, c) != negated).then_some(pi + 1 + consumed)
            }
            // An unclosed `[` is a literal.
            None => (c == '[').then_some(pi + 1),
        },
        other => (*other == c).then_some(pi + 1),
    }
}

/// A `[...]` class after its `[`: negated?, its members, and how many characters it takes
/// up to and including its `]`.
fn class(p: &[char]) -> Option<(bool, &[char], usize)> {
    let (negated, body) = match p.split_first() {
        Some(('!', rest)) => (true, rest),
        _ => (false, p),
    };
    // A `]` right after `[` or `[!` is a member, not the end.
    let start = usize::from(body.first() == Some(&']'));
    let end = body.iter().skip(start).position(|c| *c == ']')? + start;
    Some((negated, body.get(..end)?, usize::from(negated) + end + 1))
}

fn set_contains(set: &[char], c: char) -> bool {
    let mut i = 0;
    while let Some(&lo) = set.get(i) {
        if set.get(i + 1) == Some(&'-')
            && let Some(&hi) = set.get(i + 2)
        {
            if lo <= c && c <= hi {
                return true;
            }
            i += 3;
        } else {
            if lo == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// The delegation path to `child` through `path`.
fn child_path(path: &[String], child: &str) -> Vec<String> {
    let mut p = Vec::with_capacity(path.len() + 1);
    p.extend_from_slice(path);
    p.push(child.to_owned());
    p
}

/// Is `target` delegated to `role` by its paths or path hash prefixes?
pub(crate) fn is_delegated(role: &crate::schema::DelegatedRole, target: &str) -> bool {
    if let Some(paths) = &role.paths {
        return paths.iter().any(|p| path_matches(p, target));
    }
    if let Some(prefixes) = &role.path_hash_prefixes {
        let hash = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            target.as_bytes(),
        ));
        return prefixes.iter().any(|p| hash.starts_with(p.as_str()));
    }
    false
}

impl Session {
    /// Runs the refresh: root walk (§5.3), timestamp (§5.4), snapshot (§5.5) and top-level
    /// targets (§5.6), each checked against `now`.
    pub(crate) fn refresh(
        anchor: &TrustedRoot,
        dir: &Path,
        metadata_url: Url,
        now: jiff::Timestamp,
        fetcher: Fetcher,
    ) -> Result<Self, TufError> {
        std::fs::create_dir_all(dir).map_err(TufError::io(dir))?;
        let root = Self::trusted_root(anchor, dir)?;
        let mut session = Self {
            root,
            timestamp: None,
            snapshot: None,
            targets: HashMap::new(),
            now,
            dir: dir.to_owned(),
            metadata_url,
            fetcher,
        };
        session.update_root()?;
        session.update_timestamp()?;
        session.update_snapshot()?;
        session.load_targets(&[TARGETS.to_owned()])?;
        Ok(session)
    }

    /// The newer of the provisioned root and the one this cache saved.
    fn trusted_root(anchor: &TrustedRoot, dir: &Path) -> Result<Verified<RootRole>, TufError> {
        let provisioned =
            Unverified::parse(ROOT, anchor.bytes().to_vec())?.verify_root(&anchor.root().signed)?;
        let saved_path = dir.join("root.json");
        match std::fs::read(&saved_path) {
            Ok(bytes) => {
                let saved = TrustedRoot::parse(&bytes, &saved_path)?;
                if saved.version() > provisioned.role.version() {
                    return Unverified::parse(ROOT, bytes)?.verify_root(&saved.root().signed);
                }
                Ok(provisioned)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(provisioned),
            Err(e) => Err(TufError::io(saved_path)(e)),
        }
    }

    fn persist(&self, role: &str, bytes: &[u8]) -> Result<(), TufError> {
        let path = self.dir.join(format!("{}.json", quote(role)));
        medguard_host::write_bytes_atomically(&path, 0o644, bytes).map_err(|e| TufError::Io {
            path: e.path,
            source: e.source,
        })
    }

    fn local(&self, role: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(format!("{}.json", quote(role)))).ok()
    }

    fn check_expiry<K: RoleKind>(&self, role: &str, v: &Verified<K>) -> Result<(), TufError> {
        let expires = v.role.expires();
        if expires <= self.now {
            return Err(TufError::Expired {
                role: role.to_owned(),
                expires: expires.to_string(),
            });
        }
        Ok(())
    }

    /// §5.3: each next root, signed by the trusted root's keys and its own, with the next
    /// version number; stored as it arrives; the last one must not be expired.
    fn update_root(&mut self) -> Result<(), TufError> {
        for _ in 0..MAX_ROOT_ROTATIONS {
            let next = self.root.role.version() + 1;
            let name = format!("{next}.root.json");
            let url = join(&self.metadata_url, &name)?;
            let Fetched::Bytes(bytes) = self.fetcher.get(&url, &name, ROOT_MAX)? else {
                break;
            };
            let new = Unverified::parse(ROOT, bytes)?.verify_root(self.root.root())?;
            let offered = new.role.version();
            if offered != next {
                return Err(if offered < next {
                    TufError::Rollback {
                        role: ROOT.into(),
                        trusted: next - 1,
                        offered,
                    }
                } else {
                    TufError::MixAndMatch {
                        role: ROOT.into(),
                        reason: format!("{name} holds version {offered}"),
                    }
                });
            }
            self.persist(ROOT, &new.bytes)?;
            self.root = new;
        }
        self.check_expiry(ROOT, &self.root)
    }

    /// §5.4: the timestamp, no older than the one trusted; one of the same version changes
    /// nothing (the trusted one stays, as stored).
    fn update_timestamp(&mut self) -> Result<(), TufError> {
        let keys = KeySet::Root(self.root.root());
        if let Some(bytes) = self.local("timestamp") {
            self.timestamp = Unverified::parse("timestamp", bytes)
                .and_then(|u| u.verify::<TimestampRole>(&keys))
                .ok();
        }
        let url = join(&self.metadata_url, "timestamp.json")?;
        let bytes = self
            .fetcher
            .get_file(&url, "timestamp.json", TIMESTAMP_MAX)?;
        let new = Unverified::parse("timestamp", bytes)?.verify::<TimestampRole>(&keys)?;
        if let Some(old) = &self.timestamp {
            let (trusted, offered) = (old.role.version, new.role.version);
            if offered < trusted {
                return Err(TufError::Rollback {
                    role: "timestamp".into(),
                    trusted,
                    offered,
                });
            }
            if offered == trusted {
                return self.check_expiry("timestamp", old);
            }
            let (trusted, offered) = (
                old.role.snapshot.version.get(),
                new.role.snapshot.version.get(),
            );
            if offered < trusted {
                return Err(TufError::Rollback {
                    role: "snapshot (in timestamp)".into(),
                    trusted,
                    offered,
                });
            }
        }
        self.check_expiry("timestamp", &new)?;
        self.persist("timestamp", &new.bytes)?;
        self.timestamp = Some(new);
        Ok(())
    }

    fn timestamp(&self) -> Result<&Verified<TimestampRole>, TufError> {
        self.timestamp
            .as_ref()
            .ok_or_else(|| TufError::refused("no trusted timestamp"))
    }

    fn snapshot(&self) -> Result<&Verified<SnapshotRole>, TufError> {
        self.snapshot
            .as_ref()
            .ok_or_else(|| TufError::refused("no trusted snapshot"))
    }

    /// §5.5: the snapshot the timestamp names (length and hashes if it gives them), that
    /// drops no role and takes none back; the cached one if it still is that snapshot.
    fn update_snapshot(&mut self) -> Result<(), TufError> {
        if let Some(bytes) = self.local("snapshot") {
            let keys = KeySet::Root(self.root.root());
            if let Ok(cached) =
                Unverified::parse("snapshot", bytes).and_then(|u| u.verify::<SnapshotRole>(&keys))
            {
                self.snapshot = Some(cached);
                if self.check_final_snapshot().is_ok() {
                    return Ok(());
                }
            }
        }
        let meta = self.timestamp()?.role.snapshot.clone();
        let name = if self.root.root().consistent_snapshot {
            format!("{}.snapshot.json", meta.version)
        } else {
            "snapshot.json".to_owned()
        };
        let url = join(&self.metadata_url, &name)?;
        let bytes = self
            .fetcher
            .get_file(&url, &name, meta.length.unwrap_or(SNAPSHOT_MAX))?;
        check_length_and_hashes(&name, &bytes, meta.length, meta.hashes.as_ref())?;
        let keys = KeySet::Root(self.root.root());
        let new = Unverified::parse("snapshot", bytes)?.verify::<SnapshotRole>(&keys)?;
        if let Some(old) = &self.snapshot {
            for (file, info) in &old.role.meta {
                let Some(new_info) = new.role.meta.get(file) else {
                    return Err(TufError::MixAndMatch {
                        role: "snapshot".into(),
                        reason: format!("{file} was dropped from the snapshot"),
                    });
                };
                if new_info.version < info.version {
                    return Err(TufError::Rollback {
                        role: file.trim_end_matches(".json").to_owned(),
                        trusted: info.version.get(),
                        offered: new_info.version.get(),
                    });
                }
            }
        }
        self.snapshot = Some(new);
        self.check_final_snapshot()?;
        if let Some(s) = &self.snapshot {
            self.persist("snapshot", &s.bytes)?;
        }
        Ok(())
    }

    /// The trusted timestamp and snapshot are current and agree.
    fn check_final_snapshot(&self) -> Result<(), TufError> {
        let timestamp = self.timestamp()?;
        self.check_expiry("timestamp", timestamp)?;
        let snapshot = self.snapshot()?;
        self.check_expiry("snapshot", snapshot)?;
        let expected = timestamp.role.snapshot.version.get();
        if snapshot.role.version != expected {
            return Err(TufError::MixAndMatch {
                role: "snapshot".into(),
                reason: format!(
                    "version {} where the timestamp names {expected}",
                    snapshot.role.version
                ),
            });
        }
        Ok(())
    }

    fn snapshot_meta(&self, role: &str) -> Result<MetaFile, TufError> {
        self.snapshot()?
            .role
            .meta
            .get(&format!("{role}.json"))
            .cloned()
            .ok_or_else(|| TufError::MixAndMatch {
                role: role.to_owned(),
                reason: "the snapshot does not list it".into(),
            })
    }

    /// §5.6 (top-level) and §5.7.3 (delegated): the last role of `path`, as the role before
    /// it delegates to it (the root for the top-level targets), from this session, the
    /// cache, or the repository.
    fn load_targets(&mut self, path: &[String]) -> Result<(), TufError> {
        if self.targets.contains_key(path) {
            return Ok(());
        }
        let Some(role) = path.last() else {
            return Err(TufError::refused("an empty delegation path"));
        };
        let role = role.as_str();
        self.check_final_snapshot()?;
        let meta = self.snapshot_meta(role)?;
        if let Some(bytes) = self.local(role)
            && let Ok(cached) = self.verify_targets(bytes, path, &meta)
        {
            self.targets.insert(path.to_vec(), cached);
            return Ok(());
        }
        let name = if self.root.root().consistent_snapshot {
            format!("{}.{}.json", meta.version, quote(role))
        } else {
            format!("{}.json", quote(role))
        };
        let url = join(&self.metadata_url, &name)?;
        let bytes = self
            .fetcher
            .get_file(&url, &name, meta.length.unwrap_or(TARGETS_MAX))?;
        let new = self.verify_targets(bytes, path, &meta)?;
        self.persist(role, &new.bytes)?;
        self.targets.insert(path.to_vec(), new);
        Ok(())
    }

    fn verify_targets(
        &self,
        bytes: Vec<u8>,
        path: &[String],
        meta: &MetaFile,
    ) -> Result<Verified<TargetsRole>, TufError> {
        let (role, delegator) = match path {
            [role] => (role.as_str(), None),
            [delegator @ .., role] => (role.as_str(), Some(delegator)),
            [] => return Err(TufError::refused("an empty delegation path")),
        };
        check_length_and_hashes(
            &format!("{role}.json"),
            &bytes,
            meta.length,
            meta.hashes.as_ref(),
        )?;
        let unverified = Unverified::parse(role, bytes)?;
        let new = if let Some(delegator) = delegator {
            let delegations = self
                .targets
                .get(delegator)
                .and_then(|d| d.role.delegations.as_ref())
                .ok_or_else(|| {
                    TufError::refused(format!(
                        "{} delegates to no role {role}",
                        delegator.join(" > ")
                    ))
                })?;
            let entry = delegations
                .roles
                .iter()
                .find(|r| r.name == role)
                .ok_or_else(|| {
                    TufError::refused(format!(
                        "{} delegates to no role {role}",
                        delegator.join(" > ")
                    ))
                })?;
            unverified.verify::<TargetsRole>(&KeySet::Delegation(delegations, entry))?
        } else {
            unverified.verify::<TargetsRole>(&KeySet::Root(self.root.root()))?
        };
        if new.role.version != meta.version.get() {
            return Err(TufError::MixAndMatch {
                role: role.to_owned(),
                reason: format!(
                    "fetched version {}, the snapshot names {}",
                    new.role.version, meta.version
                ),
            });
        }
        self.check_expiry(role, &new)?;
        Ok(new)
    }

    /// §5.7: the target `name` as the first role that vouches for it in a preorder
    /// depth-first search of the delegations says, or `None`.
    pub(crate) fn find_target(&mut self, name: &str) -> Result<Option<TargetInfo>, TufError> {
        let mut to_visit: Vec<Vec<String>> = vec![vec![TARGETS.to_owned()]];
        let mut visited: HashSet<String> = HashSet::new();
        while visited.len() <= MAX_DELEGATIONS {
            let Some(path) = to_visit.pop() else {
                break;
            };
            let Some(role) = path.last() else {
                continue;
            };
            if visited.contains(role) {
                continue;
            }
            self.load_targets(&path)?;
            let Some(targets) = self.targets.get(&path) else {
                break;
            };
            if let Some(found) = targets.role.targets.get(name) {
                return Ok(Some(found.clone()));
            }
            let mut children = Vec::new();
            if let Some(delegations) = &targets.role.delegations {
                for child in &delegations.roles {
                    if !is_delegated(child, name) {
                        continue;
                    }
                    children.push(child_path(&path, &child.name));
                    if child.terminating {
                        to_visit.clear();
                        break;
                    }
                }
            }
            visited.insert(role.clone());
            to_visit.extend(children.into_iter().rev());
        }
        Ok(None)
    }

    /// Every target name some role reachable from the top-level targets lists (visiting at
    /// most `max_roles` roles), for a caller that chooses among them and then looks each
    /// up with [`Self::find_target`]. A role that cannot be loaded is skipped and its error
    /// kept in `errors`.
    pub(crate) fn target_names(
        &mut self,
        max_roles: usize,
        errors: &mut Vec<TufError>,
    ) -> Vec<String> {
        let mut names = Vec::new();
        let mut to_visit: Vec<Vec<String>> = vec![vec![TARGETS.to_owned()]];
        let mut visited: HashSet<String> = HashSet::new();
        while visited.len() < max_roles {
            let Some(path) = to_visit.pop() else {
                break;
            };
            let Some(role) = path.last() else {
                continue;
            };
            if !visited.insert(role.clone()) {
                continue;
            }
            if let Err(e) = self.load_targets(&path) {
                errors.push(e);
                continue;
            }
            let Some(targets) = self.targets.get(&path) else {
                continue;
            };
            names.extend(targets.role.targets.keys().cloned());
            if let Some(delegations) = &targets.role.delegations {
                to_visit.extend(
                    delegations
                        .roles
                        .iter()
                        .rev()
                        .map(|child| child_path(&path, &child.name)),
                );
            }
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    pub(crate) fn consistent_snapshot(&self) -> bool {
        self.root.root().consistent_snapshot
    }

    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Versions of root, timestamp, snapshot and top-level targets.
    pub(crate) fn versions(&self) -> [u64; 4] {
        [
            self.root.role.version(),
            self.timestamp.as_ref().map_or(0, |t| t.role.version),
            self.snapshot.as_ref().map_or(0, |s| s.role.version),
            self.targets
                .get([TARGETS.to_owned()].as_slice())
                .map_or(0, |t| t.role.version),
        ]
    }
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod repository_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_quoted_into_one_plain_file_name() {
        assert_eq!(quote("CT-9000"), "CT-9000");
        assert_eq!(quote("../delegatedrole"), "..%2Fdelegatedrole");
        assert_eq!(quote("/a?#"), "%2Fa%3F%23");
        assert_eq!(quote("é"), "%C3%A9");
    }

    #[test]
    fn path_patterns_match_part_by_part() {
        for (pattern, target, want) in [
            ("*", "foo", true),
            ("*", "a/b", false),
            ("*/*", "a/b", true),
            ("CT-9000/*", "CT-9000/x.mgb", true),
            ("CT-9000/*", "MR-500/x.mgb", false),
            ("foo?", "foo1", true),
            ("foo?", "foo", false),
            ("foo?", "foo12", false),
            ("Foo", "foo", false),
            ("f[a-c]o", "fbo", true),
            ("f[!a-c]o", "fbo", false),
            ("f[!a-c]o", "fzo", true),
            ("f[]]o", "f]o", true),
            ("f[o", "f[o", true),
            ("*.txt", "a.txt", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*x", "abx", true),
            ("a*", "a", true),
            ("**", "", true),
            ("?", "", false),
            ("[", "[", true),
        ] {
            assert_eq!(path_matches(pattern, target), want, "{pattern} {target}");
        }
    }

    #[test]
    fn a_hostile_pattern_is_not_exponential() {
        // Naive backtracking takes ~60^20 steps here; ours a few thousand.
        let pattern = "*a".repeat(20) + "b";
        let target = "a".repeat(60);
        assert!(!path_matches(&pattern, &target));
        assert!(path_matches(&pattern, &(target + "b")));
    }

    #[test]
    fn every_hash_given_is_checked() {
        let data = b"target file contents";
        let sha256 = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data));
        let sha512 = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, data));
        let hashes = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, h)| ((*a).to_owned(), (*h).to_owned()))
                .collect()
        };
        let ok = hashes(&[("sha512", &sha512)]);
        check_length_and_hashes("t", data, Some(20), Some(&ok)).unwrap();
        let both = hashes(&[("sha256", &sha256), ("sha512", &sha512)]);
        check_length_and_hashes("t", data, None, Some(&both)).unwrap();
        let one_wrong = hashes(&[("sha256", &sha256), ("sha512", &sha256)]);
        assert!(matches!(
            check_length_and_hashes("t", data, None, Some(&one_wrong)),
            Err(TufError::HashMismatch { ref algorithm, .. }) if algorithm == "sha512"
        ));
        let unknown = hashes(&[("sha256", &sha256), ("md5", "00")]);
        assert!(matches!(
            check_length_and_hashes("t", data, None, Some(&unknown)),
            Err(TufError::UnknownHashAlgorithm { .. })
        ));
        assert!(matches!(
            check_length_and_hashes("t", data, Some(21), None),
            Err(TufError::LengthMismatch { .. })
        ));
    }
}
