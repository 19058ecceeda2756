//! PGP/MIME (RFC 3156) with sequoia-openpgp: encrypt (optionally signed, §6.2),
//! sign (multipart/signed), decrypt and verify, plus legacy inline PGP on
//! input.

pub mod decrypt;
pub mod encrypt;
pub mod pgpmime;
pub mod recipients;
pub mod sign;
pub mod verify;

use sequoia_openpgp::policy::StandardPolicy;

pub use decrypt::{decrypt_message, Opened};
pub use encrypt::{encrypt_message, EncryptOptions};
pub use recipients::{add_encrypt_to_self, encryption_keys, signing_key, RecipientKeys};
pub use sign::sign_message;
pub use verify::{verify_message, SignatureReport, SignatureStatus};

/// The policy every operation uses: sequoia's standard policy (rejects
/// SHA-1 signatures, weak ciphers and short keys).
pub fn policy() -> &'static StandardPolicy<'static> {
    static POLICY: StandardPolicy<'static> = StandardPolicy::new();
    &POLICY
}
