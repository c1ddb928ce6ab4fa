//! Why the parser does what it does.
//!
//! This crate replaced two parsers written in parallel: the inventory's (which built the
//! package URLs of our SBOMs and read other tools' back) and the advisory crate's (which
//! read package URLs from SBOMs and CSAF product trees for matching). Each difference between
//! them was decided by the specification (ECMA-427 and the purl-spec repository: its
//! `docs/specification/`, the type definitions in `types/` and the test suite in `tests/`);
//! where the how-to documents and the required test cases disagree, the test cases won,
//! because they define conformance.
//!
//! | what | inventory parser | advisory parser | now |
//! |---|---|---|---|
//! | type characters | letters, digits, `.+-`, no leading digit | anything non-empty | letters, digits, `.-`, a letter first (ECMA-427 dropped `+`) |
//! | version separator | last `@` of the path unless nothing precedes it | the same unless what precedes ends with `/` (then `@1.0` was a name) | last `@` of the last path segment: an unencoded npm scope (`pkg:npm/@babel/core`) is a namespace, and `pkg:swift/github.com/Alamofire/@5.4.3` has no name, as the required tests say |
//! | empty version (`x@`) | none | `Some("")` | none: the `@` prefixes a version "when not empty" |
//! | namespace | split on `/`, empty segments dropped, each decoded | decoded as one string (`%2F` became a separator, empty segments kept) | segments, empty ones dropped; a segment that decodes to something with `/` is refused |
//! | subpath | decoded as one string (so `%2F` changed the structure on the way back) | ignored | segments decoded one by one; empty, `.` and `..` dropped; an encoded `/` refused |
//! | broken `%` escape, non-UTF-8 bytes | error | kept literally / U+FFFD | error in [`Purl::parse`](crate::Purl::parse); the old behaviour in [`Purl::parse_lenient`](crate::Purl::parse_lenient) |
//! | qualifier without `=` | error | key with an empty value | error (key and value "shall be separated by `=`"); dropped by the lenient parse |
//! | empty qualifier value | dropped | kept | dropped: "the same as if no key=value pair exists" |
//! | qualifier key characters | lower-cased, not checked; empty key dropped | lower-cased, not checked | must already be lowercase ASCII letters, digits, `._-`, a letter first (the required `gem` and `rpm` tests refuse `Platform=java`; purl-spec#942, #951); the lenient parse lower-cases and drops keys still invalid |
//! | repeated key | both kept | last wins | error (keys "shall be unique"); the lenient parse keeps the last |
//! | qualifier order | sorted by key, then value | a map | a map by key: the canonical order sorts `compiler` before `compiler.runtime` (the `conan` tests) |
//! | encoding on output | all but `A-Z a-z 0-9 .-_~`, so an epoch's `:` was `%3A` | no output | `:` is never encoded ("whether used as a separator or otherwise"): `pkg:deb/debian/attr@1:2.5.1-4`. Both forms parse to the same value |
//! | type rules | none; callers applied PEP 503 to PyPI names (dots became `-`) | none (PEP 503 only when mapping to OSV) | the registered definitions ([`crate::types`]): case folding, PyPI `_` → `-` with dots kept, required and prohibited namespaces, required qualifiers |
//! | errors | `PurlError(&'static str)` | struct with the input and a reason | one `#[non_exhaustive]` enum whose variants carry what is wrong; [`PurlError::is_type_rule`](crate::PurlError::is_type_rule) tells type rules from syntax, as the test suite asks |
//! | fields | public (`ty`), so an invalid value could be made | public (`kind`) | private with accessors: a [`Purl`](crate::Purl) that exists is valid and normalised |
//!
//! Kept from both: `pkg:` followed by slashes is accepted; the fragment starts at the first
//! `#` and the query at the first `?` (RFC 3986; the how-to says "from the right", which
//! gives the same result on every canonical URL and a worse one on a URL in a qualifier
//! value with an unencoded `?`); `+` is a plus, never a space. Added: the `pkg` scheme in
//! any case (RFC 3986 schemes are case insensitive; the how-to lower-cases it).
//!
//! ## Strict and lenient
//!
//! Everything we write is built with [`Purl::builder`](crate::Purl::builder) and so is
//! valid. What we read from other tools is not always: syft writes the Go standard library
//! as `pkg:golang/stdlib@1.22.1` although `golang` requires a namespace, and CSAF product
//! trees carry hand-written URLs. Matching and SBOM reading therefore use
//! [`Purl::parse_lenient`](crate::Purl::parse_lenient), whose documentation lists each
//! tolerance; a vendor's declared component and anything else we put in an SBOM use
//! [`Purl::parse`](crate::Purl::parse).
//!
//! ## PyPI names
//!
//! The purl `pypi` definition normalises a name by lower case and `_` → `-` only; PEP 503
//! (which also folds `.` and runs of separators) is how PyPI compares names. The two differ
//! for `zope.interface`: the purl keeps the dot. Advisory matching compares PEP 503 forms on
//! both sides (`medguard_advisory::normalize_pypi`), so it matches either spelling.
