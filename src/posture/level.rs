//! Protection levels: what one recipient's copy of a message gets end to
//! end, in the one vocabulary `status` (and its `--json`) uses. There is
//! no "none": mailseal never sends in clear, so the weakest level is
//! `transport only`, and how exposed such a copy is depends on the
//! recipient domain's inbound summary ([`super::Inbound`]).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use sequoia_openpgp::Cert;

use super::InboundSummary;
use crate::discover::{Provenance, ProvenanceStore};
use crate::keys::normalize_address;

/// A key expiring within this many days gets a warning.
pub const EXPIRY_WARNING_DAYS: u64 = 30;

/// What a copy to one recipient gets end to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Encrypted to a key bound to the address by a source that verifies
    /// it (WKD, DNSSEC-validated DANE, a verifying VKS keyserver, SMIMEA)
    /// or an S/MIME certificate that validates to a configured trust
    /// anchor.
    EndToEndVerifiedKey,
    /// Encrypted to a key of weaker provenance (imported by hand, or from
    /// a source that does not verify the address).
    EndToEnd,
    /// Signed, not encrypted: readable on every hop and at the relays.
    SignedOnly,
    /// Neither encrypted nor signed: only the TLS of each hop protects it.
    TransportOnly,
}

impl Level {
    /// The words the human output uses.
    pub fn text(self) -> &'static str {
        match self {
            Level::EndToEndVerifiedKey => "end-to-end, verified key",
            Level::EndToEnd => "end-to-end",
            Level::SignedOnly => "signed only",
            Level::TransportOnly => "transport only",
        }
    }

    /// Whether the copy is encrypted to the recipient.
    pub fn end_to_end(self) -> bool {
        matches!(self, Level::EndToEndVerifiedKey | Level::EndToEnd)
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// Whether `provenance` is a source that verifies its address: WKD, a
/// verifying (VKS) keyserver, SMIMEA, or DANE validated with DNSSEC.
pub fn verifies(provenance: &Provenance) -> bool {
    provenance.verifies_address
        && match provenance.method.as_str() {
            "wkd" | "keyserver" | "smimea" => true,
            "dane" => provenance.dnssec == "secure",
            _ => false,
        }
}

/// The level of an OpenPGP key for an address given its provenance record
/// for that address (`None`: imported by hand), and why it is not
/// verified when it is not.
pub fn key_level(provenance: Option<&Provenance>) -> (Level, Option<String>) {
    match provenance {
        Some(p) if verifies(p) => (Level::EndToEndVerifiedKey, None),
        Some(p) if !p.verifies_address => (
            Level::EndToEnd,
            Some(format!(
                "the key came from {} {}, which does not check that the address owner published it",
                p.method, p.source
            )),
        ),
        Some(p) => (
            Level::EndToEnd,
            Some(format!(
                "the key came from {} {} without DNSSEC validation",
                p.method, p.source
            )),
        ),
        None => (
            Level::EndToEnd,
            Some(
                "the key was imported by hand: no source verified that it belongs to this address"
                    .to_string(),
            ),
        ),
    }
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The key (or certificate) expires within [`EXPIRY_WARNING_DAYS`].
    ExpiresSoon,
    /// Nothing verified that the key belongs to the address.
    UnverifiedSource,
    /// Another key than the one the last sealed copy to this address was
    /// encrypted to.
    KeyChanged,
    /// A certificate for the address is revoked (another key, or none,
    /// is used instead).
    Revoked,
}

/// A warning about a recipient's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub text: String,
}

/// What one recipient's copy of a sealed message gets: the words `send`,
/// `sendmail -v` and the agent's log use, as `status` does.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientLevel {
    pub address: String,
    pub level: Level,
    /// Why an end-to-end key is not verified.
    pub reason: Option<String>,
    /// The OpenPGP fingerprint or the S/MIME certificate's SHA-256.
    pub fingerprint: Option<String>,
    /// The own key that certified the recipient's OpenPGP key for the
    /// address (which makes it a verified key).
    pub certified_by: Option<String>,
    pub warnings: Vec<Warning>,
    /// For a copy that is not encrypted: the recipient domain's inbound
    /// protection, when it was checked (`require_inbound`).
    pub inbound: Option<InboundSummary>,
}

impl RecipientLevel {
    /// A copy that is not encrypted end to end: signed only or transport
    /// only.
    pub fn unencrypted(address: &str, signed: bool, inbound: Option<InboundSummary>) -> Self {
        RecipientLevel {
            address: address.to_string(),
            level: if signed {
                Level::SignedOnly
            } else {
                Level::TransportOnly
            },
            reason: None,
            fingerprint: None,
            certified_by: None,
            warnings: Vec::new(),
            inbound,
        }
    }

    /// `end-to-end, verified key`, `end-to-end (why)` or `transport only;
    /// inbound mail to D …`, then the warnings.
    pub fn describe(&self) -> String {
        let mut text = self.level.to_string();
        if let Some(why) = &self.reason {
            text.push_str(&format!(" ({why})"));
        }
        if let Some(inbound) = &self.inbound {
            text.push_str(&format!("; {}", inbound.describe()));
        }
        for w in self
            .warnings
            .iter()
            .filter(|w| w.kind != WarningKind::UnverifiedSource)
        {
            text.push_str(&format!("; warning: {}", w.text));
        }
        text
    }
}

/// The level of a copy to `address` encrypted to the OpenPGP `cert`: a
/// verified key when one of the user's `own` keys certified its user ID
/// for the address (as `gpg --sign-key` does), else from the cert's
/// provenance record for that address (none: imported by hand); with its
/// warnings (expiry, unverified source, a key other than `last_used`),
/// and the record.
pub fn openpgp_level(
    address: &str,
    cert: &Cert,
    own: &[Cert],
    provenance: &ProvenanceStore,
    last_used: Option<&str>,
    now: SystemTime,
) -> (RecipientLevel, Option<Provenance>) {
    let fingerprint = cert.fingerprint().to_hex();
    let normalized = normalize_address(address);
    let record = provenance
        .get(&fingerprint)
        .iter()
        .rev()
        .find(|p| p.address == normalized)
        .cloned();
    let certifier = certified_by(cert, address, own);
    let (level, reason) = match certifier {
        Some(_) => (Level::EndToEndVerifiedKey, None),
        None => key_level(record.as_ref()),
    };
    let mut warnings: Vec<Warning> = expiry_warning(openpgp_expiry(cert), now)
        .into_iter()
        .collect();
    if let Some(why) = &reason {
        warnings.push(Warning {
            kind: WarningKind::UnverifiedSource,
            text: why.clone(),
        });
    }
    warnings.extend(key_changed_warning(&fingerprint, last_used));
    let level = RecipientLevel {
        address: address.to_string(),
        level,
        reason,
        fingerprint: Some(fingerprint),
        certified_by: certifier,
        warnings,
        inbound: None,
    };
    (level, record)
}

/// The level of a copy to `address` encrypted to an S/MIME certificate
/// (SHA-256 `fingerprint`, usable until `expires`) that validated to a
/// trust anchor: a verified key, with its warnings (expiry, a certificate
/// other than `last_used`).
pub fn smime_level(
    address: &str,
    fingerprint: String,
    expires: SystemTime,
    last_used: Option<&str>,
    now: SystemTime,
) -> RecipientLevel {
    let warnings = expiry_warning(Some(expires), now)
        .into_iter()
        .chain(key_changed_warning(&fingerprint, last_used))
        .collect();
    RecipientLevel {
        address: address.to_string(),
        level: Level::EndToEndVerifiedKey,
        reason: None,
        fingerprint: Some(fingerprint),
        certified_by: None,
        warnings,
        inbound: None,
    }
}

/// The own key (of `own`) whose certification of `cert`'s user ID for
/// `address` verifies, if any: the user vouched for the binding.
fn certified_by(cert: &Cert, address: &str, own: &[Cert]) -> Option<String> {
    let normalized = normalize_address(address);
    let policy = crate::openpgp::policy();
    let certifiers: Vec<_> = own
        .iter()
        .filter_map(|c| c.with_policy(policy, None).ok())
        .flat_map(|valid| {
            let fingerprint = valid.fingerprint().to_hex();
            valid
                .keys()
                .alive()
                .revoked(false)
                .for_certification()
                .map(move |k| (fingerprint.clone(), k.key().clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    cert.userids()
        .filter(|ua| crate::keys::userid_address(ua.userid()).as_deref() == Some(&normalized))
        .flat_map(|ua| ua.certifications().map(move |sig| (ua.userid(), sig)))
        .find_map(|(userid, sig)| {
            certifiers.iter().find_map(|(fingerprint, key)| {
                sig.verify_userid_binding(key, cert.primary_key().key(), userid)
                    .ok()
                    .map(|()| fingerprint.clone())
            })
        })
}

/// A warning for each of `certs` (the address's candidates) that is
/// revoked: mail to the address goes to another key, or to none.
pub fn revoked_warnings(certs: &[Cert]) -> Vec<Warning> {
    use sequoia_openpgp::types::RevocationStatus;
    certs
        .iter()
        .filter(|c| {
            matches!(
                c.revocation_status(crate::openpgp::policy(), None),
                RevocationStatus::Revoked(_)
            )
        })
        .map(|c| Warning {
            kind: WarningKind::Revoked,
            text: format!(
                "certificate {} for this address is revoked; no mail is encrypted to it",
                c.fingerprint()
            ),
        })
        .collect()
}

/// A warning when `fingerprint` is not the key the last sealed copy used.
pub fn key_changed_warning(fingerprint: &str, last_used: Option<&str>) -> Option<Warning> {
    let last = last_used.filter(|last| !last.eq_ignore_ascii_case(fingerprint))?;
    Some(Warning {
        kind: WarningKind::KeyChanged,
        text: format!(
            "the key changed since the last message sealed to this address (it was {last}); make sure the recipient really has a new key"
        ),
    })
}

/// A warning when a key usable until `expires` (`None`: never) stops
/// being usable within [`EXPIRY_WARNING_DAYS`] of `now`.
pub fn expiry_warning(expires: Option<SystemTime>, now: SystemTime) -> Option<Warning> {
    let expires = expires?;
    let left = expires.duration_since(now).unwrap_or_default();
    if left > Duration::from_secs(EXPIRY_WARNING_DAYS * 86_400) {
        return None;
    }
    let days = left.as_secs() / 86_400;
    let when = match days {
        0 => "within a day".to_string(),
        1 => "in 1 day".to_string(),
        n => format!("in {n} days"),
    };
    Some(Warning {
        kind: WarningKind::ExpiresSoon,
        text: format!(
            "the key expires {when} ({}); ask for a renewed one",
            humantime::format_rfc3339_seconds(expires)
        ),
    })
}

/// Until when `cert` can receive encrypted mail (`None`: no expiry): the
/// latest expiry of its usable encryption keys, capped by the primary
/// key's.
pub fn openpgp_expiry(cert: &sequoia_openpgp::Cert) -> Option<SystemTime> {
    let valid = cert.with_policy(crate::openpgp::policy(), None).ok()?;
    let primary = valid.primary_key().key_expiration_time();
    let mut latest = Some(SystemTime::UNIX_EPOCH);
    for ka in valid
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption()
        .for_storage_encryption()
    {
        latest = match (latest, ka.key_expiration_time()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    match (primary, latest) {
        (Some(p), Some(l)) => Some(p.min(l)),
        (p, l) => p.or(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prov(method: &str, dnssec: &str, verifies: bool) -> Provenance {
        Provenance {
            address: "bob@example.org".into(),
            method: method.into(),
            source: "src".into(),
            dnssec: dnssec.into(),
            fetched_at: "2024-01-01T00:00:00Z".into(),
            verifies_address: verifies,
            accepted: false,
        }
    }

    #[test]
    fn provenance_decides_the_level() {
        for (method, dnssec) in [
            ("wkd", "none"),
            ("dane", "secure"),
            ("keyserver", "none"),
            ("smimea", "secure"),
        ] {
            let p = prov(method, dnssec, true);
            assert_eq!(key_level(Some(&p)), (Level::EndToEndVerifiedKey, None));
        }
        let (level, reason) = key_level(Some(&prov("keyserver", "none", false)));
        assert_eq!(level, Level::EndToEnd);
        assert!(reason.unwrap().contains("does not check"));
        let (level, reason) = key_level(Some(&prov("dane", "insecure", true)));
        assert_eq!(level, Level::EndToEnd);
        assert!(reason.unwrap().contains("DNSSEC"));
        let (level, reason) = key_level(None);
        assert_eq!(level, Level::EndToEnd);
        assert!(reason.unwrap().contains("imported by hand"));
    }

    #[test]
    fn words_and_json_names() {
        assert_eq!(
            Level::EndToEndVerifiedKey.to_string(),
            "end-to-end, verified key"
        );
        assert_eq!(Level::TransportOnly.to_string(), "transport only");
        assert_eq!(
            serde_json::to_value(Level::EndToEndVerifiedKey).unwrap(),
            "end_to_end_verified_key"
        );
        assert_eq!(
            serde_json::to_value(Level::SignedOnly).unwrap(),
            "signed_only"
        );
    }

    #[test]
    fn expiry_within_thirty_days_warns() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(expiry_warning(None, now), None);
        assert_eq!(expiry_warning(Some(now + day * 31), now), None);
        let w = expiry_warning(Some(now + day * 10 + Duration::from_secs(60)), now).unwrap();
        assert_eq!(w.kind, WarningKind::ExpiresSoon);
        assert!(
            w.text.starts_with("the key expires in 10 days ("),
            "{}",
            w.text
        );
        let w = expiry_warning(Some(now + Duration::from_secs(60)), now).unwrap();
        assert!(w.text.contains("within a day"), "{}", w.text);
    }
}
