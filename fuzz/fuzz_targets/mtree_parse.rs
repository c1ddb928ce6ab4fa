//! The mtree parser on arbitrary bytes: never panics, and every parsed path is absolute,
//! stays below the root (no `.` or `..` component survives) and appears once, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = medguard_profile::mtree::parse(data) else {
        return;
    };
    let mut previous: Option<&[u8]> = None;
    for entry in spec.entries() {
        let path = &*entry.path;
        assert!(path.starts_with(b"/"), "relative path {path:?}");
        if path != b"/" {
            for component in path[1..].split(|&b| b == b'/') {
                assert!(
                    !component.is_empty() && component != b"." && component != b"..",
                    "path {path:?} is not normalised"
                );
            }
        }
        if let Some(p) = previous {
            assert!(p < path, "paths out of order or repeated");
        }
        previous = Some(path);
    }
    let _ = spec.into_baseline();
});
