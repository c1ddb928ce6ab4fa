//! The inventory (CycloneDX) and the listening services, from one collection.

use medguard_inventory::{CollectOptions, InventoryError, Protocol, Service};
use medguard_proto::limits::{MAX_LISTENERS, MAX_TEXT};
use medguard_proto::{InventoryReport, Listener, PackageRef, ServicesReport, TransportProtocol};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::config::InventoryConfig;
use crate::text::{wire_path_of, wire_text};

/// The media type of a CycloneDX JSON SBOM (`medguard_proto`'s inventory format).
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";

/// What one collection gives.
#[derive(Debug)]
pub struct Collected {
    /// The inventory report.
    pub inventory: InventoryReport,
    /// The services report.
    pub services: ServicesReport,
    /// Components in the SBOM.
    pub components: usize,
    /// What was odd but did not stop the collection (a broken manifest...).
    pub warnings: Vec<String>,
}

/// Collects the inventory of the configured root, with evidence of use when configured (the
/// services come with it; without evidence the services list is empty and says nothing).
///
/// # Errors
/// When the root or the vendor file cannot be read ([`InventoryError`]).
pub fn collect(
    config: &InventoryConfig,
    model: Option<String>,
    now: OffsetDateTime,
) -> Result<Collected, InventoryError> {
    let collection = medguard_inventory::collect(&CollectOptions {
        root: config.root.clone(),
        vendor: config.vendor.clone(),
        evidence: config.evidence,
        device_model: model,
        now,
    })?;
    let mut warnings: Vec<String> = collection
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    let value = medguard_inventory::cyclonedx::to_value(&collection.sbom);
    let inventory = inventory_report(&value).map_err(|e| InventoryError::Invalid {
        path: config.root.clone(),
        format: "CycloneDX",
        pointer: String::new(),
        message: e.to_string(),
        source: Some(Box::new(e)),
    })?;
    if collection.services.len() > MAX_LISTENERS {
        warnings.push(format!(
            "{} listening sockets, only the first {MAX_LISTENERS} are reported",
            collection.services.len()
        ));
    }
    Ok(Collected {
        inventory,
        services: services_report(&collection.services),
        components: collection.sbom.components.len(),
        warnings,
    })
}

/// An inventory report carrying `sbom` (a CycloneDX JSON document) as it is.
///
/// # Errors
/// When `sbom` cannot be written as JSON.
pub fn inventory_report(sbom: &serde_json::Value) -> Result<InventoryReport, serde_json::Error> {
    let text = serde_json::to_string(sbom)?;
    Ok(InventoryReport {
        format: CYCLONEDX_JSON.to_owned(),
        sbom: RawValue::from_string(text)?,
    })
}

/// The services report of listening sockets.
#[must_use]
pub fn services_report(services: &[Service]) -> ServicesReport {
    ServicesReport {
        listeners: services
            .iter()
            .take(MAX_LISTENERS)
            .map(|s| Listener {
                protocol: match s.socket.protocol {
                    Protocol::Tcp => TransportProtocol::Tcp,
                    Protocol::Udp => TransportProtocol::Udp,
                },
                address: s.socket.address.to_string(),
                port: s.socket.port,
                executable: s.socket.process.as_deref().map(wire_path_of),
                package: s.component.as_ref().map(|c| PackageRef {
                    name: wire_text(&c.name, MAX_TEXT),
                    version: wire_text(&c.version, MAX_TEXT),
                    purl: c.purl.as_deref().map(|p| wire_text(p, MAX_TEXT * 2)),
                }),
            })
            .collect(),
    }
}
