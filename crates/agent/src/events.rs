//! The agent's own audit log: what the agent did and found, hash-chained and signed with the
//! device key, so the server can check its chain continues from upload to upload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use medguard_audit::{
    AuditEvent, AuditWriter, Code, EventKind, ObjectType, Outcome, ParticipantObject, WriterOptions,
};
use medguard_host::Clock;
use medguard_proto::DeviceId;

use crate::AgentError;
use crate::state::StateDir;

/// Objects named in one event, at most (the rest are counted in its text).
pub(crate) const MAX_OBJECTS: usize = 100;

/// The agent's audit log, open for appending.
#[derive(Debug)]
pub(crate) struct AgentLog {
    writer: AuditWriter,
    dir: PathBuf,
    source: String,
    clock: Arc<dyn Clock>,
}

impl AgentLog {
    /// Opens the log in `dir`, signing checkpoints with the device key of `state`.
    pub(crate) fn open(
        state: &StateDir,
        dir: &Path,
        device: &DeviceId,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AgentError> {
        let key = state.signing_key()?;
        let options = WriterOptions {
            key: Some(Arc::new(key)),
            source_id: device.to_string(),
            clock: clock.clone(),
            ..WriterOptions::default()
        };
        let writer = AuditWriter::open(dir, options).map_err(|source| AgentError::Audit {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            writer,
            dir: dir.to_owned(),
            source: device.to_string(),
            clock,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The writer, for a library that appends its own events (the installer).
    pub(crate) fn writer(&self) -> &AuditWriter {
        &self.writer
    }

    fn err(&self) -> impl Fn(medguard_audit::AuditError) -> AgentError + '_ {
        |source| AgentError::Audit {
            path: self.dir.clone(),
            source,
        }
    }

    /// Appends one event, durably.
    pub(crate) fn record(
        &self,
        kind: EventKind,
        outcome: Outcome,
        detail: String,
        objects: &[String],
    ) -> Result<u64, AgentError> {
        let mut e = AuditEvent::new(kind, self.clock.now(), outcome, &self.source);
        e.detail = Some(detail);
        for id in objects.iter().take(MAX_OBJECTS) {
            e.objects.push(ParticipantObject {
                id_type: Code::dcm("12", "URI"),
                id: id.clone(),
                kind: ObjectType::SystemObject,
                role: None,
                name: None,
                details: Vec::new(),
            });
        }
        self.writer.append(&e).map_err(self.err())
    }

    /// Signs a checkpoint over everything appended so far, so an upload is covered.
    pub(crate) fn checkpoint(&self) -> Result<(), AgentError> {
        self.writer.checkpoint().map_err(self.err()).map(|_| ())
    }

    /// Signs a final checkpoint and closes the log.
    pub(crate) fn close(self) -> Result<(), AgentError> {
        let dir = self.dir.clone();
        self.writer
            .close()
            .map(|_| ())
            .map_err(|source| AgentError::Audit { path: dir, source })
    }
}
