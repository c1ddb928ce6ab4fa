//! The routes: each one parses its input, calls one fleet function and answers with JSON or
//! a problem document. No rule lives here.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use medguard_accounts::Permission;
use medguard_audit::{EventKind, Outcome};
use medguard_fleet::{AuthenticatedDevice, DeviceFilter, FindingFilter, Fleet, OverallStatus};
use medguard_proto::{
    CheckinRequest, CheckinResponse, EnrollRequest, RenewRequest, ReportBatch, codes, limits,
};
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::Person;
use crate::problem::ApiError;
use crate::serve::{PeerAddress, PeerCertificate};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The fleet.
    pub fleet: Fleet,
    /// The server's audit log.
    pub trail: crate::trail::ServerTrail,
    /// The data directory (bundles, the TUF repository, scan rules).
    pub data: crate::DataDir,
    /// The server's signing key: it countersigns electronic signatures and exports.
    pub server_key: Arc<medguard_digest::SigningKey>,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// The router with its security headers.
pub fn router(state: AppState) -> Router {
    let state = Arc::new(state);
    let api = Router::new()
        .route(medguard_proto::paths::ENROLL, post(enroll))
        .route(medguard_proto::paths::RENEW, post(renew))
        .route(medguard_proto::paths::REPORTS, post(reports))
        .route(medguard_proto::paths::CHECKIN, post(checkin))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/devices/{id}", get(device))
        .route("/api/v1/devices/{id}/findings", get(device_findings))
        .route("/api/v1/devices/{id}/revoke", post(revoke))
        .route("/api/v1/devices/{id}/commands", post(queue_command))
        .route("/api/v1/findings", get(findings))
        .route(
            "/api/v1/advisories",
            get(advisories).post(ingest_advisories),
        )
        .route("/api/v1/enrollment-tokens", get(tokens).post(create_token))
        .route("/api/v1/models/{name}", put(declare_model))
        .route("/api/v1/sites", get(sites))
        .route("/api/v1/status", get(status_counts))
        .route("/api/v1/security-events", get(security_events))
        .merge(crate::people::routes())
        .merge(crate::people::pages())
        .merge(crate::pages::routes())
        .merge(crate::patch_pages::routes())
        .merge(crate::people_pages::routes())
        .merge(crate::patches::routes())
        .merge(crate::rollouts::routes())
        .merge(crate::mds2::routes())
        .route("/api/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state);
    api.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ))
}

// ---------------------------------------------------------------------------------------------
// Extractors

/// A device authenticated by its client certificate, on every request.
#[derive(Debug)]
pub struct Device(pub AuthenticatedDevice, pub Option<String>);

impl FromRequestParts<Arc<AppState>> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let cert = parts
            .extensions
            .get::<PeerCertificate>()
            .and_then(|p| p.0.clone());
        let address = crate::auth::address(parts);
        let device = state
            .fleet
            .authenticate_device(cert.as_deref().map(Vec::as_slice), address.as_deref())
            .await?;
        Ok(Self(device, address))
    }
}

/// The body, read up to `limit` bytes and parsed with the protocol's parser.
pub(crate) async fn parse<T>(body: Body, limit: usize) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned + medguard_proto::Validate,
{
    let bytes = read(body, limit).await?;
    Ok(medguard_proto::parse(&bytes, limit)?)
}

pub(crate) async fn read(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            codes::BODY_TOO_LARGE,
            format!("the body is over the limit of {limit} bytes"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Device routes

async fn enroll(
    State(state): Shared,
    peer: Option<axum::Extension<PeerAddress>>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: EnrollRequest = parse(body, limits::MAX_ENROLL_BYTES).await?;
    let address = peer.map(|p| p.0.0.ip().to_string());
    let response = state.fleet.enroll(&request, address.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

async fn renew(
    State(state): Shared,
    Device(device, _): Device,
    body: Body,
) -> Result<Response, ApiError> {
    let request: RenewRequest = parse(body, limits::MAX_ENROLL_BYTES).await?;
    Ok(Json(state.fleet.renew(&device, &request).await?).into_response())
}

async fn reports(
    State(state): Shared,
    Device(device, address): Device,
    body: Body,
) -> Result<Response, ApiError> {
    let batch: ReportBatch = parse(body, limits::MAX_BODY_BYTES).await?;
    let ack = state
        .fleet
        .ingest_reports(&device, &batch, address.as_deref())
        .await?;
    // A batch refused as a whole answers with the refusal's own status; a batch with at
    // least one report stored or acknowledged answers 200 with a receipt per report.
    if let Some(problem) = ack
        .receipts
        .iter()
        .all(|r| r.outcome == medguard_proto::ReportOutcome::Refused)
        .then(|| ack.receipts.first().and_then(|r| r.problem.clone()))
        .flatten()
    {
        return Err(ApiError(Box::new(problem)));
    }
    Ok(Json(ack).into_response())
}

async fn checkin(
    State(state): Shared,
    Device(device, _): Device,
    body: Body,
) -> Result<Response, ApiError> {
    let _request: CheckinRequest = parse(body, limits::MAX_ENROLL_BYTES).await?;
    let detail = state.fleet.device(device.id.as_str()).await?;
    let commands = state.fleet.checkin_commands(device.id.as_str()).await?;
    Ok(Json(CheckinResponse {
        commands,
        server_time: time::OffsetDateTime::now_utc(),
        last_stored_seq: detail.last_seq,
    })
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// People's routes (bearer token)

#[derive(Debug, Deserialize)]
struct ListQuery {
    site: Option<String>,
    model: Option<String>,
    status: Option<String>,
    advisory: Option<String>,
    state: Option<String>,
    relevance: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u64,
}

fn default_limit() -> u32 {
    100
}

/// The site a list is limited to: the one asked for (if the person reaches it), else the
/// person's own site for a hospital role, else none (all sites).
fn site_filter(
    state: &AppState,
    who: &Person,
    permission: Permission,
    asked: Option<String>,
) -> Result<Option<String>, ApiError> {
    if let Some(site) = asked {
        state
            .fleet
            .authorize(&who.principal, permission, Some(&site))?;
        return Ok(Some(site));
    }
    Ok(who.principal.site().map(|s| s.as_str().to_owned()))
}

/// Loads a device and checks the person reaches its site: a hospital role asking for another
/// site's device by id is refused as if it did not exist for them.
async fn device_of(
    state: &AppState,
    who: &Person,
    permission: Permission,
    id: &str,
) -> Result<medguard_fleet::DeviceDetail, ApiError> {
    let detail = state.fleet.device(id).await?;
    state
        .fleet
        .authorize(&who.principal, permission, Some(&detail.summary.site))?;
    Ok(detail)
}

/// Records a person's change in the server's audit log.
pub(crate) async fn audit(
    state: &AppState,
    who: &Person,
    kind: EventKind,
    detail: String,
) -> Result<(), ApiError> {
    state
        .trail
        .record(crate::trail::Action {
            kind,
            outcome: Outcome::Success,
            user: who.name(),
            address: who.address.as_deref(),
            detail,
        })
        .await?;
    Ok(())
}

async fn devices(
    State(state): Shared,
    who: Person,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(OverallStatus::parse(s).ok_or_else(|| {
            ApiError::new(
                codes::INVALID,
                format!("status {s:?}: one of ok, attention, stale, unknown, revoked"),
            )
        })?),
    };
    let site = site_filter(&state, &who, Permission::ReadFleet, q.site)?;
    let page = state
        .fleet
        .devices(&DeviceFilter {
            site,
            model: q.model,
            status,
            limit: q.limit,
            offset: q.offset,
        })
        .await?;
    Ok(Json(page).into_response())
}

async fn device(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(device_of(&state, &who, Permission::ReadDevice, &id).await?).into_response())
}

async fn device_findings(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    device_of(&state, &who, Permission::ReadDevice, &id).await?;
    let page = state
        .fleet
        .findings(&FindingFilter {
            device: Some(id),
            state: q.state,
            relevance: q.relevance,
            limit: q.limit,
            offset: q.offset,
            ..FindingFilter::default()
        })
        .await?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Deserialize)]
struct RevokeBody {
    reason: String,
}

async fn revoke(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, 64 << 10).await?;
    let b: RevokeBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(codes::MALFORMED, e.to_string()))?;
    device_of(&state, &who, Permission::ManageDevices, &id).await?;
    state
        .fleet
        .revoke_device(&id, &b.reason, Some(who.name()))
        .await?;
    audit(
        &state,
        &who,
        EventKind::ConfigurationChange,
        format!("device {id} revoked: {}", b.reason),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    /// `verify-now`, `scan-now`, `collect-inventory` or `collect-services`.
    command: String,
}

/// Asks a device to verify, scan or collect now; it learns of it at its next check-in (the
/// device opens no port).
async fn queue_command(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, 64 << 10).await?;
    let b: CommandBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(codes::MALFORMED, e.to_string()))?;
    let kind = match b.command.as_str() {
        "verify-now" => medguard_proto::CommandKind::VerifyNow,
        "scan-now" => medguard_proto::CommandKind::ScanNow,
        "collect-inventory" => medguard_proto::CommandKind::CollectInventory,
        "collect-services" => medguard_proto::CommandKind::CollectServices,
        other => {
            return Err(ApiError::new(
                codes::INVALID,
                format!(
                    "command {other:?}: one of verify-now, scan-now, collect-inventory, collect-services"
                ),
            ));
        }
    };
    device_of(&state, &who, Permission::ManageDevices, &id).await?;
    let command = state.fleet.queue_command(&id, &kind, who.name()).await?;
    audit(
        &state,
        &who,
        EventKind::ConfigurationChange,
        format!("device {id}: {} queued ({command})", b.command),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"id": command, "command": b.command})),
    )
        .into_response())
}

async fn findings(
    State(state): Shared,
    who: Person,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let site = site_filter(&state, &who, Permission::ReadFleet, q.site)?;
    let page = state
        .fleet
        .findings(&FindingFilter {
            advisory: q.advisory,
            device: None,
            site,
            model: q.model,
            state: q.state,
            relevance: q.relevance,
            limit: q.limit,
            offset: q.offset,
        })
        .await?;
    Ok(Json(page).into_response())
}

async fn advisories(
    State(state): Shared,
    _who: Person,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.fleet.advisories(q.limit, q.offset).await?).into_response())
}

/// One advisory document (OSV JSON or CSAF 2.0 JSON), or a JSON array of them.
async fn ingest_advisories(
    State(state): Shared,
    who: Person,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, 64 << 20).await?;
    let parsed = medguard_advisory::parse_json_documents(&bytes, "request body")
        .map_err(|e| ApiError::new(codes::MALFORMED, e.to_string()))?;
    let report = state.fleet.ingest_advisories(parsed).await?;
    audit(
        &state,
        &who,
        EventKind::Import,
        format!(
            "advisories ingested: {} added, {} updated",
            report.added, report.updated
        ),
    )
    .await?;
    Ok(Json(report).into_response())
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    site: String,
    model: Option<String>,
    #[serde(default = "default_expires")]
    expires: String,
    #[serde(default = "default_uses")]
    uses: u32,
}

fn default_expires() -> String {
    "24h".into()
}

fn default_uses() -> u32 {
    1
}

async fn create_token(State(state): Shared, who: Person, body: Body) -> Result<Response, ApiError> {
    let bytes = read(body, 64 << 10).await?;
    let b: TokenBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(codes::MALFORMED, e.to_string()))?;
    state
        .fleet
        .authorize(&who.principal, Permission::ManageDevices, Some(&b.site))?;
    let valid = duration(&b.expires)?;
    let issued = state
        .fleet
        .create_enrollment_token(&b.site, b.model.as_deref(), valid, b.uses)
        .await?;
    audit(
        &state,
        &who,
        EventKind::ConfigurationChange,
        format!(
            "enrollment token {} made for site {:?} ({} use(s))",
            issued.token.id, b.site, b.uses
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "token": issued.secret, "terms": issued.token })),
    )
        .into_response())
}

fn duration(text: &str) -> Result<time::Duration, ApiError> {
    let d = medguard_host::parse_duration(text)
        .map_err(|e| ApiError::new(codes::INVALID, e.to_string()))?;
    time::Duration::try_from(d).map_err(|e| ApiError::new(codes::INVALID, e.to_string()))
}

async fn tokens(State(state): Shared, who: Person) -> Result<Response, ApiError> {
    let mine = who.principal.site().map(|s| s.as_str().to_owned());
    let tokens: Vec<_> = state
        .fleet
        .enrollment_tokens()
        .await?
        .into_iter()
        .filter(|t| mine.as_ref().is_none_or(|m| *m == t.site))
        .collect();
    Ok(Json(tokens).into_response())
}

#[derive(Debug, Deserialize)]
struct ModelBody {
    criticality: Option<medguard_advisory::Criticality>,
    network_exposed: Option<bool>,
    report_within: Option<String>,
}

async fn declare_model(
    State(state): Shared,
    who: Person,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    // A model is the vendor's, shared by every site.
    state
        .fleet
        .authorize(&who.principal, Permission::ManageDevices, None)?;
    let bytes = read(body, 64 << 10).await?;
    let b: ModelBody = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(codes::MALFORMED, e.to_string()))?;
    let within = b.report_within.as_deref().map(duration).transpose()?;
    state
        .fleet
        .declare_model(&name, b.criticality, b.network_exposed, within)
        .await?;
    audit(
        &state,
        &who,
        EventKind::ConfigurationChange,
        format!("model {name:?} declared"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn sites(State(state): Shared, who: Person) -> Result<Response, ApiError> {
    let mine = who.principal.site().map(|s| s.as_str().to_owned());
    let sites: Vec<_> = state
        .fleet
        .sites()
        .await?
        .into_iter()
        .filter(|(name, _)| mine.as_ref().is_none_or(|m| m == name))
        .map(|(name, devices)| serde_json::json!({ "name": name, "devices": devices }))
        .collect();
    Ok(Json(sites).into_response())
}

async fn status_counts(
    State(state): Shared,
    who: Person,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let site = site_filter(&state, &who, Permission::ReadFleet, q.site)?;
    let counts: serde_json::Map<String, serde_json::Value> = state
        .fleet
        .status_counts(site.as_deref())
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), n.into()))
        .collect();
    Ok(Json(counts).into_response())
}

async fn security_events(
    State(state): Shared,
    who: Person,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    match q.device.as_deref() {
        // A hospital role sees the events of its own site's devices, one device at a time.
        Some(id) => {
            device_of(&state, &who, Permission::ReadFleet, id).await?;
        }
        None => {
            state
                .fleet
                .authorize(&who.principal, Permission::ReadFleet, None)?;
        }
    }
    Ok(Json(
        state
            .fleet
            .security_events(q.device.as_deref(), q.limit.unwrap_or(100))
            .await?,
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    device: Option<String>,
    limit: Option<u32>,
}

async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): Shared) -> Result<&'static str, ApiError> {
    state
        .fleet
        .store()
        .ping()
        .await
        .map_err(|_| ApiError::new(codes::UNAVAILABLE, "the database does not answer"))?;
    Ok("ready\n")
}

async fn not_found() -> ApiError {
    ApiError::new(codes::NOT_FOUND, "no such route")
}
