//! The TOTP codes and argon2id hashes of this crate against independent implementations:
//! `oathtool` (Debian `oathtool`, from OATH Toolkit) and the Argon2 reference implementation
//! (Debian `argon2`). `.ci/install-deps` installs both; a test that cannot find its tool fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;
use std::time::Duration;

use medguard_accounts::{
    AccountsError, HashParams, PassphraseAttempt, PassphraseHash, TimeStep, TotpCode, TotpSecret,
    Verification,
};
use medguard_host::{Clock, ManualClock};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .expect("sh runs");
    assert!(
        found.status.success(),
        "{name} is not installed: run .ci/install-deps (Debian package {name})"
    );
    Command::new(name)
}

fn oathtool_code(secret: &TotpSecret, at: OffsetDateTime) -> String {
    let now = at
        .format(&time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap();
    let out = tool("oathtool")
        .args(["--totp", "--base32", "--digits=6", "--now", &now])
        .arg(secret.reveal_base32())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn totp_codes_agree_with_oathtool() {
    let times = [
        datetime!(1970-01-01 00:00:59 UTC),
        datetime!(2005-03-18 01:58:29 UTC),
        datetime!(2026-03-01 10:00:00 UTC),
        datetime!(2026-03-01 10:00:29 UTC),
        datetime!(2033-05-18 03:33:20 UTC),
        datetime!(2099-12-31 23:59:59 UTC),
    ];
    let mut checked = 0;
    for _ in 0..5 {
        let secret = TotpSecret::generate().unwrap();
        for at in times {
            let ours = secret.code_at(TimeStep::at(at).unwrap());
            assert_eq!(
                ours.as_str(),
                oathtool_code(&secret, at),
                "{}",
                at.format(&Rfc3339).unwrap()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 30);
}

#[test]
fn an_oathtool_code_is_accepted_once() {
    let clock = ManualClock::new(datetime!(2026-03-01 10:00:10 UTC));
    let secret = TotpSecret::generate().unwrap();
    let code = TotpCode::parse(&oathtool_code(&secret, clock.now())).unwrap();
    let step = secret.verify(&code, &clock, None).unwrap();
    assert!(matches!(
        secret.verify(&code, &clock, Some(step)),
        Err(AccountsError::TotpReplayed { .. })
    ));
    // The phone 30 s ahead of the server: one step of drift.
    let ahead = TotpCode::parse(&oathtool_code(
        &secret,
        clock.now() + Duration::from_secs(30),
    ))
    .unwrap();
    assert_eq!(
        secret.verify(&ahead, &clock, Some(step)).unwrap(),
        TimeStep(step.0 + 1)
    );
    // Two steps behind: refused.
    let behind = TotpCode::parse(&oathtool_code(
        &secret,
        clock.now() - Duration::from_secs(60),
    ))
    .unwrap();
    if behind != code {
        assert!(secret.verify(&behind, &clock, None).is_err());
    }
}

#[test]
fn argon2id_hashes_of_the_reference_implementation_verify() {
    // The default parameters (RFC 9106's second option) through the reference command line:
    // its PHC string must parse here, verify the same passphrase, and refuse another.
    let passphrase = "Ünïcode façade, eleven léopards";
    let attempt = PassphraseAttempt::new(passphrase).unwrap();
    let mut child = tool("argon2")
        .args([
            "medguard-salt-16",
            "-id",
            "-t",
            "3",
            "-k",
            "65536",
            "-p",
            "4",
            "-l",
            "32",
            "-e",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        // The reference hashes the bytes it reads: give it the NFKC form this crate hashes
        // (this text is already NFC and has no compatibility characters).
        child
            .stdin
            .take()
            .unwrap()
            .write_all(passphrase.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let phc = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let hash = PassphraseHash::parse(&phc).unwrap();
    assert_eq!(hash.params(), HashParams::default());
    assert_eq!(
        hash.to_phc(),
        phc,
        "canonical: prints back to the same text"
    );
    assert!(matches!(
        hash.verify(&attempt, &HashParams::default()).unwrap(),
        // The salt is 16 bytes and the output 32, as ours: no rehash needed.
        Verification::Match
    ));
    let other = PassphraseAttempt::new("Ünïcode façade, eleven léopardz").unwrap();
    assert!(matches!(
        hash.verify(&other, &HashParams::default()).unwrap(),
        Verification::Mismatch
    ));
}
