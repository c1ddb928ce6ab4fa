//! Content digests, Ed25519 keys and signed documents.
//!
//! This crate owns every cryptographic primitive medguard uses for integrity and origin:
//! BLAKE3 and SHA-256 content digests computed by streaming (never by mapping a live file,
//! which can fault when the file shrinks), Ed25519 key pairs on disk, and the signed text
//! document envelope that system profiles and audit checkpoints share.
//!
//! It must not decide *what* is trusted: callers pass the [`PublicKey`]s they trust, and a
//! document only becomes a [`VerifiedDocument`] through [`UnverifiedDocument::verify`].
//!
//! Ed25519 comes from aws-lc-rs, the one crypto library of the workspace (rustls runs over
//! the same library), rather than a second implementation such as ed25519-dalek.
#![forbid(unsafe_code)]

mod content;
mod envelope;
mod keys;

pub use content::{ContentDigests, Hasher, Sha256Digest, hash_reader};
pub use envelope::{
    EnvelopeError, ReadError, SignedWriter, StreamedSignatures, UnverifiedDocument,
    VerifiedDocument, read_signed_lines, sign_document,
};
pub use keys::{KeyError, KeyId, PublicKey, Signature, SigningKey, generate_key_pair};
