//! Facts about the running system that several capabilities report.
//!
//! This module reads the running kernel's view only. A device image's configured name
//! (`ROOT/etc/hostname`, as an inventory of an image root reads it) is a different fact and
//! does not belong here.

/// The name used when the kernel has no host name.
pub const UNNAMED_HOST: &str = "localhost";

/// The running system's host name (the kernel's node name in this UTS namespace, as
/// `hostname` prints it), for audit source ids and syslog headers. A kernel with no name
/// set, or a `/proc` that cannot be read, gives [`UNNAMED_HOST`]: callers that must not
/// guess take `--host` from the operator.
#[must_use]
pub fn host_name() -> String {
    host_name_from(
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .as_deref(),
    )
}

fn host_name_from(kernel: Option<&str>) -> String {
    kernel
        .map(str::trim)
        .filter(|h| !h.is_empty() && *h != "(none)")
        .map_or_else(|| UNNAMED_HOST.to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_is_the_kernels() {
        let expected = std::process::Command::new("hostname")
            .output()
            .expect("hostname(1) is installed")
            .stdout;
        let expected = String::from_utf8(expected).unwrap();
        assert_eq!(host_name(), expected.trim());
    }

    #[test]
    fn no_name_is_said_to_be_unnamed() {
        assert_eq!(host_name_from(Some("pacs1\n")), "pacs1");
        assert_eq!(host_name_from(Some(" \n")), UNNAMED_HOST);
        assert_eq!(host_name_from(Some("(none)\n")), UNNAMED_HOST);
        assert_eq!(host_name_from(None), UNNAMED_HOST);
    }
}
