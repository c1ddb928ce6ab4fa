//! The pages for people and the audit trail as HTML: the trail's integrity is called intact
//! only when it was proven (never for a trail not checked, not proven or broken), every input
//! has its label, each page has one `h1`, and the navigation shows only the sections the
//! person may open, with the break-glass sessions awaiting review counted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use medguard_web::people::{
    AuditPage, AuditSearch, NewPerson, PeoplePage, TrailIntegrity, TrailRow, audit_page,
    people_page,
};
use medguard_web::{Section, Viewer};
use time::OffsetDateTime;

fn viewer(sections: Vec<Section>, to_review: usize) -> Viewer {
    Viewer {
        name: Some("admin".into()),
        role: Some("administrator".into()),
        csrf: Some("csrf-token-of-the-session".into()),
        sections,
        break_glass_to_review: to_review,
        ..Viewer::default()
    }
}

fn audit(integrity: &TrailIntegrity, rows: &[TrailRow]) -> String {
    let search = AuditSearch {
        actor: "bea".into(),
        limit: 50,
        ..AuditSearch::default()
    };
    audit_page(
        &viewer(vec![Section::Audit], 0),
        &AuditPage {
            search: &search,
            actions: &["login-success", "break-glass"],
            rows,
            total: rows.len() as u64,
            integrity,
            error: None,
        },
    )
}

/// Every `<input>` other than hidden ones has an id that a `<label for>` names.
fn inputs_are_labelled(page: &str) {
    for input in page.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        if tag.contains(r#"type="hidden""#) {
            continue;
        }
        let id = tag
            .split("id=\"")
            .nth(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .unwrap_or_else(|| panic!("an input without an id: {tag}"));
        assert!(
            page.contains(&format!(r#"<label for="{id}""#)),
            "no label for {id}"
        );
    }
}

#[test]
fn the_trail_is_called_intact_only_when_proven() {
    let row = TrailRow {
        seq: 7,
        time: OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(),
        action: "break-glass".into(),
        outcome: "success".into(),
        actor: "bea".into(),
        address: Some("10.0.0.7".into()),
        detail: "break-glass 1f started <b>".into(),
    };
    let intact = audit(&TrailIntegrity::Intact { records: 7 }, &[row]);
    assert!(intact.contains("Verified intact"));
    assert!(
        intact.contains("break-glass 1f started &lt;b&gt;"),
        "escaped"
    );
    assert!(intact.contains(r#"<th scope="col">"#));
    assert_eq!(intact.matches("<h1").count(), 1);
    inputs_are_labelled(&intact);
    for (integrity, says) in [
        (
            TrailIntegrity::NotChecked {
                reason: "the log directory is missing".into(),
            },
            "Not checked",
        ),
        (
            TrailIntegrity::Unproven {
                records: 9,
                proven_through: 8,
                problems: vec!["record 9 is not covered by a checkpoint".into()],
            },
            "Not proven",
        ),
        (
            TrailIntegrity::Broken {
                problems: vec!["record 3: chain digest mismatch".into()],
            },
            "BROKEN",
        ),
    ] {
        let page = audit(&integrity, &[]);
        assert!(page.contains(says), "{says}");
        assert!(
            !page.contains("intact"),
            "{says} page calls the trail intact"
        );
        assert!(!page.to_lowercase().contains(">ok<"));
    }
}

#[test]
fn the_people_page_labels_its_form_and_the_navigation_follows_the_role() {
    let sites = vec!["North".to_owned()];
    let page = people_page(
        &viewer(
            vec![Section::People, Section::BreakGlass, Section::Audit],
            2,
        ),
        &PeoplePage {
            people: &[],
            roles: &["administrator", "auditor"],
            sites: &sites,
            form: &NewPerson::default(),
            issued: None,
            notice: None,
            error: Some("Not added: user bea exists"),
        },
    );
    assert_eq!(page.matches("<h1").count(), 1);
    inputs_are_labelled(&page);
    for id in ["new-role", "new-site"] {
        assert!(page.contains(&format!(r#"<label for="{id}""#)));
    }
    assert!(page.contains(r#"name="csrf" value="csrf-token-of-the-session""#));
    assert!(page.contains("Break-glass (2 to review)"));
    assert!(page.contains(r#"href="/people" aria-current="page""#));
    assert!(page.contains("Not added: user bea exists"));

    // Without the sections, no link to them.
    let fleet_only = audit_page(
        &viewer(Vec::new(), 2),
        &AuditPage {
            search: &AuditSearch::default(),
            actions: &[],
            rows: &[],
            total: 0,
            integrity: &TrailIntegrity::Intact { records: 0 },
            error: None,
        },
    );
    for href in ["/people", "/break-glass", "/audit"] {
        assert!(
            !fleet_only.contains(&format!(r#"<a href="{href}""#)),
            "{href} in the navigation"
        );
    }
}
