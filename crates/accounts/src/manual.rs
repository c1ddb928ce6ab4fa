//! Why the accounts rules are what they are. Documentation only.
//!
//! # Passphrases
//!
//! - **Length**: at least 15 characters, NIST SP 800-63B rev. 4 §3.1.1.2's minimum for a
//!   password used alone; medguard asks it even though a TOTP code always comes with it, since
//!   the passphrase alone is the "later signing" component of 21 CFR Part 11 §11.200(a)(1)(i).
//!   At most 256 (NIST asks at least 64). Characters are Unicode scalar values after NFKC
//!   normalisation (NIST §3.1.1.2 recommends NFKC or NFKD), so the same passphrase typed on two
//!   keyboards is one passphrase. No composition rules, no forced periodic change (NIST).
//! - **Size before work**: input over 4,096 bytes is refused with one comparison, and
//!   normalisation stops at the 257th character, so a 10 MB body costs nothing and a
//!   decomposition bomb (U+FDFA expands to 18 characters) is cut short.
//! - **Guessability**: the `zxcvbn` crate (3.1, a port of Dropbox's estimator; MIT) scores the
//!   passphrase against its shipped frequency lists (the 30,000 most common leaked passwords,
//!   English words, names, TV and film words), keyboard patterns, repeats, sequences and dates,
//!   plus the person's own user name and display name. A new passphrase needs at least 10^10
//!   estimated guesses (zxcvbn's score 4, "strong protection from an offline slow-hash
//!   attack"). The refusal names one [`Weakness`](crate::Weakness) with a next step.
//!   Cost, measured on the 2-core build machine (release, thin LTO): zxcvbn itself compiles in
//!   about 29 s and, with the fancy-regex 0.18 it brings (the workspace has 0.20 too), 36 s;
//!   regex, itertools and time are already in the workspace's build. It adds 3.9 MB to a
//!   binary (a hello-world grows from 0.43 MB to 4.3 MB: its dictionaries, 0.8 MB of text,
//!   and their matchers). `derive_builder`, a default feature, is turned off. A check takes
//!   under 1 ms (`bench/accounts.sh`). The alternative, a breached-password list of our own
//!   (e.g. the top 100,000 from HIBP), would cost about as much in size, catch fewer
//!   guessable patterns (keyboard walks, dates, repeats, names) and need its own upkeep;
//!   zxcvbn is passively maintained, its lists are fixed, which for a guessability floor is
//!   acceptable.
//!   zxcvbn looks at the first 100 characters only; longer passphrases only get stronger.
//! - **Hashing**: argon2id v19 through RustCrypto's `argon2` (pure Rust; the project's one
//!   crypto library, aws-lc-rs, has no Argon2). Default parameters are RFC 9106 §4's second
//!   recommended option: m = 64 MiB, t = 3, p = 4, 128-bit salt, 256-bit tag. That is above
//!   OWASP's Password Storage Cheat Sheet minimum (m = 19 MiB, t = 2, p = 1), which
//!   [`HashParams::new`](crate::HashParams::new) enforces as a floor for any configured value.
//!   (The crate computes the four lanes one after another: p = 4 costs what p = 1 would with
//!   the same m and t; it is kept for RFC 9106 conformance and for a parallel build later.)
//!   The PHC string carries its parameters, so raising them later works: a successful login
//!   under older parameters returns a new hash to store
//!   ([`Verification::MatchRehashed`](crate::Verification::MatchRehashed)). Stored PHC strings
//!   are parsed strictly and canonically, with bounds (m ≤ 4 GiB, t ≤ 64, p ≤ 64) so a corrupt
//!   row cannot exhaust the server.
//! - **Memory**: one verification holds 64 MiB for its duration. The server should bound the
//!   number of concurrent verifications (a semaphore of 2 to 4 on a small host).
//! - **Unknown accounts**: [`PassphraseHash::verify_absent`](crate::PassphraseHash::verify_absent)
//!   does the same work, so timing does not say who has an account.
//!
//! # TOTP
//!
//! RFC 6238 with the authenticator-app defaults (SHA-1, 6 digits, 30 s), a 160-bit secret
//! (RFC 4226 §4), one step of drift either side, and no replay: the caller stores the last
//! accepted [`TimeStep`](crate::TimeStep) per person and any code of that step or before is
//! refused, even within its validity window. The HMAC is aws-lc-rs's `HMAC_SHA1_FOR_LEGACY_USE_ONLY`:
//! SHA-1's collision weakness does not affect HMAC, and it is what every authenticator app
//! computes. Tests check RFC 4226 appendix D and RFC 6238 appendix B (the SHA-1 rows) and, as an
//! independent implementation, `oathtool --totp` (Debian `oathtool`). The QR code is drawn by
//! the `qrcode` crate (its `svg` feature only, no image dependencies): plain SVG, no script.
//!
//! # Recovery codes
//!
//! Ten codes of 120 random bits each (24 characters of Crockford base32: no i, l, o, u to
//! misread), stored as SHA-256 under a domain label. NIST SP 800-63B §5.1.2.2: look-up secrets
//! of at least 112 bits may be "hashed with an approved one-way function"; only shorter ones
//! need a salted, costly hash. A keyed hash would add nothing (2^120 guesses stand between a
//! digest and its code) and argon2id would make one redemption cost ten password hashes.
//!
//! # Roles
//!
//! One table, [`ROLE_TABLE`](crate::ROLE_TABLE), and one question,
//! [`may`](crate::may). Separation of duties is written into the table (no role signs both
//! "validated" and "approved"; the administrator signs nothing); hospital roles are scoped to
//! one site by [`Grant`](crate::Grant), which refuses a scope that does not fit the role.
//!
//! # Sessions
//!
//! 256-bit random tokens, a new one at every login (session fixation), stored by digest. Idle
//! timeout 15 min and absolute lifetime 12 h by default (OWASP Session Management Cheat Sheet
//! suggests 15 to 30 min idle for high-value applications), configurable up to 24 h. The CSRF
//! token is HMAC-SHA-256 keyed by the session token: bound to the session, nothing more to
//! store, compared in constant time.
//!
//! # Online guessing
//!
//! See [`ThrottlePolicy`](crate::ThrottlePolicy): per-account waits doubling from 1 s
//! to 5 min after 5 free failures, an alert at 10, a hold at 100 (NIST's bound) that a person or
//! the owner's recovery code lifts; per-address waits after 20 failures. With the defaults an
//! online attacker gets 25 guesses in the first hour against one account, about 12 an hour
//! after, and 100 in all (after 7.2 h) until a person acts, however many addresses it has
//! ([`ThrottlePolicy::guesses_against_one_account`](crate::ThrottlePolicy::guesses_against_one_account)).
//!
//! # Break-glass
//!
//! Default 60 min, at most 4 h, a stated reason of 10 to 2,000 characters, ended by itself,
//! reviewed by a second person with the review right on the same site; it raises only
//! [`BREAK_GLASS_RAISES`](crate::BREAK_GLASS_RAISES), never signatures, releases, people or
//! reviews, and never through an API token.
//!
//! # Electronic signatures
//!
//! 21 CFR Part 11 §11.200(a)(1): see [`SigningPolicy`](crate::SigningPolicy). The default
//! inactivity limit that ends a continuous signing session is 5 minutes (at most 30).
//!
//! # Set-up links
//!
//! 256-bit one-time tokens valid 24 h, stored by digest. Credentials are made only by
//! [`SetupLink::complete`](crate::SetupLink::complete), from what the person typed: no
//! function takes a passphrase or TOTP secret for someone else.
