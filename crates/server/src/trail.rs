//! The server's own audit trail: every security-relevant action people take (sign-ins and
//! their failures, set-ups and resets, role grants, API tokens, break-glass, device enrollment
//! tokens and revocations) appended to a medguard audit log in `DIR/audit`, hash-chained and
//! checkpointed with the server's signing key (`DIR/keys/server.key`), so `medguard audit
//! verify DIR/audit --key DIR/keys/server.pub` proves it complete and `medguard audit forward`
//! sends it to the hospital's collector over ATNA like a device's log.
//!
//! This module only turns an action into an [`AuditEvent`] and appends it; it decides nothing.
//! An action whose record cannot be written fails (the caller answers 500): an action that
//! cannot be audited is not done silently.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use medguard_audit::{
    ActiveParticipant, AuditEvent, AuditWriter, EventKind, NetworkAccessPointType, Outcome,
    WriterOptions,
};
use medguard_host::{Clock, SystemClock};

use crate::ServerError;

/// The directory of the server's audit log inside the data directory.
pub const AUDIT_DIR: &str = "audit";

/// One action to record.
#[derive(Debug, Clone)]
pub struct Action<'a> {
    /// The event type.
    pub kind: EventKind,
    /// Whether it succeeded.
    pub outcome: Outcome,
    /// Who (a user name, or `medguard server` for the host's command line).
    pub user: &'a str,
    /// From where (an IP address), when it came over the network.
    pub address: Option<&'a str>,
    /// What happened, in words (never a secret).
    pub detail: String,
}

/// The server's audit log, open for appending (one per process; processes serialise on the
/// log's lock file).
#[derive(Debug, Clone)]
pub struct ServerTrail {
    writer: Arc<AuditWriter>,
    source: String,
    clock: Arc<dyn Clock>,
    dir: PathBuf,
}

impl ServerTrail {
    /// Opens (or creates) `DIR/audit`, signing checkpoints with the server's key.
    ///
    /// # Errors
    /// [`ServerError::Audit`].
    pub fn open(data: &Path) -> Result<Self, ServerError> {
        let key =
            medguard_digest::SigningKey::load(&data.join("keys/server.key")).map_err(|e| {
                ServerError::Audit {
                    reason: format!("the server's signing key: {e}"),
                }
            })?;
        let dir = data.join(AUDIT_DIR);
        let source = format!("medguard-server@{}", medguard_host::host_name());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let writer = AuditWriter::open(
            &dir,
            WriterOptions {
                key: Some(Arc::new(key)),
                checkpoint_every: 1,
                source_id: source.clone(),
                clock: clock.clone(),
                ..WriterOptions::default()
            },
        )
        .map_err(|e| ServerError::Audit {
            reason: e.to_string(),
        })?;
        Ok(Self {
            writer: Arc::new(writer),
            source,
            clock,
            dir,
        })
    }

    /// The log's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn event(&self, action: &Action<'_>) -> AuditEvent {
        let mut event =
            AuditEvent::new(action.kind, self.clock.now(), action.outcome, &self.source);
        event.detail = Some(action.detail.clone());
        event.participants.push(ActiveParticipant {
            user_id: action.user.to_owned(),
            alternative_user_id: None,
            user_name: None,
            is_requestor: true,
            roles: Vec::new(),
            network_access_point: action.address.map(str::to_owned),
            network_access_point_type: action.address.map(|_| NetworkAccessPointType::IpAddress),
        });
        event
    }

    /// Appends one action and waits until it is durable (blocking: call from a blocking
    /// context, or use [`record`](Self::record)).
    ///
    /// # Errors
    /// [`ServerError::Audit`].
    pub fn append(&self, action: &Action<'_>) -> Result<u64, ServerError> {
        self.writer
            .append(&self.event(action))
            .map_err(|e| ServerError::Audit {
                reason: e.to_string(),
            })
    }

    /// Appends one action from async code (the fsync runs on a blocking thread).
    ///
    /// # Errors
    /// [`ServerError::Audit`].
    pub async fn record(&self, action: Action<'_>) -> Result<u64, ServerError> {
        let event = self.event(&action);
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || writer.append(&event))
            .await
            .map_err(|e| ServerError::Audit {
                reason: e.to_string(),
            })?
            .map_err(|e| ServerError::Audit {
                reason: e.to_string(),
            })
    }
}
