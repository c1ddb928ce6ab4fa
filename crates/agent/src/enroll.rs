//! Enrollment: the device makes its own key, sends a certificate request with a one-time
//! token, and keeps what the server issued.

use std::path::PathBuf;
use std::sync::Arc;

use medguard_audit::{EventKind, Outcome};
use medguard_host::Clock;
use medguard_proto::{
    CheckinRequest, CheckinResponse, DeviceFacts, EnrollRequest, EnrollResponse, EnrollmentToken,
    limits, paths,
};
use url::Url;

use crate::events::AgentLog;
use crate::outbox::Outbox;
use crate::state::{CertificateRecord, Enrollment, StateDir};
use crate::transport::{ServerLink, Timeouts};
use crate::{AGENT_VERSION, AgentError};

/// What `agent enroll` needs.
#[derive(Debug, Clone)]
pub struct EnrollOptions {
    /// The server's base URL (`https://fleet.example:8443`).
    pub server: Url,
    /// The one-time token.
    pub token: EnrollmentToken,
    /// The fleet CA to pin (PEM), obtained out of band (`DIR/tls/ca.pem` of the server).
    pub ca_pem: String,
    /// What the device says about itself.
    pub facts: DeviceFacts,
    /// The agent's audit log, where the enrollment is recorded.
    pub audit_log: PathBuf,
    /// How long to wait on the server.
    pub timeouts: Timeouts,
}

/// What an enrollment did.
#[derive(Debug, Clone)]
pub struct EnrollOutcome {
    /// What was recorded.
    pub enrollment: Enrollment,
    /// Whether the device key was made now (otherwise the existing one was kept).
    pub key_created: bool,
    /// Things worth saying that did not stop the enrollment.
    pub notes: Vec<String>,
}

/// The facts a device reports at enrollment: host name, serial number (configured, else the
/// DMI serial unless it is a known placeholder), model, operating system, agent version.
#[must_use]
pub fn device_facts(model: Option<String>, serial: Option<String>) -> DeviceFacts {
    DeviceFacts {
        hostname: crate::text::wire_text(&medguard_host::host_name(), 255),
        serial: serial.or_else(dmi_serial),
        model,
        os: os_pretty_name(),
        agent_version: AGENT_VERSION.to_owned(),
    }
}

/// The board's serial number, unless it is one of the placeholders firmware ships with (two
/// devices reporting the same placeholder would look like one re-imaged device to the
/// server and share a history).
fn dmi_serial() -> Option<String> {
    const PLACEHOLDERS: &[&str] = &[
        "",
        "0",
        "none",
        "n/a",
        "na",
        "default string",
        "to be filled by o.e.m.",
        "system serial number",
        "not specified",
        "not applicable",
        "123456789",
        "0123456789",
        "chassis serial number",
    ];
    let s = std::fs::read_to_string("/sys/class/dmi/id/product_serial").ok()?;
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let placeholder = PLACEHOLDERS.contains(&lower.as_str()) || s.chars().all(|c| c == '0');
    (!placeholder && s.len() <= 128 && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

fn os_pretty_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    text.lines().find_map(|l| {
        let v = l.strip_prefix("PRETTY_NAME=")?;
        let v = v.trim().trim_matches('"').trim_matches('\'');
        (!v.is_empty()).then(|| crate::text::wire_name(v))
    })
}

/// Enrolls the device whose state is `state`.
///
/// Makes the device key if there is none (an existing key is kept: re-enrolling a device
/// whose certificate expired keeps its key, queue and audit log), sends the certificate
/// request with the token, checks what comes back (the CA must be the pinned one, the
/// certificate must chain to it, be valid now, name the device id the server gave and carry
/// this device's key), and stores certificate, CA and enrollment. After a re-enrollment the
/// next sequence number is raised above the last one the server holds for the device.
///
/// # Errors
/// [`AgentError`]: the token refused ([`crate::SendError::Refused`] with the server's
/// problem), the server unreachable or not the pinned CA's, an answer that does not fit.
pub async fn enroll(
    state: &StateDir,
    options: EnrollOptions,
    clock: Arc<dyn Clock>,
) -> Result<EnrollOutcome, AgentError> {
    state.create()?;
    let (key, key_created) = state.ensure_key()?;
    let csr = key
        .certificate_request(&options.facts.hostname)
        .map_err(|source| AgentError::Pki {
            what: "the certificate request",
            source,
        })?;
    let link = ServerLink::enrolling(&options.server, &options.ca_pem, options.timeouts)?;
    let request = EnrollRequest {
        token: options.token.clone(),
        csr_pem: csr,
        facts: options.facts.clone(),
    };
    let body = serde_json::to_vec(&request).map_err(|e| AgentError::Task {
        task: "enroll",
        reason: e.to_string(),
    })?;
    let answer: EnrollResponse = link
        .post_json(paths::ENROLL, body, limits::MAX_ENROLL_BYTES)
        .await?;

    if pem_body(&answer.ca_pem) != pem_body(&options.ca_pem) {
        return Err(AgentError::Mismatch {
            what: "the CA the server names is not the one pinned with --ca".into(),
        });
    }
    let now = clock.now();
    let certified = check_certificate(
        &options.ca_pem,
        &answer.certificate.certificate_pem,
        &key.public_key(),
        now,
    )?;
    if certified.device_id != answer.device_id {
        return Err(AgentError::Mismatch {
            what: format!(
                "the certificate names device {} and the answer {}",
                certified.device_id, answer.device_id
            ),
        });
    }
    let enrollment = Enrollment {
        device_id: answer.device_id.clone(),
        site: answer.site.clone(),
        model: answer.model.clone(),
        server: options.server.to_string(),
        enrolled: now,
        reenrolled: answer.reenrolled,
        certificate: CertificateRecord {
            serial: answer.certificate.serial.clone(),
            not_before: answer.certificate.not_before,
            not_after: answer.certificate.not_after,
            renew_after: answer.certificate.renew_after,
        },
    };
    state.store(
        &enrollment,
        &answer.certificate.certificate_pem,
        &options.ca_pem,
    )?;

    let mut notes = Vec::new();
    let log = AgentLog::open(
        state,
        &options.audit_log,
        &enrollment.device_id,
        clock.clone(),
    )?;
    log.record(
        EventKind::ConfigurationChange,
        Outcome::Success,
        format!(
            "{} with {} as device {} at site {} (certificate {} valid until {})",
            if answer.reenrolled {
                "re-enrolled"
            } else {
                "enrolled"
            },
            enrollment.server,
            enrollment.device_id,
            enrollment.site,
            enrollment.certificate.serial,
            enrollment.certificate.not_after
        ),
        &[],
    )?;
    log.close()?;

    if answer.reenrolled {
        // The server keeps the device's history, so its sequence numbers too: ask how far
        // they went, so new reports are not taken for replays of old ones.
        let outbox = Outbox::open(&state.outbox_path())?;
        match last_stored_seq(state, &options.server, options.timeouts).await {
            Ok(seq) => outbox.raise_seq(seq)?,
            Err(e) => notes.push(format!(
                "could not ask the server for the device's last report ({e}); \
                 if it holds reports from an earlier installation, new ones may be refused as stale"
            )),
        }
    }
    Ok(EnrollOutcome {
        enrollment,
        key_created,
        notes,
    })
}

async fn last_stored_seq(
    state: &StateDir,
    server: &Url,
    timeouts: Timeouts,
) -> Result<u64, AgentError> {
    let id = state.identity(None)?;
    let link = ServerLink::device(
        server,
        &id.ca_pem,
        &id.certificate_pem,
        &id.key_pem,
        timeouts,
    )?;
    let request = CheckinRequest {
        agent_version: AGENT_VERSION.to_owned(),
        last_queued_seq: 0,
        queued_reports: 0,
    };
    let body = serde_json::to_vec(&request).map_err(|e| AgentError::Task {
        task: "check-in",
        reason: e.to_string(),
    })?;
    let answer: CheckinResponse = link
        .post_json(paths::CHECKIN, body, limits::MAX_ENROLL_BYTES)
        .await?;
    Ok(answer.last_stored_seq)
}

/// The base64 body of a PEM text, whitespace removed, for comparing two PEM texts.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect()
}

/// Checks an issued certificate: chains to the pinned CA, valid at `now`, for client
/// authentication, and carrying `public_key`.
pub(crate) fn check_certificate(
    ca_pem: &str,
    certificate_pem: &str,
    public_key: &[u8],
    now: time::OffsetDateTime,
) -> Result<medguard_pki::CertifiedDevice, AgentError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let der = CertificateDer::from_pem_slice(certificate_pem.as_bytes()).map_err(|e| {
        AgentError::Mismatch {
            what: format!("the issued certificate is not PEM: {e}"),
        }
    })?;
    let certified =
        medguard_pki::certified_device(ca_pem, &der, now).map_err(|source| AgentError::Pki {
            what: "the issued certificate",
            source,
        })?;
    if certified.public_key.as_slice() != public_key {
        return Err(AgentError::Mismatch {
            what: "the issued certificate carries another key than this device's".into(),
        });
    }
    Ok(certified)
}
