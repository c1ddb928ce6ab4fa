//! Random secrets, constant-time comparison, and the 256-bit bearer tokens (session, CSRF,
//! set-up, API) with the digest under which the server stores them.

use std::fmt;

use aws_lc_rs::{constant_time, digest, rand};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::error::{AccountsError, TokenKind};

/// `N` bytes from the operating system's generator (aws-lc's, seeded by `getrandom`).
pub(crate) fn random<const N: usize>() -> Result<[u8; N], AccountsError> {
    let mut out = [0u8; N];
    rand::fill(&mut out).map_err(|_| AccountsError::Randomness)?;
    Ok(out)
}

/// Equality whose time depends only on the lengths.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// SHA-256 over a domain label and a value: storage keys of bearer secrets. The label keeps a
/// session token's key from ever matching a set-up token's.
pub(crate) fn keyed_digest(domain: &str, value: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(domain.as_bytes());
    ctx.update(&[0]);
    ctx.update(value);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The digest under which the server stores a bearer token (SHA-256 of a domain label and the
/// token's bytes). A copy of the database gives no usable token: tokens carry 256 random
/// bits, so a fast hash suffices (NIST SP 800-63B §5.1.2.2: 112 bits or more may be stored
/// under an approved one-way function).
///
/// Not a secret: `Debug` and `Display` show it in lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenKey(pub(crate) [u8; 32]);

impl TokenKey {
    /// Parses 64 lowercase hex digits.
    ///
    /// # Errors
    /// [`AccountsError::Malformed`].
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let malformed = |problem| AccountsError::Malformed {
            kind: TokenKind::StorageKey,
            problem,
        };
        if text.len() != 64 {
            return Err(malformed("expected 64 hex digits"));
        }
        let bytes = HEXLOWER
            .decode(text.as_bytes())
            .map_err(|_| malformed("expected lowercase hex digits"))?;
        let mut out = [0u8; 32];
        out.copy_from_slice(&bytes);
        Ok(Self(out))
    }

    /// The digest's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Equality in constant time (for a key looked up some other way than by itself).
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey({self})")
    }
}

impl Serialize for TokenKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TokenKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Text length of a 256-bit token in unpadded base64url.
pub(crate) const TOKEN_TEXT_LEN: usize = 43;

/// Parses 43 characters of unpadded base64url into 32 bytes (canonical: the trailing bits
/// must be zero, so one token has one spelling).
pub(crate) fn parse_token_bytes(
    text: &str,
    kind: TokenKind,
) -> Result<Zeroizing<[u8; 32]>, AccountsError> {
    let malformed = |problem| AccountsError::Malformed { kind, problem };
    if text.len() != TOKEN_TEXT_LEN {
        return Err(malformed("expected 43 base64url characters"));
    }
    let mut out = Zeroizing::new([0u8; 32]);
    let written = BASE64URL_NOPAD
        .decode_mut(text.as_bytes(), &mut out[..])
        .map_err(|_| malformed("expected base64url characters (A-Z a-z 0-9 - _)"))?;
    if written != 32 {
        return Err(malformed("expected 32 bytes"));
    }
    Ok(out)
}

pub(crate) fn encode_token(bytes: &[u8; 32]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

/// Declares a 256-bit bearer token type: random, shown once as base64url, stored only as a
/// [`TokenKey`], never printed by `Debug` or `Display`.
macro_rules! bearer_token {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $domain:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(zeroize::Zeroizing<[u8; 32]>);

        impl $name {
            /// A new token of 256 random bits.
            ///
            /// # Errors
            /// [`AccountsError::Randomness`](crate::AccountsError::Randomness).
            pub fn generate() -> Result<Self, crate::AccountsError> {
                Ok(Self(zeroize::Zeroizing::new(crate::secret::random::<32>()?)))
            }

            /// Parses the token as a client presents it: 43 characters of unpadded base64url.
            ///
            /// # Errors
            /// [`AccountsError::Malformed`](crate::AccountsError::Malformed); the error never
            /// repeats the text.
            pub fn parse(text: &str) -> Result<Self, crate::AccountsError> {
                crate::secret::parse_token_bytes(text, $kind).map(Self)
            }

            /// The token's text, to hand to its holder once (a cookie, a link, a script).
            #[must_use]
            pub fn reveal(&self) -> String {
                crate::secret::encode_token(&self.0)
            }

            /// The digest the server stores and looks the token up by.
            #[must_use]
            pub fn key(&self) -> crate::TokenKey {
                crate::TokenKey(crate::secret::keyed_digest($domain, &self.0[..]))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>, key {})"), self.key())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("<redacted>")
            }
        }
    };
}

pub(crate) use bearer_token;

#[cfg(test)]
mod tests {
    use super::*;

    bearer_token!(
        /// A token for these tests.
        TestToken,
        TokenKind::Session,
        "medguard test token v1"
    );

    #[test]
    fn a_token_round_trips_and_never_prints_itself() {
        let t = TestToken::generate().unwrap();
        let text = t.reveal();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        let again = TestToken::parse(&text).unwrap();
        assert_eq!(again.key(), t.key());
        assert!(!format!("{t:?}").contains(&text));
        assert_eq!(t.to_string(), "<redacted>");
        assert_eq!(TokenKey::parse(&t.key().to_string()).unwrap(), t.key());
    }

    #[test]
    fn a_token_has_one_spelling() {
        let t = TestToken::generate().unwrap();
        let mut text = t.reveal().into_bytes();
        // The last character carries 4 payload bits and 2 zero bits: setting one of the zero
        // bits must not give another spelling of the same token.
        let last = text.len() - 1;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c == text[last]).unwrap();
        text[last] = alphabet[index | 1];
        let text = String::from_utf8(text).unwrap();
        if index & 1 == 0 {
            assert!(TestToken::parse(&text).is_err());
        }
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}=", &t.reveal()[..42]),
        ] {
            assert!(matches!(
                TestToken::parse(bad),
                Err(AccountsError::Malformed {
                    kind: TokenKind::Session,
                    ..
                })
            ));
        }
    }

    #[test]
    fn domains_separate_keys() {
        assert_ne!(keyed_digest("a", b"x"), keyed_digest("b", b"x"));
    }
}
