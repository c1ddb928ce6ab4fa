//! Sending the outbox: in sequence order, in batches, each report removed only once the
//! server acknowledged it.
//!
//! What the server says decides what happens to each report:
//! - a receipt `stored` or `duplicate`: the report is removed (a duplicate is a retry of one
//!   the server already holds, e.g. after the answer to an earlier attempt was lost);
//! - a receipt `refused`: the report is kept aside with the server's problem (sending it
//!   again cannot help) and the rest goes on;
//! - the whole batch refused as malformed, invalid or too large (400, 413, 422): the batch is
//!   sent again one report at a time, so the one report the server cannot take is found and
//!   kept aside instead of blocking the queue forever;
//! - anything else (unreachable, not the fleet's server, 401/403 for the device's identity,
//!   404, 5xx, an answer that is not the protocol): sending stops and the queue stays as it
//!   is, to be sent on the next run.

use medguard_host::Clock;
use medguard_proto::limits::{MAX_BODY_BYTES, MAX_REPORTS_PER_BATCH};
use medguard_proto::{Problem, ReportAck, ReportOutcome, codes, paths};

use crate::outbox::{Outbox, OutboxError, QueuedReport, RefusedReport};
use crate::transport::{SendError, ServerLink};

/// Bytes of one acknowledgement, at most.
const MAX_ACK_BYTES: usize = 1 << 20;

/// What one round of sending did.
#[derive(Debug, Default)]
pub struct SendSummary {
    /// Requests made.
    pub requests: u64,
    /// Reports the server stored now.
    pub stored: Vec<u64>,
    /// Reports the server already held.
    pub duplicates: Vec<u64>,
    /// Reports the server refused now (kept aside).
    pub refused: Vec<RefusedReport>,
    /// Reports still queued.
    pub remaining: u64,
    /// The highest sequence number the server says it holds for this device.
    pub last_stored_seq: Option<u64>,
    /// Why sending stopped before the queue was empty.
    pub error: Option<SendError>,
}

impl SendSummary {
    /// Reports acknowledged (stored or duplicate).
    #[must_use]
    pub fn acknowledged(&self) -> usize {
        self.stored.len() + self.duplicates.len()
    }
}

/// Sends every queued report.
///
/// # Errors
/// [`OutboxError`] only: failures of the exchange are in [`SendSummary::error`], with the
/// queue intact.
pub(crate) async fn send_queued(
    outbox: &Outbox,
    link: &ServerLink,
    clock: &dyn Clock,
) -> Result<SendSummary, OutboxError> {
    let mut summary = SendSummary::default();
    // One at a time after a whole batch was refused, until that batch is through.
    let mut isolate_through: Option<u64> = None;
    loop {
        let max = if isolate_through.is_some() {
            1
        } else {
            MAX_REPORTS_PER_BATCH
        };
        let batch = outbox.oldest(max, MAX_BODY_BYTES - 64)?;
        let Some(first) = batch.first() else { break };
        if isolate_through.is_some_and(|s| first.seq > s) {
            isolate_through = None;
            continue;
        }
        summary.requests += 1;
        match link
            .post_json::<ReportAck>(paths::REPORTS, batch_body(&batch), MAX_ACK_BYTES)
            .await
        {
            Ok(ack) => {
                summary.last_stored_seq = Some(ack.last_stored_seq);
                if let Err(e) = apply(outbox, &batch, &ack, clock, &mut summary, link) {
                    match e {
                        Applied::Outbox(e) => return Err(e),
                        Applied::Protocol(e) => {
                            summary.error = Some(e);
                            break;
                        }
                    }
                }
            }
            Err(SendError::Refused {
                status: 400 | 413 | 422,
                problem,
                ..
            }) if batch.len() == 1 => {
                // This one report is what the server cannot take.
                outbox.set_aside(first.seq, &problem, clock.now())?;
                summary.refused.push(refused(first, *problem, clock));
            }
            Err(SendError::Refused {
                status: 400 | 413 | 422,
                ..
            }) => {
                isolate_through = batch.last().map(|r| r.seq);
            }
            Err(e) => {
                summary.error = Some(e);
                break;
            }
        }
    }
    summary.remaining = outbox.stats()?.reports;
    Ok(summary)
}

/// `{"reports":[...]}` from the stored JSON of each report, without parsing it again.
fn batch_body(batch: &[QueuedReport]) -> Vec<u8> {
    let len: usize = batch.iter().map(|r| r.json.len() + 1).sum();
    let mut body = Vec::with_capacity(len + 16);
    body.extend_from_slice(b"{\"reports\":[");
    for (i, r) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(r.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

fn refused(r: &QueuedReport, problem: Problem, clock: &dyn Clock) -> RefusedReport {
    RefusedReport {
        seq: r.seq,
        kind: r.kind,
        created: r.created,
        refused_at: clock.now(),
        problem,
    }
}

enum Applied {
    Outbox(OutboxError),
    Protocol(SendError),
}

impl From<OutboxError> for Applied {
    fn from(e: OutboxError) -> Self {
        Self::Outbox(e)
    }
}

/// Acts on each receipt. A receipt for a report not in the batch, or a report without a
/// receipt, is a server that does not keep the protocol: what was acknowledged is removed,
/// the rest stays queued.
fn apply(
    outbox: &Outbox,
    batch: &[QueuedReport],
    ack: &ReportAck,
    clock: &dyn Clock,
    summary: &mut SendSummary,
    link: &ServerLink,
) -> Result<(), Applied> {
    let mut acknowledged = Vec::new();
    let mut unknown = Vec::new();
    for receipt in &ack.receipts {
        let Some(report) = batch.iter().find(|r| r.seq == receipt.seq) else {
            unknown.push(receipt.seq);
            continue;
        };
        match receipt.outcome {
            ReportOutcome::Stored => {
                acknowledged.push(report.seq);
                summary.stored.push(report.seq);
            }
            ReportOutcome::Duplicate => {
                acknowledged.push(report.seq);
                summary.duplicates.push(report.seq);
            }
            ReportOutcome::Refused => {
                let problem = receipt.problem.clone().unwrap_or_else(|| {
                    Problem::new(codes::INTERNAL, 500, "refused without a reason")
                });
                outbox.set_aside(report.seq, &problem, clock.now())?;
                summary.refused.push(refused(report, problem, clock));
            }
        }
    }
    outbox.remove(&acknowledged)?;
    let missing: Vec<u64> = batch
        .iter()
        .map(|r| r.seq)
        .filter(|s| !ack.receipts.iter().any(|r| r.seq == *s))
        .collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(Applied::Protocol(SendError::Protocol {
            url: format!(
                "{}{}",
                link.base().as_str().trim_end_matches('/'),
                paths::REPORTS
            ),
            reason: format!(
                "receipts for reports not sent: {unknown:?}; no receipt for: {missing:?}"
            ),
        }));
    }
    Ok(())
}
