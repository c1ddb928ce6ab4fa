//! ClamAV hash list parsing (`.hdb`/`.hsb`) on arbitrary text: never panics; an accepted
//! line re-renders to a line that parses to the same signature; a list that loads finds
//! each of its signatures by digest and size; a refused list names a line that exists.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use medguard_scan::hashlist::{HashListError, HashLists, parse_line};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        if let Ok(Some(p)) = parse_line(line) {
            let size = p.size.map_or_else(|| "*".to_owned(), |s| s.to_string());
            let again = format!("{}:{size}:{}:{}", hex::encode(&p.digest), p.name, 150);
            let q = parse_line(&again).expect("re-rendered line parses").expect("same level");
            assert_eq!((q.kind, &q.digest, q.size, q.name), (p.kind, &p.digest, p.size, p.name));
        }
    }
    let mut lists = HashLists::new();
    match lists.add_text(Path::new("fuzz.hsb"), &text) {
        Ok(()) => {
            for sig in lists.signatures() {
                let size = sig.size.unwrap_or(12345);
                assert!(lists.needs(size).any());
                assert!(
                    lists
                        .lookup(sig.kind, &sig.digest, size)
                        .any(|s| s.line == sig.line)
                );
            }
        }
        Err(HashListError::Line { line, .. }) => {
            assert!(line >= 1 && line <= text.lines().count());
            assert!(lists.is_empty());
        }
        Err(HashListError::Empty { .. }) => assert_eq!(text.lines().count(), 0),
        Err(e) => panic!("unexpected error {e}"),
    }
});
