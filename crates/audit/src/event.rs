//! The audit event model, aligned with DICOM PS3.15 Annex A.5 (the IHE ATNA audit message),
//! and the catalogue of medguard's own event types.
//!
//! This module owns what an event *is* and its JSON form (the bytes the chain digests). It
//! must not do I/O, read the clock or know how events are stored: callers pass the time.
//!
//! The JSON form keeps DICOM's structure (event identification, active participants, audit
//! source, participant objects) with short field names, so `medguard-atna` can turn a stored
//! event into a PS3.15 XML message without a second model.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A coded value: DICOM's (code value, coding scheme designator, display name) triplet, as
/// used for EventID, EventTypeCode, RoleIDCode, AuditSourceTypeCode and
/// ParticipantObjectIDTypeCode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// Code value, e.g. `110114`.
    pub code: String,
    /// Coding scheme designator, e.g. `DCM`; medguard's private codes use `99MEDGUARD`.
    pub scheme: String,
    /// Display name (DICOM `originalText`).
    pub display: String,
}

impl Code {
    /// A code in the DICOM (`DCM`) scheme.
    #[must_use]
    pub fn dcm(code: &str, display: &str) -> Self {
        Self {
            code: code.to_owned(),
            scheme: "DCM".to_owned(),
            display: display.to_owned(),
        }
    }

    /// A code in medguard's private scheme (DICOM reserves designators starting with `99`
    /// for private schemes).
    #[must_use]
    pub fn private(code: &str, display: &str) -> Self {
        Self {
            code: code.to_owned(),
            scheme: PRIVATE_SCHEME.to_owned(),
            display: display.to_owned(),
        }
    }
}

/// The coding scheme designator of medguard's private codes.
pub const PRIVATE_SCHEME: &str = "99MEDGUARD";

/// DICOM EventActionCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionCode {
    /// Create.
    C,
    /// Read, view, print, query.
    R,
    /// Update.
    U,
    /// Delete.
    D,
    /// Execute (the default for security alerts and logins).
    E,
}

/// DICOM EventOutcomeIndicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// 0: success.
    Success,
    /// 4: minor failure (action restarted, e.g. a wrong password).
    MinorFailure,
    /// 8: serious failure (action terminated).
    SeriousFailure,
    /// 12: major failure (action made unavailable).
    MajorFailure,
}

impl Outcome {
    /// The numeric DICOM EventOutcomeIndicator (0, 4, 8, 12).
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::MinorFailure => 4,
            Self::SeriousFailure => 8,
            Self::MajorFailure => 12,
        }
    }
}

/// DICOM NetworkAccessPointTypeCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkAccessPointType {
    /// 1: machine name, including DNS name.
    MachineName,
    /// 2: IP address.
    IpAddress,
    /// 3: telephone number.
    TelephoneNumber,
    /// 4: email address.
    EmailAddress,
    /// 5: URI.
    Uri,
}

impl NetworkAccessPointType {
    /// The numeric DICOM code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::MachineName => 1,
            Self::IpAddress => 2,
            Self::TelephoneNumber => 3,
            Self::EmailAddress => 4,
            Self::Uri => 5,
        }
    }
}

/// DICOM ActiveParticipant: a user or process taking part in the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveParticipant {
    /// UserID.
    pub user_id: String,
    /// AlternativeUserID (e.g. the process id or an AE title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative_user_id: Option<String>,
    /// UserName (display name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// UserIsRequestor.
    #[serde(default)]
    pub is_requestor: bool,
    /// RoleIDCode(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Code>,
    /// NetworkAccessPointID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_access_point: Option<String>,
    /// NetworkAccessPointTypeCode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_access_point_type: Option<NetworkAccessPointType>,
}

/// DICOM AuditSourceIdentification: the system that detected the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSource {
    /// AuditSourceID (medguard uses the device's host name).
    pub id: String,
    /// AuditEnterpriseSiteID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_site: Option<String>,
    /// AuditSourceTypeCode(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<Code>,
}

/// DICOM ParticipantObjectTypeCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectType {
    /// 1: person.
    Person,
    /// 2: system object (a file, a patch, a rule).
    SystemObject,
    /// 3: organisation.
    Organization,
    /// 4: other.
    Other,
}

impl ObjectType {
    /// The numeric DICOM code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Person => 1,
            Self::SystemObject => 2,
            Self::Organization => 3,
            Self::Other => 4,
        }
    }
}

/// One DICOM ParticipantObjectDetail (type, value) pair. The value is kept as text here;
/// DICOM's XML carries it base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectDetail {
    /// The detail's type name.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value.
    pub value: String,
}

/// DICOM ParticipantObjectIdentification: what the event was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantObject {
    /// ParticipantObjectIDTypeCode.
    pub id_type: Code,
    /// ParticipantObjectID.
    pub id: String,
    /// ParticipantObjectTypeCode.
    #[serde(rename = "type")]
    pub kind: ObjectType,
    /// ParticipantObjectTypeCodeRole (numeric DICOM role, e.g. 13 security resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<u8>,
    /// ParticipantObjectName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ParticipantObjectDetail(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ObjectDetail>,
}

/// One audit event: DICOM's EventIdentification plus participants, source and objects.
///
/// `kind` is medguard's own event type; `event_id`, `event_types` and `action` are its DICOM
/// codes, filled from the [`EventKind`] catalogue by [`AuditEvent::new`].
///
/// Serialising gives the full form (every DICOM code spelled out). The stored, digested
/// form ([`AuditEvent::to_canonical_json`]) leaves out the codes that equal the
/// catalogue's defaults; deserialising accepts both and fills them back in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireEvent")]
pub struct AuditEvent {
    /// medguard's event type.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// EventID.
    pub event_id: Code,
    /// EventTypeCode(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<Code>,
    /// EventActionCode.
    pub action: ActionCode,
    /// EventDateTime.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// EventOutcomeIndicator.
    pub outcome: Outcome,
    /// EventOutcomeDescription: free text saying what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// ActiveParticipant(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<ActiveParticipant>,
    /// AuditSourceIdentification.
    pub source: AuditSource,
    /// ParticipantObjectIdentification(s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ParticipantObject>,
}

impl AuditEvent {
    /// An event of `kind` at `time` with the catalogue's DICOM codes, reported by `source`.
    #[must_use]
    pub fn new(kind: EventKind, time: OffsetDateTime, outcome: Outcome, source: &str) -> Self {
        let entry = kind.catalogue();
        let mut event_types = Vec::with_capacity(2);
        if let Some((code, display)) = entry.type_code {
            event_types.push(Code::dcm(code, display));
        }
        event_types.push(Code::private(kind.as_str(), entry.display));
        Self {
            kind,
            event_id: Code::dcm(entry.event_id.0, entry.event_id.1),
            event_types,
            action: entry.action,
            time,
            outcome,
            detail: None,
            participants: Vec::new(),
            source: AuditSource {
                id: source.to_owned(),
                enterprise_site: None,
                types: vec![Code::dcm(DEFAULT_SOURCE_TYPE.0, DEFAULT_SOURCE_TYPE.1)],
            },
            objects: Vec::new(),
        }
    }

    /// The requesting user's id, if any participant is marked as the requestor.
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.participants
            .iter()
            .find(|p| p.is_requestor)
            .map(|p| p.user_id.as_str())
    }

    /// The requestor's network access point (its address), if any.
    #[must_use]
    pub fn source_address(&self) -> Option<&str> {
        self.participants
            .iter()
            .find(|p| p.is_requestor)
            .and_then(|p| p.network_access_point.as_deref())
    }

    /// The canonical bytes the chain digests: compact JSON in field declaration order,
    /// without the DICOM codes that equal the catalogue's defaults for `kind`.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let entry = self.kind.catalogue();
        let default_id = self.event_id.is(entry.event_id.0, "DCM", entry.event_id.1);
        let default_types = {
            let mut expected = entry
                .type_code
                .map(|(c, d)| (c, "DCM", d))
                .into_iter()
                .chain(std::iter::once((
                    self.kind.as_str(),
                    PRIVATE_SCHEME,
                    entry.display,
                )));
            self.event_types
                .iter()
                .all(|t| expected.next().is_some_and(|(c, s, d)| t.is(c, s, d)))
                && expected.next().is_none()
        };
        let default_source_types = matches!(
            self.source.types.as_slice(),
            [t] if t.is(DEFAULT_SOURCE_TYPE.0, "DCM", DEFAULT_SOURCE_TYPE.1)
        );
        let compact = CompactEvent {
            kind: self.kind,
            event_id: (!default_id).then_some(&self.event_id),
            event_types: (!default_types).then_some(&self.event_types),
            action: (self.action != entry.action).then_some(self.action),
            time: Rfc3339(self.time),
            outcome: self.outcome,
            detail: self.detail.as_deref(),
            participants: &self.participants,
            source: CompactSource {
                id: &self.source.id,
                enterprise_site: self.source.enterprise_site.as_deref(),
                types: (!default_source_types).then_some(&self.source.types),
            },
            objects: &self.objects,
        };
        let mut out = Vec::with_capacity(256);
        serde_json::to_writer(&mut out, &compact)?;
        Ok(out)
    }
}

/// AuditSourceTypeCode 4: application server process (RFC 3881 / DICOM).
const DEFAULT_SOURCE_TYPE: (&str, &str) = ("4", "Application Server Process");

impl Code {
    fn is(&self, code: &str, scheme: &str, display: &str) -> bool {
        self.code == code && self.scheme == scheme && self.display == display
    }
}

/// The stored form: codes equal to the catalogue's defaults are left out.
#[derive(Serialize)]
struct CompactEvent<'a> {
    #[serde(rename = "type")]
    kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a Code>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_types: Option<&'a Vec<Code>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<ActionCode>,
    time: Rfc3339,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    participants: &'a [ActiveParticipant],
    source: CompactSource<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    objects: &'a [ParticipantObject],
}

#[derive(Serialize)]
struct CompactSource<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    enterprise_site: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    types: Option<&'a Vec<Code>>,
}

/// RFC 3339 formatting without going through `time`'s general formatter (the hot path of
/// appending); the output is exactly what `time`'s RFC 3339 parser reads back.
struct Rfc3339(OffsetDateTime);

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let (oh, om, os) = t.offset().as_hms();
        let Ok(year) = u32::try_from(t.year()) else {
            return time::serde::rfc3339::serialize(&t, s);
        };
        if year > 9999 || os != 0 {
            // Not representable in RFC 3339: let `time` report the error.
            return time::serde::rfc3339::serialize(&t, s);
        }
        let mut out = [0u8; 36];
        let mut n = 0;
        let mut digits = |value: u32, width: u32, sep: Option<u8>| {
            for i in (0..width).rev() {
                if let Some(slot) = out.get_mut(n) {
                    // Always a single decimal digit.
                    *slot = b'0' + u8::try_from(value / 10u32.pow(i) % 10).unwrap_or(0);
                }
                n += 1;
            }
            if let (Some(sep), Some(slot)) = (sep, out.get_mut(n)) {
                *slot = sep;
                n += 1;
            }
        };
        digits(year, 4, Some(b'-'));
        digits(u32::from(u8::from(t.month())), 2, Some(b'-'));
        digits(u32::from(t.day()), 2, Some(b'T'));
        digits(u32::from(t.hour()), 2, Some(b':'));
        digits(u32::from(t.minute()), 2, Some(b':'));
        digits(u32::from(t.second()), 2, None);
        let mut nanos = t.nanosecond();
        if nanos != 0 {
            let mut width = 9;
            while nanos.is_multiple_of(10) {
                nanos /= 10;
                width -= 1;
            }
            digits(0, 0, Some(b'.'));
            digits(nanos, width, None);
        }
        if t.offset().is_utc() {
            digits(0, 0, Some(b'Z'));
        } else {
            let sign = if oh < 0 || om < 0 { b'-' } else { b'+' };
            digits(0, 0, Some(sign));
            digits(u32::from(oh.unsigned_abs()), 2, Some(b':'));
            digits(u32::from(om.unsigned_abs()), 2, None);
        }
        let text = out
            .get(..n)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        s.serialize_str(text)
    }
}

/// Either form of an event, as read.
#[derive(Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: EventKind,
    #[serde(default)]
    event_id: Option<Code>,
    #[serde(default)]
    event_types: Option<Vec<Code>>,
    #[serde(default)]
    action: Option<ActionCode>,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    outcome: Outcome,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    participants: Vec<ActiveParticipant>,
    source: WireSource,
    #[serde(default)]
    objects: Vec<ParticipantObject>,
}

#[derive(Deserialize)]
struct WireSource {
    id: String,
    #[serde(default)]
    enterprise_site: Option<String>,
    #[serde(default)]
    types: Option<Vec<Code>>,
}

impl From<WireEvent> for AuditEvent {
    fn from(w: WireEvent) -> Self {
        let mut event = AuditEvent::new(w.kind, w.time, w.outcome, &w.source.id);
        if let Some(id) = w.event_id {
            event.event_id = id;
        }
        if let Some(types) = w.event_types {
            event.event_types = types;
        }
        if let Some(action) = w.action {
            event.action = action;
        }
        if let Some(types) = w.source.types {
            event.source.types = types;
        }
        event.source.enterprise_site = w.source.enterprise_site;
        event.detail = w.detail;
        event.participants = w.participants;
        event.objects = w.objects;
        event
    }
}

/// What the catalogue says about one [`EventKind`].
#[derive(Debug, Clone, Copy)]
pub struct CatalogueEntry {
    /// The DICOM EventID (code, display).
    pub event_id: (&'static str, &'static str),
    /// The DICOM EventTypeCode, when DICOM has one that fits.
    pub type_code: Option<(&'static str, &'static str)>,
    /// The EventActionCode.
    pub action: ActionCode,
    /// medguard's display name.
    pub display: &'static str,
}

macro_rules! event_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $display:literal,
        $id:literal / $id_name:expr, $type_code:expr, $action:ident; )*) => {
        /// medguard's own event types. The JSON and command-line form is the kebab-case
        /// name (`login-failure`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            $( $(#[$doc])* $variant, )*
        }

        impl EventKind {
            /// Every event type, in catalogue order.
            pub const ALL: &'static [EventKind] = &[ $( EventKind::$variant, )* ];

            /// The kebab-case name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $( EventKind::$variant => $name, )* }
            }

            /// The DICOM codes of this event type.
            #[must_use]
            pub fn catalogue(self) -> CatalogueEntry {
                match self {
                    $( EventKind::$variant => CatalogueEntry {
                        event_id: ($id, $id_name),
                        type_code: $type_code,
                        action: ActionCode::$action,
                        display: $display,
                    }, )*
                }
            }
        }
    };
}

const SECURITY_ALERT: &str = "Security Alert";
const USER_AUTHENTICATION: &str = "User Authentication";
const APPLICATION_ACTIVITY: &str = "Application Activity";

event_kinds! {
    /// A file of the device deviates from its signed system profile.
    IntegrityDeviation = "integrity-deviation", "Integrity deviation",
        "110113" / SECURITY_ALERT, Some(("110131", "Software Configuration")), E;
    /// The allowlist denied (or, in audit mode, would deny) an executable.
    ExecutableDenied = "executable-denied", "Executable denied",
        "110113" / SECURITY_ALERT, Some(("110132", "Use of Restricted Function")), E;
    /// The malware scanner found a match.
    MalwareFound = "malware-found", "Malware found",
        "110113" / SECURITY_ALERT, None, E;
    /// A user logged in.
    LoginSuccess = "login-success", "Login success",
        "110114" / USER_AUTHENTICATION, Some(("110122", "Login")), E;
    /// A login attempt failed.
    LoginFailure = "login-failure", "Login failure",
        "110114" / USER_AUTHENTICATION, Some(("110122", "Login")), E;
    /// A user logged out.
    Logout = "logout", "Logout",
        "110114" / USER_AUTHENTICATION, Some(("110123", "Logout")), E;
    /// Emergency (break-glass) access was used.
    BreakGlass = "break-glass", "Break-glass access",
        "110113" / SECURITY_ALERT, Some(("110127", "Emergency Override Started")), E;
    /// Break-glass access ended (by itself, by its holder or by a reviewer).
    BreakGlassEnded = "break-glass-ended", "Break-glass access ended",
        "110113" / SECURITY_ALERT, Some(("110138", "Emergency Override Stopped")), E;
    /// A person was refused an action (role, site, token or CSRF token).
    AccessDenied = "access-denied", "Access denied",
        "110113" / SECURITY_ALERT, Some(("110132", "Use of Restricted Function")), E;
    /// A person's account or credentials changed (added, set up, reset, token made or
    /// revoked, hold released).
    UserSecurityChanged = "user-security-changed", "User security attributes changed",
        "110113" / SECURITY_ALERT, Some(("110137", "User Security Attributes Changed")), U;
    /// A person's role or scope was granted or changed.
    SecurityRolesChanged = "security-roles-changed", "Security roles changed",
        "110113" / SECURITY_ALERT, Some(("110136", "Security Roles Changed")), U;
    /// A patch's relevance and impact were assessed.
    PatchAssessed = "patch-assessed", "Patch assessed",
        "110100" / APPLICATION_ACTIVITY, None, R;
    /// A patch passed formal validation.
    PatchValidated = "patch-validated", "Patch validated",
        "110100" / APPLICATION_ACTIVITY, None, U;
    /// A patch was signed and released.
    PatchReleased = "patch-released", "Patch released",
        "110106" / "Export", None, C;
    /// A patch was installed on the device.
    PatchInstalled = "patch-installed", "Patch installed",
        "110113" / SECURITY_ALERT, Some(("110131", "Software Configuration")), U;
    /// A patch install failed.
    PatchFailed = "patch-failed", "Patch install failed",
        "110113" / SECURITY_ALERT, Some(("110131", "Software Configuration")), U;
    /// A patch install was put off because the device was in clinical use or outside its
    /// maintenance window; nothing was touched. Not a failure: a SIEM must not count it as
    /// one, so it is application activity rather than a security alert.
    PatchDeferred = "patch-deferred", "Patch install deferred",
        "110100" / APPLICATION_ACTIVITY, None, E;
    /// A patch install was rolled back.
    PatchRolledBack = "patch-rolled-back", "Patch rolled back",
        "110113" / SECURITY_ALERT, Some(("110131", "Software Configuration")), U;
    /// The device's configuration changed.
    ConfigurationChange = "configuration-change", "Configuration change",
        "110113" / SECURITY_ALERT, Some(("110129", "Security Configuration")), U;
    /// A detection rule fired over the audit stream.
    DetectionAlert = "detection-alert", "Detection alert",
        "110113" / SECURITY_ALERT, None, E;
    /// The audit log was recovered after a crash (a torn tail was cut).
    AuditLogRecovery = "audit-log-recovery", "Audit log recovery",
        "110113" / SECURITY_ALERT, Some(("110134", "Audit Recording Started")), E;
    /// The audit log was read (queried, exported, verified).
    AuditLogUsed = "audit-log-used", "Audit log used",
        "110101" / "Audit Log Used", None, R;
    /// A medguard process started.
    ApplicationStart = "application-start", "Application start",
        "110100" / APPLICATION_ACTIVITY, Some(("110120", "Application Start")), E;
    /// A medguard process stopped.
    ApplicationStop = "application-stop", "Application stop",
        "110100" / APPLICATION_ACTIVITY, Some(("110121", "Application Stop")), E;
    /// Data (a report, an export) was imported onto the device.
    Import = "import", "Import",
        "110107" / "Import", None, C;
    /// Data was exported from the device.
    Export = "export", "Export",
        "110106" / "Export", None, R;
    /// A query was run against the device.
    Query = "query", "Query",
        "110112" / "Query", None, E;
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown event type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The minimal event line `medguard audit append` reads:
/// `{"type": "login-failure", "outcome": "minor-failure", "user": "alice"}`.
///
/// Only `type` is required. `outcome` defaults to `success`, `time` (RFC 3339) to the
/// clock's now, `host` to the writer's audit source id. Unknown fields are rejected so a
/// typo does not silently drop information.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// medguard event type.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Outcome; `success` when absent.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Event time; the clock's now when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub time: Option<OffsetDateTime>,
    /// The requesting user's id.
    #[serde(default)]
    pub user: Option<String>,
    /// The requesting user's display name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The requestor's IP address.
    #[serde(default)]
    pub source_ip: Option<String>,
    /// The reporting host (AuditSourceID).
    #[serde(default)]
    pub host: Option<String>,
    /// Free text (EventOutcomeDescription).
    #[serde(default)]
    pub detail: Option<String>,
    /// Ids of the objects concerned (files, patches, rules).
    #[serde(default)]
    pub objects: Vec<String>,
}

/// Ways an input event line is rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Not a JSON object of the expected shape (including an unknown `type`).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl EventInput {
    /// Parses one JSON line.
    pub fn parse(line: &str) -> Result<Self, InputError> {
        Ok(serde_json::from_str(line)?)
    }

    /// Maps the input onto the DICOM-aligned model. `now` is used when the line has no
    /// time, `default_host` when it has no host.
    #[must_use]
    pub fn into_event(self, now: OffsetDateTime, default_host: &str) -> AuditEvent {
        let host = self.host.as_deref().unwrap_or(default_host);
        let mut event = AuditEvent::new(
            self.kind,
            self.time.unwrap_or(now),
            self.outcome.unwrap_or(Outcome::Success),
            host,
        );
        event.detail = self.detail;
        if self.user.is_some() || self.source_ip.is_some() {
            event.participants.push(ActiveParticipant {
                user_id: self.user.unwrap_or_default(),
                alternative_user_id: None,
                user_name: self.user_name,
                is_requestor: true,
                roles: Vec::new(),
                network_access_point_type: self
                    .source_ip
                    .as_ref()
                    .map(|_| NetworkAccessPointType::IpAddress),
                network_access_point: self.source_ip,
            });
        }
        for id in self.objects {
            event.objects.push(ParticipantObject {
                // RFC 3881 ParticipantObjectIDTypeCode 12: URI.
                id_type: Code::dcm("12", "URI"),
                id,
                kind: ObjectType::SystemObject,
                role: None,
                name: None,
                details: Vec::new(),
            });
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// medguard's catalogue against DICOM PS3.16 CID 400 (EventID), CID 401-403 (event
    /// type codes).
    #[test]
    fn catalogue_maps_to_dicom_event_ids() {
        let table = [
            (EventKind::IntegrityDeviation, "110113", Some("110131")),
            (EventKind::ExecutableDenied, "110113", Some("110132")),
            (EventKind::MalwareFound, "110113", None),
            (EventKind::LoginSuccess, "110114", Some("110122")),
            (EventKind::LoginFailure, "110114", Some("110122")),
            (EventKind::Logout, "110114", Some("110123")),
            (EventKind::BreakGlass, "110113", Some("110127")),
            (EventKind::PatchAssessed, "110100", None),
            (EventKind::PatchValidated, "110100", None),
            (EventKind::PatchReleased, "110106", None),
            (EventKind::PatchInstalled, "110113", Some("110131")),
            (EventKind::PatchFailed, "110113", Some("110131")),
            (EventKind::PatchDeferred, "110100", None),
            (EventKind::PatchRolledBack, "110113", Some("110131")),
            (EventKind::ConfigurationChange, "110113", Some("110129")),
            (EventKind::DetectionAlert, "110113", None),
            (EventKind::AuditLogRecovery, "110113", Some("110134")),
            (EventKind::AuditLogUsed, "110101", None),
            (EventKind::Import, "110107", None),
            (EventKind::Export, "110106", None),
            (EventKind::Query, "110112", None),
        ];
        for (kind, id, type_code) in table {
            let e = AuditEvent::new(kind, OffsetDateTime::UNIX_EPOCH, Outcome::Success, "h");
            assert_eq!(e.event_id.code, id, "{kind}");
            assert_eq!(e.event_id.scheme, "DCM");
            let dcm: Vec<_> = e.event_types.iter().filter(|c| c.scheme == "DCM").collect();
            assert_eq!(dcm.first().map(|c| c.code.as_str()), type_code, "{kind}");
            assert!(
                e.event_types
                    .iter()
                    .any(|c| c.scheme == PRIVATE_SCHEME && c.code == kind.as_str())
            );
        }
    }

    #[test]
    fn every_kind_round_trips_by_name() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), *kind);
        }
    }

    #[test]
    fn login_failure_maps_to_dicom_user_authentication() {
        let line = r#"{"type":"login-failure","outcome":"minor-failure","user":"alice","source_ip":"10.0.0.7"}"#;
        let event = EventInput::parse(line)
            .unwrap()
            .into_event(datetime!(2026-01-02 03:04:05 UTC), "pacs1");
        assert_eq!(event.event_id.code, "110114");
        assert_eq!(event.event_types.first().unwrap().code, "110122");
        assert_eq!(event.outcome.code(), 4);
        assert_eq!(event.user(), Some("alice"));
        assert_eq!(event.source_address(), Some("10.0.0.7"));
        assert_eq!(event.source.id, "pacs1");
        let json = event.to_canonical_json().unwrap();
        assert!(
            !String::from_utf8_lossy(&json).contains("110114"),
            "defaults left out"
        );
        let back: AuditEvent = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, event);
        let full = serde_json::to_vec(&event).unwrap();
        assert!(String::from_utf8_lossy(&full).contains("110114"));
        assert_eq!(serde_json::from_slice::<AuditEvent>(&full).unwrap(), event);
    }

    proptest::proptest! {
        #[test]
        fn compact_times_parse_back_exactly(
            secs in -62_135_596_800i64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            offset_min in -1439i32..1439,
        ) {
            let offset = time::UtcOffset::from_whole_seconds(offset_min * 60).unwrap();
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap()
                .replace_nanosecond(nanos).unwrap()
                .to_offset(offset);
            proptest::prop_assume!((0..=9999).contains(&t.year()));
            let json = serde_json::to_string(&Rfc3339(t)).unwrap();
            let back = OffsetDateTime::parse(json.trim_matches('"'), &time::format_description::well_known::Rfc3339).unwrap();
            proptest::prop_assert_eq!(back, t);
            proptest::prop_assert_eq!(back.offset(), t.offset());
        }
    }

    #[test]
    fn non_default_codes_and_times_survive_the_compact_form() {
        let mut event = AuditEvent::new(
            EventKind::PatchInstalled,
            datetime!(2026-01-02 03:04:05.123456789 -05:30),
            Outcome::Success,
            "ct-2",
        );
        event.event_types.pop();
        event.action = ActionCode::C;
        event.source.types.clear();
        for t in [
            datetime!(2026-01-02 03:04:05.5 +01:00),
            datetime!(0001-01-01 00:00 UTC),
            datetime!(2026-12-31 23:59:59.000000001 UTC),
        ] {
            event.time = t;
            let json = event.to_canonical_json().unwrap();
            let back: AuditEvent = serde_json::from_slice(&json).unwrap();
            assert_eq!(back, event, "{}", String::from_utf8_lossy(&json));
            assert_eq!(back.time.offset(), t.offset());
        }
    }

    #[test]
    fn unknown_type_and_unknown_field_are_rejected() {
        assert!(EventInput::parse(r#"{"type":"coffee-break"}"#).is_err());
        assert!(EventInput::parse(r#"{"type":"logout","usr":"a"}"#).is_err());
        assert!(EventInput::parse(r#"{"outcome":"success"}"#).is_err());
    }
}
