//! `/etc/os-release`: which distribution (and release) the root is, for ecosystem names.

use std::path::Path;

use crate::fsutil::{read_bounded, under};
use crate::model::{Distro, Warning};

/// Reads `ROOT/etc/os-release` (or `ROOT/usr/lib/os-release`). `None` when neither exists.
pub(crate) fn read(root: &Path, warnings: &mut Vec<Warning>) -> Option<Distro> {
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        let path = under(root, p);
        if let Some(bytes) = read_bounded(&path, 64 * 1024, true, warnings) {
            return parse(&String::from_utf8_lossy(&bytes));
        }
    }
    None
}

/// Parses os-release text (shell-like `KEY=value`, values optionally quoted).
#[must_use]
pub fn parse(text: &str) -> Option<Distro> {
    let mut id = None;
    let mut version_id = None;
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v)
            .to_owned();
        match k.trim() {
            "ID" => id = Some(v.to_ascii_lowercase()),
            "VERSION_ID" => version_id = Some(v),
            _ => {}
        }
    }
    Some(Distro {
        id: id.unwrap_or_else(|| "linux".to_owned()),
        version_id: version_id.filter(|v| !v.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn debian_12() {
        let d = super::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
        )
        .unwrap();
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id.as_deref(), Some("12"));
    }
}
