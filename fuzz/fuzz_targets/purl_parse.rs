//! Package URLs (`medguard-purl`) on arbitrary text. Parsing never panics, and:
//! - what [`Purl::parse`] accepts prints to a canonical string that parses to an equal value
//!   and prints the same again, and the builder makes the same value from its components;
//! - [`Purl::parse_lenient`] accepts it too, with the same result;
//! - what the lenient parse accepts prints to a string it parses back to an equal value,
//!   and matching makes a package of it with the same version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_advisory::Package;
use medguard_purl::Purl;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Purl::parse(text) {
        let printed = p.to_string();
        let again = Purl::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
        assert_eq!(again, p, "{printed}");
        assert_eq!(again.to_string(), printed);
        let mut b = Purl::builder(p.ty(), p.name());
        if let Some(ns) = p.namespace() {
            b = b.namespace(ns);
        }
        if let Some(v) = p.version() {
            b = b.version(v);
        }
        for (k, v) in p.qualifiers() {
            b = b.qualifier(k, v);
        }
        if let Some(sp) = p.subpath() {
            b = b.subpath(sp);
        }
        assert_eq!(b.build().as_ref(), Ok(&p), "{printed}");
        assert_eq!(Purl::parse_lenient(text).as_ref(), Ok(&p), "{text:?}");
    }
    if let Ok(p) = Purl::parse_lenient(text) {
        let printed = p.to_string();
        let again = Purl::parse_lenient(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
        assert_eq!(again, p, "{printed}");
        let package = Package::from_purl(text, None).expect("parsed once, parses again");
        assert_eq!(package.version, p.version().unwrap_or_default());
    }
});
