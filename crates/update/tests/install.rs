//! Installing bundles through the library: each test proves one thing about the
//! transaction, against real trees in temporary directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use medguard_audit::{AuditWriter, WriterOptions};
use medguard_clinical::{ClinicalGate, ClinicalStateSource, MaintenanceWindow};
use medguard_digest::{PublicKey, SigningKey, UnverifiedDocument, sign_document};
use medguard_host::ManualClock;
use medguard_profile::{Baseline, CreateOptions, Progress, Rules, VerifiedProfile, WalkOptions};
use medguard_update::{
    ApplyRequest, BUNDLE_CONTEXT, Clock, CreateRequest, InstallOutcome, InstallReport,
    InstallWarning, Recovered, SelfTest, Step, UpdateError, WaitPolicy, apply_bundle,
    create_bundle, parse_frame, recover, write_frame,
};
use time::OffsetDateTime;

/// A clock that starts at a fixed instant and advances only when something sleeps.
struct TestClock;

impl TestClock {
    fn at(rfc3339: &str) -> ManualClock {
        ManualClock::new(
            OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap(),
        )
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    key: SigningKey,
    trust: Vec<PublicKey>,
}

impl Fixture {
    fn new() -> Self {
        let (key, _) = SigningKey::generate().unwrap();
        let trust = vec![key.public_key().clone()];
        let f = Self {
            dir: tempfile::tempdir().unwrap(),
            key,
            trust,
        };
        old_tree(&f.path("old"));
        new_tree(&f.path("new"));
        f
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn bundle(&self, name: &str, self_tests: &[&str]) -> PathBuf {
        let out = self.path(name);
        create_bundle(&CreateRequest {
            from: &self.path("old"),
            to: &self.path("new"),
            out: &out,
            key: &self.key,
            models: vec!["ct-9000".into()],
            self_tests: self_tests
                .iter()
                .map(|c| SelfTest {
                    command: (*c).to_owned(),
                    timeout_secs: 20,
                })
                .collect(),
            version: "2.1".into(),
            rules: Rules::default(),
            created_unix: 1_763_900_000,
            level: 3,
        })
        .unwrap();
        out
    }

    /// A copy of the old tree to install into.
    fn device(&self, name: &str) -> PathBuf {
        let root = self.path(name);
        copy_tree(&self.path("old"), &root);
        root
    }

    fn apply(
        &self,
        bundle: &Path,
        root: &Path,
        gate: &ClinicalGate,
    ) -> Result<InstallReport, UpdateError> {
        self.apply_with(
            bundle,
            root,
            gate,
            WaitPolicy::Exit,
            &TestClock::at("2026-11-23T03:00:00Z"),
            None,
        )
    }

    fn apply_with(
        &self,
        bundle: &Path,
        root: &Path,
        gate: &ClinicalGate,
        policy: WaitPolicy,
        clock: &dyn Clock,
        observer: Option<&(dyn Fn(Step) + Sync)>,
    ) -> Result<InstallReport, UpdateError> {
        apply_bundle(&ApplyRequest {
            bundle,
            trust: &self.trust,
            root,
            model: Some("ct-9000"),
            gate,
            policy,
            state_dir: &state_of(root),
            clock,
            audit: None,
            observer,
        })
        .result
    }
}

fn state_of(root: &Path) -> PathBuf {
    root.with_extension("state")
}

fn old_tree(root: &Path) {
    fs::create_dir_all(root.join("opt/viewer/bin")).unwrap();
    fs::create_dir_all(root.join("opt/viewer/plugins/old")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("opt/viewer/bin/viewer"),
        b"viewer 2.0\n".repeat(500),
    )
    .unwrap();
    fs::write(root.join("opt/viewer/bin/helper"), "helper 1\n").unwrap();
    fs::write(root.join("opt/viewer/plugins/old/a.so"), "plugin a\n").unwrap();
    fs::write(root.join("opt/viewer/plugins/old/b.so"), "plugin b\n").unwrap();
    fs::write(
        root.join("opt/viewer/notes"),
        "a file that becomes a directory\n",
    )
    .unwrap();
    fs::write(root.join("etc/viewer.conf"), "aet=VIEWER\n").unwrap();
    fs::write(root.join("etc/unchanged"), "same\n").unwrap();
    symlink("viewer", root.join("opt/viewer/bin/current")).unwrap();
    fs::set_permissions(
        root.join("opt/viewer/bin/viewer"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

fn new_tree(root: &Path) {
    old_tree(root);
    fs::write(
        root.join("opt/viewer/bin/viewer"),
        b"viewer 2.1\n".repeat(600),
    )
    .unwrap();
    fs::set_permissions(
        root.join("opt/viewer/bin/viewer"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    fs::remove_file(root.join("opt/viewer/bin/helper")).unwrap();
    fs::remove_dir_all(root.join("opt/viewer/plugins/old")).unwrap();
    fs::create_dir_all(root.join("opt/viewer/plugins/new")).unwrap();
    fs::write(root.join("opt/viewer/plugins/new/c.so"), "plugin c\n").unwrap();
    fs::remove_file(root.join("opt/viewer/notes")).unwrap();
    fs::create_dir(root.join("opt/viewer/notes")).unwrap();
    fs::write(root.join("opt/viewer/notes/README"), "now a directory\n").unwrap();
    fs::set_permissions(
        root.join("etc/viewer.conf"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::remove_file(root.join("opt/viewer/bin/current")).unwrap();
    symlink("viewer-2.1", root.join("opt/viewer/bin/current")).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

fn profile_of(root: &Path) -> VerifiedProfile {
    let (p, problems) =
        medguard_profile::create(root, CreateOptions::default(), &Progress::default()).unwrap();
    assert!(problems.is_empty());
    VerifiedProfile::from_own(p)
}

/// Whether `root` is exactly the tree `reference` (every checked attribute, every entry).
fn same_tree(root: &Path, reference: &Path) -> bool {
    let report = medguard_profile::verify_tree(
        root,
        &Baseline::from_profile(profile_of(reference)),
        WalkOptions::default(),
        &Progress::default(),
    )
    .unwrap();
    report.is_clean()
}

fn file_gate(dir: &Path, state: &str) -> ClinicalGate {
    let p = dir.join(format!("clinical-{state}"));
    fs::write(&p, format!("{state}\n")).unwrap();
    ClinicalGate::new(Some(ClinicalStateSource::File(p)), None)
}

/// Rewrites a bundle's manifest with `edit` and signs it again with `key`.
fn resign(bundle: &Path, out: &Path, key: &SigningKey, edit: impl FnOnce(&mut serde_json::Value)) {
    let bytes = fs::read(bundle).unwrap();
    let frame = parse_frame(&bytes).unwrap();
    let body = UnverifiedDocument::parse(frame.signed_manifest)
        .unwrap()
        .accept_unsigned()
        .body()
        .to_vec();
    let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    edit(&mut json);
    let signed = sign_document(BUNDLE_CONTEXT, &serde_json::to_vec(&json).unwrap(), key);
    let mut out_bytes = Vec::new();
    let mut payload = frame.payload;
    write_frame(
        &mut out_bytes,
        &signed,
        &mut payload,
        frame.payload.len() as u64,
    )
    .unwrap();
    fs::write(out, out_bytes).unwrap();
}

#[test]
fn idle_device_installs_and_the_new_profile_becomes_the_baseline() {
    let f = Fixture::new();
    let bundle = f.bundle(
        "b.bundle",
        &["test -f \"$MEDGUARD_ROOT/opt/viewer/plugins/new/c.so\""],
    );
    let root = f.device("dev");
    let r = f
        .apply(&bundle, &root, &file_gate(f.dir.path(), "idle"))
        .unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::Installed { self_tests: 1, .. }),
        "{r:?}"
    );
    assert!(same_tree(&root, &f.path("new")));
    let stored = fs::read(state_of(&root).join("profile")).unwrap();
    let baseline = medguard_profile::UnverifiedProfile::parse(&stored)
        .unwrap()
        .verify(&f.trust)
        .unwrap();
    let report = medguard_profile::verify_tree(
        &root,
        &Baseline::from_profile(baseline),
        WalkOptions::default(),
        &Progress::default(),
    )
    .unwrap();
    assert!(report.is_clean(), "{:?}", report.deviations);
    assert!(!state_of(&root).join("txn").exists());
    let again = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap();
    assert!(matches!(
        again.outcome,
        InstallOutcome::AlreadyInstalled { .. }
    ));
}

#[test]
fn in_clinical_use_the_device_is_untouched() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let r = f
        .apply(&bundle, &root, &file_gate(f.dir.path(), "in-use"))
        .unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::Deferred { .. }),
        "{r:?}"
    );
    assert_eq!(r.exit_code(), 3);
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn waiting_ends_when_the_device_becomes_idle_by_the_test_clock() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    // In use, and waiting 10 minutes on a clock that never moves by itself: deferred after
    // the clock passed 10 minutes through the installer's own sleeps.
    let clock = TestClock::at("2026-11-23T03:00:00Z");
    let r = f
        .apply_with(
            &bundle,
            &root,
            &file_gate(f.dir.path(), "in-use"),
            WaitPolicy::WaitUpTo(Duration::from_secs(600)),
            &clock,
            None,
        )
        .unwrap();
    assert!(matches!(r.outcome, InstallOutcome::Deferred { .. }));
    assert_eq!(clock.now(), TestClock::at("2026-11-23T03:10:00Z").now());
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn outside_the_maintenance_window_the_device_is_untouched() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let window: MaintenanceWindow = "Mon-Fri 22:00-06:00 +00:00".parse().unwrap();
    let gate = ClinicalGate::new(None, Some(window));
    let noon = TestClock::at("2026-11-23T12:00:00Z");
    let r = f
        .apply_with(&bundle, &root, &gate, WaitPolicy::Exit, &noon, None)
        .unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::Deferred { .. }),
        "{r:?}"
    );
    assert!(same_tree(&root, &f.path("old")));
    let night = TestClock::at("2026-11-23T23:00:00Z");
    let r = f
        .apply_with(&bundle, &root, &gate, WaitPolicy::Exit, &night, None)
        .unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::Installed { .. }),
        "{r:?}"
    );
}

#[test]
fn failing_self_test_rolls_back_to_the_old_profile() {
    let f = Fixture::new();
    let bundle = f.bundle(
        "b.bundle",
        &["true", "echo viewer does not start >&2; exit 7"],
    );
    let root = f.device("dev");
    let r = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap();
    match &r.outcome {
        InstallOutcome::RolledBack {
            reason,
            old_tree_clean,
            ..
        } => {
            assert!(old_tree_clean);
            assert!(reason.contains("viewer does not start"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.exit_code(), 1);
    assert!(same_tree(&root, &f.path("old")));
    assert!(!state_of(&root).join("profile").exists());
}

#[test]
fn tampered_manifest_is_refused() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let mut bytes = fs::read(&bundle).unwrap();
    let at = bytes.windows(5).position(|w| w == b"\"2.1\"").unwrap();
    bytes[at + 3] = b'2';
    fs::write(&bundle, bytes).unwrap();
    let root = f.device("dev");
    let e = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap_err();
    assert!(matches!(e, UpdateError::Signature(_)), "{e:?}");
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn tampered_payload_is_refused_before_the_tree_is_touched() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let mut bytes = fs::read(&bundle).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    fs::write(&bundle, bytes).unwrap();
    let root = f.device("dev");
    let e = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap_err();
    assert!(
        matches!(
            e,
            UpdateError::BlobDigest { .. } | UpdateError::BlobCorrupt { .. }
        ),
        "{e:?}"
    );
    assert!(same_tree(&root, &f.path("old")));
    assert!(!state_of(&root).join("txn").exists());
}

#[test]
fn bundle_signed_by_an_untrusted_key_is_refused() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let (other, _) = SigningKey::generate().unwrap();
    let root = f.device("dev");
    let e = apply_bundle(&ApplyRequest {
        bundle: &bundle,
        trust: &[other.public_key().clone()],
        root: &root,
        model: Some("ct-9000"),
        gate: &ClinicalGate::open(),
        policy: WaitPolicy::Exit,
        state_dir: &state_of(&root),
        clock: &TestClock::at("2026-11-23T03:00:00Z"),
        audit: None,
        observer: None,
    })
    .result
    .unwrap_err();
    assert!(matches!(e, UpdateError::Signature(_)), "{e:?}");
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn wrong_model_is_refused() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let e = apply_bundle(&ApplyRequest {
        bundle: &bundle,
        trust: &f.trust,
        root: &root,
        model: Some("mr-1"),
        gate: &ClinicalGate::open(),
        policy: WaitPolicy::Exit,
        state_dir: &state_of(&root),
        clock: &TestClock::at("2026-11-23T03:00:00Z"),
        audit: None,
        observer: None,
    })
    .result
    .unwrap_err();
    assert!(matches!(e, UpdateError::ModelMismatch { .. }), "{e:?}");
}

#[test]
fn a_device_whose_tree_differs_from_the_base_is_refused() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    fs::write(root.join("etc/unchanged"), "locally modified\n").unwrap();
    let before = profile_of(&root);
    let e = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap_err();
    assert!(
        matches!(e, UpdateError::BaseMismatch { deviations: 1, .. }),
        "{e:?}"
    );
    let after = profile_of(&root);
    assert_eq!(before.profile().entries, after.profile().entries);
}

#[test]
fn dot_dot_and_absolute_paths_are_refused_at_parse_time() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    for (i, evil) in ["../../escaped", "/tmp/escaped", "opt/./viewer"]
        .into_iter()
        .enumerate()
    {
        let bad = f.path("evil.bundle");
        resign(&bundle, &bad, &f.key, |m| {
            m["operations"][0]["path"] = evil.into();
        });
        let root = f.device(&format!("dev-{i}"));
        let e = f.apply(&bad, &root, &ClinicalGate::open()).unwrap_err();
        assert!(matches!(e, UpdateError::UnsafePath { .. }), "{evil}: {e:?}");
        assert!(same_tree(&root, &f.path("old")));
    }
}

#[test]
fn a_path_through_a_symlink_pointing_outside_is_refused_before_anything_is_written() {
    let f = Fixture::new();
    let outside = f.path("outside");
    fs::create_dir(&outside).unwrap();
    // Old and new trees both hold `lib -> OUTSIDE`; the hostile manifest writes through it.
    for t in ["old", "new"] {
        symlink(&outside, f.path(t).join("lib")).unwrap();
    }
    let bundle = f.bundle("b.bundle", &[]);
    let bad = f.path("evil.bundle");
    resign(&bundle, &bad, &f.key, |m| {
        let ops = m["operations"].as_array_mut().unwrap();
        let file_op = ops.iter().find(|o| o["op"] == "file").unwrap().clone();
        let mut evil = file_op;
        evil["path"] = "lib/evil.so".into();
        evil["old"] = serde_json::Value::Null;
        ops.push(evil);
    });
    let root = f.device("dev");
    let e = f.apply(&bad, &root, &ClinicalGate::open()).unwrap_err();
    assert!(
        matches!(
            e,
            UpdateError::UnsafePath {
                reason: "an ancestor is a symbolic link",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn a_blob_longer_than_declared_is_refused() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let bad = f.path("long.bundle");
    resign(&bundle, &bad, &f.key, |m| {
        let size = m["blobs"][0]["size"].as_u64().unwrap();
        m["blobs"][0]["size"] = (size - 1).into();
    });
    let root = f.device("dev");
    let e = f.apply(&bad, &root, &ClinicalGate::open()).unwrap_err();
    assert!(matches!(e, UpdateError::BlobTooLarge { .. }), "{e:?}");
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn a_decompression_bomb_ratio_is_refused_at_parse_time() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let bad = f.path("bomb.bundle");
    resign(&bundle, &bad, &f.key, |m| {
        m["blobs"][0]["size"] = (1u64 << 40).into();
    });
    let root = f.device("dev");
    let e = f.apply(&bad, &root, &ClinicalGate::open()).unwrap_err();
    assert!(matches!(e, UpdateError::Manifest { .. }), "{e:?}");
}

#[test]
fn trailing_bytes_after_the_payload_are_refused() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let mut bytes = fs::read(&bundle).unwrap();
    bytes.extend_from_slice(b"more");
    fs::write(&bundle, bytes).unwrap();
    let root = f.device("dev");
    let e = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap_err();
    assert!(matches!(e, UpdateError::Framing { .. }), "{e:?}");
}

/// Child half of the crash tests, run by them as a separate process (`--ignored`): runs an
/// install and SIGKILLs itself at step N.
#[test]
#[ignore = "run by the crash tests in a child process"]
fn crash_child() {
    let n: usize = std::env::var("MEDGUARD_TEST_CRASH_AT")
        .unwrap()
        .parse()
        .unwrap();
    let bundle = PathBuf::from(std::env::var("MEDGUARD_TEST_BUNDLE").unwrap());
    let root = PathBuf::from(std::env::var("MEDGUARD_TEST_ROOT").unwrap());
    let trust = PublicKey::load(Path::new(&std::env::var("MEDGUARD_TEST_TRUST").unwrap())).unwrap();
    let seen = AtomicUsize::new(0);
    let observer = |_step: Step| {
        if seen.fetch_add(1, Ordering::SeqCst) == n {
            // A real SIGKILL: no destructor, no flush, no unwinding.
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
            std::process::abort();
        }
    };
    let observer: &(dyn Fn(Step) + Sync) = &observer;
    let _ = apply_bundle(&ApplyRequest {
        bundle: &bundle,
        trust: &[trust],
        root: &root,
        model: Some("ct-9000"),
        gate: &ClinicalGate::open(),
        policy: WaitPolicy::Exit,
        state_dir: &state_of(&root),
        clock: &TestClock::at("2026-11-23T03:00:00Z"),
        audit: None,
        observer: Some(observer),
    });
    // Not killed: every step was passed.
    std::process::exit(42);
}

fn crash_at_every_step(self_tests: &[&str], finally_new: bool) {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", self_tests);
    let trust_path = f.path("vendor.pub");
    fs::write(&trust_path, f.key.public_key().to_pem()).unwrap();
    let mut n = 0;
    loop {
        let root = f.device(&format!("dev-{n}"));
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MEDGUARD_TEST_CRASH_AT", n.to_string())
            .env("MEDGUARD_TEST_BUNDLE", &bundle)
            .env("MEDGUARD_TEST_ROOT", &root)
            .env("MEDGUARD_TEST_TRUST", &trust_path)
            .output()
            .unwrap();
        let finished = status.status.code() == Some(42);
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert!(
                finished || status.status.signal() == Some(9),
                "step {n}: the child neither finished nor was killed: {:?} {}",
                status.status,
                String::from_utf8_lossy(&status.stderr)
            );
        }
        // After the crash, recovery alone must leave exactly the old or exactly the new tree.
        let recovered = recover(&state_of(&root), None).unwrap();
        let is_old = same_tree(&root, &f.path("old"));
        let is_new = same_tree(&root, &f.path("new"));
        assert!(
            is_old ^ is_new,
            "step {n}: neither old nor new after {recovered:?}"
        );
        if let Some(Recovered::RolledBack { old_tree_clean, .. }) = &recovered {
            assert!(old_tree_clean, "step {n}");
        }
        assert!(!state_of(&root).join("txn").exists(), "step {n}");
        // And the same install run again ends where an uninterrupted one ends.
        let r = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap();
        assert_eq!(
            same_tree(&root, &f.path("new")),
            finally_new,
            "step {n}: {r:?}"
        );
        fs::remove_dir_all(&root).unwrap();
        if finished {
            break;
        }
        n += 1;
        assert!(n < 200, "the install never finished");
    }
    assert!(n >= 8, "only {n} steps were observed");
}

#[test]
fn sigkill_at_every_step_recovers_to_old_or_new() {
    crash_at_every_step(&["true"], true);
}

#[test]
fn sigkill_at_every_step_of_a_rollback_recovers_to_old() {
    crash_at_every_step(&["exit 1"], false);
}

#[test]
fn a_second_installer_on_the_same_state_dir_is_refused_as_busy() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let state = state_of(&root);
    fs::create_dir_all(&state).unwrap();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let e = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap_err();
    assert!(matches!(e, UpdateError::Busy { .. }), "{e:?}");
}

#[test]
fn a_self_test_that_hangs_is_killed_at_its_timeout_and_rolled_back() {
    let f = Fixture::new();
    let out = f.path("hang.bundle");
    create_bundle(&CreateRequest {
        from: &f.path("old"),
        to: &f.path("new"),
        out: &out,
        key: &f.key,
        models: vec![],
        self_tests: vec![SelfTest {
            command: "sleep 600".into(),
            timeout_secs: 1,
        }],
        version: "2.1".into(),
        rules: Rules::default(),
        created_unix: 1_763_900_000,
        level: 3,
    })
    .unwrap();
    let root = f.device("dev");
    let r = f.apply(&out, &root, &ClinicalGate::open()).unwrap();
    match &r.outcome {
        InstallOutcome::RolledBack {
            reason,
            old_tree_clean: true,
            ..
        } => assert!(reason.contains("timed out after 1 s"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(same_tree(&root, &f.path("old")));
}

#[test]
fn rollback_removes_new_directories_even_when_a_self_test_wrote_into_them() {
    let f = Fixture::new();
    let bundle = f.bundle(
        "b.bundle",
        &["echo log > \"$MEDGUARD_ROOT/opt/viewer/plugins/new/self-test.log\"; exit 1"],
    );
    let root = f.device("dev");
    let r = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap();
    assert!(
        matches!(
            r.outcome,
            InstallOutcome::RolledBack {
                old_tree_clean: true,
                ..
            }
        ),
        "{r:?}"
    );
    assert!(same_tree(&root, &f.path("old")));
}

/// Applies `bundle` with an audit writer on `audit_dir` and the given gate.
fn apply_audited(
    f: &Fixture,
    bundle: &Path,
    root: &Path,
    gate: &ClinicalGate,
    writer: &AuditWriter,
) -> medguard_update::InstallRun {
    apply_bundle(&ApplyRequest {
        bundle,
        trust: &f.trust,
        root,
        model: Some("ct-9000"),
        gate,
        policy: WaitPolicy::Exit,
        state_dir: &state_of(root),
        clock: &TestClock::at("2026-11-23T03:00:00Z"),
        audit: Some(writer),
        observer: None,
    })
}

fn audit_kinds(dir: &Path) -> Vec<String> {
    medguard_audit::AuditLog::open(dir)
        .unwrap()
        .records()
        .unwrap()
        .map(|r| r.unwrap().event.kind.to_string())
        .collect()
}

/// A deferral (device in clinical use) is its own event type with a success outcome, so a
/// SIEM does not count safe deferrals as failed installs.
#[test]
fn a_deferred_install_is_audited_as_patch_deferred_not_patch_failed() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let audit_dir = f.path("audit");
    let writer = AuditWriter::open(&audit_dir, WriterOptions::default()).unwrap();
    let run = apply_audited(
        &f,
        &bundle,
        &root,
        &file_gate(f.dir.path(), "in-use"),
        &writer,
    );
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let report = run.result.unwrap();
    assert!(matches!(report.outcome, InstallOutcome::Deferred { .. }));
    assert_eq!(run.status.outcome, "deferred");
    writer.close().unwrap();
    assert_eq!(audit_kinds(&audit_dir), ["patch-deferred"]);
    let log = medguard_audit::AuditLog::open(&audit_dir).unwrap();
    let event = log.records().unwrap().next().unwrap().unwrap().event;
    assert_eq!(event.outcome, medguard_audit::Outcome::Success);
}

/// A small tmpfs, unmounted when dropped. Tests run as root (CI does); without the right to
/// mount, the test fails rather than passing untested.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount(8) is installed");
        assert!(
            output.status.success(),
            "cannot mount a tmpfs (this test needs root to make a full disk): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// An audit append that fails during an install (here: the audit log's disk is full) is a
/// warning of the run, in the returned status record and the written one, never dropped;
/// the install itself still completes.
#[test]
fn a_failed_audit_append_during_install_is_reported_not_dropped() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let disk = Tmpfs::mount("64k");
    let writer = AuditWriter::open(disk.0.path(), WriterOptions::default()).unwrap();
    // Fill the disk: the filler's write fails once nothing is left.
    let _ = fs::write(disk.0.path().join("filler"), vec![0u8; 1 << 20]);
    let run = apply_audited(&f, &bundle, &root, &ClinicalGate::open(), &writer);
    let report = run.result.as_ref().unwrap();
    assert!(
        matches!(report.outcome, InstallOutcome::Installed { .. }),
        "{report:?}"
    );
    assert!(
        run.warnings
            .iter()
            .any(|w| matches!(w, InstallWarning::AuditAppend { .. })),
        "{:?}",
        run.warnings
    );
    assert!(!run.status.warnings.is_empty());
    assert!(
        run.status.warnings[0].contains("audit event could not be appended"),
        "{:?}",
        run.status.warnings
    );
    let stored = medguard_update::read_status(&state_of(&root)).unwrap();
    assert_eq!(
        stored.last.unwrap().warnings,
        run.status.warnings,
        "the written record carries the warnings"
    );
}

/// A status record that cannot be written (here: its path is a directory) is a warning of
/// the run; the install's result is unchanged and nothing is written empty.
#[test]
fn a_status_record_that_cannot_be_written_is_reported_not_dropped() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let status = state_of(&root).join("status.json");
    fs::create_dir_all(status.join("occupied")).unwrap();
    let run = apply_bundle(&ApplyRequest {
        bundle: &bundle,
        trust: &f.trust,
        root: &root,
        model: Some("ct-9000"),
        gate: &ClinicalGate::open(),
        policy: WaitPolicy::Exit,
        state_dir: &state_of(&root),
        clock: &TestClock::at("2026-11-23T03:00:00Z"),
        audit: None,
        observer: None,
    });
    assert!(matches!(
        run.result.as_ref().unwrap().outcome,
        InstallOutcome::Installed { .. }
    ));
    assert!(
        matches!(
            run.warnings.as_slice(),
            [InstallWarning::StatusWrite { path, .. }] if *path == status
        ),
        "{:?}",
        run.warnings
    );
    assert!(run.status.warnings[0].contains("could not be written"));
}

/// `read_status` reads back what an install wrote, typed.
#[test]
fn the_status_of_the_last_install_reads_back_typed() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let before = medguard_update::read_status(&state_of(&root)).unwrap();
    assert!(before.last.is_none() && !before.interrupted_install && before.profile.is_none());
    let report = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap();
    let status = medguard_update::read_status(&state_of(&root)).unwrap();
    let last = status.last.unwrap();
    assert_eq!(last.outcome, "installed");
    assert_eq!(last.report, Some(report));
    assert!(!status.interrupted_install);
    assert_eq!(status.profile, Some(state_of(&root).join("profile")));
    fs::write(state_of(&root).join("status.json"), b"{not json").unwrap();
    assert!(matches!(
        medguard_update::read_status(&state_of(&root)),
        Err(UpdateError::StatusRecord { .. })
    ));
}

/// The release checks: a bundle key verifies the bundle and supplies version and models; a
/// version that disagrees, a wrong key, or no model anywhere is refused.
#[test]
fn release_checks_reconcile_version_and_models_with_the_signed_manifest() {
    use medguard_update::{ReleaseError, ReleaseRequest, check_release};
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let key = &f.trust[0];
    let base = ReleaseRequest {
        bundle: &bundle,
        key: Some(key),
        models: &[],
        version: None,
    };
    let r = check_release(&base).unwrap();
    assert_eq!(r.version, "2.1");
    assert_eq!(r.models, ["ct-9000"]);
    assert!(r.verified);
    let models = ["mr-1".to_owned()];
    let r = check_release(&ReleaseRequest {
        models: &models,
        version: Some("2.1"),
        ..base
    })
    .unwrap();
    assert_eq!(r.models, ["mr-1"]);
    let e = check_release(&ReleaseRequest {
        version: Some("2.2"),
        ..base
    })
    .unwrap_err();
    assert!(
        matches!(&e, ReleaseError::VersionMismatch { given, bundle, .. } if given == "2.2" && bundle == "2.1"),
        "{e:?}"
    );
    let (other, _) = SigningKey::generate().unwrap();
    let e = check_release(&ReleaseRequest {
        key: Some(other.public_key()),
        ..base
    })
    .unwrap_err();
    assert!(
        matches!(&e, ReleaseError::Bundle { source, .. } if matches!(**source, UpdateError::Signature(_))),
        "{e:?}"
    );
    let unchecked = ReleaseRequest { key: None, ..base };
    assert!(matches!(
        check_release(&unchecked),
        Err(ReleaseError::NoVersion)
    ));
    assert!(matches!(
        check_release(&ReleaseRequest {
            version: Some("2.1"),
            ..unchecked
        }),
        Err(ReleaseError::NoModel { .. })
    ));
    let r = check_release(&ReleaseRequest {
        version: Some("2.1"),
        models: &models,
        ..unchecked
    })
    .unwrap();
    assert!(!r.verified);
}

/// With a `lock:` provider, the installer holds the clinical lock for the whole install: a
/// process that tries to take it during the (slow) self-test cannot, so no procedure can
/// start mid-install; after the install the lock is free again.
#[test]
fn a_lock_provider_is_held_by_the_installer_for_the_whole_install() {
    let f = Fixture::new();
    let lock = f.path("clinical.lock");
    let result = f.path("flock-result");
    let probe = format!(
        "sleep 0.3; flock -n '{}' true; echo $? > '{}'",
        lock.display(),
        result.display()
    );
    let bundle = f.bundle("b.bundle", &[&probe]);
    let root = f.device("dev");
    let gate = ClinicalGate::new(Some(ClinicalStateSource::Lock(lock.clone())), None);
    let r = f.apply(&bundle, &root, &gate).unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::Installed { .. }),
        "{r:?}"
    );
    assert_eq!(
        fs::read_to_string(&result).unwrap().trim(),
        "1",
        "another process took the clinical lock during the install"
    );
    let after = std::process::Command::new("flock")
        .arg("-n")
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap();
    assert!(
        after.success(),
        "the installer kept the lock after the install"
    );
}

/// With a `lock:` provider held by the clinical software (another process), the install
/// is deferred and the tree untouched.
#[test]
fn a_lock_held_by_the_clinical_software_defers_the_install() {
    use std::os::unix::process::CommandExt as _;
    let f = Fixture::new();
    let lock = f.path("clinical.lock");
    let bundle = f.bundle("b.bundle", &[]);
    let root = f.device("dev");
    let ready = f.path("holding");
    // In its own process group, so flock(1) and the shell holding the descriptor die
    // together.
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .arg("sh")
        .arg("-c")
        .arg(format!("touch '{}'; sleep 30", ready.display()))
        .process_group(0)
        .spawn()
        .expect("flock(1) from util-linux is installed");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "flock(1) never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let gate = ClinicalGate::new(Some(ClinicalStateSource::Lock(lock.clone())), None);
    let r = f.apply(&bundle, &root, &gate);
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", holder.id())])
        .status()
        .unwrap();
    holder.wait().unwrap();
    assert!(killed.success());
    let r = r.unwrap();
    assert!(
        matches!(&r.outcome, InstallOutcome::Deferred { reason, .. } if reason.contains("clinical use")),
        "{r:?}"
    );
    assert!(same_tree(&root, &f.path("old")));
}

fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn getcap(path: &Path) -> String {
    run("getcap", &[path.as_os_str()])
}

/// The new tree gives the viewer a file capability and a `user.` attribute, and adds a hard
/// link to it: the bundle carries all three and the device ends with exactly that tree.
#[test]
fn a_file_capability_user_attribute_and_hard_link_install_exactly() {
    let f = Fixture::new();
    let new = f.path("new");
    let viewer = new.join("opt/viewer/bin/viewer");
    run(
        "setcap",
        &["cap_net_bind_service=+ep".as_ref(), viewer.as_os_str()],
    );
    run(
        "setfattr",
        &[
            "-n".as_ref(),
            "user.vendor.build".as_ref(),
            "-v".as_ref(),
            "2.1-17".as_ref(),
            viewer.as_os_str(),
        ],
    );
    fs::hard_link(&viewer, new.join("opt/viewer/bin/viewer-2.1")).unwrap();
    // A metadata-only change that must keep (re-apply) the capability the chown clears.
    let conf = new.join("etc/viewer.conf");
    run("setcap", &["cap_sys_nice=+ep".as_ref(), conf.as_os_str()]);
    let bundle = f.bundle("b.bundle", &[]);

    let root = f.device("dev");
    let r = f.apply(&bundle, &root, &ClinicalGate::open()).unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::Installed { .. }),
        "{r:?}"
    );
    let installed = root.join("opt/viewer/bin/viewer");
    assert!(
        getcap(&installed).contains("cap_net_bind_service=ep"),
        "{}",
        getcap(&installed)
    );
    assert!(getcap(&root.join("etc/viewer.conf")).contains("cap_sys_nice=ep"));
    assert_eq!(
        xattr_value(&installed, "user.vendor.build").as_deref(),
        Some(&b"2.1-17"[..])
    );
    let a = fs::metadata(&installed).unwrap();
    let b = fs::metadata(root.join("opt/viewer/bin/viewer-2.1")).unwrap();
    assert_eq!(
        (a.dev(), a.ino()),
        (b.dev(), b.ino()),
        "installed as one inode"
    );
    assert_eq!(a.nlink(), 2);
    assert!(same_tree(&root, &new));

    // Rolled back by a failing self-test: the old tree exactly, capability and link gone.
    let root = f.device("dev-rollback");
    let failing = f.bundle("fail.bundle", &["exit 3"]);
    let r = f.apply(&failing, &root, &ClinicalGate::open()).unwrap();
    assert!(
        matches!(r.outcome, InstallOutcome::RolledBack { .. }),
        "{r:?}"
    );
    assert!(getcap(&root.join("opt/viewer/bin/viewer")).is_empty());
    assert!(!root.join("opt/viewer/bin/viewer-2.1").exists());
    assert!(same_tree(&root, &f.path("old")));
}

fn xattr_value(path: &Path, name: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("getfattr")
        .args(["--only-values", "-n", name])
        .arg(path)
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

/// Attributes that are the device's own policy (here a `trusted.` one, like SELinux labels
/// and ACLs) are refused when the bundle is made, naming the attribute.
#[test]
fn attributes_bundles_do_not_carry_are_refused_by_name() {
    let f = Fixture::new();
    let viewer = f.path("new").join("opt/viewer/bin/viewer");
    run(
        "setfattr",
        &[
            "-n".as_ref(),
            "trusted.vendor".as_ref(),
            "-v".as_ref(),
            "1".as_ref(),
            viewer.as_os_str(),
        ],
    );
    let e = create_bundle(&CreateRequest {
        from: &f.path("old"),
        to: &f.path("new"),
        out: &f.path("b.bundle"),
        key: &f.key,
        models: vec![],
        self_tests: vec![],
        version: "2.1".into(),
        rules: Rules::default(),
        created_unix: 1_763_900_000,
        level: 3,
    })
    .unwrap_err();
    assert!(
        matches!(&e, UpdateError::Unsupported { reason, .. } if reason.contains("trusted.vendor")),
        "{e:?}"
    );
}

/// A directory swapped for a symbolic link to a folder outside the root while the install
/// runs: nothing is written, moved or linked outside, and the install fails.
#[test]
fn a_symlink_swapped_in_during_apply_cannot_reach_outside_the_root() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    let outside = f.path("outside");
    fs::create_dir_all(outside.join("old")).unwrap();
    fs::write(outside.join("old/a.so"), "outside a\n").unwrap();
    let listing = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = walk(dir);
        v.sort();
        v
    };
    let before = listing(&outside);
    let root = f.device("dev");
    let plugins = root.join("opt/viewer/plugins");
    let swapped = std::sync::atomic::AtomicBool::new(false);
    let observer = |step: Step| {
        if matches!(step, Step::Applied(0))
            && !swapped.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            fs::rename(&plugins, root.join("opt/viewer/plugins.moved")).unwrap();
            symlink(&outside, &plugins).unwrap();
        }
    };
    let e = f
        .apply_with(
            &bundle,
            &root,
            &ClinicalGate::open(),
            WaitPolicy::Exit,
            &TestClock::at("2026-11-23T03:00:00Z"),
            Some(&observer),
        )
        .unwrap_err();
    assert!(swapped.load(std::sync::atomic::Ordering::SeqCst));
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(
        listing(&outside),
        before,
        "nothing changed outside the root"
    );
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        out.push(p.display().to_string());
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

/// A signed manifest that links to something other than a regular file of the tree, or sets
/// an attribute bundles do not carry, is refused before anything is written.
#[test]
fn hostile_links_and_attributes_in_a_manifest_are_refused_at_parse_time() {
    let f = Fixture::new();
    let bundle = f.bundle("b.bundle", &[]);
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: [(&str, Edit); 3] = [
        (
            "/to",
            Box::new(|m| {
                let ops = m["operations"].as_array_mut().unwrap();
                ops.push(
                    serde_json::json!({"op": "link", "path": "opt/viewer/bin/x", "to": "etc"}),
                );
            }),
        ),
        (
            "/to",
            Box::new(|m| {
                let ops = m["operations"].as_array_mut().unwrap();
                ops.push(serde_json::json!({"op": "link", "path": "opt/viewer/bin/x", "to": "etc/missing"}));
            }),
        ),
        (
            "security.selinux",
            Box::new(|m| {
                let ops = m["operations"].as_array_mut().unwrap();
                let file_op = ops.iter_mut().find(|o| o["op"] == "file").unwrap();
                file_op["xattrs"] = serde_json::json!({"security.selinux": "00"});
            }),
        ),
    ];
    for (i, (needle, edit)) in cases.iter().enumerate() {
        let bad = f.path(&format!("evil-{i}.bundle"));
        resign(&bundle, &bad, &f.key, |m| edit(m));
        let root = f.device(&format!("dev-{i}"));
        let e = f.apply(&bad, &root, &ClinicalGate::open()).unwrap_err();
        assert!(
            matches!(&e, UpdateError::Manifest { .. }) && e.to_string().contains(needle),
            "{e}"
        );
        assert!(same_tree(&root, &f.path("old")));
    }
}
