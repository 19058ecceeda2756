//! Opening S/MIME: decrypting enveloped layers, checking multipart/signed
//! and opaque signed-data, in any nesting (sign then encrypt, encrypt then
//! sign), then restoring protected headers. Every signature gets a report
//! naming the signer, its address, the signing time and, when it is not
//! good, which check failed; good signatures are bound to the From address.

use std::time::SystemTime;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::OctetString;
use der::{Decode, Encode};

use super::certs::{OwnIdentity, SmimeCert};
use super::params::Hash;
use super::plan::Keyring;
use super::sign::{CONTENT_TYPE, MESSAGE_DIGEST, SIGNING_TIME};
use super::validate::{self, Usage};
use super::{envelope, framing, oid};
use crate::message::header::split_entity;
use crate::message::{canon, protect, Headers};
use crate::openpgp::verify::bind_to_author;
use crate::openpgp::{SignatureReport, SignatureStatus};
use crate::{Error, Result};

/// An opened S/MIME message.
#[derive(Debug)]
pub struct Opened {
    /// The cleartext RFC 5322 message, CRLF, protected headers restored.
    pub message: Vec<u8>,
    /// Whether an encryption layer was removed.
    pub was_encrypted: bool,
    /// False when an encryption layer was enveloped-data (CBC), whose
    /// plaintext an attacker can change undetected.
    pub integrity_protected: bool,
    /// Reports on every signature found, outermost first.
    pub signatures: Vec<SignatureReport>,
    /// Certificates carried by signatures that verified (for
    /// `--import-certs`).
    pub certificates: Vec<SmimeCert>,
}

impl Opened {
    /// Whether the content is authenticated: by authEnveloped-data, or by
    /// signatures that are all good (they cover the whole content).
    pub fn authenticated(&self) -> bool {
        self.integrity_protected
            || (!self.signatures.is_empty() && self.signatures.iter().all(|s| s.is_good()))
    }
}

/// What [`open_message`] finds in a message that is neither signed nor
/// encrypted at its root and holds the S/MIME parts `nested`: an error
/// when one is encrypted, else the report that only part of it is signed.
pub fn nested_verdict(nested: &[framing::NestedPart]) -> Result<Vec<SignatureReport>> {
    refuse_partly_encrypted(nested)?;
    Ok(partial_report(nested).into_iter().collect())
}

/// Refuses a message with an encrypted S/MIME part inside content that
/// was not encrypted: never decrypted into it (EFAIL).
pub(super) fn refuse_partly_encrypted(nested: &[framing::NestedPart]) -> Result<()> {
    match nested.iter().find(|p| p.encrypted) {
        Some(part) => Err(Error::Malformed(format!(
            "only part {} of this message is S/MIME-encrypted, inside content that was not encrypted; mailseal decrypts a message only when it is encrypted as a whole, so that decrypted text is never merged into someone else's content (EFAIL); if you trust the rest, save part {} as a message of its own and decrypt that",
            part.path, part.path
        ))),
        None => Ok(()),
    }
}

/// The report for S/MIME parts that cover only part of what a reader sees.
pub(super) fn partial_report(nested: &[framing::NestedPart]) -> Option<SignatureReport> {
    let parts: Vec<&str> = nested.iter().map(|p| p.path.as_str()).collect();
    (!parts.is_empty()).then(|| {
        report(
            bad(format!(
                "only part of this message is signed: the S/MIME part {} is signed or encrypted, the content around it is not",
                parts.join(", ")
            )),
            None,
            None,
        )
    })
}

fn report(
    status: SignatureStatus,
    cert: Option<&SmimeCert>,
    time: Option<SystemTime>,
) -> SignatureReport {
    SignatureReport {
        status,
        signer: cert.map(|c| c.fingerprint()),
        addresses: cert.map(|c| c.addresses()).unwrap_or_default(),
        created: time.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
    }
}

fn bad(reason: impl Into<String>) -> SignatureStatus {
    SignatureStatus::Bad {
        reason: reason.into(),
    }
}

/// What a signature covers: the content itself, or its digests (by every
/// algorithm the signers name) computed as it streamed past.
#[derive(Clone, Copy)]
pub(super) enum Content<'a> {
    Bytes(&'a [u8]),
    Digests(&'a [(Hash, Vec<u8>)]),
}

impl Content<'_> {
    pub(super) fn digest(self, hash: Hash) -> Option<Vec<u8>> {
        match self {
            Content::Bytes(bytes) => Some(hash.digest(bytes)),
            Content::Digests(digests) => digests
                .iter()
                .find(|(h, _)| *h == hash)
                .map(|(_, d)| d.clone()),
        }
    }
}

/// Whether signatures made with digests by `hash` are checked: SHA-1 is
/// not accepted (RFC 8551 §2.1).
pub(super) fn accepted(hash: Hash) -> bool {
    hash != Hash::Sha1
}

/// The digest algorithms of `signed_data`'s signers that are checked,
/// each once.
pub(super) fn digest_algorithms(signed_data: &SignedData) -> Vec<Hash> {
    let mut hashes = Vec::new();
    for signer in signed_data.signer_infos.0.iter() {
        match Hash::from_oid(signer.digest_alg.oid) {
            Some(hash) if accepted(hash) && !hashes.contains(&hash) => hashes.push(hash),
            _ => {}
        }
    }
    hashes
}

/// Checks every signer of `signed_data` over `content`.
pub(super) fn check_signed_data(
    signed_data: &SignedData,
    content: Content<'_>,
    keyring: &Keyring,
    certificates: &mut Vec<SmimeCert>,
) -> Result<Vec<SignatureReport>> {
    let now = SystemTime::now();
    let embedded: Vec<SmimeCert> = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            cms::cert::CertificateChoices::Certificate(c) => {
                c.to_der().ok().and_then(|d| SmimeCert::from_der(&d).ok())
            }
            _ => None,
        })
        .collect();
    let mut pool = embedded.clone();
    pool.extend(keyring.intermediates()?);
    pool.extend(keyring.own.iter().map(|id| id.cert.clone()));
    let mut reports = Vec::new();
    for signer in signed_data.signer_infos.0.iter() {
        let cert = pool.iter().find(|c| match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => *ias == c.issuer_and_serial(),
            SignerIdentifier::SubjectKeyIdentifier(ski) => matches!(
                c.cert.tbs_certificate().get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>(),
                Ok(Some((_, id))) if id.0 == ski.0
            ),
        });
        let Some(cert) = cert else {
            reports.push(SignatureReport {
                status: SignatureStatus::UnknownKey {
                    issuer: "a certificate that the message does not carry".into(),
                },
                signer: None,
                addresses: Vec::new(),
                created: None,
            });
            continue;
        };
        let hash = Hash::from_oid(signer.digest_alg.oid).filter(|h| accepted(*h));
        let (Some(hash), Some(digest)) = (hash, hash.and_then(|h| content.digest(h))) else {
            reports.push(report(
                bad(format!(
                    "unsupported digest algorithm {}",
                    signer.digest_alg.oid
                )),
                Some(cert),
                None,
            ));
            continue;
        };
        let mut signing_time = None;
        let signed_bytes = match &signer.signed_attrs {
            Some(attrs) => {
                let mut digest_ok = false;
                let mut type_ok = false;
                for attr in attrs.iter() {
                    let Some(value) = attr.values.iter().next() else {
                        continue;
                    };
                    if attr.oid == MESSAGE_DIGEST {
                        digest_ok = value
                            .decode_as::<OctetString>()
                            .is_ok_and(|d| d.as_bytes() == digest.as_slice());
                    } else if attr.oid == CONTENT_TYPE {
                        type_ok = value
                            .decode_as::<const_oid::ObjectIdentifier>()
                            .is_ok_and(|t| t == signed_data.encap_content_info.econtent_type);
                    } else if attr.oid == SIGNING_TIME {
                        signing_time = value
                            .decode_as::<x509_cert::time::Time>()
                            .ok()
                            .map(|t| t.to_system_time());
                    }
                }
                if !digest_ok {
                    reports.push(report(
                        bad("the signed content was modified (message digest mismatch)"),
                        Some(cert),
                        signing_time,
                    ));
                    continue;
                }
                if !type_ok {
                    reports.push(report(
                        bad("the content-type attribute does not match"),
                        Some(cert),
                        signing_time,
                    ));
                    continue;
                }
                Some(
                    attrs
                        .to_der()
                        .map_err(|e| Error::Malformed(format!("bad signed attributes: {e}")))?,
                )
            }
            // Without signed attributes, the content itself is signed.
            None => None,
        };
        let key = match cert.public_key() {
            Ok(k) => k,
            Err(e) => {
                reports.push(report(bad(e.to_string()), Some(cert), signing_time));
                continue;
            }
        };
        let alg = &signer.signature_algorithm;
        let signed = match &signed_bytes {
            Some(attrs) => Content::Bytes(attrs),
            None => content,
        };
        if let Err(e) = validate::verify_signature_over(
            &key,
            alg.oid,
            alg.parameters.as_ref(),
            Some(hash),
            signed,
            signer.signature.as_bytes(),
        ) {
            reports.push(report(bad(e), Some(cert), signing_time));
            continue;
        }
        // The certificate must have been valid when the signature was made
        // and must chain to a trust anchor now.
        let at = signing_time.filter(|t| *t <= now).unwrap_or(now);
        match validate::validate(cert, None, Usage::Sign, &pool, keyring.anchors, at) {
            Ok(_) => {
                certificates.extend(embedded.iter().cloned());
                reports.push(report(SignatureStatus::Good, Some(cert), signing_time));
            }
            Err(Error::Untrusted { check, .. }) => reports.push(report(
                bad(format!("certificate check failed: {check}")),
                Some(cert),
                signing_time,
            )),
            Err(e) => return Err(e),
        }
    }
    if reports.is_empty() {
        reports.push(report(bad("the signature has no signer"), None, None));
    }
    Ok(reports)
}

/// Parses BER `data` as a SignedData ContentInfo.
pub(super) fn parse_signed_data(data: &[u8]) -> Result<SignedData> {
    let info = ContentInfo::from_ber(data).map_err(|e| {
        Error::Malformed(format!(
            "the S/MIME signature is not a CMS object (truncated or garbage DER?): {e}"
        ))
    })?;
    if info.content_type != oid::SIGNED_DATA {
        return Err(Error::Malformed(format!(
            "the S/MIME signature is {}, not signed-data",
            info.content_type
        )));
    }
    let der = info
        .content
        .to_der()
        .map_err(|e| Error::Malformed(format!("bad signed-data: {e}")))?;
    SignedData::from_ber(&der)
        .map_err(|e| Error::Malformed(format!("cannot read the signed-data: {e}")))
}

/// Opens `message`: removes every S/MIME layer (decrypting with `own`,
/// checking signatures against `keyring`) and restores protected headers.
/// Only layers at the top are opened: an S/MIME part inside other content
/// is never decrypted into it (EFAIL) and its signature is reported as
/// covering only part of the message. Decrypted content must be the MIME
/// entity it claims to be.
pub fn open_message(message: &[u8], own: &[OwnIdentity], keyring: &Keyring) -> Result<Opened> {
    let canonical = canon::to_crlf(message);
    let (header_bytes, _) = split_entity(&canonical);
    let outer = Headers::parse(header_bytes)?;
    // The body of application/pkcs7-mime is a CMS object in a transfer
    // encoding, not text: in binary, a line break in it is data.
    let message = if framing::is_pkcs7_mime(&outer.content_type().mime) {
        [header_bytes, b"\r\n", split_entity(message).1].concat()
    } else {
        canonical
    };
    open_layers(&outer, &message, None, Layers::none(), own, keyring)
}

/// Opens what is left of a message with header fields `outer` after its
/// outermost layer, an encryption (authEnveloped-data when
/// `integrity_protected`), was removed into `plaintext` (CRLF), as
/// [`open_message`] would have.
pub fn open_decrypted(
    outer: &Headers,
    plaintext: Vec<u8>,
    integrity_protected: bool,
    own: &[OwnIdentity],
    keyring: &Keyring,
) -> Result<Opened> {
    open_inside(
        outer,
        plaintext,
        Layers::after_decryption(integrity_protected),
        own,
        keyring,
    )
}

/// Opens `entity` (CRLF), what is left of a message with header fields
/// `outer` after `layers` were removed, as [`open_message`] would have.
pub(super) fn open_inside(
    outer: &Headers,
    entity: Vec<u8>,
    layers: Layers,
    own: &[OwnIdentity],
    keyring: &Keyring,
) -> Result<Opened> {
    open_layers(outer, &[], Some(entity), layers, own, keyring)
}

/// The most S/MIME layers opened, the outermost included; what is inside
/// the last is the content.
pub(super) const MAX_LAYERS: usize = 8;

/// The S/MIME layers removed so far, and what they found.
pub(super) struct Layers {
    count: usize,
    was_encrypted: bool,
    /// False once a layer was enveloped-data (CBC).
    integrity_protected: bool,
    /// Whether the innermost was opaque signed-data, whose content may be
    /// bare text rather than a MIME entity.
    pub bare_text_allowed: bool,
    /// Reports on their signatures, outermost first, not yet bound to the
    /// author.
    signatures: Vec<SignatureReport>,
    /// Certificates carried by signatures that verified.
    pub certificates: Vec<SmimeCert>,
}

impl Layers {
    /// None removed yet.
    pub(super) fn none() -> Layers {
        Layers {
            count: 0,
            was_encrypted: false,
            integrity_protected: true,
            bare_text_allowed: false,
            signatures: Vec::new(),
            certificates: Vec::new(),
        }
    }

    /// An encryption removed (authEnveloped-data when
    /// `integrity_protected`).
    pub(super) fn after_decryption(integrity_protected: bool) -> Layers {
        let mut layers = Layers::none();
        layers.decrypted(integrity_protected);
        layers
    }

    /// Counts an encryption layer removed (authEnveloped-data when
    /// `authenticated`).
    pub(super) fn decrypted(&mut self, authenticated: bool) {
        self.count += 1;
        self.was_encrypted = true;
        self.integrity_protected &= authenticated;
        self.bare_text_allowed = false;
    }

    /// Counts a signature layer removed: opaque signed-data when `opaque`.
    pub(super) fn signed(&mut self, reports: Vec<SignatureReport>, opaque: bool) {
        self.count += 1;
        self.signatures.extend(reports);
        self.bare_text_allowed = opaque;
    }

    /// Takes in the S/MIME parts found inside content that is neither
    /// signed nor encrypted: unless a layer's signatures cover all of it,
    /// a signature there covers only part of the message.
    pub(super) fn found_nested(&mut self, nested: &[framing::NestedPart]) {
        if self.signatures.is_empty() {
            self.signatures.extend(partial_report(nested));
        }
    }

    /// Whether any layer was removed: what is left is inside one.
    pub(super) fn removed_any(&self) -> bool {
        self.count > 0
    }

    /// Whether another layer may be opened.
    pub(super) fn may_open_another(&self) -> bool {
        self.count < MAX_LAYERS
    }

    /// The answer for content with header fields `inner` (bare text: the
    /// outer fields without the Content- ones) and `body`, in a message
    /// with header fields `outer`: the signatures bound to the author.
    pub(super) fn finish(mut self, outer: &Headers, inner: &Headers, body: &[u8]) -> Opened {
        bind_to_author(&mut self.signatures, outer, inner);
        Opened {
            message: protect::restore(outer, inner).with_body(body),
            was_encrypted: self.was_encrypted,
            integrity_protected: self.integrity_protected,
            signatures: self.signatures,
            certificates: self.certificates,
        }
    }
}

/// The header fields under which bare text (not a MIME entity) inside
/// opaque signed-data is the body: `outer`'s, without the Content- ones.
pub(super) fn bare_text_fields(outer: &Headers) -> Headers {
    let mut headers = outer.clone();
    headers.retain(|f| !f.name().to_ascii_lowercase().starts_with("content-"));
    headers
}

/// Whether content with header fields `inner`, inside a layer, is S/MIME
/// to be opened further; an error when it is multipart/signed that is not
/// S/MIME (never to be taken for content that is not signed).
pub(super) fn is_another_layer(inner: &Headers) -> Result<bool> {
    let ct = inner.declared_content_type().map_err(not_what_it_claims)?;
    if ct.mime == "multipart/signed" && !framing::is_smime_entity(inner) {
        return Err(not_what_it_claims(Error::Malformed(format!(
            "it is multipart/signed with protocol {:?}, which is not S/MIME",
            ct.param("protocol").unwrap_or("")
        ))));
    }
    Ok(framing::is_smime_entity(inner))
}

/// Opens the layers of `message` with header fields `outer`, or, when
/// `inner` is given, those of `inner`, what is left after `layers`.
fn open_layers(
    outer: &Headers,
    message: &[u8],
    inner: Option<Vec<u8>>,
    mut layers: Layers,
    own: &[OwnIdentity],
    keyring: &Keyring,
) -> Result<Opened> {
    // The entity inside the layers removed so far (None: the message).
    let mut inner = inner;
    while layers.may_open_another() {
        let entity = inner.as_deref().unwrap_or(message);
        if inner.is_some() {
            match Headers::parse(split_entity(entity).0) {
                Err(_) if layers.bare_text_allowed => break,
                Err(e) => return Err(not_what_it_claims(e)),
                Ok(headers) => {
                    is_another_layer(&headers)?;
                }
            }
        }
        let layer = framing::parse(entity).map_err(|e| match inner {
            Some(_) => not_what_it_claims(e),
            None => e,
        })?;
        let next = match layer {
            framing::Received::Pkcs7Mime { cms, .. } => {
                let (content_type, content) = envelope::parse_content_info(&cms)?;
                drop(cms);
                if content_type == oid::SIGNED_DATA {
                    let signed_data = SignedData::from_ber(&content).map_err(|e| {
                        Error::Malformed(format!("cannot read the signed-data: {e}"))
                    })?;
                    let econtent = super::ber::encapsulated_content(&content)
                        .map_err(|e| Error::Malformed(format!("bad signed content: {e}")))?
                        .ok_or_else(|| {
                            Error::Malformed("the opaque signed-data carries no content".into())
                        })?;
                    let reports = check_signed_data(
                        &signed_data,
                        Content::Bytes(&econtent),
                        keyring,
                        &mut layers.certificates,
                    )?;
                    layers.signed(reports, true);
                    canon::to_crlf(&econtent)
                } else {
                    let authenticated = content_type == oid::AUTH_ENVELOPED_DATA;
                    let plaintext = envelope::decrypt_cms(content_type, content, own)?;
                    layers.decrypted(authenticated);
                    canon::to_crlf(&plaintext)
                }
            }
            framing::Received::Signed {
                signed, signature, ..
            } => {
                let signed_data = parse_signed_data(&signature)?;
                let reports = check_signed_data(
                    &signed_data,
                    Content::Bytes(signed),
                    keyring,
                    &mut layers.certificates,
                )?;
                layers.signed(reports, false);
                signed.to_vec()
            }
            framing::Received::Other => {
                // S/MIME parts inside content that is neither signed nor
                // encrypted: never decrypted into it; a signature there
                // covers only part of the message.
                let nested = framing::nested(entity).map_err(|e| match inner {
                    Some(_) => not_what_it_claims(e),
                    None => e,
                })?;
                if inner.is_none() {
                    refuse_partly_encrypted(&nested)?;
                }
                layers.found_nested(&nested);
                break;
            }
        };
        inner = Some(next);
    }
    let entity = inner.as_deref().unwrap_or(message);
    // Content that is not a MIME entity (a bare text in signed-data) is
    // the body under the outer header fields.
    let (inner_headers, body) = match Headers::parse(split_entity(entity).0) {
        _ if inner.is_none() => (outer.clone(), split_entity(entity).1),
        Ok(fields) => (fields, split_entity(entity).1),
        Err(_) => (bare_text_fields(outer), entity),
    };
    Ok(layers.finish(outer, &inner_headers, body))
}

/// The error for decrypted or signed content that is not the MIME entity
/// it claims to be: never to be taken for content that is not signed.
pub(crate) fn not_what_it_claims(e: Error) -> Error {
    let reason = match e {
        Error::Malformed(m) => m,
        other => other.to_string(),
    };
    Error::Malformed(format!(
        "the content inside the S/MIME layer is not the MIME entity it claims to be (damaged or modified?): {reason}"
    ))
}
