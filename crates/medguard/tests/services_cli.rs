//! `medguard services --allowed`: a real listener opened by the test, checked against a signed
//! declaration of the device's allowed services.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};

use assert_cmd::Command;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

/// A process listening on TCP 127.0.0.1 at a port the kernel chose; killed when dropped.
struct Listener {
    child: Child,
    pid: u32,
    port: u16,
}

impl Listener {
    fn start() -> Self {
        // Python rather than a thread of this test: the listener must be another process with
        // its own executable, as a device's service is.
        let mut child = StdCommand::new("python3")
            .args([
                "-c",
                "import os, socket, sys\n\
                 s = socket.socket()\n\
                 s.bind(('127.0.0.1', 0))\n\
                 s.listen()\n\
                 print(os.getpid(), s.getsockname()[1], flush=True)\n\
                 sys.stdin.read()\n",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut words = line.split_whitespace();
        let pid = words.next().unwrap().parse().unwrap();
        let port = words.next().unwrap().parse().unwrap();
        Self { child, pid, port }
    }

    fn exe(&self) -> PathBuf {
        fs::read_link(format!("/proc/{}/exe", self.pid)).unwrap()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(dir: &Path, name: &str) {
    medguard()
        .args(["key", "generate", "--out"])
        .arg(dir.join(name))
        .assert()
        .success();
}

fn sign(dir: &Path, toml: &str, key: &str, out: &str) -> PathBuf {
    let plain = dir.join(format!("{out}.toml"));
    fs::write(&plain, toml).unwrap();
    let signed = dir.join(out);
    medguard()
        .args(["services", "sign"])
        .arg(&plain)
        .arg("--key")
        .arg(dir.join(format!("{key}.key")))
        .arg("--out")
        .arg(&signed)
        .assert()
        .success();
    signed
}

/// A root whose `proc` shows the listener's socket and process only: the real lines of
/// `/proc/net/tcp` for its port and its real `/proc/PID`. The machine's other listeners (other
/// tests, other services) would make an "everything declared" verdict impossible on `/`.
fn root_with_only(dir: &Path, l: &Listener) -> PathBuf {
    let root = dir.join("root");
    fs::create_dir_all(root.join("proc/net")).unwrap();
    let tcp = fs::read_to_string("/proc/net/tcp").unwrap();
    let port = format!(":{:04X} ", l.port);
    let mut lines = tcp.lines();
    let mut mine = format!("{}\n", lines.next().unwrap());
    for line in lines {
        // The local address is the second field; a remote port may match too.
        if line.split_whitespace().nth(1).is_some_and(|local| {
            format!("{local} ").ends_with(&port) && local.starts_with("0100007F")
        }) {
            mine.push_str(line);
            mine.push('\n');
        }
    }
    assert_eq!(mine.lines().count(), 2, "{mine}");
    fs::write(root.join("proc/net/tcp"), mine).unwrap();
    std::os::unix::fs::symlink(
        format!("/proc/{}", l.pid),
        root.join(format!("proc/{}", l.pid)),
    )
    .unwrap();
    root
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

#[test]
fn an_undeclared_listener_is_named_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d, "vendor");
    let allowed = sign(
        d,
        "device_model = \"test\"\n[[service]]\nprotocol = \"tcp\"\nport = 1\nreason = \"tcpmux, nobody listens there\"\n",
        "vendor",
        "allowed",
    );
    let l = Listener::start();
    // The whole machine, as on a device.
    let a = medguard()
        .args(["services", "--allowed"])
        .arg(&allowed)
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .assert()
        .code(1);
    let out = stdout(&a);
    let expected = format!(
        "undeclared: tcp/127.0.0.1:{} pid {} {}",
        l.port,
        l.pid,
        l.exe().display()
    );
    assert!(out.contains(&expected), "{expected}\n{out}");
    assert!(out.contains("port not declared"), "{out}");
}

#[test]
fn declared_listeners_exit_0_and_another_process_on_the_port_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d, "vendor");
    let l = Listener::start();
    let root = root_with_only(d, &l);
    let declared = sign(
        d,
        &format!(
            "[[service]]\nprotocol = \"tcp\"\nport = {}\nprocess = \"{}\"\nexposure = \"loopback\"\n",
            l.port,
            l.exe().display()
        ),
        "vendor",
        "declared",
    );
    let a = medguard()
        .args(["services", "--json", "--root"])
        .arg(&root)
        .arg("--allowed")
        .arg(&declared)
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["undeclared"], serde_json::json!([]), "{v}");
    assert_eq!(v["services"][0]["socket"]["port"], l.port, "{v}");

    let other = sign(
        d,
        &format!(
            "[[service]]\nprotocol = \"tcp\"\nport = {}\nprocess = \"/opt/vendor/bin/storescp\"\n",
            l.port
        ),
        "vendor",
        "other",
    );
    let a = medguard()
        .args(["services", "--root"])
        .arg(&root)
        .arg("--allowed")
        .arg(&other)
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .assert()
        .code(1);
    let out = stdout(&a);
    assert!(
        out.contains(&format!("undeclared: tcp/127.0.0.1:{}", l.port))
            && out.contains("declared for process /opt/vendor/bin/storescp")
            && out.contains("1 listeners, 1 undeclared"),
        "{out}"
    );
}

#[test]
fn untrusted_unsigned_or_invalid_declarations_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d, "vendor");
    key(d, "intruder");
    let toml = "[[service]]\nprotocol = \"tcp\"\nport = 104\n";
    let forged = sign(d, toml, "intruder", "forged");
    let a = medguard()
        .args(["services", "--allowed"])
        .arg(&forged)
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains("forged") && err.contains("none of which is trusted"),
        "{err}"
    );

    let unsigned = d.join("unsigned");
    fs::write(&unsigned, toml).unwrap();
    let a = medguard()
        .args(["services", "--allowed"])
        .arg(&unsigned)
        .arg("--trust")
        .arg(d.join("vendor.pub"))
        .assert()
        .code(2);
    assert!(stderr(&a).contains("not signed"), "{}", stderr(&a));

    // `sign` refuses what would not parse on the device.
    let bad = d.join("bad.toml");
    fs::write(
        &bad,
        "[[service]]\nprotocol = \"tcp\"\nport = 104\nprcess = \"/x\"\n",
    )
    .unwrap();
    let a = medguard()
        .args(["services", "sign"])
        .arg(&bad)
        .arg("--key")
        .arg(d.join("vendor.key"))
        .arg("--out")
        .arg(d.join("bad.signed"))
        .assert()
        .code(2);
    assert!(stderr(&a).contains("unknown field"), "{}", stderr(&a));
    assert!(!d.join("bad.signed").exists());

    // --allowed without a trusted key is a usage error.
    medguard()
        .args(["services", "--allowed"])
        .arg(&forged)
        .assert()
        .code(2);
}
