//! Hash signature lists in ClamAV's formats: `.hdb` and `.hsb`.
//!
//! This module owns parsing the lists and answering "which digests does a file of this size
//! need?" and "which signatures does this digest match?". It must not read scanned files.
//!
//! The format, as ClamAV's `cli_loadhash` reads it (the same loader serves both extensions,
//! and the digest type follows from the length of the hex string: 32 MD5, 40 SHA-1,
//! 64 SHA-256):
//!
//! ```text
//! HashString:FileSize:MalwareName[:MinFL[:MaxFL]]
//! ```
//!
//! - Lines starting with `#` are comments. Blank lines are skipped here (ClamAV refuses
//!   them; accepting them costs nothing and vendors' hand-edited lists have them).
//! - `FileSize` is a decimal number in `1..0xffffffff`, or `*` for any size. `*` was added
//!   at functionality level 73, so ClamAV refuses it unless `MinFL` is present and at least
//!   73; so do we, so that a list we accept is one ClamAV accepts too.
//! - `MinFL`/`MaxFL` bound the engine functionality levels a signature is meant for. A
//!   signature whose range excludes [`FUNCTIONALITY_LEVEL`] is skipped, as ClamAV does.
//!   ClamAV reads them with `atoi`; we refuse anything that is not a number, because a
//!   typo there would silently disable a signature.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The functionality level whose hash-signature semantics this module implements (ClamAV
/// 1.0's, which has had the wildcard size since level 73 and changed nothing in hash
/// signatures since).
pub const FUNCTIONALITY_LEVEL: u32 = 150;

/// The level at which ClamAV introduced the `*` size.
const WILDCARD_SIZE_LEVEL: u32 = 73;

/// A digest algorithm a signature names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestKind {
    /// MD5 (32 hex digits).
    Md5,
    /// SHA-1 (40 hex digits).
    Sha1,
    /// SHA-256 (64 hex digits).
    Sha256,
}

impl DigestKind {
    fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            32 => Some(Self::Md5),
            40 => Some(Self::Sha1),
            64 => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The name used in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }
}

/// Why a line of a hash list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashLineError {
    /// Fewer than 3 or more than 5 `:`-separated fields.
    #[error("expected HASH:SIZE:NAME[:MINFL[:MAXFL]], found {found} field(s)")]
    FieldCount {
        /// How many fields the line has.
        found: usize,
    },
    /// The hash is not 32, 40 or 64 hex digits.
    #[error("the hash {hash:?} is not an MD5, SHA-1 or SHA-256 hex string")]
    BadHash {
        /// The field as written.
        hash: String,
    },
    /// The size is neither `*` nor a number in 1..0xffffffff.
    #[error("the size {size:?} is not `*` or a number from 1 to 4294967294")]
    BadSize {
        /// The field as written.
        size: String,
    },
    /// A functionality level is not a number.
    #[error("the functionality level {level:?} is not a number")]
    BadLevel {
        /// The field as written.
        level: String,
    },
    /// `*` as size without a minimum functionality level of at least 73.
    #[error("a `*` size needs a minimum functionality level of at least 73 (HASH:*:NAME:73)")]
    WildcardWithoutLevel,
    /// The signature has no name.
    #[error("the signature has no name")]
    EmptyName,
}

/// Errors loading a hash list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashListError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The list file.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// A line was refused.
    #[error("{path}:{line}: {error}")]
    Line {
        /// The list file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why.
        #[source]
        error: HashLineError,
    },
    /// The file has no line at all (ClamAV refuses empty databases too).
    #[error("{path}: the hash list is empty")]
    Empty {
        /// The list file.
        path: PathBuf,
    },
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashSignature {
    /// The digest algorithm.
    pub kind: DigestKind,
    /// The digest bytes.
    pub digest: Vec<u8>,
    /// The file size the signature is for; `None` for `*`.
    pub size: Option<u64>,
    /// The malware name.
    pub name: String,
    /// Which loaded list it came from (index into [`HashLists::sources`]).
    pub source: usize,
    /// 1-based line in that list.
    pub line: usize,
}

/// Parses one line. `Ok(None)` for comments, blank lines and signatures meant for other
/// functionality levels.
pub fn parse_line(text: &str) -> Result<Option<ParsedLine<'_>>, HashLineError> {
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.starts_with('#') || text.trim().is_empty() {
        return Ok(None);
    }
    let fields: Vec<&str> = text.split(':').collect();
    let (hash, size, name, min_fl, max_fl) = match fields.as_slice() {
        [h, s, n] => (*h, *s, *n, None, None),
        [h, s, n, min] => (*h, *s, *n, Some(*min), None),
        [h, s, n, min, max] => (*h, *s, *n, Some(*min), Some(*max)),
        _ => {
            return Err(HashLineError::FieldCount {
                found: fields.len(),
            });
        }
    };
    let level = |s: &str| {
        s.parse::<u32>().map_err(|_| HashLineError::BadLevel {
            level: s.to_owned(),
        })
    };
    let min_fl = min_fl.map(level).transpose()?;
    let max_fl = max_fl.map(level).transpose()?;
    let kind = DigestKind::from_hex_len(hash.len()).ok_or_else(|| HashLineError::BadHash {
        hash: hash.to_owned(),
    })?;
    let digest = hex::decode(hash).map_err(|_| HashLineError::BadHash {
        hash: hash.to_owned(),
    })?;
    let size = if size == "*" {
        if min_fl.is_none_or(|l| l < WILDCARD_SIZE_LEVEL) {
            return Err(HashLineError::WildcardWithoutLevel);
        }
        None
    } else {
        let bad = || HashLineError::BadSize {
            size: size.to_owned(),
        };
        // Digits only: Rust's parser would also take a leading `+`.
        if !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n = size.parse::<u64>().map_err(|_| bad())?;
        if n == 0 || n >= 0xffff_ffff {
            return Err(bad());
        }
        Some(n)
    };
    if name.is_empty() {
        return Err(HashLineError::EmptyName);
    }
    if min_fl.is_some_and(|l| l > FUNCTIONALITY_LEVEL)
        || max_fl.is_some_and(|l| l < FUNCTIONALITY_LEVEL)
    {
        return Ok(None);
    }
    Ok(Some(ParsedLine {
        kind,
        digest,
        size,
        name,
    }))
}

/// A signature line as parsed, before it is attached to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine<'a> {
    /// The digest algorithm.
    pub kind: DigestKind,
    /// The digest bytes.
    pub digest: Vec<u8>,
    /// The size, `None` for `*`.
    pub size: Option<u64>,
    /// The malware name.
    pub name: &'a str,
}

/// Which digests a file needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// MD5.
    pub md5: bool,
    /// SHA-1.
    pub sha1: bool,
    /// SHA-256.
    pub sha256: bool,
}

impl Needs {
    /// Whether any digest is needed.
    #[must_use]
    pub fn any(self) -> bool {
        self.md5 || self.sha1 || self.sha256
    }
}

#[derive(Debug, Default, Clone)]
struct PerKind {
    by_digest: HashMap<Vec<u8>, Vec<usize>>,
    sizes: std::collections::HashSet<u64>,
    any_size: bool,
}

/// All loaded hash lists, indexed for lookup.
#[derive(Debug, Default, Clone)]
pub struct HashLists {
    sources: Vec<PathBuf>,
    signatures: Vec<HashSignature>,
    md5: PerKind,
    sha1: PerKind,
    sha256: PerKind,
}

impl HashLists {
    /// No lists.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the list in `text`, naming it `path` in errors and findings.
    pub fn add_text(&mut self, path: &Path, text: &str) -> Result<(), HashListError> {
        let source = self.sources.len();
        let mut lines = 0;
        let mut added = Vec::new();
        for (i, line) in text.lines().enumerate() {
            lines += 1;
            let parsed = parse_line(line).map_err(|error| HashListError::Line {
                path: path.to_owned(),
                line: i + 1,
                error,
            })?;
            if let Some(p) = parsed {
                added.push(HashSignature {
                    kind: p.kind,
                    digest: p.digest,
                    size: p.size,
                    name: p.name.to_owned(),
                    source,
                    line: i + 1,
                });
            }
        }
        if lines == 0 {
            return Err(HashListError::Empty {
                path: path.to_owned(),
            });
        }
        // Only a list that parsed completely is added: half a list would scan with
        // signatures silently missing.
        self.sources.push(path.to_owned());
        for sig in added {
            let index = self.signatures.len();
            let per = self.per_kind_mut(sig.kind);
            match sig.size {
                Some(s) => {
                    per.sizes.insert(s);
                }
                None => per.any_size = true,
            }
            per.by_digest
                .entry(sig.digest.clone())
                .or_default()
                .push(index);
            self.signatures.push(sig);
        }
        Ok(())
    }

    /// Reads and adds the list at `path`.
    pub fn add_file(&mut self, path: &Path) -> Result<(), HashListError> {
        let bytes = std::fs::read(path).map_err(|error| HashListError::Io {
            path: path.to_owned(),
            error,
        })?;
        // Malware names are ASCII in practice; a stray byte must not make the whole list
        // unreadable, and the name is only ever displayed.
        let text = String::from_utf8_lossy(&bytes);
        self.add_text(path, &text)
    }

    fn per_kind_mut(&mut self, kind: DigestKind) -> &mut PerKind {
        match kind {
            DigestKind::Md5 => &mut self.md5,
            DigestKind::Sha1 => &mut self.sha1,
            DigestKind::Sha256 => &mut self.sha256,
        }
    }

    fn per_kind(&self, kind: DigestKind) -> &PerKind {
        match kind {
            DigestKind::Md5 => &self.md5,
            DigestKind::Sha1 => &self.sha1,
            DigestKind::Sha256 => &self.sha256,
        }
    }

    /// The list files, in load order.
    #[must_use]
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// Every signature loaded.
    #[must_use]
    pub fn signatures(&self) -> &[HashSignature] {
        &self.signatures
    }

    /// Whether no signature is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// The digests a file of `size` bytes needs: only those for which some signature has
    /// that size or any size. Most files need none, and are then not hashed at all.
    #[must_use]
    pub fn needs(&self, size: u64) -> Needs {
        let need = |p: &PerKind| p.any_size || p.sizes.contains(&size);
        Needs {
            md5: need(&self.md5),
            sha1: need(&self.sha1),
            sha256: need(&self.sha256),
        }
    }

    /// The signatures matching a file of `size` bytes with `digest` of `kind`.
    pub fn lookup(
        &self,
        kind: DigestKind,
        digest: &[u8],
        size: u64,
    ) -> impl Iterator<Item = &HashSignature> {
        self.per_kind(kind)
            .by_digest
            .get(digest)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.signatures.get(i))
            .filter(move |s| s.size.is_none_or(|want| want == size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

    #[test]
    fn parses_the_three_digest_kinds_and_sizes() {
        let line = format!("{EICAR_MD5}:68:Eicar-Test-Signature");
        let p = parse_line(&line).unwrap().unwrap();
        assert_eq!(p.kind, DigestKind::Md5);
        assert_eq!(p.size, Some(68));
        assert_eq!(p.name, "Eicar-Test-Signature");
        let sha1 = "3395856ce81f2b7382dee72602f798b642f14140";
        assert_eq!(
            parse_line(&format!("{sha1}:*:X:73")).unwrap().unwrap().kind,
            DigestKind::Sha1
        );
        let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
        let line = format!("{sha256}:68:Y:73:255");
        let p = parse_line(&line).unwrap().unwrap();
        assert_eq!(p.kind, DigestKind::Sha256);
        assert_eq!(p.digest.len(), 32);
    }

    #[test]
    fn refuses_what_clamav_refuses() {
        let err = |l: &str| parse_line(l).unwrap_err();
        assert_eq!(
            err(&format!("{EICAR_MD5}:*:X")),
            HashLineError::WildcardWithoutLevel
        );
        assert_eq!(
            err(&format!("{EICAR_MD5}:*:X:72")),
            HashLineError::WildcardWithoutLevel
        );
        assert!(matches!(
            err(&format!("{EICAR_MD5}:0:X")),
            HashLineError::BadSize { .. }
        ));
        assert!(matches!(
            err(&format!("{EICAR_MD5}:+5:X")),
            HashLineError::BadSize { .. }
        ));
        assert!(matches!(
            err(&format!("{EICAR_MD5}:4294967295:X")),
            HashLineError::BadSize { .. }
        ));
        assert!(matches!(err("abc:1:X"), HashLineError::BadHash { .. }));
        assert!(matches!(
            err(&format!("{}:1:X", "g".repeat(32))),
            HashLineError::BadHash { .. }
        ));
        assert_eq!(err("a:b"), HashLineError::FieldCount { found: 2 });
        assert_eq!(err("a:b:c:1:2:3"), HashLineError::FieldCount { found: 6 });
        assert!(matches!(
            err(&format!("{EICAR_MD5}:5:X:seven")),
            HashLineError::BadLevel { .. }
        ));
    }

    #[test]
    fn skips_comments_and_other_levels() {
        assert_eq!(parse_line("# a comment").unwrap(), None);
        assert_eq!(parse_line("").unwrap(), None);
        assert_eq!(parse_line(&format!("{EICAR_MD5}:68:X:9999")).unwrap(), None);
        assert_eq!(parse_line(&format!("{EICAR_MD5}:68:X:1:2")).unwrap(), None);
    }

    #[test]
    fn a_bad_line_names_file_and_line_and_adds_nothing() {
        let mut lists = HashLists::new();
        let text = format!("# list\n{EICAR_MD5}:68:Good\nnot-a-signature\n");
        match lists.add_text(Path::new("v.hdb"), &text) {
            Err(HashListError::Line { path, line, .. }) => {
                assert_eq!(path, Path::new("v.hdb"));
                assert_eq!(line, 3);
            }
            other => panic!("{other:?}"),
        }
        assert!(lists.is_empty());
        assert!(matches!(
            lists.add_text(Path::new("e.hdb"), ""),
            Err(HashListError::Empty { .. })
        ));
    }

    #[test]
    fn needs_and_lookup_follow_sizes() {
        let mut lists = HashLists::new();
        let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
        lists
            .add_text(
                Path::new("l.hsb"),
                &format!("{EICAR_MD5}:68:A\n{sha256}:*:B:73\n"),
            )
            .unwrap();
        assert_eq!(
            lists.needs(68),
            Needs {
                md5: true,
                sha1: false,
                sha256: true
            }
        );
        assert_eq!(
            lists.needs(69),
            Needs {
                md5: false,
                sha1: false,
                sha256: true
            }
        );
        let md5 = hex::decode(EICAR_MD5).unwrap();
        assert_eq!(lists.lookup(DigestKind::Md5, &md5, 68).count(), 1);
        assert_eq!(lists.lookup(DigestKind::Md5, &md5, 67).count(), 0);
        let s = hex::decode(sha256).unwrap();
        let hit: Vec<_> = lists.lookup(DigestKind::Sha256, &s, 12345).collect();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].line, 2);
        assert_eq!(lists.sources()[hit[0].source], Path::new("l.hsb"));
    }

    proptest::proptest! {
        /// The fuzz target's properties, on proptest's inputs, in every test run.
        #[test]
        fn any_text_parses_or_names_a_line(text in "([0-9a-fA-F:*#]{0,80}[\\n\\r]?){0,6}") {
            let mut lists = HashLists::new();
            match lists.add_text(Path::new("p.hsb"), &text) {
                Ok(()) => {
                    for sig in lists.signatures() {
                        let size = sig.size.unwrap_or(7);
                        proptest::prop_assert!(lists.needs(size).any());
                        proptest::prop_assert!(
                            lists.lookup(sig.kind, &sig.digest, size).any(|s| s.line == sig.line)
                        );
                    }
                }
                Err(HashListError::Line { line, .. }) => {
                    proptest::prop_assert!(line >= 1 && line <= text.lines().count());
                }
                Err(HashListError::Empty { .. }) => proptest::prop_assert!(text.is_empty()),
                Err(e) => proptest::prop_assert!(false, "{e}"),
            }
        }

        #[test]
        fn accepted_lines_round_trip(
            digest in proptest::collection::vec(proptest::num::u8::ANY, 16..=16),
            size in proptest::option::of(1u64..0xffff_fffe),
            name in "[A-Za-z0-9._-]{1,30}",
        ) {
            let s = size.map_or_else(|| "*".to_owned(), |s| s.to_string());
            let line = format!("{}:{s}:{name}:73", hex::encode(&digest));
            let p = parse_line(&line).unwrap().unwrap();
            proptest::prop_assert_eq!(p.digest, digest);
            proptest::prop_assert_eq!(p.size, size);
            proptest::prop_assert_eq!(p.name, name.as_str());
        }
    }
}
