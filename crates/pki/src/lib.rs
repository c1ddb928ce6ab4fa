//! The fleet's own certificate authority, and the mutually authenticated TLS both ends speak.
//!
//! One CA per server deployment (`DIR/tls/ca.pem`, its key beside it, readable by the server
//! alone) issues:
//! - the server's TLS certificate, for the host names it is reached by;
//! - each enrolled device's short-lived client certificate, from a certificate request the
//!   device made with its own key (the private key never leaves the device). The server writes
//!   the subject itself: the device id as common name and as the URI
//!   `urn:medguard:device:ID` in the subject alternative name, whatever the request asked.
//!
//! Agents pin the CA's certificate: they trust this server and no other, whatever the host's
//! trust store says. The server asks browsers for nothing and devices for their certificate
//! (optional client authentication), so one port serves both; routes for devices demand one.
//!
//! Keys: the CA and the server use ECDSA P-256 (what every browser accepts); devices use
//! Ed25519, the same key that signs the device's audit checkpoints, in the `NAME.key` PKCS#8
//! format of `medguard-digest`.
//!
//! This crate owns certificate issuance and parsing and the TLS settings. It must not decide
//! whether a device may have a certificate (the server checks the token, the revocation
//! state), must not store anything, and must not read the clock: callers pass "now".
//!
//! Dependencies: `rcgen` builds certificates and parses and verifies certificate requests (its
//! `x509-parser` feature, verifying over aws-lc-rs); `x509-parser` reads the certificate a
//! device presents (already in the build through yara-x, so it costs nothing more).
#![forbid(unsafe_code)]

mod authority;
mod device;
mod error;
pub mod tls;

pub use authority::{CertificateAuthority, DeviceCertificate, ServerCertificate};
pub use device::{CertifiedDevice, DeviceKey, certified_device};
pub use error::PkiError;
