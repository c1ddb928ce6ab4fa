//! Online guessing: how many sign-in failures an account and an address may have, and when.

use std::fmt;
use std::time::Duration;

use medguard_host::{Clock, ManualClock};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::AccountsError;
use crate::roles::UserName;

/// NIST's bound on consecutive failures on one account.
pub const NIST_MAX_CONSECUTIVE_FAILURES: u32 = 100;

/// Online guessing: how many sign-in failures an account and an address may have, and when.
///
/// The choice (defaults; see [`ThrottlePolicy::default`]):
///
/// - **Per account**, counting consecutive failures (a wrong passphrase, a wrong or replayed
///   TOTP code, a wrong recovery code) from any address: the first 5 cost nothing (people
///   mistype); after that each failure doubles the wait before the next attempt is considered,
///   from 1 s up to 5 min. The wait applies to the account whatever the address, so an attacker
///   with many addresses goes no faster than one with one.
/// - **At 10** consecutive failures an alert is raised for a person (the dashboard, the audit
///   log): someone notices long before the limit.
/// - **At 100** consecutive failures (NIST SP 800-63B §5.2.2: "no more than 100 consecutive
///   failed attempts on a single subscriber account") the account is *held*: no further attempt
///   is considered until a person releases it, an administrator or the site's security
///   officer, or the owner by proving a recovery code (120 random bits, which no online attacker
///   can guess). Reaching the hold takes at least 7.2 hours of sustained guessing (6 attempts
///   at once, 9 more after waits doubling from 1 s to 256 s, 511 s in all, then 85 waits of
///   5 min), and the alert went out 15 s after the first failure.
/// - **Per address**, counting failures on any account (a spray over many accounts from one
///   machine): 20 free, then a doubling wait from 1 s up to 15 min; forgotten after 24 h
///   without failure.
///
/// Why an attacker cannot lock a clinician out for ever: the waits are bounded (at most 5 min
/// per attempt on the account), a success resets the count, and the only lasting state, the
/// hold, ends by a person's decision or by the owner's recovery code, and can only be reached
/// after hours of failures that a person was told about. What it costs: while an attack is
/// under way, the clinician's own attempts share the account's wait (at most 5 min), and a
/// hospital behind one address shares its address budget; the alert is the cue to block the
/// attacker's address.
///
/// The check comes before any passphrase hashing, so a throttled attempt costs no argon2id.
/// A sign-in for a name that has no account is checked against the address alone, runs
/// [`PassphraseHash::verify_absent`](crate::PassphraseHash::verify_absent) and is recorded
/// against the address, so that neither timing nor throttling says which names exist (until the
/// sixth failure on one name, when an existing account starts to wait and a missing one does
/// not: a server that cares can keep an [`AccountThrottle`] per attempted name, bounded in
/// number).
///
/// The server keeps an [`AccountThrottle`] per account and an [`AddressThrottle`] per client
/// address, and calls [`ThrottlePolicy::check`] before, and
/// [`ThrottlePolicy::record_failure`] or [`ThrottlePolicy::record_success`] after, each attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    account_free: u32,
    account_base: Duration,
    account_max: Duration,
    alert_after: u32,
    hold_after: u32,
    address_free: u32,
    address_base: Duration,
    address_max: Duration,
    address_forget: Duration,
}

impl Default for ThrottlePolicy {
    /// 5 free failures per account then 1 s doubling to 5 min; alert at 10; hold at 100;
    /// 20 free failures per address then 1 s doubling to 15 min, forgotten after 24 h.
    fn default() -> Self {
        Self {
            account_free: 5,
            account_base: Duration::from_secs(1),
            account_max: Duration::from_secs(5 * 60),
            alert_after: 10,
            hold_after: NIST_MAX_CONSECUTIVE_FAILURES,
            address_free: 20,
            address_base: Duration::from_secs(1),
            address_max: Duration::from_secs(15 * 60),
            address_forget: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Which limit stopped an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ThrottleCause {
    /// The account's wait after recent failures.
    Account,
    /// The client address's wait after recent failures.
    Address,
    /// The account is held after 100 consecutive failures until a person releases it.
    AccountHeld,
}

impl fmt::Display for ThrottleCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Account => "this account",
            Self::Address => "this address",
            Self::AccountHeld => {
                "this account is held after 100 failures; an administrator or security officer can release it, or use a recovery code"
            }
        })
    }
}

/// A person should look: raised by [`ThrottlePolicy::record_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ThrottleAlert {
    /// The account reached the alert threshold of consecutive failures.
    RepeatedFailures {
        /// Consecutive failures so far.
        failures: u32,
    },
    /// The account is now held.
    AccountHeld {
        /// Consecutive failures.
        failures: u32,
    },
}

/// Who lifted a hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldRelease {
    /// A person with the right (administrator, the site's security officer).
    Person(UserName),
    /// The owner, with one of their recovery codes (checked by the caller).
    OwnerRecoveryCode,
}

/// An account's failure state (stored by the server with the account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountThrottle {
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The latest failure.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_failure: Option<OffsetDateTime>,
    /// When the account was held; `None` when it is not.
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_since: Option<OffsetDateTime>,
}

/// A client address's failure state (kept by the server per address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressThrottle {
    /// Failures from the address, on any account, since it was last forgotten.
    pub failures: u32,
    /// The latest failure.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_failure: Option<OffsetDateTime>,
}

/// What an online attacker gets against one account: [`ThrottlePolicy::guesses_against_one_account`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessBudget {
    /// Attempts considered within the window.
    pub guesses: u32,
    /// When the account was held, from the first attempt (`None`: not within the window).
    pub held_after: Option<Duration>,
}

fn doubling(failures: u32, free: u32, base: Duration, max: Duration) -> Duration {
    if failures <= free {
        return Duration::ZERO;
    }
    let exponent = failures - free - 1;
    let factor = 1u32.checked_shl(exponent).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

impl ThrottlePolicy {
    /// Custom limits. `hold_after` may not exceed NIST's 100; `alert_after` must come before
    /// it; the waits must be bounded by their maxima.
    ///
    /// # Errors
    /// [`AccountsError::Policy`] naming the problem.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        account_free: u32,
        account_base: Duration,
        account_max: Duration,
        alert_after: u32,
        hold_after: u32,
        address_free: u32,
        address_base: Duration,
        address_max: Duration,
        address_forget: Duration,
    ) -> Result<Self, AccountsError> {
        let problem = if hold_after == 0 || hold_after > NIST_MAX_CONSECUTIVE_FAILURES {
            Some("the hold must come at 100 consecutive failures or fewer")
        } else if alert_after == 0 || alert_after >= hold_after {
            Some("the alert must come before the hold")
        } else if account_free >= hold_after {
            Some("free failures must be fewer than the hold")
        } else if account_base.is_zero() || account_base > account_max {
            Some("the account wait must start above zero and not exceed its maximum")
        } else if address_base.is_zero() || address_base > address_max {
            Some("the address wait must start above zero and not exceed its maximum")
        } else if address_forget < address_max {
            Some("an address must be remembered at least as long as its longest wait")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(AccountsError::Policy { problem }),
            None => Ok(Self {
                account_free,
                account_base,
                account_max,
                alert_after,
                hold_after,
                address_free,
                address_base,
                address_max,
                address_forget,
            }),
        }
    }

    /// When the account's next attempt is considered (`None`: held).
    fn account_ready_at(&self, account: &AccountThrottle) -> Option<Option<OffsetDateTime>> {
        if account.held_since.is_some() || account.consecutive_failures >= self.hold_after {
            return None;
        }
        Some(account.last_failure.map(|last| {
            last + doubling(
                account.consecutive_failures,
                self.account_free,
                self.account_base,
                self.account_max,
            )
        }))
    }

    fn address_failures(&self, address: &AddressThrottle, now: OffsetDateTime) -> u32 {
        match address.last_failure {
            Some(last) if now < last + self.address_forget => address.failures,
            _ => 0,
        }
    }

    fn address_ready_at(
        &self,
        address: &AddressThrottle,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let failures = self.address_failures(address, now);
        address.last_failure.map(|last| {
            last + doubling(
                failures,
                self.address_free,
                self.address_base,
                self.address_max,
            )
        })
    }

    /// May an attempt on this account from this address be considered now? Ask before any
    /// passphrase work.
    ///
    /// # Errors
    /// [`AccountsError::Throttled`] with the cause and the wait (none when held).
    pub fn check(
        &self,
        account: &AccountThrottle,
        address: &AddressThrottle,
        clock: &dyn Clock,
    ) -> Result<(), AccountsError> {
        let now = clock.now();
        let Some(account_ready) = self.account_ready_at(account) else {
            return Err(AccountsError::Throttled {
                cause: ThrottleCause::AccountHeld,
                retry_after: None,
            });
        };
        let wait = |ready: OffsetDateTime| Duration::try_from(ready - now).unwrap_or_default();
        if let Some(ready) = account_ready.filter(|&ready| now < ready) {
            return Err(AccountsError::Throttled {
                cause: ThrottleCause::Account,
                retry_after: Some(wait(ready)),
            });
        }
        if let Some(ready) = self
            .address_ready_at(address, now)
            .filter(|&ready| now < ready)
        {
            return Err(AccountsError::Throttled {
                cause: ThrottleCause::Address,
                retry_after: Some(wait(ready)),
            });
        }
        Ok(())
    }

    /// Records a failed attempt on the account from the address; returns an alert when a
    /// person should be told.
    #[must_use = "an alert must reach a person (dashboard, audit log)"]
    pub fn record_failure(
        &self,
        account: &mut AccountThrottle,
        address: &mut AddressThrottle,
        clock: &dyn Clock,
    ) -> Option<ThrottleAlert> {
        let now = clock.now();
        address.failures = self.address_failures(address, now).saturating_add(1);
        address.last_failure = Some(now);
        account.consecutive_failures = account.consecutive_failures.saturating_add(1);
        account.last_failure = Some(now);
        let failures = account.consecutive_failures;
        if failures >= self.hold_after {
            if account.held_since.is_none() {
                account.held_since = Some(now);
                return Some(ThrottleAlert::AccountHeld { failures });
            }
            return None;
        }
        (failures == self.alert_after).then_some(ThrottleAlert::RepeatedFailures { failures })
    }

    /// Records a successful sign-in: the account's count starts again. (The address's count is
    /// left to time: an attacker with one valid account must not be able to clear it.)
    pub fn record_success(&self, account: &mut AccountThrottle) {
        *account = AccountThrottle::default();
    }

    /// Lifts a hold (the caller records who did, with `release`, in the audit log): the
    /// account's count starts again.
    pub fn release_hold(&self, account: &mut AccountThrottle, release: &HoldRelease) {
        let _ = release;
        *account = AccountThrottle::default();
    }

    /// What an online attacker gets against one account in `window`, guessing as fast as the
    /// limits allow from `addresses` addresses, every guess wrong, and nobody acting on the
    /// alert. Runs the same [`check`](Self::check) and
    /// [`record_failure`](Self::record_failure) the server runs, on a simulated clock.
    #[must_use]
    pub fn guesses_against_one_account(&self, window: Duration, addresses: u32) -> GuessBudget {
        let start = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let clock = ManualClock::new(start);
        let end = start + window;
        let mut account = AccountThrottle::default();
        let mut pool = vec![AddressThrottle::default(); addresses.max(1) as usize];
        let mut guesses = 0u32;
        let mut held_after = None;
        loop {
            let now = clock.now();
            let Some(account_ready) = self.account_ready_at(&account) else {
                break;
            };
            let (index, address_ready) = pool
                .iter()
                .enumerate()
                .map(|(i, a)| (i, self.address_ready_at(a, now).unwrap_or(now)))
                .min_by_key(|(_, t)| *t)
                .unwrap_or((0, now));
            let at = account_ready.unwrap_or(now).max(address_ready).max(now);
            if at >= end {
                break;
            }
            clock.set(at);
            let Some(address) = pool.get_mut(index) else {
                break;
            };
            if self.check(&account, address, &clock).is_err() {
                // Cannot happen: `at` is when both are ready. Stop rather than loop.
                break;
            }
            guesses += 1;
            if let Some(ThrottleAlert::AccountHeld { .. }) =
                self.record_failure(&mut account, address, &clock)
            {
                held_after = Duration::try_from(at - start).ok();
            }
        }
        GuessBudget {
            guesses,
            held_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn fail(
        p: &ThrottlePolicy,
        acc: &mut AccountThrottle,
        addr: &mut AddressThrottle,
        clock: &ManualClock,
    ) -> Option<ThrottleAlert> {
        p.record_failure(acc, addr, clock)
    }

    #[test]
    fn five_free_then_doubling_waits_bounded_by_five_minutes() {
        let p = ThrottlePolicy::default();
        let clock = ManualClock::new(datetime!(2026-03-01 03:00 UTC));
        let mut acc = AccountThrottle::default();
        let mut addr = AddressThrottle::default();
        for _ in 0..5 {
            p.check(&acc, &addr, &clock).unwrap();
            fail(&p, &mut acc, &mut addr, &clock);
        }
        p.check(&acc, &addr, &clock).unwrap();
        fail(&p, &mut acc, &mut addr, &clock);
        match p.check(&acc, &addr, &clock) {
            Err(AccountsError::Throttled {
                cause: ThrottleCause::Account,
                retry_after,
            }) => {
                assert_eq!(retry_after, Some(Duration::from_secs(1)));
            }
            other => panic!("{other:?}"),
        }
        let mut waits = Vec::new();
        for _ in 0..20 {
            let Err(AccountsError::Throttled {
                retry_after: Some(w),
                ..
            }) = p.check(&acc, &addr, &clock)
            else {
                panic!("expected a wait");
            };
            waits.push(w.as_secs());
            clock.advance(w);
            p.check(&acc, &addr, &clock).unwrap();
            fail(&p, &mut acc, &mut addr, &clock);
        }
        assert_eq!(&waits[..10], &[1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert!(waits.iter().all(|&w| w <= 300));
        // A success starts the count again.
        p.record_success(&mut acc);
        p.check(&acc, &AddressThrottle::default(), &clock).unwrap();
    }

    #[test]
    fn alert_at_ten_hold_at_one_hundred_released_by_a_person() {
        let p = ThrottlePolicy::default();
        let clock = ManualClock::new(datetime!(2026-03-01 03:00 UTC));
        let mut acc = AccountThrottle::default();
        let mut alerts = Vec::new();
        for i in 0..100u32 {
            // Each failure from a new address: the account's limit binds alone.
            let mut addr = AddressThrottle::default();
            loop {
                match p.check(&acc, &addr, &clock) {
                    Ok(()) => break,
                    Err(AccountsError::Throttled {
                        retry_after: Some(w),
                        ..
                    }) => clock.advance(w),
                    Err(e) => panic!("failure {i}: {e:?}"),
                }
            }
            if let Some(a) = fail(&p, &mut acc, &mut addr, &clock) {
                alerts.push((i + 1, a));
            }
        }
        assert_eq!(
            alerts,
            vec![
                (10, ThrottleAlert::RepeatedFailures { failures: 10 }),
                (100, ThrottleAlert::AccountHeld { failures: 100 }),
            ]
        );
        // Held: no attempt considered, however long one waits.
        clock.advance(Duration::from_secs(30 * 24 * 3600));
        assert!(matches!(
            p.check(&acc, &AddressThrottle::default(), &clock),
            Err(AccountsError::Throttled {
                cause: ThrottleCause::AccountHeld,
                retry_after: None
            })
        ));
        p.release_hold(
            &mut acc,
            &HoldRelease::Person(UserName::parse("hso").unwrap()),
        );
        p.check(&acc, &AddressThrottle::default(), &clock).unwrap();
    }

    #[test]
    fn an_address_spraying_many_accounts_is_slowed() {
        let p = ThrottlePolicy::default();
        let clock = ManualClock::new(datetime!(2026-03-01 03:00 UTC));
        let mut addr = AddressThrottle::default();
        for _ in 0..20 {
            let mut acc = AccountThrottle::default();
            p.check(&acc, &addr, &clock).unwrap();
            fail(&p, &mut acc, &mut addr, &clock);
        }
        let fresh = AccountThrottle::default();
        fail(&p, &mut fresh.clone(), &mut addr, &clock);
        assert!(matches!(
            p.check(&fresh, &addr, &clock),
            Err(AccountsError::Throttled {
                cause: ThrottleCause::Address,
                ..
            })
        ));
        // Forgotten a day later.
        clock.advance(Duration::from_secs(24 * 3600));
        p.check(&fresh, &addr, &clock).unwrap();
    }

    #[test]
    fn guesses_against_one_account_are_bounded_by_the_hold() {
        let p = ThrottlePolicy::default();
        let hour = p.guesses_against_one_account(Duration::from_secs(3600), 1);
        // 6 at once, 9 more after doubling waits (511 s in all), then one each 300 s: the 25th
        // at 3,511 s.
        assert_eq!(hour.guesses, 25);
        assert_eq!(hour.held_after, None);
        // Many addresses do not go faster.
        assert_eq!(
            p.guesses_against_one_account(Duration::from_secs(3600), 1000),
            hour
        );
        let week = p.guesses_against_one_account(Duration::from_secs(7 * 24 * 3600), 1000);
        assert_eq!(week.guesses, 100);
        let held = week.held_after.unwrap();
        assert_eq!(held, Duration::from_secs(511 + 85 * 300));
    }

    #[test]
    fn policies_keep_nists_bound() {
        let d = ThrottlePolicy::default();
        let s = Duration::from_secs(1);
        let ok = ThrottlePolicy::new(3, s, 60 * s, 5, 50, 10, s, 60 * s, 3600 * s).unwrap();
        assert!(ok.hold_after < d.hold_after);
        assert!(ThrottlePolicy::new(3, s, 60 * s, 5, 101, 10, s, 60 * s, 3600 * s).is_err());
        assert!(ThrottlePolicy::new(3, s, 60 * s, 50, 50, 10, s, 60 * s, 3600 * s).is_err());
    }
}
