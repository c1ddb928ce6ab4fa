//! Reports: what a device tells the server, and the server's receipt.
//!
//! Each [`Report`] carries the device's own sequence number (from 1, rising, gaps allowed
//! where the agent compacted a superseded report) so the server stores it exactly once: a
//! retry of a stored report is acknowledged as a duplicate, never stored twice.
//!
//! Lists that could be long (deviations, findings, denials) are capped by [`crate::limits`];
//! what does not fit is counted in an `*_omitted` field, so the server never mistakes a
//! shortened list for the whole truth.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::limits::{
    MAX_AUDIT_PAYLOAD, MAX_AUDIT_RECORDS, MAX_CHECKPOINTS, MAX_DENIALS, MAX_DEVIATIONS,
    MAX_LISTENERS, MAX_MALWARE_FINDINGS, MAX_PATH, MAX_REPORTS_PER_BATCH, MAX_SELF_TESTS,
    MAX_TASKS, MAX_TEXT, MAX_UNVERIFIABLE,
};
use crate::problem::Problem;
use crate::validate::{self, Invalid, Validate};

/// `POST /api/v1/device/reports`: reports in the order the device made them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportBatch {
    /// One or more reports, sequence numbers strictly rising.
    pub reports: Vec<Report>,
}

impl Validate for ReportBatch {
    fn validate(&self) -> Result<(), Invalid> {
        if self.reports.is_empty() {
            return Err(Invalid::new("reports", "is empty"));
        }
        validate::list("reports", &self.reports, MAX_REPORTS_PER_BATCH)?;
        for (i, pair) in self.reports.windows(2).enumerate() {
            if let [a, b] = pair
                && b.seq <= a.seq
            {
                return Err(Invalid::new(
                    format!("reports[{}].seq", i + 1),
                    format!("{} does not follow {}", b.seq, a.seq),
                ));
            }
        }
        Ok(())
    }
}

/// One report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The device's sequence number for this report, from 1.
    pub seq: u64,
    /// When the device made it (the device's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The command this report answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// What it says.
    pub body: ReportBody,
}

impl Validate for Report {
    fn validate(&self) -> Result<(), Invalid> {
        if self.seq == 0 {
            return Err(Invalid::new("seq", "must be at least 1"));
        }
        validate::opt_name("command", self.command.as_ref(), MAX_TEXT)?;
        self.body.validate().map_err(|e| e.within("body"))
    }
}

/// What a report says. Externally tagged (`{"verification": {...}}`), so an inventory's SBOM
/// passes through unparsed until the server reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReportBody {
    /// The tree verified against the signed system profile.
    Verification(Verification),
    /// The COTS inventory.
    Inventory(InventoryReport),
    /// A malware scan.
    Scan(ScanReport),
    /// Audit records and signed checkpoints.
    Audit(AuditUpload),
    /// The allowlist's mode and its denials.
    Allowlist(AllowlistReport),
    /// Listening network services.
    Services(ServicesReport),
    /// The outcome of a patch installation.
    Install(InstallReport),
    /// The agent's own health.
    Health(AgentHealth),
}

/// The kind of a report, without its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// [`ReportBody::Verification`].
    Verification,
    /// [`ReportBody::Inventory`].
    Inventory,
    /// [`ReportBody::Scan`].
    Scan,
    /// [`ReportBody::Audit`].
    Audit,
    /// [`ReportBody::Allowlist`].
    Allowlist,
    /// [`ReportBody::Services`].
    Services,
    /// [`ReportBody::Install`].
    Install,
    /// [`ReportBody::Health`].
    Health,
}

impl ReportKind {
    /// The name used on the wire and in storage.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verification => "verification",
            Self::Inventory => "inventory",
            Self::Scan => "scan",
            Self::Audit => "audit",
            Self::Allowlist => "allowlist",
            Self::Services => "services",
            Self::Install => "install",
            Self::Health => "health",
        }
    }

    /// True when a newer report of this kind makes an older one useless, so an agent whose
    /// queue is full may drop the older one. Security events (deviations found by a
    /// verification, audit records, denials, malware, install outcomes) are never superseded:
    /// each is evidence of its own.
    #[must_use]
    pub fn superseded_by_newer(self) -> bool {
        matches!(self, Self::Inventory | Self::Services | Self::Health)
    }
}

impl ReportBody {
    /// The kind.
    #[must_use]
    pub fn kind(&self) -> ReportKind {
        match self {
            Self::Verification(_) => ReportKind::Verification,
            Self::Inventory(_) => ReportKind::Inventory,
            Self::Scan(_) => ReportKind::Scan,
            Self::Audit(_) => ReportKind::Audit,
            Self::Allowlist(_) => ReportKind::Allowlist,
            Self::Services(_) => ReportKind::Services,
            Self::Install(_) => ReportKind::Install,
            Self::Health(_) => ReportKind::Health,
        }
    }
}

impl Validate for ReportBody {
    fn validate(&self) -> Result<(), Invalid> {
        let (name, result) = match self {
            Self::Verification(v) => ("verification", v.validate()),
            Self::Inventory(v) => ("inventory", v.validate()),
            Self::Scan(v) => ("scan", v.validate()),
            Self::Audit(v) => ("audit", v.validate()),
            Self::Allowlist(v) => ("allowlist", v.validate()),
            Self::Services(v) => ("services", v.validate()),
            Self::Install(v) => ("install", v.validate()),
            Self::Health(v) => ("health", v.validate()),
        };
        result.map_err(|e| e.within(name))
    }
}

// ---------------------------------------------------------------------------------------------
// Verification

/// The signed system profile a verification used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRef {
    /// Where the profile is on the device.
    pub path: String,
    /// BLAKE3 of the profile file, hex.
    pub digest: String,
    /// The key id of the signer whose signature verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Entries in the profile.
    pub entries: u64,
    /// BLAKE3 of its entries alone (`medguard_profile::entries_digest`): the same for every
    /// profile of one tree, whenever it was made, so the server can tell which devices carry
    /// the tree a patch bundle was built against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries_digest: Option<String>,
}

impl Validate for ProfileRef {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("path", &self.path, MAX_PATH)?;
        validate::hex("digest", &self.digest, 64)?;
        if let Some(d) = &self.entries_digest {
            validate::hex("entries_digest", d, 64)?;
        }
        validate::opt_name("signer", self.signer.as_ref(), MAX_TEXT)
    }
}

/// A verification of the device's tree against its profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The root verified.
    pub root: String,
    /// The profile, when it could be read and its signature verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRef>,
    /// What was found.
    pub outcome: VerificationOutcome,
}

impl Validate for Verification {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("root", &self.root, MAX_PATH)?;
        if let Some(p) = &self.profile {
            p.validate().map_err(|e| e.within("profile"))?;
        }
        if matches!(self.outcome, VerificationOutcome::Completed { .. }) && self.profile.is_none() {
            return Err(Invalid::new(
                "profile",
                "a completed verification names its profile",
            ));
        }
        self.outcome.validate().map_err(|e| e.within("outcome"))
    }
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum VerificationOutcome {
    /// The tree was walked and compared.
    Completed {
        /// Counts.
        summary: VerificationSummary,
        /// Deviations, by path (at most [`MAX_DEVIATIONS`]).
        deviations: Vec<DeviationRecord>,
        /// Deviations not listed.
        #[serde(default)]
        deviations_omitted: u64,
        /// Entries that could not be checked (at most [`MAX_UNVERIFIABLE`]).
        #[serde(default)]
        unverifiable: Vec<UnverifiablePath>,
        /// Unverifiable entries not listed.
        #[serde(default)]
        unverifiable_omitted: u64,
    },
    /// The verification could not run (no profile, a bad signature, an unreadable root): the
    /// tree's integrity is unknown.
    NotRun {
        /// Why.
        reason: String,
    },
}

impl Validate for VerificationOutcome {
    fn validate(&self) -> Result<(), Invalid> {
        match self {
            Self::Completed {
                summary,
                deviations,
                deviations_omitted,
                unverifiable,
                unverifiable_omitted,
            } => {
                validate::list("deviations", deviations, MAX_DEVIATIONS)?;
                validate::list("unverifiable", unverifiable, MAX_UNVERIFIABLE)?;
                let listed = summary
                    .added
                    .checked_add(summary.removed)
                    .and_then(|n| n.checked_add(summary.changed));
                let reported = u64::try_from(deviations.len())
                    .ok()
                    .and_then(|n| n.checked_add(*deviations_omitted));
                if listed.is_none() || listed != reported {
                    return Err(Invalid::new(
                        "deviations",
                        "listed and omitted deviations do not add up to the summary",
                    ));
                }
                let unlisted = u64::try_from(unverifiable.len())
                    .ok()
                    .and_then(|n| n.checked_add(*unverifiable_omitted));
                if unlisted != Some(summary.unverifiable) {
                    return Err(Invalid::new(
                        "unverifiable",
                        "listed and omitted entries do not add up to the summary",
                    ));
                }
                Ok(())
            }
            Self::NotRun { reason } => validate::prose("reason", reason, MAX_TEXT * 4),
        }
    }
}

/// Counts of a verification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationSummary {
    /// Entries in the profile.
    pub expected_entries: u64,
    /// Entries found in the tree.
    pub actual_entries: u64,
    /// Added entries.
    pub added: u64,
    /// Removed entries.
    pub removed: u64,
    /// Changed entries.
    pub changed: u64,
    /// Entries that could not be checked.
    pub unverifiable: u64,
}

impl VerificationSummary {
    /// Nothing deviates and everything could be checked.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.added == 0 && self.removed == 0 && self.changed == 0 && self.unverifiable == 0
    }
}

/// How an entry deviates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviationKind {
    /// Present now, absent from the profile.
    Added,
    /// In the profile, absent now.
    Removed,
    /// Present in both with different attributes.
    Changed,
}

/// One deviation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviationRecord {
    /// The path below the root, as text (bytes that are not UTF-8 escaped as the profile
    /// crate displays them).
    pub path: String,
    /// Added, removed or changed.
    pub kind: DeviationKind,
    /// The attributes that differ (`content`, `mode`, `uid`...), for a change.
    #[serde(default)]
    pub attributes: Vec<String>,
}

impl Validate for DeviationRecord {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("path", &self.path, MAX_PATH)?;
        if self.attributes.len() > 32 {
            return Err(Invalid::new("attributes", "more than 32 attributes"));
        }
        for (i, a) in self.attributes.iter().enumerate() {
            validate::required(&format!("attributes[{i}]"), a, 64)?;
        }
        Ok(())
    }
}

/// An entry whose integrity could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiablePath {
    /// The path below the root.
    pub path: String,
    /// Why.
    pub reason: String,
}

impl Validate for UnverifiablePath {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("path", &self.path, MAX_PATH)?;
        validate::prose("reason", &self.reason, MAX_TEXT)
    }
}

// ---------------------------------------------------------------------------------------------
// Inventory

/// The COTS inventory, as a CycloneDX JSON document, passed through as the device wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InventoryReport {
    /// The media type of `sbom`: `application/vnd.cyclonedx+json`.
    pub format: String,
    /// The SBOM document itself.
    pub sbom: Box<RawValue>,
}

/// The media type of a CycloneDX JSON SBOM.
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";

impl Validate for InventoryReport {
    fn validate(&self) -> Result<(), Invalid> {
        if self.format != CYCLONEDX_JSON {
            return Err(Invalid::new("format", format!("must be {CYCLONEDX_JSON}")));
        }
        if !self.sbom.get().trim_start().starts_with('{') {
            return Err(Invalid::new("sbom", "is not a JSON object"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Malware scan

/// What a scan covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanScope {
    /// Every file under the root.
    Full,
    /// Files added or changed since the profile.
    ChangedSinceProfile,
}

/// A malware scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    /// What it covered.
    pub scope: ScanScope,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub finished: OffsetDateTime,
    /// False when it was cut short (its findings still count; its "clean" does not).
    pub completed: bool,
    /// Why it was cut short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Files examined.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Files that could not be fully scanned.
    pub problems: u64,
    /// YARA rules loaded.
    pub yara_rules: u64,
    /// Hash signatures loaded.
    pub hash_signatures: u64,
    /// Findings (at most [`MAX_MALWARE_FINDINGS`]).
    pub findings: Vec<MalwareFinding>,
    /// Findings not listed.
    #[serde(default)]
    pub findings_omitted: u64,
}

impl Validate for ScanReport {
    fn validate(&self) -> Result<(), Invalid> {
        if self.finished < self.started {
            return Err(Invalid::new("finished", "is before started"));
        }
        validate::opt_prose("interrupted", self.interrupted.as_ref(), MAX_TEXT)?;
        validate::list("findings", &self.findings, MAX_MALWARE_FINDINGS)
    }
}

/// Which engine found something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MalwareEngine {
    /// A YARA rule.
    Yara,
    /// A hash signature list.
    Hash,
}

/// One malware finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalwareFinding {
    /// The file.
    pub path: String,
    /// The engine.
    pub engine: MalwareEngine,
    /// The rule or signature name.
    pub name: String,
    /// Whether the file belongs to the validated configuration (then a person decides).
    pub in_validated_configuration: bool,
    /// What was done (`reported`, `quarantined`, `person-must-decide`, ...).
    pub action: String,
}

impl Validate for MalwareFinding {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("path", &self.path, MAX_PATH)?;
        validate::required("name", &self.name, MAX_TEXT)?;
        validate::required("action", &self.action, MAX_TEXT)
    }
}

// ---------------------------------------------------------------------------------------------
// Audit

/// Audit records and the signed checkpoints over them, so the server can check that the
/// device's chain continues where the last upload ended: a deleted or truncated device log is
/// detected here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditUpload {
    /// Which of the device's audit logs (`agent`, ...).
    pub log: String,
    /// Records, by rising sequence number, consecutive.
    pub records: Vec<AuditRecord>,
    /// Checkpoint lines, as in the log's `checkpoints` file, that cover records sent so far.
    #[serde(default)]
    pub checkpoints: Vec<String>,
}

impl Validate for AuditUpload {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("log", &self.log, 64)?;
        validate::list("records", &self.records, MAX_AUDIT_RECORDS)?;
        for (i, pair) in self.records.windows(2).enumerate() {
            if let [a, b] = pair
                && a.seq.checked_add(1) != Some(b.seq)
            {
                return Err(Invalid::new(
                    format!("records[{}].seq", i + 1),
                    format!(
                        "{} does not follow {} (records must be consecutive)",
                        b.seq, a.seq
                    ),
                ));
            }
        }
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            return Err(Invalid::new("checkpoints", "too many checkpoints"));
        }
        for (i, c) in self.checkpoints.iter().enumerate() {
            validate::required(&format!("checkpoints[{i}]"), c, 512)?;
        }
        Ok(())
    }
}

/// One audit record as stored on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The record's sequence number in its log.
    pub seq: u64,
    /// The canonical event JSON, byte for byte as chained.
    pub payload: String,
    /// The chain digest the device holds for it, hex.
    pub digest: String,
}

impl Validate for AuditRecord {
    fn validate(&self) -> Result<(), Invalid> {
        if self.seq == 0 {
            return Err(Invalid::new("seq", "must be at least 1"));
        }
        if self.payload.len() > MAX_AUDIT_PAYLOAD {
            return Err(Invalid::new("payload", "over the audit payload limit"));
        }
        validate::hex("digest", &self.digest, 64)
    }
}

// ---------------------------------------------------------------------------------------------
// Allowlist

/// How the allowlist is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowlistMode {
    /// Unlisted executables are refused.
    Enforce,
    /// Unlisted executables run and are recorded.
    Audit,
    /// Not running.
    Off,
}

/// The allowlist's state and what it refused (or would have) since the last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistReport {
    /// The mode.
    pub mode: AllowlistMode,
    /// BLAKE3 of the signed allowlist file in force, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_digest: Option<String>,
    /// Entries in the list.
    pub entries: u64,
    /// Why the mode is `off`, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Denials since the last report (at most [`MAX_DENIALS`]).
    pub denials: Vec<Denial>,
    /// Denials not listed.
    #[serde(default)]
    pub denials_omitted: u64,
}

impl Validate for AllowlistReport {
    fn validate(&self) -> Result<(), Invalid> {
        if let Some(d) = &self.list_digest {
            validate::hex("list_digest", d, 64)?;
        }
        validate::opt_prose("reason", self.reason.as_ref(), MAX_TEXT)?;
        validate::list("denials", &self.denials, MAX_DENIALS)
    }
}

/// Whether a denial stopped the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenialDecision {
    /// Refused (enforce mode).
    Denied,
    /// Allowed and recorded (audit mode).
    WouldDeny,
}

/// One executable the allowlist did not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The file.
    pub path: String,
    /// Its BLAKE3, hex, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The process that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// Refused or only recorded.
    pub decision: DenialDecision,
}

impl Validate for Denial {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("path", &self.path, MAX_PATH)?;
        if let Some(d) = &self.digest {
            validate::hex("digest", d, 64)?;
        }
        validate::opt_name("process", self.process.as_ref(), MAX_PATH)
    }
}

// ---------------------------------------------------------------------------------------------
// Services

/// The transport of a listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// The listening network services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesReport {
    /// Every listening socket.
    pub listeners: Vec<Listener>,
}

impl Validate for ServicesReport {
    fn validate(&self) -> Result<(), Invalid> {
        validate::list("listeners", &self.listeners, MAX_LISTENERS)
    }
}

/// A package, by name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

impl Validate for PackageRef {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("name", &self.name, MAX_TEXT)?;
        validate::name("version", &self.version, MAX_TEXT)?;
        validate::opt_name("purl", self.purl.as_ref(), MAX_TEXT * 2)
    }
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// TCP or UDP.
    pub protocol: TransportProtocol,
    /// The local address (`0.0.0.0`, `::`, `127.0.0.1`...).
    pub address: String,
    /// The port.
    pub port: u16,
    /// The listening process's executable, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// The package owning that executable, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageRef>,
}

impl Validate for Listener {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("address", &self.address, 64)?;
        validate::opt_name("executable", self.executable.as_ref(), MAX_PATH)?;
        if let Some(p) = &self.package {
            p.validate().map_err(|e| e.within("package"))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Installs

/// A patch bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    /// The bundle's version.
    pub version: String,
    /// BLAKE3 of the bundle file, hex.
    pub digest: String,
    /// Its TUF target name, when it came through TUF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Validate for BundleRef {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("version", &self.version, MAX_TEXT)?;
        validate::hex("digest", &self.digest, 64)?;
        validate::opt_name("target", self.target.as_ref(), MAX_TEXT)
    }
}

/// How an install ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallOutcome {
    /// Installed and confirmed by its self-tests.
    Installed,
    /// It was already installed.
    AlreadyInstalled,
    /// Installed, a self-test failed, and the old tree was restored.
    RolledBack,
    /// Not started: the device was in clinical use or outside its window.
    Deferred,
    /// Refused before anything was touched (signature, model, base tree, space).
    Refused,
    /// Failed in a way that needs a person (a rollback that could not finish).
    Failed,
}

/// What a deferred install waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitingFor {
    /// The maintenance window to open.
    Window,
    /// The device to leave clinical use (or its clinical state to be known).
    Idle,
}

/// A self-test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTestResult {
    /// The command.
    pub command: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it said, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Validate for SelfTestResult {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("command", &self.command, MAX_TEXT * 4)?;
        validate::opt_prose("detail", self.detail.as_ref(), MAX_TEXT * 4)
    }
}

/// The outcome of installing a patch bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallReport {
    /// The bundle.
    pub bundle: BundleRef,
    /// The rollout that asked for it, if any (a person may install from local media).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// How it ended.
    pub outcome: InstallOutcome,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The self-tests.
    #[serde(default)]
    pub self_tests: Vec<SelfTestResult>,
    /// The verification of the tree after the install, against the new profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationSummary>,
    /// For a deferred install: what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<WaitingFor>,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339")]
    pub finished: OffsetDateTime,
}

impl Validate for InstallReport {
    fn validate(&self) -> Result<(), Invalid> {
        self.bundle.validate().map_err(|e| e.within("bundle"))?;
        validate::opt_name("rollout", self.rollout.as_ref(), MAX_TEXT)?;
        validate::opt_prose("reason", self.reason.as_ref(), MAX_TEXT * 4)?;
        validate::list("self_tests", &self.self_tests, MAX_SELF_TESTS)?;
        if self.finished < self.started {
            return Err(Invalid::new("finished", "is before started"));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Health

/// The agent's store-and-forward queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueHealth {
    /// Reports waiting.
    pub reports: u64,
    /// Bytes waiting.
    pub bytes: u64,
    /// Superseded reports dropped to stay under the bound since the agent started.
    pub compacted: u64,
    /// True when even security events would not fit: something is being lost unless the
    /// server is reached soon.
    pub overflowing: bool,
}

/// The device's clinical state as the agent last read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClinicalStateReading {
    /// Not in clinical use.
    Idle,
    /// In clinical use (or the provider could not be read: it fails safe).
    InUse,
}

/// The clinical state and the maintenance window, as last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicalReading {
    /// Idle or in use.
    pub state: ClinicalStateReading,
    /// Whether the maintenance window is open (`None`: no window configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_open: Option<bool>,
}

/// One scheduled task's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHealth {
    /// The task (`verify`, `scan`, `inventory`, `services`, `audit`, `update`, `allowlist`).
    pub task: String,
    /// When it last ran.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_run: Option<OffsetDateTime>,
    /// When it last succeeded.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_success: Option<OffsetDateTime>,
    /// Its last error, if the last run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Its interval, in seconds (0: continuous).
    pub interval_secs: u64,
}

impl Validate for TaskHealth {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("task", &self.task, 64)?;
        validate::opt_prose("last_error", self.last_error.as_ref(), MAX_TEXT * 4)
    }
}

/// The agent's own health: what the server needs to judge whether silence means trouble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHealth {
    /// The agent's version.
    pub agent_version: String,
    /// When the agent started.
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// The longest the server should wait for the next report before it calls this device
    /// stale, in seconds.
    pub report_within_secs: u64,
    /// The queue.
    pub queue: QueueHealth,
    /// The tasks.
    #[serde(default)]
    pub tasks: Vec<TaskHealth>,
    /// The clinical state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinical: Option<ClinicalReading>,
}

impl Validate for AgentHealth {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("agent_version", &self.agent_version, MAX_TEXT)?;
        if self.report_within_secs == 0 {
            return Err(Invalid::new("report_within_secs", "must be at least 1"));
        }
        validate::list("tasks", &self.tasks, MAX_TASKS)
    }
}

// ---------------------------------------------------------------------------------------------
// Receipts

/// What the server did with one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportOutcome {
    /// Stored now.
    Stored,
    /// Already stored (a retry or a replay): nothing changed.
    Duplicate,
    /// Refused for good (see the problem): sending it again will not help.
    Refused,
}

/// The receipt of one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportReceipt {
    /// The report's sequence number.
    pub seq: u64,
    /// What the server did.
    pub outcome: ReportOutcome,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

impl Validate for ReportReceipt {
    fn validate(&self) -> Result<(), Invalid> {
        match (&self.outcome, &self.problem) {
            (ReportOutcome::Refused, None) => Err(Invalid::new("problem", "a refusal says why")),
            (_, Some(p)) => p.validate().map_err(|e| e.within("problem")),
            _ => Ok(()),
        }
    }
}

/// The answer to a report batch: one receipt per report, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAck {
    /// Receipts.
    pub receipts: Vec<ReportReceipt>,
    /// The highest sequence number the server has stored for this device.
    pub last_stored_seq: u64,
}

impl Validate for ReportAck {
    fn validate(&self) -> Result<(), Invalid> {
        validate::list("receipts", &self.receipts, MAX_REPORTS_PER_BATCH)
    }
}
