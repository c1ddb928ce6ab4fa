//! The people flows end to end, as the server will drive them, on a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use medguard_accounts::{
    AccountThrottle, AccountsError, Actor, AddressThrottle, ApiToken, ApiTokenRecord, BreakGlass,
    BreakGlassState, Grant, HashParams, HoldRelease, Passphrase, PassphraseAttempt, Permission,
    PermissionSet, RecoveryCodeAttempt, Role, Scope, Session, SessionPolicy, SessionToken,
    SetupLink, SetupPurpose, SetupToken, SigningChallenge, SigningPolicy, SiteId, Target,
    ThrottleAlert, ThrottlePolicy, TimeStep, TotpCode, TotpEnrollment, UserName, may,
};
use medguard_host::{Clock, ManualClock};
use time::macros::datetime;

/// Cheaper than the default but above the floor, to keep the test quick.
fn params() -> HashParams {
    HashParams::new(19 * 1024, 2, 1).unwrap()
}

#[test]
fn first_administrator_sets_up_signs_in_and_cannot_replay() {
    let clock = ManualClock::new(datetime!(2026-03-01 08:00 UTC));
    let admin = UserName::parse("admin").unwrap();
    // `server init`: a link, printed once.
    let (token, mut link) =
        SetupLink::issue(&admin, SetupPurpose::FirstAdministrator, &clock).unwrap();
    let presented = SetupToken::parse(&token.reveal()).unwrap();
    assert_eq!(presented.key(), link.key);
    link.check(&presented, &clock).unwrap();
    // The set-up page: a new TOTP secret as a QR code.
    let enrollment = TotpEnrollment::new("medguard", admin.as_str()).unwrap();
    assert!(enrollment.qr_svg.contains("<svg"));
    // A weak passphrase is refused with a reason; the link is still usable.
    assert!(matches!(
        Passphrase::new("admin1234567890", &[admin.as_str()]),
        Err(AccountsError::PassphraseWeak { .. })
    ));
    let passphrase =
        Passphrase::new("granite owl reads sixteen maps at dusk", &[admin.as_str()]).unwrap();
    // A wrong code changes nothing.
    let now = TimeStep::at(clock.now()).unwrap();
    let right = enrollment.secret.code_at(now);
    let wrong = TotpCode::parse(if right.as_str() == "000000" {
        "111111"
    } else {
        "000000"
    })
    .unwrap();
    assert!(matches!(
        link.complete(
            &presented,
            &passphrase,
            enrollment.secret.clone(),
            &wrong,
            &params(),
            &clock
        ),
        Err(AccountsError::TotpWrong)
    ));
    assert_eq!(link.used_at, None);
    let (mut creds, recovery_shown) = link
        .complete(
            &presented,
            &passphrase,
            enrollment.secret.clone(),
            &right,
            &params(),
            &clock,
        )
        .unwrap();
    assert_eq!(recovery_shown.len(), 10);
    // The link works once.
    assert!(matches!(
        link.check(&presented, &clock),
        Err(AccountsError::SetupTokenUsed { .. })
    ));

    // Sign in: throttle check, passphrase, TOTP (the enrolment code is not accepted again).
    let policy = ThrottlePolicy::default();
    let mut account = AccountThrottle::default();
    let mut address = AddressThrottle::default();
    policy.check(&account, &address, &clock).unwrap();
    let attempt = PassphraseAttempt::new("granite owl reads sixteen maps at dusk").unwrap();
    assert!(
        creds
            .passphrase
            .verify(&attempt, &params())
            .unwrap()
            .is_match()
    );
    assert!(matches!(
        creds
            .totp
            .verify(&right, &clock, Some(creds.last_totp_step)),
        Err(AccountsError::TotpReplayed { .. })
    ));
    clock.advance(Duration::from_secs(30));
    let next = creds.totp.code_at(TimeStep::at(clock.now()).unwrap());
    creds.last_totp_step = creds
        .totp
        .verify(&next, &clock, Some(creds.last_totp_step))
        .unwrap();
    policy.record_success(&mut account);
    let (cookie, mut session) = Session::start(&admin, &clock).unwrap();
    let csrf = cookie.csrf_token();
    // A later request: the cookie and the form's CSRF token.
    let presented_cookie = SessionToken::parse(&cookie.reveal()).unwrap();
    assert_eq!(presented_cookie.key(), session.key);
    presented_cookie.check_csrf(Some(csrf.reveal())).unwrap();
    session.touch(&SessionPolicy::default(), &clock).unwrap();

    // A recovery code instead of a lost phone: once.
    let code = RecoveryCodeAttempt::parse(recovery_shown[0].reveal()).unwrap();
    creds.recovery.redeem(&code, &clock).unwrap();
    assert!(creds.recovery.redeem(&code, &clock).is_err());
    assert_eq!(creds.recovery.remaining(), 9);

    // Failures with the wrong passphrase are counted and alerted on.
    let wrong = PassphraseAttempt::new("granite owl reads sixteen maps at dawn").unwrap();
    let mut alert = None;
    for _ in 0..10 {
        while let Err(AccountsError::Throttled {
            retry_after: Some(w),
            ..
        }) = policy.check(&account, &address, &clock)
        {
            clock.advance(w);
        }
        assert!(
            !creds
                .passphrase
                .verify(&wrong, &params())
                .unwrap()
                .is_match()
        );
        alert = policy
            .record_failure(&mut account, &mut address, &clock)
            .or(alert);
    }
    assert_eq!(
        alert,
        Some(ThrottleAlert::RepeatedFailures { failures: 10 })
    );
    policy.release_hold(&mut account, &HoldRelease::OwnerRecoveryCode);
}

#[test]
fn set_up_links_expire_after_a_day() {
    let clock = ManualClock::new(datetime!(2026-03-01 08:00 UTC));
    let user = UserName::parse("val").unwrap();
    let (token, link) = SetupLink::issue(&user, SetupPurpose::NewAccount, &clock).unwrap();
    clock.advance(Duration::from_secs(24 * 3600 - 1));
    link.check(&token, &clock).unwrap();
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        link.check(&token, &clock),
        Err(AccountsError::SetupTokenExpired { .. })
    ));
    let (other, _) = SetupLink::issue(&user, SetupPurpose::Reset, &clock).unwrap();
    assert!(matches!(
        link.check(&other, &clock),
        Err(AccountsError::SetupTokenWrong)
    ));
    // Stored as JSON: the token is not in it.
    let json = serde_json::to_string(&link).unwrap();
    assert!(!json.contains(&token.reveal()));
    assert_eq!(serde_json::from_str::<SetupLink>(&json).unwrap(), link);
}

#[test]
fn break_glass_is_bounded_ends_by_itself_and_is_reviewed_by_someone_else() {
    let clock = ManualClock::new(datetime!(2026-03-01 02:00 UTC));
    let site = SiteId::parse("north").unwrap();
    let bme = UserName::parse("bme").unwrap();
    let bme_grant = Grant::new(Role::BiomedicalEngineer, Scope::Site(site.clone())).unwrap();
    let hso = UserName::parse("hso").unwrap();
    let hso_grant = Grant::new(Role::HospitalSecurityOfficer, Scope::Site(site.clone())).unwrap();
    let far = UserName::parse("far").unwrap();
    let far_grant = Grant::new(
        Role::HospitalSecurityOfficer,
        Scope::Site(SiteId::parse("south").unwrap()),
    )
    .unwrap();
    let auditor = UserName::parse("aud").unwrap();
    let auditor_grant = Grant::new(Role::Auditor, Scope::AllSites).unwrap();

    // Only roles with the right, with a reason, for a bounded time.
    assert!(matches!(
        BreakGlass::start(
            &auditor,
            &auditor_grant,
            "need to fix the pump",
            Duration::from_secs(60),
            &clock
        ),
        Err(AccountsError::BreakGlassNotPermitted { .. })
    ));
    assert!(matches!(
        BreakGlass::start(
            &bme,
            &bme_grant,
            "   urgent ",
            Duration::from_secs(60),
            &clock
        ),
        Err(AccountsError::BreakGlassReason { .. })
    ));
    assert!(matches!(
        BreakGlass::start(
            &bme,
            &bme_grant,
            "ICU monitor stuck in update",
            Duration::from_secs(5 * 3600),
            &clock
        ),
        Err(AccountsError::BreakGlassDuration { .. })
    ));
    let mut bg = BreakGlass::start(
        &bme,
        &bme_grant,
        "ICU monitor stuck in update, rollout must be deferred now",
        medguard_accounts::BREAK_GLASS_DEFAULT_DURATION,
        &clock,
    )
    .unwrap();
    assert!(bg.needs_review());
    let me = Actor {
        user: &bme,
        grant: &bme_grant,
        break_glass: Some(&bg),
        token: None,
    };
    assert!(may(&me, Permission::DeferDevices, Target::Site(&site), &clock).is_ok());
    let reviewer = Actor {
        user: &hso,
        grant: &hso_grant,
        break_glass: None,
        token: None,
    };
    assert!(matches!(
        bg.review(&reviewer, "looked at it, fine", &clock),
        Err(AccountsError::BreakGlassStillActive)
    ));

    // Ends by itself after 60 minutes.
    clock.advance(Duration::from_secs(59 * 60));
    assert!(matches!(bg.state(&clock), BreakGlassState::Active { .. }));
    clock.advance(Duration::from_secs(60));
    assert!(matches!(bg.state(&clock), BreakGlassState::Expired { .. }));
    let me = Actor {
        user: &bme,
        grant: &bme_grant,
        break_glass: Some(&bg),
        token: None,
    };
    assert!(may(&me, Permission::DeferDevices, Target::Site(&site), &clock).is_err());
    assert!(bg.needs_review(), "the alert stays until reviewed");

    // Not by the holder, not by someone of another site, not by a role without the right.
    let myself = Actor {
        user: &bme,
        grant: &bme_grant,
        break_glass: None,
        token: None,
    };
    assert!(matches!(
        bg.review(&myself, "all good here, really", &clock),
        Err(AccountsError::BreakGlassSelfReview)
    ));
    let far_actor = Actor {
        user: &far,
        grant: &far_grant,
        break_glass: None,
        token: None,
    };
    assert!(matches!(
        bg.review(&far_actor, "not my site but fine", &clock),
        Err(AccountsError::BreakGlassReviewRefused { .. })
    ));
    let aud_actor = Actor {
        user: &auditor,
        grant: &auditor_grant,
        break_glass: None,
        token: None,
    };
    assert!(bg.review(&aud_actor, "auditors only read", &clock).is_err());
    bg.review(
        &reviewer,
        "deferral was justified; rollout resumed at 08:00",
        &clock,
    )
    .unwrap();
    assert!(!bg.needs_review());
    assert!(matches!(bg.state(&clock), BreakGlassState::Reviewed(_)));
    assert!(matches!(
        bg.review(&reviewer, "again, to be sure", &clock),
        Err(AccountsError::BreakGlassAlreadyReviewed { .. })
    ));
    let json = serde_json::to_string(&bg).unwrap();
    assert_eq!(serde_json::from_str::<BreakGlass>(&json).unwrap(), bg);
}

#[test]
fn break_glass_ended_early_by_its_holder_or_a_reviewer_only() {
    let clock = ManualClock::new(datetime!(2026-03-01 02:00 UTC));
    let site = SiteId::parse("north").unwrap();
    let bme = UserName::parse("bme").unwrap();
    let grant = Grant::new(Role::BiomedicalEngineer, Scope::Site(site.clone())).unwrap();
    let other = UserName::parse("bme2").unwrap();
    let mut bg = BreakGlass::start(
        &bme,
        &grant,
        "imaging modality refuses to boot",
        Duration::from_secs(600),
        &clock,
    )
    .unwrap();
    let stranger = Actor {
        user: &other,
        grant: &grant,
        break_glass: None,
        token: None,
    };
    assert!(matches!(
        bg.end(&stranger, &clock),
        Err(AccountsError::BreakGlassEndRefused { .. })
    ));
    let me = Actor {
        user: &bme,
        grant: &grant,
        break_glass: None,
        token: None,
    };
    bg.end(&me, &clock).unwrap();
    assert!(matches!(bg.state(&clock), BreakGlassState::Ended(_)));
    assert!(matches!(
        bg.end(&me, &clock),
        Err(AccountsError::BreakGlassNotActive)
    ));
}

#[test]
fn signing_asks_both_factors_first_then_the_passphrase() {
    let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
    let user = UserName::parse("validator").unwrap();
    let (_, login) = Session::start(&user, &clock).unwrap();
    let policy = SigningPolicy::default();
    assert_eq!(
        policy.challenge(&login, None, &clock),
        SigningChallenge::PassphraseAndTotp
    );
    let s = policy
        .record(&login, None, SigningChallenge::PassphraseAndTotp, &clock)
        .unwrap();
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        policy.challenge(&login, Some(&s), &clock),
        SigningChallenge::Passphrase
    );
}

#[test]
fn api_tokens_are_owned_limited_expiring_and_revocable() {
    let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
    let user = UserName::parse("aud").unwrap();
    let grant = Grant::new(Role::Auditor, Scope::AllSites).unwrap();
    let export = PermissionSet::from(&[Permission::ExportAudit][..]);
    assert!(matches!(
        ApiTokenRecord::issue(
            &user,
            &grant,
            PermissionSet::from(&[Permission::ManageUsers][..]),
            Duration::from_secs(3600),
            &clock
        ),
        Err(AccountsError::ApiTokenBeyondRole { .. })
    ));
    let (token, mut record) =
        ApiTokenRecord::issue(&user, &grant, export, Duration::from_secs(3600), &clock).unwrap();
    let presented = ApiToken::parse(&token.reveal()).unwrap();
    assert_eq!(record.check(&presented, &clock).unwrap(), export);
    let (other, _) =
        ApiTokenRecord::issue(&user, &grant, export, Duration::from_secs(3600), &clock).unwrap();
    assert!(matches!(
        record.check(&other, &clock),
        Err(AccountsError::ApiTokenWrong)
    ));
    clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        record.check(&presented, &clock),
        Err(AccountsError::ApiTokenExpired { .. })
    ));
    record.revoke(&clock);
    assert!(matches!(
        record.check(&presented, &clock),
        Err(AccountsError::ApiTokenRevoked { .. })
    ));
}
