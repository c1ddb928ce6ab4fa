//! The server's patch files on disk: candidate bundles (`DIR/bundles/BLAKE3.bundle`, kept by
//! content), the vendor keys bundles must be signed by (`DIR/trust/bundles/*.pub`), the rules
//! of the malware scan the server runs on a bundle's payload (`DIR/scan/rules/*.yar`,
//! `DIR/scan/hashes/*.hdb|*.hsb`), and the TUF repository devices update from
//! (`DIR/repository`, served under `/tuf/`).
//!
//! TUF keys: the server holds the online roles' keys (`DIR/keys/tuf/targets.key`,
//! `snapshot.key`, `timestamp.key`) and signs every release with them. The root key is made
//! once by `server init` in `DIR/offline/tuf-root.key` and must then leave the server with a
//! person (the key ceremony in `docs/key-ceremony.md`): it is needed again only to rotate a
//! role's key.
//!
//! This module only moves files and calls the bundle, scan and TUF libraries; what a bundle
//! must be and what a release needs are theirs and the patch record's to say.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use medguard_digest::PublicKey;
use medguard_patch::{BundleSummary, EvidenceKind, Reach};
use medguard_tuf::{AddOptions, InitOptions, PublishOptions, RepoKeys, RoleKey};
use medguard_update::{Change, UnverifiedBundle, VerifiedBundle};

use crate::ServerError;

/// Longest bundle accepted.
pub const MAX_BUNDLE_BYTES: usize = 512 << 20;

const ROLES: [&str; 3] = ["targets", "snapshot", "timestamp"];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |source| ServerError::Io {
        path: path.to_owned(),
        source,
    }
}

fn tuf_error(dir: &Path, e: impl std::fmt::Display) -> ServerError {
    ServerError::Settings {
        path: dir.to_owned(),
        reason: format!("TUF repository: {e}"),
    }
}

/// Creates the TUF repository and its keys if missing (part of `server init`). Returns the
/// files created, relative to the data directory.
///
/// # Errors
/// [`ServerError`].
pub fn ensure_repository(data: &Path) -> Result<Vec<String>, ServerError> {
    let repo = data.join("repository");
    if repo.join("metadata/1.root.json").exists() {
        return Ok(Vec::new());
    }
    let mut created = Vec::new();
    let keys = data.join("keys/tuf");
    let offline = data.join("offline");
    for dir in [
        &keys,
        &offline,
        &data.join("trust/bundles"),
        &data.join("scan/rules"),
        &data.join("scan/hashes"),
    ] {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let root_key = offline.join("tuf-root");
    if !root_key.with_extension("key").exists() {
        medguard_digest::generate_key_pair(&root_key).map_err(|e| tuf_error(&offline, e))?;
        created.push("offline/tuf-root.key".into());
    }
    for role in ROLES {
        let base = keys.join(role);
        if !base.with_extension("key").exists() {
            medguard_digest::generate_key_pair(&base).map_err(|e| tuf_error(&keys, e))?;
            created.push(format!("keys/tuf/{role}.key"));
        }
    }
    let mut repo_keys = online_keys(data)?;
    repo_keys.root = vec![load_key(&root_key.with_extension("key"))?];
    medguard_tuf::init(
        &repo,
        &repo_keys,
        &InitOptions {
            threshold: 1,
            root_expires: Duration::from_secs(5 * 365 * 86_400),
            publish: PublishOptions::at(SystemTime::now()),
        },
    )
    .map_err(|e| tuf_error(&repo, e))?;
    created.push("repository/metadata/1.root.json".into());
    Ok(created)
}

fn load_key(path: &Path) -> Result<RoleKey, ServerError> {
    RoleKey::load(path).map_err(|e| tuf_error(path, e))
}

fn online_keys(data: &Path) -> Result<RepoKeys, ServerError> {
    let key = |role: &str| load_key(&data.join(format!("keys/tuf/{role}.key")));
    Ok(RepoKeys {
        root: Vec::new(),
        targets: vec![key("targets")?],
        snapshot: vec![key("snapshot")?],
        timestamp: vec![key("timestamp")?],
    })
}

/// The vendor keys trusted to sign bundles.
///
/// # Errors
/// [`ServerError`] for an unreadable key.
pub fn bundle_keys(data: &Path) -> Result<Vec<PublicKey>, ServerError> {
    let dir = data.join("trust/bundles");
    let mut keys = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(keys);
    };
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        if path.extension().is_some_and(|e| e == "pub") {
            keys.push(PublicKey::load(&path).map_err(|e| ServerError::Settings {
                path: path.clone(),
                reason: e.to_string(),
            })?);
        }
    }
    Ok(keys)
}

/// Where a bundle with BLAKE3 `digest` is kept.
#[must_use]
pub fn bundle_path(data: &Path, digest: &str) -> PathBuf {
    data.join("bundles").join(format!("{digest}.bundle"))
}

/// Keeps an uploaded bundle by its BLAKE3 and verifies it against the trusted vendor keys.
/// A bundle that does not verify is removed again and refused.
///
/// # Errors
/// [`BundleRefused`] with the reason.
pub fn store_bundle(data: &Path, bytes: &[u8]) -> Result<(String, VerifiedBundle), BundleRefused> {
    let keys = bundle_keys(data).map_err(|e| BundleRefused(e.to_string()))?;
    if keys.is_empty() {
        return Err(BundleRefused(format!(
            "no vendor key is trusted to sign bundles: put it in {}",
            data.join("trust/bundles/VENDOR.pub").display()
        )));
    }
    let digest = blake3::hash(bytes).to_hex().to_string();
    let path = bundle_path(data, &digest);
    std::fs::create_dir_all(data.join("bundles"))
        .map_err(|e| BundleRefused(format!("keeping the bundle: {e}")))?;
    medguard_host::write_bytes_atomically(&path, 0o600, bytes)
        .map_err(|e| BundleRefused(format!("keeping the bundle: {e}")))?;
    let verified = UnverifiedBundle::open(&path).and_then(|b| b.verify(&keys));
    match verified {
        Ok(v) => Ok((digest, v)),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(BundleRefused(e.to_string()))
        }
    }
}

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BundleRefused(pub String);

/// What the impact analysis shows of a verified bundle.
#[must_use]
pub fn summary(digest: &str, bundle: &VerifiedBundle, reach: Vec<Reach>) -> BundleSummary {
    let m = bundle.manifest();
    let (mut added, mut removed, mut changed) = (0u64, 0u64, 0u64);
    let operations = m
        .operations
        .iter()
        .map(|op| {
            let verb = match (&op.change, op.old) {
                (Change::Remove, _) => {
                    removed += 1;
                    "remove"
                }
                (_, None) => {
                    added += 1;
                    "add"
                }
                (Change::Meta(_), Some(_)) => {
                    changed += 1;
                    "change metadata of"
                }
                (_, Some(_)) => {
                    changed += 1;
                    "replace"
                }
            };
            format!("{verb} /{}", op.path.display())
        })
        .collect();
    BundleSummary {
        digest: digest.to_owned(),
        version: m.version.clone(),
        models: m.models.clone(),
        signer: bundle.signer().to_string(),
        operations,
        profile_diff: (added, removed, changed),
        components_changed: Vec::new(),
        reach,
    }
}

/// The entries digest of the base profile a bundle installs over (the tree it expects).
#[must_use]
pub fn base_profile(bundle: &VerifiedBundle) -> String {
    medguard_profile::entries_digest(bundle.manifest().base_profile_text.as_bytes())
}

/// Runs the malware scan of a bundle's payload: every blob is unpacked (size and BLAKE3
/// checked by the bundle library) into a private temporary directory and scanned with the
/// server's rules.
///
/// # Errors
/// [`ServerError`] when there are no rules, or the bundle or the scan fails.
pub fn scan_bundle(data: &Path, digest: &str) -> Result<EvidenceKind, ServerError> {
    let keys = bundle_keys(data)?;
    let path = bundle_path(data, digest);
    let fail = |reason: String| ServerError::Settings {
        path: path.clone(),
        reason,
    };
    let bundle = UnverifiedBundle::open(&path)
        .and_then(|b| b.verify(&keys))
        .map_err(|e| fail(e.to_string()))?;
    let rule_files = files_with(&data.join("scan/rules"), &["yar", "yara"])?;
    let hash_files = files_with(&data.join("scan/hashes"), &["hdb", "hsb"])?;
    if rule_files.is_empty() && hash_files.is_empty() {
        return Err(fail(format!(
            "no scan rules: put YARA rules in {} or ClamAV hash lists in {}",
            data.join("scan/rules").display(),
            data.join("scan/hashes").display()
        )));
    }
    let rules = if rule_files.is_empty() {
        None
    } else {
        Some(medguard_scan::YaraRules::load(&rule_files).map_err(|e| fail(e.to_string()))?)
    };
    let mut hashes = medguard_scan::HashLists::new();
    for f in &hash_files {
        hashes.add_file(f).map_err(|e| fail(e.to_string()))?;
    }
    let work = tempfile::tempdir().map_err(io(data))?;
    let mut files = Vec::new();
    for index in 0..bundle.manifest().blobs.len() {
        let out = work.path().join(format!("blob-{index}"));
        let mut file = std::fs::File::create(&out).map_err(io(&out))?;
        bundle
            .extract(index, &mut file, &out.display().to_string())
            .map_err(|e| fail(e.to_string()))?;
        files.push(out);
    }
    let report = medguard_scan::scan(
        medguard_scan::Targets::Files(files),
        rules.as_ref(),
        &hashes,
        &medguard_scan::ScanOptions::default(),
        &medguard_scan::SystemClock,
        &medguard_profile::Progress::default(),
        &|_| {},
    )
    .map_err(|e| fail(e.to_string()))?;
    let names: Vec<String> = rule_files
        .iter()
        .chain(&hash_files)
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    Ok(EvidenceKind::MalwareScan {
        bundle: digest.to_owned(),
        files: report.summary.files,
        findings: report.summary.findings,
        rules: format!(
            "{} ({} YARA rules, {} hash signatures)",
            names.join(", "),
            report.summary.yara_rules,
            hashes.signatures().len()
        ),
    })
}

fn files_with(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, ServerError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Adds a released bundle to the TUF repository for its models and publishes it; returns the
/// target names (`MODEL/FILE`).
///
/// # Errors
/// [`ServerError`] when the repository refuses.
pub fn publish(
    data: &Path,
    digest: &str,
    version: &str,
    models: &[String],
    record: &str,
) -> Result<Vec<String>, ServerError> {
    let repo = data.join("repository");
    let keys = online_keys(data)?;
    let name = format!("{record}-{version}.bundle");
    let added = medguard_tuf::add(
        &repo,
        &bundle_path(data, digest),
        &AddOptions {
            models: models.to_vec(),
            bundle_version: version.to_owned(),
            name: Some(name),
        },
    )
    .map_err(|e| tuf_error(&repo, e))?;
    medguard_tuf::publish(&repo, &keys, &PublishOptions::at(SystemTime::now()))
        .map_err(|e| tuf_error(&repo, e))?;
    Ok(added)
}

/// A file of the TUF repository to serve, or `None` for a path outside it (or not there).
#[must_use]
pub fn served_file(data: &Path, path: &str) -> Option<PathBuf> {
    let (top, rest) = path.split_once('/')?;
    if !matches!(top, "metadata" | "targets") {
        return None;
    }
    // Names are `N.ROLE.json` and `MODEL/HASH.FILE`: nothing that climbs or hides.
    if rest.is_empty()
        || rest
            .split('/')
            .any(|part| part.is_empty() || part.starts_with('.'))
    {
        return None;
    }
    let full = data.join("repository").join(top).join(rest);
    full.is_file().then_some(full)
}
