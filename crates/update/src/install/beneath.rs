//! Working on entries under the root without ever following a symbolic link.
//!
//! Every operation's parent directory is opened with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` relative to the root's descriptor (Linux
//! 5.6 and later), and the entry itself is then renamed, linked, created, changed or removed
//! with the `*at` calls relative to that descriptor. The kernel resolves the whole path in one
//! step and refuses a symbolic link anywhere in it, so a link swapped in for a directory while
//! the install runs cannot redirect a write outside the root (checking each parent with
//! `symlink_metadata` first, as before, left that window open). The entry's own metadata is
//! changed through a descriptor opened with `O_NOFOLLOW`, never through a path.
//!
//! This module must not know about journals or the operations' order.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, ResolveFlags};
use rustix::io::Errno;

use crate::UpdateError;
use crate::manifest::{Ownership, Xattr, is_carried_xattr};
use crate::path::BundlePath;

/// A directory descriptor and a name in it: one entry, reached without following links.
#[derive(Debug)]
pub(super) struct At {
    dir: OwnedFd,
    name: OsString,
    /// The path, for messages only.
    shown: PathBuf,
}

fn io_err(path: &Path) -> impl Fn(Errno) -> UpdateError + '_ {
    move |e| UpdateError::Io {
        path: path.to_owned(),
        error: e.into(),
    }
}

/// Opens a directory the installer trusts (the root itself, the transaction's folders).
pub(super) fn open_dir(path: &Path) -> Result<OwnedFd, UpdateError> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err(path))
}

/// Whether the kernel offers `openat2` (Linux 5.6 and later) for `root`.
pub(super) fn probe(root: &Path) -> Result<(), UpdateError> {
    let fd = open_dir(root)?;
    rustix::fs::openat2(
        &fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    )
    .map(drop)
    .map_err(|e| UpdateError::Io {
        path: root.to_owned(),
        error: std::io::Error::other(format!(
            "openat2 with RESOLVE_BENEATH is needed to install safely (Linux 5.6 or later): {e}"
        )),
    })
}

impl At {
    /// Entry `name` of the trusted directory `dir` (stage and backup slots).
    pub(super) fn slot(dir: &OwnedFd, dir_path: &Path, name: &str) -> Result<Self, UpdateError> {
        Ok(Self {
            dir: dir.try_clone().map_err(|error| UpdateError::Io {
                path: dir_path.to_owned(),
                error,
            })?,
            name: name.into(),
            shown: dir_path.join(name),
        })
    }

    /// `path` under the root: its parent opened beneath `root` with no symbolic link on the
    /// way. `Ok(None)` when a parent does not exist or is not a directory yet (`missing_ok`:
    /// an undo of an operation that never ran).
    pub(super) fn beneath(
        root: &OwnedFd,
        root_path: &Path,
        path: &BundlePath,
        missing_ok: bool,
    ) -> Result<Option<Self>, UpdateError> {
        let bytes = path.as_bytes();
        let shown = path.under(root_path);
        let (parent, name) = match bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => (
                bytes.get(..i).unwrap_or_default(),
                bytes.get(i + 1..).unwrap_or_default(),
            ),
            None => (&b""[..], bytes),
        };
        let dir = if parent.is_empty() {
            root.try_clone().map_err(|error| UpdateError::Io {
                path: root_path.to_owned(),
                error,
            })?
        } else {
            let mut attempt = 0;
            loop {
                match rustix::fs::openat2(
                    root,
                    OsStr::from_bytes(parent),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
                ) {
                    Ok(fd) => break fd,
                    // The kernel asks to retry when a rename raced the lookup.
                    Err(Errno::AGAIN) if attempt < 8 => attempt += 1,
                    // Missing, or still the file an earlier operation replaces by a directory.
                    Err(Errno::NOENT | Errno::NOTDIR) if missing_ok => return Ok(None),
                    Err(Errno::LOOP) => {
                        return Err(UpdateError::Escape {
                            path: shown,
                            reason: "an ancestor is a symbolic link",
                        });
                    }
                    Err(Errno::XDEV) => {
                        return Err(UpdateError::Escape {
                            path: shown,
                            reason: "the path leads out of the root",
                        });
                    }
                    Err(Errno::NOTDIR) => {
                        return Err(UpdateError::Escape {
                            path: shown,
                            reason: "an ancestor is not a directory",
                        });
                    }
                    Err(e) => return Err(io_err(&shown)(e)),
                }
            }
        };
        Ok(Some(Self {
            dir,
            name: OsStr::from_bytes(name).to_owned(),
            shown,
        }))
    }

    /// Whether something (anything, a link too) is there.
    pub(super) fn exists(&self) -> bool {
        rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    fn file_type(&self) -> Result<FileType, UpdateError> {
        rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| FileType::from_raw_mode(st.st_mode))
            .map_err(io_err(&self.shown))
    }

    /// Renames `self` to `to`, replacing what is there.
    pub(super) fn rename_to(&self, to: &At) -> Result<(), UpdateError> {
        rustix::fs::renameat(&self.dir, &self.name, &to.dir, &to.name).map_err(io_err(&to.shown))
    }

    /// Renames `self` to `to`, failing when something is there.
    pub(super) fn rename_noreplace_to(&self, to: &At) -> Result<(), UpdateError> {
        rustix::fs::renameat_with(
            &self.dir,
            &self.name,
            &to.dir,
            &to.name,
            RenameFlags::NOREPLACE,
        )
        .map_err(io_err(&to.shown))
    }

    /// Makes `to` a hard link to `self` (never following a link at `self`).
    pub(super) fn link_to(&self, to: &At) -> Result<(), UpdateError> {
        rustix::fs::linkat(&self.dir, &self.name, &to.dir, &to.name, AtFlags::empty())
            .map_err(io_err(&to.shown))
    }

    /// Creates a directory (owner-only until [`At::set_owner`] gives it its mode).
    pub(super) fn mkdir(&self) -> Result<(), UpdateError> {
        rustix::fs::mkdirat(&self.dir, &self.name, Mode::from_raw_mode(0o700))
            .map_err(io_err(&self.shown))
    }

    /// Removes the entry, a directory with everything in it.
    pub(super) fn remove(&self) -> Result<(), UpdateError> {
        if self.file_type()? == FileType::Directory {
            remove_tree(&self.dir, &self.name, &self.shown)
        } else {
            rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty())
                .map_err(io_err(&self.shown))
        }
    }

    /// Gives the entry `owner` and, when given, exactly the carried extended attributes
    /// `xattrs` (others are left alone). Ownership first: the kernel clears file
    /// capabilities and the setuid and setgid bits on chown.
    pub(super) fn set_owner(
        &self,
        owner: Ownership,
        xattrs: Option<&[Xattr]>,
    ) -> Result<(), UpdateError> {
        let fd = match rustix::fs::openat(
            &self.dir,
            &self.name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // A symbolic link: only its owner can change (a link's mode is not settable on
            // Linux, and bundles carry no attributes of links).
            Err(Errno::LOOP) => {
                return rustix::fs::chownat(
                    &self.dir,
                    &self.name,
                    Some(rustix::fs::Uid::from_raw(owner.uid)),
                    Some(rustix::fs::Gid::from_raw(owner.gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(io_err(&self.shown));
            }
            Err(e) => return Err(io_err(&self.shown)(e)),
        };
        set_owner_fd(&fd, &self.shown, owner, xattrs)
    }
}

/// [`At::set_owner`] on an open regular file or directory.
pub(super) fn set_owner_fd(
    fd: &impl AsFd,
    shown: &Path,
    owner: Ownership,
    xattrs: Option<&[Xattr]>,
) -> Result<(), UpdateError> {
    let st = rustix::fs::fstat(fd).map_err(io_err(shown))?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::RegularFile && kind != FileType::Directory {
        return Err(UpdateError::Escape {
            path: shown.to_owned(),
            reason: "not a regular file or directory",
        });
    }
    if st.st_uid != owner.uid || st.st_gid != owner.gid {
        rustix::fs::fchown(
            fd,
            Some(rustix::fs::Uid::from_raw(owner.uid)),
            Some(rustix::fs::Gid::from_raw(owner.gid)),
        )
        .map_err(io_err(shown))?;
    }
    // Always after chown, which may have cleared setuid and setgid.
    rustix::fs::fchmod(fd, Mode::from_raw_mode(owner.mode)).map_err(io_err(shown))?;
    if let Some(want) = xattrs {
        set_xattrs(fd, shown, want)?;
    }
    Ok(())
}

/// Makes the carried extended attributes of `fd` exactly those of `want`.
pub(super) fn set_xattrs(fd: &impl AsFd, shown: &Path, want: &[Xattr]) -> Result<(), UpdateError> {
    for name in list_xattrs(fd, shown)? {
        if is_carried_xattr(&name) && !want.iter().any(|(n, _)| **n == *name) {
            rustix::fs::fremovexattr(fd, OsStr::from_bytes(&name)).map_err(io_err(shown))?;
        }
    }
    // Only the carried namespaces are ever written: a base profile's list, restored on
    // rollback, may also name an SELinux label, which is the device's to keep.
    for (name, value) in want.iter().filter(|(n, _)| is_carried_xattr(n)) {
        rustix::fs::fsetxattr(
            fd,
            OsStr::from_bytes(name),
            value,
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(io_err(shown))?;
    }
    Ok(())
}

fn list_xattrs(fd: &impl AsFd, shown: &Path) -> Result<Vec<Vec<u8>>, UpdateError> {
    let mut buf = vec![0u8; 4096];
    let len = loop {
        match rustix::fs::flistxattr(fd, &mut buf[..]) {
            Ok(n) => break n,
            Err(Errno::RANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            // A file system without extended attributes has none to remove.
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(io_err(shown)(e)),
        }
    };
    Ok(buf
        .get(..len)
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Removes directory `name` of `dir` and everything below it, never following a link.
fn remove_tree(dir: &OwnedFd, name: &OsStr, shown: &Path) -> Result<(), UpdateError> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err(shown))?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd).map_err(io_err(shown))? {
        let entry = entry.map_err(io_err(shown))?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push((OsStr::from_bytes(n).to_owned(), entry.file_type()));
        }
    }
    for (n, kind) in names {
        let is_dir = match kind {
            FileType::Unknown => rustix::fs::statat(&fd, &n, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            k => k == FileType::Directory,
        };
        let child = shown.join(&n);
        if is_dir {
            remove_tree(&fd, &n, &child)?;
        } else {
            rustix::fs::unlinkat(&fd, &n, AtFlags::empty()).map_err(io_err(&child))?;
        }
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io_err(shown))
}
