//! The MDS2 form of a device model (Manufacturer Disclosure Statement for Medical Device
//! Security, 2019 edition: ANSI/NEMA HN 1-2019), filled from what the fleet shows and, for
//! the rest, from the vendor's declarations.
//!
//! This crate owns the form's questions ([`questions`]), the rules that turn the fleet's
//! evidence about a model ([`ModelEvidence`]) into answers ([`Mds2Form::fill`]), the vendor's
//! declarations file ([`VendorDeclarations`]) and the form's JSON and CSV. It must not read
//! the fleet, the clock or files, and never prints: the fleet fills [`ModelEvidence`], the
//! caller passes the time the form is made and the declarations' text; the dashboard
//! (`medguard-web`) renders it as printable HTML.
//!
//! # The rule that nothing unproven is "yes"
//! Every answer has a [`Source`]: live evidence (what it is, and a link to it), the vendor's
//! declaration (the file), or nothing — then it is unanswered, never "yes". Where medguard
//! sees a question (malware scanning and allowlisting, the audit trail, people's
//! authentication, roles and break-glass on the fleet server, integrity against the signed
//! profile, updates, the SBOM, certificates), the evidence decides and a declaration that
//! says otherwise is shown in the note; a device of the model that does not show the control
//! makes the answer "no" (or "see note" for a process question), so a model whose devices stop
//! enforcing the allowlist stops answering "yes" to MLDP-4. With no devices of the model,
//! medguard knows nothing and the declaration stands.
//!
//! # The questions and where they come from
//! Every group of the 2019 form is here (DOC, MPII, ALOF, AUDT, AUTH, CSUP, DIDT, DTBK, EMRG,
//! IGAU, MLDP, NAUT, CONN, PAUT, PLOK, RDMP, SBOM, SAHD, SGUD, STCF, TXCF, TXIG, RMOT), with
//! the question ids and order of the NEMA workbook as a manufacturer's published, filled copy
//! of it reproduces them row by row (MediCapture's MDS2 for its MVR/MTR recorders). The
//! official workbook itself was not at hand: its ids were not checked against it one by one,
//! and the question texts here are shortened. `SHAD-15` is spelt as the workbook spells it.
//! Which questions medguard answers from evidence: [`EVIDENCE_BACKED`].
#![forbid(unsafe_code)]

mod declarations;
mod evidence;
pub mod questions;

use serde::Serialize;
use time::OffsetDateTime;

pub use declarations::{DeclarationsError, Declared, VendorDeclarations};
pub use evidence::{EVIDENCE_BACKED, ModelEvidence, PeopleEvidence};
pub use questions::{GROUPS, Group, Question};

/// The form's name, as printed on it.
pub const FORM: &str =
    "MDS2 — Manufacturer Disclosure Statement for Medical Device Security (ANSI/NEMA HN 1-2019)";

/// An answer on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Answer {
    /// Yes.
    #[serde(rename = "yes")]
    Yes,
    /// No.
    #[serde(rename = "no")]
    No,
    /// Not applicable.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// The note answers (free text, as the DOC section's fields are).
    #[serde(rename = "see-note")]
    SeeNote,
}

impl Answer {
    /// The word the NEMA workbook uses.
    #[must_use]
    pub fn as_form(self) -> &'static str {
        match self {
            Self::Yes => "Yes",
            Self::No => "No",
            Self::NotApplicable => "N/A",
            Self::SeeNote => "See Notes",
        }
    }

    /// Parses `yes`, `no`, `n/a` or `see-note` (any case; `see notes` too).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "yes" => Self::Yes,
            "no" => Self::No,
            "n/a" | "na" => Self::NotApplicable,
            "see-note" | "see note" | "see notes" => Self::SeeNote,
            _ => return None,
        })
    }
}

/// Where an answer comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// What the fleet shows now.
    Evidence {
        /// What was seen, in a sentence.
        what: String,
        /// Where a person sees it (a path on the fleet server).
        link: String,
    },
    /// The vendor's declarations file.
    Declared {
        /// The file.
        file: String,
    },
    /// Neither: the question is unanswered.
    Unanswered,
}

/// One question of the form with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The form's id (`MLDP-4`).
    pub id: &'static str,
    /// Its group's code.
    pub group: &'static str,
    /// The question.
    pub question: &'static str,
    /// The answer; `None` when unanswered.
    pub answer: Option<Answer>,
    /// The note.
    pub note: Option<String>,
    /// Where the answer comes from.
    pub source: Source,
}

/// How many answers came from where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// From evidence.
    pub evidence: usize,
    /// From the vendor's declarations.
    pub declared: usize,
    /// Unanswered.
    pub unanswered: usize,
}

/// The form of one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mds2Form {
    /// The form's name.
    pub form: &'static str,
    /// The device model.
    pub model: String,
    /// The site the evidence was limited to, if any.
    pub site: Option<String>,
    /// When it was made (RFC 3339).
    pub generated_at: String,
    /// The declarations file, if the model has one.
    pub declarations: Option<String>,
    /// Answers by source.
    pub tally: Tally,
    /// Every question, in the form's order.
    pub entries: Vec<Entry>,
}

impl Mds2Form {
    /// Fills the form of `model`: evidence where medguard sees the answer, the vendor's
    /// declarations for the rest, unanswered otherwise.
    #[must_use]
    pub fn fill(
        model: &str,
        evidence: &ModelEvidence,
        declarations: &VendorDeclarations,
        generated_at: OffsetDateTime,
    ) -> Self {
        let mut tally = Tally::default();
        let entries: Vec<Entry> = questions::all()
            .map(|q| {
                let declared = declarations.answers.get(q.id);
                // The model's name is the fleet's unless the vendor names the model otherwise.
                let seen = if q.id == "DOC-3" && declared.is_some() {
                    None
                } else {
                    evidence::answer(q.id, model, evidence)
                };
                let (answer, note, source) = match (seen, declared) {
                    (Some(seen), declared) => {
                        let note = match declared {
                            Some(d) if seen.answer != d.answer || d.note.is_some() => {
                                Some(format!(
                                    "{} Declared by the vendor: {}{}",
                                    seen.note,
                                    d.answer.as_form(),
                                    d.note
                                        .as_deref()
                                        .map(|n| format!(" — {n}"))
                                        .unwrap_or_default()
                                ))
                            }
                            _ => Some(seen.note),
                        };
                        (
                            Some(seen.answer),
                            note,
                            Source::Evidence {
                                what: seen.what,
                                link: seen.link,
                            },
                        )
                    }
                    (None, Some(d)) => (
                        Some(d.answer),
                        d.note.clone(),
                        Source::Declared {
                            file: declarations.file.clone(),
                        },
                    ),
                    (None, None) => (None, None, Source::Unanswered),
                };
                match source {
                    Source::Evidence { .. } => tally.evidence += 1,
                    Source::Declared { .. } => tally.declared += 1,
                    Source::Unanswered => tally.unanswered += 1,
                }
                Entry {
                    id: q.id,
                    group: q.group,
                    question: q.text,
                    answer,
                    note,
                    source,
                }
            })
            .collect();
        Self {
            form: FORM,
            model: model.to_owned(),
            site: evidence.site.clone(),
            generated_at: generated_at
                .replace_nanosecond(0)
                .unwrap_or(generated_at)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            declarations: (!declarations.file.is_empty()).then(|| declarations.file.clone()),
            tally,
            entries,
        }
    }

    /// The entry of a question.
    #[must_use]
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The form as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The form as CSV (RFC 4180), one row per question: `id,group,question,answer,note,source`,
    /// answers in the workbook's words (`Yes`, `No`, `N/A`, `See Notes`, empty when
    /// unanswered), so the rows can be pasted into NEMA's workbook by id.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = String::from("id,group,question,answer,note,source\r\n");
        for e in &self.entries {
            let source = match &e.source {
                Source::Evidence { what, link } => format!("evidence: {what} ({link})"),
                Source::Declared { file } => format!("declared: {file}"),
                Source::Unanswered => "unanswered".to_owned(),
            };
            let cells = [
                e.id,
                e.group,
                e.question,
                e.answer.map_or("", Answer::as_form),
                e.note.as_deref().unwrap_or(""),
                source.as_str(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// One CSV cell: quoted when it must be. A cell a spreadsheet would run as a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`: the
/// vendor's notes are text, and the form is opened in a spreadsheet.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Percent-encodes a path segment or query value (everything but RFC 3986's unreserved).
#[must_use]
pub fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn enforcing(devices: u64, enforcing: u64) -> ModelEvidence {
        ModelEvidence {
            model: "CT 9000".into(),
            devices,
            reporting: devices,
            allowlist_reported: devices,
            allowlist_enforcing: enforcing,
            ..ModelEvidence::default()
        }
    }

    fn at() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    #[test]
    fn mldp_4_flips_from_yes_to_no_when_one_device_stops_enforcing() {
        let none = VendorDeclarations::none();
        let all = Mds2Form::fill("CT 9000", &enforcing(3, 3), &none, at());
        let e = all.entry("MLDP-4").unwrap();
        assert_eq!(e.answer, Some(Answer::Yes));
        assert!(
            matches!(&e.source, Source::Evidence { link, .. } if link == "/api/v1/devices?model=CT%209000")
        );
        let one_off = Mds2Form::fill("CT 9000", &enforcing(3, 2), &none, at());
        let e = one_off.entry("MLDP-4").unwrap();
        assert_eq!(e.answer, Some(Answer::No));
        assert!(e.note.as_deref().unwrap().contains("2 of 3"), "{e:?}");
    }

    #[test]
    fn a_vendors_yes_does_not_outvote_the_fleet() {
        let d = VendorDeclarations::parse("[answers]\n\"MLDP-4\" = \"yes\"\n", "mds2/CT 9000.toml")
            .unwrap();
        let f = Mds2Form::fill("CT 9000", &enforcing(2, 1), &d, at());
        let e = f.entry("MLDP-4").unwrap();
        assert_eq!(e.answer, Some(Answer::No));
        assert!(
            e.note
                .as_deref()
                .unwrap()
                .contains("Declared by the vendor: Yes")
        );
        // With no devices, medguard knows nothing: the declaration stands.
        let f = Mds2Form::fill("CT 9000", &ModelEvidence::default(), &d, at());
        let e = f.entry("MLDP-4").unwrap();
        assert_eq!(e.answer, Some(Answer::Yes));
        assert_eq!(
            e.source,
            Source::Declared {
                file: "mds2/CT 9000.toml".into()
            }
        );
    }

    #[test]
    fn unanswered_stays_unanswered() {
        let f = Mds2Form::fill(
            "CT 9000",
            &ModelEvidence::default(),
            &VendorDeclarations::none(),
            at(),
        );
        for e in &f.entries {
            if e.id == "DOC-3" {
                continue; // the model's name is known
            }
            assert_eq!(
                (e.answer, &e.source),
                (None, &Source::Unanswered),
                "{}",
                e.id
            );
        }
        assert_eq!(f.tally.unanswered, f.entries.len() - 1);
        let json = f.to_json();
        assert!(json["entries"][20]["answer"].is_null());
        assert_eq!(json["entries"][20]["source"]["kind"], "unanswered");
    }

    #[test]
    fn the_csv_has_one_row_per_question_keyed_by_its_id() {
        let d = VendorDeclarations::parse(
            "[answers]\n\"DOC-1\" = { note = \"=cmd, \\\"Inc\\\"\" }\n",
            "f.toml",
        )
        .unwrap();
        let f = Mds2Form::fill("CT 9000", &enforcing(1, 1), &d, at());
        let csv = f.to_csv();
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "id,group,question,answer,note,source");
        assert_eq!(lines.len() - 1, questions::all().count());
        let ids: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        let expected: Vec<&str> = questions::all().map(|q| q.id).collect();
        assert_eq!(ids, expected);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("MLDP-4,MLDP,") && l.contains(",Yes,"))
        );
        assert!(
            csv.contains("\"'=cmd, \"\"Inc\"\"\""),
            "formula-like notes are defused"
        );
    }

    #[test]
    fn the_evidence_backed_list_is_what_the_rules_answer() {
        let n = 4;
        let full = ModelEvidence {
            model: "CT 9000".into(),
            site: None,
            devices: n,
            reporting: n,
            allowlist_reported: n,
            allowlist_enforcing: n,
            scan_reported: n,
            scan_completed: n,
            integrity_verified: n,
            integrity_intact: n,
            audit_uploading: n,
            audit_intact: n,
            inventory_collected: n,
            last_inventory: Some("2026-12-05T18:00:00Z".into()),
            certified: n,
            installed_updates: n,
            services_reported: n,
            listening: vec!["tcp/104".into()],
            advisories: 10,
            people: PeopleEvidence {
                set_up: 3,
                with_second_factor: 3,
                roles: vec![("administrator".into(), 1), ("auditor".into(), 2)],
                break_glass_holders: 1,
                break_glass_sessions: 0,
            },
        };
        let f = Mds2Form::fill("CT 9000", &full, &VendorDeclarations::none(), at());
        let from_evidence: Vec<&str> = f
            .entries
            .iter()
            .filter(|e| matches!(e.source, Source::Evidence { .. }))
            .map(|e| e.id)
            .collect();
        let mut listed = EVIDENCE_BACKED.to_vec();
        listed.sort_unstable();
        let mut seen = from_evidence.clone();
        seen.sort_unstable();
        assert_eq!(seen, listed);
        for e in &f.entries {
            assert_ne!(
                e.answer,
                Some(Answer::No),
                "{}: all shown, nothing is no",
                e.id
            );
        }
    }

    #[test]
    fn ids_are_unique_every_group_has_questions_and_evidence_ids_exist() {
        let mut ids: Vec<&str> = questions::all().map(|q| q.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
        for g in GROUPS {
            assert!(questions::all().any(|q| q.group == g.code), "{}", g.code);
        }
        for q in questions::all() {
            assert!(questions::group(q.group).is_some(), "{}", q.id);
        }
        for id in EVIDENCE_BACKED {
            assert!(questions::find(id).is_some(), "{id}");
        }
        assert_eq!(GROUPS.len(), 23);
    }
}
