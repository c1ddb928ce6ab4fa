//! The DICOM audit message (DICOM PS3.15 Annex A.5.1), as sent in IHE ATNA (ITI-20).
//!
//! Owns the message's structure and its two renderings: the XML document the standard's
//! schema describes ([`AuditMessage::to_xml`]) and a few key fields as RFC 5424 structured
//! data ([`AuditMessage::to_structured_data`]). It must not choose codes for medguard's own
//! events (the audit crate does that) and must not do any I/O.
//!
//! Values that only have a few legal values in the schema are enums, so every message that
//! can be built (with an event time in the years 1 to 9999, which `xsd:dateTime` requires)
//! renders to a document that is valid against `schema/dicom-audit-message.rng`; free-text
//! values may hold anything, including markup and control characters, which the renderer
//! escapes or replaces.

use base64::Engine as _;
use time::OffsetDateTime;

use crate::syslog::{SdElement, SdId, StructuredData, format_rfc3339};
use crate::xml::{push_attribute, push_escaped};

/// A coded value (`CodedValueType` in PS3.15 A.5.1): a code from a coding scheme.
///
/// Rendered as the attributes `csd-code`, `codeSystemName`, `originalText` and, when set,
/// `displayName`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodedValue {
    /// The code (`csd-code`), e.g. `110100`.
    pub code: String,
    /// The coding scheme designator (`codeSystemName`), e.g. `DCM`.
    pub code_system_name: String,
    /// The code meaning as sent (`originalText`), e.g. `Application Activity`.
    pub original_text: String,
    /// An optional display name (`displayName`).
    pub display_name: Option<String>,
}

impl CodedValue {
    /// A coded value without display name.
    pub fn new(
        code: impl Into<String>,
        code_system_name: impl Into<String>,
        original_text: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            code_system_name: code_system_name.into(),
            original_text: original_text.into(),
            display_name: None,
        }
    }

    /// A code from the DICOM Controlled Terminology (coding scheme designator `DCM`).
    pub fn dcm(code: impl Into<String>, meaning: impl Into<String>) -> Self {
        Self::new(code, "DCM", meaning)
    }

    /// Sets the display name.
    #[must_use]
    pub fn with_display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    fn push_attributes(&self, out: &mut String) {
        push_attribute(out, "csd-code", &self.code);
        push_attribute(out, "codeSystemName", &self.code_system_name);
        if let Some(display_name) = &self.display_name {
            push_attribute(out, "displayName", display_name);
        }
        push_attribute(out, "originalText", &self.original_text);
    }

    fn push_element(&self, out: &mut String, element: &str) {
        out.push('<');
        out.push_str(element);
        self.push_attributes(out);
        out.push_str("/>");
    }
}

/// `EventActionCode`: the action that was performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventActionCode {
    /// `C`: create.
    Create,
    /// `R`: read, view, print, query.
    Read,
    /// `U`: update.
    Update,
    /// `D`: delete.
    Delete,
    /// `E`: execute (performed a system or application function).
    Execute,
}

impl EventActionCode {
    /// The code as written in the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "C",
            Self::Read => "R",
            Self::Update => "U",
            Self::Delete => "D",
            Self::Execute => "E",
        }
    }
}

/// `EventOutcomeIndicator`: whether the event succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventOutcomeIndicator {
    /// `0`: nominal success (also when the outcome is unknown or ambiguous).
    Success,
    /// `4`: minor failure.
    MinorFailure,
    /// `8`: serious failure.
    SeriousFailure,
    /// `12`: major failure; the reporting application is now marginal.
    MajorFailure,
}

impl EventOutcomeIndicator {
    /// The code as written in the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "0",
            Self::MinorFailure => "4",
            Self::SeriousFailure => "8",
            Self::MajorFailure => "12",
        }
    }
}

/// `EventIdentification`: what happened, when, and with which outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventIdentification {
    /// `EventID`, e.g. `(110100, DCM, "Application Activity")`.
    pub event_id: CodedValue,
    /// `EventActionCode`, optional.
    pub action: Option<EventActionCode>,
    /// `EventDateTime`: when the event happened (years 1 to 9999).
    pub date_time: OffsetDateTime,
    /// `EventOutcomeIndicator`.
    pub outcome: EventOutcomeIndicator,
    /// `EventOutcomeDescription`: free text, optional.
    pub outcome_description: Option<String>,
    /// `EventTypeCode`, zero or more.
    pub event_type_codes: Vec<CodedValue>,
    /// `PurposeOfUse`, zero or more.
    pub purpose_of_use: Vec<CodedValue>,
}

impl EventIdentification {
    /// An event with no action code, outcome description, type codes or purpose of use.
    pub fn new(
        event_id: CodedValue,
        date_time: OffsetDateTime,
        outcome: EventOutcomeIndicator,
    ) -> Self {
        Self {
            event_id,
            action: None,
            date_time,
            outcome,
            outcome_description: None,
            event_type_codes: Vec::new(),
            purpose_of_use: Vec::new(),
        }
    }
}

/// `NetworkAccessPointTypeCode`: what kind of identifier `NetworkAccessPointID` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkAccessPointTypeCode {
    /// `1`: machine name, including DNS name.
    MachineName,
    /// `2`: IP address.
    IpAddress,
    /// `3`: telephone number.
    TelephoneNumber,
    /// `4`: email address.
    EmailAddress,
    /// `5`: URI (user directory, HTTP-PUT, ftp, …).
    Uri,
}

impl NetworkAccessPointTypeCode {
    /// The code as written in the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MachineName => "1",
            Self::IpAddress => "2",
            Self::TelephoneNumber => "3",
            Self::EmailAddress => "4",
            Self::Uri => "5",
        }
    }
}

/// `NetworkAccessPointID` with its `NetworkAccessPointTypeCode`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetworkAccessPoint {
    /// What kind of identifier [`Self::id`] is.
    pub type_code: NetworkAccessPointTypeCode,
    /// The identifier, e.g. `pacs1.example.org` or `192.0.2.10`.
    pub id: String,
}

/// `ActiveParticipant`: a user or process taking part in the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveParticipant {
    /// `UserID`: the participant's identity (user name, process id, AE title, …).
    pub user_id: String,
    /// `AlternativeUserID`, optional (e.g. a process id or an AE title list).
    pub alternative_user_id: Option<String>,
    /// `UserName`: human-readable name, optional.
    pub user_name: Option<String>,
    /// `UserIsRequestor`: whether this participant initiated the event.
    pub user_is_requestor: bool,
    /// `RoleIDCode`, zero or more.
    pub role_id_codes: Vec<CodedValue>,
    /// `NetworkAccessPointID` and its type, optional.
    pub network_access_point: Option<NetworkAccessPoint>,
}

impl ActiveParticipant {
    /// A participant with only `UserID` and `UserIsRequestor`.
    pub fn new(user_id: impl Into<String>, user_is_requestor: bool) -> Self {
        Self {
            user_id: user_id.into(),
            alternative_user_id: None,
            user_name: None,
            user_is_requestor,
            role_id_codes: Vec::new(),
            network_access_point: None,
        }
    }
}

/// The audit source types of RFC 3881 that DICOM uses for `AuditSourceTypeCode` (PS3.15
/// A.5.3.2), rendered as coded values in the `DCM` scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditSourceType {
    /// `1`: end-user display device, diagnostic display.
    EndUserInterface,
    /// `2`: data acquisition device or instrument.
    DataAcquisitionDevice,
    /// `3`: web server process or thread.
    WebServerProcess,
    /// `4`: application server process or thread.
    ApplicationServerProcess,
    /// `5`: database server process or thread.
    DatabaseServerProcess,
    /// `6`: security server, e.g. a domain controller.
    SecurityServer,
    /// `7`: ISO level 1–3 network component.
    NetworkComponent,
    /// `8`: ISO level 4–6 operating software.
    OperatingSoftware,
    /// `9`: other.
    Other,
}

impl AuditSourceType {
    /// The source type as a coded value.
    pub fn to_coded_value(self) -> CodedValue {
        let (code, meaning) = match self {
            Self::EndUserInterface => ("1", "End-user display device, diagnostic display"),
            Self::DataAcquisitionDevice => ("2", "Data acquisition device or instrument"),
            Self::WebServerProcess => ("3", "Web server process or thread"),
            Self::ApplicationServerProcess => ("4", "Application server process or thread"),
            Self::DatabaseServerProcess => ("5", "Database server process or thread"),
            Self::SecurityServer => ("6", "Security server"),
            Self::NetworkComponent => ("7", "ISO level 1-3 network component"),
            Self::OperatingSoftware => ("8", "ISO level 4-6 operating software"),
            Self::Other => ("9", "External source, other or unknown type"),
        };
        CodedValue::dcm(code, meaning)
    }
}

/// `AuditSourceIdentification`: the system that detected the event and wrote the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSourceIdentification {
    /// `AuditEnterpriseSiteID`: the hospital or site, optional.
    pub enterprise_site_id: Option<String>,
    /// `AuditSourceID`: this device, e.g. its host name.
    pub source_id: String,
    /// `AuditSourceTypeCode`, zero or more.
    pub source_type_codes: Vec<CodedValue>,
}

impl AuditSourceIdentification {
    /// A source with only `AuditSourceID`.
    pub fn new(source_id: impl Into<String>) -> Self {
        Self {
            enterprise_site_id: None,
            source_id: source_id.into(),
            source_type_codes: Vec::new(),
        }
    }
}

/// `ParticipantObjectTypeCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParticipantObjectTypeCode {
    /// `1`: person.
    Person,
    /// `2`: system object.
    SystemObject,
    /// `3`: organization.
    Organization,
    /// `4`: other.
    Other,
}

impl ParticipantObjectTypeCode {
    /// The code as written in the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "1",
            Self::SystemObject => "2",
            Self::Organization => "3",
            Self::Other => "4",
        }
    }
}

/// `ParticipantObjectTypeCodeRole`: the role the object played (RFC 3881 5.5.2, 1 to 24).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ParticipantObjectTypeCodeRole {
    Patient,
    Location,
    Report,
    Resource,
    MasterFile,
    User,
    List,
    Doctor,
    Subscriber,
    Guarantor,
    SecurityUserEntity,
    SecurityUserGroup,
    SecurityResource,
    SecurityGranularityDefinition,
    Provider,
    DataDestination,
    DataRepository,
    Schedule,
    Customer,
    Job,
    JobStream,
    Table,
    RoutingCriteria,
    Query,
}

impl ParticipantObjectTypeCodeRole {
    /// Every role, in code order (`1` first).
    pub const ALL: [Self; 24] = [
        Self::Patient,
        Self::Location,
        Self::Report,
        Self::Resource,
        Self::MasterFile,
        Self::User,
        Self::List,
        Self::Doctor,
        Self::Subscriber,
        Self::Guarantor,
        Self::SecurityUserEntity,
        Self::SecurityUserGroup,
        Self::SecurityResource,
        Self::SecurityGranularityDefinition,
        Self::Provider,
        Self::DataDestination,
        Self::DataRepository,
        Self::Schedule,
        Self::Customer,
        Self::Job,
        Self::JobStream,
        Self::Table,
        Self::RoutingCriteria,
        Self::Query,
    ];

    /// The numeric code, 1 to 24.
    pub fn code(self) -> u8 {
        // The enum is declared in code order starting at 1.
        self as u8 + 1
    }
}

/// `ParticipantObjectDetail`: a type/value pair; the value is carried as base64.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ParticipantObjectDetail {
    /// The `type` attribute, e.g. `BLAKE3`.
    pub detail_type: String,
    /// The raw value; rendered as `xsd:base64Binary`.
    pub value: Vec<u8>,
}

/// What names a participant object: a name or, for a query, the query itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParticipantObjectDescriptor {
    /// `ParticipantObjectName`.
    Name(String),
    /// `ParticipantObjectQuery`: the query bytes, rendered as base64.
    Query(Vec<u8>),
}

/// `ParticipantObjectIdentification`: a thing the event touched (a patient, a study, a file,
/// a patch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantObjectIdentification {
    /// `ParticipantObjectTypeCode`, optional.
    pub type_code: Option<ParticipantObjectTypeCode>,
    /// `ParticipantObjectTypeCodeRole`, optional.
    pub type_code_role: Option<ParticipantObjectTypeCodeRole>,
    /// `ParticipantObjectIDTypeCode`: what kind of identifier [`Self::id`] is.
    pub id_type_code: CodedValue,
    /// `ParticipantObjectID`.
    pub id: String,
    /// `ParticipantObjectName` or `ParticipantObjectQuery`, optional.
    pub descriptor: Option<ParticipantObjectDescriptor>,
    /// `ParticipantObjectDetail`, zero or more.
    pub details: Vec<ParticipantObjectDetail>,
}

impl ParticipantObjectIdentification {
    /// An object with only its identifier and identifier type.
    pub fn new(id_type_code: CodedValue, id: impl Into<String>) -> Self {
        Self {
            type_code: None,
            type_code_role: None,
            id_type_code,
            id: id.into(),
            descriptor: None,
            details: Vec::new(),
        }
    }
}

/// A DICOM audit message (`AuditMessage`, PS3.15 A.5.1).
///
/// The standard requires at least one active participant, so one is given at construction
/// and the list can only grow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditMessage {
    /// `EventIdentification`.
    pub event: EventIdentification,
    active_participants: Vec<ActiveParticipant>,
    /// `AuditSourceIdentification`.
    pub audit_source: AuditSourceIdentification,
    /// `ParticipantObjectIdentification`, zero or more.
    pub participant_objects: Vec<ParticipantObjectIdentification>,
}

/// The RFC 5424 SD-IDs that [`AuditMessage::to_structured_data`] uses. The number after `@`
/// is 32473, the private enterprise number RFC 5612 reserves for documentation and examples.
pub mod sd_ids {
    /// Event identification: `eventID`, `action`, `dateTime`, `outcome`, `eventType`*.
    pub const EVENT: &str = "dicomEvent@32473";
    /// Active participants: per participant, always the three parameters `userID`,
    /// `requestor` and `napID` in this order (empty when absent), so positions correlate.
    pub const PARTICIPANT: &str = "dicomParticipant@32473";
    /// Audit source: `sourceID`, `siteID` (when present).
    pub const SOURCE: &str = "dicomSource@32473";
    /// Participant objects: per object, always `idType`, `id` and `role` (empty when
    /// absent).
    pub const OBJECT: &str = "dicomObject@32473";
}

impl AuditMessage {
    /// A message with one active participant and no participant objects.
    pub fn new(
        event: EventIdentification,
        participant: ActiveParticipant,
        audit_source: AuditSourceIdentification,
    ) -> Self {
        Self {
            event,
            active_participants: vec![participant],
            audit_source,
            participant_objects: Vec::new(),
        }
    }

    /// Adds an active participant.
    #[must_use]
    pub fn with_participant(mut self, participant: ActiveParticipant) -> Self {
        self.active_participants.push(participant);
        self
    }

    /// Adds a participant object.
    #[must_use]
    pub fn with_participant_object(mut self, object: ParticipantObjectIdentification) -> Self {
        self.participant_objects.push(object);
        self
    }

    /// The active participants; never empty.
    pub fn active_participants(&self) -> &[ActiveParticipant] {
        &self.active_participants
    }

    /// Adds an active participant (for callers that build messages in place).
    pub fn push_participant(&mut self, participant: ActiveParticipant) {
        self.active_participants.push(participant);
    }

    /// The message as an XML 1.0 document in UTF-8 without byte order mark, with an XML
    /// declaration and no line breaks (so it fits one line of a log file).
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        self.push_xml_element(&mut out);
        out
    }

    /// The `<AuditMessage>` element alone, without XML declaration (for embedding).
    pub fn to_xml_element(&self) -> String {
        let mut out = String::with_capacity(1024);
        self.push_xml_element(&mut out);
        out
    }

    fn push_xml_element(&self, out: &mut String) {
        out.push_str("<AuditMessage>");
        self.push_event(out);
        for participant in &self.active_participants {
            push_participant(out, participant);
        }
        self.push_source(out);
        for object in &self.participant_objects {
            push_object(out, object);
        }
        out.push_str("</AuditMessage>");
    }

    fn push_event(&self, out: &mut String) {
        let event = &self.event;
        out.push_str("<EventIdentification");
        if let Some(action) = event.action {
            push_attribute(out, "EventActionCode", action.as_str());
        }
        push_attribute(out, "EventDateTime", &format_rfc3339(event.date_time));
        push_attribute(out, "EventOutcomeIndicator", event.outcome.as_str());
        out.push('>');
        event.event_id.push_element(out, "EventID");
        for code in &event.event_type_codes {
            code.push_element(out, "EventTypeCode");
        }
        if let Some(description) = &event.outcome_description {
            out.push_str("<EventOutcomeDescription>");
            push_escaped(out, description);
            out.push_str("</EventOutcomeDescription>");
        }
        for code in &event.purpose_of_use {
            code.push_element(out, "PurposeOfUse");
        }
        out.push_str("</EventIdentification>");
    }

    fn push_source(&self, out: &mut String) {
        let source = &self.audit_source;
        out.push_str("<AuditSourceIdentification");
        if let Some(site) = &source.enterprise_site_id {
            push_attribute(out, "AuditEnterpriseSiteID", site);
        }
        push_attribute(out, "AuditSourceID", &source.source_id);
        if source.source_type_codes.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for code in &source.source_type_codes {
            code.push_element(out, "AuditSourceTypeCode");
        }
        out.push_str("</AuditSourceIdentification>");
    }

    /// The key fields as RFC 5424 structured data, for collectors that do not parse the
    /// XML payload. The SD-IDs and parameter names are listed in [`sd_ids`]; the full
    /// message is only in the XML.
    pub fn to_structured_data(&self) -> StructuredData {
        let event = &self.event;
        let mut event_element = SdElement::new(SdId::from_static(sd_ids::EVENT))
            .param("eventID", &event.event_id.code)
            .param("eventIDScheme", &event.event_id.code_system_name)
            .param("dateTime", &format_rfc3339(event.date_time))
            .param("outcome", event.outcome.as_str());
        if let Some(action) = event.action {
            event_element = event_element.param("action", action.as_str());
        }
        for code in &event.event_type_codes {
            event_element = event_element.param("eventType", &code.code);
        }

        let mut participants = SdElement::new(SdId::from_static(sd_ids::PARTICIPANT));
        for participant in &self.active_participants {
            let nap = participant
                .network_access_point
                .as_ref()
                .map_or("", |nap| nap.id.as_str());
            participants = participants
                .param("userID", &participant.user_id)
                .param(
                    "requestor",
                    if participant.user_is_requestor {
                        "true"
                    } else {
                        "false"
                    },
                )
                .param("napID", nap);
        }

        let mut source = SdElement::new(SdId::from_static(sd_ids::SOURCE))
            .param("sourceID", &self.audit_source.source_id);
        if let Some(site) = &self.audit_source.enterprise_site_id {
            source = source.param("siteID", site);
        }

        let mut data = StructuredData::new()
            .element(event_element)
            .element(participants)
            .element(source);
        if !self.participant_objects.is_empty() {
            let mut objects = SdElement::new(SdId::from_static(sd_ids::OBJECT));
            for object in &self.participant_objects {
                let role = object
                    .type_code_role
                    .map(|role| role.code().to_string())
                    .unwrap_or_default();
                objects = objects
                    .param("idType", &object.id_type_code.code)
                    .param("id", &object.id)
                    .param("role", &role);
            }
            data = data.element(objects);
        }
        data
    }
}

fn push_participant(out: &mut String, participant: &ActiveParticipant) {
    out.push_str("<ActiveParticipant");
    push_attribute(out, "UserID", &participant.user_id);
    if let Some(alternative) = &participant.alternative_user_id {
        push_attribute(out, "AlternativeUserID", alternative);
    }
    if let Some(name) = &participant.user_name {
        push_attribute(out, "UserName", name);
    }
    push_attribute(
        out,
        "UserIsRequestor",
        if participant.user_is_requestor {
            "true"
        } else {
            "false"
        },
    );
    if let Some(nap) = &participant.network_access_point {
        push_attribute(out, "NetworkAccessPointID", &nap.id);
        push_attribute(out, "NetworkAccessPointTypeCode", nap.type_code.as_str());
    }
    if participant.role_id_codes.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for code in &participant.role_id_codes {
        code.push_element(out, "RoleIDCode");
    }
    out.push_str("</ActiveParticipant>");
}

fn push_object(out: &mut String, object: &ParticipantObjectIdentification) {
    let base64 = base64::engine::general_purpose::STANDARD;
    out.push_str("<ParticipantObjectIdentification");
    push_attribute(out, "ParticipantObjectID", &object.id);
    if let Some(type_code) = object.type_code {
        push_attribute(out, "ParticipantObjectTypeCode", type_code.as_str());
    }
    if let Some(role) = object.type_code_role {
        push_attribute(
            out,
            "ParticipantObjectTypeCodeRole",
            &role.code().to_string(),
        );
    }
    out.push('>');
    object
        .id_type_code
        .push_element(out, "ParticipantObjectIDTypeCode");
    match &object.descriptor {
        Some(ParticipantObjectDescriptor::Name(name)) => {
            out.push_str("<ParticipantObjectName>");
            push_escaped(out, name);
            out.push_str("</ParticipantObjectName>");
        }
        Some(ParticipantObjectDescriptor::Query(query)) => {
            out.push_str("<ParticipantObjectQuery>");
            out.push_str(&base64.encode(query));
            out.push_str("</ParticipantObjectQuery>");
        }
        None => {}
    }
    for detail in &object.details {
        out.push_str("<ParticipantObjectDetail");
        push_attribute(out, "type", &detail.detail_type);
        push_attribute(out, "value", &base64.encode(&detail.value));
        out.push_str("/>");
    }
    out.push_str("</ParticipantObjectIdentification>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditMessage {
        let when = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap());
        let mut event = EventIdentification::new(
            CodedValue::dcm("110100", "Application Activity"),
            when,
            EventOutcomeIndicator::Success,
        );
        event.action = Some(EventActionCode::Execute);
        event
            .event_type_codes
            .push(CodedValue::dcm("110120", "Application Start"));
        let mut participant = ActiveParticipant::new("medguard", false);
        participant.network_access_point = Some(NetworkAccessPoint {
            type_code: NetworkAccessPointTypeCode::MachineName,
            id: "ct-1".into(),
        });
        let mut source = AuditSourceIdentification::new("ct-1");
        source
            .source_type_codes
            .push(AuditSourceType::OperatingSoftware.to_coded_value());
        AuditMessage::new(event, participant, source)
    }

    #[test]
    fn renders_the_dicom_structure() {
        let xml = sample().to_xml();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>\
             <EventIdentification EventActionCode=\"E\" EventDateTime=\"2023-11-14T23:13:20.123456+01:00\" EventOutcomeIndicator=\"0\">\
             <EventID csd-code=\"110100\" codeSystemName=\"DCM\" originalText=\"Application Activity\"/>\
             <EventTypeCode csd-code=\"110120\" codeSystemName=\"DCM\" originalText=\"Application Start\"/>\
             </EventIdentification>\
             <ActiveParticipant UserID=\"medguard\" UserIsRequestor=\"false\" NetworkAccessPointID=\"ct-1\" NetworkAccessPointTypeCode=\"1\"/>\
             <AuditSourceIdentification AuditSourceID=\"ct-1\">\
             <AuditSourceTypeCode csd-code=\"8\" codeSystemName=\"DCM\" originalText=\"ISO level 4-6 operating software\"/>\
             </AuditSourceIdentification></AuditMessage>"
        );
    }

    #[test]
    fn structured_data_escapes_per_rfc5424() {
        let mut message = sample();
        message.push_participant(ActiveParticipant::new("a\"b\\c]d", true));
        let sd = message.to_structured_data().to_string();
        assert!(
            sd.contains(r#"userID="a\"b\\c\]d" requestor="true" napID="""#),
            "{sd}"
        );
        assert!(
            sd.starts_with("[dicomEvent@32473 eventID=\"110100\""),
            "{sd}"
        );
    }

    #[test]
    fn roles_are_numbered_from_one() {
        assert_eq!(ParticipantObjectTypeCodeRole::Patient.code(), 1);
        assert_eq!(ParticipantObjectTypeCodeRole::Query.code(), 24);
    }
}
