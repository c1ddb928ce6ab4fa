//! Device audit chains: the server's copy of each device log, and the proof that it is
//! complete.
//!
//! A device's audit log is hash-chained (`digest = BLAKE3(previous digest || seq (u64 LE) ||
//! payload)`, as `medguard-audit` defines it) and its checkpoints are signed with the device's
//! key. Each upload must continue the chain where the server's copy ends. So, judged here:
//! - a record that does not link to the previous one: the log was rewritten (`broken`);
//! - records missing between the last upload and this one: deleted or never sent (`gap`);
//! - a record the server already holds, sent again with other content (`broken`);
//! - a log that starts again at 1 (deleted and re-created) outside a re-enrollment (`reset`;
//!   its records are kept in a new epoch);
//! - a checkpoint not signed by the device's key, or vouching for another digest (`broken`).
//!
//! A verdict other than `intact` sticks until the device is re-enrolled: a log once proven
//! incomplete does not become complete again. This module is pure: the caller reads the
//! chain and the stored copies of overlapping records, and writes what it returns.

use std::collections::HashMap;

use medguard_audit::ChainDigest;
use medguard_audit::checkpoint::SignedCheckpoint;
use medguard_digest::PublicKey;
use medguard_proto::AuditUpload;
use serde::{Deserialize, Serialize};

/// The server's view of one device log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The log's name on the device.
    pub log: String,
    /// Starts at 0; a re-enrollment or a reset starts the next.
    pub epoch: i64,
    /// The sequence number the next record must have.
    pub next_seq: u64,
    /// The chain digest of the last record held (hex).
    pub last_digest: String,
    /// The highest sequence number a verified checkpoint vouches for.
    pub checkpoint_seq: u64,
    /// `intact`, `gap`, `reset` or `broken`.
    pub state: String,
    /// What made it other than intact.
    pub problem: Option<String>,
}

impl ChainState {
    /// A log never uploaded before.
    #[must_use]
    pub fn new(log: &str, epoch: i64) -> Self {
        Self {
            log: log.to_owned(),
            epoch,
            next_seq: 1,
            last_digest: ChainDigest::GENESIS.to_hex(),
            checkpoint_seq: 0,
            state: "intact".into(),
            problem: None,
        }
    }

    fn degrade(&mut self, state: &str, problem: String) {
        let rank = |s: &str| match s {
            "broken" => 3,
            "gap" => 2,
            "reset" => 1,
            _ => 0,
        };
        if rank(state) >= rank(&self.state) {
            self.state = state.to_owned();
            self.problem = Some(problem);
        }
    }
}

/// What an upload does to a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The chain afterwards.
    pub chain: ChainState,
    /// The index of the first uploaded record to store (the ones before it are held
    /// already); records from it on are stored under `chain.epoch`.
    pub store_from: usize,
    /// What was found wrong, in sentences (each also in the chain's verdict).
    pub problems: Vec<String>,
}

/// Continues `chain` (None: never uploaded) with `upload`, checking checkpoints against the
/// device's key. `held` has the digests the server holds for records the upload repeats
/// (sequence numbers below `chain.next_seq`).
#[must_use]
pub fn continue_chain(
    chain: Option<ChainState>,
    upload: &AuditUpload,
    device_key: &PublicKey,
    held: &HashMap<u64, String>,
) -> Continuation {
    let mut c = chain.unwrap_or_else(|| ChainState::new(&upload.log, 0));
    let mut problems = Vec::new();
    let mut store_from = upload.records.len();
    let mut prev = ChainDigest::from_hex(&c.last_digest).unwrap_or(ChainDigest::GENESIS);
    let mut digests: HashMap<u64, String> = HashMap::new();
    let mut fail = |c: &mut ChainState, state: &str, p: String| {
        c.degrade(state, p.clone());
        problems.push(p);
    };
    for (i, r) in upload.records.iter().enumerate() {
        // A log that starts again at 1 with other content than the server holds; the same
        // first record again is a retry.
        if i == 0 && r.seq == 1 && c.next_seq > 1 && held.get(&1) != Some(&r.digest) {
            let held_before = c.next_seq - 1;
            fail(
                &mut c,
                "reset",
                format!(
                    "the log {:?} started again at 1 after {} records were uploaded (deleted or re-created on the device); its records are kept in a new epoch",
                    upload.log, held_before
                ),
            );
            c.epoch += 1;
            c.next_seq = 1;
            prev = ChainDigest::GENESIS;
        }
        if r.seq < c.next_seq {
            match held.get(&r.seq) {
                Some(d) if *d == r.digest => {}
                Some(_) => fail(
                    &mut c,
                    "broken",
                    format!(
                        "record {} of {:?} differs from the copy the server holds: the device's log was rewritten",
                        r.seq, upload.log
                    ),
                ),
                None => {}
            }
            digests.insert(r.seq, r.digest.clone());
            continue;
        }
        if r.seq > c.next_seq {
            let p = if c.next_seq == 1 && c.state == "intact" && store_from == upload.records.len()
            {
                format!(
                    "records 1 to {} of {:?} were never uploaded, so the log cannot be proven complete",
                    r.seq - 1,
                    upload.log
                )
            } else {
                format!(
                    "records {} to {} of {:?} are missing: deleted on the device or never sent",
                    c.next_seq,
                    r.seq - 1,
                    upload.log
                )
            };
            fail(&mut c, "gap", p);
        } else {
            let expected = prev.next(r.seq, r.payload.as_bytes());
            if expected.to_hex() != r.digest {
                fail(
                    &mut c,
                    "broken",
                    format!(
                        "record {} of {:?} does not continue the chain: the device's log was modified",
                        r.seq, upload.log
                    ),
                );
            }
        }
        if store_from == upload.records.len() {
            store_from = i;
        }
        prev = ChainDigest::from_hex(&r.digest).unwrap_or(ChainDigest::GENESIS);
        digests.insert(r.seq, r.digest.clone());
        c.next_seq = r.seq + 1;
    }
    c.last_digest = prev.to_hex();

    let trusted = [device_key.clone()];
    for line in &upload.checkpoints {
        let checkpoint = match SignedCheckpoint::parse(line) {
            Ok(cp) => cp,
            Err(why) => {
                fail(
                    &mut c,
                    "broken",
                    format!("an unreadable checkpoint ({why})"),
                );
                continue;
            }
        };
        if checkpoint.verify(&trusted).is_err() {
            fail(
                &mut c,
                "broken",
                format!(
                    "the checkpoint for record {} is not signed by the device's key",
                    checkpoint.checkpoint.seq
                ),
            );
            continue;
        }
        let seq = checkpoint.checkpoint.seq;
        let known = digests.get(&seq).or_else(|| held.get(&seq));
        match known {
            Some(d) if *d == checkpoint.checkpoint.digest.to_hex() => {
                c.checkpoint_seq = c.checkpoint_seq.max(seq);
            }
            Some(_) => fail(
                &mut c,
                "broken",
                format!(
                    "the signed checkpoint for record {seq} vouches for another chain than the records sent"
                ),
            ),
            // A checkpoint ahead of the records sent is checked when they arrive.
            None => {}
        }
    }
    Continuation {
        chain: c,
        store_from,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medguard_digest::SigningKey;
    use medguard_proto::AuditRecord;

    fn records(from: u64, to: u64, prev: ChainDigest) -> (Vec<AuditRecord>, ChainDigest) {
        let mut d = prev;
        let mut out = Vec::new();
        for seq in from..=to {
            let payload = format!(r#"{{"type":"login-failure","n":{seq}}}"#);
            d = d.next(seq, payload.as_bytes());
            out.push(AuditRecord {
                seq,
                payload,
                digest: d.to_hex(),
            });
        }
        (out, d)
    }

    fn upload(records: Vec<AuditRecord>, checkpoints: Vec<String>) -> AuditUpload {
        AuditUpload {
            log: "agent".into(),
            records,
            checkpoints,
        }
    }

    fn key() -> SigningKey {
        SigningKey::generate().unwrap().0
    }

    fn checkpoint(key: &SigningKey, seq: u64, digest: ChainDigest) -> String {
        medguard_audit::Checkpoint {
            segment: 1,
            seq,
            end_offset: 0,
            digest,
        }
        .sign(key)
        .trim_end()
        .to_owned()
    }

    #[test]
    fn consecutive_uploads_continue_the_chain() {
        let k = key();
        let (a, da) = records(1, 3, ChainDigest::GENESIS);
        let first = continue_chain(
            None,
            &upload(a, vec![checkpoint(&k, 3, da)]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(first.chain.state, "intact", "{:?}", first.problems);
        assert_eq!(first.chain.checkpoint_seq, 3);
        assert_eq!(first.store_from, 0);
        let (b, _) = records(4, 5, da);
        let second = continue_chain(
            Some(first.chain),
            &upload(b, vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(second.chain.state, "intact");
        assert_eq!(second.chain.next_seq, 6);
    }

    #[test]
    fn a_deleted_stretch_is_a_gap_and_sticks() {
        let k = key();
        let (a, da) = records(1, 3, ChainDigest::GENESIS);
        let first = continue_chain(None, &upload(a, vec![]), k.public_key(), &HashMap::new());
        let (all, _) = records(4, 9, da);
        let later = all.into_iter().skip(3).collect();
        let second = continue_chain(
            Some(first.chain),
            &upload(later, vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(second.chain.state, "gap");
        assert!(
            second.problems[0].contains("records 4 to 6"),
            "{:?}",
            second.problems
        );
        let (more, _) = records(
            10,
            10,
            ChainDigest::from_hex(&second.chain.last_digest).unwrap(),
        );
        let third = continue_chain(
            Some(second.chain),
            &upload(more, vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(third.chain.state, "gap", "a proven gap never heals");
    }

    #[test]
    fn a_modified_record_breaks_the_chain() {
        let k = key();
        let (mut a, _) = records(1, 3, ChainDigest::GENESIS);
        a[1].payload = r#"{"type":"login-success"}"#.into();
        let c = continue_chain(None, &upload(a, vec![]), k.public_key(), &HashMap::new());
        assert_eq!(c.chain.state, "broken");
    }

    #[test]
    fn a_resent_record_with_other_content_is_a_rewrite() {
        let k = key();
        let (a, _) = records(1, 3, ChainDigest::GENESIS);
        let first = continue_chain(
            None,
            &upload(a.clone(), vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        let held: HashMap<u64, String> = a.iter().map(|r| (r.seq, r.digest.clone())).collect();
        let (other, _) = records(2, 3, ChainDigest([9; 32]));
        let c = continue_chain(
            Some(first.chain),
            &upload(other, vec![]),
            k.public_key(),
            &held,
        );
        assert_eq!(c.chain.state, "broken");
        // The same records again are a harmless retry.
        let first = continue_chain(
            None,
            &upload(a.clone(), vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        let again = continue_chain(Some(first.chain), &upload(a, vec![]), k.public_key(), &held);
        assert_eq!(again.chain.state, "intact");
        assert_eq!(again.store_from, 3);
    }

    #[test]
    fn a_log_that_starts_again_is_a_reset_in_a_new_epoch() {
        let k = key();
        let (a, _) = records(1, 3, ChainDigest::GENESIS);
        let first = continue_chain(
            None,
            &upload(a.clone(), vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        let c = continue_chain(
            Some(first.chain),
            &upload(a, vec![]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(c.chain.state, "reset");
        assert_eq!(c.chain.epoch, 1);
        assert_eq!(c.store_from, 0);
    }

    #[test]
    fn a_checkpoint_by_another_key_or_for_another_chain_breaks_it() {
        let k = key();
        let (a, da) = records(1, 2, ChainDigest::GENESIS);
        let forged = continue_chain(
            None,
            &upload(a.clone(), vec![checkpoint(&key(), 2, da)]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(forged.chain.state, "broken");
        let other = continue_chain(
            None,
            &upload(a, vec![checkpoint(&k, 2, ChainDigest([1; 32]))]),
            k.public_key(),
            &HashMap::new(),
        );
        assert_eq!(other.chain.state, "broken");
    }

    #[test]
    fn a_first_upload_that_does_not_start_at_one_is_not_proven_complete() {
        let k = key();
        let (a, _) = records(1, 5, ChainDigest::GENESIS);
        let tail = a.into_iter().skip(2).collect();
        let c = continue_chain(None, &upload(tail, vec![]), k.public_key(), &HashMap::new());
        assert_eq!(c.chain.state, "gap");
        assert!(c.problems[0].contains("never uploaded"));
    }
}
