//! The TLS settings of both ends of the device channel.
//!
//! - The server: its certificate from the fleet CA; client certificates optional, so browsers
//!   and scripts connect without one; a device's certificate is verified by the server per
//!   request with [`crate::certified_device`] (here only its proof of possession of the key is
//!   checked, by the handshake).
//! - The agent: trusts the pinned fleet CA and nothing else, and presents its certificate.
//!
//! TLS 1.3 and 1.2, aws-lc-rs as the provider, ALPN `h2` and `http/1.1`.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::PkiError;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| PkiError::BadCertificate {
            reason: format!("not PEM certificates: {e}"),
        })?;
    if certs.is_empty() {
        return Err(PkiError::BadCertificate {
            reason: "no certificate in the PEM text".into(),
        });
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Key {
        reason: format!("not a PEM private key: {e}"),
    })
}

/// The server's TLS settings: its certificate chain and key; client certificates requested,
/// not required.
///
/// # Errors
/// [`PkiError`] when the certificate or key cannot be read or do not belong together.
pub fn server_config(
    ca_pem: &str,
    certificate_pem: &str,
    key_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let mut chain = certificates(certificate_pem)?;
    chain.extend(certificates(ca_pem)?);
    let ca_subject = ca_subjects(ca_pem)?;
    let provider = provider();
    let verifier = Arc::new(ProofOfPossession {
        provider: provider.clone(),
        subjects: ca_subject,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| PkiError::Tls { source })?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, private_key(key_pem)?)
        .map_err(|source| PkiError::Tls { source })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The agent's TLS settings: trust the pinned CA only; present the device's certificate and
/// key when given (enrollment has neither yet).
///
/// # Errors
/// [`PkiError`] when a certificate or the key cannot be read.
pub fn device_client_config(
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca_pem)? {
        roots.add(cert).map_err(|source| PkiError::Tls { source })?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| PkiError::Tls { source })?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((certificate_pem, key_pem)) => builder
            .with_client_auth_cert(certificates(certificate_pem)?, private_key(key_pem)?)
            .map_err(|source| PkiError::Tls { source })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn ca_subjects(ca_pem: &str) -> Result<Vec<DistinguishedName>, PkiError> {
    certificates(ca_pem)?
        .iter()
        .map(|der| {
            let (_, cert) =
                x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::BadCertificate {
                    reason: format!("the CA certificate: {e}"),
                })?;
            Ok(DistinguishedName::from(cert.subject().as_raw().to_vec()))
        })
        .collect()
}

/// Accepts any client certificate whose holder proves possession of its key; the chain, the
/// validity and the device id are judged per request by [`crate::certified_device`].
#[derive(Debug)]
struct ProofOfPossession {
    provider: Arc<CryptoProvider>,
    subjects: Vec<DistinguishedName>,
}

impl ClientCertVerifier for ProofOfPossession {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
