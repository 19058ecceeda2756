//! PGP/MIME (RFC 3156) with sequoia-openpgp: encrypt (optionally signed, §6.2),
//! sign (multipart/signed), decrypt and verify, plus legacy inline PGP on
//! input.

mod ascii_armor;
mod ciphertext;
mod dearmor;
pub mod decrypt;
pub mod encrypt;
mod inline_block;
pub mod pgpmime;
pub mod recipients;
mod seipdv1;
pub mod sign;
pub mod signed_stream;
mod spilled_inline;
pub mod stream;
pub mod verify;

use std::sync::OnceLock;

use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::types::SymmetricAlgorithm;

pub use decrypt::{decrypt_message, Opened};
pub use encrypt::{encrypt_message, EncryptOptions};
pub use recipients::{add_encrypt_to_self, encryption_keys, signing_key, RecipientKeys};
pub use sign::sign_stream;
pub use signed_stream::SignedStream;
pub use stream::{decrypt_stream, Decrypted};
pub use verify::{verify_message, SignatureReport, SignatureStatus, Verification};

/// The policy every operation uses: sequoia's standard policy (rejects
/// SHA-1 signatures, weak ciphers and short keys).
pub fn policy() -> &'static StandardPolicy<'static> {
    static POLICY: StandardPolicy<'static> = StandardPolicy::new();
    &POLICY
}

/// The ciphers of old OpenPGP archives that [`policy`] refuses and
/// `--allow-legacy` reads (never writes). Naming them is their only use, so
/// sequoia's deprecation (do not encrypt with them) does not apply.
#[allow(deprecated)]
pub const LEGACY_CIPHERS: [SymmetricAlgorithm; 3] = [
    SymmetricAlgorithm::IDEA,
    SymmetricAlgorithm::TripleDES,
    SymmetricAlgorithm::CAST5,
];

/// The policy for opening messages: [`policy`], plus [`LEGACY_CIPHERS`]
/// when `allow_legacy` is set.
pub fn reading_policy(allow_legacy: bool) -> &'static StandardPolicy<'static> {
    static LEGACY: OnceLock<StandardPolicy<'static>> = OnceLock::new();
    if !allow_legacy {
        return policy();
    }
    LEGACY.get_or_init(|| {
        let mut legacy = StandardPolicy::new();
        for cipher in LEGACY_CIPHERS {
            legacy.accept_symmetric_algo(cipher);
        }
        legacy
    })
}

/// How far opening (decrypt, verify) a received message may go.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// The most plaintext bytes (after decompression) one OpenPGP message
    /// may yield; `None`: [`OpenOptions::plaintext_limit`]'s default.
    pub max_decompressed: Option<u64>,
    /// Read data encrypted with [`LEGACY_CIPHERS`].
    pub allow_legacy: bool,
}

impl OpenOptions {
    /// Plaintext per byte of input allowed by default: deflate's best case
    /// is about 1000:1, real mail rarely exceeds 10:1.
    pub const DEFAULT_RATIO: u64 = 100;
    /// The default limit is never below this (small, very compressible
    /// messages) ...
    pub const DEFAULT_FLOOR: u64 = 64 << 20;
    /// ... nor, unless the input itself is larger, above this.
    pub const DEFAULT_CEILING: u64 = 1 << 30;

    /// The plaintext limit for an OpenPGP message of `input_len` bytes:
    /// `max_decompressed`, or by default 100 times the input, at least
    /// 64 MiB, at most 1 GiB or the input's own size if larger.
    pub fn plaintext_limit(&self, input_len: usize) -> u64 {
        let input = input_len as u64;
        self.max_decompressed.unwrap_or_else(|| {
            input
                .saturating_mul(Self::DEFAULT_RATIO)
                .clamp(Self::DEFAULT_FLOOR, Self::DEFAULT_CEILING)
                .max(input)
        })
    }
}
