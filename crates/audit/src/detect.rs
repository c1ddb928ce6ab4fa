//! Detection rules over the audit stream: thresholds in a time window, sequences of two
//! event types, and time-of-day rules.
//!
//! This module owns the rule file format and the rule semantics. It must not read the wall
//! clock (windows are measured between the events' own times, so replaying a log gives the
//! same alerts) and must not write: the caller appends alerts as `detection-alert` events.
//!
//! # Rule file (TOML)
//!
//! ```toml
//! # 5 failed logins of one user within 60 s.
//! [[rule]]
//! name = "password-guessing"
//! kind = "threshold"
//! event = "login-failure"
//! count = 5
//! window = "60s"          # s, m, h, d, w, or combined: 1h30m
//! group-by = "user"       # optional: "user", "source" (requestor address) or "host"
//!
//! # An integrity deviation followed by a denied executable within 10 minutes.
//! [[rule]]
//! name = "tampering-then-execution"
//! kind = "sequence"
//! first = "integrity-deviation"
//! then = "executable-denied"
//! within = "10m"
//! group-by = "host"       # optional
//!
//! # Configuration changes outside working hours.
//! [[rule]]
//! name = "off-hours-configuration"
//! kind = "time-of-day"
//! event = "configuration-change"
//! allowed = "07:00-19:00" # a window may wrap midnight: "22:00-06:00"
//! utc-offset = "+01:00"   # optional, the site's offset; default UTC
//! ```
//!
//! Unknown keys are errors, so a typo never silently disables a rule.
//!
//! # Incremental detection
//!
//! [`detect_from`] reads only the records after a saved [`DetectState`]: the seq and chain
//! digest of the last record read, and each rule's open windows (the failures counted so far,
//! the `first` event still waiting for its `then`), so a threshold or a sequence that straddles
//! two runs fires exactly as in one run over the whole log. Before it trusts the position, it
//! reads the record at that seq: when there is none (the log was rotated, truncated or
//! recreated shorter) or it has another chain digest (recreated), detection restarts from the
//! first record with fresh windows and says so ([`Restart`]); alerts already recorded in the
//! log are still recognised, so a restart raises no alert twice.
//!
//! A rule whose name or condition changed since the state was saved starts with fresh windows;
//! a new rule sees only new records (use a fresh state to run it over the whole log). Windows
//! that can no longer be completed by an event as recent as the newest one seen are dropped
//! when the state is saved, so the state stays small however many users or addresses the log
//! names. The state file must be as protected as the log: whoever can move its position forward
//! can hide records from detection.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, Time, UtcOffset};

use std::fmt;
use std::path::Path;

use crate::error::AuditError;
use crate::event::{
    AuditEvent, Code, EventKind, ObjectDetail, ObjectType, Outcome, ParticipantObject,
};
use crate::log::{AuditLog, StoredRecord};
use crate::record::ChainDigest;

/// Which field groups events for a threshold or sequence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// The requesting user.
    User,
    /// The requestor's network address.
    Source,
    /// The audit source (host).
    Host,
}

impl GroupBy {
    fn key(self, event: &AuditEvent) -> String {
        match self {
            Self::User => event.user().unwrap_or("-").to_owned(),
            Self::Source => event.source_address().unwrap_or("-").to_owned(),
            Self::Host => event.source.id.clone(),
        }
    }
}

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleCondition {
    /// At least `count` events of `event` within `window`.
    Threshold {
        /// The event type counted.
        event: EventKind,
        /// How many.
        count: usize,
        /// Within how long.
        window: Duration,
        /// Count per group rather than overall.
        group_by: Option<GroupBy>,
    },
    /// An event of `first` followed by one of `then` within `within`.
    Sequence {
        /// The first event type.
        first: EventKind,
        /// The following event type.
        then: EventKind,
        /// Longest time between them.
        within: Duration,
        /// Both must share this group.
        group_by: Option<GroupBy>,
    },
    /// An event of `event` outside the daily window `[start, end)` at `offset`.
    TimeOfDay {
        /// The event type.
        event: EventKind,
        /// Window start.
        start: Time,
        /// Window end (before `start` when the window wraps midnight).
        end: Time,
        /// The site's UTC offset.
        offset: UtcOffset,
    },
}

/// One named rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionRule {
    /// The rule's name (appears in alerts).
    pub name: String,
    /// What it looks for.
    pub condition: RuleCondition,
}

impl DetectionRule {
    /// What a saved window must have been counted under to be reused: the rule's condition in
    /// words. Written out rather than `Debug`, whose form is not a promise.
    fn fingerprint(&self) -> String {
        let group = |g: &Option<GroupBy>| match g {
            None => "all",
            Some(GroupBy::User) => "user",
            Some(GroupBy::Source) => "source",
            Some(GroupBy::Host) => "host",
        };
        match &self.condition {
            RuleCondition::Threshold {
                event,
                count,
                window,
                group_by,
            } => format!(
                "threshold {event} {count} {}s {}",
                window.whole_seconds(),
                group(group_by)
            ),
            RuleCondition::Sequence {
                first,
                then,
                within,
                group_by,
            } => format!(
                "sequence {first} {then} {}s {}",
                within.whole_seconds(),
                group(group_by)
            ),
            RuleCondition::TimeOfDay {
                event,
                start,
                end,
                offset,
            } => format!("time-of-day {event} {start} {end} {offset}"),
        }
    }
}

/// A parsed rule file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleSet {
    /// The rules, in file order.
    pub rules: Vec<DetectionRule>,
}

/// Errors in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// Not TOML of the expected shape.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A rule is inconsistent.
    #[error("rule {rule:?}: {message}")]
    Invalid {
        /// The rule's name (or its position).
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// A window is not a duration (`60s`, `10m`, `2h`, `1d`, `1h30m`: `medguard-host`'s
    /// grammar, the same as on the command line).
    #[error("rule {rule:?}: `{field}`: {source}")]
    Duration {
        /// The rule's name.
        rule: String,
        /// `window` or `within`.
        field: &'static str,
        /// Why.
        #[source]
        source: medguard_host::DurationError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRule {
    name: String,
    kind: String,
    event: Option<String>,
    count: Option<u64>,
    window: Option<String>,
    group_by: Option<GroupBy>,
    first: Option<String>,
    then: Option<String>,
    within: Option<String>,
    allowed: Option<String>,
    utc_offset: Option<String>,
}

impl RuleSet {
    /// Parses a rule file.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| RuleError::Syntax {
            line: e.span().map_or(0, |s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut names = BTreeSet::new();
        for r in raw.rule {
            let rule = r.into_rule()?;
            if !names.insert(rule.name.clone()) {
                return Err(RuleError::Invalid {
                    rule: rule.name,
                    message: "duplicate rule name".to_owned(),
                });
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte)
        .map_or(0, |t| t.bytes().filter(|&b| b == b'\n').count() + 1)
}

impl RawRule {
    fn into_rule(self) -> Result<DetectionRule, RuleError> {
        let name = self.name.clone();
        let invalid = |message: String| RuleError::Invalid {
            rule: name.clone(),
            message,
        };
        let kind_of = |field: &str, value: Option<&String>| -> Result<EventKind, RuleError> {
            value
                .ok_or_else(|| invalid(format!("missing `{field}`")))?
                .parse()
                .map_err(|e| invalid(format!("`{field}`: {e}")))
        };
        let duration_of =
            |field: &'static str, value: Option<&String>| -> Result<Duration, RuleError> {
                let text = value.ok_or_else(|| invalid(format!("missing `{field}`")))?;
                let bad = |source| RuleError::Duration {
                    rule: name.clone(),
                    field,
                    source,
                };
                let d = medguard_host::parse_duration(text).map_err(bad)?;
                // The grammar bounds a duration to a hundred years, which `time` holds.
                Duration::try_from(d)
                    .map_err(|_| bad(medguard_host::DurationError::TooLong { text: text.clone() }))
            };
        let not_allowed = |fields: &[(&str, bool)]| -> Result<(), RuleError> {
            match fields.iter().find(|(_, present)| *present) {
                Some((field, _)) => Err(invalid(format!(
                    "`{field}` does not apply to a {} rule",
                    self.kind
                ))),
                None => Ok(()),
            }
        };
        let condition = match self.kind.as_str() {
            "threshold" => {
                not_allowed(&[
                    ("first", self.first.is_some()),
                    ("then", self.then.is_some()),
                    ("within", self.within.is_some()),
                    ("allowed", self.allowed.is_some()),
                    ("utc-offset", self.utc_offset.is_some()),
                ])?;
                let count = self
                    .count
                    .ok_or_else(|| invalid("missing `count`".to_owned()))?;
                if count == 0 || count > 1_000_000 {
                    return Err(invalid("`count` must be between 1 and 1000000".to_owned()));
                }
                RuleCondition::Threshold {
                    event: kind_of("event", self.event.as_ref())?,
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                    window: duration_of("window", self.window.as_ref())?,
                    group_by: self.group_by,
                }
            }
            "sequence" => {
                not_allowed(&[
                    ("event", self.event.is_some()),
                    ("count", self.count.is_some()),
                    ("window", self.window.is_some()),
                    ("allowed", self.allowed.is_some()),
                    ("utc-offset", self.utc_offset.is_some()),
                ])?;
                RuleCondition::Sequence {
                    first: kind_of("first", self.first.as_ref())?,
                    then: kind_of("then", self.then.as_ref())?,
                    within: duration_of("within", self.within.as_ref())?,
                    group_by: self.group_by,
                }
            }
            "time-of-day" => {
                not_allowed(&[
                    ("count", self.count.is_some()),
                    ("window", self.window.is_some()),
                    ("first", self.first.is_some()),
                    ("then", self.then.is_some()),
                    ("within", self.within.is_some()),
                    ("group-by", self.group_by.is_some()),
                ])?;
                let allowed = self
                    .allowed
                    .as_deref()
                    .ok_or_else(|| invalid("missing `allowed`".to_owned()))?;
                let (start, end) = parse_window(allowed)
                    .ok_or_else(|| invalid("`allowed`: expected HH:MM-HH:MM".to_owned()))?;
                let offset = match self.utc_offset.as_deref() {
                    None => UtcOffset::UTC,
                    Some(s) => parse_offset(s).ok_or_else(|| {
                        invalid("`utc-offset`: expected +HH:MM or -HH:MM".to_owned())
                    })?,
                };
                RuleCondition::TimeOfDay {
                    event: kind_of("event", self.event.as_ref())?,
                    start,
                    end,
                    offset,
                }
            }
            other => {
                return Err(invalid(format!(
                    "unknown kind {other:?} (expected threshold, sequence or time-of-day)"
                )));
            }
        };
        Ok(DetectionRule { name, condition })
    }
}

fn parse_hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u8 = h.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    if h == 24 && m == 0 {
        return Some(Time::MIDNIGHT);
    }
    Time::from_hms(h, m, 0).ok()
}

fn parse_window(s: &str) -> Option<(Time, Time)> {
    let (a, b) = s.split_once('-')?;
    Some((parse_hhmm(a.trim())?, parse_hhmm(b.trim())?))
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, s.get(1..)?),
        b'-' => (-1i8, s.get(1..)?),
        _ => return None,
    };
    let t = parse_hhmm(rest)?;
    let h = i8::try_from(t.hour()).ok()?;
    let m = i8::try_from(t.minute()).ok()?;
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// A fired rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// Time of the event that completed the match.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The group (user, address, host) when the rule groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Seqs of the records that matched, oldest first.
    pub seqs: Vec<u64>,
    /// A sentence for people.
    pub message: String,
}

impl Alert {
    /// The seq of the record that completed the match: with the rule name, it identifies
    /// the alert, so detecting twice over the same log records each alert once.
    #[must_use]
    pub fn trigger_seq(&self) -> u64 {
        self.seqs.last().copied().unwrap_or(0)
    }

    /// The `detection-alert` audit event recording this alert.
    #[must_use]
    pub fn to_event(&self, source_id: &str) -> AuditEvent {
        let mut event = AuditEvent::new(
            EventKind::DetectionAlert,
            self.time,
            Outcome::MinorFailure,
            source_id,
        );
        event.detail = Some(self.message.clone());
        event.objects.push(ParticipantObject {
            id_type: Code::private("detection-rule", "Detection rule"),
            id: self.rule.clone(),
            kind: ObjectType::SystemObject,
            role: None,
            name: self.group.clone(),
            details: vec![
                ObjectDetail {
                    kind: "trigger-seq".to_owned(),
                    value: self.trigger_seq().to_string(),
                },
                ObjectDetail {
                    kind: "seqs".to_owned(),
                    value: self
                        .seqs
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                },
            ],
        });
        event
    }

    /// If `event` records an alert, its (rule, trigger seq).
    #[must_use]
    pub fn recorded_in(event: &AuditEvent) -> Option<(String, u64)> {
        if event.kind != EventKind::DetectionAlert {
            return None;
        }
        let object = event
            .objects
            .iter()
            .find(|o| o.id_type.code == "detection-rule")?;
        let seq = object
            .details
            .iter()
            .find(|d| d.kind == "trigger-seq")?
            .value
            .parse()
            .ok()?;
        Some((object.id.clone(), seq))
    }
}

/// A rule's open windows: (event time, seq) per group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RuleState {
    Threshold(HashMap<String, VecDeque<(OffsetDateTime, u64)>>),
    Sequence(HashMap<String, (OffsetDateTime, u64)>),
    Stateless,
}

impl RuleState {
    fn fresh(condition: &RuleCondition) -> Self {
        match condition {
            RuleCondition::Threshold { .. } => Self::Threshold(HashMap::new()),
            RuleCondition::Sequence { .. } => Self::Sequence(HashMap::new()),
            RuleCondition::TimeOfDay { .. } => Self::Stateless,
        }
    }

    /// Drops what no event at or after `latest` can complete: a queued failure older than
    /// the window before `latest` is evicted before it is counted, and a pending `first`
    /// older than `within` can no longer be followed in time.
    fn prune(&mut self, condition: &RuleCondition, latest: OffsetDateTime) {
        match (condition, self) {
            (RuleCondition::Threshold { window, .. }, Self::Threshold(groups)) => {
                let Some(oldest) = latest.checked_sub(*window) else {
                    return;
                };
                groups.retain(|_, q| {
                    q.retain(|(t, _)| *t >= oldest);
                    !q.is_empty()
                });
            }
            (RuleCondition::Sequence { within, .. }, Self::Sequence(pending)) => {
                let Some(oldest) = latest.checked_sub(*within) else {
                    return;
                };
                pending.retain(|_, (t, _)| *t >= oldest);
            }
            _ => {}
        }
    }
}

/// Runs a [`RuleSet`] over records fed in seq order.
#[derive(Debug, Clone)]
pub struct Detector {
    rules: Vec<(DetectionRule, RuleState)>,
    /// The newest event time observed (the events' own clock, not the wall clock).
    latest: Option<OffsetDateTime>,
}

impl Detector {
    /// A detector with fresh state.
    #[must_use]
    pub fn new(rules: &RuleSet) -> Self {
        Self {
            rules: rules
                .rules
                .iter()
                .map(|r| (r.clone(), RuleState::fresh(&r.condition)))
                .collect(),
            latest: None,
        }
    }

    /// A detector that continues where `saved` stopped: each rule whose name and condition
    /// are unchanged gets its saved windows, any other rule fresh ones.
    fn restore(rules: &RuleSet, saved: &DetectState) -> Self {
        let mut d = Self::new(rules);
        d.latest = saved.latest;
        for (rule, state) in &mut d.rules {
            let fingerprint = rule.fingerprint();
            if let Some(s) = saved
                .rules
                .iter()
                .find(|s| s.name == rule.name && s.fingerprint == fingerprint)
                && std::mem::discriminant(&s.state) == std::mem::discriminant(state)
            {
                state.clone_from(&s.state);
            }
        }
        d
    }

    /// The windows to save, pruned to what can still complete.
    fn saved_rules(&self) -> Vec<SavedRule> {
        self.rules
            .iter()
            .map(|(rule, state)| {
                let mut state = state.clone();
                if let Some(latest) = self.latest {
                    state.prune(&rule.condition, latest);
                }
                SavedRule {
                    name: rule.name.clone(),
                    fingerprint: rule.fingerprint(),
                    state,
                }
            })
            .collect()
    }

    /// Feeds one event (with its seq) and returns the alerts it completes.
    pub fn observe(&mut self, seq: u64, event: &AuditEvent) -> Vec<Alert> {
        if self.latest.is_none_or(|l| event.time > l) {
            self.latest = Some(event.time);
        }
        let mut alerts = Vec::new();
        for (rule, state) in &mut self.rules {
            match (&rule.condition, state) {
                (
                    RuleCondition::Threshold {
                        event: kind,
                        count,
                        window,
                        group_by,
                    },
                    RuleState::Threshold(groups),
                ) => {
                    if event.kind != *kind {
                        continue;
                    }
                    let key = group_by.map(|g| g.key(event));
                    let q = groups.entry(key.clone().unwrap_or_default()).or_default();
                    q.push_back((event.time, seq));
                    // Near the start of the representable range, the window reaches back
                    // past it: then every queued event is within it.
                    let oldest = event.time.checked_sub(*window);
                    while q
                        .front()
                        .is_some_and(|(t, _)| oldest.is_some_and(|oldest| *t < oldest))
                    {
                        q.pop_front();
                    }
                    if q.len() >= *count {
                        let seqs: Vec<u64> = q.drain(..).map(|(_, s)| s).collect();
                        alerts.push(Alert {
                            rule: rule.name.clone(),
                            time: event.time,
                            message: format!(
                                "{} {kind} events within {}{}",
                                seqs.len(),
                                show_duration(*window),
                                key.as_deref()
                                    .map(|k| format!(" for {k}"))
                                    .unwrap_or_default()
                            ),
                            group: key,
                            seqs,
                        });
                    }
                }
                (
                    RuleCondition::Sequence {
                        first,
                        then,
                        within,
                        group_by,
                    },
                    RuleState::Sequence(pending),
                ) => {
                    let key = group_by.map(|g| g.key(event));
                    let slot = key.clone().unwrap_or_default();
                    // `then` is checked first so that a rule with first == then pairs
                    // consecutive events rather than each event with itself.
                    if event.kind == *then
                        && let Some((t0, s0)) = pending.get(&slot).copied()
                        && event.time >= t0
                        && event.time - t0 <= *within
                    {
                        pending.remove(&slot);
                        alerts.push(Alert {
                            rule: rule.name.clone(),
                            time: event.time,
                            message: format!(
                                "{first} (record {s0}) followed by {then} (record {seq}) within {}{}",
                                show_duration(*within),
                                key.as_deref()
                                    .map(|k| format!(" for {k}"))
                                    .unwrap_or_default()
                            ),
                            group: key,
                            seqs: vec![s0, seq],
                        });
                        continue;
                    }
                    if event.kind == *first {
                        pending.insert(slot, (event.time, seq));
                    }
                }
                (
                    RuleCondition::TimeOfDay {
                        event: kind,
                        start,
                        end,
                        offset,
                    },
                    _,
                ) => {
                    if event.kind != *kind {
                        continue;
                    }
                    // Near the end of the representable range the shift can overflow: stay in UTC then.
                    let local = event
                        .time
                        .checked_to_offset(*offset)
                        .unwrap_or(event.time)
                        .time();
                    let inside = if start <= end {
                        local >= *start && local < *end
                    } else {
                        local >= *start || local < *end
                    };
                    if !inside {
                        alerts.push(Alert {
                            rule: rule.name.clone(),
                            time: event.time,
                            group: None,
                            seqs: vec![seq],
                            message: format!(
                                "{kind} (record {seq}) at {:02}:{:02} (UTC{:+03}:{:02}), outside {:02}:{:02}-{:02}:{:02}",
                                local.hour(),
                                local.minute(),
                                offset.whole_hours(),
                                offset.minutes_past_hour().unsigned_abs(),
                                start.hour(),
                                start.minute(),
                                end.hour(),
                                end.minute()
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        alerts
    }
}

/// A window as the rule file writes it (`medguard-host`'s grammar, whole seconds).
fn show_duration(d: Duration) -> String {
    medguard_host::format_duration(std::time::Duration::try_from(d).unwrap_or_default())
}

/// The result of running rules over a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// Records read.
    pub records: u64,
    /// The seq of the first record read, if any was.
    pub first_seq: Option<u64>,
    /// Alerts not yet recorded in the log.
    pub alerts: Vec<Alert>,
    /// Alerts that fired again but are already recorded as `detection-alert` events.
    pub already_recorded: u64,
    /// Why detection started from the first record although a position was saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarted: Option<Restart>,
}

/// Why a saved position was not used: the log is not the one it was saved for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Restart {
    /// The log holds no record with the saved seq: it was rotated, truncated or recreated.
    Missing {
        /// The saved seq.
        seq: u64,
    },
    /// The record with the saved seq has another chain digest: the log was recreated.
    DigestDiffers {
        /// The saved seq.
        seq: u64,
    },
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { seq } => write!(
                f,
                "the log has no record {seq}, where the last run stopped (rotated or recreated)"
            ),
            Self::DigestDiffers { seq } => write!(
                f,
                "record {seq}, where the last run stopped, is another record now (the log was recreated)"
            ),
        }
    }
}

/// A record's place in the chain: its seq and chain digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The record's seq.
    pub seq: u64,
    /// Its chain digest, which tells this log's record from another log's with the same seq.
    pub digest: ChainDigest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SavedRule {
    name: String,
    fingerprint: String,
    state: RuleState,
}

const STATE_VERSION: u32 = 1;

/// Where incremental detection stopped: the last record read and the rules' open windows.
/// Saved as JSON (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectState {
    version: u32,
    /// The last record read; `None` when the log was empty.
    position: Option<Position>,
    /// The newest event time seen.
    latest: Option<OffsetDateTime>,
    rules: Vec<SavedRule>,
}

impl DetectState {
    /// The last record read; `None` when the log was empty.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// Reads a state file; `Ok(None)` when there is none yet.
    ///
    /// # Errors
    /// [`AuditError::Io`] when it cannot be read, [`AuditError::DetectState`] when it is not
    /// a state this version wrote.
    pub fn load(path: &Path) -> Result<Option<Self>, AuditError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(AuditError::io(path)(e)),
        };
        let bad = |reason: String| AuditError::DetectState {
            path: path.to_owned(),
            reason,
        };
        let state: Self = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if state.version != STATE_VERSION {
            return Err(bad(format!(
                "version {} (this medguard writes {STATE_VERSION})",
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Writes the state to `path` atomically: a crash leaves the old state or the new one.
    ///
    /// # Errors
    /// [`AuditError::Io`] naming `path`.
    pub fn save(&self, path: &Path) -> Result<(), AuditError> {
        let json = serde_json::to_vec(self).map_err(AuditError::Serialise)?;
        medguard_host::write_bytes_atomically(path, 0o600, &json)?;
        Ok(())
    }
}

/// Where a log's detection state lives unless the caller chooses: beside the log directory,
/// `DIR.detect-state.json`, outside it so that a log removed and recreated does not take its
/// state along (the stale state is then recognised and detection restarts). `None` when the
/// directory has no name (`/`).
#[must_use]
pub fn default_state_path(log_dir: &Path) -> Option<std::path::PathBuf> {
    let name = log_dir.file_name()?;
    let mut file = name.to_owned();
    file.push(".detect-state.json");
    Some(log_dir.with_file_name(file))
}

/// Runs `rules` over every record of `log`. Alerts already recorded in the log (by an
/// earlier run) are counted, not returned, so running detection periodically records each
/// alert once.
///
/// # Errors
/// When the log cannot be read or is corrupt.
pub fn detect(log: &AuditLog, rules: &RuleSet) -> Result<Detection, AuditError> {
    detect_from(log, rules, None).map(|(d, _)| d)
}

/// Runs `rules` over the records of `log` after `state` (all of them without a state, or
/// when the log is not the one the state was saved for: [`Detection::restarted`] says why),
/// and returns the detection and the state to save for the next run.
///
/// Save the returned state after recording the alerts, not before: a crash in between then
/// reads the same records again, finds the alerts recorded, and raises none twice.
///
/// # Errors
/// When the log cannot be read or is corrupt.
pub fn detect_from(
    log: &AuditLog,
    rules: &RuleSet,
    state: Option<&DetectState>,
) -> Result<(Detection, DetectState), AuditError> {
    let mut restarted = None;
    let mut resumed = None;
    if let Some(position) = state.and_then(|s| s.position) {
        let mut from = log.records_from(position.seq)?;
        match from.next().transpose()? {
            Some(r) if r.seq == position.seq && r.digest == position.digest => {
                resumed = Some(from);
            }
            Some(r) if r.seq == position.seq => {
                restarted = Some(Restart::DigestDiffers { seq: position.seq });
            }
            // No record there, or the log now starts after it (old segments removed).
            _ => restarted = Some(Restart::Missing { seq: position.seq }),
        }
    }
    let (records_iter, mut detector, mut position) = match (resumed, state) {
        (Some(iter), Some(s)) => (iter, Detector::restore(rules, s), s.position),
        // A state saved on an empty log has no position: every record is new.
        (None, Some(s)) if restarted.is_none() => {
            (log.records()?, Detector::restore(rules, s), None)
        }
        _ => (log.records()?, Detector::new(rules), None),
    };
    let mut recorded = BTreeSet::new();
    let mut fired = Vec::new();
    let mut records = 0;
    let mut first_seq = None;
    for record in records_iter {
        let StoredRecord {
            seq, digest, event, ..
        } = record?;
        records += 1;
        first_seq.get_or_insert(seq);
        position = Some(Position { seq, digest });
        if let Some(key) = Alert::recorded_in(&event) {
            recorded.insert(key);
        }
        fired.extend(detector.observe(seq, &event));
    }
    let before = fired.len() as u64;
    fired.retain(|a| !recorded.contains(&(a.rule.clone(), a.trigger_seq())));
    let state = DetectState {
        version: STATE_VERSION,
        position,
        latest: detector.latest,
        rules: detector.saved_rules(),
    };
    Ok((
        Detection {
            records,
            first_seq,
            already_recorded: before - fired.len() as u64,
            alerts: fired,
            restarted,
        },
        state,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_default_state_sits_beside_the_log() {
        assert_eq!(
            default_state_path(Path::new("/var/lib/medguard/audit/")),
            Some("/var/lib/medguard/audit.detect-state.json".into())
        );
        assert_eq!(
            default_state_path(Path::new("log")),
            Some("log.detect-state.json".into())
        );
        assert_eq!(default_state_path(Path::new("/")), None);
    }

    const RULES: &str = r#"
[[rule]]
name = "password-guessing"
kind = "threshold"
event = "login-failure"
count = 3
window = "60s"
group-by = "user"

[[rule]]
name = "tampering-then-execution"
kind = "sequence"
first = "integrity-deviation"
then = "executable-denied"
within = "10m"

[[rule]]
name = "off-hours-configuration"
kind = "time-of-day"
event = "configuration-change"
allowed = "07:00-19:00"
utc-offset = "+01:00"
"#;

    fn ev(kind: EventKind, t: OffsetDateTime, user: &str) -> AuditEvent {
        let mut e = AuditEvent::new(kind, t, Outcome::Success, "pacs1");
        e.participants.push(crate::event::ActiveParticipant {
            user_id: user.to_owned(),
            alternative_user_id: None,
            user_name: None,
            is_requestor: true,
            roles: vec![],
            network_access_point: None,
            network_access_point_type: None,
        });
        e
    }

    #[test]
    fn threshold_fires_per_user_within_window_only() {
        let rules = RuleSet::parse(RULES).unwrap();
        let mut d = Detector::new(&rules);
        let t = datetime!(2026-03-01 10:00:00 UTC);
        let mut alerts = Vec::new();
        // alice: 3 failures in 50 s -> alert. bob: 3 failures spread over 3 minutes -> none.
        for (i, (user, secs)) in [
            ("alice", 0),
            ("bob", 0),
            ("alice", 20),
            ("bob", 90),
            ("alice", 50),
            ("bob", 180),
        ]
        .iter()
        .enumerate()
        {
            alerts.extend(d.observe(
                i as u64 + 1,
                &ev(EventKind::LoginFailure, t + Duration::seconds(*secs), user),
            ));
        }
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].rule, "password-guessing");
        assert_eq!(alerts[0].group.as_deref(), Some("alice"));
        assert_eq!(alerts[0].seqs, vec![1, 3, 5]);
    }

    #[test]
    fn sequence_fires_only_within_the_window() {
        let rules = RuleSet::parse(RULES).unwrap();
        let mut d = Detector::new(&rules);
        let t = datetime!(2026-03-01 10:00:00 UTC);
        assert!(
            d.observe(1, &ev(EventKind::IntegrityDeviation, t, "-"))
                .is_empty()
        );
        assert!(
            d.observe(
                2,
                &ev(EventKind::ExecutableDenied, t + Duration::minutes(11), "-")
            )
            .is_empty()
        );
        assert!(
            d.observe(
                3,
                &ev(
                    EventKind::IntegrityDeviation,
                    t + Duration::minutes(20),
                    "-"
                )
            )
            .is_empty()
        );
        let a = d.observe(
            4,
            &ev(EventKind::ExecutableDenied, t + Duration::minutes(25), "-"),
        );
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].seqs, vec![3, 4]);
    }

    #[test]
    fn time_of_day_uses_the_site_offset() {
        let rules = RuleSet::parse(RULES).unwrap();
        let mut d = Detector::new(&rules);
        // 06:30 UTC is 07:30 at +01:00: allowed. 18:30 UTC is 19:30 local: alert.
        assert!(
            d.observe(
                1,
                &ev(
                    EventKind::ConfigurationChange,
                    datetime!(2026-03-01 06:30 UTC),
                    "a"
                )
            )
            .is_empty()
        );
        let a = d.observe(
            2,
            &ev(
                EventKind::ConfigurationChange,
                datetime!(2026-03-01 18:30 UTC),
                "a",
            ),
        );
        assert_eq!(a.len(), 1);
        let back = Alert::recorded_in(&a[0].to_event("pacs1")).unwrap();
        assert_eq!(back, ("off-hours-configuration".to_owned(), 2));
    }

    #[test]
    fn extreme_event_times_do_not_panic() {
        let rules = RuleSet::parse(RULES).unwrap();
        let mut d = Detector::new(&rules);
        for (i, t) in [
            datetime!(9999-12-31 23:59:59 UTC),
            datetime!(0000-01-01 00:00:00 UTC),
        ]
        .into_iter()
        .enumerate()
        {
            for kind in EventKind::ALL {
                let _ = d.observe(i as u64, &ev(*kind, t, "x"));
            }
        }
    }

    #[test]
    fn bad_rule_files_are_rejected_with_a_reason() {
        let err = RuleSet::parse("[[rule]]\nname = \"x\"\nkind = \"threshold\"\nevent = \"login-failure\"\ncount = 5\nwindow = \"60 s\"\n").unwrap_err();
        assert!(
            matches!(
                err,
                RuleError::Duration {
                    field: "window",
                    ..
                }
            ),
            "{err}"
        );
        let err = RuleSet::parse("[[rule]]\nname = \"x\"\nkind = \"threshold\"\ncolor = 1\n")
            .unwrap_err();
        assert!(matches!(err, RuleError::Syntax { line: 4, .. }), "{err:?}");
        let err = RuleSet::parse("[[rule]]\nname = \"x\"\nkind = \"sequence\"\nfirst = \"logout\"\nthen = \"nope\"\nwithin = \"1m\"\n").unwrap_err();
        assert!(err.to_string().contains("nope"));
        assert!(RuleSet::parse("[[rule]]\nname = \"x\"\nkind = \"time-of-day\"\nevent = \"logout\"\nallowed = \"25:00-07:00\"\n").is_err());
    }
}
