//! Replacing a file durably: a temporary file beside the target, written, flushed and
//! fsynced, renamed over the target, then the directory fsynced, so that after a crash or a
//! power loss the path holds either the old content or the complete new one, and the rename
//! itself survives. A full disk fails before the rename and leaves the old file untouched.
//!
//! Every file medguard replaces (profiles, allowlists, advisory indexes, TUF metadata,
//! cursors, status records, settings) goes through here, so they all have the same
//! durability; a temporary name is unique per process and call, so two writers never share
//! one.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file could not be written, synced or renamed into place.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    /// The file that was to be replaced (or the directory that was to be synced).
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

impl WriteError {
    fn at(path: &Path) -> impl FnOnce(io::Error) -> Self + '_ {
        move |source| Self {
            path: path.to_owned(),
            source,
        }
    }
}

/// Replaces `path` with what `write` produces, durably (see the module docs). The new file
/// has mode `mode` (less the umask): `0o644` for ordinary files, `0o600` for secrets.
///
/// # Errors
/// [`WriteError`] naming `path`; the temporary file is removed and `path` is unchanged.
pub fn write_atomically(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let dir = parent_of(path);
    let (tmp_path, file) = create_temporary(dir, path, mode).map_err(WriteError::at(path))?;
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    let written = write(&mut w)
        .and_then(|()| w.flush())
        .and_then(|()| w.get_ref().sync_all())
        .and_then(|()| std::fs::rename(&tmp_path, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(WriteError {
            path: path.to_owned(),
            source,
        });
    }
    fsync_dir(dir)
}

/// [`write_atomically`] for content already in memory.
///
/// # Errors
/// As [`write_atomically`].
pub fn write_bytes_atomically(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically(path, mode, |w| w.write_all(bytes))
}

/// Makes the entries of directory `dir` (a rename, a new or removed file) durable.
///
/// # Errors
/// [`WriteError`] naming `dir`. A file system that cannot sync directories (`EINVAL`) is
/// not an error: it has nothing more to make durable.
pub fn fsync_dir(dir: &Path) -> Result<(), WriteError> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => Ok(()),
        other => other.map_err(WriteError::at(dir)),
    }
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn create_temporary(dir: &Path, target: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let stem = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pid = std::process::id();
    for _ in 0..100 {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let p = dir.join(format!(".{stem}.medguard-tmp-{pid}-{n}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free temporary file name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_file_is_replaced_whole_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        write_bytes_atomically(&path, 0o644, b"old").unwrap();
        write_bytes_atomically(&path, 0o600, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        write_bytes_atomically(&path, 0o644, b"old").unwrap();
        let err = write_atomically(&path, 0o644, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent/file");
        let err = write_bytes_atomically(&path, 0o644, b"x").unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    }
}
