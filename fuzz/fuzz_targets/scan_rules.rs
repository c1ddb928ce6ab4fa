//! YARA rule compilation on arbitrary text: vendors' rules are trusted, but a damaged rule
//! file must give an error naming a line of the file, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medguard_scan::{RulesError, YaraRules};

fuzz_target!(|data: &[u8]| {
    match YaraRules::from_source(Path::new("fuzz.yar"), data) {
        Ok(rules) => {
            // Compiled rules scan their own source without failing.
            let mut scanner = yara_x::Scanner::new(rules.compiled());
            scanner.set_timeout(std::time::Duration::from_secs(5));
            let _ = scanner.scan(data);
        }
        Err(RulesError::Compile { line, column, .. }) => {
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(line >= 1 && line <= lines, "line {line} of {lines}");
            assert!(column >= 1);
        }
        Err(e) => panic!("unexpected error {e}"),
    }
});
