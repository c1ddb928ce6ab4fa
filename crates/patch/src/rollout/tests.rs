//! The rollout's transitions, thresholds, waves, bounded history and storage.

use proptest::prelude::*;
use time::Duration;
use time::macros::datetime;

use super::*;

const T: OffsetDateTime = datetime!(2026-12-05 09:00 UTC);

fn person(id: &str) -> Person {
    Person {
        id: id.into(),
        printed_name: format!("{id} printed"),
    }
}

fn manager() -> Person {
    person("u-rm")
}

fn officer() -> Person {
    person("u-iso")
}

fn targets(n: usize) -> Vec<TargetDevice> {
    (0..n)
        .map(|i| TargetDevice {
            id: format!("dev-{i:05}"),
            site: format!("site-{}", i % 3),
            model: "CT-9000".into(),
        })
        .collect()
}

fn wave(
    name: &str,
    selection: WaveSelection,
    advance: Advance,
    stop_on: ErrorThreshold,
) -> WavePlan {
    WavePlan {
        name: name.into(),
        selection,
        success: Permille::ALL,
        advance,
        stop_on,
    }
}

/// Canaries dev-00000 and dev-00001 (one failure stops), 10 % (more than 5 % stops), the rest.
fn three_waves(advance: Advance) -> Vec<WavePlan> {
    vec![
        wave(
            "canaries",
            WaveSelection::Devices(vec!["dev-00000".into(), "dev-00001".into()]),
            advance,
            ErrorThreshold::Count(1),
        ),
        wave(
            "ten percent",
            WaveSelection::Percent(10),
            advance,
            ErrorThreshold::Share(Permille::new(50).unwrap()),
        ),
        wave(
            "rest",
            WaveSelection::Rest,
            advance,
            ErrorThreshold::Share(Permille::new(50).unwrap()),
        ),
    ]
}

fn start(n: usize, advance: Advance) -> Rollout {
    let plan = RolloutPlan::new(targets(n), three_waves(advance)).unwrap();
    let r = Rollout::start(
        "ro-1",
        "pr-1",
        "ct-9000/fix-1.mgb",
        "1.1",
        plan,
        &manager(),
        T,
    )
    .unwrap();
    assert_consistent(&r);
    r
}

fn installed() -> DeviceReport {
    DeviceReport::Installed {
        self_tests: SelfTests {
            passed: 4,
            failed: 0,
        },
        verification: ProfileVerification::Intact,
    }
}

fn failed(reason: &str) -> DeviceReport {
    DeviceReport::Failed {
        reason: reason.into(),
    }
}

fn install_wave(r: &mut Rollout, wave: usize, now: OffsetDateTime) -> Option<ReportEffect> {
    let ids = r.waves()[wave].devices.clone();
    let mut last = None;
    for id in ids {
        last = Some(r.report(&id, installed(), now).unwrap());
    }
    last
}

/// The kept counts equal a count over the devices, per wave, and add up to the wave's size.
fn assert_consistent(r: &Rollout) {
    let mut recount = vec![StatusCounts::default(); r.waves().len()];
    for d in r.s.devices.values() {
        *recount[d.wave].slot(d.status.kind()) += 1;
        assert!(d.history.len() <= HISTORY_CAP);
    }
    assert_eq!(recount, r.counts);
    for (w, p) in r.waves().iter().zip(r.progress()) {
        assert_eq!(p.targeted as usize, w.devices.len());
        assert_eq!(p.counts.total(), p.targeted);
    }
    assert_eq!(
        r.progress()
            .iter()
            .map(|p| p.targeted as usize)
            .sum::<usize>(),
        r.device_count()
    );
}

fn install_target(r: &Rollout) -> Decision {
    Decision::Install {
        rollout: r.id().into(),
        target: r.target().into(),
        version: r.version().into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The plan

#[test]
fn a_plan_refuses_what_cannot_run() {
    let waves = || three_waves(Advance::Automatic);
    let err = |t: Vec<TargetDevice>, w: Vec<WavePlan>| RolloutPlan::new(t, w).unwrap_err();

    assert_eq!(err(vec![], waves()), RolloutError::NoDevices);
    assert_eq!(err(targets(10), vec![]), RolloutError::NoWaves);

    let mut t = targets(10);
    t[3].site = " ".into();
    assert_eq!(err(t, waves()), RolloutError::Empty { field: "site" });

    let mut t = targets(10);
    t[4].id = "dev-00003".into();
    assert!(
        matches!(err(t, waves()), RolloutError::DuplicateDevice { device } if device == "dev-00003")
    );

    let mut w = waves();
    w[0].selection = WaveSelection::Devices(vec!["dev-99999".into()]);
    assert!(
        matches!(err(targets(10), w), RolloutError::NotATarget { device, .. } if device == "dev-99999")
    );

    let mut w = waves();
    w.insert(
        1,
        wave(
            "radiology",
            WaveSelection::Group {
                name: "radiology".into(),
                devices: vec!["dev-00001".into()],
            },
            Advance::Manual,
            ErrorThreshold::Count(1),
        ),
    );
    assert!(
        matches!(err(targets(10), w), RolloutError::DuplicateDevice { device } if device == "dev-00001")
    );

    for p in [0, 101] {
        let mut w = waves();
        w[1].selection = WaveSelection::Percent(p);
        assert!(
            matches!(err(targets(10), w), RolloutError::InvalidPercent { percent, .. } if percent == p)
        );
    }

    let mut w = waves();
    w[2].selection = WaveSelection::Percent(95);
    assert_eq!(
        err(targets(10), w),
        RolloutError::PercentOver100 { percent: 105 }
    );

    let mut w = waves();
    w.swap(1, 2);
    assert!(matches!(
        err(targets(10), w),
        RolloutError::RestNotLast { .. }
    ));

    let mut w = waves();
    w[0].stop_on = ErrorThreshold::Count(0);
    assert!(matches!(
        err(targets(10), w),
        RolloutError::InvalidThreshold { .. }
    ));
    let mut w = waves();
    w[1].success = Permille::new(0).unwrap();
    assert!(matches!(
        err(targets(10), w),
        RolloutError::InvalidThreshold { .. }
    ));

    let mut w = waves();
    w[0].selection = WaveSelection::Devices(vec![]);
    assert!(matches!(err(targets(10), w), RolloutError::EmptyWave { wave } if wave == "canaries"));

    // Two canaries of two devices: nothing is left for the percent wave.
    assert!(
        matches!(err(targets(2), waves()), RolloutError::EmptyWave { wave } if wave == "ten percent")
    );

    let mut w = waves();
    w.pop();
    assert_eq!(err(targets(10), w), RolloutError::Unassigned { count: 7 });

    assert_eq!(
        Permille::new(1001).unwrap_err(),
        RolloutError::InvalidShare { permille: 1001 }
    );
    assert_eq!(Permille::percent(5).unwrap().get(), 50);
}

#[test]
fn a_plan_read_from_json_is_checked() {
    let plan = RolloutPlan::new(targets(10), three_waves(Advance::Manual)).unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    let back: RolloutPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);

    let bad = json.replace("\"percent\":10", "\"percent\":0");
    assert!(serde_json::from_str::<RolloutPlan>(&bad).is_err());
    let bad = json.replace("\"stop_on\":{\"share\":50}", "\"stop_on\":{\"share\":5000}");
    assert!(serde_json::from_str::<RolloutPlan>(&bad).is_err());
}

#[test]
fn percent_waves_are_deterministic_and_every_device_is_in_one_wave() {
    let a = start(10_000, Advance::Automatic);
    let b = start(10_000, Advance::Automatic);
    let sizes: Vec<usize> = a.waves().iter().map(|w| w.devices.len()).collect();
    assert_eq!(sizes, [2, 1000, 8998]);
    assert_eq!(a.waves(), b.waves());
    assert_eq!(a.waves()[0].devices, ["dev-00000", "dev-00001"]);

    // Another rollout id draws another tenth.
    let plan = RolloutPlan::new(targets(10_000), three_waves(Advance::Automatic)).unwrap();
    let c = Rollout::start("ro-2", "pr-1", "t", "1.1", plan, &manager(), T).unwrap();
    assert_ne!(a.waves()[1].devices, c.waves()[1].devices);

    let mut seen: Vec<&String> = a.waves().iter().flat_map(|w| &w.devices).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 10_000);
    // The tenth is not simply the first thousand ids.
    assert!(
        a.waves()[1]
            .devices
            .iter()
            .any(|d| d.as_str() > "dev-02000")
    );
}

#[test]
fn start_offers_the_first_wave_only() {
    let r = start(100, Advance::Automatic);
    assert_eq!(r.state(), &RolloutState::Active);
    assert_eq!(r.current_wave(), 0);
    let p = r.progress();
    assert_eq!((p[0].counts.offered, p[0].open), (2, true));
    assert_eq!((p[1].counts.pending, p[1].open), (10, false));
    assert_eq!(p[2].counts.pending, 88);
    assert_eq!(r.device("dev-00000").unwrap().attempts, 1);

    let plan = RolloutPlan::new(targets(10), three_waves(Advance::Manual)).unwrap();
    assert_eq!(
        Rollout::start("ro-1", "pr-1", "", "1.1", plan, &manager(), T).unwrap_err(),
        RolloutError::Empty { field: "target" }
    );
}

// ---------------------------------------------------------------------------------------------
// Check-ins and reports

#[test]
fn decide_answers_each_device_by_its_wave_and_status() {
    let mut r = start(100, Advance::Manual);
    let later = r.waves()[1].devices[0].clone();
    assert_eq!(r.decide("dev-00000", T), install_target(&r));
    assert_eq!(r.decide(&later, T), Decision::Wait(WaitReason::WaveNotOpen));
    assert_eq!(
        r.decide("not-a-device", T),
        Decision::Nothing(NothingReason::NotInRollout)
    );

    r.report("dev-00000", installed(), T).unwrap();
    assert_eq!(
        r.decide("dev-00000", T),
        Decision::Nothing(NothingReason::Finished)
    );
    r.defer_device(&officer(), "dev-00001", "MRI list full this week", T)
        .unwrap();
    assert_eq!(
        r.decide("dev-00001", T),
        Decision::Nothing(NothingReason::SetAside)
    );
}

#[test]
fn reports_move_a_device_and_its_counts() {
    let mut r = start(100, Advance::Manual);
    let d = "dev-00000";
    let steps = [
        (DeviceReport::WaitingForWindow, StatusKind::WaitingForWindow),
        (DeviceReport::WaitingForIdle, StatusKind::WaitingForIdle),
        (DeviceReport::WaitingForWindow, StatusKind::WaitingForWindow),
        (DeviceReport::WaitingForIdle, StatusKind::WaitingForIdle),
        (DeviceReport::Downloading, StatusKind::Downloading),
        (DeviceReport::Installing, StatusKind::Installing),
    ];
    for (report, kind) in steps {
        assert_eq!(r.report(d, report, T).unwrap(), ReportEffect::Recorded);
        assert_eq!(r.device(d).unwrap().status.kind(), kind);
        assert_eq!(r.progress()[0].counts.get(kind), 1);
        assert_consistent(&r);
    }
    assert_eq!(r.progress()[0].counts.installing_now(), 1);
    // The agent sends the same report again after being offline: nothing changes.
    let before = r.clone();
    assert_eq!(
        r.report(d, DeviceReport::Installing, T).unwrap(),
        ReportEffect::Unchanged
    );
    assert_eq!(r, before);

    r.report(d, installed(), T).unwrap();
    assert_eq!(r.progress()[0].counts.installed, 1);
    assert_eq!(
        r.report(d, installed(), T).unwrap(),
        ReportEffect::Unchanged
    );
    // After an outcome, progress is refused (a retry starts it again).
    let before = r.clone();
    assert_eq!(
        r.report(d, DeviceReport::Downloading, T).unwrap_err(),
        RolloutError::OutcomeRecorded {
            device: d.into(),
            status: "installed"
        }
    );
    assert_eq!(r, before);
    assert_eq!(r.device(d).unwrap().history.len(), 8);
}

#[test]
fn refused_reports_change_nothing() {
    let mut r = start(100, Advance::Manual);
    let pending = r.waves()[2].devices[0].clone();
    let before = r.clone();
    assert_eq!(
        r.report("dev-77777", installed(), T).unwrap_err(),
        RolloutError::NotInRollout {
            device: "dev-77777".into()
        }
    );
    assert_eq!(
        r.report(&pending, installed(), T).unwrap_err(),
        RolloutError::NotOffered { device: pending }
    );
    assert_eq!(r, before);
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        serde_json::to_string(&before).unwrap()
    );
}

#[test]
fn a_deferred_device_refuses_progress_but_records_an_outcome() {
    let mut r = start(100, Advance::Manual);
    r.defer_device(&officer(), "dev-00000", "surgery", T)
        .unwrap();
    assert!(matches!(
        r.report("dev-00000", DeviceReport::WaitingForIdle, T),
        Err(RolloutError::SetAside {
            status: "deferred",
            ..
        })
    ));
    // It had started before it was deferred: its outcome is a fact and is recorded.
    r.report("dev-00000", installed(), T).unwrap();
    assert_eq!(r.progress()[0].counts.installed, 1);
    assert_consistent(&r);
}

// ---------------------------------------------------------------------------------------------
// Thresholds

#[test]
fn one_canary_failure_stops_the_rollout_by_itself() {
    let mut r = start(100, Advance::Automatic);
    let effect = r
        .report("dev-00001", failed("self-test 2 failed"), T)
        .unwrap();
    let ReportEffect::Stopped { reason } = effect else {
        panic!("not stopped: {effect:?}");
    };
    assert!(reason.contains("canaries: 1 of 2 devices"), "{reason}");
    assert!(matches!(r.state(), RolloutState::Stopped { .. }));
    assert_eq!(
        r.decide("dev-00000", T),
        Decision::Wait(WaitReason::Stopped)
    );
    assert_eq!(
        r.decide("dev-00001", T),
        Decision::Wait(WaitReason::FailedAwaitingRetry)
    );
    // The other canary's install still counts, but nothing opens while stopped.
    r.report("dev-00000", installed(), T).unwrap();
    assert_eq!(r.current_wave(), 0);
    assert!(r.events().iter().any(|e| e.what.starts_with("stopped: ")));
    assert_consistent(&r);
}

#[test]
fn more_than_five_percent_failing_in_a_later_wave_stops_it() {
    // 2 canaries, 100 devices in the tenth, the rest.
    let mut r = start(1000, Advance::Automatic);
    install_wave(&mut r, 0, T);
    assert_eq!(r.current_wave(), 1);
    let tenth = r.waves()[1].devices.clone();
    assert_eq!(tenth.len(), 100);
    for id in &tenth[..5] {
        assert!(matches!(
            r.report(
                id,
                DeviceReport::RolledBack {
                    reason: "self-test".into()
                },
                T
            )
            .unwrap(),
            ReportEffect::Recorded
        ));
    }
    // 5 of 100 is not more than 5 %; the sixth is.
    assert_eq!(r.state(), &RolloutState::Active);
    let effect = r.report(&tenth[5], failed("disk full"), T).unwrap();
    assert!(matches!(effect, ReportEffect::Stopped { ref reason } if reason.contains("6 of 100")));
    assert_eq!(r.progress()[1].counts.failures(), 6);
}

#[test]
fn success_opens_the_next_wave_automatically() {
    let mut r = start(100, Advance::Automatic);
    r.report("dev-00000", installed(), T).unwrap();
    assert_eq!(r.current_wave(), 0);
    assert_eq!(
        r.report("dev-00001", installed(), T).unwrap(),
        ReportEffect::WaveOpened { wave: 1 }
    );
    let first = r.waves()[1].devices[0].clone();
    assert_eq!(r.decide(&first, T), install_target(&r));
    assert_eq!(r.progress()[1].counts.offered, 10);
    install_wave(&mut r, 1, T);
    assert_eq!(r.current_wave(), 2);
    assert_eq!(install_wave(&mut r, 2, T), Some(ReportEffect::Completed));
    assert_eq!(r.state(), &RolloutState::Completed);
    assert!(r.is_complete());
    assert_eq!(
        r.decide("dev-00000", T),
        Decision::Nothing(NothingReason::Completed)
    );
    assert_consistent(&r);
}

#[test]
fn success_waits_for_a_person_when_manual() {
    let mut r = start(100, Advance::Manual);
    // Before the threshold: refused, nothing changed.
    r.report("dev-00000", installed(), T).unwrap();
    let before = r.clone();
    assert_eq!(
        r.advance(&manager(), T).unwrap_err(),
        RolloutError::ThresholdNotMet {
            wave: "canaries".into(),
            installed: 1,
            needed: 2
        }
    );
    assert_eq!(r, before);

    assert_eq!(
        r.report("dev-00001", installed(), T).unwrap(),
        ReportEffect::ReadyToAdvance
    );
    assert_eq!(r.next_wave(), NextWave::ReadyToAdvance);
    assert_eq!(r.current_wave(), 0);
    assert_eq!(r.advance(&manager(), T).unwrap(), 1);
    assert_eq!(r.current_wave(), 1);
    assert_eq!(r.next_wave(), NextWave::NotYet);

    install_wave(&mut r, 1, T);
    r.advance(&manager(), T).unwrap();
    assert_eq!(
        r.advance(&manager(), T).unwrap_err(),
        RolloutError::NoNextWave
    );
}

#[test]
fn success_opens_the_next_wave_after_a_pause() {
    let mut r = start(100, Advance::AfterPause { seconds: 3600 });
    r.report("dev-00000", installed(), T).unwrap();
    let at = T + Duration::hours(1);
    assert_eq!(
        r.report("dev-00001", installed(), T).unwrap(),
        ReportEffect::AdvanceAt { at }
    );
    let first = r.waves()[1].devices[0].clone();
    assert_eq!(
        r.decide(&first, at - Duration::seconds(1)),
        Decision::Wait(WaitReason::WaveNotOpen)
    );
    assert_eq!(r.tick(at - Duration::seconds(1)), None);
    // The check-in after the pause opens the wave and gets the patch.
    assert_eq!(r.decide(&first, at), install_target(&r));
    assert_eq!(r.current_wave(), 1);
}

#[test]
fn a_person_may_advance_during_the_pause_and_a_paused_rollout_waits() {
    let mut r = start(100, Advance::AfterPause { seconds: 3600 });
    install_wave(&mut r, 0, T);
    r.pause(&manager(), "waiting for the vendor's field report", T)
        .unwrap();
    // The pause passes while the rollout is paused: nothing opens.
    assert_eq!(r.tick(T + Duration::hours(2)), None);
    assert_eq!(r.current_wave(), 0);
    assert_eq!(
        r.decide("dev-00000", T),
        Decision::Nothing(NothingReason::Finished)
    );
    assert_eq!(
        r.resume(&manager(), T + Duration::hours(2)).unwrap(),
        Some(ReportEffect::WaveOpened { wave: 1 })
    );

    let mut r = start(100, Advance::AfterPause { seconds: 3600 });
    install_wave(&mut r, 0, T);
    assert_eq!(r.advance(&manager(), T).unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// Person actions

#[test]
fn pause_resume_cancel_refuse_what_the_state_does_not_allow() {
    let mut r = start(100, Advance::Manual);
    assert_eq!(
        r.resume(&manager(), T).unwrap_err(),
        RolloutError::NotAllowed {
            from: "active",
            action: "be resumed"
        }
    );
    assert_eq!(
        r.pause(&manager(), " ", T).unwrap_err(),
        RolloutError::Empty { field: "reason" }
    );
    r.pause(&manager(), "ward reports slowness", T).unwrap();
    assert_eq!(r.decide("dev-00000", T), Decision::Wait(WaitReason::Paused));
    let before = r.clone();
    assert!(matches!(
        r.pause(&manager(), "again", T),
        Err(RolloutError::NotAllowed { from: "paused", .. })
    ));
    assert!(matches!(
        r.advance(&manager(), T),
        Err(RolloutError::NotAllowed { from: "paused", .. })
    ));
    assert_eq!(r, before);
    r.resume(&manager(), T).unwrap();
    assert_eq!(r.decide("dev-00000", T), install_target(&r));

    r.cancel(&manager(), "superseded by pr-2", T).unwrap();
    assert_eq!(
        r.decide("dev-00000", T),
        Decision::Nothing(NothingReason::Cancelled)
    );
    let before = r.clone();
    assert!(matches!(
        r.cancel(&manager(), "again", T),
        Err(RolloutError::NotAllowed {
            from: "cancelled",
            ..
        })
    ));
    assert!(matches!(
        r.resume(&manager(), T),
        Err(RolloutError::NotAllowed { .. })
    ));
    assert!(matches!(
        r.retry_failed(&manager(), T),
        Err(RolloutError::NotAllowed { .. })
    ));
    assert!(matches!(
        r.defer_device(&officer(), "dev-00001", "x", T),
        Err(RolloutError::NotAllowed { .. })
    ));
    assert!(matches!(
        r.defer_site(&officer(), "site-0", "x", T),
        Err(RolloutError::NotAllowed { .. })
    ));
    assert_eq!(r, before);
    // A late report is still recorded: it is a fact about the device.
    r.report("dev-00001", installed(), T).unwrap();
    assert_eq!(r.state().as_str(), "cancelled");
    assert_eq!(r.events().iter().filter(|e| e.by.is_some()).count(), 4);
}

#[test]
fn failed_devices_are_retried_once_the_cause_is_fixed() {
    let mut r = start(100, Advance::Automatic);
    assert_eq!(
        r.retry_failed(&manager(), T).unwrap_err(),
        RolloutError::NothingToRetry
    );
    r.report("dev-00001", failed("no space"), T).unwrap();
    assert!(matches!(r.state(), RolloutState::Stopped { .. }));
    assert_eq!(
        r.report("dev-00001", DeviceReport::Downloading, T)
            .unwrap_err(),
        RolloutError::OutcomeRecorded {
            device: "dev-00001".into(),
            status: "failed"
        }
    );
    assert_eq!(r.retry_failed(&manager(), T).unwrap(), 1);
    let d = r.device("dev-00001").unwrap();
    assert_eq!((d.status.kind(), d.attempts), (StatusKind::Offered, 2));
    assert!(matches!(d.outcome, Some(DeviceStatus::Failed { .. })));
    r.resume(&manager(), T).unwrap();
    assert_eq!(r.decide("dev-00001", T), install_target(&r));
    r.report("dev-00000", installed(), T).unwrap();
    assert_eq!(
        r.report("dev-00001", installed(), T).unwrap(),
        ReportEffect::WaveOpened { wave: 1 }
    );
    assert_consistent(&r);
}

#[test]
fn a_security_officer_defers_a_device_or_a_site() {
    let mut r = start(99, Advance::Automatic);
    r.report("dev-00000", DeviceReport::Installing, T).unwrap();
    let before = r.clone();
    assert_eq!(
        r.defer_device(&officer(), "dev-00000", "surgery", T)
            .unwrap_err(),
        RolloutError::DeviceBusy {
            device: "dev-00000".into(),
            status: "installing"
        }
    );
    assert_eq!(
        r.defer_device(&officer(), "dev-00001", "", T).unwrap_err(),
        RolloutError::Empty { field: "reason" }
    );
    assert!(matches!(
        r.defer_device(&officer(), "nope", "x", T),
        Err(RolloutError::NotInRollout { .. })
    ));
    assert_eq!(
        r.defer_site(&officer(), "site-9", "x", T).unwrap_err(),
        RolloutError::UnknownSite {
            site: "site-9".into()
        }
    );
    assert_eq!(r, before);

    // Site 1 (dev-00001 and every third device from it): 33 devices, all deferrable.
    assert_eq!(
        r.defer_site(&officer(), "site-1", "cardiology go-live this week", T)
            .unwrap(),
        33
    );
    let d = r.device("dev-00001").unwrap();
    assert!(
        matches!(&d.status, DeviceStatus::Deferred { by, reason } if by.id == "u-iso" && reason.contains("go-live"))
    );
    // A deferred canary no longer counts for the threshold: the other canary decides.
    assert_eq!(
        r.report("dev-00000", installed(), T).unwrap(),
        ReportEffect::WaveOpened { wave: 1 }
    );
    // A deferred device may be excluded; an excluded one may not be deferred.
    r.exclude(&manager(), "dev-00001", "replaced by a new scanner", T)
        .unwrap();
    assert!(matches!(
        r.defer_device(&officer(), "dev-00001", "x", T),
        Err(RolloutError::SetAside {
            status: "excluded",
            ..
        })
    ));
    assert!(matches!(
        r.exclude(&manager(), "dev-00000", "x", T),
        Err(RolloutError::OutcomeRecorded {
            status: "installed",
            ..
        })
    ));
    assert_consistent(&r);
}

#[test]
fn the_rollout_completes_when_every_device_has_an_outcome() {
    let mut r = start(30, Advance::Automatic);
    install_wave(&mut r, 0, T);
    install_wave(&mut r, 1, T);
    let rest = r.waves()[2].devices.clone();
    // One rolls back (under 5 % of 25? 1 of 25 is 4 %), one is excluded, the rest install.
    r.report(
        &rest[0],
        DeviceReport::RolledBack {
            reason: "self-test 3".into(),
        },
        T,
    )
    .unwrap();
    r.exclude(&manager(), &rest[1], "decommissioned", T)
        .unwrap();
    for id in &rest[2..rest.len() - 1] {
        r.report(id, installed(), T).unwrap();
    }
    assert!(!r.is_complete());
    r.report(rest.last().unwrap(), DeviceReport::Installing, T)
        .unwrap();
    assert_eq!(
        r.report(rest.last().unwrap(), installed(), T).unwrap(),
        ReportEffect::Completed
    );
    assert!(r.is_complete());
    let outcomes = r.outcomes();
    assert_eq!(outcomes.len(), 30);
    assert!(outcomes.windows(2).all(|w| w[0].device < w[1].device));
    let count = |k: StatusKind| {
        outcomes
            .iter()
            .filter(|o| o.outcome.map(DeviceStatus::kind) == Some(k))
            .count()
    };
    assert_eq!(count(StatusKind::Installed), 28);
    assert_eq!(count(StatusKind::RolledBack), 1);
    assert_eq!(count(StatusKind::Excluded), 1);
    assert!(outcomes.iter().all(|o| o.attempts == 1));
    // The patch record is confirmed from here (the server calls `PatchRecord::confirm`).
    assert!(matches!(
        r.retry_failed(&manager(), T),
        Err(RolloutError::NotAllowed {
            from: "completed",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// History and storage

#[test]
fn history_stays_bounded_and_the_outcome_is_kept() {
    let mut r = start(100, Advance::Manual);
    let d = "dev-00000";
    for i in 0..10_000 {
        let report = if i % 2 == 0 {
            DeviceReport::WaitingForWindow
        } else {
            DeviceReport::WaitingForIdle
        };
        r.report(d, report, T + Duration::seconds(i)).unwrap();
    }
    let p = r.device(d).unwrap();
    assert_eq!(p.history.len(), HISTORY_CAP);
    // Offered when the wave opened, then 10,000 reports.
    assert_eq!(p.changes(), 10_001);
    assert_eq!(p.compacted[&StatusKind::Offered], 1);
    assert_eq!(
        p.compacted[&StatusKind::WaitingForWindow] + p.compacted[&StatusKind::WaitingForIdle],
        10_000 - HISTORY_CAP as u64
    );
    assert_eq!(p.history.back().unwrap().at, T + Duration::seconds(9_999));

    r.report(d, failed("power loss"), T).unwrap();
    r.resume(&manager(), T).unwrap();
    r.retry_failed(&manager(), T).unwrap();
    for _ in 0..20 {
        r.report(d, DeviceReport::WaitingForWindow, T).unwrap();
        r.report(d, DeviceReport::WaitingForIdle, T).unwrap();
    }
    // The failure left the kept history long ago; the outcome did not.
    let p = r.device(d).unwrap();
    assert!(p.history.iter().all(|e| e.status != StatusKind::Failed));
    assert!(matches!(&p.outcome, Some(DeviceStatus::Failed { reason }) if reason == "power loss"));
    assert_eq!(p.changes(), 10_001 + 2 + 40);
    r.report(d, installed(), T).unwrap();
    assert!(matches!(
        r.device(d).unwrap().outcome,
        Some(DeviceStatus::Installed { .. })
    ));
    assert_consistent(&r);
}

#[test]
fn a_rollout_round_trips_through_json() {
    let mut r = start(200, Advance::AfterPause { seconds: 60 });
    install_wave(&mut r, 0, T);
    let id = r.waves()[1].devices[3].clone();
    r.decide(&id, T + Duration::minutes(2));
    r.report(
        &id,
        DeviceReport::RolledBack {
            reason: "self-test".into(),
        },
        T,
    )
    .unwrap();
    r.defer_site(&officer(), "site-2", "audit week", T).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let back: Rollout = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.progress(), r.progress());
    // The same rollout always gives the same JSON (devices in id order).
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert!(json.find("\"dev-00000\"").unwrap() < json.find("\"dev-00199\"").unwrap());
}

#[test]
fn a_stored_rollout_that_does_not_hold_together_is_refused() {
    let r = start(20, Advance::Manual);
    let mut v = serde_json::to_value(&r).unwrap();
    v["devices"]["dev-00005"]["wave"] = 7.into();
    assert!(serde_json::from_value::<Rollout>(v).is_err());

    let mut v = serde_json::to_value(&r).unwrap();
    v["current"] = 3.into();
    assert!(serde_json::from_value::<Rollout>(v).is_err());

    // A device of a closed wave that claims to be installing.
    let pending = r.waves()[2].devices[0].clone();
    let mut v = serde_json::to_value(&r).unwrap();
    v["devices"][pending.as_str()]["status"] = serde_json::json!({"status": "installing"});
    assert!(serde_json::from_value::<Rollout>(v).is_err());
}

// ---------------------------------------------------------------------------------------------
// Property: random sequences never break the counts

#[derive(Debug, Clone)]
enum Op {
    Report(usize, u8),
    Decide(usize, u32),
    Advance,
    Pause,
    Resume,
    Retry,
    Defer(usize),
    DeferSite(u8),
    Exclude(usize),
    Cancel,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..60, 0u8..7).prop_map(|(d, r)| Op::Report(d, r)),
        2 => (0usize..60, 0u32..7200).prop_map(|(d, s)| Op::Decide(d, s)),
        1 => Just(Op::Advance),
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => Just(Op::Retry),
        1 => (0usize..60).prop_map(Op::Defer),
        1 => (0u8..4).prop_map(Op::DeferSite),
        1 => (0usize..60).prop_map(Op::Exclude),
        1 => Just(Op::Cancel),
    ]
}

fn advance_mode() -> impl Strategy<Value = Advance> {
    prop_oneof![
        Just(Advance::Manual),
        Just(Advance::Automatic),
        (0u32..3600).prop_map(|seconds| Advance::AfterPause { seconds }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn counts_always_add_up(advance in advance_mode(), ops in proptest::collection::vec(op(), 0..300)) {
        let mut r = start(55, advance);
        let mut now = T;
        for op in ops {
            now += Duration::seconds(30);
            let before = r.clone();
            let refused = match op {
                Op::Report(d, k) => {
                    let report = match k {
                        0 => DeviceReport::WaitingForWindow,
                        1 => DeviceReport::WaitingForIdle,
                        2 => DeviceReport::Downloading,
                        3 => DeviceReport::Installing,
                        4 => DeviceReport::RolledBack { reason: "r".into() },
                        5 => DeviceReport::Failed { reason: "f".into() },
                        _ => installed(),
                    };
                    r.report(&format!("dev-{d:05}"), report, now).is_err()
                }
                Op::Decide(d, s) => {
                    r.decide(&format!("dev-{d:05}"), now + Duration::seconds(i64::from(s)));
                    false
                }
                Op::Advance => r.advance(&manager(), now).is_err(),
                Op::Pause => r.pause(&manager(), "p", now).is_err(),
                Op::Resume => r.resume(&manager(), now).is_err(),
                Op::Retry => r.retry_failed(&manager(), now).is_err(),
                Op::Defer(d) => r.defer_device(&officer(), &format!("dev-{d:05}"), "d", now).is_err(),
                Op::DeferSite(s) => r.defer_site(&officer(), &format!("site-{s}"), "d", now).is_err(),
                Op::Exclude(d) => r.exclude(&manager(), &format!("dev-{d:05}"), "x", now).is_err(),
                Op::Cancel => r.cancel(&manager(), "c", now).is_err(),
            };
            if refused {
                prop_assert_eq!(&r, &before);
            }
            assert_consistent(&r);
            // An active rollout with its last wave open completes as soon as it can.
            if r.state() == &RolloutState::Active {
                prop_assert!(!(r.is_complete() && r.current_wave() + 1 == r.waves().len()));
            }
        }
        let json = serde_json::to_string(&r).unwrap();
        let back: Rollout = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, r);
    }
}

#[test]
fn a_device_deferred_before_its_wave_opened_was_never_offered() {
    let mut r = start(99, Advance::Manual);
    r.defer_site(&officer(), "site-0", "audit week", T).unwrap();
    let never = r.waves()[2]
        .devices
        .iter()
        .find(|d| r.device(d).unwrap().site == "site-0")
        .unwrap()
        .clone();
    let before = r.clone();
    assert_eq!(
        r.report(&never, installed(), T).unwrap_err(),
        RolloutError::NotOffered { device: never }
    );
    assert_eq!(r, before);
}

#[test]
fn ready_to_advance_is_withdrawn_when_the_threshold_is_no_longer_met() {
    let mut waves = three_waves(Advance::Manual);
    waves[0].stop_on = ErrorThreshold::Share(Permille::ALL);
    let plan = RolloutPlan::new(targets(100), waves).unwrap();
    let mut r = Rollout::start("ro-1", "pr-1", "t", "1.1", plan, &manager(), T).unwrap();
    r.defer_device(&officer(), "dev-00001", "surgery", T)
        .unwrap();
    assert_eq!(
        r.report("dev-00000", installed(), T).unwrap(),
        ReportEffect::ReadyToAdvance
    );
    // The deferred canary had started before it was deferred, and rolled back.
    r.report(
        "dev-00001",
        DeviceReport::RolledBack { reason: "x".into() },
        T,
    )
    .unwrap();
    assert_eq!(r.next_wave(), NextWave::NotYet);
    assert!(matches!(
        r.advance(&manager(), T),
        Err(RolloutError::ThresholdNotMet {
            installed: 1,
            needed: 2,
            ..
        })
    ));
}
