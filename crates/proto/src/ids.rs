//! Identifiers that cross the wire.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A device's identity: a UUID the server assigns at enrollment and binds into the device's
/// client certificate. Lower-case, hyphenated (`8-4-4-4-12` hexadecimal digits).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    /// Parses a lower-case hyphenated UUID.
    ///
    /// # Errors
    /// [`crate::Invalid`] when `s` is not one.
    pub fn parse(s: &str) -> Result<Self, crate::Invalid> {
        let groups: Vec<&str> = s.split('-').collect();
        let shape_ok = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n)
            && s.bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if shape_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::Invalid::new(
                "device_id",
                "is not a lower-case hyphenated UUID",
            ))
        }
    }

    /// Builds the id from 16 random bytes (a version 4 UUID).
    #[must_use]
    pub fn from_random_bytes(mut b: [u8; 16]) -> Self {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mut text = String::with_capacity(36);
        for (i, x) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push_str(&format!("{x:02x}"));
        }
        Self(text)
    }

    /// The text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URI bound into the device's certificate as its subject alternative name.
    #[must_use]
    pub fn to_uri(&self) -> String {
        format!("urn:medguard:device:{}", self.0)
    }

    /// The id from a certificate's subject alternative name URI.
    #[must_use]
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::parse(uri.strip_prefix("urn:medguard:device:")?).ok()
    }
}

impl TryFrom<String> for DeviceId {
    type Error = crate::Invalid;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> Self {
        id.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.0)
    }
}

/// A one-time enrollment token. A secret: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnrollmentToken(String);

impl EnrollmentToken {
    /// Wraps the token text.
    #[must_use]
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret, for hashing or sending.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrollmentToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids() {
        let id = DeviceId::from_random_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "abababab-abab-4bab-abab-abababababab");
        assert_eq!(DeviceId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(DeviceId::from_uri(&id.to_uri()), Some(id));
        for bad in [
            "",
            "ABABABAB-ABAB-4BAB-ABAB-ABABABABABAB",
            "abababab-abab-4bab-abab-ababababab",
            "abababababab4bababababababababab",
            "abababab-abab-4bab-abab-abababababag",
            "abababab-abab-4bab-abab-abababababab-",
        ] {
            assert!(DeviceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_never_shows_in_debug() {
        let t = EnrollmentToken::new("s3cret".into());
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
