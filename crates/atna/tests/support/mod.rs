//! Test support: finding the real tools, a test PKI, a pseudo-random message generator, and
//! an rsyslog collector running in a temporary directory.
#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod collector;
pub mod messages;

use std::path::PathBuf;

/// The path of a required external tool, or a panic that says which package to install.
/// Tests never skip silently: CI installs these with `.ci/install-deps`.
pub fn require_tool(name: &str, package: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::split_paths(&dirs).collect();
    candidates.extend(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    for dir in candidates {
        let path = dir.join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "`{name}` is required by this test but was not found in PATH or /usr/sbin: \
         install the Debian package(s) `{package}` (CI does this in .ci/install-deps)"
    );
}
