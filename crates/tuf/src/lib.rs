//! Delivery of patch bundles through The Update Framework (TUF).
//!
//! This crate owns the vendor's TUF repository on disk (create, stage bundles per device
//! model, publish a consistent snapshot, rotate keys) and the device's TUF client (refresh the
//! metadata over HTTP(S) or from a `file://` URL, pick the newest bundle for the device's
//! model, download it into a file whose length and hash were checked). It must not install
//! anything and must not print: the installer (`medguard-update`) takes the downloaded file
//! and still checks the bundle's own Ed25519 signature.
//!
//! # The client workflow is ours, `tough` supplies the pieces
//! `tough` (awslabs; maintained, releases follow its advisories, aws-lc-rs and rustls like
//! the rest of medguard, no OpenSSL) provides the schema types, keys and signature checks;
//! `rust-tuf` was not chosen (a rarely released beta on a second HTTP and crypto stack).
//! The repository side uses `tough`'s schema types (`Root`, `Targets`, `Delegations`,
//! `Snapshot`, `Timestamp`) and its signers, but the editing workflow is ours ([`editor`]):
//! `tough`'s `RepositoryEditor` starts from a `Repository` that has passed the client
//! workflow (so a repository whose root was just rotated must be loadable first), edits
//! delegated roles one `TargetsEditor` at a time, and writes files in its own order. What
//! medguard needs (one delegated role per device model, all re-signed with the targets keys
//! on each publish, roots cross-signed by old and new keys, `timestamp.json` renamed into
//! place last) is a few hundred lines over `tough`'s types, so the narrow editor is ours.
//!
//! The client workflow is ours too (`workflow.rs`, TUF 1.0.x §5.3–5.7 as python-tuf's
//! `ngclient` runs it): `tough`'s `RepositoryLoader` passed only 93 of the 113 tests of the
//! TUF conformance suite, because it loads every delegated role eagerly instead of searching
//! the delegation graph per target (so one bad delegated role denied every target), keeps
//! delegated roles in its cache under versioned names and re-serialised, requires SHA-256
//! target hashes, and takes a timestamp of the same version as a new one. Ours verifies
//! signatures over the canonical form of the metadata *as received* with `tough`'s keys and
//! checks (`schema.rs`), reads it into types of our own (SHA-512-only targets, unknown
//! fields kept in what is signed), stores the exact bytes served, and looks delegated roles
//! up per target. It passes all 113 (see `bench/tuf-conformance.sh`; python-tuf passes 112).
//!
//! # HTTP
//! `file://` goes through `tough`'s `FilesystemTransport`; `http://` and `https://` go through
//! our own transport (`transport.rs`) over `reqwest` (on rustls with aws-lc-rs and the
//! platform's trusted roots), with `tough`'s `http` feature off so nothing falls back to
//! `tough`'s `HttpTransport`. That transport (0.24) cannot be configured to do the right
//! thing:
//! - it sleeps its `initial_backoff` before *every* request, the first try included (its
//!   retry state starts at `initial_backoff`, and each request is `sleep(wait)` then
//!   `execute`). With its defaults a refresh waited 100 ms per file: `bench/tuf.sh` (10,001
//!   targets) took 0.87 s against python-tuf's 0.45 s, and `strace` showed ~100 ms of idle
//!   timer waits before each of its six `connect`s (0.61 s in all) while the 404 on
//!   `2.root.json` was asked once. Setting `initial_backoff` to zero would also make every
//!   retry immediate, since each later pause is the previous one times the backoff factor.
//! - it builds a new `reqwest` client for every try, which loads and parses the system's
//!   trusted roots (about 150 files, ~9 ms here) for every file, plain `http://` included,
//!   and keeps no connection for the next file.
//!
//! Ours builds one client per refresh (the roots are read at most once, and never for
//! `file://`), asks at once, and tries again only what may be transient: no connection or a
//! broken one, 408, 429, 5xx, three tries in all with 200 ms then 400 ms between them. A body
//! cut off midway is resumed with a `Range` request if the server offers byte ranges (and
//! refused if it answers with anything but the missing part). 403, 404 and 410 mean "not
//! there" (the normal end of the root walk) and are never tried again; other 4xx and
//! timeouts neither. [`Timeouts`] bounds the connection (10 s) and each request from connect
//! to last byte (30 s), so a server that accepts and never answers, or drips bytes, ends in
//! [`TufError::Timeout`]. Errors arrive through the byte stream (the transport implements
//! `tough`'s `Transport`, whose `file://` side is `tough`'s). Length limits are not the
//! transport's: the workflow (metadata: the length the role above gives, else 512 kB for a
//! root, 16 KiB for the timestamp, 2 MB for the snapshot, 10 MB for a targets role) and
//! [`fetch`] (targets) count the bytes it yields.
//!
//! # Keys
//! medguard's keys are PKCS#8 PEM files (`medguard key generate`). `tough` parses PKCS#8
//! Ed25519 only as DER, so [`RoleKey::load`] strips the PEM armour and hands the DER over.
//!
//! # Time
//! The client takes the time as a parameter and checks every role's expiry against it (the
//! callers pass the system clock), so tests and callers control the clock. `tough`'s loader
//! also refused a system clock that stepped back since the last refresh; python-tuf does not,
//! and neither does this client: a device's clock is the caller's to trust.
#![forbid(unsafe_code)]

mod client;
pub mod editor;
mod error;
mod keys;
pub mod metadata;
mod schema;
mod transport;
mod workflow;

pub use client::{FetchOptions, FetchedBundle, Refreshed, fetch, refresh, refresh_with_tls};
pub use editor::{
    AddOptions, InitOptions, PublishOptions, Published, RepoKeys, RotateOptions, add, add_all,
    init, publish, rotate_key,
};
pub use error::{Cause, Role, TufError};
pub use keys::RoleKey;
pub use metadata::{BundleInfo, TrustedRoot};
pub use schema::TargetInfo;
pub use transport::Timeouts;

/// Runs a future of `tough`'s async API (its signers) to completion on a small runtime of
/// its own: the callers of this crate (the CLI, the agent's update step) are synchronous.
pub(crate) fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output, TufError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| TufError::Io {
            path: "<tokio runtime>".into(),
            source,
        })?;
    Ok(rt.block_on(fut))
}
