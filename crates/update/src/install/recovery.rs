//! Finishing or undoing an install that a crash interrupted.

use std::fs::{self};
use std::io::{self};
use std::path::{Path, PathBuf};

use medguard_digest::UnverifiedDocument;

use crate::UpdateError;
use crate::manifest::Manifest;

use super::apply::rollback;
use super::fsops::FromBytesCompat as _;
use super::journal::{JOURNAL_FILE, JOURNAL_MAGIC, TXN_DONE, Txn, finish_commit, retire};
use super::{Recovered, Step, io_at, lock_state_dir};

/// Finishes or undoes an install that a crash interrupted (nothing to do: `None`).
pub fn recover(
    state_dir: &Path,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<Option<Recovered>, UpdateError> {
    if !state_dir.exists() {
        return Ok(None);
    }
    let _lock = lock_state_dir(state_dir)?;
    recover_locked(state_dir, observer)
}

pub(super) fn recover_locked(
    state_dir: &Path,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<Option<Recovered>, UpdateError> {
    let txn = Txn::at(state_dir);
    let done = state_dir.join(TXN_DONE);
    if done.exists() {
        fs::remove_dir_all(&done).map_err(io_at(&done))?;
    }
    if !txn.dir.exists() {
        return Ok(None);
    }
    let journal_path = txn.dir.join(JOURNAL_FILE);
    let journal_err = |reason: String| UpdateError::Journal {
        path: journal_path.clone(),
        reason,
    };
    let text = match fs::read(&journal_path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // No begin record: the tree was never touched.
            retire(state_dir)?;
            return Ok(Some(Recovered::DiscardedStaging));
        }
        Err(e) => return Err(io_at(&journal_path)(e)),
    };
    // Only complete lines count: a torn last record was never acknowledged.
    let complete = text
        .get(..text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1))
        .unwrap_or_default();
    let lines: Vec<&[u8]> = complete
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let begin = lines
        .first()
        .ok_or_else(|| journal_err("no begin record".into()))?;
    let begin =
        std::str::from_utf8(begin).map_err(|_| journal_err("begin record is not UTF-8".into()))?;
    let mut parts = begin.splitn(3, ' ');
    let fields: Vec<&str> = (0..3).filter_map(|_| parts.next()).collect();
    let (Some(magic), Some(digest), Some(root)) = (fields.first(), fields.get(1), fields.get(2))
    else {
        return Err(journal_err("bad begin record".into()));
    };
    if *magic != JOURNAL_MAGIC || digest.len() != 64 {
        return Err(journal_err("bad begin record".into()));
    }
    let root = medguard_profile::escape::unescape(root.as_bytes())
        .map_err(|e| journal_err(e.to_string()))?;
    let root = PathBuf::from(std::ffi::OsStr::from_bytes_compat(&root));
    let manifest_path = txn.dir.join("manifest");
    let signed = fs::read(&manifest_path).map_err(io_at(&manifest_path))?;
    if blake3::hash(&signed).to_hex().as_str() != *digest {
        return Err(journal_err(
            "the stored manifest does not match the journal's digest".into(),
        ));
    }
    // The manifest was verified against the trusted keys when this install began, and the
    // journal binds it by digest; the state dir is the device's own, like its profile.
    let doc = UnverifiedDocument::parse(&signed).map_err(UpdateError::Signature)?;
    let manifest = Manifest::from_json(doc.accept_unsigned().body())?;
    let version = manifest.version.clone();
    if lines.iter().any(|l| *l == b"committed") {
        finish_commit(state_dir, &manifest)?;
        return Ok(Some(Recovered::Completed { version }));
    }
    let (old_tree_clean, _) = rollback(&manifest, &txn, &root, observer)?;
    retire(state_dir)?;
    Ok(Some(Recovered::RolledBack {
        version,
        old_tree_clean,
    }))
}
