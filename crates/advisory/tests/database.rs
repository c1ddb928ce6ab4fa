#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The database is updated incrementally: unchanged records are left alone, a changed record
//! replaces the stored one, an older one does not, and everything survives a reopen.

use std::path::Path;

use medguard_advisory::{Database, read_sources};

fn record(dir: &Path, id: &str, modified: &str, fixed: &str) {
    std::fs::write(
        dir.join(format!("{id}.json")),
        format!(
            r#"{{"id":"{id}","modified":"{modified}","affected":[{{"package":{{"ecosystem":"crates.io","name":"x"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
        ),
    )
    .unwrap();
}

fn ingest(db: &Path, feed: &Path) -> medguard_advisory::IngestReport {
    let mut database = Database::open(db).unwrap();
    database
        .ingest(read_sources(&[feed.to_owned()], &|| {}).unwrap())
        .unwrap()
}

#[test]
fn incremental_update_replaces_changed_and_keeps_newer() {
    let feed = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    record(feed.path(), "A-1", "2024-01-01T00:00:00Z", "1.0.1");
    record(feed.path(), "A-2", "2024-01-01T00:00:00Z", "2.0.1");
    let r = ingest(db.path(), feed.path());
    assert_eq!((r.added, r.updated, r.unchanged), (2, 0, 0));

    let r = ingest(db.path(), feed.path());
    assert_eq!((r.added, r.updated, r.unchanged), (0, 0, 2));

    record(feed.path(), "A-1", "2024-03-01T00:00:00Z", "1.0.2");
    let r = ingest(db.path(), feed.path());
    assert_eq!((r.added, r.updated, r.unchanged), (0, 1, 1));

    // An older copy of A-1 does not overwrite the newer one.
    record(feed.path(), "A-1", "2023-12-01T00:00:00Z", "1.0.0");
    let r = ingest(db.path(), feed.path());
    assert_eq!(r.stale, 1);

    let loaded = Database::open(db.path()).unwrap().load().unwrap();
    assert_eq!(loaded.len(), 2);
    let a1 = loaded.iter().find(|a| a.id == "A-1").unwrap();
    assert_eq!(a1.modified, "2024-03-01T00:00:00Z");
    assert_eq!(
        a1.affected[0].ranges[0]
            .fixed_versions()
            .collect::<Vec<_>>(),
        ["1.0.2"]
    );
}

#[test]
fn corrupt_record_is_named() {
    let feed = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    record(feed.path(), "A-1", "2024-01-01T00:00:00Z", "1.0.1");
    ingest(db.path(), feed.path());
    let records = db.path().join("records");
    let file = std::fs::read_dir(&records)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, b"{").unwrap();
    let err = Database::open(db.path()).unwrap().load().unwrap_err();
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[test]
fn zip_archives_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("feed.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for id in ["Z-1", "Z-2"] {
            zip.start_file(format!("{id}.json"), options).unwrap();
            std::io::Write::write_all(
                &mut zip,
                format!(r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z"}}"#).as_bytes(),
            )
            .unwrap();
        }
        zip.finish().unwrap();
    }
    let db = tempfile::tempdir().unwrap();
    let r = ingest(db.path(), &zip_path);
    assert_eq!(r.added, 2);
    assert!(r.rejected.is_empty());
}

/// Issue 12: the database wrote its files through its own copy of the atomic write (no
/// fsync of the records or of the directory, files left at the temporary file's mode 0600).
/// It now goes through `medguard_host::write_bytes_atomically` like every durable write:
/// ordinary files with the usual mode, and no temporary left beside them.
#[test]
fn regression_12_database_files_use_the_one_durable_write() {
    use std::os::unix::fs::PermissionsExt as _;
    let feed = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    record(feed.path(), "A-1", "2024-01-01T00:00:00Z", "1.0.1");
    record(feed.path(), "A-2", "2024-01-01T00:00:00Z", "2.0.1");
    ingest(db.path(), feed.path());
    // What a plain file gets here under the current umask, narrowed to 0644.
    let probe = feed.path().join("probe");
    std::fs::write(&probe, b"").unwrap();
    let expected = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o644;

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let index = db.path().join("index.json");
    assert_eq!(mode(&index), expected);
    let mut names: Vec<String> = std::fs::read_dir(db.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["index.json", "records"]);
    let records: Vec<_> = std::fs::read_dir(db.path().join("records"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for r in &records {
        assert!(!r.file_name().unwrap().to_string_lossy().starts_with('.'));
        assert_eq!(mode(r), expected, "{}", r.display());
    }
}

/// Issue 12: errors keep their cause as `source()` (not only its text), so callers can walk
/// the chain to the parser's error.
#[test]
fn regression_12_errors_keep_their_cause_as_source() {
    use std::error::Error as _;
    // A record that is not JSON: the syntax error's source is serde_json's error.
    let err = medguard_advisory::parse_record(b"{", false).unwrap_err();
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<serde_json::Error>())
            .is_some_and(serde_json::Error::is_eof),
        "{err:?}"
    );
    // A record that breaks the OSV schema: the schema error keeps the deserialiser's error.
    let err = medguard_advisory::parse_record(br#"{"id": "X", "modified": 7}"#, false).unwrap_err();
    assert!(
        matches!(err, medguard_advisory::SourceError::Schema { .. }),
        "{err:?}"
    );
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<serde_json::Error>())
            .is_some(),
        "{err:?}"
    );
    // A damaged index: the database error's source is serde_json's error.
    let db = tempfile::tempdir().unwrap();
    std::fs::write(db.path().join("index.json"), b"{").unwrap();
    let err = Database::open(db.path()).unwrap_err();
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<serde_json::Error>())
            .is_some(),
        "{err:?}"
    );
    // A missing source file: the io::Error is there to walk to.
    let err = read_sources(&[db.path().join("absent.json")], &|| {}).unwrap_err();
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some(),
        "{err:?}"
    );
}
