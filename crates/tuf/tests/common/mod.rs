//! A medguard-made repository in a temporary directory, and a device fetching from it.
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use medguard_tuf::{
    AddOptions, FetchOptions, FetchedBundle, InitOptions, PublishOptions, RepoKeys, RoleKey,
    Timeouts, TufError,
};

pub struct Lab {
    pub tmp: tempfile::TempDir,
    pub repo: PathBuf,
    pub key: PathBuf,
}

pub fn key(dir: &Path, name: &str) -> PathBuf {
    let (k, _, _) = medguard_digest::generate_key_pair(&dir.join(name)).unwrap();
    k
}

pub fn keys_of(path: &Path) -> RepoKeys {
    RepoKeys {
        root: vec![RoleKey::load(path).unwrap()],
        targets: vec![RoleKey::load(path).unwrap()],
        snapshot: vec![RoleKey::load(path).unwrap()],
        timestamp: vec![RoleKey::load(path).unwrap()],
    }
}

impl Lab {
    /// A repository with one key for every role, created at `now`.
    pub fn new(now: SystemTime) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let key = key(tmp.path(), "lab");
        let repo = tmp.path().join("repo");
        medguard_tuf::init(
            &repo,
            &keys_of(&key),
            &InitOptions {
                threshold: 1,
                root_expires: Duration::from_secs(365 * 86_400),
                publish: PublishOptions::at(now),
            },
        )
        .unwrap();
        Self { tmp, repo, key }
    }

    pub fn add(&self, model: &str, file: &str, version: &str, content: &[u8]) {
        let src = self.tmp.path().join(format!("src-{file}"));
        std::fs::write(&src, content).unwrap();
        medguard_tuf::add(
            &self.repo,
            &src,
            &AddOptions {
                models: vec![model.to_owned()],
                bundle_version: version.to_owned(),
                name: Some(file.to_owned()),
            },
        )
        .unwrap();
    }

    pub fn publish(&self, now: SystemTime) {
        medguard_tuf::publish(&self.repo, &keys_of(&self.key), &PublishOptions::at(now)).unwrap();
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.repo.display())
    }

    pub fn device(&self, name: &str) -> PathBuf {
        let d = self.tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    pub fn fetch(
        &self,
        device: &Path,
        model: &str,
        now: SystemTime,
    ) -> Result<FetchedBundle, TufError> {
        self.fetch_from(&self.url(), device, model, now, Timeouts::default())
    }

    /// Fetches from `url` (a server in front of this repository).
    pub fn fetch_from(
        &self,
        url: &str,
        device: &Path,
        model: &str,
        now: SystemTime,
        timeouts: Timeouts,
    ) -> Result<FetchedBundle, TufError> {
        medguard_tuf::fetch(&FetchOptions {
            repo_url: url.to_owned(),
            trusted_root: self.repo.join("metadata/1.root.json"),
            metadata_dir: device.join("tuf"),
            download_dir: device.join("downloads"),
            model: Some(model.to_owned()),
            now,
            timeouts,
        })
    }

    pub fn meta(&self, name: &str) -> PathBuf {
        self.repo.join("metadata").join(name)
    }
}

/// Nothing was downloaded onto the device.
pub fn assert_untouched(device: &Path) {
    let dl = device.join("downloads");
    let n = std::fs::read_dir(&dl).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "something was written to {}", dl.display());
}
