//! The client over HTTP against a server that behaves, and against one that does not: no
//! wait before a request, a 404 asked once, transient failures tried again a bounded number
//! of times, a broken body resumed, and a server that never answers given up on in time with
//! its own error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, SystemTime};

use common::Lab;
use common::http::{Answer, Server};
use medguard_tuf::{Timeouts, TufError};

const BUNDLE: &[u8] = b"the genuine bundle, long enough to be cut in the middle";

fn lab_with_bundle(now: SystemTime) -> Lab {
    let lab = Lab::new(now);
    lab.add("CT-9000", "ct.mgb", "1.0", BUNDLE);
    lab.publish(now);
    lab
}

fn short() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(2),
    }
}

/// A refresh over HTTP asks each file once. (`tough`'s `HttpTransport` also slept its
/// initial backoff, 100 ms, before every first try: 0.6 s of a 0.86 s refresh. Our transport
/// pauses only before a retry; `bench/tuf.sh` measures the time, tests don't.)
#[test]
fn refresh_over_http_asks_each_file_once() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::files(lab.repo.clone());
    let device = lab.device("d");
    let got = lab
        .fetch_from(&server.url, &device, "CT-9000", now, Timeouts::default())
        .unwrap();
    assert_eq!(std::fs::read(&got.path).unwrap(), BUNDLE);
    let requests = server.requests();
    assert!(requests.len() >= 6, "{requests:?}");
    let mut paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), requests.len(), "{requests:?}");
}

#[test]
fn a_missing_next_root_ends_the_root_walk_and_is_asked_once() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::files(lab.repo.clone());
    lab.fetch_from(
        &server.url,
        &lab.device("d"),
        "CT-9000",
        now,
        Timeouts::default(),
    )
    .unwrap();
    assert_eq!(server.count("/metadata/2.root.json"), 1);
}

#[test]
fn a_server_that_accepts_and_never_answers_is_a_timeout() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::start(lab.repo.clone(), |_, _| Answer::Stall);
    let device = lab.device("d");
    let err = lab
        .fetch_from(&server.url, &device, "CT-9000", now, short())
        .unwrap_err();
    assert!(
        matches!(err, TufError::Timeout { ref url, after } if url.ends_with("/metadata/2.root.json") && after == short().request),
        "{err:?}"
    );
    // Not taken for "no newer root", and not tried again: one request, one timeout.
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    common::assert_untouched(&device);
}

#[test]
fn a_target_download_that_stalls_is_a_timeout() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::start(lab.repo.clone(), |path, _| {
        if path.starts_with("/targets/") {
            Answer::Stall
        } else {
            Answer::File
        }
    });
    let device = lab.device("d");
    let err = lab
        .fetch_from(&server.url, &device, "CT-9000", now, short())
        .unwrap_err();
    assert!(
        matches!(err, TufError::Timeout { ref url, .. } if url.contains("/targets/CT-9000/")),
        "{err:?}"
    );
    common::assert_untouched(&device);
}

#[test]
fn a_transient_server_error_is_tried_again() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::start(lab.repo.clone(), |path, nth| {
        if path.ends_with("/timestamp.json") && nth == 0 {
            Answer::Status(503)
        } else {
            Answer::File
        }
    });
    let got = lab
        .fetch_from(&server.url, &lab.device("d"), "CT-9000", now, short())
        .unwrap();
    assert_eq!(got.bundle_version, "1.0");
    assert_eq!(server.count("/metadata/timestamp.json"), 2);
}

#[test]
fn a_failing_server_is_given_up_on_after_three_tries() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::start(lab.repo.clone(), |path, _| {
        if path.ends_with("/timestamp.json") {
            Answer::Status(503)
        } else {
            Answer::File
        }
    });
    let device = lab.device("d");
    let err = lab
        .fetch_from(&server.url, &device, "CT-9000", now, short())
        .unwrap_err();
    assert!(
        matches!(err, TufError::Transport { ref url, ref reason, .. } if url.ends_with("/metadata/timestamp.json") && reason.contains("503")),
        "{err:?}"
    );
    assert_eq!(server.count("/metadata/timestamp.json"), 3);
    common::assert_untouched(&device);
}

#[test]
fn a_refusal_is_not_tried_again() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::start(lab.repo.clone(), |path, _| {
        if path.ends_with("/timestamp.json") {
            Answer::Status(400)
        } else {
            Answer::File
        }
    });
    let err = lab
        .fetch_from(&server.url, &lab.device("d"), "CT-9000", now, short())
        .unwrap_err();
    assert!(matches!(err, TufError::Transport { .. }), "{err:?}");
    assert_eq!(server.count("/metadata/timestamp.json"), 1);
}

#[test]
fn a_body_cut_short_is_resumed_where_it_broke() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let server = Server::start(lab.repo.clone(), |path, nth| {
        if path.starts_with("/targets/") && nth == 0 {
            Answer::Cut(10)
        } else {
            Answer::File
        }
    });
    let got = lab
        .fetch_from(&server.url, &lab.device("d"), "CT-9000", now, short())
        .unwrap();
    assert_eq!(std::fs::read(&got.path).unwrap(), BUNDLE);
    let ranges: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/targets/"))
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [None, Some("bytes=10-".to_owned())]);
}

#[test]
fn a_closed_port_is_a_transport_error() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let device = lab.device("d");
    let err = lab
        .fetch_from(
            &format!("http://127.0.0.1:{port}"),
            &device,
            "CT-9000",
            now,
            short(),
        )
        .unwrap_err();
    assert!(matches!(err, TufError::Transport { .. }), "{err:?}");
    common::assert_untouched(&device);
}

#[test]
fn a_resume_answered_with_the_whole_file_is_refused() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    // Cut the first answer, then ignore the range and send the whole file again.
    let server = Server::start(lab.repo.clone(), |path, nth| match nth {
        0 if path.starts_with("/targets/") => Answer::Cut(10),
        _ if path.starts_with("/targets/") => Answer::IgnoreRange,
        _ => Answer::File,
    });
    let device = lab.device("d");
    let err = lab
        .fetch_from(&server.url, &device, "CT-9000", now, short())
        .unwrap_err();
    assert!(
        matches!(err, TufError::Transport { ref reason, .. } if reason.contains("resume")),
        "{err:?}"
    );
    common::assert_untouched(&device);
}

#[test]
fn endless_metadata_over_http_is_cut_at_its_limit() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    std::fs::write(lab.meta("timestamp.json"), vec![b' '; 4 << 20]).unwrap();
    let server = Server::files(lab.repo.clone());
    let device = lab.device("d");
    let err = lab
        .fetch_from(&server.url, &device, "CT-9000", now, short())
        .unwrap_err();
    assert!(
        matches!(
            err,
            // The client's limit for a timestamp (python-tuf's too): 16 KiB.
            TufError::TooLong { limit: 16_384, .. }
        ),
        "{err:?}"
    );
    common::assert_untouched(&device);
}

#[test]
fn endless_target_over_http_is_cut_at_its_length() {
    let now = SystemTime::now();
    let lab = lab_with_bundle(now);
    let dir = lab.repo.join("targets/CT-9000");
    let target = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&target).unwrap();
    bytes.extend(std::iter::repeat_n(b'A', 1 << 20));
    std::fs::remove_file(&target).unwrap(); // a hard link to the staged copy: replace it
    std::fs::write(&target, bytes).unwrap();
    let server = Server::files(lab.repo.clone());
    let device = lab.device("d");
    let err = lab
        .fetch_from(&server.url, &device, "CT-9000", now, short())
        .unwrap_err();
    let len = BUNDLE.len() as u64;
    assert!(
        matches!(err, TufError::TooLong { limit, .. } if limit == len),
        "{err:?}"
    );
    common::assert_untouched(&device);
}
