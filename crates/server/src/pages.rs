//! The dashboard: the pages of `medguard-web` served to a browser session. Each page reads
//! what the matching JSON route reads, with the same permission and site checks; a request
//! without a live session is sent to the sign-in page. Forms that change something carry the
//! session's CSRF token; the sign-in form carries a token of its own, bound to a short-lived
//! cookie (a login CSRF cannot sign a victim into the attacker's account).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use medguard_accounts::{Permission, SessionToken};
use medguard_audit::{EventKind, Outcome};
use medguard_fleet::{DeviceFilter, FindingFilter, OverallStatus, Principal};
use medguard_web::{DeviceQuery, Viewer};
use serde::Deserialize;

use crate::app::{AppState, Shared};
use crate::auth::{cookie, session_cookie};
use crate::people::{html, second_factor, session_cookie as new_session_cookie, sign_in_recorded};
use crate::problem::ApiError;
use crate::trail::Action;

/// The sign-in form's own CSRF cookie.
const SIGN_IN_COOKIE: &str = "__Host-medguard-sign-in";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(overview))
        .route("/devices/{id}", get(device))
        .route("/findings", get(findings))
        .route("/sign-in", get(sign_in_form).post(sign_in))
        .route("/sign-out", post(sign_out))
}

pub(crate) fn error_page(viewer: &Viewer, e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    html(
        status,
        medguard_web::message_page(viewer, &e.0.title, e.0.detail.as_deref().unwrap_or("")),
    )
}

/// A signed-in person looking at pages.
pub(crate) struct Reader {
    pub(crate) principal: Principal,
    pub(crate) token: SessionToken,
    pub(crate) viewer: Viewer,
}

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || Redirect::to("/sign-in").into_response();
        let token = session_cookie(parts)
            .and_then(|c| SessionToken::parse(&c).ok())
            .ok_or_else(to_sign_in)?;
        let principal = state
            .fleet
            .session_principal(&token)
            .await
            .map_err(|_| to_sign_in())?;
        let mut alerts = Vec::new();
        let clock = medguard_host::SystemClock;
        if let Some(b) = principal
            .break_glass
            .as_ref()
            .filter(|b| b.is_active(&clock))
        {
            alerts.push(format!(
                "Your break-glass access is active until {}: {}",
                b.expires_at(),
                b.reason()
            ));
        }
        let mut break_glass_to_review = 0;
        if let Ok(open) = state
            .fleet
            .break_glass_sessions(true, principal.site())
            .await
        {
            break_glass_to_review = open.iter().filter(|b| b.state != "active").count();
            for b in open.iter().filter(|b| b.state != "active") {
                alerts.push(format!(
                    "Break-glass access by {} ({}, from {}) awaits review: {}",
                    b.user, b.scope, b.started_at, b.reason
                ));
            }
        }
        let viewer = Viewer {
            name: Some(principal.person.name.to_string()),
            role: Some(principal.person.role.as_str().replace('-', " ")),
            csrf: Some(token.csrf_token().reveal().to_owned()),
            alerts,
            sections: crate::people_pages::sections(state, &principal),
            break_glass_to_review,
        };
        Ok(Self {
            principal,
            token,
            viewer,
        })
    }
}

impl Reader {
    pub(crate) fn may(
        &self,
        state: &AppState,
        p: Permission,
        site: Option<&str>,
    ) -> Result<(), ApiError> {
        state.fleet.authorize(&self.principal, p, site)?;
        Ok(())
    }

    pub(crate) fn home(&self) -> Option<String> {
        self.principal.site().map(|s| s.as_str().to_owned())
    }
}

#[derive(Debug, Deserialize)]
struct OverviewQuery {
    site: Option<String>,
    model: Option<String>,
    status: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u64,
}

fn default_limit() -> u32 {
    50
}

pub(crate) fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

async fn overview(
    State(state): Shared,
    reader: Reader,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let result = async {
        let asked = nonempty(q.site);
        reader.may(
            &state,
            Permission::ReadFleet,
            asked.as_deref().or(reader.home().as_deref()),
        )?;
        let site = asked.or_else(|| reader.home());
        let status = nonempty(q.status)
            .map(|s| {
                OverallStatus::parse(&s).ok_or_else(|| {
                    ApiError::new(medguard_proto::codes::INVALID, format!("status {s:?}"))
                })
            })
            .transpose()?;
        let model = nonempty(q.model);
        let counts = state.fleet.status_counts(site.as_deref()).await?;
        let home = reader.home();
        let sites: Vec<(String, u64)> = state
            .fleet
            .sites()
            .await?
            .into_iter()
            .filter(|(name, _)| home.as_ref().is_none_or(|h| h == name))
            .collect();
        let limit = q.limit.clamp(1, 500);
        let devices = state
            .fleet
            .devices(&DeviceFilter {
                site: site.clone(),
                model: model.clone(),
                status,
                limit,
                offset: q.offset,
            })
            .await?;
        Ok::<_, ApiError>(medguard_web::fleet_overview(
            &reader.viewer,
            &counts,
            &sites,
            &devices,
            &DeviceQuery {
                site,
                model,
                status: status.map(|s| s.as_str().to_owned()),
                limit,
                offset: q.offset,
            },
        ))
    }
    .await;
    match result {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => error_page(&reader.viewer, &e),
    }
}

/// Open findings on one page of a device's page: a device with thousands shows them a page at
/// a time.
const DEVICE_FINDINGS_PER_PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
struct DevicePageQuery {
    /// Open findings skipped before this page.
    #[serde(default)]
    offset: u64,
}

async fn device(
    State(state): Shared,
    reader: Reader,
    Path(id): Path<String>,
    Query(q): Query<DevicePageQuery>,
) -> Response {
    let result = async {
        let detail = state.fleet.device(&id).await?;
        reader.may(&state, Permission::ReadDevice, Some(&detail.summary.site))?;
        let findings = state
            .fleet
            .findings(&FindingFilter {
                device: Some(id.clone()),
                state: Some("open".into()),
                limit: DEVICE_FINDINGS_PER_PAGE,
                offset: q.offset,
                ..FindingFilter::default()
            })
            .await?;
        let events = state.fleet.security_events(Some(&id), 50).await?;
        let inventory = state.fleet.inventory(&id).await?;
        Ok::<_, ApiError>(medguard_web::device_page(
            &reader.viewer,
            &detail,
            &findings,
            DEVICE_FINDINGS_PER_PAGE,
            &events,
            inventory.as_deref(),
        ))
    }
    .await;
    match result {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => error_page(&reader.viewer, &e),
    }
}

#[derive(Debug, Deserialize)]
struct FindingsQuery {
    advisory: Option<String>,
    #[serde(default)]
    offset: u64,
}

async fn findings(
    State(state): Shared,
    reader: Reader,
    Query(q): Query<FindingsQuery>,
) -> Response {
    let result = async {
        reader.may(&state, Permission::ReadFleet, reader.home().as_deref())?;
        let advisory = nonempty(q.advisory);
        let page = state
            .fleet
            .findings(&FindingFilter {
                advisory: advisory.clone(),
                site: reader.home(),
                state: Some("open".into()),
                limit: 100,
                offset: q.offset,
                ..FindingFilter::default()
            })
            .await?;
        Ok::<_, ApiError>(medguard_web::findings_page(
            &reader.viewer,
            &page,
            advisory.as_deref(),
        ))
    }
    .await;
    match result {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => error_page(&reader.viewer, &e),
    }
}

fn sign_in_page(status: StatusCode, error: Option<&str>) -> Response {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .is_err()
    {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            medguard_web::message_page(
                &Viewer::default(),
                "Sign-in unavailable",
                "the server has no randomness",
            ),
        );
    }
    let token = hex::encode(bytes);
    let mut r = html(status, medguard_web::sign_in_page(&token, error));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SIGN_IN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=900"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn sign_in_form() -> Response {
    sign_in_page(StatusCode::OK, None)
}

#[derive(Deserialize)]
struct SignInForm {
    csrf: String,
    user: String,
    passphrase: String,
    code: String,
}

async fn sign_in(
    State(state): Shared,
    headers: axum::http::HeaderMap,
    peer: Option<axum::Extension<crate::serve::PeerAddress>>,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected = cookie(&headers, SIGN_IN_COOKIE);
    let matches = expected.is_some_and(|e| {
        e.len() == form.csrf.len()
            && e.bytes()
                .zip(form.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !matches {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            Some("The form expired or did not come from this page. Please try again."),
        );
    }
    let address = peer.map_or_else(|| "unknown".to_owned(), |p| p.0.0.ip().to_string());
    let attempt = async {
        let second = second_factor(&form.code)?;
        sign_in_recorded(&state, &form.user, &form.passphrase, second, &address).await
    }
    .await;
    match attempt {
        Ok(signed) => {
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = new_session_cookie(&signed.token) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let message = if e.0.code == medguard_proto::codes::THROTTLED {
                e.0.detail.clone().unwrap_or_default()
            } else {
                "The user name, passphrase or code is wrong.".to_owned()
            };
            sign_in_page(StatusCode::UNAUTHORIZED, Some(&message))
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn sign_out(
    State(state): Shared,
    reader: Reader,
    peer: Option<axum::Extension<crate::serve::PeerAddress>>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let address = peer.map(|p| p.0.0.ip().to_string());
    if reader.token.check_csrf(Some(&form.csrf)).is_err() {
        return error_page(
            &reader.viewer,
            &ApiError::new(
                medguard_proto::codes::CSRF,
                "the form did not come from this session",
            ),
        );
    }
    // Signing out always ends the session (the safe direction); a sign-out the trail could
    // not record is said on the page instead of being dropped.
    let mut r = Redirect::to("/sign-in").into_response();
    if state.fleet.end_session(&reader.token).await.is_ok()
        && let Err(e) = state
            .trail
            .record(Action {
                kind: EventKind::Logout,
                outcome: Outcome::Success,
                user: reader.principal.person.name.as_str(),
                address: address.as_deref(),
                detail: "signed out".into(),
            })
            .await
    {
        r = html(
            StatusCode::INTERNAL_SERVER_ERROR,
            medguard_web::message_page(
                &reader.viewer,
                "Signed out, not recorded",
                &format!(
                    "You are signed out, but the server's audit trail could not record it: {e}"
                ),
            ),
        );
    }
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-medguard-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}
