//! BSD mtree specs: export a profile as one, and read one as a baseline.
//!
//! mtree(5) is the interchange format of the BSDs and of libarchive (`bsdtar
//! --format=mtree`). This module reads both of its layouts: full-path lines (`./usr/bin/x`,
//! as libarchive writes) and the hierarchical layout of `mtree -c` (names relative to the
//! current directory, which a `type=dir` line enters and `..` leaves), with `/set` and
//! `/unset` defaults and `\` line continuations. Keywords that medguard cannot check
//! (digests other than SHA-256, `nlink`, `uname`...) are listed in
//! [`MtreeSpec::unchecked`] rather than silently passed over.
//!
//! It must not read the file system: a parsed spec becomes a [`Baseline`] and `compare`
//! does the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::compare::Baseline;
use crate::entry::{Attribute, AttributeSet, Entry, EntryKind, Meta};
use crate::escape::{escape, unescape};
use crate::format::VerifiedProfile;
use crate::rules::{Decision, Rule, Rules};

/// Keyword values by keyword name.
type Keywords = BTreeMap<String, Vec<u8>>;
/// Entries found so far: keywords and the line that named each path first.
type Found = BTreeMap<Vec<u8>, (Keywords, usize)>;

/// Why a spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MtreeError {
    /// A line could not be parsed.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

/// A parsed spec.
#[derive(Debug, Clone)]
pub struct MtreeSpec {
    entries: Vec<Entry>,
    checks: Vec<AttributeSet>,
    optional: Vec<bool>,
    ignored_dirs: Vec<Vec<u8>>,
    unchecked: BTreeSet<String>,
}

impl MtreeSpec {
    /// Keywords present in the spec that medguard does not check.
    #[must_use]
    pub fn unchecked(&self) -> &BTreeSet<String> {
        &self.unchecked
    }

    /// The entries, sorted by path.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The spec as a baseline to verify a tree against.
    #[must_use]
    pub fn into_baseline(self) -> Baseline {
        let rules = self
            .ignored_dirs
            .iter()
            .map(|d| Rule {
                glob: {
                    let mut g = glob_escape(d);
                    g.extend_from_slice(b"/**");
                    g
                },
                decision: Decision::Skip,
            })
            .collect();
        // An escaped literal always compiles; fall back to no rules rather than fail.
        let rules = Rules::new(rules).unwrap_or_default();
        Baseline::from_parts(self.entries, self.checks, self.optional, rules)
    }
}

fn glob_escape(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'{' | b'}' | b'\\' | b'!') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Parses an mtree spec.
pub fn parse(text: &[u8]) -> Result<MtreeSpec, MtreeError> {
    let mut defaults = Keywords::new();
    let mut cwd: Vec<u8> = Vec::new(); // "" = above the root, "/" = the root
    let mut found = Found::new();
    let mut joined = Vec::new();
    let mut first_line = 0;
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if joined.is_empty() {
            first_line = i + 1;
        }
        if let Some(head) = raw.strip_suffix(b"\\") {
            // An odd number of trailing backslashes is a continuation.
            let trailing = raw.iter().rev().take_while(|&&b| b == b'\\').count();
            if trailing % 2 == 1 {
                joined.extend_from_slice(head);
                joined.push(b' ');
                continue;
            }
        }
        joined.extend_from_slice(raw);
        let line = std::mem::take(&mut joined);
        parse_line(&line, first_line, &mut defaults, &mut cwd, &mut found)?;
    }
    if !joined.is_empty() {
        let line = std::mem::take(&mut joined);
        parse_line(&line, first_line, &mut defaults, &mut cwd, &mut found)?;
    }
    let mut spec = MtreeSpec {
        entries: Vec::with_capacity(found.len()),
        checks: Vec::with_capacity(found.len()),
        optional: Vec::with_capacity(found.len()),
        ignored_dirs: Vec::new(),
        unchecked: BTreeSet::new(),
    };
    for (path, (kw, line)) in found {
        let (entry, checks, flags) = to_entry(path, &kw, &mut spec.unchecked)
            .map_err(|reason| MtreeError::Line { line, reason })?;
        if flags.ignore {
            spec.ignored_dirs.push(entry.path.to_vec());
        }
        spec.entries.push(entry);
        spec.checks.push(checks);
        spec.optional.push(flags.optional);
    }
    Ok(spec)
}

fn parse_line(
    line: &[u8],
    line_no: usize,
    defaults: &mut Keywords,
    cwd: &mut Vec<u8>,
    found: &mut Found,
) -> Result<(), MtreeError> {
    let err = |reason: &str| MtreeError::Line {
        line: line_no,
        reason: reason.to_owned(),
    };
    let mut words = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return Ok(());
    };
    if first.starts_with(b"#") {
        return Ok(());
    }
    let keywords =
        |words: &mut dyn Iterator<Item = &[u8]>| -> Result<Vec<(String, Vec<u8>)>, MtreeError> {
            let mut out = Vec::new();
            for w in words {
                let text = std::str::from_utf8(w).map_err(|_| err("keyword is not UTF-8"))?;
                let (k, v) = text.split_once('=').unwrap_or((text, ""));
                if k.is_empty() {
                    return Err(err("empty keyword"));
                }
                out.push((k.to_ascii_lowercase(), v.as_bytes().to_vec()));
            }
            Ok(out)
        };
    match first {
        b"/set" => {
            for (k, v) in keywords(&mut words)? {
                defaults.insert(k, v);
            }
            return Ok(());
        }
        b"/unset" => {
            for (k, _) in keywords(&mut words)? {
                if k == "all" {
                    defaults.clear();
                } else {
                    defaults.remove(&k);
                }
            }
            return Ok(());
        }
        b".." => {
            if cwd.is_empty() {
                return Err(err("'..' above the root"));
            }
            if cwd.as_slice() == b"/" {
                cwd.clear();
            } else {
                let cut = cwd.iter().rposition(|&b| b == b'/').unwrap_or(0);
                cwd.truncate(cut.max(1));
            }
            return Ok(());
        }
        _ => {}
    }
    if first.starts_with(b"/") {
        return Err(err("unknown special command"));
    }
    let name = unescape(first).map_err(|_| err("bad escape in name"))?;
    let mut kw = defaults.clone();
    for (k, v) in keywords(&mut words)? {
        kw.insert(k, v);
    }
    let full = name.contains(&b'/');
    let path = if full {
        normalise(&name).ok_or_else(|| err("path leaves the root"))?
    } else if name == b"." {
        b"/".to_vec()
    } else if cwd.is_empty() {
        return Err(err("relative name outside any directory"));
    } else if name == b".." || name.is_empty() {
        return Err(err("bad name"));
    } else {
        let mut p = cwd.clone();
        if p != b"/" {
            p.push(b'/');
        } else {
            p.clear();
            p.push(b'/');
        }
        p.extend_from_slice(&name);
        p
    };
    if !full && kw.get("type").map(Vec::as_slice) == Some(b"dir") {
        cwd.clone_from(&path);
    }
    match found.get_mut(&path) {
        Some((old, _)) => old.extend(kw),
        None => {
            found.insert(path, (kw, line_no));
        }
    }
    Ok(())
}

/// `./a/b` → `/a/b`; rejects `..` components so a spec cannot name paths outside the root.
fn normalise(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() + 1);
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return None,
            c => {
                out.push(b'/');
                out.extend_from_slice(c);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Some(out)
}

#[derive(Default)]
struct Flags {
    optional: bool,
    ignore: bool,
}

fn to_entry(
    path: Vec<u8>,
    kw: &Keywords,
    unchecked: &mut BTreeSet<String>,
) -> Result<(Entry, AttributeSet, Flags), String> {
    let mut meta = Meta::empty(EntryKind::File);
    let mut entry = Entry::new(path.into(), meta);
    let mut checks = AttributeSet::EMPTY;
    let mut flags = Flags::default();
    let mut nochange = false;
    for (k, v) in kw {
        let text = || String::from_utf8_lossy(v).into_owned();
        let bad = || format!("bad value for {k}: {:?}", text());
        let s = std::str::from_utf8(v).map_err(|_| bad())?;
        match k.as_str() {
            "type" => {
                meta.kind = EntryKind::from_keyword(s).ok_or_else(bad)?;
                checks.insert(Attribute::Type);
            }
            "mode" => {
                meta.mode = Meta::parse_mode(s).ok_or_else(bad)?;
                checks.insert(Attribute::Mode);
            }
            "uid" => {
                meta.uid = s.parse().map_err(|_| bad())?;
                checks.insert(Attribute::Uid);
            }
            "gid" => {
                meta.gid = s.parse().map_err(|_| bad())?;
                checks.insert(Attribute::Gid);
            }
            "size" => {
                meta.size = s.parse().map_err(|_| bad())?;
                checks.insert(Attribute::Size);
            }
            "time" => {
                (meta.mtime, meta.mtime_nsec) = Meta::parse_time(s).ok_or_else(bad)?;
                checks.insert(Attribute::Mtime);
            }
            "link" => {
                entry.extra_mut().target = Some(unescape(v).map_err(|_| bad())?.into());
                checks.insert(Attribute::Target);
            }
            "sha256" | "sha256digest" => {
                let mut d = [0u8; 32];
                hex::decode_to_slice(s, &mut d).map_err(|_| bad())?;
                entry.extra_mut().sha256 = Some(d);
                checks.insert(Attribute::Content);
            }
            "device" => {
                meta.rdev = parse_device(s).ok_or_else(bad)?;
                checks.insert(Attribute::Device);
            }
            "optional" => flags.optional = true,
            "ignore" => flags.ignore = true,
            "nochange" => nochange = true,
            // Names resolved through this machine's user database, and BSD file flags:
            // uid, gid and mode already say what matters on Linux.
            "uname" | "gname" | "flags" => {}
            _ => {
                unchecked.insert(k.clone());
            }
        }
    }
    if !checks.contains(Attribute::Type) {
        // mtree's default type is file.
        checks.insert(Attribute::Type);
    }
    if nochange {
        checks = AttributeSet::EMPTY;
        checks.insert(Attribute::Type);
    }
    entry.meta = meta;
    Ok((entry, checks, flags))
}

fn parse_device(s: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = s.split(',').collect();
    let num = |t: &str| -> Option<u64> {
        if let Some(h) = t.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()
        } else {
            t.parse().ok()
        }
    };
    match parts.as_slice() {
        [n] => {
            let dev = num(n)?;
            Some((libc::major(dev), libc::minor(dev)))
        }
        [_format, major, minor] => Some((
            u32::try_from(num(major)?).ok()?,
            u32::try_from(num(minor)?).ok()?,
        )),
        _ => None,
    }
}

/// Writes `profile` as an mtree spec in the full-path layout, which `bsdtar` and `mtree`
/// read. Content digests are written as `sha256digest` when the profile recorded SHA-256
/// (mtree has no BLAKE3 keyword); the result says whether it did.
#[must_use]
pub fn export(profile: &VerifiedProfile) -> (String, bool) {
    let p = profile.profile();
    let mut out = String::with_capacity(64 + p.entries.len() * 128);
    out.push_str("#mtree v2.0\n#\t   medguard system profile export\n");
    for e in &p.entries {
        let m = &e.meta;
        let path = if &*e.path == b"/" {
            ".".to_owned()
        } else {
            format!(".{}", escape(&e.path))
        };
        let _ = write!(
            out,
            "{path} type={} mode={:04o} uid={} gid={} time={}.{:09}",
            m.kind.keyword(),
            m.mode,
            m.uid,
            m.gid,
            m.mtime,
            m.mtime_nsec
        );
        match m.kind {
            EntryKind::File => {
                let _ = write!(out, " size={}", m.size);
                if let Some(d) = e.extra().sha256 {
                    let _ = write!(out, " sha256digest={}", hex::encode(d));
                }
            }
            EntryKind::Symlink => {
                if let Some(t) = &e.extra().target {
                    let _ = write!(out, " link={}", escape(t));
                }
            }
            EntryKind::BlockDevice | EntryKind::CharDevice => {
                let _ = write!(out, " device=native,{},{}", m.rdev.0, m.rdev.1);
            }
            _ => {}
        }
        out.push('\n');
    }
    (out, p.header.sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_path_layout_with_set() {
        let spec = parse(
            b"#mtree\n/set type=file uid=0 gid=0 mode=644\n. type=dir mode=755\n./a\\040b size=3 \\\n  sha256digest=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n./d type=dir\n./d/l type=link link=../a\\040b\n",
        )
        .unwrap();
        let paths: Vec<_> = spec.entries.iter().map(|e| e.path.to_vec()).collect();
        assert_eq!(
            paths,
            vec![
                b"/".to_vec(),
                b"/a b".to_vec(),
                b"/d".to_vec(),
                b"/d/l".to_vec()
            ]
        );
        assert_eq!(spec.entries[1].meta.mode, 0o644);
        assert!(spec.checks[1].contains(Attribute::Content));
        assert_eq!(spec.entries[0].meta.kind, EntryKind::Dir);
        assert_eq!(
            spec.entries[3].extra().target.as_deref(),
            Some(&b"../a b"[..])
        );
    }

    #[test]
    fn hierarchical_layout() {
        let spec = parse(
            b"/set type=file uid=0 gid=0 mode=0644\n. type=dir\n    sub type=dir\n        f size=1\n    ..\n    g size=2 md5digest=00\n..\n",
        )
        .unwrap();
        let paths: Vec<_> = spec
            .entries
            .iter()
            .map(|e| String::from_utf8(e.path.to_vec()).unwrap())
            .collect();
        assert_eq!(paths, vec!["/", "/g", "/sub", "/sub/f"]);
        assert!(spec.unchecked().contains("md5digest"));
    }

    #[test]
    fn hostile_specs_are_refused_with_line_numbers() {
        for (text, line) in [
            (&b"./../etc/passwd type=file\n"[..], 1),
            (b"#c\n..\n", 2),
            (b"x type=file\n", 1),
            (b". type=dir\n./a mode=99999\n", 2),
            (b". type=dir\n./a type=weird\n", 2),
            (b"/bogus x=1\n", 1),
            (b"./a\\q type=file\n", 1),
        ] {
            match parse(text) {
                Err(MtreeError::Line { line: l, .. }) => {
                    assert_eq!(l, line, "{}", String::from_utf8_lossy(text))
                }
                other => panic!("{other:?} for {}", String::from_utf8_lossy(text)),
            }
        }
    }
}
