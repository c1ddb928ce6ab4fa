//! Bounded reads: every file the collectors open is outside input and may be absurdly large.

use std::io::Read as _;
use std::path::Path;

use crate::model::Warning;

/// Reads at most `limit` bytes of `path`. A file larger than that, or one that cannot be
/// read, gives a warning and `None`; a missing file gives `None` silently when
/// `missing_ok`.
pub(crate) fn read_bounded(
    path: &Path,
    limit: u64,
    missing_ok: bool,
    warnings: &mut Vec<Warning>,
) -> Option<Vec<u8>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            warnings.push(Warning::new(path, None, format!("cannot read: {e}")));
            return None;
        }
    };
    if let Ok(meta) = file.metadata()
        && meta.len() > limit
    {
        warnings.push(Warning::new(
            path,
            None,
            format!(
                "{} bytes, more than the {limit} bytes allowed: skipped",
                meta.len()
            ),
        ));
        return None;
    }
    // Sized from the metadata: one read() for the whole file instead of a growing series.
    let size_hint = file.metadata().map_or(0, |m| m.len().min(limit));
    let mut buf = Vec::with_capacity(usize::try_from(size_hint).unwrap_or(0).saturating_add(1));
    // take(limit + 1): a file that grows while we read (or a /proc file) is still bounded.
    match file.take(limit + 1).read_to_end(&mut buf) {
        Ok(_) if buf.len() as u64 > limit => {
            warnings.push(Warning::new(
                path,
                None,
                format!("more than the {limit} bytes allowed: skipped"),
            ));
            None
        }
        Ok(_) => Some(buf),
        Err(e) => {
            warnings.push(Warning::new(path, None, format!("cannot read: {e}")));
            None
        }
    }
}

/// `root` joined with an absolute path of the device (`/var/lib/dpkg` under `root`).
pub(crate) fn under(root: &Path, device_path: &str) -> std::path::PathBuf {
    root.join(device_path.trim_start_matches('/'))
}
