//! The device's side: its key and certificate request; and reading the certificate a device
//! presents, once its chain is verified.

use std::fmt;

use medguard_proto::DeviceId;
use rcgen::{CertificateParams, KeyPair, PKCS_ED25519};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;

use crate::PkiError;
use crate::authority::hex;

/// A device's private key: Ed25519, in `medguard-digest`'s `NAME.key` format (PKCS#8 PEM), so
/// the same key signs the device's audit checkpoints. `Debug` never shows it.
pub struct DeviceKey {
    pair: KeyPair,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(<redacted>)")
    }
}

impl DeviceKey {
    /// A fresh key.
    ///
    /// # Errors
    /// [`PkiError::Key`] when no key can be generated.
    pub fn generate() -> Result<Self, PkiError> {
        let pair = KeyPair::generate_for(&PKCS_ED25519).map_err(|e| PkiError::Key {
            reason: e.to_string(),
        })?;
        Ok(Self { pair })
    }

    /// Reads a key from its PKCS#8 PEM text.
    ///
    /// # Errors
    /// [`PkiError::Key`] when it is not an Ed25519 PKCS#8 key.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        let pair =
            KeyPair::from_pem_and_sign_algo(pem, &PKCS_ED25519).map_err(|e| PkiError::Key {
                reason: format!("not an Ed25519 PKCS#8 key: {e}"),
            })?;
        Ok(Self { pair })
    }

    /// The key as PKCS#8 PEM: write it readable by the agent alone.
    #[must_use]
    pub fn private_key_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// The raw Ed25519 public key.
    #[must_use]
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key_raw().to_vec()
    }

    /// A certificate request (PEM) signed by this key. The server ignores the subject; the
    /// host name is there for a person reading the request.
    ///
    /// # Errors
    /// [`PkiError::Build`] when signing fails.
    pub fn certificate_request(&self, hostname: &str) -> Result<String, PkiError> {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, hostname);
        Ok(params.serialize_request(&self.pair)?.pem()?)
    }
}

/// A device as its verified certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedDevice {
    /// The device id from the certificate's subject alternative name.
    pub device_id: DeviceId,
    /// The certificate's serial number, lower-case hexadecimal.
    pub serial: String,
    /// Valid until.
    pub not_after: OffsetDateTime,
    /// The device's Ed25519 public key.
    pub public_key: [u8; 32],
}

/// Verifies that `end_entity` chains to the CA `ca_pem`, is valid at `now` and is meant for
/// client authentication, then reads the device it names.
///
/// The TLS layer only checks that the client holds the key of the certificate it presents;
/// this check is done by the server for every device request, so a certificate from another
/// CA, an expired one or one without a device id gets a typed answer (and an audit event)
/// rather than a bare handshake failure.
///
/// # Errors
/// [`PkiError::BadCertificate`] saying why.
pub fn certified_device(
    ca_pem: &str,
    end_entity: &[u8],
    now: OffsetDateTime,
) -> Result<CertifiedDevice, PkiError> {
    let bad = |reason: String| PkiError::BadCertificate { reason };
    let ca_der = crate::authority::pem_der(ca_pem, "CERTIFICATE")?;
    let ca_der = CertificateDer::from(ca_der);
    let anchor = webpki::anchor_from_trusted_cert(&ca_der)
        .map_err(|e| bad(format!("the CA certificate: {e:?}")))?;
    let ee_der = CertificateDer::from(end_entity);
    let ee = webpki::EndEntityCert::try_from(&ee_der)
        .map_err(|e| bad(format!("unreadable certificate: {e:?}")))?;
    let secs =
        u64::try_from(now.unix_timestamp()).map_err(|_| bad("the time is before 1970".into()))?;
    ee.verify_for_usage(
        // The fleet CA signs with ECDSA P-256 and SHA-256, and with nothing else.
        &[webpki::aws_lc_rs::ECDSA_P256_SHA256],
        &[anchor],
        &[],
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    )
    .map_err(|e| match e {
        webpki::Error::CertExpired { .. } => bad("the certificate has expired".into()),
        webpki::Error::CertNotValidYet { .. } => bad("the certificate is not valid yet".into()),
        // Another CA of the same name gets as far as a signature that does not verify.
        webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey => {
            bad("the certificate was not issued by this server's CA".into())
        }
        other => bad(format!("the certificate does not verify: {other:?}")),
    })?;

    let (_, cert) = x509_parser::parse_x509_certificate(end_entity)
        .map_err(|e| bad(format!("unreadable certificate: {e}")))?;
    let device_id = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|san| {
            san.value.general_names.iter().find_map(|n| match n {
                x509_parser::extensions::GeneralName::URI(uri) => DeviceId::from_uri(uri),
                _ => None,
            })
        })
        .ok_or_else(|| bad("the certificate names no device".into()))?;
    let public_key: [u8; 32] = cert
        .public_key()
        .subject_public_key
        .data
        .as_ref()
        .try_into()
        .map_err(|_| bad("the certificate's key is not Ed25519".into()))?;
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
        .map_err(|_| bad("the end of validity is out of range".into()))?;
    Ok(CertifiedDevice {
        device_id,
        serial: hex(cert.raw_serial()),
        not_after,
        public_key,
    })
}
