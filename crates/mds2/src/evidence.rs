//! What the fleet shows about a model, and the answers it supports.
//!
//! Counts are of the model's devices that are enrolled and not revoked. A control counts for
//! a device only when the device's last report shows it; a device that never reported shows
//! nothing. A question about a device's capability is "yes" only when every device shows it
//! and "no" otherwise (the note says how many do); a question about a process is "see note"
//! when only some devices show it. With no devices, nothing is answered from evidence.

use serde::Serialize;

use crate::{Answer, encode};

/// What the fleet shows about one model's devices, and about the people of its server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelEvidence {
    /// The model.
    pub model: String,
    /// The site the counts are limited to (a hospital's own devices), if any.
    pub site: Option<String>,
    /// Devices of the model, enrolled and not revoked.
    pub devices: u64,
    /// Of those, devices that have reported at least once.
    pub reporting: u64,
    /// Devices whose last allowlist report arrived.
    pub allowlist_reported: u64,
    /// Devices whose last allowlist report says `enforce` (unlisted executables are refused).
    pub allowlist_enforcing: u64,
    /// Devices that report malware scans (a scan is configured and ran).
    pub scan_reported: u64,
    /// Devices whose last scan completed.
    pub scan_completed: u64,
    /// Devices whose last verification completed against a profile whose signature verified.
    pub integrity_verified: u64,
    /// Of those, devices whose tree matched the profile.
    pub integrity_intact: u64,
    /// Devices that upload their hash-chained medguard audit log.
    pub audit_uploading: u64,
    /// Devices whose every audit chain is intact on the server.
    pub audit_intact: u64,
    /// Devices that reported their software inventory (the SBOM).
    pub inventory_collected: u64,
    /// When the newest inventory was reported (RFC 3339).
    pub last_inventory: Option<String>,
    /// Devices holding a live client certificate from the fleet CA (mutual TLS).
    pub certified: u64,
    /// Devices that installed an update delivered through medguard (signed, TUF).
    pub installed_updates: u64,
    /// Devices that reported their listening network services.
    pub services_reported: u64,
    /// The distinct listening services they reported (`tcp/443`, ...).
    pub listening: Vec<String>,
    /// Advisories the fleet holds and matches against inventories.
    pub advisories: u64,
    /// The people of the fleet server.
    pub people: PeopleEvidence,
}

/// The people of the fleet server: who may see and change the model's devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeopleEvidence {
    /// People who completed their set-up.
    pub set_up: u64,
    /// Of those, people who sign in with a passphrase and a second factor (TOTP).
    pub with_second_factor: u64,
    /// People by role (`administrator`, ...).
    pub roles: Vec<(String, u64)>,
    /// People whose role may break the glass.
    pub break_glass_holders: u64,
    /// Break-glass sessions recorded.
    pub break_glass_sessions: u64,
}

/// The questions medguard answers from evidence (when the model has devices, or the server
/// has people, as each needs).
pub const EVIDENCE_BACKED: &[&str] = &[
    "DOC-3", "AUDT-1", "AUDT-7", "AUTH-1", "AUTH-2", "CSUP-2.3", "CSUP-5.3", "CSUP-11", "EMRG-1",
    "IGAU-1", "MLDP-2", "MLDP-4", "NAUT-1", "NAUT-3", "CONN-7", "PAUT-8", "SBOM-1", "SBOM-2",
    "SBOM-2.1", "SBOM-2.3", "SBOM-3", "SBOM-4", "SAHD-3", "SAHD-3.1", "SAHD-3.2", "SAHD-4",
    "SAHD-5.1", "SAHD-8", "TXCF-2", "TXCF-4", "TXIG-1",
];

/// An answer from evidence.
pub(crate) struct Seen {
    pub answer: Answer,
    pub note: String,
    pub what: String,
    pub link: String,
}

/// How strictly a share of devices is read.
#[derive(Clone, Copy)]
enum Kind {
    /// A device's capability: all or "no".
    Capability,
    /// A process: all, or "see note".
    Process,
    /// Only part of the question is seen: always "see note".
    Partial,
}

fn share(
    ev: &ModelEvidence,
    n: u64,
    kind: Kind,
    shows: &str,
    yes_note: &str,
    link: String,
) -> Option<Seen> {
    let m = ev.devices;
    if m == 0 {
        return None;
    }
    let what = format!("{n} of {m} devices of {} {shows}", ev.model);
    let answer = match kind {
        _ if n < m => match kind {
            Kind::Capability => Answer::No,
            Kind::Process | Kind::Partial => Answer::SeeNote,
        },
        Kind::Partial => Answer::SeeNote,
        Kind::Capability | Kind::Process => Answer::Yes,
    };
    let note = if n == m {
        format!("{what}. {yes_note}")
    } else {
        format!("Only {what}; the others do not show it. {yes_note}")
    };
    Some(Seen {
        answer,
        note: note.trim_end().to_owned(),
        what,
        link,
    })
}

fn people(answer: Answer, note: String, link: &str) -> Option<Seen> {
    Some(Seen {
        answer,
        what: note.clone(),
        note,
        link: link.to_owned(),
    })
}

/// The answer the evidence gives to question `id`, if it gives one.
pub(crate) fn answer(id: &str, model: &str, ev: &ModelEvidence) -> Option<Seen> {
    let devices = format!("/api/v1/devices?model={}", encode(model));
    let d = || devices.clone();
    let p = &ev.people;
    match id {
        "DOC-3" => Some(Seen {
            answer: Answer::SeeNote,
            note: model.to_owned(),
            what: "the model's name in the fleet".to_owned(),
            link: d(),
        }),
        "MLDP-4" => share(
            ev,
            ev.allowlist_enforcing,
            Kind::Capability,
            "enforce the medguard allowlist (mode enforce: executables and libraries not in the signed profile are refused through fanotify)",
            "",
            d(),
        ),
        "MLDP-2" => share(
            ev,
            ev.scan_reported,
            Kind::Capability,
            "report malware scans (YARA rules and hash lists, run outside clinical use)",
            "",
            d(),
        ),
        "AUDT-1" => share(
            ev,
            ev.audit_uploading,
            Kind::Capability,
            "keep and upload the medguard audit log beyond the operating system's logs",
            "",
            d(),
        ),
        "AUDT-7" => share(
            ev,
            ev.audit_intact,
            Kind::Capability,
            "have every audit chain intact on the server",
            "Records are hash-chained with signed checkpoints; each upload must continue the chain the server holds, so a changed or deleted record is detected.",
            d(),
        ),
        "IGAU-1" => share(
            ev,
            ev.integrity_verified,
            Kind::Partial,
            "verify their files by BLAKE3 digest against a signed system profile",
            "This covers the files in the profile (software and configuration); stored health data outside it is the vendor's to declare.",
            d(),
        ),
        "SAHD-3" | "SAHD-4" => share(
            ev,
            ev.integrity_verified,
            Kind::Capability,
            "verify their software against the signed system profile (the result is on each device's page)",
            "",
            d(),
        ),
        "SAHD-3.1" => share(
            ev,
            ev.integrity_verified,
            Kind::Capability,
            "verify their installed software by digest against a profile whose vendor signature verified",
            "",
            d(),
        ),
        "SAHD-3.2" | "CSUP-2.3" | "CSUP-5.3" if ev.installed_updates > 0 => Some(Seen {
            answer: Answer::Yes,
            note: format!(
                "{} devices of {} installed updates delivered through medguard: signed bundles in a TUF repository, verified by the agent before install.",
                ev.installed_updates, ev.model
            ),
            what: format!("{} devices installed signed updates", ev.installed_updates),
            link: d(),
        }),
        "CSUP-11" if ev.advisories > 0 => share(
            ev,
            ev.inventory_collected,
            Kind::Process,
            "have their inventory matched against the fleet's advisories",
            &format!(
                "The fleet holds {} advisories (OSV, CSAF) and decides each finding's relevance with a written rationale.",
                ev.advisories
            ),
            format!("/api/v1/findings?model={}", encode(model)),
        ),
        "SBOM-1" | "SBOM-2.1" | "SBOM-2.3" => share(
            ev,
            ev.inventory_collected,
            Kind::Capability,
            "reported their software inventory (components with their versions)",
            "",
            d(),
        ),
        "SBOM-2" => share(
            ev,
            ev.inventory_collected,
            Kind::Capability,
            "reported their software inventory",
            "medguard writes it as CycloneDX and SPDX.",
            d(),
        ),
        "SBOM-3" => share(
            ev,
            ev.inventory_collected,
            Kind::Capability,
            "list their installed components through the medguard agent (dpkg, rpm, Python, vendor-declared)",
            "",
            d(),
        ),
        "SBOM-4" => share(
            ev,
            ev.inventory_collected,
            Kind::Process,
            "report their inventory again on the agent's schedule",
            &ev.last_inventory
                .as_deref()
                .map(|t| format!("Newest: {t}."))
                .unwrap_or_default(),
            d(),
        ),
        "NAUT-1" | "NAUT-3" => share(
            ev,
            ev.certified,
            Kind::Capability,
            "hold a live client certificate from the fleet CA and authenticate to the server by mutual TLS",
            "",
            d(),
        ),
        "CONN-7" => share(
            ev,
            ev.certified,
            Kind::Capability,
            "talk to the fleet server over TLS",
            "",
            d(),
        ),
        "TXCF-2" | "TXCF-4" | "TXIG-1" => share(
            ev,
            ev.certified,
            Kind::Partial,
            "send medguard's reports and audit records only over mutual TLS to the authenticated fleet server",
            "The device's other transmissions (e.g. DICOM, HL7) are the vendor's to declare.",
            d(),
        ),
        "SAHD-8" if ev.services_reported > 0 => {
            let mut seen = share(
                ev,
                ev.services_reported,
                Kind::Partial,
                "reported their listening network services",
                &format!(
                    "Listening: {}. Whether each is required for the intended use is the vendor's to declare.",
                    if ev.listening.is_empty() {
                        "none".to_owned()
                    } else {
                        ev.listening.join(", ")
                    }
                ),
                d(),
            )?;
            seen.answer = Answer::SeeNote;
            Some(seen)
        }
        "AUTH-1" if p.set_up > 0 => people(
            Answer::Yes,
            format!(
                "The fleet server admits only people who signed in (passphrase, then a second factor) or hold an API token; {} people are set up.",
                p.set_up
            ),
            "/api/v1/users",
        ),
        "AUTH-2" | "SAHD-5.1" if p.set_up > 0 => people(
            Answer::Yes,
            format!(
                "People on the fleet server have roles: {}.",
                p.roles
                    .iter()
                    .map(|(r, n)| format!("{r} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "/api/v1/users",
        ),
        "PAUT-8" if p.set_up > 0 => people(
            if p.with_second_factor == p.set_up {
                Answer::Yes
            } else {
                Answer::No
            },
            format!(
                "{} of {} people on the fleet server sign in with a passphrase and a TOTP second factor.",
                p.with_second_factor, p.set_up
            ),
            "/api/v1/users",
        ),
        "EMRG-1" if p.set_up > 0 => people(
            if p.break_glass_holders > 0 {
                Answer::Yes
            } else {
                Answer::No
            },
            format!(
                "{} people on the fleet server may break the glass (time-limited, recorded, reviewed by another person); {} sessions recorded.",
                p.break_glass_holders, p.break_glass_sessions
            ),
            "/api/v1/break-glass",
        ),
        _ => None,
    }
}
