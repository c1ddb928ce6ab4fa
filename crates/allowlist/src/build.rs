//! Building an allowlist from a verified system profile and vendor rules.
//!
//! Which regular files of the profile are listed, and as what:
//! - **script**: the file's content starts with `#!`, or a `[[scripts]]` rule covers it;
//! - **library**: its name is `*.so` or `*.so.*`, or it is an ELF `ET_DYN` object without
//!   any x bit (a PIE program is `ET_DYN` too, but carries an x bit);
//! - **executable**: any other file with an x bit (ELF programs, and whatever else the
//!   kernel can exec through binfmt_misc).
//!
//! Content (`#!`, the ELF header) is read from the tree at `root` when the file there has
//! the profile's size; a build on a machine without the tree (or with a differing file)
//! decides from the profile alone, by mode and name: it then lists x-bit files as
//! executables and `*.so*` names as libraries, and misses scripts without an x bit and
//! libraries with unusual names. Reading only the first bytes keeps a build of a whole
//! device to seconds; the digest that is listed is always the profile's, never the tree's,
//! so a tampered tree cannot get its content listed.
//!
//! A file the profile records without a content digest (a rule told it not to check
//! content) cannot be pinned and is reported in [`BuildSummary::unpinned`] rather than
//! listed.

use std::io::Read as _;
use std::path::PathBuf;

use medguard_profile::{EntryKind, VerifiedProfile};

use crate::list::{Allowlist, Content, ListEntry, ListHeader, Listing};
use crate::rules::ListRules;

/// Errors building a list (and reading its inputs).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// A rules file was refused.
    #[error("{path}: {error}")]
    Rules {
        /// The rules file.
        path: PathBuf,
        /// Why.
        #[source]
        error: crate::rules::RulesError,
    },
    /// A relative root could not be resolved to the absolute path the list records.
    #[error(
        "{root}: a relative root is resolved against the current directory and must exist there (the list records absolute device paths): {error}"
    )]
    RelativeRoot {
        /// The root given.
        root: PathBuf,
        /// Why it could not be resolved.
        #[source]
        error: std::io::Error,
    },
    /// An exception's path was also listed from the profile with other content.
    #[error(
        "exception {path}: the profile lists this file with other content; remove the exception or give the profile's digest"
    )]
    ConflictingException {
        /// The path.
        path: String,
    },
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BuildSummary {
    /// The root the list records (the one given, resolved when it was relative).
    pub root: String,
    /// Entries listed as executables.
    pub executables: usize,
    /// Entries listed as libraries.
    pub libraries: usize,
    /// Entries listed as scripts.
    pub scripts: usize,
    /// Vendor exceptions.
    pub exceptions: usize,
    /// Files classified from the profile alone (not present in the tree with the
    /// profile's size).
    pub classified_without_tree: usize,
    /// Executable-looking files the profile has no content digest for (device paths).
    pub unpinned: Vec<String>,
}

/// Builds the allowlist of `profile`, whose tree sits at `root` on the device.
///
/// The list holds absolute paths (the kernel reports execs by absolute path), so a relative
/// `root` is resolved here against the current directory, links included, as exec resolves
/// them: a list that its own [`crate::list::load`] would refuse is never signed.
///
/// # Errors
/// [`BuildError::RelativeRoot`] when a relative root does not exist here.
pub fn build(
    profile: &VerifiedProfile,
    rules: &ListRules,
    root: &std::path::Path,
) -> Result<(Allowlist, BuildSummary), BuildError> {
    use std::os::unix::ffi::OsStrExt as _;
    let root = device_root(root)?;
    let root_bytes = root.as_os_str().as_bytes();
    let prefix = root_bytes.strip_suffix(b"/").unwrap_or(root_bytes).to_vec();
    let mut summary = BuildSummary {
        root: root.display().to_string(),
        ..BuildSummary::default()
    };
    let mut entries = Vec::new();
    for e in &profile.profile().entries {
        if e.meta.kind != EntryKind::File {
            continue;
        }
        let mut device_path = prefix.clone();
        device_path.extend_from_slice(&e.path);
        let text_path = String::from_utf8_lossy(&device_path).into_owned();
        let script_rule = rules.script_dir_for(&text_path);
        let head = read_head(&device_path, e.meta.size);
        if head.is_none() {
            summary.classified_without_tree += 1;
        }
        let Some(listing) = classify(
            &device_path,
            e.meta.mode,
            head.as_ref(),
            script_rule.is_some(),
        ) else {
            continue;
        };
        let Some(blake3) = e.blake3 else {
            summary.unpinned.push(text_path);
            continue;
        };
        let interpreter = match (listing, script_rule, head.as_ref()) {
            (Listing::Script, Some(rule), _) => Some(rule.interpreter.as_bytes().into()),
            (Listing::Script, None, Some(h)) => shebang_interpreter(h),
            _ => None,
        };
        match listing {
            Listing::Executable => summary.executables += 1,
            Listing::Library => summary.libraries += 1,
            Listing::Script => summary.scripts += 1,
            Listing::Exception => {}
        }
        entries.push(ListEntry {
            path: device_path.into(),
            listing,
            content: Content::Exact {
                blake3,
                size: e.meta.size,
            },
            interpreter,
            reason: None,
        });
    }
    // Exceptions replace what the profile gave for the same path (the vendor said so, with
    // a reason); `Allowlist::new` keeps the first entry of a path, so they go first.
    let mut all: Vec<ListEntry> = rules
        .exceptions
        .iter()
        .map(|x| ListEntry {
            path: x.path.as_bytes().into(),
            listing: Listing::Exception,
            content: x
                .content
                .map_or(Content::Any, |(blake3, size)| Content::Exact {
                    blake3,
                    size,
                }),
            interpreter: None,
            reason: Some(x.reason.clone()),
        })
        .collect();
    summary.exceptions = all.len();
    all.extend(entries);
    let list = Allowlist::new(
        ListHeader {
            profile_signer: profile.signer(),
            root: if prefix.is_empty() {
                b"/"[..].into()
            } else {
                prefix.into()
            },
        },
        all,
    );
    Ok((list, summary))
}

/// `root` as an absolute path: as given when it is one, else resolved.
fn device_root(root: &std::path::Path) -> Result<PathBuf, BuildError> {
    if root.is_absolute() {
        return Ok(root.to_owned());
    }
    std::fs::canonicalize(root).map_err(|error| BuildError::RelativeRoot {
        root: root.to_owned(),
        error,
    })
}

/// The first bytes of the file at `path`, when it is a regular file of `size` bytes.
fn read_head(path: &[u8], size: u64) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt as _;
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
    let meta = std::fs::symlink_metadata(p).ok()?;
    if !meta.is_file() || meta.len() != size {
        return None;
    }
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(p)
        .ok()?
        .take(64)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

/// Whether a path's name is a shared object's (`libx.so`, `libx.so.1.2`).
#[must_use]
pub fn has_library_name(path: &[u8]) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    name.windows(3)
        .enumerate()
        .any(|(i, w)| w == b".so" && i > 0 && matches!(name.get(i + 3), None | Some(b'.')))
}

/// The ELF object type (`e_type`) of a file starting with `head`, if it is ELF.
#[must_use]
pub fn elf_type(head: &[u8]) -> Option<u16> {
    if !head.starts_with(b"\x7fELF") {
        return None;
    }
    let (lo, hi) = (*head.get(16)?, *head.get(17)?);
    // EI_DATA (byte 5): 1 little-endian, 2 big-endian.
    match head.get(5)? {
        1 => Some(u16::from_le_bytes([lo, hi])),
        2 => Some(u16::from_be_bytes([lo, hi])),
        _ => None,
    }
}

const ET_DYN: u16 = 3;

fn classify(
    path: &[u8],
    mode: u32,
    head: Option<&Vec<u8>>,
    in_script_dir: bool,
) -> Option<Listing> {
    let exec_bit = mode & 0o111 != 0;
    if head.is_some_and(|h| h.starts_with(b"#!")) || in_script_dir {
        return Some(Listing::Script);
    }
    let elf = head.and_then(|h| elf_type(h));
    if has_library_name(path) || (elf == Some(ET_DYN) && !exec_bit) {
        return Some(Listing::Library);
    }
    exec_bit.then_some(Listing::Executable)
}

/// `/bin/sh` from `#!/bin/sh -e`.
fn shebang_interpreter(head: &[u8]) -> Option<Box<[u8]>> {
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let interp = line
        .split(|&b| b == b' ' || b == b'\t')
        .find(|w| !w.is_empty())?;
    interp.starts_with(b"/").then(|| interp.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        for yes in [
            &b"/l/libc.so.6"[..],
            b"/l/libx.so",
            b"/l/ld-linux-x86-64.so.2",
        ] {
            assert!(has_library_name(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b"/l/.so"[..],
            b"/l/a.sock",
            b"/l/so.x",
            b"/l/x.sox",
            b"/x.so/bin",
        ] {
            assert!(!has_library_name(no), "{}", String::from_utf8_lossy(no));
        }
    }

    /// Issue #12: `allowlist build` with a relative `--root` signed a list that its own
    /// `check` refused ("paths must be absolute").
    #[test]
    fn a_relative_root_is_resolved_so_the_list_loads() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("device");
        std::fs::create_dir_all(tree.join("bin")).unwrap();
        std::fs::write(tree.join("bin/tool"), "#!/bin/sh\n").unwrap();
        let (profile, _) = medguard_profile::create(
            &tree,
            medguard_profile::CreateOptions::default(),
            &medguard_profile::Progress::default(),
        )
        .unwrap();
        let profile = medguard_profile::UnverifiedProfile::parse(&profile.to_text())
            .unwrap()
            .accept_unsigned()
            .unwrap();
        // Relative to the current directory (the test's is the crate's): via `..` segments
        // from it to the temporary tree.
        let cwd = std::env::current_dir().unwrap();
        let up: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        let relative = up.join(tree.strip_prefix("/").unwrap());
        assert!(relative.is_relative());
        let (list, summary) = build(&profile, &ListRules::default(), &relative).unwrap();
        let canonical = std::fs::canonicalize(&tree).unwrap();
        assert_eq!(summary.root, canonical.display().to_string());
        assert_eq!(summary.scripts, 1);
        let (key, _) = medguard_digest::SigningKey::generate().unwrap();
        let text = list.to_signed_text(&key);
        let loaded = crate::list::UnverifiedAllowlist::parse(&text)
            .unwrap()
            .verify(&[key.public_key().clone()])
            .unwrap();
        let path = format!("{}/bin/tool", canonical.display());
        assert!(
            loaded
                .list()
                .entries()
                .iter()
                .any(|e| *e.path == *path.as_bytes())
        );
        // A relative root that does not exist here cannot be resolved: refused, not listed.
        let err = build(
            &profile,
            &ListRules::default(),
            std::path::Path::new("no/such/root"),
        )
        .unwrap_err();
        assert!(matches!(err, BuildError::RelativeRoot { .. }), "{err}");
    }

    #[test]
    fn classification() {
        let pie = {
            let mut h = b"\x7fELF\x02\x01\x01".to_vec();
            h.resize(16, 0);
            h.extend_from_slice(&[3, 0]);
            h
        };
        assert_eq!(
            classify(b"/bin/x", 0o755, Some(&pie), false),
            Some(Listing::Executable)
        );
        assert_eq!(
            classify(b"/lib/plugin", 0o644, Some(&pie), false),
            Some(Listing::Library)
        );
        assert_eq!(
            classify(b"/lib/libc.so.6", 0o755, Some(&pie), false),
            Some(Listing::Library)
        );
        assert_eq!(
            classify(b"/etc/conf", 0o644, Some(&b"x=1".to_vec()), false),
            None
        );
        assert_eq!(
            classify(b"/etc/conf", 0o644, None, true),
            Some(Listing::Script)
        );
        assert_eq!(
            classify(b"/bin/s", 0o644, Some(&b"#!/bin/sh\n".to_vec()), false),
            Some(Listing::Script)
        );
        assert_eq!(
            classify(b"/bin/s", 0o700, None, false),
            Some(Listing::Executable)
        );
        assert_eq!(
            shebang_interpreter(b"#! /usr/bin/env python3\n").as_deref(),
            Some(&b"/usr/bin/env"[..])
        );
        assert_eq!(shebang_interpreter(b"#!sh\n"), None);
    }
}
