//! The pages for people and their oversight: the accounts with their roles (adding one gives
//! the one-time set-up link; a reset, a held account's release, the person's API tokens),
//! the review of break-glass sessions with what was done under them, and the search of the
//! server's audit trail with whether the trail verified intact.
//!
//! As for every page, the server passes what is shown and what the person may do; nothing
//! here decides. The trail's integrity is shown as the server proved it: "intact" only when
//! every record was verified under a checkpoint signed with the server's key, otherwise in
//! words why not (not checked, not proven, broken).

use maud::{Markup, html};
use medguard_fleet::{BreakGlassRecord, Person, PersonToken};
use time::OffsetDateTime;

use crate::{Section, Viewer, encode, layout, pager, when};

/// The navigation's entries for the sections of this module the viewer may open.
pub(crate) fn nav_entries(viewer: &Viewer) -> Vec<(Section, &'static str, String)> {
    let mut entries = Vec::new();
    if viewer.sections.contains(&Section::People) {
        entries.push((Section::People, "/people", "People".to_owned()));
    }
    if viewer.sections.contains(&Section::BreakGlass) {
        let label = match viewer.break_glass_to_review {
            0 => "Break-glass".to_owned(),
            n => format!("Break-glass ({n} to review)"),
        };
        entries.push((Section::BreakGlass, "/break-glass", label));
    }
    if viewer.sections.contains(&Section::Audit) {
        entries.push((Section::Audit, "/audit", "Audit trail".to_owned()));
    }
    entries
}

fn notices(notice: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
    }
}

fn yes_no(v: bool, yes: &'static str, no: &'static str) -> &'static str {
    if v { yes } else { no }
}

/// A set-up link just issued: shown once, to give to the person.
#[derive(Debug, Clone)]
pub struct IssuedLink<'a> {
    /// For whom.
    pub user: &'a str,
    /// Why, in words ("new account", "reset").
    pub purpose: &'a str,
    /// The whole link.
    pub url: &'a str,
    /// Until when it works.
    pub expires_at: OffsetDateTime,
}

fn issued_link(link: &IssuedLink<'_>) -> Markup {
    html! {
        section.actions aria-labelledby="issued" {
            h2 #issued { "Set-up link for " (link.user) }
            p { "Give this link to " strong { (link.user) } " (" (link.purpose) "), by a channel only they read. "
                "It works once, until " (when(link.expires_at)) ". It is not shown again." }
            p { code { (link.url) } }
            p.note { "With it they choose their passphrase and set up their authenticator; nobody else learns either." }
        }
    }
}

/// A person in the list, with when they last signed in.
#[derive(Debug, Clone)]
pub struct PersonRow<'a> {
    /// The account.
    pub person: &'a Person,
    /// The start of their newest session, if they ever signed in.
    pub last_sign_in: Option<OffsetDateTime>,
}

/// What the new account form held (kept after a refusal).
#[derive(Debug, Clone, Default)]
pub struct NewPerson {
    /// The user name typed.
    pub name: String,
    /// The role chosen.
    pub role: String,
    /// The site chosen (empty: all sites).
    pub site: String,
}

/// The people page.
#[derive(Debug, Clone)]
pub struct PeoplePage<'a> {
    /// Everyone, by name.
    pub people: &'a [PersonRow<'a>],
    /// The roles one may give, in the role table's order.
    pub roles: &'a [&'a str],
    /// The fleet's sites (for a hospital role's scope).
    pub sites: &'a [String],
    /// The new account form, as typed.
    pub form: &'a NewPerson,
    /// The set-up link just issued.
    pub issued: Option<&'a IssuedLink<'a>>,
    /// A confirmation.
    pub notice: Option<&'a str>,
    /// A refusal.
    pub error: Option<&'a str>,
}

/// People: accounts with their role, scope, set-up, hold and last sign-in; the form to add one.
#[must_use]
pub fn people_page(viewer: &Viewer, page: &PeoplePage<'_>) -> String {
    let csrf = viewer.csrf.clone().unwrap_or_default();
    let body = html! {
        h1 { "People" }
        (notices(page.notice, page.error))
        @if let Some(link) = page.issued { (issued_link(link)) }
        table {
            caption.note { (count(page.people.len() as u64, "account", "accounts")) }
            thead { tr {
                th scope="col" { "User" } th scope="col" { "Role" } th scope="col" { "Scope" }
                th scope="col" { "Set-up" } th scope="col" { "Sign-in" } th scope="col" { "Last sign-in" }
                th scope="col" { "Created" }
            } }
            tbody {
                @for row in page.people {
                    @let p = row.person;
                    tr {
                        th scope="row" { a href=(format!("/people/{}", encode(p.name.as_str()))) { (p.name.as_str()) } }
                        td { (p.role.as_str().replace('-', " ")) }
                        td { (p.scope.to_string()) }
                        td { (yes_no(p.set_up, "done (passphrase and authenticator)", "not done: set-up link pending")) }
                        td { @if p.held { strong.error { "held after failed sign-ins" } } @else { "allowed" } }
                        td { (row.last_sign_in.map_or_else(|| "never".to_owned(), when)) }
                        td { (when(p.created_at)) }
                    }
                }
                @if page.people.is_empty() { tr { td colspan="7" { "No account yet." } } }
            }
        }
        section.actions aria-labelledby="add-person" {
            h2 #add-person { "Add a person" }
            p.note { "They receive a one-time set-up link to choose their passphrase and authenticator. A hospital role (hospital security officer, biomedical engineer) needs a site; the others reach all sites." }
            form method="post" action="/people" {
                input type="hidden" name="csrf" value=(csrf);
                label for="new-name" { "User name" }
                input #new-name type="text" name="name" autocomplete="off" required value=(page.form.name);
                label for="new-role" { "Role" }
                select #new-role name="role" required {
                    @for r in page.roles {
                        option value=(r) selected[page.form.role == *r] { (r.replace('-', " ")) }
                    }
                }
                label for="new-site" { "Site" }
                select #new-site name="site" {
                    option value="" { "All sites" }
                    @for s in page.sites { option value=(s) selected[page.form.site == *s] { (s) } }
                }
                p { button type="submit" { "Add the person" } }
            }
        }
    };
    layout("People", viewer, Section::People, body)
}

/// One person's page.
#[derive(Debug, Clone)]
pub struct PersonPage<'a> {
    /// The account.
    pub person: &'a Person,
    /// When they last signed in.
    pub last_sign_in: Option<OffsetDateTime>,
    /// Their API tokens, revoked and expired ones too.
    pub tokens: &'a [PersonToken],
    /// Now, to tell expired tokens.
    pub now: OffsetDateTime,
    /// The set-up link just issued by a reset.
    pub issued: Option<&'a IssuedLink<'a>>,
    /// A confirmation.
    pub notice: Option<&'a str>,
    /// A refusal.
    pub error: Option<&'a str>,
}

fn token_state(t: &PersonToken, now: OffsetDateTime) -> Markup {
    match t.revoked_at {
        Some(at) => html! { span.state.state-withdrawn { "revoked" } " " span.note { (when(at)) } },
        None if t.expires_at <= now => html! { span.state { "expired" } },
        None => html! { span.state.state-released { "valid" } },
    }
}

/// A person: their account, the reset and release forms, their API tokens (revocable).
#[must_use]
pub fn person_page(viewer: &Viewer, page: &PersonPage<'_>) -> String {
    let p = page.person;
    let name = p.name.as_str();
    let csrf = viewer.csrf.clone().unwrap_or_default();
    let base = format!("/people/{}", encode(name));
    let body = html! {
        h1 { "Account " (name) }
        p { a href="/people" { "Back to all people" } }
        (notices(page.notice, page.error))
        @if let Some(link) = page.issued { (issued_link(link)) }
        dl.facts {
            dt { "Role" } dd { (p.role.as_str().replace('-', " ")) }
            dt { "Scope" } dd { (p.scope.to_string()) }
            dt { "Set-up" } dd { (yes_no(p.set_up, "done (passphrase and authenticator)", "not done: set-up link pending")) }
            dt { "Sign-in" } dd { @if p.held { strong.error { "held after failed sign-ins" } } @else { "allowed" } }
            dt { "Last sign-in" } dd { (page.last_sign_in.map_or_else(|| "never".to_owned(), when)) }
            dt { "Created" } dd { (when(p.created_at)) }
        }
        section.actions aria-labelledby="manage" {
            h2 #manage { "Manage the account" }
            form method="post" action=(format!("{base}/reset")) {
                input type="hidden" name="csrf" value=(csrf);
                p.note { "A reset issues a new set-up link, for a lost authenticator or passphrase. The present credentials work until the link is used." }
                p { button type="submit" { "Reset " (name) "'s sign-in" } }
            }
            @if p.held {
                form method="post" action=(format!("{base}/release")) {
                    input type="hidden" name="csrf" value=(csrf);
                    p.note { "Sign-in is held after too many failed attempts. Release it only once you know who tried." }
                    p { button type="submit" { "Release the hold on " (name) } }
                }
            }
        }
        h2 { "API tokens" }
        @if page.tokens.is_empty() { p { (name) " has no API token." } }
        @else {
            table {
                caption.note { "API tokens of " (name) ", newest first" }
                thead { tr { th scope="col" { "Token" } th scope="col" { "Permissions" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "State" } th scope="col" { "Action" } } }
                tbody { @for t in page.tokens { tr {
                    th scope="row" { (t.name) br; code { (t.id) } }
                    td { (t.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) }
                    td { (when(t.created_at)) }
                    td { (when(t.expires_at)) }
                    td { (token_state(t, page.now)) }
                    td {
                        @if t.revoked_at.is_none() && t.expires_at > page.now {
                            form method="post" action=(format!("/api-tokens/{}/revoke", encode(&t.id))) {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Revoke " span.visually-hidden { "token " (t.name) } }
                            }
                        } @else { "—" }
                    }
                } } }
            }
        }
    };
    layout(&format!("Account {name}"), viewer, Section::People, body)
}

/// One record of the server's audit trail, as a table row shows it.
#[derive(Debug, Clone)]
pub struct TrailRow {
    /// Its sequence number in the trail.
    pub seq: u64,
    /// When.
    pub time: OffsetDateTime,
    /// The event type (`login-success`, `break-glass`...).
    pub action: String,
    /// Its outcome in words.
    pub outcome: String,
    /// Who (the requesting user).
    pub actor: String,
    /// From where.
    pub address: Option<String>,
    /// What happened.
    pub detail: String,
}

fn trail_table(rows: &[TrailRow], caption: &str) -> Markup {
    html! {
        table {
            caption.note { (caption) }
            thead { tr { th scope="col" { "No." } th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" } th scope="col" { "Outcome" } th scope="col" { "What" } } }
            tbody { @for r in rows { tr {
                td { (r.seq) }
                td { (when(r.time)) }
                td { (r.actor) @if let Some(a) = &r.address { br; span.note { "from " (a) } } }
                td { (r.action) }
                td { (r.outcome) }
                td { (r.detail) }
            } } }
        }
    }
}

/// A break-glass session with what its holder did meanwhile.
#[derive(Debug, Clone)]
pub struct BreakGlassEntry<'a> {
    /// The session.
    pub record: &'a BreakGlassRecord,
    /// The holder's actions in the server's audit trail from its start to its end.
    pub actions: &'a [TrailRow],
}

/// The break-glass page.
#[derive(Debug, Clone)]
pub struct BreakGlassPage<'a> {
    /// The sessions shown, newest first.
    pub entries: &'a [BreakGlassEntry<'a>],
    /// Whether all sessions are shown (else those awaiting review).
    pub all: bool,
    /// Whether this person may review (the review itself still refuses a self-review).
    pub may_review: bool,
    /// Why the holders' actions are not shown (the trail could not be read, or reading it is
    /// not part of the viewer's role).
    pub actions_unknown: Option<&'a str>,
    /// A confirmation.
    pub notice: Option<&'a str>,
    /// A refusal.
    pub error: Option<&'a str>,
}

fn minutes(d: time::Duration) -> String {
    let total = d.whole_seconds().max(0);
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

fn break_glass_entry(entry: &BreakGlassEntry<'_>, page: &BreakGlassPage<'_>, csrf: &str) -> Markup {
    let b = entry.record;
    let heading = format!("bg-{}", b.id);
    let end = b
        .ended
        .as_ref()
        .map_or(b.expires_at, |e| e.at.min(b.expires_at));
    html! {
        section aria-labelledby=(heading) {
            h2 #(heading) { "Break-glass by " (b.user.as_str()) ", " (when(b.started_at)) " " span class=(format!("state state-{}", b.state)) { (b.state) } }
            dl.facts {
                dt { "Why" } dd { (b.reason) }
                dt { "Scope" } dd { (b.scope.to_string()) }
                dt { "Started" } dd { (when(b.started_at)) }
                dt { "Granted until" } dd { (when(b.expires_at)) " (" (minutes(b.expires_at - b.started_at)) ")" }
                dt { "Ended" } dd {
                    @if let Some(e) = &b.ended { "early, by " (e.by.as_str()) ", " (when(e.at)) " (after " (minutes(end - b.started_at)) ")" }
                    @else if b.state == "active" { "not yet: rights are raised now" }
                    @else { "by itself, " (when(b.expires_at)) }
                }
                dt { "Review" } dd {
                    @if let Some(r) = &b.review { "by " (r.by.as_str()) ", " (when(r.at)) ": " (r.note) }
                    @else { strong { "awaiting review" } }
                }
            }
            h3 { "What " (b.user.as_str()) " did meanwhile" }
            @if let Some(why) = page.actions_unknown { p.note { "Not shown: " (why) "." } }
            @else if entry.actions.is_empty() { p { "Nothing recorded in the server's audit trail." } }
            @else { (trail_table(entry.actions, &format!("Audit trail of {} during break-glass {}", b.user.as_str(), b.id))) }
            @if b.needs_review && page.may_review {
                @if b.state == "active" {
                    p.note { "It can be reviewed once it has ended." }
                } @else {
                    form method="post" action=(format!("/break-glass/{}/review", encode(&b.id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        label for=(format!("note-{}", b.id)) { "Your review of break-glass " (b.id) " (what you checked and found)" }
                        br;
                        textarea id=(format!("note-{}", b.id)) name="note" rows="3" cols="60" required {}
                        p { button type="submit" { "Record the review of " (b.user.as_str()) "'s break-glass" } }
                    }
                }
            }
        }
    }
}

/// Break-glass sessions, those awaiting review first (or all), each with its holder's actions
/// and, for a reviewer, the review form.
#[must_use]
pub fn break_glass_page(viewer: &Viewer, page: &BreakGlassPage<'_>) -> String {
    let csrf = viewer.csrf.clone().unwrap_or_default();
    let body = html! {
        h1 { @if page.all { "Break-glass sessions" } @else { "Break-glass sessions awaiting review" } }
        p {
            @if page.all { a href="/break-glass" { "Show only the sessions awaiting review" } }
            @else { a href="/break-glass?state=all" { "Show all break-glass sessions, reviewed ones too" } }
        }
        (notices(page.notice, page.error))
        @if page.entries.is_empty() {
            p { @if page.all { "No break-glass session yet." } @else { "No break-glass session awaits review." } }
        }
        @for entry in page.entries { (break_glass_entry(entry, page, &csrf)) }
    };
    layout("Break-glass", viewer, Section::BreakGlass, body)
}

/// What verifying the server's audit trail proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailIntegrity {
    /// Every record is under a checkpoint signed with the server's key, and nothing is wrong.
    Intact {
        /// Records verified.
        records: u64,
    },
    /// No evidence of tampering, but not everything is proven.
    Unproven {
        /// Records read.
        records: u64,
        /// The last record covered by a checkpoint.
        proven_through: u64,
        /// What was found, in words.
        problems: Vec<String>,
    },
    /// Evidence of tampering or damage.
    Broken {
        /// What was found, in words.
        problems: Vec<String>,
    },
    /// Verification could not run.
    NotChecked {
        /// Why.
        reason: String,
    },
}

fn integrity(i: &TrailIntegrity) -> Markup {
    html! {
        @match i {
            TrailIntegrity::Intact { records } => p.notice role="status" {
                strong { "Verified intact: " } (records) " records, each covered by a checkpoint signed with this server's key. "
                span.note { "Verified against the checkpoints in the trail itself; a copy forwarded to the hospital's collector also proves its end." }
            },
            TrailIntegrity::Unproven { records, proven_through, problems } => div.paused role="status" {
                p { strong { "Not proven: " } (records) " records read, proven up to record " (proven_through) "; no evidence of tampering." }
                ul { @for p in problems { li { (p) } } }
            },
            TrailIntegrity::Broken { problems } => div.paused role="alert" {
                p.error { "BROKEN: the trail shows tampering or damage. Records below may not be what happened." }
                ul { @for p in problems { li { (p) } } }
            },
            TrailIntegrity::NotChecked { reason } => div.paused role="alert" {
                p { strong { "Not checked: " } "the trail's integrity could not be verified (" (reason) "). Nothing below is proven." }
            },
        }
    }
}

/// An audit search as typed.
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    /// Who (the user name, exactly).
    pub actor: String,
    /// The event type (empty: any).
    pub action: String,
    /// What it concerned: words in the record's text (a user, a device, a record id).
    pub object: String,
    /// From this time (UTC), as typed.
    pub since: String,
    /// Before this time (UTC), as typed.
    pub until: String,
    /// Records skipped.
    pub offset: u64,
    /// Records a page.
    pub limit: u32,
}

impl AuditSearch {
    fn link(&self, offset: u64) -> String {
        let mut q = vec![format!("offset={offset}")];
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object", &self.object),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                q.push(format!("{k}={}", encode(v)));
            }
        }
        format!("/audit?{}", q.join("&"))
    }
}

/// The audit page.
#[derive(Debug, Clone)]
pub struct AuditPage<'a> {
    /// The search.
    pub search: &'a AuditSearch,
    /// The event types to choose from.
    pub actions: &'a [&'a str],
    /// This page of matching records, newest first.
    pub rows: &'a [TrailRow],
    /// Matching records in all.
    pub total: u64,
    /// What verifying the trail proved.
    pub integrity: &'a TrailIntegrity,
    /// A refusal of the search (a time that is not one).
    pub error: Option<&'a str>,
}

/// The server's audit trail: its integrity, a search by actor, action, object and time, and a
/// page of the matching records, newest first.
#[must_use]
pub fn audit_page(viewer: &Viewer, page: &AuditPage<'_>) -> String {
    let s = page.search;
    let body = html! {
        h1 { "Audit trail" }
        (integrity(page.integrity))
        @if let Some(e) = page.error { p.error role="alert" { (e) } }
        form.filters method="get" action="/audit" {
            label for="actor" { "Who (user name)" input #actor type="text" name="actor" value=(s.actor); }
            label for="action" { "Action"
                select #action name="action" {
                    option value="" { "Any" }
                    @for a in page.actions { option value=(a) selected[s.action == *a] { (a) } }
                }
            }
            label for="object" { "Concerning (words in the record)" input #object type="text" name="object" value=(s.object); }
            label for="since" { "From (UTC)" input #since type="datetime-local" step="1" name="since" value=(s.since); }
            label for="until" { "Before (UTC)" input #until type="datetime-local" step="1" name="until" value=(s.until); }
            button type="submit" { "Search" }
        }
        @if page.rows.is_empty() { p { "No record matches." } }
        @else { (trail_table(page.rows, &format!("{}, newest first", count(page.total, "matching record", "matching records")))) }
        (pager(page.total, s.offset, s.limit, |o| s.link(o)))
    };
    layout("Audit trail", viewer, Section::Audit, body)
}

/// `1 account`, `2 accounts`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
