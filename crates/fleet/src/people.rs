//! People on the server, stored: accounts and their grants, one-time set-up links, sign-in
//! with a passphrase and a second factor under the guessing limits, sessions, API tokens owned
//! by a person, and break-glass sessions.
//!
//! Every rule (what a passphrase must be, when a code is a replay, how long a session lives,
//! who may review a break-glass session) is `medguard-accounts`'; this module only loads the
//! records that library defines, asks it, and stores the result, one transaction per change.
//! It must not decide anything the accounts library decides, and it must not write to the
//! server's audit log (the server does, from what these functions return).
//!
//! Secrets are stored as the accounts library wants them: passphrases as argon2id PHC
//! strings, set-up links, sessions and API tokens by their keyed digests. The TOTP secret is
//! kept as base32 text: the server must compute codes from it, so a digest cannot do; the
//! database is the server's alone (data directory 0700, or a PostgreSQL role of its own).

use medguard_accounts::{
    AccountThrottle, Actor, AddressThrottle, ApiToken, ApiTokenRecord, Authority, BreakGlass,
    BreakGlassState, Grant, HashParams, Passphrase, PassphraseAttempt, PassphraseHash, Permission,
    PermissionSet, RecoveryCode, RecoveryCodeAttempt, RecoveryCodes, Role, Scope, Session,
    SessionPolicy, SessionToken, SetupLink, SetupPurpose, SetupToken, SiteId, Target,
    ThrottleAlert, ThrottlePolicy, TimeStep, TotpCode, TotpSecret, UserName, Verification, may,
};
use serde::Serialize;
use sqlx::Row as _;
use time::OffsetDateTime;

use crate::error::corrupt;
use crate::{Fleet, FleetError, random_bytes};

/// How the server treats people: the passphrase hash's cost, session limits, guessing limits.
#[derive(Debug, Clone, Default)]
pub struct PeoplePolicy {
    /// argon2id parameters for new and re-hashed passphrases.
    pub hash: HashParams,
    /// Session idle timeout and lifetime.
    pub sessions: SessionPolicy,
    /// Online-guessing limits.
    pub throttle: ThrottlePolicy,
}

/// A person as the server lists them (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Their user name.
    pub name: UserName,
    /// Their role.
    pub role: Role,
    /// Where it reaches.
    pub scope: Scope,
    /// Whether they completed their set-up (passphrase and authenticator chosen).
    pub set_up: bool,
    /// Whether sign-in is held after too many failures.
    pub held: bool,
    /// When the account was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Person {
    /// Their grant.
    ///
    /// # Errors
    /// Never for a stored person (the grant was checked when stored).
    pub fn grant(&self) -> Result<Grant, FleetError> {
        Ok(Grant::new(self.role, self.scope.clone())?)
    }
}

/// A set-up link just issued: the token is shown once (as a link) and never stored.
#[derive(Debug)]
pub struct IssuedSetup {
    /// The token for the link.
    pub token: SetupToken,
    /// The stored record.
    pub link: SetupLink,
}

/// The second factor at sign-in.
#[derive(Debug)]
pub enum SecondFactor {
    /// A code from the authenticator app.
    Totp(TotpCode),
    /// One of the ten recovery codes.
    Recovery(RecoveryCodeAttempt),
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session's token (for the cookie; shown once).
    pub token: SessionToken,
    /// The session.
    pub session: Session,
    /// Who.
    pub person: Person,
    /// Recovery codes left, when one was used.
    pub recovery_codes_left: Option<usize>,
}

/// A refused sign-in, with the alert a person must see when the failures add up.
#[derive(Debug)]
pub struct LoginRefused {
    /// Why (to the client: only [`FleetError::LoginFailed`], throttling or bad input).
    pub error: FleetError,
    /// Whether the name is an account here (for the audit log only, never the client).
    pub known_user: bool,
    /// Raised when the failures reached the alert or the hold.
    pub alert: Option<ThrottleAlert>,
}

/// Who is asking, authenticated: a person through a browser session or one of their API
/// tokens.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The person.
    pub person: Person,
    /// Their grant.
    pub grant: Grant,
    /// Their latest break-glass session, if any (active or not: [`may`] checks).
    pub break_glass: Option<BreakGlass>,
    /// The token's permissions when the request came with an API token.
    pub token: Option<PermissionSet>,
}

impl Principal {
    /// The accounts library's view of the asker.
    #[must_use]
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            user: &self.person.name,
            grant: &self.grant,
            break_glass: self.break_glass.as_ref(),
            token: self.token,
        }
    }

    /// The sites this person sees: `None` for all.
    #[must_use]
    pub fn site(&self) -> Option<&SiteId> {
        match self.grant.scope() {
            Scope::AllSites => None,
            Scope::Site(s) => Some(s),
        }
    }
}

/// A break-glass session as stored and listed.
#[derive(Debug, Clone, Serialize)]
pub struct BreakGlassRecord {
    /// Its id.
    pub id: String,
    /// Whose.
    pub user: UserName,
    /// Where its rights reach.
    pub scope: Scope,
    /// The stated reason.
    pub reason: String,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ends by itself.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// `active`, `expired`, `ended` or `reviewed`.
    pub state: &'static str,
    /// Whether a second person still has to review it (an alert until then).
    pub needs_review: bool,
    /// Who reviewed it, when, and their note.
    pub review: Option<medguard_accounts::Review>,
    /// Who ended it early, and when.
    pub ended: Option<medguard_accounts::Ending>,
    #[serde(skip)]
    record: BreakGlass,
}

/// A person's API token as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct PersonToken {
    /// Its id (to revoke it).
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// What it may do.
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

/// An API token just made: the secret is shown once.
#[derive(Debug)]
pub struct IssuedApiToken {
    /// The secret.
    pub token: ApiToken,
    /// Its id (to revoke it).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The stored record.
    pub record: ApiTokenRecord,
}

fn now_or_epoch(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_json<T: Serialize>(v: &T) -> Result<String, FleetError> {
    serde_json::to_string(v).map_err(|e| FleetError::Corrupt {
        what: "account record".into(),
        reason: e.to_string(),
    })
}

/// What a second factor accepted: the TOTP step to store, or the recovery codes left.
type Accepted = (Option<TimeStep>, Option<(RecoveryCodes, usize)>);

/// One row of `users`, with its secrets.
struct Account {
    person: Person,
    passphrase: Option<PassphraseHash>,
    totp: Option<TotpSecret>,
    totp_last: Option<TimeStep>,
    recovery: Option<RecoveryCodes>,
    throttle: AccountThrottle,
}

const ACCOUNT_BY_NAME: &str = "SELECT name, grant_json, passphrase, totp_secret, totp_last, \
     recovery, throttle, created_at FROM users WHERE name = $1";
const ACCOUNTS: &str = "SELECT name, grant_json, passphrase, totp_secret, totp_last, recovery, \
     throttle, created_at FROM users ORDER BY name";

fn account_of(row: &sqlx::any::AnyRow) -> Result<Account, FleetError> {
    let name: String = row.try_get(0)?;
    let grant: Grant =
        serde_json::from_str(&row.try_get::<String, _>(1)?).map_err(corrupt("grant"))?;
    let passphrase = row
        .try_get::<Option<String>, _>(2)?
        .map(|t| PassphraseHash::parse(&t))
        .transpose()?;
    let totp = row
        .try_get::<Option<String>, _>(3)?
        .map(|t| TotpSecret::from_base32(&t))
        .transpose()?;
    let totp_last = row
        .try_get::<Option<i64>, _>(4)?
        .map(|s| TimeStep(u64::try_from(s).unwrap_or(0)));
    let recovery = row
        .try_get::<Option<String>, _>(5)?
        .map(|t| serde_json::from_str::<RecoveryCodes>(&t))
        .transpose()
        .map_err(corrupt("recovery codes"))?;
    let throttle: AccountThrottle =
        serde_json::from_str(&row.try_get::<String, _>(6)?).map_err(corrupt("throttle"))?;
    let person = Person {
        name: UserName::parse(&name)?,
        role: grant.role(),
        scope: grant.scope().clone(),
        set_up: passphrase.is_some() && totp.is_some(),
        held: throttle.held_since.is_some(),
        created_at: now_or_epoch(row.try_get(7)?),
    };
    Ok(Account {
        person,
        passphrase,
        totp,
        totp_last,
        recovery,
        throttle,
    })
}

fn break_glass_of(
    row: &sqlx::any::AnyRow,
    clock: &dyn medguard_host::Clock,
) -> Result<BreakGlassRecord, FleetError> {
    let id: String = row.try_get(0)?;
    let record: BreakGlass =
        serde_json::from_str(&row.try_get::<String, _>(1)?).map_err(corrupt("break-glass"))?;
    let (state, review) = match record.state(clock) {
        BreakGlassState::Active { .. } => ("active", None),
        BreakGlassState::Expired { .. } => ("expired", None),
        BreakGlassState::Ended(_) => ("ended", None),
        BreakGlassState::Reviewed(r) => ("reviewed", Some(r)),
    };
    // An early end stays known after the review: how long the rights were raised.
    let ended = record.ending().cloned();
    Ok(BreakGlassRecord {
        id,
        user: record.user().clone(),
        scope: record.scope().clone(),
        reason: record.reason().to_owned(),
        started_at: record.started_at(),
        expires_at: record.expires_at(),
        state,
        needs_review: record.needs_review(),
        review,
        ended,
        record,
    })
}

impl Fleet {
    async fn account(&self, name: &UserName) -> Result<Option<Account>, FleetError> {
        let row = sqlx::query(ACCOUNT_BY_NAME)
            .bind(name.as_str())
            .fetch_optional(&self.store.write)
            .await?;
        row.as_ref().map(account_of).transpose()
    }

    /// Whether any administrator account exists (set up or not).
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn has_administrator(&self) -> Result<bool, FleetError> {
        Ok(self
            .people()
            .await?
            .iter()
            .any(|p| p.role == Role::Administrator))
    }

    /// Everyone, by name.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn people(&self) -> Result<Vec<Person>, FleetError> {
        let rows = sqlx::query(ACCOUNTS).fetch_all(&self.store.read).await?;
        rows.iter()
            .map(|r| account_of(r).map(|a| a.person))
            .collect()
    }

    /// One person.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn person(&self, name: &UserName) -> Result<Person, FleetError> {
        self.account(name)
            .await?
            .map(|a| a.person)
            .ok_or_else(|| FleetError::NotFound {
                what: format!("user {name}"),
            })
    }

    /// Adds a person with `grant` and issues their set-up link. A hospital role's site must be
    /// a site of the fleet.
    ///
    /// # Errors
    /// [`FleetError::Conflict`] when the name is taken; [`FleetError::NotFound`] for an unknown
    /// site; [`FleetError::Database`].
    pub async fn add_person(
        &self,
        name: &UserName,
        grant: &Grant,
        purpose: SetupPurpose,
    ) -> Result<IssuedSetup, FleetError> {
        if let Scope::Site(site) = grant.scope() {
            self.site_exists(site.as_str()).await?;
        }
        let mut tx = self.store.write.begin().await?;
        let taken = sqlx::query("SELECT 1 FROM users WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(FleetError::Conflict {
                reason: format!("user {name} exists (use a reset to issue them a new link)"),
            });
        }
        sqlx::query(
            "INSERT INTO users (name, grant_json, throttle, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name.as_str())
        .bind(to_json(grant)?)
        .bind(to_json(&AccountThrottle::default())?)
        .bind(self.now_secs())
        .execute(&mut *tx)
        .await?;
        let issued = self.issue_setup(&mut tx, name, purpose).await?;
        tx.commit().await?;
        Ok(issued)
    }

    async fn site_exists(&self, site: &str) -> Result<(), FleetError> {
        let found = sqlx::query("SELECT 1 FROM sites WHERE name = $1")
            .bind(site)
            .fetch_optional(&self.store.read)
            .await?
            .is_some();
        if found {
            Ok(())
        } else {
            Err(FleetError::NotFound {
                what: format!("site {site:?}"),
            })
        }
    }

    async fn issue_setup(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &UserName,
        purpose: SetupPurpose,
    ) -> Result<IssuedSetup, FleetError> {
        let (token, link) = SetupLink::issue(name, purpose, self.clock.as_ref())?;
        // One link per person: a new one replaces an unused older one.
        sqlx::query("DELETE FROM setup_links WHERE user_name = $1")
            .bind(name.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO setup_links (key, user_name, data) VALUES ($1, $2, $3)")
            .bind(link.key.to_string())
            .bind(name.as_str())
            .bind(to_json(&link)?)
            .execute(&mut **tx)
            .await?;
        Ok(IssuedSetup { token, link })
    }

    /// Issues a new set-up link to a person who lost a factor. Their credentials stay valid
    /// until they complete it; nobody else learns or sets them.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn reset_person(&self, name: &UserName) -> Result<IssuedSetup, FleetError> {
        self.person(name).await?;
        let mut tx = self.store.write.begin().await?;
        let issued = self.issue_setup(&mut tx, name, SetupPurpose::Reset).await?;
        tx.commit().await?;
        Ok(issued)
    }

    async fn setup_link(&self, token: &SetupToken) -> Result<SetupLink, FleetError> {
        let row = sqlx::query("SELECT data FROM setup_links WHERE key = $1")
            .bind(token.key().to_string())
            .fetch_optional(&self.store.write)
            .await?
            .ok_or(medguard_accounts::AccountsError::SetupTokenWrong)?;
        serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("set-up link"))
    }

    /// Opens a set-up link: who it is for, if it is valid now.
    ///
    /// # Errors
    /// The accounts library's set-up errors (wrong, used, expired); [`FleetError::Database`].
    pub async fn open_setup(&self, token: &SetupToken) -> Result<(SetupLink, Person), FleetError> {
        let link = self.setup_link(token).await?;
        link.check(token, self.clock.as_ref())?;
        let person = self.person(&link.user).await?;
        Ok((link, person))
    }

    /// Completes a set-up: the person chose `passphrase` and confirmed `secret` with `code`.
    /// Their earlier credentials, sessions and hold are replaced. Returns the recovery codes
    /// to show once.
    ///
    /// # Errors
    /// A weak passphrase, a wrong code, a used or expired link ([`FleetError::Accounts`]);
    /// [`FleetError::Database`].
    pub async fn complete_setup(
        &self,
        token: &SetupToken,
        passphrase: &str,
        secret: TotpSecret,
        code: &TotpCode,
    ) -> Result<(Person, Vec<RecoveryCode>), FleetError> {
        let mut link = self.setup_link(token).await?;
        link.check(token, self.clock.as_ref())?;
        let name = link.user.clone();
        let passphrase = Passphrase::new(passphrase, &[name.as_str()])?;
        let (credentials, shown) = link.complete(
            token,
            &passphrase,
            secret,
            code,
            &self.settings.people.hash,
            self.clock.as_ref(),
        )?;
        let mut tx = self.store.write.begin().await?;
        // The link is used once: only the update that finds it unused wins.
        let used = sqlx::query(
            "UPDATE setup_links SET data = $2, used_at = $3 WHERE key = $1 AND used_at IS NULL",
        )
        .bind(link.key.to_string())
        .bind(to_json(&link)?)
        .bind(self.now_secs())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if used == 0 {
            return Err(medguard_accounts::AccountsError::SetupTokenUsed {
                used_at: self.now(),
            }
            .into());
        }
        sqlx::query(
            "UPDATE users SET passphrase = $2, totp_secret = $3, totp_last = $4, recovery = $5, \
             throttle = $6, set_up_at = $7 WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(credentials.passphrase.to_phc())
        .bind(credentials.totp.reveal_base32())
        .bind(i64::try_from(credentials.last_totp_step.0).unwrap_or(i64::MAX))
        .bind(to_json(&credentials.recovery)?)
        .bind(to_json(&AccountThrottle::default())?)
        .bind(self.now_secs())
        .execute(&mut *tx)
        .await?;
        // New credentials end every session opened with the old ones.
        sqlx::query("UPDATE sessions SET ended_at = $2 WHERE user_name = $1 AND ended_at IS NULL")
            .bind(name.as_str())
            .bind(self.now_secs())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((self.person(&name).await?, shown))
    }

    /// Signs a person in: the guessing limits first, then the passphrase (hashed whether or not
    /// the name exists, so the time says nothing), then the second factor.
    ///
    /// # Errors
    /// [`LoginRefused`] with [`FleetError::LoginFailed`] (any part wrong),
    /// [`FleetError::Accounts`] (throttled, a malformed input) or a database error.
    pub async fn sign_in(
        &self,
        name: &str,
        passphrase: &str,
        second: SecondFactor,
        address: &str,
    ) -> Result<SignedIn, LoginRefused> {
        let refuse = |error: FleetError| LoginRefused {
            error,
            known_user: false,
            alert: None,
        };
        let attempt = PassphraseAttempt::new(passphrase).map_err(|e| refuse(e.into()))?;
        let account = match UserName::parse(name) {
            Ok(user) => self.account(&user).await.map_err(refuse)?,
            Err(_) => None,
        };
        let mut address_state = self.address_throttle(address).await.map_err(refuse)?;
        let mut account_state = account
            .as_ref()
            .map(|a| a.throttle.clone())
            .unwrap_or_default();
        let policy = &self.settings.people;
        let clock = self.clock.as_ref();
        if let Err(e) = policy.throttle.check(&account_state, &address_state, clock) {
            return Err(LoginRefused {
                error: e.into(),
                known_user: account.is_some(),
                alert: None,
            });
        }
        let verified = match account.as_ref().and_then(|a| a.passphrase.as_ref()) {
            Some(hash) => hash.verify(&attempt, &policy.hash),
            None => PassphraseHash::verify_absent(&attempt, &policy.hash),
        }
        .map_err(|e| refuse(e.into()))?;
        let mut outcome: Result<Accepted, FleetError> = Err(FleetError::LoginFailed);
        if let (true, Some(a)) = (verified.is_match(), account.as_ref()) {
            outcome = match (&second, &a.totp, &a.recovery) {
                (SecondFactor::Totp(code), Some(secret), _) => secret
                    .verify(code, clock, a.totp_last)
                    .map(|step| (Some(step), None))
                    .map_err(|_| FleetError::LoginFailed),
                (SecondFactor::Recovery(attempt), _, Some(codes)) => {
                    let mut codes = codes.clone();
                    codes
                        .redeem(attempt, clock)
                        .map(|_| {
                            let left = codes.remaining();
                            (None, Some((codes, left)))
                        })
                        .map_err(|_| FleetError::LoginFailed)
                }
                _ => Err(FleetError::LoginFailed),
            };
        }
        match (outcome, account) {
            (Ok((step, recovery)), Some(a)) => {
                policy.throttle.record_success(&mut account_state);
                let rehashed = match verified {
                    Verification::MatchRehashed(h) => Some(h.to_phc()),
                    _ => None,
                };
                self.signed_in(a, step, recovery, rehashed, account_state)
                    .await
                    .map_err(refuse)
            }
            (result, account) => {
                let error = result.err().unwrap_or(FleetError::LoginFailed);
                let alert =
                    policy
                        .throttle
                        .record_failure(&mut account_state, &mut address_state, clock);
                let known_user = account.is_some();
                if let Some(a) = &account {
                    let _ = sqlx::query("UPDATE users SET throttle = $2 WHERE name = $1")
                        .bind(a.person.name.as_str())
                        .bind(to_json(&account_state).unwrap_or_default())
                        .execute(&self.store.write)
                        .await;
                }
                self.store_address_throttle(address, &address_state)
                    .await
                    .map_err(refuse)?;
                Err(LoginRefused {
                    error,
                    known_user,
                    alert,
                })
            }
        }
    }

    async fn signed_in(
        &self,
        account: Account,
        step: Option<TimeStep>,
        recovery: Option<(RecoveryCodes, usize)>,
        rehashed: Option<String>,
        throttle: AccountThrottle,
    ) -> Result<SignedIn, FleetError> {
        let name = account.person.name.clone();
        let mut tx = self.store.write.begin().await?;
        if let Some(step) = step {
            // Only a step later than the stored one is accepted, so two sign-ins racing with
            // the same code cannot both win.
            let n = sqlx::query(
                "UPDATE users SET totp_last = $2 WHERE name = $1 AND (totp_last IS NULL OR totp_last < $2)",
            )
            .bind(name.as_str())
            .bind(i64::try_from(step.0).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(FleetError::LoginFailed);
            }
        }
        if let Some((codes, _)) = &recovery {
            sqlx::query("UPDATE users SET recovery = $2 WHERE name = $1")
                .bind(name.as_str())
                .bind(to_json(codes)?)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(phc) = rehashed {
            sqlx::query("UPDATE users SET passphrase = $2 WHERE name = $1")
                .bind(name.as_str())
                .bind(phc)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE users SET throttle = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(to_json(&throttle)?)
            .execute(&mut *tx)
            .await?;
        let (token, session) = Session::start(&name, self.clock.as_ref())?;
        sqlx::query("INSERT INTO sessions (key, user_name, data) VALUES ($1, $2, $3)")
            .bind(session.key.to_string())
            .bind(name.as_str())
            .bind(to_json(&session)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut person = account.person;
        person.held = false;
        Ok(SignedIn {
            token,
            session,
            person,
            recovery_codes_left: recovery.map(|(_, left)| left),
        })
    }

    async fn address_throttle(&self, address: &str) -> Result<AddressThrottle, FleetError> {
        let row = sqlx::query("SELECT data FROM address_throttle WHERE address = $1")
            .bind(address)
            .fetch_optional(&self.store.write)
            .await?;
        match row {
            Some(r) => {
                serde_json::from_str(&r.try_get::<String, _>(0)?).map_err(corrupt("throttle"))
            }
            None => Ok(AddressThrottle::default()),
        }
    }

    async fn store_address_throttle(
        &self,
        address: &str,
        state: &AddressThrottle,
    ) -> Result<(), FleetError> {
        sqlx::query(
            "INSERT INTO address_throttle (address, data) VALUES ($1, $2) \
             ON CONFLICT (address) DO UPDATE SET data = excluded.data",
        )
        .bind(address)
        .bind(to_json(state)?)
        .execute(&self.store.write)
        .await?;
        Ok(())
    }

    /// Asks a signed-in person again for their passphrase and, when given, an authenticator
    /// code: the re-authentication of an electronic signature (21 CFR Part 11 §11.200). The
    /// account's guessing limits apply and a failure counts toward them; a code is accepted
    /// once (a replay is refused). Returns what was presented, for
    /// [`medguard_accounts::SigningPolicy::record`].
    ///
    /// # Errors
    /// [`FleetError::LoginFailed`] when a part is wrong (which is not said);
    /// [`FleetError::Accounts`] when throttled or the input is malformed.
    pub async fn reauthenticate(
        &self,
        name: &UserName,
        passphrase: &str,
        code: Option<&TotpCode>,
    ) -> Result<medguard_accounts::SigningChallenge, FleetError> {
        let attempt = PassphraseAttempt::new(passphrase)?;
        let account = self.account(name).await?.ok_or(FleetError::LoginFailed)?;
        let policy = &self.settings.people;
        let clock = self.clock.as_ref();
        let mut throttle = account.throttle.clone();
        let mut nowhere = AddressThrottle::default();
        policy.throttle.check(&throttle, &nowhere, clock)?;
        let passphrase_ok = match &account.passphrase {
            Some(hash) => hash.verify(&attempt, &policy.hash)?.is_match(),
            None => false,
        };
        let step = match (passphrase_ok, code, &account.totp) {
            (false, _, _) => Err(FleetError::LoginFailed),
            (true, None, _) => Ok(None),
            (true, Some(code), Some(secret)) => secret
                .verify(code, clock, account.totp_last)
                .map(Some)
                .map_err(|_| FleetError::LoginFailed),
            (true, Some(_), None) => Err(FleetError::LoginFailed),
        };
        let step = match step {
            Ok(step) => step,
            Err(e) => {
                let _ = policy
                    .throttle
                    .record_failure(&mut throttle, &mut nowhere, clock);
                sqlx::query("UPDATE users SET throttle = $2 WHERE name = $1")
                    .bind(name.as_str())
                    .bind(to_json(&throttle)?)
                    .execute(&self.store.write)
                    .await?;
                return Err(e);
            }
        };
        if let Some(step) = step {
            // As at sign-in: only a later step wins, so one code cannot sign twice.
            let n = sqlx::query(
                "UPDATE users SET totp_last = $2 WHERE name = $1 AND (totp_last IS NULL OR totp_last < $2)",
            )
            .bind(name.as_str())
            .bind(i64::try_from(step.0).unwrap_or(i64::MAX))
            .execute(&self.store.write)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(FleetError::LoginFailed);
            }
        }
        policy.throttle.record_success(&mut throttle);
        sqlx::query("UPDATE users SET throttle = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(to_json(&throttle)?)
            .execute(&self.store.write)
            .await?;
        Ok(if code.is_some() {
            medguard_accounts::SigningChallenge::PassphraseAndTotp
        } else {
            medguard_accounts::SigningChallenge::Passphrase
        })
    }

    /// The login session behind a session token (alive or not: the caller authenticated the
    /// request already).
    ///
    /// # Errors
    /// [`FleetError::Unauthorized`], [`FleetError::Database`].
    pub async fn login_session(&self, token: &SessionToken) -> Result<Session, FleetError> {
        let row = sqlx::query("SELECT data FROM sessions WHERE key = $1 AND ended_at IS NULL")
            .bind(token.key().to_string())
            .fetch_optional(&self.store.write)
            .await?
            .ok_or(FleetError::Unauthorized)?;
        serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("session"))
    }

    /// Lifts the hold on an account (after 100 failures); the caller records who did.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn release_hold(&self, name: &UserName, by: &UserName) -> Result<(), FleetError> {
        let mut account = self
            .account(name)
            .await?
            .ok_or_else(|| FleetError::NotFound {
                what: format!("user {name}"),
            })?;
        self.settings.people.throttle.release_hold(
            &mut account.throttle,
            &medguard_accounts::HoldRelease::Person(by.clone()),
        );
        sqlx::query("UPDATE users SET throttle = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(to_json(&account.throttle)?)
            .execute(&self.store.write)
            .await?;
        Ok(())
    }

    /// The person behind a session token, if the session is alive; marks it active.
    ///
    /// # Errors
    /// [`FleetError::Unauthorized`] for an unknown or signed-out session; the session's end
    /// (idle, lifetime) as [`FleetError::Accounts`]; [`FleetError::Database`].
    pub async fn session_principal(&self, token: &SessionToken) -> Result<Principal, FleetError> {
        let key = token.key().to_string();
        let row = sqlx::query("SELECT data, ended_at FROM sessions WHERE key = $1")
            .bind(&key)
            .fetch_optional(&self.store.write)
            .await?
            .ok_or(FleetError::Unauthorized)?;
        if row.try_get::<Option<i64>, _>(1)?.is_some() {
            return Err(FleetError::Unauthorized);
        }
        let mut session: Session =
            serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("session"))?;
        session.touch(&self.settings.people.sessions, self.clock.as_ref())?;
        sqlx::query("UPDATE sessions SET data = $2 WHERE key = $1")
            .bind(&key)
            .bind(to_json(&session)?)
            .execute(&self.store.write)
            .await?;
        self.principal(&session.user, None).await
    }

    /// Ends a session on the server (sign-out). Returns whose it was.
    ///
    /// # Errors
    /// [`FleetError::Unauthorized`] for an unknown session; [`FleetError::Database`].
    pub async fn end_session(&self, token: &SessionToken) -> Result<UserName, FleetError> {
        let key = token.key().to_string();
        let row = sqlx::query("SELECT user_name FROM sessions WHERE key = $1 AND ended_at IS NULL")
            .bind(&key)
            .fetch_optional(&self.store.write)
            .await?
            .ok_or(FleetError::Unauthorized)?;
        sqlx::query("UPDATE sessions SET ended_at = $2 WHERE key = $1")
            .bind(&key)
            .bind(self.now_secs())
            .execute(&self.store.write)
            .await?;
        Ok(UserName::parse(&row.try_get::<String, _>(0)?)?)
    }

    /// When a session ends unless used again.
    #[must_use]
    pub fn session_expires_at(&self, session: &Session) -> OffsetDateTime {
        session.expires_at(&self.settings.people.sessions)
    }

    async fn principal(
        &self,
        name: &UserName,
        token: Option<PermissionSet>,
    ) -> Result<Principal, FleetError> {
        let account = self.account(name).await?.ok_or(FleetError::Unauthorized)?;
        let grant = account.person.grant()?;
        let break_glass = if token.is_none() {
            sqlx::query(
                "SELECT id, data FROM break_glass WHERE user_name = $1 ORDER BY started_at DESC LIMIT 1",
            )
            .bind(name.as_str())
            .fetch_optional(&self.store.read)
            .await?
            .map(|r| break_glass_of(&r, self.clock.as_ref()).map(|b| b.record))
            .transpose()?
        } else {
            None
        };
        Ok(Principal {
            person: account.person,
            grant,
            break_glass,
            token,
        })
    }

    /// May `principal` do `action` on something of `site` (`None`: of every site or none)?
    ///
    /// # Errors
    /// [`FleetError::Forbidden`] with the refusal.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: Permission,
        site: Option<&str>,
    ) -> Result<Authority, FleetError> {
        let site = site.map(SiteId::parse).transpose()?;
        let target = site.as_ref().map_or(Target::AllSites, Target::Site);
        may(&principal.actor(), action, target, self.clock.as_ref())
            .map_err(|refusal| FleetError::Forbidden { refusal })
    }

    /// Makes an API token for `owner` with `permissions` (default: all of their role's).
    ///
    /// # Errors
    /// [`FleetError::NotFound`] for an unknown person; a token beyond the role or a lifetime
    /// out of bounds ([`FleetError::Accounts`]); [`FleetError::Database`].
    pub async fn create_person_token(
        &self,
        owner: &UserName,
        name: &str,
        permissions: Option<PermissionSet>,
        lifetime: std::time::Duration,
    ) -> Result<IssuedApiToken, FleetError> {
        crate::enroll::check_name("token name", name)?;
        let person = self.person(owner).await?;
        let grant = person.grant()?;
        let permissions = permissions.unwrap_or_else(|| grant.role().permissions());
        let (token, record) =
            ApiTokenRecord::issue(owner, &grant, permissions, lifetime, self.clock.as_ref())?;
        let id = hex::encode(random_bytes::<8>()?);
        sqlx::query(
            "INSERT INTO user_tokens (key, id, name, user_name, data) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.key.to_string())
        .bind(&id)
        .bind(name)
        .bind(owner.as_str())
        .bind(to_json(&record)?)
        .execute(&self.store.write)
        .await?;
        Ok(IssuedApiToken {
            token,
            id,
            name: name.to_owned(),
            record,
        })
    }

    /// The person behind an API token, limited to the token's permissions.
    ///
    /// # Errors
    /// [`FleetError::Unauthorized`] for an unknown token; expired or revoked tokens as
    /// [`FleetError::Accounts`]; [`FleetError::Database`].
    pub async fn token_principal(&self, token: &ApiToken) -> Result<Principal, FleetError> {
        let row = sqlx::query("SELECT data FROM user_tokens WHERE key = $1")
            .bind(token.key().to_string())
            .fetch_optional(&self.store.read)
            .await?
            .ok_or(FleetError::Unauthorized)?;
        let record: ApiTokenRecord =
            serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("API token"))?;
        let permissions = record.check(token, self.clock.as_ref())?;
        self.principal(&record.owner, Some(permissions)).await
    }

    /// A person's API tokens (revoked and expired ones too), newest first.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn person_tokens(&self, owner: &UserName) -> Result<Vec<PersonToken>, FleetError> {
        let rows = sqlx::query("SELECT id, name, data FROM user_tokens WHERE user_name = $1")
            .bind(owner.as_str())
            .fetch_all(&self.store.read)
            .await?;
        let mut tokens = rows
            .iter()
            .map(|row| {
                let record: ApiTokenRecord = serde_json::from_str(&row.try_get::<String, _>(2)?)
                    .map_err(corrupt("API token"))?;
                Ok(PersonToken {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    permissions: record.permissions,
                    created_at: record.created_at,
                    expires_at: record.expires_at,
                    revoked_at: record.revoked_at,
                })
            })
            .collect::<Result<Vec<_>, FleetError>>()?;
        tokens.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(tokens)
    }

    /// Whose an API token is, by its id.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn person_token_owner(&self, id: &str) -> Result<UserName, FleetError> {
        let row = sqlx::query("SELECT user_name FROM user_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.read)
            .await?
            .ok_or_else(|| FleetError::NotFound {
                what: format!("API token {id}"),
            })?;
        Ok(UserName::parse(&row.try_get::<String, _>(0)?)?)
    }

    /// When each person last signed in (the start of their newest session), for those who
    /// ever did.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn last_sign_ins(
        &self,
    ) -> Result<std::collections::BTreeMap<UserName, OffsetDateTime>, FleetError> {
        let rows = sqlx::query("SELECT data FROM sessions")
            .fetch_all(&self.store.read)
            .await?;
        let mut last = std::collections::BTreeMap::new();
        for row in &rows {
            let session: Session =
                serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(corrupt("session"))?;
            let at = last
                .entry(session.user)
                .or_insert(OffsetDateTime::UNIX_EPOCH);
            *at = (*at).max(session.created_at);
        }
        Ok(last)
    }

    /// Revokes an API token by id (its owner or an administrator; the caller checks).
    /// Returns its owner.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn revoke_person_token(&self, id: &str) -> Result<UserName, FleetError> {
        let row = sqlx::query("SELECT key, data FROM user_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.write)
            .await?
            .ok_or_else(|| FleetError::NotFound {
                what: format!("API token {id}"),
            })?;
        let mut record: ApiTokenRecord =
            serde_json::from_str(&row.try_get::<String, _>(1)?).map_err(corrupt("API token"))?;
        record.revoke(self.clock.as_ref());
        sqlx::query("UPDATE user_tokens SET data = $2 WHERE id = $1")
            .bind(id)
            .bind(to_json(&record)?)
            .execute(&self.store.write)
            .await?;
        Ok(record.owner)
    }

    /// Starts a break-glass session for `principal` (from a browser session: a token never
    /// carries break-glass).
    ///
    /// # Errors
    /// A role without the right, a reason too short or long, a duration out of bounds
    /// ([`FleetError::Accounts`]); [`FleetError::Conflict`] when one is already active;
    /// [`FleetError::Database`].
    pub async fn start_break_glass(
        &self,
        principal: &Principal,
        reason: &str,
        duration: std::time::Duration,
    ) -> Result<BreakGlassRecord, FleetError> {
        if principal.token.is_some() {
            return Err(FleetError::Forbidden {
                refusal: medguard_accounts::Refusal::BeyondToken {
                    action: Permission::BreakGlass,
                },
            });
        }
        if principal
            .break_glass
            .as_ref()
            .is_some_and(|b| b.is_active(self.clock.as_ref()))
        {
            return Err(FleetError::Conflict {
                reason: "a break-glass session of yours is active".into(),
            });
        }
        let record = BreakGlass::start(
            &principal.person.name,
            &principal.grant,
            reason,
            duration,
            self.clock.as_ref(),
        )?;
        let id = hex::encode(random_bytes::<8>()?);
        sqlx::query(
            "INSERT INTO break_glass (id, user_name, started_at, reviewed, data) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(&id)
        .bind(principal.person.name.as_str())
        .bind(record.started_at().unix_timestamp())
        .bind(to_json(&record)?)
        .execute(&self.store.write)
        .await?;
        self.break_glass(&id).await
    }

    /// One break-glass session.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn break_glass(&self, id: &str) -> Result<BreakGlassRecord, FleetError> {
        let row = sqlx::query("SELECT id, data FROM break_glass WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.write)
            .await?
            .ok_or_else(|| FleetError::NotFound {
                what: format!("break-glass session {id}"),
            })?;
        break_glass_of(&row, self.clock.as_ref())
    }

    /// Break-glass sessions, newest first: those awaiting review only, or all; of one site
    /// (and the all-sites ones) or every site.
    ///
    /// # Errors
    /// [`FleetError::Database`], [`FleetError::Corrupt`].
    pub async fn break_glass_sessions(
        &self,
        awaiting_review: bool,
        site: Option<&SiteId>,
    ) -> Result<Vec<BreakGlassRecord>, FleetError> {
        let sql = if awaiting_review {
            "SELECT id, data FROM break_glass WHERE reviewed = 0 ORDER BY started_at DESC"
        } else {
            "SELECT id, data FROM break_glass ORDER BY started_at DESC"
        };
        let rows = sqlx::query(sql).fetch_all(&self.store.read).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let b = break_glass_of(row, self.clock.as_ref())?;
            let visible = match (site, &b.scope) {
                (None, _) => true,
                (Some(mine), Scope::Site(theirs)) => mine == theirs,
                (Some(_), Scope::AllSites) => false,
            };
            if visible {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// Ends an active break-glass session early (its holder, or a reviewer of its site).
    ///
    /// # Errors
    /// Not active or not allowed ([`FleetError::Accounts`]); [`FleetError::NotFound`];
    /// [`FleetError::Database`].
    pub async fn end_break_glass(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<BreakGlassRecord, FleetError> {
        let mut b = self.break_glass(id).await?;
        b.record.end(&principal.actor(), self.clock.as_ref())?;
        self.store_break_glass(id, &b.record, false).await?;
        self.break_glass(id).await
    }

    /// Reviews a finished break-glass session: a second person with the review right, with a
    /// note.
    ///
    /// # Errors
    /// Still active, self-review, reviewed already, no right ([`FleetError::Accounts`]);
    /// [`FleetError::NotFound`]; [`FleetError::Database`].
    pub async fn review_break_glass(
        &self,
        principal: &Principal,
        id: &str,
        note: &str,
    ) -> Result<BreakGlassRecord, FleetError> {
        let mut b = self.break_glass(id).await?;
        b.record
            .review(&principal.actor(), note, self.clock.as_ref())?;
        self.store_break_glass(id, &b.record, true).await?;
        self.break_glass(id).await
    }

    async fn store_break_glass(
        &self,
        id: &str,
        record: &BreakGlass,
        reviewed: bool,
    ) -> Result<(), FleetError> {
        sqlx::query("UPDATE break_glass SET data = $2, reviewed = $3 WHERE id = $1")
            .bind(id)
            .bind(to_json(record)?)
            .bind(i64::from(reviewed))
            .execute(&self.store.write)
            .await?;
        Ok(())
    }
}
