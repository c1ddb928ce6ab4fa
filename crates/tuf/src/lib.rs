//! Delivery of patch bundles through The Update Framework (TUF).
//!
//! This crate owns the vendor's TUF repository on disk (create, stage bundles per device
//! model, publish a consistent snapshot, rotate keys) and the device's TUF client (refresh the
//! metadata over HTTP(S) or from a `file://` URL, pick the newest bundle for the device's
//! model, download it into a file whose length and hash were checked). It must not install
//! anything and must not print: the installer (`medguard-update`) takes the downloaded file
//! and still checks the bundle's own Ed25519 signature.
//!
//! # Why `tough`
//! The client is `tough` (awslabs; maintained, releases follow its advisories, TUF 1.0 with
//! delegations, aws-lc-rs and rustls like the rest of medguard, no OpenSSL). `rust-tuf` was
//! not chosen: it is a rarely released beta on a second HTTP and crypto stack. The repository
//! side uses `tough`'s schema types (`Root`, `Targets`, `Delegations`, `Snapshot`,
//! `Timestamp`) and its signers, but the editing workflow is ours ([`editor`]): `tough`'s
//! `RepositoryEditor` starts from a `Repository` that has passed the client workflow (so a
//! repository whose root was just rotated must be loadable first), edits delegated roles
//! one `TargetsEditor` at a time, and writes files in its own order. What medguard needs
//! (one delegated role per device model, all re-signed with the targets keys on each
//! publish, roots cross-signed by old and new keys, `timestamp.json` renamed into place
//! last) is a few hundred lines over `tough`'s types, so the narrow editor is ours.
//! The TUF conformance suite passes 93 of its 113 tests against this client (see
//! `bench/tuf-conformance.sh`); the failures are `tough`'s: it loads every delegated role
//! eagerly instead of searching the delegation graph per target, keeps delegated roles under
//! versioned names and re-serialises metadata in its cache, and requires SHA-256 target
//! hashes.
//!
//! # HTTP
//! `file://` goes through `tough`'s `FilesystemTransport`; `http://` and `https://` go through
//! our own transport (`transport.rs`) over `reqwest` (the client `tough` itself uses, on
//! rustls with aws-lc-rs and the platform's trusted roots), with `tough`'s `http` feature off
//! so nothing falls back to `tough`'s `HttpTransport`. That transport (0.24) cannot be
//! configured to do the right thing:
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
//! [`TufError::Timeout`]. Errors arrive through the byte stream, as with `tough`'s transport,
//! because `tough`'s root walk takes an error from `fetch` itself for "no newer root". Length
//! limits are not the transport's: `tough` (metadata) and [`fetch`] (targets) count
//! the bytes it yields.
//!
//! # Keys
//! medguard's keys are PKCS#8 PEM files (`medguard key generate`). `tough` parses PKCS#8
//! Ed25519 only as DER, so [`RoleKey::load`] strips the PEM armour and hands the DER over.
//!
//! # Time
//! `tough` checks expiry against the system clock (and refuses a clock that stepped back
//! since the last refresh). The client also takes the time as a parameter and checks every
//! role's expiry against it, so tests and callers control the clock; both checks must pass.
#![forbid(unsafe_code)]

mod client;
pub mod editor;
mod error;
mod keys;
pub mod metadata;
mod transport;

pub use client::{FetchOptions, FetchedBundle, Refreshed, fetch, refresh, refresh_with_tls};
pub use editor::{
    AddOptions, InitOptions, PublishOptions, Published, RepoKeys, RotateOptions, add, add_all,
    init, publish, rotate_key,
};
pub use error::{Cause, Role, TufError};
pub use keys::RoleKey;
pub use metadata::{BundleInfo, TrustedRoot};
pub use transport::Timeouts;

/// Runs a future of `tough`'s async API to completion on a small runtime of its own: the
/// callers of this crate (the CLI, the agent's update step) are synchronous.
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
