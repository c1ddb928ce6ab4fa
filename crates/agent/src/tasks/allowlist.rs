//! The allowlist's state: the signed list in force, whether an enforcer is running and in
//! which mode, and the denials it recorded in its audit log since the last report.
//!
//! `agent report` does not run the enforcer (`medguard allowlist enforce` does, and the
//! daemon will), so it reads the evidence the enforcer leaves: its audit log (a start event
//! naming the mode, a stop event, `executable-denied` events) and whether a process holds a
//! fanotify group now. A mode is reported as enforcing or auditing only when both say so;
//! anything it cannot prove is reported as off, with the reason.

use medguard_audit::{AuditLog, EventKind, Outcome, StoredRecord};
use medguard_proto::limits::{MAX_DENIALS, MAX_TEXT};
use medguard_proto::{AllowlistMode, AllowlistReport, Denial, DenialDecision};

use crate::config::AllowlistConfig;
use crate::outbox::Cursor;
use crate::text::{wire_path, wire_text};

/// The lifecycle note kept in the cursor: the last start (with its mode) or stop seen.
const STARTED_ENFORCE: &str = "started:enforce";
const STARTED_AUDIT: &str = "started:audit";
const STOPPED: &str = "stopped";

/// The allowlist report, and where the enforcer's log was read up to.
#[derive(Debug, Clone)]
pub struct AllowlistRun {
    /// The report.
    pub report: AllowlistReport,
    /// The cursor to store with it.
    pub cursor: Cursor,
}

/// Reads the allowlist's state. `cursor` is where the last report stopped reading the
/// enforcer's log. With no `[allowlist]` configured, the mode is off.
#[must_use]
pub fn state(config: Option<&AllowlistConfig>, cursor: Option<&Cursor>) -> AllowlistRun {
    let Some(config) = config else {
        return AllowlistRun {
            report: off("no [allowlist] is configured".into(), None, 0),
            cursor: cursor.cloned().unwrap_or(Cursor { seq: 0, note: None }),
        };
    };
    let mut reasons = Vec::new();
    let digest = match crate::tasks::verify::hash_file(&config.list) {
        Ok(d) => Some(d),
        Err(e) => {
            reasons.push(format!("{}: {e}", config.list.display()));
            None
        }
    };
    let entries = match medguard_digest::PublicKey::load_all(&config.trust)
        .map_err(|e| e.to_string())
        .and_then(|keys| {
            medguard_allowlist::list::load(&config.list, &keys).map_err(|e| e.to_string())
        }) {
        Ok(list) => list.list().entries().len() as u64,
        Err(e) => {
            reasons.push(format!("the allowlist is not trusted: {e}"));
            0
        }
    };

    let mut next = cursor.cloned().unwrap_or(Cursor { seq: 0, note: None });
    let mut denials = Vec::new();
    let mut denials_total = 0u64;
    match AuditLog::open(&config.audit_log).and_then(|log| log.records_from(next.seq + 1)) {
        Err(e) => reasons.push(format!("the enforcer's audit log cannot be read: {e}")),
        Ok(records) => {
            for record in records {
                match record {
                    Ok(r) => {
                        if let Some(d) = denial(&r) {
                            denials_total += 1;
                            if denials.len() < MAX_DENIALS {
                                denials.push(d);
                            }
                        } else if let Some(note) = lifecycle(&r) {
                            next.note = Some(note.to_owned());
                        }
                        next.seq = r.seq;
                    }
                    Err(e) => {
                        reasons.push(format!(
                            "the enforcer's audit log is unreadable after record {}: {e}",
                            next.seq
                        ));
                        break;
                    }
                }
            }
        }
    }

    let logged = match next.note.as_deref() {
        Some(STARTED_ENFORCE) => Some(AllowlistMode::Enforce),
        Some(STARTED_AUDIT) => Some(AllowlistMode::Audit),
        Some(STOPPED) => {
            reasons.push("the enforcer recorded that it stopped".into());
            None
        }
        _ => {
            reasons.push(format!(
                "no enforcer start is recorded in {}",
                config.audit_log.display()
            ));
            None
        }
    };
    let running = fanotify_holders();
    let mode = match logged {
        Some(mode) if running > 0 && reasons.is_empty() => mode,
        Some(_) if running == 0 => {
            reasons.push(
                "its log says it started, but no process visible to the agent holds a fanotify group now"
                    .into(),
            );
            AllowlistMode::Off
        }
        _ => AllowlistMode::Off,
    };
    let expected = match config.mode {
        crate::config::ExpectedAllowlistMode::Enforce => AllowlistMode::Enforce,
        crate::config::ExpectedAllowlistMode::Audit => AllowlistMode::Audit,
    };
    if mode != AllowlistMode::Off && mode != expected {
        reasons.push(format!(
            "running in {} mode, configured for {}",
            mode_name(mode),
            mode_name(expected)
        ));
    }
    let denials_omitted = denials_total - denials.len() as u64;
    AllowlistRun {
        report: AllowlistReport {
            mode,
            list_digest: digest,
            entries,
            reason: (!reasons.is_empty()).then(|| wire_text(&reasons.join("; "), MAX_TEXT)),
            denials,
            denials_omitted,
        },
        cursor: next,
    }
}

fn mode_name(m: AllowlistMode) -> &'static str {
    match m {
        AllowlistMode::Enforce => "enforce",
        AllowlistMode::Audit => "audit",
        AllowlistMode::Off => "off",
    }
}

fn off(reason: String, digest: Option<String>, entries: u64) -> AllowlistReport {
    AllowlistReport {
        mode: AllowlistMode::Off,
        list_digest: digest,
        entries,
        reason: Some(wire_text(&reason, MAX_TEXT)),
        denials: Vec::new(),
        denials_omitted: 0,
    }
}

/// The denial an `executable-denied` event records.
fn denial(r: &StoredRecord) -> Option<Denial> {
    let e = &r.event;
    if e.kind != EventKind::ExecutableDenied {
        return None;
    }
    let object = e.objects.first();
    let digest = object.and_then(|o| {
        o.details
            .iter()
            .find(|d| d.kind == "blake3")
            .map(|d| d.value.clone())
            .filter(|v| v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    });
    Some(Denial {
        time: e.time,
        path: wire_path(object.map_or("(unknown)", |o| o.id.as_str()).as_bytes()),
        digest,
        process: e
            .participants
            .iter()
            .find(|p| p.is_requestor)
            .and_then(|p| p.user_name.as_deref())
            .map(|n| wire_path(n.as_bytes())),
        decision: if e.outcome == Outcome::Success {
            DenialDecision::WouldDeny
        } else {
            DenialDecision::Denied
        },
    })
}

/// The enforcer's start (with its mode) or stop, as `medguard-allowlist` records them.
fn lifecycle(r: &StoredRecord) -> Option<&'static str> {
    let detail = r.event.detail.as_deref()?;
    match r.event.kind {
        EventKind::ApplicationStart if detail.starts_with("allowlist enforcer started") => {
            if detail.contains("enforce mode") {
                Some(STARTED_ENFORCE)
            } else if detail.contains("audit mode") {
                Some(STARTED_AUDIT)
            } else {
                None
            }
        }
        EventKind::ApplicationStop if detail.starts_with("allowlist enforcer stopped") => {
            Some(STOPPED)
        }
        _ => None,
    }
}

/// Processes holding a fanotify group (an `anon_inode:[fanotify]` descriptor), as far as
/// `/proc` lets the agent see.
fn fanotify_holders() -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .filter_map(Result::ok)
        .filter(|p| {
            p.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|p| {
            std::fs::read_dir(p.path().join("fd")).is_ok_and(|fds| {
                fds.filter_map(Result::ok).any(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|t| t.as_os_str() == "anon_inode:[fanotify]")
                })
            })
        })
        .count()
}
