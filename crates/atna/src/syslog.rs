//! RFC 5424 syslog messages and RFC 5425 octet-counting frames.
//!
//! Owns the wire format: PRI, header fields with their length and character limits and
//! NILVALUE, structured data with its escaping, and `MSG-LEN SP SYSLOG-MSG` framing, plus a
//! frame parser for collectors and fuzzing that returns errors instead of panicking. It must
//! not open connections (that is [`crate::transport`]) and knows nothing of DICOM beyond
//! [`SyslogMessage::for_audit_message`], which applies IHE ITI-20's header conventions.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use time::OffsetDateTime;

use crate::dicom::{AuditMessage, EventOutcomeIndicator};

/// The `MSGID` that IHE ITI-20 (Record Audit Event) requires: `IHE+RFC-3881`. ITI-20 kept this
/// value when the payload moved from the RFC 3881 schema to the DICOM PS3.15 A.5 schema, so
/// Audit Record Repositories recognise audit messages by it.
pub const ATNA_MSGID: &str = "IHE+RFC-3881";

/// The largest frame [`parse_frame`] accepts unless told otherwise: 1 MiB. RFC 5425 asks
/// receivers to support 2048 octets and allows more; DICOM audit messages with many
/// participant objects exceed 8 KiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 1 << 20;

/// Errors building syslog fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyslogError {
    /// A header field or SD-ID was empty or longer than RFC 5424 allows.
    #[error("{field} must be 1 to {max} characters, got {length}")]
    Length {
        /// The field, e.g. `HOSTNAME`.
        field: &'static str,
        /// Its maximum length.
        max: usize,
        /// The length given.
        length: usize,
    },
    /// A header field or SD-ID held a character RFC 5424 does not allow there.
    #[error("{field} may only hold printable US-ASCII, found {character:?} at {index}")]
    Character {
        /// The field, e.g. `APP-NAME`.
        field: &'static str,
        /// The offending character.
        character: char,
        /// Its character index.
        index: usize,
    },
}

/// Errors parsing an octet-counted frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The frame does not start with a digit.
    #[error("frame at offset {offset} has no MSG-LEN")]
    MissingLength {
        /// Offset of the frame in the stream.
        offset: u64,
    },
    /// MSG-LEN starts with `0` (RFC 5425: `NONZERO-DIGIT *DIGIT`).
    #[error("frame at offset {offset}: MSG-LEN starts with 0")]
    LeadingZero {
        /// Offset of the frame in the stream.
        offset: u64,
    },
    /// A byte other than a digit or the space ends MSG-LEN.
    #[error("frame at offset {offset}: byte {byte:#04x} in MSG-LEN")]
    NotADigit {
        /// Offset of the frame in the stream.
        offset: u64,
        /// The offending byte.
        byte: u8,
    },
    /// MSG-LEN is larger than the receiver accepts.
    #[error("frame at offset {offset}: MSG-LEN is at least {length}, more than the {max} accepted")]
    TooLong {
        /// Offset of the frame in the stream.
        offset: u64,
        /// The declared length (or its prefix already read, when that exceeded `max`).
        length: u64,
        /// The largest accepted length.
        max: usize,
    },
}

/// Syslog facility (RFC 5424 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Facility {
    Kernel,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Printer,
    News,
    Uucp,
    Cron,
    /// 10: security/authorization messages; IHE ITI-20 requires it for audit messages.
    AuthPriv,
    Ftp,
    Ntp,
    LogAudit,
    LogAlert,
    Clock,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    /// The numeric code, 0 to 23.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Syslog severity (RFC 5424 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Severity {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Severity {
    /// The numeric code, 0 to 7.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// `PRI`: facility and severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// The facility.
    pub facility: Facility,
    /// The severity.
    pub severity: Severity,
}

impl Priority {
    /// `PRIVAL` = facility × 8 + severity.
    pub fn value(self) -> u8 {
        self.facility.code() * 8 + self.severity.code()
    }
}

fn check_header_field(field: &'static str, max: usize, value: &str) -> Result<(), SyslogError> {
    let length = value.chars().count();
    if length == 0 || length > max {
        return Err(SyslogError::Length { field, max, length });
    }
    match value
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c, '!'..='~'))
    {
        Some((index, character)) => Err(SyslogError::Character {
            field,
            character,
            index,
        }),
        None => Ok(()),
    }
}

/// Replaces characters outside printable US-ASCII by `_` and truncates to `max`; an empty
/// result is `None` (NILVALUE).
fn sanitize_header_field(max: usize, value: &str) -> Option<String> {
    let cleaned: String = value
        .chars()
        .map(|c| if matches!(c, '!'..='~') { c } else { '_' })
        .take(max)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

macro_rules! header_field {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("The longest value RFC 5424 allows for ", $field, ".")]
            pub const MAX_LEN: usize = $max;

            /// Checks length and characters (printable US-ASCII, no space).
            pub fn new(value: &str) -> Result<Self, SyslogError> {
                check_header_field($field, $max, value)?;
                Ok(Self(value.to_owned()))
            }

            /// Replaces characters that are not allowed by `_` and truncates to the
            /// maximum length; `None` when nothing is left (send NILVALUE).
            pub fn sanitized(value: &str) -> Option<Self> {
                sanitize_header_field($max, value).map(Self)
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

header_field!(
    /// `HOSTNAME`: 1 to 255 printable US-ASCII characters (FQDN, IP address or host name).
    Hostname, "HOSTNAME", 255
);
header_field!(
    /// `APP-NAME`: 1 to 48 printable US-ASCII characters.
    AppName, "APP-NAME", 48
);
header_field!(
    /// `PROCID`: 1 to 128 printable US-ASCII characters.
    ProcId, "PROCID", 128
);
header_field!(
    /// `MSGID`: 1 to 32 printable US-ASCII characters.
    MsgId, "MSGID", 32
);

/// An `SD-ID` or `PARAM-NAME` character: printable US-ASCII except `=`, space, `]`, `"`.
fn is_sd_name_char(c: char) -> bool {
    matches!(c, '!'..='~') && !matches!(c, '=' | ']' | '"')
}

/// An `SD-ID`: 1 to 32 printable US-ASCII characters except `=`, space, `]` and `"`; private
/// ones are `name@<private enterprise number>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SdId(Cow<'static, str>);

impl SdId {
    /// Checks the SD-ID's length and characters.
    pub fn new(value: &str) -> Result<Self, SyslogError> {
        let length = value.chars().count();
        if length == 0 || length > 32 {
            return Err(SyslogError::Length {
                field: "SD-ID",
                max: 32,
                length,
            });
        }
        if let Some((index, character)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| !is_sd_name_char(*c))
        {
            return Err(SyslogError::Character {
                field: "SD-ID",
                character,
                index,
            });
        }
        Ok(Self(Cow::Owned(value.to_owned())))
    }

    /// A compile-time SD-ID of this crate; rendering still sanitises it.
    pub(crate) fn from_static(value: &'static str) -> Self {
        Self(Cow::Borrowed(value))
    }

    /// The SD-ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes an SD-NAME, replacing characters that are not allowed by `_` and truncating to 32
/// characters, so that output is always well-formed.
fn write_sd_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let mut written = 0;
    for c in name.chars().take(32) {
        f.write_char(if is_sd_name_char(c) { c } else { '_' })?;
        written += 1;
    }
    if written == 0 {
        f.write_str("_")?;
    }
    Ok(())
}

/// An `SD-ELEMENT`: an SD-ID and its parameters, in order (names may repeat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdElement {
    id: SdId,
    params: Vec<(Cow<'static, str>, String)>,
}

impl SdElement {
    /// An element without parameters.
    pub fn new(id: SdId) -> Self {
        Self {
            id,
            params: Vec::new(),
        }
    }

    /// Adds a parameter. `name` should be a valid PARAM-NAME (1 to 32 printable US-ASCII
    /// characters except `=`, space, `]`, `"`); other characters are written as `_`.
    #[must_use]
    pub fn param(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((Cow::Borrowed(name), value.to_owned()));
        self
    }

    /// The SD-ID.
    pub fn id(&self) -> &SdId {
        &self.id
    }

    /// The parameters in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }
}

impl fmt::Display for SdElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        write_sd_name(f, self.id.as_str())?;
        for (name, value) in &self.params {
            f.write_str(" ")?;
            write_sd_name(f, name)?;
            f.write_str("=\"")?;
            write_param_value(f, value)?;
            f.write_str("\"")?;
        }
        f.write_str("]")
    }
}

/// Writes a PARAM-VALUE escaping `"`, `\` and `]` (RFC 5424 §6.3.3). C0 control characters
/// and DEL become U+FFFD: RFC 5424 has no escape for them and collectors would otherwise
/// split or mangle the line.
fn write_param_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    for c in value.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            ']' => f.write_str("\\]")?,
            c if c.is_ascii_control() => f.write_str("\u{FFFD}")?,
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

/// `STRUCTURED-DATA`: zero or more SD-ELEMENTs; empty renders as NILVALUE `-`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StructuredData {
    elements: Vec<SdElement>,
}

impl StructuredData {
    /// No structured data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an element. RFC 5424 forbids the same SD-ID twice in one message; the caller
    /// keeps them distinct.
    #[must_use]
    pub fn element(mut self, element: SdElement) -> Self {
        self.elements.push(element);
        self
    }

    /// The elements in order.
    pub fn elements(&self) -> &[SdElement] {
        &self.elements
    }
}

impl fmt::Display for StructuredData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.elements.is_empty() {
            return f.write_str("-");
        }
        for element in &self.elements {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// Formats a time as RFC 3339 with six fractional digits and its UTC offset (`Z` when the
/// offset is zero), e.g. `2026-11-23T08:53:13.123456+01:00`. This is also a valid
/// `xsd:dateTime` for years 1 to 9999. Offsets that neither format can carry (beyond ±14:00,
/// which XML Schema forbids, or with seconds) are written as the same instant in UTC.
pub fn format_rfc3339(time: OffsetDateTime) -> String {
    let offset = time.offset();
    let (hours, minutes, seconds) = offset.as_hms();
    let representable = seconds == 0 && (hours.abs() < 14 || (hours.abs() == 14 && minutes == 0));
    let time = if representable {
        time
    } else {
        time.to_offset(time::UtcOffset::UTC)
    };
    let offset = time.offset();
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.microsecond()
    );
    if offset.is_utc() {
        out.push('Z');
    } else {
        let (hours, minutes, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        out.push_str(&format!(
            "{sign}{:02}:{:02}",
            hours.unsigned_abs(),
            minutes.unsigned_abs()
        ));
    }
    out
}

/// The sender side of an ATNA message's header: who sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `HOSTNAME`; `None` sends NILVALUE.
    pub hostname: Option<Hostname>,
    /// `APP-NAME`; IHE asks for the identifier of the application that originated the
    /// message (e.g. `medguard`).
    pub app_name: Option<AppName>,
    /// `PROCID`, e.g. the process id; `None` sends NILVALUE.
    pub proc_id: Option<ProcId>,
}

/// Whether [`SyslogMessage::for_audit_message`] copies key fields into STRUCTURED-DATA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AtnaStructuredData {
    /// NILVALUE: the XML payload is the whole message (what ITI-20 specifies).
    #[default]
    Omit,
    /// Also send [`AuditMessage::to_structured_data`] for collectors that do not parse XML.
    KeyFields,
}

/// An RFC 5424 syslog message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogMessage {
    /// `PRI`.
    pub priority: Priority,
    /// `TIMESTAMP`; `None`, or a year outside 0 to 9999, sends NILVALUE.
    pub timestamp: Option<OffsetDateTime>,
    /// `HOSTNAME`.
    pub hostname: Option<Hostname>,
    /// `APP-NAME`.
    pub app_name: Option<AppName>,
    /// `PROCID`.
    pub proc_id: Option<ProcId>,
    /// `MSGID`.
    pub msg_id: Option<MsgId>,
    /// `STRUCTURED-DATA`.
    pub structured_data: StructuredData,
    /// `MSG`, sent as UTF-8 without byte order mark (RFC 5424 `MSG-ANY`).
    pub msg: Option<String>,
}

impl SyslogMessage {
    /// The ITI-20 message for a DICOM audit message: facility `authpriv` (10), severity
    /// notice (5) for success and warning (4) for failures, TIMESTAMP the event's time,
    /// MSGID [`ATNA_MSGID`], MSG the XML document.
    pub fn for_audit_message(
        message: &AuditMessage,
        origin: &Origin,
        structured_data: AtnaStructuredData,
    ) -> Self {
        let severity = match message.event.outcome {
            EventOutcomeIndicator::Success => Severity::Notice,
            _ => Severity::Warning,
        };
        Self {
            priority: Priority {
                facility: Facility::AuthPriv,
                severity,
            },
            timestamp: Some(message.event.date_time),
            hostname: origin.hostname.clone(),
            app_name: origin.app_name.clone(),
            proc_id: origin.proc_id.clone(),
            msg_id: Some(MsgId(ATNA_MSGID.to_owned())),
            structured_data: match structured_data {
                AtnaStructuredData::Omit => StructuredData::new(),
                AtnaStructuredData::KeyFields => message.to_structured_data(),
            },
            msg: Some(message.to_xml()),
        }
    }

    /// The message as bytes (no framing, no trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

fn write_nil_or(f: &mut fmt::Formatter<'_>, value: Option<&str>) -> fmt::Result {
    f.write_str(value.unwrap_or("-"))
}

impl fmt::Display for SyslogMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>1 ", self.priority.value())?;
        match self.timestamp {
            Some(time) if (0..=9999).contains(&time.year()) => {
                f.write_str(&format_rfc3339(time))?
            }
            _ => f.write_str("-")?,
        }
        f.write_str(" ")?;
        write_nil_or(f, self.hostname.as_ref().map(Hostname::as_str))?;
        f.write_str(" ")?;
        write_nil_or(f, self.app_name.as_ref().map(AppName::as_str))?;
        f.write_str(" ")?;
        write_nil_or(f, self.proc_id.as_ref().map(ProcId::as_str))?;
        f.write_str(" ")?;
        write_nil_or(f, self.msg_id.as_ref().map(MsgId::as_str))?;
        write!(f, " {}", self.structured_data)?;
        if let Some(msg) = &self.msg {
            write!(f, " {msg}")?;
        }
        Ok(())
    }
}

/// Appends one RFC 5425 frame, `MSG-LEN SP SYSLOG-MSG`, to `out`.
pub fn write_frame(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message);
}

/// One RFC 5425 frame, `MSG-LEN SP SYSLOG-MSG`.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    write_frame(&mut out, message);
    out
}

/// A frame found by [`parse_frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The SYSLOG-MSG.
    pub message: &'a [u8],
    /// How many bytes of the input the frame took, header included.
    pub consumed: usize,
}

/// Parses the frame at the start of `input`. `Ok(None)` means more bytes are needed; an
/// empty MSG (length 0) cannot be framed since MSG-LEN starts with a non-zero digit.
/// `stream_offset` is only used to name the position in errors.
pub fn parse_frame(
    input: &[u8],
    max_len: usize,
    stream_offset: u64,
) -> Result<Option<Frame<'_>>, FrameError> {
    let offset = stream_offset;
    let mut length: usize = 0;
    for (index, &byte) in input.iter().enumerate() {
        match byte {
            b' ' if index == 0 => return Err(FrameError::MissingLength { offset }),
            b' ' => {
                let start = index + 1;
                let Some(end) = start.checked_add(length) else {
                    return Err(FrameError::TooLong {
                        offset,
                        length: length as u64,
                        max: max_len,
                    });
                };
                return Ok(input.get(start..end).map(|message| Frame {
                    message,
                    consumed: end,
                }));
            }
            b'0' if index == 0 => return Err(FrameError::LeadingZero { offset }),
            b'0'..=b'9' => {
                length = length
                    .saturating_mul(10)
                    .saturating_add(usize::from(byte - b'0'));
                if length > max_len {
                    return Err(FrameError::TooLong {
                        offset,
                        length: length as u64,
                        max: max_len,
                    });
                }
            }
            _ if index == 0 => return Err(FrameError::MissingLength { offset }),
            _ => return Err(FrameError::NotADigit { offset, byte }),
        }
    }
    Ok(None)
}

/// Splits a byte stream into frames as bytes arrive (a collector's side of RFC 5425).
///
/// After an error the stream is out of sync (octet counting has no resynchronisation point):
/// the decoder keeps returning the error and the connection should be closed.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    start: usize,
    stream_offset: u64,
    max_len: usize,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder accepting frames up to `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        Self {
            buffer: Vec::new(),
            start: 0,
            stream_offset: 0,
            max_len,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buffer.len() / 2 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame's message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let pending = self.buffer.get(self.start..).unwrap_or_default();
        match parse_frame(pending, self.max_len, self.stream_offset) {
            Ok(Some(frame)) => {
                let message = frame.message.to_vec();
                self.start += frame.consumed;
                self.stream_offset += frame.consumed as u64;
                Ok(Some(message))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Bytes received but not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.buffer.len().saturating_sub(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pri_follows_rfc5424_examples() {
        // RFC 5424 §6.2.1: local4.notice is 165; ITI-20's authpriv.notice is 85.
        let p = Priority {
            facility: Facility::Local4,
            severity: Severity::Notice,
        };
        assert_eq!(p.value(), 165);
        let p = Priority {
            facility: Facility::AuthPriv,
            severity: Severity::Notice,
        };
        assert_eq!(p.value(), 85);
    }

    #[test]
    fn header_fields_enforce_limits_and_nil() {
        assert!(AppName::new(&"a".repeat(48)).is_ok());
        assert!(matches!(
            AppName::new(&"a".repeat(49)),
            Err(SyslogError::Length {
                max: 48,
                length: 49,
                ..
            })
        ));
        assert!(matches!(
            Hostname::new("ct 1"),
            Err(SyslogError::Character {
                character: ' ',
                index: 2,
                ..
            })
        ));
        assert!(matches!(MsgId::new(""), Err(SyslogError::Length { .. })));
        assert_eq!(Hostname::sanitized("ct 1é").unwrap().as_str(), "ct_1_");
        assert_eq!(ProcId::sanitized(""), None);
        let message = SyslogMessage {
            priority: Priority {
                facility: Facility::AuthPriv,
                severity: Severity::Notice,
            },
            timestamp: None,
            hostname: None,
            app_name: None,
            proc_id: None,
            msg_id: None,
            structured_data: StructuredData::new(),
            msg: None,
        };
        assert_eq!(message.to_string(), "<85>1 - - - - - -");
    }

    #[test]
    fn timestamp_has_fraction_and_offset() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_003_000_000_000_000_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(-7, -30, 0).unwrap());
        assert_eq!(format_rfc3339(t), "2001-10-13T11:36:40.000000-07:30");
        assert_eq!(
            format_rfc3339(OffsetDateTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
        let odd =
            OffsetDateTime::UNIX_EPOCH.to_offset(time::UtcOffset::from_hms(15, 0, 0).unwrap());
        assert_eq!(format_rfc3339(odd), "1970-01-01T00:00:00.000000Z");
        let odd =
            OffsetDateTime::UNIX_EPOCH.to_offset(time::UtcOffset::from_hms(1, 0, 30).unwrap());
        assert_eq!(format_rfc3339(odd), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn sd_id_rules() {
        assert!(SdId::new("dicomEvent@32473").is_ok());
        assert!(SdId::new(crate::dicom::sd_ids::PARTICIPANT).is_ok());
        assert!(SdId::new(crate::dicom::sd_ids::EVENT).is_ok());
        assert!(SdId::new(crate::dicom::sd_ids::SOURCE).is_ok());
        assert!(SdId::new(crate::dicom::sd_ids::OBJECT).is_ok());
        assert!(SdId::new("a=b").is_err());
        assert!(SdId::new(&"a".repeat(33)).is_err());
    }

    #[test]
    fn frame_errors_are_typed() {
        assert_eq!(
            parse_frame(b"0 x", 100, 7),
            Err(FrameError::LeadingZero { offset: 7 })
        );
        assert_eq!(
            parse_frame(b" x", 100, 0),
            Err(FrameError::MissingLength { offset: 0 })
        );
        assert_eq!(
            parse_frame(b"1x", 100, 0),
            Err(FrameError::NotADigit {
                offset: 0,
                byte: b'x'
            })
        );
        assert!(matches!(
            parse_frame(b"99999999999999999999999999 ", 100, 0),
            Err(FrameError::TooLong { max: 100, .. })
        ));
        assert_eq!(parse_frame(b"12", 100, 0), Ok(None));
        assert_eq!(parse_frame(b"5 abc", 100, 0), Ok(None));
        assert_eq!(
            parse_frame(b"3 abcdef", 100, 0),
            Ok(Some(Frame {
                message: b"abc",
                consumed: 5
            }))
        );
    }

    proptest! {
        #[test]
        fn frames_round_trip_through_any_split(
            messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..20),
            split in 1usize..64,
        ) {
            let mut stream = Vec::new();
            for message in &messages {
                write_frame(&mut stream, message);
            }
            let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_LEN);
            let mut decoded = Vec::new();
            for chunk in stream.chunks(split) {
                decoder.push(chunk);
                while let Some(message) = decoder.next_message().unwrap() {
                    decoded.push(message);
                }
            }
            prop_assert_eq!(decoded, messages);
            prop_assert_eq!(decoder.pending(), 0);
        }

        #[test]
        fn parser_never_panics(input in prop::collection::vec(any::<u8>(), 0..64), max in 0usize..100) {
            let _ = parse_frame(&input, max, 0);
        }
    }
}
