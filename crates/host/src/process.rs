//! Running a child process with a time limit.
//!
//! Self-tests of an install and `cmd:` clinical-state probes are programs a vendor wrote; a
//! hung one must not hold an install or the clinical gate forever, nor leave processes
//! behind. The child runs in its own process group, and when the limit passes the whole group
//! is killed. The wait uses a pidfd (Linux 5.3) rather than polling; where pidfds are not
//! available it falls back to polling every 10 ms.
//!
//! A caller that pipes the child's output must read it on another thread: a child blocked
//! on a full pipe looks hung. Files and `/dev/null` need no care.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal};

/// A bounded child process did not finish normally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The program could not be started.
    #[error("{program} could not start: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The limit passed; the process group was killed.
    #[error("{program} did not finish within {} s and was killed", limit.as_secs_f64())]
    TimedOut {
        /// The program.
        program: String,
        /// The limit.
        limit: Duration,
    },
    /// Waiting for the child failed.
    #[error("waiting for {program}: {source}")]
    Wait {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Runs `command` in a new process group and waits at most `limit` for it to exit; on
/// timeout the whole group gets `SIGKILL` and is reaped.
///
/// # Errors
/// [`RunError`]; the exit status of a child that finished (success or not) is `Ok`.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Result<ExitStatus, RunError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .process_group(0)
        .spawn()
        .map_err(|source| RunError::Spawn {
            program: program.clone(),
            source,
        })?;
    let wait_error = |source| RunError::Wait {
        program: program.clone(),
        source,
    };
    let finished = match wait_for_exit(&mut child, limit) {
        Ok(finished) => finished,
        Err(source) => {
            kill_group(&mut child);
            return Err(wait_error(source));
        }
    };
    if let Some(status) = finished {
        return Ok(status);
    }
    kill_group(&mut child);
    Err(RunError::TimedOut { program, limit })
}

/// `Some(status)` once the child exited, `None` when `limit` passed first.
fn wait_for_exit(child: &mut Child, limit: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    let pidfd = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0))
        .and_then(|pid| rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok());
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match &pidfd {
            Some(fd) => {
                let timeout = rustix::event::Timespec {
                    tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(left.subsec_nanos()),
                };
                let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                match rustix::event::poll(&mut fds, Some(&timeout)) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            None => std::thread::sleep(left.min(Duration::from_millis(10))),
        }
    }
}

fn kill_group(child: &mut Child) {
    if let Some(pid) = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)) {
        // The group may already be gone; either way, reap the child.
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script).stdin(Stdio::null());
        c
    }

    #[test]
    fn an_exit_status_is_returned() {
        assert!(
            run_bounded(&mut sh("exit 0"), Duration::from_secs(30))
                .unwrap()
                .success()
        );
        let status = run_bounded(&mut sh("exit 3"), Duration::from_secs(30)).unwrap();
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_hung_child_and_its_children_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        let script = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
        let err = run_bounded(&mut sh(&script), Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, RunError::TimedOut { .. }), "{err}");
        let grandchild: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed and, having been re-parented, reaped by init: `kill -0` finds nothing or a
        // zombie. A live `sleep 600` would answer with a state other than Z.
        let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .map(|s| s.split(' ').nth(2).unwrap_or("").to_owned())
            .unwrap_or_default();
        assert!(
            state.is_empty() || state == "Z",
            "grandchild state {state:?}"
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let err = run_bounded(
            &mut Command::new("/nonexistent/medguard-self-test"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err, RunError::Spawn { .. }), "{err}");
    }
}
