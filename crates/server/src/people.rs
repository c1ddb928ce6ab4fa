//! People's routes: sign-in and sign-out, one-time set-up links, people and their roles, API
//! tokens, break-glass and the server's audit log. Each parses its input, calls the fleet (whose
//! rules are `medguard-accounts`'), records the action in the server's audit trail and answers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use medguard_accounts::{
    BREAK_GLASS_DEFAULT_DURATION, Grant, Permission, PermissionSet, RecoveryCodeAttempt, Role,
    Scope, SetupPurpose, SetupToken, SiteId, TotpCode, TotpEnrollment, TotpSecret, UserName,
};
use medguard_audit::{EventKind, Outcome};
use medguard_fleet::{FleetError, SecondFactor};
use medguard_proto::codes;
use serde::Deserialize;

use crate::app::{AppState, Shared, audit, read};
use crate::auth::{Person, SESSION_COOKIE, Via};
use crate::problem::ApiError;
use crate::serve::PeerAddress;
use crate::trail::Action;

/// Bodies of people's routes are small; a 10 MB passphrase is refused before it is read.
const MAX_BODY: usize = 16 << 10;

/// The issuer name authenticator apps show.
const ISSUER: &str = "medguard";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/session",
            post(sign_in).get(session_info).delete(sign_out),
        )
        .route(
            "/api/v1/setup/{token}",
            get(open_setup).post(complete_setup),
        )
        .route("/api/v1/users", get(people).post(add_person))
        .route("/api/v1/users/{name}/reset", post(reset_person))
        .route("/api/v1/users/{name}/release", post(release_hold))
        .route("/api/v1/tokens", post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route(
            "/api/v1/break-glass",
            get(break_glass_list).post(start_break_glass),
        )
        .route("/api/v1/break-glass/{id}/end", post(end_break_glass))
        .route("/api/v1/break-glass/{id}/review", post(review_break_glass))
        .route("/api/v1/audit", get(audit_log))
}

/// A JSON body, or a `malformed` problem naming what is wrong with it.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(codes::MALFORMED, e.to_string()))
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(codes::INVALID, e.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    user: String,
    passphrase: String,
    /// A code from the authenticator app.
    code: Option<String>,
    /// Or one of the recovery codes.
    recovery_code: Option<String>,
}

fn session_json(
    principal: &medguard_fleet::Principal,
    csrf: &str,
    expires_at: Option<time::OffsetDateTime>,
) -> serde_json::Value {
    let clock = medguard_host::SystemClock;
    let break_glass = principal
        .break_glass
        .as_ref()
        .filter(|b| b.is_active(&clock))
        .map(|b| serde_json::json!({ "reason": b.reason(), "until": rfc3339(b.expires_at()) }));
    serde_json::json!({
        "user": principal.person.name,
        "role": principal.person.role,
        "scope": principal.person.scope,
        "permissions": principal.grant.role().permissions(),
        "break_glass": break_glass,
        "csrf_token": csrf,
        "expires_at": expires_at.map(rfc3339),
    })
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn sign_in(
    State(state): Shared,
    peer: Option<axum::Extension<PeerAddress>>,
    body: Body,
) -> Result<Response, ApiError> {
    let address = peer.map_or_else(|| "unknown".to_owned(), |p| p.0.0.ip().to_string());
    let bytes = read(body, MAX_BODY).await?;
    let b: SignInBody = json_body(&bytes)?;
    let second = match (&b.code, &b.recovery_code) {
        (Some(code), None) => TotpCode::parse(code)
            .map(SecondFactor::Totp)
            .map_err(|_| ApiError::from(FleetError::LoginFailed))?,
        (None, Some(code)) => RecoveryCodeAttempt::parse(code)
            .map(SecondFactor::Recovery)
            .map_err(|_| ApiError::from(FleetError::LoginFailed))?,
        _ => {
            return Err(invalid(
                "give either `code` (from the authenticator app) or `recovery_code`",
            ));
        }
    };
    let signed = sign_in_recorded(&state, &b.user, &b.passphrase, second, &address).await?;
    let principal = state.fleet.session_principal(&signed.token).await?;
    let csrf = signed.token.csrf_token();
    let body = session_json(
        &principal,
        csrf.reveal(),
        Some(state.fleet.session_expires_at(&signed.session)),
    );
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&signed.token)?);
    Ok(response)
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(
    token: &medguard_accounts::SessionToken,
) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict",
        token.reveal()
    ))
    .map_err(invalid)
}

/// The second factor as a person typed it: six digits are an authenticator code, anything
/// else a recovery code.
pub(crate) fn second_factor(text: &str) -> Result<SecondFactor, ApiError> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        TotpCode::parse(&digits).map(SecondFactor::Totp)
    } else {
        RecoveryCodeAttempt::parse(text).map(SecondFactor::Recovery)
    }
    .map_err(|_| ApiError::from(FleetError::LoginFailed))
}

/// Signs a person in and records the outcome in the server's audit trail (with the alert when
/// failures add up).
pub(crate) async fn sign_in_recorded(
    state: &AppState,
    user: &str,
    passphrase: &str,
    second: SecondFactor,
    address: &str,
) -> Result<medguard_fleet::SignedIn, ApiError> {
    match state.fleet.sign_in(user, passphrase, second, address).await {
        Ok(signed) => {
            state
                .trail
                .record(Action {
                    kind: EventKind::LoginSuccess,
                    outcome: Outcome::Success,
                    user: signed.person.name.as_str(),
                    address: Some(address),
                    detail: match signed.recovery_codes_left {
                        Some(left) => format!("signed in with a recovery code ({left} left)"),
                        None => "signed in".to_owned(),
                    },
                })
                .await?;
            Ok(signed)
        }
        Err(refused) => {
            let mut detail = format!("sign-in refused for {user:?}: {}", refused.error);
            if !refused.known_user {
                detail.push_str(" (no such account)");
            }
            if let Some(alert) = refused.alert {
                detail.push_str(&format!("; ALERT: {alert:?}"));
            }
            state
                .trail
                .record(Action {
                    kind: EventKind::LoginFailure,
                    outcome: if refused.alert.is_some() {
                        Outcome::SeriousFailure
                    } else {
                        Outcome::MinorFailure
                    },
                    user: if refused.known_user { user } else { "unknown" },
                    address: Some(address),
                    detail,
                })
                .await?;
            Err(ApiError::from(refused.error))
        }
    }
}

async fn session_info(who: Person) -> Result<Response, ApiError> {
    let csrf = match &who.via {
        Via::Session(token) => token.csrf_token().reveal().to_owned(),
        Via::Token => String::new(),
    };
    Ok(Json(session_json(&who.principal, &csrf, None)).into_response())
}

async fn sign_out(State(state): Shared, who: Person) -> Result<Response, ApiError> {
    let Via::Session(token) = &who.via else {
        return Err(invalid(
            "an API token has no session to end (revoke it instead)",
        ));
    };
    state.fleet.end_session(token).await?;
    audit(&state, &who, EventKind::Logout, "signed out".into()).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-medguard-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}

fn setup_token(text: &str) -> Result<SetupToken, ApiError> {
    SetupToken::parse(text)
        .map_err(|_| ApiError::new(codes::UNAUTHORIZED, "the set-up link is not valid"))
}

async fn open_setup(State(state): Shared, Path(token): Path<String>) -> Result<Response, ApiError> {
    let token = setup_token(&token)?;
    let (link, person) = state.fleet.open_setup(&token).await?;
    let enrollment = TotpEnrollment::new(ISSUER, person.name.as_str()).map_err(FleetError::from)?;
    Ok(Json(serde_json::json!({
        "user": person.name,
        "role": person.role,
        "scope": person.scope,
        "purpose": link.purpose,
        "expires_at": rfc3339(link.expires_at),
        "totp_secret": enrollment.secret.reveal_base32(),
        "otpauth_uri": enrollment.uri.as_str(),
        "qr_svg": enrollment.qr_svg.as_str(),
        "passphrase": {
            "min_characters": medguard_accounts::MIN_CHARACTERS,
            "max_characters": medguard_accounts::MAX_CHARACTERS,
        },
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    passphrase: String,
    totp_secret: String,
    code: String,
}

/// Completes a set-up from the link's token and the person's answers, and records it in the
/// server's audit trail: the JSON route and the page share it.
async fn complete_recorded(
    state: &AppState,
    token: &str,
    b: &SetupBody,
    address: Option<&str>,
) -> Result<(medguard_fleet::Person, Vec<medguard_accounts::RecoveryCode>), ApiError> {
    let token = setup_token(token)?;
    let secret = TotpSecret::from_base32(&b.totp_secret).map_err(invalid)?;
    let code = TotpCode::parse(&b.code).map_err(invalid)?;
    let (person, recovery) = state
        .fleet
        .complete_setup(&token, &b.passphrase, secret, &code)
        .await?;
    state
        .trail
        .record(Action {
            kind: EventKind::UserSecurityChanged,
            outcome: Outcome::Success,
            user: person.name.as_str(),
            address,
            detail: format!(
                "{} completed their set-up: passphrase chosen, TOTP enrolled, recovery codes issued",
                person.name
            ),
        })
        .await?;
    Ok((person, recovery))
}

async fn complete_setup(
    State(state): Shared,
    peer: Option<axum::Extension<PeerAddress>>,
    Path(token): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let address = peer.map(|p| p.0.0.ip().to_string());
    let bytes = read(body, MAX_BODY).await?;
    let b: SetupBody = json_body(&bytes)?;
    let (person, recovery) = complete_recorded(&state, &token, &b, address.as_deref()).await?;
    let codes: Vec<&str> = recovery.iter().map(|c| c.reveal()).collect();
    Ok(Json(serde_json::json!({
        "user": person.name,
        "recovery_codes": codes,
    }))
    .into_response())
}

async fn people(State(state): Shared, _who: Person) -> Result<Response, ApiError> {
    Ok(Json(state.fleet.people().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    name: String,
    role: Role,
    site: Option<String>,
}

/// The grant for a role and an optional site, as `server user add` and the API take it.
///
/// # Errors
/// A malformed site or a scope that does not fit the role.
pub fn grant_of(role: Role, site: Option<&str>) -> Result<Grant, FleetError> {
    let scope = match site {
        Some(s) => Scope::Site(SiteId::parse(s)?),
        None => Scope::AllSites,
    };
    Ok(Grant::new(role, scope)?)
}

/// Adds a person and records it in the server's audit trail: the JSON route and the page
/// share it.
pub(crate) async fn add_person_recorded(
    state: &AppState,
    who: &Person,
    name: &str,
    role: Role,
    site: Option<&str>,
) -> Result<medguard_fleet::IssuedSetup, ApiError> {
    let name = UserName::parse(name).map_err(invalid)?;
    let grant = grant_of(role, site)?;
    let issued = state
        .fleet
        .add_person(&name, &grant, SetupPurpose::NewAccount)
        .await?;
    audit(
        state,
        who,
        EventKind::SecurityRolesChanged,
        format!("user {name} added as {role} for {}", grant.scope()),
    )
    .await?;
    Ok(issued)
}

async fn add_person(State(state): Shared, who: Person, body: Body) -> Result<Response, ApiError> {
    let bytes = read(body, MAX_BODY).await?;
    let b: UserBody = json_body(&bytes)?;
    let issued = add_person_recorded(&state, &who, &b.name, b.role, b.site.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(setup_issued(&issued))).into_response())
}

fn setup_issued(issued: &medguard_fleet::IssuedSetup) -> serde_json::Value {
    serde_json::json!({
        "user": issued.link.user,
        "purpose": issued.link.purpose,
        "setup_token": issued.token.reveal(),
        "setup_path": format!("/setup/{}", issued.token.reveal()),
        "expires_at": rfc3339(issued.link.expires_at),
    })
}

/// Issues a person a new set-up link and records it: the JSON route and the page share it.
pub(crate) async fn reset_person_recorded(
    state: &AppState,
    who: &Person,
    name: &str,
) -> Result<medguard_fleet::IssuedSetup, ApiError> {
    let name = UserName::parse(name).map_err(invalid)?;
    let issued = state.fleet.reset_person(&name).await?;
    audit(
        state,
        who,
        EventKind::UserSecurityChanged,
        format!("user {name} reset: a new set-up link was issued"),
    )
    .await?;
    Ok(issued)
}

async fn reset_person(
    State(state): Shared,
    who: Person,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let issued = reset_person_recorded(&state, &who, &name).await?;
    Ok((StatusCode::CREATED, Json(setup_issued(&issued))).into_response())
}

/// Releases a held account and records it: the JSON route and the page share it.
pub(crate) async fn release_hold_recorded(
    state: &AppState,
    who: &Person,
    name: &str,
) -> Result<(), ApiError> {
    let name = UserName::parse(name).map_err(invalid)?;
    state
        .fleet
        .release_hold(&name, &who.principal.person.name)
        .await?;
    audit(
        state,
        who,
        EventKind::UserSecurityChanged,
        format!("sign-in hold on {name} released"),
    )
    .await
}

async fn release_hold(
    State(state): Shared,
    who: Person,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    release_hold_recorded(&state, &who, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiTokenBody {
    name: String,
    permissions: Option<Vec<Permission>>,
    #[serde(default = "default_token_life")]
    expires: String,
}

fn default_token_life() -> String {
    "30d".into()
}

async fn create_token(State(state): Shared, who: Person, body: Body) -> Result<Response, ApiError> {
    if matches!(who.via, Via::Token) {
        return Err(ApiError::new(
            codes::FORBIDDEN,
            "an API token cannot make another; sign in",
        ));
    }
    let bytes = read(body, MAX_BODY).await?;
    let b: ApiTokenBody = json_body(&bytes)?;
    let life = medguard_host::parse_duration(&b.expires).map_err(invalid)?;
    let permissions = b.permissions.map(|p| PermissionSet::from(p.as_slice()));
    let issued = state
        .fleet
        .create_person_token(&who.principal.person.name, &b.name, permissions, life)
        .await?;
    audit(
        &state,
        &who,
        EventKind::UserSecurityChanged,
        format!(
            "API token {} ({:?}) made, until {}",
            issued.id,
            issued.name,
            rfc3339(issued.record.expires_at)
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": issued.id,
            "name": issued.name,
            "token": issued.token.reveal(),
            "permissions": issued.record.permissions,
            "expires_at": rfc3339(issued.record.expires_at),
        })),
    )
        .into_response())
}

/// Revokes an API token (its owner's own, or anyone's for a person who manages people) and
/// records it: the JSON route and the page share it. Who may is checked before anything
/// changes. Returns the token's owner.
pub(crate) async fn revoke_token_recorded(
    state: &AppState,
    who: &Person,
    id: &str,
) -> Result<UserName, ApiError> {
    let owner = state.fleet.person_token_owner(id).await?;
    if owner != who.principal.person.name {
        state
            .fleet
            .authorize(&who.principal, Permission::ManageUsers, None)?;
    }
    state.fleet.revoke_person_token(id).await?;
    audit(
        state,
        who,
        EventKind::UserSecurityChanged,
        format!("API token {id} of {owner} revoked"),
    )
    .await?;
    Ok(owner)
}

async fn revoke_token(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    revoke_token_recorded(&state, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct BreakGlassQuery {
    state: Option<String>,
}

async fn break_glass_list(
    State(state): Shared,
    who: Person,
    Query(q): Query<BreakGlassQuery>,
) -> Result<Response, ApiError> {
    let awaiting = match q.state.as_deref() {
        None | Some("awaiting-review") => true,
        Some("all") => false,
        Some(other) => return Err(invalid(format!("state {other:?}: awaiting-review or all"))),
    };
    let list = state
        .fleet
        .break_glass_sessions(awaiting, who.principal.site())
        .await?;
    Ok(Json(list).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakGlassBody {
    reason: String,
    duration: Option<String>,
}

async fn start_break_glass(
    State(state): Shared,
    who: Person,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, MAX_BODY).await?;
    let b: BreakGlassBody = json_body(&bytes)?;
    let duration = match b.duration.as_deref() {
        Some(d) => medguard_host::parse_duration(d).map_err(invalid)?,
        None => BREAK_GLASS_DEFAULT_DURATION,
    };
    let record = state
        .fleet
        .start_break_glass(&who.principal, &b.reason, duration)
        .await?;
    audit(
        &state,
        &who,
        EventKind::BreakGlass,
        format!(
            "break-glass {} started until {}: {}",
            record.id,
            rfc3339(record.expires_at),
            record.reason
        ),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn end_break_glass(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.fleet.end_break_glass(&who.principal, &id).await?;
    audit(
        &state,
        &who,
        EventKind::BreakGlassEnded,
        format!("break-glass {id} of {} ended early", record.user),
    )
    .await?;
    Ok(Json(record).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    note: String,
}

/// Records a second person's review of a break-glass session, in the fleet and the audit
/// trail: the JSON route and the page share it.
pub(crate) async fn review_break_glass_recorded(
    state: &AppState,
    who: &Person,
    id: &str,
    note: &str,
) -> Result<medguard_fleet::BreakGlassRecord, ApiError> {
    let record = state
        .fleet
        .review_break_glass(&who.principal, id, note)
        .await?;
    audit(
        state,
        who,
        EventKind::BreakGlassEnded,
        format!("break-glass {id} of {} reviewed: {note}", record.user),
    )
    .await?;
    Ok(record)
}

async fn review_break_glass(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, MAX_BODY).await?;
    let b: ReviewBody = json_body(&bytes)?;
    let record = review_break_glass_recorded(&state, &who, &id, &b.note).await?;
    Ok(Json(record).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
    #[serde(default)]
    offset: u64,
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

async fn audit_log(
    State(state): Shared,
    who: Person,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).min(1000);
    let filter = crate::people_pages::trail_filter(
        q.actor.as_deref(),
        q.action.as_deref(),
        q.object.as_deref(),
        q.since.as_deref(),
        q.until.as_deref(),
    )?;
    let page = crate::people_pages::search_trail(&state, filter, limit, q.offset).await?;
    let records: Vec<serde_json::Value> = page
        .records
        .iter()
        .map(|r| serde_json::json!({ "seq": r.seq, "event": r.event }))
        .collect();
    audit(
        &state,
        &who,
        EventKind::AuditLogUsed,
        format!(
            "audit log queried ({} of {} matching records)",
            records.len(),
            page.total
        ),
    )
    .await?;
    Ok(Json(records).into_response())
}

/// The set-up link as a page for a browser: `GET /setup/{token}` shows the form, `POST`
/// completes it and shows the recovery codes once.
pub(crate) fn pages() -> Router<Arc<AppState>> {
    Router::new()
        .route("/setup/{token}", get(setup_form).post(setup_submit))
        .route(medguard_web::STYLESHEET_PATH, get(stylesheet))
}

async fn stylesheet() -> Response {
    let mut r = medguard_web::STYLESHEET.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r
}

pub(crate) fn html(status: StatusCode, page: String) -> Response {
    let mut r = (status, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn setup_problem_page(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::BAD_REQUEST);
    html(
        status,
        medguard_web::message_page(
            &medguard_web::Viewer::default(),
            "This set-up link cannot be used",
            e.0.detail.as_deref().unwrap_or(&e.0.title),
        ),
    )
}

async fn setup_offer_page(
    state: &AppState,
    token: &str,
    secret: Option<&str>,
    error: Option<&str>,
) -> Result<Response, ApiError> {
    let token = setup_token(token)?;
    let (link, person) = state.fleet.open_setup(&token).await?;
    let enrollment = match secret {
        // After a mistake the same secret is offered again, so an app that scanned it stays right.
        Some(s) => {
            let secret = TotpSecret::from_base32(s).map_err(invalid)?;
            let uri = secret.otpauth_uri(ISSUER, person.name.as_str());
            (
                secret.reveal_base32(),
                medguard_accounts::qr_svg(&uri).map_err(FleetError::from)?,
            )
        }
        None => {
            let e = TotpEnrollment::new(ISSUER, person.name.as_str()).map_err(FleetError::from)?;
            (e.secret.reveal_base32(), e.qr_svg.to_string())
        }
    };
    let expires = rfc3339(link.expires_at);
    Ok(html(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        medguard_web::setup_page(
            &medguard_web::SetupOffer {
                user: person.name.as_str(),
                role: person.role.as_str(),
                secret: &enrollment.0,
                qr_svg: &enrollment.1,
                expires_at: &expires,
            },
            error,
        ),
    ))
}

async fn setup_form(State(state): Shared, Path(token): Path<String>) -> Response {
    setup_offer_page(&state, &token, None, None)
        .await
        .unwrap_or_else(|e| setup_problem_page(&e))
}

async fn setup_submit(
    State(state): Shared,
    peer: Option<axum::Extension<PeerAddress>>,
    Path(token): Path<String>,
    axum::Form(b): axum::Form<SetupBody>,
) -> Response {
    let address = peer.map(|p| p.0.0.ip().to_string());
    let attempt = complete_recorded(&state, &token, &b, address.as_deref()).await;
    match attempt {
        Ok((person, recovery)) => {
            let codes: Vec<&str> = recovery.iter().map(|c| c.reveal()).collect();
            html(
                StatusCode::OK,
                medguard_web::setup_done_page(person.name.as_str(), &codes),
            )
        }
        Err(e) if e.0.code == codes::INVALID || e.0.code == codes::LOGIN_FAILED => {
            let message = e.0.detail.clone().unwrap_or_default();
            setup_offer_page(&state, &token, Some(&b.totp_secret), Some(&message))
                .await
                .unwrap_or_else(|e| setup_problem_page(&e))
        }
        Err(e) => setup_problem_page(&e),
    }
}
