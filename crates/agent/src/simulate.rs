//! Many simulated devices in one process, for the server's benchmark and the agent soak.
//!
//! Each simulated device is a real protocol client: its own Ed25519 key, its own enrollment
//! with the token (so its own certificate and device id), its own TLS identity and its own
//! sequence numbers. Each posts, per round, a batch with a verification result (a fraction
//! of the fleet with deviations), an inventory (first round only) and its health.
//!
//! Inventories are drawn from real package data (dpkg status files, CycloneDX and SPDX
//! SBOMs) as a fleet looks: a base every device shares, plus three of ten cohorts, chosen by
//! the device's index, so every component outside the base is on exactly 30% of the fleet
//! (the benchmark's new advisory targets one, and [`Plan::cohort_samples`] names them).
//! Component JSON is written once and spliced per device, so the simulator spends its CPU
//! on the protocol, not on building documents.
//!
//! This module must not be used by a real device: it keeps nothing on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use medguard_inventory::{Component, Sbom, SbomMetadata};
use medguard_pki::DeviceKey;
use medguard_proto::limits::MAX_ENROLL_BYTES;
use medguard_proto::{
    AgentHealth, DeviationKind, DeviationRecord, DeviceFacts, EnrollRequest, EnrollResponse,
    EnrollmentToken, ProfileRef, QueueHealth, Report, ReportAck, ReportBody, ReportOutcome,
    Verification, VerificationOutcome, VerificationSummary, paths,
};
use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use url::Url;

use crate::transport::{SendError, ServerLink, Timeouts};
use crate::{AGENT_VERSION, AgentError};

/// Cohorts the non-base components are split into; each device has [`COHORTS_PER_DEVICE`].
pub const COHORTS: usize = 10;
/// Cohorts per device: 3 of 10, so each cohort's components are on 30% of the fleet.
pub const COHORTS_PER_DEVICE: usize = 3;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// The server.
    pub server: Url,
    /// An enrollment token with at least `count` uses.
    pub token: EnrollmentToken,
    /// The fleet CA (PEM).
    pub ca_pem: String,
    /// Devices.
    pub count: usize,
    /// Devices enrolling or posting at the same time.
    pub concurrency: usize,
    /// Batches each device posts (the first carries the inventory).
    pub rounds: usize,
    /// Components per inventory.
    pub components: usize,
    /// Share of devices whose verification finds deviations (0.0 to 1.0).
    pub deviating: f64,
    /// The model the devices claim.
    pub model: Option<String>,
    /// Distinguishes the serial numbers of one run from another's.
    pub run_id: String,
    /// How long to wait on the server.
    pub timeouts: Timeouts,
    /// Keep posting rounds (after the first `rounds`) until this much time has passed since
    /// the reporting phase started (the soak); `None`: exactly `rounds`.
    pub duration: Option<Duration>,
    /// Each device's pause between its rounds.
    pub pause: Duration,
    /// How long a device keeps resending a batch the server did not answer (a server
    /// restarting) before it gives up; zero: it gives up at once. A resent batch carries the
    /// same sequence numbers, so the server stores each report once.
    pub retry_for: Duration,
}

/// The components a simulated fleet is made of.
#[derive(Debug, Clone)]
pub struct Plan {
    base: Vec<Arc<str>>,
    cohorts: Vec<Vec<Arc<str>>>,
    /// One component of each cohort: on exactly the devices whose index `i` has that cohort
    /// among `i % 10`, `(i + 1) % 10`, `(i + 2) % 10`.
    pub cohort_samples: Vec<ComponentSample>,
    /// Distinct components in the fleet.
    pub distinct: usize,
}

/// A component, as a benchmark needs it to write an advisory about it.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentSample {
    /// The OSV ecosystem (`Debian:12`, `npm`, `Maven`...).
    pub ecosystem: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Package URL.
    pub purl: String,
}

impl Plan {
    /// Reads the component sources (dpkg status files, whose distribution comes from an
    /// `os-release` beside them; CycloneDX or SPDX JSON files; directories of them), keeps
    /// the components with a package URL, once each, and splits them: a shared base and ten
    /// cohorts so that each device has `components` in all.
    ///
    /// # Errors
    /// [`AgentError::Task`] when a source cannot be read or there are too few components.
    pub fn load(sources: &[PathBuf], components: usize, seed: u64) -> Result<Self, AgentError> {
        let mut pool: BTreeMap<String, Component> = BTreeMap::new();
        for source in sources {
            for file in files_of(source)? {
                for c in read_components(&file)? {
                    if let Some(p) = c.purl.clone() {
                        pool.entry(p).or_insert(c);
                    }
                }
            }
        }
        let mut pool: Vec<Component> = pool.into_values().collect();
        shuffle(&mut pool, seed);
        // components = base + 3 cohorts; a cohort is a tenth of what the base leaves.
        let per_cohort = (components / 5).max(1) / COHORTS_PER_DEVICE;
        let base_len = components.saturating_sub(per_cohort * COHORTS_PER_DEVICE);
        let needed = base_len + per_cohort * COHORTS;
        if pool.len() < needed {
            return Err(AgentError::Task {
                task: "simulate",
                reason: format!(
                    "{} components with package URLs in the sources, {needed} needed for {components} per device; give more --inventory sources or fewer components",
                    pool.len()
                ),
            });
        }
        pool.truncate(needed);
        let doc = medguard_inventory::cyclonedx::to_value(&Sbom {
            metadata: SbomMetadata {
                name: "pool".into(),
                created: None,
                tool: None,
                device_model: None,
            },
            components: pool.clone(),
        });
        let json: Vec<Arc<str>> = doc
            .get("components")
            .and_then(|c| c.as_array())
            .map(|a| a.iter().map(|v| Arc::from(v.to_string())).collect())
            .unwrap_or_default();
        let (base, rest) = json.split_at(base_len.min(json.len()));
        let cohorts: Vec<Vec<Arc<str>>> = rest.chunks(per_cohort).map(<[_]>::to_vec).collect();
        let cohort_samples = (0..COHORTS)
            .filter_map(|k| pool.get(base_len + k * per_cohort))
            .map(|c| ComponentSample {
                ecosystem: c.ecosystem.osv_name(),
                name: c.name.clone(),
                version: c.version.clone(),
                purl: c.purl.clone().unwrap_or_default(),
            })
            .collect();
        Ok(Self {
            base: base.to_vec(),
            cohorts,
            cohort_samples,
            distinct: needed,
        })
    }

    /// The CycloneDX document of device `index`.
    fn sbom(&self, index: usize, name: &str, model: Option<&str>, now: OffsetDateTime) -> String {
        let mut head = medguard_inventory::cyclonedx::to_value(&Sbom {
            metadata: SbomMetadata {
                name: name.to_owned(),
                created: Some(now),
                tool: None,
                device_model: model.map(str::to_owned),
            },
            components: Vec::new(),
        });
        if let Some(o) = head.as_object_mut() {
            o.remove("components");
            o.insert(
                "serialNumber".into(),
                format!("urn:uuid:{}", uuid_of(index, name)).into(),
            );
        }
        let head = head.to_string();
        let head = head.strip_suffix('}').unwrap_or(&head);
        let mine = (0..COHORTS_PER_DEVICE)
            .filter_map(|k| self.cohorts.get((index + k) % COHORTS))
            .flatten();
        let mut out = String::with_capacity(self.base.len() * 400);
        out.push_str(head);
        out.push_str(",\"components\":[");
        for (i, c) in self.base.iter().chain(mine).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(c);
        }
        out.push_str("]}");
        out
    }
}

fn uuid_of(index: usize, name: &str) -> String {
    let h = blake3::hash(format!("{name}/{index}").as_bytes());
    let b = h.as_bytes();
    let hex: String = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(13..16).unwrap_or_default(),
        hex.get(17..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    )
}

fn files_of(source: &Path) -> Result<Vec<PathBuf>, AgentError> {
    let meta = std::fs::metadata(source).map_err(AgentError::io(source))?;
    if meta.is_file() {
        return Ok(vec![source.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![source.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(AgentError::io(&dir))? {
            let entry = entry.map_err(AgentError::io(&dir))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                || path.file_name().is_some_and(|n| n == "status")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The components of one source file; a JSON file that is not an SBOM is skipped.
fn read_components(path: &Path) -> Result<Vec<Component>, AgentError> {
    let bytes = std::fs::read(path).map_err(AgentError::io(path))?;
    if path.file_name().is_some_and(|n| n == "status") {
        let mut warnings = Vec::new();
        let distro = path
            .parent()
            .and_then(|d| std::fs::read_to_string(d.join("os-release")).ok())
            .and_then(|t| medguard_inventory::osrelease::parse(&t))
            .unwrap_or(medguard_inventory::Distro {
                id: "debian".into(),
                version_id: None,
            });
        return Ok(
            medguard_inventory::dpkg::parse_status(&bytes, path, &mut warnings)
                .iter()
                .filter(|p| medguard_inventory::dpkg::is_installed(p, false))
                .map(|p| medguard_inventory::dpkg::component(p, &distro))
                .collect(),
        );
    }
    match medguard_inventory::parse_sbom(&bytes, path) {
        Ok(sbom) => Ok(sbom.components),
        Err(_) => Ok(Vec::new()),
    }
}

/// A fixed-seed shuffle (splitmix64), so a plan is the same on every run.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = usize::try_from(next() % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}

/// Latencies of one kind of request.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Requests measured.
    pub count: usize,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
}

impl Latency {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            if samples.is_empty() {
                return 0.0;
            }
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Self {
            count: samples.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// What a simulation did.
#[derive(Debug, Clone, Serialize)]
pub struct SimulateSummary {
    /// Devices asked for.
    pub devices: usize,
    /// Devices enrolled.
    pub enrolled: usize,
    /// Seconds the enrollment phase took.
    pub enroll_seconds: f64,
    /// Enrollment request latencies.
    pub enroll_latency: Latency,
    /// Reports sent (acknowledged or not).
    pub reports_sent: u64,
    /// Reports the server stored.
    pub reports_stored: u64,
    /// Reports the server already held.
    pub reports_duplicate: u64,
    /// Reports the server refused.
    pub reports_refused: u64,
    /// Batches sent again because the server did not answer.
    pub batches_resent: u64,
    /// When the reporting phase started, milliseconds since the Unix epoch (a benchmark
    /// measures from here until the server shows every device).
    pub report_started_unix_ms: i128,
    /// Seconds the reporting phase took.
    pub report_seconds: f64,
    /// Reports acknowledged per second in the reporting phase.
    pub reports_per_second: f64,
    /// Report batch latencies.
    pub report_latency: Latency,
    /// Components per inventory.
    pub components_per_device: usize,
    /// Distinct components across the fleet.
    pub distinct_components: usize,
    /// Devices whose verification reported deviations.
    pub deviating_devices: usize,
    /// One component of each cohort (see the module docs).
    pub cohort_samples: Vec<ComponentSample>,
    /// Failures (the first few, and how many in all).
    pub errors: Vec<String>,
    /// All failures.
    pub error_count: usize,
}

struct Enrolled {
    index: usize,
    certificate_pem: String,
    key_pem: String,
}

/// Whether device `index` reports deviations.
#[must_use]
pub fn deviates(index: usize, share: f64) -> bool {
    let permille = (share.clamp(0.0, 1.0) * 1000.0).round() as usize;
    (index.wrapping_mul(7919) % 1000) < permille
}

/// Runs the simulation: every device enrolls, then every device posts its rounds.
///
/// # Errors
/// [`AgentError`] when the plan cannot be made or the TLS settings are refused; failures of
/// single devices are counted in the summary.
pub async fn simulate(
    options: &SimulateOptions,
    plan: Arc<Plan>,
) -> Result<SimulateSummary, AgentError> {
    let options = Arc::new(options.clone());
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let enroll_link = ServerLink::enrolling(&options.server, &options.ca_pem, options.timeouts)?;

    let started = Instant::now();
    let mut handles = Vec::with_capacity(options.count);
    for index in 0..options.count {
        let (options, limit, link) = (options.clone(), limit.clone(), enroll_link.clone());
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.ok()?;
            Some(enroll_one(&options, &link, index).await)
        }));
    }
    let mut enrolled = Vec::with_capacity(options.count);
    let mut enroll_times = Vec::with_capacity(options.count);
    let mut errors = Vec::new();
    for h in handles {
        match h.await {
            Ok(Some(Ok((e, took)))) => {
                enrolled.push(e);
                enroll_times.push(took);
            }
            Ok(Some(Err(e))) => errors.push(format!("enroll: {e}")),
            Ok(None) => errors.push("enroll: the concurrency limit closed".into()),
            Err(e) => errors.push(format!("enroll: task failed: {e}")),
        }
    }
    let enroll_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let report_started_unix_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let mut handles = Vec::with_capacity(enrolled.len());
    let deviating_devices = enrolled
        .iter()
        .filter(|e| deviates(e.index, options.deviating))
        .count();
    for device in enrolled.iter().map(|e| Enrolled {
        index: e.index,
        certificate_pem: e.certificate_pem.clone(),
        key_pem: e.key_pem.clone(),
    }) {
        let (options, limit, plan) = (options.clone(), limit.clone(), plan.clone());
        handles.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.ok()?;
            Some(report_rounds(&options, &plan, &device, started).await)
        }));
    }
    let mut report_times = Vec::new();
    let (mut sent, mut stored, mut duplicate, mut refused) = (0u64, 0u64, 0u64, 0u64);
    let mut resent = 0u64;
    for h in handles {
        match h.await {
            Ok(Some(outcome)) => {
                sent += outcome.sent;
                stored += outcome.stored;
                duplicate += outcome.duplicate;
                refused += outcome.refused;
                resent += outcome.resent;
                report_times.extend(outcome.latencies);
                errors.extend(outcome.errors);
            }
            Ok(None) => errors.push("report: the concurrency limit closed".into()),
            Err(e) => errors.push(format!("report: task failed: {e}")),
        }
    }
    let report_seconds = started.elapsed().as_secs_f64();
    let error_count = errors.len();
    errors.truncate(20);
    Ok(SimulateSummary {
        devices: options.count,
        enrolled: enrolled.len(),
        enroll_seconds,
        enroll_latency: Latency::of(enroll_times),
        reports_sent: sent,
        reports_stored: stored,
        reports_duplicate: duplicate,
        reports_refused: refused,
        batches_resent: resent,
        report_started_unix_ms,
        report_seconds,
        reports_per_second: if report_seconds > 0.0 {
            (stored + duplicate) as f64 / report_seconds
        } else {
            0.0
        },
        report_latency: Latency::of(report_times),
        components_per_device: options.components,
        distinct_components: plan.distinct,
        deviating_devices,
        cohort_samples: plan.cohort_samples.clone(),
        errors,
        error_count,
    })
}

fn facts(options: &SimulateOptions, index: usize) -> DeviceFacts {
    DeviceFacts {
        hostname: format!("sim-{index:05}"),
        serial: Some(format!("SIM-{}-{index:05}", options.run_id)),
        model: options.model.clone(),
        os: Some("medguard simulated device".into()),
        agent_version: AGENT_VERSION.to_owned(),
    }
}

async fn enroll_one(
    options: &SimulateOptions,
    link: &ServerLink,
    index: usize,
) -> Result<(Enrolled, Duration), AgentError> {
    let key = DeviceKey::generate().map_err(|source| AgentError::Pki {
        what: "a simulated device key",
        source,
    })?;
    let facts = facts(options, index);
    let csr = key
        .certificate_request(&facts.hostname)
        .map_err(|source| AgentError::Pki {
            what: "a certificate request",
            source,
        })?;
    let body = serde_json::to_vec(&EnrollRequest {
        token: options.token.clone(),
        csr_pem: csr,
        facts,
    })
    .map_err(|e| AgentError::Task {
        task: "simulate",
        reason: e.to_string(),
    })?;
    let t = Instant::now();
    let answer: EnrollResponse = link
        .post_json(paths::ENROLL, body, MAX_ENROLL_BYTES)
        .await?;
    let took = t.elapsed();
    Ok((
        Enrolled {
            index,
            certificate_pem: answer.certificate.certificate_pem,
            key_pem: key.private_key_pem(),
        },
        took,
    ))
}

#[derive(Default)]
struct RoundsOutcome {
    sent: u64,
    stored: u64,
    duplicate: u64,
    refused: u64,
    resent: u64,
    latencies: Vec<Duration>,
    errors: Vec<String>,
}

fn verification(index: usize, deviating: bool) -> Verification {
    let deviations = if deviating {
        vec![
            DeviationRecord {
                path: "/opt/vendor/bin/viewer".into(),
                kind: DeviationKind::Changed,
                attributes: vec!["content".into(), "size".into()],
            },
            DeviationRecord {
                path: format!("/tmp/.cache-{index}"),
                kind: DeviationKind::Added,
                attributes: vec![],
            },
        ]
    } else {
        Vec::new()
    };
    let changed = u64::from(deviating);
    Verification {
        root: "/".into(),
        profile: Some(ProfileRef {
            path: "/etc/medguard/device.profile".into(),
            digest: "5a".repeat(32),
            signer: Some("simulated-vendor".into()),
            entries: 20_000,
            entries_digest: None,
        }),
        outcome: VerificationOutcome::Completed {
            summary: VerificationSummary {
                expected_entries: 20_000,
                actual_entries: 20_000 + changed,
                added: changed,
                removed: 0,
                changed,
                unverifiable: 0,
            },
            deviations,
            deviations_omitted: 0,
            unverifiable: Vec::new(),
            unverifiable_omitted: 0,
        },
    }
}

async fn report_rounds(
    options: &SimulateOptions,
    plan: &Plan,
    device: &Enrolled,
    started: Instant,
) -> RoundsOutcome {
    let mut out = RoundsOutcome::default();
    let link = match ServerLink::device(
        &options.server,
        &options.ca_pem,
        &device.certificate_pem,
        &device.key_pem,
        options.timeouts,
    ) {
        Ok(l) => l,
        Err(e) => {
            out.errors.push(format!("device {}: {e}", device.index));
            return out;
        }
    };
    let name = format!("sim-{:05}", device.index);
    let deviating = deviates(device.index, options.deviating);
    let mut seq = 0u64;
    let mut round = 0usize;
    loop {
        let more = round < options.rounds.max(1)
            || options.duration.is_some_and(|d| started.elapsed() < d);
        if !more {
            break;
        }
        if round > 0 && !options.pause.is_zero() {
            tokio::time::sleep(options.pause).await;
        }
        let now = OffsetDateTime::now_utc();
        let mut reports = Vec::new();
        let mut push = |body: ReportBody| {
            seq += 1;
            reports.push(Report {
                seq,
                created: now,
                command: None,
                body,
            });
        };
        push(ReportBody::Verification(verification(
            device.index,
            deviating,
        )));
        if round == 0 {
            let sbom = plan.sbom(device.index, &name, options.model.as_deref(), now);
            match RawValue::from_string(sbom) {
                Ok(raw) => push(ReportBody::Inventory(medguard_proto::InventoryReport {
                    format: crate::tasks::inventory::CYCLONEDX_JSON.to_owned(),
                    sbom: raw,
                })),
                Err(e) => out
                    .errors
                    .push(format!("device {}: sbom: {e}", device.index)),
            }
        }
        push(ReportBody::Health(AgentHealth {
            agent_version: AGENT_VERSION.to_owned(),
            started: now,
            report_within_secs: 3600,
            queue: QueueHealth::default(),
            tasks: Vec::new(),
            clinical: None,
        }));
        let count = reports.len() as u64;
        let body = match serde_json::to_vec(&medguard_proto::ReportBatch { reports }) {
            Ok(b) => b,
            Err(e) => {
                out.errors.push(format!("device {}: {e}", device.index));
                return out;
            }
        };
        out.sent += count;
        let mut retry_until = None;
        let mut wait = Duration::from_millis(200);
        let answer = loop {
            let t = Instant::now();
            let answer: Result<ReportAck, SendError> =
                link.post_json(paths::REPORTS, body.clone(), 1 << 20).await;
            if answer.is_ok() {
                // Only answered requests: a refused connection is not a latency.
                out.latencies.push(t.elapsed());
            }
            match answer {
                Err(e) if e.is_transient() && !options.retry_for.is_zero() => {
                    let until =
                        *retry_until.get_or_insert_with(|| Instant::now() + options.retry_for);
                    if Instant::now() >= until {
                        break Err(e);
                    }
                    // The same batch again: the server stores each sequence number once.
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                    out.resent += 1;
                }
                other => break other,
            }
        };
        round += 1;
        match answer {
            Ok(ack) => {
                for r in &ack.receipts {
                    match r.outcome {
                        ReportOutcome::Stored => out.stored += 1,
                        ReportOutcome::Duplicate => out.duplicate += 1,
                        ReportOutcome::Refused => {
                            out.refused += 1;
                            if let Some(p) = &r.problem {
                                out.errors.push(format!(
                                    "device {} report {}: refused: {} {}",
                                    device.index,
                                    r.seq,
                                    p.code,
                                    p.detail.as_deref().unwrap_or_default()
                                ));
                            }
                        }
                    }
                }
            }
            Err(e) => {
                out.errors.push(format!("device {}: {e}", device.index));
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn cohorts_put_each_component_on_thirty_percent_of_devices() {
        let holders = |k: usize| {
            (0..1000)
                .filter(|i| (0..3).any(|j| (i + j) % 10 == k))
                .count()
        };
        for k in 0..COHORTS {
            assert_eq!(holders(k), 300);
        }
    }

    #[test]
    fn the_deviating_share_is_kept() {
        let n = (0..10_000).filter(|i| deviates(*i, 0.1)).count();
        assert_eq!(n, 1000);
        assert_eq!((0..100).filter(|i| deviates(*i, 0.0)).count(), 0);
    }

    #[test]
    fn a_plan_from_real_data_makes_valid_inventories() {
        let data = std::env::var_os("MEDGUARD_SHARED_DATA").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
            PathBuf::from,
        );
        let data = if data.exists() {
            data
        } else {
            PathBuf::from("/work/shared/data")
        };
        assert!(
            data.exists(),
            "shared test data not found at {}",
            data.display()
        );
        let sources = [
            data.join("dpkg-status/local-debian-12/status"),
            data.join("cyclonedx-bom-examples/SBOM"),
        ];
        let plan = Plan::load(&sources, 1500, 1).unwrap();
        assert_eq!(plan.cohort_samples.len(), COHORTS);
        let doc = plan.sbom(4, "sim-00004", Some("CT 9000"), OffsetDateTime::UNIX_EPOCH);
        let sbom = medguard_inventory::parse_sbom(doc.as_bytes(), Path::new("sim")).unwrap();
        assert_eq!(sbom.components.len(), 1500);
        // Device 4 has cohorts 4, 5 and 6: the sample of cohort 5 is there, of cohort 3 not.
        let has = |s: &ComponentSample| {
            sbom.components
                .iter()
                .any(|c| c.purl.as_deref() == Some(&s.purl))
        };
        assert!(has(&plan.cohort_samples[5]));
        assert!(!has(&plan.cohort_samples[3]));
        let other = plan.sbom(5, "sim-00005", None, OffsetDateTime::UNIX_EPOCH);
        assert_ne!(doc, other);
    }
}
