//! Keys, every store in the home: others' OpenPGP certificates (an
//! openpgp-cert-d directory with an address index), own secret keys (TSK
//! files, 0600), the passphrases that unlock them, and the S/MIME stores
//! (own keys with their chains, others' X.509 certificates).

pub mod address;
pub mod certstore;
pub mod last_used;
pub mod passphrase;
pub mod secret;
pub mod smime;

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::parse::{PacketParserResult, Parse};

use crate::{Error, Result};

pub use address::userid_address;
pub use certstore::CertStore;
pub use passphrase::Unlocker;
pub use secret::SecretKeys;

/// Parses one or many certificates or keys, armored or binary (e.g. the
/// output of `gpg --export` or `gpg --export-secret-keys`).
pub fn parse_certs(data: &[u8]) -> Result<Vec<Cert>> {
    let looks_like_openpgp = !matches!(
        sequoia_openpgp::parse::PacketParser::from_bytes(data),
        Err(_) | Ok(PacketParserResult::EOF(_))
    );
    if !looks_like_openpgp {
        return Err(Error::Malformed(
            "no OpenPGP certificate or key found in the input".into(),
        ));
    }
    let certs = CertParser::from_bytes(data)
        .map_err(|e| Error::Malformed(format!("cannot parse OpenPGP data: {e}")))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Malformed(format!("cannot parse OpenPGP data: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Malformed(
            "no OpenPGP certificate or key found in the input".into(),
        ));
    }
    Ok(certs)
}

/// The crypto backend this build uses (a Cargo feature name).
pub const BACKEND: &str = if cfg!(feature = "crypto-openssl") {
    "crypto-openssl"
} else if cfg!(feature = "crypto-nettle") {
    "crypto-nettle"
} else {
    "crypto-rust"
};

/// Refuses a certificate or key with a key on an elliptic curve this
/// build's backend cannot use (brainpool with crypto-rust): sequoia would
/// store it, but could neither check its binding signatures nor use it.
pub fn check_supported(cert: &Cert) -> Result<()> {
    use sequoia_openpgp::crypto::mpi::PublicKey;
    for key in cert.keys() {
        let curve = match key.key().mpis() {
            PublicKey::ECDSA { curve, .. }
            | PublicKey::EdDSA { curve, .. }
            | PublicKey::ECDH { curve, .. } => curve,
            _ => continue,
        };
        if !curve.is_supported() {
            return Err(Error::Unsupported {
                what: format!(
                    "key {} uses {} on curve {curve}, which this build's crypto backend ({BACKEND}) does not support; it was not imported",
                    cert.fingerprint(),
                    key.key().pk_algo()
                ),
                hint: "use a mailseal built with `cargo build --release --no-default-features --features crypto-openssl` (needs libclang-dev and libssl-dev), or ask the key's owner for an Ed25519/X25519, NIST P-256/P-384 or RSA key".into(),
            });
        }
    }
    Ok(())
}

/// The normalized e-mail addresses in a certificate's user IDs that the
/// certificate binds now: with a valid self-signature under the policy and
/// not revoked. A user ID packet merely appended to a certificate binds
/// nothing.
pub fn addresses(cert: &Cert) -> Vec<String> {
    use sequoia_openpgp::types::RevocationStatus;
    let Ok(valid) = cert.with_policy(crate::openpgp::policy(), None) else {
        return Vec::new();
    };
    let mut out: Vec<String> = valid
        .userids()
        .filter(|u| !matches!(u.revocation_status(), RevocationStatus::Revoked(_)))
        .filter_map(|u| userid_address(u.userid()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Lowercases the domain and the local part, as `email_normalized` does,
/// so addresses compare equal to those in the index.
pub fn normalize_address(address: &str) -> String {
    address.trim().to_lowercase()
}

/// The first line `key list` and `cert list` print for a certificate of
/// either technology: fingerprint, algorithm, dates (RFC 3339, shown as
/// days) and status.
pub fn summary_line(
    fingerprint: &str,
    algorithm: &str,
    created: &str,
    expires: Option<&str>,
    status: &str,
) -> String {
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    format!(
        "{fingerprint}  {algorithm}  created {}{}  [{status}]",
        day(created),
        expires
            .map(|e| format!(", expires {}", day(e)))
            .unwrap_or_default(),
    )
}

/// What `key list` and `cert list` show about a certificate.
#[derive(Debug, serde::Serialize)]
pub struct CertSummary {
    pub fingerprint: String,
    /// The user IDs the certificate binds now (a valid self-signature,
    /// not revoked): the only ones mailseal trusts.
    pub user_ids: Vec<String>,
    /// User IDs it carries without binding them (no valid
    /// self-signature, or revoked): ignored, shown so nobody mistakes
    /// them for the certificate's addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unbound_user_ids: Vec<String>,
    pub algorithm: String,
    pub created: String,
    pub expires: Option<String>,
    /// `valid`, `expired`, `revoked` or `invalid: …`.
    pub status: String,
    /// Whether secret key material is present, and whether it is protected.
    pub secret: bool,
    pub protected: bool,
}

impl CertSummary {
    /// Summarizes `cert` as of now.
    pub fn of(cert: &Cert) -> CertSummary {
        use sequoia_openpgp::types::RevocationStatus;
        let policy = crate::openpgp::policy();
        let time = |t: std::time::SystemTime| humantime::format_rfc3339_seconds(t).to_string();
        let (status, expires) = match cert.with_policy(policy, None) {
            Ok(valid) => {
                let expires = valid.primary_key().key_expiration_time().map(time);
                let status = if let RevocationStatus::Revoked(_) = valid.revocation_status() {
                    "revoked".to_string()
                } else if valid.alive().is_err() {
                    "expired".to_string()
                } else {
                    "valid".to_string()
                };
                (status, expires)
            }
            Err(e) => (format!("invalid: {e}"), None),
        };
        let primary = cert.primary_key().key();
        let bound: Vec<&[u8]> = match cert.with_policy(policy, None) {
            Ok(valid) => valid
                .userids()
                .filter(|u| !matches!(u.revocation_status(), RevocationStatus::Revoked(_)))
                .map(|u| u.userid().value())
                .collect(),
            Err(_) => Vec::new(),
        };
        let (user_ids, unbound_user_ids): (Vec<_>, Vec<_>) = cert
            .userids()
            .map(|u| u.userid().value())
            .partition(|value| bound.contains(value));
        let text = |values: Vec<&[u8]>| {
            values
                .into_iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        };
        CertSummary {
            fingerprint: cert.fingerprint().to_hex(),
            user_ids: text(user_ids),
            unbound_user_ids: text(unbound_user_ids),
            algorithm: format!(
                "{}{}",
                primary.pk_algo(),
                primary
                    .mpis()
                    .bits()
                    .map(|b| format!(" {b} bits"))
                    .unwrap_or_default()
            ),
            created: time(primary.creation_time()),
            expires,
            status,
            secret: cert.is_tsk(),
            protected: cert
                .keys()
                .secret()
                .any(|k| !k.key().has_unencrypted_secret()),
        }
    }

    /// Two lines for people.
    pub fn describe(&self) -> String {
        let mut text = summary_line(
            &self.fingerprint,
            &self.algorithm,
            &self.created,
            self.expires.as_deref(),
            &self.status,
        );
        if self.protected {
            text.push_str(" (passphrase-protected)");
        }
        for uid in &self.user_ids {
            text.push_str(&format!("\n    {uid}"));
        }
        for uid in &self.unbound_user_ids {
            text.push_str(&format!(
                "\n    (not bound, ignored: {uid}: no valid self-signature, or revoked)"
            ));
        }
        text
    }
}
