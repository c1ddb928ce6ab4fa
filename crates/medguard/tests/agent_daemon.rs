//! The daemon end to end, as the "done when" walks it: `server init` and `server run`,
//! `agent enroll`, `agent run` with a short verification interval; a changed file under the
//! profiled root shows on the server as a deviation; the server is stopped, three more
//! changes are made (the agent verifies each while the queue grows), the server is restarted
//! on the same address, and everything arrives exactly once: the server's last sequence
//! number is the device's, nothing is refused, the audit chain is intact (a duplicated or
//! missing audit record would break it), and the deviations count all four changes.
//!
//! Faults: the agent SIGKILLed while it sends (every sequence number stored once, counted in
//! the server's database); a server with another CA's certificate (the problem names the
//! certificate, the agent keeps running and queueing). Under systemd: READY=1, WATCHDOG=1 and
//! STOPPING=1 on a `NOTIFY_SOCKET` the test binds. Bad configurations: agent_cli.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt as _;
use serde_json::Value;

/// How long the test waits for something the daemon does within seconds (generous: the
/// machine is shared; the test never asserts a wall-clock time).
const PATIENCE: Duration = Duration::from_secs(90);

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

fn check(out: &std::process::Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn secret(out: &str) -> String {
    out.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}

/// `medguard server run` on a fixed loopback address, SIGKILLed when dropped.
struct RunningServer {
    child: Child,
}

impl RunningServer {
    fn start(data: &Path, listen: &str) -> Self {
        let mut child = StdCommand::cargo_bin("medguard")
            .unwrap()
            .args(["server", "run", "--listen", listen, "--data"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        loop {
            let line = lines
                .next()
                .expect("server exited before it listened")
                .unwrap();
            if line.contains("listening on ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Self { child }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `medguard agent run`, its stdout lines collected; SIGKILLed when dropped.
struct RunningAgent {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl RunningAgent {
    fn start(config: &Path) -> Self {
        Self::start_with_env(config, &[])
    }

    /// Started with these environment variables added.
    fn start_with_env(config: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut child = StdCommand::cargo_bin("medguard")
            .unwrap()
            .args([
                "agent",
                "run",
                "--retry-min",
                "1s",
                "--retry-max",
                "2s",
                "--state",
            ])
            .arg(config.with_file_name("state"))
            .arg("--config")
            .arg(config)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Self { child, lines }
    }

    /// Waits for a round line (after `from`) containing every part; returns its index.
    fn wait_for(&mut self, from: usize, parts: &[&str]) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some(i) = lines
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, l)| parts.iter().all(|p| l.contains(p)))
                    .map(|(i, _)| i)
                {
                    return i;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the agent exited ({status}) before printing {parts:?}:\n{}",
                    self.lines.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "no round printed {parts:?}:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        check(
            &StdCommand::new("kill")
                .args(["-TERM", &pid])
                .output()
                .unwrap(),
            0,
        );
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        (status, stderr)
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str, data: &Path, token: &str, path: &str) -> Value {
    let out = StdCommand::new("curl")
        .args(["--silent", "--show-error", "--fail-with-body", "--cacert"])
        .arg(data.join("tls/ca.pem"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("{url}{path}"))
        .output()
        .expect("curl must be installed for this test (.ci/install-deps)");
    serde_json::from_str(&check(&out, 0)).unwrap()
}

/// Polls the device on the server until `done` holds.
fn wait_on_server(
    url: &str,
    data: &Path,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let d = get(url, data, token, &format!("/api/v1/devices/{id}"));
        if done(&d) {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "the server never got there: {d:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with one enrolled device: `server init` and `server run` on a free loopback port,
/// a vendor key, a profiled root, the agent's configuration (verification every 2 s) and
/// state, and an API token.
struct Fleet {
    work: tempfile::TempDir,
    data: std::path::PathBuf,
    listen: String,
    url: String,
    root: std::path::PathBuf,
    config: std::path::PathBuf,
    id: String,
    api: String,
    server: Option<RunningServer>,
}

impl Fleet {
    fn new(serial: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path();
        let data = work.join("server");
        check(
            &medguard()
                .args(["server", "init", "--data"])
                .arg(&data)
                .output()
                .unwrap(),
            0,
        );
        let listen = format!("127.0.0.1:{}", free_port());
        let url = format!("https://{listen}");
        let server = RunningServer::start(&data, &listen);

        let vendor = work.join("vendor");
        check(
            &medguard()
                .args(["key", "generate", "--out"])
                .arg(&vendor)
                .output()
                .unwrap(),
            0,
        );
        let root = work.join("device/root");
        std::fs::create_dir_all(root.join("opt/viewer/bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            "Package: viewer\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n",
        )
        .unwrap();
        std::fs::write(
            root.join("opt/viewer/bin/viewer"),
            "#!/bin/sh\necho viewer\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "ID=debian\nVERSION_ID=\"12\"\n",
        )
        .unwrap();
        let profile = work.join("device/device.profile");
        check(
            &medguard()
                .args(["profile", "create"])
                .arg(&root)
                .arg("--out")
                .arg(&profile)
                .arg("--key")
                .arg(vendor.with_extension("key"))
                .output()
                .unwrap(),
            0,
        );
        let config = work.join("device/agent.toml");
        std::fs::write(
            &config,
            format!(
                "[device]\nmodel = \"CT 9000\"\nserial = \"{serial}\"\n\
                 [profile]\nroot = \"root\"\nprofile = \"device.profile\"\ntrust = [{:?}]\n\
                 interval = \"2s\"\n[inventory]\n",
                vendor.with_extension("pub")
            ),
        )
        .unwrap();
        let token = secret(&check(
            &medguard()
                .args(["server", "enroll-token", "--site", "Radiology", "--data"])
                .arg(&data)
                .output()
                .unwrap(),
            0,
        ));
        let enrolled: Value = serde_json::from_str(&check(
            &medguard()
                .args([
                    "agent", "enroll", "--json", "--server", &url, "--token", &token,
                ])
                .arg("--ca")
                .arg(data.join("tls/ca.pem"))
                .arg("--state")
                .arg(config.with_file_name("state"))
                .arg("--config")
                .arg(&config)
                .output()
                .unwrap(),
            0,
        ))
        .unwrap();
        let id = enrolled["device_id"].as_str().unwrap().to_owned();
        let api = secret(&check(
            &medguard()
                .args([
                    "server", "token", "create", "--user", "admin", "--name", "daemon", "--data",
                ])
                .arg(&data)
                .output()
                .unwrap(),
            0,
        ));

        Self {
            data,
            listen,
            url,
            root,
            config,
            id,
            api,
            server: Some(server),
            work: dir,
        }
    }

    /// The device as the server shows it.
    fn device(&self) -> Value {
        get(
            &self.url,
            &self.data,
            &self.api,
            &format!("/api/v1/devices/{}", self.id),
        )
    }

    /// Polls the device on the server until `done` holds.
    fn wait_on_server(&self, done: impl Fn(&Value) -> bool) -> Value {
        wait_on_server(&self.url, &self.data, &self.api, &self.id, done)
    }

    /// The agent's outbox (read while the agent is stopped).
    fn outbox(&self) -> medguard_agent::QueueStats {
        medguard_agent::Outbox::open(
            &medguard_agent::StateDir::new(self.config.with_file_name("state")).outbox_path(),
        )
        .unwrap()
        .stats()
        .unwrap()
    }
}

#[test]
fn the_daemon_reports_a_change_within_an_interval_and_everything_once_after_an_outage() {
    let mut f = Fleet::new("SN-daemon");
    let (data, url, api, id, root, config, listen) = (
        f.data.clone(),
        f.url.clone(),
        f.api.clone(),
        f.id.clone(),
        f.root.clone(),
        f.config.clone(),
        f.listen.clone(),
    );
    let mut server = f.server.take().unwrap();
    let mut agent = RunningAgent::start(&config);
    agent.wait_for(0, &["verify: intact", "0 queued", "server holds up to seq"]);
    let d = wait_on_server(&url, &data, &api, &id, |d| {
        d["detail"]["integrity"] == "intact"
    });
    assert_eq!(d["status"], "ok", "{d:#}");

    // A change under the profiled root shows as a deviation.
    std::fs::write(
        root.join("opt/viewer/bin/viewer"),
        "#!/bin/sh\necho changed\n",
    )
    .unwrap();
    let seen = agent.wait_for(0, &["verify: DEVIATIONS: 0 added, 0 removed, 1 changed"]);
    let d = wait_on_server(&url, &data, &api, &id, |d| {
        d["detail"]["integrity"] == "deviations"
    });
    assert_eq!(d["detail"]["deviations"], 1, "{d:#}");
    assert_eq!(d["status"], "attention", "{d:#}");

    // The server goes away; three more changes, each verified while the queue grows.
    drop(server);
    let mut at = agent.wait_for(seen, &["PROBLEM: sending"]);
    for n in 1..=3 {
        std::fs::write(root.join(format!("etc/added-{n}")), "x\n").unwrap();
        at = agent.wait_for(
            at,
            &[&format!(
                "verify: DEVIATIONS: {n} added, 0 removed, 1 changed"
            )],
        );
    }
    let queued_line = agent.wait_for(at, &["PROBLEM: sending"]);
    let queued: u64 = {
        let lines = agent.lines.lock().unwrap();
        let l = &lines[queued_line];
        l.split("; ")
            .find_map(|p| p.strip_suffix(" queued")?.parse().ok())
            .unwrap_or_else(|| panic!("{l}"))
    };
    assert!(
        queued >= 3,
        "the queue grows while the server is away: {queued}"
    );

    server = RunningServer::start(&data, &listen);
    let d = wait_on_server(&url, &data, &api, &id, |d| d["detail"]["deviations"] == 4);
    assert_eq!(d["detail"]["integrity"], "deviations", "{d:#}");
    agent.wait_for(queued_line, &["0 queued", "server holds up to seq"]);

    let (status, stderr) = agent.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("agent stopped after"), "{stderr}");
    let outbox = medguard_agent::Outbox::open(
        &medguard_agent::StateDir::new(config.with_file_name("state")).outbox_path(),
    )
    .unwrap();
    let stats = outbox.stats().unwrap();
    assert_eq!(stats.refused, 0);
    let d = get(&url, &data, &api, &format!("/api/v1/devices/{id}"));
    // Reports are sent in sequence order: what is still queued is the tail.
    assert_eq!(
        d["last_seq"].as_u64().unwrap() + stats.reports,
        stats.last_seq,
        "{d:#}"
    );
    assert_eq!(d["detail"]["audit"], "intact", "{d:#}");
    drop(server);
}

/// The datagrams a service manager would receive on `NOTIFY_SOCKET`.
struct NotifySocket {
    path: std::path::PathBuf,
    socket: std::os::unix::net::UnixDatagram,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        Self {
            path,
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads datagrams until one has the line `want`; returns how many came before it.
    fn wait_for(&mut self, want: &str) -> usize {
        let mut buf = vec![0u8; 4096];
        let mut before = 0;
        loop {
            let n = self.socket.recv(&mut buf).unwrap_or_else(|e| {
                panic!("no {want} on NOTIFY_SOCKET ({e}); got {:?}", self.seen)
            });
            let message = String::from_utf8(buf[..n].to_vec()).unwrap();
            self.seen.push(message.clone());
            if message.lines().any(|l| l == want) {
                return before;
            }
            before += 1;
        }
    }
}

#[test]
fn under_systemd_the_daemon_says_ready_feeds_the_watchdog_and_says_stopping() {
    let f = Fleet::new("SN-notify");
    let mut socket = NotifySocket::bind(f.work.path());
    // A 2 s watchdog: pings every second.
    let agent = RunningAgent::start_with_env(
        &f.config,
        &[
            ("NOTIFY_SOCKET", socket.path.as_os_str()),
            ("WATCHDOG_USEC", std::ffi::OsStr::new("2000000")),
        ],
    );
    assert_eq!(
        socket.wait_for("READY=1"),
        0,
        "READY=1 is the first notification: {:?}",
        socket.seen
    );
    // Keep-alives keep coming across several rounds (verification every 2 s), spaced by
    // about half the watchdog interval.
    let started = Instant::now();
    for _ in 0..4 {
        socket.wait_for("WATCHDOG=1");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2500),
        "four pings of a 2 s watchdog span at least 3 half-intervals: {elapsed:?}"
    );
    assert!(
        socket.seen.iter().any(|m| m.starts_with("STATUS=round ")),
        "{:?}",
        socket.seen
    );
    let (status, stderr) = agent.stop();
    assert!(status.success(), "{status}: {stderr}");
    socket.wait_for("STOPPING=1");
}

/// The reports the server stored for the device: (count, lowest seq, highest seq), read from
/// its SQLite database with the `sqlite3` tool (an independent reader).
fn stored_reports(f: &Fleet) -> (u64, u64, u64) {
    let out = StdCommand::new("sqlite3")
        .arg(f.data.join("fleet.db"))
        .arg(format!(
            "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM reports \
             WHERE device_id = '{}'",
            f.id
        ))
        .output()
        .expect("sqlite3 must be installed for this test (.ci/install-deps)");
    let text = check(&out, 0);
    let v: Vec<u64> = text.trim().split('|').map(|x| x.parse().unwrap()).collect();
    assert_eq!(v[0], v[1], "a sequence number stored twice: {text}");
    (v[0], v[2], v[3])
}

#[test]
fn an_agent_killed_while_sending_delivers_every_report_exactly_once_after_restarts() {
    let mut f = Fleet::new("SN-killed");
    let mut agent = RunningAgent::start(&f.config);
    agent.wait_for(0, &["0 queued", "server holds up to seq"]);

    // The server goes away while reports pile up (a verification every 2 s).
    drop(f.server.take());
    let mut at = agent.wait_for(0, &["PROBLEM: sending"]);
    for n in 1..=4 {
        std::fs::write(f.root.join(format!("etc/added-{n}")), "x\n").unwrap();
        at = agent.wait_for(at, &[&format!("verify: DEVIATIONS: {n} added")]);
    }
    drop(agent); // SIGKILL

    // The server comes back; the agent is SIGKILLed again and again while it sends the
    // queue: the moment the server's last sequence number moves (the server has stored a
    // batch the agent may not have removed yet), then at start, a little later, and after
    // the server acknowledged part of it.
    f.server = Some(RunningServer::start(&f.data, &f.listen));
    let before = f.device()["last_seq"].as_u64().unwrap();
    let agent = RunningAgent::start(&f.config);
    let deadline = Instant::now() + PATIENCE;
    while f.device()["last_seq"].as_u64().unwrap() == before {
        assert!(Instant::now() < deadline, "the agent never sent");
    }
    drop(agent);
    let mut seen = vec![f.device()["last_seq"].as_u64().unwrap()];
    for delay_ms in [0u64, 150, 400, 900, 1500] {
        std::fs::write(f.root.join("etc/added-1"), format!("{delay_ms}\n")).unwrap();
        let agent = RunningAgent::start(&f.config);
        std::thread::sleep(Duration::from_millis(delay_ms));
        drop(agent);
        seen.push(f.device()["last_seq"].as_u64().unwrap());
    }
    println!("the server's last seq after each SIGKILL: {before} then {seen:?}");

    // A clean run drains the queue.
    let mut agent = RunningAgent::start(&f.config);
    agent.wait_for(0, &["0 queued", "server holds up to seq"]);
    let (status, stderr) = agent.stop();
    assert!(status.success(), "{status}: {stderr}");
    let outbox = f.outbox();
    assert_eq!(outbox.reports, 0, "{outbox:?}");
    assert_eq!(outbox.refused, 0, "{outbox:?}");
    let d = f.device();
    assert_eq!(d["last_seq"].as_u64().unwrap(), outbox.last_seq, "{d:#}");
    // Every sequence number from 1 to the last is stored, each once.
    assert_eq!(
        stored_reports(&f),
        (outbox.last_seq, 1, outbox.last_seq),
        "{d:#}"
    );
    // A duplicated or lost audit record would break the chain.
    assert_eq!(d["detail"]["audit"], "intact", "{d:#}");
    assert_eq!(d["detail"]["deviations"], 4, "{d:#}");
}

#[test]
fn a_server_with_another_cas_certificate_is_named_and_the_agent_queues_until_the_real_one_returns()
{
    let mut f = Fleet::new("SN-imposter");
    let mut agent = RunningAgent::start(&f.config);
    agent.wait_for(0, &["0 queued", "server holds up to seq"]);

    // Another server, with its own CA, answers on the fleet's address.
    drop(f.server.take());
    let other = f.work.path().join("other-server");
    check(
        &medguard()
            .args(["server", "init", "--data"])
            .arg(&other)
            .output()
            .unwrap(),
        0,
    );
    let imposter = RunningServer::start(&other, &f.listen);
    let first = agent.wait_for(0, &["PROBLEM: sending", "not trusted"]);
    let line = agent.lines.lock().unwrap()[first].clone();
    assert!(
        line.contains(&f.url) && line.to_lowercase().contains("certificate"),
        "the problem names the server and the certificate: {line}"
    );
    // It keeps running, verifying and queueing.
    std::fs::write(f.root.join("etc/added-by-imposter-time"), "x\n").unwrap();
    let later = agent.wait_for(first + 1, &["verify: DEVIATIONS: 1 added"]);
    let later = agent.wait_for(later, &["PROBLEM: sending", "not trusted"]);
    let queued: u64 = {
        let lines = agent.lines.lock().unwrap();
        lines[later]
            .split("; ")
            .find_map(|p| p.strip_suffix(" queued")?.parse().ok())
            .unwrap()
    };
    assert!(queued >= 2, "{queued}");

    // The real server returns: everything arrives.
    drop(imposter);
    f.server = Some(RunningServer::start(&f.data, &f.listen));
    agent.wait_for(later, &["0 queued", "server holds up to seq"]);
    let d = f.wait_on_server(|d| d["detail"]["deviations"] == 1);
    let (status, stderr) = agent.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(
        d["last_seq"].as_u64().unwrap(),
        f.outbox().last_seq,
        "{d:#}"
    );
}
