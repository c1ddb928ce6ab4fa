//! The mandatory tests of CSAF 2.0, section 6.1 (6.1.1 … 6.1.33, with the profile tests
//! 6.1.27.1 … 6.1.27.11).
//!
//! "Mandatory tests MUST NOT fail at a valid CSAF document. A program MUST handle a test
//! failure as an error": a document failing any of them is refused, with the test's number,
//! the JSON pointer and what is wrong. The tests read the document as JSON (not the typed
//! records the rest of the parser builds) because they concern exactly the values a typed
//! reading would drop or refuse before saying which test failed, and because each test's
//! "relevant paths" in the specification are JSON paths; every access is checked, so a
//! hostile document yields failures, never a panic.
//!
//! What is checked against data rather than rules: CWE ids and names (6.1.11) against the
//! CWE 4.14 catalogue in `data/`, language tags (6.1.12) against ISO 639/3166/15924 lists in
//! `data/`. See the `cvss`, `revision` and `language` modules for the rest of the reasoning.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::cvss_object;
use super::cwe;
use super::language;
use super::revision;

/// Every mandatory test of CSAF 2.0 section 6.1, in the specification's order.
pub const MANDATORY_TESTS: &[&str] = &[
    "6.1.1",
    "6.1.2",
    "6.1.3",
    "6.1.4",
    "6.1.5",
    "6.1.6",
    "6.1.7",
    "6.1.8",
    "6.1.9",
    "6.1.10",
    "6.1.11",
    "6.1.12",
    "6.1.13",
    "6.1.14",
    "6.1.15",
    "6.1.16",
    "6.1.17",
    "6.1.18",
    "6.1.19",
    "6.1.20",
    "6.1.21",
    "6.1.22",
    "6.1.23",
    "6.1.24",
    "6.1.25",
    "6.1.26",
    "6.1.27.1",
    "6.1.27.2",
    "6.1.27.3",
    "6.1.27.4",
    "6.1.27.5",
    "6.1.27.6",
    "6.1.27.7",
    "6.1.27.8",
    "6.1.27.9",
    "6.1.27.10",
    "6.1.27.11",
    "6.1.28",
    "6.1.29",
    "6.1.30",
    "6.1.31",
    "6.1.32",
    "6.1.33",
];

/// One failed mandatory test.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestFailure {
    /// The test's number in CSAF 2.0 section 6.1 (`6.1.7`, `6.1.27.9`).
    pub test: &'static str,
    /// JSON pointer of the offending value.
    pub pointer: String,
    /// What is wrong, in the specification's words where it has them.
    pub reason: String,
}

/// Collects failures; `fail` keeps the call sites one line each.
#[derive(Default)]
pub(super) struct Failures(pub(super) Vec<TestFailure>);

impl Failures {
    pub(super) fn fail(&mut self, test: &'static str, pointer: impl Into<String>, reason: String) {
        self.0.push(TestFailure {
            test,
            pointer: pointer.into(),
            reason,
        });
    }
}

/// The array at `key`, or nothing.
pub(super) fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The string at `key`.
pub(super) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The strings of the array at `key`, with their index.
fn strings<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a str)> {
    array(value, key)
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_str().map(|s| (i, s)))
}

/// The product-status groups that contradict one another (6.1.6), with their members.
const STATUS_GROUPS: &[(&str, &[&str])] = &[
    (
        "affected",
        &["first_affected", "known_affected", "last_affected"],
    ),
    ("not affected", &["known_not_affected"]),
    ("fixed", &["first_fixed", "fixed"]),
    ("under investigation", &["under_investigation"]),
];

/// Every product status list 6.1.1 checks.
const STATUS_LISTS: &[&str] = &[
    "first_affected",
    "first_fixed",
    "fixed",
    "known_affected",
    "known_not_affected",
    "last_affected",
    "recommended",
    "under_investigation",
];

/// The CSAF 2.0 profiles other than CSAF Base: their category values (6.1.26, 6.1.27).
const PROFILE_CATEGORIES: &[&str] = &[
    "csaf_security_incident_response",
    "csaf_informational_advisory",
    "csaf_security_advisory",
    "csaf_vex",
];

/// Full Product Name elements: where each product id is defined (6.1.2), with the element
/// (for 6.1.13 and 6.1.25).
fn product_definitions(tree: &Value) -> Vec<(String, &Value)> {
    fn walk<'a>(branches: &'a [Value], pointer: &str, out: &mut Vec<(String, &'a Value)>) {
        for (i, branch) in branches.iter().enumerate() {
            let here = format!("{pointer}/{i}");
            if let Some(product) = branch.get("product") {
                out.push((format!("{here}/product"), product));
            }
            walk(array(branch, "branches"), &format!("{here}/branches"), out);
        }
    }
    let mut out = Vec::new();
    walk(array(tree, "branches"), "/product_tree/branches", &mut out);
    for (i, p) in array(tree, "full_product_names").iter().enumerate() {
        out.push((format!("/product_tree/full_product_names/{i}"), p));
    }
    for (i, r) in array(tree, "relationships").iter().enumerate() {
        if let Some(p) = r.get("full_product_name") {
            out.push((
                format!("/product_tree/relationships/{i}/full_product_name"),
                p,
            ));
        }
    }
    out
}

/// Runs every mandatory test of CSAF 2.0 on `doc` and returns every failure (empty: the
/// document passes). Documents of other CSAF versions are not tested here.
#[must_use]
pub fn mandatory_tests(doc: &Value) -> Vec<TestFailure> {
    let mut f = Failures::default();
    let null = Value::Null;
    let document = doc.get("document").unwrap_or(&null);
    let tree = doc.get("product_tree").unwrap_or(&null);
    let vulnerabilities = array(doc, "vulnerabilities");

    // 6.1.2, and the set of defined product ids for 6.1.1.
    let definitions = product_definitions(tree);
    let mut products: BTreeSet<&str> = BTreeSet::new();
    for (pointer, product) in &definitions {
        if let Some(id) = text(product, "product_id")
            && !products.insert(id)
        {
            f.fail(
                "6.1.2",
                format!("{pointer}/product_id"),
                format!("product id {id:?} was defined before"),
            );
        }
    }
    let check_product = |f: &mut Failures, id: &str, pointer: String| {
        if !products.contains(id) {
            f.fail(
                "6.1.1",
                pointer,
                format!("product id {id:?} is not defined in the product tree"),
            );
        }
    };

    // 6.1.1 in the product tree, 6.1.5 and the group table for 6.1.4, 6.1.27.9/10, 6.1.33.
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, g) in array(tree, "product_groups").iter().enumerate() {
        let base = format!("/product_tree/product_groups/{i}");
        for (j, id) in strings(g, "product_ids") {
            check_product(&mut f, id, format!("{base}/product_ids/{j}"));
        }
        if let Some(id) = text(g, "group_id") {
            let members = strings(g, "product_ids").map(|(_, s)| s).collect();
            if groups.insert(id, members).is_some() {
                f.fail(
                    "6.1.5",
                    format!("{base}/group_id"),
                    format!("product group id {id:?} was defined before"),
                );
            }
        }
    }
    for (i, r) in array(tree, "relationships").iter().enumerate() {
        for field in ["product_reference", "relates_to_product_reference"] {
            if let Some(id) = text(r, field) {
                check_product(
                    &mut f,
                    id,
                    format!("/product_tree/relationships/{i}/{field}"),
                );
            }
        }
    }
    circular_relationships(tree, &mut f);

    // 6.1.13 and 6.1.25 on each Full Product Name.
    for (pointer, product) in &definitions {
        let helper = product
            .get("product_identification_helper")
            .unwrap_or(&null);
        if let Some(purl) = text(helper, "purl")
            && let Err(err) = medguard_purl::Purl::parse(purl)
        {
            f.fail(
                "6.1.13",
                format!("{pointer}/product_identification_helper/purl"),
                format!("{purl:?} is not a valid package URL: {err}"),
            );
        }
        for (h, hashes) in array(helper, "hashes").iter().enumerate() {
            let mut seen = BTreeSet::new();
            for (k, hash) in array(hashes, "file_hashes").iter().enumerate() {
                if let Some(algorithm) = text(hash, "algorithm")
                    && !seen.insert(algorithm)
                {
                    f.fail(
                        "6.1.25",
                        format!(
                            "{pointer}/product_identification_helper/hashes/{h}/file_hashes/{k}/algorithm"
                        ),
                        format!("hash algorithm {algorithm:?} is used twice in one item of hashes"),
                    );
                }
            }
        }
    }
    version_ranges_in_product_versions(array(tree, "branches"), "/product_tree/branches", &mut f);

    // Per vulnerability.
    let mut cves: BTreeMap<&str, usize> = BTreeMap::new();
    for (v, vuln) in vulnerabilities.iter().enumerate() {
        let base = format!("/vulnerabilities/{v}");
        let status = vuln.get("product_status").unwrap_or(&null);
        for list in STATUS_LISTS {
            for (k, id) in strings(status, list) {
                check_product(&mut f, id, format!("{base}/product_status/{list}/{k}"));
            }
        }
        for field in ["remediations", "threats", "flags"] {
            for (r, item) in array(vuln, field).iter().enumerate() {
                for (k, id) in strings(item, "product_ids") {
                    check_product(&mut f, id, format!("{base}/{field}/{r}/product_ids/{k}"));
                }
                // 6.1.4 names remediations and threats; the errata add flags, which carry
                // group ids the same way.
                for (k, id) in strings(item, "group_ids") {
                    if !groups.contains_key(id) {
                        f.fail(
                            "6.1.4",
                            format!("{base}/{field}/{r}/group_ids/{k}"),
                            format!("product group id {id:?} is not defined in the product tree"),
                        );
                    }
                }
            }
        }
        for (s, score) in array(vuln, "scores").iter().enumerate() {
            for (k, id) in strings(score, "products") {
                check_product(&mut f, id, format!("{base}/scores/{s}/products/{k}"));
            }
        }

        // 6.1.6: the contradicting groups are pairwise disjoint.
        let mut group_of: BTreeMap<&str, &str> = BTreeMap::new();
        for (group, lists) in STATUS_GROUPS {
            for list in *lists {
                for (k, id) in strings(status, list) {
                    match group_of.get(id) {
                        Some(other) if other != group => f.fail(
                            "6.1.6",
                            format!("{base}/product_status/{list}/{k}"),
                            format!(
                                "product {id:?} is in the contradicting groups {other:?} and {group:?}"
                            ),
                        ),
                        _ => {
                            group_of.insert(id, group);
                        }
                    }
                }
            }
        }

        cvss_object::check_scores(vuln, &base, &mut f);

        // 6.1.11
        if let Some(cwe) = vuln.get("cwe") {
            cwe::check(cwe, &format!("{base}/cwe"), &mut f);
        }

        // 6.1.23
        if let Some(cve) = text(vuln, "cve") {
            if let Some(first) = cves.get(cve) {
                f.fail(
                    "6.1.23",
                    format!("{base}/cve"),
                    format!("{cve} is already used by /vulnerabilities/{first}"),
                );
            } else {
                cves.insert(cve, v);
            }
        }

        // 6.1.24: one party at most once at any date (a missing date is a date too).
        let mut involvements = BTreeSet::new();
        for (i, inv) in array(vuln, "involvements").iter().enumerate() {
            let party = text(inv, "party").unwrap_or_default();
            let date = text(inv, "date").map(normalized_date);
            if !involvements.insert((party, date.clone())) {
                f.fail(
                    "6.1.24",
                    format!("{base}/involvements/{i}"),
                    format!(
                        "party {party:?} is involved twice at {}",
                        date.as_deref().unwrap_or("no date")
                    ),
                );
            }
        }

        // 6.1.29 and 6.1.32: remediations and flags name their products.
        for (field, test) in [("remediations", "6.1.29"), ("flags", "6.1.32")] {
            for (r, item) in array(vuln, field).iter().enumerate() {
                if item.get("product_ids").is_none() && item.get("group_ids").is_none() {
                    f.fail(
                        test,
                        format!("{base}/{field}/{r}"),
                        "it names neither product_ids nor group_ids".to_owned(),
                    );
                }
            }
        }

        // 6.1.33: every CSAF 2.0 flag label is a VEX justification code.
        let mut flagged: BTreeMap<&str, usize> = BTreeMap::new();
        let mut flagged_groups: BTreeSet<&str> = BTreeSet::new();
        for (r, flag) in array(vuln, "flags").iter().enumerate() {
            // A non-empty group already flagged is a second flag for its products: say so
            // without expanding it again (a group is expanded once per vulnerability).
            if let Some((_, g)) = strings(flag, "group_ids").find(|(_, g)| {
                flagged_groups.contains(g) && groups.get(g).is_some_and(|m| !m.is_empty())
            }) {
                f.fail(
                    "6.1.33",
                    format!("{base}/flags/{r}"),
                    format!("the products of group {g:?} already have a VEX justification"),
                );
                continue;
            }
            flagged_groups.extend(strings(flag, "group_ids").map(|(_, g)| g));
            for id in members(flag, &groups) {
                if let Some(first) = flagged.insert(id, r) {
                    f.fail(
                        "6.1.33",
                        format!("{base}/flags/{r}"),
                        format!(
                            "product {id:?} already has a VEX justification in {base}/flags/{first}"
                        ),
                    );
                }
            }
        }
    }

    // Document-level tests.
    language::check_languages(document, &mut f);
    let category = text(document, "category").unwrap_or_default();
    let publisher_category = document
        .get("publisher")
        .and_then(|p| text(p, "category"))
        .unwrap_or_default();
    // 6.1.15
    if publisher_category == "translator" && text(document, "source_lang").is_none() {
        f.fail(
            "6.1.15",
            "/document/source_lang",
            "the publisher is a translator but the source language is missing".to_owned(),
        );
    }
    // 6.1.28
    if let (Some(lang), Some(source)) = (text(document, "lang"), text(document, "source_lang"))
        && lang.eq_ignore_ascii_case(source)
    {
        f.fail(
            "6.1.28",
            "/document/source_lang",
            format!("the document language and the source language are both {lang:?}"),
        );
    }
    revision::check_tracking(document, &mut f);
    prohibited_category(category, &mut f);
    profile_tests(doc, category, &groups, &mut f);
    f.0
}

/// The products an item (flag, threat, remediation) names, directly or through its groups.
fn members<'a>(item: &'a Value, groups: &BTreeMap<&'a str, Vec<&'a str>>) -> BTreeSet<&'a str> {
    let mut all: BTreeSet<&str> = strings(item, "product_ids").map(|(_, s)| s).collect();
    for (_, g) in strings(item, "group_ids") {
        all.extend(groups.get(g).into_iter().flatten().copied());
    }
    all
}

/// Dates compare as instants: the same instant written with another precision or offset is
/// the same date.
fn normalized_date(date: &str) -> String {
    revision::instant(date).map_or_else(|| date.to_owned(), |t| t.to_string())
}

/// 6.1.3: a product defined by a relationship must not end up in a circle of relationships.
///
/// Products are peeled off from the leaves (a product whose references are all outside the
/// relationships, or already peeled); what cannot be peeled is on a circle or refers into
/// one. Linear in the number of relationships, so a hostile document with a long chain costs
/// no more than reading it.
fn circular_relationships(tree: &Value, f: &mut Failures) {
    let relationships = array(tree, "relationships");
    let mut defined: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in relationships.iter().enumerate() {
        if let Some(id) = r
            .get("full_product_name")
            .and_then(|p| text(p, "product_id"))
        {
            defined.entry(id).or_default().push(i);
        }
    }
    // For each relationship-defined product: how many of its references are themselves
    // relationship-defined and not yet peeled, and who refers to it.
    let mut pending: BTreeMap<&str, usize> = defined.keys().map(|id| (*id, 0)).collect();
    let mut referrers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in relationships {
        let Some(id) = r
            .get("full_product_name")
            .and_then(|p| text(p, "product_id"))
        else {
            continue;
        };
        for field in ["product_reference", "relates_to_product_reference"] {
            if let Some(target) = text(r, field)
                && defined.contains_key(target)
            {
                *pending.entry(id).or_default() += 1;
                referrers.entry(target).or_default().push(id);
            }
        }
    }
    let mut leaves: Vec<&str> = pending
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    while let Some(leaf) = leaves.pop() {
        pending.remove(leaf);
        for referrer in referrers.get(leaf).into_iter().flatten() {
            if let Some(n) = pending.get_mut(referrer) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    leaves.push(referrer);
                }
            }
        }
    }
    for id in pending.keys() {
        for i in defined.get(id).into_iter().flatten() {
            f.fail(
                "6.1.3",
                format!("/product_tree/relationships/{i}/full_product_name/product_id"),
                format!("product id {id:?} ends up in a circle of relationships"),
            );
        }
    }
}

/// 6.1.31: "it is deemed sufficient that, when converted to lower case, the value of `name`
/// does not contain any of the following strings". Read as CSAF 2.1 words the same test:
/// the operators anywhere, the keywords as whole words separated by white space, so a
/// version named `after-eight` (an OASIS valid file) is not a range.
fn version_ranges_in_product_versions(branches: &[Value], pointer: &str, f: &mut Failures) {
    const OPERATORS: &[&str] = &["<", ">"];
    const KEYWORDS: &[&str] = &[
        "after", "all", "before", "earlier", "later", "prior", "versions",
    ];
    for (i, branch) in branches.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        if text(branch, "category") == Some("product_version")
            && let Some(name) = text(branch, "name")
        {
            let lower = name.to_lowercase();
            let operator = OPERATORS.iter().find(|o| lower.contains(**o));
            let keyword = lower
                .split_whitespace()
                .find_map(|w| KEYWORDS.iter().find(|k| **k == w));
            if let Some(word) = operator.or(keyword) {
                f.fail(
                    "6.1.31",
                    format!("{here}/name"),
                    format!("product_version {name:?} contains {word:?}: a version range belongs in product_version_range"),
                );
            }
        }
        version_ranges_in_product_versions(
            array(branch, "branches"),
            &format!("{here}/branches"),
            f,
        );
    }
}

/// 6.1.26: a category of the CSAF Base profile may not be the name or value of another
/// profile, compared case-insensitively without dashes, whitespace and underscores, and may
/// not start with the reserved `csaf_` unless it is `csaf_base`.
fn prohibited_category(category: &str, f: &mut Failures) {
    if category == "csaf_base" || PROFILE_CATEGORIES.contains(&category) {
        return;
    }
    let squeeze = |s: &str| -> String {
        s.chars()
            .filter(|c| !(c.is_whitespace() || *c == '-' || *c == '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let ours = squeeze(category);
    let clashes = PROFILE_CATEGORIES.iter().find(|p| {
        ours == squeeze(p)
            || p.strip_prefix("csaf_")
                .is_some_and(|name| ours == squeeze(name))
    });
    if let Some(profile) = clashes {
        f.fail(
            "6.1.26",
            "/document/category",
            format!("{category:?} is the name of the profile {profile:?}"),
        );
    } else if category.to_lowercase().starts_with("csaf_") {
        f.fail(
            "6.1.26",
            "/document/category",
            format!("{category:?} starts with the reserved prefix csaf_"),
        );
    }
}

/// 6.1.27.1 … 6.1.27.11: what each profile requires, run for the documents of its category.
fn profile_tests<'a>(
    doc: &'a Value,
    category: &str,
    groups: &BTreeMap<&'a str, Vec<&'a str>>,
    f: &mut Failures,
) {
    let null = Value::Null;
    let document = doc.get("document").unwrap_or(&null);
    let vulnerabilities = array(doc, "vulnerabilities");
    let informational_or_incident = matches!(
        category,
        "csaf_informational_advisory" | "csaf_security_incident_response"
    );
    let advisory_or_vex = matches!(category, "csaf_security_advisory" | "csaf_vex");
    if informational_or_incident {
        let described = array(document, "notes").iter().any(|n| {
            matches!(
                text(n, "category"),
                Some("description" | "details" | "general" | "summary")
            )
        });
        if !described {
            f.fail(
                "6.1.27.1",
                "/document/notes",
                "no document note of category description, details, general or summary".into(),
            );
        }
        let external = array(document, "references")
            .iter()
            .any(|r| text(r, "category") == Some("external"));
        if !external {
            f.fail(
                "6.1.27.2",
                "/document/references",
                "no document reference of category external".into(),
            );
        }
    }
    if category == "csaf_informational_advisory" && doc.get("vulnerabilities").is_some() {
        f.fail(
            "6.1.27.3",
            "/vulnerabilities",
            "an informational advisory has no vulnerabilities element".into(),
        );
    }
    if !advisory_or_vex {
        return;
    }
    if doc.get("product_tree").is_none() {
        f.fail(
            "6.1.27.4",
            "/product_tree",
            format!("a {category} document needs a product tree"),
        );
    }
    if doc.get("vulnerabilities").is_none() {
        f.fail(
            "6.1.27.11",
            "/vulnerabilities",
            format!("a {category} document needs vulnerabilities"),
        );
    }
    for (v, vuln) in vulnerabilities.iter().enumerate() {
        let base = format!("/vulnerabilities/{v}");
        if vuln.get("notes").is_none() {
            f.fail(
                "6.1.27.5",
                format!("{base}/notes"),
                "the vulnerability has no notes".into(),
            );
        }
        let status = vuln.get("product_status");
        if category == "csaf_security_advisory" && status.is_none() {
            f.fail(
                "6.1.27.6",
                format!("{base}/product_status"),
                "the vulnerability has no product status".into(),
            );
        }
        if category != "csaf_vex" {
            continue;
        }
        let status = status.unwrap_or(&null);
        let vex_lists = [
            "fixed",
            "known_affected",
            "known_not_affected",
            "under_investigation",
        ];
        if !vex_lists.iter().any(|l| status.get(*l).is_some()) {
            f.fail(
                "6.1.27.7",
                format!("{base}/product_status"),
                "none of fixed, known_affected, known_not_affected or under_investigation is given"
                    .into(),
            );
        }
        if vuln.get("cve").is_none() && vuln.get("ids").is_none() {
            f.fail(
                "6.1.27.8",
                base.clone(),
                "the vulnerability has neither cve nor ids".into(),
            );
        }
        let mut impact: BTreeSet<&str> = BTreeSet::new();
        for flag in array(vuln, "flags") {
            impact.extend(members(flag, groups));
        }
        for threat in array(vuln, "threats") {
            if text(threat, "category") == Some("impact") {
                impact.extend(members(threat, groups));
            }
        }
        for (k, id) in strings(status, "known_not_affected") {
            if !impact.contains(id) {
                f.fail(
                    "6.1.27.9",
                    format!("{base}/product_status/known_not_affected/{k}"),
                    format!("no impact statement (flag or impact threat) for {id:?}"),
                );
            }
        }
        let mut action: BTreeSet<&str> = BTreeSet::new();
        for remediation in array(vuln, "remediations") {
            action.extend(members(remediation, groups));
        }
        for (k, id) in strings(status, "known_affected") {
            if !action.contains(id) {
                f.fail(
                    "6.1.27.10",
                    format!("{base}/product_status/known_affected/{k}"),
                    format!("no action statement (remediation) for {id:?}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn relationship(id: &str, product: &str, platform: &str) -> Value {
        json!({"category": "installed_on", "product_reference": product,
               "relates_to_product_reference": platform,
               "full_product_name": {"name": id, "product_id": id}})
    }

    fn tests_failed(doc: &Value) -> Vec<&'static str> {
        mandatory_tests(doc).into_iter().map(|f| f.test).collect()
    }

    #[test]
    fn a_circle_through_two_relationships_fails_6_1_3_and_a_chain_does_not() {
        let products = json!([{"name": "A", "product_id": "A"}, {"name": "P", "product_id": "P"}]);
        let chain = json!({"product_tree": {"full_product_names": products, "relationships": [
            relationship("B", "A", "P"), relationship("C", "B", "P")]}});
        assert_eq!(tests_failed(&chain), Vec::<&str>::new());
        let circle = json!({"product_tree": {"full_product_names": products, "relationships": [
            relationship("B", "C", "P"), relationship("C", "B", "P")]}});
        assert_eq!(tests_failed(&circle), ["6.1.3", "6.1.3"]);
    }

    #[test]
    fn a_long_chain_of_relationships_is_checked_in_linear_time() {
        // 50,000 relationships, each installed on the previous: quadratic work would take
        // minutes here.
        let mut relationships = vec![relationship("R0", "A", "A")];
        for i in 1..50_000 {
            relationships.push(relationship(&format!("R{i}"), "A", &format!("R{}", i - 1)));
        }
        let doc = json!({"product_tree": {
            "full_product_names": [{"name": "A", "product_id": "A"}],
            "relationships": relationships}});
        let started = std::time::Instant::now();
        assert_eq!(tests_failed(&doc), Vec::<&str>::new());
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    #[test]
    fn a_group_flagged_twice_fails_6_1_33_once_per_flag() {
        let doc = json!({
            "product_tree": {"full_product_names": [{"name": "A", "product_id": "A"}],
                             "product_groups": [{"group_id": "G", "product_ids": ["A"]}]},
            "vulnerabilities": [{"flags": [
                {"label": "component_not_present", "group_ids": ["G"]},
                {"label": "inline_mitigations_already_exist", "group_ids": ["G"]},
                {"label": "vulnerable_code_not_present", "product_ids": ["A"]}]}]});
        assert_eq!(tests_failed(&doc), ["6.1.33", "6.1.33"]);
    }

    #[test]
    fn anything_that_is_not_csaf_yields_failures_or_nothing_but_no_panic() {
        for doc in [
            json!(null),
            json!([1, 2]),
            json!({"document": 7, "product_tree": "x", "vulnerabilities": {"a": 1}}),
            json!({"vulnerabilities": [{"scores": [{"cvss_v3": [], "cvss_v2": 1, "products": [3]}],
                    "involvements": [{}, {}], "cwe": {"id": 5}}]}),
        ] {
            let _ = mandatory_tests(&doc);
        }
    }
}
