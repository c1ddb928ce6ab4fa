//! Export of stored records as DICOM audit messages or RFC 5424 syslog lines, for SIEMs and
//! auditors that import files rather than listen on a socket.
//!
//! This module owns the two export formats; the mapping itself is [`crate::forward`]'s. It
//! must not print (the caller passes a writer) and must not change the log.
//!
//! Both formats are one record per line: XML documents and syslog messages rendered by
//! `medguard-atna` never contain a line break (line breaks in values are character
//! references), so a line-oriented reader splits them safely.

use std::io::Write;

use medguard_audit::AuditLog;

use crate::forward::{to_audit_message, to_syslog};
use crate::syslog::{AtnaStructuredData, Origin};

/// The export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One DICOM PS3.15 A.5.1 XML document (with XML declaration) per line.
    Dicom,
    /// One RFC 5424 message (IHE ITI-20 header, XML payload, record seq and digest as
    /// structured data) per line, unframed.
    Syslog,
}

/// Errors of export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading the log failed.
    #[error(transparent)]
    Audit(#[from] medguard_audit::AuditError),
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Write(#[source] std::io::Error),
}

/// Writes every record with `seq >= from` to `out`; returns how many were written.
pub fn export(
    log: &AuditLog,
    from: u64,
    format: ExportFormat,
    origin: &Origin,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut count = 0;
    for record in log.records_from(from)? {
        let record = record?;
        let line = match format {
            ExportFormat::Dicom => to_audit_message(&record.event).to_xml(),
            ExportFormat::Syslog => {
                to_syslog(&record, origin, AtnaStructuredData::KeyFields).to_string()
            }
        };
        out.write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(ExportError::Write)?;
        count += 1;
    }
    out.flush().map_err(ExportError::Write)?;
    Ok(count)
}
