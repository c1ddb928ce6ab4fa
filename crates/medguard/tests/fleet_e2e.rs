//! The fleet end to end through the binary, as a new user runs it: `server init`, `server run`,
//! an enrollment token, two devices enrolled with `agent enroll`, `agent report` on each (one
//! with a changed file under its profiled root), an advisory ingested, and the API read with
//! curl (an independent HTTPS client pinning the fleet CA). The same on SQLite, on PostgreSQL
//! (a private cluster), and with two server processes on one PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::{RunningServer, check, medguard, secret, shared_data};
use medguard_pgtest::PostgresCluster;
use serde_json::Value;

/// DSA-3029-1: nginx in Debian 7, fixed in 1.2.1-2.2+wheezy3.
fn advisory() -> PathBuf {
    shared_data()
        .join("osv-debian-ubuntu-samples/gcp/workers/oss_fuzz_worker/testdata/DSA-3029-1.json")
}

fn server_init(data: &Path, database: Option<&str>) {
    let mut cmd = medguard();
    cmd.args(["server", "init", "--data"]).arg(data);
    if let Some(url) = database {
        cmd.args(["--database", url]);
    }
    check(&cmd.output().unwrap(), 0);
}

/// A Debian 7 device image with nginx 1.2.1-2.2+wheezy2, its profile signed by the vendor
/// key, and an agent configuration naming them.
fn device(work: &Path, name: &str, vendor: &Path) -> PathBuf {
    let dir = work.join(name);
    let root = dir.join("root");
    for d in ["opt/viewer/bin", "etc", "var/lib/dpkg"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("opt/viewer/bin/viewer"),
        "#!/bin/sh\necho viewer\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian\nVERSION_ID=\"7\"\n").unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        "Package: nginx\nStatus: install ok installed\nVersion: 1.2.1-2.2+wheezy2\n\
         Architecture: amd64\n\n",
    )
    .unwrap();
    check(
        &medguard()
            .args(["profile", "create"])
            .arg(&root)
            .arg("--out")
            .arg(dir.join("device.profile"))
            .arg("--key")
            .arg(vendor.with_extension("key"))
            .output()
            .unwrap(),
        0,
    );
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[device]\nmodel = \"CT 9000\"\nserial = \"SN-{name}\"\n\
             [profile]\nroot = \"root\"\nprofile = \"device.profile\"\ntrust = [{:?}]\n\
             [inventory]\n",
            vendor.with_extension("pub")
        ),
    )
    .unwrap();
    config
}

fn enroll(server: &RunningServer, data: &Path, token: &str, config: &Path) -> String {
    let state = config.with_file_name("state");
    let out = medguard()
        .args([
            "agent",
            "enroll",
            "--json",
            "--server",
            &server.url,
            "--token",
            token,
        ])
        .arg("--ca")
        .arg(data.join("tls/ca.pem"))
        .arg("--state")
        .arg(&state)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&check(&out, 0)).unwrap();
    v["device_id"].as_str().unwrap().to_owned()
}

fn report(config: &Path, expected_exit: i32) {
    let out = medguard()
        .args(["agent", "report", "--state"])
        .arg(config.with_file_name("state"))
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let text = check(&out, expected_exit);
    assert!(text.contains("0 refused; 0 still queued"), "{text}");
}

fn get(server: &RunningServer, data: &Path, token: &str, path: &str) -> Value {
    let out = StdCommand::new("curl")
        .args(["--silent", "--show-error", "--fail-with-body", "--cacert"])
        .arg(data.join("tls/ca.pem"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("{}{path}", server.url.trim_end_matches('/')))
        .output()
        .expect("curl must be installed for this test (.ci/install-deps)");
    serde_json::from_str(&check(&out, 0)).unwrap()
}

/// The walk: enroll two devices (through the first and the last server), report (one
/// tampered), ingest an advisory, and read the fleet from every server.
fn walk(work: &Path, data: &[PathBuf], servers: &[RunningServer]) {
    let first = &data[0];
    let vendor = work.join("vendor");
    check(
        &medguard()
            .args(["key", "generate", "--out"])
            .arg(&vendor)
            .output()
            .unwrap(),
        0,
    );
    let token = secret(&check(
        &medguard()
            .args([
                "server",
                "enroll-token",
                "--site",
                "Radiology",
                "--uses",
                "2",
            ])
            .arg("--data")
            .arg(first)
            .output()
            .unwrap(),
        0,
    ));
    let intact = device(work, "intact", &vendor);
    let tampered = device(work, "tampered", &vendor);
    let last = servers.len() - 1;
    let intact_id = enroll(&servers[0], first, &token, &intact);
    let tampered_id = enroll(&servers[last], &data[last], &token, &tampered);
    assert_ne!(intact_id, tampered_id);

    std::fs::write(
        tampered
            .with_file_name("root")
            .join("opt/viewer/bin/viewer"),
        "#!/bin/sh\necho changed\n",
    )
    .unwrap();
    report(&intact, 0);
    report(&tampered, 1);

    let ingested = check(
        &medguard()
            .args(["server", "advisories", "ingest", "--data"])
            .arg(first)
            .arg(advisory())
            .output()
            .unwrap(),
        0,
    );
    assert!(ingested.contains("1 added"), "{ingested}");
    let api = secret(&check(
        &medguard()
            .args([
                "server", "token", "create", "--user", "admin", "--name", "e2e", "--data",
            ])
            .arg(first)
            .output()
            .unwrap(),
        0,
    ));

    for (server, dir) in servers.iter().zip(data) {
        let devices = get(server, dir, &api, "/api/v1/devices");
        assert_eq!(devices["total"], 2, "{devices:#}");
        let by_id = |id: &str| {
            devices["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("{id} missing from {devices:#}"))
        };
        let ok = by_id(&intact_id);
        assert_eq!(ok["status"], "ok", "{ok:#}");
        assert_eq!(ok["detail"]["integrity"], "intact");
        assert_eq!(ok["detail"]["audit"], "intact");
        let bad = by_id(&tampered_id);
        assert_eq!(bad["status"], "attention", "{bad:#}");
        assert_eq!(bad["detail"]["integrity"], "deviations");
        assert_eq!(bad["detail"]["deviations"], 1);
        for id in [&intact_id, &tampered_id] {
            let findings = get(server, dir, &api, &format!("/api/v1/devices/{id}/findings"));
            assert_eq!(findings["total"], 1, "{findings:#}");
            let f = &findings["items"][0];
            assert_eq!(f["advisory"], "DSA-3029-1");
            assert_eq!(f["state"], "open");
            assert_eq!(f["finding"]["component"]["name"], "nginx");
        }
    }

    // A second report round changes nothing the server believes, and the chains stay intact.
    report(&intact, 0);
    let devices = get(
        &servers[last],
        &data[last],
        &api,
        "/api/v1/devices?status=ok",
    );
    assert_eq!(devices["total"], 1, "{devices:#}");
    assert_eq!(devices["items"][0]["detail"]["audit"], "intact");
}

#[test]
fn two_devices_on_sqlite() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("server");
    server_init(&data, None);
    let server = RunningServer::start(&data, "127.0.0.1:0");
    walk(work.path(), &[data], &[server]);
}

#[test]
fn two_devices_on_postgresql() {
    let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
    let url = pg.create_database("fleet_e2e").unwrap();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("server");
    server_init(&data, Some(&url));
    let server = RunningServer::start(&data, "127.0.0.1:0");
    walk(work.path(), &[data], &[server]);
}

#[test]
fn two_server_processes_on_one_postgresql() {
    let pg = PostgresCluster::start().expect("PostgreSQL must start for this test");
    let url = pg.create_database("fleet_e2e_two").unwrap();
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("server-1");
    server_init(&first, Some(&url));
    // The second process shares the first's settings, CA and keys (as a deployment copies
    // them); `init` on the copy finds everything in place and the schema current.
    let second = work.path().join("server-2");
    let copied = StdCommand::new("cp")
        .arg("-a")
        .arg(&first)
        .arg(&second)
        .status()
        .unwrap();
    assert!(copied.success());
    server_init(&second, None);
    let servers = [
        RunningServer::start(&first, "127.0.0.1:0"),
        RunningServer::start(&second, "127.0.0.1:0"),
    ];
    walk(work.path(), &[first, second], &servers);
}
