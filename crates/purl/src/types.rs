//! The registered package types: what each one requires and how it normalises.
//!
//! [`DEFINITIONS`] transcribes the purl-spec type definitions (`types/*-definition.json`):
//! whether a namespace is required, optional or prohibited, which components are case
//! insensitive (their canonical form is lower case), which qualifiers are required. The test
//! `tests/type_definitions.rs` checks the table against the vendored JSON files, so a type
//! added upstream shows up as a failing test, not as silent drift. Rules the JSON states
//! only in words are applied here too (PyPI and pub names, git names, MLflow on Databricks,
//! CPAN module names, Chrome extension identifiers).
//!
//! A type that is not registered has no rules beyond the core syntax.

use crate::Purl;
use crate::error::{Component, PurlError};

/// Whether a component must, may or must not be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Must be present.
    Required,
    /// May be present.
    Optional,
    /// Must be absent.
    Prohibited,
}

/// Whether a component is case sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Kept as given.
    Sensitive,
    /// Case insensitive: the canonical form is lower case (Unicode full case mapping).
    Insensitive,
}

/// What the specification registers for one package type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDefinition {
    /// The type, lower case.
    pub ty: &'static str,
    /// Whether the namespace is required, optional or prohibited.
    pub namespace: Requirement,
    /// Case rule of the namespace.
    pub namespace_case: Case,
    /// Case rule of the name.
    pub name_case: Case,
    /// Case rule of the version.
    pub version_case: Case,
    /// Case rule of the subpath.
    pub subpath_case: Case,
    /// Qualifier keys that must be present.
    pub required_qualifiers: &'static [&'static str],
}

use Case::{Insensitive as Lower, Sensitive as Kept};
use Requirement::{Optional, Prohibited, Required};

const fn def(ty: &'static str, namespace: Requirement, ns: Case, name: Case) -> TypeDefinition {
    TypeDefinition {
        ty,
        namespace,
        namespace_case: ns,
        name_case: name,
        version_case: Kept,
        subpath_case: Kept,
        required_qualifiers: &[],
    }
}

/// Every registered type, sorted by type.
pub static DEFINITIONS: &[TypeDefinition] = &[
    def("alpm", Required, Lower, Lower),
    def("apk", Required, Lower, Lower),
    def("bazel", Prohibited, Kept, Kept),
    def("bitbucket", Required, Lower, Lower),
    def("bitnami", Prohibited, Kept, Lower),
    def("brew", Optional, Lower, Lower),
    def("cargo", Prohibited, Kept, Kept),
    def("chrome-extension", Prohibited, Kept, Lower),
    def("cocoapods", Prohibited, Kept, Kept),
    def("composer", Required, Lower, Lower),
    def("conan", Optional, Kept, Kept),
    def("conda", Prohibited, Kept, Kept),
    def("cpan", Optional, Kept, Kept),
    def("cran", Prohibited, Kept, Kept),
    def("deb", Required, Lower, Lower),
    def("docker", Optional, Kept, Kept),
    def("gem", Prohibited, Kept, Kept),
    def("generic", Optional, Kept, Kept),
    def("git", Required, Kept, Kept),
    def("github", Required, Lower, Lower),
    def("golang", Required, Kept, Kept),
    def("hackage", Prohibited, Kept, Kept),
    def("hex", Optional, Lower, Lower),
    TypeDefinition {
        version_case: Lower,
        ..def("huggingface", Required, Kept, Kept)
    },
    TypeDefinition {
        required_qualifiers: &["uuid"],
        ..def("julia", Prohibited, Kept, Kept)
    },
    def("luarocks", Optional, Lower, Lower),
    def("maven", Required, Kept, Kept),
    def("mlflow", Prohibited, Kept, Kept),
    def("npm", Optional, Kept, Kept),
    def("nuget", Prohibited, Kept, Kept),
    TypeDefinition {
        version_case: Lower,
        ..def("oci", Prohibited, Kept, Lower)
    },
    def("opam", Prohibited, Kept, Kept),
    TypeDefinition {
        subpath_case: Lower,
        ..def("otp", Prohibited, Kept, Lower)
    },
    def("pub", Prohibited, Kept, Lower),
    TypeDefinition {
        version_case: Lower,
        ..def("pypi", Prohibited, Kept, Lower)
    },
    def("qpkg", Required, Lower, Kept),
    def("rpm", Required, Lower, Kept),
    TypeDefinition {
        required_qualifiers: &["tag_id"],
        ..def("swid", Optional, Kept, Kept)
    },
    def("swift", Required, Kept, Kept),
    def("vcpkg", Prohibited, Kept, Kept),
    TypeDefinition {
        version_case: Lower,
        ..def("vscode-extension", Required, Lower, Lower)
    },
    def("yocto", Optional, Lower, Kept),
];

/// The definition of a registered type (`ty` in lower case).
#[must_use]
pub fn definition(ty: &str) -> Option<&'static TypeDefinition> {
    DEFINITIONS
        .binary_search_by(|d| d.ty.cmp(ty))
        .ok()
        .and_then(|i| DEFINITIONS.get(i))
}

fn fold(case: Case, s: &mut String) {
    if case == Case::Insensitive && s.chars().any(char::is_uppercase) {
        *s = s.to_lowercase();
    }
}

/// Brings the components of a registered type to their canonical form. Idempotent.
pub(crate) fn normalize(p: &mut Purl) {
    let Some(d) = definition(&p.ty) else { return };
    if let Some(ns) = &mut p.namespace {
        fold(d.namespace_case, ns);
    }
    fold(d.name_case, &mut p.name);
    if let Some(v) = &mut p.version {
        fold(d.version_case, v);
    }
    if let Some(sp) = &mut p.subpath {
        fold(d.subpath_case, sp);
    }
    match d.ty {
        // "PyPI treats - and _ as the same character and is not case sensitive": lower case
        // (above), `_` becomes `-`. Dots stay: the definition keeps them.
        "pypi" => p.name = p.name.replace('_', "-"),
        // "The only allowed characters are [a-z0-9_]": anything else becomes `_`.
        "pub" => {
            p.name = p
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
        }
        // The namespace is the git host; the name is the path on it, `/` and all
        // (`pkg:git/codeberg.org/forgejo/forgejo`: namespace `codeberg.org`, name
        // `forgejo/forgejo`).
        "git" => {
            let mut segments = p
                .namespace
                .iter()
                .flat_map(|ns| ns.split('/'))
                .chain(p.name.split('/'))
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let first = segments.next();
            let rest: Vec<String> = segments.collect();
            (p.namespace, p.name) = match first {
                Some(host) if !rest.is_empty() => (Some(host), rest.join("/")),
                other => (None, other.unwrap_or_default()),
            };
        }
        // "for Databricks it is case insensitive and shall be lowercased"; Azure ML and
        // others keep the case.
        "mlflow"
            if p.qualifiers
                .get("repository_url")
                .is_some_and(|u| is_databricks(u)) =>
        {
            p.name = p.name.to_lowercase();
        }
        _ => {}
    }
}

fn is_databricks(url: &str) -> bool {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    host.to_ascii_lowercase().contains("databricks")
}

/// Whether the git name renders with its `/` unencoded.
pub(crate) fn name_is_path(ty: &str) -> bool {
    ty == "git"
}

/// Checks the rules of the type's definition; `p` is normalised.
pub(crate) fn check(p: &Purl) -> Result<(), PurlError> {
    let Some(d) = definition(&p.ty) else {
        return Ok(());
    };
    let ty = || d.ty.to_owned();
    match (d.namespace, &p.namespace) {
        (Requirement::Required, None) => return Err(PurlError::NamespaceRequired { ty: ty() }),
        (Requirement::Prohibited, Some(_)) => {
            return Err(PurlError::NamespaceProhibited { ty: ty() });
        }
        _ => {}
    }
    if let Some(key) = d
        .required_qualifiers
        .iter()
        .find(|k| !p.qualifiers.contains_key(**k))
    {
        return Err(PurlError::QualifierRequired { ty: ty(), key });
    }
    let rule = |component, value: &str, rule| PurlError::TypeRule {
        ty: ty(),
        component,
        value: value.to_owned(),
        rule,
    };
    match d.ty {
        "cpan" if p.name.contains("::") => Err(rule(
            Component::Name,
            &p.name,
            "a distribution name, not a module name: no `::`",
        )),
        "chrome-extension" => {
            if !(p.name.len() == 32 && p.name.bytes().all(|b| (b'a'..=b'p').contains(&b))) {
                return Err(rule(
                    Component::Name,
                    &p.name,
                    "an extension id is 32 letters a to p",
                ));
            }
            match &p.version {
                Some(v) if !is_chrome_version(v) => Err(rule(
                    Component::Version,
                    v,
                    "one to four dot-separated numbers",
                )),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

fn is_chrome_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(DEFINITIONS.windows(2).all(|w| w[0].ty < w[1].ty));
        assert_eq!(definition("deb").map(|d| d.namespace), Some(Required));
        assert!(definition("nope").is_none());
    }

    #[test]
    fn databricks_hosts() {
        assert!(is_databricks(
            "https://adb-5245952564735461.0.azuredatabricks.net/api/2.0/mlflow"
        ));
        assert!(!is_databricks(
            "https://westus2.api.azureml.ms/mlflow/v1.0/databricks"
        ));
    }
}
