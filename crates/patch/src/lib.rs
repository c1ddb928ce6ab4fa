//! The patch record: one COTS patch carried through the white paper's six steps, as one
//! tracked record a regulator and a hospital can read.
//!
//! - Steps 1–2 (availability, risk) are the fleet findings the record is opened from
//!   ([`FindingRef`]).
//! - Step 3, impact analysis: the candidate bundle ([`BundleSummary`]: its file operations,
//!   profile diff, the components it changes, the devices it reaches) and the structured
//!   [`ImpactAnalysis`] a vendor security engineer fills in.
//! - Step 4, formal validation: content-addressed [`Evidence`] (test reports, a clean malware
//!   scan of the bundle, reference installs with their self-tests and post-install
//!   verification), then electronic signatures: a validator signs "validated", a release
//!   approver who is another person signs "approved".
//! - Steps 5–6: release, then the staged rollout ([`Rollout`], in [`rollout`]): the released
//!   patch goes to the targeted devices in waves (canaries a person picks, percentages, named
//!   groups, the rest), a success threshold opens the next wave (by hand, automatically or
//!   after a pause), an error threshold stops it by itself, a site's security officer may
//!   defer devices; each device's outcome, self-tests and post-install verification are
//!   recorded, and the record is confirmed when every device is installed, rolled back, or
//!   deferred or excluded with a reason.
//!
//! [`PatchRecord`] is a state machine ([`PatchState`]): every change goes through a method
//! that checks the transition, records who, when and why in the history, and refuses anything
//! else with a typed [`PatchError`]. Separation of duties the record can see is enforced here
//! (the author of an item cannot approve it, validator and approver are two people, nobody signs
//! twice); whether a person holds the role for an action is the caller's (the accounts') to
//! check before calling.
//!
//! Electronic signatures (21 CFR Part 11 §11.50, §11.70) show the signer's printed name, the
//! time (UTC) and the meaning, and are bound to the record's content by its digest
//! ([`PatchRecord::content_digest`]): editing the record after signing voids them visibly, and
//! a signature cannot be copied to another record. The server countersigns each with its
//! Ed25519 key, and exports the whole record as a signed document ([`export`]) that verifies
//! offline ([`verify_export`]) and fails after any byte is changed.
//!
//! This crate must not store anything, authenticate anyone, read the clock or talk to the
//! network: callers pass the person and "now", and store records and rollouts as JSON.
#![forbid(unsafe_code)]

mod export;
mod record;
pub mod rollout;
mod signature;

pub use export::{EXPORT_CONTEXT, ExportError, VerifiedExport, export, verify_export};
pub use record::{
    BundleSummary, Evidence, EvidenceKind, FindingRef, ImpactAnalysis, PatchError, PatchRecord,
    PatchState, Person, Reach, Transition,
};
pub use rollout::{
    Advance, Decision, DeviceOutcome, DeviceProgress, DeviceReport, DeviceStatus, ErrorThreshold,
    HISTORY_CAP, NextWave, NothingReason, Permille, ProfileVerification, ReportEffect, Rollout,
    RolloutError, RolloutEvent, RolloutPlan, RolloutState, SelfTests, StatusCounts, StatusEntry,
    StatusKind, TargetDevice, WaitReason, Wave, WavePlan, WaveProgress, WaveSelection,
};
pub use signature::{
    ElectronicSignature, Meaning, SIGNATURE_CONTEXT, SignatureCheck, SignatureStatus,
};
