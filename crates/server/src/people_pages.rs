//! The pages for people and their oversight: accounts and roles (`/people`, a person's page
//! with their API tokens), break-glass review (`/break-glass`) and the search of the server's
//! audit trail (`/audit`).
//!
//! Each page asks for the permission its JSON route asks for (managing people, reviewing
//! break-glass or reading the audit trail), and a refusal is recorded in the server's audit
//! trail as the API records it. Forms carry the session's CSRF token
//! ([`crate::patch_pages::csrf`]) and call the same core as the API's routes
//! ([`crate::people`]'s `*_recorded` functions), so an account added or a review made here is
//! checked and recorded exactly as one made through the API. After a change without anything
//! to show once the browser is sent back (303); a set-up link is shown on the answer itself,
//! since it is never shown again.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use medguard_accounts::{Permission, Role, UserName};
use medguard_audit::{EventKind, Outcome, StoredRecord, Verdict};
use medguard_fleet::Principal;
use medguard_proto::codes;
use medguard_web::Section;
use medguard_web::people::{
    AuditPage, AuditSearch, BreakGlassEntry, BreakGlassPage, IssuedLink, NewPerson, PeoplePage,
    PersonPage, PersonRow, TrailIntegrity, TrailRow,
};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::app::{AppState, Shared};
use crate::auth::Person;
use crate::pages::{Reader, error_page};
use crate::patch_pages::{csrf, page, person, refusal, status_of};
use crate::people::html;
use crate::problem::ApiError;
use crate::serve::PeerAddress;
use crate::trail::Action;
use crate::trail_search::{self, TrailFilter, TrailPage, Window};

/// Records a page's audit trail rows at most this many a page.
const AUDIT_PAGE: usize = 50;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/people", get(people).post(add))
        .route("/people/{name}", get(one))
        .route("/people/{name}/reset", post(reset))
        .route("/people/{name}/release", post(release))
        .route("/api-tokens/{id}/revoke", post(revoke))
        .route("/break-glass", get(break_glass))
        .route("/break-glass/{id}/review", post(review))
        .route("/audit", get(audit_trail))
}

/// The sections of this module's pages `principal` may open: the navigation shows these.
pub(crate) fn sections(state: &AppState, principal: &Principal) -> Vec<Section> {
    let home = principal.site().map(|s| s.as_str().to_owned());
    let may = |p| state.fleet.authorize(principal, p, home.as_deref()).is_ok();
    let mut sections = Vec::new();
    if may(Permission::ManageUsers) {
        sections.push(Section::People);
    }
    if may(Permission::ReviewBreakGlass) || may(Permission::ReadAudit) {
        sections.push(Section::BreakGlass);
    }
    if may(Permission::ReadAudit) {
        sections.push(Section::Audit);
    }
    sections
}

/// Checks `who` holds `permission` on their own scope; a refusal is recorded in the server's
/// audit trail as the API's routes record one.
async fn permitted(
    state: &AppState,
    who: &Person,
    permission: Permission,
    what: &str,
) -> Result<(), ApiError> {
    let home = who.principal.site().map(|s| s.as_str().to_owned());
    if let Err(e) = state
        .fleet
        .authorize(&who.principal, permission, home.as_deref())
    {
        state
            .trail
            .record(Action {
                kind: EventKind::AccessDenied,
                outcome: Outcome::MinorFailure,
                user: who.name(),
                address: who.address.as_deref(),
                detail: format!("refused {what}: {e}"),
            })
            .await?;
        return Err(e.into());
    }
    Ok(())
}

/// The whole set-up link, from the address the administrator reached the server by.
fn setup_url(headers: &HeaderMap, uri: &Uri, token: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(h) => format!("https://{h}/setup/{token}"),
        None => format!("/setup/{token}"),
    }
}

fn purpose_words(p: medguard_accounts::SetupPurpose) -> &'static str {
    match p {
        medguard_accounts::SetupPurpose::FirstAdministrator => "first administrator",
        medguard_accounts::SetupPurpose::NewAccount => "new account",
        medguard_accounts::SetupPurpose::Reset => "reset",
    }
}

/// A set-up link to show once.
struct Issued {
    user: String,
    purpose: &'static str,
    url: String,
    expires_at: OffsetDateTime,
}

impl Issued {
    fn of(issued: &medguard_fleet::IssuedSetup, headers: &HeaderMap, uri: &Uri) -> Self {
        Self {
            user: issued.link.user.to_string(),
            purpose: purpose_words(issued.link.purpose),
            url: setup_url(headers, uri, &issued.token.reveal()),
            expires_at: issued.link.expires_at,
        }
    }

    fn link(&self) -> IssuedLink<'_> {
        IssuedLink {
            user: &self.user,
            purpose: self.purpose,
            url: &self.url,
            expires_at: self.expires_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// People

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn people_page(
    state: &AppState,
    reader: &Reader,
    who: &Person,
    form: &NewPerson,
    issued: Option<&Issued>,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String, ApiError> {
    permitted(state, who, Permission::ManageUsers, "the people page").await?;
    let everyone = state.fleet.people().await?;
    let last = state.fleet.last_sign_ins().await?;
    let rows: Vec<PersonRow<'_>> = everyone
        .iter()
        .map(|p| PersonRow {
            person: p,
            last_sign_in: last.get(&p.name).copied(),
        })
        .collect();
    let sites: Vec<String> = state
        .fleet
        .sites()
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let link = issued.map(Issued::link);
    Ok(medguard_web::people::people_page(
        &reader.viewer,
        &PeoplePage {
            people: &rows,
            roles: &roles,
            sites: &sites,
            form,
            issued: link.as_ref(),
            notice,
            error,
        },
    ))
}

async fn people(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
) -> Response {
    let who = person(&reader, peer);
    page(
        people_page(
            &state,
            &reader,
            &who,
            &NewPerson::default(),
            None,
            None,
            None,
        )
        .await,
        &reader,
    )
}

#[derive(Deserialize)]
struct AddForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    site: String,
}

async fn add(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<AddForm>,
) -> Response {
    let who = person(&reader, peer);
    let typed = NewPerson {
        name: form.name.trim().to_owned(),
        role: form.role.clone(),
        site: form.site.clone(),
    };
    let attempt = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        permitted(&state, &who, Permission::ManageUsers, "adding a person").await?;
        let role: Role = form
            .role
            .parse()
            .map_err(|_| ApiError::new(codes::INVALID, "choose one of the roles"))?;
        let site = Some(form.site.trim()).filter(|s| !s.is_empty());
        crate::people::add_person_recorded(&state, &who, &typed.name, role, site).await
    }
    .await;
    match attempt {
        Ok(issued) => {
            let shown = Issued::of(&issued, &headers, &uri);
            let notice = format!("{} is added.", shown.user);
            let result = people_page(
                &state,
                &reader,
                &who,
                &NewPerson::default(),
                Some(&shown),
                Some(&notice),
                None,
            )
            .await;
            match result {
                Ok(p) => html(StatusCode::CREATED, p),
                Err(e) => error_page(&reader.viewer, &e),
            }
        }
        Err(e) => {
            let message = format!("Not added: {}", refusal(&e));
            match people_page(&state, &reader, &who, &typed, None, None, Some(&message)).await {
                Ok(p) => html(status_of(&e), p),
                Err(other) => error_page(&reader.viewer, &other),
            }
        }
    }
}

async fn person_page(
    state: &AppState,
    reader: &Reader,
    who: &Person,
    name: &str,
    issued: Option<&Issued>,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String, ApiError> {
    permitted(state, who, Permission::ManageUsers, "a person's page").await?;
    let name = UserName::parse(name).map_err(|e| ApiError::new(codes::INVALID, e.to_string()))?;
    let account = state.fleet.person(&name).await?;
    let last = state.fleet.last_sign_ins().await?.get(&name).copied();
    let tokens = state.fleet.person_tokens(&name).await?;
    let link = issued.map(Issued::link);
    Ok(medguard_web::people::person_page(
        &reader.viewer,
        &PersonPage {
            person: &account,
            last_sign_in: last,
            tokens: &tokens,
            now: OffsetDateTime::now_utc(),
            issued: link.as_ref(),
            notice,
            error,
        },
    ))
}

async fn one(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(name): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let who = person(&reader, peer);
    let notice = match q.done.as_deref() {
        Some("released") => Some("The hold is released: they may sign in again."),
        Some("revoked") => Some("The API token is revoked."),
        _ => None,
    };
    page(
        person_page(&state, &reader, &who, &name, None, notice, None).await,
        &reader,
    )
}

/// The answer to a form on a person's page: the page again, with what to show or the refusal.
async fn after_person_form(
    state: &AppState,
    reader: &Reader,
    who: &Person,
    name: &str,
    outcome: Result<Option<Issued>, ApiError>,
    done: &str,
) -> Response {
    match outcome {
        Ok(None) => Redirect::to(&format!(
            "/people/{}?done={done}",
            medguard_web::encode(name)
        ))
        .into_response(),
        Ok(Some(issued)) => {
            let notice = format!("{name}'s sign-in is reset: give them the new set-up link.");
            match person_page(state, reader, who, name, Some(&issued), Some(&notice), None).await {
                Ok(p) => html(StatusCode::CREATED, p),
                Err(e) => error_page(&reader.viewer, &e),
            }
        }
        Err(e) => {
            let message = refusal(&e);
            match person_page(state, reader, who, name, None, None, Some(&message)).await {
                Ok(p) => html(status_of(&e), p),
                Err(other) => error_page(&reader.viewer, &other),
            }
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn reset(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    headers: HeaderMap,
    uri: Uri,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = person(&reader, peer);
    let outcome = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        permitted(&state, &who, Permission::ManageUsers, "a reset").await?;
        let issued = crate::people::reset_person_recorded(&state, &who, &name).await?;
        Ok(Some(Issued::of(&issued, &headers, &uri)))
    }
    .await;
    after_person_form(&state, &reader, &who, &name, outcome, "reset").await
}

async fn release(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = person(&reader, peer);
    let outcome = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        permitted(&state, &who, Permission::ManageUsers, "releasing a hold").await?;
        crate::people::release_hold_recorded(&state, &who, &name).await?;
        Ok(None)
    }
    .await;
    after_person_form(&state, &reader, &who, &name, outcome, "released").await
}

async fn revoke(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = person(&reader, peer);
    let owner = state.fleet.person_token_owner(&id).await;
    let outcome = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        // The API lets a person revoke their own tokens; this page is the administrator's.
        permitted(
            &state,
            &who,
            Permission::ManageUsers,
            "revoking an API token",
        )
        .await?;
        crate::people::revoke_token_recorded(&state, &who, &id).await?;
        Ok(None)
    }
    .await;
    match owner {
        Ok(owner) => {
            after_person_form(&state, &reader, &who, owner.as_str(), outcome, "revoked").await
        }
        Err(e) => error_page(&reader.viewer, &e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Break-glass review

#[derive(Debug, Deserialize)]
struct BreakGlassQuery {
    state: Option<String>,
    done: Option<String>,
}

fn outcome_words(o: Outcome) -> &'static str {
    match o.code() {
        0 => "success",
        4 => "minor failure",
        8 => "serious failure",
        _ => "major failure",
    }
}

fn row_of(r: &StoredRecord) -> TrailRow {
    TrailRow {
        seq: r.seq,
        time: r.event.time,
        action: r.event.kind.as_str().to_owned(),
        outcome: outcome_words(r.event.outcome).to_owned(),
        actor: r.event.user().unwrap_or("—").to_owned(),
        address: r.event.source_address().map(str::to_owned),
        detail: r.event.detail.clone().unwrap_or_default(),
    }
}

/// Runs blocking trail work on a blocking thread; its failure is a problem naming it.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, medguard_audit::AuditError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(codes::INTERNAL, e.to_string()))?
        .map_err(|e| {
            ApiError::new(
                codes::INTERNAL,
                format!("the audit trail could not be read: {e}"),
            )
        })
}

async fn break_glass_page(
    state: &AppState,
    reader: &Reader,
    who: &Person,
    all: bool,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<String, ApiError> {
    let home = reader.home();
    let may = |p| {
        state
            .fleet
            .authorize(&reader.principal, p, home.as_deref())
            .is_ok()
    };
    let may_review = may(Permission::ReviewBreakGlass);
    let may_read_trail = may(Permission::ReadAudit);
    if !may_review {
        permitted(state, who, Permission::ReadAudit, "the break-glass page").await?;
    }
    let sessions = state
        .fleet
        .break_glass_sessions(!all, reader.principal.site())
        .await?;
    let windows: Vec<Window> = sessions
        .iter()
        .map(|b| Window {
            user: b.user.to_string(),
            from: b.started_at,
            to: b
                .ended
                .as_ref()
                .map_or(b.expires_at, |e| e.at.min(b.expires_at)),
        })
        .collect();
    let (actions, actions_unknown) = if !may_read_trail {
        (
            vec![Vec::new(); sessions.len()],
            Some("reading the audit trail is not part of your role".to_owned()),
        )
    } else if sessions.is_empty() {
        (Vec::new(), None)
    } else {
        let dir = state.trail.dir().to_owned();
        match blocking(move || trail_search::actions_during(&dir, &windows)).await {
            Ok(found) => {
                let n: usize = found.iter().map(Vec::len).sum();
                crate::app::audit(
                    state,
                    who,
                    EventKind::AuditLogUsed,
                    format!(
                        "audit trail read for the review of {} break-glass sessions ({n} records)",
                        sessions.len()
                    ),
                )
                .await?;
                (
                    found
                        .iter()
                        .map(|records| records.iter().map(row_of).collect())
                        .collect(),
                    None,
                )
            }
            Err(e) => (vec![Vec::new(); sessions.len()], Some(refusal(&e))),
        }
    };
    let entries: Vec<BreakGlassEntry<'_>> = sessions
        .iter()
        .zip(actions.iter())
        .map(|(record, actions)| BreakGlassEntry {
            record,
            actions: actions.as_slice(),
        })
        .collect();
    Ok(medguard_web::people::break_glass_page(
        &reader.viewer,
        &BreakGlassPage {
            entries: &entries,
            all,
            may_review,
            actions_unknown: actions_unknown.as_deref(),
            notice,
            error,
        },
    ))
}

async fn break_glass(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Query(q): Query<BreakGlassQuery>,
) -> Response {
    let who = person(&reader, peer);
    let all = q.state.as_deref() == Some("all");
    let notice = (q.done.as_deref() == Some("reviewed")).then_some("Your review is recorded.");
    page(
        break_glass_page(&state, &reader, &who, all, notice, None).await,
        &reader,
    )
}

#[derive(Deserialize)]
struct ReviewForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn review(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Response {
    let who = person(&reader, peer);
    let outcome = async {
        csrf(&state, &who, &reader, &form.csrf).await?;
        permitted(
            &state,
            &who,
            Permission::ReviewBreakGlass,
            "a break-glass review",
        )
        .await?;
        crate::people::review_break_glass_recorded(&state, &who, &id, form.note.trim()).await
    }
    .await;
    match outcome {
        Ok(_) => Redirect::to("/break-glass?done=reviewed").into_response(),
        Err(e) => {
            let message = format!("Not reviewed: {}", refusal(&e));
            match break_glass_page(&state, &reader, &who, false, None, Some(&message)).await {
                Ok(p) => html(status_of(&e), p),
                Err(other) => error_page(&reader.viewer, &other),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The audit trail

/// A time as a search takes it, in UTC: RFC 3339, or `YYYY-MM-DD[THH:MM[:SS]]` (what a
/// browser's date and time field sends; a space works for the `T`).
fn parse_time(field: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let normal = text.replacen(' ', "T", 1);
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let day = format_description!("[year]-[month]-[day]");
    time::PrimitiveDateTime::parse(&normal, seconds)
        .or_else(|_| time::PrimitiveDateTime::parse(&normal, minutes))
        .or_else(|_| time::Date::parse(&normal, day).map(|d| d.midnight()))
        .map(time::PrimitiveDateTime::assume_utc)
        .map_err(|_| {
            ApiError::new(
                codes::INVALID,
                format!(
                    "{field} {text:?} is not a time: write it as 2026-12-05 14:30 (UTC) or in RFC 3339"
                ),
            )
        })
}

fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// The search a query asks for (empty fields select everything).
///
/// # Errors
/// An unknown event type or a time that is not one (`invalid`).
pub(crate) fn trail_filter(
    actor: Option<&str>,
    action: Option<&str>,
    object: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<TrailFilter, ApiError> {
    let action = given(action)
        .map(|a| {
            a.parse::<EventKind>()
                .map_err(|e| ApiError::new(codes::INVALID, e.to_string()))
        })
        .transpose()?;
    Ok(TrailFilter {
        actor: given(actor).map(str::to_owned),
        action,
        object: given(object).map(str::to_owned),
        since: given(since).map(|t| parse_time("since", t)).transpose()?,
        until: given(until).map(|t| parse_time("until", t)).transpose()?,
    })
}

/// A page of the server's audit trail matching `filter`, newest first.
pub(crate) async fn search_trail(
    state: &AppState,
    filter: TrailFilter,
    limit: usize,
    offset: u64,
) -> Result<TrailPage, ApiError> {
    let dir = state.trail.dir().to_owned();
    blocking(move || trail_search::search(&dir, &filter, limit, offset)).await
}

/// What verifying the server's audit trail with its key proves, in the page's words.
async fn trail_integrity(state: &AppState) -> TrailIntegrity {
    let dir = state.trail.dir().to_owned();
    let key = state.server_key.public_key().clone();
    let problems = |r: &medguard_audit::VerifyReport| -> Vec<String> {
        r.problems
            .iter()
            .map(|p| match p.seq {
                Some(seq) => format!("record {seq}: {}", p.detail),
                None => p.detail.clone(),
            })
            .collect()
    };
    match blocking(move || trail_search::verify(&dir, &key)).await {
        Err(e) => TrailIntegrity::NotChecked {
            reason: refusal(&e),
        },
        Ok(report) => match report.verdict {
            Verdict::Intact => TrailIntegrity::Intact {
                records: report.records,
            },
            Verdict::Unproven => TrailIntegrity::Unproven {
                records: report.records,
                proven_through: report.proven_through,
                problems: problems(&report),
            },
            Verdict::Tampered => TrailIntegrity::Broken {
                problems: problems(&report),
            },
        },
    }
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    offset: u64,
}

async fn audit_trail(
    State(state): Shared,
    reader: Reader,
    peer: Option<Extension<PeerAddress>>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let who = person(&reader, peer);
    let search = AuditSearch {
        actor: q.actor.clone().unwrap_or_default(),
        action: q.action.clone().unwrap_or_default(),
        object: q.object.clone().unwrap_or_default(),
        since: q.since.clone().unwrap_or_default(),
        until: q.until.clone().unwrap_or_default(),
        offset: q.offset,
        limit: AUDIT_PAGE as u32,
    };
    let result = async {
        permitted(&state, &who, Permission::ReadAudit, "the audit trail page").await?;
        let integrity = trail_integrity(&state).await;
        let actions: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        let filter = trail_filter(
            q.actor.as_deref(),
            q.action.as_deref(),
            q.object.as_deref(),
            q.since.as_deref(),
            q.until.as_deref(),
        );
        let (status, found, error) = match filter {
            Ok(filter) => {
                let found = search_trail(&state, filter, AUDIT_PAGE, q.offset).await?;
                (StatusCode::OK, found, None)
            }
            Err(e) => (
                status_of(&e),
                TrailPage {
                    total: 0,
                    records: Vec::new(),
                },
                Some(refusal(&e)),
            ),
        };
        crate::app::audit(
            &state,
            &who,
            EventKind::AuditLogUsed,
            format!(
                "audit trail searched (actor {:?}, action {:?}, object {:?}, since {:?}, until {:?}): {} matching records",
                search.actor, search.action, search.object, search.since, search.until, found.total
            ),
        )
        .await?;
        let rows: Vec<TrailRow> = found.records.iter().map(row_of).collect();
        Ok::<_, ApiError>((
            status,
            medguard_web::people::audit_page(
                &reader.viewer,
                &AuditPage {
                    search: &search,
                    actions: &actions,
                    rows: &rows,
                    total: found.total,
                    integrity: &integrity,
                    error: error.as_deref(),
                },
            ),
        ))
    }
    .await;
    match result {
        Ok((status, p)) => html(status, p),
        Err(e) => error_page(&reader.viewer, &e),
    }
}
