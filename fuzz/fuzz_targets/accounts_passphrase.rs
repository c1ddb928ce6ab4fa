//! New passphrases and login attempts (`medguard-accounts`) on arbitrary text. Never panics,
//! and:
//! - input over `MAX_INPUT_BYTES` is refused as too long, before anything else;
//! - an accepted passphrase has 15 to 256 characters and is also a valid login attempt
//!   (no false acceptance of a passphrase that could never be typed at login);
//! - a refused attempt is refused only for being too long.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_accounts::{
    AccountsError, MAX_CHARACTERS, MAX_INPUT_BYTES, MIN_CHARACTERS, Passphrase, PassphraseAttempt,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let chosen = Passphrase::new(text, &["alice", "St Mary's"]);
    let attempt = PassphraseAttempt::new(text);
    if text.len() > MAX_INPUT_BYTES {
        assert!(matches!(chosen, Err(AccountsError::PassphraseTooLong { .. })));
        assert!(matches!(attempt, Err(AccountsError::PassphraseTooLong { .. })));
        return;
    }
    match attempt {
        Ok(_) => {}
        Err(AccountsError::PassphraseTooLong { .. }) => {
            // NFKC expands one character to at most 18 (U+FDFA).
            assert!(text.chars().count() * 18 > MAX_CHARACTERS, "{text:?}");
        }
        Err(e) => panic!("an attempt refused for {e:?}"),
    }
    if let Ok(p) = chosen {
        assert!((MIN_CHARACTERS..=MAX_CHARACTERS).contains(&p.characters()));
        assert!(PassphraseAttempt::new(text).is_ok());
        // Secrets never print.
        assert_eq!(p.to_string(), "<redacted>");
    }
});
