//! The patch process's fixture, shared by `patch_e2e.rs` and `patch_pages_browser.rs`: the
//! binary run with its exit status checked, the public test data, the API through curl, people
//! set up through their links, and devices imaged from a vendor's base tree and enrolled.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use serde_json::{Value, json};

use super::{RunningServer, check, medguard, oathtool};

/// The device model of the patch tests' devices.
pub const MODEL: &str = "CT-9000";

/// The binary with these arguments (then `extra` paths); its stdout, its exit status checked.
pub fn run(args: &[&str], extra: &[&Path], code: i32) -> String {
    let mut cmd = medguard();
    cmd.args(args);
    for a in extra {
        cmd.arg(a);
    }
    check(&cmd.output().unwrap(), code)
}

/// The API through curl (an independent HTTPS client pinning the fleet CA).
pub struct Api<'a> {
    pub url: &'a str,
    pub ca: PathBuf,
}

impl Api<'_> {
    /// `method path` with a JSON body (or a file), as `token`: (HTTP status, body).
    pub fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        file: Option<&Path>,
    ) -> (u16, Value) {
        let mut cmd = StdCommand::new("curl");
        cmd.args(["--silent", "--show-error", "-X", method, "--cacert"])
            .arg(&self.ca)
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args(["-w", "\n%{http_code}"]);
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(b.to_string());
        }
        if let Some(f) = file {
            cmd.args([
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
            ])
            .arg(format!("@{}", f.display()));
        }
        let out = cmd
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl must be installed for this test (.ci/install-deps)");
        let text = check(&out, 0);
        let (body, status) = text
            .trim_end()
            .rsplit_once('\n')
            .unwrap_or(("", text.trim()));
        (
            status.parse().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
        )
    }

    pub fn ok(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.call(token, method, path, body, None);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v:#}"
        );
        v
    }
}

/// A person set up on the server: their API token, their TOTP secret, and one recovery code
/// (to sign in with in a browser: the set-up used the current TOTP step, and a signing needs
/// the next one).
pub struct Person {
    pub token: String,
    pub secret: String,
    pub recovery: String,
}

/// A person added on the server host, set up through their link (passphrase, authenticator),
/// with an API token.
pub fn person(api: &Api<'_>, data: &Path, name: &str, role: &str) -> Person {
    let out = run(
        &["server", "user", "add", name, "--role", role, "--data"],
        &[data],
        0,
    );
    let link = out
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .unwrap_or_else(|| panic!("no set-up link in {out}"));
    let setup = link.rsplit('/').next().unwrap();
    let offer = api.ok("none", "GET", &format!("/api/v1/setup/{setup}"), None);
    let secret = offer["totp_secret"].as_str().unwrap().to_owned();
    let done = api.ok(
        "none",
        "POST",
        &format!("/api/v1/setup/{setup}"),
        Some(&json!({
            "passphrase": passphrase(name),
            "totp_secret": secret,
            "code": oathtool(&secret, 0),
        })),
    );
    let recovery = done["recovery_codes"][0].as_str().unwrap().to_owned();
    let out = run(
        &[
            "server", "token", "create", "--user", name, "--name", "e2e", "--data",
        ],
        &[data],
        0,
    );
    let token = out
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned();
    Person {
        token,
        secret,
        recovery,
    }
}

pub fn passphrase(name: &str) -> String {
    format!("correct horse battery staple {name}")
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let out = StdCommand::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    check(&out, 0);
}

/// A device imaged from the vendor's base tree: its root, profile and agent configuration.
pub fn device(work: &Path, name: &str, base: &Path, vendor: &Path) -> PathBuf {
    let dir = work.join(name);
    copy_tree(base, &dir.join("root"));
    run(
        &["profile", "create"],
        &[
            &dir.join("root"),
            Path::new("--out"),
            &dir.join("device.profile"),
            Path::new("--key"),
            &vendor.with_extension("key"),
        ],
        0,
    );
    let config = dir.join("agent.toml");
    write(
        &config,
        &format!(
            "[device]\nmodel = \"{MODEL}\"\nserial = \"SN-{name}\"\n\
             [profile]\nroot = \"root\"\nprofile = \"device.profile\"\ntrust = [{:?}]\ninterval = \"3s\"\n\
             [inventory]\ninterval = \"1h\"\n[report]\nwithin = \"4s\"\n[update]\n",
            vendor.with_extension("pub")
        ),
    );
    config
}

pub fn enroll(server: &RunningServer, data: &Path, token: &str, config: &Path) -> String {
    let out = run(
        &[
            "agent",
            "enroll",
            "--json",
            "--server",
            &server.url,
            "--token",
            token,
        ],
        &[
            Path::new("--ca"),
            &data.join("tls/ca.pem"),
            Path::new("--state"),
            &config.with_file_name("state"),
            Path::new("--config"),
            config,
        ],
        0,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    v["device_id"].as_str().unwrap().to_owned()
}

pub fn report(config: &Path) {
    run(
        &["agent", "report"],
        &[
            Path::new("--state"),
            &config.with_file_name("state"),
            Path::new("--config"),
            config,
        ],
        0,
    );
}

pub fn enroll_token(data: &Path, site: &str, uses: &str) -> String {
    let out = run(
        &[
            "server",
            "enroll-token",
            "--site",
            site,
            "--uses",
            uses,
            "--data",
        ],
        &[data],
        0,
    );
    out.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}
