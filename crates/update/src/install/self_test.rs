//! Running the bundle's self-tests against the new tree.

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::manifest::Manifest;

use super::*;

pub(super) fn run_self_tests(manifest: &Manifest, root: &Path, txn: &Txn) -> Result<(), String> {
    use std::os::unix::process::CommandExt as _;
    for (i, t) in manifest.self_tests.iter().enumerate() {
        let log_path = txn.dir.join(format!("self-test-{i}.log"));
        let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&t.command)
            .current_dir(root)
            .env("MEDGUARD_ROOT", root)
            .env("MEDGUARD_BUNDLE_VERSION", &manifest.version)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("self-test {:?} could not start: {e}", t.command))?;
        let started = Instant::now();
        let limit = Duration::from_secs(t.timeout_secs);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= limit => {
                    if let Some(pid) =
                        rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0))
                    {
                        let _ =
                            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                    }
                    let _ = child.wait();
                    return Err(format!(
                        "self-test {:?} timed out after {} s",
                        t.command, t.timeout_secs
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("self-test {:?}: {e}", t.command)),
            }
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
