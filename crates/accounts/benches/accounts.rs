//! The cost of one login (argon2id verification at the default parameters) and what an online
//! attacker gets against one account under the default throttling. Run by `bench/accounts.sh`
//! (`cargo bench -p medguard-accounts --bench accounts`); prints, asserts nothing.

use std::time::{Duration, Instant};

use medguard_accounts::{AccountsError, HashParams, Passphrase, PassphraseAttempt, ThrottlePolicy};

fn main() -> Result<(), AccountsError> {
    // zxcvbn builds its dictionaries on first use.
    let start = Instant::now();
    let _ = Passphrase::new("a first passphrase to warm the dictionaries", &[]);
    println!(
        "new passphrase check, first call (zxcvbn loads its dictionaries): {:.1} ms",
        ms(start.elapsed())
    );
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let params = HashParams::default();
    let passphrase = Passphrase::new("granite owl reads sixteen maps at dusk", &[])?;
    let hash = passphrase.hash(&params)?;
    let attempt = PassphraseAttempt::new("granite owl reads sixteen maps at dusk")?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let v = hash.verify(&attempt, &params)?;
        times.push(start.elapsed());
        if !v.is_match() {
            return Err(AccountsError::TotpWrong);
        }
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let best = times.first().copied().unwrap_or_default();
    println!(
        "login (argon2id verify, m={} KiB t={} p={}): median {:.1} ms, best {:.1} ms over {runs} runs; {:.1} logins/s on one core",
        params.memory_kib(),
        params.passes(),
        params.lanes(),
        ms(median),
        ms(best),
        1.0 / median.as_secs_f64()
    );

    let start = Instant::now();
    let n = 200;
    for i in 0..n {
        let _ = Passphrase::new(
            &format!("granite owl reads sixteen maps at dusk {i}"),
            &["alice"],
        );
    }
    println!(
        "new passphrase check (NFKC + zxcvbn): {:.2} ms each",
        ms(start.elapsed()) / f64::from(n)
    );

    let policy = ThrottlePolicy::default();
    for (window, label) in [
        (Duration::from_secs(3600), "first hour"),
        (Duration::from_secs(24 * 3600), "first 24 h"),
        (Duration::from_secs(30 * 24 * 3600), "first 30 days"),
    ] {
        for addresses in [1, 1000] {
            let b = policy.guesses_against_one_account(window, addresses);
            println!(
                "online guesses against one account, {label}, {addresses} address(es): {}{}",
                b.guesses,
                b.held_after
                    .map(|d| format!(
                        " (account held after {:.1} h, until a person releases it)",
                        d.as_secs_f64() / 3600.0
                    ))
                    .unwrap_or_default()
            );
        }
    }
    // The attacker's best case: many addresses, so only the account's limit binds.
    let day = policy.guesses_against_one_account(Duration::from_secs(24 * 3600), 1000);
    let hour = policy.guesses_against_one_account(Duration::from_secs(3600), 1000);
    let held_h = day.held_after.map_or(24.0, |d| d.as_secs_f64() / 3600.0);
    println!(
        "guesses per hour against one account (best case for the attacker): {} in the first hour, then {:.1}/h, {} in all until a person releases the hold ({held_h:.1} h)",
        hour.guesses,
        f64::from(day.guesses.saturating_sub(hour.guesses)) / (held_h - 1.0),
        day.guesses
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
