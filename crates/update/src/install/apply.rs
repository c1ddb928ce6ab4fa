//! Staging new content, applying the operations with backups, and undoing them.
//!
//! Each undo looks at the disk to see whether its operation happened, so a rollback can
//! run again after a crash.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use medguard_profile::{Baseline, Progress, VerifiedProfile, WalkOptions};

use crate::UpdateError;
use crate::bundle::VerifiedBundle;
use crate::manifest::{Change, Kind, Manifest, Operation, Ownership};
use crate::path::BundlePath;

use super::beneath::{At, open_dir, set_xattrs};
use super::fsops::{FromBytesCompat as _, chown_if_needed, set_owner, sync_fs, system_time};
use super::journal::{Journal, Txn};
use super::{Step, io_at, observe};

pub(super) fn stage(bundle: &VerifiedBundle, txn: &Txn) -> Result<(), UpdateError> {
    if txn.dir.exists() {
        fs::remove_dir_all(&txn.dir).map_err(io_at(&txn.dir))?;
    }
    fs::create_dir_all(&txn.stage).map_err(io_at(&txn.stage))?;
    fs::create_dir_all(&txn.backup).map_err(io_at(&txn.backup))?;
    let manifest = bundle.manifest();
    for (i, op) in manifest.operations.iter().enumerate() {
        let s = txn.stage.join(i.to_string());
        match &op.change {
            Change::File { blob, owner, mtime } => {
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&s)
                    .map_err(io_at(&s))?;
                let mut w = io::BufWriter::with_capacity(256 * 1024, &f);
                bundle.extract(*blob, &mut w, &op.path.display())?;
                w.flush().map_err(io_at(&s))?;
                drop(w);
                chown_if_needed(&s, owner.uid, owner.gid)?;
                // After chown: the kernel clears setuid and setgid bits on chown.
                f.set_permissions(fs::Permissions::from_mode(owner.mode))
                    .map_err(io_at(&s))?;
                if let Some(t) = system_time(*mtime) {
                    let _ = f.set_modified(t);
                }
                // Last: chown and writes clear file capabilities.
                if let Some(x) = &op.xattrs {
                    set_xattrs(&f, &s, x)?;
                }
            }
            Change::Symlink { target, uid, gid } => {
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes_compat(target), &s)
                    .map_err(io_at(&s))?;
                chown_if_needed(&s, *uid, *gid)?;
            }
            _ => {}
        }
    }
    sync_fs(&txn.stage)
}

/// How an operation swaps entries; the undo follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    /// Moved to the backup.
    Remove,
    /// Owner and mode only.
    Meta,
    /// Nothing was there.
    Add,
    /// Non-directory over non-directory: the old entry is hard-linked into the backup, then
    /// the new one renamed over it, so the path never disappears.
    Swap,
    /// A directory on either side: the old entry is moved to the backup, the new one put
    /// in its place.
    Move,
}

pub(super) fn method(op: &Operation) -> Method {
    match (&op.change, op.old) {
        (Change::Remove, _) => Method::Remove,
        (Change::Meta(_), _) => Method::Meta,
        (_, None) => Method::Add,
        (Change::Mkdir(_), Some(_)) | (_, Some(Kind::Dir)) => Method::Move,
        (_, Some(_)) => Method::Swap,
    }
}

/// The descriptors an apply or an undo works through: the root, the stage and the backup.
pub(super) struct Dirs<'a> {
    root: OwnedFd,
    root_path: &'a Path,
    stage: Option<OwnedFd>,
    backup: OwnedFd,
    txn: &'a Txn,
}

impl<'a> Dirs<'a> {
    pub(super) fn open(root: &'a Path, txn: &'a Txn) -> Result<Self, UpdateError> {
        Ok(Self {
            root: open_dir(root)?,
            root_path: root,
            // A recovery may find the stage gone (a rollback that ran to its end before).
            stage: open_dir(&txn.stage).ok(),
            backup: open_dir(&txn.backup)?,
            txn,
        })
    }

    fn beneath(&self, path: &BundlePath, missing_ok: bool) -> Result<Option<At>, UpdateError> {
        At::beneath(&self.root, self.root_path, path, missing_ok)
    }

    fn backup(&self, i: usize) -> Result<At, UpdateError> {
        At::slot(&self.backup, &self.txn.backup, &i.to_string())
    }

    fn stage(&self, i: usize) -> Result<At, UpdateError> {
        let stage = self.stage.as_ref().ok_or_else(|| UpdateError::Io {
            path: self.txn.stage.clone(),
            error: io::ErrorKind::NotFound.into(),
        })?;
        At::slot(stage, &self.txn.stage, &i.to_string())
    }
}

pub(super) fn apply_all(
    manifest: &Manifest,
    txn: &Txn,
    root: &Path,
    journal: &mut Journal,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<(), UpdateError> {
    let dirs = Dirs::open(root, txn)?;
    for (i, op) in manifest.operations.iter().enumerate() {
        apply_op(i, op, &dirs)?;
        journal.record(&format!("op {i}"), false)?;
        observe(observer, Step::Applied(i));
    }
    if let Some(owner) = manifest.root {
        set_owner(root, owner)?;
    }
    sync_fs(root)?;
    journal.record("applied", true)?;
    observe(observer, Step::AllApplied);
    Ok(())
}

/// Puts the operation's new entry at `p`, where nothing is. A hard link is made in the
/// stage first and renamed into place, like a staged file.
fn place_new(op: &Operation, i: usize, dirs: &Dirs<'_>, p: &At) -> Result<(), UpdateError> {
    match &op.change {
        Change::Mkdir(owner) => {
            p.mkdir()?;
            p.set_owner(*owner, op.xattrs.as_deref())
        }
        Change::HardLink { to } => {
            let s = link_into_stage(to, i, dirs)?;
            s.rename_noreplace_to(p)
        }
        _ => dirs.stage(i)?.rename_noreplace_to(p),
    }
}

/// Links the file at `to` (under the root) into stage slot `i`.
fn link_into_stage(to: &BundlePath, i: usize, dirs: &Dirs<'_>) -> Result<At, UpdateError> {
    let target = dirs
        .beneath(to, false)?
        .ok_or_else(|| UpdateError::Escape {
            path: to.under(dirs.root_path),
            reason: "the file to link to is missing",
        })?;
    let s = dirs.stage(i)?;
    // A slot left by an interrupted attempt of this same operation.
    if s.exists() {
        s.remove()?;
    }
    target.link_to(&s)?;
    Ok(s)
}

pub(super) fn apply_op(i: usize, op: &Operation, dirs: &Dirs<'_>) -> Result<(), UpdateError> {
    let p = dirs
        .beneath(&op.path, false)?
        .ok_or_else(|| UpdateError::Escape {
            path: op.path.under(dirs.root_path),
            reason: "an ancestor is missing",
        })?;
    let b = dirs.backup(i)?;
    match method(op) {
        Method::Remove => p.rename_to(&b),
        Method::Meta => match op.change {
            Change::Meta(owner) => p.set_owner(owner, op.xattrs.as_deref()),
            _ => Ok(()),
        },
        Method::Add => place_new(op, i, dirs, &p),
        Method::Swap => {
            p.link_to(&b)?;
            let s = match &op.change {
                Change::HardLink { to } => link_into_stage(to, i, dirs)?,
                _ => dirs.stage(i)?,
            };
            s.rename_to(&p)
        }
        Method::Move => {
            p.rename_to(&b)?;
            place_new(op, i, dirs, &p)
        }
    }
}

pub(super) fn undo_op(
    i: usize,
    op: &Operation,
    dirs: &Dirs<'_>,
    base: &VerifiedProfile,
) -> Result<(), UpdateError> {
    // A parent that is not there: the operation (and those that made the parent) never ran.
    let Some(p) = dirs.beneath(&op.path, true)? else {
        return Ok(());
    };
    let b = dirs.backup(i)?;
    match method(op) {
        Method::Remove | Method::Swap => {
            if b.exists() {
                b.rename_to(&p)?;
            }
        }
        Method::Meta => {
            if let Some(e) = base.profile().get(&op.path.to_profile_path())
                && p.exists()
            {
                // The attributes are restored only where the operation set them: there the
                // rules record them, so the base profile's list is complete.
                let xattrs = op.xattrs.as_ref().map(|_| e.extra().xattrs.as_slice());
                p.set_owner(
                    Ownership {
                        mode: e.meta.mode,
                        uid: e.meta.uid,
                        gid: e.meta.gid,
                    },
                    xattrs,
                )?;
            }
        }
        Method::Add => {
            // A directory the install created is removed with whatever is still in it: the
            // later operations are undone by now, so anything left was made after the
            // install (a self-test's log, say), and it did not exist in the old tree.
            if p.exists() {
                p.remove()?;
            }
        }
        Method::Move => {
            if b.exists() {
                if p.exists() {
                    p.remove()?;
                }
                b.rename_to(&p)?;
            }
        }
    }
    Ok(())
}

/// Undoes every operation in reverse order, syncs, and verifies the tree against the base
/// profile. Returns whether it is clean and how many deviations remain.
pub(super) fn rollback(
    manifest: &Manifest,
    txn: &Txn,
    root: &Path,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<(bool, usize), UpdateError> {
    let base = &manifest.base_profile;
    if manifest.root.is_some()
        && let Some(e) = base.profile().get(b"/")
    {
        set_owner(
            root,
            Ownership {
                mode: e.meta.mode,
                uid: e.meta.uid,
                gid: e.meta.gid,
            },
        )?;
    }
    let dirs = Dirs::open(root, txn).map_err(|e| UpdateError::RollbackFailed {
        journal: txn.dir.clone(),
        reason: e.to_string(),
    })?;
    for (i, op) in manifest.operations.iter().enumerate().rev() {
        undo_op(i, op, &dirs, base).map_err(|e| UpdateError::RollbackFailed {
            journal: txn.dir.clone(),
            reason: e.to_string(),
        })?;
        observe(observer, Step::Undone(i));
    }
    sync_fs(root)?;
    let report = medguard_profile::verify_tree(
        root,
        &Baseline::from_profile(base.clone()),
        WalkOptions::default(),
        &Progress::default(),
    )?;
    observe(observer, Step::RolledBack);
    Ok((
        report.is_clean(),
        report.deviations.len() + report.unverifiable.len(),
    ))
}
