//! Who a person's request comes from: a browser session (the `__Host-` cookie, with its CSRF
//! token on every change) or an API token (`Authorization: Bearer`), and whether their role
//! has the route's permission at all ([`crate::openapi::ROUTES`] names it; a handler then
//! checks the site of what it touches). The rules are `medguard-accounts`'; this module only
//! reads the request.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{Method, header};
use medguard_accounts::{ApiToken, Permission, SessionToken};
use medguard_audit::{EventKind, Outcome};
use medguard_fleet::{FleetError, Principal};
use medguard_proto::codes;

use crate::app::AppState;
use crate::openapi::{Caller, ROUTES};
use crate::problem::ApiError;
use crate::serve::PeerAddress;
use crate::trail::Action;

/// The session cookie's name. `__Host-`: the browser sends it only to this host, over HTTPS,
/// for path `/`, and refuses it from a subdomain or plain HTTP.
pub const SESSION_COOKIE: &str = "__Host-medguard-session";
/// The header a browser session's change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub(crate) fn address(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<PeerAddress>()
        .map(|a| a.0.ip().to_string())
}

/// How the request was authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session.
    Session(SessionToken),
    /// An API token.
    Token,
}

/// A person, authenticated, whose role holds the route's permission.
#[derive(Debug, Clone)]
pub struct Person {
    /// Who, with their grant and break-glass.
    pub principal: Principal,
    /// How.
    pub via: Via,
    /// From where.
    pub address: Option<String>,
}

impl Person {
    /// Their user name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.principal.person.name.as_str()
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

pub(crate) fn session_cookie(parts: &Parts) -> Option<String> {
    cookie(&parts.headers, SESSION_COOKIE)
}

/// The permission the route table names for this request's route, if any.
fn route_permission(parts: &Parts) -> Option<Permission> {
    let path = parts.extensions.get::<MatchedPath>()?.as_str().to_owned();
    let method = parts.method.as_str().to_ascii_lowercase();
    ROUTES
        .iter()
        .find(|r| r.path == path && r.method == method)
        .and_then(|r| match r.caller {
            Caller::Person(p) => p,
            Caller::Anyone | Caller::Device => None,
        })
}

impl FromRequestParts<Arc<AppState>> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let address = address(parts);
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let (principal, via) = if let Some(secret) = bearer {
            let token = ApiToken::parse(secret)
                .map_err(|_| ApiError::new(codes::UNAUTHORIZED, "the API token is not valid"))?;
            match state.fleet.token_principal(&token).await {
                Ok(p) => (p, Via::Token),
                Err(e) => {
                    state
                        .trail
                        .record(Action {
                            kind: EventKind::LoginFailure,
                            outcome: Outcome::SeriousFailure,
                            user: "unknown",
                            address: address.as_deref(),
                            detail: format!("API token refused: {e}"),
                        })
                        .await?;
                    return Err(e.into());
                }
            }
        } else if let Some(cookie) = session_cookie(parts) {
            let token = SessionToken::parse(&cookie)
                .map_err(|_| ApiError::new(codes::UNAUTHORIZED, "the session is not valid"))?;
            let principal = state.fleet.session_principal(&token).await?;
            let changes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if changes {
                let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if let Err(e) = token.check_csrf(presented) {
                    state
                        .trail
                        .record(Action {
                            kind: EventKind::AccessDenied,
                            outcome: Outcome::SeriousFailure,
                            user: principal.person.name.as_str(),
                            address: address.as_deref(),
                            detail: format!(
                                "a change without its CSRF token was refused: {} {}",
                                parts.method,
                                parts.uri.path()
                            ),
                        })
                        .await?;
                    return Err(FleetError::from(e).into());
                }
            }
            (principal, Via::Session(token))
        } else {
            return Err(ApiError::new(
                codes::UNAUTHORIZED,
                "sign in (POST /api/v1/session) or send `Authorization: Bearer TOKEN`",
            ));
        };
        if let Some(permission) = route_permission(parts) {
            // The role's permission on the person's own scope; the handler checks the site of
            // what it touches.
            let home = principal.site().map(|s| s.as_str().to_owned());
            if let Err(e) = state
                .fleet
                .authorize(&principal, permission, home.as_deref())
            {
                state
                    .trail
                    .record(Action {
                        kind: EventKind::AccessDenied,
                        outcome: Outcome::MinorFailure,
                        user: principal.person.name.as_str(),
                        address: address.as_deref(),
                        detail: format!("refused {} {}: {e}", parts.method, parts.uri.path()),
                    })
                    .await?;
                return Err(e.into());
            }
        }
        Ok(Self {
            principal,
            via,
            address,
        })
    }
}
