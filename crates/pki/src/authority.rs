//! The certificate authority: its own certificate, the server's, and devices'.

use std::fmt;

use medguard_proto::DeviceId;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PublicKeyData as _, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::PkiError;

/// How far back a certificate's validity starts, so a device whose clock runs a little
/// behind the server's can use it at once.
const BACKDATE: Duration = Duration::minutes(5);

/// The fleet's certificate authority.
pub struct CertificateAuthority {
    certificate_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The server's TLS certificate and its key.
pub struct ServerCertificate {
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// The private key (PKCS#8 PEM): store it readable by the server alone.
    pub key_pem: String,
    /// Valid until.
    pub not_after: OffsetDateTime,
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("not_after", &self.not_after)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A device's client certificate, as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCertificate {
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// Its serial number, lower-case hexadecimal.
    pub serial: String,
    /// Valid from.
    pub not_before: OffsetDateTime,
    /// Valid until.
    pub not_after: OffsetDateTime,
    /// The device's Ed25519 public key (32 bytes): the key its audit checkpoints are signed
    /// with.
    pub public_key: [u8; 32],
}

impl CertificateAuthority {
    /// A new CA named `common_name`, valid for `validity` from `now`.
    ///
    /// # Errors
    /// [`PkiError`] when a key cannot be generated or the validity does not fit.
    pub fn generate(
        common_name: &str,
        now: OffsetDateTime,
        validity: Duration,
    ) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(key_error)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial()?);
        set_validity(&mut params, now, validity)?;
        let certificate = params.self_signed(&key)?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its certificate and key (PEM), checking that they belong together.
    ///
    /// # Errors
    /// [`PkiError`] when either cannot be parsed or the key is not the certificate's.
    pub fn load(certificate_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(key_error)?;
        let der = pem_der(certificate_pem, "CERTIFICATE")?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError::BadCertificate {
                reason: format!("the CA certificate: {e}"),
            })?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(PkiError::Key {
                reason: "the CA key does not belong to the CA certificate".into(),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&der.into(), key)?;
        Ok(Self {
            certificate_pem: certificate_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        })
    }

    /// The CA's certificate (PEM): what agents pin.
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The CA's private key (PKCS#8 PEM): store it readable by the server alone.
    #[must_use]
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues the server's TLS certificate for `hostnames` (DNS names or IP addresses), with a
    /// fresh key.
    ///
    /// # Errors
    /// [`PkiError`] when a name is not a valid DNS name or address, or signing fails.
    pub fn issue_server_certificate(
        &self,
        hostnames: &[String],
        now: OffsetDateTime,
        validity: Duration,
    ) -> Result<ServerCertificate, PkiError> {
        if hostnames.is_empty() {
            return Err(PkiError::BadRequest {
                reason: "a server certificate needs at least one host name".into(),
            });
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(key_error)?;
        let mut params = CertificateParams::new(hostnames.to_vec())?;
        params.distinguished_name = name(hostnames.first().map_or("medguard", String::as_str));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        let not_after = set_validity(&mut params, now, validity)?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(ServerCertificate {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            not_after,
        })
    }

    /// Issues a device's client certificate from its certificate request: the request's
    /// signature must verify and its key must be Ed25519; everything else in it is ignored.
    /// The certificate names `device` and is valid for `validity` from `now`.
    ///
    /// # Errors
    /// [`PkiError::BadRequest`] for a request that is malformed, wrongly signed or of another
    /// key type; [`PkiError`] when signing fails.
    pub fn issue_device_certificate(
        &self,
        csr_pem: &str,
        device: &DeviceId,
        now: OffsetDateTime,
        validity: Duration,
    ) -> Result<DeviceCertificate, PkiError> {
        let request = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
            PkiError::BadRequest {
                reason: e.to_string(),
            }
        })?;
        if request.public_key.algorithm() != &PKCS_ED25519 {
            return Err(PkiError::BadRequest {
                reason: "a device key must be Ed25519".into(),
            });
        }
        let public_key: [u8; 32] =
            request
                .public_key
                .der_bytes()
                .try_into()
                .map_err(|_| PkiError::BadRequest {
                    reason: "an Ed25519 public key is 32 bytes".into(),
                })?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(device.as_str());
        params.subject_alt_names = vec![SanType::URI(device.to_uri().try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial()?;
        let serial_hex = hex(serial.as_ref());
        params.serial_number = Some(serial);
        let not_after = set_validity(&mut params, now, validity)?;
        let not_before = params.not_before;
        let certificate = params.signed_by(&request.public_key, &self.issuer)?;
        Ok(DeviceCertificate {
            certificate_pem: certificate.pem(),
            serial: serial_hex,
            not_before,
            not_after,
            public_key,
        })
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "medguard");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn set_validity(
    params: &mut CertificateParams,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<OffsetDateTime, PkiError> {
    if validity <= Duration::ZERO || validity > Duration::days(50 * 366) {
        return Err(PkiError::Validity {
            reason: format!("{validity} is not between 1 s and 50 years"),
        });
    }
    let not_after = now
        .checked_add(validity)
        .ok_or_else(|| PkiError::Validity {
            reason: "the end of validity is out of range".into(),
        })?
        .replace_nanosecond(0)
        .unwrap_or(now);
    params.not_before = (now - BACKDATE).replace_nanosecond(0).unwrap_or(now);
    params.not_after = not_after;
    Ok(not_after)
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Key {
            reason: "no randomness for a serial number".into(),
        })?;
    // Positive and of full length, as RFC 5280 asks of serial numbers.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn key_error(e: rcgen::Error) -> PkiError {
    PkiError::Key {
        reason: e.to_string(),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn pem_der(text: &str, label: &str) -> Result<Vec<u8>, PkiError> {
    use rustls_pki_types::pem::PemObject as _;
    let bad = |reason: String| PkiError::BadCertificate { reason };
    match label {
        "CERTIFICATE" => rustls_pki_types::CertificateDer::from_pem_slice(text.as_bytes())
            .map(|c| c.to_vec())
            .map_err(|e| bad(format!("not a PEM certificate: {e}"))),
        _ => Err(bad(format!("unsupported PEM label {label}"))),
    }
}
