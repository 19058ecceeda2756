//! Choosing certificates: which certificate of a recipient to encrypt to,
//! which own identity signs and decrypts, each validated first.

use std::time::SystemTime;

use super::certs::{OwnIdentity, SmimeCert};
use super::validate::{self, Usage};
use crate::keys::smime::CertStore;
use crate::{Error, Result};

/// Everything needed to pick and check certificates.
pub struct Keyring<'a> {
    /// Others' certificates.
    pub store: &'a CertStore,
    /// Own keys with their certificates and chains.
    pub own: &'a [OwnIdentity],
    /// `smime.trust_anchors`.
    pub anchors: &'a [SmimeCert],
}

impl Keyring<'_> {
    /// Certificates that may serve as intermediates when building paths.
    pub fn intermediates(&self) -> Result<Vec<SmimeCert>> {
        let mut out = self.store.all()?;
        for id in self.own {
            out.extend(id.chain.iter().cloned());
        }
        Ok(out)
    }

    /// The certificate to encrypt to for `address`: an own one (encrypting
    /// to oneself needs no path), else the newest stored certificate that
    /// passes validation. When every candidate fails, the first failure
    /// says which check.
    pub fn encryption_cert(&self, address: &str) -> Result<SmimeCert> {
        let now = SystemTime::now();
        let own: Vec<&OwnIdentity> = self
            .own
            .iter()
            .filter(|id| id.cert.has_address(address))
            .collect();
        if let Some(id) = own.iter().find(|id| {
            let (nb, na) = id.cert.validity();
            nb <= now && now <= na
        }) {
            return Ok(id.cert.clone());
        }
        let candidates = self.store.by_address(address)?;
        if candidates.is_empty() {
            return Err(Error::NoKey {
                recipient: address.to_string(),
                reason: "no S/MIME certificate for this address in the store".into(),
            });
        }
        let intermediates = self.intermediates()?;
        let mut first_error = None;
        let mut sorted = candidates;
        sorted.sort_by_key(|c| std::cmp::Reverse(c.validity().0));
        for cert in sorted {
            match validate::validate(
                &cert,
                Some(address),
                Usage::Encrypt,
                &intermediates,
                self.anchors,
                now,
            ) {
                Ok(_) => return Ok(cert),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.expect("at least one candidate"))
    }

    /// The own identity for `address` (or with that fingerprint prefix).
    pub fn own_identity(&self, query: &str) -> Option<&OwnIdentity> {
        let q = query.trim().to_lowercase();
        let now = SystemTime::now();
        self.own
            .iter()
            .filter(|id| {
                id.cert.has_address(&q) || (q.len() >= 8 && id.cert.fingerprint().starts_with(&q))
            })
            .max_by_key(|id| {
                let (nb, na) = id.cert.validity();
                (nb <= now && now <= na, nb)
            })
    }
}
