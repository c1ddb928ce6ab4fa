//! The bundle file: framing, signature, blob extraction, and making a bundle from two trees.
//!
//! ```text
//! medguard-bundle 1\n
//! manifest <N>\n
//! <N bytes: the manifest JSON, then its #signature trailer (medguard-digest's envelope)>
//! payload <M>\n
//! <M bytes: zstd frames, one per blob, at the offsets the manifest gives>
//! ```
//!
//! Only the framing is read before the signature is checked: two decimal lengths, each
//! bounded, and the file must end exactly where they say (trailing or missing bytes are
//! refused: endless data). The manifest JSON is parsed only once a trusted key's
//! signature over it verified. Each blob is then decompressed into a writer with its
//! declared size as a hard limit and its BLAKE3 checked, so the payload is trusted blob by
//! blob through the signed manifest.
//!
//! This module owns the format. It must not touch the device's tree; `install` does.
//! zstd (the `zstd` crate, bindings to the reference C library) compresses: it is the
//! format's usual choice, fast to decompress, and its frames are self-delimiting.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use medguard_digest::{KeyId, PublicKey, SigningKey, UnverifiedDocument, sign_document};
use medguard_profile::{
    Attribute, Baseline, CreateOptions, Decision, DeviationKind, EntryKind, Progress, Rules,
    SystemProfile, UnverifiedProfile, VerifiedProfile, WalkOptions,
};

use crate::UpdateError;
use crate::manifest::{
    BUNDLE_CONTEXT, Blob, Change, Kind, Manifest, Operation, Ownership, SelfTest, is_carried_xattr,
};
use crate::path::BundlePath;

const MAGIC: &[u8] = b"medguard-bundle 1\n";
/// The manifest may not be longer than this (two profiles of a large device fit).
pub const MAX_MANIFEST: u64 = 256 << 20;

/// A bundle file whose manifest signature has not been checked.
#[derive(Debug)]
pub struct UnverifiedBundle {
    path: PathBuf,
    file: File,
    signed_manifest: Vec<u8>,
    payload_offset: u64,
    payload_len: u64,
}

/// A bundle whose manifest a trusted key signed and whose manifest validated.
#[derive(Debug)]
pub struct VerifiedBundle {
    path: PathBuf,
    file: File,
    signed_manifest: Vec<u8>,
    payload_offset: u64,
    manifest: Manifest,
    signer: KeyId,
}

/// The framing of a bundle read from memory: the signed manifest and the payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The manifest with its signature trailer.
    pub signed_manifest: &'a [u8],
    /// The payload.
    pub payload: &'a [u8],
}

/// Splits a bundle held in memory into its parts (the same rules as [`UnverifiedBundle::open`]).
pub fn parse_frame(bytes: &[u8]) -> Result<Frame<'_>, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("does not start with \"medguard-bundle 1\"")?;
    let (manifest_len, rest) = length_line(rest, b"manifest ")?;
    let manifest_len = usize::try_from(manifest_len).map_err(|_| "manifest too long")?;
    let (signed_manifest, rest) = rest
        .split_at_checked(manifest_len)
        .ok_or("truncated in the manifest")?;
    let (payload_len, payload) = length_line(rest, b"payload ")?;
    if payload.len() as u64 != payload_len {
        return Err(format!(
            "the payload is {} bytes, its header says {payload_len}",
            payload.len()
        ));
    }
    Ok(Frame {
        signed_manifest,
        payload,
    })
}

fn length_line<'a>(bytes: &'a [u8], tag: &[u8]) -> Result<(u64, &'a [u8]), String> {
    let tag_text = String::from_utf8_lossy(tag).trim().to_owned();
    let rest = bytes
        .strip_prefix(tag)
        .ok_or_else(|| format!("expected a {tag_text:?} line"))?;
    let end = rest
        .iter()
        .take(21)
        .position(|&b| b == b'\n')
        .ok_or_else(|| format!("the {tag_text:?} line has no decimal length"))?;
    let digits = rest.get(..end).unwrap_or_default();
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits.first() == Some(&b'0'))
    {
        return Err(format!(
            "the {tag_text:?} length is not a canonical decimal"
        ));
    }
    let n: u64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("the {tag_text:?} length is out of range"))?;
    if tag == b"manifest " && n > MAX_MANIFEST {
        return Err(format!(
            "the manifest is {n} bytes, more than {MAX_MANIFEST}"
        ));
    }
    Ok((n, rest.get(end + 1..).unwrap_or_default()))
}

/// Writes the framing around a signed manifest and a payload.
pub fn write_frame<W: Write + ?Sized>(
    out: &mut W,
    signed_manifest: &[u8],
    payload: &mut dyn Read,
    payload_len: u64,
) -> io::Result<()> {
    out.write_all(MAGIC)?;
    writeln!(out, "manifest {}", signed_manifest.len())?;
    out.write_all(signed_manifest)?;
    writeln!(out, "payload {payload_len}")?;
    let copied = io::copy(&mut payload.take(payload_len), out)?;
    if copied != payload_len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "payload shorter than declared",
        ));
    }
    Ok(())
}

impl UnverifiedBundle {
    /// Opens a bundle and reads its framing and signed manifest (nothing else).
    pub fn open(path: &Path) -> Result<Self, UpdateError> {
        let io_err = |error| UpdateError::Io {
            path: path.to_owned(),
            error,
        };
        let framing = |reason: String| UpdateError::Framing {
            path: path.to_owned(),
            reason,
        };
        let file = File::open(path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        let mut r = BufReader::new(&file);
        let mut magic = vec![0u8; MAGIC.len()];
        // Only an early end is a framing problem: a read error (a directory, a bad disk) is
        // unreadable input, not a malformed bundle.
        r.read_exact(&mut magic).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                framing("too short".into())
            } else {
                io_err(e)
            }
        })?;
        if magic != MAGIC {
            return Err(framing("does not start with \"medguard-bundle 1\"".into()));
        }
        let manifest_len = read_length_line(&mut r, b"manifest ").map_err(framing)?;
        if manifest_len > file_len {
            return Err(framing("truncated in the manifest".into()));
        }
        let mut signed_manifest = vec![
            0u8;
            usize::try_from(manifest_len)
                .map_err(|_| framing("manifest too long".into()))?
        ];
        r.read_exact(&mut signed_manifest)
            .map_err(|_| framing("truncated in the manifest".into()))?;
        let payload_len = read_length_line(&mut r, b"payload ").map_err(framing)?;
        let header_len = MAGIC.len() as u64
            + format!("manifest {manifest_len}\n").len() as u64
            + manifest_len
            + format!("payload {payload_len}\n").len() as u64;
        if header_len.checked_add(payload_len) != Some(file_len) {
            return Err(framing(format!(
                "the payload is {} bytes, its header says {payload_len}",
                file_len.saturating_sub(header_len)
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            signed_manifest,
            payload_offset: header_len,
            payload_len,
        })
    }

    /// Key ids that claim to have signed the manifest.
    #[must_use]
    pub fn signers(&self) -> Vec<KeyId> {
        UnverifiedDocument::parse(&self.signed_manifest)
            .map(|d| d.signers())
            .unwrap_or_default()
    }

    /// Checks the manifest's signature, then parses and validates the manifest, checks that
    /// the payload has exactly the length the manifest gives, and that the new system
    /// profile carries a signature by a trusted key.
    pub fn verify(self, trusted: &[PublicKey]) -> Result<VerifiedBundle, UpdateError> {
        let doc = UnverifiedDocument::parse(&self.signed_manifest)
            .and_then(|d| d.verify(BUNDLE_CONTEXT, trusted))
            .map_err(UpdateError::Signature)?;
        let signer = doc.signer().ok_or(UpdateError::Signature(
            medguard_digest::EnvelopeError::Unsigned,
        ))?;
        let manifest = Manifest::from_json(doc.body())?;
        if manifest.payload_size != self.payload_len {
            return Err(UpdateError::Framing {
                path: self.path,
                reason: format!(
                    "the payload is {} bytes, the signed manifest says {}",
                    self.payload_len, manifest.payload_size
                ),
            });
        }
        UnverifiedProfile::parse(&manifest.new_profile_text)
            .and_then(|p| p.verify(trusted))
            .map_err(UpdateError::NewProfile)?;
        Ok(VerifiedBundle {
            path: self.path,
            file: self.file,
            signed_manifest: self.signed_manifest,
            payload_offset: self.payload_offset,
            manifest,
            signer,
        })
    }
}

fn read_length_line(r: &mut impl BufRead, tag: &[u8]) -> Result<u64, String> {
    let mut line = Vec::with_capacity(32);
    r.take(tag.len() as u64 + 22)
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    let (n, rest) = length_line(&line, tag)?;
    if !rest.is_empty() {
        return Err("bad length line".into());
    }
    Ok(n)
}

impl VerifiedBundle {
    /// The validated manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The trusted key that signed it.
    #[must_use]
    pub fn signer(&self) -> KeyId {
        self.signer
    }

    /// The manifest with its signature, as in the file.
    #[must_use]
    pub fn signed_manifest(&self) -> &[u8] {
        &self.signed_manifest
    }

    /// The bundle file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The new system profile, verified against `trusted`.
    pub fn new_profile(&self, trusted: &[PublicKey]) -> Result<VerifiedProfile, UpdateError> {
        UnverifiedProfile::parse(&self.manifest.new_profile_text)
            .and_then(|p| p.verify(trusted))
            .map_err(UpdateError::NewProfile)
    }

    /// Decompresses blob `index` into `out`: never more than its declared size, and its
    /// BLAKE3 must match. `what` names the destination in errors.
    pub fn extract(
        &self,
        index: usize,
        out: &mut impl Write,
        what: &str,
    ) -> Result<u64, UpdateError> {
        let blob = self
            .manifest
            .blobs
            .get(index)
            .ok_or_else(|| UpdateError::Manifest {
                pointer: format!("/blobs/{index}"),
                reason: "no such blob".into(),
            })?;
        extract_blob(&self.file, self.payload_offset, blob, index, out, what)
    }
}

struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let Some(buf) = buf.get_mut(..n) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let got = self.file.read_at(buf, self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

fn extract_blob(
    file: &File,
    payload_offset: u64,
    blob: &Blob,
    index: usize,
    out: &mut impl Write,
    what: &str,
) -> Result<u64, UpdateError> {
    let corrupt = |reason: String| UpdateError::BlobCorrupt {
        index,
        path: what.to_owned(),
        reason,
    };
    let start = payload_offset.saturating_add(blob.offset);
    let reader = ReadAt {
        file,
        pos: start,
        end: start.saturating_add(blob.compressed_size),
    };
    let mut decoder =
        zstd::stream::read::Decoder::new(reader).map_err(|e| corrupt(e.to_string()))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        total = total.saturating_add(n as u64);
        if total > blob.size {
            return Err(UpdateError::BlobTooLarge {
                index,
                path: what.to_owned(),
                declared: blob.size,
            });
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        out.write_all(chunk).map_err(|error| UpdateError::Io {
            path: PathBuf::from(what),
            error,
        })?;
    }
    if total != blob.size {
        return Err(UpdateError::BlobTruncated {
            index,
            path: what.to_owned(),
            declared: blob.size,
            actual: total,
        });
    }
    let actual = *hasher.finalize().as_bytes();
    if actual != blob.blake3 {
        return Err(UpdateError::BlobDigest {
            index,
            path: what.to_owned(),
            expected: hex::encode(blob.blake3),
            actual: hex::encode(actual),
        });
    }
    Ok(total)
}

/// What `bundle create` needs.
#[derive(Debug)]
pub struct CreateRequest<'a> {
    /// The validated base tree.
    pub from: &'a Path,
    /// The validated new tree.
    pub to: &'a Path,
    /// Where to write the bundle.
    pub out: &'a Path,
    /// The vendor's signing key.
    pub key: &'a SigningKey,
    /// Device models it targets (empty: any).
    pub models: Vec<String>,
    /// Self-tests run after install.
    pub self_tests: Vec<SelfTest>,
    /// The version name.
    pub version: String,
    /// Rules for both profiles.
    pub rules: Rules,
    /// Creation time, seconds since the epoch.
    pub created_unix: i64,
    /// zstd level (3 is zstd's default).
    pub level: i32,
}

/// What a new bundle holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreateSummary {
    /// Operations.
    pub operations: usize,
    /// Distinct blobs.
    pub blobs: usize,
    /// Uncompressed content bytes.
    pub content_bytes: u64,
    /// Payload bytes.
    pub payload_bytes: u64,
    /// The bundle's size.
    pub bundle_bytes: u64,
}

/// Profiles both trees with the same rules, diffs them, and writes a signed bundle.
pub fn create_bundle(req: &CreateRequest<'_>) -> Result<CreateSummary, UpdateError> {
    let profile_of = |root: &Path| -> Result<SystemProfile, UpdateError> {
        let (profile, problems) = medguard_profile::create(
            root,
            CreateOptions {
                rules: req.rules.clone(),
                sha256: false,
                walk: WalkOptions::default(),
                created_unix: req.created_unix,
            },
            &Progress::default(),
        )?;
        if let Some(p) = problems.first() {
            return Err(UpdateError::Unsupported {
                path: format!(
                    "{}{}",
                    root.display(),
                    medguard_profile::display_path(&p.path)
                ),
                reason: format!("could not be read completely ({} entries)", problems.len()),
            });
        }
        Ok(profile)
    };
    let old = profile_of(req.from)?;
    let new = profile_of(req.to)?;
    let report = medguard_profile::diff(
        &Baseline::from_profile(VerifiedProfile::from_own(old.clone())),
        &new,
    );
    let out_dir = req
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let payload = tempfile::tempfile_in(out_dir).map_err(|error| UpdateError::Io {
        path: out_dir.to_owned(),
        error,
    })?;
    let mut payload_writer = io::BufWriter::with_capacity(1 << 20, &payload);
    let mut payload_len: u64 = 0;
    let mut blobs: Vec<Blob> = Vec::new();
    let mut blob_index: std::collections::HashMap<[u8; 32], usize> = Default::default();
    let mut removals = Vec::new();
    let mut others = Vec::new();
    let mut root = None;
    // Paths whose whole subtree goes away (removed, or a directory replaced by a non-directory):
    // entries below them need no operation of their own.
    let mut gone: std::collections::HashSet<Vec<u8>> = Default::default();
    let unsupported = |path: &[u8], reason: &str| UpdateError::Unsupported {
        path: medguard_profile::display_path(path),
        reason: reason.to_owned(),
    };
    for d in &report.deviations {
        let kind_of = |p: &SystemProfile| p.get(&d.path).map(|e| e.meta.kind);
        let old_kind = kind_of(&old)
            .map(|k| {
                to_kind(k).ok_or_else(|| {
                    unsupported(
                        &d.path,
                        "device files, FIFOs and sockets are not carried by bundles",
                    )
                })
            })
            .transpose()?;
        if *d.path == *b"/" {
            let e = new
                .get(b"/")
                .ok_or_else(|| unsupported(&d.path, "no root entry"))?;
            root = Some(Ownership {
                mode: e.meta.mode,
                uid: e.meta.uid,
                gid: e.meta.gid,
            });
            continue;
        }
        let path = BundlePath::from_profile_path(&d.path).map_err(|r| unsupported(&d.path, r))?;
        if path.ancestors().any(|a| gone.contains(a)) {
            continue;
        }
        if d.kind == DeviationKind::Removed {
            gone.insert(path.as_bytes().to_vec());
            removals.push(Operation {
                path,
                old: old_kind,
                change: Change::Remove,
                xattrs: None,
            });
            continue;
        }
        let Some(e) = new.get(&d.path) else { continue };
        if d.attributes.contains(&Attribute::Device) {
            return Err(unsupported(
                &d.path,
                "device numbers are not carried by bundles",
            ));
        }
        if let Some((name, _)) = e.extra().xattrs.iter().find(|(n, _)| !is_carried_xattr(n)) {
            return Err(unsupported(
                &d.path,
                &format!(
                    "extended attribute {} is not carried by bundles (only security.capability \
                     and user.*; SELinux labels, ACLs and trusted.* are not)",
                    String::from_utf8_lossy(name)
                ),
            ));
        }
        if e.meta.kind == EntryKind::Symlink && !e.extra().xattrs.is_empty() {
            return Err(unsupported(
                &d.path,
                "extended attributes of symbolic links are not carried by bundles",
            ));
        }
        if e.extra().hardlink.is_some() && e.meta.kind != EntryKind::File {
            return Err(unsupported(
                &d.path,
                "hard links other than between regular files are not carried by bundles",
            ));
        }
        // The carried attributes the entry ends with, when the rules record them there.
        let xattrs_checked = matches!(
            new.rules.classify(&d.path),
            Decision::Check(set) if set.contains(Attribute::Xattrs)
        );
        let xattrs = xattrs_checked.then(|| e.extra().xattrs.clone());
        let new_kind = to_kind(e.meta.kind).ok_or_else(|| {
            unsupported(
                &d.path,
                "device files, FIFOs and sockets are not carried by bundles",
            )
        })?;
        let owner = Ownership {
            mode: e.meta.mode,
            uid: e.meta.uid,
            gid: e.meta.gid,
        };
        let type_changed = old_kind != Some(new_kind);
        if type_changed && old_kind == Some(Kind::Dir) {
            gone.insert(path.as_bytes().to_vec());
        }
        // A changed hard-link group needs a new inode (a file of its own, or a link to the
        // group's first path), as a changed content does.
        let content_changed = type_changed
            || d.attributes.iter().any(|a| {
                matches!(
                    a,
                    Attribute::Content | Attribute::Size | Attribute::Target | Attribute::Hardlink
                )
            });
        let change = if let Some(first) = &e.extra().hardlink {
            // Every deviating member of a group becomes a link to the group's first path
            // (first in byte order, so its own operation comes earlier): one inode again.
            Change::HardLink {
                to: BundlePath::from_profile_path(first).map_err(|r| unsupported(first, r))?,
            }
        } else if !content_changed {
            Change::Meta(owner)
        } else {
            match new_kind {
                Kind::Dir => Change::Mkdir(owner),
                Kind::Link => Change::Symlink {
                    target: e.extra().target.clone().unwrap_or_default(),
                    uid: owner.uid,
                    gid: owner.gid,
                },
                Kind::File => {
                    let digest = e.blake3.ok_or_else(|| {
                        unsupported(
                            &d.path,
                            "the profile has no digest for it (a rule skips content)",
                        )
                    })?;
                    let blob = match blob_index.get(&digest) {
                        Some(&b) => b,
                        None => {
                            let src = path.under(req.to);
                            let (blob, written) =
                                compress_into(&src, &mut payload_writer, payload_len, req.level)?;
                            if blob.blake3 != digest {
                                return Err(unsupported(
                                    &d.path,
                                    "changed while the bundle was made",
                                ));
                            }
                            payload_len += written;
                            blobs.push(blob);
                            blob_index.insert(digest, blobs.len() - 1);
                            blobs.len() - 1
                        }
                    };
                    Change::File {
                        blob,
                        owner,
                        mtime: (e.meta.mtime, e.meta.mtime_nsec),
                    }
                }
            }
        };
        let xattrs = match change {
            Change::File { .. } | Change::Mkdir(_) | Change::Meta(_) => xattrs,
            _ => None,
        };
        others.push(Operation {
            path,
            old: old_kind,
            change,
            xattrs,
        });
    }
    payload_writer.flush().map_err(|error| UpdateError::Io {
        path: out_dir.to_owned(),
        error,
    })?;
    drop(payload_writer);
    // Removals first, deepest first; then everything else in path order, so that a
    // directory exists before what goes into it.
    removals.sort_by(|a, b| b.path.cmp(&a.path));
    others.sort_by(|a, b| a.path.cmp(&b.path));
    let mut operations = removals;
    operations.extend(others);
    let base_text = old.to_text();
    let manifest = Manifest {
        version: req.version.clone(),
        models: req.models.clone(),
        created_unix: req.created_unix,
        base_profile_blake3: *blake3::hash(&base_text).as_bytes(),
        base_profile: VerifiedProfile::from_own(old),
        base_profile_text: String::from_utf8_lossy(&base_text).into_owned(),
        new_profile_text: new.to_signed_text(req.key),
        self_tests: req.self_tests.clone(),
        root,
        operations,
        blobs,
        payload_size: payload_len,
    };
    let json = manifest.to_json();
    // What is written must read back: the same validation a device runs.
    Manifest::from_json(&json)?;
    let signed = sign_document(BUNDLE_CONTEXT, &json, req.key);
    let mut payload_read = &payload;
    io::Seek::seek(&mut payload_read, io::SeekFrom::Start(0)).map_err(|error| UpdateError::Io {
        path: out_dir.to_owned(),
        error,
    })?;
    medguard_host::write_atomically(req.out, 0o644, |w| {
        write_frame(w, &signed, &mut payload_read, payload_len)
    })?;
    let bundle_bytes = std::fs::metadata(req.out).map(|m| m.len()).unwrap_or(0);
    Ok(CreateSummary {
        operations: manifest.operations.len(),
        blobs: manifest.blobs.len(),
        content_bytes: manifest.content_bytes(),
        payload_bytes: payload_len,
        bundle_bytes,
    })
}

fn to_kind(k: EntryKind) -> Option<Kind> {
    match k {
        EntryKind::File => Some(Kind::File),
        EntryKind::Dir => Some(Kind::Dir),
        EntryKind::Symlink => Some(Kind::Link),
        _ => None,
    }
}

/// Hashes and compresses one file into the payload, as one zstd frame.
fn compress_into(
    src: &Path,
    out: &mut impl Write,
    offset: u64,
    level: i32,
) -> Result<(Blob, u64), UpdateError> {
    let io_err = |error| UpdateError::Io {
        path: src.to_owned(),
        error,
    };
    let mut f = File::open(src).map_err(io_err)?;
    let mut counter = CountingWriter {
        inner: out,
        count: 0,
    };
    let mut encoder = zstd::stream::write::Encoder::new(&mut counter, level).map_err(io_err)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        encoder.write_all(chunk).map_err(io_err)?;
        size += n as u64;
    }
    encoder.finish().map_err(io_err)?;
    let written = counter.count;
    Ok((
        Blob {
            blake3: *hasher.finalize().as_bytes(),
            size,
            offset,
            compressed_size: written,
        },
        written,
    ))
}

struct CountingWriter<'a, W: Write> {
    inner: &'a mut W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
