use medguard_proto::codes;

/// Errors of the fleet.
///
/// Each names, through [`FleetError::code`], the stable problem code the server answers with;
/// the server maps codes to HTTP statuses and decides what a client may be told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The database failed or could not be reached.
    #[error("database: {source}")]
    Database {
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A database URL that names no database medguard runs on.
    #[error("database URL: {reason}")]
    DatabaseUrl {
        /// Why.
        reason: String,
    },
    /// The database was written by a newer medguard: refused, never half-migrated.
    #[error(
        "the database's schema is version {found}, newer than this medguard's {supported}: upgrade medguard"
    )]
    SchemaNewer {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The database's schema is older than this build's.
    #[error(
        "the database's schema is version {found}, older than this medguard's {supported}: run `medguard server init --data DIR` to migrate it"
    )]
    SchemaOlder {
        /// The version found.
        found: i64,
        /// The version this build needs.
        supported: i64,
    },
    /// An applied migration differs from this build's text of it.
    #[error(
        "migration {version} in the database differs from this medguard's: refusing to touch it"
    )]
    SchemaChanged {
        /// The migration.
        version: i64,
    },
    /// No enrollment token matches.
    #[error("the enrollment token is not known")]
    TokenUnknown,
    /// The enrollment token has expired.
    #[error("the enrollment token expired")]
    TokenExpired,
    /// The enrollment token has been used up.
    #[error("the enrollment token has no uses left")]
    TokenSpent,
    /// A certificate request was refused.
    #[error("certificate request refused: {reason}")]
    BadCertificateRequest {
        /// Why.
        reason: String,
    },
    /// A client certificate is not one this fleet's CA issued, or is expired or malformed.
    #[error("client certificate refused: {reason}")]
    CertificateRefused {
        /// Why.
        reason: String,
    },
    /// A request that needs a client certificate came without one.
    #[error("a client certificate is required")]
    CertificateRequired,
    /// The certificate names a device this server does not know.
    #[error("device {device} is not enrolled here")]
    UnknownDevice {
        /// The device id.
        device: String,
    },
    /// The device was revoked.
    #[error("device {device} was revoked")]
    DeviceRevoked {
        /// The device id.
        device: String,
    },
    /// The certificate was revoked or superseded.
    #[error("certificate {serial} was revoked")]
    CertificateRevoked {
        /// Its serial number.
        serial: String,
    },
    /// No such thing.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A value a person or script gave is not acceptable.
    #[error("{reason}")]
    Invalid {
        /// Why.
        reason: String,
    },
    /// A bearer token is missing, unknown, expired or revoked.
    #[error("the API token is not valid")]
    Unauthorized,
    /// Stored data could not be read back.
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// The certificate authority failed.
    #[error("certificate authority: {source}")]
    Pki {
        /// The cause.
        #[source]
        source: medguard_pki::PkiError,
    },
    /// Advisories could not be read or matched.
    /// A rule of the accounts library refused (a weak passphrase, a wrong code, an expired
    /// link, a break-glass reason too short...).
    #[error("{source}")]
    Accounts {
        /// The refusal.
        #[source]
        source: medguard_accounts::AccountsError,
    },
    /// The person may not do this (their role, their site, their token).
    #[error("{refusal}")]
    Forbidden {
        /// Why.
        refusal: medguard_accounts::Refusal,
    },
    /// A sign-in failed. Which part was wrong (name, passphrase, code) is not said.
    #[error("the user name, passphrase or code is wrong")]
    LoginFailed,
    /// The request conflicts with what is stored.
    #[error("{reason}")]
    Conflict {
        /// What.
        reason: String,
    },
    /// The patch record's state machine refused the change.
    #[error("{source}")]
    Patch {
        /// The refusal.
        #[source]
        source: medguard_patch::PatchError,
    },
    /// A staged rollout refused the change or the report.
    #[error("{reason}")]
    Rollout {
        /// The refusal.
        reason: String,
        /// The problem code.
        code: &'static str,
    },
    #[error("advisories: {source}")]
    Advisory {
        /// The cause.
        #[source]
        source: medguard_advisory::AdvisoryError,
    },
}

impl FleetError {
    /// The stable problem code (one of [`medguard_proto::codes`]).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TokenUnknown => codes::TOKEN_UNKNOWN,
            Self::TokenExpired => codes::TOKEN_EXPIRED,
            Self::TokenSpent => codes::TOKEN_SPENT,
            Self::BadCertificateRequest { .. } => codes::BAD_CSR,
            Self::CertificateRefused { .. } => codes::CERTIFICATE_REFUSED,
            Self::CertificateRequired => codes::CERTIFICATE_REQUIRED,
            Self::UnknownDevice { .. } => codes::UNKNOWN_DEVICE,
            Self::DeviceRevoked { .. } => codes::DEVICE_REVOKED,
            Self::CertificateRevoked { .. } => codes::CERTIFICATE_REVOKED,
            Self::NotFound { .. } => codes::NOT_FOUND,
            Self::Invalid { .. } => codes::INVALID,
            Self::Unauthorized => codes::UNAUTHORIZED,
            Self::Forbidden { .. } => codes::FORBIDDEN,
            Self::LoginFailed => codes::LOGIN_FAILED,
            Self::Conflict { .. } => codes::CONFLICT,
            Self::Accounts { source } => accounts_code(source),
            Self::Patch { source } => patch_code(source),
            Self::Rollout { code, .. } => code,
            Self::Database { .. }
            | Self::DatabaseUrl { .. }
            | Self::SchemaNewer { .. }
            | Self::SchemaOlder { .. }
            | Self::SchemaChanged { .. }
            | Self::Corrupt { .. }
            | Self::Pki { .. }
            | Self::Advisory { .. } => codes::INTERNAL,
        }
    }
}

fn patch_code(e: &medguard_patch::PatchError) -> &'static str {
    use medguard_patch::PatchError as P;
    match e {
        P::SeparationOfDuties { .. } => codes::FORBIDDEN,
        P::Empty { .. } => codes::INVALID,
        _ => codes::CONFLICT,
    }
}

fn accounts_code(e: &medguard_accounts::AccountsError) -> &'static str {
    use medguard_accounts::AccountsError as A;
    match e {
        A::TotpWrong
        | A::TotpReplayed { .. }
        | A::RecoveryCodeWrong
        | A::RecoveryCodeUsed { .. } => codes::LOGIN_FAILED,
        A::SessionEnded { .. } => codes::SESSION_ENDED,
        A::CsrfMismatch => codes::CSRF,
        A::Throttled { .. } => codes::THROTTLED,
        A::ApiTokenExpired { .. } | A::ApiTokenRevoked { .. } | A::ApiTokenWrong => {
            codes::UNAUTHORIZED
        }
        A::SetupTokenWrong | A::SetupTokenExpired { .. } | A::SetupTokenUsed { .. } => {
            codes::UNAUTHORIZED
        }
        A::BreakGlassNotPermitted { .. }
        | A::BreakGlassEndRefused { .. }
        | A::BreakGlassReviewRefused { .. }
        | A::BreakGlassSelfReview
        | A::ApiTokenBeyondRole { .. } => codes::FORBIDDEN,
        A::BreakGlassAlreadyReviewed { .. } | A::BreakGlassStillActive | A::BreakGlassNotActive => {
            codes::CONFLICT
        }
        A::HashMalformed { .. } | A::HashUnsupported { .. } | A::Randomness | A::QrCode { .. } => {
            codes::INTERNAL
        }
        _ => codes::INVALID,
    }
}

impl From<medguard_accounts::AccountsError> for FleetError {
    fn from(source: medguard_accounts::AccountsError) -> Self {
        Self::Accounts { source }
    }
}

impl From<sqlx::Error> for FleetError {
    fn from(source: sqlx::Error) -> Self {
        Self::Database { source }
    }
}

pub(crate) fn corrupt(what: &str) -> impl FnOnce(serde_json::Error) -> FleetError + '_ {
    move |e| FleetError::Corrupt {
        what: what.to_owned(),
        reason: e.to_string(),
    }
}
