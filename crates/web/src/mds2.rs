//! The MDS2 form of a model as a printable page: every group of the form as a table of its
//! questions, each answer with where it comes from (evidence with its link, the vendor's
//! declarations file, or unanswered).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use medguard_mds2::{GROUPS, Mds2Form, Source};

use crate::{STYLESHEET, Section, Viewer, encode, layout};

fn body(form: &Mds2Form, downloads: bool) -> Markup {
    let api = format!("/api/v1/models/{}/mds2", encode(&form.model));
    html! {
        article.mds2 {
            h1 { "MDS2: " (form.model) }
            p.note { (form.form) }
            dl.mds2-facts {
                dt { "Generated" } dd { (form.generated_at) }
                @if let Some(site) = &form.site { dt { "Devices of site" } dd { (site) } }
                dt { "Vendor declarations" }
                dd { (form.declarations.as_deref().unwrap_or("none (no declarations file for this model)")) }
                dt { "Answers" }
                dd {
                    (form.tally.evidence) " from live evidence, "
                    (form.tally.declared) " declared by the vendor, "
                    (form.tally.unanswered) " unanswered"
                }
            }
            @if downloads {
                p.downloads {
                    a href=(api) { "JSON" } " · "
                    a href=(format!("{api}?format=csv")) download=(format!("mds2-{}.csv", form.model)) { "CSV (for NEMA's workbook)" }
                }
            }
            @for group in GROUPS {
                @let rows: Vec<_> = form.entries.iter().filter(|e| e.group == group.code).collect();
                section aria-labelledby=(format!("g-{}", group.code)) {
                    h2 #(format!("g-{}", group.code)) { (group.code) ": " (group.title) }
                    table {
                        thead { tr { th scope="col" { "ID" } th scope="col" { "Question" } th scope="col" { "Answer" } th scope="col" { "Note" } th scope="col" { "Source" } } }
                        tbody {
                            @for e in rows {
                                tr {
                                    th scope="row" .mono { (e.id) }
                                    td { (e.question) }
                                    td { @match e.answer {
                                        Some(a) => span class=(format!("answer answer-{}", a.as_form().to_ascii_lowercase().replace([' ', '/'], ""))) { (a.as_form()) },
                                        None => span.answer.answer-none { "Unanswered" },
                                    } }
                                    td { (e.note.as_deref().unwrap_or("")) }
                                    td.note { @match &e.source {
                                        Source::Evidence { what, link } => { "Evidence: " a href=(link) { (what) } },
                                        Source::Declared { file } => { "Declared: " span.mono { (file) } },
                                        Source::Unanswered => "Neither evidence nor a declaration",
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The form as a dashboard page.
#[must_use]
pub fn mds2_page(viewer: &Viewer, form: &Mds2Form) -> String {
    layout(
        &format!("MDS2: {}", form.model),
        viewer,
        Section::Fleet,
        body(form, true),
    )
}

/// The form as a document of its own (a file to print or send): the stylesheet inside it,
/// nothing to fetch.
#[must_use]
pub fn mds2_document(form: &Mds2Form) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "MDS2: " (form.model) }
                style { (PreEscaped(STYLESHEET)) }
            }
            body { main #main { (body(form, false)) } }
        }
    }
    .into_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use medguard_mds2::{ModelEvidence, VendorDeclarations};

    #[test]
    fn every_question_is_a_row_and_values_are_escaped() {
        let d = VendorDeclarations::parse(
            "[answers]\n\"DOC-1\" = { note = \"<script>x</script>\" }\n",
            "mds2/CT.toml",
        )
        .unwrap();
        let form = Mds2Form::fill(
            "CT <9000>",
            &ModelEvidence::default(),
            &d,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let page = mds2_document(&form);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        // Counted after the embedded stylesheet, which names `th[scope="row"]` too.
        let body = page.rsplit("</style>").next().unwrap();
        assert_eq!(body.matches("scope=\"row\"").count(), form.entries.len());
        assert!(page.contains("MLDP-4"));
    }
}
