//! Bearer tokens, names and codes (`medguard-accounts`) on arbitrary text. Never panics, and:
//! - session, set-up and API tokens and storage keys that parse print back to the same text
//!   (one spelling per token) and keep the same storage key;
//! - user names and site ids that parse are the input in lower case and parse again the same;
//! - roles and permissions round-trip through their names;
//! - a CSRF check passes only for the session's own token (no false acceptance);
//! - a recovery code attempt never redeems against a fresh set it was not drawn from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_accounts::{
    ApiToken, Permission, RecoveryCodeAttempt, RecoveryCodes, Role, SessionToken, SetupToken,
    SiteId, TokenKey, UserName,
};
use medguard_host::FixedClock;
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = SessionToken::parse(text) {
        assert_eq!(t.reveal(), text);
        assert_eq!(SessionToken::parse(&t.reveal()).map(|a| a.key()).ok(), Some(t.key()));
    }
    if let Ok(t) = SetupToken::parse(text) {
        assert_eq!(t.reveal(), text);
    }
    if let Ok(t) = ApiToken::parse(text) {
        assert_eq!(t.reveal(), text);
        // Domains differ: the same bytes as a session token have another key.
        let s = SessionToken::parse(text).expect("same grammar");
        assert_ne!(s.key(), t.key());
    }
    if let Ok(k) = TokenKey::parse(text) {
        assert_eq!(k.to_string(), text);
    }
    if let Ok(u) = UserName::parse(text) {
        assert_eq!(u.as_str(), text.to_ascii_lowercase());
        assert_eq!(UserName::parse(u.as_str()).ok().as_ref(), Some(&u));
    }
    if let Ok(s) = SiteId::parse(text) {
        // A site is the fleet's name for it: kept as given, compared exactly.
        assert_eq!(s.as_str(), text);
        assert!(!text.trim().is_empty() && !text.chars().any(char::is_control));
        assert_eq!(SiteId::parse(s.as_str()).ok().as_ref(), Some(&s));
    }
    if let Ok(r) = text.parse::<Role>() {
        assert_eq!(r.as_str(), text);
    }
    if let Ok(p) = text.parse::<Permission>() {
        assert_eq!(p.as_str(), text);
    }
    let session = SessionToken::generate().expect("randomness");
    if session.check_csrf(Some(text)).is_ok() {
        assert_eq!(session.csrf_token().reveal(), text);
    }
    if let Ok(attempt) = RecoveryCodeAttempt::parse(text) {
        let (_, mut codes) = RecoveryCodes::generate().expect("randomness");
        let clock = FixedClock(OffsetDateTime::UNIX_EPOCH);
        assert!(codes.redeem(&attempt, &clock).is_err());
    }
});
