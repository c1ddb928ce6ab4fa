//! Building lists from real profiles, and the fanotify enforcer against the real kernel.
//!
//! Needs root. Marks only directories these tests create (directory marks, never a mount),
//! and every enforcer is stopped by its `Drop` when a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use medguard_allowlist::build::build;
use medguard_allowlist::check::Verdict;
use medguard_allowlist::enforce::{
    Access, Cause, Denial, EnforceOptions, Enforcer, Mark, Mode, TimeoutAnswer,
};
use medguard_allowlist::list::{
    Allowlist, Content, ListEntry, ListHeader, Listing, VerifiedAllowlist,
};
use medguard_allowlist::rules::ListRules;
use medguard_audit::{AuditLog, AuditWriter, EventKind, FixedClock, WriterOptions};
use medguard_profile::{CreateOptions, Progress, VerifiedProfile};

const EPERM: i32 = 1;

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// A shared library that exists on this machine (the C library /bin/true links).
fn real_library() -> PathBuf {
    let out = Command::new("ldd")
        .arg("/bin/true")
        .output()
        .expect("ldd (libc-bin)");
    let text = String::from_utf8(out.stdout).unwrap();
    let path = text
        .lines()
        .find(|l| l.contains("libc.so"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with('/')))
        .expect("libc in ldd output");
    PathBuf::from(path)
}

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(tmp.path()).unwrap().join("device");
    for d in ["bin", "lib/plugins", "share/py/app", "etc"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::copy("/bin/true", root.join("bin/viewer")).unwrap();
    fs::write(root.join("bin/start.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    set_mode(&root.join("bin/start.sh"), 0o755);
    fs::copy(real_library(), root.join("lib/libdicom.so.3")).unwrap();
    // A library without a library name: found by its ELF header (ET_DYN, no x bit).
    fs::copy(real_library(), root.join("lib/plugins/codec")).unwrap();
    set_mode(&root.join("lib/plugins/codec"), 0o644);
    fs::write(root.join("share/py/app/main.py"), "print('hi')\n").unwrap();
    fs::write(root.join("share/py/app/data.json"), "{}\n").unwrap();
    fs::write(root.join("etc/viewer.conf"), "aet=VIEWER\n").unwrap();
    Tree { _tmp: tmp, root }
}

fn profile(root: &Path) -> VerifiedProfile {
    let (p, problems) =
        medguard_profile::create(root, CreateOptions::default(), &Progress::default()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    VerifiedProfile::from_own(p)
}

#[test]
fn build_classifies_executables_libraries_scripts_and_applies_rules() {
    let t = tree();
    let r = t.root.display().to_string();
    let rules = ListRules::from_toml(&format!(
        r#"
[[scripts]]
interpreter = "/usr/bin/python3"
dir = "{r}/share/py"
extensions = ["py"]

[[exception]]
path = "{r}/bin/updater"
reason = "rewritten by the vendor's updater"
"#
    ))
    .unwrap();
    let (list, summary) = build(&profile(&t.root), &rules, &t.root).unwrap();
    let kind = |p: &str| {
        list.get(format!("{r}{p}").as_bytes()).map(|e| {
            (
                e.listing,
                e.interpreter
                    .as_deref()
                    .map(|i| String::from_utf8_lossy(i).into_owned()),
            )
        })
    };
    assert_eq!(kind("/bin/viewer"), Some((Listing::Executable, None)));
    assert_eq!(
        kind("/bin/start.sh"),
        Some((Listing::Script, Some("/bin/sh".into())))
    );
    assert_eq!(kind("/lib/libdicom.so.3"), Some((Listing::Library, None)));
    assert_eq!(kind("/lib/plugins/codec"), Some((Listing::Library, None)));
    assert_eq!(
        kind("/share/py/app/main.py"),
        Some((Listing::Script, Some("/usr/bin/python3".into())))
    );
    assert_eq!(kind("/share/py/app/data.json"), None);
    assert_eq!(kind("/etc/viewer.conf"), None);
    assert_eq!(kind("/bin/updater"), Some((Listing::Exception, None)));
    assert_eq!(
        (
            summary.executables,
            summary.libraries,
            summary.scripts,
            summary.exceptions
        ),
        (1, 2, 2, 1)
    );
    assert_eq!(summary.classified_without_tree, 0);
    // The listed digest is the profile's.
    let viewer = list.get(format!("{r}/bin/viewer").as_bytes()).unwrap();
    let Content::Exact { blake3, .. } = viewer.content else {
        panic!()
    };
    assert_eq!(
        blake3,
        *blake3::hash(&fs::read("/bin/true").unwrap()).as_bytes()
    );

    // Without the tree, mode and name decide: the script without x bit and the library
    // without a library name are missed, as documented.
    let elsewhere = tempfile::tempdir().unwrap();
    let (list2, summary2) =
        build(&profile(&t.root), &ListRules::default(), elsewhere.path()).unwrap();
    assert!(summary2.classified_without_tree > 0);
    assert_eq!(list2.entries().len(), 3, "{:?}", list2.entries());
}

/// An enforcer on `dir` that records its denials; stopped on drop.
struct Running {
    enforcer: Option<Enforcer>,
    denials: Arc<Mutex<Vec<Denial>>>,
}

impl Running {
    fn start(
        list: Allowlist,
        dir: &Path,
        options: impl FnOnce(&mut EnforceOptions),
        audit: Option<&Path>,
    ) -> Self {
        let mut o = EnforceOptions {
            mode: Mode::Enforce,
            marks: vec![Mark::Directory(dir.to_owned())],
            timeout: Duration::from_secs(5),
            on_timeout: TimeoutAnswer::Deny,
            libraries: false,
            kernel_cache: true,
            clock: Arc::new(FixedClock(time::OffsetDateTime::UNIX_EPOCH)),
            source_id: "test-device".into(),
        };
        options(&mut o);
        let audit = audit.map(|d| AuditWriter::open(d, WriterOptions::default()).unwrap());
        let denials = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&denials);
        let enforcer = Enforcer::start(
            Arc::new(VerifiedAllowlist::from_own(list)),
            o,
            audit,
            Box::new(move |d| sink.lock().unwrap().push(d.clone())),
        )
        .unwrap();
        Self {
            enforcer: Some(enforcer),
            denials,
        }
    }

    fn stop(&mut self) -> medguard_allowlist::enforce::StatsSnapshot {
        self.enforcer.take().unwrap().stop().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(e) = self.enforcer.take() {
            let _ = e.stop();
        }
    }
}

fn run(p: &Path) -> Result<i32, i32> {
    match Command::new(p).status() {
        Ok(s) => Ok(s.code().unwrap_or(-1)),
        Err(e) => Err(e.raw_os_error().unwrap_or(-1)),
    }
}

fn exact(path: &Path, listing: Listing) -> ListEntry {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = fs::read(path).unwrap();
    ListEntry {
        path: path.as_os_str().as_bytes().into(),
        listing,
        content: Content::Exact {
            blake3: *blake3::hash(&bytes).as_bytes(),
            size: bytes.len() as u64,
        },
        interpreter: None,
        reason: None,
    }
}

fn header() -> ListHeader {
    ListHeader {
        profile_signer: None,
        root: b"/"[..].into(),
    }
}

#[test]
fn enforcer_denies_logs_and_rechecks_replaced_binaries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap().join("bin");
    fs::create_dir_all(dir.join("sub")).unwrap();
    let viewer = dir.join("viewer");
    let nested = dir.join("sub/tool");
    let rogue = dir.join("rogue");
    fs::copy("/bin/true", &viewer).unwrap();
    fs::copy("/bin/true", &nested).unwrap();
    fs::copy("/bin/false", &rogue).unwrap();
    // Another hard link to a listed file: the path is not listed. (A file with more than
    // one link is never left to the kernel's cache, so each path is judged.)
    fs::hard_link(&nested, dir.join("alias")).unwrap();
    let list = Allowlist::new(
        header(),
        vec![
            exact(&viewer, Listing::Executable),
            exact(&nested, Listing::Executable),
        ],
    );
    let audit_dir = tmp.path().join("audit");
    let mut e = Running::start(list, &dir, |_| {}, Some(&audit_dir));

    assert_eq!(run(&viewer), Ok(0));
    assert_eq!(run(&nested), Ok(0), "subdirectories are marked too");
    assert_eq!(run(&rogue), Err(EPERM));
    assert_eq!(run(&viewer), Ok(0));
    // Replaced by rename (new inode): judged again.
    let tmp_copy = dir.join(".new");
    fs::copy("/bin/false", &tmp_copy).unwrap();
    fs::rename(&tmp_copy, &viewer).unwrap();
    assert_eq!(run(&viewer), Err(EPERM));
    assert_eq!(run(&dir.join("alias")), Err(EPERM));
    assert_eq!(run(&nested), Ok(0));

    let stats = e.stop();
    assert_eq!(stats.denied, 3, "{stats:?}");
    // viewer's second run never reached us; nested (two links) was judged both times.
    assert_eq!(stats.kernel_cached, 1, "{stats:?}");
    assert_eq!(stats.events, 6, "{stats:?}");
    assert_eq!(stats.timeouts + stats.watchdog, 0);
    let denials = e.denials.lock().unwrap().clone();
    assert_eq!(denials.len(), 3);
    assert_eq!(denials[0].path, rogue);
    assert_eq!(
        denials[0].cause,
        Cause::Verdict {
            verdict: Verdict::NotListed
        }
    );
    assert!(matches!(
        &denials[1].cause,
        Cause::Verdict {
            verdict: Verdict::DigestDiffers { .. }
        }
    ));
    assert!(denials.iter().all(|d| d.denied && d.access == Access::Exec));

    // Stopped: marks are gone.
    assert_eq!(run(&rogue), Ok(1));
    assert_eq!(run(&viewer), Ok(1));

    let kinds: Vec<EventKind> = AuditLog::open(&audit_dir)
        .unwrap()
        .records()
        .unwrap()
        .map(|r| r.unwrap().event.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::ApplicationStart,
            EventKind::ExecutableDenied,
            EventKind::ExecutableDenied,
            EventKind::ExecutableDenied,
            EventKind::ApplicationStop
        ]
    );
}

/// Waits (bounded) until `done` holds, polling.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn files_left_to_the_kernel_are_judged_again_once_written() {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let by_write = dir.join("by-write");
    let by_mapping = dir.join("by-mapping");
    let by_truncate = dir.join("by-truncate");
    for p in [&by_write, &by_mapping, &by_truncate] {
        fs::copy("/bin/true", p).unwrap();
    }
    let list = Allowlist::new(
        header(),
        [&by_write, &by_mapping, &by_truncate]
            .into_iter()
            .map(|p| exact(p, Listing::Executable))
            .collect(),
    );
    let mut e = Running::start(list, &dir, |_| {}, None);
    let stats = |e: &Running| e.enforcer.as_ref().unwrap().stats().snapshot();
    for p in [&by_write, &by_mapping, &by_truncate] {
        assert_eq!(run(p), Ok(0));
        assert_eq!(run(p), Ok(0));
    }
    let before = stats(&e);
    assert_eq!(before.kernel_cached, 3, "{before:?}");
    assert_eq!(before.events, 3, "second runs raise no event: {before:?}");

    // write(2): the kernel clears the ignore mask itself (FS_MODIFY), before any exec.
    let mut f = fs::OpenOptions::new().write(true).open(&by_write).unwrap();
    f.seek(SeekFrom::Start(200)).unwrap();
    f.write_all(b"\xff\xfe").unwrap();
    drop(f);
    assert_eq!(run(&by_write), Err(EPERM));

    // A write through a shared mapping raises no FS_MODIFY: FAN_CLOSE_WRITE, after the
    // mapping is gone, makes the enforcer drop the mark.
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import mmap,sys\n\
             with open(sys.argv[1], 'r+b') as f:\n\
             \x20   m = mmap.mmap(f.fileno(), 0)\n\
             \x20   m[300] = m[300] ^ 0xff\n\
             \x20   m.close()\n",
        )
        .arg(&by_mapping)
        .status()
        .expect("python3");
    assert!(status.success());
    let forgotten = before.kernel_forgotten;
    assert!(eventually(|| stats(&e).kernel_forgotten > forgotten + 1));
    assert_eq!(run(&by_mapping), Err(EPERM));

    // truncate(2) raises FS_MODIFY too.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&by_truncate)
        .unwrap();
    f.set_len(100).unwrap();
    drop(f);
    assert_eq!(run(&by_truncate), Err(EPERM));

    let after = e.stop();
    assert_eq!(after.denied, 3, "{after:?}");
    assert_eq!(after.kernel_cached, 3, "{after:?}");
}

#[test]
fn without_the_kernel_cache_every_exec_is_judged_here() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let viewer = dir.join("viewer");
    fs::copy("/bin/true", &viewer).unwrap();
    let list = Allowlist::new(header(), vec![exact(&viewer, Listing::Executable)]);
    let mut e = Running::start(list, &dir, |o| o.kernel_cache = false, None);
    for _ in 0..3 {
        assert_eq!(run(&viewer), Ok(0));
    }
    let stats = e.stop();
    assert_eq!((stats.events, stats.cache_hits), (3, 2), "{stats:?}");
    assert_eq!(stats.kernel_cached, 0);
}

#[test]
fn library_opens_are_judged_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let listed = dir.join("liblisted.so.1");
    let unlisted = dir.join("libunlisted.so.1");
    let plugin = dir.join("plugin");
    let notes = dir.join("notes.txt");
    for p in [&listed, &unlisted, &plugin] {
        fs::copy(real_library(), p).unwrap();
        set_mode(p, 0o644);
    }
    fs::write(&notes, "text").unwrap();
    let list = Allowlist::new(header(), vec![exact(&listed, Listing::Library)]);
    let mut e = Running::start(list, &dir, |o| o.libraries = true, None);
    // Opens from another process (our own are always allowed).
    let open = |p: &Path| {
        let out = Command::new("cat")
            .arg(p)
            .output()
            .expect("cat (coreutils)");
        if out.status.success() {
            Ok(())
        } else {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
                "{out:?}"
            );
            Err(Some(EPERM))
        }
    };
    assert_eq!(open(&listed), Ok(()));
    assert_eq!(open(&notes), Ok(()), "other files open as usual");
    assert_eq!(open(&unlisted), Err(Some(EPERM)));
    assert_eq!(
        open(&plugin),
        Err(Some(EPERM)),
        "ELF ET_DYN without x bit is a library"
    );
    // ld.so is refused the unlisted copy of libc and falls back to the system's.
    let status = Command::new("/bin/true")
        .env("LD_LIBRARY_PATH", &dir)
        .env("LD_PRELOAD", &unlisted)
        .status()
        .unwrap();
    assert!(status.success());
    let stats = e.stop();
    assert!(stats.denied >= 3, "{stats:?}");
    let denials = e.denials.lock().unwrap().clone();
    assert!(denials.iter().all(|d| d.access == Access::LibraryOpen));
    assert!(denials.iter().any(|d| d.path == unlisted));
    assert_eq!(open(&unlisted), Ok(()));
}

#[test]
fn a_stuck_decision_is_answered_on_timeout_and_the_watchdog_answers_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    // A listed, sparse 4 GiB "program": hashing it takes far longer than the timeout.
    let huge = dir.join("huge");
    let f = fs::File::create(&huge).unwrap();
    f.set_len(4 << 30).unwrap();
    drop(f);
    set_mode(&huge, 0o755);
    let viewer = dir.join("viewer");
    fs::copy("/bin/true", &viewer).unwrap();
    let list = Allowlist::new(
        header(),
        vec![
            ListEntry {
                content: Content::Exact {
                    blake3: [0; 32],
                    size: 4 << 30,
                },
                ..exact(&viewer, Listing::Executable)
            }
            .with_path(&huge),
            exact(&viewer, Listing::Executable),
        ],
    );
    let mut e = Running::start(list, &dir, |o| o.timeout = Duration::from_millis(100), None);
    assert_eq!(run(&huge), Err(EPERM), "answered per on_timeout=deny");
    // The decider is still hashing: the next undecided exec is answered at once.
    assert_eq!(run(&viewer), Err(EPERM));
    let stats = e.stop();
    assert_eq!((stats.timeouts, stats.watchdog), (1, 1), "{stats:?}");
    let denials = e.denials.lock().unwrap().clone();
    assert_eq!(denials[0].cause, Cause::Timeout);
    assert_eq!(denials[1].cause, Cause::Watchdog);
    assert_eq!(run(&viewer), Ok(0));
}

#[test]
fn audit_mode_allows_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let rogue = dir.join("rogue");
    fs::copy("/bin/true", &rogue).unwrap();
    let mut e = Running::start(
        Allowlist::new(header(), Vec::new()),
        &dir,
        |o| o.mode = Mode::Audit,
        None,
    );
    assert_eq!(run(&rogue), Ok(0));
    let stats = e.stop();
    assert_eq!((stats.denied, stats.would_deny), (0, 1));
    assert!(!e.denials.lock().unwrap()[0].denied);
}

trait WithPath {
    fn with_path(self, p: &Path) -> Self;
}

impl WithPath for ListEntry {
    fn with_path(mut self, p: &Path) -> Self {
        use std::os::unix::ffi::OsStrExt as _;
        self.path = p.as_os_str().as_bytes().into();
        self
    }
}
