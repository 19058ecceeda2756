//! Signature checking: multipart/signed (detached), inline signed and
//! clear-signed text, and the signatures inside encrypted messages. Every
//! signature gets a report; a message verifies only when every report is
//! good and the signatures cover everything a reader sees.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::ops::Range;
use std::rc::Rc;
use std::time::SystemTime;

use sequoia_openpgp::cert::Cert;
use sequoia_openpgp::crypto::{KeyPair, SessionKey};
use sequoia_openpgp::packet::key::{SecretParts, UnspecifiedRole};
use sequoia_openpgp::packet::{Key, Tag, PKESK, SKESK};
use sequoia_openpgp::parse::stream::{
    DecryptionHelper, DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper, VerifierBuilder, DEFAULT_BUFFER_SIZE,
};
use sequoia_openpgp::parse::{PacketParser, PacketParserResult, Parse};
use sequoia_openpgp::policy::Policy;
use sequoia_openpgp::types::SymmetricAlgorithm;
use sequoia_openpgp::{Fingerprint, KeyHandle};
use serde::Serialize;

use super::inline_block::{text_verification, Armor, BlockFinder};
use super::{pgpmime, policy, reading_policy, OpenOptions};
use crate::keys::{CertStore, Unlocker};
use crate::message::header::split_entity;
use crate::message::{canon, mime, transfer, Headers};
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

/// The outcome of checking a message's signatures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Every signature found, checked.
    pub signatures: Vec<SignatureReport>,
    /// Content a reader sees that no signature covers, by where it is
    /// ("text after the signed block", "part 2 (text/html)"). When there
    /// are signatures and this is not empty, only part of the message is
    /// signed.
    pub unsigned_parts: Vec<String>,
}

impl Verification {
    /// Signatures that cover the whole message.
    pub(super) fn covering(signatures: Vec<SignatureReport>) -> Self {
        Verification {
            signatures,
            unsigned_parts: Vec::new(),
        }
    }

    /// Whether the message is signed, every signature is good, and the
    /// signatures cover everything a reader sees.
    pub fn is_good(&self) -> bool {
        !self.signatures.is_empty()
            && self.signatures.iter().all(SignatureReport::is_good)
            && self.unsigned_parts.is_empty()
    }

    /// Whether there are signatures but some content is outside them.
    pub fn is_partial(&self) -> bool {
        !self.signatures.is_empty() && !self.unsigned_parts.is_empty()
    }
}

/// How many compression layers one OpenPGP message may have: real senders
/// use one; more only serves decompression bombs.
const MAX_COMPRESSION_LAYERS: usize = 1;

/// The sequoia helper: finds certificates, unlocks own keys, collects
/// signature reports, and refuses unsafe message structures early.
pub(super) struct Helper<'a> {
    keys: &'a Keys<'a>,
    options: OpenOptions,
    unlocked: HashMap<Fingerprint, KeyPair>,
    pub reports: Vec<SignatureReport>,
    failure: Rc<RefCell<Option<Error>>>,
    /// Decrypting: plaintext outside an encryption container is refused.
    require_encryption: bool,
    encrypted: bool,
    compression_layers: usize,
}

impl<'a> Helper<'a> {
    pub fn new(keys: &'a Keys<'a>, options: OpenOptions, require_encryption: bool) -> Self {
        Helper {
            keys,
            options,
            unlocked: HashMap::new(),
            reports: Vec::new(),
            failure: Rc::default(),
            require_encryption,
            encrypted: false,
            compression_layers: 0,
        }
    }

    /// Where the helper records why opening failed for a reason of ours
    /// (no matching key, wrong passphrase, a refused structure); readable
    /// after sequoia gave up.
    pub fn failure_slot(&self) -> Rc<RefCell<Option<Error>>> {
        Rc::clone(&self.failure)
    }

    /// Records `error` as the reason and returns what sequoia needs.
    fn fail(&self, error: Error) -> anyhow::Error {
        let text = error.to_string();
        self.failure.replace(Some(error));
        anyhow::anyhow!(text)
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
    fn inspect(&mut self, pp: &PacketParser) -> anyhow::Result<()> {
        match pp.packet.tag() {
            Tag::SEIP => self.encrypted = true,
            Tag::CompressedData => {
                self.compression_layers += 1;
                if self.compression_layers > MAX_COMPRESSION_LAYERS {
                    return Err(self.fail(Error::Refused {
                        reason: "its OpenPGP data is compressed more than once (a decompression bomb); nothing was released".into(),
                        hint: "no OpenPGP implementation sends nested compression; ask the sender to send it again".into(),
                    }));
                }
            }
            Tag::Literal | Tag::OnePassSig | Tag::Signature
                if self.require_encryption && !self.encrypted =>
            {
                return Err(self.fail(Error::Refused {
                    reason: "its OpenPGP data was never encrypted (bare literal, compressed or signed data); anyone could have written it".into(),
                    hint: "if it is signed, check it with `mailseal verify`; do not treat it as a message that was encrypted to you".into(),
                }));
            }
            _ => {}
        }
        Ok(())
    }

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
        // A session key that our key released but that does not open the
        // data means the data was changed, not that we lack a key.
        let mut tampered = false;
        for pkesk in ordered {
            let recipient = pkesk.recipient();
            for (cert, key) in self.candidates(recipient.as_ref()) {
                let Some(mut pair) = self.keypair(&key) else {
                    continue;
                };
                if let Some((algo, session_key)) = pkesk.decrypt(&mut pair, sym_algo) {
                    if let Some(cipher) = sym_algo.or(algo) {
                        if reading_policy(self.options.allow_legacy)
                            .symmetric_algorithm(cipher)
                            .is_err()
                        {
                            return Err(self.fail(cipher_refused(cipher)));
                        }
                    }
                    if decrypt(algo, &session_key) {
                        self.failure.replace(None);
                        return Ok(Some(cert.strip_secret_key_material()));
                    }
                    tampered = true;
                }
            }
        }
        if tampered {
            return Err(self.fail(Error::Integrity(
                "your key opened the message's session key, but the encrypted data does not decrypt with it: it is damaged or was modified; no plaintext was released".into(),
            )));
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

/// The refusal for data encrypted with a cipher the policy rejects.
pub(super) fn cipher_refused(cipher: SymmetricAlgorithm) -> Error {
    Error::AlgorithmRefused {
        reason: format!(
            "the message is encrypted with {cipher}, a legacy cipher mailseal does not accept (it accepts AES, Camellia and Twofish); nothing was released"
        ),
        hint: "ask the sender to encrypt with AES (any current OpenPGP program does by default); to read an old archived message you trust, run `mailseal decrypt --allow-legacy`".into(),
    }
}

/// The refusal for the draft-era AEAD packet (tag 20).
pub(super) fn draft_aead_refused() -> Error {
    Error::AlgorithmRefused {
        reason: "the message uses the draft-era AEAD encryption packet (OpenPGP tag 20, OCB/EAX from the RFC 4880bis drafts, as written by `rnp --aead` and by GnuPG 2.3+ for keys announcing it), which RFC 9580 replaced and mailseal does not read; nothing was released".into(),
        hint: "ask the sender to encrypt without it: rnp without --aead; GnuPG with `--force-mdc` off AEAD (e.g. `gpg --rfc4880`), or to a key whose preferences do not announce AEAD; RFC 9580 (SEIPDv2) and classic SEIPDv1 both work".into(),
    }
}

/// The refusal for plaintext beyond `limit` bytes.
pub(super) fn too_large(limit: u64) -> Error {
    Error::Refused {
        reason: format!(
            "its OpenPGP data expands to more than {limit} bytes (a decompression bomb?); nothing was released"
        ),
        hint: "if you trust the sender and expect a message that large, raise the limit with --max-decompressed SIZE (e.g. 4G)".into(),
    }
}

/// The buffer sequoia fills before releasing plaintext: no more than the
/// limit allows.
pub(super) fn buffer_size(limit: u64) -> usize {
    usize::try_from(limit.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(DEFAULT_BUFFER_SIZE)
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
    verify_detached_reader(canon::to_crlf(signed).as_slice(), signature, keys)
}

/// Checks a detached signature over the bytes `signed` yields (CRLF
/// canonical), read once.
pub(super) fn verify_detached_reader(
    signed: impl Read + Send + Sync,
    signature: &[u8],
    keys: &Keys,
) -> Result<Vec<SignatureReport>> {
    let helper = Helper::new(keys, OpenOptions::default(), false);
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .and_then(|b| b.with_policy(policy(), None, helper))
        .map_err(|e| Error::Malformed(format!("cannot read the signature: {e}")))?;
    verifier
        .verify_reader(signed)
        .map_err(|e| Error::Malformed(format!("cannot check the signature: {e}")))?;
    Ok(verifier.into_helper().reports)
}

/// The verdict on a multipart/signed message: `signature` over the signed
/// part `signed` (CRLF canonical, read once), good only when made by the
/// author both the `outer` header section and the signed part's own
/// (`inner_header`) show.
pub(super) fn verify_signed(
    signed: impl Read + Send + Sync,
    inner_header: &[u8],
    outer: &Headers,
    signature: &[u8],
    keys: &Keys,
) -> Result<Verification> {
    let mut reports = verify_detached_reader(signed, signature, keys)?;
    let inner = Headers::parse(inner_header)?;
    bind_to_author(&mut reports, outer, &inner);
    Ok(Verification::covering(reports))
}

/// Checks an inline clear-signed or signed (`gpg --armor --sign`) OpenPGP
/// block held in memory.
fn verify_inline(block: &[u8], keys: &Keys, options: OpenOptions) -> Result<Vec<SignatureReport>> {
    let limit = options.plaintext_limit(block.len());
    verify_inline_into(
        block,
        buffer_size(limit),
        limit,
        keys,
        options,
        &mut std::io::sink(),
    )
}

/// Checks the inline signed OpenPGP block read from `block`, sequoia
/// holding back `buffer` bytes, writing the signed text (at most `limit`
/// bytes) to `text`; returns the reports.
pub(super) fn verify_inline_into(
    block: impl Read + Send + Sync,
    buffer: usize,
    limit: u64,
    keys: &Keys,
    options: OpenOptions,
    text: &mut dyn Write,
) -> Result<Vec<SignatureReport>> {
    let helper = Helper::new(keys, options, false);
    let failure = helper.failure_slot();
    let unreadable = |e: &dyn std::fmt::Display| {
        failure
            .take()
            .unwrap_or_else(|| Error::Malformed(format!("cannot check the signed text: {e}")))
    };
    let mut verifier = match VerifierBuilder::from_reader(block)
        .map(|b| b.buffer_size(buffer))
        .and_then(|b| b.with_policy(policy(), None, helper))
    {
        Ok(verifier) => verifier,
        Err(e) => return Err(unreadable(&e)),
    };
    let copied =
        std::io::copy(&mut (&mut verifier).take(limit + 1), text).map_err(|e| unreadable(&e))?;
    if copied > limit {
        return Err(too_large(limit));
    }
    Ok(verifier.into_helper().reports)
}

/// Finds the first armored block of `armor` in `body`.
pub(super) fn find_armored(body: &[u8], armor: Armor) -> Option<(usize, usize)> {
    BlockFinder::of(body).block(armor).map(held)
}

/// The first inline signed or encrypted OpenPGP block in `body`.
pub(super) fn find_inline(body: &[u8]) -> Option<(usize, usize)> {
    BlockFinder::of(body)
        .layout()
        .block
        .map(|(_, block)| held(block))
}

/// The bounds of a block found in a text held in memory.
fn held(block: Range<u64>) -> (usize, usize) {
    let index = |at: u64| usize::try_from(at).expect("within a text in memory");
    (index(block.start), index(block.end))
}

/// Whether `body` is nothing but `body[start..end]` and white space.
pub(super) fn is_whole(body: &[u8], (start, end): (usize, usize)) -> bool {
    is_blank(&body[..start]) && is_blank(&body[end..])
}

fn is_blank(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_whitespace)
}

/// The tags of the top-level packets of the OpenPGP message read from
/// `block` (as far as it parses), up to where `enough` says the tags so
/// far are enough.
pub(super) fn packet_tags(
    block: impl Read + Send + Sync,
    enough: impl Fn(&[Tag]) -> bool,
) -> Vec<Tag> {
    let mut tags = Vec::new();
    let Ok(mut ppr) = PacketParser::from_reader(block) else {
        return tags;
    };
    while let PacketParserResult::Some(pp) = ppr {
        tags.push(pp.packet.tag());
        if enough(&tags) {
            break;
        }
        match pp.next() {
            Ok((_, next)) => ppr = next,
            Err(_) => break,
        }
    }
    tags
}

/// Whether the OpenPGP message read from `block` is encrypted (its first
/// packet, a marker aside, is an encrypted session key or encrypted
/// data); read only that far.
pub(super) fn is_encrypted(block: impl Read + Send + Sync) -> bool {
    packet_tags(block, |tags| {
        tags.len() == 2 || tags.last().is_some_and(|&tag| tag != Tag::Marker)
    })
    .into_iter()
    .find(|&tag| tag != Tag::Marker)
    .is_some_and(|tag| {
        matches!(
            tag,
            Tag::PKESK | Tag::SKESK | Tag::SEIP | Tag::AED | Tag::SED
        )
    })
}

/// Finds and checks the signatures in the MIME entity `entity` (header
/// section and body, CRLF), and names every part a reader sees that none
/// of them covers. `name` says where the entity is ("the body", "part 2").
pub(super) fn verify_entity(
    entity: &[u8],
    name: &str,
    keys: &Keys,
    options: OpenOptions,
    depth: usize,
) -> Result<Verification> {
    if depth > mime::MAX_DEPTH {
        return Err(mime::too_deep());
    }
    let (header_bytes, body) = split_entity(entity);
    let headers = Headers::parse(header_bytes)?;
    let content_type = headers.content_type();
    let described = format!("{name} ({})", content_type.mime);
    match (content_type.mime.as_str(), content_type.param("boundary")) {
        ("multipart/signed", Some(_)) => match pgpmime::parse(entity)? {
            pgpmime::Received::Signed {
                signed, signature, ..
            } => Ok(Verification::covering(verify_detached(
                signed, &signature, keys,
            )?)),
            _ => Ok(Verification {
                signatures: Vec::new(),
                unsigned_parts: vec![described],
            }),
        },
        (mime, Some(boundary)) if mime.starts_with("multipart/") => {
            let mut verification = Verification::default();
            for (index, part) in mime::split(body, boundary)?.parts.iter().enumerate() {
                let part_name = if depth == 0 {
                    format!("part {}", index + 1)
                } else {
                    format!("{name}.{}", index + 1)
                };
                let found = verify_entity(part, &part_name, keys, options, depth + 1)?;
                verification.signatures.extend(found.signatures);
                verification.unsigned_parts.extend(found.unsigned_parts);
            }
            Ok(verification)
        }
        (mime, _) if mime.starts_with("text/") => {
            let text = transfer::decode_body(&headers, body).unwrap_or(Cow::Borrowed(body));
            let mut layout = BlockFinder::of(&text).layout();
            let in_text = |(_, block): &(Armor, Range<u64>)| {
                let (start, end) = held(block.clone());
                &text[start..end]
            };
            layout.block.take_if(|block| is_encrypted(in_text(block)));
            text_verification(&described, layout, |armor, block| {
                verify_inline(in_text(&(armor, block)), keys, options)
            })
        }
        _ => Ok(Verification {
            signatures: Vec::new(),
            unsigned_parts: if body.is_empty() {
                Vec::new()
            } else {
                vec![described]
            },
        }),
    }
}

/// Verifies every signature in `message` (held whole in memory; see
/// [`super::signed_stream::SignedStream`] for multipart/signed messages
/// of any size): multipart/signed, inline signed
/// or clear-signed text (anywhere in its MIME parts), or (by decrypting) an
/// encrypted message. The result names any content the signatures do not
/// cover.
pub fn verify_message(message: &[u8], keys: &Keys, options: OpenOptions) -> Result<Verification> {
    let message = canon::to_crlf(message);
    match pgpmime::parse(&message)? {
        pgpmime::Received::Signed {
            outer,
            signed,
            signature,
        } => verify_signed(signed, split_entity(signed).0, &outer, &signature, keys),
        pgpmime::Received::Encrypted { .. } => {
            Ok(super::decrypt_message(&message, keys, options)?.verification)
        }
        pgpmime::Received::Other { headers, body } => {
            let inline = (!headers.content_type().is_multipart())
                .then(|| transfer::decode_body(&headers, body))
                .flatten();
            if let Some(text) = inline {
                if find_inline(&text)
                    .is_some_and(|b| is_whole(&text, b) && is_encrypted(&text[b.0..b.1]))
                {
                    return Ok(super::decrypt_message(&message, keys, options)?.verification);
                }
            }
            let mut verification = verify_entity(&message, "the body", keys, options, 0)?;
            bind_to_sender(&mut verification.signatures, &headers);
            Ok(verification)
        }
    }
}
