//! Signed checkpoints: an Ed25519 signature over (segment, seq, end offset, chain digest),
//! one text line each in the log directory's `checkpoints` file.
//!
//! This module owns the checkpoint line format and its signing context; it must not decide
//! which keys are trusted (the caller passes them) nor walk segments (`verify.rs` does).
//!
//! ```text
//! 1 <segment> <seq> <end-offset> <chain-digest-hex> <key-id-hex> <signature-base64>
//! ```
//!
//! The signed message is the first five fields joined by single spaces. A checkpoint lets
//! a verifier detect truncation (the log ends before a signed seq) and a rewritten chain
//! (the digest at the signed seq differs), which the chain alone cannot.

use medguard_digest::{KeyId, PublicKey, Signature, SigningKey};

use crate::record::ChainDigest;

/// The signing context of audit checkpoints; signatures made for other documents never
/// verify as checkpoints.
pub const CHECKPOINT_CONTEXT: &str = "medguard audit checkpoint v1";

/// The file holding checkpoint lines, inside the log directory.
pub const CHECKPOINT_FILE: &str = "checkpoints";

/// The chain position a checkpoint vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    /// Segment number holding the record `seq`.
    pub segment: u64,
    /// The last record covered.
    pub seq: u64,
    /// Byte offset just past that record in its segment.
    pub end_offset: u64,
    /// Chain digest of that record.
    pub digest: ChainDigest,
}

/// A checkpoint line as read, signature not yet checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// What it claims.
    pub checkpoint: Checkpoint,
    /// The claimed signer.
    pub key_id: KeyId,
    /// The signature.
    pub signature: Signature,
}

impl Checkpoint {
    fn message(&self) -> String {
        format!(
            "1 {} {} {} {}",
            self.segment, self.seq, self.end_offset, self.digest
        )
    }

    /// Signs the checkpoint and returns its line (with the newline).
    #[must_use]
    pub fn sign(&self, key: &SigningKey) -> String {
        let message = self.message();
        let sig = key.sign(CHECKPOINT_CONTEXT, message.as_bytes());
        format!("{message} {} {}\n", key.public_key().id(), sig.to_base64())
    }
}

impl SignedCheckpoint {
    /// Parses one line (without its newline).
    pub fn parse(line: &str) -> Result<Self, &'static str> {
        let mut f = line.split(' ');
        let (
            Some("1"),
            Some(segment),
            Some(seq),
            Some(end),
            Some(digest),
            Some(key),
            Some(sig),
            None,
        ) = (
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
        )
        else {
            return Err("expected '1 SEGMENT SEQ END DIGEST KEYID SIGNATURE'");
        };
        let number = |s: &str| {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u64>().map_err(|_| "bad number")
            } else {
                Err("bad number")
            }
        };
        Ok(Self {
            checkpoint: Checkpoint {
                segment: number(segment)?,
                seq: number(seq)?,
                end_offset: number(end)?,
                digest: ChainDigest::from_hex(digest).ok_or("bad chain digest")?,
            },
            key_id: KeyId::from_hex(key).ok_or("bad key id")?,
            signature: Signature::from_base64(sig).ok_or("bad signature encoding")?,
        })
    }

    /// Checks the signature against the trusted keys.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<(), CheckpointSignatureError> {
        let key = trusted
            .iter()
            .find(|k| k.id() == self.key_id)
            .ok_or(CheckpointSignatureError::UntrustedKey(self.key_id))?;
        key.verify(
            CHECKPOINT_CONTEXT,
            self.checkpoint.message().as_bytes(),
            &self.signature,
        )
        .map_err(|_| CheckpointSignatureError::BadSignature(self.key_id))
    }
}

/// Why a checkpoint's signature is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointSignatureError {
    /// Signed by a key that is not trusted.
    #[error("signed by untrusted key {0}")]
    UntrustedKey(KeyId),
    /// The signature does not match the line.
    #[error("signature by key {0} does not verify")]
    BadSignature(KeyId),
}

/// Parses the last complete, well-formed line of a checkpoint file's bytes (the writer's
/// view: a torn last line after a crash is ignored).
#[must_use]
pub fn last_checkpoint(bytes: &[u8]) -> Option<Checkpoint> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => bytes.get(..i)?,
        None => return None,
    };
    complete
        .split(|&b| b == b'\n')
        .rev()
        .filter_map(|l| std::str::from_utf8(l).ok())
        .find_map(|l| SignedCheckpoint::parse(l).ok())
        .map(|c| c.checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_parse_verify() {
        let (key, _) = SigningKey::generate().unwrap();
        let cp = Checkpoint {
            segment: 3,
            seq: 1000,
            end_offset: 4096,
            digest: ChainDigest::GENESIS.next(1, b"x"),
        };
        let line = cp.sign(&key);
        let parsed = SignedCheckpoint::parse(line.trim_end()).unwrap();
        assert_eq!(parsed.checkpoint, cp);
        parsed.verify(&[key.public_key().clone()]).unwrap();
        let forged = line.replacen(" 1000 ", " 1001 ", 1);
        let forged = SignedCheckpoint::parse(forged.trim_end()).unwrap();
        assert_eq!(
            forged.verify(&[key.public_key().clone()]),
            Err(CheckpointSignatureError::BadSignature(
                key.public_key().id()
            ))
        );
        assert_eq!(last_checkpoint(line.as_bytes()), Some(cp));
        assert_eq!(last_checkpoint(&line.as_bytes()[..10]), None);
    }
}
