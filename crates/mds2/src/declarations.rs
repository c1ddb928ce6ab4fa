//! The vendor's declarations for one model: the answers medguard cannot see, in a TOML file.
//!
//! ```toml
//! # DIR/mds2/CT 9000.toml
//! model = "CT 9000"                 # optional; a different model is refused
//!
//! [answers]
//! "DOC-1" = { note = "Example Medical Inc." }          # a note alone answers "see note"
//! "MLDP-5" = "no"
//! "ALOF-1" = { answer = "yes", note = "after 15 minutes, configurable" }
//! ```
//!
//! An answer is `yes`, `no`, `n/a` or `see-note` (any case). Ids are the form's; an id the
//! form does not have is refused with its line, so a typo cannot silently leave a question
//! unanswered.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::{Answer, questions};

/// Why a declarations file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeclarationsError {
    /// Not TOML, or not this file's shape.
    #[error("line {line}, column {column}: {reason}")]
    Syntax {
        /// The line (from 1).
        line: usize,
        /// The column (from 1, in characters).
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// An id that is not a question of the 2019 form.
    #[error("line {line}, column {column}: {id:?} is not a question of the 2019 MDS2 form")]
    UnknownQuestion {
        /// The id given.
        id: String,
        /// The line (from 1).
        line: usize,
        /// The column (from 1).
        column: usize,
    },
    /// An answer that is not one of the form's.
    #[error(
        "line {line}, column {column}: {id}: {value:?} is not an answer (yes, no, n/a, see-note)"
    )]
    BadAnswer {
        /// The question.
        id: String,
        /// The value given.
        value: String,
        /// The line (from 1).
        line: usize,
        /// The column (from 1).
        column: usize,
    },
    /// An entry with neither an answer nor a note.
    #[error("line {line}, column {column}: {id} has neither an answer nor a note")]
    Empty {
        /// The question.
        id: String,
        /// The line (from 1).
        line: usize,
        /// The column (from 1).
        column: usize,
    },
}

/// One declared answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The answer.
    pub answer: Answer,
    /// The vendor's note.
    pub note: Option<String>,
}

/// The vendor's declarations for one model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorDeclarations {
    /// The file they came from, as the form names it (`mds2/CT 9000.toml`).
    pub file: String,
    /// The model the file says it is for.
    pub model: Option<String>,
    /// Answers by question id.
    pub answers: BTreeMap<&'static str, Declared>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    model: Option<String>,
    #[serde(default)]
    answers: BTreeMap<Spanned<String>, Spanned<RawAnswer>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAnswer {
    Word(String),
    Full(RawFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFull {
    answer: Option<String>,
    note: Option<String>,
}

/// Line and column (from 1) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl VendorDeclarations {
    /// Parses a declarations file; `file` is how the form will name it.
    ///
    /// # Errors
    /// [`DeclarationsError`], with the line and column of the first problem.
    pub fn parse(text: &str, file: &str) -> Result<Self, DeclarationsError> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| position(text, s.start));
            DeclarationsError::Syntax {
                line,
                column,
                reason: e.message().to_owned(),
            }
        })?;
        let mut answers = BTreeMap::new();
        for (key, value) in raw.answers {
            let (line, column) = position(text, key.span().start);
            let id = key.into_inner();
            let Some(question) = questions::find(&id) else {
                return Err(DeclarationsError::UnknownQuestion { id, line, column });
            };
            let (vline, vcolumn) = position(text, value.span().start);
            let (word, note) = match value.into_inner() {
                RawAnswer::Word(w) => (Some(w), None),
                RawAnswer::Full(f) => (f.answer, f.note.filter(|n| !n.trim().is_empty())),
            };
            let answer = match word {
                Some(w) => Answer::parse(&w).ok_or_else(|| DeclarationsError::BadAnswer {
                    id: id.clone(),
                    value: w,
                    line: vline,
                    column: vcolumn,
                })?,
                None if note.is_some() => Answer::SeeNote,
                None => {
                    return Err(DeclarationsError::Empty {
                        id,
                        line: vline,
                        column: vcolumn,
                    });
                }
            };
            answers.insert(question.id, Declared { answer, note });
        }
        Ok(Self {
            file: file.to_owned(),
            model: raw.model,
            answers,
        })
    }

    /// The declarations as a file [`VendorDeclarations::parse`] reads back the same.
    #[must_use]
    pub fn to_toml(&self) -> String {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            model: Option<&'a str>,
            answers: BTreeMap<&'a str, OutAnswer<'a>>,
        }
        #[derive(serde::Serialize)]
        struct OutAnswer<'a> {
            answer: Answer,
            #[serde(skip_serializing_if = "Option::is_none")]
            note: Option<&'a str>,
        }
        let out = Out {
            model: self.model.as_deref(),
            answers: self
                .answers
                .iter()
                .map(|(id, d)| {
                    (
                        *id,
                        OutAnswer {
                            answer: d.answer,
                            note: d.note.as_deref(),
                        },
                    )
                })
                .collect(),
        };
        toml::to_string(&out).unwrap_or_default()
    }

    /// No declarations (the model has no file): every question medguard cannot see stays
    /// unanswered.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_the_forms_ids() {
        let d = VendorDeclarations::parse(
            "model = \"CT 9000\"\n[answers]\n\"DOC-1\" = { note = \"Example Medical\" }\n\"MLDP-5\" = \"No\"\n\"ALOF-1\" = { answer = \"yes\", note = \"15 min\" }\n",
            "mds2/CT 9000.toml",
        )
        .unwrap();
        assert_eq!(d.model.as_deref(), Some("CT 9000"));
        assert_eq!(d.answers["DOC-1"].answer, Answer::SeeNote);
        assert_eq!(d.answers["MLDP-5"].answer, Answer::No);
        assert_eq!(d.answers["ALOF-1"].note.as_deref(), Some("15 min"));
    }

    #[test]
    fn declarations_read_back_what_they_write() {
        let d = VendorDeclarations::parse(
            "model = \"CT\"\n[answers]\n\"DOC-1\" = { note = \"a \\\" b\" }\n\"MLDP-5\" = \"n/a\"\n",
            "f",
        )
        .unwrap();
        assert_eq!(VendorDeclarations::parse(&d.to_toml(), "f").unwrap(), d);
    }

    #[test]
    fn an_unknown_id_is_refused_with_its_line() {
        let e = VendorDeclarations::parse(
            "[answers]\n\"MLDP-1\" = \"yes\"\n\"MLDP-9\" = \"yes\"\n",
            "f",
        )
        .unwrap_err();
        assert_eq!(
            e,
            DeclarationsError::UnknownQuestion {
                id: "MLDP-9".into(),
                line: 3,
                column: 1
            }
        );
    }

    #[test]
    fn a_bad_answer_and_bad_toml_are_refused_with_their_place() {
        let e = VendorDeclarations::parse("[answers]\n\"MLDP-1\" = \"maybe\"\n", "f").unwrap_err();
        assert!(
            matches!(
                e,
                DeclarationsError::BadAnswer {
                    line: 2,
                    column: 12,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = VendorDeclarations::parse("[answers]\n\"MLDP-1\" = \n", "f").unwrap_err();
        assert!(
            matches!(e, DeclarationsError::Syntax { line: 2, .. }),
            "{e:?}"
        );
        let e = VendorDeclarations::parse("[answer]\n", "f").unwrap_err();
        assert!(matches!(e, DeclarationsError::Syntax { .. }), "{e:?}");
        let e = VendorDeclarations::parse("[answers]\n\"MLDP-1\" = {}\n", "f").unwrap_err();
        assert!(matches!(e, DeclarationsError::Empty { .. }), "{e:?}");
    }
}
