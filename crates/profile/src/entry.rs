//! What a profile records about one directory entry, and which of it is checked.

use std::fmt;

/// The kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A block device.
    BlockDevice,
    /// A character device.
    CharDevice,
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
}

impl EntryKind {
    /// The keyword used in profiles and mtree specs.
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "dir",
            Self::Symlink => "link",
            Self::BlockDevice => "block",
            Self::CharDevice => "char",
            Self::Fifo => "fifo",
            Self::Socket => "socket",
        }
    }

    /// Parses [`EntryKind::keyword`].
    #[must_use]
    pub fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "file" => Self::File,
            "dir" => Self::Dir,
            "link" => Self::Symlink,
            "block" => Self::BlockDevice,
            "char" => Self::CharDevice,
            "fifo" => Self::Fifo,
            "socket" => Self::Socket,
            _ => return None,
        })
    }

    /// From a file type as `lstat` reports it.
    #[must_use]
    pub fn from_file_type(ft: std::fs::FileType) -> Self {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_dir() {
            Self::Dir
        } else if ft.is_symlink() {
            Self::Symlink
        } else if ft.is_block_device() {
            Self::BlockDevice
        } else if ft.is_char_device() {
            Self::CharDevice
        } else if ft.is_fifo() {
            Self::Fifo
        } else if ft.is_socket() {
            Self::Socket
        } else {
            Self::File
        }
    }
}

/// One attribute of an entry that a profile can check, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Attribute {
    /// File, directory, link, device...
    Type,
    /// Content digest (regular files).
    Content,
    /// Size in bytes (regular files).
    Size,
    /// Permission bits including setuid, setgid and sticky.
    Mode,
    /// Owner.
    Uid,
    /// Group.
    Gid,
    /// Symbolic link target.
    Target,
    /// Major and minor device numbers (device files).
    Device,
    /// Extended attributes, including file capabilities and security labels.
    Xattrs,
    /// Which other paths are hard links to the same file.
    Hardlink,
    /// Modification time.
    Mtime,
}

impl Attribute {
    /// Every attribute, in report order.
    pub const ALL: [Self; 11] = [
        Self::Type,
        Self::Content,
        Self::Size,
        Self::Mode,
        Self::Uid,
        Self::Gid,
        Self::Target,
        Self::Device,
        Self::Xattrs,
        Self::Hardlink,
        Self::Mtime,
    ];

    /// The name used in rules and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Mode => "mode",
            Self::Uid => "uid",
            Self::Gid => "gid",
            Self::Size => "size",
            Self::Content => "content",
            Self::Target => "target",
            Self::Device => "device",
            Self::Xattrs => "xattrs",
            Self::Hardlink => "hardlink",
            Self::Mtime => "mtime",
        }
    }

    /// Parses [`Attribute::name`].
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Attribute`]s, plus the "growing" relaxation: a file that may only grow
/// (a log) passes when its size did not shrink, whatever its content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AttributeSet(u16);

const GROWING: u16 = 1 << 15;

impl AttributeSet {
    /// No attribute.
    pub const EMPTY: Self = Self(0);

    /// What a profile checks unless a rule says otherwise: everything but the modification
    /// time, which changes when an image is copied without changing what it contains.
    #[must_use]
    pub fn default_checks() -> Self {
        let mut s = Self::EMPTY;
        for a in Attribute::ALL {
            if a != Attribute::Mtime {
                s.insert(a);
            }
        }
        s
    }

    /// Adds an attribute.
    pub fn insert(&mut self, a: Attribute) {
        self.0 |= a.bit();
    }

    /// Removes an attribute.
    pub fn remove(&mut self, a: Attribute) {
        self.0 &= !a.bit();
    }

    /// Whether `a` is in the set.
    #[must_use]
    pub fn contains(self, a: Attribute) -> bool {
        self.0 & a.bit() != 0
    }

    /// Whether the file may grow: size may only increase and content is not compared.
    #[must_use]
    pub fn growing(self) -> bool {
        self.0 & GROWING != 0
    }

    /// Marks the set as growing.
    pub fn set_growing(&mut self, on: bool) {
        if on {
            self.0 |= GROWING;
        } else {
            self.0 &= !GROWING;
        }
    }

    /// The attributes in the set, in report order.
    pub fn iter(self) -> impl Iterator<Item = Attribute> {
        Attribute::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// Whether nothing is in the set.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 & !GROWING == 0
    }
}

impl fmt::Debug for AttributeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_set();
        l.entries(self.iter());
        if self.growing() {
            l.entry(&"growing");
        }
        l.finish()
    }
}

impl FromIterator<Attribute> for AttributeSet {
    fn from_iter<I: IntoIterator<Item = Attribute>>(iter: I) -> Self {
        let mut s = Self::EMPTY;
        for a in iter {
            s.insert(a);
        }
        s
    }
}

/// Metadata of one entry as `lstat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Entry kind.
    pub kind: EntryKind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u32,
    /// Device numbers of a device file (major, minor).
    pub rdev: (u32, u32),
    /// Link count.
    pub nlink: u64,
}

/// An extended attribute: name and value, both bytes.
pub type Xattr = (Box<[u8]>, Box<[u8]>);

/// The rarer parts of an entry, boxed so a plain entry stays small in memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extra {
    /// SHA-256 of the content, when the profile records it.
    pub sha256: Option<[u8; 32]>,
    /// Symbolic link target.
    pub target: Option<Box<[u8]>>,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<Xattr>,
    /// The first path (in byte order) of the entry's hard-link group, when it is not this
    /// entry itself.
    pub hardlink: Option<Box<[u8]>>,
}

impl Extra {
    fn is_empty(&self) -> bool {
        self.sha256.is_none()
            && self.target.is_none()
            && self.xattrs.is_empty()
            && self.hardlink.is_none()
    }
}

/// One recorded entry. Paths are bytes relative to the profiled root, written as
/// `/dir/name`, with the root itself as `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path below the root, starting with `/`.
    pub path: Box<[u8]>,
    /// Metadata.
    pub meta: Meta,
    /// BLAKE3 of the content (regular files whose content was read).
    pub blake3: Option<[u8; 32]>,
    /// Less common attributes.
    pub extra: Option<Box<Extra>>,
}

/// The index of the entry at `path` in `entries`, which are sorted by path.
pub(crate) fn find(entries: &[Entry], path: &[u8]) -> Option<usize> {
    entries.binary_search_by(|e| (*e.path).cmp(path)).ok()
}

impl Meta {
    /// Metadata with every field zero (a link count of one), for parsers to fill in.
    #[must_use]
    pub fn empty(kind: EntryKind) -> Self {
        Self {
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            mtime_nsec: 0,
            rdev: (0, 0),
            nlink: 1,
        }
    }

    /// Parses octal permission bits (`0644`), refusing anything above `07777`.
    pub(crate) fn parse_mode(s: &str) -> Option<u32> {
        u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777)
    }

    /// Parses `seconds[.nanoseconds]`.
    pub(crate) fn parse_time(s: &str) -> Option<(i64, u32)> {
        let (sec, nsec) = s.split_once('.').unwrap_or((s, "0"));
        let nsec: u32 = nsec.parse().ok()?;
        (nsec < 1_000_000_000).then_some((sec.parse().ok()?, nsec))
    }
}

impl Entry {
    /// An entry at `path` with empty metadata, for parsers to fill in.
    #[must_use]
    pub fn new(path: Box<[u8]>, meta: Meta) -> Self {
        Self {
            path,
            meta,
            blake3: None,
            extra: None,
        }
    }

    /// The extra attributes, or an empty set.
    #[must_use]
    pub fn extra(&self) -> &Extra {
        static EMPTY: Extra = Extra {
            sha256: None,
            target: None,
            xattrs: Vec::new(),
            hardlink: None,
        };
        self.extra.as_deref().unwrap_or(&EMPTY)
    }

    /// Mutable extra attributes, allocated on first use.
    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Drops the extra box when it holds nothing.
    pub fn shrink(&mut self) {
        if self.extra.as_deref().is_some_and(Extra::is_empty) {
            self.extra = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_stays_small() {
        // Memory per entry is a benchmark target (under 300 bytes with the path).
        assert!(
            std::mem::size_of::<Entry>() <= 128,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }

    #[test]
    fn attribute_names_round_trip() {
        for a in Attribute::ALL {
            assert_eq!(Attribute::from_name(a.name()), Some(a));
        }
        let d = AttributeSet::default_checks();
        assert!(d.contains(Attribute::Content) && !d.contains(Attribute::Mtime));
    }
}
