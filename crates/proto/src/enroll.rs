//! Enrollment and certificate renewal.
//!
//! The device makes its own key pair; only a certificate request ever leaves it. The server
//! checks the token, assigns (or, for a device it already knows, keeps) the device's id and
//! answers with a short-lived client certificate bound to that id, which the device renews
//! with its current certificate before `renew_after`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{DeviceId, EnrollmentToken};
use crate::limits::MAX_TEXT;
use crate::validate::{self, Invalid, Validate};

/// What a device says about itself when it enrolls. Self-reported: the server records it,
/// it grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFacts {
    /// The device's host name.
    pub hostname: String,
    /// The hardware serial number (DMI `product_serial`, or what the vendor configures): the
    /// identity that survives re-imaging, so a re-enrolled device keeps its history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The device model the agent is configured for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The operating system (`PRETTY_NAME` of os-release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The agent's version.
    pub agent_version: String,
}

impl Validate for DeviceFacts {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("hostname", &self.hostname, 255)?;
        validate::opt_name("serial", self.serial.as_ref(), MAX_TEXT)?;
        validate::opt_name("model", self.model.as_ref(), MAX_TEXT)?;
        validate::opt_name("os", self.os.as_ref(), MAX_TEXT)?;
        validate::required("agent_version", &self.agent_version, MAX_TEXT)
    }
}

/// `POST /api/v1/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time token an operator made for this site.
    pub token: EnrollmentToken,
    /// A PKCS#10 certificate request (PEM) signed by the device's own key. Only its public
    /// key is used: the server writes the subject itself.
    pub csr_pem: String,
    /// What the device says about itself.
    pub facts: DeviceFacts,
}

impl Validate for EnrollRequest {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("token", self.token.expose(), MAX_TEXT)?;
        validate::pem("csr_pem", &self.csr_pem, "CERTIFICATE REQUEST")?;
        self.facts.validate().map_err(|e| e.within("facts"))
    }
}

/// A client certificate the server issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// Its serial number, hexadecimal.
    pub serial: String,
    /// Valid from.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Valid until.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// When the device should ask for the next one.
    #[serde(with = "time::serde::rfc3339")]
    pub renew_after: OffsetDateTime,
}

impl Validate for IssuedCertificate {
    fn validate(&self) -> Result<(), Invalid> {
        validate::pem("certificate_pem", &self.certificate_pem, "CERTIFICATE")?;
        validate::required("serial", &self.serial, 128)?;
        if self.not_after <= self.not_before {
            return Err(Invalid::new("not_after", "is not after not_before"));
        }
        if self.renew_after < self.not_before || self.renew_after > self.not_after {
            return Err(Invalid::new(
                "renew_after",
                "is not within the certificate's validity",
            ));
        }
        Ok(())
    }
}

/// The answer to an enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The device's id, bound into the certificate.
    pub device_id: DeviceId,
    /// The site the token enrolled it into.
    pub site: String,
    /// The device model on record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The client certificate.
    pub certificate: IssuedCertificate,
    /// The CA that issued it, which also issued the server's certificate.
    pub ca_pem: String,
    /// True when the server already knew this device (same serial in the same site): its
    /// history is kept and its earlier certificates are revoked.
    pub reenrolled: bool,
}

impl Validate for EnrollResponse {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("site", &self.site, MAX_TEXT)?;
        validate::opt_name("model", self.model.as_ref(), MAX_TEXT)?;
        self.certificate
            .validate()
            .map_err(|e| e.within("certificate"))?;
        validate::pem("ca_pem", &self.ca_pem, "CERTIFICATE")
    }
}

/// `POST /api/v1/device/certificate`, authenticated by the current client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    /// A certificate request signed by the device's key (the same key, or a new one).
    pub csr_pem: String,
}

impl Validate for RenewRequest {
    fn validate(&self) -> Result<(), Invalid> {
        validate::pem("csr_pem", &self.csr_pem, "CERTIFICATE REQUEST")
    }
}
