//! Signature checking: multipart/signed (detached), inline clear-signed
//! text, and the signatures inside encrypted messages. Every signature gets
//! a report; a message verifies only when every report is good.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;
use std::time::SystemTime;

use sequoia_openpgp::cert::Cert;
use sequoia_openpgp::crypto::{KeyPair, SessionKey};
use sequoia_openpgp::packet::key::{SecretParts, UnspecifiedRole};
use sequoia_openpgp::packet::{Key, PKESK, SKESK};
use sequoia_openpgp::parse::stream::{
    DecryptionHelper, DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper, VerifierBuilder,
};
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::types::SymmetricAlgorithm;
use sequoia_openpgp::{Fingerprint, KeyHandle};
use serde::Serialize;

use super::{pgpmime, policy};
use crate::keys::{CertStore, Unlocker};
use crate::message::{canon, Headers};
use crate::{Error, Result};

/// The keys available to open messages: others' certificates, own keys,
/// and how to unlock them.
pub struct Keys<'a> {
    pub store: &'a CertStore,
    pub own: &'a [Cert],
    pub unlocker: &'a Unlocker,
}

/// The verdict on one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Cryptographically good, by a key bound to the sender.
    Good,
    /// Bad, with the reason.
    Bad { reason: String },
    /// Made by a key that is not in the store.
    UnknownKey { issuer: String },
}

/// What is known about one signature.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    #[serde(flatten)]
    pub status: SignatureStatus,
    /// Primary fingerprint of the signer's certificate.
    pub signer: Option<String>,
    /// Addresses in the signer's user IDs.
    pub addresses: Vec<String>,
    /// Signature creation time, RFC 3339.
    pub created: Option<String>,
}

impl SignatureReport {
    /// Whether this signature is good.
    pub fn is_good(&self) -> bool {
        self.status == SignatureStatus::Good
    }

    /// A one-line description for people.
    pub fn describe(&self) -> String {
        let who = match (&self.signer, self.addresses.first()) {
            (Some(fpr), Some(addr)) => format!("{addr} ({fpr})"),
            (Some(fpr), None) => fpr.clone(),
            _ => "unknown signer".into(),
        };
        let when = self
            .created
            .as_deref()
            .map(|c| format!(", made {c}"))
            .unwrap_or_default();
        match &self.status {
            SignatureStatus::Good => format!("Good signature from {who}{when}"),
            SignatureStatus::Bad { reason } => format!("BAD signature from {who}{when}: {reason}"),
            SignatureStatus::UnknownKey { issuer } => format!(
                "Cannot check signature{when}: key {issuer} is unknown (import it with `mailseal cert import`)"
            ),
        }
    }
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Marks good signatures as bad when they do not vouch for the message's
/// one author (see [`crate::message::author`]); for a message whose header
/// fields are all in `headers`.
pub fn bind_to_sender(reports: &mut [SignatureReport], headers: &Headers) {
    bind_to_author(reports, headers, headers);
}

/// [`bind_to_sender`] for a message with an outer header section and a
/// protected (inner) one: both must show the same author.
pub fn bind_to_author(reports: &mut [SignatureReport], outer: &Headers, inner: &Headers) {
    for report in reports.iter_mut().filter(|r| r.is_good()) {
        if let Err(reason) = crate::message::author::check_signer(&report.addresses, outer, inner) {
            report.status = SignatureStatus::Bad { reason };
        }
    }
}

/// The sequoia helper: finds certificates, unlocks own keys, collects
/// signature reports.
pub(super) struct Helper<'a> {
    keys: &'a Keys<'a>,
    unlocked: HashMap<Fingerprint, KeyPair>,
    pub reports: Vec<SignatureReport>,
    failure: Rc<RefCell<Option<Error>>>,
}

impl<'a> Helper<'a> {
    pub fn new(keys: &'a Keys<'a>) -> Self {
        Helper {
            keys,
            unlocked: HashMap::new(),
            reports: Vec::new(),
            failure: Rc::default(),
        }
    }

    /// Where the helper records why decryption failed for a reason of ours
    /// (no matching key, wrong passphrase); readable after sequoia gave up.
    pub fn failure_slot(&self) -> Rc<RefCell<Option<Error>>> {
        Rc::clone(&self.failure)
    }

    fn keypair(&mut self, key: &Key<SecretParts, UnspecifiedRole>) -> Option<KeyPair> {
        if let Some(pair) = self.unlocked.get(&key.fingerprint()) {
            return Some(pair.clone());
        }
        match self.keys.unlocker.unlock(key) {
            Ok(pair) => {
                self.unlocked.insert(key.fingerprint(), pair.clone());
                Some(pair)
            }
            Err(e) => {
                self.failure.replace(Some(e));
                None
            }
        }
    }

    /// Own secret keys a PKESK may be for: the named one, or for a wildcard
    /// recipient every own encryption key.
    fn candidates(
        &self,
        recipient: Option<&KeyHandle>,
    ) -> Vec<(Cert, Key<SecretParts, UnspecifiedRole>)> {
        let mut out = Vec::new();
        for cert in self.keys.own {
            match recipient {
                Some(handle) => out.extend(
                    cert.keys()
                        .secret()
                        .filter(|k| k.key().key_handle().aliases(handle))
                        .map(|k| (cert.clone(), k.key().clone().role_into_unspecified())),
                ),
                None => {
                    if let Ok(valid) = cert.with_policy(policy(), None) {
                        out.extend(
                            valid
                                .keys()
                                .secret()
                                .for_transport_encryption()
                                .for_storage_encryption()
                                .map(|k| (cert.clone(), k.key().clone().role_into_unspecified())),
                        );
                    }
                }
            }
        }
        out
    }
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, ids: &[KeyHandle]) -> anyhow::Result<Vec<Cert>> {
        let mut certs: Vec<Cert> = Vec::new();
        for id in ids {
            for own in self.keys.own {
                if own.keys().any(|k| k.key().key_handle().aliases(id)) {
                    certs.push(own.clone().strip_secret_key_material());
                }
            }
            if let Ok(Some(cert)) = self.keys.store.by_key_handle(id) {
                certs.push(cert);
            }
        }
        Ok(certs)
    }

    fn check(&mut self, structure: MessageStructure) -> anyhow::Result<()> {
        for layer in structure.into_iter() {
            if let MessageLayer::SignatureGroup { results } = layer {
                for result in results {
                    self.reports.push(report(result));
                }
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> anyhow::Result<Option<Cert>> {
        // Keys named in the message first, then wildcard (Bcc) recipients.
        let mut ordered: Vec<&PKESK> = pkesks.iter().filter(|p| p.recipient().is_some()).collect();
        ordered.extend(pkesks.iter().filter(|p| p.recipient().is_none()));
        for pkesk in ordered {
            let recipient = pkesk.recipient();
            for (cert, key) in self.candidates(recipient.as_ref()) {
                let Some(mut pair) = self.keypair(&key) else {
                    continue;
                };
                if let Some((algo, session_key)) = pkesk.decrypt(&mut pair, sym_algo) {
                    if decrypt(algo, &session_key) {
                        self.failure.replace(None);
                        return Ok(Some(cert.strip_secret_key_material()));
                    }
                }
            }
        }
        if self.failure.borrow().is_none() {
            let named: Vec<String> = pkesks
                .iter()
                .map(|p| match p.recipient() {
                    Some(handle) => handle.to_hex(),
                    None => "a hidden recipient".into(),
                })
                .collect();
            self.failure.replace(Some(Error::NoSecretKey(format!(
                "none of your secret keys opens it; it is encrypted to {}",
                named.join(", ")
            ))));
        }
        Err(anyhow::anyhow!("no secret key could decrypt the message"))
    }
}

fn report(
    result: std::result::Result<sequoia_openpgp::parse::stream::GoodChecksum, VerificationError>,
) -> SignatureReport {
    let created =
        |sig: &sequoia_openpgp::packet::Signature| sig.signature_creation_time().map(rfc3339);
    let from_cert = |cert: &Cert| {
        (
            Some(cert.fingerprint().to_hex()),
            crate::keys::addresses(cert),
        )
    };
    match result {
        Ok(good) => {
            let (signer, addresses) = from_cert(good.ka.cert());
            SignatureReport {
                status: SignatureStatus::Good,
                signer,
                addresses,
                created: created(good.sig),
            }
        }
        Err(VerificationError::MissingKey { sig }) => SignatureReport {
            status: SignatureStatus::UnknownKey {
                issuer: sig
                    .get_issuers()
                    .first()
                    .map(|h| h.to_hex())
                    .unwrap_or_else(|| "without issuer".into()),
            },
            signer: None,
            addresses: Vec::new(),
            created: created(sig),
        },
        Err(VerificationError::BadSignature { sig, ka, error })
        | Err(VerificationError::BadKey { sig, ka, error }) => {
            let (signer, addresses) = from_cert(ka.cert());
            SignatureReport {
                status: SignatureStatus::Bad {
                    reason: error.to_string(),
                },
                signer,
                addresses,
                created: created(sig),
            }
        }
        Err(VerificationError::UnboundKey { sig, cert, error }) => {
            let (signer, addresses) = from_cert(cert);
            SignatureReport {
                status: SignatureStatus::Bad {
                    reason: format!("the signing key is not bound to its certificate: {error}"),
                },
                signer,
                addresses,
                created: created(sig),
            }
        }
        Err(VerificationError::MalformedSignature { sig, error }) => SignatureReport {
            status: SignatureStatus::Bad {
                reason: format!("malformed signature: {error}"),
            },
            signer: None,
            addresses: Vec::new(),
            created: created(sig),
        },
        Err(_) => SignatureReport {
            status: SignatureStatus::Bad {
                reason: "unsupported signature".into(),
            },
            signer: None,
            addresses: Vec::new(),
            created: None,
        },
    }
}

/// Checks a detached signature over `signed` (canonicalized to CRLF).
pub(super) fn verify_detached(
    signed: &[u8],
    signature: &[u8],
    keys: &Keys,
) -> Result<Vec<SignatureReport>> {
    let helper = Helper::new(keys);
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .and_then(|b| b.with_policy(policy(), None, helper))
        .map_err(|e| Error::Malformed(format!("cannot read the signature: {e}")))?;
    verifier
        .verify_bytes(canon::to_crlf(signed))
        .map_err(|e| Error::Malformed(format!("cannot check the signature: {e}")))?;
    Ok(verifier.into_helper().reports)
}

/// Checks an inline clear-signed (or signed) OpenPGP block, returning the
/// signed text and the reports.
pub(super) fn verify_inline(block: &[u8], keys: &Keys) -> Result<(Vec<u8>, Vec<SignatureReport>)> {
    let helper = Helper::new(keys);
    let mut verifier = VerifierBuilder::from_bytes(block)
        .and_then(|b| b.with_policy(policy(), None, helper))
        .map_err(|e| Error::Malformed(format!("cannot read the signed text: {e}")))?;
    let mut text = Vec::new();
    verifier
        .read_to_end(&mut text)
        .map_err(|e| Error::Malformed(format!("cannot check the signed text: {e}")))?;
    Ok((text, verifier.into_helper().reports))
}

/// Finds the armored block starting with `-----BEGIN {label}-----`.
pub(super) fn find_armored(body: &[u8], label: &str) -> Option<(usize, usize)> {
    let begin = format!("-----BEGIN {label}-----");
    let end_label = if label == "PGP SIGNED MESSAGE" {
        "-----END PGP SIGNATURE-----".to_string()
    } else {
        format!("-----END {label}-----")
    };
    let start = find(body, begin.as_bytes())?;
    let end = find(&body[start..], end_label.as_bytes())? + start + end_label.len();
    Some((start, end))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Verifies every signature in `message`: multipart/signed, inline
/// clear-signed text, or (by decrypting) an encrypted message.
pub fn verify_message(message: &[u8], keys: &Keys) -> Result<Vec<SignatureReport>> {
    let message = canon::to_crlf(message);
    let reports = match pgpmime::parse(&message)? {
        pgpmime::Received::Signed {
            outer,
            signed,
            signature,
        } => {
            let mut reports = verify_detached(signed, signature, keys)?;
            let inner = Headers::parse(crate::message::header::split_entity(signed).0)?;
            bind_to_author(&mut reports, &outer, &inner);
            reports
        }
        pgpmime::Received::Encrypted { .. } => {
            return Ok(super::decrypt_message(&message, keys)?.signatures)
        }
        pgpmime::Received::Other { headers, body } => {
            let Some((start, end)) = find_armored(body, "PGP SIGNED MESSAGE") else {
                return Ok(Vec::new());
            };
            let (_, mut reports) = verify_inline(&body[start..end], keys)?;
            bind_to_sender(&mut reports, &headers);
            reports
        }
    };
    Ok(reports)
}
