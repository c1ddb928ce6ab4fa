//! The device's TUF client: refresh the metadata, choose the newest bundle for this device's
//! model, download it into a file whose length and every hash match the verified metadata.
//!
//! The workflow itself (root walk, timestamp, snapshot, targets, delegation search, the
//! metadata cache) is [`crate::workflow`]; this module is its public face. It picks the
//! target, and downloads it itself so that an overlong or altered target is refused with its
//! own error while the bytes are still arriving. It writes only into `metadata_dir` and
//! `download_dir`, and a downloaded file appears under its final name only after it checked
//! out.

use std::cell::RefCell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use futures::StreamExt as _;
use tough::Transport as _;
use url::Url;

use crate::error::TufError;
use crate::metadata::{BundleInfo, TrustedRoot, compare_versions, timestamp};
use crate::schema::TargetInfo;
use crate::transport::{ClientTransport, Timeouts, transport_error};
use crate::workflow::{Digest, Fetcher, Session};

/// At most this many roles are read when listing a repository's bundles (one per device
/// model in a medguard repository).
const MAX_LISTED_ROLES: usize = 4096;

/// Where to fetch from, what to trust, and where to keep state.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Base URL of the repository (`http://`, `https://` or `file://`); metadata is under
    /// `metadata/`, targets under `targets/`.
    pub repo_url: String,
    /// The root the device was provisioned with.
    pub trusted_root: PathBuf,
    /// The device's cache of verified metadata (newest root, timestamp, snapshot...).
    pub metadata_dir: PathBuf,
    /// Where the bundle is written.
    pub download_dir: PathBuf,
    /// The device model; `None` takes bundles for any model.
    pub model: Option<String>,
    /// The time of this refresh, for expiry.
    pub now: SystemTime,
    /// How long to wait on the repository over HTTP(S).
    pub timeouts: Timeouts,
}

/// A bundle that TUF vouched for, on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchedBundle {
    /// The downloaded file.
    pub path: PathBuf,
    /// The target's name in the repository (`MODEL/FILE`).
    pub target: String,
    pub model: String,
    pub bundle_version: String,
    pub length: u64,
    /// The SHA-256 of the downloaded file (checked against the metadata if it gives one).
    pub sha256: String,
    /// Versions of the metadata the decision rests on.
    pub root_version: u64,
    pub targets_version: u64,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
}

fn base_url(s: &str) -> Result<Url, TufError> {
    let with_slash = if s.ends_with('/') {
        s.to_owned()
    } else {
        format!("{s}/")
    };
    Url::parse(&with_slash).map_err(|e| TufError::Transport {
        url: s.to_owned(),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })
}

fn join(base: &Url, path: &str) -> Result<Url, TufError> {
    base.join(path).map_err(|e| TufError::Transport {
        url: format!("{base}{path}"),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })
}

/// Refreshes the metadata and downloads the newest bundle for the device.
pub fn fetch(options: &FetchOptions) -> Result<FetchedBundle, TufError> {
    std::fs::create_dir_all(&options.download_dir).map_err(TufError::io(&options.download_dir))?;
    let anchor = TrustedRoot::load(&options.trusted_root)?;
    let base = base_url(&options.repo_url)?;
    let refreshed = refresh_with(
        join(&base, "metadata/")?,
        join(&base, "targets/")?,
        &anchor,
        &options.metadata_dir,
        options.now,
        ClientTransport::new(options.timeouts),
    )?;
    let (name, target, info) = refreshed.newest_bundle(options.model.as_deref())?;
    let file = name
        .rsplit_once('/')
        .map_or(name.as_str(), |(_, f)| f)
        .to_owned();
    let (path, sha256) = refreshed.download_target(&name, &target, &options.download_dir, &file)?;
    let [
        root_version,
        timestamp_version,
        snapshot_version,
        targets_version,
    ] = refreshed.session.borrow().versions();
    Ok(FetchedBundle {
        path,
        target: name,
        model: info.model,
        bundle_version: info.bundle_version,
        length: target.length,
        sha256,
        root_version,
        targets_version,
        snapshot_version,
        timestamp_version,
    })
}

/// Metadata that passed the TUF client workflow up to the top-level targets; delegated
/// roles are verified when a target is looked up ([`Self::target`], [`Self::download`]).
#[derive(Debug)]
pub struct Refreshed {
    session: RefCell<Session>,
    targets_url: Url,
}

/// Runs the TUF client workflow (root chain, timestamp, snapshot, top-level targets) from
/// the newer of `anchor` and the root saved in `metadata_dir`, keeping what it verified in
/// `metadata_dir` (one `ROLE.json` per role, the bytes as served), and checks expiry
/// against `now`. Over HTTP(S) it waits as long as [`Timeouts::default`] allows.
pub fn refresh(
    metadata_url: &str,
    targets_url: &str,
    anchor: &TrustedRoot,
    metadata_dir: &Path,
    now: SystemTime,
) -> Result<Refreshed, TufError> {
    refresh_with(
        base_url(metadata_url)?,
        base_url(targets_url)?,
        anchor,
        metadata_dir,
        now,
        ClientTransport::new(Timeouts::default()),
    )
}

/// [`refresh`] over HTTPS with the caller's TLS configuration: a fleet server's repository,
/// reached with the CA the device pins and the device's own certificate.
pub fn refresh_with_tls(
    metadata_url: &str,
    targets_url: &str,
    anchor: &TrustedRoot,
    metadata_dir: &Path,
    now: SystemTime,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Refreshed, TufError> {
    refresh_with(
        base_url(metadata_url)?,
        base_url(targets_url)?,
        anchor,
        metadata_dir,
        now,
        ClientTransport::with_tls(Timeouts::default(), Some(tls)),
    )
}

fn refresh_with(
    metadata_url: Url,
    targets_url: Url,
    anchor: &TrustedRoot,
    metadata_dir: &Path,
    now: SystemTime,
    transport: ClientTransport,
) -> Result<Refreshed, TufError> {
    let now = timestamp(now)?;
    let session = Session::refresh(
        anchor,
        metadata_dir,
        metadata_url,
        now,
        Fetcher::new(transport)?,
    )?;
    Ok(Refreshed {
        session: RefCell::new(session),
        targets_url,
    })
}

impl Refreshed {
    /// What the repository says about target `name`: the first role that lists it in a
    /// preorder depth-first search of the delegations, loading (and verifying) the roles the
    /// search visits. `None` if no role it may ask vouches for it.
    pub fn target(&self, name: &str) -> Result<Option<TargetInfo>, TufError> {
        self.session.borrow_mut().find_target(name)
    }

    /// Downloads target `name` into `dir/file`, checking length and hashes as it arrives.
    pub fn download(&self, name: &str, dir: &Path, file: &str) -> Result<PathBuf, TufError> {
        let target = self
            .target(name)?
            .ok_or_else(|| TufError::NoApplicableBundle {
                model: format!("(no target {name})"),
            })?;
        self.download_target(name, &target, dir, file)
            .map(|(path, _)| path)
    }

    /// The newest bundle for `model` (any model if `None`) that the search vouches for
    /// under the model's own path. A role that cannot be verified only loses its own
    /// bundles; if no bundle is left, its error is the answer.
    fn newest_bundle(
        &self,
        model: Option<&str>,
    ) -> Result<(String, TargetInfo, BundleInfo), TufError> {
        let mut session = self.session.borrow_mut();
        let mut errors = Vec::new();
        let names = session.target_names(MAX_LISTED_ROLES, &mut errors);
        let mut best: Option<(String, TargetInfo, BundleInfo)> = None;
        for name in names {
            if let Some(m) = model
                && !name.starts_with(&format!("{m}/"))
            {
                continue;
            }
            let target = match session.find_target(&name) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let Some(info) = target.bundle() else {
                continue;
            };
            if !name.starts_with(&format!("{}/", info.model))
                || model.is_some_and(|m| m != info.model)
            {
                continue;
            }
            let newer = best.as_ref().is_none_or(|(best_name, _, b)| {
                compare_versions(&info.bundle_version, &b.bundle_version)
                    .then_with(|| name.as_str().cmp(best_name.as_str()))
                    .is_gt()
            });
            if newer {
                best = Some((name, target, info));
            }
        }
        match (best, errors.into_iter().next()) {
            (Some(found), _) => Ok(found),
            (None, Some(err)) => Err(err),
            (None, None) => Err(TufError::NoApplicableBundle {
                model: model.unwrap_or("(any)").to_owned(),
            }),
        }
    }

    fn target_url(&self, name: &str, target: &TargetInfo) -> Result<Url, TufError> {
        let (dir, file) = match name.rsplit_once('/') {
            Some((d, f)) => (format!("{d}/"), f),
            None => (String::new(), name),
        };
        // Consistent snapshot: the file is fetched under its hash, so a mirror cannot serve
        // another version under the same name. Any hash the metadata gives names it.
        let hash = target
            .hashes
            .get("sha256")
            .or_else(|| target.hashes.values().next());
        match hash {
            Some(hash) if self.session.borrow().consistent_snapshot() => {
                join(&self.targets_url, &format!("{dir}{hash}.{file}"))
            }
            _ => join(&self.targets_url, name),
        }
    }

    /// Downloads `target` into `dir/file`; returns the path and the file's SHA-256.
    fn download_target(
        &self,
        name: &str,
        target: &TargetInfo,
        dir: &Path,
        file: &str,
    ) -> Result<(PathBuf, String), TufError> {
        let url = self.target_url(name, target)?;
        let session = self.session.borrow();
        let fetcher = session.fetcher();
        fetcher
            .runtime()
            .block_on(download(fetcher.transport(), &url, name, target, dir, file))
    }
}

/// Streams `url` into `dir/file`, refusing at the first byte past the metadata's length,
/// checking every hash the metadata gives (none given, or one this client cannot compute,
/// is a refusal before anything is fetched).
async fn download(
    transport: &ClientTransport,
    url: &Url,
    name: &str,
    target: &TargetInfo,
    dir: &Path,
    file: &str,
) -> Result<(PathBuf, String), TufError> {
    if target.hashes.is_empty() {
        return Err(TufError::UnknownHashAlgorithm {
            name: name.to_owned(),
            algorithm: "(none given)".into(),
        });
    }
    let mut digests = target
        .hashes
        .iter()
        .map(|(algorithm, expected)| Ok((Digest::new(name, algorithm)?, expected)))
        .collect::<Result<Vec<_>, TufError>>()?;
    let mut sha256 = Digest::new(name, "sha256")?;
    let mut stream = transport
        .fetch(url.clone())
        .await
        .map_err(|e| transport_error(url.as_str(), e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(TufError::io(dir))?;
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(url.as_str(), e))?;
        seen += chunk.len() as u64;
        if seen > target.length {
            return Err(TufError::TooLong {
                name: name.to_owned(),
                limit: target.length,
            });
        }
        for (digest, _) in &mut digests {
            digest.update(&chunk);
        }
        sha256.update(&chunk);
        tmp.write_all(&chunk).map_err(TufError::io(tmp.path()))?;
    }
    if seen != target.length {
        return Err(TufError::LengthMismatch {
            name: name.to_owned(),
            expected: target.length,
            actual: seen,
        });
    }
    for (digest, expected) in digests {
        digest.check(name, expected)?;
    }
    let sha256 = sha256.hex();
    tmp.as_file().sync_all().map_err(TufError::io(tmp.path()))?;
    let dest = dir.join(file);
    // Verified before it gets its name, so this cannot go through `write_atomically`; the
    // same durability by hand: file synced above, renamed, directory synced.
    tmp.persist(&dest).map_err(|e| TufError::Io {
        path: dest.clone(),
        source: e.error,
    })?;
    medguard_host::fsync_dir(dir).map_err(|e| TufError::Io {
        path: e.path,
        source: e.source,
    })?;
    Ok((dest, sha256))
}
