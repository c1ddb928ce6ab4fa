//! Signed system profiles: the complete directory structure of a validated device.
//!
//! A system profile records every entry of a tree (type, mode, owner, size, link target,
//! device numbers, hard-link identity, extended attributes such as file capabilities, and a
//! BLAKE3 content digest, SHA-256 too when asked) under rules that say what matters where.
//! It is signed with the vendor's Ed25519 key; a device verifies its tree against it and
//! reports every added, removed and changed entry. Profiles can be exported as BSD mtree
//! specs, and trees can be verified against mtree specs that libarchive writes.
//!
//! This crate owns walking, recording, comparing and the two file formats. It must not
//! print, and it must not trust a profile read from disk: only [`UnverifiedProfile::verify`]
//! turns one into a [`VerifiedProfile`].
//!
//! Dependencies: `rayon` runs the walk (a task per directory, files of a directory in
//! parallel); `globset` (ripgrep's) compiles the rules into one matcher, and matches raw
//! path bytes, so non-UTF-8 names obey rules too; `xattr` reads extended attributes without
//! following links and without `unsafe` here. The walk itself is our own rather than
//! `walkdir`/`jwalk` because it must never follow links, must hand each entry's `lstat` to
//! the comparison without a second call, and must report unlistable directories as
//! results, not abort.
#![forbid(unsafe_code)]

mod compare;
mod create;
mod entry;
pub mod escape;
mod format;
pub mod mtree;
mod progress;
mod report;
mod rules;
mod walk;

use std::path::PathBuf;

pub use compare::{Baseline, diff, verify_tree};
pub use create::{CreateOptions, create};
pub use entry::{Attribute, AttributeSet, Entry, EntryKind, Extra, Meta};
pub use format::{
    FormatError, ProfileHeader, SIGNING_CONTEXT, SystemProfile, UnverifiedProfile, VerifiedProfile,
    load,
};
pub use progress::Progress;
pub use report::{Change, Deviation, DeviationKind, Report, Summary, display_path};
pub use rules::{Decision, Rule, Rules, RulesError};
pub use walk::{EntryProblem, ProblemKind, WalkOptions};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// A file or the tree could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A profile file was refused.
    #[error("{path}: {error}")]
    Format {
        /// The profile file.
        path: PathBuf,
        /// Why.
        error: FormatError,
    },
    /// An mtree spec was refused.
    #[error("{path}: {error}")]
    Mtree {
        /// The spec file.
        path: PathBuf,
        /// Why.
        error: mtree::MtreeError,
    },
    /// A rules file was refused.
    #[error("{path}: {error}")]
    Rules {
        /// The rules file.
        path: PathBuf,
        /// Why.
        error: RulesError,
    },
}

/// Writes a file atomically: `write` fills a temporary file beside `path`, which is synced
/// and then renamed over `path`, so a crash or a full disk never leaves a half-written file
/// behind and an existing file is replaced only by a complete one.
pub fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), ProfileError> {
    use std::io::Write as _;
    let io = |error| ProfileError::Io {
        path: path.to_owned(),
        error,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let (tmp_path, file) = tempfile_in(dir).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, file);
    let result = write(&mut w)
        .and_then(|()| w.flush())
        .and_then(|()| w.get_ref().sync_all())
        .and_then(|()| std::fs::rename(&tmp_path, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(io(e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `profile` to `path` atomically, signed with `key` when one is given.
pub fn write_profile(
    path: &std::path::Path,
    profile: &SystemProfile,
    key: Option<&medguard_digest::SigningKey>,
) -> Result<(), ProfileError> {
    write_atomically(path, |w| profile.write_to(w, key).map(|_| ()))
}

fn tempfile_in(dir: &std::path::Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let pid = std::process::id();
    for n in 0..100u32 {
        let p = dir.join(format!(".medguard-tmp-{pid}-{n}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}
