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

pub use client::{FetchOptions, FetchedBundle, Refreshed, fetch, refresh};
pub use editor::{
    AddOptions, InitOptions, PublishOptions, Published, RepoKeys, RotateOptions, add, add_all,
    init, publish, rotate_key,
};
pub use error::{Role, TufError};
pub use keys::RoleKey;
pub use metadata::{BundleInfo, TrustedRoot};

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
