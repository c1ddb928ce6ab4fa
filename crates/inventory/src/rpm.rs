//! RPM: the sqlite package database of current distributions (`var/lib/rpm/rpmdb.sqlite`,
//! or `usr/lib/sysimage/rpm/rpmdb.sqlite`), and the header blobs in it.
//!
//! Each row of the `Packages` table holds one package header as rpm exports it: two
//! big-endian 32-bit counts (index entries, data bytes), the index entries (tag, type,
//! offset, count; 16 bytes each), then the data. The header is outside input: every offset
//! and count is checked against the blob before use, and a bad header is a warning naming
//! the row, never a panic. The Berkeley DB and ndb formats of older distributions are not
//! read (a warning says so). `gpg-pubkey` pseudo-packages (imported signing keys) are not
//! software and are skipped. RPM headers carry no artefact digest we can use, so RPM
//! components have no hashes.

use std::path::Path;

use crate::files::FileIndex;
use crate::fsutil::under;
use crate::model::{Component, Distro, Ecosystem, Warning};
use crate::purl::Purl;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_VENDOR: u32 = 1011;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Most index entries a header may have (rpm's own limit is 65535).
const MAX_ENTRIES: usize = 0xffff;
/// Most data bytes a header may have (rpm: 256 MiB).
const MAX_DATA: usize = 256 << 20;

/// A package as its header describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmPackage {
    /// NAME.
    pub name: String,
    /// VERSION.
    pub version: String,
    /// RELEASE.
    pub release: String,
    /// EPOCH, if set.
    pub epoch: Option<u32>,
    /// ARCH.
    pub arch: Option<String>,
    /// VENDOR.
    pub vendor: Option<String>,
    /// LICENSE.
    pub license: Option<String>,
    /// SOURCERPM.
    pub source_rpm: Option<String>,
    /// The files it installs.
    pub files: Vec<String>,
}

/// Why a header blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad rpm header: {0}")]
pub struct HeaderError(pub &'static str);

struct Entry {
    tag: u32,
    ty: u32,
    offset: usize,
    count: usize,
}

fn be32(b: &[u8], at: usize) -> Result<u32, HeaderError> {
    let s = b.get(at..at + 4).ok_or(HeaderError("truncated"))?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Ok(u32::from_be_bytes(a))
}

/// Parses one header blob (the `Packages.blob` of the sqlite rpmdb).
///
/// # Errors
/// When a count, offset or string runs outside the blob, or NAME/VERSION/RELEASE are missing.
pub fn parse_header(blob: &[u8]) -> Result<RpmPackage, HeaderError> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    if il == 0 || il > MAX_ENTRIES || dl > MAX_DATA {
        return Err(HeaderError("index or data size out of range"));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or(HeaderError("blob shorter than its sizes"))?;
    let mut entries = Vec::with_capacity(il);
    for i in 0..il {
        let at = 8 + i * 16;
        let e = Entry {
            tag: be32(blob, at)?,
            ty: be32(blob, at + 4)?,
            offset: be32(blob, at + 8)? as usize,
            count: be32(blob, at + 12)? as usize,
        };
        if e.offset > dl {
            return Err(HeaderError("entry offset outside the data"));
        }
        entries.push(e);
    }
    let find = |tag: u32| entries.iter().find(|e| e.tag == tag);
    let string = |tag: u32| -> Result<Option<String>, HeaderError> {
        match find(tag) {
            Some(e) if matches!(e.ty, TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY) => {
                Ok(strings(data, e.offset, 1)?.into_iter().next())
            }
            Some(_) => Err(HeaderError("string tag of another type")),
            None => Ok(None),
        }
    };
    let name = string(TAG_NAME)?.ok_or(HeaderError("no NAME"))?;
    let version = string(TAG_VERSION)?.ok_or(HeaderError("no VERSION"))?;
    let release = string(TAG_RELEASE)?.ok_or(HeaderError("no RELEASE"))?;
    let epoch = match find(TAG_EPOCH) {
        Some(e) if e.ty == TYPE_INT32 && e.count >= 1 => Some(be32(data, e.offset)?),
        Some(_) => return Err(HeaderError("EPOCH is not an int32")),
        None => None,
    };
    let mut files = Vec::new();
    if let (Some(di), Some(bn), Some(dn)) = (
        find(TAG_DIRINDEXES),
        find(TAG_BASENAMES),
        find(TAG_DIRNAMES),
    ) {
        if di.ty != TYPE_INT32
            || bn.ty != TYPE_STRING_ARRAY
            || dn.ty != TYPE_STRING_ARRAY
            || di.count != bn.count
        {
            return Err(HeaderError("file list tags disagree"));
        }
        // Each string takes at least one byte, each int32 four: counts beyond that are lies.
        if bn.count > dl || dn.count > dl || di.count > dl / 4 {
            return Err(HeaderError("file count larger than the data"));
        }
        let basenames = strings(data, bn.offset, bn.count)?;
        let dirnames = strings(data, dn.offset, dn.count)?;
        files.reserve(basenames.len());
        for (i, base) in basenames.iter().enumerate() {
            let idx = be32(data, di.offset + i * 4)? as usize;
            let dir = dirnames
                .get(idx)
                .ok_or(HeaderError("directory index out of range"))?;
            files.push(format!("{dir}{base}"));
        }
    }
    Ok(RpmPackage {
        name,
        version,
        release,
        epoch,
        arch: string(TAG_ARCH)?,
        vendor: string(TAG_VENDOR)?,
        license: string(TAG_LICENSE)?,
        source_rpm: string(TAG_SOURCERPM)?,
        files,
    })
}

/// `count` NUL-terminated strings starting at `offset`.
fn strings(data: &[u8], offset: usize, count: usize) -> Result<Vec<String>, HeaderError> {
    let mut out = Vec::with_capacity(count.min(4096));
    let mut at = offset;
    for _ in 0..count {
        let rest = data
            .get(at..)
            .ok_or(HeaderError("string outside the data"))?;
        let len = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or(HeaderError("unterminated string"))?;
        out.push(String::from_utf8_lossy(rest.get(..len).unwrap_or_default()).into_owned());
        at += len + 1;
    }
    Ok(out)
}

/// The component for a package.
#[must_use]
pub fn component(p: &RpmPackage, distro: &Distro) -> Component {
    let vr = format!("{}-{}", p.version, p.release);
    let version = match p.epoch {
        Some(e) => format!("{e}:{vr}"),
        None => vr.clone(),
    };
    let mut c = Component::new(&p.name, version, Ecosystem::Rpm(distro.clone()));
    let mut purl = Purl::builder("rpm", &p.name)
        .namespace(&distro.id)
        .version(&vr)
        .qualifier("distro", &distro.purl_qualifier());
    if let Some(a) = &p.arch {
        purl = purl.qualifier("arch", a);
    }
    if let Some(e) = p.epoch {
        purl = purl.qualifier("epoch", &e.to_string());
    }
    // Only an empty distribution id (a broken os-release) keeps the purl from building.
    c.purl = purl.build().ok().map(|p| p.to_string());
    c.arch.clone_from(&p.arch);
    c.supplier.clone_from(&p.vendor);
    c.licenses = p.license.iter().cloned().collect();
    c.source_package.clone_from(&p.source_rpm);
    c
}

pub(crate) fn collect(
    root: &Path,
    distro: &Distro,
    components: &mut Vec<Component>,
    index: &mut FileIndex,
    warnings: &mut Vec<Warning>,
) {
    let db = [
        "/var/lib/rpm/rpmdb.sqlite",
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    ]
    .into_iter()
    .map(|p| under(root, p))
    .find(|p| p.is_file());
    let Some(db) = db else {
        for old in ["/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db"] {
            let p = under(root, old);
            if p.is_file() {
                warnings.push(Warning::new(
                    p,
                    None,
                    "Berkeley DB / ndb rpmdb is not read: RPM packages not listed",
                ));
            }
        }
        return;
    };
    match read_db(&db) {
        Ok(rows) => {
            for (hnum, blob) in rows {
                match parse_header(&blob) {
                    Ok(p) if p.name == "gpg-pubkey" => {}
                    Ok(p) => {
                        let owner = components.len();
                        components.push(component(&p, distro));
                        for f in &p.files {
                            index.insert(f.as_bytes(), owner);
                        }
                    }
                    Err(e) => {
                        warnings.push(Warning::new(&db, None, format!("package row {hnum}: {e}")))
                    }
                }
            }
        }
        Err(e) => warnings.push(Warning::new(
            &db,
            None,
            format!("cannot read the rpm database: {e}"),
        )),
    }
}

fn read_db(db: &Path) -> Result<Vec<(i64, Vec<u8>)>, rusqlite::Error> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let read = |conn: rusqlite::Connection| -> Result<Vec<(i64, Vec<u8>)>, rusqlite::Error> {
        let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        rows.collect()
    };
    match rusqlite::Connection::open_with_flags(db, flags).and_then(read) {
        Ok(r) => Ok(r),
        // A read-only image (no -shm file may be created): read it as immutable.
        Err(_) => {
            let uri = format!("file:{}?immutable=1", db.display());
            read(rusqlite::Connection::open_with_flags(uri, flags)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(entries: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, ty, bytes, count) in entries {
            while *ty == TYPE_INT32 && data.len() % 4 != 0 {
                data.push(0);
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&index);
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn parses_and_refuses() {
        let h = header(&[
            (TAG_NAME, TYPE_STRING, b"bash\0", 1),
            (TAG_VERSION, TYPE_STRING, b"5.1.8\0", 1),
            (TAG_RELEASE, TYPE_STRING, b"6.el9\0", 1),
            (TAG_EPOCH, TYPE_INT32, &1u32.to_be_bytes(), 1),
            (TAG_DIRINDEXES, TYPE_INT32, &[0, 0, 0, 0, 0, 0, 0, 1], 2),
            (TAG_BASENAMES, TYPE_STRING_ARRAY, b"bash\0bashrc\0", 2),
            (TAG_DIRNAMES, TYPE_STRING_ARRAY, b"/usr/bin/\0/etc/\0", 2),
        ]);
        let p = parse_header(&h).unwrap();
        assert_eq!(p.name, "bash");
        assert_eq!(p.epoch, Some(1));
        assert_eq!(p.files, vec!["/usr/bin/bash", "/etc/bashrc"]);
        let d = Distro {
            id: "almalinux".into(),
            version_id: Some("9.4".into()),
        };
        let c = component(&p, &d);
        assert_eq!(c.version, "1:5.1.8-6.el9");
        assert_eq!(
            c.purl.as_deref(),
            Some("pkg:rpm/almalinux/bash@5.1.8-6.el9?distro=almalinux-9.4&epoch=1")
        );
        for cut in 0..h.len() {
            assert!(parse_header(&h[..cut]).is_err());
        }
        assert!(parse_header(&[0xff; 32]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(blob in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_header(&blob);
        }
    }
}
