//! Package URLs to OSV ecosystems and package names. Parsing is `medguard-purl`'s.

use medguard_purl::Purl;

/// The OSV ecosystem of a package URL (with the distribution release where the `distro`
/// qualifier gives one: `Debian:12`) and the package name as OSV spells it, or `None` for a
/// type OSV does not cover.
#[must_use]
pub fn osv_ecosystem_and_name(purl: &Purl) -> Option<(String, String)> {
    let ns = purl.namespace().unwrap_or_default();
    let distro_release = || {
        purl.qualifier("distro")
            .and_then(|d| d.rsplit_once('-').map(|(_, r)| r.to_owned()))
    };
    let with_release = |base: &str| match distro_release() {
        Some(r) => format!("{base}:{r}"),
        None => base.to_owned(),
    };
    let name = purl.name().to_owned();
    let scoped = |name: String| {
        if ns.is_empty() {
            name
        } else {
            format!("{ns}/{name}")
        }
    };
    Some(match purl.ty() {
        "deb" => match ns.to_ascii_lowercase().as_str() {
            "ubuntu" => (with_release("Ubuntu"), name),
            _ => (with_release("Debian"), name),
        },
        "rpm" => {
            let base = match ns.to_ascii_lowercase().as_str() {
                "almalinux" => "AlmaLinux",
                "rocky" | "rocky-linux" => "Rocky Linux",
                "opensuse" => "openSUSE",
                "suse" => "SUSE",
                _ => "Red Hat",
            };
            (with_release(base), name)
        }
        "pypi" => ("PyPI".to_owned(), normalize_pypi(&name)),
        "npm" => ("npm".to_owned(), scoped(name)),
        "cargo" => ("crates.io".to_owned(), name),
        "golang" => ("Go".to_owned(), scoped(name)),
        "maven" => ("Maven".to_owned(), format!("{ns}:{name}")),
        "gem" => ("RubyGems".to_owned(), name),
        "nuget" => ("NuGet".to_owned(), name),
        "composer" => ("Packagist".to_owned(), format!("{ns}/{name}")),
        "apk" => ("Alpine".to_owned(), name),
        _ => return None,
    })
}

/// PEP 503 name normalisation as matching compares PyPI names: lower case, runs of `-`, `_`,
/// `.` become one `-` (leading and trailing ones are dropped). Not the purl `pypi`
/// normalisation, which keeps dots (`medguard_purl::manual`).
#[must_use]
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(purl: &str) -> Option<(String, String)> {
        osv_ecosystem_and_name(&Purl::parse_lenient(purl).unwrap())
    }

    #[test]
    fn debian_purl_with_distro_and_upstream() {
        assert_eq!(
            eco("pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc"),
            Some(("Debian:12".into(), "libc6".into()))
        );
        assert_eq!(
            eco("pkg:deb/ubuntu/openssl@3.0.2?distro=ubuntu-22.04"),
            Some(("Ubuntu:22.04".into(), "openssl".into()))
        );
    }

    #[test]
    fn npm_scope_maven_group_go_stdlib() {
        assert_eq!(
            eco("pkg:npm/%40angular/core@1.0.0"),
            Some(("npm".into(), "@angular/core".into()))
        );
        assert_eq!(
            eco("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
            Some(("Maven".into(), "org.apache.logging.log4j:log4j-core".into()))
        );
        // syft's Go standard library has no namespace, which the golang type requires:
        // the lenient parse keeps it matchable.
        assert_eq!(
            eco("pkg:golang/stdlib@1.22.1"),
            Some(("Go".into(), "stdlib".into()))
        );
        assert_eq!(eco("pkg:generic/acme/viewer@1"), None);
    }

    #[test]
    fn pypi_names() {
        assert_eq!(normalize_pypi("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(
            eco("pkg:pypi/Zope.Interface@5"),
            Some(("PyPI".into(), "zope-interface".into()))
        );
    }
}
