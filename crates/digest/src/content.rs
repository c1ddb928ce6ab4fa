//! Streaming content digests.

use std::io::{self, Read};

/// A SHA-256 digest, kept apart from BLAKE3 so the two cannot be confused.
pub type Sha256Digest = [u8; 32];

/// The digests of one file's content: BLAKE3 always, SHA-256 when asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentDigests {
    /// BLAKE3-256 of the content.
    pub blake3: [u8; 32],
    /// SHA-256 of the content, present when the profile asked for it.
    pub sha256: Option<Sha256Digest>,
}

/// An incremental hasher for [`ContentDigests`].
#[derive(Debug, Clone)]
pub struct Hasher {
    blake3: blake3::Hasher,
    sha256: Option<sha2::Sha256>,
    len: u64,
}

impl Hasher {
    /// A hasher computing BLAKE3, and SHA-256 too when `with_sha256` is set.
    #[must_use]
    pub fn new(with_sha256: bool) -> Self {
        use sha2::Digest as _;
        Self {
            blake3: blake3::Hasher::new(),
            sha256: with_sha256.then(sha2::Sha256::new),
            len: 0,
        }
    }

    /// Feeds bytes to every digest.
    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest as _;
        // Large chunks hash faster when BLAKE3 can use its wide SIMD path on a whole
        // buffer; the rayon variant is left out on purpose because callers already hash
        // many files in parallel.
        self.blake3.update(bytes);
        if let Some(sha) = self.sha256.as_mut() {
            sha.update(bytes);
        }
        self.len += bytes.len() as u64;
    }

    /// Number of bytes fed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing has been fed yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The final digests.
    #[must_use]
    pub fn finish(self) -> ContentDigests {
        use sha2::Digest as _;
        ContentDigests {
            blake3: *self.blake3.finalize().as_bytes(),
            sha256: self.sha256.map(|s| s.finalize().into()),
        }
    }
}

/// Hashes everything `reader` yields, through `buf`, and returns the digests and the byte
/// count. Interrupted reads are retried; any other read error is returned.
pub fn hash_reader(
    reader: &mut impl Read,
    with_sha256: bool,
    buf: &mut [u8],
) -> io::Result<(ContentDigests, u64)> {
    let mut hasher = Hasher::new(with_sha256);
    loop {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = hasher.len();
    Ok((hasher.finish(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // BLAKE3 and SHA-256 of "abc", from the reference test vectors.
        let mut buf = [0u8; 2];
        let (d, n) = hash_reader(&mut &b"abc"[..], true, &mut buf).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            hex::encode(d.blake3),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(
            hex::encode(d.sha256.unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sha256_only_when_asked() {
        let mut buf = [0u8; 16];
        let (d, _) = hash_reader(&mut &b""[..], false, &mut buf).unwrap();
        assert!(d.sha256.is_none());
        assert_eq!(
            hex::encode(d.blake3),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }
}
