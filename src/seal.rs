//! Planning and sealing a message: who the recipients are, which copies
//! go out (the visible recipients share one, every Bcc recipient gets its
//! own), and what each copy gets under `[policy]`: which technology, which
//! keys, who signs. OpenPGP is the one technology so far; the [`Sealer`] is
//! where S/MIME joins it.

use sequoia_openpgp::cert::Cert;
use serde::Serialize;

use crate::config::{Config, Protection};
use crate::keys::{normalize_address, CertStore, SecretKeys, Unlocker};
use crate::message::Headers;
use crate::openpgp::{self, EncryptOptions, RecipientKeys};
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
/// certificate).
pub fn candidate_certs(store: &CertStore, own: &SecretKeys, address: &str) -> Result<Vec<Cert>> {
    let mut certs = store.by_address(address)?;
    for key in own.find(address)? {
        if !certs.iter().any(|c| c.fingerprint() == key.fingerprint()) {
            certs.push(key.strip_secret_key_material());
        }
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

/// Splits `recipients` into copies: the visible recipients share one, and
/// every hidden (Bcc) recipient gets a copy of its own, so no copy names a
/// Bcc recipient.
pub fn copies(recipients: &[Recipient]) -> Vec<Vec<Recipient>> {
    let visible: Vec<Recipient> = recipients.iter().filter(|r| !r.hidden).cloned().collect();
    let mut groups = Vec::new();
    if !visible.is_empty() {
        groups.push(visible);
    }
    groups.extend(
        recipients
            .iter()
            .filter(|r| r.hidden)
            .map(|r| vec![r.clone()]),
    );
    groups
}

/// What a sealed copy got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sealing {
    #[serde(rename = "encrypted+signed")]
    EncryptedSigned,
    Encrypted,
    Signed,
    Plain,
}

impl Sealing {
    /// `encrypted+signed`, `encrypted`, `signed` or `plain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sealing::EncryptedSigned => "encrypted+signed",
            Sealing::Encrypted => "encrypted",
            Sealing::Signed => "signed",
            Sealing::Plain => "plain",
        }
    }

    /// The technology that sealed it, if any.
    pub fn technology(self) -> Option<&'static str> {
        (self != Sealing::Plain).then_some("openpgp")
    }
}

/// One sealed copy of a message: its recipients, bytes and protection.
#[derive(Debug)]
pub struct SealedCopy {
    pub recipients: Vec<Recipient>,
    pub data: Vec<u8>,
    pub sealing: Sealing,
}

/// Seals copies of one sender's message under `[policy]`.
pub struct Sealer<'a> {
    config: &'a Config,
    unlocker: &'a Unlocker,
    store: &'a CertStore,
    own: &'a SecretKeys,
    sender: String,
    /// The sender's own keys: they sign, and are encrypted to (to self).
    sender_keys: Vec<Cert>,
}

impl<'a> Sealer<'a> {
    /// A sealer for messages from `sender`.
    pub fn new(
        config: &'a Config,
        unlocker: &'a Unlocker,
        store: &'a CertStore,
        own: &'a SecretKeys,
        sender: &str,
    ) -> Result<Sealer<'a>> {
        let sender_keys = sender_keys(own, config.openpgp_identity(sender), sender)?;
        Ok(Sealer {
            config,
            unlocker,
            store,
            own,
            sender: sender.to_string(),
            sender_keys,
        })
    }

    /// Seals `headers` + `body` (Bcc already removed) for the recipients
    /// of one copy. The strictest policy among them wins:
    /// require-encryption fails with [`crate::Error::NoKey`] unless every
    /// recipient has a usable key; encrypt-if-possible falls back to a
    /// signature (when the sender can sign and `[policy] sign` is on) or
    /// to the message as it is; sign-only signs when it can.
    pub fn seal(
        &self,
        headers: &Headers,
        body: &[u8],
        group: Vec<Recipient>,
    ) -> Result<SealedCopy> {
        let policy = &self.config.policy;
        let strictest = group
            .iter()
            .map(|r| policy.protection_for(&r.address))
            .max_by_key(|p| rank(*p))
            .unwrap_or(policy.default);

        if rank(strictest) >= 2 {
            let candidates: Vec<Vec<Cert>> = group
                .iter()
                .map(|r| candidate_certs(self.store, self.own, &r.address))
                .collect::<Result<_>>()?;
            let keys: Result<Vec<RecipientKeys>> = group
                .iter()
                .zip(&candidates)
                .map(|(r, certs)| openpgp::encryption_keys(&r.address, certs, false))
                .collect();
            match keys {
                Ok(keys) => return self.encrypt(headers, body, keys, group),
                Err(e) if strictest == Protection::RequireEncryption => return Err(e),
                Err(_) => {}
            }
        }
        if rank(strictest) >= 1 && policy.sign {
            if let Some((_, keypair)) = openpgp::signing_key(&self.sender_keys, self.unlocker)? {
                let message = headers.with_body(body);
                let data = openpgp::sign_message(&message, keypair, policy.protect_headers)?;
                return Ok(SealedCopy {
                    recipients: group,
                    data,
                    sealing: Sealing::Signed,
                });
            }
        }
        Ok(SealedCopy {
            recipients: group,
            data: headers.with_body(body),
            sealing: Sealing::Plain,
        })
    }

    fn encrypt<'k>(
        &'k self,
        headers: &Headers,
        body: &[u8],
        mut keys: Vec<RecipientKeys<'k>>,
        group: Vec<Recipient>,
    ) -> Result<SealedCopy> {
        let policy = &self.config.policy;
        if policy.encrypt_to_self {
            openpgp::add_encrypt_to_self(&mut keys, &self.sender, &self.sender_keys);
        }
        let signer = if policy.sign {
            openpgp::signing_key(&self.sender_keys, self.unlocker)?
        } else {
            None
        };
        let sealing = if signer.is_some() {
            Sealing::EncryptedSigned
        } else {
            Sealing::Encrypted
        };
        let mut data = Vec::new();
        openpgp::encrypt_message(
            headers,
            &mut std::io::Cursor::new(body),
            &keys,
            signer.map(|(_, pair)| pair),
            EncryptOptions {
                protect_headers: policy.protect_headers,
            },
            &mut data,
        )?;
        Ok(SealedCopy {
            recipients: group,
            data,
            sealing,
        })
    }
}

/// Orders protections from the laxest to the strictest.
fn rank(protection: Protection) -> u8 {
    match protection {
        Protection::RequireEncryption => 3,
        Protection::EncryptIfPossible => 2,
        Protection::SignOnly => 1,
        Protection::Plain => 0,
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

    #[test]
    fn every_bcc_recipient_gets_a_copy_of_its_own() {
        let r = |address: &str, hidden| Recipient {
            address: address.into(),
            hidden,
        };
        let groups = copies(&[
            r("a@x", false),
            r("b@y", true),
            r("c@z", false),
            r("d@w", true),
        ]);
        assert_eq!(
            groups,
            vec![
                vec![r("a@x", false), r("c@z", false)],
                vec![r("b@y", true)],
                vec![r("d@w", true)],
            ]
        );
    }
}
