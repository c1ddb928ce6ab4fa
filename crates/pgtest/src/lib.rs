//! A private PostgreSQL cluster for tests and benchmarks: `initdb` in a temporary directory,
//! the server on a free loopback port, stopped and removed when dropped.
//!
//! It uses Debian's `postgresql` package (`/usr/lib/postgresql/VERSION/bin`, installed by
//! `.ci/install-deps`). PostgreSQL refuses to run as root, so as root the cluster runs as the
//! `postgres` user the package creates; otherwise as the current user. When PostgreSQL is
//! not installed or cannot start, [`PostgresCluster::start`] returns an error saying why: a
//! test calls `.expect(...)` on it and fails, it never passes without PostgreSQL.
//!
//! Test support only: it must not be a dependency of anything but tests and benchmarks.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running private cluster.
#[derive(Debug)]
pub struct PostgresCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); run .ci/install-deps")
        })?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no PostgreSQL server in /usr/lib/postgresql; run .ci/install-deps".into())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PostgresCluster {
    /// Creates and starts a cluster; the superuser is `medguard`, trusted on loopback.
    ///
    /// # Errors
    /// Why it could not start, with PostgreSQL's own words.
    pub fn start() -> Result<Self, String> {
        let bin = bin_dir()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("medguard-pg-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()))?;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "medguard",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log");
        cluster
            .pg(
                "pg_ctl",
                &[
                    "-D",
                    &data,
                    "-o",
                    &options,
                    "-l",
                    &log.to_string_lossy(),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            )
            .map_err(|e| {
                format!(
                    "{e}\nserver log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn pg(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        let path = self.bin.join(program);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        c.args(args).current_dir(self.dir.path());
        run(&mut c)
    }

    /// The loopback port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates database `name` and returns its URL.
    ///
    /// # Errors
    /// PostgreSQL's words when it cannot.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let port = self.port.to_string();
        self.pg(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "medguard", name],
        )?;
        Ok(self.url(name))
    }

    /// The URL of database `name`.
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("postgres://medguard@127.0.0.1:{}/{name}", self.port)
    }

    /// The cluster's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.pg("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

fn run(c: &mut Command) -> Result<Output, String> {
    let out = c.output().map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{c:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
