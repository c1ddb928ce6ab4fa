//! The normalised advisory: what OSV and CSAF records become after ingestion, and what the
//! database stores. One shape for both sources, so matching never needs to know where an
//! advisory came from.

use serde::{Deserialize, Serialize};

/// Where an advisory was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// An OSV record (JSON or YAML).
    Osv,
    /// A CSAF 2.0 document; one advisory per document.
    Csaf,
}

/// A normalised security advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The record's own id (`GHSA-…`, `DSA-…`, `RUSTSEC-…`, a CSAF tracking id).
    pub id: String,
    /// The source format.
    pub format: Format,
    /// When the publisher last changed it (RFC 3339, as given).
    pub modified: String,
    /// When it was first published, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Other ids for the same vulnerability (CVE ids first when known).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line that says what it is about.
    #[serde(default)]
    pub summary: String,
    /// Severity scores as published: CVSS vectors.
    #[serde(default)]
    pub scores: Vec<Score>,
    /// What is affected and in which versions.
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// Products the publisher declared not affected, with the reason (CSAF VEX).
    #[serde(default)]
    pub not_affected: Vec<NotAffected>,
    /// Remediations (CSAF `remediations`, OSV has none beyond fixed versions).
    #[serde(default)]
    pub remediations: Vec<String>,
    /// Exploitation or impact statements (CSAF `threats`).
    #[serde(default)]
    pub threats: Vec<String>,
    /// BLAKE3 of the source bytes, to tell a changed record from an unchanged one.
    pub content_hash: String,
}

/// One published CVSS vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The vector string (`CVSS:3.1/AV:N/…`).
    pub vector: String,
}

/// The versions of one package or product an advisory affects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// The OSV ecosystem (`Debian:12`, `PyPI`, …) or `CSAF` for a vendor product.
    pub ecosystem: String,
    /// The package name as the ecosystem spells it (a Debian source package, a PyPI project,
    /// a CSAF product name).
    pub name: String,
    /// A package URL, when the publisher gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Versions the publisher names as fixed outside of ranges (CSAF `fixed` products).
    #[serde(default)]
    pub fixed: Vec<String>,
    /// Per-package scores (OSV `affected[].severity`).
    #[serde(default)]
    pub scores: Vec<Score>,
}

/// A version range of one ordering kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Range {
    /// OSV `ECOSYSTEM` or `SEMVER` events (`SEMVER` ranges compare as semantic versions).
    Events {
        /// Compare as semantic versions regardless of the ecosystem.
        #[serde(default)]
        semver: bool,
        /// The events as published.
        events: Vec<Event>,
    },
    /// Constraints such as CSAF/vers `>=1.0|<2.0`, all of which must hold.
    Constraints {
        /// The constraints.
        constraints: Vec<Constraint>,
    },
    /// Git commit ranges: not comparable with installed versions.
    Git,
    /// A range the publisher wrote as free text that is not a version expression. Matching
    /// reports it as undetermined, never as matched or not.
    Unparsed {
        /// The text as published.
        text: String,
        /// Why it is not a version expression (records stored before the reason was kept
        /// read as [`UnparsedReason::Other`]).
        #[serde(default)]
        reason: UnparsedReason,
    },
}

/// Why a published version range cannot be ordered.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnparsedReason {
    /// A date, not a version (`< august 28`, `distributed < april 1, 2018`): which versions
    /// were released before it is not in the advisory.
    Date,
    /// A version with words or conditions beside it (`<= 1.54 (integrated into GE
    /// MobileLink)`, `< 1.8.4 Service Pack 01`, `<=11.2 on Windows 8.1 with IIS 7.5`).
    Qualified,
    /// Versions on both sides of an operator (`A10 < A11`): not a constraint on one version.
    Interval,
    /// Anything else that is not a constraint list (`vers:` without a scheme, a word as the
    /// version).
    #[default]
    Other,
}

impl UnparsedReason {
    /// The reason in words, for reports.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Date => "a date, not a version",
            Self::Qualified => "a version with words or conditions beside it",
            Self::Interval => "versions on both sides of an operator",
            Self::Other => "not a version constraint",
        }
    }
}

impl std::fmt::Display for UnparsedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// An OSV range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Affected from this version on (`0` means from the beginning).
    Introduced(String),
    /// Not affected from this version on.
    Fixed(String),
    /// Affected up to and including this version.
    LastAffected(String),
    /// An upper bound of the range.
    Limit(String),
}

/// A comparison against one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// The operator.
    pub op: Op,
    /// The version on the right-hand side.
    pub version: String,
}

/// A comparison operator of a version constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// The operator as written.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "=",
            Self::Ne => "!=",
        }
    }
}

/// A product the publisher declared not affected, and why (CSAF VEX flags and threats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotAffected {
    /// The product (name and version as the product tree gives them).
    pub product: String,
    /// The VEX justification label (`component_not_present`, …), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The impact statement, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Range {
    /// The fixed versions this range names.
    pub fn fixed_versions(&self) -> impl Iterator<Item = &str> {
        let events: &[Event] = match self {
            Self::Events { events, .. } => events,
            _ => &[],
        };
        events.iter().filter_map(|e| match e {
            Event::Fixed(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// The range in words, for a finding (`>= 0, < 2.36-9+deb12u4`).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Events { events, .. } => events
                .iter()
                .map(|e| match e {
                    Event::Introduced(v) => format!(">= {v}"),
                    Event::Fixed(v) => format!("< {v}"),
                    Event::LastAffected(v) => format!("<= {v}"),
                    Event::Limit(v) => format!("< {v} (limit)"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Self::Constraints { constraints } => constraints
                .iter()
                .map(|c| format!("{} {}", c.op.as_str(), c.version))
                .collect::<Vec<_>>()
                .join(", "),
            Self::Git => "git commits".to_owned(),
            Self::Unparsed { text, reason } => format!("unparsed ({reason}): {text}"),
        }
    }
}
