//! The dashboard at hospital scale (issue 18): a fleet of N devices (default 10,000; set
//! `MEDGUARD_BENCH_DEVICES`) across twelve sites and eight models, with M findings (default
//! 1,000,000; `MEDGUARD_BENCH_FINDINGS`) spread unevenly (one device in a hundred carries
//! thousands, the others tens), on SQLite and on a private PostgreSQL cluster
//! (`MEDGUARD_BENCH_DATABASES=sqlite,postgres`, the default).
//!
//! The fleet is written straight into the server's database in bulk (multi-row INSERTs, a few
//! hundred rows each, in transactions), not through HTTP: enrolling and reporting 10,000
//! devices one by one would take the bench's whole time. The rows are the ones the server's
//! ingestion writes: device state is [`DeviceState`], the status beside it is
//! [`medguard_fleet::status::compute`]'s verdict over that state, its audit chain and its
//! open findings; each finding's body is a [`Finding`] as `write_findings` stores it, with
//! the same `relevance`, `priority` and `priority_rank` columns, and the device's tallies by
//! state and relevance as `write_findings` keeps them; inventories are stored [`Component`]
//! lists keyed by their digest; security events are the enrollment events.
//!
//! Then the real router of `medguard-server` answers in-process (`tower::ServiceExt::oneshot`,
//! no socket, no TLS): a person signed in through `POST /api/v1/session` (pages, with the
//! session cookie) and an API token (the JSON routes). Each route is asked
//! `MEDGUARD_BENCH_SAMPLES` times (default 30) after two warm-up requests; the bench prints
//! p50, p95 and p99 in milliseconds per route and database, the p95 as a share of the
//! issue's goal (100 ms at the server), and the time the seed took. It asserts nothing about
//! time: it is a measurement. Run by `bench/pages.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use medguard_accounts::{TimeStep, TotpSecret};
use medguard_advisory::{
    CvssScore, DeviceContext, Finding, Package, Priority, Relevance, UsageContext,
};
use medguard_fleet::audit_chain::ChainState;
use medguard_fleet::state::{
    AllowlistState, DeviceState, IntegrityState, InventoryState, ScanState,
};
use medguard_fleet::status::{FindingCounts, compute};
use medguard_inventory::{Component, Distro, Ecosystem};
use medguard_proto::{AllowlistMode, DeviceId, ScanScope, VerificationSummary};
use medguard_server::DataDir;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor as _};
use time::OffsetDateTime;
use tower::ServiceExt as _;

/// The goal for a page at the server, p95.
const GOAL_MS: f64 = 100.0;

const SITES: &[&str] = &[
    "North",
    "South",
    "East",
    "West",
    "Childrens",
    "Cardiology",
    "Oncology",
    "Radiology",
    "Maternity",
    "Outpatients",
    "Rehabilitation",
    "Emergency",
];

/// Models with their share of the fleet (in tenths of a percent), criticality and how long
/// their devices may stay silent.
const MODELS: &[(&str, u32, &str, i64)] = &[
    ("InfusionPump-P7", 300, "life-sustaining", 900),
    ("PatientMonitor-M3", 250, "high", 900),
    ("Ventilator-V2", 60, "life-sustaining", 900),
    ("CT-9000", 20, "high", 3_600),
    ("MRI-Aurora", 10, "high", 3_600),
    ("Ultrasound-U5", 120, "medium", 3_600),
    ("LabAnalyser-L1", 90, "medium", 3_600),
    ("Workstation-PACS", 150, "low", 3_600),
];

/// Packages the inventories are drawn from (Debian 12 names and versions).
const PACKAGES: &[(&str, &str)] = &[
    ("openssl", "3.0.11-1~deb12u2"),
    ("libssl3", "3.0.11-1~deb12u2"),
    ("glibc", "2.36-9+deb12u4"),
    ("libc6", "2.36-9+deb12u4"),
    ("curl", "7.88.1-10+deb12u5"),
    ("libcurl4", "7.88.1-10+deb12u5"),
    ("openssh-server", "1:9.2p1-2+deb12u2"),
    ("systemd", "252.22-1~deb12u1"),
    ("linux-image-6.1.0-18-amd64", "6.1.76-1"),
    ("libxml2", "2.9.14+dfsg-1.3~deb12u1"),
    ("zlib1g", "1:1.2.13.dfsg-1"),
    ("python3.11", "3.11.2-6"),
    ("libexpat1", "2.5.0-1"),
    ("sudo", "1.9.13p3-1+deb12u1"),
    ("bash", "5.2.15-2+b2"),
    ("libpng16-16", "1.6.39-2"),
    ("libtiff6", "4.5.0-6+deb12u1"),
    ("libjpeg62-turbo", "1:2.1.5-2"),
    ("sqlite3", "3.40.1-2"),
    ("dcmtk", "3.6.7-9~deb12u1"),
    ("nginx", "1.22.1-9"),
    ("libgnutls30", "3.7.9-2+deb12u2"),
    ("krb5-locales", "1.20.1-2+deb12u1"),
    ("libkrb5-3", "1.20.1-2+deb12u1"),
    ("perl-base", "5.36.0-7+deb12u1"),
    ("tar", "1.34+dfsg-1.2+deb12u1"),
    ("util-linux", "2.38.1-5+b1"),
    ("libgcrypt20", "1.10.1-3"),
    ("libnss3", "2:3.87.1-1"),
    ("firefox-esr", "115.8.0esr-1~deb12u1"),
    ("libwebp7", "1.2.4-0.2+deb12u1"),
    ("libxslt1.1", "1.1.35-1"),
];

/// The fleet's shape.
struct Shape {
    devices: usize,
    findings: usize,
    samples: usize,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (SplitMix64): the same fleet on every run and database.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One advisory of the pool the findings are drawn from, assessed as the matcher would.
struct Advisory {
    id: String,
    alias: String,
    package: usize,
    relevance: Relevance,
    priority: Priority,
    score: f64,
}

fn advisories(n: usize) -> Vec<Advisory> {
    let mut rng = Rng(0xAD);
    (0..n)
        .map(|i| {
            let roll = rng.below(1000);
            let (relevance, priority, score) = match roll {
                0..=179 => (Relevance::NotRelevant, Priority::None, 5.3),
                180..=299 => (Relevance::NeedsReview, Priority::Medium, 6.1),
                300..=319 => (Relevance::Relevant, Priority::Critical, 9.8),
                320..=379 => (Relevance::Relevant, Priority::High, 8.1),
                380..=699 => (Relevance::Relevant, Priority::Medium, 6.5),
                _ => (Relevance::Relevant, Priority::Low, 3.7),
            };
            let year = 2015 + (i % 10);
            Advisory {
                id: format!("DSA-{}-{}", 3000 + i / 3, 1 + i % 3),
                alias: format!("CVE-{year}-{}", 10_000 + i),
                package: rng.below(PACKAGES.len() as u64) as usize,
                relevance,
                priority,
                score,
            }
        })
        .collect()
}

fn rank(p: Priority) -> i64 {
    match p {
        Priority::None => 0,
        Priority::Low => 1,
        Priority::Medium => 2,
        Priority::High => 3,
        Priority::Critical => 4,
    }
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn finding_of(a: &Advisory) -> Finding {
    let (name, version) = PACKAGES[a.package];
    let vector = if a.score >= 9.0 {
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    } else if a.score >= 7.0 {
        "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"
    } else if a.score >= 4.0 {
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:L"
    } else {
        "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N"
    };
    let mut rationale = vec![format!(
        "{name} {version} is in the affected range of {} (fixed in a later Debian 12 update).",
        a.id
    )];
    match a.relevance {
        Relevance::NotRelevant => rationale
            .push("The vulnerable code is not in the device's execute path (declared by the vendor).".into()),
        Relevance::NeedsReview => rationale.push(
            "The installed version could not be ordered against the advisory's range: a person must review it."
                .into(),
        ),
        Relevance::Relevant => rationale.push(format!(
            "CVSS {:.1}; the model is network-exposed and clinically critical, so the priority is {}.",
            a.score,
            word(&a.priority)
        )),
    }
    Finding {
        component: Package {
            ecosystem: "Debian:12".into(),
            name: name.into(),
            version: version.into(),
            purl: Some(format!("pkg:deb/debian/{name}@{version}?distro=debian-12")),
            source_name: None,
            usage: UsageContext::default(),
        },
        advisory: a.id.clone(),
        aliases: vec![a.alias.clone()],
        summary: format!(
            "{name}: {} vulnerability allows a remote attacker to cause a denial of service or execute code",
            if a.score >= 9.0 {
                "memory corruption"
            } else {
                "input validation"
            }
        ),
        affected_range: format!("< {version}+deb12u9"),
        fixed: vec![format!("{version}+deb12u9")],
        cvss: Some(CvssScore {
            vector: vector.into(),
            base_score: a.score,
            severity: if a.score >= 9.0 {
                "critical"
            } else if a.score >= 7.0 {
                "high"
            } else if a.score >= 4.0 {
                "medium"
            } else {
                "low"
            }
            .into(),
            attack_vector: "network".into(),
        }),
        known_exploited: (a.priority == Priority::Critical).then(|| a.alias.clone()),
        epss: Some((0.02, 0.71)),
        relevance: a.relevance,
        priority: a.priority,
        justification: (a.relevance == Relevance::NotRelevant)
            .then_some(medguard_advisory::VexJustification::VulnerableCodeNotInExecutePath),
        rationale,
    }
}

/// A device as the bench seeds it.
struct Device {
    id: String,
    site: &'static str,
    model: usize,
    findings: usize,
}

/// Placeholders `($1, …, $k), (…)` for `rows` rows of `columns` values.
fn values(rows: usize, columns: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..columns {
            if c > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "${}", r * columns + c + 1);
        }
        s.push(')');
    }
    s
}

/// A value of a seeded row.
enum V {
    T(String),
    I(i64),
    NT(Option<String>),
    NI(Option<i64>),
}

/// Values bound in one statement at most: SQLite binds numbered parameters in time that grows
/// with their number (100,000 findings took 52 s in statements of 5,000 values), PostgreSQL
/// takes up to 65,535 at no such cost.
static PARAMETERS: AtomicUsize = AtomicUsize::new(400);

/// Inserts `rows` into `table` (`columns` named), `per` rows a statement (fewer on SQLite).
async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    columns: &str,
    rows: Vec<Vec<V>>,
    per: usize,
) {
    let width = columns.split(',').count();
    let per = per.min(PARAMETERS.load(Ordering::Relaxed) / width).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<V>> = rows.by_ref().take(per).collect();
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            values(chunk.len(), width)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    V::T(s) => q.bind(s),
                    V::I(i) => q.bind(i),
                    V::NT(s) => q.bind(s),
                    V::NI(i) => q.bind(i),
                };
            }
        }
        q.execute(&mut **tx).await.unwrap();
    }
}

fn rfc(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

/// Writes the fleet; returns the devices and the number of open findings.
async fn seed(pool: &AnyPool, shape: &Shape) -> (Vec<Device>, usize) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut rng = Rng(0x5EED);
    let pool_size = 16_000.max(shape.findings / 60);
    let pool_size = pool_size.min(60_000);
    let advisories = advisories(pool_size);

    // Devices: sites and models by their shares; one in a hundred carries about 40 % of the
    // findings (thousands each), the others share the rest (tens each, unevenly).
    let heavy = (shape.devices / 100).max(1);
    let heavy_total = shape.findings * 2 / 5;
    let heavy_each = (heavy_total / heavy).min(pool_size);
    let typical = shape.devices - heavy;
    let typical_total = shape.findings - heavy_each * heavy;
    let typical_mean = typical_total / typical.max(1);
    let shares: u32 = MODELS.iter().map(|m| m.1).sum();
    let mut devices = Vec::with_capacity(shape.devices);
    let mut left = typical_total;
    for i in 0..shape.devices {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&rng.next().to_le_bytes());
        bytes[8..].copy_from_slice(&rng.next().to_le_bytes());
        let id = DeviceId::from_random_bytes(bytes).as_str().to_owned();
        let mut pick = rng.below(u64::from(shares)) as u32;
        let mut model = 0;
        for (m, (_, share, _, _)) in MODELS.iter().enumerate() {
            if pick < *share {
                model = m;
                break;
            }
            pick -= share;
        }
        let findings = if i < heavy {
            heavy_each
        } else if i + 1 == shape.devices {
            left
        } else {
            // Between a sixth and twice the mean: most devices have tens.
            let n = (typical_mean / 6 + rng.below((typical_mean * 11 / 6) as u64 + 1) as usize)
                .min(left)
                .min(pool_size);
            left -= n;
            n
        };
        devices.push(Device {
            id,
            site: SITES[i % SITES.len()],
            model,
            findings: findings.min(pool_size),
        });
    }

    let mut tx = pool.begin().await.unwrap();
    insert(
        &mut tx,
        "sites",
        "name, created_at",
        SITES
            .iter()
            .map(|s| vec![V::T((*s).into()), V::I(now - 400 * 86_400)])
            .collect(),
        100,
    )
    .await;
    insert(
        &mut tx,
        "models",
        "name, criticality, network_exposed, report_within_secs, created_at",
        MODELS
            .iter()
            .map(|(name, _, criticality, within)| {
                vec![
                    V::T((*name).into()),
                    V::NT(Some((*criticality).into())),
                    V::NI(Some(1)),
                    V::NI(Some(*within)),
                    V::I(now - 400 * 86_400),
                ]
            })
            .collect(),
        100,
    )
    .await;
    // Two software images per model (before and after the last patch).
    let distro = Distro {
        id: "debian".into(),
        version_id: Some("12".into()),
    };
    let mut images: Vec<(String, u64)> = Vec::new();
    let mut inventory_rows = Vec::new();
    for (m, _) in MODELS.iter().enumerate() {
        for image in 0..2 {
            let components: Vec<Component> = PACKAGES
                .iter()
                .cycle()
                .take(280 + 13 * m)
                .enumerate()
                .map(|(k, (name, version))| {
                    let name = if k < PACKAGES.len() {
                        (*name).to_owned()
                    } else {
                        format!("{name}-extra{k}")
                    };
                    let version = format!("{version}{}", if image == 1 { "+u1" } else { "" });
                    let mut c = Component::new(
                        name.clone(),
                        version.clone(),
                        Ecosystem::Debian(distro.clone()),
                    );
                    c.purl = Some(format!("pkg:deb/debian/{name}@{version}?distro=debian-12"));
                    c.supplier = Some("Debian".into());
                    c.arch = Some("amd64".into());
                    c
                })
                .collect();
            let text = serde_json::to_string(&components).unwrap();
            let digest = blake3::hash(text.as_bytes()).to_hex().to_string();
            images.push((digest.clone(), components.len() as u64));
            inventory_rows.push(vec![V::T(digest), V::T(text), V::I(now - 30 * 86_400)]);
        }
    }
    insert(
        &mut tx,
        "inventories",
        "digest, components, created_at",
        inventory_rows,
        4,
    )
    .await;
    tx.commit().await.unwrap();

    // The context key `finding_runs` keeps: the model's declared context, as the fleet
    // serialises it.
    let contexts: Vec<String> = MODELS
        .iter()
        .map(|(name, _, criticality, _)| {
            serde_json::to_string(&DeviceContext {
                model: Some((*name).into()),
                criticality: serde_json::from_value(serde_json::Value::String(
                    (*criticality).into(),
                ))
                .ok(),
                network_exposed: Some(true),
            })
            .unwrap()
        })
        .collect();
    let mut open_total = 0usize;
    for chunk in devices.chunks(200) {
        let mut tx = pool.begin().await.unwrap();
        let mut device_rows = Vec::new();
        let mut finding_rows = Vec::new();
        let mut run_rows = Vec::new();
        let mut chain_rows = Vec::new();
        let mut event_rows = Vec::new();
        let mut tally_rows = Vec::new();
        for d in chunk {
            let (model, _, _, within) = MODELS[d.model];
            // Most report every few minutes; one in twelve has been silent for days.
            let silent = rng.below(12) == 0;
            let last_seen = if silent {
                now - 86_400 * (1 + rng.below(20) as i64)
            } else {
                now - rng.below(within as u64 / 2) as i64
            };
            let enrolled = now - 86_400 * (30 + rng.below(300) as i64);
            let image = d.model * 2 + usize::from(rng.below(3) != 0);
            let (inventory, components) = images[image].clone();
            let added = if rng.below(40) == 0 {
                1 + rng.below(3)
            } else {
                0
            };
            let state = DeviceState {
                integrity: Some(IntegrityState {
                    at: rfc(last_seen),
                    seq: 40 + rng.below(4_000),
                    profile_digest: Some(format!("{:064x}", d.model * 7 + image)),
                    profile_entries: Some(format!("{:064x}", d.model * 11 + image)),
                    summary: Some(VerificationSummary {
                        expected_entries: 41_000 + d.model as u64 * 1_000,
                        actual_entries: 41_000 + d.model as u64 * 1_000 + added,
                        added,
                        removed: 0,
                        changed: 0,
                        unverifiable: 0,
                    }),
                    deviations: Vec::new(),
                    deviations_omitted: 0,
                    unverifiable: Vec::new(),
                    not_run: None,
                }),
                allowlist: Some(AllowlistState {
                    at: rfc(last_seen),
                    mode: if d.model == 7 {
                        AllowlistMode::Audit
                    } else {
                        AllowlistMode::Enforce
                    },
                    entries: 1_800 + d.model as u64 * 37,
                    reason: None,
                    denials: Vec::new(),
                    denials_total: rng.below(4),
                }),
                scan: Some(ScanState {
                    finished: rfc(last_seen - 3_600),
                    scope: ScanScope::ChangedSinceProfile,
                    completed: true,
                    files: 12_000 + rng.below(30_000),
                    findings_total: 0,
                    findings: Vec::new(),
                    last_clean: Some(rfc(last_seen - 3_600)),
                }),
                services: None,
                installs: Vec::new(),
                inventory: Some(InventoryState {
                    at: rfc(last_seen - 7_200),
                    digest: inventory.clone(),
                    components,
                }),
                health: None,
            };
            let chains = vec![ChainState {
                log: "medguard".into(),
                epoch: 0,
                next_seq: 200 + rng.below(5_000),
                last_digest: format!("{:064x}", rng.next()),
                checkpoint_seq: 150,
                state: "intact".into(),
                problem: None,
            }];
            // This device's findings: distinct advisories from a random start with a stride
            // coprime to the pool (the pool size is even; the stride is odd and prime).
            let start = rng.below(pool_size as u64) as usize;
            let stride = 7_919;
            let mut counts = FindingCounts::default();
            let mut tallies: BTreeMap<(&str, String), i64> = BTreeMap::new();
            for k in 0..d.findings {
                let a = &advisories[(start + k * stride) % pool_size];
                let fixed = rng.below(100) < 12;
                let first_seen = enrolled + rng.below((now - enrolled) as u64) as i64;
                if !fixed {
                    open_total += 1;
                    match (a.relevance, a.priority) {
                        (Relevance::NotRelevant, _) => counts.not_relevant += 1,
                        (Relevance::NeedsReview, _) => counts.needs_review += 1,
                        (_, Priority::Critical) => counts.critical += 1,
                        (_, Priority::High) => counts.high += 1,
                        (_, Priority::Medium) => counts.medium += 1,
                        _ => counts.low += 1,
                    }
                }
                *tallies
                    .entry((if fixed { "fixed" } else { "open" }, word(&a.relevance)))
                    .or_default() += 1;
                let f = finding_of(a);
                let component = format!(
                    "{} {} {}",
                    f.component.ecosystem, f.component.name, f.component.version
                );
                finding_rows.push(vec![
                    V::T(d.id.clone()),
                    V::T(a.id.clone()),
                    V::T(component),
                    V::T(word(&a.relevance)),
                    V::T(word(&a.priority)),
                    V::I(rank(a.priority)),
                    V::T(if fixed { "fixed" } else { "open" }.into()),
                    V::I(first_seen),
                    V::NI(fixed.then(|| first_seen + (now - first_seen) / 2)),
                    V::T(serde_json::to_string(&f).unwrap()),
                ]);
            }
            for ((state, relevance), n) in tallies {
                tally_rows.push(vec![
                    V::T(d.id.clone()),
                    V::T(state.into()),
                    V::T(relevance),
                    V::I(n),
                ]);
            }
            let status = compute(&state, &chains, counts, false, rfc(now));
            device_rows.push(vec![
                V::T(d.id.clone()),
                V::T(d.site.into()),
                V::NT(Some(model.into())),
                V::T(format!("{}-{}", model.to_lowercase(), &d.id[..8])),
                V::NT(Some(format!("SN{}", &d.id[24..]))),
                V::NT(Some("Debian GNU/Linux 12 (bookworm)".into())),
                V::NT(Some("0.1.0".into())),
                V::T(format!(
                    "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                    "A".repeat(120)
                )),
                V::I(enrolled),
                V::NI(Some(last_seen)),
                V::I(chains[0].next_seq as i64 + 40),
                V::NI(Some(within)),
                V::NT(Some(inventory.clone())),
                V::T(serde_json::to_string(&state).unwrap()),
                V::T(status.overall.as_str().into()),
                V::T(serde_json::to_string(&status).unwrap()),
            ]);
            run_rows.push(vec![
                V::T(d.id.clone()),
                V::T(inventory),
                V::T(contexts[d.model].clone()),
                V::I(0),
                V::I(now - 3_600),
            ]);
            let c = &chains[0];
            chain_rows.push(vec![
                V::T(d.id.clone()),
                V::T(c.log.clone()),
                V::I(c.epoch),
                V::I(c.next_seq as i64),
                V::T(c.last_digest.clone()),
                V::I(c.checkpoint_seq as i64),
                V::T(c.state.clone()),
                V::NT(None),
                V::I(last_seen),
            ]);
            for (n, (kind, detail)) in [
                ("device-enrollment", format!("enrolled at {}", d.site)),
                ("device-authentication", "certificate renewed".to_owned()),
                (
                    "report-refused",
                    "report 12: older than the last stored".to_owned(),
                ),
            ]
            .into_iter()
            .enumerate()
            .take(1 + rng.below(3) as usize)
            {
                event_rows.push(vec![
                    V::T(format!("{}-{n}", d.id)),
                    V::I(enrolled + n as i64 * 86_400),
                    V::T(kind.into()),
                    V::T("success".into()),
                    V::NT(None),
                    V::NT(Some(d.id.clone())),
                    V::NT(Some("10.20.0.7".into())),
                    V::T(detail),
                ]);
            }
        }
        insert(
            &mut tx,
            "devices",
            "id, site, model, name, serial, os, agent_version, public_key, enrolled_at, last_seen, \
             last_seq, report_within_secs, inventory_digest, state, status, status_detail",
            device_rows,
            100,
        )
        .await;
        insert(
            &mut tx,
            "findings",
            "device_id, advisory, component, relevance, priority, priority_rank, state, first_seen, fixed_at, body",
            finding_rows,
            500,
        )
        .await;
        insert(
            &mut tx,
            "finding_tallies",
            "device_id, state, relevance, n",
            tally_rows,
            500,
        )
        .await;
        insert(
            &mut tx,
            "finding_runs",
            "device_id, inventory_digest, context, advisories_revision, at",
            run_rows,
            500,
        )
        .await;
        insert(
            &mut tx,
            "audit_chains",
            "device_id, log, epoch, next_seq, last_digest, checkpoint_seq, state, problem, updated_at",
            chain_rows,
            500,
        )
        .await;
        insert(
            &mut tx,
            "security_events",
            "id, at, kind, outcome, actor, device_id, address, detail",
            event_rows,
            500,
        )
        .await;
        tx.commit().await.unwrap();
    }
    (devices, open_total)
}

/// Sets up the first administrator and signs them in through the router: the session
/// cookie (pages) and an API token (JSON routes).
async fn sign_in(data: &DataDir, app: &Router) -> (String, String) {
    let issued = medguard_server::host::first_administrator(data, "admin")
        .await
        .unwrap()
        .unwrap();
    let fleet = medguard_server::open_fleet(data).await.unwrap();
    let secret = TotpSecret::generate().unwrap();
    let code = secret.code_at(TimeStep::at(OffsetDateTime::now_utc()).unwrap());
    let phrase = "violet tractors mumble under seventeen lanterns";
    let (_, codes) = fleet
        .complete_setup(&issued.token, phrase, secret, &code)
        .await
        .unwrap();
    let body = serde_json::json!({
        "user": "admin", "passphrase": phrase, "recovery_code": codes[0].reveal(),
    });
    let r = app
        .clone()
        .oneshot(
            Request::post("/api/v1/session")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token =
        medguard_server::host::create_token(data, "admin", "bench", Duration::from_secs(3_600))
            .await
            .unwrap()
            .token
            .reveal();
    (cookie, format!("Bearer {token}"))
}

/// One request through the router; the body is read to its end.
async fn ask(app: &Router, path: &str, cookie: &str, bearer: &str) -> (Duration, usize) {
    let request = if path.starts_with("/api/") {
        Request::get(path).header(header::AUTHORIZATION, bearer)
    } else {
        Request::get(path).header(header::COOKIE, cookie)
    }
    .body(Body::empty())
    .unwrap();
    let t = Instant::now();
    let r = app.clone().oneshot(request).await.unwrap();
    let status = r.status();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&body[..body.len().min(400)])
    );
    (took, body.len())
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

async fn run(database: &str, url: Option<String>, shape: &Shape) {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    medguard_server::init(&data, url.as_deref(), &[], OffsetDateTime::now_utc())
        .await
        .unwrap();
    let seed_url = data.database_url(&data.settings().unwrap()).unwrap();
    sqlx::any::install_default_drivers();
    PARAMETERS.store(
        if database == "postgres" { 30_000 } else { 400 },
        Ordering::Relaxed,
    );
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                if conn.backend_name() == "SQLite" {
                    conn.execute("PRAGMA synchronous = OFF;").await?;
                }
                Ok(())
            })
        })
        .connect(&seed_url)
        .await
        .unwrap();
    let t = Instant::now();
    let (devices, open) = seed(&pool, shape).await;
    if database == "postgres" {
        // What autovacuum does to a table that was just filled (PostgreSQL >= 13 vacuums
        // after inserts too): statistics, and the visibility map that lets a deep page be
        // skipped in the index alone instead of visiting every skipped row's heap page.
        pool.execute("VACUUM (ANALYZE)").await.unwrap();
    }
    let seeded = t.elapsed();
    pool.close().await;
    println!(
        "{database}: seeded {} devices, {} findings ({open} open) in {:.1} s",
        devices.len(),
        shape.findings,
        seeded.as_secs_f64()
    );

    let state = medguard_server::app::AppState {
        fleet: medguard_server::open_fleet(&data).await.unwrap(),
        trail: medguard_server::trail::ServerTrail::open(data.root()).unwrap(),
        data: data.clone(),
        server_key: Arc::new(
            medguard_digest::SigningKey::load(&data.root().join("keys/server.key")).unwrap(),
        ),
    };
    let app = medguard_server::app::router(state);
    let (cookie, bearer) = sign_in(&data, &app).await;

    let heavy = &devices[0];
    let typical = devices
        .iter()
        .skip(devices.len() / 2)
        .find(|d| (30..=90).contains(&d.findings))
        .unwrap_or(&devices[devices.len() / 2]);
    let deep = (open / 2) / 100 * 100;
    let routes = [
        ("fleet overview", "/".to_owned()),
        ("fleet overview, one site", format!("/?site={}", SITES[3])),
        (
            "device page (many findings)",
            format!("/devices/{}", heavy.id),
        ),
        (
            "device page (many), a deep page",
            format!(
                "/devices/{}?offset={}",
                heavy.id,
                heavy.findings / 2 / 50 * 50
            ),
        ),
        ("device page (typical)", format!("/devices/{}", typical.id)),
        ("findings, first page", "/findings".to_owned()),
        ("findings, deep page", format!("/findings?offset={deep}")),
        ("API devices", "/api/v1/devices".to_owned()),
        ("API status counts", "/api/v1/status".to_owned()),
        (
            "API device (many findings)",
            format!("/api/v1/devices/{}", heavy.id),
        ),
        (
            "API device findings (many)",
            format!("/api/v1/devices/{}/findings", heavy.id),
        ),
        ("API findings, first page", "/api/v1/findings".to_owned()),
        (
            "API findings, deep page",
            format!("/api/v1/findings?offset={deep}"),
        ),
    ];
    println!(
        "{database}: {} samples a route; the device with many findings has {}, the typical one {}",
        shape.samples, heavy.findings, typical.findings
    );
    println!(
        "{:<8} {:<30} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "database", "route", "p50 ms", "p95 ms", "p99 ms", "p95/goal", "KiB"
    );
    for (name, path) in &routes {
        for _ in 0..2 {
            ask(&app, path, &cookie, &bearer).await;
        }
        let mut times = Vec::with_capacity(shape.samples);
        let mut size = 0;
        for _ in 0..shape.samples {
            let (took, bytes) = ask(&app, path, &cookie, &bearer).await;
            times.push(took);
            size = bytes;
        }
        times.sort();
        let p95 = quantile(&times, 0.95);
        println!(
            "{database:<8} {name:<30} {:>9.1} {:>9.1} {:>9.1} {:>9.2}x {:>9}",
            quantile(&times, 0.5),
            p95,
            quantile(&times, 0.99),
            p95 / GOAL_MS,
            size / 1024
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let shape = Shape {
        devices: env_usize("MEDGUARD_BENCH_DEVICES", 10_000).max(2),
        findings: env_usize("MEDGUARD_BENCH_FINDINGS", 1_000_000),
        samples: env_usize("MEDGUARD_BENCH_SAMPLES", 30).max(1),
    };
    let databases =
        std::env::var("MEDGUARD_BENCH_DATABASES").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "dashboard at {} devices, {} findings; goal p95 < {GOAL_MS} ms at the server",
        shape.devices, shape.findings
    );
    for database in databases.split(',').map(str::trim) {
        match database {
            "sqlite" => run("sqlite", None, &shape).await,
            "postgres" => {
                let pg = medguard_pgtest::PostgresCluster::start()
                    .expect("PostgreSQL must start for the PostgreSQL half of this bench");
                let url = pg.create_database("pages").unwrap();
                run("postgres", Some(url), &shape).await;
            }
            other => println!("{other}: not a database this bench knows (sqlite, postgres)"),
        }
    }
}
