//! YARA rules, compiled with yara-x.
//!
//! This module owns finding rule files, compiling them (each file in its own namespace, so
//! two vendors' rules may reuse a rule name) and mapping compile errors to the file and line
//! a person must fix. It must not scan files.

use std::path::{Path, PathBuf};

/// Errors loading YARA rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// A rule file or directory could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        error: std::io::Error,
    },
    /// A rule file does not compile.
    #[error("{path}:{line}:{column}: {message}")]
    Compile {
        /// The rule file.
        path: PathBuf,
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column (in bytes) of the first error.
        column: usize,
        /// yara-x's description, with its labels.
        message: String,
    },
    /// A rules directory holds no `.yar`/`.yara` file: scanning with no rules would look
    /// clean while checking nothing.
    #[error("{path}: no .yar or .yara rule file found")]
    NoRules {
        /// The directory.
        path: PathBuf,
    },
}

/// Compiled rules and the files they came from.
#[derive(Debug)]
pub struct YaraRules {
    rules: yara_x::Rules,
    /// Namespace name → rule file.
    namespaces: Vec<(String, PathBuf)>,
}

/// The file extensions taken from a rules directory.
const RULE_EXTENSIONS: [&str; 2] = ["yar", "yara"];

impl YaraRules {
    /// Compiles every rule file in `paths`: a file is taken whatever its name, a directory
    /// contributes its `.yar`/`.yara` files (recursively, in name order).
    pub fn load(paths: &[PathBuf]) -> Result<Self, RulesError> {
        let mut files = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|error| RulesError::Io {
                path: path.clone(),
                error,
            })?;
            if meta.is_dir() {
                let before = files.len();
                collect_rule_files(path, path, &mut files)?;
                if files.len() == before {
                    return Err(RulesError::NoRules { path: path.clone() });
                }
            } else {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                );
                files.push((name, path.clone()));
            }
        }
        let mut sources = Vec::with_capacity(files.len());
        for (namespace, path) in files {
            let bytes = std::fs::read(&path).map_err(|error| RulesError::Io {
                path: path.clone(),
                error,
            })?;
            sources.push((namespace, path, bytes));
        }
        let mut namespaces: Vec<(String, PathBuf)> = Vec::with_capacity(sources.len());
        let mut compiler = yara_x::Compiler::new();
        for (namespace, path, bytes) in &sources {
            let mut namespace = namespace.clone();
            // Two rule arguments may hold files with the same name.
            if namespaces.iter().any(|(n, _)| *n == namespace) {
                namespace = format!("{namespace}#{}", namespaces.len());
            }
            compiler.new_namespace(&namespace);
            let origin = path.display().to_string();
            let source = yara_x::SourceCode::from(bytes.as_slice()).with_origin(origin);
            if let Err(error) = compiler.add_source(source) {
                return Err(compile_error(path, bytes, &error));
            }
            namespaces.push((namespace, path.clone()));
        }
        Ok(Self {
            rules: compiler.build(),
            namespaces,
        })
    }

    /// Compiles rules from text, named `origin` in errors and findings. For tests and fuzzing.
    pub fn from_source(origin: &Path, text: &[u8]) -> Result<Self, RulesError> {
        let mut compiler = yara_x::Compiler::new();
        let namespace = origin.display().to_string();
        compiler.new_namespace(&namespace);
        let source = yara_x::SourceCode::from(text).with_origin(namespace.clone());
        if let Err(error) = compiler.add_source(source) {
            return Err(compile_error(origin, text, &error));
        }
        Ok(Self {
            rules: compiler.build(),
            namespaces: vec![(namespace, origin.to_owned())],
        })
    }

    /// The compiled rules.
    #[must_use]
    pub fn compiled(&self) -> &yara_x::Rules {
        &self.rules
    }

    /// How many rules were compiled.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rules.iter().len()
    }

    /// Whether no rule was compiled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rule file a namespace was compiled from.
    #[must_use]
    pub fn source_of(&self, namespace: &str) -> Option<&Path> {
        self.namespaces
            .iter()
            .find(|(n, _)| n == namespace)
            .map(|(_, p)| p.as_path())
    }
}

fn collect_rule_files(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), RulesError> {
    let io = |error| RulesError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        // Follows links: a rules directory of links to a vendor's rule store is normal.
        let meta = std::fs::metadata(&path).map_err(|error| RulesError::Io {
            path: path.clone(),
            error,
        })?;
        if meta.is_dir() {
            collect_rule_files(root, &path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| RULE_EXTENSIONS.contains(&e))
        {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((name, path));
        }
    }
    Ok(())
}

/// Maps a yara-x compile error to the rule file, line and column of its first label.
fn compile_error(path: &Path, text: &[u8], error: &yara_x::errors::CompileError) -> RulesError {
    let mut message = error.title().to_owned();
    let mut at = None;
    for label in error.labels() {
        if at.is_none() {
            at = Some(label.span().0.start as usize);
        }
        if !label.text().is_empty() {
            message.push_str(": ");
            message.push_str(label.text());
        }
    }
    let (line, column) = line_and_column(text, at.unwrap_or(0));
    RulesError::Compile {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &[u8], offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, before.len() - line_start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compile_error_names_file_and_line() {
        let text = b"rule ok { condition: true }\n\nrule broken {\n  strings: $a = \"x\"\n  condition: $b\n}\n";
        match YaraRules::from_source(Path::new("vendor.yar"), text) {
            Err(RulesError::Compile { path, line, .. }) => {
                assert_eq!(path, Path::new("vendor.yar"));
                assert_eq!(line, 5, "the unknown pattern $b is on line 5");
            }
            other => panic!("{other:?}"),
        }
        match YaraRules::from_source(Path::new("s.yar"), b"rule {") {
            Err(RulesError::Compile { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn line_and_column_count_bytes() {
        assert_eq!(line_and_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column(b"ab", 99), (1, 3));
        assert_eq!(line_and_column(b"", 0), (1, 1));
    }

    #[test]
    fn a_directory_is_searched_for_rule_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.yar"), "rule a { condition: true }").unwrap();
        std::fs::write(dir.path().join("sub/b.yara"), "rule a { condition: false }").unwrap();
        std::fs::write(dir.path().join("README"), "not rules").unwrap();
        let rules = YaraRules::load(&[dir.path().to_owned()]).unwrap();
        assert_eq!(
            rules.len(),
            2,
            "same rule name in two files, two namespaces"
        );
        assert_eq!(
            rules.source_of("sub/b.yara"),
            Some(dir.path().join("sub/b.yara").as_path())
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            YaraRules::load(&[empty.path().to_owned()]),
            Err(RulesError::NoRules { .. })
        ));
    }
}
