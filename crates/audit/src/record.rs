//! The on-disk frame of one audit record and the chain digest that links records.
//!
//! This module owns the byte layout of a record and the digest rule; it must not do I/O
//! or interpret the payload (the event JSON), so the reader can walk millions of records
//! without parsing JSON.
//!
//! A frame is, little-endian:
//!
//! ```text
//! u32 payload length | u64 seq | payload (canonical event JSON) | 32-byte chain digest
//! ```
//!
//! and `digest = BLAKE3(previous digest || seq (u64 LE) || payload)`, the previous digest of
//! the first record being [`ChainDigest::GENESIS`]. Modifying, deleting, reordering or
//! truncating records therefore breaks either the sequence numbers or the chain.

use std::fmt;

/// Bytes before the payload: length and sequence number.
pub const FRAME_HEADER: usize = 4 + 8;
/// Bytes after the payload: the chain digest.
pub const FRAME_TRAILER: usize = 32;
/// The largest payload accepted; anything larger is corruption (or a bug upstream).
pub const MAX_PAYLOAD: usize = 1 << 20;

/// A BLAKE3 chain digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainDigest(pub [u8; 32]);

impl ChainDigest {
    /// The "previous digest" of the very first record.
    pub const GENESIS: Self = Self([0; 32]);

    /// The digest of a record with `seq` and `payload` following `prev`.
    #[must_use]
    pub fn next(&self, seq: u64, payload: &[u8]) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(&self.0);
        h.update(&seq.to_le_bytes());
        h.update(payload);
        Self(*h.finalize().as_bytes())
    }

    /// Lower-case hexadecimal.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hexadecimal digits.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Debug for ChainDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainDigest({})", self.to_hex())
    }
}

impl fmt::Display for ChainDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for ChainDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ChainDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// One decoded frame, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Sequence number.
    pub seq: u64,
    /// The event's canonical JSON.
    pub payload: &'a [u8],
    /// The stored chain digest.
    pub digest: ChainDigest,
}

/// Why bytes do not decode as a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The bytes end inside the frame (a torn or truncated tail).
    #[error("incomplete frame: {needed} bytes needed, {available} available")]
    Incomplete {
        /// Bytes the frame claims.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The length field is larger than any record medguard writes.
    #[error("frame length {0} exceeds the maximum")]
    TooLong(usize),
}

impl<'a> Frame<'a> {
    /// Decodes the frame at the start of `bytes`; returns it and its encoded length.
    pub fn decode(bytes: &'a [u8]) -> Result<(Self, usize), FrameError> {
        let incomplete = |needed| FrameError::Incomplete {
            needed,
            available: bytes.len(),
        };
        let (Some(len), Some(seq)) = (bytes.get(0..4), bytes.get(4..12)) else {
            return Err(incomplete(FRAME_HEADER));
        };
        let len = u32::from_le_bytes(len.try_into().map_err(|_| incomplete(FRAME_HEADER))?);
        let len = usize::try_from(len).map_err(|_| FrameError::TooLong(usize::MAX))?;
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLong(len));
        }
        let seq = u64::from_le_bytes(seq.try_into().map_err(|_| incomplete(FRAME_HEADER))?);
        let total = FRAME_HEADER + len + FRAME_TRAILER;
        let (Some(payload), Some(digest)) = (
            bytes.get(FRAME_HEADER..FRAME_HEADER + len),
            bytes.get(FRAME_HEADER + len..total),
        ) else {
            return Err(incomplete(total));
        };
        let digest: [u8; 32] = digest.try_into().map_err(|_| incomplete(total))?;
        Ok((
            Self {
                seq,
                payload,
                digest: ChainDigest(digest),
            },
            total,
        ))
    }

    /// Appends the encoded frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Payload length is bounded by MAX_PAYLOAD at every producer; saturate defensively.
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        out.reserve(self.encoded_len());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(self.payload);
        out.extend_from_slice(&self.digest.0);
    }

    /// The encoded length.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER + self.payload.len() + FRAME_TRAILER
    }

    /// Whether the stored digest matches the chain rule after `prev`.
    #[must_use]
    pub fn links_to(&self, prev: &ChainDigest) -> bool {
        prev.next(self.seq, self.payload) == self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frames_round_trip(seq: u64, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let digest = ChainDigest::GENESIS.next(seq, &payload);
            let frame = Frame { seq, payload: &payload, digest };
            let mut out = Vec::new();
            frame.encode(&mut out);
            let (back, used) = Frame::decode(&out).unwrap();
            prop_assert_eq!(used, out.len());
            prop_assert_eq!(back, frame);
            prop_assert!(back.links_to(&ChainDigest::GENESIS));
            for cut in 0..out.len() {
                let is_incomplete = matches!(Frame::decode(&out[..cut]), Err(FrameError::Incomplete { .. }));
                prop_assert!(is_incomplete);
            }
        }
    }

    #[test]
    fn oversized_length_is_rejected() {
        let mut bytes = vec![0xff; 64];
        bytes[4..12].copy_from_slice(&1u64.to_le_bytes());
        assert_eq!(
            Frame::decode(&bytes),
            Err(FrameError::TooLong(u32::MAX as usize))
        );
    }
}
