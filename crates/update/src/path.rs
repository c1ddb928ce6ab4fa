//! Paths inside a bundle: a validated type, so that a path that exists is safe to join to
//! the device's root (in the spirit of tough's `TargetName`).
//!
//! This module owns what a safe path is. It refuses rather than normalises: a bundle made
//! by `bundle create` never holds `a//b` or `./a`, so one that does was made by something
//! else and is not trusted to mean what it seems to.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// A path relative to the device's root: non-empty, no leading `/`, no empty, `.` or `..`
/// component, no NUL byte. Bytes, because file names on Linux are bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundlePath(Box<[u8]>);

impl BundlePath {
    /// Validates `bytes` (relative form, `a/b`).
    pub fn new(bytes: &[u8]) -> Result<Self, &'static str> {
        if bytes.is_empty() {
            return Err("empty path");
        }
        if bytes.len() > 4096 {
            return Err("longer than PATH_MAX");
        }
        if bytes.contains(&0) {
            return Err("contains a NUL byte");
        }
        if bytes.first() == Some(&b'/') {
            return Err("absolute path");
        }
        for c in bytes.split(|&b| b == b'/') {
            match c {
                b"" => return Err("empty component (\"//\" or a trailing \"/\")"),
                b"." => return Err("\".\" component"),
                b".." => return Err("\"..\" component"),
                _ if c.len() > 255 => return Err("component longer than NAME_MAX"),
                _ => {}
            }
        }
        Ok(Self(bytes.into()))
    }

    /// From a profile path (`/a/b`); `/` itself (the root) is not a bundle path.
    pub fn from_profile_path(path: &[u8]) -> Result<Self, &'static str> {
        match path.strip_prefix(b"/") {
            Some(rest) => Self::new(rest),
            None => Err("profile path does not start with \"/\""),
        }
    }

    /// The path's bytes, relative form.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path as a profile writes it (`/a/b`).
    #[must_use]
    pub fn to_profile_path(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.0.len() + 1);
        p.push(b'/');
        p.extend_from_slice(&self.0);
        p
    }

    /// The proper ancestors, outermost first (`a`, `a/b` for `a/b/c`), as relative bytes.
    pub fn ancestors(&self) -> impl Iterator<Item = &[u8]> {
        self.0
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'/')
            .filter_map(|(i, _)| self.0.get(..i))
    }

    /// `root` joined with this path. Safe by construction: no component can climb out.
    #[must_use]
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(OsStr::from_bytes(&self.0))
    }

    /// The path for messages: UTF-8 where it is, `\xNN` for other bytes.
    #[must_use]
    pub fn display(&self) -> String {
        medguard_profile::display_path(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes_and_non_normal_forms() {
        for bad in [
            &b""[..],
            b"/etc/passwd",
            b"..",
            b"a/../../etc",
            b"a/./b",
            b"a//b",
            b"a/",
            b"a\0b",
            b".",
        ] {
            assert!(BundlePath::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn accepts_plain_relative_paths_and_lists_ancestors() {
        let p = BundlePath::new(b"usr/lib/x..y").unwrap();
        assert_eq!(
            p.ancestors().collect::<Vec<_>>(),
            vec![&b"usr"[..], b"usr/lib"]
        );
        assert_eq!(p.to_profile_path(), b"/usr/lib/x..y");
        assert_eq!(
            BundlePath::from_profile_path(b"/a").unwrap().as_bytes(),
            b"a"
        );
        assert!(BundlePath::from_profile_path(b"/").is_err());
    }

    proptest::proptest! {
        #[test]
        fn a_valid_path_never_climbs_out(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            if let Ok(p) = BundlePath::new(&bytes) {
                let joined = p.under(Path::new("/root"));
                proptest::prop_assert!(joined.starts_with("/root"));
                proptest::prop_assert!(joined.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::RootDir)));
            }
        }
    }
}
