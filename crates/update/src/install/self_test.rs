//! Running the bundle's self-tests against the new tree.

use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

use medguard_host::RunError;

use crate::manifest::Manifest;

use super::journal::Txn;

pub(super) fn run_self_tests(manifest: &Manifest, root: &Path, txn: &Txn) -> Result<(), String> {
    for (i, t) in manifest.self_tests.iter().enumerate() {
        let log_path = txn.dir.join(format!("self-test-{i}.log"));
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = std::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&t.command)
            .current_dir(root)
            .env("MEDGUARD_ROOT", root)
            .env("MEDGUARD_BUNDLE_VERSION", &manifest.version)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log);
        let limit = Duration::from_secs(t.timeout_secs);
        let status = match medguard_host::run_bounded(&mut command, limit) {
            Ok(status) => status,
            Err(RunError::Spawn { source, .. }) => {
                return Err(format!(
                    "self-test {:?} could not start: {source}",
                    t.command
                ));
            }
            Err(RunError::TimedOut { .. }) => {
                return Err(format!(
                    "self-test {:?} timed out after {} s",
                    t.command, t.timeout_secs
                ));
            }
            Err(e) => return Err(format!("self-test {:?}: {e}", t.command)),
        };
        if !status.success() {
            let tail = fs::read(&log_path).unwrap_or_default();
            let tail = String::from_utf8_lossy(
                tail.get(tail.len().saturating_sub(200)..)
                    .unwrap_or_default(),
            );
            let tail = tail.trim().replace('\n', " | ");
            return Err(format!(
                "self-test {:?} failed ({status}){}",
                t.command,
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            ));
        }
    }
    Ok(())
}
