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
        if self.signatures.is_empty() {
            return Err(EnvelopeError::Unsigned);
        }
        let mut signer = None;
        for sig in &self.signatures {
            if let Some(key) = trusted.iter().find(|k| k.id() == sig.key_id) {
                key.verify(context, self.body, &sig.signature)
                    .map_err(|_| EnvelopeError::Altered(sig.key_id))?;
                signer.get_or_insert(sig.key_id);
            }
        }
        match signer {
            Some(id) => Ok(VerifiedDocument {
                body: self.body,
                signer: Some(id),
            }),
            None => Err(EnvelopeError::UntrustedSigner {
                found: self.signers(),
            }),
        }
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
    let mut out = body.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let last_line_start = out
        .get(..out.len().saturating_sub(1))
        .and_then(|d| d.iter().rposition(|&b| b == b'\n'))
        .map_or(0, |i| i + 1);
    if out
        .get(last_line_start..)
        .is_some_and(|l| l.starts_with(TRAILER))
    {
        out.extend_from_slice(b"#\n");
    }
    let sig = key.sign(context, &out);
    out.extend_from_slice(
        format!(
            "#signature ed25519 {} {}\n",
            key.public_key().id(),
            sig.to_base64()
        )
        .as_bytes(),
    );
    out
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

    proptest! {
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
