//! `medguard scan` end to end, checked against the real `yara` (Debian `yara`) and
//! `clamscan` (Debian `clamav`) on the same generated tree, plus the validated
//! configuration, quarantine, `--changed-since`, bad rule and list files, and the pause for
//! clinical use.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fs;
use std::io::BufRead as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

fn medguard() -> Command {
    Command::cargo_bin("medguard").unwrap()
}

/// The EICAR anti-virus test file, assembled here so that no scanner flags this source.
fn eicar() -> Vec<u8> {
    let mut s = String::from(r"X5O!P%@AP[4\PZX54(P^)7CC)7}$");
    s.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    s.into_bytes()
}

const RULES: &str = r#"
rule EICAR_test_file : test {
  meta:
    description = "EICAR anti-virus test file"
  strings:
    $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
  condition:
    $e
}

rule Medguard_marker {
  meta:
    author = "medguard tests"
  strings:
    $m = { 4D 45 44 47 55 41 52 44 2D 4D 41 52 4B 45 52 }
  condition:
    $m and filesize < 10KB
}
"#;

fn tool(name: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found: install the Debian package `{package}` (.ci/install-deps does)");
}

fn digest_line(tool_name: &str, package: &str, file: &Path) -> String {
    let out = StdCommand::new(tool(tool_name, package))
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A tree with EICAR in two places, a marker file, clean files, a link to EICAR (not
/// followed) and rules and hash lists for them.
struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    tree: PathBuf,
    rules: PathBuf,
    hdb: PathBuf,
    hsb: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_owned();
    let tree = base.join("tree");
    fs::create_dir_all(tree.join("opt/vendor/bin")).unwrap();
    fs::create_dir_all(tree.join("home/user/Downloads")).unwrap();
    fs::write(tree.join("home/user/Downloads/eicar.com"), eicar()).unwrap();
    let mut embedded = b"MZ header then padding ".repeat(100);
    embedded.extend_from_slice(&eicar());
    fs::write(tree.join("opt/vendor/bin/dropper.exe"), &embedded).unwrap();
    fs::write(
        tree.join("opt/vendor/marker.txt"),
        "xx MEDGUARD-MARKER xx\n",
    )
    .unwrap();
    fs::write(tree.join("opt/vendor/bin/viewer"), "a clean viewer\n").unwrap();
    for i in 0..20 {
        fs::write(
            tree.join(format!("opt/vendor/data{i}.dcm")),
            vec![i as u8; 5000],
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(
        tree.join("home/user/Downloads/eicar.com"),
        tree.join("opt/link-to-eicar"),
    )
    .unwrap();
    let rules = base.join("rules");
    fs::create_dir(&rules).unwrap();
    fs::write(rules.join("test.yar"), RULES).unwrap();
    let eicar_file = tree.join("home/user/Downloads/eicar.com");
    let hdb = base.join("local.hdb");
    fs::write(
        &hdb,
        format!(
            "# test list\n{}:68:Medguard.Test.Eicar\n",
            digest_line("md5sum", "coreutils", &eicar_file)
        ),
    )
    .unwrap();
    let hsb = base.join("local.hsb");
    let marker = tree.join("opt/vendor/marker.txt");
    fs::write(
        &hsb,
        format!(
            "{}:*:Medguard.Test.Marker:73\n{}:{}:Medguard.Test.Dropper\n",
            digest_line("sha256sum", "coreutils", &marker),
            digest_line(
                "sha1sum",
                "coreutils",
                &tree.join("opt/vendor/bin/dropper.exe")
            ),
            embedded.len()
        ),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        base,
        tree,
        rules,
        hdb,
        hsb,
    }
}

fn scan_json(args: &[&std::ffi::OsStr]) -> (i32, Value) {
    let out = medguard()
        .arg("scan")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// (file, name) pairs from medguard's JSON, for one engine.
fn found(json: &Value, engine: &str) -> BTreeSet<(String, String)> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["detection"]["engine"] == engine)
        .map(|f| {
            let name = if engine == "yara" {
                f["detection"]["rule"].as_str().unwrap()
            } else {
                f["detection"]["signature"].as_str().unwrap()
            };
            (f["path"].as_str().unwrap().to_owned(), name.to_owned())
        })
        .collect()
}

#[test]
fn scan_finds_what_yara_and_clamscan_find_on_the_same_tree() {
    let fx = fixture();
    let (code, json) = scan_json(&[
        fx.tree.as_os_str(),
        "--rules".as_ref(),
        fx.rules.as_os_str(),
        "--hashes".as_ref(),
        fx.hdb.as_os_str(),
        "--hashes".as_ref(),
        fx.hsb.as_os_str(),
        "--threads".as_ref(),
        "2".as_ref(),
    ]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["summary"]["files"], 24);
    let ours_yara = found(&json, "yara");
    let ours_hash = found(&json, "hash");

    // yara -r prints "RULE PATH" per match; -N: do not follow links, as medguard does not.
    let out = StdCommand::new(tool("yara", "yara"))
        .arg("-r")
        .arg("-N")
        .arg(fx.rules.join("test.yar"))
        .arg(&fx.tree)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs_yara: BTreeSet<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (rule, path) = l.split_once(' ').unwrap();
            (path.to_owned(), rule.to_owned())
        })
        .collect();
    assert_eq!(ours_yara, theirs_yara);
    assert_eq!(ours_yara.len(), 3, "{ours_yara:?}");

    // clamscan with only our lists: "PATH: NAME.UNOFFICIAL FOUND". --allmatch so that a
    // file matching two signatures shows both, as medguard reports every match.
    let out = StdCommand::new(tool("clamscan", "clamav"))
        .args(["--no-summary", "--infected", "--recursive", "--allmatch"])
        .arg("-d")
        .arg(&fx.hdb)
        .arg("-d")
        .arg(&fx.hsb)
        .arg(&fx.tree)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs_hash: BTreeSet<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (path, rest) = l.rsplit_once(": ")?;
            let name = rest.strip_suffix(" FOUND")?;
            Some((
                path.to_owned(),
                name.trim_end_matches(".UNOFFICIAL").to_owned(),
            ))
        })
        .collect();
    assert_eq!(ours_hash, theirs_hash);
    assert_eq!(ours_hash.len(), 3, "{ours_hash:?}");
    let dropper = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["detection"]["signature"] == "Medguard.Test.Dropper")
        .unwrap();
    assert_eq!(dropper["detection"]["digest"], "sha1");
    assert_eq!(dropper["detection"]["line"], 2);
    assert_eq!(dropper["action"], "reported");
}

#[test]
fn text_output_and_exit_codes() {
    let fx = fixture();
    let clean = fx.base.join("clean");
    fs::create_dir(&clean).unwrap();
    fs::write(clean.join("a"), "nothing").unwrap();
    let out = medguard()
        .arg("scan")
        .arg(&clean)
        .arg("--rules")
        .arg(&fx.rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("0 finding(s) in 1 file(s)"), "{text}");
    let out = medguard()
        .arg("scan")
        .arg(fx.tree.join("home"))
        .arg("--rules")
        .arg(fx.rules.join("test.yar"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("eicar.com: YARA rule EICAR_test_file"),
        "{text}"
    );
    medguard()
        .arg("scan")
        .arg(fx.base.join("missing"))
        .arg("--rules")
        .arg(&fx.rules)
        .assert()
        .code(2);
    medguard().arg("scan").arg(&clean).assert().code(2);
}

#[test]
fn a_malformed_rule_file_or_hash_line_names_file_and_line() {
    let fx = fixture();
    let bad = fx.base.join("bad.yar");
    fs::write(
        &bad,
        "rule fine { condition: true }\n\nrule broken {\n  condition: $nope\n}\n",
    )
    .unwrap();
    let out = medguard()
        .arg("scan")
        .arg(&fx.tree)
        .arg("--rules")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:", bad.display())), "{err}");

    let list = fx.base.join("bad.hsb");
    fs::write(&list, "# ok\n44d88612fea8a8f36de82e1278abb02f:*:NoLevel\n").unwrap();
    let out = medguard()
        .arg("scan")
        .arg(&fx.tree)
        .arg("--hashes")
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", list.display())), "{err}");
    assert!(err.contains("functionality level"), "{err}");
}

fn device_profile(fx: &Fixture) -> (PathBuf, PathBuf) {
    let key = fx.base.join("vendor");
    medguard()
        .args(["key", "generate", "--out"])
        .arg(&key)
        .assert()
        .success();
    let profile = fx.base.join("device.profile");
    medguard()
        .args(["profile", "create"])
        .arg(&fx.tree)
        .arg("--out")
        .arg(&profile)
        .arg("--key")
        .arg(fx.base.join("vendor.key"))
        .assert()
        .success();
    (profile, fx.base.join("vendor.pub"))
}

#[test]
fn validated_files_raise_an_alert_and_only_the_others_are_quarantined() {
    let fx = fixture();
    // The vendor's image (wrongly) contains the dropper: it is in the validated profile.
    let (profile, trust) = device_profile(&fx);
    // Later, EICAR arrives in a new file.
    let planted = fx.tree.join("opt/vendor/planted.com");
    fs::write(&planted, eicar()).unwrap();
    let quarantine = fx.base.join("quarantine");
    let (code, json) = scan_json(&[
        fx.tree.join("opt").as_os_str(),
        "--rules".as_ref(),
        fx.rules.as_os_str(),
        "--profile".as_ref(),
        profile.as_os_str(),
        "--trust".as_ref(),
        trust.as_os_str(),
        "--root".as_ref(),
        fx.tree.as_os_str(),
        "--quarantine".as_ref(),
        quarantine.as_os_str(),
    ]);
    assert_eq!(code, 1, "{json:#}");
    let findings = json["findings"].as_array().unwrap();
    let by_name = |n: &str| {
        findings
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(n))
            .unwrap_or_else(|| panic!("{n}: {json:#}"))
    };
    let dropper = by_name("dropper.exe");
    assert_eq!(dropper["in_validated_configuration"], true);
    assert_eq!(dropper["action"], "person_must_decide");
    assert!(fx.tree.join("opt/vendor/bin/dropper.exe").exists());
    let planted_f = by_name("planted.com");
    assert_eq!(planted_f["in_validated_configuration"], false);
    assert_eq!(planted_f["action"], "quarantined");
    assert!(!planted.exists());
    let moved = PathBuf::from(planted_f["to"].as_str().unwrap());
    assert!(moved.starts_with(&quarantine));
    assert_eq!(
        fs::metadata(&moved).unwrap().permissions().mode() & 0o7777,
        0
    );
    let record: Value =
        serde_json::from_slice(&fs::read(format!("{}.json", moved.display())).unwrap()).unwrap();
    assert_eq!(record["original_path"], planted.display().to_string());
    assert_eq!(record["detections"][0], "EICAR_test_file");
    // The marker file is in the profile too.
    assert_eq!(by_name("marker.txt")["action"], "person_must_decide");
    assert_eq!(json["summary"]["person_must_decide"], 2);
    assert_eq!(json["summary"]["quarantined"], 1);

    // The text report says a person must decide.
    fs::write(&planted, eicar()).unwrap();
    let out = medguard()
        .arg("scan")
        .arg(fx.tree.join("opt"))
        .arg("--rules")
        .arg(&fx.rules)
        .arg("--profile")
        .arg(&profile)
        .arg("--trust")
        .arg(&trust)
        .arg("--root")
        .arg(&fx.tree)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("dropper.exe: YARA rule EICAR_test_file")
            && text.contains("in the validated configuration: a person must decide"),
        "{text}"
    );
}

#[test]
fn changed_since_scans_only_added_and_changed_files() {
    let fx = fixture();
    let (profile, trust) = device_profile(&fx);
    fs::write(fx.tree.join("opt/vendor/new.com"), eicar()).unwrap();
    fs::write(fx.tree.join("opt/vendor/bin/viewer"), eicar()).unwrap();
    fs::write(fx.tree.join("opt/vendor/data3.dcm"), vec![9u8; 5000]).unwrap();
    let (code, json) = scan_json(&[
        fx.tree.as_os_str(),
        "--rules".as_ref(),
        fx.rules.as_os_str(),
        "--changed-since".as_ref(),
        profile.as_os_str(),
        "--trust".as_ref(),
        trust.as_os_str(),
        "--root".as_ref(),
        fx.tree.as_os_str(),
    ]);
    assert_eq!(code, 1, "{json:#}");
    // Three files differ; the unchanged EICAR files of the profile are not scanned again.
    assert_eq!(json["summary"]["files"], 3, "{json:#}");
    let names: BTreeSet<String> = found(&json, "yara").into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            fx.tree.join("opt/vendor/bin/viewer").display().to_string(),
            fx.tree.join("opt/vendor/new.com").display().to_string(),
        ])
    );
    let viewer = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("viewer"))
        .unwrap();
    assert_eq!(viewer["action"], "person_must_decide");
}

#[test]
fn an_in_use_state_pauses_the_scan_until_the_device_is_idle() {
    let fx = fixture();
    let state = fx.base.join("clinical-state");
    fs::write(&state, "in-use\n").unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("medguard"))
        .arg("scan")
        .arg(&fx.tree)
        .arg("--rules")
        .arg(&fx.rules)
        .arg("--clinical-state")
        .arg(format!("file:{}", state.display()))
        .arg("--poll-interval")
        .arg("0.05")
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(first.contains("scan paused"), "{first}");
    assert!(first.contains("clinical use"), "{first}");
    // While in use, it stays paused (checked over many poll intervals).
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the scan ended while in use"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    fs::write(&state, "idle\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pauses = json["pauses"].as_array().unwrap();
    assert_eq!(pauses.len(), 1, "{json:#}");
    assert!(pauses[0]["seconds"].as_f64().unwrap() >= 0.5);
    assert!(
        pauses[0]["reason"]
            .as_str()
            .unwrap()
            .contains("clinical use")
    );
    assert_eq!(json["summary"]["files"], 24);
    let resumed = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(resumed.contains("scan resumed"), "{resumed}");
}
