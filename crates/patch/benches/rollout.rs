//! A rollout of one patch to 10,000 simulated devices in three waves (2 canaries, 10 %, the
//! rest): every device checks in once per simulated quarter hour, the server decides
//! ([`Rollout::decide`]) and records what the device reports ([`Rollout::report`]); devices
//! step through waiting for window, waiting for idle, downloading, installing and an outcome
//! (0.5 % of the later waves roll back). Prints the decision cost per check-in (mean, p50,
//! p99), the cost of a check-in with its report, check-ins per second, and the JSON the
//! server would store.
//!
//! `cargo bench -p medguard-patch --bench rollout` (or `bench/rollout.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use medguard_patch::{
    Advance, Decision, DeviceReport, ErrorThreshold, Permille, Person, ProfileVerification,
    Rollout, RolloutPlan, RolloutState, SelfTests, TargetDevice, WavePlan, WaveSelection,
};
use time::macros::datetime;

const DEVICES: usize = 10_000;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn summary(label: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    let n = ns.len().max(1);
    let mean = ns.iter().sum::<u64>() as f64 / n as f64 / 1000.0;
    let at = |q: f64| ns[((n as f64 * q) as usize).min(n - 1)] as f64 / 1000.0;
    println!(
        "{label}: mean {mean:.2} µs, p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs ({} samples)",
        at(0.50),
        at(0.99),
        at(1.0),
        ns.len()
    );
}

fn main() {
    let person = Person {
        id: "u-rm".into(),
        printed_name: "Rita Release-Manager".into(),
    };
    let targets: Vec<TargetDevice> = (0..DEVICES)
        .map(|i| TargetDevice {
            id: format!("dev-{i:05}"),
            site: format!("site-{:02}", i % 20),
            model: "CT-9000".into(),
        })
        .collect();
    let share = |p| ErrorThreshold::Share(Permille::new(p).unwrap());
    let waves = vec![
        WavePlan {
            name: "canaries".into(),
            selection: WaveSelection::Devices(vec!["dev-00000".into(), "dev-00001".into()]),
            success: Permille::ALL,
            advance: Advance::AfterPause { seconds: 1800 },
            stop_on: ErrorThreshold::Count(1),
        },
        WavePlan {
            name: "ten percent".into(),
            selection: WaveSelection::Percent(10),
            success: Permille::new(950).unwrap(),
            advance: Advance::Automatic,
            stop_on: share(50),
        },
        WavePlan {
            name: "rest".into(),
            selection: WaveSelection::Rest,
            success: Permille::new(950).unwrap(),
            advance: Advance::Automatic,
            stop_on: share(50),
        },
    ];
    let t0 = datetime!(2026-12-05 18:00 UTC);
    let built = Instant::now();
    let plan = RolloutPlan::new(targets, waves).unwrap();
    let mut rollout = Rollout::start(
        "ro-bench",
        "pr-bench",
        "ct-9000/fix-1.2.3.mgb",
        "1.2.3",
        plan,
        &person,
        t0,
    )
    .unwrap();
    let build_time = built.elapsed();

    // Each device's place in its install: 0 not told yet, 1..=4 progress, 5 finished.
    let ids: Vec<String> = (0..DEVICES).map(|i| format!("dev-{i:05}")).collect();
    let mut stage = vec![0u8; DEVICES];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut order: Vec<usize> = (0..DEVICES).collect();
    let (mut decide_ns, mut checkin_ns) = (Vec::new(), Vec::new());
    let mut loop_time = Duration::ZERO;
    let mut rounds = 0;
    let mut now = t0;
    while *rollout.state() != RolloutState::Completed && rounds < 200 {
        rounds += 1;
        now += time::Duration::minutes(15);
        // Devices check in in a different order each round.
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for &i in &order {
            let fails = rng.next() % 1000 < 5;
            let id = ids[i].as_str();
            let started = Instant::now();
            let decision = rollout.decide(id, now);
            let decided = started.elapsed();
            if matches!(decision, Decision::Install { .. }) {
                stage[i] += 1;
                let report = match stage[i] {
                    1 => DeviceReport::WaitingForWindow,
                    2 => DeviceReport::WaitingForIdle,
                    3 => DeviceReport::Downloading,
                    4 => DeviceReport::Installing,
                    _ if fails && i > 1 => DeviceReport::RolledBack {
                        reason: "self-test 2 of 4 failed".into(),
                    },
                    _ => DeviceReport::Installed {
                        self_tests: SelfTests {
                            passed: 4,
                            failed: 0,
                        },
                        verification: ProfileVerification::Intact,
                    },
                };
                rollout.report(id, report, now).unwrap();
            }
            let whole = started.elapsed();
            loop_time += whole;
            decide_ns.push(decided.as_nanos() as u64);
            checkin_ns.push(whole.as_nanos() as u64);
        }
    }
    let checkins = checkin_ns.len();

    println!(
        "rollout: {DEVICES} devices, waves {:?}, built in {:.1} ms",
        rollout
            .waves()
            .iter()
            .map(|w| w.devices.len())
            .collect::<Vec<_>>(),
        build_time.as_secs_f64() * 1e3
    );
    println!(
        "simulated {rounds} rounds of check-ins ({checkins} check-ins), state {}",
        rollout.state().as_str()
    );
    summary("decision per check-in", decide_ns);
    summary("check-in with its report", checkin_ns);
    println!(
        "check-ins per second (decide + report, one core): {:.0}",
        checkins as f64 / loop_time.as_secs_f64()
    );
    for p in rollout.progress() {
        println!(
            "  wave {:<12} targeted {:>5}  installed {:>5}  rolled back {:>3}  failed {}  deferred {}  excluded {}",
            p.name,
            p.targeted,
            p.counts.installed,
            p.counts.rolled_back,
            p.counts.failed,
            p.counts.deferred,
            p.counts.excluded
        );
    }
    let started = Instant::now();
    let json = serde_json::to_string(&rollout).unwrap();
    let ser = started.elapsed();
    let started = Instant::now();
    let back: Rollout = serde_json::from_str(&json).unwrap();
    let de = started.elapsed();
    assert_eq!(back, rollout);
    println!(
        "stored as JSON: {:.1} MB, written in {:.1} ms, read (and checked) in {:.1} ms",
        json.len() as f64 / 1e6,
        ser.as_secs_f64() * 1e3,
        de.as_secs_f64() * 1e3
    );
    println!("goal: decision under 2 ms per check-in (no competitor runs in-process)");
}
