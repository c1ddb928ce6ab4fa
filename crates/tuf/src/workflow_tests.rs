//! The client workflow against small repositories written here, key by key, so each rule
//! of the specification can be broken on its own: a delegated role signed by the wrong key
//! or missing from the snapshot, SHA-512-only targets, a timestamp re-signed under the same
//! version, delegations in graph order, terminating, or reached through two delegators.

use std::path::Path;
use std::time::SystemTime;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use tough::schema::Role as _;

use super::*;
use crate::schema::AsSigned;

const EXPIRES: &str = "2100-01-01T00:00:00Z";

struct TestKey {
    pair: Ed25519KeyPair,
    id: String,
    json: Value,
}

fn key() -> TestKey {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let json = json!({
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": hex::encode(pair.public_key().as_ref())},
    });
    let parsed: tough::schema::key::Key = serde_json::from_value(json.clone()).unwrap();
    let id = hex::encode(parsed.key_id().unwrap());
    TestKey { pair, id, json }
}

/// The canonical form of `signed`, as a client computes it.
fn canonical(signed: &Value) -> Vec<u8> {
    AsSigned::<TargetsRole> {
        value: signed,
        version: std::num::NonZeroU64::MIN,
        expires: jiff::Timestamp::MAX,
        kind: std::marker::PhantomData,
    }
    .canonical_form()
    .unwrap()
}

fn sign(signed: &Value, keys: &[&TestKey]) -> Vec<u8> {
    let data = canonical(signed);
    let signatures: Vec<Value> = keys
        .iter()
        .map(|k| json!({"keyid": k.id, "sig": hex::encode(k.pair.sign(&data).as_ref())}))
        .collect();
    let mut out =
        serde_json::to_vec_pretty(&json!({"signed": signed, "signatures": signatures})).unwrap();
    out.push(b'\n');
    out
}

fn targets_role(version: u64, targets: Value, delegations: Option<Value>) -> Value {
    let mut role = json!({
        "_type": "targets", "spec_version": "1.0.31", "version": version,
        "expires": EXPIRES, "targets": targets,
    });
    if let Some(d) = delegations {
        role["delegations"] = d;
    }
    role
}

/// A delegation of each `(name, key, paths, terminating)`.
fn delegations(roles: &[(&str, &TestKey, &[&str], bool)]) -> Value {
    let mut keys = serde_json::Map::new();
    let mut list = Vec::new();
    for (name, k, paths, terminating) in roles {
        keys.insert(k.id.clone(), k.json.clone());
        list.push(json!({
            "name": name, "keyids": [k.id], "threshold": 1,
            "terminating": terminating, "paths": paths,
        }));
    }
    json!({"keys": keys, "roles": list})
}

fn target(content: &[u8], algorithms: &[&str]) -> Value {
    let mut hashes = serde_json::Map::new();
    for a in algorithms {
        let alg = match *a {
            "sha256" => &aws_lc_rs::digest::SHA256,
            _ => &aws_lc_rs::digest::SHA512,
        };
        let h = hex::encode(aws_lc_rs::digest::digest(alg, content).as_ref());
        hashes.insert((*a).to_owned(), Value::String(h));
    }
    json!({"length": content.len(), "hashes": hashes})
}

/// A repository without consistent snapshots: one key for the top-level roles.
struct Repo {
    dir: tempfile::TempDir,
    top: TestKey,
}

/// One targets role to publish: its name, content and signing key.
struct Published<'a> {
    name: &'a str,
    role: Value,
    key: &'a TestKey,
    /// Listed in the snapshot?
    listed: bool,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("metadata")).unwrap();
        std::fs::create_dir_all(dir.path().join("targets")).unwrap();
        let repo = Self { dir, top: key() };
        let id = &repo.top.id;
        let roles = |_: ()| json!({"keyids": [id], "threshold": 1});
        let root = json!({
            "_type": "root", "spec_version": "1.0.31", "version": 1, "expires": EXPIRES,
            "consistent_snapshot": false,
            "keys": {id.clone(): repo.top.json},
            "roles": {"root": roles(()), "targets": roles(()), "snapshot": roles(()),
                      "timestamp": roles(())},
        });
        repo.write("1.root.json", &sign(&root, &[&repo.top]));
        repo
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join("metadata").join(name), bytes).unwrap();
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join("metadata").join(name)).unwrap()
    }

    /// Writes the roles, a snapshot listing those `listed`, and a timestamp.
    fn publish(&self, version: u64, roles: &[Published<'_>]) {
        let mut meta = serde_json::Map::new();
        for r in roles {
            self.write(&format!("{}.json", quote(r.name)), &sign(&r.role, &[r.key]));
            if r.listed {
                meta.insert(
                    format!("{}.json", r.name),
                    json!({"version": r.role["version"]}),
                );
            }
        }
        let snapshot = json!({
            "_type": "snapshot", "spec_version": "1.0.31", "version": version,
            "expires": EXPIRES, "meta": meta,
        });
        self.write("snapshot.json", &sign(&snapshot, &[&self.top]));
        self.write(
            "timestamp.json",
            &sign(&self.timestamp(version, version), &[&self.top]),
        );
    }

    fn timestamp(&self, version: u64, snapshot: u64) -> Value {
        json!({
            "_type": "timestamp", "spec_version": "1.0.31", "version": version,
            "expires": EXPIRES, "meta": {"snapshot.json": {"version": snapshot}},
        })
    }

    fn top<'a>(&'a self, role: Value) -> Published<'a> {
        Published {
            name: TARGETS,
            role,
            key: &self.top,
            listed: true,
        }
    }

    fn url(&self, sub: &str) -> String {
        format!("file://{}/{sub}/", self.dir.path().display())
    }

    fn refresh(&self, cache: &Path) -> Result<crate::Refreshed, TufError> {
        let anchor = TrustedRoot::parse(&self.read("1.root.json"), Path::new("1.root.json"))?;
        crate::refresh(
            &self.url("metadata"),
            &self.url("targets"),
            &anchor,
            cache,
            SystemTime::now(),
        )
    }
}

fn delegated<'a>(name: &'a str, role: Value, key: &'a TestKey) -> Published<'a> {
    Published {
        name,
        role,
        key,
        listed: true,
    }
}

#[test]
fn a_bad_delegated_role_only_denies_its_own_targets() {
    let repo = Repo::new();
    let (a, b, intruder) = (key(), key(), key());
    let top = targets_role(
        1,
        json!({}),
        Some(delegations(&[
            ("a", &a, &["a/*"], false),
            ("b", &b, &["b/*"], false),
        ])),
    );
    repo.publish(
        1,
        &[
            repo.top(top),
            // Role `a` signed by a key it was not delegated to.
            delegated(
                "a",
                targets_role(1, json!({"a/x": target(b"ax", &["sha256"])}), None),
                &intruder,
            ),
            delegated(
                "b",
                targets_role(1, json!({"b/x": target(b"bx", &["sha256"])}), None),
                &b,
            ),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let refreshed = repo.refresh(cache.path()).unwrap();
    assert_eq!(refreshed.target("b/x").unwrap().unwrap().length, 2);
    let err = refreshed.target("a/x").unwrap_err();
    assert!(
        matches!(err, TufError::BadSignature { ref role, source: Some(_), .. } if role == "a"),
        "{err:?}"
    );
    // Nothing about the bad role was kept.
    assert!(!cache.path().join("a.json").exists());
    assert!(cache.path().join("b.json").exists());
}

#[test]
fn a_delegated_role_missing_from_the_snapshot_is_refused() {
    let repo = Repo::new();
    let (a, b) = (key(), key());
    let top = targets_role(
        1,
        json!({}),
        Some(delegations(&[
            ("a", &a, &["a/*"], false),
            ("b", &b, &["b/*"], false),
        ])),
    );
    let mut unlisted = delegated(
        "a",
        targets_role(1, json!({"a/x": target(b"ax", &["sha256"])}), None),
        &a,
    );
    unlisted.listed = false;
    repo.publish(
        1,
        &[
            repo.top(top),
            unlisted,
            delegated(
                "b",
                targets_role(1, json!({"b/x": target(b"bx", &["sha256"])}), None),
                &b,
            ),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let refreshed = repo.refresh(cache.path()).unwrap();
    let err = refreshed.target("a/x").unwrap_err();
    assert!(
        matches!(err, TufError::MixAndMatch { ref role, .. } if role == "a"),
        "{err:?}"
    );
    assert!(refreshed.target("b/x").unwrap().is_some());
}

#[test]
fn delegations_are_searched_depth_first_in_order_and_terminating_ends_the_search() {
    let repo = Repo::new();
    let (a, a1, b, c) = (key(), key(), key(), key());
    // targets -> a -> a1 (lists x, 1 byte), then b (lists x, 2 bytes); c after a terminating
    // b lists y.
    let top = targets_role(
        1,
        json!({}),
        Some(delegations(&[
            ("a", &a, &["*"], false),
            ("b", &b, &["*"], true),
            ("c", &c, &["*"], false),
        ])),
    );
    let role_a = targets_role(
        1,
        json!({}),
        Some(delegations(&[("a1", &a1, &["x"], false)])),
    );
    repo.publish(
        1,
        &[
            repo.top(top),
            delegated("a", role_a, &a),
            delegated(
                "a1",
                targets_role(1, json!({"x": target(b"1", &["sha256"])}), None),
                &a1,
            ),
            delegated(
                "b",
                targets_role(1, json!({"x": target(b"22", &["sha256"])}), None),
                &b,
            ),
            delegated(
                "c",
                targets_role(1, json!({"y": target(b"y", &["sha256"])}), None),
                &c,
            ),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let refreshed = repo.refresh(cache.path()).unwrap();
    // a's subtree before b.
    assert_eq!(refreshed.target("x").unwrap().unwrap().length, 1);
    // b is terminating: c is never asked about y.
    assert_eq!(refreshed.target("y").unwrap(), None);
    assert!(!cache.path().join("c.json").exists());
    // Path patterns: a1 is delegated "x" only.
    assert_eq!(refreshed.target("z").unwrap(), None);
}

#[test]
fn a_role_reached_through_two_delegators_is_verified_against_each() {
    let repo = Repo::new();
    let (pa, pb, release_a, release_b) = (key(), key(), key(), key());
    let top = targets_role(
        1,
        json!({}),
        Some(delegations(&[
            ("parent-a", &pa, &["team-a/*"], false),
            ("parent-b", &pb, &["team-b/*"], false),
        ])),
    );
    let parent_a = targets_role(
        1,
        json!({}),
        Some(delegations(&[(
            "release",
            &release_a,
            &["team-a/*"],
            false,
        )])),
    );
    let parent_b = targets_role(
        1,
        json!({}),
        Some(delegations(&[(
            "release",
            &release_b,
            &["team-b/*"],
            false,
        )])),
    );
    let release = targets_role(
        1,
        json!({"team-a/t": target(b"A", &["sha256"]), "team-b/t": target(b"B", &["sha256"])}),
        None,
    );
    repo.publish(
        1,
        &[
            repo.top(top),
            delegated("parent-a", parent_a, &pa),
            delegated("parent-b", parent_b, &pb),
            // Signed with parent-a's key for it only.
            delegated("release", release, &release_a),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let refreshed = repo.refresh(cache.path()).unwrap();
    assert!(refreshed.target("team-a/t").unwrap().is_some());
    let err = refreshed.target("team-b/t").unwrap_err();
    assert!(
        matches!(err, TufError::BadSignature { ref role, .. } if role == "release"),
        "{err:?}"
    );
}

#[test]
fn a_target_with_sha512_hashes_only_is_downloaded_and_checked() {
    let repo = Repo::new();
    let good = b"target file contents";
    let top = targets_role(
        1,
        json!({
            "good.txt": target(good, &["sha512"]),
            "both.txt": target(good, &["sha256", "sha512"]),
            "altered.txt": target(good, &["sha512"]),
        }),
        None,
    );
    repo.publish(1, &[repo.top(top)]);
    let targets = repo.dir.path().join("targets");
    std::fs::write(targets.join("good.txt"), good).unwrap();
    std::fs::write(targets.join("both.txt"), good).unwrap();
    std::fs::write(targets.join("altered.txt"), b"target file CONTENTS").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let refreshed = repo.refresh(cache.path()).unwrap();
    let path = refreshed
        .download("good.txt", out.path(), "good.txt")
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), good);
    refreshed
        .download("both.txt", out.path(), "both.txt")
        .unwrap();
    let err = refreshed
        .download("altered.txt", out.path(), "altered.txt")
        .unwrap_err();
    assert!(
        matches!(err, TufError::HashMismatch { ref algorithm, .. } if algorithm == "sha512"),
        "{err:?}"
    );
    assert!(!out.path().join("altered.txt").exists());
}

#[test]
fn the_cache_holds_the_bytes_as_served() {
    let repo = Repo::new();
    let a = key();
    let top = targets_role(1, json!({}), Some(delegations(&[("a", &a, &["*"], false)])));
    let mut role_a = targets_role(1, json!({"x": target(b"x", &["sha256"])}), None);
    role_a["x-unknown-field"] = json!({"kept": [1, 2, 3]});
    repo.publish(1, &[repo.top(top), delegated("a", role_a, &a)]);
    // A serialisation no serialiser of ours would produce.
    let mut timestamp = repo.read("timestamp.json");
    timestamp.extend_from_slice(b"  \n ");
    repo.write("timestamp.json", &timestamp);

    let cache = tempfile::tempdir().unwrap();
    let refreshed = repo.refresh(cache.path()).unwrap();
    assert!(refreshed.target("x").unwrap().is_some());
    for name in ["timestamp.json", "snapshot.json", "targets.json", "a.json"] {
        assert_eq!(
            std::fs::read(cache.path().join(name)).unwrap(),
            repo.read(name),
            "{name}"
        );
    }
    // And a second refresh takes the cached roles as they are.
    drop(refreshed);
    let refreshed = repo.refresh(cache.path()).unwrap();
    assert!(refreshed.target("x").unwrap().is_some());
    assert_eq!(
        std::fs::read(cache.path().join("a.json")).unwrap(),
        repo.read("a.json")
    );
}

#[test]
fn a_timestamp_of_the_trusted_version_changes_nothing() {
    let repo = Repo::new();
    repo.publish(1, &[repo.top(targets_role(1, json!({}), None))]);
    let cache = tempfile::tempdir().unwrap();
    repo.refresh(cache.path()).unwrap();
    let trusted = std::fs::read(cache.path().join("timestamp.json")).unwrap();

    // Version 1 again, now naming a snapshot 100 that does not exist.
    repo.write(
        "timestamp.json",
        &sign(&repo.timestamp(1, 100), &[&repo.top]),
    );
    repo.refresh(cache.path()).unwrap();
    assert_eq!(
        std::fs::read(cache.path().join("timestamp.json")).unwrap(),
        trusted
    );

    // An older one is a rollback.
    repo.publish(3, &[repo.top(targets_role(1, json!({}), None))]);
    repo.refresh(cache.path()).unwrap();
    repo.write("timestamp.json", &sign(&repo.timestamp(2, 3), &[&repo.top]));
    let err = repo.refresh(cache.path()).unwrap_err();
    assert!(
        matches!(err, TufError::Rollback { ref role, trusted: 3, offered: 2 } if role == "timestamp"),
        "{err:?}"
    );
}
