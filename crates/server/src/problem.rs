//! Errors as RFC 9457 problem documents. The fleet decides what went wrong (its error's
//! stable code); this module only chooses the HTTP status and what the client may be told:
//! internal failures are logged with their cause and answered with a bare "internal" problem.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use medguard_fleet::FleetError;
use medguard_proto::{Problem, ProtoError, codes};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl ApiError {
    /// A problem of `code`, with its status and title.
    #[must_use]
    pub fn new(code: &str, detail: impl Into<String>) -> Self {
        let (status, title) = status_of(code);
        Self(Box::new(
            Problem::new(code, status.as_u16(), title).with_detail(detail),
        ))
    }
}

/// The HTTP status and title of a problem code.
#[must_use]
pub fn status_of(code: &str) -> (StatusCode, &'static str) {
    match code {
        codes::BODY_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, "Body too large"),
        codes::MALFORMED => (StatusCode::BAD_REQUEST, "Malformed body"),
        codes::INVALID => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid value"),
        codes::TOKEN_UNKNOWN => (StatusCode::UNAUTHORIZED, "Unknown enrollment token"),
        codes::TOKEN_EXPIRED => (StatusCode::UNAUTHORIZED, "Enrollment token expired"),
        codes::TOKEN_SPENT => (StatusCode::UNAUTHORIZED, "Enrollment token used up"),
        codes::BAD_CSR => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Certificate request refused",
        ),
        codes::CERTIFICATE_REQUIRED => (StatusCode::UNAUTHORIZED, "Client certificate required"),
        codes::CERTIFICATE_REFUSED => (StatusCode::UNAUTHORIZED, "Client certificate refused"),
        codes::UNKNOWN_DEVICE => (StatusCode::FORBIDDEN, "Device not enrolled"),
        codes::DEVICE_REVOKED => (StatusCode::FORBIDDEN, "Device revoked"),
        codes::CERTIFICATE_REVOKED => (StatusCode::FORBIDDEN, "Certificate revoked"),
        codes::STALE_REPORT | codes::SEQUENCE_CONFLICT | codes::AUDIT_CHAIN_BROKEN => {
            (StatusCode::CONFLICT, "Conflict")
        }
        codes::UNAUTHORIZED => (StatusCode::UNAUTHORIZED, "Authentication required"),
        codes::FORBIDDEN => (StatusCode::FORBIDDEN, "Forbidden"),
        codes::NOT_FOUND => (StatusCode::NOT_FOUND, "Not found"),
        codes::LOGIN_FAILED => (StatusCode::UNAUTHORIZED, "Sign-in refused"),
        codes::SESSION_ENDED => (StatusCode::UNAUTHORIZED, "Session ended"),
        codes::CSRF => (StatusCode::FORBIDDEN, "CSRF token missing or wrong"),
        codes::THROTTLED => (StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-ins"),
        codes::CONFLICT => (StatusCode::CONFLICT, "Conflict"),
        codes::UNAVAILABLE => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

impl From<FleetError> for ApiError {
    fn from(e: FleetError) -> Self {
        let code = e.code();
        if code == codes::INTERNAL {
            // The cause stays in the server's log; the client learns only that it failed.
            eprintln!("medguard server: internal error: {e}");
            return Self::new(codes::INTERNAL, "the server could not complete the request");
        }
        Self::new(code, e.to_string())
    }
}

impl From<ProtoError> for ApiError {
    fn from(e: ProtoError) -> Self {
        let code = match e {
            ProtoError::TooLarge { .. } => codes::BODY_TOO_LARGE,
            ProtoError::Malformed { .. } => codes::MALFORMED,
            _ => codes::INVALID,
        };
        Self::new(code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(medguard_proto::paths::PROBLEM_JSON),
        );
        response
    }
}

impl From<crate::ServerError> for ApiError {
    fn from(e: crate::ServerError) -> Self {
        match e {
            crate::ServerError::Fleet(f) => f.into(),
            other => {
                eprintln!("medguard server: internal error: {other}");
                Self::new(codes::INTERNAL, "the server could not complete the request")
            }
        }
    }
}
