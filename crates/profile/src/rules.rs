//! Rules: which paths a profile skips and which attributes it checks where.
//!
//! In the spirit of AIDE's rule groups, a rule names a glob anchored at the profiled root
//! (`/var/log/**`) and either skips it or says which attributes matter there. The last
//! matching rule wins, as in `.gitignore`. A skipped directory is not descended into.
//!
//! Rules are written by the vendor in TOML and then copied, resolved, into the signed
//! profile header, so the device checks exactly what the vendor signed: a rule cannot be
//! loosened on the device without breaking the signature.
//!
//! ```toml
//! [[rule]]
//! path = "/proc"
//! skip = true
//!
//! [[rule]]
//! path = "/var/log/**"
//! ignore = ["content", "size", "mtime"]
//! growing = true          # the size may grow but never shrink
//!
//! [[rule]]
//! path = "/etc/**"
//! check = ["content", "mode", "uid", "gid", "type", "mtime"]   # replaces the set
//! ```

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::entry::{Attribute, AttributeSet};
use crate::escape::{escape, unescape};

/// Errors in a rules file or a profile's rule lines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// Not valid TOML or not of the expected shape.
    #[error("rules: {0}")]
    Toml(#[source] toml::de::Error),
    /// A glob that does not compile.
    #[error("rule {index}: bad glob {glob:?}: {}", source.kind())]
    Glob {
        /// 0-based rule index.
        index: usize,
        /// The glob.
        glob: String,
        /// Why.
        #[source]
        source: globset::Error,
    },
    /// An attribute name that does not exist.
    #[error("rule {index}: unknown attribute {name:?}")]
    UnknownAttribute {
        /// 0-based rule index.
        index: usize,
        /// The name.
        name: String,
    },
    /// A rule that both skips and checks, or neither.
    #[error("rule {index}: {reason}")]
    Shape {
        /// 0-based rule index.
        index: usize,
        /// Why.
        reason: &'static str,
    },
}

/// What the rules say about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not recorded, not checked, not descended into.
    Skip,
    /// Recorded; these attributes are checked.
    Check(AttributeSet),
}

/// One resolved rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The glob, anchored at the root, as bytes.
    pub glob: Vec<u8>,
    /// What it decides.
    pub decision: Decision,
}

/// An ordered list of rules, compiled.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    set: GlobSet,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

impl PartialEq for Rules {
    fn eq(&self, other: &Self) -> bool {
        self.rules == other.rules
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    path: String,
    #[serde(default)]
    skip: bool,
    check: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    #[serde(default)]
    growing: bool,
}

impl Rules {
    /// Parses a TOML rules file.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let raw: RawRules = toml::from_str(text).map_err(RulesError::Toml)?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        for (index, r) in raw.rule.into_iter().enumerate() {
            let names = |list: &[String]| -> Result<AttributeSet, RulesError> {
                list.iter()
                    .map(|n| {
                        Attribute::from_name(n).ok_or_else(|| RulesError::UnknownAttribute {
                            index,
                            name: n.clone(),
                        })
                    })
                    .collect()
            };
            let decision = match (r.skip, &r.check, &r.ignore) {
                (true, None, None) if !r.growing => Decision::Skip,
                (true, _, _) => {
                    return Err(RulesError::Shape {
                        index,
                        reason: "a skip rule takes no check, ignore or growing",
                    });
                }
                (false, Some(_), Some(_)) => {
                    return Err(RulesError::Shape {
                        index,
                        reason: "give either check or ignore, not both",
                    });
                }
                (false, check, ignore) => {
                    let mut set = match check {
                        Some(list) => names(list)?,
                        None => AttributeSet::default_checks(),
                    };
                    if let Some(list) = ignore {
                        for a in names(list)?.iter() {
                            set.remove(a);
                        }
                    }
                    set.set_growing(r.growing);
                    Decision::Check(set)
                }
            };
            rules.push(Rule {
                glob: r.path.into_bytes(),
                decision,
            });
        }
        Self::new(rules)
    }

    /// Compiles resolved rules.
    pub fn new(rules: Vec<Rule>) -> Result<Self, RulesError> {
        let mut b = GlobSetBuilder::new();
        for (index, r) in rules.iter().enumerate() {
            let text = String::from_utf8_lossy(&r.glob);
            let glob = GlobBuilder::new(&text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|source| RulesError::Glob {
                    index,
                    glob: text.to_string(),
                    source,
                })?;
            b.add(glob);
        }
        let set = b.build().map_err(|source| RulesError::Glob {
            index: 0,
            glob: String::new(),
            source,
        })?;
        Ok(Self { rules, set })
    }

    /// The rules in order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decides for `path` (bytes below the root, starting with `/`).
    #[must_use]
    pub fn classify(&self, path: &[u8]) -> Decision {
        if self.rules.is_empty() {
            return Decision::Check(AttributeSet::default_checks());
        }
        let p = Path::new(OsStr::from_bytes(path));
        match self.set.matches(p).into_iter().max() {
            Some(i) => self
                .rules
                .get(i)
                .map_or(Decision::Check(AttributeSet::default_checks()), |r| {
                    r.decision
                }),
            None => Decision::Check(AttributeSet::default_checks()),
        }
    }

    /// The profile header lines that record these rules.
    #[must_use]
    pub fn to_header_lines(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| match r.decision {
                Decision::Skip => format!("#rule skip {}", escape(&r.glob)),
                Decision::Check(set) => {
                    let mut names: Vec<&str> = set.iter().map(Attribute::name).collect();
                    if set.growing() {
                        names.push("growing");
                    }
                    if names.is_empty() {
                        names.push("none");
                    }
                    format!("#rule check {} {}", escape(&r.glob), names.join(","))
                }
            })
            .collect()
    }

    /// Parses one `#rule` header line's words (after `#rule `).
    pub(crate) fn parse_header_rule(words: &str) -> Option<Rule> {
        let mut it = words.split(' ');
        let action = it.next()?;
        let glob = unescape(it.next()?.as_bytes()).ok()?;
        let decision = match action {
            "skip" => Decision::Skip,
            "check" => {
                let mut set = AttributeSet::EMPTY;
                for n in it.next()?.split(',') {
                    match n {
                        "growing" => set.set_growing(true),
                        "none" => {}
                        _ => set.insert(Attribute::from_name(n)?),
                    }
                }
                Decision::Check(set)
            }
            _ => return None,
        };
        if it.next().is_some() {
            return None;
        }
        Some(Rule { glob, decision })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_matching_rule_wins_and_round_trips_through_header() {
        let rules = Rules::from_toml(
            r#"
            [[rule]]
            path = "/var/**"
            skip = true
            [[rule]]
            path = "/var/log/**"
            ignore = ["content", "size"]
            growing = true
            [[rule]]
            path = "/etc/*.conf"
            check = ["content"]
            "#,
        )
        .unwrap();
        assert_eq!(rules.classify(b"/var/cache/x"), Decision::Skip);
        let Decision::Check(log) = rules.classify(b"/var/log/syslog") else {
            panic!()
        };
        assert!(
            log.growing() && !log.contains(Attribute::Content) && log.contains(Attribute::Mode)
        );
        let Decision::Check(conf) = rules.classify(b"/etc/a.conf") else {
            panic!()
        };
        assert_eq!(conf.iter().collect::<Vec<_>>(), vec![Attribute::Content]);
        // `*` does not cross `/`.
        assert_eq!(
            rules.classify(b"/etc/sub/a.conf"),
            Decision::Check(AttributeSet::default_checks())
        );
        let lines = rules.to_header_lines();
        let back = Rules::new(
            lines
                .iter()
                .map(|l| Rules::parse_header_rule(l.strip_prefix("#rule ").unwrap()).unwrap())
                .collect(),
        )
        .unwrap();
        assert_eq!(back, rules);
    }

    #[test]
    fn bad_rules_are_typed() {
        assert!(matches!(
            Rules::from_toml("[[rule]]\npath='/x'\ncheck=['colour']"),
            Err(RulesError::UnknownAttribute { .. })
        ));
        assert!(matches!(
            Rules::from_toml("[[rule]]\npath='/x'\nskip=true\ncheck=['mode']"),
            Err(RulesError::Shape { .. })
        ));
        assert!(matches!(
            Rules::from_toml("[[rule]]\npath='/x[' \nskip=true"),
            Err(RulesError::Glob { .. })
        ));
        assert!(matches!(
            Rules::from_toml("[[rule]"),
            Err(RulesError::Toml(_))
        ));
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// The example rules shipped in the repository must stay valid.
    #[test]
    fn linux_device_rules_parse_and_mean_what_they_say() {
        let rules = Rules::from_toml(include_str!("../../../rules/linux-device.toml")).unwrap();
        assert_eq!(rules.classify(b"/proc"), Decision::Skip);
        assert_eq!(rules.classify(b"/etc/mtab"), Decision::Skip);
        let Decision::Check(etc) = rules.classify(b"/etc/hosts") else {
            panic!()
        };
        assert!(etc.contains(Attribute::Mtime));
        let Decision::Check(log) = rules.classify(b"/var/log/syslog") else {
            panic!()
        };
        assert!(log.growing());
        assert_eq!(
            rules.classify(b"/usr/bin/x"),
            Decision::Check(AttributeSet::default_checks())
        );
    }
}
