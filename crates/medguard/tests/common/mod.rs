//! What the binary's end-to-end tests share: a server (`server init`, `server run` on a free
//! loopback port) with one enrolled device whose profiled root and configuration the test
//! controls, the running agent with its round lines, readers of the server's view, TOTP codes
//! from `oathtool`, and (in [`patch`]) the patch process's fixture.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt as _;
use serde_json::Value;

pub mod patch;

/// How long the test waits for something the daemon does within seconds (generous: the
/// machine is shared; the test never asserts a wall-clock time).
pub const PATIENCE: Duration = Duration::from_secs(90);

pub fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

pub fn check(out: &std::process::Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn secret(out: &str) -> String {
    out.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}

/// `medguard server run` on a loopback address (port 0: one the system picks), SIGKILLed when
/// dropped; `url` is the address it said it listens on.
pub struct RunningServer {
    pub child: Child,
    pub url: String,
}

impl RunningServer {
    pub fn start(data: &Path, listen: &str) -> Self {
        let mut child = StdCommand::cargo_bin("medguard")
            .unwrap()
            .args(["server", "run", "--listen", listen, "--data"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("server exited before it listened")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Self { child, url }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `medguard agent run`, its stdout lines collected; SIGKILLed when dropped.
pub struct RunningAgent {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl RunningAgent {
    pub fn start(config: &Path) -> Self {
        Self::start_with_env(config, &[])
    }

    /// Started with these environment variables added.
    pub fn start_with_env(config: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Self {
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
    pub fn wait_for(&mut self, from: usize, parts: &[&str]) -> usize {
        self.wait_until(from, &format!("{parts:?}"), |l| {
            parts.iter().all(|p| l.contains(p))
        })
    }

    /// Waits for a round line (at `from` or after) for which `want` holds (`what` says what
    /// it is, when it never comes); returns its index.
    pub fn wait_until(&mut self, from: usize, what: &str, want: impl Fn(&str) -> bool) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some(i) = lines
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, l)| want(l))
                    .map(|(i, _)| i)
                {
                    return i;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the agent exited ({status}) before printing {what}:\n{}",
                    self.lines.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "no round printed {what}:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Round line `i`.
    pub fn line(&self, i: usize) -> String {
        self.lines.lock().unwrap()[i].clone()
    }

    /// SIGTERM, then the exit status and stderr.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
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

pub fn get(url: &str, data: &Path, token: &str, path: &str) -> Value {
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
pub fn wait_on_server(
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

/// The TOTP code of a base32 secret, `ahead` steps of 30 s from now (a code's step cannot be
/// used twice, so a second code soon after the first is asked one step ahead).
pub fn oathtool(secret: &str, ahead: u32) -> String {
    let out = StdCommand::new("oathtool")
        .args([
            "--totp",
            "-b",
            "-N",
            &format!("now + {} seconds", 30 * ahead),
            secret,
        ])
        .output()
        .expect("oathtool must be installed for this test (.ci/install-deps)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `../shared/data` (or `$MEDGUARD_SHARED_DATA`): the public test data.
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with one enrolled device: `server init` and `server run` on a free loopback port,
/// a vendor key, a profiled root, the agent's configuration (verification every 2 s) and
/// state, and an API token.
pub struct Fleet {
    pub work: tempfile::TempDir,
    pub data: std::path::PathBuf,
    pub listen: String,
    pub url: String,
    pub root: std::path::PathBuf,
    pub config: std::path::PathBuf,
    pub id: String,
    pub api: String,
    pub server: Option<RunningServer>,
}

impl Fleet {
    pub fn new(serial: &str) -> Self {
        Self::with(serial, "", |_| {})
    }

    /// As [`Fleet::new`], with `extra` appended to the agent's configuration and
    /// `prepare_state` called with the agent's state directory before it enrolls (to mount a
    /// file system there).
    pub fn with(serial: &str, extra: &str, prepare_state: impl FnOnce(&Path)) -> Self {
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
                 interval = \"2s\"\n[inventory]\n{extra}",
                vendor.with_extension("pub")
            ),
        )
        .unwrap();
        prepare_state(&config.with_file_name("state"));
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
    pub fn device(&self) -> Value {
        get(
            &self.url,
            &self.data,
            &self.api,
            &format!("/api/v1/devices/{}", self.id),
        )
    }

    /// Polls the device on the server until `done` holds.
    pub fn wait_on_server(&self, done: impl Fn(&Value) -> bool) -> Value {
        wait_on_server(&self.url, &self.data, &self.api, &self.id, done)
    }

    /// The agent's outbox (read while the agent is stopped).
    pub fn outbox(&self) -> medguard_agent::QueueStats {
        medguard_agent::Outbox::open(
            &medguard_agent::StateDir::new(self.config.with_file_name("state")).outbox_path(),
        )
        .unwrap()
        .stats()
        .unwrap()
    }
}

/// The reports the server stored for the device: (count, lowest seq, highest seq), read from
/// its SQLite database with the `sqlite3` tool (an independent reader).
pub fn stored_reports(f: &Fleet) -> (u64, u64, u64) {
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
