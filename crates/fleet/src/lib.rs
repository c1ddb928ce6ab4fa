//! The fleet: every enrolled device, what it reported, and its security status.
//!
//! This crate owns the domain of the fleet server:
//! - sites (hospital tenants) and device models (their clinical criticality, network exposure,
//!   expected report interval);
//! - enrollment: one-time tokens ([`Fleet::create_enrollment_token`]), the device's first
//!   certificate from its own certificate request ([`Fleet::enroll`]), renewals, revocation,
//!   and the authentication of each device request by its certificate
//!   ([`Fleet::authenticate_device`]);
//! - reports ([`Fleet::ingest_reports`]): each stored exactly once per device and sequence
//!   number, in one transaction per batch; a retry is acknowledged as a duplicate; an older
//!   report is refused;
//! - the latest state of each device and its security status ([`status`]): integrity,
//!   allowlist, malware scan, vulnerabilities, patches, audit trail, last seen — "stale" when
//!   a device is silent beyond its expected interval, "unknown" where nothing proves it;
//! - device audit chains ([`audit_chain`]): each upload must continue the chain the server
//!   holds, so a deleted or truncated device log is detected here;
//! - advisories and fleet findings ([`findings`]): each distinct inventory is matched once
//!   per model context and advisory revision, and each device's findings are kept over time
//!   (new, fixed, reopened);
//! - API bearer tokens for scripts, and the security events the server records;
//! - patch records ([`Fleet::change_patch_record`]), their evidence and the released patches per
//!   model, and staged rollouts ([`rollouts`]): which device installs what at its check-in.
//!
//! It must not know HTTP (the server crate maps these calls to routes and errors to problem
//! documents) and holds no SQL outside its own modules. Every time comes from a
//! [`medguard_host::Clock`]. It keeps no state that another server process on the same
//! database could contradict: the only in-memory state is a cache of matched advisories keyed
//! by the advisory revision the database holds.
#![forbid(unsafe_code)]

pub mod audit_chain;
mod enroll;
mod error;
mod events;
pub mod findings;
mod ingest;
mod mds2;
mod patches;
mod people;
mod query;
pub mod rollouts;
pub mod state;
pub mod status;
pub mod store;

use std::sync::Arc;

use medguard_host::Clock;
use medguard_pki::CertificateAuthority;
use time::{Duration, OffsetDateTime};

pub use enroll::{AuthenticatedDevice, EnrollmentToken, IssuedToken};
pub use error::FleetError;
pub use events::{SecurityEvent, SecurityEventInput};
pub use findings::{AdvisoryIngest, FindingFilter, FleetFinding};
pub use patches::{EvidenceFile, MAX_EVIDENCE_BYTES, PatchSummary, ValidatedPatch};
pub use people::{
    BreakGlassRecord, IssuedApiToken, IssuedSetup, LoginRefused, PeoplePolicy, Person, PersonToken,
    Principal, SecondFactor, SignedIn,
};
pub use query::{DeviceDetail, DeviceFilter, DeviceSummary, Page};
pub use status::{DeviceStatus, OverallStatus};
pub use store::{Backend, Store};

/// How the fleet behaves where a deployment may choose.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// How long a device certificate is valid (short: a lost device's certificate dies soon).
    pub device_certificate_validity: Duration,
    /// How long a device may stay silent before it is stale, until it says otherwise in its
    /// health report.
    pub default_report_within: Duration,
    /// Passphrase hashing, session and guessing limits for people.
    pub people: PeoplePolicy,
}

impl Default for FleetSettings {
    fn default() -> Self {
        Self {
            device_certificate_validity: Duration::days(7),
            default_report_within: Duration::hours(2),
            people: PeoplePolicy::default(),
        }
    }
}

/// The fleet, over its store.
#[derive(Clone)]
pub struct Fleet {
    store: Store,
    clock: Arc<dyn Clock>,
    ca: Arc<CertificateAuthority>,
    settings: FleetSettings,
    matching: Arc<findings::MatchCache>,
    rollout_cache: Arc<rollouts::RolloutCache>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("backend", &self.store.backend())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// The fleet over `store`, issuing device certificates with `ca`.
    #[must_use]
    pub fn new(
        store: Store,
        ca: CertificateAuthority,
        clock: Arc<dyn Clock>,
        settings: FleetSettings,
    ) -> Self {
        Self {
            store,
            clock,
            ca: Arc::new(ca),
            settings,
            matching: Arc::new(findings::MatchCache::default()),
            rollout_cache: Arc::new(rollouts::RolloutCache::default()),
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The fleet CA's certificate (PEM).
    #[must_use]
    pub fn ca_certificate_pem(&self) -> &str {
        self.ca.certificate_pem()
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

/// A Unix time as RFC 3339 text, for documents.
pub(crate) fn rfc3339(secs: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

/// 32 random bytes.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], FleetError> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut b = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| FleetError::Invalid {
            reason: "the system has no randomness".into(),
        })?;
    Ok(b)
}
