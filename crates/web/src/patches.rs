//! The patch workflow's pages: the records list, a record as auditors read it (with the
//! signing dialog), rollouts with their progress, and the validated patches per model.
//!
//! As for every page, the server passes what is shown and what the person may do (which
//! meanings they may sign, whether they manage rollouts); nothing here decides. A signature's
//! status is shown in words (valid, VOID, FORGED) beside its colour, and a record prints as
//! the auditor's record (the print rules are in the stylesheet).

use maud::{Markup, html};
use medguard_fleet::ValidatedPatch;
use medguard_fleet::rollouts::RolloutSummary;
use medguard_fleet::{Page, PatchSummary};
use medguard_patch::{
    DeviceOutcome, DeviceStatus, EvidenceKind, Meaning, PatchRecord, ProfileVerification, Rollout,
    RolloutState, SignatureCheck, SignatureStatus, StatusCounts, WaveProgress,
};

use crate::{Section, Viewer, layout, pager, when};

/// A rollout of a record, with its waves' progress, for the record's page.
#[derive(Debug, Clone)]
pub struct RolloutBrief {
    /// The rollout in the list.
    pub summary: RolloutSummary,
    /// Its waves' progress.
    pub waves: Vec<WaveProgress>,
}

/// What a record's page shows beyond the record.
#[derive(Debug, Clone)]
pub struct RecordPage<'a> {
    /// The record.
    pub record: &'a PatchRecord,
    /// The digest of its content now: what a signature binds to.
    pub content_digest: &'a str,
    /// Each signature with its status.
    pub signatures: &'a [SignatureCheck],
    /// Its rollouts.
    pub rollouts: &'a [RolloutBrief],
    /// The meanings this person may sign now (empty: no signing dialog).
    pub may_sign: &'a [Meaning],
    /// A confirmation after a change.
    pub notice: Option<&'a str>,
    /// A refusal of the signing dialog.
    pub error: Option<&'a str>,
}

/// What a rollout's page shows beyond the rollout.
#[derive(Debug, Clone)]
pub struct RolloutPage<'a> {
    /// The rollout.
    pub rollout: &'a Rollout,
    /// The devices the person may see (their site's only, for a hospital role).
    pub devices: &'a [DeviceOutcome<'a>],
    /// Whether the person may pause and resume it.
    pub may_manage: bool,
    /// A confirmation after a change.
    pub notice: Option<&'a str>,
    /// A refusal of a form.
    pub error: Option<&'a str>,
}

fn state_badge(state: &str) -> Markup {
    html! { span class=(format!("state state-{state}")) { (state.replace('-', " ")) } }
}

/// The words a signature's meaning stands for, as the signer reads them before signing.
fn meaning_statement(m: Meaning) -> &'static str {
    match m {
        Meaning::Authored => "I wrote this record's impact analysis.",
        Meaning::Reviewed => "I reviewed this record's impact analysis.",
        Meaning::Validated => {
            "I validated this patch: the evidence shows it works as intended on this device model."
        }
        Meaning::Approved => "I approve this patch for release to the devices.",
    }
}

fn meaning_value(m: Meaning) -> &'static str {
    match m {
        Meaning::Authored => "authored",
        Meaning::Reviewed => "reviewed",
        Meaning::Validated => "validated",
        Meaning::Approved => "approved",
    }
}

/// The patch records, most recently changed first as the fleet lists them, a page at a time
/// (`limit` a page).
#[must_use]
pub fn patch_list_page(viewer: &Viewer, records: &Page<PatchSummary>, limit: u32) -> String {
    let body = html! {
        h1 { "Patch records" }
        p.note { "Each record follows a patch from the findings it answers to its confirmation on the devices." }
        table {
            caption.note { (records.total) " records" }
            thead { tr { th scope="col" { "Record" } th scope="col" { "Title" } th scope="col" { "State" } th scope="col" { "Updated" } } }
            tbody {
                @for r in &records.items {
                    tr {
                        td { a href=(format!("/patches/{}", r.id)) { (r.id) } }
                        td { (r.title) }
                        td { (state_badge(&r.state)) }
                        td { (r.updated_at.as_deref().unwrap_or("—")) }
                    }
                }
                @if records.items.is_empty() { tr { td colspan="4" { @if records.total == 0 { "No patch record yet." } @else { "No record on this page." } } } }
            }
        }
        (pager(records.total, records.offset, limit, |o| format!("/patches?offset={o}&limit={limit}")))
    };
    layout("Patch records", viewer, Section::Patches, body)
}

fn signature_status(s: &SignatureStatus) -> Markup {
    match s {
        SignatureStatus::Valid => html! { span.sig.sig-valid { "valid" } },
        SignatureStatus::Void(why) => {
            html! { span.sig.sig-void { "VOID" } " " span.note { (why) } }
        }
        SignatureStatus::Forged(why) => {
            html! { span.sig.sig-forged { "FORGED" } " " span.note { (why) } }
        }
    }
}

fn evidence_detail(kind: &EvidenceKind) -> Markup {
    match kind {
        EvidenceKind::TestReport {
            name,
            media_type,
            size,
        } => html! { "Test report " strong { (name) } " (" (media_type) ", " (size) " bytes)" },
        EvidenceKind::MalwareScan {
            bundle,
            files,
            findings,
            rules,
        } => html! {
            "Malware scan of bundle " code { (short(bundle)) } ": " (files) " files, "
            strong { (findings) " matches" } " (rules: " (rules) ")"
        },
        EvidenceKind::ReferenceInstall {
            device,
            bundle,
            outcome,
            self_tests_passed,
            verification_intact,
        } => html! {
            "Reference install of bundle " code { (short(bundle)) } " on device "
            a href=(format!("/devices/{device}")) { code { (short(device)) } } ": " strong { (outcome) }
            ", self-tests " (if *self_tests_passed { "passed" } else { "FAILED" })
            ", tree " (if *verification_intact { "intact" } else { "NOT intact" }) " afterwards"
        },
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// The bar of a rollout's progress, drawn on the server: done, failed, set aside, working on
/// it, waiting, not yet offered, left to right. Its numbers are also in the page's table.
#[must_use]
pub fn progress_bar(title: &str, counts: &StatusCounts, targeted: u32) -> Markup {
    let parts = segments(counts);
    let total = u64::from(targeted.max(1));
    let width = 480u64;
    let mut x = 0u64;
    let mut rects = Vec::new();
    for (label, colour, n) in &parts {
        let w = u64::from(*n) * width / total;
        if w > 0 {
            rects.push((x, w, *colour, *label, *n));
            x += w;
        }
    }
    let text: String = parts
        .iter()
        .map(|(l, _, n)| format!("{n} {l}"))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg.progress xmlns="http://www.w3.org/2000/svg" role="img" width="600" height="28" viewBox="0 0 600 28" {
            title { (title) ": " (text) " of " (targeted) }
            rect x="0" y="4" width=(width) height="20" fill="#e6eaee" stroke="#7a8794" {}
            @for (x, w, colour, _, _) in &rects {
                rect x=(x) y="4" width=(w) height="20" fill=(colour) {}
            }
            text x=(width + 8) y="19" { (counts.finished()) " of " (targeted) " finished" }
        }
    }
}

/// The segments of a progress bar: (label, colour, count).
fn segments(c: &StatusCounts) -> [(&'static str, &'static str, u32); 6] {
    [
        ("done", "#1a7f37", c.installed),
        ("failed", "#b3261e", c.failed + c.rolled_back),
        ("deferred or excluded", "#6e3fa3", c.deferred + c.excluded),
        ("installing", "#0b5cad", c.downloading + c.installing),
        (
            "waiting for window or idle",
            "#8a5a00",
            c.waiting_for_window + c.waiting_for_idle,
        ),
        ("not yet installing", "#9aa5b1", c.pending + c.offered),
    ]
}

fn legend() -> Markup {
    html! {
        ul.legend aria-label="Colours of the progress bars" {
            @for (label, colour, _) in segments(&StatusCounts::default()) {
                li { svg xmlns="http://www.w3.org/2000/svg" width="12" height="12" viewBox="0 0 12 12" aria-hidden="true" { rect width="12" height="12" fill=(colour) {} } " " (label) }
            }
        }
    }
}

/// A patch record as auditors read it: the findings it answers with their rationale, the
/// bundle, the impact analysis, the evidence, each electronic signature with its status, the
/// history and the rollouts; then the signing dialog when the person may sign.
#[must_use]
pub fn patch_record_page(viewer: &Viewer, page: &RecordPage<'_>) -> String {
    let r = page.record;
    let body = html! {
        h1 { (r.id) ": " (r.title) " " (state_badge(r.state.as_str())) }
        @if let Some(n) = page.notice { p.notice role="status" { (n) } }
        p.note {
            "Content digest " code { (page.content_digest) }
            @if let Some(from) = r.deferred_from { " · deferred from " (from.as_str()) }
            @if let Some(t) = &r.released_as { " · released as " code { (t) } }
            @if let Some(s) = &r.superseded_by { " · superseded by " a href=(format!("/patches/{s}")) { (s) } }
        }
        p.actions {
            a href=(format!("/api/v1/patch-records/{}/export", r.id)) download { "Download the signed export" }
            " (JSON signed by the server; verify it offline with " code { "medguard patch verify" } ")"
        }

        section aria-labelledby="findings" {
            h2 #findings { "Findings" }
            @if r.findings.is_empty() { p { "Opened by hand, from no fleet finding." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Advisory" } th scope="col" { "Component" } th scope="col" { "Devices" } th scope="col" { "Priority" } th scope="col" { "Rationale" } } }
                    tbody { @for f in &r.findings { tr {
                        td { (f.advisory) @if !f.aliases.is_empty() { br; span.note { (f.aliases.join(", ")) } } }
                        td.mono { (f.component) }
                        td { (f.devices) }
                        td { (f.priority.replace('_', " ")) }
                        td { ul.rationale { @for why in &f.rationale { li { (why) } } } }
                    } } }
                }
            }
        }

        section aria-labelledby="bundle" {
            h2 #bundle { "Bundle" }
            @match &r.bundle {
                None => p { "No candidate bundle is attached yet." },
                Some(b) => {
                    dl.facts {
                        dt { "Version" } dd { (b.version) }
                        dt { "Digest (BLAKE3)" } dd { code { (b.digest) } }
                        dt { "Signed by vendor key" } dd { code { (b.signer) } }
                        dt { "Models" } dd { (b.models.join(", ")) }
                        dt { "System profile" } dd { (b.profile_diff.0) " added, " (b.profile_diff.1) " removed, " (b.profile_diff.2) " changed entries" }
                        @if !b.components_changed.is_empty() {
                            dt { "Components changed" } dd { ul { @for c in &b.components_changed { li.mono { (c) } } } }
                        }
                    }
                    h3 { "Operations" }
                    @if b.operations.is_empty() { p { "None." } }
                    @else { ol.operations { @for op in &b.operations { li.mono { (op) } } } }
                    h3 { "Reach" }
                    table {
                        caption.note { "Devices the bundle reaches, per site and model" }
                        thead { tr { th scope="col" { "Site" } th scope="col" { "Model" } th scope="col" { "Devices" } } }
                        tbody {
                            @for reach in &b.reach { tr { td { (reach.site) } td { (reach.model) } td { (reach.devices) } } }
                            @if b.reach.is_empty() { tr { td colspan="3" { "No enrolled device of these models." } } }
                        }
                    }
                }
            }
        }

        section aria-labelledby="impact" {
            h2 #impact { "Impact analysis" }
            @match &r.impact {
                None => p { "Not recorded yet." },
                Some(i) => dl.facts {
                    dt { "Clinical functions affected" } dd { (i.clinical_functions) }
                    dt { "Safety and effectiveness" } dd { (i.safety_and_effectiveness) }
                    dt { "Regression tests" } dd { (i.regression_tests) }
                    dt { "Performance" } dd { (i.performance) }
                    dt { "Written by" } dd { (i.author.printed_name) ", " (when(i.at)) }
                },
            }
        }

        section aria-labelledby="evidence" {
            h2 #evidence { "Evidence" }
            @if r.evidence.is_empty() { p { "None yet." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Evidence" } th scope="col" { "Digest" } th scope="col" { "Added by" } th scope="col" { "When" } } }
                    tbody { @for e in &r.evidence { tr {
                        td { (evidence_detail(&e.kind)) }
                        td {
                            @if matches!(e.kind, EvidenceKind::TestReport { .. }) {
                                a href=(format!("/api/v1/evidence/{}", e.digest)) download { code { (short(&e.digest)) } span.visually-hidden { " (download)" } }
                            } @else { code { (short(&e.digest)) } }
                        }
                        td { (e.added_by.printed_name) }
                        td { (when(e.at)) }
                    } } }
                }
            }
        }

        section aria-labelledby="signatures" {
            h2 #signatures { "Electronic signatures" }
            @if page.signatures.is_empty() { p { "Not signed yet." } }
            @else {
                table.signatures {
                    thead { tr { th scope="col" { "Printed name" } th scope="col" { "Meaning" } th scope="col" { "Signed (UTC)" } th scope="col" { "Status" } th scope="col" { "Content digest signed" } } }
                    tbody { @for s in page.signatures { tr {
                        td { (s.signature.signer.printed_name) }
                        td { (s.signature.meaning.as_str()) }
                        td { (when(s.signature.signed_at)) }
                        td { (signature_status(&s.status)) }
                        td { code { (short(&s.signature.content_digest)) } }
                    } } }
                }
            }
        }

        section aria-labelledby="history" {
            h2 #history { "History" }
            table {
                thead { tr { th scope="col" { "When" } th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "By" } th scope="col" { "Why" } } }
                tbody { @for t in &r.history { tr {
                    td { (when(t.at)) }
                    td { (t.from.map_or("—", |f| f.as_str())) }
                    td { (t.to.as_str()) }
                    td { (t.by.printed_name) }
                    td { (t.reason) }
                } } }
            }
        }

        section aria-labelledby="rollouts" {
            h2 #rollouts { "Rollouts" }
            @if page.rollouts.is_empty() { p { "Not rolled out." } }
            @else {
                (legend())
                @for ro in page.rollouts {
                    h3 { a href=(format!("/rollouts/{}", ro.summary.id)) { "Rollout " (ro.summary.id) } " " (state_badge(&ro.summary.state)) }
                    @for w in &ro.waves {
                        p.wave { (w.name) @if !w.open { " (not open)" } }
                        (progress_bar(&format!("Wave {}", w.name), &w.counts, w.targeted))
                    }
                }
            }
        }

        @if !page.may_sign.is_empty() { (signing_dialog(page, viewer.csrf.as_deref())) }
        p.print-only { "Printed from medguard. The record's signatures bind to content digest " (page.content_digest) "." }
    };
    layout(&r.id, viewer, Section::Patches, body)
}

/// The signing dialog: the meaning, stated in words; the passphrase and a code from the
/// authenticator, asked again every time (21 CFR Part 11 §11.200: both components at each
/// signing outside a continuous session, and here always, so a left-open browser cannot sign).
fn signing_dialog(page: &RecordPage<'_>, csrf: Option<&str>) -> Markup {
    let r = page.record;
    // The step the record is at is the one offered first.
    let preferred = [
        Meaning::Approved,
        Meaning::Validated,
        Meaning::Reviewed,
        Meaning::Authored,
    ]
    .into_iter()
    .find(|m| page.may_sign.contains(m));
    html! {
        section.dialog aria-labelledby="sign" {
            h2 #sign { "Sign this record" }
            p {
                "Your electronic signature shows your printed name, its meaning and the time in UTC. "
                "It binds to this record's content digest " code { (page.content_digest) }
                ": any later change to the record voids it, visibly. "
                "Your passphrase and a code from your authenticator app are asked every time you sign."
            }
            @if let Some(e) = page.error { p.error role="alert" #sign-error { (e) } }
            form method="post" action=(format!("/patches/{}/sign", r.id)) {
                @if let Some(c) = csrf { input type="hidden" name="csrf" value=(c); }
                input type="hidden" name="content_digest" value=(page.content_digest);
                fieldset {
                    legend { "Meaning of your signature" }
                    @for m in page.may_sign {
                        div.choice {
                            input type="radio" name="meaning" id=(format!("meaning-{}", meaning_value(*m))) value=(meaning_value(*m)) checked[Some(*m) == preferred] required;
                            label for=(format!("meaning-{}", meaning_value(*m))) {
                                strong { (m.as_str()) } ": “" (meaning_statement(*m)) "”"
                            }
                        }
                    }
                }
                label for="sign-passphrase" { "Your passphrase" }
                input #sign-passphrase type="password" name="passphrase" autocomplete="current-password" required;
                label for="sign-code" { "The code your authenticator app shows now" }
                input #sign-code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required;
                p { button type="submit" { "Sign" } }
            }
        }
    }
}

/// Rollouts, newest first, a page at a time (`limit` a page).
#[must_use]
pub fn rollout_list_page(viewer: &Viewer, rollouts: &Page<RolloutSummary>, limit: u32) -> String {
    let body = html! {
        h1 { "Rollouts" }
        table {
            caption.note { (rollouts.total) " rollouts" }
            thead { tr { th scope="col" { "Rollout" } th scope="col" { "Patch record" } th scope="col" { "State" } th scope="col" { "Updated" } } }
            tbody {
                @for r in &rollouts.items { tr {
                    td { a href=(format!("/rollouts/{}", r.id)) { (r.id) } }
                    td { a href=(format!("/patches/{}", r.record)) { (r.record) } }
                    td { (state_badge(&r.state)) }
                    td { (r.updated_at.as_deref().unwrap_or("—")) }
                } }
                @if rollouts.items.is_empty() { tr { td colspan="4" { @if rollouts.total == 0 { "No rollout yet." } @else { "No rollout on this page." } } } }
            }
        }
        (pager(rollouts.total, rollouts.offset, limit, |o| format!("/rollouts?offset={o}&limit={limit}")))
    };
    layout("Rollouts", viewer, Section::Rollouts, body)
}

fn device_status(s: &DeviceStatus) -> Markup {
    match s {
        DeviceStatus::Installed {
            self_tests,
            verification,
        } => html! {
            "installed; self-tests " (self_tests.passed) " passed, " (self_tests.failed) " failed; tree "
            (match verification {
                ProfileVerification::Intact => "intact".to_owned(),
                ProfileVerification::Deviates { entries } => format!("deviates ({entries} entries)"),
                ProfileVerification::NotRun => "not verified".to_owned(),
            })
        },
        DeviceStatus::RolledBack { reason } => html! { "rolled back: " (reason) },
        DeviceStatus::Failed { reason } => html! { "failed: " (reason) },
        DeviceStatus::Deferred { by, reason } => {
            html! { "deferred by " (by.printed_name) ": " (reason) }
        }
        DeviceStatus::Excluded { by, reason } => {
            html! { "excluded by " (by.printed_name) ": " (reason) }
        }
        other => html! { (other.kind().as_str().replace('-', " ")) },
    }
}

/// A rollout: its state, each wave's counts and progress bar, each device's status and
/// outcome, its events, and the pause and resume forms for the people who manage rollouts.
#[must_use]
pub fn rollout_page(viewer: &Viewer, page: &RolloutPage<'_>) -> String {
    let ro = page.rollout;
    let csrf = viewer.csrf.as_deref().unwrap_or_default();
    let body = html! {
        h1 { "Rollout " (ro.id()) " " (state_badge(ro.state().as_str())) }
        @if let Some(n) = page.notice { p.notice role="status" { (n) } }
        @if let Some(e) = page.error { p.error role="alert" { (e) } }
        p.note {
            "Patch record " a href=(format!("/patches/{}", ro.patch())) { (ro.patch()) }
            " · version " (ro.version()) " · target " code { (ro.target()) }
            " · " (ro.device_count()) " devices"
        }
        @match ro.state() {
            RolloutState::Paused { by, reason } => p.paused { strong { "Paused" } " by " (by.printed_name) ": " (reason) ". No device receives an install command until it is resumed." },
            RolloutState::Stopped { reason } => p.error { "Stopped by its error threshold: " (reason) },
            RolloutState::Cancelled { by, reason } => p { "Cancelled by " (by.printed_name) ": " (reason) },
            RolloutState::Completed => p { "Completed: every targeted device has an outcome." },
            RolloutState::Active => p { "Active: devices in open waves receive the patch at their next check-in, then wait for their maintenance window and for idle." },
        }
        @if page.may_manage && !ro.state().is_final() {
            section.actions aria-labelledby="manage" {
                h2 #manage { "Manage" }
                @match ro.state() {
                    RolloutState::Active => form method="post" action=(format!("/rollouts/{}/pause", ro.id())) {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="pause-reason" { "Reason for pausing" }
                        input #pause-reason type="text" name="reason" required maxlength="500";
                        " "
                        button type="submit" { "Pause the rollout" }
                    },
                    _ => form method="post" action=(format!("/rollouts/{}/resume", ro.id())) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Resume the rollout" }
                    },
                }
            }
        }
        section aria-labelledby="waves" {
            h2 #waves { "Waves" }
            (legend())
            table.waves {
                thead { tr {
                    th scope="col" { "Wave" } th scope="col" { "Open" } th scope="col" { "Devices" }
                    th scope="col" { "Not yet installing" } th scope="col" { "Waiting for window" } th scope="col" { "Waiting for idle" }
                    th scope="col" { "Installing" } th scope="col" { "Done" } th scope="col" { "Failed" } th scope="col" { "Deferred" }
                } }
                tbody { @for w in ro.progress() { tr {
                    th scope="row" { (w.name) }
                    td { (if w.open { "yes" } else { "no" }) }
                    td { (w.targeted) }
                    td { (w.counts.pending + w.counts.offered) }
                    td { (w.counts.waiting_for_window) }
                    td { (w.counts.waiting_for_idle) }
                    td { (w.counts.downloading + w.counts.installing) }
                    td { (w.counts.installed) }
                    td { (w.counts.failed + w.counts.rolled_back) }
                    td { (w.counts.deferred + w.counts.excluded) }
                } } }
            }
            @for w in ro.progress() {
                figure {
                    (progress_bar(&format!("Wave {}", w.name), &w.counts, w.targeted))
                    figcaption { "Wave " (w.name) }
                }
            }
        }
        section aria-labelledby="devices" {
            h2 #devices { "Devices" }
            table {
                thead { tr { th scope="col" { "Device" } th scope="col" { "Site" } th scope="col" { "Model" } th scope="col" { "Wave" } th scope="col" { "Status" } th scope="col" { "Outcome" } th scope="col" { "Offers" } } }
                tbody {
                    @for d in page.devices { tr {
                        td { a href=(format!("/devices/{}", d.device)) { code { (short(d.device)) } } }
                        td { (d.site) } td { (d.model) } td { (d.wave) }
                        td { (device_status(d.status)) }
                        td { @if let Some(o) = d.outcome { (device_status(o)) } @else { "—" } }
                        td { (d.attempts) }
                    } }
                    @if page.devices.is_empty() { tr { td colspan="7" { "No device of yours is in this rollout." } } }
                }
            }
        }
        section aria-labelledby="events" {
            h2 #events { "Events" }
            table {
                thead { tr { th scope="col" { "When" } th scope="col" { "By" } th scope="col" { "What" } } }
                tbody { @for e in ro.events() { tr {
                    td { (when(e.at)) }
                    td { (e.by.as_ref().map_or("the server", |p| p.printed_name.as_str())) }
                    td { (e.what) }
                } } }
            }
        }
    };
    layout(
        &format!("Rollout {}", ro.id()),
        viewer,
        Section::Rollouts,
        body,
    )
}

/// The released (validated) patches per device model: the hospital's view of what may be
/// installed on each model.
#[must_use]
pub fn validated_patches_page(
    viewer: &Viewer,
    patches: &[ValidatedPatch],
    model: Option<&str>,
) -> String {
    let mut models: Vec<&str> = patches.iter().map(|p| p.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    let body = html! {
        h1 { "Validated patches" @if let Some(m) = model { " for " (m) } }
        p.note { "Patches validated, approved and released for each device model. Only these are offered to the devices." }
        form.filters method="get" action="/validated-patches" {
            label { "Model" input type="text" name="model" value=(model.unwrap_or_default()); }
            button type="submit" { "Filter" }
        }
        @if patches.is_empty() { p { "No validated patch" @if model.is_some() { " for this model" } "." } }
        @for m in &models {
            section aria-labelledby=(format!("model-{}", crate::encode(m))) {
                h2 id=(format!("model-{}", crate::encode(m))) { (m) }
                table {
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Patch record" } th scope="col" { "Title" } th scope="col" { "Repository target" } th scope="col" { "Released" } } }
                    tbody { @for p in patches.iter().filter(|p| p.model == *m) { tr {
                        td { (p.version) }
                        td { a href=(format!("/patches/{}", p.record)) { (p.record) } }
                        td { (p.title) }
                        td.mono { (p.target) }
                        td { (p.released_at.as_deref().unwrap_or("—")) }
                    } } }
                }
            }
        }
    };
    layout("Validated patches", viewer, Section::Validated, body)
}
