//! The record for auditors: a signed document that verifies offline.
//!
//! The export is the record's JSON, signed byte for byte by the server's key under
//! [`EXPORT_CONTEXT`] (`medguard-digest`'s signed-document envelope), so one changed byte
//! anywhere makes it fail; inside, each electronic signature is checked on its own
//! ([`crate::SignatureCheck`]).

use medguard_digest::{PublicKey, SigningKey, UnverifiedDocument};

use crate::record::PatchRecord;
use crate::signature::SignatureCheck;

/// The signing context of exported records.
pub const EXPORT_CONTEXT: &str = "medguard patch record export v1";

/// Why an export was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The envelope refused it: unsigned, untrusted signer, altered.
    #[error("the export does not verify: {0}")]
    Envelope(#[from] medguard_digest::EnvelopeError),
    /// The signed body is not a patch record.
    #[error("the signed body is not a patch record: {0}")]
    Record(String),
}

/// An export whose envelope verified; its signatures checked one by one.
#[derive(Debug, Clone)]
pub struct VerifiedExport {
    /// The record.
    pub record: PatchRecord,
    /// Its electronic signatures and their status.
    pub signatures: Vec<SignatureCheck>,
    /// The key id that signed the export.
    pub exported_by: String,
}

/// The signed export of `record`.
#[must_use]
pub fn export(record: &PatchRecord, server_key: &SigningKey) -> Vec<u8> {
    let mut body = serde_json::to_vec_pretty(record).unwrap_or_default();
    body.push(b'\n');
    medguard_digest::sign_document(EXPORT_CONTEXT, &body, server_key)
}

/// Verifies an export with the server keys `trusted`.
///
/// # Errors
/// [`ExportError`] when the export is not signed by a trusted key, was altered, or holds no
/// record.
pub fn verify_export(bytes: &[u8], trusted: &[PublicKey]) -> Result<VerifiedExport, ExportError> {
    let document = UnverifiedDocument::parse(bytes)?;
    let verified = document.verify(EXPORT_CONTEXT, trusted)?;
    let exported_by = verified.signer().map(|k| k.to_string()).unwrap_or_default();
    let record: PatchRecord =
        serde_json::from_slice(verified.body()).map_err(|e| ExportError::Record(e.to_string()))?;
    let signatures = record.check_signatures(trusted);
    Ok(VerifiedExport {
        record,
        signatures,
        exported_by,
    })
}
