/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A key could not be generated, parsed or used.
    #[error("key: {reason}")]
    Key {
        /// Why.
        reason: String,
    },
    /// A certificate request is malformed, its signature is wrong, or its key is not one a
    /// device may use.
    #[error("certificate request refused: {reason}")]
    BadRequest {
        /// Why.
        reason: String,
    },
    /// A certificate is malformed or not one this CA issued for a device.
    #[error("certificate refused: {reason}")]
    BadCertificate {
        /// Why.
        reason: String,
    },
    /// A certificate could not be built.
    #[error("certificate could not be built: {source}")]
    Build {
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// The TLS settings could not be made from the certificates and keys given.
    #[error("TLS settings: {source}")]
    Tls {
        /// The cause.
        #[source]
        source: rustls::Error,
    },
    /// A validity period does not fit (too long, or before the epoch).
    #[error("validity: {reason}")]
    Validity {
        /// Why.
        reason: String,
    },
}

impl From<rcgen::Error> for PkiError {
    fn from(source: rcgen::Error) -> Self {
        Self::Build { source }
    }
}
