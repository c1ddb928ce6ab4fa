//! Passphrases: what a person may choose ([`Passphrase`]), what they type at login
//! ([`PassphraseAttempt`]), and how the server keeps them ([`PassphraseHash`], argon2id in a
//! PHC string).
//!
//! The two input types are distinct on purpose: a new passphrase is checked for length and
//! guessability, a login attempt only for size (an old passphrase chosen under older rules must
//! still let its owner in, and a failed attempt must not tell which rule it broke).

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use data_encoding::BASE64_NOPAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;
use zxcvbn::feedback::Warning;
use zxcvbn::matching::patterns::MatchPattern;

use crate::error::AccountsError;
use crate::secret::{ct_eq, random};

/// Fewest characters (Unicode scalar values after NFKC normalisation) of a new passphrase:
/// NIST SP 800-63B rev. 4 §3.1.1.2 asks 15 for a passphrase used alone; medguard asks it always.
pub const MIN_CHARACTERS: usize = 15;
/// Most characters of a passphrase (NIST asks to allow at least 64).
pub const MAX_CHARACTERS: usize = 256;
/// Most bytes of input looked at. Anything longer is refused before normalisation or hashing,
/// so a 10 MB body costs one length comparison. 256 characters are at most 1,024 bytes in
/// UTF-8; a decomposed spelling (Hangul jamo, combining marks) of them stays well under this.
pub const MAX_INPUT_BYTES: usize = 4_096;
/// A new passphrase must need at least 10^this many guesses by zxcvbn's estimate (its score
/// 4: "strong protection from an offline slow-hash attack").
pub const MIN_GUESSES_LOG10: u32 = 10;

/// NFKC-normalises `input`, refusing oversize input before any work.
fn normalise(input: &str) -> Result<Zeroizing<String>, AccountsError> {
    let too_long = AccountsError::PassphraseTooLong {
        maximum: MAX_CHARACTERS,
    };
    if input.len() > MAX_INPUT_BYTES {
        return Err(too_long);
    }
    // Reserved once at the largest size a valid result can have, so pushing never moves the
    // secret and leaves a copy behind in freed memory.
    let mut out = Zeroizing::new(String::with_capacity(MAX_CHARACTERS * 4));
    for (i, c) in input.nfkc().enumerate() {
        if i >= MAX_CHARACTERS {
            return Err(too_long);
        }
        out.push(c);
    }
    Ok(out)
}

/// What makes a passphrase guessable, said so that the person can choose a better one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Weakness {
    /// It is (or is close to) a password from the lists of leaked and common passwords.
    CommonPassword,
    /// It contains the person's name or another of their details.
    PersonalInformation,
    /// A row or pattern of keys on the keyboard.
    KeyboardPattern,
    /// Repeated characters or repeated groups.
    Repetition,
    /// A sequence like `abcdef` or `98765`.
    Sequence,
    /// Dates or recent years.
    Dates,
    /// Common words or names, too few of them.
    CommonWords,
    /// Otherwise predictable.
    Guessable,
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CommonPassword => {
                "it is on the lists of leaked and common passwords, or close to one; choose a few unrelated words"
            }
            Self::PersonalInformation => {
                "it contains your name or user name; leave out anything about you"
            }
            Self::KeyboardPattern => {
                "it follows a pattern of keys on the keyboard; choose a few unrelated words instead"
            }
            Self::Repetition => "it repeats characters or words; avoid repeats",
            Self::Sequence => "it contains a sequence like abc or 6543; avoid sequences",
            Self::Dates => "it contains dates or years; leave them out",
            Self::CommonWords => {
                "its words are too common or too few; add another uncommon word or two"
            }
            Self::Guessable => "it is predictable; add another uncommon word or two",
        })
    }
}

/// The name of the dictionary a match came from. zxcvbn 3.1 does not export its
/// `DictionaryType`; its `Debug` names the variants (`Passwords`, `UserInputs`, ...).
fn dictionary_is(pattern: &MatchPattern, name: &str) -> bool {
    matches!(pattern, MatchPattern::Dictionary(d) if format!("{:?}", d.dictionary_name) == name)
}

fn weakness_of(entropy: &zxcvbn::Entropy) -> Weakness {
    let sequence = entropy.sequence();
    if sequence
        .iter()
        .any(|m| dictionary_is(&m.pattern, "UserInputs"))
    {
        return Weakness::PersonalInformation;
    }
    if let Some(warning) = entropy
        .feedback()
        .and_then(zxcvbn::feedback::Feedback::warning)
    {
        return match warning {
            Warning::ThisIsATop10Password
            | Warning::ThisIsATop100Password
            | Warning::ThisIsACommonPassword
            | Warning::ThisIsSimilarToACommonlyUsedPassword => Weakness::CommonPassword,
            Warning::StraightRowsOfKeysAreEasyToGuess
            | Warning::ShortKeyboardPatternsAreEasyToGuess => Weakness::KeyboardPattern,
            Warning::RepeatsLikeAaaAreEasyToGuess
            | Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => Weakness::Repetition,
            Warning::SequencesLikeAbcAreEasyToGuess => Weakness::Sequence,
            Warning::RecentYearsAreEasyToGuess | Warning::DatesAreOftenEasyToGuess => {
                Weakness::Dates
            }
            Warning::AWordByItselfIsEasyToGuess
            | Warning::NamesAndSurnamesByThemselvesAreEasyToGuess
            | Warning::CommonNamesAndSurnamesAreEasyToGuess => Weakness::CommonWords,
        };
    }
    // No warning (zxcvbn gives one only for its weakest scores): name the pattern that
    // covers most of the passphrase.
    let covered = |pred: &dyn Fn(&MatchPattern) -> bool| -> usize {
        sequence
            .iter()
            .filter(|m| pred(&m.pattern))
            .map(|m| m.token.chars().count())
            .sum()
    };
    let candidates = [
        (
            Weakness::CommonPassword,
            covered(&|p| dictionary_is(p, "Passwords")),
        ),
        (
            Weakness::KeyboardPattern,
            covered(&|p| matches!(p, MatchPattern::Spatial(_))),
        ),
        (
            Weakness::Repetition,
            covered(&|p| matches!(p, MatchPattern::Repeat(_))),
        ),
        (
            Weakness::Sequence,
            covered(&|p| matches!(p, MatchPattern::Sequence(_))),
        ),
        (
            Weakness::Dates,
            covered(&|p| matches!(p, MatchPattern::Date(_) | MatchPattern::Regex(_))),
        ),
        (
            Weakness::CommonWords,
            covered(&|p| matches!(p, MatchPattern::Dictionary(_))),
        ),
    ];
    candidates
        .iter()
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
        .map_or(Weakness::Guessable, |(w, _)| *w)
}

/// A passphrase a person may choose: NFKC-normalised, 15 to 256 characters, no control
/// characters, and not guessable by zxcvbn's estimate (its dictionaries of leaked passwords,
/// words, names, keyboard patterns, dates and sequences ship in the binary). There are no
/// composition rules: any Unicode is welcome.
///
/// A value of this type exists only if it passed these checks. `Debug` and `Display` never
/// show it; its memory is zeroed when dropped.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Checks a new passphrase. `personal` lists what the person's passphrase must not be built
    /// from: their user name, display name, the site's name.
    ///
    /// # Errors
    /// [`AccountsError::PassphraseTooLong`] (checked first, before any other work),
    /// [`AccountsError::PassphraseTooShort`], [`AccountsError::PassphraseControlCharacter`],
    /// [`AccountsError::PassphraseWeak`] with the [`Weakness`] to avoid.
    pub fn new(input: &str, personal: &[&str]) -> Result<Self, AccountsError> {
        let text = normalise(input)?;
        let characters = text.chars().count();
        if characters < MIN_CHARACTERS {
            return Err(AccountsError::PassphraseTooShort {
                characters,
                minimum: MIN_CHARACTERS,
            });
        }
        if let Some(position) = text.chars().position(char::is_control) {
            return Err(AccountsError::PassphraseControlCharacter { position });
        }
        let mut inputs: Vec<&str> = personal.iter().copied().filter(|s| !s.is_empty()).collect();
        inputs.push("medguard");
        let entropy = zxcvbn::zxcvbn(&text, &inputs);
        let guesses_log10 = entropy.guesses_log10();
        if guesses_log10 < f64::from(MIN_GUESSES_LOG10) {
            return Err(AccountsError::PassphraseWeak {
                weakness: weakness_of(&entropy),
                // In 0..MIN_GUESSES_LOG10 here: the cast cannot truncate.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                guesses_log10: guesses_log10.max(0.0).floor() as u32,
            });
        }
        Ok(Self(text))
    }

    /// Characters (Unicode scalar values) after normalisation.
    #[must_use]
    pub fn characters(&self) -> usize {
        self.0.chars().count()
    }

    /// Hashes the passphrase with argon2id under `params` and a fresh 128-bit salt.
    ///
    /// # Errors
    /// [`AccountsError::Randomness`], [`AccountsError::Argon2`].
    pub fn hash(&self, params: &HashParams) -> Result<PassphraseHash, AccountsError> {
        PassphraseHash::create(self.0.as_bytes(), params)
    }

    /// The normalised passphrase as a login attempt (to verify it right after choosing it).
    #[must_use]
    pub fn as_attempt(&self) -> PassphraseAttempt {
        PassphraseAttempt(self.0.clone())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl fmt::Display for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a person typed at a login or signing prompt: NFKC-normalised and at most 256
/// characters, nothing else checked. `Debug` and `Display` never show it.
pub struct PassphraseAttempt(Zeroizing<String>);

impl PassphraseAttempt {
    /// Normalises an attempt.
    ///
    /// # Errors
    /// [`AccountsError::PassphraseTooLong`], before any other work: no passphrase can be this
    /// long, so the attempt would fail anyway and must not cost a hash.
    pub fn new(input: &str) -> Result<Self, AccountsError> {
        normalise(input).map(Self)
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PassphraseAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassphraseAttempt(<redacted>)")
    }
}

impl fmt::Display for PassphraseAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Argon2id cost parameters.
///
/// The default is RFC 9106's second recommended option (§4: "t=3 iterations, p=4 lanes,
/// m=2^16 (64 MiB of RAM), 128-bit salt, and 256-bit tag size"), above OWASP's Password
/// Storage Cheat Sheet minimum (m=19 MiB, t=2, p=1). [`HashParams::new`] refuses anything below
/// OWASP's table (memory × passes at least 19 MiB × 2, memory at least 7 MiB), so a
/// configuration can raise the cost, never lower it below the recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

/// Bounds a stored PHC string's parameters must fall in (a corrupt or hostile row must not make
/// the server allocate 4 TB or loop for a day).
const M_MAX_KIB: u32 = 4 * 1024 * 1024;
const T_MAX: u32 = 64;
const P_MAX: u32 = 64;
const SALT_MIN: usize = 8;
const SALT_MAX: usize = 64;
const OUTPUT_MIN: usize = 16;
const OUTPUT_MAX: usize = 64;
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;
/// OWASP's floor: memory (KiB) × passes.
const OWASP_MEMORY_PASSES: u64 = 19 * 1024 * 2;
const OWASP_MIN_M_KIB: u32 = 7 * 1024;

impl HashParams {
    /// RFC 9106 §4, second recommended option: m = 64 MiB, t = 3, p = 4.
    pub const RFC9106_SECOND: Self = Self {
        m_kib: 64 * 1024,
        t: 3,
        p: 4,
    };

    /// Parameters at or above the OWASP floor.
    ///
    /// # Errors
    /// [`AccountsError::HashParameterOutOfRange`] naming the parameter.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Self, AccountsError> {
        let params = Self::bounded(m_kib, t, p)?;
        if m_kib < OWASP_MIN_M_KIB {
            return Err(out_of_range(
                "m (KiB)",
                m_kib.into(),
                OWASP_MIN_M_KIB.into(),
                M_MAX_KIB.into(),
            ));
        }
        let passes_floor = OWASP_MEMORY_PASSES.div_ceil(u64::from(m_kib));
        if u64::from(t) < passes_floor {
            return Err(out_of_range("t", t.into(), passes_floor, T_MAX.into()));
        }
        Ok(params)
    }

    /// Parameters inside the bounds a stored hash may have (possibly below today's floor).
    fn bounded(m_kib: u32, t: u32, p: u32) -> Result<Self, AccountsError> {
        if !(1..=P_MAX).contains(&p) {
            return Err(out_of_range("p", p.into(), 1, P_MAX.into()));
        }
        if !(1..=T_MAX).contains(&t) {
            return Err(out_of_range("t", t.into(), 1, T_MAX.into()));
        }
        let m_min = 8 * p;
        if !(m_min..=M_MAX_KIB).contains(&m_kib) {
            return Err(out_of_range(
                "m (KiB)",
                m_kib.into(),
                m_min.into(),
                M_MAX_KIB.into(),
            ));
        }
        Ok(Self { m_kib, t, p })
    }

    /// Memory in KiB.
    #[must_use]
    pub fn memory_kib(&self) -> u32 {
        self.m_kib
    }

    /// Passes over memory.
    #[must_use]
    pub fn passes(&self) -> u32 {
        self.t
    }

    /// Lanes.
    #[must_use]
    pub fn lanes(&self) -> u32 {
        self.p
    }

    fn hash_into(
        &self,
        passphrase: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), AccountsError> {
        let params = Params::new(self.m_kib, self.t, self.p, Some(out.len()))
            .map_err(AccountsError::Argon2)?;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, out)
            .map_err(AccountsError::Argon2)
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::RFC9106_SECOND
    }
}

fn out_of_range(parameter: &'static str, value: u64, minimum: u64, maximum: u64) -> AccountsError {
    AccountsError::HashParameterOutOfRange {
        parameter,
        value,
        minimum,
        maximum,
    }
}

/// What a verification found.
#[derive(Debug)]
#[must_use]
pub enum Verification {
    /// The attempt is the passphrase.
    Match,
    /// The attempt is the passphrase, and the stored hash used other parameters than today's:
    /// store this new hash in its place.
    MatchRehashed(PassphraseHash),
    /// The attempt is not the passphrase.
    Mismatch,
}

impl Verification {
    /// Whether the attempt was the passphrase.
    #[must_use]
    pub fn is_match(&self) -> bool {
        !matches!(self, Self::Mismatch)
    }
}

/// A stored passphrase: argon2id, version 19, in the PHC string format
/// (`$argon2id$v=19$m=65536,t=3,p=4$SALT$HASH`, salt and hash in unpadded standard base64), so
/// parameters can be raised later: each hash carries its own.
///
/// Parsing is strict and canonical: what parses prints back to the same text. `Debug` shows
/// the parameters only.
#[derive(Clone, PartialEq, Eq)]
pub struct PassphraseHash {
    params: HashParams,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

/// Longest PHC string read: parameters of 10 digits each and 64-byte salt and output fit in
/// under 250 bytes.
const PHC_MAX_LEN: usize = 512;

impl PassphraseHash {
    fn create(passphrase: &[u8], params: &HashParams) -> Result<Self, AccountsError> {
        let salt = random::<SALT_LEN>()?;
        let mut hash = vec![0u8; OUTPUT_LEN];
        params.hash_into(passphrase, &salt, &mut hash)?;
        Ok(Self {
            params: *params,
            salt: salt.to_vec(),
            hash,
        })
    }

    /// The parameters this hash was made with.
    #[must_use]
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Checks an attempt, in constant time over the digest. When it matches and this hash's
    /// parameters (or salt or output size) differ from `current`, the passphrase is hashed
    /// again under `current` and the new hash returned to be stored.
    ///
    /// # Errors
    /// [`AccountsError::Argon2`], [`AccountsError::Randomness`]: not a mismatch, a failure.
    pub fn verify(
        &self,
        attempt: &PassphraseAttempt,
        current: &HashParams,
    ) -> Result<Verification, AccountsError> {
        let mut computed = Zeroizing::new(vec![0u8; self.hash.len()]);
        self.params
            .hash_into(attempt.bytes(), &self.salt, &mut computed)?;
        if !ct_eq(&computed, &self.hash) {
            return Ok(Verification::Mismatch);
        }
        if self.params != *current || self.salt.len() != SALT_LEN || self.hash.len() != OUTPUT_LEN {
            return Ok(Verification::MatchRehashed(Self::create(
                attempt.bytes(),
                current,
            )?));
        }
        Ok(Verification::Match)
    }

    /// Does the work of one verification under `current` and reports a mismatch: call it for an
    /// account that does not exist, so that the response time does not tell who has one.
    ///
    /// # Errors
    /// [`AccountsError::Argon2`].
    pub fn verify_absent(
        attempt: &PassphraseAttempt,
        current: &HashParams,
    ) -> Result<Verification, AccountsError> {
        let mut computed = Zeroizing::new(vec![0u8; OUTPUT_LEN]);
        current.hash_into(attempt.bytes(), &[0u8; SALT_LEN], &mut computed)?;
        Ok(Verification::Mismatch)
    }

    /// Parses a PHC string.
    ///
    /// # Errors
    /// [`AccountsError::HashMalformed`] with the byte offset,
    /// [`AccountsError::HashUnsupported`] for another algorithm or version,
    /// [`AccountsError::HashParameterOutOfRange`].
    pub fn parse(text: &str) -> Result<Self, AccountsError> {
        if text.len() > PHC_MAX_LEN {
            return Err(AccountsError::HashMalformed {
                offset: PHC_MAX_LEN,
                expected: "at most 512 bytes",
            });
        }
        let mut r = Reader { text, pos: 0 };
        r.literal("$")?;
        let algorithm = r.until_dollar();
        if algorithm != "argon2id" {
            return Err(AccountsError::HashUnsupported {
                field: "algorithm",
                actual: algorithm.to_owned(),
                expected: "argon2id",
            });
        }
        r.literal("$v=")?;
        let version = r.number()?;
        if version != 19 {
            return Err(AccountsError::HashUnsupported {
                field: "version",
                actual: version.to_string(),
                expected: "19",
            });
        }
        r.literal("$m=")?;
        let m = r.number()?;
        r.literal(",t=")?;
        let t = r.number()?;
        r.literal(",p=")?;
        let p = r.number()?;
        let params = HashParams::bounded(m, t, p)?;
        r.literal("$")?;
        let salt = r.base64("salt", SALT_MIN, SALT_MAX)?;
        r.literal("$")?;
        let hash = r.base64("hash", OUTPUT_MIN, OUTPUT_MAX)?;
        if r.pos != text.len() {
            return Err(AccountsError::HashMalformed {
                offset: r.pos,
                expected: "the end of the string",
            });
        }
        Ok(Self { params, salt, hash })
    }

    /// The PHC string.
    #[must_use]
    pub fn to_phc(&self) -> String {
        format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_kib,
            self.params.t,
            self.params.p,
            BASE64_NOPAD.encode(&self.salt),
            BASE64_NOPAD.encode(&self.hash)
        )
    }
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn literal(&mut self, lit: &'static str) -> Result<(), AccountsError> {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(AccountsError::HashMalformed {
                offset: self.pos,
                expected: lit,
            })
        }
    }

    fn until_dollar(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest.find('$').unwrap_or(rest.len());
        self.pos += end;
        rest.get(..end).unwrap_or_default()
    }

    /// A decimal u32 without leading zeros (PHC's rule, which makes the format canonical).
    fn number(&mut self) -> Result<u32, AccountsError> {
        let rest = self.rest();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let malformed = |expected| AccountsError::HashMalformed {
            offset: self.pos,
            expected,
        };
        if digits == 0 {
            return Err(malformed("a decimal number"));
        }
        let text = rest.get(..digits).unwrap_or_default();
        if digits > 1 && text.starts_with('0') {
            return Err(malformed("a number without leading zeros"));
        }
        let value = text
            .parse::<u32>()
            .map_err(|_| malformed("a number below 2^32"))?;
        self.pos += digits;
        Ok(value)
    }

    fn base64(
        &mut self,
        parameter: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, AccountsError> {
        let offset = self.pos;
        let field = self.until_dollar();
        let bytes =
            BASE64_NOPAD
                .decode(field.as_bytes())
                .map_err(|_| AccountsError::HashMalformed {
                    offset,
                    expected: "unpadded standard base64",
                })?;
        if !(min..=max).contains(&bytes.len()) {
            return Err(out_of_range(
                parameter,
                bytes.len() as u64,
                min as u64,
                max as u64,
            ));
        }
        Ok(bytes)
    }
}

impl fmt::Debug for PassphraseHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseHash")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Serialize for PassphraseHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_phc())
    }
}

impl<'de> Deserialize<'de> for PassphraseHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters for unit tests that are about the format, not the cost.
    fn cheap() -> HashParams {
        HashParams::bounded(64, 1, 1).unwrap()
    }

    const GOOD: &str = "mauve tractor sings to the quiet lighthouse";

    #[test]
    fn a_good_passphrase_is_accepted_and_verifies() {
        let p = Passphrase::new(GOOD, &["alice"]).unwrap();
        let h = PassphraseHash::create(p.0.as_bytes(), &cheap()).unwrap();
        assert!(matches!(
            h.verify(&p.as_attempt(), &cheap()).unwrap(),
            Verification::Match
        ));
        let wrong = PassphraseAttempt::new("mauve tractor sings to the quiet lighthousf").unwrap();
        assert!(matches!(
            h.verify(&wrong, &cheap()).unwrap(),
            Verification::Mismatch
        ));
    }

    #[test]
    fn length_counts_characters_after_nfkc() {
        // 15 full-width letters normalise to 15 ASCII letters; 14 do not reach the minimum
        // whatever their byte length.
        let fourteen = "ｘｑｊｚｖｗｋｐｆｈｇｂｙｍ";
        assert!(matches!(
            Passphrase::new(fourteen, &[]),
            Err(AccountsError::PassphraseTooShort {
                characters: 14,
                minimum: 15
            })
        ));
        // "e" + combining acute composes to one character: 28 scalars in, 14 out.
        let composed = "e\u{301}".repeat(14);
        assert!(matches!(
            Passphrase::new(&composed, &[]),
            Err(AccountsError::PassphraseTooShort { characters: 14, .. })
        ));
        // The ligature "ﬃ" is three characters after NFKC.
        let a = PassphraseAttempt::new("\u{FB03}").unwrap();
        assert_eq!(&*a.0, "ffi");
    }

    #[test]
    fn the_same_passphrase_in_two_unicode_spellings_verifies() {
        let precomposed = "Éléphant rose qui danse sur la table";
        let decomposed = "E\u{301}le\u{301}phant rose qui danse sur la table";
        let p = Passphrase::new(precomposed, &[]).unwrap();
        let h = PassphraseHash::create(p.0.as_bytes(), &cheap()).unwrap();
        let attempt = PassphraseAttempt::new(decomposed).unwrap();
        assert!(h.verify(&attempt, &cheap()).unwrap().is_match());
    }

    #[test]
    fn too_long_is_refused_before_any_work() {
        let huge = "a".repeat(10 * 1024 * 1024);
        assert!(matches!(
            Passphrase::new(&huge, &[]),
            Err(AccountsError::PassphraseTooLong { maximum: 256 })
        ));
        assert!(matches!(
            PassphraseAttempt::new(&huge),
            Err(AccountsError::PassphraseTooLong { .. })
        ));
        // The character limit applies after normalisation, well under the byte limit.
        assert!(matches!(
            PassphraseAttempt::new(&"a".repeat(257)),
            Err(AccountsError::PassphraseTooLong { .. })
        ));
        assert!(PassphraseAttempt::new(&"a".repeat(256)).is_ok());
        // A decomposition bomb inside the byte limit stops at the character limit.
        assert!(matches!(
            PassphraseAttempt::new(&"\u{FDFA}".repeat(1000)),
            Err(AccountsError::PassphraseTooLong { .. })
        ));
    }

    #[test]
    fn control_characters_are_refused() {
        let text = "mauve tractor sings\nto the quiet lighthouse";
        assert!(matches!(
            Passphrase::new(text, &[]),
            Err(AccountsError::PassphraseControlCharacter { position: 19 })
        ));
    }

    #[test]
    fn weak_passphrases_say_why() {
        let cases: &[(&str, &[&str], Weakness)] = &[
            ("password1234567", &[], Weakness::CommonPassword),
            ("Password123456!", &[], Weakness::CommonPassword),
            ("1qaz2wsx3edc4rfv", &[], Weakness::CommonPassword),
            ("trustno1trustno1", &[], Weakness::Repetition),
            ("Summer2024Summer", &[], Weakness::CommonWords),
            ("xcvbnm,.sdfghjkl", &[], Weakness::KeyboardPattern),
            ("aaaaaaaaaaaaaaaaaaaa", &[], Weakness::Repetition),
            ("abcdefghijklmnopqrstu", &[], Weakness::Sequence),
            (
                "jonathan.whitaker1987",
                &["jonathan.whitaker"],
                Weakness::PersonalInformation,
            ),
        ];
        for (text, personal, expected) in cases {
            match Passphrase::new(text, personal) {
                Err(AccountsError::PassphraseWeak {
                    weakness,
                    guesses_log10,
                }) => {
                    assert_eq!(weakness, *expected, "{text}");
                    assert!(guesses_log10 < MIN_GUESSES_LOG10);
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn secrets_never_print() {
        let p = Passphrase::new(GOOD, &[]).unwrap();
        assert!(!format!("{p:?} {p}").contains("tractor"));
        let a = p.as_attempt();
        assert!(!format!("{a:?} {a}").contains("tractor"));
        let h = PassphraseHash::create(p.0.as_bytes(), &cheap()).unwrap();
        let debug = format!("{h:?}");
        assert!(!debug.contains(&BASE64_NOPAD.encode(&h.hash)), "{debug}");
    }

    #[test]
    fn phc_strings_round_trip_and_are_canonical() {
        let p = Passphrase::new(GOOD, &[]).unwrap();
        let h = PassphraseHash::create(p.0.as_bytes(), &cheap()).unwrap();
        let text = h.to_phc();
        assert!(text.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{text}");
        assert_eq!(PassphraseHash::parse(&text).unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<PassphraseHash>(&json).unwrap(), h);
        for (bad, offset) in [
            ("", 0),
            (
                "$argon2id$v=19$m=064,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                17,
            ),
            (
                "$argon2id$v=19$m=64,t=1,p=1,keyid=x$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
                27,
            ),
            (
                "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA",
                28,
            ),
            (
                "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA$",
                62,
            ),
        ] {
            match PassphraseHash::parse(bad) {
                Err(AccountsError::HashMalformed { offset: o, .. }) => {
                    assert_eq!(o, offset, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(
            PassphraseHash::parse("$argon2i$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"),
            Err(AccountsError::HashUnsupported {
                field: "algorithm",
                ..
            })
        ));
        assert!(matches!(
            PassphraseHash::parse("$argon2id$v=16$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"),
            Err(AccountsError::HashUnsupported {
                field: "version",
                ..
            })
        ));
        assert!(matches!(
            PassphraseHash::parse(
                "$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"
            ),
            Err(AccountsError::HashParameterOutOfRange {
                parameter: "m (KiB)",
                ..
            })
        ));
    }

    #[test]
    fn a_hash_of_the_reference_implementation_verifies() {
        // Made by the reference implementation (Debian `argon2` 0~20171227):
        //   echo -n password | argon2 somesalt -id -t 2 -k 65536 -p 4 -e
        let phc = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo";
        let h = PassphraseHash::parse(phc).unwrap();
        assert_eq!(h.params(), HashParams::bounded(65536, 2, 4).unwrap());
        let attempt = PassphraseAttempt::new("password").unwrap();
        assert!(h.verify(&attempt, &h.params()).unwrap().is_match());
        let wrong = PassphraseAttempt::new("passwore").unwrap();
        assert!(!h.verify(&wrong, &h.params()).unwrap().is_match());
    }

    #[test]
    fn older_parameters_are_rehashed_on_login() {
        let p = Passphrase::new(GOOD, &[]).unwrap();
        let old = PassphraseHash::create(p.0.as_bytes(), &cheap()).unwrap();
        let newer = HashParams::bounded(128, 2, 1).unwrap();
        match old.verify(&p.as_attempt(), &newer).unwrap() {
            Verification::MatchRehashed(h) => {
                assert_eq!(h.params(), newer);
                assert!(matches!(
                    h.verify(&p.as_attempt(), &newer).unwrap(),
                    Verification::Match
                ));
            }
            other => panic!("{other:?}"),
        }
        // A wrong attempt is never rehashed.
        let wrong = PassphraseAttempt::new("something else entirely").unwrap();
        assert!(matches!(
            old.verify(&wrong, &newer).unwrap(),
            Verification::Mismatch
        ));
    }

    #[test]
    fn params_below_owasp_are_refused() {
        assert_eq!(HashParams::default(), HashParams::new(65536, 3, 4).unwrap());
        assert!(HashParams::new(19 * 1024, 2, 1).is_ok());
        assert!(HashParams::new(47104, 1, 1).is_ok());
        assert!(matches!(
            HashParams::new(19 * 1024, 1, 1),
            Err(AccountsError::HashParameterOutOfRange { parameter: "t", .. })
        ));
        assert!(matches!(
            HashParams::new(4096, 64, 1),
            Err(AccountsError::HashParameterOutOfRange {
                parameter: "m (KiB)",
                ..
            })
        ));
    }
}
