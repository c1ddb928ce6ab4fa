//! A rollout plan (from the API's request body) and a stored rollout (from the database), from
//! anywhere: never panic; what parses is a valid plan or a consistent rollout, and a stored
//! rollout survives a round trip and a decision for any device unchanged in its counts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_patch::{Rollout, RolloutPlan, StatusCounts};
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = serde_json::from_slice::<RolloutPlan>(data) {
        // Parsing ran the same checks as `RolloutPlan::new`.
        assert!(!plan.targets().is_empty());
        assert!(!plan.waves().is_empty());
        let again = RolloutPlan::new(plan.targets().to_vec(), plan.waves().to_vec());
        assert!(again.is_ok(), "a parsed plan is valid: {again:?}");
    }
    if let Ok(mut rollout) = serde_json::from_slice::<Rollout>(data) {
        let text = serde_json::to_vec(&rollout).expect("serialises");
        let back: Rollout = serde_json::from_slice(&text).expect("its own JSON parses");
        assert_eq!(back, rollout);
        let devices: u32 = rollout.progress().iter().map(|w| w.counts.total()).sum();
        assert_eq!(devices as usize, rollout.device_count());
        let probe = String::from_utf8_lossy(data.get(..8).unwrap_or(data)).into_owned();
        let _ = rollout.decide(&probe, OffsetDateTime::UNIX_EPOCH);
        let after: u32 = rollout
            .progress()
            .iter()
            .map(|w| StatusCounts::total(&w.counts))
            .sum();
        assert_eq!(after as usize, rollout.device_count());
    }
});
