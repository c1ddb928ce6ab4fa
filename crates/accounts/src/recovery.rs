//! Recovery codes: ten single-use codes that stand in for the TOTP code when a person's phone
//! is lost, shown once at enrolment and stored hashed.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use medguard_host::Clock;

use crate::TokenKey;
use crate::error::{AccountsError, TokenKind};
use crate::secret::{keyed_digest, random};

/// Codes in a set.
pub const COUNT: usize = 10;
/// Symbols of one code (5 bits each: 120 bits).
const SYMBOLS: usize = 24;
/// Longest input read for a code (the 29-character display form and some spaces).
const MAX_INPUT: usize = 64;
/// Crockford's base32 alphabet, lower case: no i, l, o or u to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const DOMAIN: &str = "medguard recovery code v1";

/// One recovery code, to show the person once. `Debug` never shows it.
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// The code as the person writes it down: six groups of four, joined by `-`.
    #[must_use]
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

/// A code as typed: case, spaces and dashes ignored, `i`/`l` read as `1` and `o` as `0`
/// (Crockford's rule), 24 symbols.
pub struct RecoveryCodeAttempt(Zeroizing<[u8; SYMBOLS]>);

impl RecoveryCodeAttempt {
    /// Parses a typed code.
    ///
    /// # Errors
    /// [`AccountsError::Malformed`].
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let malformed = |problem| AccountsError::Malformed {
            kind: TokenKind::RecoveryCode,
            problem,
        };
        if text.len() > MAX_INPUT {
            return Err(malformed("expected 24 letters and digits"));
        }
        let mut out = Zeroizing::new([0u8; SYMBOLS]);
        let mut n = 0;
        for b in text.bytes() {
            let c = match b.to_ascii_lowercase() {
                b' ' | b'-' => continue,
                b'i' | b'l' => b'1',
                b'o' => b'0',
                c if ALPHABET.contains(&c) => c,
                _ => return Err(malformed("expected letters and digits (no u)")),
            };
            let slot = out
                .get_mut(n)
                .ok_or_else(|| malformed("expected 24 letters and digits"))?;
            *slot = c;
            n += 1;
        }
        if n != SYMBOLS {
            return Err(malformed("expected 24 letters and digits"));
        }
        Ok(Self(out))
    }

    fn key(&self) -> TokenKey {
        TokenKey(keyed_digest(DOMAIN, &self.0[..]))
    }
}

impl fmt::Debug for RecoveryCodeAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCodeAttempt(<redacted>)")
    }
}

/// One stored code: its digest, and when it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySlot {
    /// SHA-256 of the code under a domain label.
    pub digest: TokenKey,
    /// When the code was accepted; `None` while unused.
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

/// Recovery codes: ten single-use codes that stand in for the TOTP code when a person's phone
/// is lost, shown once at enrolment and stored hashed.
///
/// Each code carries 120 random bits, written as 24 characters of Crockford's base32 in six
/// groups (`7k2m-9xqd-...`). At that strength a fast one-way hash is enough: NIST SP 800-63B
/// §5.1.2.2 asks look-up secrets of at least 112 bits to be "hashed with an approved one-way
/// function" and only shorter ones to go through a salted password hash. So the server stores
/// SHA-256 (under a domain label) of each code, and checking a code costs microseconds
/// instead of ten argon2id runs (a code is compared against every unused slot). No key is
/// needed: nothing short of 2^120 guesses finds a code from its digest.
///
/// A person's stored recovery codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    /// The slots, in the order the codes were shown.
    pub slots: Vec<RecoverySlot>,
}

impl RecoveryCodes {
    /// Ten new codes: the codes to show once, and what to store. A new set replaces the old
    /// one whole.
    ///
    /// # Errors
    /// [`AccountsError::Randomness`].
    pub fn generate() -> Result<(Vec<RecoveryCode>, Self), AccountsError> {
        let mut shown = Vec::with_capacity(COUNT);
        let mut slots = Vec::with_capacity(COUNT);
        for _ in 0..COUNT {
            let bytes = Zeroizing::new(random::<SYMBOLS>()?);
            let mut symbols = Zeroizing::new([0u8; SYMBOLS]);
            for (s, b) in symbols.iter_mut().zip(bytes.iter()) {
                // One byte per symbol, low 5 bits: uniform over the 32 symbols.
                *s = ALPHABET.get(usize::from(b & 0x1f)).copied().unwrap_or(b'0');
            }
            let mut text = Zeroizing::new(String::with_capacity(SYMBOLS + SYMBOLS / 4));
            for (i, s) in symbols.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    text.push('-');
                }
                text.push(char::from(*s));
            }
            slots.push(RecoverySlot {
                digest: TokenKey(keyed_digest(DOMAIN, &symbols[..])),
                used_at: None,
            });
            shown.push(RecoveryCode(text));
        }
        Ok((shown, Self { slots }))
    }

    /// Accepts a code once: marks its slot used and returns the slot's index. Every slot is
    /// compared, in constant time, whatever matched.
    ///
    /// # Errors
    /// [`AccountsError::RecoveryCodeUsed`], [`AccountsError::RecoveryCodeWrong`].
    pub fn redeem(
        &mut self,
        attempt: &RecoveryCodeAttempt,
        clock: &dyn Clock,
    ) -> Result<usize, AccountsError> {
        let key = attempt.key();
        let mut found = None;
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.digest.ct_eq(&key) && found.is_none() {
                found = Some(i);
            }
        }
        let index = found.ok_or(AccountsError::RecoveryCodeWrong)?;
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(AccountsError::RecoveryCodeWrong)?;
        if let Some(used_at) = slot.used_at {
            return Err(AccountsError::RecoveryCodeUsed { used_at });
        }
        slot.used_at = Some(clock.now());
        Ok(index)
    }

    /// Unused codes left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.slots.iter().filter(|s| s.used_at.is_none()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medguard_host::ManualClock;
    use time::macros::datetime;

    #[test]
    fn ten_codes_each_accepted_once() {
        let clock = ManualClock::new(datetime!(2026-03-01 10:00 UTC));
        let (shown, mut stored) = RecoveryCodes::generate().unwrap();
        assert_eq!(shown.len(), COUNT);
        assert_eq!(stored.remaining(), COUNT);
        for (i, code) in shown.iter().enumerate() {
            assert_eq!(code.reveal().len(), 29);
            let attempt = RecoveryCodeAttempt::parse(code.reveal()).unwrap();
            assert_eq!(stored.redeem(&attempt, &clock).unwrap(), i);
            assert!(matches!(
                stored.redeem(&attempt, &clock),
                Err(AccountsError::RecoveryCodeUsed { .. })
            ));
        }
        assert_eq!(stored.remaining(), 0);
        let (other, _) = RecoveryCodes::generate().unwrap();
        let attempt = RecoveryCodeAttempt::parse(other[0].reveal()).unwrap();
        assert!(matches!(
            stored.redeem(&attempt, &clock),
            Err(AccountsError::RecoveryCodeWrong)
        ));
    }

    #[test]
    fn typing_variants_are_the_same_code() {
        let clock = ManualClock::new(datetime!(2026-03-01 10:00 UTC));
        let (shown, mut stored) = RecoveryCodes::generate().unwrap();
        let typed = shown[3]
            .reveal()
            .replace('-', " ")
            .to_ascii_uppercase()
            .replace('1', "l")
            .replace('0', "O");
        let attempt = RecoveryCodeAttempt::parse(&typed).unwrap();
        assert_eq!(stored.redeem(&attempt, &clock).unwrap(), 3);
    }

    #[test]
    fn malformed_codes_are_refused_and_codes_never_print() {
        for bad in [
            "",
            "abcd",
            &"a".repeat(25),
            &"u".repeat(24),
            &"a".repeat(65),
        ] {
            assert!(matches!(
                RecoveryCodeAttempt::parse(bad),
                Err(AccountsError::Malformed {
                    kind: TokenKind::RecoveryCode,
                    ..
                })
            ));
        }
        let (shown, stored) = RecoveryCodes::generate().unwrap();
        assert!(!format!("{:?} {stored:?}", shown[0]).contains(shown[0].reveal()));
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(
            serde_json::from_str::<RecoveryCodes>(&json).unwrap(),
            stored
        );
        assert!(!json.contains(shown[0].reveal()));
    }
}
