//! The rules a parsed value must keep beyond its JSON shape.

/// A value that breaks a rule of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// Where, as a dotted path (`reports[3].body.deviations[7].path`).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl Invalid {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same problem, seen from the value that holds this one.
    #[must_use]
    pub(crate) fn within(mut self, outer: &str) -> Self {
        self.field = if self.field.is_empty() {
            outer.to_owned()
        } else if self.field.starts_with('[') {
            format!("{outer}{}", self.field)
        } else {
            format!("{outer}.{}", self.field)
        };
        self
    }
}

/// A value whose rules can be checked after parsing.
pub trait Validate {
    /// Checks every rule.
    ///
    /// # Errors
    /// The first [`Invalid`] value found.
    fn validate(&self) -> Result<(), Invalid>;
}

/// A name, version or identifier: at most `max` bytes, no control characters.
pub(crate) fn name(field: &str, s: &str, max: usize) -> Result<(), Invalid> {
    if s.len() > max {
        return Err(Invalid::new(field, format!("longer than {max} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(Invalid::new(field, "contains a control character"));
    }
    Ok(())
}

/// Like [`name`], and not empty.
pub(crate) fn required(field: &str, s: &str, max: usize) -> Result<(), Invalid> {
    if s.trim().is_empty() {
        return Err(Invalid::new(field, "is empty"));
    }
    name(field, s, max)
}

/// Free text (a reason, an error message): at most `max` bytes; newlines and tabs allowed.
pub(crate) fn prose(field: &str, s: &str, max: usize) -> Result<(), Invalid> {
    if s.len() > max {
        return Err(Invalid::new(field, format!("longer than {max} bytes")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Invalid::new(field, "contains a control character"));
    }
    Ok(())
}

/// An optional [`name`].
pub(crate) fn opt_name(field: &str, s: Option<&String>, max: usize) -> Result<(), Invalid> {
    s.map_or(Ok(()), |s| name(field, s, max))
}

/// An optional [`prose`].
pub(crate) fn opt_prose(field: &str, s: Option<&String>, max: usize) -> Result<(), Invalid> {
    s.map_or(Ok(()), |s| prose(field, s, max))
}

/// A list of at most `max` items, each valid.
pub(crate) fn list<T: Validate>(field: &str, items: &[T], max: usize) -> Result<(), Invalid> {
    if items.len() > max {
        return Err(Invalid::new(
            field,
            format!("{} items, over the limit of {max}", items.len()),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        item.validate()
            .map_err(|e| e.within(&format!("{field}[{i}]")))?;
    }
    Ok(())
}

/// Lower-case hexadecimal of exactly `len` digits (a BLAKE3 or SHA-256 digest: 64).
pub(crate) fn hex(field: &str, s: &str, len: usize) -> Result<(), Invalid> {
    if s.len() != len
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Invalid::new(
            field,
            format!("is not {len} lower-case hexadecimal digits"),
        ));
    }
    Ok(())
}

/// A PEM document of the given label (`CERTIFICATE REQUEST`, `CERTIFICATE`), by its framing
/// only: the cryptography is checked by whoever uses it.
pub(crate) fn pem(field: &str, s: &str, label: &str) -> Result<(), Invalid> {
    if s.len() > crate::limits::MAX_PEM {
        return Err(Invalid::new(
            field,
            format!("longer than {} bytes", crate::limits::MAX_PEM),
        ));
    }
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let t = s.trim();
    if !t.starts_with(&begin) || !t.ends_with(&end) {
        return Err(Invalid::new(field, format!("is not a PEM {label}")));
    }
    if !s.is_ascii() {
        return Err(Invalid::new(field, "is not ASCII"));
    }
    Ok(())
}

impl<T: Validate> Validate for Vec<T> {
    fn validate(&self) -> Result<(), Invalid> {
        for (i, item) in self.iter().enumerate() {
            item.validate().map_err(|e| e.within(&format!("[{i}]")))?;
        }
        Ok(())
    }
}
