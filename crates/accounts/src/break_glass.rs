//! Break-glass: a person with the right raises their rights ([`BREAK_GLASS_RAISES`]) on their
//! own site for a bounded time, after stating why. It ends by itself; a second person reviews
//! it afterwards.

use std::time::Duration;

use medguard_host::Clock;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::AccountsError;
use crate::roles::{Actor, Grant, Permission, Scope, Target, UserName, may};

/// How long a break-glass session lasts unless asked otherwise.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(60 * 60);
/// The longest a break-glass session may last: one clinical shift's worst emergency, not a
/// way to work with raised rights all week.
pub const MAX_DURATION: Duration = Duration::from_secs(4 * 60 * 60);
/// Fewest characters of a stated reason (after trimming).
pub const REASON_MIN: usize = 10;
/// Most characters of a stated reason.
pub const REASON_MAX: usize = 2_000;

/// Break-glass: a person with the right raises their rights ([`BREAK_GLASS_RAISES`]) on their
/// own site for a bounded time, after stating why. It ends by itself; a second person reviews
/// it afterwards.
///
/// ```text
///   start ──▶ active ──(time passes)──▶ expired ─┐
///               │                                ├──(review by another person)──▶ reviewed
///               └──(ended by hand)────▶ ended ───┘
/// ```
///
/// The record stays in need of review (an alert on the dashboard and in the API) from the start
/// until a review, whatever else happens.
///
/// [`BREAK_GLASS_RAISES`]: crate::roles::BREAK_GLASS_RAISES
///
/// A break-glass session: who, where, why, when, and what came of it. The server stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    user: UserName,
    scope: Scope,
    reason: String,
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    ended: Option<Ending>,
    review: Option<Review>,
}

/// Who ended a break-glass session early, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    /// Who.
    pub by: UserName,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The second person's review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewer (never the person who broke the glass).
    pub by: UserName,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What they found.
    pub note: String,
}

/// Where a break-glass session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakGlassState {
    /// Rights are raised until `until`.
    Active {
        /// When it ends by itself.
        until: OffsetDateTime,
    },
    /// It ended by itself at `at`; not reviewed yet.
    Expired {
        /// When.
        at: OffsetDateTime,
    },
    /// It was ended early; not reviewed yet.
    Ended(Ending),
    /// Reviewed.
    Reviewed(Review),
}

fn checked_reason(text: &str) -> Result<String, AccountsError> {
    let error = |characters| AccountsError::BreakGlassReason {
        characters,
        minimum: REASON_MIN,
        maximum: REASON_MAX,
    };
    // Bounded before counting: 4 bytes a character at most.
    if text.len() > REASON_MAX * 4 {
        return Err(error(text.len() / 4));
    }
    let trimmed = text.trim();
    let characters = trimmed.chars().count();
    if !(REASON_MIN..=REASON_MAX).contains(&characters) {
        return Err(error(characters));
    }
    Ok(trimmed.to_owned())
}

fn target_of(scope: &Scope) -> Target<'_> {
    match scope {
        Scope::AllSites => Target::AllSites,
        Scope::Site(s) => Target::Site(s),
    }
}

impl BreakGlass {
    /// Starts a break-glass session for `user` (holding `grant`) for `duration`
    /// ([`DEFAULT_DURATION`] unless the person asks less or more, up to [`MAX_DURATION`]).
    ///
    /// # Errors
    /// [`AccountsError::BreakGlassNotPermitted`], [`AccountsError::BreakGlassReason`],
    /// [`AccountsError::BreakGlassDuration`].
    pub fn start(
        user: &UserName,
        grant: &Grant,
        reason: &str,
        duration: Duration,
        clock: &dyn Clock,
    ) -> Result<Self, AccountsError> {
        if !grant.role().permissions().contains(Permission::BreakGlass) {
            return Err(AccountsError::BreakGlassNotPermitted { role: grant.role() });
        }
        let reason = checked_reason(reason)?;
        if duration.is_zero() || duration > MAX_DURATION {
            return Err(AccountsError::BreakGlassDuration {
                asked: duration,
                maximum: MAX_DURATION,
            });
        }
        let started_at = clock.now();
        Ok(Self {
            user: user.clone(),
            scope: grant.scope().clone(),
            reason,
            started_at,
            expires_at: started_at + duration,
            ended: None,
            review: None,
        })
    }

    /// Who broke the glass.
    #[must_use]
    pub fn user(&self) -> &UserName {
        &self.user
    }

    /// Where the raised rights reach (the holder's own scope).
    #[must_use]
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The stated reason.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// When it started.
    #[must_use]
    pub fn started_at(&self) -> OffsetDateTime {
        self.started_at
    }

    /// When it ends (or ended) by itself.
    #[must_use]
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// Who ended it early, and when (kept after a review too).
    #[must_use]
    pub fn ending(&self) -> Option<&Ending> {
        self.ended.as_ref()
    }

    /// Where it stands now.
    #[must_use]
    pub fn state(&self, clock: &dyn Clock) -> BreakGlassState {
        if let Some(review) = &self.review {
            return BreakGlassState::Reviewed(review.clone());
        }
        if let Some(ending) = &self.ended {
            return BreakGlassState::Ended(ending.clone());
        }
        if clock.now() >= self.expires_at {
            BreakGlassState::Expired {
                at: self.expires_at,
            }
        } else {
            BreakGlassState::Active {
                until: self.expires_at,
            }
        }
    }

    /// Whether rights are raised now.
    #[must_use]
    pub fn is_active(&self, clock: &dyn Clock) -> bool {
        matches!(self.state(clock), BreakGlassState::Active { .. })
    }

    /// Whether it still awaits a second person's review (true from the start).
    #[must_use]
    pub fn needs_review(&self) -> bool {
        self.review.is_none()
    }

    /// Ends it early: by its holder, or by someone who may review it.
    ///
    /// # Errors
    /// [`AccountsError::BreakGlassNotActive`], [`AccountsError::BreakGlassEndRefused`].
    pub fn end(&mut self, by: &Actor<'_>, clock: &dyn Clock) -> Result<(), AccountsError> {
        if !self.is_active(clock) {
            return Err(AccountsError::BreakGlassNotActive);
        }
        if by.user != &self.user
            && may(
                by,
                Permission::ReviewBreakGlass,
                target_of(&self.scope),
                clock,
            )
            .is_err()
        {
            return Err(AccountsError::BreakGlassEndRefused {
                by: by.user.to_string(),
            });
        }
        self.ended = Some(Ending {
            by: by.user.clone(),
            at: clock.now(),
        });
        Ok(())
    }

    /// Records a second person's review, once it has ended.
    ///
    /// # Errors
    /// [`AccountsError::BreakGlassStillActive`], [`AccountsError::BreakGlassSelfReview`],
    /// [`AccountsError::BreakGlassAlreadyReviewed`], [`AccountsError::BreakGlassReviewRefused`]
    /// (no review right on this site), [`AccountsError::BreakGlassReason`] (the note, held to
    /// the same length as a reason).
    pub fn review(
        &mut self,
        reviewer: &Actor<'_>,
        note: &str,
        clock: &dyn Clock,
    ) -> Result<(), AccountsError> {
        if let Some(review) = &self.review {
            return Err(AccountsError::BreakGlassAlreadyReviewed {
                by: review.by.to_string(),
            });
        }
        if self.is_active(clock) {
            return Err(AccountsError::BreakGlassStillActive);
        }
        if reviewer.user == &self.user {
            return Err(AccountsError::BreakGlassSelfReview);
        }
        may(
            reviewer,
            Permission::ReviewBreakGlass,
            target_of(&self.scope),
            clock,
        )
        .map_err(|refusal| AccountsError::BreakGlassReviewRefused { refusal })?;
        let note = checked_reason(note)?;
        self.review = Some(Review {
            by: reviewer.user.clone(),
            at: clock.now(),
            note,
        });
        Ok(())
    }
}
