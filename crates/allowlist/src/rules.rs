//! Vendor rules that add to what the profile yields (TOML).
//!
//! ```toml
//! # python3 app.py opens app.py, it never execs it: files an interpreter reads are listed
//! # by directory. Every regular file of the profile below `dir` (with one of
//! # `extensions`, when given) is listed as a script of `interpreter`.
//! [[scripts]]
//! interpreter = "/usr/bin/python3"
//! dir = "/opt/vendor/lib/python"
//! extensions = ["py"]
//!
//! # A file the profile cannot pin, e.g. one the vendor's updater rewrites. Without
//! # `blake3` any content at the path is allowed, so every exception needs a reason.
//! [[exception]]
//! path = "/opt/vendor/bin/updater"
//! blake3 = "<64 hex digits>"   # optional
//! size = 18312                 # with blake3
//! reason = "rewritten by the vendor's updater"
//! ```
//!
//! Paths are device paths (the list's, i.e. below `--root`), absolute, without `..`.

use std::path::Path;

/// Parsed allowlist rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListRules {
    /// Interpreters' script directories.
    pub scripts: Vec<ScriptDir>,
    /// Vendor exceptions.
    pub exceptions: Vec<Exception>,
}

/// Files below `dir` are scripts run by `interpreter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptDir {
    /// The interpreter's absolute path.
    pub interpreter: String,
    /// The directory (absolute, no trailing `/`).
    pub dir: String,
    /// File name extensions (without the dot); empty means every file.
    pub extensions: Vec<String>,
}

/// A vendor exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Absolute path.
    pub path: String,
    /// The content allowed: BLAKE3 and size, or `None` for any.
    pub content: Option<([u8; 32], u64)>,
    /// Why the vendor allows it.
    pub reason: String,
}

/// Why a rules file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// Not valid TOML, or not the expected shape.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line (0 when unknown).
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A rule's value is not acceptable.
    #[error("{rule} #{index}: {field}: {reason}")]
    Invalid {
        /// `scripts` or `exception`.
        rule: &'static str,
        /// 1-based index of the rule among its kind.
        index: usize,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    scripts: Vec<RawScripts>,
    #[serde(default)]
    exception: Vec<RawException>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScripts {
    interpreter: String,
    dir: String,
    #[serde(default)]
    extensions: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    path: String,
    blake3: Option<String>,
    size: Option<u64>,
    reason: String,
}

fn check_path(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    if p.split('/').any(|c| c == ".." || c == ".") {
        return Err("must not contain . or .. components".into());
    }
    if p.contains('\0') {
        return Err("must not contain NUL".into());
    }
    let trimmed = p.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.to_owned())
}

impl ListRules {
    /// Parses rules from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let raw: RawRules = toml::from_str(text).map_err(|e| RulesError::Syntax {
            line: e.span().map_or(0, |s| {
                text.get(..s.start).map_or(0, |t| t.lines().count().max(1))
            }),
            message: e.message().to_owned(),
        })?;
        let mut rules = Self::default();
        for (i, s) in raw.scripts.into_iter().enumerate() {
            let bad = |field, reason| RulesError::Invalid {
                rule: "scripts",
                index: i + 1,
                field,
                reason,
            };
            let interpreter = check_path(&s.interpreter).map_err(|r| bad("interpreter", r))?;
            let dir = check_path(&s.dir).map_err(|r| bad("dir", r))?;
            for e in &s.extensions {
                if e.is_empty() || e.contains('/') || e.starts_with('.') {
                    return Err(bad(
                        "extensions",
                        format!("{e:?} is not an extension (give \"py\", not \".py\")"),
                    ));
                }
            }
            rules.scripts.push(ScriptDir {
                interpreter,
                dir,
                extensions: s.extensions,
            });
        }
        for (i, x) in raw.exception.into_iter().enumerate() {
            let bad = |field, reason| RulesError::Invalid {
                rule: "exception",
                index: i + 1,
                field,
                reason,
            };
            let path = check_path(&x.path).map_err(|r| bad("path", r))?;
            if path == "/" {
                return Err(bad("path", "the root is not a file".into()));
            }
            if x.reason.trim().is_empty() {
                return Err(bad("reason", "every exception needs a reason".into()));
            }
            let content = match (x.blake3, x.size) {
                (Some(h), Some(size)) => {
                    let mut d = [0u8; 32];
                    hex::decode_to_slice(&h, &mut d)
                        .map_err(|_| bad("blake3", "must be 64 hex digits".into()))?;
                    Some((d, size))
                }
                (None, None) => None,
                (Some(_), None) => return Err(bad("size", "blake3 needs the size too".into())),
                (None, Some(_)) => return Err(bad("blake3", "size needs blake3 too".into())),
            };
            rules.exceptions.push(Exception {
                path,
                content,
                reason: x.reason,
            });
        }
        Ok(rules)
    }

    /// Reads and parses a rules file.
    pub fn load(path: &Path) -> Result<Self, crate::build::BuildError> {
        let text = std::fs::read_to_string(path).map_err(|error| crate::build::BuildError::Io {
            path: path.to_owned(),
            error,
        })?;
        Self::from_toml(&text).map_err(|error| crate::build::BuildError::Rules {
            path: path.to_owned(),
            error,
        })
    }

    /// The script directory rule that covers `path`, if any (the longest directory wins).
    #[must_use]
    pub fn script_dir_for(&self, path: &str) -> Option<&ScriptDir> {
        self.scripts
            .iter()
            .filter(|s| {
                let inside = s.dir == "/"
                    || path
                        .strip_prefix(s.dir.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                let name = path.rsplit('/').next().unwrap_or_default();
                inside
                    && (s.extensions.is_empty()
                        || s.extensions.iter().any(|e| {
                            name.strip_suffix(e.as_str())
                                .is_some_and(|stem| stem.len() > 1 && stem.ends_with('.'))
                        }))
            })
            .max_by_key(|s| s.dir.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_matches() {
        let r = ListRules::from_toml(
            r#"
[[scripts]]
interpreter = "/usr/bin/python3"
dir = "/opt/v/py/"
extensions = ["py"]

[[exception]]
path = "/opt/v/bin/updater"
reason = "rewritten by the updater"
"#,
        )
        .unwrap();
        assert_eq!(r.scripts[0].dir, "/opt/v/py");
        assert!(r.script_dir_for("/opt/v/py/a/b.py").is_some());
        assert!(r.script_dir_for("/opt/v/py/a/b.pyc").is_none());
        assert!(r.script_dir_for("/opt/v/py/.py").is_none());
        assert!(r.script_dir_for("/opt/v/python/b.py").is_none());
        assert_eq!(r.exceptions[0].content, None);
    }

    #[test]
    fn bad_rules_name_the_rule_or_line() {
        assert_eq!(
            ListRules::from_toml("[[scripts]]\ninterpreter = \"python3\"\ndir = \"/x\"\n"),
            Err(RulesError::Invalid {
                rule: "scripts",
                index: 1,
                field: "interpreter",
                reason: "must be an absolute path".into()
            })
        );
        assert!(matches!(
            ListRules::from_toml("[[exception]]\npath = \"/x\"\nreason = \" \"\n"),
            Err(RulesError::Invalid {
                field: "reason",
                ..
            })
        ));
        assert!(matches!(
            ListRules::from_toml("\n\n[[exception]]\npath = \"/x\"\nreson = \"typo\"\n"),
            Err(RulesError::Syntax { line, .. }) if line >= 3
        ));
        assert!(matches!(
            ListRules::from_toml("[[exception]]\npath = \"/a/../b\"\nreason = \"r\"\n"),
            Err(RulesError::Invalid { field: "path", .. })
        ));
    }
}
