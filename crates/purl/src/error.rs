//! Why a string or a set of components is not a package URL.

use std::fmt;

/// The part of a package URL an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// `pkg:`
    Scheme,
    /// `deb`, `npm`, ...
    Type,
    /// The segments between the type and the name.
    Namespace,
    /// The name.
    Name,
    /// After `@`.
    Version,
    /// After `?`.
    Qualifiers,
    /// After `#`.
    Subpath,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Component::Scheme => "scheme",
            Component::Type => "type",
            Component::Namespace => "namespace",
            Component::Name => "name",
            Component::Version => "version",
            Component::Qualifiers => "qualifiers",
            Component::Subpath => "subpath",
        })
    }
}

/// Why a string (or a set of components given to [`crate::PurlBuilder`]) is not a package
/// URL.
///
/// The first group of variants are syntax errors of the core specification; the variants
/// from [`PurlError::NamespaceRequired`] on break a rule of the package type's registered
/// definition, which [`crate::Purl::parse_lenient`] does not enforce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PurlError {
    /// The text before the first `:` is not `pkg` (or there is no `:`).
    #[error("a package URL starts with `pkg:`")]
    MissingScheme,
    /// Nothing between `pkg:` and the first `/`.
    #[error("no package type after `pkg:`")]
    MissingType,
    /// The type has a character other than ASCII letters, digits, `.` and `-`, or does not
    /// start with a letter.
    #[error("package type {ty:?} is not ASCII letters, digits, `.` and `-` starting with a letter")]
    InvalidType {
        /// The type as given.
        ty: String,
    },
    /// No name, or an empty one.
    #[error("no package name")]
    MissingName,
    /// A `%` not followed by two hexadecimal digits.
    #[error("{component}: `%` at byte {offset} is not followed by two hexadecimal digits")]
    InvalidEscape {
        /// Where.
        component: Component,
        /// Byte offset of the `%` in the component's text.
        offset: usize,
    },
    /// The percent-decoded bytes are not UTF-8.
    #[error("{component}: the percent-decoded bytes are not UTF-8")]
    NotUtf8 {
        /// Where.
        component: Component,
    },
    /// A namespace or subpath segment contains `/` once percent-decoded (`%2F`).
    #[error("{component} segment {segment:?} contains `/` once decoded")]
    SlashInSegment {
        /// [`Component::Namespace`] or [`Component::Subpath`].
        component: Component,
        /// The decoded segment.
        segment: String,
    },
    /// A qualifier without `=`.
    #[error("qualifier {pair:?} has no `=`")]
    QualifierWithoutEquals {
        /// The text between `&` separators.
        pair: String,
    },
    /// A qualifier key that is not lowercase ASCII letters, digits, `.`, `-` and `_` starting
    /// with a letter (keys are never percent-encoded).
    #[error(
        "qualifier key {key:?} is not lowercase ASCII letters, digits, `.`, `-` and `_` starting with a letter"
    )]
    InvalidQualifierKey {
        /// The key as given.
        key: String,
    },
    /// The same qualifier key twice (with non-empty values).
    #[error("qualifier key {key:?} appears twice")]
    DuplicateQualifier {
        /// The key.
        key: String,
    },
    /// The type's definition requires a namespace (`deb`, `rpm`, `maven`, `golang`, ...).
    #[error("a {ty} package URL needs a namespace")]
    NamespaceRequired {
        /// The type.
        ty: String,
    },
    /// The type's definition prohibits a namespace (`pypi`, `cargo`, `gem`, ...).
    #[error("a {ty} package URL has no namespace")]
    NamespaceProhibited {
        /// The type.
        ty: String,
    },
    /// The type's definition requires a qualifier (`julia` needs `uuid`, `swid` `tag_id`).
    #[error("a {ty} package URL needs the {key:?} qualifier")]
    QualifierRequired {
        /// The type.
        ty: String,
        /// The missing key.
        key: &'static str,
    },
    /// A component breaks a character rule of the type's definition.
    #[error("{ty} {component} {value:?}: {rule}")]
    TypeRule {
        /// The type.
        ty: String,
        /// Which component.
        component: Component,
        /// Its (normalised) value.
        value: String,
        /// The rule, in words.
        rule: &'static str,
    },
}

impl PurlError {
    /// Whether the error breaks a rule of the package type's registered definition rather
    /// than the core syntax (the spec's test suite asks for the two to be told apart).
    #[must_use]
    pub fn is_type_rule(&self) -> bool {
        matches!(
            self,
            PurlError::NamespaceRequired { .. }
                | PurlError::NamespaceProhibited { .. }
                | PurlError::QualifierRequired { .. }
                | PurlError::TypeRule { .. }
        )
    }
}
