//! Electronic signatures on a patch record (21 CFR Part 11 §11.50, §11.70).
//!
//! A signature shows the signer's printed name, the date and time in UTC and its meaning; it
//! names the record and binds to the digest of the record's content at that moment, so it
//! cannot be moved to another record and is void (visibly, it stays in the record) once the
//! content changes. The server countersigns its manifest with its Ed25519 key under
//! [`SIGNATURE_CONTEXT`], so an exported record proves its signatures offline.

use base64::Engine as _;
use medguard_digest::{PublicKey, Signature, SigningKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::record::{PatchError, PatchRecord, Person};

/// The signing context of signature manifests: a server signature over anything else never
/// verifies as one.
pub const SIGNATURE_CONTEXT: &str = "medguard patch signature v1";

/// What a signature means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Meaning {
    /// "I wrote this."
    Authored,
    /// "I reviewed this."
    Reviewed,
    /// "I validated this patch" (step 4).
    Validated,
    /// "I approve this patch for release" (step 4).
    Approved,
}

impl Meaning {
    /// The word shown beside the signature.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authored => "authored",
            Self::Reviewed => "reviewed",
            Self::Validated => "validated",
            Self::Approved => "approved for release",
        }
    }
}

/// One electronic signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectronicSignature {
    /// The record signed.
    pub record_id: String,
    /// The digest of the record's content signed (hex).
    pub content_digest: String,
    /// Who signed.
    pub signer: Person,
    /// What it means.
    pub meaning: Meaning,
    /// When, in UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
    /// The server key that countersigned it (key id, hex).
    pub key_id: String,
    /// The server's Ed25519 signature over the manifest, base64.
    pub server_signature: String,
}

#[derive(Serialize)]
struct Manifest<'a> {
    record_id: &'a str,
    content_digest: &'a str,
    signer_id: &'a str,
    printed_name: &'a str,
    meaning: Meaning,
    signed_at: String,
}

impl ElectronicSignature {
    fn manifest(&self) -> Vec<u8> {
        let m = Manifest {
            record_id: &self.record_id,
            content_digest: &self.content_digest,
            signer_id: &self.signer.id,
            printed_name: &self.signer.printed_name,
            meaning: self.meaning,
            signed_at: self
                .signed_at
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        };
        serde_json::to_vec(&m).unwrap_or_default()
    }
}

/// Whether a signature still holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Countersigned by a trusted server key and bound to the record's content now.
    Valid,
    /// The record changed after it was signed (or it was made for another record).
    Void(String),
    /// The server's countersignature does not verify: not made by a trusted server, or altered.
    Forged(String),
}

/// A signature and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCheck {
    /// The signature.
    pub signature: ElectronicSignature,
    /// Whether it holds.
    pub status: SignatureStatus,
}

impl PatchRecord {
    /// Signs the record as `signer` with `meaning` at `now`, countersigned by the server's
    /// key. The caller has re-authenticated the signer (passphrase and TOTP as §11.200 asks)
    /// and checked their role.
    ///
    /// # Errors
    /// [`PatchError`] when the state, the evidence or the separation of duties refuses it;
    /// nothing is changed then.
    pub fn sign(
        &mut self,
        meaning: Meaning,
        signer: &Person,
        now: OffsetDateTime,
        server_key: &SigningKey,
    ) -> Result<ElectronicSignature, PatchError> {
        self.may_sign(meaning, signer)?;
        let mut signature = ElectronicSignature {
            record_id: self.id.clone(),
            content_digest: self.content_digest(),
            signer: signer.clone(),
            meaning,
            signed_at: now.to_offset(time::UtcOffset::UTC),
            key_id: server_key.public_key().id().to_string(),
            server_signature: String::new(),
        };
        let sig = server_key.sign(SIGNATURE_CONTEXT, &signature.manifest());
        signature.server_signature = base64::engine::general_purpose::STANDARD.encode(sig.0);
        self.signatures.push(signature.clone());
        self.signed(meaning, signer, now);
        Ok(signature)
    }

    /// Every signature with its status, against the server keys `trusted`.
    #[must_use]
    pub fn check_signatures(&self, trusted: &[PublicKey]) -> Vec<SignatureCheck> {
        let digest = self.content_digest();
        self.signatures
            .iter()
            .map(|s| {
                let status = match verify_countersignature(s, trusted) {
                    Err(why) => SignatureStatus::Forged(why),
                    Ok(()) if s.record_id != self.id => {
                        SignatureStatus::Void(format!("it was made for record {}", s.record_id))
                    }
                    Ok(()) if s.content_digest != digest => {
                        SignatureStatus::Void("the record changed after it was signed".into())
                    }
                    Ok(()) => SignatureStatus::Valid,
                };
                SignatureCheck {
                    signature: s.clone(),
                    status,
                }
            })
            .collect()
    }
}

fn verify_countersignature(s: &ElectronicSignature, trusted: &[PublicKey]) -> Result<(), String> {
    let key = trusted
        .iter()
        .find(|k| k.id().to_string() == s.key_id)
        .ok_or_else(|| format!("countersigned by key {}, which is not trusted", s.key_id))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&s.server_signature)
        .map_err(|_| "the countersignature is not base64".to_owned())?;
    let raw: [u8; 64] = bytes
        .try_into()
        .map_err(|_| "the countersignature is not 64 bytes".to_owned())?;
    key.verify(SIGNATURE_CONTEXT, &s.manifest(), &Signature(raw))
        .map_err(|_| "the countersignature does not match: altered".to_owned())
}
