//! The one error type of this crate.

use std::time::Duration;

use time::OffsetDateTime;

use crate::passphrase::Weakness;
use crate::roles::Role;
use crate::session::SessionEnd;
use crate::throttle::ThrottleCause;

/// What kind of bearer token or code a parse error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// A login session's cookie value.
    Session,
    /// A CSRF token of a session.
    Csrf,
    /// A one-time set-up or reset link's token.
    Setup,
    /// A script's API token.
    Api,
    /// The storage key (digest) of a token.
    StorageKey,
    /// A TOTP secret in base32.
    TotpSecret,
    /// A six-digit TOTP code.
    TotpCode,
    /// A recovery code.
    RecoveryCode,
    /// A user name.
    UserName,
    /// A site identifier.
    SiteId,
    /// A permission name.
    Permission,
    /// A role name.
    Role,
}

impl std::fmt::Display for TokenKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Session => "session token",
            Self::Csrf => "CSRF token",
            Self::Setup => "set-up token",
            Self::Api => "API token",
            Self::StorageKey => "token storage key",
            Self::TotpSecret => "TOTP secret",
            Self::TotpCode => "TOTP code",
            Self::RecoveryCode => "recovery code",
            Self::UserName => "user name",
            Self::SiteId => "site id",
            Self::Permission => "permission",
            Self::Role => "role",
        })
    }
}

/// Why an account operation was refused.
///
/// Variants carry what a caller needs to act (a person's next step, an audit record); none
/// carries a secret, and none says more than the person asking may know (a wrong passphrase
/// and an unknown account are told apart only by the caller, which must not tell them apart
/// to the client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountsError {
    /// A new passphrase has fewer characters than the minimum (after normalisation).
    #[error(
        "the passphrase has {characters} characters; at least {minimum} are needed (a few unrelated words make a good one)"
    )]
    PassphraseTooShort {
        /// Unicode scalar values after NFKC normalisation.
        characters: usize,
        /// The minimum.
        minimum: usize,
    },
    /// A passphrase longer than the maximum: refused before any hashing.
    #[error("the passphrase is longer than {maximum} characters")]
    PassphraseTooLong {
        /// The maximum, in characters after normalisation.
        maximum: usize,
    },
    /// A passphrase containing a control character (a line break, a NUL): most likely a
    /// pasting mistake, and not typeable at every login prompt.
    #[error("the passphrase contains a control character at character {position}")]
    PassphraseControlCharacter {
        /// Position (in characters, from 0) of the first one.
        position: usize,
    },
    /// A new passphrase an attacker would guess early.
    #[error("the passphrase is too easy to guess: {weakness}")]
    PassphraseWeak {
        /// What makes it guessable, and what to do instead.
        weakness: Weakness,
        /// log10 of the estimated guesses (zxcvbn), rounded down.
        guesses_log10: u32,
    },
    /// A stored passphrase hash (PHC string) that does not parse.
    #[error("passphrase hash: at byte {offset}: expected {expected}")]
    HashMalformed {
        /// Byte offset in the PHC string.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A stored passphrase hash of another algorithm or version.
    #[error("passphrase hash: unsupported {field} {actual:?} (expected {expected})")]
    HashUnsupported {
        /// Which field.
        field: &'static str,
        /// What it says.
        actual: String,
        /// What this crate reads.
        expected: &'static str,
    },
    /// An Argon2 parameter outside what this crate accepts.
    #[error("passphrase hash: {parameter} = {value} is outside {minimum}..={maximum}")]
    HashParameterOutOfRange {
        /// `m`, `t`, `p`, the salt or the output length.
        parameter: &'static str,
        /// The value given.
        value: u64,
        /// The least accepted.
        minimum: u64,
        /// The most accepted.
        maximum: u64,
    },
    /// The Argon2 implementation refused to hash.
    #[error("argon2id hashing failed")]
    Argon2(#[source] argon2::Error),
    /// A token, code or name that does not parse.
    #[error("malformed {kind}: {problem}")]
    Malformed {
        /// What was being parsed.
        kind: TokenKind,
        /// What is wrong (never the value itself: it may be a secret).
        problem: &'static str,
    },
    /// A TOTP code that matches none of the accepted time steps.
    #[error("the authenticator code is wrong")]
    TotpWrong,
    /// A TOTP code already accepted once (or older than one already accepted).
    #[error("the authenticator code was already used; wait for the next one")]
    TotpReplayed {
        /// The time step the code belongs to.
        step: u64,
        /// The last time step accepted for this person.
        last_accepted: u64,
    },
    /// The clock reads a time before 1970: no TOTP time step exists.
    #[error("the clock reads {now}, before the Unix epoch")]
    ClockBeforeEpoch {
        /// The time read.
        now: OffsetDateTime,
    },
    /// The QR code could not be drawn (the text is too long for any QR version).
    #[error("cannot draw a QR code of {bytes} bytes")]
    QrCode {
        /// Length of the text.
        bytes: usize,
        /// The encoder's reason.
        #[source]
        source: qrcode::types::QrError,
    },
    /// A recovery code that matches none of the person's codes.
    #[error("the recovery code is wrong")]
    RecoveryCodeWrong,
    /// A recovery code that was already used.
    #[error("this recovery code was already used on {used_at}")]
    RecoveryCodeUsed {
        /// When it was used.
        used_at: OffsetDateTime,
    },
    /// A set-up link whose token does not match.
    #[error("the set-up link is not valid")]
    SetupTokenWrong,
    /// A set-up link past its validity.
    #[error("the set-up link expired on {expired_at}; ask an administrator for a new one")]
    SetupTokenExpired {
        /// When it expired.
        expired_at: OffsetDateTime,
    },
    /// A set-up link already used.
    #[error("the set-up link was already used on {used_at}; ask an administrator for a new one")]
    SetupTokenUsed {
        /// When it was used.
        used_at: OffsetDateTime,
    },
    /// An API token past its expiry.
    #[error("the API token expired on {expired_at}")]
    ApiTokenExpired {
        /// When it expired.
        expired_at: OffsetDateTime,
    },
    /// An API token that was revoked.
    #[error("the API token was revoked on {revoked_at}")]
    ApiTokenRevoked {
        /// When it was revoked.
        revoked_at: OffsetDateTime,
    },
    /// An API token that does not match.
    #[error("the API token is not valid")]
    ApiTokenWrong,
    /// An API token asked for permissions its owner's role does not have.
    #[error("an API token may only carry permissions of its owner's role ({role})")]
    ApiTokenBeyondRole {
        /// The owner's role.
        role: Role,
    },
    /// A session that ended.
    #[error("the session ended ({end}); sign in again")]
    SessionEnded {
        /// Why.
        end: SessionEnd,
    },
    /// A change without the session's CSRF token, or with another one.
    #[error("the request's CSRF token is missing or does not match the session")]
    CsrfMismatch,
    /// A configured limit (session, signing, throttling, API token lifetime) that makes no
    /// sense or falls below what this crate guarantees.
    #[error("policy: {problem}")]
    Policy {
        /// What is wrong.
        problem: &'static str,
    },
    /// Too many failed sign-ins: wait, or ask a person.
    #[error("too many failed sign-ins ({cause}){}", retry_after.map(|d| format!("; try again in {} s", d.as_secs().max(1))).unwrap_or_default())]
    Throttled {
        /// Which limit applies.
        cause: ThrottleCause,
        /// How long until an attempt is considered again (`None`: only a person can lift it).
        retry_after: Option<Duration>,
    },
    /// A role given a scope it cannot have (a hospital role for all sites, a vendor role for
    /// one site).
    #[error("the role {role} cannot be scoped {scope}")]
    ScopeMismatch {
        /// The role.
        role: Role,
        /// The scope asked for, as text.
        scope: String,
    },
    /// A break-glass reason that is too short or too long to be a stated reason.
    #[error("a break-glass reason needs {minimum} to {maximum} characters; it has {characters}")]
    BreakGlassReason {
        /// Characters given (after trimming).
        characters: usize,
        /// The least accepted.
        minimum: usize,
        /// The most accepted.
        maximum: usize,
    },
    /// A break-glass duration beyond the maximum (or zero).
    #[error("a break-glass session lasts between 1 s and {maximum:?}; asked for {asked:?}")]
    BreakGlassDuration {
        /// What was asked.
        asked: Duration,
        /// The maximum.
        maximum: Duration,
    },
    /// The person's role has no break-glass right.
    #[error("the role {role} may not break the glass")]
    BreakGlassNotPermitted {
        /// Their role.
        role: Role,
    },
    /// A break-glass session that already ended (by itself or by hand).
    #[error("the break-glass session is no longer active")]
    BreakGlassNotActive,
    /// Only the person who broke the glass, or a reviewer, may end it early.
    #[error("{by} may not end another person's break-glass session")]
    BreakGlassEndRefused {
        /// Who tried.
        by: String,
    },
    /// A review of a break-glass session that is still running.
    #[error("a break-glass session is reviewed once it has ended")]
    BreakGlassStillActive,
    /// The person who broke the glass cannot review it.
    #[error("a break-glass session must be reviewed by a second person")]
    BreakGlassSelfReview,
    /// A break-glass session reviewed twice.
    #[error("this break-glass session was already reviewed by {by}")]
    BreakGlassAlreadyReviewed {
        /// The first reviewer.
        by: String,
    },
    /// A reviewer without the right to review this break-glass session.
    #[error("not permitted to review this break-glass session: {refusal}")]
    BreakGlassReviewRefused {
        /// Why.
        #[source]
        refusal: crate::roles::Refusal,
    },
    /// A signature recorded with fewer components than the policy asked.
    #[error("this signature needs {needed}; only {presented} was checked")]
    SigningComponentsMissing {
        /// What the policy asked.
        needed: crate::signing::SigningChallenge,
        /// What the caller checked.
        presented: crate::signing::SigningChallenge,
    },
    /// The operating system's random generator failed.
    #[error("the system random generator failed")]
    Randomness,
}
