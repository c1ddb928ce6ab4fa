//! Time-based one-time passwords (RFC 6238) with the authenticator-app defaults: HMAC-SHA-1,
//! 6 digits, 30-second steps from the Unix epoch.

use std::fmt;

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use medguard_host::Clock;
use qrcode::QrCode;
use qrcode::render::svg;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::{AccountsError, TokenKind};
use crate::secret::{ct_eq, random};

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const PERIOD_SECONDS: u64 = 30;
/// Bytes of a new secret: 160 bits, the HMAC-SHA-1 block-friendly size RFC 4226 §4
/// recommends.
pub const SECRET_BYTES: usize = 20;
/// Fewest bytes of a stored secret accepted (RFC 4226 §4: at least 128 bits).
const SECRET_MIN_BYTES: usize = 16;
/// Most bytes of a stored secret accepted.
const SECRET_MAX_BYTES: usize = 64;

/// One 30-second step since the Unix epoch: what the caller stores as "last accepted" for a
/// person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimeStep(pub u64);

impl TimeStep {
    /// The step containing `t`.
    ///
    /// # Errors
    /// [`AccountsError::ClockBeforeEpoch`].
    pub fn at(t: OffsetDateTime) -> Result<Self, AccountsError> {
        let seconds = u64::try_from(t.unix_timestamp())
            .map_err(|_| AccountsError::ClockBeforeEpoch { now: t })?;
        Ok(Self(seconds / PERIOD_SECONDS))
    }
}

/// Time-based one-time passwords (RFC 6238) with the authenticator-app defaults: HMAC-SHA-1,
/// 6 digits, 30-second steps from the Unix epoch.
///
/// A code is accepted for the current step and one step either side (clock drift between the
/// phone and the server), and **once**: the caller keeps, per person, the last time step
/// accepted ([`TimeStep`]) and passes it to [`TotpSecret::verify`], which refuses any code of
/// that step or an earlier one (RFC 6238 §5.2: "the verifier MUST NOT accept the second
/// attempt of the same OTP after the successful validation has been issued").
///
/// A person's TOTP secret. `Debug` and `Display` never show it; its memory is zeroed when
/// dropped. The server must store it (it computes the codes), so it belongs in the database
/// only; no API returns it after enrolment.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A new secret of 160 random bits.
    ///
    /// # Errors
    /// [`AccountsError::Randomness`].
    pub fn generate() -> Result<Self, AccountsError> {
        Ok(Self(Zeroizing::new(random::<SECRET_BYTES>()?.to_vec())))
    }

    /// Parses a secret in RFC 4648 base32 without padding (upper or lower case), 128 to 512
    /// bits.
    ///
    /// # Errors
    /// [`AccountsError::Malformed`] (never repeating the text).
    pub fn from_base32(text: &str) -> Result<Self, AccountsError> {
        let malformed = |problem| AccountsError::Malformed {
            kind: TokenKind::TotpSecret,
            problem,
        };
        if text.len() > SECRET_MAX_BYTES.div_ceil(5) * 8 {
            return Err(malformed("longer than 512 bits"));
        }
        let upper = Zeroizing::new(text.to_ascii_uppercase());
        let bytes = Zeroizing::new(
            BASE32_NOPAD
                .decode(upper.as_bytes())
                .map_err(|_| malformed("expected unpadded base32 (A-Z, 2-7)"))?,
        );
        if bytes.len() < SECRET_MIN_BYTES {
            return Err(malformed("shorter than 128 bits"));
        }
        Ok(Self(bytes))
    }

    /// The secret in base32 (upper case, no padding): shown to the person once at enrolment
    /// (beside the QR code, for apps that cannot scan), and stored by the server.
    #[must_use]
    pub fn reveal_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI authenticator apps read (Google Authenticator's key URI format),
    /// with issuer and account name percent-encoded.
    #[must_use]
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECONDS}",
            percent_encode(account),
            self.reveal_base32()
        )
    }

    /// The code for one time step.
    #[must_use]
    pub fn code_at(&self, step: TimeStep) -> TotpCode {
        let value = hotp(&self.0, step.0, DIGITS);
        let mut digits = [b'0'; 6];
        let mut rest = value;
        for d in digits.iter_mut().rev() {
            // `rest % 10` is below 10: the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            let digit = (rest % 10) as u8;
            *d = b'0' + digit;
            rest /= 10;
        }
        TotpCode(digits)
    }

    /// Checks a code against the steps around the clock's time and returns the step it
    /// belongs to, which the caller stores as the person's new last accepted step.
    ///
    /// # Errors
    /// [`AccountsError::TotpReplayed`] for a code of a step at or before `last_accepted`,
    /// [`AccountsError::TotpWrong`] for any other mismatch, and
    /// [`AccountsError::ClockBeforeEpoch`].
    pub fn verify(
        &self,
        code: &TotpCode,
        clock: &dyn Clock,
        last_accepted: Option<TimeStep>,
    ) -> Result<TimeStep, AccountsError> {
        let now = TimeStep::at(clock.now())?;
        let mut accepted = None;
        let mut replayed = None;
        // Every candidate is computed and compared, whatever matched before.
        for step in [now.0.checked_sub(1), Some(now.0), now.0.checked_add(1)]
            .into_iter()
            .flatten()
        {
            let candidate = TimeStep(step);
            if ct_eq(&self.code_at(candidate).0, &code.0) {
                if last_accepted.is_none_or(|last| candidate > last) {
                    accepted = Some(candidate);
                } else {
                    replayed = Some(candidate);
                }
            }
        }
        match (accepted, replayed, last_accepted) {
            (Some(step), _, _) => Ok(step),
            (None, Some(step), Some(last)) => Err(AccountsError::TotpReplayed {
                step: step.0,
                last_accepted: last.0,
            }),
            _ => Err(AccountsError::TotpWrong),
        }
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl fmt::Display for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA-1 of the counter, dynamic truncation, modulo 10^digits.
pub(crate) fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // The last byte's low nibble picks 4 bytes; SHA-1's 20 bytes always hold them.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let mut word = [0u8; 4];
    if let Some(chunk) = mac.get(offset..offset + 4) {
        word.copy_from_slice(chunk);
    }
    let binary = u32::from_be_bytes(word) & 0x7fff_ffff;
    binary % 10u32.pow(digits)
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A six-digit code as a person typed it. Spaces are ignored (apps show `123 456`); anything
/// else but six ASCII digits is refused. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode([u8; 6]);

/// Longest input read for a code (six digits and a few spaces).
const CODE_MAX_INPUT: usize = 16;

impl TotpCode {
    /// Parses a code.
    ///
    /// # Errors
    /// [`AccountsError::Malformed`].
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        let malformed = |problem| AccountsError::Malformed {
            kind: TokenKind::TotpCode,
            problem,
        };
        if text.len() > CODE_MAX_INPUT {
            return Err(malformed("expected six digits"));
        }
        let mut digits = [0u8; 6];
        let mut n = 0;
        for b in text.bytes().filter(|&b| b != b' ') {
            if !b.is_ascii_digit() {
                return Err(malformed("expected six digits"));
            }
            let slot = digits
                .get_mut(n)
                .ok_or_else(|| malformed("expected six digits"))?;
            *slot = b;
            n += 1;
        }
        if n != 6 {
            return Err(malformed("expected six digits"));
        }
        Ok(Self(digits))
    }

    /// The six digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// Draws `text` as a QR code in SVG (no script, no external resource), for the enrolment page.
///
/// # Errors
/// [`AccountsError::QrCode`] when the text does not fit any QR version.
pub fn qr_svg(text: &str) -> Result<String, AccountsError> {
    let code = QrCode::new(text.as_bytes()).map_err(|source| AccountsError::QrCode {
        bytes: text.len(),
        source,
    })?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

/// What the enrolment page shows: the new secret as a QR code and as text.
#[derive(Debug)]
pub struct TotpEnrollment {
    /// The new secret (kept by the server until the person confirms a code).
    pub secret: TotpSecret,
    /// The `otpauth://` URI (contains the secret: show it, never log it).
    pub uri: Zeroizing<String>,
    /// The URI as a QR code in SVG.
    pub qr_svg: Zeroizing<String>,
}

impl TotpEnrollment {
    /// A new secret for `account` at `issuer` (e.g. "medguard (Hospital X)").
    ///
    /// # Errors
    /// [`AccountsError::Randomness`], [`AccountsError::QrCode`] (an issuer or account name of
    /// thousands of bytes).
    pub fn new(issuer: &str, account: &str) -> Result<Self, AccountsError> {
        let secret = TotpSecret::generate()?;
        let uri = Zeroizing::new(secret.otpauth_uri(issuer, account));
        let qr_svg = Zeroizing::new(qr_svg(&uri)?);
        Ok(Self {
            secret,
            uri,
            qr_svg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medguard_host::ManualClock;
    use std::time::Duration;
    use time::macros::datetime;

    const RFC_SEED: &[u8] = b"12345678901234567890";

    fn vectors(text: &str) -> impl Iterator<Item = Vec<&str>> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
    }

    #[test]
    fn rfc4226_appendix_d() {
        let data = include_str!("../tests/data/rfc4226-appendix-d.txt");
        let mut n = 0;
        for row in vectors(data) {
            let counter: u64 = row[0].parse().unwrap();
            let expected: u32 = row[1].parse().unwrap();
            assert_eq!(hotp(RFC_SEED, counter, 6), expected, "counter {counter}");
            n += 1;
        }
        assert_eq!(n, 10);
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        let data = include_str!("../tests/data/rfc6238-appendix-b-sha1.txt");
        let mut n = 0;
        for row in vectors(data) {
            let unix: i64 = row[0].parse().unwrap();
            let step = TimeStep::at(OffsetDateTime::from_unix_timestamp(unix).unwrap()).unwrap();
            assert_eq!(step.0, u64::from_str_radix(row[1], 16).unwrap(), "{unix}");
            let expected: u32 = row[2].parse().unwrap();
            assert_eq!(hotp(RFC_SEED, step.0, 8), expected, "{unix}");
            // The six-digit code is the same value modulo 10^6.
            let secret = TotpSecret(Zeroizing::new(RFC_SEED.to_vec()));
            assert_eq!(
                secret.code_at(step).as_str(),
                format!("{:06}", expected % 1_000_000)
            );
            n += 1;
        }
        assert_eq!(n, 6);
    }

    #[test]
    fn one_step_of_drift_and_no_replay() {
        let secret = TotpSecret::generate().unwrap();
        let clock = ManualClock::new(datetime!(2026-03-01 10:00:00 UTC));
        let now = TimeStep::at(clock.now()).unwrap();
        let code = |s: u64| secret.code_at(TimeStep(s));
        // The previous step's code is accepted once...
        let step = secret.verify(&code(now.0 - 1), &clock, None).unwrap();
        assert_eq!(step, TimeStep(now.0 - 1));
        // ...and not again.
        assert!(matches!(
            secret.verify(&code(now.0 - 1), &clock, Some(step)),
            Err(AccountsError::TotpReplayed { .. })
        ));
        // The current step is still accepted, then the next one.
        let step = secret.verify(&code(now.0), &clock, Some(step)).unwrap();
        let step = secret.verify(&code(now.0 + 1), &clock, Some(step)).unwrap();
        // Having accepted the next step, the current one is refused as a replay.
        assert!(matches!(
            secret.verify(&code(now.0), &clock, Some(step)),
            Err(AccountsError::TotpReplayed { .. })
        ));
        // Two steps away is wrong, not drift.
        for s in [now.0 - 2, now.0 + 2] {
            let c = code(s);
            if [now.0 - 1, now.0, now.0 + 1].iter().all(|&x| code(x) != c) {
                assert!(matches!(
                    secret.verify(&c, &clock, None),
                    Err(AccountsError::TotpWrong)
                ));
            }
        }
        // After 30 s the clock is in the next step.
        clock.advance(Duration::from_secs(30));
        assert_eq!(TimeStep::at(clock.now()).unwrap(), TimeStep(now.0 + 1));
    }

    #[test]
    fn codes_parse_strictly() {
        assert_eq!(TotpCode::parse("123456").unwrap().as_str(), "123456");
        assert_eq!(TotpCode::parse(" 123 456 ").unwrap().as_str(), "123456");
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "123-456",
            &"1".repeat(17),
        ] {
            assert!(
                matches!(
                    TotpCode::parse(bad),
                    Err(AccountsError::Malformed {
                        kind: TokenKind::TotpCode,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            format!("{:?}", TotpCode::parse("123456").unwrap()),
            "TotpCode(<redacted>)"
        );
    }

    #[test]
    fn secrets_round_trip_through_base32_and_never_print() {
        let s = TotpSecret::generate().unwrap();
        let b32 = s.reveal_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(TotpSecret::from_base32(&b32).unwrap(), s);
        assert_eq!(
            TotpSecret::from_base32(&b32.to_ascii_lowercase()).unwrap(),
            s
        );
        assert!(!format!("{s:?} {s}").contains(&b32));
        for bad in [
            "",
            "GEZDGNBVGY3TQOJQ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
        ] {
            assert!(TotpSecret::from_base32(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_uri_carries_the_authenticator_defaults() {
        let s = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(
            s.otpauth_uri("medguard (St. Mary's)", "j.doe@site"),
            "otpauth://totp/medguard%20%28St.%20Mary%27s%29:j.doe%40site?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=medguard%20%28St.%20Mary%27s%29&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn the_qr_code_is_plain_svg() {
        let e = TotpEnrollment::new("medguard", "alice").unwrap();
        assert!(e.qr_svg.starts_with("<?xml"));
        assert!(e.qr_svg.contains("<svg"));
        assert!(!e.qr_svg.contains("<script"));
        assert!(!e.qr_svg.contains("href"));
        assert!(e.uri.contains(&e.secret.reveal_base32()));
        assert!(matches!(
            qr_svg(&"x".repeat(5000)),
            Err(AccountsError::QrCode { .. })
        ));
    }
}
