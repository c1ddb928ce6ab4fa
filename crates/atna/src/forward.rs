//! Store-and-forward of the audit trail to an IHE ATNA Audit Record Repository: stored
//! records of `medguard-audit` become DICOM PS3.15 audit messages in RFC 5424 syslog over
//! TLS.
//!
//! This module owns the mapping of [`AuditEvent`] onto [`AuditMessage`], the forwarding
//! cursor (a small file in the log directory naming the next record seq to send to one
//! collector, replaced durably through `medguard_host::write_atomically` after each batch
//! the collector confirmed), one pass over the log ([`forward_pending`]) and the loop that
//! keeps forwarding with retries and back-off ([`forward_continuously`]). It must not write
//! records (only `medguard_audit::AuditWriter` does), must not print, and waits only on the
//! [`Clock`] it is given.
//!
//! Delivery: at-least-once across crashes of either side, exactly-once otherwise; see
//! [`crate::transport`]. A crash between a confirmed batch and the cursor update resends
//! that one batch. Every message carries the record's seq and chain digest in its
//! structured data (`medguardRecord@32473`), so a repository can drop the duplicates.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use medguard_audit::{
    ActionCode, ActiveParticipant, AuditEvent, AuditLog, Code, NetworkAccessPointType, ObjectType,
    Outcome, StoredRecord,
};
use medguard_host::Clock;

use crate::dicom::{
    self, AuditMessage, AuditSourceIdentification, CodedValue, EventIdentification,
    NetworkAccessPoint, NetworkAccessPointTypeCode, ParticipantObjectDescriptor,
    ParticipantObjectDetail, ParticipantObjectIdentification, ParticipantObjectTypeCode,
    ParticipantObjectTypeCodeRole,
};
use crate::syslog::{
    AppName, AtnaStructuredData, Hostname, Origin, ProcId, SdElement, SdId, StructuredData,
    SyslogMessage,
};
use crate::transport::{Endpoint, SyslogTlsSender, TransportError};

/// The SD-ID of the structured data naming the stored record (`seq`, `digest`). 32473 is
/// the private enterprise number RFC 5612 reserves for examples.
pub const RECORD_SD_ID: &str = "medguardRecord@32473";

/// Errors of forwarding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// Reading the log failed.
    #[error(transparent)]
    Audit(#[from] medguard_audit::AuditError),
    /// The collector could not be reached or did not confirm a batch; the cursor still
    /// names the batch's first record.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The cursor file does not hold a record number.
    #[error("{}: forwarding cursor: {reason}", path.display())]
    Cursor {
        /// The cursor file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The cursor file could not be read.
    #[error("{}: forwarding cursor: {source}", path.display())]
    CursorRead {
        /// The cursor file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The cursor file could not be replaced; the batch was delivered and will be sent
    /// again.
    #[error("forwarding cursor: {0}")]
    CursorWrite(#[source] medguard_host::WriteError),
}

fn coded(code: &Code) -> CodedValue {
    CodedValue::new(&code.code, &code.scheme, &code.display)
}

fn participant(p: &ActiveParticipant) -> dicom::ActiveParticipant {
    let mut out = dicom::ActiveParticipant::new(&p.user_id, p.is_requestor);
    out.alternative_user_id.clone_from(&p.alternative_user_id);
    out.user_name.clone_from(&p.user_name);
    out.role_id_codes = p.roles.iter().map(coded).collect();
    out.network_access_point = p.network_access_point.as_ref().map(|id| {
        let type_code = match p.network_access_point_type {
            Some(NetworkAccessPointType::MachineName) => NetworkAccessPointTypeCode::MachineName,
            Some(NetworkAccessPointType::IpAddress) => NetworkAccessPointTypeCode::IpAddress,
            Some(NetworkAccessPointType::TelephoneNumber) => {
                NetworkAccessPointTypeCode::TelephoneNumber
            }
            Some(NetworkAccessPointType::EmailAddress) => NetworkAccessPointTypeCode::EmailAddress,
            Some(NetworkAccessPointType::Uri) => NetworkAccessPointTypeCode::Uri,
            // DICOM needs a type with the id: an address if it parses as one.
            None if id.parse::<IpAddr>().is_ok() => NetworkAccessPointTypeCode::IpAddress,
            None => NetworkAccessPointTypeCode::MachineName,
        };
        NetworkAccessPoint {
            type_code,
            id: id.clone(),
        }
    });
    out
}

/// The DICOM audit message of a stored event. DICOM requires at least one active
/// participant: an event without any gets the audit source itself (`UserID` = source id,
/// not the requestor), which is the process that recorded it.
pub fn to_audit_message(event: &AuditEvent) -> AuditMessage {
    let mut identification = EventIdentification::new(
        coded(&event.event_id),
        event.time,
        match event.outcome {
            Outcome::Success => dicom::EventOutcomeIndicator::Success,
            Outcome::MinorFailure => dicom::EventOutcomeIndicator::MinorFailure,
            Outcome::SeriousFailure => dicom::EventOutcomeIndicator::SeriousFailure,
            Outcome::MajorFailure => dicom::EventOutcomeIndicator::MajorFailure,
        },
    );
    identification.action = Some(match event.action {
        ActionCode::C => dicom::EventActionCode::Create,
        ActionCode::R => dicom::EventActionCode::Read,
        ActionCode::U => dicom::EventActionCode::Update,
        ActionCode::D => dicom::EventActionCode::Delete,
        ActionCode::E => dicom::EventActionCode::Execute,
    });
    identification.outcome_description.clone_from(&event.detail);
    identification.event_type_codes = event.event_types.iter().map(coded).collect();

    let mut source = AuditSourceIdentification::new(&event.source.id);
    source
        .enterprise_site_id
        .clone_from(&event.source.enterprise_site);
    source.source_type_codes = event.source.types.iter().map(coded).collect();

    let mut participants = event.participants.iter().map(participant);
    let first = participants
        .next()
        .unwrap_or_else(|| dicom::ActiveParticipant::new(&event.source.id, false));
    let mut message = AuditMessage::new(identification, first, source);
    for p in participants {
        message.push_participant(p);
    }
    for object in &event.objects {
        let mut out = ParticipantObjectIdentification::new(coded(&object.id_type), &object.id);
        out.type_code = Some(match object.kind {
            ObjectType::Person => ParticipantObjectTypeCode::Person,
            ObjectType::SystemObject => ParticipantObjectTypeCode::SystemObject,
            ObjectType::Organization => ParticipantObjectTypeCode::Organization,
            ObjectType::Other => ParticipantObjectTypeCode::Other,
        });
        out.type_code_role = object
            .role
            .and_then(|role| usize::from(role).checked_sub(1))
            .and_then(|index| ParticipantObjectTypeCodeRole::ALL.get(index).copied());
        out.descriptor = object.name.clone().map(ParticipantObjectDescriptor::Name);
        out.details = object
            .details
            .iter()
            .map(|d| ParticipantObjectDetail {
                detail_type: d.kind.clone(),
                value: d.value.clone().into_bytes(),
            })
            .collect();
        message = message.with_participant_object(out);
    }
    message
}

/// The ITI-20 syslog message of a stored record: the DICOM XML as MSG, and structured data
/// naming the record (`seq`, `digest`) plus, with [`AtnaStructuredData::KeyFields`], the
/// message's key fields.
pub fn to_syslog(
    record: &StoredRecord,
    origin: &Origin,
    structured_data: AtnaStructuredData,
) -> SyslogMessage {
    let audit = to_audit_message(&record.event);
    let mut message = SyslogMessage::for_audit_message(&audit, origin, structured_data);
    let mut data = StructuredData::new();
    // RECORD_SD_ID is a valid SD-ID (a unit test checks it), so this always adds it.
    if let Ok(id) = SdId::new(RECORD_SD_ID) {
        data = data.element(
            SdElement::new(id)
                .param("seq", &record.seq.to_string())
                .param("digest", &record.digest.to_hex()),
        );
    }
    for element in message.structured_data.elements() {
        data = data.element(element.clone());
    }
    message.structured_data = data;
    message
}

/// The cursor file for one collector, in the log directory.
pub fn cursor_path(log_dir: &Path, endpoint: &Endpoint) -> PathBuf {
    let name: String = endpoint
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    log_dir.join(format!("forward-{name}.cursor"))
}

/// The next seq to send according to the cursor file (1, the first record, if there is no
/// file yet).
pub fn read_cursor(path: &Path) -> Result<u64, ForwardError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map_err(|_| ForwardError::Cursor {
            path: path.to_owned(),
            reason: format!("not a record number: {:?}", text.trim()),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(1),
        Err(source) => Err(ForwardError::CursorRead {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Replaces the cursor file atomically and durably.
pub fn write_cursor(path: &Path, next_seq: u64) -> Result<(), ForwardError> {
    medguard_host::write_bytes_atomically(path, 0o644, format!("{next_seq}\n").as_bytes())
        .map_err(ForwardError::CursorWrite)
}

/// The syslog header fields of medguard's messages from `host`: HOSTNAME (sanitised to
/// what RFC 5424 allows), APP-NAME `medguard`, PROCID this process.
#[must_use]
pub fn medguard_origin(host: &str) -> Origin {
    Origin {
        hostname: Hostname::sanitized(host),
        app_name: AppName::new("medguard").ok(),
        proc_id: ProcId::new(&std::process::id().to_string()).ok(),
    }
}

/// How [`forward_pending`] sends.
#[derive(Debug, Clone)]
pub struct ForwardOptions {
    /// Records per batch (one TLS connection and one cursor update each by default).
    pub batch_size: usize,
    /// HOSTNAME, APP-NAME and PROCID of the syslog header.
    pub origin: Origin,
    /// Whether to add the key fields as structured data.
    pub structured_data: AtnaStructuredData,
}

/// What one [`forward_pending`] pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardReport {
    /// Records delivered in this pass.
    pub records: u64,
    /// Batches delivered.
    pub batches: u64,
    /// The next seq to send (the cursor after this pass).
    pub next_seq: u64,
}

/// Sends every record from the cursor to the end of the log, batch by batch, advancing the
/// cursor file after each delivered batch. Stops at the first error, with the cursor at the
/// first record not yet delivered; calling again resumes there.
pub fn forward_pending(
    log: &AuditLog,
    sender: &mut SyslogTlsSender,
    options: &ForwardOptions,
) -> Result<ForwardReport, ForwardError> {
    let path = cursor_path(log.dir(), sender.endpoint());
    let mut next_seq = read_cursor(&path)?;
    let batch_size = options.batch_size.max(1);
    let mut report = ForwardReport {
        records: 0,
        batches: 0,
        next_seq,
    };
    let mut records = log.records_from(next_seq)?;
    loop {
        let mut batch = Vec::with_capacity(batch_size);
        let mut last_seq = None;
        let mut read_error = None;
        for record in records.by_ref().take(batch_size) {
            match record {
                Ok(record) => {
                    last_seq = Some(record.seq);
                    batch.push(
                        to_syslog(&record, &options.origin, options.structured_data).to_string(),
                    );
                }
                // Send the good records before it, then stop: a damaged record is never
                // skipped silently (run `verify`).
                Err(error) => {
                    read_error = Some(error);
                    break;
                }
            }
        }
        if let Some(last_seq) = last_seq {
            sender.send_batch(&batch)?;
            next_seq = last_seq + 1;
            write_cursor(&path, next_seq)?;
            report.records += batch.len() as u64;
            report.batches += 1;
            report.next_seq = next_seq;
        }
        match (read_error, last_seq) {
            (Some(error), _) => return Err(error.into()),
            (None, None) => return Ok(report),
            (None, Some(_)) => {}
        }
    }
}

/// When [`forward_continuously`] sends, and how it backs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The wait between passes, and the first wait after a failure.
    pub interval: Duration,
    /// The longest wait after failures in a row (the wait doubles from `interval`).
    pub max_backoff: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What one pass of [`forward_continuously`] did.
#[derive(Debug)]
pub enum ForwardPass<'a> {
    /// The pass ended at the end of the log; the next one follows after the interval.
    Forwarded(ForwardReport),
    /// The pass stopped at an error (records before it were delivered, and the cursor
    /// follows them); the next try follows after `retry_in`.
    Failed {
        /// Why.
        error: &'a ForwardError,
        /// The wait before the next try.
        retry_in: Duration,
    },
}

/// Forwards the log for as long as `on_pass` says to go on: a [`forward_pending`] pass,
/// then a wait of `schedule.interval` on `clock` (for records appended meanwhile). A failed
/// pass (the collector away, a cursor that cannot be written) is retried after
/// `interval`, doubling after each failure in a row up to `max_backoff`, and back to
/// `interval` once a pass succeeds. `on_pass` hears of every pass before the wait, and
/// ends the loop by returning [`ControlFlow::Break`], whose value is returned.
///
/// Nothing is dropped while the collector is away: the cursor stays at the first record
/// not delivered.
pub fn forward_continuously<B>(
    log: &AuditLog,
    sender: &mut SyslogTlsSender,
    options: &ForwardOptions,
    schedule: Schedule,
    clock: &dyn Clock,
    on_pass: &mut dyn FnMut(ForwardPass<'_>) -> ControlFlow<B>,
) -> B {
    let interval = schedule.interval.max(Duration::from_millis(1));
    let mut retry_in = interval;
    loop {
        let wait = match forward_pending(log, sender, options) {
            Ok(report) => {
                retry_in = interval;
                if let ControlFlow::Break(b) = on_pass(ForwardPass::Forwarded(report)) {
                    return b;
                }
                interval
            }
            Err(error) => {
                let wait = retry_in;
                if let ControlFlow::Break(b) = on_pass(ForwardPass::Failed {
                    error: &error,
                    retry_in: wait,
                }) {
                    return b;
                }
                retry_in = retry_in
                    .saturating_mul(2)
                    .min(schedule.max_backoff.max(interval));
                wait
            }
        };
        clock.sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medguard_audit::{EventKind, ObjectDetail, ParticipantObject};

    #[test]
    fn the_record_sd_id_is_valid() {
        assert!(SdId::new(RECORD_SD_ID).is_ok());
    }

    #[test]
    fn events_map_onto_dicom_messages() {
        let mut event = AuditEvent::new(
            EventKind::ALL[0],
            time::OffsetDateTime::UNIX_EPOCH,
            Outcome::MinorFailure,
            "ct-1",
        );
        let xml = to_audit_message(&event).to_xml();
        assert!(xml.contains("<ActiveParticipant UserID=\"ct-1\" UserIsRequestor=\"false\"/>"));
        assert!(xml.contains("EventOutcomeIndicator=\"4\""));
        event.participants.push(ActiveParticipant {
            user_id: "alice".into(),
            alternative_user_id: None,
            user_name: None,
            is_requestor: true,
            roles: Vec::new(),
            network_access_point: Some("192.0.2.7".into()),
            network_access_point_type: None,
        });
        event.objects.push(ParticipantObject {
            id_type: Code::dcm("110181", "SOP Class UID"),
            id: "file".into(),
            kind: ObjectType::SystemObject,
            role: Some(13),
            name: Some("a<b".into()),
            details: vec![ObjectDetail {
                kind: "BLAKE3".into(),
                value: "ab".into(),
            }],
        });
        let message = to_audit_message(&event);
        assert_eq!(message.active_participants().len(), 1);
        let xml = message.to_xml();
        assert!(
            xml.contains("NetworkAccessPointID=\"192.0.2.7\" NetworkAccessPointTypeCode=\"2\"")
        );
        assert!(xml.contains("ParticipantObjectTypeCodeRole=\"13\""));
        assert!(xml.contains("<ParticipantObjectName>a&lt;b</ParticipantObjectName>"));
        assert!(xml.contains("<ParticipantObjectDetail type=\"BLAKE3\" value=\"YWI=\"/>"));
    }

    #[test]
    fn the_cursor_round_trips_and_defaults_to_the_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = cursor_path(dir.path(), &Endpoint::new("::1", 6514));
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("forward-")
        );
        assert_eq!(read_cursor(&path).unwrap(), 1);
        write_cursor(&path, 42).unwrap();
        assert_eq!(read_cursor(&path).unwrap(), 42);
        std::fs::write(&path, "x").unwrap();
        assert!(matches!(
            read_cursor(&path),
            Err(ForwardError::Cursor { .. })
        ));
    }
}
