//! Login sessions: their tokens, their limits, and the CSRF token bound to each.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::hmac;
use medguard_host::Clock;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::TokenKey;
use crate::error::{AccountsError, TokenKind};
use crate::roles::UserName;
use crate::secret::{bearer_token, ct_eq, parse_token_bytes};

bearer_token!(
    /// A login session's token: the value of the `__Host-` cookie.
    SessionToken,
    TokenKind::Session,
    "medguard session v1"
);

/// A session's CSRF token, to embed in every form and send with every change.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token's text.
    #[must_use]
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(<redacted>)")
    }
}

const CSRF_LABEL: &[u8] = b"medguard csrf v1";

impl SessionToken {
    /// The CSRF token of this session.
    #[must_use]
    pub fn csrf_token(&self) -> CsrfToken {
        CsrfToken(crate::secret::encode_token(&self.csrf_bytes()))
    }

    fn csrf_bytes(&self) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0[..]);
        let tag = hmac::sign(&key, CSRF_LABEL);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Checks the CSRF token a request presented (`None`: it had none).
    ///
    /// # Errors
    /// [`AccountsError::CsrfMismatch`], for a missing, malformed or wrong token alike.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), AccountsError> {
        let presented = presented.ok_or(AccountsError::CsrfMismatch)?;
        let bytes = parse_token_bytes(presented, TokenKind::Csrf)
            .map_err(|_| AccountsError::CsrfMismatch)?;
        if ct_eq(&bytes[..], &self.csrf_bytes()) {
            Ok(())
        } else {
            Err(AccountsError::CsrfMismatch)
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SessionEnd {
    /// No request for longer than the idle timeout.
    Idle,
    /// Older than the absolute lifetime.
    Lifetime,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idle => "idle too long",
            Self::Lifetime => "its lifetime is over",
        })
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    idle: Duration,
    absolute: Duration,
}

impl SessionPolicy {
    /// Default idle timeout: 15 minutes.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(15 * 60);
    /// Default absolute lifetime: 12 hours.
    pub const DEFAULT_ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
    /// Longest absolute lifetime accepted: 24 hours.
    pub const MAX_ABSOLUTE: Duration = Duration::from_secs(24 * 60 * 60);

    /// A policy.
    ///
    /// # Errors
    /// [`AccountsError::Policy`]: a zero idle timeout, an idle timeout above the
    /// lifetime, or a lifetime above 24 h.
    pub fn new(idle: Duration, absolute: Duration) -> Result<Self, AccountsError> {
        let problem = if idle < Duration::from_secs(60) {
            Some("the idle timeout must be at least one minute")
        } else if idle > absolute {
            Some("the idle timeout must not exceed the absolute lifetime")
        } else if absolute > Self::MAX_ABSOLUTE {
            Some("the absolute lifetime must not exceed 24 hours")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(AccountsError::Policy { problem }),
            None => Ok(Self { idle, absolute }),
        }
    }

    /// The idle timeout.
    #[must_use]
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute lifetime.
    #[must_use]
    pub fn absolute(&self) -> Duration {
        self.absolute
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Self::DEFAULT_IDLE,
            absolute: Self::DEFAULT_ABSOLUTE,
        }
    }
}

/// Login sessions: their tokens, their limits, and the CSRF token bound to each.
///
/// The cookie carries a [`SessionToken`] (256 random bits). The server stores only its
/// [`TokenKey`] in a [`Session`] record, so a copy of the database lets no one in. A login
/// always starts a new session with a new token (rotation at login: a token planted in the
/// browser before login, session fixation, is worth nothing after it); the server ends
/// whatever session the browser presented before.
///
/// A session ends after [`SessionPolicy::idle`] without a request (default 15 min) and after
/// [`SessionPolicy::absolute`] whatever happens (default 12 h).
///
/// The CSRF token is HMAC-SHA-256 of a fixed label keyed by the session token: bound to the
/// session, stored nowhere, derived again on each request from the cookie, and compared in
/// constant time.
///
/// What the server stores of a login session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The token's storage key: what the server looks the session up by.
    pub key: TokenKey,
    /// Whose session.
    pub user: UserName,
    /// When the person logged in.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The last request.
    #[serde(with = "time::serde::rfc3339")]
    pub last_active: OffsetDateTime,
}

impl Session {
    /// Starts a session at login, with a new token (the cookie value, given to the browser
    /// once).
    ///
    /// # Errors
    /// [`AccountsError::Randomness`].
    pub fn start(
        user: &UserName,
        clock: &dyn Clock,
    ) -> Result<(SessionToken, Self), AccountsError> {
        let token = SessionToken::generate()?;
        let now = clock.now();
        let session = Self {
            key: token.key(),
            user: user.clone(),
            created_at: now,
            last_active: now,
        };
        Ok((token, session))
    }

    /// Whether the session is still alive.
    ///
    /// # Errors
    /// [`AccountsError::SessionEnded`] with the reason.
    pub fn check(&self, policy: &SessionPolicy, clock: &dyn Clock) -> Result<(), AccountsError> {
        let now = clock.now();
        if now >= self.created_at + policy.absolute {
            return Err(AccountsError::SessionEnded {
                end: SessionEnd::Lifetime,
            });
        }
        if now >= self.last_active + policy.idle {
            return Err(AccountsError::SessionEnded {
                end: SessionEnd::Idle,
            });
        }
        Ok(())
    }

    /// Checks the session and records a request.
    ///
    /// # Errors
    /// [`AccountsError::SessionEnded`].
    pub fn touch(
        &mut self,
        policy: &SessionPolicy,
        clock: &dyn Clock,
    ) -> Result<(), AccountsError> {
        self.check(policy, clock)?;
        self.last_active = clock.now().max(self.last_active);
        Ok(())
    }

    /// When the session ends if no request comes (for the cookie's expiry).
    #[must_use]
    pub fn expires_at(&self, policy: &SessionPolicy) -> OffsetDateTime {
        (self.last_active + policy.idle).min(self.created_at + policy.absolute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medguard_host::ManualClock;
    use time::macros::datetime;

    fn alice() -> UserName {
        UserName::parse("alice").unwrap()
    }

    #[test]
    fn every_login_gets_a_new_token() {
        let clock = ManualClock::new(datetime!(2026-03-01 08:00 UTC));
        let (a, sa) = Session::start(&alice(), &clock).unwrap();
        let (b, sb) = Session::start(&alice(), &clock).unwrap();
        assert_ne!(a.key(), b.key());
        assert_ne!(sa.key, sb.key);
        assert_eq!(sa.key, a.key());
    }

    #[test]
    fn idle_timeout_and_absolute_lifetime() {
        let clock = ManualClock::new(datetime!(2026-03-01 08:00 UTC));
        let policy = SessionPolicy::default();
        let (_, mut s) = Session::start(&alice(), &clock).unwrap();
        // Active every 14 minutes: alive until the 12th hour.
        for _ in 0..51 {
            clock.advance(Duration::from_secs(14 * 60));
            s.touch(&policy, &clock).unwrap();
        }
        clock.advance(Duration::from_secs(14 * 60));
        assert!(matches!(
            s.touch(&policy, &clock),
            Err(AccountsError::SessionEnded {
                end: SessionEnd::Lifetime
            })
        ));
        let (_, s) = Session::start(&alice(), &clock).unwrap();
        clock.advance(Duration::from_secs(15 * 60 - 1));
        s.check(&policy, &clock).unwrap();
        assert_eq!(
            s.expires_at(&policy),
            s.created_at + Duration::from_secs(15 * 60)
        );
        clock.advance(Duration::from_secs(1));
        assert!(matches!(
            s.check(&policy, &clock),
            Err(AccountsError::SessionEnded {
                end: SessionEnd::Idle
            })
        ));
    }

    #[test]
    fn policies_are_configurable_within_bounds() {
        let p = SessionPolicy::new(Duration::from_secs(300), Duration::from_secs(3600)).unwrap();
        assert_eq!(p.idle(), Duration::from_secs(300));
        for (idle, abs) in [(0, 3600), (30, 3600), (7200, 3600), (600, 25 * 3600)] {
            assert!(matches!(
                SessionPolicy::new(Duration::from_secs(idle), Duration::from_secs(abs)),
                Err(AccountsError::Policy { .. })
            ));
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let clock = ManualClock::new(datetime!(2026-03-01 08:00 UTC));
        let (a, _) = Session::start(&alice(), &clock).unwrap();
        let (b, _) = Session::start(&alice(), &clock).unwrap();
        let ta = a.csrf_token();
        a.check_csrf(Some(ta.reveal())).unwrap();
        assert_eq!(a.csrf_token(), ta, "derived again, the same");
        assert!(matches!(
            b.check_csrf(Some(ta.reveal())),
            Err(AccountsError::CsrfMismatch)
        ));
        assert!(matches!(
            a.check_csrf(None),
            Err(AccountsError::CsrfMismatch)
        ));
        assert!(matches!(
            a.check_csrf(Some("")),
            Err(AccountsError::CsrfMismatch)
        ));
        assert!(matches!(
            a.check_csrf(Some(&a.reveal())),
            Err(AccountsError::CsrfMismatch)
        ));
        assert!(!format!("{ta:?}").contains(ta.reveal()));
    }
}
