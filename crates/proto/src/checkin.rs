//! Check-in: the device asks what the server wants of it. The device opens no listening port;
//! the server's wishes wait until the next check-in.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::limits::{MAX_COMMANDS, MAX_TEXT};
use crate::validate::{self, Invalid, Validate};

/// `POST /api/v1/device/checkin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinRequest {
    /// The agent's version.
    pub agent_version: String,
    /// The sequence number of the last report the agent has queued (0: none yet), so the
    /// server can tell how far behind the device's uploads are.
    pub last_queued_seq: u64,
    /// Reports waiting in the device's queue.
    pub queued_reports: u64,
}

impl Validate for CheckinRequest {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("agent_version", &self.agent_version, MAX_TEXT)
    }
}

/// The answer to a check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinResponse {
    /// What the server asks the device to do, oldest first.
    pub commands: Vec<Command>,
    /// The server's time (the agent warns when its clock is far off).
    #[serde(with = "time::serde::rfc3339")]
    pub server_time: OffsetDateTime,
    /// The last report sequence number the server has stored for this device.
    pub last_stored_seq: u64,
}

impl Validate for CheckinResponse {
    fn validate(&self) -> Result<(), Invalid> {
        validate::list("commands", &self.commands, MAX_COMMANDS)
    }
}

/// One thing the server asks the device to do. The device answers with a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The command's id, echoed in the reports that answer it.
    pub id: String,
    /// What to do.
    #[serde(flatten)]
    pub kind: CommandKind,
}

/// What a command asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CommandKind {
    /// Verify the tree against the profile now.
    VerifyNow,
    /// Scan now (still only while idle and inside the maintenance window at full speed).
    ScanNow,
    /// Collect and send the inventory.
    CollectInventory,
    /// Collect and send the listening services.
    CollectServices,
    /// Install the patch of a rollout: download through TUF, wait for idle and the window,
    /// install, report the outcome.
    Install {
        /// The rollout this device is in.
        rollout: String,
        /// The TUF target name of the bundle.
        target: String,
        /// The bundle's version.
        version: String,
    },
}

impl Validate for Command {
    fn validate(&self) -> Result<(), Invalid> {
        validate::required("id", &self.id, MAX_TEXT)?;
        if let CommandKind::Install {
            rollout,
            target,
            version,
        } = &self.kind
        {
            validate::required("rollout", rollout, MAX_TEXT)?;
            validate::required("target", target, MAX_TEXT)?;
            validate::required("version", version, MAX_TEXT)?;
        }
        Ok(())
    }
}
