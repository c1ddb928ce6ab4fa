//! What to ask a person who signs (FDA 21 CFR Part 11 §11.200(a)(1)).

use std::fmt;
use std::time::Duration;

use medguard_host::Clock;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::TokenKey;
use crate::error::AccountsError;
use crate::session::Session;

/// What must be asked at a signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningChallenge {
    /// The passphrase alone (a later signing within a continuous session).
    Passphrase,
    /// The passphrase and a TOTP code.
    PassphraseAndTotp,
}

impl fmt::Display for SigningChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passphrase => "the passphrase",
            Self::PassphraseAndTotp => "the passphrase and an authenticator code",
        })
    }
}

/// A continuous period of signing within one login session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSession {
    /// The login session it belongs to.
    pub login: TokenKey,
    /// The first signing (with both components).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The latest signing.
    #[serde(with = "time::serde::rfc3339")]
    pub last_signed_at: OffsetDateTime,
    /// Signings in this period.
    pub signatures: u32,
}

/// What to ask a person who signs (FDA 21 CFR Part 11 §11.200(a)(1)).
///
/// - (ii) Signings outside a continuous period of controlled access ask every component: the
///   passphrase and a TOTP code.
/// - (i) Within one continuous period, the first signing asks every component and each later
///   one at least the passphrase (the component only its owner knows).
///
/// A continuous period is a [`SigningSession`]: bound to one login session, started by a
/// signing with both components, and ended by [`SigningPolicy::inactivity`] without a signing
/// (default 5 minutes), by the login session ending, or by a new login. The server keeps the
/// record beside the login session and asks [`SigningPolicy::challenge`] before each signing,
/// then [`SigningPolicy::record`] after the components checked out. A failed signing attempt
/// should drop the record (the next one asks both again).
///
/// How long a signing session survives without a signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningPolicy {
    inactivity: Duration,
}

impl SigningPolicy {
    /// Default inactivity limit: 5 minutes.
    pub const DEFAULT_INACTIVITY: Duration = Duration::from_secs(5 * 60);
    /// Longest inactivity limit accepted: 30 minutes ("short").
    pub const MAX_INACTIVITY: Duration = Duration::from_secs(30 * 60);

    /// A policy with an inactivity limit of at most 30 minutes.
    ///
    /// # Errors
    /// [`AccountsError::Policy`].
    pub fn new(inactivity: Duration) -> Result<Self, AccountsError> {
        if inactivity.is_zero() || inactivity > Self::MAX_INACTIVITY {
            return Err(AccountsError::Policy {
                problem: "the signing inactivity limit must be between 1 s and 30 min",
            });
        }
        Ok(Self { inactivity })
    }

    /// The inactivity limit.
    #[must_use]
    pub fn inactivity(&self) -> Duration {
        self.inactivity
    }

    fn continuous(&self, login: &Session, signing: &SigningSession, now: OffsetDateTime) -> bool {
        signing.login == login.key && now < signing.last_signed_at + self.inactivity
    }

    /// What to ask now of the person signed in with `login`, given their signing session.
    /// The caller has checked that `login` itself is alive.
    #[must_use]
    pub fn challenge(
        &self,
        login: &Session,
        signing: Option<&SigningSession>,
        clock: &dyn Clock,
    ) -> SigningChallenge {
        match signing {
            Some(s) if self.continuous(login, s, clock.now()) => SigningChallenge::Passphrase,
            _ => SigningChallenge::PassphraseAndTotp,
        }
    }

    /// Records a signing for which the caller checked `presented`, and returns the signing
    /// session to keep.
    ///
    /// # Errors
    /// [`AccountsError::SigningComponentsMissing`] when `presented` is less than
    /// [`SigningPolicy::challenge`] asks now.
    pub fn record(
        &self,
        login: &Session,
        previous: Option<&SigningSession>,
        presented: SigningChallenge,
        clock: &dyn Clock,
    ) -> Result<SigningSession, AccountsError> {
        let needed = self.challenge(login, previous, clock);
        if presented < needed {
            return Err(AccountsError::SigningComponentsMissing { needed, presented });
        }
        let now = clock.now();
        Ok(match previous {
            Some(p) if self.continuous(login, p, now) => SigningSession {
                last_signed_at: now,
                signatures: p.signatures.saturating_add(1),
                ..p.clone()
            },
            _ => SigningSession {
                login: login.key,
                started_at: now,
                last_signed_at: now,
                signatures: 1,
            },
        })
    }
}

impl Default for SigningPolicy {
    fn default() -> Self {
        Self {
            inactivity: Self::DEFAULT_INACTIVITY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserName;
    use medguard_host::ManualClock;
    use time::macros::datetime;

    #[test]
    fn first_signing_both_later_the_passphrase_until_inactivity() {
        let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
        let user = UserName::parse("val").unwrap();
        let (_, login) = Session::start(&user, &clock).unwrap();
        let policy = SigningPolicy::default();
        assert_eq!(
            policy.challenge(&login, None, &clock),
            SigningChallenge::PassphraseAndTotp
        );
        assert!(matches!(
            policy.record(&login, None, SigningChallenge::Passphrase, &clock),
            Err(AccountsError::SigningComponentsMissing { .. })
        ));
        let s = policy
            .record(&login, None, SigningChallenge::PassphraseAndTotp, &clock)
            .unwrap();
        clock.advance(Duration::from_secs(4 * 60));
        assert_eq!(
            policy.challenge(&login, Some(&s), &clock),
            SigningChallenge::Passphrase
        );
        let s = policy
            .record(&login, Some(&s), SigningChallenge::Passphrase, &clock)
            .unwrap();
        assert_eq!(s.signatures, 2);
        // Five minutes without a signing end the period.
        clock.advance(Duration::from_secs(5 * 60));
        assert_eq!(
            policy.challenge(&login, Some(&s), &clock),
            SigningChallenge::PassphraseAndTotp
        );
        let s2 = policy
            .record(
                &login,
                Some(&s),
                SigningChallenge::PassphraseAndTotp,
                &clock,
            )
            .unwrap();
        assert_eq!(s2.signatures, 1);
        // Another login session is another period.
        let (_, other) = Session::start(&user, &clock).unwrap();
        assert_eq!(
            policy.challenge(&other, Some(&s2), &clock),
            SigningChallenge::PassphraseAndTotp
        );
    }

    #[test]
    fn the_inactivity_limit_is_short() {
        assert!(SigningPolicy::new(Duration::from_secs(31 * 60)).is_err());
        assert!(SigningPolicy::new(Duration::ZERO).is_err());
        assert!(SigningPolicy::new(Duration::from_secs(60)).is_ok());
    }
}
