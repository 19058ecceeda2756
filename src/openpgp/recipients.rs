//! Choosing keys: the encryption subkeys of a recipient's certificate and
//! the signing key of an own key, with a reason when there is none.

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::cert::Cert;
use sequoia_openpgp::crypto::KeyPair;
use sequoia_openpgp::packet::key::{PublicParts, UnspecifiedRole};
use sequoia_openpgp::packet::Key;
use sequoia_openpgp::types::RevocationStatus;

use super::policy;
use crate::keys::Unlocker;
use crate::{Error, Result};

/// A recipient's usable encryption keys.
pub struct RecipientKeys<'a> {
    /// The address the keys were chosen for.
    pub address: String,
    /// A Bcc recipient: its key ID is hidden (wildcard) unless the copy is
    /// addressed to it alone (see [`super::encrypt::encrypt_message`]).
    pub hidden: bool,
    /// The sender's own key, added by [`add_encrypt_to_self`].
    pub own: bool,
    /// The certificate the keys belong to.
    pub cert: &'a Cert,
    /// Encryption-capable, alive, unrevoked (sub)keys.
    pub keys: Vec<&'a Key<PublicParts, UnspecifiedRole>>,
}

/// Why `cert` cannot sign or receive mail now, if it cannot.
fn unusable_reason(cert: &Cert) -> Option<String> {
    let valid = match cert.with_policy(policy(), None) {
        Ok(valid) => valid,
        Err(e) => {
            return Some(format!(
                "certificate {} is not valid: {e}",
                cert.fingerprint()
            ))
        }
    };
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Some(format!("certificate {} is revoked", cert.fingerprint()));
    }
    if let Err(e) = valid.alive() {
        return Some(format!(
            "certificate {} has expired ({e})",
            cert.fingerprint()
        ));
    }
    None
}

/// Whether `cert` has a valid, unrevoked user ID for `address`.
fn binds_address(cert: &Cert, address: &str) -> bool {
    let wanted = crate::keys::normalize_address(address);
    cert.with_policy(policy(), None).is_ok_and(|valid| {
        valid.userids().any(|u| {
            !matches!(u.revocation_status(), RevocationStatus::Revoked(_))
                && crate::keys::userid_address(u.userid()).as_deref() == Some(wanted.as_str())
        })
    })
}

/// The encryption keys of the first usable certificate among `candidates`
/// for `address`; the error says why none could be used.
pub fn encryption_keys<'a>(
    address: &str,
    candidates: &'a [Cert],
    hidden: bool,
) -> Result<RecipientKeys<'a>> {
    let mut reasons = Vec::new();
    for cert in candidates {
        if let Some(reason) = unusable_reason(cert) {
            reasons.push(reason);
            continue;
        }
        if !binds_address(cert, address) {
            reasons.push(format!(
                "certificate {} has no valid user ID for {address}",
                cert.fingerprint()
            ));
            continue;
        }
        let keys: Vec<_> = cert
            .keys()
            .with_policy(policy(), None)
            .supported()
            .alive()
            .revoked(false)
            .for_transport_encryption()
            .for_storage_encryption()
            .map(|ka| ka.key().role_as_unspecified())
            .collect();
        if keys.is_empty() {
            reasons.push(format!(
                "certificate {} has no usable encryption subkey (expired, revoked or missing)",
                cert.fingerprint()
            ));
            continue;
        }
        return Ok(RecipientKeys {
            address: address.to_string(),
            hidden,
            own: false,
            cert,
            keys,
        });
    }
    if reasons.is_empty() {
        reasons.push("no certificate for this address in the store".into());
    }
    Err(Error::NoKey {
        recipient: address.to_string(),
        reason: reasons.join("; "),
    })
}

/// Adds the sender's own encryption keys from `own_keys`, so the sent copy
/// stays readable, unless a recipient already has that certificate. An own
/// key that cannot encrypt is skipped: encrypting to self is a convenience.
pub fn add_encrypt_to_self<'a>(
    keys: &mut Vec<RecipientKeys<'a>>,
    sender: &str,
    own_keys: &'a [Cert],
) {
    if let Ok(mut own) = encryption_keys(sender, own_keys, false) {
        own.own = true;
        if !keys
            .iter()
            .any(|k| k.cert.fingerprint() == own.cert.fingerprint())
        {
            keys.push(own);
        }
    }
}

/// An unlocked signing key pair from the first usable own key among
/// `candidates`, with the certificate it belongs to.
pub fn signing_key<'a>(
    candidates: &'a [Cert],
    unlocker: &Unlocker,
) -> Result<Option<(&'a Cert, KeyPair)>> {
    for cert in candidates {
        if unusable_reason(cert).is_some() {
            continue;
        }
        let key = cert
            .keys()
            .with_policy(policy(), None)
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .secret()
            .next();
        if let Some(ka) = key {
            let keypair = unlocker.unlock(ka.key().role_as_unspecified())?;
            return Ok(Some((cert, keypair)));
        }
    }
    Ok(None)
}
