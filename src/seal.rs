//! Planning a sealed message: who the recipients are, which technology and
//! which keys each one gets, and who signs. OpenPGP is the one technology
//! so far; the plan is where S/MIME will join it.

use sequoia_openpgp::cert::Cert;

use crate::discover::Discovery;
use crate::keys::{normalize_address, CertStore, SecretKeys};
use crate::message::Headers;
use crate::Result;

/// One recipient of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address, as written.
    pub address: String,
    /// Named only in Bcc: must not be identifiable in the output.
    pub hidden: bool,
}

/// The recipients of a message: `explicit` (from `-r`) when given, else To,
/// Cc and Bcc. Duplicates are dropped; a visible mention wins over Bcc.
pub fn recipients(headers: &Headers, explicit: &[String]) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let mut add = |address: &str, hidden: bool| {
        let key = normalize_address(address);
        match out
            .iter_mut()
            .find(|r| normalize_address(&r.address) == key)
        {
            Some(existing) => existing.hidden &= hidden,
            None => out.push(Recipient {
                address: address.to_string(),
                hidden,
            }),
        }
    };
    if explicit.is_empty() {
        for name in ["To", "Cc"] {
            for address in headers.addresses(name) {
                add(&address, false);
            }
        }
        for address in headers.addresses("Bcc") {
            add(&address, true);
        }
    } else {
        let bcc: Vec<String> = headers
            .addresses("Bcc")
            .iter()
            .map(|a| normalize_address(a))
            .collect();
        for address in explicit {
            add(address, bcc.contains(&normalize_address(address)));
        }
    }
    out
}

/// Candidate certificates for each recipient, from the store and from own
/// keys (so that writing to oneself works without importing one's own
/// certificate), and from key discovery when none of those is usable.
pub fn candidate_certs(
    store: &CertStore,
    own: &SecretKeys,
    discovery: Option<&Discovery>,
    address: &str,
) -> Result<Vec<Cert>> {
    let mut certs = store.by_address(address)?;
    for key in own.find(address)? {
        if !certs.iter().any(|c| c.fingerprint() == key.fingerprint()) {
            certs.push(key.strip_secret_key_material());
        }
    }
    if let Some(discovery) = discovery {
        certs.extend(discovery.for_sealing(address, &certs));
    }
    Ok(certs)
}

/// The sender's own keys that may sign: the configured identity first,
/// else every own key with a user ID for `address`.
pub fn sender_keys(own: &SecretKeys, configured: Option<&str>, address: &str) -> Result<Vec<Cert>> {
    match configured {
        Some(fingerprint) => own.find(fingerprint),
        None => own.find(address),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_recipients_are_hidden_unless_also_visible() {
        let headers = Headers::parse(b"To: a@x\nCc: B@y\nBcc: c@z, b@y\n").unwrap();
        let r = recipients(&headers, &[]);
        assert_eq!(
            r,
            vec![
                Recipient {
                    address: "a@x".into(),
                    hidden: false
                },
                Recipient {
                    address: "B@y".into(),
                    hidden: false
                },
                Recipient {
                    address: "c@z".into(),
                    hidden: true
                },
            ]
        );
    }
}
