//! A real rsyslog collector (imtcp + gtls netstream driver) in a temporary directory, and a
//! throwaway PKI for it.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// PEM files of a test CA, a server certificate for `localhost`/`127.0.0.1`, and a client
/// certificate.
#[derive(Debug)]
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    pub fn generate(dir: &Path, name: &str) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("medguard test CA {name}"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "localhost",
        );
        let (client_cert, client_key) = leaf(
            vec!["device.example".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            "device.example",
        );
        let write = |file: &str, pem: &str| {
            let path = dir.join(format!("{name}-{file}"));
            std::fs::write(&path, pem).unwrap();
            path
        };
        Self {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
        }
    }
}

/// How the collector authenticates clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `anon`: server certificate only.
    Anonymous,
    /// `x509/certvalid`: clients must present a certificate from the CA.
    CertificateRequired,
}

/// An `rsyslogd -n` writing every received message's `%rawmsg%` as one line of `output`.
#[derive(Debug)]
pub struct Collector {
    dir: PathBuf,
    config: PathBuf,
    pub port: u16,
    pub output: PathBuf,
    child: Option<Child>,
    starts: u32,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Collector {
    pub fn start(dir: &Path, pki: &Pki, auth: ClientAuth) -> Self {
        super::require_tool("rsyslogd", "rsyslog rsyslog-gnutls");
        assert!(
            Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists()
                || Path::new("/usr/lib/rsyslog/lmnsd_gtls.so").exists()
                || Command::new("dpkg")
                    .args(["-s", "rsyslog-gnutls"])
                    .output()
                    .is_ok_and(|o| o.status.success()),
            "rsyslog's gtls netstream driver is missing: install the Debian package `rsyslog-gnutls`"
        );
        let port = free_port();
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let output = dir.join("received.log");
        let auth_mode = match auth {
            ClientAuth::Anonymous => "anon",
            ClientAuth::CertificateRequired => "x509/certvalid",
        };
        let config = dir.join("rsyslog.conf");
        std::fs::write(
            &config,
            format!(
                r#"global(
  workDirectory="{work}"
  maxMessageSize="256k"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="{ca}"
  defaultNetstreamDriverCertFile="{cert}"
  defaultNetstreamDriverKeyFile="{key}"
)
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="{auth_mode}")
template(name="rawline" type="string" string="%rawmsg%\n")
ruleset(name="atna") {{
  action(type="omfile" file="{output}" template="rawline")
}}
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="atna")
"#,
                work = work.display(),
                ca = pki.ca.display(),
                cert = pki.server_cert.display(),
                key = pki.server_key.display(),
                output = output.display(),
            ),
        )
        .unwrap();
        let mut collector = Self {
            dir: dir.to_owned(),
            config,
            port,
            output,
            child: None,
            starts: 0,
        };
        collector.spawn();
        collector
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = self.dir.join(format!("rsyslogd-{}.stderr", self.starts));
        let pid_file = self.dir.join("rsyslogd.pid");
        let _ = std::fs::remove_file(&pid_file);
        let child = Command::new(super::require_tool("rsyslogd", "rsyslog rsyslog-gnutls"))
            .arg("-n")
            .arg("-f")
            .arg(&self.config)
            .arg("-i")
            .arg(&pid_file)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        // Ready when the TLS port accepts connections.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "rsyslogd exited with {status} before listening; its output:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on 127.0.0.1:{} within 20 s; its output:\n{}",
                self.port,
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops rsyslogd with SIGTERM (it drains its queue and closes its files) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .expect("run kill");
            assert!(status.success());
            child.wait().unwrap();
        }
    }

    /// Starts rsyslogd again on the same port and output file.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The received messages, one per line.
    pub fn received(&self) -> Vec<String> {
        let mut bytes = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&self.output) {
            file.read_to_end(&mut bytes).unwrap();
        }
        // rsyslogd may be in the middle of writing the last line (seen in CI: a half-written
        // final message counted as the 40th line); only complete lines count.
        let complete = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |end| end + 1);
        bytes.truncate(complete);
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Polls the output until `done(lines)` holds or `timeout` passes; returns the lines.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.received();
            if done(&lines) {
                return lines;
            }
            if Instant::now() >= deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// rsyslogd's own output so far, for failure messages.
    pub fn diagnostics(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("rsyslogd-{n}.stderr")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
