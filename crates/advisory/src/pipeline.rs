//! From a device's inventory to its ranked findings: the pipeline `medguard vuln scan` runs
//! for one device and the fleet server runs for each distinct inventory.
//!
//! It owns the mapping from inventory components to the packages matching sees, with its one
//! safety rule: usage that was never looked for stays unknown (an SBOM without evidence of
//! use must not read as "never runs", or relevant findings would be dismissed).

use medguard_inventory::{Component, Ecosystem, Sbom};

use crate::AdvisoryError;
use crate::db::Database;
use crate::matching::{Matcher, Package, UsageContext};
use crate::risk::{DeviceContext, ExploitSignals, Finding, assess};

/// The package matching sees for one inventory component.
///
/// # Errors
/// [`AdvisoryError::Component`] when its package URL is not a package URL at all.
pub fn package_of(c: &Component) -> Result<Package, AdvisoryError> {
    let mut package = match &c.purl {
        Some(purl) => Package::from_purl(purl, Some(c.version.as_str())).map_err(|source| {
            AdvisoryError::Component {
                component: format!("{} {}", c.name, c.version),
                source,
            }
        })?,
        None => Package {
            ecosystem: match &c.ecosystem {
                Ecosystem::Vendor => String::new(),
                other => other.osv_name(),
            },
            name: c.name.clone(),
            version: c.version.clone(),
            purl: None,
            source_name: None,
            usage: UsageContext::default(),
        },
    };
    if package.source_name.is_none() {
        package.source_name = c.source_package.clone().filter(|s| *s != c.name);
    }
    package.usage.running = c
        .usage
        .observed
        .then_some(c.usage.running || c.usage.mapped_libraries);
    package.usage.listening = c.usage.listening.iter().map(|s| s.endpoint()).collect();
    Ok(package)
}

/// The packages of an inventory, in its order.
///
/// # Errors
/// As [`package_of`], for the first component refused.
pub fn packages_of(sbom: &Sbom) -> Result<Vec<Package>, AdvisoryError> {
    sbom.components.iter().map(package_of).collect()
}

/// Matches `packages` (each distinct package once) and assesses every match for `device`;
/// the findings come most urgent first, then by component and advisory.
#[must_use]
pub fn assess_all(
    matcher: &Matcher,
    packages: &[Package],
    device: &DeviceContext,
    signals: &ExploitSignals,
) -> Vec<Finding> {
    let refs: Vec<&Package> = packages.iter().collect();
    let matches = matcher.match_packages(&refs);
    let mut findings = Vec::new();
    for (i, package) in packages.iter().enumerate() {
        for m in matches.get(i) {
            if let Some(advisory) = matcher.advisory(m.advisory) {
                findings.push(assess(package, advisory, m, device, signals));
            }
        }
    }
    findings.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.component.name.cmp(&b.component.name))
            .then_with(|| a.advisory.cmp(&b.advisory))
    });
    findings
}

/// The findings of one inventory against every advisory of `database`.
///
/// # Errors
/// [`AdvisoryError::EmptyDatabase`] when the database holds nothing (an empty result would
/// read as "no vulnerabilities"); a database or component error.
pub fn scan(
    database: &Database,
    sbom: &Sbom,
    device: &DeviceContext,
    signals: &ExploitSignals,
) -> Result<Vec<Finding>, AdvisoryError> {
    if database.is_empty() {
        return Err(AdvisoryError::EmptyDatabase {
            path: database.dir().to_owned(),
        });
    }
    let matcher = Matcher::new(database.load()?);
    let packages = packages_of(sbom)?;
    Ok(assess_all(&matcher, &packages, device, signals))
}
