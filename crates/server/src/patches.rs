//! Patch records' routes: open a record from a fleet finding, attach the candidate bundle
//! (its signature checked on upload), the impact analysis, evidence (files, the server's
//! malware scan of the bundle, a reference device's install), electronic signatures with
//! re-authentication (21 CFR Part 11 §11.200), release through the server's TUF repository,
//! the signed export, and the validated patches per model.
//!
//! Each handler parses its input, checks the permission the action needs, calls the fleet
//! (whose record rules are `medguard-patch`'s), records the action in the server's audit
//! trail and answers. A refused change changes nothing and is recorded too.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use medguard_accounts::{Permission, SigningChallenge, SigningPolicy, TotpCode};
use medguard_audit::{EventKind, Outcome};
use medguard_fleet::FleetError;
use medguard_patch::{Evidence, EvidenceKind, ImpactAnalysis, Meaning, PatchRecord};
use medguard_proto::codes;
use serde::Deserialize;

use crate::app::{AppState, Shared, audit, read};
use crate::auth::{Person, Via};
use crate::people::json_body;
use crate::problem::ApiError;
use crate::repository;
use crate::trail::Action;

const MAX_BODY: usize = 64 << 10;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/patch-records", get(list).post(open))
        .route("/api/v1/patch-records/{id}", get(show))
        .route(
            "/api/v1/patch-records/{id}/bundle",
            put(attach_bundle).layer(DefaultBodyLimit::max(repository::MAX_BUNDLE_BYTES)),
        )
        .route("/api/v1/patch-records/{id}/impact", put(impact))
        .route(
            "/api/v1/patch-records/{id}/evidence",
            post(add_file).layer(DefaultBodyLimit::max(medguard_fleet::MAX_EVIDENCE_BYTES)),
        )
        .route(
            "/api/v1/patch-records/{id}/evidence/malware-scan",
            post(malware_scan),
        )
        .route(
            "/api/v1/patch-records/{id}/evidence/reference-install",
            post(reference_install),
        )
        .route("/api/v1/patch-records/{id}/signatures", post(sign))
        .route("/api/v1/patch-records/{id}/release", post(release))
        .route("/api/v1/patch-records/{id}/defer", post(defer))
        .route("/api/v1/patch-records/{id}/resume", post(resume))
        .route("/api/v1/patch-records/{id}/withdraw", post(withdraw))
        .route("/api/v1/patch-records/{id}/export", get(export))
        .route("/api/v1/evidence/{digest}", get(evidence_file))
        .route("/api/v1/validated-patches", get(validated))
        .route("/tuf/{*path}", get(tuf_file))
}

/// The person as a record shows them.
pub(crate) fn record_person(who: &Person) -> medguard_patch::Person {
    medguard_patch::Person {
        id: who.name().to_owned(),
        printed_name: who.name().to_owned(),
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Records a refused change in the audit trail, then answers with the refusal.
pub(crate) async fn refused(state: &AppState, who: &Person, what: &str, e: FleetError) -> ApiError {
    let recorded = state
        .trail
        .record(Action {
            kind: EventKind::AccessDenied,
            outcome: Outcome::MinorFailure,
            user: who.name(),
            address: who.address.as_deref(),
            detail: format!("{what} refused: {e}"),
        })
        .await;
    // A refusal the trail could not hold is answered with the trail's failure, as the
    // authorisation checks do: the person learns the server cannot account for its actions.
    match recorded {
        Ok(_) => e.into(),
        Err(trail) => trail.into(),
    }
}

/// Applies `change` to record `id`, recording the outcome (done or refused) in the trail.
async fn change<T>(
    state: &AppState,
    who: &Person,
    id: &str,
    kind: EventKind,
    what: &str,
    change: impl FnMut(&mut PatchRecord) -> Result<T, medguard_patch::PatchError>,
) -> Result<(PatchRecord, T), ApiError> {
    match state.fleet.change_patch_record(id, change).await {
        Ok(done) => {
            audit(state, who, kind, format!("{id}: {what}")).await?;
            Ok(done)
        }
        Err(e) => Err(refused(state, who, &format!("{id}: {what}"), e).await),
    }
}

/// The record with each signature's status (valid, void, forged) and what the next
/// signing of this person will ask.
fn record_json(state: &AppState, record: &PatchRecord) -> serde_json::Value {
    let checks = signature_checks(state, record);
    serde_json::json!({
        "record": record,
        "content_digest": record.content_digest(),
        "signatures": checks,
    })
}

async fn list(State(state): Shared, _who: Person) -> Result<Response, ApiError> {
    Ok(Json(state.fleet.patch_records().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: String,
    /// The advisory of the fleet finding the record answers.
    advisory: Option<String>,
    /// Only this component's finding (`ecosystem name version`).
    component: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn open(State(state): Shared, who: Person, body: Body) -> Result<Response, ApiError> {
    let b: OpenBody = json_body(&read(body, MAX_BODY).await?)?;
    let findings = match &b.advisory {
        Some(a) => vec![state.fleet.finding_ref(a, b.component.as_deref()).await?],
        None => Vec::new(),
    };
    let person = record_person(&who);
    let reason = b.reason.clone().unwrap_or_else(|| match &b.advisory {
        Some(a) => format!("opened from the fleet finding of {a}"),
        None => "opened by hand".into(),
    });
    let record = state
        .fleet
        .open_patch_record(|id| {
            PatchRecord::open(id, &b.title, findings.clone(), &person, now(), &reason)
        })
        .await?;
    audit(
        &state,
        &who,
        EventKind::PatchAssessed,
        format!("{}: opened ({reason})", record.id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record_json(&state, &record))).into_response())
}

async fn show(
    State(state): Shared,
    _who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.fleet.patch_record(&id).await?;
    Ok(Json(record_json(&state, &record)).into_response())
}

async fn attach_bundle(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, repository::MAX_BUNDLE_BYTES).await?;
    let data = state.data.root().to_owned();
    let stored = tokio::task::spawn_blocking(move || repository::store_bundle(&data, &bytes))
        .await
        .map_err(|e| ApiError::new(codes::INTERNAL, e.to_string()))?;
    let (digest, bundle) = match stored {
        Ok(ok) => ok,
        Err(e) => {
            let e = FleetError::Invalid {
                reason: format!("the bundle is refused: {e}"),
            };
            return Err(refused(&state, &who, &format!("{id}: attaching a bundle"), e).await);
        }
    };
    let models = bundle.manifest().models.clone();
    let base = repository::base_profile(&bundle);
    if !state.fleet.profile_in_use(&base, &models).await? {
        let e = FleetError::Invalid {
            reason: format!(
                "the bundle installs over base profile {base}, which no device of {} reports",
                if models.is_empty() {
                    "any model".to_owned()
                } else {
                    models.join(", ")
                }
            ),
        };
        return Err(refused(&state, &who, &format!("{id}: attaching a bundle"), e).await);
    }
    let reach = state.fleet.reach(&models).await?;
    let summary = repository::summary(&digest, &bundle, reach);
    let person = record_person(&who);
    let (record, ()) = change(
        &state,
        &who,
        &id,
        EventKind::PatchAssessed,
        &format!("bundle {} ({digest}) attached", summary.version),
        |r| r.attach_bundle(summary.clone(), &person, now()),
    )
    .await?;
    Ok(Json(record_json(&state, &record)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpactBody {
    clinical_functions: String,
    safety_and_effectiveness: String,
    regression_tests: String,
    performance: String,
}

async fn impact(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b: ImpactBody = json_body(&read(body, MAX_BODY).await?)?;
    let analysis = ImpactAnalysis {
        clinical_functions: b.clinical_functions,
        safety_and_effectiveness: b.safety_and_effectiveness,
        regression_tests: b.regression_tests,
        performance: b.performance,
        author: record_person(&who),
        at: now(),
    };
    let (record, ()) = change(
        &state,
        &who,
        &id,
        EventKind::PatchAssessed,
        "impact analysis recorded",
        |r| r.record_impact(analysis.clone(), now()),
    )
    .await?;
    Ok(Json(record_json(&state, &record)).into_response())
}

#[derive(Deserialize)]
struct FileQuery {
    name: String,
}

async fn add_file(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read(body, medguard_fleet::MAX_EVIDENCE_BYTES).await?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    if q.name.trim().is_empty() || q.name.len() > 200 || q.name.chars().any(char::is_control) {
        return Err(ApiError::new(
            codes::INVALID,
            "name: 1 to 200 characters, no control characters",
        ));
    }
    // The record is checked first, so a file for a record that cannot take it is not kept.
    state.fleet.patch_record(&id).await?;
    let digest = state
        .fleet
        .put_evidence_file(&q.name, &media_type, &bytes)
        .await?;
    let evidence = Evidence {
        digest: digest.clone(),
        kind: EvidenceKind::TestReport {
            name: q.name.clone(),
            media_type,
            size: bytes.len() as u64,
        },
        added_by: record_person(&who),
        at: now(),
    };
    let (record, ()) = change(
        &state,
        &who,
        &id,
        EventKind::PatchAssessed,
        &format!("evidence {} ({digest}) added", q.name),
        |r| r.add_evidence(evidence.clone(), now()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record_json(&state, &record))).into_response())
}

async fn malware_scan(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.fleet.patch_record(&id).await?;
    let Some(bundle) = record.bundle else {
        return Err(refused(
            &state,
            &who,
            &format!("{id}: malware scan"),
            FleetError::from(medguard_patch::PatchError::BundleMissing),
        )
        .await);
    };
    let data = state.data.root().to_owned();
    let digest = bundle.digest.clone();
    let kind = tokio::task::spawn_blocking(move || repository::scan_bundle(&data, &digest))
        .await
        .map_err(|e| ApiError::new(codes::INTERNAL, e.to_string()))?
        .map_err(|e| ApiError::new(codes::CONFLICT, e.to_string()))?;
    let report = serde_json::to_vec(&kind).unwrap_or_default();
    let findings = match &kind {
        EvidenceKind::MalwareScan { findings, .. } => *findings,
        _ => 0,
    };
    let evidence = Evidence {
        digest: blake3::hash(&report).to_hex().to_string(),
        kind,
        added_by: record_person(&who),
        at: now(),
    };
    let (record, ()) = change(
        &state,
        &who,
        &id,
        if findings == 0 {
            EventKind::PatchAssessed
        } else {
            EventKind::MalwareFound
        },
        &format!(
            "malware scan of bundle {}: {findings} matches",
            bundle.digest
        ),
        |r| r.add_evidence(evidence.clone(), now()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record_json(&state, &record))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceBody {
    device: String,
}

async fn reference_install(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b: ReferenceBody = json_body(&read(body, MAX_BODY).await?)?;
    let record = state.fleet.patch_record(&id).await?;
    let bundle = record
        .bundle
        .as_ref()
        .ok_or(FleetError::from(medguard_patch::PatchError::BundleMissing))?;
    let install = state
        .fleet
        .reported_install(&b.device, &bundle.digest)
        .await?;
    let report = serde_json::to_vec(&install).unwrap_or_default();
    let kind = EvidenceKind::ReferenceInstall {
        device: b.device.clone(),
        bundle: bundle.digest.clone(),
        outcome: serde_json::to_value(install.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        self_tests_passed: install.self_tests.iter().all(|t| t.passed),
        verification_intact: install
            .verification
            .is_some_and(|v| v.added == 0 && v.removed == 0 && v.changed == 0),
    };
    let evidence = Evidence {
        digest: blake3::hash(&report).to_hex().to_string(),
        kind,
        added_by: record_person(&who),
        at: now(),
    };
    let (record, ()) = change(
        &state,
        &who,
        &id,
        EventKind::PatchAssessed,
        &format!("reference install on {} added", b.device),
        |r| r.add_evidence(evidence.clone(), now()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record_json(&state, &record))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    meaning: Meaning,
    passphrase: String,
    /// A code from the authenticator app (always needed with an API token, and for the first
    /// signing of a browser session's signing period).
    code: Option<String>,
}

async fn sign(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let b: SignBody = json_body(&read(body, MAX_BODY).await?)?;
    let (record, signature) = sign_record(
        &state,
        &who,
        &id,
        b.meaning,
        &b.passphrase,
        b.code.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "signature": signature,
            "record": record_json(&state, &record),
        })),
    )
        .into_response())
}

/// The permission a signature of `meaning` needs.
pub(crate) fn sign_permission(meaning: Meaning) -> Permission {
    match meaning {
        Meaning::Validated => Permission::SignValidated,
        Meaning::Approved => Permission::SignApproved,
        Meaning::Authored | Meaning::Reviewed => Permission::EditPatchRecords,
    }
}

/// Signs record `id` as `who` with `meaning` after re-authenticating them (21 CFR Part 11
/// §11.200): the one path of the API's `POST .../signatures` and the dashboard's signing
/// dialog, so both check the role, the components presented and the record's rules alike
/// and record the outcome (done or refused) in the trail.
pub(crate) async fn sign_record(
    state: &AppState,
    who: &Person,
    id: &str,
    meaning: Meaning,
    passphrase: &str,
    code: Option<&str>,
) -> Result<(PatchRecord, medguard_patch::ElectronicSignature), ApiError> {
    let permission = sign_permission(meaning);
    if let Err(e) = state.fleet.authorize(&who.principal, permission, None) {
        return Err(refused(state, who, &format!("{id}: signing"), e).await);
    }
    let policy = SigningPolicy::default();
    let clock = medguard_host::SystemClock;
    let login = match &who.via {
        Via::Session(token) => Some(state.fleet.login_session(token).await?),
        Via::Token => None,
    };
    let previous = match &login {
        Some(l) => state.fleet.signing_session(l).await?,
        None => None,
    };
    // An API token is no continuous period of controlled access: every component, always.
    let needed = login
        .as_ref()
        .map_or(SigningChallenge::PassphraseAndTotp, |l| {
            policy.challenge(l, previous.as_ref(), &clock)
        });
    let code = code
        .map(TotpCode::parse)
        .transpose()
        .map_err(|_| ApiError::from(FleetError::LoginFailed))?;
    let presented = match state
        .fleet
        .reauthenticate(&who.principal.person.name, passphrase, code.as_ref())
        .await
    {
        Ok(p) if p >= needed => p,
        Ok(p) => {
            let e = FleetError::from(medguard_accounts::AccountsError::SigningComponentsMissing {
                needed,
                presented: p,
            });
            return Err(refused(state, who, &format!("{id}: signing"), e).await);
        }
        Err(e) => {
            if let Some(l) = &login {
                state.fleet.store_signing_session(l, None).await?;
            }
            state
                .trail
                .record(Action {
                    kind: EventKind::LoginFailure,
                    outcome: Outcome::MinorFailure,
                    user: who.name(),
                    address: who.address.as_deref(),
                    detail: format!("{id}: re-authentication for a signature failed: {e}"),
                })
                .await?;
            return Err(e.into());
        }
    };
    let person = record_person(who);
    let key = state.server_key.clone();
    let (record, signature) = change(
        state,
        who,
        id,
        EventKind::PatchValidated,
        &format!("signed as {}", meaning.as_str()),
        |r| r.sign(meaning, &person, now(), &key),
    )
    .await?;
    if let Some(l) = &login {
        let period = policy
            .record(l, previous.as_ref(), presented, &clock)
            .map_err(FleetError::from)?;
        state.fleet.store_signing_session(l, Some(&period)).await?;
    }
    Ok((record, signature))
}

/// Each signature of `record` with its status (valid, void, forged) against the server's key.
pub(crate) fn signature_checks(
    state: &AppState,
    record: &PatchRecord,
) -> Vec<medguard_patch::SignatureCheck> {
    record.check_signatures(&[state.server_key.public_key().clone()])
}

async fn release(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.fleet.patch_record(&id).await?;
    // The state machine is asked first on a copy, so nothing is published for a record
    // that cannot be released.
    let mut trial = record.clone();
    if let Err(e) = trial.release("(trial)", &record_person(&who), now()) {
        return Err(refused(&state, &who, &format!("{id}: release"), e.into()).await);
    }
    let bundle = record
        .bundle
        .clone()
        .ok_or(FleetError::from(medguard_patch::PatchError::BundleMissing))?;
    let data = state.data.root().to_owned();
    let (digest, version, models, rid) = (
        bundle.digest.clone(),
        bundle.version.clone(),
        bundle.models.clone(),
        id.clone(),
    );
    let targets = tokio::task::spawn_blocking(move || {
        repository::publish(&data, &digest, &version, &models, &rid)
    })
    .await
    .map_err(|e| ApiError::new(codes::INTERNAL, e.to_string()))??;
    let target = targets.join(", ");
    let person = record_person(&who);
    let (record, ()) = change(
        &state,
        &who,
        &id,
        EventKind::PatchReleased,
        &format!("released as {target}"),
        |r| r.release(&target, &person, now()),
    )
    .await?;
    for t in &targets {
        let model = t.split_once('/').map_or(t.as_str(), |(m, _)| m);
        state
            .fleet
            .record_release(&id, &[model.to_owned()], t, &bundle.version)
            .await?;
    }
    Ok(Json(record_json(&state, &record)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

/// A change of state that takes a reason (defer, resume, withdraw): parsed, applied by the
/// record's own method `apply`, recorded.
async fn with_reason(
    state: &AppState,
    who: &Person,
    id: &str,
    body: Body,
    verb: &str,
    apply: fn(
        &mut PatchRecord,
        &medguard_patch::Person,
        time::OffsetDateTime,
        &str,
    ) -> Result<(), medguard_patch::PatchError>,
) -> Result<Response, ApiError> {
    let b: ReasonBody = json_body(&read(body, MAX_BODY).await?)?;
    let person = record_person(who);
    let (record, ()) = change(
        state,
        who,
        id,
        EventKind::PatchAssessed,
        &format!("{verb}: {}", b.reason),
        |r| apply(r, &person, now(), &b.reason),
    )
    .await?;
    Ok(Json(record_json(state, &record)).into_response())
}

async fn defer(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    with_reason(&state, &who, &id, body, "deferred", PatchRecord::defer).await
}

async fn resume(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    with_reason(&state, &who, &id, body, "resumed", PatchRecord::resume).await
}

async fn withdraw(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    with_reason(&state, &who, &id, body, "withdrawn", PatchRecord::withdraw).await
}

async fn export(
    State(state): Shared,
    who: Person,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.fleet.patch_record(&id).await?;
    let bytes = medguard_patch::export(&record, &state.server_key);
    audit(&state, &who, EventKind::Export, format!("{id}: exported")).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.json\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn evidence_file(
    State(state): Shared,
    _who: Person,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let file = state.fleet.evidence_file(&digest).await?;
    // Served as a download, never rendered: an uploaded HTML file must not run here.
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    file.name.replace(['"', '\\'], "_")
                ),
            ),
        ],
        file.content,
    )
        .into_response())
}

#[derive(Deserialize)]
struct ModelQuery {
    model: Option<String>,
}

async fn validated(
    State(state): Shared,
    _who: Person,
    Query(q): Query<ModelQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(state.fleet.validated_patches(q.model.as_deref()).await?).into_response())
}

/// The TUF repository, for enrolled devices (by their certificate).
async fn tuf_file(
    State(state): Shared,
    _device: crate::app::Device,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let Some(file) = repository::served_file(state.data.root(), &path) else {
        return Err(ApiError::new(codes::NOT_FOUND, format!("/tuf/{path}")));
    };
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|e| ApiError::new(codes::INTERNAL, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
