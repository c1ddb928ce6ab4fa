//! The vendor's release checks before a bundle goes into a delivery repository: the bundle's
//! signature, and its version and device models reconciled with what the release step was
//! told. `medguard repo add` calls this; the server's release step will too.
//!
//! This module must not write a repository (`medguard-tuf` does) and never prints.

use std::path::{Path, PathBuf};

use medguard_digest::PublicKey;

use crate::UpdateError;
use crate::bundle::UnverifiedBundle;

/// What the release step was told about a bundle.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseRequest<'a> {
    /// The bundle file.
    pub bundle: &'a Path,
    /// The vendor's bundle signing key: with it, the bundle's signature is checked and its
    /// version and models come from its verified manifest.
    pub key: Option<&'a PublicKey>,
    /// Device models given by the operator (override the manifest's when not empty).
    pub models: &'a [String],
    /// Version given by the operator (must agree with the manifest's when a key is given).
    pub version: Option<&'a str>,
}

/// The facts a delivery repository records about a released bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The bundle's version.
    pub version: String,
    /// The device models it is for (never empty).
    pub models: Vec<String>,
    /// Whether the bundle's signature was checked against the vendor key.
    pub verified: bool,
}

/// Why a bundle cannot be released.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The bundle is unreadable, malformed, or not signed by the key.
    #[error("checking bundle {path}: {source}")]
    Bundle {
        /// The bundle.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<UpdateError>,
    },
    /// The version given differs from the one the signed manifest states.
    #[error("{path}: --bundle-version {given} but the bundle says {bundle}")]
    VersionMismatch {
        /// The bundle.
        path: PathBuf,
        /// The version given.
        given: String,
        /// The manifest's version.
        bundle: String,
    },
    /// No version given and no key to read it from the bundle.
    #[error("give --bundle-version (or --bundle-key to read it from the bundle)")]
    NoVersion,
    /// No device model given and the bundle names none.
    #[error("{path}: give --model: the bundle names no device model")]
    NoModel {
        /// The bundle.
        path: PathBuf,
    },
}

/// Checks a bundle for release: with a key, verifies it and takes version and models from
/// its manifest (a version given must agree; models given replace the manifest's); without
/// one, takes them from the request. The result always names at least one model.
///
/// # Errors
/// [`ReleaseError`].
pub fn check_release(request: &ReleaseRequest<'_>) -> Result<Release, ReleaseError> {
    let path = request.bundle;
    let (version, models, verified) = match request.key {
        Some(key) => {
            let bundle = UnverifiedBundle::open(path)
                .and_then(|b| b.verify(std::slice::from_ref(key)))
                .map_err(|source| ReleaseError::Bundle {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?;
            let manifest = bundle.manifest();
            if let Some(given) = request.version
                && given != manifest.version
            {
                return Err(ReleaseError::VersionMismatch {
                    path: path.to_owned(),
                    given: given.to_owned(),
                    bundle: manifest.version.clone(),
                });
            }
            let models = if request.models.is_empty() {
                manifest.models.clone()
            } else {
                request.models.to_vec()
            };
            (manifest.version.clone(), models, true)
        }
        None => (
            request.version.ok_or(ReleaseError::NoVersion)?.to_owned(),
            request.models.to_vec(),
            false,
        ),
    };
    if models.is_empty() {
        return Err(ReleaseError::NoModel {
            path: path.to_owned(),
        });
    }
    Ok(Release {
        version,
        models,
        verified,
    })
}
