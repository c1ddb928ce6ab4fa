//! Logging denials: a thread that hears of them through a bounded queue the reader never
//! waits on, tells the caller, and writes `executable-denied` audit events.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use medguard_audit::{
    ActiveParticipant, AuditEvent, AuditWriter, Clock, Code, EventKind, ObjectDetail, ObjectType,
    Outcome, ParticipantObject,
};

use super::{Access, Cause, Denial, Mode, Stats};
use crate::check::Verdict;

/// Bound on denials waiting to be logged.
pub(super) const LOG_QUEUE: usize = 4096;

pub(super) fn logger(
    rx: &Receiver<Denial>,
    audit: Option<AuditWriter>,
    mut on_denial: Box<dyn FnMut(&Denial) + Send>,
    clock: &dyn Clock,
    source: &str,
    mode: Mode,
    stats: &Stats,
) -> Option<AuditWriter> {
    let write = |w: &AuditWriter, e: &AuditEvent| {
        if w.append(e).is_err() {
            stats.log_errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    if let Some(w) = &audit {
        let mut e = AuditEvent::new(
            EventKind::ApplicationStart,
            clock.now(),
            Outcome::Success,
            source,
        );
        e.detail = Some(format!("allowlist enforcer started in {mode:?} mode").to_lowercase());
        write(w, &e);
    }
    while let Ok(d) = rx.recv() {
        on_denial(&d);
        if let Some(w) = &audit {
            write(w, &denial_event(&d, source));
        }
    }
    if let Some(w) = &audit {
        let mut e = AuditEvent::new(
            EventKind::ApplicationStop,
            clock.now(),
            Outcome::Success,
            source,
        );
        e.detail = Some("allowlist enforcer stopped; marks removed".into());
        write(w, &e);
    }
    audit
}

/// The `executable-denied` audit event of a denial.
#[must_use]
pub fn denial_event(d: &Denial, source: &str) -> AuditEvent {
    let outcome = if d.denied {
        Outcome::SeriousFailure
    } else {
        Outcome::Success
    };
    let mut e = AuditEvent::new(EventKind::ExecutableDenied, d.time, outcome, source);
    let why = d.cause.to_string();
    let access = match d.access {
        Access::Exec => "exec",
        Access::LibraryOpen => "library open",
    };
    e.detail = Some(if d.denied {
        format!("{access} of {} refused: {why}", d.path.display())
    } else {
        format!(
            "{access} of {} would be refused (allowed: audit mode or timeout policy): {why}",
            d.path.display()
        )
    });
    let (uid, exe) = process_identity(d.pid);
    e.participants.push(ActiveParticipant {
        user_id: uid.unwrap_or_else(|| "unknown".into()),
        alternative_user_id: Some(format!("pid={}", d.pid)),
        user_name: exe,
        is_requestor: true,
        roles: Vec::new(),
        network_access_point: None,
        network_access_point_type: None,
    });
    let mut details = vec![ObjectDetail {
        kind: "reason".into(),
        value: why,
    }];
    if let Cause::Verdict {
        verdict: Verdict::DigestDiffers { expected, actual },
    } = &d.cause
    {
        details.push(ObjectDetail {
            kind: "expected-blake3".into(),
            value: expected.clone(),
        });
        if let Some(a) = actual {
            details.push(ObjectDetail {
                kind: "blake3".into(),
                value: a.clone(),
            });
        }
    }
    e.objects.push(ParticipantObject {
        id_type: Code::dcm("12", "URI"),
        id: d.path.display().to_string(),
        kind: ObjectType::SystemObject,
        role: None,
        name: None,
        details,
    });
    e
}

/// The real uid and executable of a process, while it still exists.
fn process_identity(pid: i32) -> (Option<String>, Option<String>) {
    let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        });
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.display().to_string());
    (uid, exe)
}
