//! TUF metadata as the device's client workflow parses what a repository serves: the signed
//! envelope, the signature check (a root against its own keys) and the typed views of every
//! role kind (targets with any hash algorithm, delegations and their path patterns matched
//! against the listed target names). Never panics, never hangs on a hostile path pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_tuf::metadata::exercise_parser;

fuzz_target!(|data: &[u8]| {
    exercise_parser(data);
});
