//! The transaction directory and its journal: the begin record that binds the signed
//! manifest and root, progress records, `committed`, and retiring the directory.
//!
//! Recovery reads only `begin` and `committed`; progress records are for people.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::UpdateError;
use crate::manifest::Manifest;

use super::fsops::{fsync_dir, rename};
use super::io_at;

pub(super) const TXN: &str = "txn";
pub(super) const TXN_DONE: &str = "txn.done";
/// The journal, in the transaction directory.
pub(super) const JOURNAL_FILE: &str = "journal";
/// The current signed profile, in the state dir.
pub(super) const PROFILE_FILE: &str = "profile";
/// The last run's status record, in the state dir.
pub(super) const STATUS_FILE: &str = "status.json";
pub(super) const JOURNAL_MAGIC: &str = "medguard-journal-v1";

pub(super) struct Txn {
    pub(super) dir: PathBuf,
    pub(super) stage: PathBuf,
    pub(super) backup: PathBuf,
}

impl Txn {
    pub(super) fn at(state_dir: &Path) -> Self {
        let dir = state_dir.join(TXN);
        Self {
            stage: dir.join("stage"),
            backup: dir.join("backup"),
            dir,
        }
    }
}

pub(super) fn begin_journal(
    txn: &Txn,
    signed_manifest: &[u8],
    root: &Path,
) -> Result<(), UpdateError> {
    let manifest_path = txn.dir.join("manifest");
    medguard_host::write_atomically(&manifest_path, 0o644, |w| w.write_all(signed_manifest))?;
    let root = fs::canonicalize(root).map_err(io_at(root))?;
    let line = format!(
        "{JOURNAL_MAGIC} {} {}\n",
        blake3::hash(signed_manifest).to_hex(),
        medguard_profile::escape::escape(root.as_os_str().as_encoded_bytes())
    );
    // Atomic: a journal exists complete with its begin record, or not at all.
    medguard_host::write_atomically(&txn.dir.join(JOURNAL_FILE), 0o644, |w| {
        w.write_all(line.as_bytes())
    })?;
    fsync_dir(&txn.dir)
}

pub(super) struct Journal {
    pub(super) path: PathBuf,
    pub(super) file: File,
}

impl Journal {
    pub(super) fn open(txn: &Txn) -> Result<Self, UpdateError> {
        let path = txn.dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Ok(Self { path, file })
    }

    /// Appends a record; `durable` syncs it (progress records need not be: recovery does
    /// not depend on them).
    pub(super) fn record(&mut self, line: &str, durable: bool) -> Result<(), UpdateError> {
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| {
                if durable {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(io_at(&self.path))
    }
}

pub(super) fn finish_commit(state_dir: &Path, manifest: &Manifest) -> Result<(), UpdateError> {
    let path = state_dir.join(PROFILE_FILE);
    medguard_host::write_atomically(&path, 0o644, |w| w.write_all(&manifest.new_profile_text))?;
    retire(state_dir)
}

/// Deletes the transaction directory: first renamed away atomically, so a crash while
/// deleting never leaves a half-deleted journal that recovery would read.
pub(super) fn retire(state_dir: &Path) -> Result<(), UpdateError> {
    let txn = state_dir.join(TXN);
    let done = state_dir.join(TXN_DONE);
    if done.exists() {
        fs::remove_dir_all(&done).map_err(io_at(&done))?;
    }
    if txn.exists() {
        rename(&txn, &done)?;
        fsync_dir(state_dir)?;
        fs::remove_dir_all(&done).map_err(io_at(&done))?;
    }
    Ok(())
}
