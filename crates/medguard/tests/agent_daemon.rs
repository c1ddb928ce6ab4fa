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

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    Fleet, PATIENCE, RunningAgent, RunningServer, check, get, medguard, stored_reports,
    wait_on_server,
};

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
