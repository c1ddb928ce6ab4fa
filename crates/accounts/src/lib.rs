//! People on the medguard server: the security-critical rules, small and tested against
//! vectors, with time always from a [`medguard_host::Clock`].
//!
//! This crate owns:
//! - passphrases: [`Passphrase`] (a new one: NFKC, 15 to 256 characters, not guessable),
//!   [`PassphraseAttempt`] (a login), [`PassphraseHash`] (argon2id in a PHC string);
//! - TOTP (RFC 6238): [`TotpSecret`], [`TotpCode`], [`TimeStep`] (no replay),
//!   [`TotpEnrollment`] with its QR code in SVG;
//! - recovery codes: [`RecoveryCodes`];
//! - roles and permissions in one table ([`ROLE_TABLE`]) and the one authorisation question,
//!   [`may`];
//! - login sessions and their CSRF tokens: [`Session`], [`SessionToken`], [`SessionPolicy`];
//! - online-guessing limits: [`ThrottlePolicy`];
//! - break-glass: [`BreakGlass`];
//! - what to ask at an electronic signature (21 CFR Part 11 §11.200): [`SigningPolicy`];
//! - one-time set-up links and API tokens: [`SetupLink`], [`ApiTokenRecord`].
//!
//! It must not do HTTP, SQL, or I/O of any kind, must not print, and must not read the clock
//! except through the `Clock` it is given. Its types are plain data the server stores (most
//! are `serde`); bearer secrets are stored only as digests ([`TokenKey`]).
//!
//! Secrets (passphrases, TOTP secrets and codes, tokens, recovery codes) never appear in
//! `Debug` or `Display`; they are shown once through a method named `reveal` and zeroed in
//! memory when dropped. Every comparison of a secret is constant-time.
//!
//! The reasons behind each choice (parameters, limits, hash choices, the throttling design, the
//! dependencies) are in [`manual`].
#![forbid(unsafe_code)]

mod break_glass;
mod error;
pub mod manual;
mod passphrase;
mod recovery;
mod roles;
mod secret;
mod session;
mod setup;
mod signing;
mod throttle;
mod totp;

pub use break_glass::{
    BreakGlass, BreakGlassState, DEFAULT_DURATION as BREAK_GLASS_DEFAULT_DURATION, Ending,
    MAX_DURATION as BREAK_GLASS_MAX_DURATION, REASON_MAX as BREAK_GLASS_REASON_MAX,
    REASON_MIN as BREAK_GLASS_REASON_MIN, Review,
};
pub use error::{AccountsError, TokenKind};
pub use passphrase::{
    HashParams, MAX_CHARACTERS, MAX_INPUT_BYTES, MIN_CHARACTERS, MIN_GUESSES_LOG10, Passphrase,
    PassphraseAttempt, PassphraseHash, Verification, Weakness,
};
pub use recovery::{
    COUNT as RECOVERY_CODE_COUNT, RecoveryCode, RecoveryCodeAttempt, RecoveryCodes, RecoverySlot,
};
pub use roles::{
    Actor, Authority, BREAK_GLASS_RAISES, Grant, Permission, PermissionSet, ROLE_TABLE, Refusal,
    Role, Scope, ScopeRule, SiteId, Target, UserName, may,
};
pub use secret::TokenKey;
pub use session::{CsrfToken, Session, SessionEnd, SessionPolicy, SessionToken};
pub use setup::{
    API_TOKEN_MAX_LIFETIME, ApiToken, ApiTokenRecord, Credentials, SETUP_VALIDITY, SetupLink,
    SetupPurpose, SetupToken,
};
pub use signing::{SigningChallenge, SigningPolicy, SigningSession};
pub use throttle::{
    AccountThrottle, AddressThrottle, GuessBudget, HoldRelease, NIST_MAX_CONSECUTIVE_FAILURES,
    ThrottleAlert, ThrottleCause, ThrottlePolicy,
};
pub use totp::{
    DIGITS as TOTP_DIGITS, PERIOD_SECONDS as TOTP_PERIOD_SECONDS, TimeStep, TotpCode,
    TotpEnrollment, TotpSecret, qr_svg,
};
