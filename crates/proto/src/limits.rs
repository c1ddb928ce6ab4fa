//! What the server accepts from a device, at most. A device over a limit is refused with a
//! typed problem rather than trusted to be reasonable: the input is untrusted and the server
//! serves a whole fleet.
//!
//! An agent that has more to say than a limit allows splits it (audit records over several
//! reports) or says how much it left out (`*_omitted` counters), never silently drops it.

/// Body of one request, in bytes (an inventory of a few thousand components fits easily).
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Body of an enrollment or renewal request, in bytes.
pub const MAX_ENROLL_BYTES: usize = 64 << 10;
/// Reports in one batch.
pub const MAX_REPORTS_PER_BATCH: usize = 64;
/// Deviations listed in one verification report (the rest are counted).
pub const MAX_DEVIATIONS: usize = 10_000;
/// Unreadable paths listed in one verification report (the rest are counted).
pub const MAX_UNVERIFIABLE: usize = 1_000;
/// Audit records in one report.
pub const MAX_AUDIT_RECORDS: usize = 10_000;
/// Bytes of one audit record's payload (as the audit log itself allows).
pub const MAX_AUDIT_PAYLOAD: usize = 1 << 20;
/// Checkpoint lines in one audit upload.
pub const MAX_CHECKPOINTS: usize = 1_000;
/// Malware findings listed in one scan report.
pub const MAX_MALWARE_FINDINGS: usize = 10_000;
/// Denials listed in one allowlist report.
pub const MAX_DENIALS: usize = 10_000;
/// Listening sockets in one services report.
pub const MAX_LISTENERS: usize = 4_096;
/// Self-test results in one install report.
pub const MAX_SELF_TESTS: usize = 256;
/// Task health entries in one health report.
pub const MAX_TASKS: usize = 64;
/// Commands in one check-in answer.
pub const MAX_COMMANDS: usize = 64;
/// Bytes of a path (as Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4_096;
/// Bytes of a short text: a name, a version, a reason, an identifier.
pub const MAX_TEXT: usize = 1_024;
/// Bytes of a PEM document (a certificate request or a certificate).
pub const MAX_PEM: usize = 16 << 10;
