//! The daemon under faults of the device and of the network, end to end with the real server.
//!
//! The device's disk full: the agent's state directory on a 2 MB tmpfs (mounted by the test,
//! which runs as root here; elsewhere it says it is skipped), filled while the server is away
//! and reports are queued; files change under the profiled root while it is full. The agent
//! keeps running, says DISK FULL in every round, keeps what it had queued, and once space is
//! back records the gap (what it could not record) in its audit log; the server then holds
//! every report once (sqlite3 counts seq 1..last), an intact audit chain, the gap record, and
//! the deviations of every change.
//!
//! A server answering garbage or slowly: a fake server on the fleet's address, with the real
//! server's certificate, answers a 200 that is not JSON, bytes that are not HTTP, nothing at
//! all, or one byte at a time; a plain TCP listener never starts TLS. Each try ends within
//! the configured timeouts with an error naming the problem, the agent keeps running and
//! queueing, and the real server, back on the address, gets everything exactly once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Fleet, RunningAgent, RunningServer, check, stored_reports};

/// A tmpfs mounted on a directory, unmounted when dropped (lazily: a process killed a moment
/// before may still hold a file).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` on `dir`. `None` when this user may not mount (not root): the
    /// caller says the test is skipped. As root, a failed mount fails the test.
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let out = StdCommand::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .output()
            .expect("mount(8) must be installed for this test");
        if out.status.success() {
            return Some(Self {
                dir: dir.to_owned(),
            });
        }
        let uid =
            String::from_utf8(StdCommand::new("id").arg("-u").output().unwrap().stdout).unwrap();
        assert_ne!(
            uid.trim(),
            "0",
            "root could not mount a tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = StdCommand::new("umount").arg("-l").arg(&self.dir).output();
    }
}

/// Fills the file system of `dir` to the last byte; returns the filler file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for size in [64 << 10, 4096, 1] {
        let chunk = vec![0xa5u8; size];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    file.sync_all().unwrap();
    path
}

/// The number in "… N what" of a round line (`"2 security event(s)"`).
fn number_before(line: &str, what: &str) -> u64 {
    let at = line
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in {line}"));
    line[..at]
        .trim_end()
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {what:?} in {line}"))
}

/// The queue's length a round line ends with (`…; 3 queued; …`).
fn queued(line: &str) -> u64 {
    line.split("; ")
        .find_map(|p| p.strip_suffix(" queued")?.parse().ok())
        .unwrap_or_else(|| panic!("no queue length in {line}"))
}

/// Audit records the server stored for the device whose payload contains every part.
fn stored_audit_records(f: &Fleet, parts: &[&str]) -> u64 {
    let filter: String = parts
        .iter()
        .map(|p| format!(" AND payload LIKE '%{}%'", p.replace('\'', "''")))
        .collect();
    let out = StdCommand::new("sqlite3")
        .arg(f.data.join("fleet.db"))
        .arg(format!(
            "SELECT COUNT(*) FROM audit_records WHERE device_id = '{}'{filter}",
            f.id
        ))
        .output()
        .expect("sqlite3 must be installed for this test (.ci/install-deps)");
    check(&out, 0).trim().parse().unwrap()
}

#[test]
fn on_a_full_disk_the_agent_keeps_running_says_so_and_the_server_gets_every_event_or_the_gap() {
    let mut mounted = None;
    let mut f = Fleet::with("SN-full", "", |state| {
        mounted = Tmpfs::mount(state, "2m");
    });
    let Some(disk) = mounted else {
        println!("SKIPPED: mounting a tmpfs needs root; the full-disk test did not run");
        return;
    };
    let mut agent = RunningAgent::start(&f.config);
    agent.wait_for(0, &["verify: intact", "0 queued", "server holds up to seq"]);

    // The server goes away and a change is queued: accepted, not yet delivered.
    drop(f.server.take());
    std::fs::write(f.root.join("etc/added-1"), "x\n").unwrap();
    let at = agent.wait_for(0, &["verify: DEVIATIONS: 1 added"]);
    let at = agent.wait_for(at, &["PROBLEM: sending"]);
    let waiting = queued(&agent.line(at));
    assert!(waiting >= 1, "{}", agent.line(at));

    // The disk fills up; another change is made while it is full.
    let filler = fill(&disk.dir);
    std::fs::write(f.root.join("etc/added-2"), "x\n").unwrap();
    let full = agent.wait_for(at + 1, &["PROBLEM: DISK FULL"]);
    let line = agent.line(full);
    assert!(
        line.contains(&disk.dir.display().to_string()),
        "the problem names the state directory: {line}"
    );
    // The server returns while the disk is still full: the agent keeps running and
    // sending (what it cannot mark as sent is sent again later and held once).
    f.server = Some(RunningServer::start(&f.data, &f.listen));
    let mut last = full;
    for _ in 0..3 {
        last = agent.wait_for(last + 1, &["PROBLEM: DISK FULL"]);
    }
    let lost = number_before(&agent.line(last), " security event(s)");
    println!("while the disk was full: {}", agent.line(last));
    assert!(
        lost >= 1,
        "the deviation's audit event cannot be written on a full disk: {}",
        agent.line(last)
    );

    // Space is back: the gap is recorded, and everything reaches the server. (The audit log
    // may take the gap's record before the outbox has room again: a small append fits where
    // a database page does not. Then a new gap opens and is recorded in turn.)
    std::fs::remove_file(&filler).unwrap();
    let done = agent.wait_until(last, "a round with nothing queued and the disk fine", |l| {
        l.contains("; 0 queued; server holds up to seq") && !l.contains("DISK FULL")
    });
    f.wait_on_server(|d| d["detail"]["deviations"] == 2);
    let agent_lines = agent.lines.lock().unwrap().clone();
    let (status, stderr) = agent.stop();
    assert!(status.success(), "{status}: {stderr}");
    let gaps: Vec<&String> = agent_lines
        .iter()
        .filter(|l| l.contains("the gap is recorded in the audit log"))
        .collect();
    assert!(!gaps.is_empty(), "{}", agent_lines.join("\n"));
    println!("once space was back: {}", agent_lines[done]);

    let outbox = f.outbox();
    assert_eq!((outbox.reports, outbox.refused), (0, 0), "{outbox:?}");
    let d = common::get(
        &f.url,
        &f.data,
        &f.api,
        &format!("/api/v1/devices/{}", f.id),
    );
    assert_eq!(d["last_seq"].as_u64().unwrap(), outbox.last_seq, "{d:#}");
    // Every report from 1 to the last is stored, each once.
    assert_eq!(
        stored_reports(&f),
        (outbox.last_seq, 1, outbox.last_seq),
        "{d:#}"
    );
    // A duplicated or lost audit record would break the chain.
    assert_eq!(d["detail"]["audit"], "intact", "{d:#}");
    // The server learned of each gap the agent recorded, once, with what was lost.
    assert_eq!(
        stored_audit_records(
            &f,
            &[
                "audit-log-recovery",
                "disk holding the agent",
                "could not be recorded"
            ]
        ),
        gaps.len() as u64,
        "the agent's rounds:\n{}",
        agent_lines.join("\n")
    );
    // The deviation recorded before the disk filled, and the ones after space came back.
    assert!(stored_audit_records(&f, &["integrity-deviation", "1 added"]) >= 1);
    assert!(stored_audit_records(&f, &["integrity-deviation", "2 added"]) >= 1);
    drop(disk);
}

/// How the fake server on the fleet's address misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misbehaviour {
    /// TLS with the real server's certificate, then `200 OK` with a body that is not JSON.
    NotJson,
    /// TLS, then bytes that are not HTTP.
    NotHttp,
    /// TLS, reads the request, never answers.
    Silent,
    /// TLS, a `200 OK` header announcing a body that comes one byte every 300 ms.
    Drip,
    /// Plain TCP: accepts and never starts TLS.
    NoTls,
}

/// A fake server on the fleet's address; stops (and closes its connections) when dropped.
struct FakeServer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    fn start(f: &Fleet, how: Misbehaviour) -> Self {
        let tls = medguard_server::DataDir::new(&f.data).tls_config().unwrap();
        let listener = TcpListener::bind(&f.listen).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut connections = Vec::new();
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        tcp.set_nonblocking(false).unwrap();
                        let (tls, halt) = (tls.clone(), halt.clone());
                        connections.push(std::thread::spawn(move || {
                            misbehave(tcp, &tls, how, &halt);
                        }));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("fake server: {e}"),
                }
            }
            for c in connections {
                let _ = c.join();
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Holds the connection open until the fake server stops.
fn hold(halt: &AtomicBool) {
    while !halt.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn misbehave(
    tcp: TcpStream,
    tls: &Arc<rustls::ServerConfig>,
    how: Misbehaviour,
    halt: &AtomicBool,
) {
    if how == Misbehaviour::NoTls {
        hold(halt);
        drop(tcp);
        return;
    }
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let conn = rustls::ServerConnection::new(tls.clone()).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // The request's head and body (Content-Length), read until the fake server stops.
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let complete = |r: &[u8]| {
        let text = String::from_utf8_lossy(r);
        let Some(end) = text.find("\r\n\r\n") else {
            return false;
        };
        let length = text[..end]
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        r.len() >= end + 4 + length
    };
    while !complete(&request) {
        if halt.load(Ordering::SeqCst) {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
    let answer: &[u8] = match how {
        Misbehaviour::NotJson => {
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 31\r\n\r\n<html>not the protocol</html>\r\n"
        }
        Misbehaviour::NotHttp => b"\x00\x01\x02 garbage, not HTTP \xff\xfe\r\n\r\n",
        Misbehaviour::Silent => {
            hold(halt);
            return;
        }
        Misbehaviour::Drip => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
            );
            while !halt.load(Ordering::SeqCst) {
                if stream.write_all(b" ").and_then(|()| stream.flush()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            return;
        }
        Misbehaviour::NoTls => unreachable!(),
    };
    let _ = stream.write_all(answer).and_then(|()| stream.flush());
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

#[test]
fn a_server_answering_garbage_or_slowly_is_named_within_the_timeouts_and_the_real_one_gets_everything_once()
 {
    let mut f = Fleet::with(
        "SN-garbage",
        "[server]\nconnect_timeout = \"2s\"\nrequest_timeout = \"3s\"\n",
        |_| {},
    );
    let mut agent = RunningAgent::start(&f.config);
    let mut at = agent.wait_for(0, &["verify: intact", "0 queued", "server holds up to seq"]);
    drop(f.server.take());

    let cases: [(Misbehaviour, &[&str]); 5] = [
        (
            Misbehaviour::NotJson,
            &["PROBLEM: sending", "the answer is not the protocol's"],
        ),
        (
            Misbehaviour::NotHttp,
            &["PROBLEM: sending", "the answer is not HTTP"],
        ),
        (
            Misbehaviour::Silent,
            &[
                "PROBLEM: sending",
                "no complete answer within 3s ([server] request_timeout)",
            ],
        ),
        (
            Misbehaviour::Drip,
            &[
                "PROBLEM: sending",
                "no complete answer within 3s ([server] request_timeout)",
            ],
        ),
        (
            Misbehaviour::NoTls,
            &[
                "PROBLEM: sending",
                "no connection within 2s ([server] connect_timeout)",
            ],
        ),
    ];
    for (n, (how, named)) in cases.into_iter().enumerate() {
        let fake = FakeServer::start(&f, how);
        // A change while the fake server answers: verified and queued.
        std::fs::write(f.root.join(format!("etc/added-{}", n + 1)), "x\n").unwrap();
        at = agent.wait_for(at + 1, &[&format!("verify: DEVIATIONS: {} added", n + 1)]);
        at = agent.wait_for(at, named);
        let line = agent.line(at);
        println!("{how:?}: {line}");
        assert!(
            line.contains(&f.url),
            "the problem names the server: {line}"
        );
        assert!(queued(&line) >= 1, "the queue is kept: {line}");
        drop(fake);
    }

    // The real server returns on the address: everything arrives, once.
    f.server = Some(RunningServer::start(&f.data, &f.listen));
    agent.wait_for(at + 1, &["0 queued", "server holds up to seq"]);
    let d = f.wait_on_server(|d| d["detail"]["deviations"] == 5);
    let (status, stderr) = agent.stop();
    assert!(status.success(), "{status}: {stderr}");
    let outbox = f.outbox();
    assert_eq!((outbox.reports, outbox.refused), (0, 0), "{outbox:?}");
    assert_eq!(
        stored_reports(&f),
        (outbox.last_seq, 1, outbox.last_seq),
        "{d:#}"
    );
    let d = f.device();
    assert_eq!(d["last_seq"].as_u64().unwrap(), outbox.last_seq, "{d:#}");
    assert_eq!(d["detail"]["audit"], "intact", "{d:#}");
}
