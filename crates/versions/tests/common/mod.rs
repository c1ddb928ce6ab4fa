//! Finding the real reference tools. A missing tool fails the test with the package to
//! install; `.ci/install-deps` installs them.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The Python of the venv that holds `packaging` (`$MEDGUARD_VENV`, default
/// `/opt/medguard-venv`).
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("MEDGUARD_VENV").unwrap_or_else(|| "/opt/medguard-venv".into());
    let python = PathBuf::from(venv).join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import packaging.version"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} with the pip package `packaging` is required (run .ci/install-deps)",
        python.display()
    );
    python
}

/// Runs a Python script in the venv with `input` on stdin and returns its stdout lines.
pub fn run_python(script: &str, input: &str) -> Vec<String> {
    let mut child = Command::new(venv_python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("python runs");
    assert!(out.status.success(), "python failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether `dpkg` is installed; fails naming the package otherwise.
pub fn require_dpkg() {
    let ok = Command::new("dpkg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`dpkg` is required (apt-get install dpkg)");
}

/// Runs a Ruby script with `input` on stdin and returns its stdout lines. A missing `ruby`
/// fails the test naming the package (`.ci/install-deps` installs it): never a silent pass.
pub fn run_ruby(script: &str, input: &str) -> Vec<String> {
    let ok = Command::new("ruby")
        .args(["-e", "exit 0"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`ruby` is required to check the RubyGems order against Gem::Version \
         (apt-get install ruby, or run .ci/install-deps)"
    );
    let mut child = Command::new("ruby")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ruby starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("ruby runs");
    assert!(out.status.success(), "ruby failed");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The shared reference data (`$MEDGUARD_SHARED_DATA`, else `../shared/data` beside the
/// workspace, else `/work/shared/data`).
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os("MEDGUARD_SHARED_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    );
    let dir = if dir.exists() {
        dir
    } else {
        PathBuf::from("/work/shared/data")
    };
    assert!(
        dir.exists(),
        "shared test data not found at {}",
        dir.display()
    );
    dir
}
