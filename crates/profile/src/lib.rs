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

use std::path::{Path, PathBuf};

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
        #[source]
        error: std::io::Error,
    },
    /// A profile file was refused.
    #[error("{path}: {error}")]
    Format {
        /// The profile file.
        path: PathBuf,
        /// Why.
        #[source]
        error: FormatError,
    },
    /// An mtree spec was refused.
    #[error("{path}: {error}")]
    Mtree {
        /// The spec file.
        path: PathBuf,
        /// Why.
        #[source]
        error: mtree::MtreeError,
    },
    /// A rules file was refused.
    #[error("{path}: {error}")]
    Rules {
        /// The rules file.
        path: PathBuf,
        /// Why.
        #[source]
        error: RulesError,
    },
    /// A trusted key could not be loaded (the error names its file).
    #[error("trusted key: {0}")]
    TrustedKey(#[source] medguard_digest::KeyError),
    /// No trusted key was given and unsigned profiles are refused.
    #[error(
        "no trusted key: a profile is used only when a trusted key signed it (unsigned profiles can be accepted for lab use only)"
    )]
    NoTrustedKey,
}

/// Whether a profile without a trusted signature may be used. The default refuses it: a
/// profile is the integrity baseline of a device, and an unsigned one proves nothing about
/// its origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnsignedProfiles {
    /// Refuse a profile that no trusted key signed.
    #[default]
    Refuse,
    /// Use an unsigned profile (or one signed by a key that is not given) as it is. For
    /// lab use only: the caller must say loudly that origin and integrity were not checked.
    AcceptForLabUse,
}

/// Loads the profile at `path`, trusting the public keys in the files `trusted_keys`
/// (`NAME.pub`). With [`UnsignedProfiles::Refuse`] at least one key is needed and a
/// trusted signature must cover the profile.
///
/// # Errors
/// [`ProfileError::TrustedKey`] for a key that cannot be loaded,
/// [`ProfileError::NoTrustedKey`], and as [`load`].
pub fn load_trusted(
    path: &Path,
    trusted_keys: &[PathBuf],
    unsigned: UnsignedProfiles,
) -> Result<VerifiedProfile, ProfileError> {
    let keys =
        medguard_digest::PublicKey::load_all(trusted_keys).map_err(ProfileError::TrustedKey)?;
    if keys.is_empty() && unsigned == UnsignedProfiles::Refuse {
        return Err(ProfileError::NoTrustedKey);
    }
    load(path, &keys, unsigned)
}

/// The BLAKE3 (hex) of a profile's entries alone: its text without the `#` header and
/// signature lines. Two profiles of one tree made at different times (their `created` and
/// signature differ) have the same entries digest, so a server can tell which devices carry
/// the tree a patch bundle was built against.
#[must_use]
pub fn entries_digest(text: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new();
    for line in text.split(|b| *b == b'\n') {
        if !line.is_empty() && !line.starts_with(b"#") {
            hasher.update(line);
            hasher.update(b"\n");
        }
    }
    hasher.finalize().to_hex().to_string()
}

/// Reads a rules file (TOML).
///
/// # Errors
/// [`ProfileError::Io`], or [`ProfileError::Rules`] naming the file.
pub fn load_rules(path: &Path) -> Result<Rules, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|error| ProfileError::Io {
        path: path.to_owned(),
        error,
    })?;
    Rules::from_toml(&text).map_err(|error| ProfileError::Rules {
        path: path.to_owned(),
        error,
    })
}

/// Reads a BSD mtree spec (`bsdtar --format=mtree`, `mtree -c`). A spec carries no
/// signature: it is trusted as it is.
///
/// # Errors
/// [`ProfileError::Io`], or [`ProfileError::Mtree`] naming the file.
pub fn load_mtree(path: &Path) -> Result<mtree::MtreeSpec, ProfileError> {
    let bytes = std::fs::read(path).map_err(|error| ProfileError::Io {
        path: path.to_owned(),
        error,
    })?;
    mtree::parse(&bytes).map_err(|error| ProfileError::Mtree {
        path: path.to_owned(),
        error,
    })
}

impl From<medguard_host::WriteError> for ProfileError {
    fn from(e: medguard_host::WriteError) -> Self {
        Self::Io {
            path: e.path,
            error: e.source,
        }
    }
}

/// Writes `profile` to `path` durably, signed with `key` when one is given.
///
/// # Errors
/// [`ProfileError::Io`] naming `path`.
pub fn write_profile(
    path: &Path,
    profile: &SystemProfile,
    key: Option<&medguard_digest::SigningKey>,
) -> Result<(), ProfileError> {
    Ok(medguard_host::write_atomically(path, 0o644, |w| {
        profile.write_to(w, key).map(|_| ())
    })?)
}
