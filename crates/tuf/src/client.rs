//! The device's TUF client: refresh the metadata, choose the newest bundle for this device's
//! model, download it into a file whose length and SHA-256 match the verified metadata.
//!
//! `tough` walks the root chain, checks signatures and thresholds, versions against the
//! metadata cached in `metadata_dir` (rollback), hashes and versions against the role above
//! (mix-and-match), and size limits (endless data). This module adds expiry against the
//! caller's clock, picks the target, and downloads it itself so that an overlong or altered
//! target is refused with its own error while the bytes are still arriving. It writes only
//! into `metadata_dir` and `download_dir`, and a downloaded file appears under its final name
//! only after it checked out.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use futures::StreamExt as _;
use tough::schema::{Role, Signed, Target};
use tough::{ExpirationEnforcement, RepositoryLoader, Transport as _};
use url::Url;

use crate::error::{TufError, from_tough};
use crate::metadata::{BundleInfo, TrustedRoot, compare_versions, timestamp};
use crate::transport::{ClientTransport, Timeouts, transport_error};

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

fn check_expiry<T: Role>(
    role: &str,
    signed: &Signed<T>,
    now: jiff::Timestamp,
) -> Result<(), TufError> {
    let expires = signed.signed.expires();
    if expires <= now {
        return Err(TufError::Expired {
            role: role.to_owned(),
            expires: expires.to_string(),
        });
    }
    Ok(())
}

/// The newer of the provisioned root and the one the loader saved in `metadata_dir` after
/// walking the chain (so a replayed older chain cannot take the device back).
fn trust_anchor(options: &FetchOptions) -> Result<TrustedRoot, TufError> {
    let provisioned = TrustedRoot::load(&options.trusted_root)?;
    let saved_path = options.metadata_dir.join("root.json");
    if saved_path.exists() {
        let saved = TrustedRoot::load(&saved_path)?;
        if saved.version() > provisioned.version() {
            return Ok(saved);
        }
    }
    Ok(provisioned)
}

/// Refreshes the metadata and downloads the newest bundle for the device.
pub fn fetch(options: &FetchOptions) -> Result<FetchedBundle, TufError> {
    crate::block_on(fetch_async(options))?
}

/// Metadata that passed the whole TUF client workflow; targets can be downloaded from it.
#[derive(Debug)]
pub struct Refreshed {
    repo: tough::Repository,
    targets_url: Url,
    transport: ClientTransport,
}

/// Runs the TUF client workflow (root chain, timestamp, snapshot, targets, delegations) from
/// `anchor`, keeping what it verified in `metadata_dir` under unversioned names, and checks
/// expiry against `now` as well as the system clock. Over HTTP(S) it waits as long as
/// [`Timeouts::default`] allows.
pub fn refresh(
    metadata_url: &str,
    targets_url: &str,
    anchor: &TrustedRoot,
    metadata_dir: &Path,
    now: SystemTime,
) -> Result<Refreshed, TufError> {
    crate::block_on(refresh_async(
        base_url(metadata_url)?,
        base_url(targets_url)?,
        anchor,
        metadata_dir,
        now,
        ClientTransport::new(Timeouts::default()),
    ))?
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
    crate::block_on(refresh_async(
        base_url(metadata_url)?,
        base_url(targets_url)?,
        anchor,
        metadata_dir,
        now,
        ClientTransport::with_tls(Timeouts::default(), Some(tls)),
    ))?
}

async fn refresh_async(
    metadata_url: Url,
    targets_url: Url,
    anchor: &TrustedRoot,
    metadata_dir: &Path,
    now: SystemTime,
    transport: ClientTransport,
) -> Result<Refreshed, TufError> {
    let now = timestamp(now)?;
    std::fs::create_dir_all(metadata_dir).map_err(TufError::io(metadata_dir))?;
    let repo = RepositoryLoader::new(&anchor.bytes(), metadata_url, targets_url.clone())
        .datastore(metadata_dir)
        .transport(transport.clone())
        .expiration_enforcement(ExpirationEnforcement::Safe)
        .load()
        .await
        .map_err(from_tough)?;
    check_expiry("root", repo.root(), now)?;
    check_expiry("timestamp", repo.timestamp(), now)?;
    check_expiry("snapshot", repo.snapshot(), now)?;
    check_expiry("targets", repo.targets(), now)?;
    if let Some(delegations) = &repo.targets().signed.delegations {
        for role in &delegations.roles {
            if let Some(t) = &role.targets {
                check_expiry(&role.name, t, now)?;
            }
        }
    }
    Ok(Refreshed {
        repo,
        targets_url,
        transport,
    })
}

impl Refreshed {
    /// The verified metadata.
    #[must_use]
    pub fn repository(&self) -> &tough::Repository {
        &self.repo
    }

    /// Downloads target `name` into `dir/file`, checking length and hash as it arrives.
    pub fn download(&self, name: &str, dir: &Path, file: &str) -> Result<PathBuf, TufError> {
        let target = self
            .repo
            .all_targets()
            .find(|(n, _)| n.raw() == name)
            .map(|(_, t)| t)
            .ok_or_else(|| TufError::NoApplicableBundle {
                model: format!("(no target {name})"),
            })?;
        let url = self.target_url(name, target)?;
        // A runtime of its own, so a client of its own: a connection kept alive by the
        // refresh's client belongs to the refresh's runtime, gone by now.
        let transport = self.transport.fresh();
        crate::block_on(download(&transport, &url, name, target, dir, file))?
    }

    fn target_url(&self, name: &str, target: &Target) -> Result<Url, TufError> {
        let sha256 = hex::encode(&target.hashes.sha256);
        let (dir, file) = match name.rsplit_once('/') {
            Some((d, f)) => (format!("{d}/"), f),
            None => (String::new(), name),
        };
        // Consistent snapshot: the file is fetched under its hash, so a mirror cannot serve
        // another version under the same name.
        if self.repo.root().signed.consistent_snapshot {
            join(&self.targets_url, &format!("{dir}{sha256}.{file}"))
        } else {
            join(&self.targets_url, name)
        }
    }
}

async fn fetch_async(options: &FetchOptions) -> Result<FetchedBundle, TufError> {
    std::fs::create_dir_all(&options.download_dir).map_err(TufError::io(&options.download_dir))?;
    let anchor = trust_anchor(options)?;
    let base = base_url(&options.repo_url)?;
    let refreshed = Box::pin(refresh_async(
        join(&base, "metadata/")?,
        join(&base, "targets/")?,
        &anchor,
        &options.metadata_dir,
        options.now,
        ClientTransport::new(options.timeouts),
    ))
    .await?;
    let repo = &refreshed.repo;

    let wanted = options.model.as_deref();
    let mut best: Option<(String, &Target, BundleInfo)> = None;
    for (name, target) in repo.all_targets() {
        let Some(info) = BundleInfo::of(target) else {
            continue;
        };
        let raw = name.raw();
        if !raw.starts_with(&format!("{}/", info.model)) {
            continue;
        }
        if wanted.is_some_and(|m| m != info.model) {
            continue;
        }
        let newer = best.as_ref().is_none_or(|(best_name, _, b)| {
            compare_versions(&info.bundle_version, &b.bundle_version)
                .then_with(|| raw.cmp(best_name.as_str()))
                .is_gt()
        });
        if newer {
            best = Some((raw.to_owned(), target, info));
        }
    }
    let Some((name, target, info)) = best else {
        return Err(TufError::NoApplicableBundle {
            model: wanted.unwrap_or("(any)").to_owned(),
        });
    };

    let sha256 = hex::encode(&target.hashes.sha256);
    let file = name
        .rsplit_once('/')
        .map_or(name.as_str(), |(_, f)| f)
        .to_owned();
    let url = refreshed.target_url(&name, target)?;
    let path = download(
        &refreshed.transport,
        &url,
        &name,
        target,
        &options.download_dir,
        &file,
    )
    .await?;
    Ok(FetchedBundle {
        path,
        target: name,
        model: info.model,
        bundle_version: info.bundle_version,
        length: target.length,
        sha256,
        root_version: repo.root().signed.version.get(),
        targets_version: repo.targets().signed.version.get(),
        snapshot_version: repo.snapshot().signed.version.get(),
        timestamp_version: repo.timestamp().signed.version.get(),
    })
}

/// Streams `url` into `dir/file`, refusing at the first byte past the metadata's length.
async fn download(
    transport: &ClientTransport,
    url: &Url,
    name: &str,
    target: &Target,
    dir: &Path,
    file: &str,
) -> Result<PathBuf, TufError> {
    let mut stream = transport
        .fetch(url.clone())
        .await
        .map_err(|e| transport_error(url.as_str(), e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(TufError::io(dir))?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
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
        ctx.update(&chunk);
        tmp.write_all(&chunk).map_err(TufError::io(tmp.path()))?;
    }
    if seen != target.length {
        return Err(TufError::LengthMismatch {
            name: name.to_owned(),
            expected: target.length,
            actual: seen,
        });
    }
    let actual = ctx.finish();
    if actual.as_ref() != target.hashes.sha256.as_ref() {
        return Err(TufError::HashMismatch {
            name: name.to_owned(),
            expected: hex::encode(&target.hashes.sha256),
            actual: hex::encode(actual.as_ref()),
        });
    }
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
    Ok(dest)
}
