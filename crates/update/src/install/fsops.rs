//! File-system primitives of the install: space check, syncs, ownership, renames that
//! never replace.
//!
//! This module must not know about journals or operations' order.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use crate::UpdateError;
use crate::manifest::{Manifest, Ownership};

use super::io_at;

/// Free space needed: the content plus a block per entry, plus a tenth and 16 MiB for
/// margin. Backups take no space: they are the old entries themselves, linked or moved.
pub(super) fn check_space(root: &Path, manifest: &Manifest) -> Result<(), UpdateError> {
    let st = rustix::fs::statvfs(root).map_err(|e| UpdateError::Io {
        path: root.to_owned(),
        error: e.into(),
    })?;
    let entries = manifest.operations.len() as u64;
    let needed = needed_space(manifest.content_bytes(), entries);
    let available = st.f_bavail.saturating_mul(st.f_frsize);
    if needed > available {
        return Err(UpdateError::NoSpace {
            path: root.to_owned(),
            needed,
            available,
        });
    }
    if st.f_files > 0 && entries.saturating_add(64) > st.f_favail {
        return Err(UpdateError::NoSpace {
            path: root.to_owned(),
            needed: entries,
            available: st.f_favail,
        });
    }
    Ok(())
}

/// The bytes an install of `content` bytes in `entries` entries needs free.
#[must_use]
pub fn needed_space(content: u64, entries: u64) -> u64 {
    let raw = content.saturating_add(entries.saturating_mul(4096));
    raw.saturating_add(raw / 10).saturating_add(16 << 20)
}

pub(super) trait FromBytesCompat {
    fn from_bytes_compat(b: &[u8]) -> &Self;
}

impl FromBytesCompat for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &Self {
        use std::os::unix::ffi::OsStrExt as _;
        std::ffi::OsStr::from_bytes(b)
    }
}

pub(super) fn system_time((secs, nsec): (i64, u32)) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(secs).ok()?;
    std::time::UNIX_EPOCH.checked_add(Duration::new(secs, nsec))
}

pub(super) fn sync_fs(path: &Path) -> Result<(), UpdateError> {
    let f = File::open(path).map_err(io_at(path))?;
    rustix::fs::syncfs(&f).map_err(|e| UpdateError::Io {
        path: path.to_owned(),
        error: e.into(),
    })
}

pub(super) fn fsync_dir(path: &Path) -> Result<(), UpdateError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_at(path))
}

pub(super) fn chown_if_needed(path: &Path, uid: u32, gid: u32) -> Result<(), UpdateError> {
    let m = fs::symlink_metadata(path).map_err(io_at(path))?;
    if m.uid() == uid && m.gid() == gid {
        return Ok(());
    }
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| UpdateError::Io {
        path: path.to_owned(),
        error: e.into(),
    })
}

pub(super) fn set_owner(path: &Path, owner: Ownership) -> Result<(), UpdateError> {
    chown_if_needed(path, owner.uid, owner.gid)?;
    let m = fs::symlink_metadata(path).map_err(io_at(path))?;
    // A link's own mode cannot be set on Linux, and chmod would follow it.
    if !m.file_type().is_symlink() && m.mode() & 0o7777 != owner.mode {
        fs::set_permissions(path, fs::Permissions::from_mode(owner.mode)).map_err(io_at(path))?;
    }
    Ok(())
}

pub(super) fn rename(from: &Path, to: &Path) -> Result<(), UpdateError> {
    fs::rename(from, to).map_err(io_at(to))
}
