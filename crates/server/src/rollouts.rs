//! Rollouts' routes: start a staged rollout of a released patch (canaries a person picks, then
//! waves), read its progress per wave (waiting for the window, waiting for idle, installing,
//! done) and each device's outcome, and the people's actions on it: advance, pause, resume,
//! cancel, retry the failed devices, defer a device or a whole site (a hospital security
//! officer, for their own site), exclude a device.
//!
//! Each handler parses, checks the site of what it touches, calls the fleet (whose rollout
//! rules are `medguard-patch`'s), records the action in the server's audit trail and answers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use medguard_accounts::Permission;
use medguard_audit::EventKind;
use medguard_fleet::FleetError;
use medguard_fleet::rollouts::RolloutRequest;
use medguard_patch::{Advance, ErrorThreshold, Permille, Rollout, WavePlan, WaveSelection};
use medguard_proto::codes;
use serde::Deserialize;

use crate::app::{AppState, Shared, audit, read};
use crate::auth::Person;
use crate::patches::record_person;
use crate::people::json_body;
use crate::problem::ApiError;

const MAX_BODY: usize = 1 << 20;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/rollouts", get(list).post(start))
        .route("/api/v1/rollouts/{id}", get(show))
        .route("/api/v1/rollouts/{id}/advance", post(advance))
        .route("/api/v1/rollouts/{id}/pause", post(pause))
        .route("/api/v1/rollouts/{id}/resume", post(resume))
        .route("/api/v1/rollouts/{id}/cancel", post(cancel))
        .route("/api/v1/rollouts/{id}/retry", post(retry))
        .route("/api/v1/rollouts/{id}/defer", post(defer))
        .route("/api/v1/rollouts/{id}/exclude", post(exclude))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The rollout as people read it: its waves' progress, each device's outcome (only their own
/// site's for a hospital role) and its events.
fn rollout_json(rollout: &Rollout, who: &Person) -> serde_json::Value {
    let site = who.principal.site().map(|s| s.as_str().to_owned());
    let devices: Vec<_> = rollout
        .outcomes()
        .into_iter()
        .filter(|o| site.as_deref().is_none_or(|s| s == o.site))
        .collect();
    serde_json::json!({
        "id": rollout.id(),
        "record": rollout.patch(),
        "target": rollout.target(),
        "version": rollout.version(),
        "state": rollout.state(),
        "current_wave": rollout.current_wave(),
        "next_wave": rollout.next_wave(),
        "complete": rollout.is_complete(),
        "waves": rollout.progress(),
        "devices": devices,
        "events": rollout.events(),
    })
}

#[derive(Deserialize)]
struct ListQuery {
    record: Option<String>,
}

async fn list(
    State(state): Shared,
    _who: Person,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.fleet.rollouts(q.record.as_deref()).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// The released patch record.
    record: String,
    /// Only these sites (default: all the person reaches).
    #[serde(default)]
    sites: Vec<String>,
    /// Only these models (default: the bundle's).
    #[serde(default)]
    models: Vec<String>,
    /// Canary devices a person picked: the first wave; one failure among them stops the
    /// rollout, and the next wave opens when all are installed.
    #[serde(default)]
    canaries: Vec<String>,
    /// The waves after the canaries (default: every other device at once, stopping above 5%
    /// failures).
    #[serde(default)]
    waves: Vec<WavePlan>,
}

async fn start(State(state): Shared, who: Person, body: Body) -> Result<Response, ApiError> {
    let b: StartBody = json_body(&read(body, MAX_BODY).await?)?;
    // A hospital role rolls out on its own site only.
    let sites = match who.principal.site() {
        Some(own) => {
            for site in &b.sites {
                state
                    .fleet
                    .authorize(&who.principal, Permission::ManageRollouts, Some(site))?;
            }
            vec![own.as_str().to_owned()]
        }
        None => b.sites.clone(),
    };
    let mut waves = Vec::new();
    let invalid = |e: medguard_patch::RolloutError| ApiError::from(FleetError::from(e));
    if !b.canaries.is_empty() {
        waves.push(WavePlan {
            name: "canaries".into(),
            selection: WaveSelection::Devices(b.canaries.clone()),
            success: Permille::new(1000).map_err(invalid)?,
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Count(1),
        });
    }
    if b.waves.is_empty() {
        waves.push(WavePlan {
            name: "everyone else".into(),
            selection: WaveSelection::Rest,
            success: Permille::new(1000).map_err(invalid)?,
            advance: Advance::Automatic,
            stop_on: ErrorThreshold::Share(Permille::new(50).map_err(invalid)?),
        });
    } else {
        waves.extend(b.waves.clone());
    }
    let request = RolloutRequest {
        sites,
        models: b.models.clone(),
        waves,
    };
    let rollout = match state
        .fleet
        .start_rollout(&b.record, request, &record_person(&who))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Err(crate::patches::refused(
                &state,
                &who,
                &format!("{}: rollout", b.record),
                e,
            )
            .await);
        }
    };
    audit(
        &state,
        &who,
        EventKind::ConfigurationChange,
        format!(
            "rollout {} of {} ({}) started to {} devices",
            rollout.id(),
            rollout.patch(),
            rollout.target(),
            rollout.device_count()
        ),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(rollout_json(&rollout, &who))).into_response())
}

async fn show(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rollout = state.fleet.rollout(&id).await?;
    Ok(Json(rollout_json(&rollout, &who)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    #[serde(default)]
    reason: Option<String>,
    /// A device (defer, exclude).
    #[serde(default)]
    device: Option<String>,
    /// A whole site (defer).
    #[serde(default)]
    site: Option<String>,
}

async fn body_of(body: Body) -> Result<ActionBody, ApiError> {
    let bytes = read(body, MAX_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    json_body(&bytes)
}

fn reason(b: &ActionBody) -> Result<&str, ApiError> {
    b.reason
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::new(codes::INVALID, "give a `reason`"))
}

/// Applies a person's action to rollout `id` and records it (done or refused).
async fn act(
    state: &AppState,
    who: &Person,
    id: &str,
    what: &str,
    action: impl FnMut(&mut Rollout) -> Result<String, medguard_patch::RolloutError>,
) -> Result<Response, ApiError> {
    let rollout = act_on(state, who, id, what, action).await?;
    Ok(Json(rollout_json(&rollout, who)).into_response())
}

/// The core of every action on a rollout, shared by the API and the dashboard's forms: the
/// fleet applies it, the trail records it (done or refused).
async fn act_on(
    state: &AppState,
    who: &Person,
    id: &str,
    what: &str,
    action: impl FnMut(&mut Rollout) -> Result<String, medguard_patch::RolloutError>,
) -> Result<Rollout, ApiError> {
    match state.fleet.change_rollout(id, action).await {
        Ok((rollout, done)) => {
            audit(
                state,
                who,
                EventKind::ConfigurationChange,
                format!("rollout {id}: {what}: {done}"),
            )
            .await?;
            Ok(rollout)
        }
        Err(e) => {
            Err(crate::patches::refused(state, who, &format!("rollout {id}: {what}"), e).await)
        }
    }
}

/// The permission check the route table makes for the API, made here too: the dashboard's
/// forms are not in that table.
async fn may_manage(state: &AppState, who: &Person, id: &str, what: &str) -> Result<(), ApiError> {
    let home = who.principal.site().map(|s| s.as_str().to_owned());
    if let Err(e) =
        state
            .fleet
            .authorize(&who.principal, Permission::ManageRollouts, home.as_deref())
    {
        return Err(crate::patches::refused(state, who, &format!("rollout {id}: {what}"), e).await);
    }
    Ok(())
}

/// Pauses rollout `id` with a reason: the API's `pause` and the dashboard's form.
pub(crate) async fn pause_rollout(
    state: &AppState,
    who: &Person,
    id: &str,
    reason: &str,
) -> Result<Rollout, ApiError> {
    may_manage(state, who, id, "pause").await?;
    if reason.trim().is_empty() {
        return Err(ApiError::new(codes::INVALID, "give a `reason`"));
    }
    let by = record_person(who);
    act_on(state, who, id, "pause", |r| {
        r.pause(&by, reason, now()).map(|()| reason.to_owned())
    })
    .await
}

/// Resumes rollout `id`: the API's `resume` and the dashboard's form.
pub(crate) async fn resume_rollout(
    state: &AppState,
    who: &Person,
    id: &str,
) -> Result<Rollout, ApiError> {
    may_manage(state, who, id, "resume").await?;
    let by = record_person(who);
    act_on(state, who, id, "resume", |r| {
        r.resume(&by, now()).map(|_| "resumed".to_owned())
    })
    .await
}

/// A hospital role acts on its own site's devices only.
async fn check_site(
    state: &AppState,
    who: &Person,
    permission: Permission,
    site: &str,
) -> Result<(), ApiError> {
    state
        .fleet
        .authorize(&who.principal, permission, Some(site))
        .map(|_| ())
        .map_err(ApiError::from)
}

async fn advance(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let by = record_person(&who);
    act(&state, &who, &id, "advance", |r| {
        r.advance(&by, now()).map(|w| format!("wave {w} opened"))
    })
    .await
}

async fn pause(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body_of(body).await?;
    let reason = reason(&b)?.to_owned();
    let rollout = pause_rollout(&state, &who, &id, &reason).await?;
    Ok(Json(rollout_json(&rollout, &who)).into_response())
}

async fn resume(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rollout = resume_rollout(&state, &who, &id).await?;
    Ok(Json(rollout_json(&rollout, &who)).into_response())
}

async fn cancel(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body_of(body).await?;
    let reason = reason(&b)?.to_owned();
    let by = record_person(&who);
    act(&state, &who, &id, "cancel", |r| {
        r.cancel(&by, &reason, now()).map(|()| reason.clone())
    })
    .await
}

async fn retry(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let by = record_person(&who);
    act(&state, &who, &id, "retry", |r| {
        r.retry_failed(&by, now())
            .map(|n| format!("{n} device(s) offered the patch again"))
    })
    .await
}

async fn defer(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body_of(body).await?;
    let reason = reason(&b)?.to_owned();
    let by = record_person(&who);
    match (&b.device, &b.site) {
        (Some(device), None) => {
            let site = state.fleet.device(device).await?.summary.site;
            check_site(&state, &who, Permission::DeferDevices, &site).await?;
            act(&state, &who, &id, &format!("defer {device}"), |r| {
                r.defer_device(&by, device, &reason, now())
                    .map(|_| reason.clone())
            })
            .await
        }
        (None, Some(site)) => {
            check_site(&state, &who, Permission::DeferDevices, site).await?;
            act(&state, &who, &id, &format!("defer site {site}"), |r| {
                r.defer_site(&by, site, &reason, now())
                    .map(|n| format!("{n} device(s): {reason}"))
            })
            .await
        }
        _ => Err(ApiError::new(
            codes::INVALID,
            "give either `device` or `site`, and a `reason`",
        )),
    }
}

async fn exclude(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b = body_of(body).await?;
    let reason = reason(&b)?.to_owned();
    let Some(device) = b.device.clone() else {
        return Err(ApiError::new(
            codes::INVALID,
            "give a `device` and a `reason`",
        ));
    };
    let site = state.fleet.device(&device).await?.summary.site;
    check_site(&state, &who, Permission::ManageRollouts, &site).await?;
    let by = record_person(&who);
    act(&state, &who, &id, &format!("exclude {device}"), |r| {
        r.exclude(&by, &device, &reason, now())
            .map(|_| reason.clone())
    })
    .await
}
