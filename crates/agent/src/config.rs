//! The agent's configuration file (`agent.toml`).
//!
//! Parse, don't validate: an [`AgentConfig`] exists only when every key in the file is one the
//! agent knows, every value has its form (durations in `medguard-host`'s grammar, clinical
//! providers and windows in `medguard-clinical`'s) and every path it names exists. Anything
//! else is a [`ConfigError`] naming the file, the key and, where there is one, the path or the
//! line. Relative paths are taken relative to the directory of the configuration file, so a
//! vendor can ship a folder of files that refer to each other.
//!
//! The part the fleet issue made stable (scripts and later issues rely on it):
//!
//! ```toml
//! [profile]                 # what to verify
//! root = "/"
//! profile = "/etc/medguard/device.profile"
//! trust = ["/etc/medguard/vendor.pub"]
//! interval = "1h"
//! [clinical]                # as --clinical-state and --window
//! state = "file:/run/modality/state"
//! window = "Mon-Fri 22:00-06:00 +01:00"
//! [scan]                    # optional
//! rules = ["/etc/medguard/rules"]
//! interval = "24h"
//! ```
//!
//! and, beside it: `[server] url, ca` (default: what `agent enroll` recorded),
//! `connect_timeout, request_timeout` (how long to wait on the server), `[device]
//! model, serial`, `[inventory] root, vendor, evidence, interval`, `[services] interval`,
//! `[allowlist] list, trust, mode, audit_log`, `[audit] log` (the agent's own log; default
//! `STATE/audit`), `[report] within, outbox_max`, `[update] root, state_dir, bundle_trust,
//! tuf_root` (installs of a rollout; without it the agent refuses them and says why). See
//! [`AgentConfig`]'s fields.

use std::path::{Path, PathBuf};
use std::time::Duration;

use medguard_clinical::{ClinicalStateSource, MaintenanceWindow};
use serde::Deserialize;
use url::Url;

use crate::transport::Timeouts;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{path}: line {line}: not TOML: {message}")]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// A key the agent does not know (a typo must not silently turn a check off).
    #[error("{path}: line {line}: unknown key `{key}`")]
    UnknownKey {
        /// The configuration file.
        path: PathBuf,
        /// The key, dotted (`profile.intreval`).
        key: String,
        /// 1-based line.
        line: usize,
    },
    /// A required key is missing.
    #[error("{path}: `{key}` is required")]
    Missing {
        /// The configuration file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
    },
    /// A value of the wrong type or form.
    #[error("{path}: `{key}`: {message}")]
    Value {
        /// The configuration file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A path the configuration names does not exist or cannot be examined.
    #[error("{path}: `{key}` = {value}: {source}")]
    Path {
        /// The configuration file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// The path it names (resolved).
        value: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A path that must be a directory is not one (or the reverse).
    #[error("{path}: `{key}` = {value}: {expected}")]
    PathKind {
        /// The configuration file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// The path it names (resolved).
        value: PathBuf,
        /// What it should be.
        expected: &'static str,
    },
}

/// The agent's configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The file it was read from.
    pub source: PathBuf,
    /// The server; `None`: the one `agent enroll` recorded.
    pub server: Option<ServerConfig>,
    /// How long to wait on the server (`[server] connect_timeout, request_timeout`; the
    /// defaults of [`Timeouts`] when not set).
    pub timeouts: Timeouts,
    /// What the device says about itself.
    pub device: DeviceConfig,
    /// Profile verification; `None`: not configured (the device's integrity is then reported
    /// as unknown, never as intact).
    pub profile: Option<ProfileConfig>,
    /// When intrusive work may run.
    pub clinical: ClinicalConfig,
    /// Malware scanning; `None`: not configured.
    pub scan: Option<ScanConfig>,
    /// The inventory.
    pub inventory: InventoryConfig,
    /// Listening services.
    pub services: ServicesConfig,
    /// The allowlist enforcer whose state is reported; `None`: not configured (reported as
    /// off).
    pub allowlist: Option<AllowlistConfig>,
    /// Installs of the server's rollouts; `None`: the agent refuses them (and says why).
    pub update: Option<UpdateConfig>,
    /// The agent's own audit log.
    pub audit: AuditConfig,
    /// Reporting.
    pub report: ReportConfig,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The server's base URL (`https://fleet.example:8443`).
    pub url: Url,
    /// The CA to pin instead of the one `agent enroll` stored.
    pub ca: Option<PathBuf>,
}

/// `[device]`.
#[derive(Debug, Clone, Default)]
pub struct DeviceConfig {
    /// The device model.
    pub model: Option<String>,
    /// The hardware serial number (the identity that survives re-imaging).
    pub serial: Option<String>,
}

/// Whether a profile without a trusted signature may be used (`profile.unsigned`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnsignedProfilePolicy {
    /// Refuse it (the default): the verification is then reported as not run.
    #[default]
    Refuse,
    /// Use it as it is. For lab use only; the report says so.
    AcceptForLabUse,
}

/// `[profile]`.
#[derive(Debug, Clone)]
pub struct ProfileConfig {
    /// The tree to verify.
    pub root: PathBuf,
    /// The signed system profile.
    pub profile: PathBuf,
    /// Keys whose signature makes the profile trusted.
    pub trust: Vec<PathBuf>,
    /// How often to verify (the daemon's schedule; also bounds how long the server waits).
    pub interval: Duration,
    /// Stay on the file system of `root`.
    pub one_file_system: bool,
    /// Unsigned profiles.
    pub unsigned: UnsignedProfilePolicy,
}

/// `[clinical]`.
#[derive(Debug, Clone, Default)]
pub struct ClinicalConfig {
    /// Where the device says whether it is in clinical use.
    pub state: Option<ClinicalStateSource>,
    /// When maintenance may start.
    pub window: Option<MaintenanceWindow>,
}

/// What a scan covers (`scan.scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanScopeConfig {
    /// Files added or changed since the profile (needs `[profile]`).
    Changed,
    /// Every file under the root.
    Full,
}

/// `[scan]`.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// YARA rule files or directories.
    pub rules: Vec<PathBuf>,
    /// ClamAV hash lists.
    pub hashes: Vec<PathBuf>,
    /// How often to scan.
    pub interval: Duration,
    /// What to scan.
    pub scope: ScanScopeConfig,
    /// The tree to scan (default: the profile's root, else `/`).
    pub root: PathBuf,
    /// Bytes per second at most.
    pub rate: Option<u64>,
    /// Where matching files outside the validated configuration are moved.
    pub quarantine: Option<PathBuf>,
}

/// `[inventory]`.
#[derive(Debug, Clone)]
pub struct InventoryConfig {
    /// The tree to inventory (default: the profile's root, else `/`).
    pub root: PathBuf,
    /// Vendor-declared components (TOML).
    pub vendor: Option<PathBuf>,
    /// Look in `/proc` for running, mapped and listening components.
    pub evidence: bool,
    /// How often to collect.
    pub interval: Duration,
}

/// `[services]`.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// How often to collect.
    pub interval: Duration,
}

/// The mode the allowlist enforcer is expected to run in (`allowlist.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedAllowlistMode {
    /// Unlisted executables are refused.
    Enforce,
    /// Unlisted executables are recorded.
    Audit,
}

/// `[allowlist]`.
#[derive(Debug, Clone)]
pub struct AllowlistConfig {
    /// The signed allowlist.
    pub list: PathBuf,
    /// Keys whose signature makes it trusted (default: the profile's).
    pub trust: Vec<PathBuf>,
    /// The mode the enforcer should run in.
    pub mode: ExpectedAllowlistMode,
    /// The audit log the enforcer writes its denials to.
    pub audit_log: PathBuf,
}

/// `[update]`: where and with which keys the agent installs the patch of a rollout.
#[derive(Debug, Clone)]
pub struct UpdateConfig {
    /// The device's root the bundles install into (default: the profile's root).
    pub root: PathBuf,
    /// The installer's journal, staging and status (default `STATE/update`); on the root's
    /// file system.
    pub state_dir: Option<PathBuf>,
    /// Vendor keys trusted to sign bundles (default: the profile's keys).
    pub bundle_trust: Vec<PathBuf>,
    /// The TUF root the device trusts; default: the server's first root, fetched once over
    /// the enrolled, pinned connection and kept in `STATE/tuf/root.json`.
    pub tuf_root: Option<PathBuf>,
}

/// `[audit]`.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    /// The agent's own audit log (default: `STATE/audit`).
    pub log: Option<PathBuf>,
}

/// `[report]`.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// The longest the server should wait for the next report before it calls the device
    /// stale (default: twice the profile interval, at least 15 minutes).
    pub within: Duration,
    /// Bytes of queued reports above which superseded reports (older inventories, services,
    /// health) are dropped.
    pub outbox_max: u64,
}

/// The default of `report.outbox_max`.
pub const DEFAULT_OUTBOX_MAX: u64 = 256 << 20;

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: Option<RawServer>,
    #[serde(default)]
    device: RawDevice,
    profile: Option<RawProfile>,
    #[serde(default)]
    clinical: RawClinical,
    scan: Option<RawScan>,
    #[serde(default)]
    inventory: RawInventory,
    #[serde(default)]
    services: RawServices,
    allowlist: Option<RawAllowlist>,
    update: Option<RawUpdate>,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    report: RawReport,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    url: Option<String>,
    ca: Option<PathBuf>,
    connect_timeout: Option<String>,
    request_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    model: Option<String>,
    serial: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    root: Option<PathBuf>,
    profile: Option<PathBuf>,
    #[serde(default)]
    trust: Vec<PathBuf>,
    interval: Option<String>,
    #[serde(default)]
    one_file_system: bool,
    #[serde(default)]
    unsigned: UnsignedProfilePolicy,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClinical {
    state: Option<String>,
    window: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    #[serde(default)]
    rules: Vec<PathBuf>,
    #[serde(default)]
    hashes: Vec<PathBuf>,
    interval: Option<String>,
    scope: Option<ScanScopeConfig>,
    root: Option<PathBuf>,
    rate: Option<String>,
    quarantine: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    root: Option<PathBuf>,
    vendor: Option<PathBuf>,
    evidence: Option<bool>,
    interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServices {
    interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllowlist {
    list: Option<PathBuf>,
    #[serde(default)]
    trust: Vec<PathBuf>,
    mode: Option<ExpectedAllowlistMode>,
    audit_log: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpdate {
    root: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    #[serde(default)]
    bundle_trust: Vec<PathBuf>,
    tuf_root: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    log: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    within: Option<String>,
    outbox_max: Option<String>,
}

/// What kind of file system object a configured path must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
    Either,
}

impl Kind {
    fn refusal(self) -> &'static str {
        match self {
            Kind::File => "is not a file",
            Kind::Directory => "is not a directory",
            Kind::Either => "is neither a file nor a directory",
        }
    }
}

/// Resolves and checks the paths of one file, naming it in every error.
struct Checker<'a> {
    file: &'a Path,
    base: PathBuf,
}

impl Checker<'_> {
    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base.join(p)
        }
    }

    fn existing(&self, key: &str, p: &Path, kind: Kind) -> Result<PathBuf, ConfigError> {
        let value = self.resolve(p);
        let meta = std::fs::metadata(&value).map_err(|source| ConfigError::Path {
            path: self.file.to_owned(),
            key: key.to_owned(),
            value: value.clone(),
            source,
        })?;
        let ok = match kind {
            Kind::File => meta.is_file(),
            Kind::Directory => meta.is_dir(),
            Kind::Either => meta.is_file() || meta.is_dir(),
        };
        if !ok {
            return Err(ConfigError::PathKind {
                path: self.file.to_owned(),
                key: key.to_owned(),
                value,
                expected: kind.refusal(),
            });
        }
        Ok(value)
    }

    fn all(&self, key: &str, ps: &[PathBuf], kind: Kind) -> Result<Vec<PathBuf>, ConfigError> {
        ps.iter()
            .enumerate()
            .map(|(i, p)| self.existing(&format!("{key}[{i}]"), p, kind))
            .collect()
    }

    fn missing(&self, key: &str) -> ConfigError {
        ConfigError::Missing {
            path: self.file.to_owned(),
            key: key.to_owned(),
        }
    }

    fn value(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            path: self.file.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn duration(
        &self,
        key: &str,
        v: Option<&str>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(text) => {
                let d = medguard_host::parse_duration(text)
                    .map_err(|e| self.value(key, e.to_string()))?;
                if d.is_zero() {
                    return Err(self.value(key, "must be longer than 0 s"));
                }
                Ok(d)
            }
        }
    }
}

/// A byte size as the configuration writes it (surrounding spaces allowed in a file).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    medguard_host::parse_byte_size(s.trim())
}

impl AgentConfig {
    /// Reads and checks the configuration file at `path`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, and the key and path concerned.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and checks configuration text; `path` names it in errors and relative paths
    /// are resolved against its directory.
    ///
    /// # Errors
    /// As [`AgentConfig::load`].
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw = parse_raw(text, path)?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_owned());
        let c = Checker { file: path, base };
        resolve(raw, &c, path)
    }

    /// The root the agent reports as the device's tree (the profile's, else `/`).
    #[must_use]
    pub fn root(&self) -> &Path {
        self.profile
            .as_ref()
            .map_or(Path::new("/"), |p| p.root.as_path())
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

fn parse_raw(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().to_owned(),
    })?;
    serde_path_to_error::deserialize::<_, RawConfig>(de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.span().map_or(1, |s| line_of(text, s.start));
        let message = inner.message().to_owned();
        // serde_path_to_error's path already ends with the offending key for an unknown
        // one, and with its table for a missing one.
        let dotted = |leaf: &str| {
            if at == "." || at.is_empty() {
                leaf.to_owned()
            } else if at == leaf || at.ends_with(&format!(".{leaf}")) {
                at.clone()
            } else {
                format!("{at}.{leaf}")
            }
        };
        if let Some(rest) = message.strip_prefix("unknown field `")
            && let Some((field, _)) = rest.split_once('`')
        {
            return ConfigError::UnknownKey {
                path: path.to_owned(),
                key: dotted(field),
                line,
            };
        }
        if let Some(rest) = message.strip_prefix("missing field `")
            && let Some((field, _)) = rest.split_once('`')
        {
            return ConfigError::Missing {
                path: path.to_owned(),
                key: dotted(field),
            };
        }
        ConfigError::Value {
            path: path.to_owned(),
            key: at,
            message: format!("line {line}: {message}"),
        }
    })
}

fn resolve(raw: RawConfig, c: &Checker<'_>, path: &Path) -> Result<AgentConfig, ConfigError> {
    let defaults = Timeouts::default();
    let timeouts = Timeouts {
        connect: c.duration(
            "server.connect_timeout",
            raw.server
                .as_ref()
                .and_then(|s| s.connect_timeout.as_deref()),
            defaults.connect,
        )?,
        request: c.duration(
            "server.request_timeout",
            raw.server
                .as_ref()
                .and_then(|s| s.request_timeout.as_deref()),
            defaults.request,
        )?,
    };
    let server = raw
        .server
        // Timeouts alone keep the server `agent enroll` recorded.
        .filter(|s| s.url.is_some() || s.ca.is_some())
        .map(|s| {
            let url = s.url.ok_or_else(|| c.missing("server.url"))?;
            let url = Url::parse(&url).map_err(|e| c.value("server.url", e.to_string()))?;
            if url.scheme() != "https" {
                return Err(c.value("server.url", "must be an https:// URL"));
            }
            let ca =
                s.ca.map(|p| c.existing("server.ca", &p, Kind::File))
                    .transpose()?;
            Ok(ServerConfig { url, ca })
        })
        .transpose()?;

    let text_ok = |key: &str, v: Option<String>| -> Result<Option<String>, ConfigError> {
        match v {
            Some(s) if s.trim().is_empty() => Err(c.value(key, "is empty")),
            Some(s) if s.len() > 1024 || s.chars().any(char::is_control) => {
                Err(c.value(key, "is longer than 1024 bytes or has control characters"))
            }
            other => Ok(other),
        }
    };
    let device = DeviceConfig {
        model: text_ok("device.model", raw.device.model)?,
        serial: text_ok("device.serial", raw.device.serial)?,
    };

    let profile = raw
        .profile
        .map(|p| {
            let root = p.root.unwrap_or_else(|| PathBuf::from("/"));
            let root = c.existing("profile.root", &root, Kind::Directory)?;
            let file = p.profile.ok_or_else(|| c.missing("profile.profile"))?;
            let file = c.existing("profile.profile", &file, Kind::File)?;
            let trust = c.all("profile.trust", &p.trust, Kind::File)?;
            if trust.is_empty() && p.unsigned == UnsignedProfilePolicy::Refuse {
                return Err(c.value(
                    "profile.trust",
                    "names no key: a profile is only trusted when a trusted key signed it \
                     (unsigned = \"accept-for-lab-use\" exists for lab use)",
                ));
            }
            Ok(ProfileConfig {
                root,
                profile: file,
                trust,
                interval: c.duration(
                    "profile.interval",
                    p.interval.as_deref(),
                    Duration::from_secs(3600),
                )?,
                one_file_system: p.one_file_system,
                unsigned: p.unsigned,
            })
        })
        .transpose()?;
    let default_root = profile
        .as_ref()
        .map_or_else(|| PathBuf::from("/"), |p| p.root.clone());

    let clinical = ClinicalConfig {
        state: raw
            .clinical
            .state
            .map(|s| {
                s.parse::<ClinicalStateSource>()
                    .map_err(|e| c.value("clinical.state", e.to_string()))
            })
            .transpose()?,
        window: raw
            .clinical
            .window
            .map(|s| {
                s.parse::<MaintenanceWindow>()
                    .map_err(|e| c.value("clinical.window", e.to_string()))
            })
            .transpose()?,
    };

    let scan = raw
        .scan
        .map(|s| {
            if s.rules.is_empty() && s.hashes.is_empty() {
                return Err(c.value("scan", "names neither rules nor hashes"));
            }
            let scope = match (s.scope, &profile) {
                (Some(ScanScopeConfig::Changed), None) => {
                    return Err(c.value(
                        "scan.scope",
                        "\"changed\" compares with the profile, and there is no [profile]",
                    ));
                }
                (Some(scope), _) => scope,
                (None, Some(_)) => ScanScopeConfig::Changed,
                (None, None) => ScanScopeConfig::Full,
            };
            Ok(ScanConfig {
                rules: c.all("scan.rules", &s.rules, Kind::Either)?,
                hashes: c.all("scan.hashes", &s.hashes, Kind::File)?,
                interval: c.duration(
                    "scan.interval",
                    s.interval.as_deref(),
                    Duration::from_secs(24 * 3600),
                )?,
                scope,
                root: match s.root {
                    Some(r) => c.existing("scan.root", &r, Kind::Directory)?,
                    None => default_root.clone(),
                },
                rate: s
                    .rate
                    .map(|r| parse_bytes(&r).map_err(|e| c.value("scan.rate", e)))
                    .transpose()?,
                quarantine: s
                    .quarantine
                    .map(|q| c.existing("scan.quarantine", &q, Kind::Directory))
                    .transpose()?,
            })
        })
        .transpose()?;

    let inventory = InventoryConfig {
        root: match raw.inventory.root {
            Some(r) => c.existing("inventory.root", &r, Kind::Directory)?,
            None => default_root.clone(),
        },
        vendor: raw
            .inventory
            .vendor
            .map(|v| c.existing("inventory.vendor", &v, Kind::File))
            .transpose()?,
        evidence: raw.inventory.evidence.unwrap_or(true),
        interval: c.duration(
            "inventory.interval",
            raw.inventory.interval.as_deref(),
            Duration::from_secs(24 * 3600),
        )?,
    };
    let services = ServicesConfig {
        interval: c.duration(
            "services.interval",
            raw.services.interval.as_deref(),
            Duration::from_secs(3600),
        )?,
    };

    let allowlist = raw
        .allowlist
        .map(|a| {
            let list = a.list.ok_or_else(|| c.missing("allowlist.list"))?;
            let trust = if a.trust.is_empty() {
                profile
                    .as_ref()
                    .map(|p| p.trust.clone())
                    .unwrap_or_default()
            } else {
                c.all("allowlist.trust", &a.trust, Kind::File)?
            };
            if trust.is_empty() {
                return Err(c.value(
                    "allowlist.trust",
                    "names no key (and there is no [profile] trust)",
                ));
            }
            let log = a
                .audit_log
                .ok_or_else(|| c.missing("allowlist.audit_log"))?;
            Ok(AllowlistConfig {
                list: c.existing("allowlist.list", &list, Kind::File)?,
                trust,
                mode: a.mode.ok_or_else(|| c.missing("allowlist.mode"))?,
                audit_log: c.existing("allowlist.audit_log", &log, Kind::Directory)?,
            })
        })
        .transpose()?;

    let update = raw
        .update
        .map(|u| {
            let root = match (u.root, &profile) {
                (Some(r), _) => c.existing("update.root", &r, Kind::Directory)?,
                (None, Some(p)) => p.root.clone(),
                (None, None) => return Err(c.missing("update.root")),
            };
            let bundle_trust = if u.bundle_trust.is_empty() {
                profile
                    .as_ref()
                    .map(|p| p.trust.clone())
                    .unwrap_or_default()
            } else {
                c.all("update.bundle_trust", &u.bundle_trust, Kind::File)?
            };
            if bundle_trust.is_empty() {
                return Err(c.value(
                    "update.bundle_trust",
                    "names no key (and there is no [profile] trust)",
                ));
            }
            Ok(UpdateConfig {
                root,
                state_dir: u
                    .state_dir
                    .map(|d| c.existing("update.state_dir", &d, Kind::Directory))
                    .transpose()?,
                bundle_trust,
                tuf_root: u
                    .tuf_root
                    .map(|r| c.existing("update.tuf_root", &r, Kind::File))
                    .transpose()?,
            })
        })
        .transpose()?;

    let audit = AuditConfig {
        log: raw
            .audit
            .log
            .map(|l| {
                // The log directory is created on first use; its parent must exist.
                let l = c.resolve(&l);
                if let Some(parent) = l.parent() {
                    c.existing("audit.log", parent, Kind::Directory)?;
                }
                Ok::<_, ConfigError>(l)
            })
            .transpose()?,
    };

    let default_within = profile
        .as_ref()
        .map_or(Duration::from_secs(3600), |p| p.interval)
        .saturating_mul(2)
        .max(Duration::from_secs(15 * 60));
    let report = ReportConfig {
        within: c.duration(
            "report.within",
            raw.report.within.as_deref(),
            default_within,
        )?,
        outbox_max: raw
            .report
            .outbox_max
            .map(|m| parse_bytes(&m).map_err(|e| c.value("report.outbox_max", e)))
            .transpose()?
            .unwrap_or(DEFAULT_OUTBOX_MAX),
    };

    Ok(AgentConfig {
        source: path.to_owned(),
        server,
        timeouts,
        device,
        profile,
        clinical,
        scan,
        inventory,
        services,
        allowlist,
        update,
        audit,
        report,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("device.profile"), "x").unwrap();
        std::fs::write(d.path().join("vendor.pub"), "x").unwrap();
        std::fs::create_dir(d.path().join("root")).unwrap();
        std::fs::create_dir(d.path().join("rules")).unwrap();
        d
    }

    fn load(d: &tempfile::TempDir, text: &str) -> Result<AgentConfig, ConfigError> {
        AgentConfig::from_toml(text, &d.path().join("agent.toml"))
    }

    const STABLE: &str = r#"
[profile]
root = "root"
profile = "device.profile"
trust = ["vendor.pub"]
interval = "1h"
[clinical]
state = "file:/run/modality/state"
window = "Mon-Fri 22:00-06:00 +01:00"
[scan]
rules = ["rules"]
interval = "24h"
"#;

    #[test]
    fn the_stable_part_of_the_issue_parses() {
        let d = dir();
        let c = load(&d, STABLE).unwrap();
        let p = c.profile.as_ref().unwrap();
        assert_eq!(p.root, d.path().join("root"));
        assert_eq!(p.interval, Duration::from_secs(3600));
        assert_eq!(p.trust, vec![d.path().join("vendor.pub")]);
        let s = c.scan.as_ref().unwrap();
        assert_eq!(s.interval, Duration::from_secs(86400));
        assert_eq!(s.scope, ScanScopeConfig::Changed);
        assert_eq!(s.root, d.path().join("root"));
        assert!(c.clinical.state.is_some() && c.clinical.window.is_some());
        assert_eq!(c.report.within, Duration::from_secs(7200));
        assert_eq!(c.inventory.root, d.path().join("root"));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let d = dir();
        let text = STABLE.replace("interval = \"1h\"", "intreval = \"1h\"");
        match load(&d, &text).unwrap_err() {
            ConfigError::UnknownKey { key, line, .. } => {
                assert_eq!(key, "profile.intreval");
                assert_eq!(line, 6);
            }
            other => panic!("{other}"),
        }
        match load(&d, "[scna]\nrules = []\n").unwrap_err() {
            ConfigError::UnknownKey { key, .. } => assert_eq!(key, "scna"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_wrong_path_is_named_with_its_key() {
        let d = dir();
        let text = STABLE.replace("\"vendor.pub\"", "\"vendr.pub\"");
        match load(&d, &text).unwrap_err() {
            ConfigError::Path {
                key, value, source, ..
            } => {
                assert_eq!(key, "profile.trust[0]");
                assert_eq!(value, d.path().join("vendr.pub"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other}"),
        }
        let text = STABLE.replace("root = \"root\"", "root = \"device.profile\"");
        match load(&d, &text).unwrap_err() {
            ConfigError::PathKind { key, .. } => assert_eq!(key, "profile.root"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn bad_values_are_named() {
        let d = dir();
        for (from, to, key) in [
            (
                "interval = \"1h\"",
                "interval = \"an hour\"",
                "profile.interval",
            ),
            ("interval = \"1h\"", "interval = \"0s\"", "profile.interval"),
            ("file:/run", "nfs:/run", "clinical.state"),
            ("Mon-Fri", "Mon-Frx", "clinical.window"),
            ("interval = \"1h\"", "interval = 3600", "profile.interval"),
        ] {
            let text = STABLE.replacen(from, to, 1);
            match load(&d, &text).unwrap_err() {
                ConfigError::Value { key: k, .. } => assert_eq!(k, key, "{to}"),
                other => panic!("{to}: {other}"),
            }
        }
        let err = load(&d, "[profile]\nroot = \"root\"\n").unwrap_err();
        assert!(
            matches!(err, ConfigError::Missing { ref key, .. } if key == "profile.profile"),
            "{err}"
        );
        let err = load(&d, "[profile\n").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
        let err = load(&d, "[server]\nurl = \"http://fleet\"\n").unwrap_err();
        assert!(
            matches!(err, ConfigError::Value { ref key, .. } if key == "server.url"),
            "{err}"
        );
    }

    #[test]
    fn timeouts_on_the_server_have_defaults_and_may_be_set_without_a_url() {
        let d = dir();
        let c = load(&d, STABLE).unwrap();
        assert_eq!(c.timeouts, Timeouts::default());
        let c = load(
            &d,
            "[server]\nconnect_timeout = \"3s\"\nrequest_timeout = \"45s\"\n",
        )
        .unwrap();
        assert!(c.server.is_none(), "the enrolled server is kept");
        assert_eq!(
            c.timeouts,
            Timeouts {
                connect: Duration::from_secs(3),
                request: Duration::from_secs(45),
            }
        );
        for key in ["connect_timeout", "request_timeout"] {
            for bad in ["\"0s\"", "\"soon\""] {
                match load(&d, &format!("[server]\n{key} = {bad}\n")).unwrap_err() {
                    ConfigError::Value { key: k, .. } => assert_eq!(k, format!("server.{key}")),
                    other => panic!("{key} = {bad}: {other}"),
                }
            }
        }
        let err = load(&d, "[server]\nca = \"vendor.pub\"\n").unwrap_err();
        assert!(
            matches!(err, ConfigError::Missing { ref key, .. } if key == "server.url"),
            "{err}"
        );
    }

    #[test]
    fn an_unsigned_profile_needs_an_explicit_lab_policy() {
        let d = dir();
        let text = "[profile]\nroot = \"root\"\nprofile = \"device.profile\"\n";
        let err = load(&d, text).unwrap_err();
        assert!(
            matches!(err, ConfigError::Value { ref key, .. } if key == "profile.trust"),
            "{err}"
        );
        let text = format!("{text}unsigned = \"accept-for-lab-use\"\n");
        let c = load(&d, &text).unwrap();
        assert_eq!(
            c.profile.unwrap().unsigned,
            UnsignedProfilePolicy::AcceptForLabUse
        );
    }

    #[test]
    fn an_empty_file_is_a_configuration_without_checks() {
        let d = dir();
        let c = load(&d, "").unwrap();
        assert!(c.profile.is_none() && c.scan.is_none() && c.allowlist.is_none());
        assert_eq!(c.root(), Path::new("/"));
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("20M"), Ok(20 << 20));
        assert_eq!(parse_bytes("64k"), Ok(64 << 10));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("lots").is_err());
    }
}
