//! Which component owns a file of the device: the index that turns `/proc` evidence (an
//! executable, a mapped library) into a component.
//!
//! On a merged-/usr system (`/bin -> usr/bin`, `/lib -> usr/lib`, ...) `/lib/x` and
//! `/usr/lib/x` are the same file, and dpkg's lists name whichever path the package shipped
//! while the kernel reports the resolved one. Every path is therefore put in canonical form
//! (`/usr/...`) for the top-level directories that are links into `/usr` under the root.

use std::collections::HashMap;
use std::path::Path;

/// Top-level directories that usr-merge turns into links.
const MERGEABLE: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// A fast non-cryptographic hasher (rustc's Fx) for the path index: a system has ~100k
/// listed paths and SipHash was most of the collection's CPU time. The keys come from the
/// device's own package databases, not from a network peer, so hash flooding is not a
/// concern here.
#[derive(Debug, Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// Path (canonical, as bytes) to the index of the owning component.
#[derive(Debug, Default)]
pub struct FileIndex {
    merged: Vec<&'static str>,
    owners: HashMap<Box<[u8]>, usize, FxBuild>,
}

impl FileIndex {
    /// An empty index for the tree at `root`, with its usr-merge links detected.
    #[must_use]
    pub fn new(root: &Path) -> Self {
        let merged = MERGEABLE
            .into_iter()
            .filter(|d| {
                std::fs::read_link(root.join(d)).is_ok_and(|t| {
                    let t = t.to_string_lossy().into_owned();
                    t.trim_start_matches('/').trim_end_matches('/') == format!("usr/{d}")
                })
            })
            .collect();
        FileIndex {
            merged,
            owners: HashMap::with_capacity_and_hasher(1 << 16, FxBuild::default()),
        }
    }

    /// The canonical form of an absolute device path.
    fn canonical<'a>(&self, path: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        for d in &self.merged {
            let d = d.as_bytes();
            if let Some(rest) = path.strip_prefix(b"/").and_then(|p| p.strip_prefix(d))
                && (rest.is_empty() || rest.first() == Some(&b'/'))
            {
                let mut out = Vec::with_capacity(path.len() + 4);
                out.extend_from_slice(b"/usr");
                out.extend_from_slice(path);
                return std::borrow::Cow::Owned(out);
            }
        }
        std::borrow::Cow::Borrowed(path)
    }

    /// Records that `owner` ships `path`. The first owner of a path keeps it (dpkg lists
    /// directories under every package that has files in them).
    pub fn insert(&mut self, path: &[u8], owner: usize) {
        let key = self.canonical(path);
        if !self.owners.contains_key(key.as_ref()) {
            self.owners
                .insert(key.into_owned().into_boxed_slice(), owner);
        }
    }

    /// The owner of `path`, if any.
    #[must_use]
    pub fn owner(&self, path: &[u8]) -> Option<usize> {
        self.owners.get(self.canonical(path).as_ref()).copied()
    }

    /// How many paths are indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Whether `path` is owned by some component (language collectors skip what an OS
    /// package manager installed).
    #[must_use]
    pub fn contains(&self, path: &[u8]) -> bool {
        self.owner(path).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usr_merge() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib", dir.path().join("lib")).unwrap();
        let mut idx = FileIndex::new(dir.path());
        idx.insert(b"/lib/x86_64-linux-gnu/libc.so.6", 3);
        assert_eq!(idx.owner(b"/usr/lib/x86_64-linux-gnu/libc.so.6"), Some(3));
        assert_eq!(idx.owner(b"/lib/x86_64-linux-gnu/libc.so.6"), Some(3));
        assert_eq!(idx.owner(b"/library/x"), None);
        // /bin is not a link here: no merging.
        idx.insert(b"/bin/sh", 4);
        assert_eq!(idx.owner(b"/usr/bin/sh"), None);
    }
}
