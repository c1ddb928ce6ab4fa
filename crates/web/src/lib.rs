//! The dashboard's pages, rendered on the server as HTML with SVG pictures.
//!
//! Each page is a function from the fleet's data to a document: [`fleet_overview`],
//! [`device_page`], [`findings_page`], [`sign_in_page`]; the patch workflow's pages are in
//! [`patches`]. Everything a page needs is here:
//! the stylesheet ([`STYLESHEET`], served from the binary) and the pictures, drawn as SVG on
//! the server ([`svg`]). No page loads anything from elsewhere or runs a script: hospital
//! networks are closed, the Content-Security-Policy forbids it, and reading works with
//! JavaScript off. Pages have landmarks (`header`, `nav`, `main`), a skip link, labelled form
//! controls and text beside every colour.
//!
//! This crate must not fetch data, decide anything or know HTTP: the server passes what a
//! page shows, and the words the fleet chose (statuses, reasons, rationale) are shown as
//! given. maud escapes every value by construction.
#![forbid(unsafe_code)]

pub mod mds2;
pub mod patches;
pub mod people;
pub mod svg;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use medguard_fleet::{DeviceDetail, DeviceSummary, FleetFinding, OverallStatus, Page};

/// The stylesheet, served at [`STYLESHEET_PATH`].
pub const STYLESHEET: &str = concat!(
    include_str!("../assets/medguard.css"),
    include_str!("../assets/patches.css")
);
/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/static/medguard.css";

/// Who is looking, and what every page's header needs.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The person's printed name, when signed in.
    pub name: Option<String>,
    /// Their role, in words.
    pub role: Option<String>,
    /// The CSRF token for forms that change something.
    pub csrf: Option<String>,
    /// Alerts that stay on every page until a person deals with them (a break-glass session
    /// awaiting review, an account held after failed sign-ins).
    pub alerts: Vec<String>,
    /// The sections beyond the fleet's this person may open ([`Section::People`],
    /// [`Section::BreakGlass`], [`Section::Audit`]): the navigation shows only these.
    pub sections: Vec<Section>,
    /// Break-glass sessions awaiting a review, counted beside the navigation's entry.
    pub break_glass_to_review: usize,
}

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The fleet overview.
    Fleet,
    /// Findings.
    Findings,
    /// Patch records.
    Patches,
    /// Rollouts.
    Rollouts,
    /// Validated patches per model.
    Validated,
    /// People, their roles and API tokens.
    People,
    /// Break-glass sessions and their review.
    BreakGlass,
    /// The server's audit trail.
    Audit,
    /// None (sign-in).
    None,
}

fn layout(title: &str, viewer: &Viewer, section: Section, body: Markup) -> String {
    let mut nav = vec![
        (Section::Fleet, "/", "Fleet".to_owned()),
        (Section::Findings, "/findings", "Findings".to_owned()),
        (Section::Patches, "/patches", "Patch records".to_owned()),
        (Section::Rollouts, "/rollouts", "Rollouts".to_owned()),
        (
            Section::Validated,
            "/validated-patches",
            "Validated patches".to_owned(),
        ),
    ];
    nav.extend(people::nav_entries(viewer));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — medguard" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                // No icon to fetch: browsers would otherwise ask for /favicon.ico.
                link rel="icon" href="data:,";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a href="/" { strong { "medguard" } }
                    @if viewer.name.is_some() {
                        nav aria-label="Main" {
                            ul {
                                @for (s, href, label) in nav {
                                    li {
                                        @if s == section {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(name) = &viewer.name {
                        span.who {
                            (name)
                            @if let Some(role) = &viewer.role { " (" (role) ")" }
                            " "
                            form method="post" action="/sign-out" {
                                @if let Some(c) = &viewer.csrf { input type="hidden" name="csrf" value=(c); }
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                @if !viewer.alerts.is_empty() {
                    section.alerts role="alert" aria-label="Alerts" {
                        ul { @for a in &viewer.alerts { li { (a) } } }
                    }
                }
                main #main { (body) }
            }
        }
    }
    .into_string()
}

/// The badge of a verdict: colour and word.
#[must_use]
pub fn status_badge(s: OverallStatus) -> Markup {
    html! { span class=(format!("status status-{}", s.as_str())) { (s.as_str()) } }
}

/// What the overview's filter form holds.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// Site filter.
    pub site: Option<String>,
    /// Model filter.
    pub model: Option<String>,
    /// Status filter.
    pub status: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Offset.
    pub offset: u64,
}

impl DeviceQuery {
    fn link(&self, offset: u64) -> String {
        let mut q = vec![format!("offset={offset}"), format!("limit={}", self.limit)];
        for (k, v) in [
            ("site", &self.site),
            ("model", &self.model),
            ("status", &self.status),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", encode(v)));
            }
        }
        format!("?{}", q.join("&"))
    }
}

/// A time as people read it in a table: UTC, to the second.
fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Percent-encodes a query value.
#[must_use]
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn pager(total: u64, offset: u64, limit: u32, link: impl Fn(u64) -> String) -> Markup {
    let limit = u64::from(limit.max(1));
    let end = (offset + limit).min(total);
    html! {
        nav.pager aria-label="Pages" {
            span { "Showing " (if total == 0 { 0 } else { offset + 1 }) "–" (end) " of " (total) }
            @if offset > 0 { a href=(link(offset.saturating_sub(limit))) { "Previous" } }
            @if end < total { a href=(link(end)) { "Next" } }
        }
    }
}

/// The fleet overview: devices by status (a picture and counts), the ones needing attention
/// first, filterable by site, model and status.
#[must_use]
pub fn fleet_overview(
    viewer: &Viewer,
    counts: &[(OverallStatus, u64)],
    sites: &[(String, u64)],
    devices: &Page<DeviceSummary>,
    query: &DeviceQuery,
) -> String {
    let body = html! {
        h1 { "Fleet" }
        figure {
            (svg::status_bars(counts))
            figcaption { "Devices by status. Stale: silent longer than promised. Unknown: integrity or the audit trail not proven." }
        }
        form.filters method="get" action="/" {
            label { "Site"
                select name="site" {
                    option value="" { "All sites" }
                    @for (s, n) in sites {
                        option value=(s) selected[query.site.as_deref() == Some(s.as_str())] { (s) " (" (n) ")" }
                    }
                }
            }
            label { "Model" input type="text" name="model" value=(query.model.clone().unwrap_or_default()); }
            label { "Status"
                select name="status" {
                    option value="" { "Any" }
                    @for s in ["attention", "stale", "unknown", "ok", "revoked"] {
                        option value=(s) selected[query.status.as_deref() == Some(s)] { (s) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        (device_table(devices))
        (pager(devices.total, devices.offset, query.limit, |o| query.link(o)))
    };
    layout("Fleet", viewer, Section::Fleet, body)
}

fn device_table(devices: &Page<DeviceSummary>) -> Markup {
    html! {
        table {
            caption.note { "Devices, those needing attention first" }
            thead { tr { th scope="col" { "Device" } th scope="col" { "Status" } th scope="col" { "Site" } th scope="col" { "Model" } th scope="col" { "Integrity" } th scope="col" { "Open findings" } th scope="col" { "Last seen" } } }
            tbody {
                @for d in &devices.items {
                    tr {
                        td { a href=(format!("/devices/{}", d.id)) { (d.name) } }
                        td { (status_badge(d.status)) }
                        td { (d.site) }
                        td { (d.model.as_deref().unwrap_or("—")) }
                        td { (d.detail.as_ref().map_or("unknown", |s| s.integrity.as_str())) }
                        td {
                            @if let Some(s) = &d.detail {
                                (s.vulnerabilities.critical) " critical, " (s.vulnerabilities.high) " high"
                            } @else { "—" }
                        }
                        td { (d.last_seen.as_deref().unwrap_or("never")) }
                    }
                }
                @if devices.items.is_empty() { tr { td colspan="7" { "No device matches." } } }
            }
        }
    }
}

fn tile(label: &str, value: &str, good: bool, bad: bool) -> Markup {
    let class = if bad {
        "bad"
    } else if good {
        "good"
    } else {
        "warn"
    };
    html! { li class=(class) { span.label { (label) } span.value { (value) } } }
}

/// A device: status tiles, why, deviations, allowlist denials, scan, findings with their
/// rationale (one page of `findings_per_page`, with links to the others), installs, services,
/// audit chains, security events.
#[must_use]
pub fn device_page(
    viewer: &Viewer,
    d: &DeviceDetail,
    findings: &Page<FleetFinding>,
    findings_per_page: u32,
    events: &[medguard_fleet::SecurityEvent],
    inventory: Option<&[medguard_inventory::Component]>,
) -> String {
    let s = &d.summary;
    let st = s.detail.clone();
    let body = html! {
        h1 { (s.name) " " (status_badge(s.status)) }
        p.note {
            "Site " (s.site) " · model " (s.model.as_deref().unwrap_or("not declared"))
            " · serial " (s.serial.as_deref().unwrap_or("—"))
            " · last seen " (s.last_seen.as_deref().unwrap_or("never"))
            " · id " code { (s.id) }
            @if let Some(m) = &s.model { " · " a href=(format!("/models/{}/mds2", encode(m))) { "the model's MDS2 form" } }
        }
        @if let Some(st) = &st {
            ul.tiles aria-label="Security status" {
                (tile("Integrity", &st.integrity, st.integrity == "intact", st.integrity == "deviations"))
                (tile("Allowlist", &format!("{} ({} recent denials)", st.allowlist, st.recent_denials), st.allowlist == "enforce" && st.recent_denials == 0, st.recent_denials > 0))
                (tile("Malware scan", &st.malware, st.malware == "clean", st.malware == "findings"))
                (tile("Vulnerabilities", &format!("{} critical, {} high", st.vulnerabilities.critical, st.vulnerabilities.high), st.vulnerabilities.critical + st.vulnerabilities.high == 0, st.vulnerabilities.critical + st.vulnerabilities.high > 0))
                (tile("Patches", &format!("{} installed, {} failed", st.patches.installed, st.patches.failed), st.patches.failed == 0, st.patches.failed > 0))
                (tile("Audit trail", &st.audit, st.audit == "intact", matches!(st.audit.as_str(), "broken" | "gap" | "reset")))
            }
            @if !st.reasons.is_empty() {
                h2 { "Why" }
                ul.reasons { @for r in &st.reasons { li { (r) } } }
            }
        }
        h2 { "Integrity" }
        @match &d.state.integrity {
            None => p { "No verification has been received." },
            Some(i) => {
                @if let Some(why) = &i.not_run { p.error { "The last verification could not run: " (why) } }
                @if let Some(sum) = &i.summary {
                    p { (sum.expected_entries) " entries in the signed profile; "
                        (sum.added) " added, " (sum.removed) " removed, " (sum.changed) " changed, "
                        (sum.unverifiable) " unverifiable. Reported " (when(i.at)) "." }
                }
                @if !i.deviations.is_empty() {
                    table {
                        caption.note { "Deviations from the validated configuration" }
                        thead { tr { th scope="col" { "Path" } th scope="col" { "Change" } th scope="col" { "Attributes" } } }
                        tbody { @for dev in &i.deviations { tr { td.mono { (dev.path) } td { (format!("{:?}", dev.kind).to_lowercase()) } td { (dev.attributes.join(", ")) } } } }
                    }
                    @if i.deviations_omitted > 0 { p.note { (i.deviations_omitted) " more not listed here." } }
                }
            }
        }
        h2 id="vulnerabilities" { "Vulnerabilities" }
        (findings_table(findings, false))
        @if findings.total > u64::from(findings_per_page) || findings.offset > 0 {
            (pager(findings.total, findings.offset, findings_per_page, |o| format!("?offset={o}#vulnerabilities")))
        }
        h2 { "Inventory" }
        @match inventory {
            None => p { "The device has not reported its inventory." },
            Some(components) => details {
                summary { (components.len()) " off-the-shelf components"
                    @if let Some(i) = &d.state.inventory { ", reported " (when(i.at)) } }
                table {
                    thead { tr { th scope="col" { "Component" } th scope="col" { "Version" } th scope="col" { "Package URL" } } }
                    tbody { @for c in components { tr { td { (c.name) } td.mono { (c.version) } td.mono { (c.purl.as_deref().unwrap_or("—")) } } } }
                }
            },
        }
        h2 { "Allowlist" }
        @match &d.state.allowlist {
            None => p { "The device has not reported its allowlist." },
            Some(a) => {
                p { "Mode " strong { (format!("{:?}", a.mode).to_lowercase()) } ", " (a.entries) " entries, " (a.denials_total) " denials reported in all." }
                @if !a.denials.is_empty() {
                    table { thead { tr { th scope="col" { "When" } th scope="col" { "Executable" } th scope="col" { "Decision" } } }
                        tbody { @for den in &a.denials { tr { td { (when(den.time)) } td.mono { (den.path) } td { (format!("{:?}", den.decision)) } } } } }
                }
            }
        }
        h2 { "Malware scan" }
        @match &d.state.scan {
            None => p { "No scan has been reported." },
            Some(sc) => {
                p { "Last scan finished " (when(sc.finished)) ", " (if sc.completed { "completed" } else { "cut short" }) ", "
                    (sc.files) " files, " (sc.findings_total) " matches." }
                @if !sc.findings.is_empty() {
                    table { thead { tr { th scope="col" { "File" } th scope="col" { "Signature" } th scope="col" { "Action" } } }
                        tbody { @for f in &sc.findings { tr { td.mono { (f.path) } td { (f.name) } td { (f.action) } } } } }
                }
            }
        }
        h2 { "Listening services" }
        @match &d.state.services {
            None => p { "No services have been reported." },
            Some(sv) if sv.listeners.is_empty() => p { "The device reported no listening service." },
            Some(sv) => table { thead { tr { th scope="col" { "Endpoint" } th scope="col" { "Executable" } th scope="col" { "Package" } } }
                tbody { @for l in &sv.listeners { tr {
                    td.mono { (format!("{:?}", l.protocol).to_lowercase()) "/" (l.address) ":" (l.port) }
                    td.mono { (l.executable.as_deref().unwrap_or("—")) }
                    td { (l.package.as_ref().map_or_else(|| "—".to_owned(), |p| format!("{} {}", p.name, p.version))) }
                } } } }
        }
        h2 { "Installs" }
        @if d.state.installs.is_empty() { p { "No install has been reported." } }
        @else {
            table { thead { tr { th scope="col" { "Bundle" } th scope="col" { "Outcome" } th scope="col" { "Self-tests" } th scope="col" { "Finished" } } }
                tbody { @for i in &d.state.installs { tr {
                    td { (i.report.bundle.version) }
                    td { (format!("{:?}", i.report.outcome)) }
                    td { (i.report.self_tests.iter().filter(|t| t.passed).count()) " of " (i.report.self_tests.len()) " passed" }
                    td { (when(i.report.finished)) }
                } } } }
        }
        h2 { "Audit trail" }
        @if d.audit_chains.is_empty() { p { "No audit records have been uploaded: the device's log is not proven complete." } }
        @else {
            table { thead { tr { th scope="col" { "Log" } th scope="col" { "State" } th scope="col" { "Records" } th scope="col" { "Signed up to" } th scope="col" { "Problem" } } }
                tbody { @for c in &d.audit_chains { tr {
                    td { (c.log) } td { (c.state) } td { (c.next_seq.saturating_sub(1)) } td { (c.checkpoint_seq) }
                    td { (c.problem.as_deref().unwrap_or("")) }
                } } } }
        }
        h2 { "Security events" }
        @if events.is_empty() { p { "None." } }
        @else {
            table { thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Outcome" } th scope="col" { "Detail" } } }
                tbody { @for e in events { tr { td { (e.at) } td { (e.kind) } td { (e.outcome) } td { (e.detail) } } } } }
        }
    };
    layout(&s.name, viewer, Section::Fleet, body)
}

fn findings_table(page: &Page<FleetFinding>, with_device: bool) -> Markup {
    html! {
        @if page.items.is_empty() { p { "No open findings." } }
        @else {
            table {
                thead { tr {
                    th scope="col" { "Advisory" }
                    @if with_device { th scope="col" { "Device" } }
                    th scope="col" { "Component" } th scope="col" { "Relevance" } th scope="col" { "Priority" } th scope="col" { "Why" }
                } }
                tbody { @for f in &page.items { tr {
                    td { (f.advisory) @if !f.finding.aliases.is_empty() { br; span.note { (f.finding.aliases.join(", ")) } } }
                    @if with_device { td { a href=(format!("/devices/{}", f.device_id)) { code { (f.device_id.get(..8).unwrap_or(&f.device_id)) } } } }
                    td.mono { (f.component) }
                    td { (word(&f.relevance)) @if let Some(j) = &f.finding.justification { br; span.note { "VEX: " (word(j)) } } }
                    td { (word(&f.priority)) }
                    td { details { summary { (f.finding.summary.chars().take(80).collect::<String>()) }
                        ul { @for r in &f.finding.rationale { li { (r) } } }
                        @if !f.finding.fixed.is_empty() { p { "Fixed in " (f.finding.fixed.join(", ")) } }
                    } }
                } } }
            }
        }
    }
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

/// Findings across the fleet, most urgent first.
#[must_use]
pub fn findings_page(viewer: &Viewer, page: &Page<FleetFinding>, advisory: Option<&str>) -> String {
    let body = html! {
        h1 { "Findings" @if let Some(a) = advisory { " of " (a) } }
        form.filters method="get" action="/findings" {
            label { "Advisory" input type="text" name="advisory" value=(advisory.unwrap_or_default()); }
            button type="submit" { "Filter" }
        }
        (findings_table(page, true))
        (pager(page.total, page.offset, 100, |o| format!("?offset={o}{}", advisory.map_or_else(String::new, |a| format!("&advisory={}", encode(a))))))
    };
    layout("Findings", viewer, Section::Findings, body)
}

/// The sign-in page: user name and passphrase, then the code from the authenticator app (or
/// a recovery code), in one form so nothing is kept between two requests.
#[must_use]
pub fn sign_in_page(csrf: &str, error: Option<&str>) -> String {
    let body = html! {
        div.signin {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="user" { "User name" }
                input #user type="text" name="user" autocomplete="username" required;
                label for="passphrase" { "Passphrase" }
                input #passphrase type="password" name="passphrase" autocomplete="current-password" required;
                label for="code" { "Code from your authenticator app, or a recovery code" }
                input #code type="text" name="code" autocomplete="one-time-code" required;
                p { button type="submit" { "Sign in" } }
            }
        }
    };
    layout("Sign in", &Viewer::default(), Section::None, body)
}

/// A plain page with a heading and a message (errors, confirmations).
#[must_use]
pub fn message_page(viewer: &Viewer, title: &str, message: &str) -> String {
    layout(
        title,
        viewer,
        Section::None,
        html! { h1 { (title) } p { (message) } p { a href="/" { "Back to the fleet" } } },
    )
}

/// Raw markup, for the pages other crates assemble (kept for the server's pages).
#[must_use]
pub fn raw(s: &str) -> Markup {
    PreEscaped(s.to_owned())
}

/// What the set-up page shows: who it is for and a new authenticator secret.
#[derive(Debug, Clone)]
pub struct SetupOffer<'a> {
    /// The person's user name.
    pub user: &'a str,
    /// Their role.
    pub role: &'a str,
    /// The new TOTP secret (base32), also in the QR code.
    pub secret: &'a str,
    /// The QR code of the `otpauth://` URI, as SVG.
    pub qr_svg: &'a str,
    /// Until when the link works.
    pub expires_at: &'a str,
}

/// The one-time set-up page: choose a passphrase, scan the QR code, confirm with a code.
#[must_use]
pub fn setup_page(offer: &SetupOffer<'_>, error: Option<&str>) -> String {
    let body = html! {
        div.signin {
            h1 { "Set up your account" }
            p { "For " strong { (offer.user) } " (" (offer.role) "). This link works once, until " (offer.expires_at) "." }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" {
                label for="passphrase" { "Passphrase (at least 15 characters; a few unrelated words work well)" }
                input #passphrase type="password" name="passphrase" autocomplete="new-password" minlength="15" required;
                p { "Scan this code with your authenticator app, or type the secret:" }
                div.qr { (PreEscaped(offer.qr_svg)) }
                p { code { (offer.secret) } }
                input type="hidden" name="totp_secret" value=(offer.secret);
                label for="code" { "The 6-digit code your app shows now" }
                input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required;
                p { button type="submit" { "Set up" } }
            }
        }
    };
    layout(
        "Set up your account",
        &Viewer::default(),
        Section::None,
        body,
    )
}

/// The page after a set-up: the recovery codes, shown this once.
#[must_use]
pub fn setup_done_page(user: &str, recovery_codes: &[&str]) -> String {
    let body = html! {
        div.signin {
            h1 { "Your account is set up" }
            p { "Keep these recovery codes somewhere safe, away from your phone. Each signs you in once if you lose your authenticator. They are not shown again." }
            ol.recovery { @for c in recovery_codes { li { code { (c) } } } }
            p { "Sign in as " strong { (user) } " with your passphrase and a code from your app." }
        }
    };
    layout("Account set up", &Viewer::default(), Section::None, body)
}
