//! The clinical state of a device and the providers that report it.
//!
//! A provider is configured by the vendor, who knows how the device's own software tells
//! that an examination or a monitoring session is running. Four kinds exist, written as a
//! one-line spec so that they fit a command line or a configuration value:
//!
//! - `file:PATH`: the file holds `idle` or `in-use` (surrounding white space ignored). The
//!   clinical application rewrites it when a session starts or ends.
//! - `socket:PATH`: a Unix stream socket; on connect, the provider writes `idle` or
//!   `in-use`, optionally followed by a newline, and may close.
//! - `cmd:COMMAND`: run by `sh -c`; exit status 0 means idle, any other exit means in use.
//! - `lock:PATH`: an advisory `flock` lock file, as balena's update locks work: the clinical
//!   software holds the lock while the device is in use; free means idle. Unlike the others
//!   it closes the race between asking and acting: an install takes the lock itself
//!   (without waiting) and holds it to the end, so no procedure can start mid-install.
//!
//! Reading never blocks for longer than the timeout the caller gives. This module reports
//! errors as errors; turning an error into "in use" is [`crate::ClinicalGate`]'s job, so a
//! caller that only wants to display the state can still tell "in use" from "unreadable".

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use medguard_host::RunError;

/// What the device says it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClinicalState {
    /// No clinical session: maintenance may proceed (within its window).
    Idle,
    /// A patient is being examined, monitored or treated: touch nothing.
    InUse,
}

impl ClinicalState {
    /// Parses a provider's answer: `idle` or `in-use` (`in_use` and `inuse` too), in any
    /// case, surrounded by any white space.
    pub fn parse_answer(text: &str) -> Option<ClinicalState> {
        match text.trim().to_ascii_lowercase().as_str() {
            "idle" => Some(ClinicalState::Idle),
            "in-use" | "in_use" | "inuse" => Some(ClinicalState::InUse),
            _ => None,
        }
    }
}

impl fmt::Display for ClinicalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClinicalState::Idle => "idle",
            ClinicalState::InUse => "in-use",
        })
    }
}

/// Why a provider could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClinicalError {
    /// The spec is not `file:`, `socket:`, `cmd:` or `lock:` followed by something.
    #[error(
        "clinical state provider {spec:?} is not valid: expected file:PATH, socket:PATH, cmd:COMMAND or lock:PATH"
    )]
    InvalidSpec {
        /// The spec as given.
        spec: String,
    },
    /// The state file or socket could not be read.
    #[error("cannot read the clinical state from {source_spec}: {error}")]
    Io {
        /// The provider, as its spec.
        source_spec: String,
        /// The underlying error.
        #[source]
        error: io::Error,
    },
    /// The provider answered something other than `idle` or `in-use`.
    #[error(
        "clinical state provider {source_spec} answered {answer:?}, expected \"idle\" or \"in-use\""
    )]
    UnknownAnswer {
        /// The provider, as its spec.
        source_spec: String,
        /// What it answered (at most 64 bytes, lossily decoded).
        answer: String,
    },
    /// The provider did not answer in time.
    #[error("clinical state provider {source_spec} did not answer within {timeout:?}")]
    Timeout {
        /// The provider, as its spec.
        source_spec: String,
        /// How long we waited.
        timeout: Duration,
    },
}

/// Where the clinical state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClinicalStateSource {
    /// A file holding `idle` or `in-use`.
    File(PathBuf),
    /// A Unix stream socket that answers `idle` or `in-use` on connect.
    Socket(PathBuf),
    /// A shell command: exit 0 means idle.
    Command(String),
    /// An advisory lock file (`flock`): the clinical software holds it while the device is
    /// in use; free means idle. An install takes it itself and holds it to the end, so no
    /// procedure can start mid-install (see [`ClinicalGate::begin`](crate::ClinicalGate::begin)).
    Lock(PathBuf),
}

/// Answers longer than this are not a state word; reading stops there so a provider that
/// streams cannot make us buffer without bound.
const MAX_ANSWER: u64 = 64;

impl FromStr for ClinicalStateSource {
    type Err = ClinicalError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let invalid = || ClinicalError::InvalidSpec {
            spec: spec.to_owned(),
        };
        let (kind, rest) = spec.split_once(':').ok_or_else(invalid)?;
        if rest.is_empty() {
            return Err(invalid());
        }
        match kind {
            "file" => Ok(ClinicalStateSource::File(PathBuf::from(rest))),
            "socket" => Ok(ClinicalStateSource::Socket(PathBuf::from(rest))),
            "cmd" => Ok(ClinicalStateSource::Command(rest.to_owned())),
            "lock" => Ok(ClinicalStateSource::Lock(PathBuf::from(rest))),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for ClinicalStateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClinicalStateSource::File(p) => write!(f, "file:{}", p.display()),
            ClinicalStateSource::Socket(p) => write!(f, "socket:{}", p.display()),
            ClinicalStateSource::Command(c) => write!(f, "cmd:{c}"),
            ClinicalStateSource::Lock(p) => write!(f, "lock:{}", p.display()),
        }
    }
}

impl ClinicalStateSource {
    /// Asks the provider, waiting at most `timeout`.
    pub fn read(&self, timeout: Duration) -> Result<ClinicalState, ClinicalError> {
        match self {
            ClinicalStateSource::File(path) => {
                // A state file lives on a local disk; a read that blocks (a FIFO with no
                // writer) is cut off by opening without blocking.
                let file = open_nonblocking(path).map_err(|error| self.io(error))?;
                self.answer(read_answer(file).map_err(|error| self.io(error))?)
            }
            ClinicalStateSource::Socket(path) => {
                let stream = UnixStream::connect(path).map_err(|error| self.io(error))?;
                stream
                    .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
                    .map_err(|error| self.io(error))?;
                match read_answer(stream) {
                    Ok(answer) => self.answer(answer),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        Err(ClinicalError::Timeout {
                            source_spec: self.to_string(),
                            timeout,
                        })
                    }
                    Err(error) => Err(self.io(error)),
                }
            }
            ClinicalStateSource::Command(command) => self.run(command, timeout),
            // Taken and released at once: free means nobody is using the device now.
            ClinicalStateSource::Lock(path) => Ok(match self.try_lock(path)? {
                Some(_) => ClinicalState::Idle,
                None => ClinicalState::InUse,
            }),
        }
    }

    /// Takes the lock file's exclusive advisory lock without waiting: `Some(file)` holds it
    /// until the file is dropped, `None` means someone else holds it (the device is in
    /// use). A missing file is created: nobody can hold a lock on it.
    pub(crate) fn try_lock(&self, path: &std::path::Path) -> Result<Option<File>, ClinicalError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|error| self.io(error))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(file)),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(self.io(e.into())),
        }
    }

    fn run(&self, command: &str, timeout: Duration) -> Result<ClinicalState, ClinicalError> {
        let mut probe = Command::new("sh");
        probe
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A hung probe must not keep a process around: run_bounded kills its whole process
        // group (the probe's own children too) when the time is up.
        match medguard_host::run_bounded(&mut probe, timeout) {
            Ok(status) if status.success() => Ok(ClinicalState::Idle),
            Ok(_) => Ok(ClinicalState::InUse),
            Err(RunError::TimedOut { .. }) => Err(ClinicalError::Timeout {
                source_spec: self.to_string(),
                timeout,
            }),
            Err(RunError::Spawn { source, .. } | RunError::Wait { source, .. }) => {
                Err(self.io(source))
            }
            Err(e) => Err(self.io(io::Error::other(e))),
        }
    }

    fn answer(&self, answer: Vec<u8>) -> Result<ClinicalState, ClinicalError> {
        let text = String::from_utf8_lossy(&answer);
        ClinicalState::parse_answer(&text).ok_or_else(|| ClinicalError::UnknownAnswer {
            source_spec: self.to_string(),
            answer: text.into_owned(),
        })
    }

    fn io(&self, error: io::Error) -> ClinicalError {
        ClinicalError::Io {
            source_spec: self.to_string(),
            error,
        }
    }
}

fn open_nonblocking(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Reads up to the first newline or [`MAX_ANSWER`] bytes, whichever comes first.
fn read_answer(reader: impl Read) -> io::Result<Vec<u8>> {
    let mut answer = Vec::new();
    reader.take(MAX_ANSWER).read_to_end(&mut answer)?;
    if let Some(end) = answer.iter().position(|&b| b == b'\n') {
        answer.truncate(end);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixListener;
    use std::time::Instant;

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn specs_parse_and_display_round_trip() {
        for spec in [
            "file:/run/state",
            "socket:/run/s.sock",
            "cmd:test -e /x && exit 1",
        ] {
            let source: ClinicalStateSource = spec.parse().unwrap();
            assert_eq!(source.to_string(), spec);
        }
        for bad in ["", "file:", "idle", "http://x", "fil:/x"] {
            assert!(
                matches!(
                    bad.parse::<ClinicalStateSource>(),
                    Err(ClinicalError::InvalidSpec { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn state_file_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let source = ClinicalStateSource::File(path.clone());
        assert!(matches!(source.read(T), Err(ClinicalError::Io { .. })));
        std::fs::write(&path, "idle\n").unwrap();
        assert_eq!(source.read(T).unwrap(), ClinicalState::Idle);
        std::fs::write(&path, "  IN-USE ").unwrap();
        assert_eq!(source.read(T).unwrap(), ClinicalState::InUse);
        std::fs::write(&path, "maybe").unwrap();
        assert!(matches!(
            source.read(T),
            Err(ClinicalError::UnknownAnswer { answer, .. }) if answer == "maybe"
        ));
        std::fs::write(&path, "x".repeat(1 << 20)).unwrap();
        assert!(matches!(
            source.read(T),
            Err(ClinicalError::UnknownAnswer { answer, .. }) if answer.len() == 64
        ));
    }

    #[test]
    fn a_fifo_without_writer_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let made = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success());
        let source = ClinicalStateSource::File(path);
        // No writer: the read sees end of file at once, which is not a state.
        assert!(matches!(
            source.read(T),
            Err(ClinicalError::UnknownAnswer { .. })
        ));
    }

    #[test]
    fn command_exit_status_is_the_state() {
        let idle = ClinicalStateSource::Command("exit 0".into());
        let busy = ClinicalStateSource::Command("exit 3".into());
        assert_eq!(idle.read(T).unwrap(), ClinicalState::Idle);
        assert_eq!(busy.read(T).unwrap(), ClinicalState::InUse);
        let hung = ClinicalStateSource::Command("sleep 30".into());
        let started = Instant::now();
        assert!(matches!(
            hung.read(Duration::from_millis(100)),
            Err(ClinicalError::Timeout { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    /// A probe that times out is killed with everything it started: no process outlives the
    /// probe to hold the gate's resources.
    #[test]
    fn a_hung_probe_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let hung = ClinicalStateSource::Command(format!(
            "sleep 30 & echo $! > '{}'; wait",
            pid_file.display()
        ));
        assert!(matches!(
            hung.read(Duration::from_millis(300)),
            Err(ClinicalError::Timeout { .. })
        ));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        // Killed: gone, or a zombie until init reaps it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::read_to_string(&stat) {
                Err(_) => break,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z')) =>
                {
                    break;
                }
                Ok(s) => assert!(
                    Instant::now() < deadline,
                    "the probe's child {} still runs: {s}",
                    pid.trim()
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn socket_answers_and_silence_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut a, _) = listener.accept().unwrap();
            a.write_all(b"in-use\n").unwrap();
            drop(a);
            let (mut b, _) = listener.accept().unwrap();
            b.write_all(b"idle").unwrap();
            drop(b);
            // The third client gets no answer until it gives up.
            let (c, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            drop(c);
        });
        let source = ClinicalStateSource::Socket(path);
        assert_eq!(source.read(T).unwrap(), ClinicalState::InUse);
        assert_eq!(source.read(T).unwrap(), ClinicalState::Idle);
        assert!(matches!(
            source.read(Duration::from_millis(50)),
            Err(ClinicalError::Timeout { .. })
        ));
        server.join().unwrap();
    }

    #[test]
    fn a_missing_socket_is_an_io_error() {
        let source = ClinicalStateSource::Socket("/nonexistent/medguard.sock".into());
        assert!(matches!(source.read(T), Err(ClinicalError::Io { .. })));
    }
}
