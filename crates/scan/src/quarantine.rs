//! Moving a detected file out of harm's way.
//!
//! This module owns the quarantine directory's layout: the file itself, renamed to a
//! unique name with mode 000, and beside it `NAME.json`, a record of where it came from and
//! why. It must not decide *whether* to quarantine: the scan never quarantines a file of
//! the validated configuration (a person must decide about those).
//!
//! On the same file system the move is one atomic `rename`. Across file systems it is a
//! copy to a new file created with mode 000, `fsync` of the file and the directory, and
//! only then the unlink of the original, so a crash leaves the file in one place or both,
//! never in neither.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};

use crate::ScanError;

/// What was written beside a quarantined file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineRecord {
    /// Where the file was.
    pub original_path: String,
    /// Where it is now.
    pub quarantined_as: String,
    /// When it was moved (RFC 3339, UTC).
    pub quarantined_at: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its permission bits before the move.
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// What was found in it.
    pub detections: Vec<String>,
    /// `rename` or `copy`.
    pub method: String,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ScanError + '_ {
    move |error| ScanError::Quarantine {
        path: path.to_owned(),
        error,
    }
}

/// Moves `path` into `dir` (created with mode 0700 if missing) and writes its record.
pub fn quarantine(
    path: &Path,
    dir: &Path,
    detections: Vec<String>,
    now: time::OffsetDateTime,
) -> Result<QuarantineRecord, ScanError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(ScanError::Quarantine {
            path: path.to_owned(),
            error: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let target = unique_name(dir, path, now)?;
    // Mode 000 first: from here on nobody but root opens or executes it, wherever it is.
    fs::set_permissions(path, fs::Permissions::from_mode(0o000)).map_err(io_err(path))?;
    let method = match fs::rename(path, &target) {
        Ok(()) => "rename",
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            move_by_copy(path, &target)?;
            "copy"
        }
        Err(e) => {
            // Put the mode back: the file stays where it was and must keep working.
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777));
            return Err(io_err(path)(e));
        }
    };
    sync_dir(dir)?;
    let record = QuarantineRecord {
        original_path: crate::display(path),
        quarantined_as: crate::display(&target),
        quarantined_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        size: meta.len(),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        detections,
        method: method.to_owned(),
    };
    let mut record_path = target.clone().into_os_string();
    record_path.push(".json");
    let record_path = PathBuf::from(record_path);
    let json = serde_json::to_vec_pretty(&record).map_err(|e| io_err(&record_path)(e.into()))?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&record_path)
        .map_err(io_err(&record_path))?;
    f.write_all(&json).map_err(io_err(&record_path))?;
    f.sync_all().map_err(io_err(&record_path))?;
    sync_dir(dir)?;
    Ok(record)
}

/// `DIR/<unix seconds>-<n>-<file name>`, the first that does not exist yet.
fn unique_name(dir: &Path, path: &Path, now: time::OffsetDateTime) -> Result<PathBuf, ScanError> {
    let base = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    for n in 0..10_000u32 {
        let candidate = dir.join(format!("{}-{n}-{base}", now.unix_timestamp()));
        match fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(candidate),
            Err(e) => return Err(io_err(&candidate)(e)),
            Ok(_) => {}
        }
    }
    Err(io_err(dir)(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name in the quarantine directory",
    )))
}

/// The cross-file-system move: copy, make durable, then unlink.
pub(crate) fn move_by_copy(from: &Path, to: &Path) -> Result<(), ScanError> {
    let mut src = File::open(from).map_err(io_err(from))?;
    let mut dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(to)
        .map_err(io_err(to))?;
    let copied = io::copy(&mut src, &mut dst).and_then(|_| dst.sync_all());
    if let Err(e) = copied {
        drop(dst);
        let _ = fs::remove_file(to);
        return Err(io_err(to)(e));
    }
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    fs::remove_file(from).map_err(io_err(from))?;
    if let Some(parent) = from.parent() {
        // The unlink is durable too; failing to sync the source directory is not worth
        // failing the quarantine over.
        let _ = medguard_host::fsync_dir(parent);
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), ScanError> {
    medguard_host::fsync_dir(dir).map_err(|e| ScanError::Quarantine {
        path: e.path,
        error: e.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_rename_leaves_mode_000_and_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("evil.bin");
        fs::write(&file, b"payload").unwrap();
        let q = dir.path().join("q");
        let now = datetime!(2026-11-23 12:00 UTC);
        let r = quarantine(&file, &q, vec!["Eicar".into()], now).unwrap();
        assert!(!file.exists());
        assert_eq!(r.method, "rename");
        let moved = PathBuf::from(&r.quarantined_as);
        assert_eq!(fs::metadata(&moved).unwrap().mode() & 0o7777, 0);
        let json: QuarantineRecord =
            serde_json::from_slice(&fs::read(format!("{}.json", r.quarantined_as)).unwrap())
                .unwrap();
        assert_eq!(json, r);
        assert_eq!(json.original_path, file.display().to_string());
        assert_eq!(json.quarantined_at, "2026-11-23T12:00:00Z");
        assert_eq!(fs::metadata(&q).unwrap().mode() & 0o777, 0o700);
        // A second file of the same name gets its own slot.
        fs::write(&file, b"again").unwrap();
        let r2 = quarantine(&file, &q, vec![], now).unwrap();
        assert_ne!(r2.quarantined_as, r.quarantined_as);
    }

    #[test]
    fn the_copy_path_moves_content_and_unlinks() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        let to = dir.path().join("b");
        fs::write(&from, b"content").unwrap();
        move_by_copy(&from, &to).unwrap();
        assert!(!from.exists());
        assert_eq!(fs::metadata(&to).unwrap().mode() & 0o7777, 0);
        // Root reads mode-000 files; the test runs as root in CI.
        if rustix::process::geteuid().is_root() {
            assert_eq!(fs::read(&to).unwrap(), b"content");
        }
        // A target that exists is never overwritten.
        fs::write(&from, b"x").unwrap();
        assert!(move_by_copy(&from, &to).is_err());
        assert!(from.exists());
    }
}
