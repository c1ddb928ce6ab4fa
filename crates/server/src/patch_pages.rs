//! The patch workflow's pages: the records list, a record with its signing dialog, rollouts
//! with their pause and resume forms, and the validated patches per model.
//!
//! Each page reads what the matching JSON route reads, with the same permission. The forms
//! carry the session's CSRF token in the form (a browser without script cannot send the API's
//! header) and call the same core as the API's routes ([`crate::patches::sign_record`],
//! [`crate::rollouts::pause_rollout`], [`crate::rollouts::resume_rollout`]), so a signature
//! or a pause made here is checked and recorded exactly as one made through the API. After a
//! change the browser is sent back to the page (303), so reloading does not repeat it; a
//! refusal is shown on the page itself.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use medguard_accounts::Permission;
use medguard_audit::{EventKind, Outcome};
use medguard_patch::{Meaning, PatchRecord};
use medguard_proto::codes;
use medguard_web::patches::{RecordPage, RolloutBrief, RolloutPage};
use serde::Deserialize;

use crate::app::{AppState, Shared};
use crate::auth::{Person, Via};
use crate::pages::{Reader, error_page, nonempty};
use crate::people::html;
use crate::problem::ApiError;
use crate::serve::PeerAddress;
use crate::trail::Action;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/patches", get(list))
        .route("/patches/{id}", get(record))
        .route("/patches/{id}/sign", post(sign))
        .route("/rollouts", get(rollouts))
        .route("/rollouts/{id}", get(rollout))
        .route("/rollouts/{id}/pause", post(pause))
        .route("/rollouts/{id}/resume", post(resume))
        .route("/validated-patches", get(validated))
}

pub(crate) fn status_of(e: &ApiError) -> StatusCode {
    StatusCode::from_u16(e.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// What a person reads of a refusal: its detail, else its title.
pub(crate) fn refusal(e: &ApiError) -> String {
    e.0.detail.clone().unwrap_or_else(|| e.0.title.clone())
}

pub(crate) fn page(result: Result<String, ApiError>, reader: &Reader) -> Response {
    match result {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => error_page(&reader.viewer, &e),
    }
}

/// The person behind a form, as the API's core functions take them.
pub(crate) fn person(reader: &Reader, peer: Option<Extension<PeerAddress>>) -> Person {
    Person {
        principal: reader.principal.clone(),
        via: Via::Session(reader.token.clone()),
        address: peer.map(|p| p.0.0.ip().to_string()),
    }
}

/// Checks a form's CSRF token against the session's; a mismatch is recorded, as the API
/// records a change without its header.
pub(crate) async fn csrf(
    state: &AppState,
    who: &Person,
    reader: &Reader,
    token: &str,
) -> Result<(), ApiError> {
    if reader.token.check_csrf(Some(token)).is_ok() {
        return Ok(());
    }
    state
        .trail
        .record(Action {
            kind: EventKind::AccessDenied,
            outcome: Outcome::SeriousFailure,
            user: who.name(),
            address: who.address.as_deref(),
            detail: "a form without its session's CSRF token was refused".into(),
        })
        .await?;
    Err(ApiError::new(
        codes::CSRF,
        "the form did not come from this session",
    ))
}

/// A list's page: `limit` items (50 unless asked, at most 500) after the first `offset`.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default = "default_page")]
    pub(crate) limit: u32,
    #[serde(default)]
    pub(crate) offset: u64,
}

fn default_page() -> u32 {
    50
}

async fn list(State(state): Shared, reader: Reader, Query(q): Query<PageQuery>) -> Response {
    let result = async {
        reader.may(&state, Permission::ReadFleet, reader.home().as_deref())?;
        let limit = q.limit.clamp(1, 500);
        let records = state.fleet.patch_records_page(limit, q.offset).await?;
        Ok(medguard_web::patches::patch_list_page(
            &reader.viewer,
            &records,
            limit,
        ))
    }
    .await;
    page(result, &reader)
}

#[derive(Debug, Deserialize)]
struct RecordQuery {
    /// The meaning just signed, for the confirmation.
    signed: Option<String>,
}

fn parse_meaning(text: &str) -> Option<Meaning> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

/// The meanings `reader` may sign on `record` now: their role's, while the record is still
/// before release (the record's own rules refuse the rest, with their reason).
fn may_sign(state: &AppState, reader: &Reader, record: &PatchRecord) -> Vec<Meaning> {
    if !record.state.is_editable() {
        return Vec::new();
    }
    [
        Meaning::Authored,
        Meaning::Reviewed,
        Meaning::Validated,
        Meaning::Approved,
    ]
    .into_iter()
    .filter(|m| {
        state
            .fleet
            .authorize(&reader.principal, crate::patches::sign_permission(*m), None)
            .is_ok()
    })
    .collect()
}

/// The record's page, with a confirmation or a refusal of the signing dialog.
async fn record_page(
    state: &AppState,
    reader: &Reader,
    id: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String, ApiError> {
    reader.may(state, Permission::ReadFleet, reader.home().as_deref())?;
    let record = state.fleet.patch_record(id).await?;
    let signatures = crate::patches::signature_checks(state, &record);
    let mut rollouts = Vec::new();
    for summary in state.fleet.rollouts(Some(id)).await? {
        let waves = state.fleet.rollout(&summary.id).await?.progress();
        rollouts.push(RolloutBrief { summary, waves });
    }
    let digest = record.content_digest();
    let meanings = may_sign(state, reader, &record);
    Ok(medguard_web::patches::patch_record_page(
        &reader.viewer,
        &RecordPage {
            record: &record,
            content_digest: &digest,
            signatures: &signatures,
            rollouts: &rollouts,
            may_sign: &meanings,
            notice,
            error,
        },
    ))
}

async fn record(
    State(state): Shared,
    reader: Reader,
    Path(id): Path<String>,
    Query(q): Query<RecordQuery>,
) -> Response {
    let notice = q
        .signed
        .as_deref()
        .and_then(parse_meaning)
        .map(|m| format!("Your signature ({}) is recorded.", m.as_str()));
    page(
        record_page(&state, &reader, &id, notice.as_deref(), None).await,
        &reader,
    )
}

#[derive(Deserialize)]
struct SignForm {
    csrf: String,
    #[serde(default)]
    meaning: String,
    passphrase: String,
    code: String,
    /// The digest of the content the person read: they sign that, or nothing.
    content_digest: String,
}

async fn sign(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(id): Path<String>,
    Form(form): Form<SignForm>,
) -> Response {
    let who = person(&reader, peer);
    let attempt = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        let meaning = parse_meaning(&form.meaning)
            .ok_or_else(|| ApiError::new(codes::INVALID, "choose the meaning of your signature"))?;
        // A signature binds to the content; the person signs only the content they read.
        let now = state.fleet.patch_record(&id).await?.content_digest();
        if now != form.content_digest {
            return Err(ApiError::new(
                codes::CONFLICT,
                "the record changed since you opened it: read it again before signing",
            ));
        }
        crate::patches::sign_record(
            &state,
            &who,
            &id,
            meaning,
            &form.passphrase,
            Some(&form.code),
        )
        .await?;
        Ok(meaning)
    }
    .await;
    match attempt {
        Ok(meaning) => {
            let value = serde_json::to_value(meaning)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            Redirect::to(&format!("/patches/{id}?signed={value}#signatures")).into_response()
        }
        Err(e) => {
            let message = format!("Not signed: {}", refusal(&e));
            match record_page(&state, &reader, &id, None, Some(&message)).await {
                Ok(p) => html(status_of(&e), p),
                Err(other) => error_page(&reader.viewer, &other),
            }
        }
    }
}

async fn rollouts(State(state): Shared, reader: Reader, Query(q): Query<PageQuery>) -> Response {
    let result = async {
        reader.may(&state, Permission::ReadFleet, reader.home().as_deref())?;
        let limit = q.limit.clamp(1, 500);
        let list = state.fleet.rollouts_page(None, limit, q.offset).await?;
        Ok(medguard_web::patches::rollout_list_page(
            &reader.viewer,
            &list,
            limit,
        ))
    }
    .await;
    page(result, &reader)
}

#[derive(Debug, Deserialize)]
struct RolloutQuery {
    /// What was just done, for the confirmation.
    done: Option<String>,
}

async fn rollout_page(
    state: &AppState,
    reader: &Reader,
    id: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String, ApiError> {
    reader.may(state, Permission::ReadFleet, reader.home().as_deref())?;
    let rollout = state.fleet.rollout(id).await?;
    // A hospital role sees its own site's devices only, as the API shows them.
    let home = reader.home();
    let devices: Vec<_> = rollout
        .outcomes()
        .into_iter()
        .filter(|o| home.as_deref().is_none_or(|s| s == o.site))
        .collect();
    let may_manage = state
        .fleet
        .authorize(
            &reader.principal,
            Permission::ManageRollouts,
            home.as_deref(),
        )
        .is_ok();
    Ok(medguard_web::patches::rollout_page(
        &reader.viewer,
        &RolloutPage {
            rollout: &rollout,
            devices: &devices,
            may_manage,
            notice,
            error,
        },
    ))
}

async fn rollout(
    State(state): Shared,
    reader: Reader,
    Path(id): Path<String>,
    Query(q): Query<RolloutQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("paused") => Some("The rollout is paused."),
        Some("resumed") => Some("The rollout is resumed."),
        _ => None,
    };
    page(
        rollout_page(&state, &reader, &id, notice, None).await,
        &reader,
    )
}

/// The answer to a rollout form: back to the page, or the page with the refusal.
async fn after_rollout_form(
    state: &AppState,
    reader: &Reader,
    id: &str,
    outcome: Result<&str, ApiError>,
) -> Response {
    match outcome {
        Ok(done) => Redirect::to(&format!("/rollouts/{id}?done={done}")).into_response(),
        Err(e) => {
            let message = refusal(&e);
            match rollout_page(state, reader, id, None, Some(&message)).await {
                Ok(p) => html(status_of(&e), p),
                Err(other) => error_page(&reader.viewer, &other),
            }
        }
    }
}

#[derive(Deserialize)]
struct PauseForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn pause(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(id): Path<String>,
    Form(form): Form<PauseForm>,
) -> Response {
    let who = person(&reader, peer);
    let outcome = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        crate::rollouts::pause_rollout(&state, &who, &id, form.reason.trim()).await?;
        Ok("paused")
    }
    .await;
    after_rollout_form(&state, &reader, &id, outcome).await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn resume(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = person(&reader, peer);
    let outcome = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        crate::rollouts::resume_rollout(&state, &who, &id).await?;
        Ok("resumed")
    }
    .await;
    after_rollout_form(&state, &reader, &id, outcome).await
}

#[derive(Debug, Deserialize)]
struct ModelQuery {
    model: Option<String>,
}

async fn validated(State(state): Shared, reader: Reader, Query(q): Query<ModelQuery>) -> Response {
    let result = async {
        reader.may(&state, Permission::ReadFleet, reader.home().as_deref())?;
        let model = nonempty(q.model);
        let patches = state.fleet.validated_patches(model.as_deref()).await?;
        Ok(medguard_web::patches::validated_patches_page(
            &reader.viewer,
            &patches,
            model.as_deref(),
        ))
    }
    .await;
    page(result, &reader)
}
