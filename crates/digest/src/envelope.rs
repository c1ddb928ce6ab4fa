//! Signed text documents.
//!
//! A signed document is its body followed by one or more trailer lines
//!
//! ```text
//! #signature ed25519 <key id> <base64 signature>
//! ```
//!
//! Each signature covers the body bytes exactly (everything before the first trailer line)
//! under a context string naming the kind of document, so that a signed profile cannot be
//! passed off as another signed document. The trailer is plain text so a profile stays
//! readable with `less` and diffable with `diff`.
//!
//! What is signed is the BLAKE3 digest of the body, not the body itself: Ed25519 needs its
//! whole message twice, and a profile of a large device is tens of megabytes. Prehashing
//! lets [`SignedWriter`] and [`read_signed_lines`] stream a document through a fixed amount
//! of memory.

use std::io::{self, BufRead, Write};

use crate::keys::{KeyId, PublicKey, Signature, SigningKey};

const TRAILER: &[u8] = b"#signature ";

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The document carries no signature.
    #[error("the document is not signed")]
    Unsigned,
    /// Signed, but by none of the trusted keys.
    #[error("signed by {found:?}, none of which is trusted")]
    UntrustedSigner {
        /// The key ids that signed it.
        found: Vec<KeyId>,
    },
    /// A trusted key's signature does not match the body: the document was altered.
    #[error("the signature of trusted key {0} does not match: the document was altered")]
    Altered(KeyId),
    /// A trailer line is not of the form above.
    #[error("malformed signature line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the document.
        line: usize,
        /// What was wrong.
        reason: &'static str,
    },
}

/// One parsed signature trailer line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignatureLine {
    key_id: KeyId,
    signature: Signature,
}

/// A document whose signatures have not been checked yet. Its body is not reachable
/// except through [`UnverifiedDocument::verify`] or the explicitly loud
/// [`UnverifiedDocument::accept_unsigned`].
#[derive(Debug)]
pub struct UnverifiedDocument<'a> {
    body: &'a [u8],
    signatures: Vec<SignatureLine>,
}

/// A document whose body was signed by a trusted key (or which a caller explicitly
/// accepted unsigned).
#[derive(Debug, Clone, Copy)]
pub struct VerifiedDocument<'a> {
    body: &'a [u8],
    signer: Option<KeyId>,
}

impl<'a> VerifiedDocument<'a> {
    /// The signed body.
    #[must_use]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The trusted key that signed it; `None` when accepted unsigned.
    #[must_use]
    pub fn signer(&self) -> Option<KeyId> {
        self.signer
    }
}

impl<'a> UnverifiedDocument<'a> {
    /// Splits `doc` into body and signature trailer.
    pub fn parse(doc: &'a [u8]) -> Result<Self, EnvelopeError> {
        // The trailer starts at the first line that begins with the trailer tag and is
        // followed only by more trailer lines.
        let mut body_end = doc.len();
        let mut starts = Vec::new();
        let mut pos = doc.len();
        // Walk lines backwards.
        while pos > 0 {
            let search_end = if doc.get(pos - 1) == Some(&b'\n') {
                pos - 1
            } else {
                pos
            };
            let line_start = doc
                .get(..search_end)
                .and_then(|d| d.iter().rposition(|&b| b == b'\n'))
                .map_or(0, |i| i + 1);
            let line = doc.get(line_start..search_end).unwrap_or_default();
            if line.starts_with(TRAILER) {
                starts.push((line_start, line));
                body_end = line_start;
                pos = line_start;
            } else {
                break;
            }
        }
        let body = doc.get(..body_end).unwrap_or_default();
        let first_line_no = body.iter().filter(|&&b| b == b'\n').count() + 1;
        let mut signatures = Vec::with_capacity(starts.len());
        for (i, (_, line)) in starts.iter().rev().enumerate() {
            signatures.push(parse_trailer(line, first_line_no + i)?);
        }
        Ok(Self { body, signatures })
    }

    /// The key ids that claim to have signed the document.
    #[must_use]
    pub fn signers(&self) -> Vec<KeyId> {
        self.signatures.iter().map(|s| s.key_id).collect()
    }

    /// Checks the signatures against the trusted keys. The document is accepted when a
    /// trusted key signed it and every signature by a trusted key matches.
    pub fn verify(
        self,
        context: &str,
        trusted: &[PublicKey],
    ) -> Result<VerifiedDocument<'a>, EnvelopeError> {
        let digest = *blake3::hash(self.body).as_bytes();
        let signer = check_signatures(&self.signatures, &digest, context, trusted)?;
        Ok(VerifiedDocument {
            body: self.body,
            signer: Some(signer),
        })
    }

    /// Accepts the body without any signature check. Only for lab use; callers must tell
    /// the user loudly that nothing was verified.
    #[must_use]
    pub fn accept_unsigned(self) -> VerifiedDocument<'a> {
        VerifiedDocument {
            body: self.body,
            signer: None,
        }
    }
}

/// The one place signatures are counted: accepted when a trusted key signed the body digest
/// and every signature by a trusted key matches.
fn check_signatures(
    signatures: &[SignatureLine],
    digest: &[u8; 32],
    context: &str,
    trusted: &[PublicKey],
) -> Result<KeyId, EnvelopeError> {
    if signatures.is_empty() {
        return Err(EnvelopeError::Unsigned);
    }
    let mut signer = None;
    for sig in signatures {
        if let Some(key) = trusted.iter().find(|k| k.id() == sig.key_id) {
            key.verify(context, digest, &sig.signature)
                .map_err(|_| EnvelopeError::Altered(sig.key_id))?;
            signer.get_or_insert(sig.key_id);
        }
    }
    signer.ok_or_else(|| EnvelopeError::UntrustedSigner {
        found: signatures.iter().map(|s| s.key_id).collect(),
    })
}

fn parse_trailer(line: &[u8], line_no: usize) -> Result<SignatureLine, EnvelopeError> {
    let bad = |reason| EnvelopeError::Malformed {
        line: line_no,
        reason,
    };
    let text = std::str::from_utf8(line).map_err(|_| bad("not UTF-8"))?;
    let mut parts = text.split(' ');
    let (Some("#signature"), Some(alg), Some(id), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("expected '#signature ed25519 KEYID SIGNATURE'"));
    };
    if alg != "ed25519" {
        return Err(bad("unsupported signature algorithm"));
    }
    let key_id = KeyId::from_hex(id).ok_or_else(|| bad("key id is not 32 hex digits"))?;
    let signature =
        Signature::from_base64(sig).ok_or_else(|| bad("signature is not base64 of 64 bytes"))?;
    Ok(SignatureLine { key_id, signature })
}

/// Returns `body` followed by a signature trailer line made with `key`. The signed body is
/// `body` itself, plus a newline if it did not end with one, plus a lone `#` line if its last
/// line would otherwise read as a trailer line: what [`UnverifiedDocument::verify`] returns
/// always starts with `body`.
#[must_use]
pub fn sign_document(context: &str, body: &[u8], key: &SigningKey) -> Vec<u8> {
    let mut w = SignedWriter::new(Vec::with_capacity(body.len() + 128));
    // Writing to a Vec cannot fail.
    let _ = w.write_all(body);
    w.finish(context, Some(key)).unwrap_or_default()
}

/// Writes a document while hashing it, then appends the signature trailer: a signed
/// document of any size through a fixed amount of memory.
#[derive(Debug)]
pub struct SignedWriter<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    /// The first bytes of the line being written.
    current: Vec<u8>,
    /// The first bytes of the last complete line.
    last: Vec<u8>,
    empty: bool,
}

impl<W: Write> SignedWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
            current: Vec::with_capacity(TRAILER.len()),
            last: Vec::new(),
            empty: true,
        }
    }

    /// Ends the body (see [`sign_document`] for the newline and `#` it may add) and, with a
    /// key, writes the signature trailer. Returns the inner writer, flushed.
    pub fn finish(mut self, context: &str, key: Option<&SigningKey>) -> io::Result<W> {
        if !self.current.is_empty() {
            self.write_all(b"\n")?;
        }
        if !self.empty && self.last.starts_with(TRAILER) {
            self.write_all(b"#\n")?;
        }
        if let Some(key) = key {
            let digest = *self.hasher.finalize().as_bytes();
            let sig = key.sign(context, &digest);
            self.inner.write_all(
                format!(
                    "#signature ed25519 {} {}\n",
                    key.public_key().id(),
                    sig.to_base64()
                )
                .as_bytes(),
            )?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SignedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or_default();
        self.hasher.update(written);
        if !written.is_empty() {
            self.empty = false;
        }
        // Only the start of the last line matters; skip to after the last newline.
        match written.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                let (head, tail) = written.split_at(i + 1);
                let last_line_start = head
                    .get(..head.len() - 1)
                    .and_then(|h| h.iter().rposition(|&b| b == b'\n'))
                    .map(|j| j + 1);
                match last_line_start {
                    Some(j) => self.last = prefix(head.get(j..).unwrap_or_default()),
                    None => {
                        let mut line = std::mem::take(&mut self.current);
                        line.extend_from_slice(&prefix(head));
                        self.last = prefix(&line);
                    }
                }
                self.current = prefix(tail);
            }
            None => {
                if self.current.len() < TRAILER.len() {
                    self.current.extend_from_slice(&prefix(written));
                    self.current.truncate(TRAILER.len());
                }
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn prefix(bytes: &[u8]) -> Vec<u8> {
    bytes
        .get(..TRAILER.len().min(bytes.len()))
        .unwrap_or_default()
        .to_vec()
}

/// Why a streamed document could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError<E> {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The caller's line handler refused a body line.
    #[error("line {line}: {error}")]
    Body {
        /// 1-based line number.
        line: usize,
        /// The handler's error.
        #[source]
        error: E,
    },
    /// The trailer is malformed.
    #[error(transparent)]
    Envelope(EnvelopeError),
}

/// A streamed document whose body was handed out line by line and whose signatures are
/// not checked yet.
#[derive(Debug)]
pub struct StreamedSignatures {
    digest: [u8; 32],
    signatures: Vec<SignatureLine>,
}

impl StreamedSignatures {
    /// Checks the signatures against the trusted keys; the trusted signer on success.
    pub fn verify(&self, context: &str, trusted: &[PublicKey]) -> Result<KeyId, EnvelopeError> {
        check_signatures(&self.signatures, &self.digest, context, trusted)
    }

    /// The key ids that claim to have signed it.
    #[must_use]
    pub fn signers(&self) -> Vec<KeyId> {
        self.signatures.iter().map(|s| s.key_id).collect()
    }
}

/// Reads a signed document line by line, handing each body line (without its newline) and
/// its 1-based number to `on_line`, and returns the signatures to check. The caller must
/// not act on what it parsed before [`StreamedSignatures::verify`] succeeds. A handler error
/// stops nothing: reading goes on so that an altered document is reported as altered, and
/// the first handler error is returned at the end.
pub fn read_signed_lines<R: BufRead, E>(
    mut reader: R,
    mut on_line: impl FnMut(usize, &[u8]) -> Result<(), E>,
) -> Result<(StreamedSignatures, Option<ReadError<E>>), ReadError<E>> {
    let mut hasher = blake3::Hasher::new();
    // Trailer-looking lines are held back until a body line follows them or the end comes.
    let mut pending: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut first_error = None;
    let mut line = Vec::with_capacity(256);
    let mut line_no = 0;
    let mut deliver = |no: usize,
                       l: &[u8],
                       newline: bool,
                       hasher: &mut blake3::Hasher,
                       first_error: &mut Option<ReadError<E>>| {
        hasher.update(l);
        if newline {
            hasher.update(b"\n");
        }
        if let Err(error) = on_line(no, l)
            && first_error.is_none()
        {
            *first_error = Some(ReadError::Body { line: no, error });
        }
    };
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_no += 1;
        let had_newline = line.last() == Some(&b'\n');
        if had_newline {
            line.pop();
        }
        if line.starts_with(TRAILER) && had_newline {
            pending.push((line_no, line.clone()));
            continue;
        }
        for (no, l) in pending.drain(..) {
            deliver(no, &l, true, &mut hasher, &mut first_error);
        }
        if line.starts_with(TRAILER) {
            // A trailer line without its newline: truncated.
            pending.push((line_no, line.clone()));
            continue;
        }
        // A last body line without a newline cannot be followed by a signature; it is
        // still hashed as it is.
        deliver(line_no, &line, had_newline, &mut hasher, &mut first_error);
    }
    let mut signatures = Vec::with_capacity(pending.len());
    for (no, l) in &pending {
        signatures.push(parse_trailer(l, *no).map_err(ReadError::Envelope)?);
    }
    Ok((
        StreamedSignatures {
            digest: *hasher.finalize().as_bytes(),
            signatures,
        },
        first_error,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SigningKey {
        SigningKey::generate().unwrap().0
    }

    #[test]
    fn sign_then_verify() {
        let k = key();
        let doc = sign_document("ctx", b"line one\nline two\n", &k);
        let v = UnverifiedDocument::parse(&doc)
            .unwrap()
            .verify("ctx", &[k.public_key().clone()])
            .unwrap();
        assert_eq!(v.body(), b"line one\nline two\n");
        assert_eq!(v.signer(), Some(k.public_key().id()));
    }

    #[test]
    fn refusals_are_typed() {
        let k = key();
        let other = key();
        let trusted = [k.public_key().clone()];
        let doc = sign_document("ctx", b"a\n", &k);

        let unsigned = UnverifiedDocument::parse(b"a\n").unwrap();
        assert_eq!(
            unsigned.verify("ctx", &trusted).unwrap_err(),
            EnvelopeError::Unsigned
        );

        let by_other = sign_document("ctx", b"a\n", &other);
        assert!(matches!(
            UnverifiedDocument::parse(&by_other)
                .unwrap()
                .verify("ctx", &trusted),
            Err(EnvelopeError::UntrustedSigner { .. })
        ));

        let mut altered = doc.clone();
        altered[0] = b'b';
        assert_eq!(
            UnverifiedDocument::parse(&altered)
                .unwrap()
                .verify("ctx", &trusted)
                .unwrap_err(),
            EnvelopeError::Altered(k.public_key().id())
        );

        assert_eq!(
            UnverifiedDocument::parse(&doc)
                .unwrap()
                .verify("other-kind", &trusted)
                .unwrap_err(),
            EnvelopeError::Altered(k.public_key().id())
        );

        let mut truncated = doc.clone();
        truncated.truncate(doc.len() - 10);
        assert!(matches!(
            UnverifiedDocument::parse(&truncated),
            Err(EnvelopeError::Malformed { line: 2, .. })
        ));
    }

    #[test]
    fn body_lines_that_look_like_trailers_stay_in_the_body_when_followed_by_data() {
        let k = key();
        let body = b"#signature not really\ndata\n";
        let doc = sign_document("ctx", body, &k);
        let v = UnverifiedDocument::parse(&doc)
            .unwrap()
            .verify("ctx", &[k.public_key().clone()])
            .unwrap();
        assert_eq!(v.body(), body);
    }

    #[test]
    fn a_body_ending_in_a_trailer_like_line_still_round_trips() {
        let k = key();
        let body = b"data\n#signature ed25519 not-a-key x\n";
        let doc = sign_document("ctx", body, &k);
        let v = UnverifiedDocument::parse(&doc)
            .unwrap()
            .verify("ctx", &[k.public_key().clone()])
            .unwrap();
        assert!(v.body().starts_with(body));
    }

    fn stream(doc: &[u8]) -> (Vec<Vec<u8>>, StreamedSignatures) {
        let mut lines = Vec::new();
        let (sigs, err) = read_signed_lines(doc, |_, l| -> Result<(), ()> {
            lines.push(l.to_vec());
            Ok(())
        })
        .unwrap();
        assert!(err.is_none());
        (lines, sigs)
    }

    #[test]
    fn streaming_agrees_with_in_memory() {
        let k = key();
        let trusted = [k.public_key().clone()];
        let doc = sign_document("ctx", b"a\nb\n#signature x\nc\n", &k);
        let (lines, sigs) = stream(&doc);
        assert_eq!(
            lines,
            vec![
                b"a".to_vec(),
                b"b".to_vec(),
                b"#signature x".to_vec(),
                b"c".to_vec()
            ]
        );
        assert_eq!(sigs.verify("ctx", &trusted).unwrap(), k.public_key().id());
        let mut altered = doc.clone();
        altered[0] = b'z';
        assert_eq!(
            stream(&altered).1.verify("ctx", &trusted).unwrap_err(),
            EnvelopeError::Altered(k.public_key().id())
        );
        assert_eq!(
            stream(b"a\n").1.verify("ctx", &trusted).unwrap_err(),
            EnvelopeError::Unsigned
        );
    }

    proptest! {
        #[test]
        fn streaming_round_trips_any_body(body in proptest::collection::vec(any::<u8>(), 0..200), chunk in 1usize..17) {
            let k = key();
            let mut w = SignedWriter::new(Vec::new());
            for c in body.chunks(chunk) {
                w.write_all(c).unwrap();
            }
            let doc = w.finish("ctx", Some(&k)).unwrap();
            prop_assert_eq!(&doc, &sign_document("ctx", &body, &k));
            let v = UnverifiedDocument::parse(&doc).unwrap().verify("ctx", &[k.public_key().clone()]).unwrap();
            prop_assert!(v.body().starts_with(&body));
            let (_, sigs) = stream(&doc);
            prop_assert!(sigs.verify("ctx", &[k.public_key().clone()]).is_ok());
        }

        #[test]
        fn sign_verify_round_trips_any_body(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let k = key();
            let doc = sign_document("ctx", &body, &k);
            let v = UnverifiedDocument::parse(&doc).unwrap().verify("ctx", &[k.public_key().clone()]).unwrap();
            prop_assert!(v.body().starts_with(&body));
        }

        #[test]
        fn parse_never_panics(doc in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = UnverifiedDocument::parse(&doc);
        }

        #[test]
        fn any_body_change_is_detected(body in "[a-z\n]{1,64}", flip in 0usize..64) {
            let k = key();
            let mut body = body.into_bytes();
            if !body.ends_with(b"\n") { body.push(b'\n'); }
            let doc = sign_document("ctx", &body, &k);
            let mut altered = doc.clone();
            let i = flip % body.len();
            altered[i] ^= 0x01;
            let r = UnverifiedDocument::parse(&altered).and_then(|d| d.verify("ctx", &[k.public_key().clone()]));
            prop_assert!(r.is_err());
        }
    }
}
