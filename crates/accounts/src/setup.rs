//! One-time set-up links (the first administrator, a new person, a reset) and API tokens.

use std::time::Duration;

use medguard_host::Clock;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::TokenKey;
use crate::error::{AccountsError, TokenKind};
use crate::passphrase::{HashParams, Passphrase, PassphraseHash};
use crate::recovery::{RecoveryCode, RecoveryCodes};
use crate::roles::{Grant, PermissionSet, UserName};
use crate::secret::bearer_token;
use crate::totp::{TimeStep, TotpCode, TotpSecret};

bearer_token!(
    /// The secret part of a set-up link (`https://server/setup/TOKEN`), shown once.
    SetupToken,
    TokenKind::Setup,
    "medguard setup link v1"
);

bearer_token!(
    /// A script's API token (`Authorization: Bearer TOKEN`), shown once.
    ApiToken,
    TokenKind::Api,
    "medguard api token v1"
);

/// How long a set-up link is valid.
pub const SETUP_VALIDITY: Duration = Duration::from_secs(24 * 60 * 60);

/// What a set-up link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetupPurpose {
    /// The first administrator, from `server init`.
    FirstAdministrator,
    /// A person just added.
    NewAccount,
    /// A person who lost a factor: their old credentials are replaced on completion.
    Reset,
}

/// One-time set-up links (the first administrator, a new person, a reset) and API tokens.
///
/// Nobody sets or learns another person's secrets: an administrator (or `server init`, or
/// `server user add/reset` on the server host) only issues a [`SetupLink`]. The person who
/// opens it chooses their own passphrase and enrols their own authenticator in
/// [`SetupLink::complete`], the only function of this crate that makes [`Credentials`]. The
/// link is valid 24 hours, works once, and is stored as a digest. (Whoever holds the link
/// before its owner uses it can enrol in their place: hand it over in person or through a
/// channel only the owner reads. A person who finds their link already used reports it; the
/// completion is in the audit log with its time and address.)
///
/// A set-up link as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLink {
    /// The token's digest: what the server looks the link up by.
    pub key: TokenKey,
    /// For whom.
    pub user: UserName,
    /// What for.
    pub purpose: SetupPurpose,
    /// When it was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was used; `None` while unused.
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

/// What a person's completed set-up gives the server to store (replacing any earlier
/// credentials of theirs). The recovery codes to show once come beside it.
#[derive(Debug)]
pub struct Credentials {
    /// The passphrase, hashed.
    pub passphrase: PassphraseHash,
    /// The TOTP secret.
    pub totp: TotpSecret,
    /// The step of the code that confirmed enrolment: the first "last accepted" step, so that
    /// code cannot be used again to sign in.
    pub last_totp_step: TimeStep,
    /// The recovery codes, hashed.
    pub recovery: RecoveryCodes,
}

impl SetupLink {
    /// Issues a link for `user`. The server keeps one link per person (a new one replaces an
    /// unused older one).
    ///
    /// # Errors
    /// [`AccountsError::Randomness`].
    pub fn issue(
        user: &UserName,
        purpose: SetupPurpose,
        clock: &dyn Clock,
    ) -> Result<(SetupToken, Self), AccountsError> {
        let token = SetupToken::generate()?;
        let now = clock.now();
        Ok((
            token.clone(),
            Self {
                key: token.key(),
                user: user.clone(),
                purpose,
                created_at: now,
                expires_at: now + SETUP_VALIDITY,
                used_at: None,
            },
        ))
    }

    /// Whether `token` opens this link now (when the set-up page is shown).
    ///
    /// # Errors
    /// [`AccountsError::SetupTokenWrong`], [`AccountsError::SetupTokenUsed`],
    /// [`AccountsError::SetupTokenExpired`].
    pub fn check(&self, token: &SetupToken, clock: &dyn Clock) -> Result<(), AccountsError> {
        if !self.key.ct_eq(&token.key()) {
            return Err(AccountsError::SetupTokenWrong);
        }
        if let Some(used_at) = self.used_at {
            return Err(AccountsError::SetupTokenUsed { used_at });
        }
        if clock.now() >= self.expires_at {
            return Err(AccountsError::SetupTokenExpired {
                expired_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Completes the set-up: the person chose `passphrase` and confirmed `secret` (shown to
    /// them as a QR code) with `code` from their authenticator. Marks the link used and returns
    /// their credentials and the recovery codes to show once. Nothing is changed if any part
    /// fails: the person corrects it and submits again.
    ///
    /// # Errors
    /// Those of [`check`](Self::check); [`AccountsError::TotpWrong`]; hashing and randomness
    /// failures.
    pub fn complete(
        &mut self,
        token: &SetupToken,
        passphrase: &Passphrase,
        secret: TotpSecret,
        code: &TotpCode,
        params: &HashParams,
        clock: &dyn Clock,
    ) -> Result<(Credentials, Vec<RecoveryCode>), AccountsError> {
        self.check(token, clock)?;
        let last_totp_step = secret.verify(code, clock, None)?;
        let hash = passphrase.hash(params)?;
        let (shown, recovery) = RecoveryCodes::generate()?;
        self.used_at = Some(clock.now());
        Ok((
            Credentials {
                passphrase: hash,
                totp: secret,
                last_totp_step,
                recovery,
            },
            shown,
        ))
    }
}

/// Longest an API token may live.
pub const API_TOKEN_MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// An API token as the server stores it: owned by a person, carrying a subset of their role's
/// permissions, expiring, revocable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// The token's digest.
    pub key: TokenKey,
    /// Whose.
    pub owner: UserName,
    /// What it may do (never more than the owner's role: [`crate::may`] checks both).
    pub permissions: PermissionSet,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiTokenRecord {
    /// Makes a token for `owner` (holding `grant`) with `permissions` for `lifetime`.
    ///
    /// # Errors
    /// [`AccountsError::ApiTokenBeyondRole`], [`AccountsError::Policy`] (a lifetime of
    /// zero or above a year), [`AccountsError::Randomness`].
    pub fn issue(
        owner: &UserName,
        grant: &Grant,
        permissions: PermissionSet,
        lifetime: Duration,
        clock: &dyn Clock,
    ) -> Result<(ApiToken, Self), AccountsError> {
        if !permissions.is_subset(grant.role().permissions()) {
            return Err(AccountsError::ApiTokenBeyondRole { role: grant.role() });
        }
        if lifetime.is_zero() || lifetime > API_TOKEN_MAX_LIFETIME {
            return Err(AccountsError::Policy {
                problem: "an API token lives between 1 s and 366 days",
            });
        }
        let token = ApiToken::generate()?;
        let now = clock.now();
        Ok((
            token.clone(),
            Self {
                key: token.key(),
                owner: owner.clone(),
                permissions,
                created_at: now,
                expires_at: now + lifetime,
                revoked_at: None,
            },
        ))
    }

    /// Whether `token` is this record's and usable now; returns its permissions (for
    /// [`crate::Actor::token`]).
    ///
    /// # Errors
    /// [`AccountsError::ApiTokenWrong`], [`AccountsError::ApiTokenRevoked`],
    /// [`AccountsError::ApiTokenExpired`].
    pub fn check(
        &self,
        token: &ApiToken,
        clock: &dyn Clock,
    ) -> Result<PermissionSet, AccountsError> {
        if !self.key.ct_eq(&token.key()) {
            return Err(AccountsError::ApiTokenWrong);
        }
        if let Some(revoked_at) = self.revoked_at {
            return Err(AccountsError::ApiTokenRevoked { revoked_at });
        }
        if clock.now() >= self.expires_at {
            return Err(AccountsError::ApiTokenExpired {
                expired_at: self.expires_at,
            });
        }
        Ok(self.permissions)
    }

    /// Revokes the token (again: no change).
    pub fn revoke(&mut self, clock: &dyn Clock) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(clock.now());
        }
    }
}
