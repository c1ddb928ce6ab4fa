//! IHE ATNA transport: DICOM PS3.15 audit messages carried as RFC 5424 syslog over TLS
//! (RFC 5425), the way hospitals' Audit Record Repositories collect them (IHE ITI-20).
//!
//! This crate owns three layers, each usable alone, and what joins them to the audit trail:
//! - [`dicom`]: the DICOM audit message (PS3.15 A.5.1) as Rust types, rendered to XML that
//!   validates against the standard's schema (our transcription ships in
//!   `schema/dicom-audit-message.rng`), and to RFC 5424 structured data for collectors that
//!   do not parse XML;
//! - [`syslog`]: RFC 5424 message formatting with its field limits, and RFC 5425 octet-counting
//!   framing with a parser that never panics;
//! - [`transport`]: a blocking TLS client (rustls over aws-lc-rs) that sends batches of framed
//!   messages and says exactly which batch is delivered, so a caller's cursor only moves
//!   forward after delivery;
//! - [`forward`] and [`export`]: the hash-chained log of `medguard-audit` mapped onto those
//!   messages, sent to a collector from a persistent cursor with retries and back-off, or
//!   written to a file for a SIEM.
//!
//! The three layers must not know where audit events come from; only [`forward`] and
//! [`export`] read `medguard-audit`'s log, and only the forwarding cursor is kept on disk.
//! The dependency goes this way (ATNA on the audit trail) so that appending an audit event
//! needs no network code. Nothing here prints: every failure is a typed error.
//!
//! # Why the XML is written by hand
//! The audit message is output only, small and flat (four element kinds, attributes and two
//! text nodes), so a writer is a hundred lines; an XML crate would add a dependency to the
//! audit path of a medical device and would still not decide what to do with characters that
//! XML 1.0 cannot carry at all (C0 controls, U+FFFE, U+FFFF): here they become U+FFFD, and
//! every string, including hostile ones, yields a well-formed document (checked against
//! `xmllint --relaxng` in the tests).
#![forbid(unsafe_code)]

pub mod dicom;
pub mod export;
pub mod forward;
pub mod syslog;
pub mod transport;

mod xml;
