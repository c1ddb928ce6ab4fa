//! The allowlist document: its text format, and the types that carry (or do not yet carry)
//! trust.
//!
//! ```text
//! #medguard-allowlist 1
//! #profile-signer <key id of the profile's signer>
//! #root /
//! executable /opt/vendor/bin/viewer blake3=<hex> size=18312
//! library /opt/vendor/lib/libdicom.so.3 blake3=<hex> size=912384
//! script /opt/vendor/bin/start.sh blake3=<hex> size=212 interpreter=/bin/sh
//! exception /opt/vendor/bin/updater blake3=any reason=replaced\040by\040the\040updater
//! #signature ed25519 <key id> <base64>
//! ```
//!
//! One entry a line, sorted by path bytes and unique, every path escaped as in profiles
//! (`medguard_profile::escape`), so any file name fits on a line. Paths are absolute paths
//! on the device (the profile's paths below `#root`). `blake3=any` (exceptions only) allows
//! whatever content is at the path. The document is signed with the digest crate's envelope
//! under its own context string ([`SIGNING_CONTEXT`]), so a signed profile or audit
//! checkpoint can never be passed off as an allowlist.

use std::fmt::{self, Write as _};

use medguard_digest::{EnvelopeError, KeyId, PublicKey, SigningKey, UnverifiedDocument};
use medguard_profile::escape::{escape, unescape};

/// The signing context of allowlists.
pub const SIGNING_CONTEXT: &str = "medguard allowlist v1";
const MAGIC: &str = "#medguard-allowlist 1";

/// Why a file is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Listing {
    /// A program of the validated configuration (a regular file with an x bit).
    Executable,
    /// A shared library (ELF `ET_DYN` without x bits, or a `*.so`/`*.so.*` name).
    Library,
    /// A script: it starts with `#!`, or lies in an interpreter's script directory.
    Script,
    /// A vendor exception from the rules.
    Exception,
}

impl Listing {
    /// The keyword in the document.
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Executable => "executable",
            Self::Library => "library",
            Self::Script => "script",
            Self::Exception => "exception",
        }
    }

    fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "executable" => Self::Executable,
            "library" => Self::Library,
            "script" => Self::Script,
            "exception" => Self::Exception,
            _ => return None,
        })
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// The content a listed path may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Content {
    /// Exactly this BLAKE3 digest (and size).
    Exact {
        /// BLAKE3 of the content.
        blake3: [u8; 32],
        /// Size in bytes.
        size: u64,
    },
    /// Any content (vendor exceptions only: a file the vendor's own updater rewrites).
    Any,
}

/// One allowed file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListEntry {
    /// Absolute path on the device.
    pub path: Box<[u8]>,
    /// Why it is listed.
    pub listing: Listing,
    /// What its content must be.
    pub content: Content,
    /// The interpreter that runs it (scripts).
    pub interpreter: Option<Box<[u8]>>,
    /// The vendor's reason (exceptions).
    pub reason: Option<String>,
}

/// List-wide information.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListHeader {
    /// The key that signed the profile the list was built from.
    pub profile_signer: Option<KeyId>,
    /// Where the profiled tree sits on the device.
    pub root: Box<[u8]>,
}

/// An allowlist: entries sorted by path, unique.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    /// List-wide information.
    pub header: ListHeader,
    entries: Vec<ListEntry>,
}

/// Why a list document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// The first line is not the allowlist magic.
    #[error("not a medguard allowlist (first line must be {MAGIC:?})")]
    NotAnAllowlist,
    /// A line could not be parsed.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// Two entries for one path, or entries out of order.
    #[error("line {line}: path {path} is not after the previous entry's (duplicate or unsorted)")]
    Order {
        /// 1-based line number.
        line: usize,
        /// The escaped path.
        path: String,
    },
    /// The signature envelope was refused.
    #[error(transparent)]
    Signature(#[from] EnvelopeError),
}

impl Allowlist {
    /// A list of `entries`; sorts them and keeps the first entry of each path.
    #[must_use]
    pub fn new(header: ListHeader, mut entries: Vec<ListEntry>) -> Self {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|b, a| a.path == b.path);
        Self { header, entries }
    }

    /// The entries, sorted by path.
    #[must_use]
    pub fn entries(&self) -> &[ListEntry] {
        &self.entries
    }

    /// The entry for `path`, by binary search.
    #[must_use]
    pub fn get(&self, path: &[u8]) -> Option<&ListEntry> {
        self.entries
            .binary_search_by(|e| (*e.path).cmp(path))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The list as text, without a signature.
    #[must_use]
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = String::with_capacity(64 + self.entries.len() * 120);
        out.push_str(MAGIC);
        out.push('\n');
        if let Some(k) = self.header.profile_signer {
            let _ = writeln!(out, "#profile-signer {k}");
        }
        let _ = writeln!(out, "#root {}", escape(&self.header.root));
        for e in &self.entries {
            let _ = write!(out, "{} {}", e.listing, escape(&e.path));
            match e.content {
                Content::Exact { blake3, size } => {
                    let _ = write!(out, " blake3={} size={size}", hex::encode(blake3));
                }
                Content::Any => out.push_str(" blake3=any"),
            }
            if let Some(i) = &e.interpreter {
                let _ = write!(out, " interpreter={}", escape(i));
            }
            if let Some(r) = &e.reason {
                let _ = write!(out, " reason={}", escape(r.as_bytes()));
            }
            out.push('\n');
        }
        out.into_bytes()
    }

    /// The list as text, signed with `key`.
    #[must_use]
    pub fn to_signed_text(&self, key: &SigningKey) -> Vec<u8> {
        medguard_digest::sign_document(SIGNING_CONTEXT, &self.to_text(), key)
    }
}

/// A list whose signature has not been checked. Its entries are not reachable.
#[derive(Debug)]
pub struct UnverifiedAllowlist<'a> {
    doc: UnverifiedDocument<'a>,
}

/// A list signed by a trusted key (or, for lab use, accepted unsigned on request). The
/// enforcer and the check accept only this type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAllowlist {
    list: Allowlist,
    signer: Option<KeyId>,
}

impl VerifiedAllowlist {
    /// The list.
    #[must_use]
    pub fn list(&self) -> &Allowlist {
        &self.list
    }

    /// The trusted key that signed it; `None` if accepted unsigned.
    #[must_use]
    pub fn signer(&self) -> Option<KeyId> {
        self.signer
    }

    /// A list built on this machine is trusted by construction (nothing read it from disk).
    #[must_use]
    pub fn from_own(list: Allowlist) -> Self {
        Self { list, signer: None }
    }
}

impl<'a> UnverifiedAllowlist<'a> {
    /// Splits the signature trailer off `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ListError> {
        if !bytes.starts_with(MAGIC.as_bytes()) {
            return Err(ListError::NotAnAllowlist);
        }
        Ok(Self {
            doc: UnverifiedDocument::parse(bytes)?,
        })
    }

    /// Checks the signature against the trusted keys, then parses the body.
    pub fn verify(self, trusted: &[PublicKey]) -> Result<VerifiedAllowlist, ListError> {
        let doc = self.doc.verify(SIGNING_CONTEXT, trusted)?;
        Ok(VerifiedAllowlist {
            list: parse_body(doc.body())?,
            signer: doc.signer(),
        })
    }

    /// Parses the body without checking any signature. Lab use (and fuzzing) only: the
    /// caller must say loudly that nothing about the list's origin was checked.
    pub fn accept_unsigned(self) -> Result<VerifiedAllowlist, ListError> {
        Ok(VerifiedAllowlist {
            list: parse_body(self.doc.accept_unsigned().body())?,
            signer: None,
        })
    }
}

/// Why a list file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The list file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// The file was refused.
    #[error("{path}: {error}")]
    List {
        /// The list file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        error: ListError,
    },
}

/// Reads the list at `path` and verifies its signature against `trusted`.
pub fn load(path: &std::path::Path, trusted: &[PublicKey]) -> Result<VerifiedAllowlist, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| LoadError::Io {
        path: path.to_owned(),
        error,
    })?;
    UnverifiedAllowlist::parse(&bytes)
        .and_then(|u| u.verify(trusted))
        .map_err(|error| LoadError::List {
            path: path.to_owned(),
            error,
        })
}

fn parse_body(body: &[u8]) -> Result<Allowlist, ListError> {
    let mut header = ListHeader {
        profile_signer: None,
        root: b"/"[..].into(),
    };
    let mut entries: Vec<ListEntry> = Vec::new();
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let bad = |reason: &str| ListError::Line {
            line: line_no,
            reason: reason.to_owned(),
        };
        if i == 0 {
            if raw != MAGIC.as_bytes() {
                return Err(ListError::NotAnAllowlist);
            }
            continue;
        }
        let line = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8 (paths are escaped)"))?;
        if line.is_empty() || line == "#" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#profile-signer ") {
            header.profile_signer =
                Some(KeyId::from_hex(rest).ok_or_else(|| bad("key id is not 32 hex digits"))?);
            continue;
        }
        if let Some(rest) = line.strip_prefix("#root ") {
            header.root = unescape_path(rest).map_err(&bad)?;
            continue;
        }
        if line.starts_with('#') {
            // Comments and headers of later versions.
            continue;
        }
        let entry = parse_entry(line).map_err(|r| bad(&r))?;
        if let Some(prev) = entries.last()
            && prev.path >= entry.path
        {
            return Err(ListError::Order {
                line: line_no,
                path: escape(&entry.path),
            });
        }
        entries.push(entry);
    }
    Ok(Allowlist { header, entries })
}

fn unescape_path(text: &str) -> Result<Box<[u8]>, &'static str> {
    let p = unescape(text.as_bytes()).map_err(|_| "bad escape in path")?;
    if p.first() != Some(&b'/') {
        return Err("paths must be absolute");
    }
    Ok(p.into())
}

fn parse_entry(line: &str) -> Result<ListEntry, String> {
    let mut fields = line.split(' ');
    let kind = fields.next().unwrap_or_default();
    let listing = Listing::from_keyword(kind).ok_or_else(|| format!("unknown kind {kind:?}"))?;
    let path = unescape_path(fields.next().ok_or("missing path")?)?;
    let mut blake3 = None;
    let mut any = false;
    let mut size = None;
    let mut interpreter = None;
    let mut reason = None;
    for f in fields {
        let (key, value) = f
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, found {f:?}"))?;
        let dup = || format!("{key} given twice");
        match key {
            "blake3" if value == "any" => {
                if any || blake3.is_some() {
                    return Err(dup());
                }
                any = true;
            }
            "blake3" => {
                let mut d = [0u8; 32];
                hex::decode_to_slice(value, &mut d)
                    .map_err(|_| "blake3 must be 64 hex digits or \"any\"".to_owned())?;
                if any || blake3.replace(d).is_some() {
                    return Err(dup());
                }
            }
            "size" => {
                let s: u64 = value
                    .parse()
                    .map_err(|_| "size is not a number".to_owned())?;
                if size.replace(s).is_some() {
                    return Err(dup());
                }
            }
            "interpreter" => {
                if interpreter.replace(unescape_path(value)?).is_some() {
                    return Err(dup());
                }
            }
            "reason" => {
                let r = unescape(value.as_bytes()).map_err(|_| "bad escape in reason")?;
                let r = String::from_utf8(r).map_err(|_| "reason is not UTF-8".to_owned())?;
                if reason.replace(r).is_some() {
                    return Err(dup());
                }
            }
            _ => return Err(format!("unknown attribute {key:?}")),
        }
    }
    let content = match (blake3, size, any) {
        (Some(blake3), Some(size), false) => Content::Exact { blake3, size },
        (None, None, true) if listing == Listing::Exception => Content::Any,
        (None, None, true) => return Err("blake3=any is allowed on exceptions only".to_owned()),
        (None, Some(_), true) => return Err("blake3=any takes no size".to_owned()),
        _ => return Err("an entry needs blake3= and size=".to_owned()),
    };
    if interpreter.is_some() && listing != Listing::Script {
        return Err("interpreter= belongs to scripts only".to_owned());
    }
    Ok(ListEntry {
        path,
        listing,
        content,
        interpreter,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Allowlist {
        Allowlist::new(
            ListHeader {
                profile_signer: None,
                root: b"/opt/dev ice"[..].into(),
            },
            vec![
                ListEntry {
                    path: b"/opt/dev ice/bin/run.sh"[..].into(),
                    listing: Listing::Script,
                    content: Content::Exact {
                        blake3: [7; 32],
                        size: 12,
                    },
                    interpreter: Some(b"/bin/sh"[..].into()),
                    reason: None,
                },
                ListEntry {
                    path: b"/opt/dev ice/bin/a\nb"[..].into(),
                    listing: Listing::Exception,
                    content: Content::Any,
                    interpreter: None,
                    reason: Some("vendor updater = rewrites it #1".to_owned()),
                },
            ],
        )
    }

    #[test]
    fn text_round_trips_and_signature_is_checked() {
        let key = medguard_digest::SigningKey::generate().unwrap().0;
        let list = sample();
        let text = list.to_signed_text(&key);
        let v = UnverifiedAllowlist::parse(&text)
            .unwrap()
            .verify(&[key.public_key().clone()])
            .unwrap();
        assert_eq!(v.list(), &list);
        assert_eq!(v.signer(), Some(key.public_key().id()));
        let other = medguard_digest::SigningKey::generate().unwrap().0;
        assert!(matches!(
            UnverifiedAllowlist::parse(&text)
                .unwrap()
                .verify(&[other.public_key().clone()]),
            Err(ListError::Signature(EnvelopeError::UntrustedSigner { .. }))
        ));
        let mut altered = text.clone();
        let pos = altered.iter().position(|&b| b == b'=').unwrap();
        altered.insert(pos, b'x');
        assert!(
            UnverifiedAllowlist::parse(&altered)
                .unwrap()
                .verify(&[key.public_key().clone()])
                .is_err()
        );
    }

    #[test]
    fn a_profile_signature_does_not_make_an_allowlist() {
        let key = medguard_digest::SigningKey::generate().unwrap().0;
        let text =
            medguard_digest::sign_document("medguard system profile v1", &sample().to_text(), &key);
        assert!(matches!(
            UnverifiedAllowlist::parse(&text)
                .unwrap()
                .verify(&[key.public_key().clone()]),
            Err(ListError::Signature(EnvelopeError::Altered(_)))
        ));
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let cases: &[(&str, usize)] = &[
            ("#medguard-allowlist 1\nprogram /x blake3=any\n", 2),
            (
                "#medguard-allowlist 1\n#root /\nexecutable /x blake3=any\n",
                3,
            ),
            ("#medguard-allowlist 1\nexecutable x size=1 blake3=00\n", 2),
            ("#medguard-allowlist 1\nlibrary /x size=1\n", 2),
        ];
        for (text, line) in cases {
            match UnverifiedAllowlist::parse(text.as_bytes())
                .unwrap()
                .accept_unsigned()
            {
                Err(ListError::Line { line: l, .. }) => assert_eq!(l, *line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let dup = format!(
            "#medguard-allowlist 1\nexception /x blake3=any\nexecutable /x blake3={} size=1\n",
            "0".repeat(64)
        );
        assert!(matches!(
            UnverifiedAllowlist::parse(dup.as_bytes())
                .unwrap()
                .accept_unsigned(),
            Err(ListError::Order { line: 3, .. })
        ));
        assert!(matches!(
            UnverifiedAllowlist::parse(b"#medguard-profile 1\n"),
            Err(ListError::NotAnAllowlist)
        ));
    }
}
