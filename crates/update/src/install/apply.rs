//! Staging new content, applying the operations with backups, and undoing them.
//!
//! Each undo looks at the disk to see whether its operation happened, so a rollback can
//! run again after a crash.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use medguard_profile::{Baseline, Progress, VerifiedProfile, WalkOptions};

use crate::UpdateError;
use crate::bundle::VerifiedBundle;
use crate::manifest::{Change, Kind, Manifest, Operation, Ownership};

use super::fsops::{
    FromBytesCompat as _, chown_if_needed, lexists, rename, rename_noreplace, set_owner, sync_fs,
    system_time,
};
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

/// Refuses to work below anything but a real directory: never through a symbolic link.
pub(super) fn check_ancestors(root: &Path, op: &Operation) -> Result<(), UpdateError> {
    for a in op.path.ancestors() {
        let p = root.join(std::ffi::OsStr::from_bytes_compat(a));
        let m = fs::symlink_metadata(&p).map_err(io_at(&p))?;
        if !m.is_dir() {
            return Err(UpdateError::Escape {
                path: op.path.under(root),
                reason: if m.file_type().is_symlink() {
                    "an ancestor is a symbolic link"
                } else {
                    "an ancestor is not a directory"
                },
            });
        }
    }
    Ok(())
}

pub(super) fn apply_all(
    manifest: &Manifest,
    txn: &Txn,
    root: &Path,
    journal: &mut Journal,
    observer: Option<&(dyn Fn(Step) + Sync)>,
) -> Result<(), UpdateError> {
    for (i, op) in manifest.operations.iter().enumerate() {
        apply_op(i, op, txn, root)?;
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

pub(super) fn place_new(op: &Operation, stage: &Path, p: &Path) -> Result<(), UpdateError> {
    match &op.change {
        Change::Mkdir(owner) => {
            fs::create_dir(p).map_err(io_at(p))?;
            set_owner(p, *owner)
        }
        _ => rename_noreplace(stage, p),
    }
}

pub(super) fn apply_op(
    i: usize,
    op: &Operation,
    txn: &Txn,
    root: &Path,
) -> Result<(), UpdateError> {
    check_ancestors(root, op)?;
    let p = op.path.under(root);
    let b = txn.backup.join(i.to_string());
    let s = txn.stage.join(i.to_string());
    match method(op) {
        Method::Remove => rename(&p, &b),
        Method::Meta => match op.change {
            Change::Meta(owner) => set_owner(&p, owner),
            _ => Ok(()),
        },
        Method::Add => place_new(op, &s, &p),
        Method::Swap => {
            fs::hard_link(&p, &b).map_err(io_at(&b))?;
            rename(&s, &p)
        }
        Method::Move => {
            rename(&p, &b)?;
            place_new(op, &s, &p)
        }
    }
}

/// Removes what the install put at `p`. A directory the install created is removed with
/// whatever is still in it: the later operations are undone by now, so anything left was
/// made after the install (a self-test's log, say), and it did not exist in the old tree.
pub(super) fn remove_entry(p: &Path) -> Result<(), UpdateError> {
    let m = fs::symlink_metadata(p).map_err(io_at(p))?;
    if m.is_dir() {
        fs::remove_dir_all(p).map_err(io_at(p))
    } else {
        fs::remove_file(p).map_err(io_at(p))
    }
}

pub(super) fn undo_op(
    i: usize,
    op: &Operation,
    txn: &Txn,
    root: &Path,
    base: &VerifiedProfile,
) -> Result<(), UpdateError> {
    let p = op.path.under(root);
    let b = txn.backup.join(i.to_string());
    match method(op) {
        Method::Remove | Method::Swap => {
            if lexists(&b) {
                rename(&b, &p)?;
            }
        }
        Method::Meta => {
            if let Some(e) = base.profile().get(&op.path.to_profile_path())
                && lexists(&p)
            {
                set_owner(
                    &p,
                    Ownership {
                        mode: e.meta.mode,
                        uid: e.meta.uid,
                        gid: e.meta.gid,
                    },
                )?;
            }
        }
        Method::Add => {
            if lexists(&p) {
                remove_entry(&p)?;
            }
        }
        Method::Move => {
            if lexists(&b) {
                if lexists(&p) {
                    remove_entry(&p)?;
                }
                rename(&b, &p)?;
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
    for (i, op) in manifest.operations.iter().enumerate().rev() {
        undo_op(i, op, txn, root, base).map_err(|e| UpdateError::RollbackFailed {
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
