//! `decrypt` of S/MIME enveloped-data and authEnveloped-data in bounded
//! memory: the message is read once; its body is decoded from its
//! Content-Transfer-Encoding (any one: base64, quoted-printable or none,
//! on a second thread), its BER (definite or indefinite lengths, the
//! encrypted content in one piece or as a constructed OCTET STRING of any
//! number of segments) parsed and its content decrypted as they arrive.
//!
//! No plaintext is released before it is authenticated: it waits in a
//! [`Spill`] (memory up to [`crate::spill::IN_MEMORY`], beyond that a temporary
//! file encrypted under a key only this process holds) until the GCM tag,
//! which comes after the content, verified, or, for CBC, the padding
//! checked; every failure is the one [`envelope::decryption_failed`]
//! error. CBC content is not authenticated by that: the caller releases it
//! only when a good signature inside covers it (or the user allowed it).
//!
//! Decrypted plaintext up to [`crate::spill::IN_MEMORY`] gets exactly the checks
//! of [`super::open_message`]. Larger plaintext is opened from the spill,
//! layer by layer, with the same checks: S/MIME multipart/signed is
//! checked from the spill in two passes ([`super::signed_stream`]);
//! opaque signed-data and another envelope (in any transfer encoding) are
//! read from the spill as a stream, their content (hashed, or decrypted)
//! going to a second spill, the first one dropped once read; the content
//! is then opened in turn, and released only after every layer's check.
//! Only the outermost header fields and the innermost entity's are kept
//! in memory. Content signed without signed attributes is checked against
//! its digest computed as it streamed past. multipart/signed without a
//! boundary parameter does not split: it is content, as in memory.
//! S/MIME parts deeper inside a multipart are looked for as the
//! plaintext of each layer is written to its spill, on a thread of its
//! own ([`crate::spill_search`]; else in one more pass over the spill,
//! [`framing::nested_streamed`]), giving the report of a small message:
//! only part of it is signed.
//!
//! `verify` of a large S/MIME message ([`verify_stream`]) removes its
//! layers the same way from the start, the message itself (read again for
//! multipart/signed) in place of the first spill: S/MIME inside a signed
//! message is opened from spills too, an envelope decrypted with the own
//! keys as in memory, and the content is then dropped.
//!
//! Opaque signed-data is hashed, as it streams, with the digest
//! algorithms its digestAlgorithms set names; a signer whose algorithm is
//! not among them (the set is not signed) gets its digest from a second
//! read, so that it is checked as in memory.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use cms::enveloped_data::RecipientInfos;
use cms::signed_data::{DigestAlgorithmIdentifiers, SignedData};
use der::asn1::{ObjectIdentifier, OctetString};
use der::Decode;
use spki::AlgorithmIdentifierOwned;

use super::certs::OwnIdentity;
use super::cipher::ContentDecryptor;
use super::envelope::{self, decryption_failed};
use super::framing::{self, NestedSearch};
use super::oid;
use super::params::{Hash, Hasher};
use super::plan::Keyring;
use super::signed_stream::{self, Reread};
use super::verify::{self, Layers, Opened};
use crate::message::canon::CrlfWriter;
use crate::message::header::{read_headers, split_entity};
use crate::message::transfer::{Decoder, Decoding};
use crate::message::Headers;
use crate::spill::{CanonicalFile, ReadFrom, Spill};
use crate::spill_search::{spill_searched, Searched};
use crate::{Error, Result};

/// The largest BER element held whole (recipient infos, parameters).
const MAX_ELEMENT: u64 = 1 << 20;
/// Ciphertext decrypted at a time.
const BATCH: usize = 1 << 16;

/// Digests of signed content, by algorithm.
type Digests = Vec<(Hash, Vec<u8>)>;

/// Whether `head`, the start of a message, is application/pkcs7-mime with
/// an enveloped or authEnveloped smime-type (so [`open_stream`] reads it).
pub fn is_enveloped(head: &[u8]) -> bool {
    has_smime_type(head, &["enveloped-data", "authEnveloped-data"])
}

/// Whether `head` is application/pkcs7-mime with one of `types`.
fn has_smime_type(head: &[u8], types: &[&str]) -> bool {
    let (header_bytes, _) = split_entity(head);
    Headers::parse(&crate::message::canon::to_crlf(header_bytes)).is_ok_and(|headers| {
        let ct = headers.content_type();
        framing::is_pkcs7_mime(&ct.mime)
            && ct
                .param("smime-type")
                .is_some_and(|t| types.iter().any(|want| t.eq_ignore_ascii_case(want)))
    })
}

/// An opened S/MIME message whose body may still wait in a spill.
pub struct OpenedStream {
    /// What was found. For a large message, `opened.message` holds only
    /// the header section; [`OpenedStream::write_to`] writes all of it.
    pub opened: Opened,
    /// The spill and where the body is in it.
    body: Option<(Spill, Range<u64>)>,
}

impl From<Opened> for OpenedStream {
    fn from(opened: Opened) -> OpenedStream {
        OpenedStream { opened, body: None }
    }
}

impl OpenedStream {
    /// Writes the cleartext message (CRLF) to `output`.
    pub fn write_to(&mut self, output: &mut dyn Write) -> io::Result<()> {
        output.write_all(&self.opened.message)?;
        if let Some((spill, body)) = &mut self.body {
            io::copy(
                &mut spill.reader(body.start)?.take(body.end - body.start),
                output,
            )?;
        }
        Ok(())
    }

    /// Whether the message may be written: an error when it was not
    /// encrypted (it is one for `verify`), or when nothing authenticates
    /// its content (enveloped-data, CBC, without a good signature) unless
    /// `allow_unauthenticated`.
    pub fn check_release(&self, allow_unauthenticated: bool) -> Result<()> {
        let opened = &self.opened;
        if !opened.was_encrypted {
            return Err(Error::Usage(
                "the message is signed, not encrypted: check it with `mailseal verify`".into(),
            ));
        }
        if !opened.authenticated() && !allow_unauthenticated {
            return Err(Error::Unauthenticated(format!(
                "the message is enveloped-data (CBC), which is not integrity-protected, and {}; nothing was written",
                if opened.signatures.is_empty() {
                    "no signature covers it"
                } else {
                    "not every signature on it is good"
                }
            )));
        }
        Ok(())
    }
}

/// Opens the application/pkcs7-mime enveloped message read from `input`
/// with one of `own`, checking signatures inside against `keyring`;
/// plaintext waiting for its authentication is spilled, encrypted, to a
/// file in `spill_dir`.
pub fn open_stream(
    input: impl Read + Send,
    own: &[OwnIdentity],
    keyring: &Keyring,
    spill_dir: &Path,
) -> Result<OpenedStream> {
    let (read, mut spill, searched) = spill_searched(spill_dir, None, |plaintext| {
        read_cms(input, "the message is not S/MIME encrypted", |ber| {
            read_content_info(ber, |ber, content_type| {
                decrypt(ber, content_type, own, plaintext)
            })
        })
    });
    let (outer, integrity_protected) = read?;
    finish(&mut spill)?;
    let opening = Opening {
        own,
        keyring,
        spill_dir,
    };
    let layers = Layers::after_decryption(integrity_protected);
    opening.open_spilled(outer, spill, Some(searched), layers)
}

/// Checks the signatures of the S/MIME message in `message` (4 MiB or
/// more) in bounded memory, as [`super::open_message`] would, for
/// `verify`: its layers (multipart/signed, signed-data or an envelope)
/// are removed one by one, each one's content going to a spill in
/// `spill_dir` to be opened in turn, an envelope decrypted with `own`. The
/// answer holds only the header section: `verify` releases no content.
/// `None` when the message is not S/MIME.
pub fn verify_stream(
    message: &mut File,
    own: &[OwnIdentity],
    keyring: &Keyring,
    spill_dir: &Path,
) -> Result<Option<Opened>> {
    let (outer, _) = read_headers(&mut message.read_again()?)?;
    if !framing::is_smime_entity(&outer) {
        return Ok(None);
    }
    let opening = Opening {
        own,
        keyring,
        spill_dir,
    };
    let mut layers = Layers::none();
    Ok(match opening.remove_layer(message, &outer, &mut layers)? {
        Removed::Spilled(content, searched) => Some(
            opening
                .open_spilled(outer, content, searched, layers)?
                .opened,
        ),
        Removed::Signed { inner, .. } => Some(layers.finish(&outer, &inner, b"")),
        Removed::NotALayer => {
            // The message itself is the content, as in memory: an
            // encrypted part inside it is refused.
            let mut file = CanonicalFile(message);
            let mut canonical = file
                .read_from(0)
                .map_err(|e| Error::io("reading the message", e))?;
            let (_, start) = read_headers(&mut canonical)?;
            let nested = nested_in(io::Cursor::new(start).chain(canonical), &outer, 0)?;
            verify::refuse_partly_encrypted(&nested)?;
            layers.found_nested(&nested);
            Some(layers.finish(&outer, &outer, b""))
        }
    })
}

/// The S/MIME parts in the entity with header fields `top` whose body
/// `body` reads (from offset `body_start` on).
fn nested_in(body: impl Read, top: &Headers, body_start: u64) -> Result<Vec<framing::NestedPart>> {
    framing::nested_streamed(
        top.clone(),
        BufReader::with_capacity(1 << 16, body),
        body_start,
    )
}

/// Seals the last of what was written to `spill`.
fn finish(spill: &mut Spill) -> Result<()> {
    spill
        .finish()
        .map_err(|e| Error::io("holding the decrypted plaintext", e))
}

/// Reads the header section of the application/pkcs7-mime message in
/// `input` (`not_smime`: the error when it is not one), then hands its
/// CMS object to `read`, its Content-Transfer-Encoding undone (any one)
/// on a second thread.
fn read_cms<T>(
    input: impl Read + Send,
    not_smime: &str,
    read: impl FnOnce(&mut Ber<&mut Decoded>) -> Result<T>,
) -> Result<(Headers, T)> {
    let mut input = input;
    let (outer, start) = read_headers(&mut input)?;
    let input = BufReader::with_capacity(1 << 16, io::Cursor::new(start).chain(input));
    if !framing::is_pkcs7_mime(&outer.content_type().mime) {
        return Err(Error::Malformed(not_smime.into()));
    }
    let body = Decoding::new(Decoder::for_headers(&outer), input);
    // Reading and decoding on a second thread, the rest on this one.
    let result = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(4);
        let reader = scope.spawn(move || send_batches(body, &sender));
        let mut decoded = Decoded {
            receiver,
            batch: Vec::new(),
            position: 0,
        };
        let result = read(&mut Ber::new(&mut decoded));
        // Stops the reading thread if it is still sending.
        drop(decoded);
        crate::chunks::joined(reader.join());
        result
    })?;
    Ok((outer, result))
}

/// `digests`, of the content of the signed-data `signed_data` read from
/// the application/pkcs7-mime message in `source`, completed by reading
/// it again for the checked digest algorithms its signers name that its
/// digestAlgorithms set (hashed on the first pass) left out.
fn complete_digests(
    source: &mut impl Reread,
    signed_data: &SignedData,
    mut digests: Digests,
) -> Result<Digests> {
    let missing: Vec<Hash> = verify::digest_algorithms(signed_data)
        .into_iter()
        .filter(|hash| digests.iter().all(|(h, _)| h != hash))
        .collect();
    if !missing.is_empty() {
        let (_, (_, more)) = read_cms(
            source.read_again()?,
            "the message is not S/MIME signed-data",
            |ber| {
                read_content_info(ber, |ber, content_type| {
                    read_signed_data(ber, content_type, Some(&missing), &mut io::sink())
                })
            },
        )?;
        digests.extend(more);
    }
    Ok(digests)
}

/// Signed content as it streams past: hashed, and written on to `out`.
struct HashedContent<'a> {
    hashers: Vec<(Hash, Hasher)>,
    out: &'a mut dyn Write,
}

impl HashedContent<'_> {
    fn digests(self) -> Digests {
        self.hashers
            .into_iter()
            .map(|(hash, hasher)| (hash, hasher.finish()))
            .collect()
    }
}

impl Write for HashedContent<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for (_, hasher) in &mut self.hashers {
            hasher.update(buf);
        }
        self.out.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads a ContentInfo from `ber`: its content type, then its content by
/// `read`; checks that nothing follows.
fn read_content_info<R: Read, T>(
    ber: &mut Ber<R>,
    read: impl FnOnce(&mut Ber<R>, ObjectIdentifier) -> Result<T>,
) -> Result<T> {
    let content_info = ber.open(0x30)?;
    let content_type: ObjectIdentifier = ber.decode(0x06)?;
    let explicit = ber.open(0xa0)?;
    let content = read(ber, content_type)?;
    ber.close(&explicit)?;
    ber.close(&content_info)?;
    ber.end()?;
    Ok(content)
}

/// Reads the SignedData of a ContentInfo of `content_type` from `ber`,
/// writing its encapsulated content to `out` and hashing it as it passes
/// with `hashes` (None: with those of its digestAlgorithms set that are
/// checked); returns it without that content, and the digests.
fn read_signed_data<R: Read>(
    ber: &mut Ber<R>,
    content_type: ObjectIdentifier,
    hashes: Option<&[Hash]>,
    out: &mut dyn Write,
) -> Result<(SignedData, Digests)> {
    if content_type != oid::SIGNED_DATA {
        return Err(Error::Malformed(format!(
            "the CMS object is {content_type}, not signed-data"
        )));
    }
    let signed = ber.open(0x30)?;
    let version = ber.element(0x02)?;
    let algorithms = ber.element(0x31)?;
    let digest_algorithms = DigestAlgorithmIdentifiers::from_ber(&algorithms).map_err(malformed)?;
    let named: Vec<Hash> = digest_algorithms
        .iter()
        .filter_map(|algorithm| Hash::from_oid(algorithm.oid))
        .filter(|hash| verify::accepted(*hash))
        .collect();
    let mut content = HashedContent {
        hashers: Vec::new(),
        out,
    };
    for &hash in hashes.unwrap_or(&named) {
        if !content.hashers.iter().any(|(h, _)| *h == hash) {
            content.hashers.push((hash, hash.hasher()));
        }
    }
    let encapsulated = ber.open(0x30)?;
    let econtent_type = ber.element(0x06)?;
    let no_content = || Error::Malformed("the opaque signed-data carries no content".into());
    match ber.next(&encapsulated)? {
        Some(Header { tag: 0xa0, len }) => {
            let wrapper = Open {
                end: len.map(|l| ber.position + l),
            };
            match ber.next(&wrapper)? {
                Some(Header {
                    tag: 0x04,
                    len: Some(len),
                }) => ber.copy(len, &mut content)?,
                Some(Header { tag: 0x24, len }) => ber.segments(len, &mut content, 0)?,
                _ => return Err(no_content()),
            }
            ber.close(&wrapper)?;
        }
        _ => return Err(no_content()),
    }
    ber.close(&encapsulated)?;
    content
        .flush()
        .map_err(|e| Error::io("holding the signed content", e))?;
    // Certificates, CRLs and signer infos: each at most MAX_ELEMENT.
    let mut rest = Vec::new();
    while let Some(Header { tag, len }) = ber.next(&signed)? {
        rest.extend(ber.rest(tag, len)?);
    }
    ber.close(&signed)?;
    let mut body = version;
    body.extend(algorithms);
    body.extend(super::ber::header(0x30, econtent_type.len()));
    body.extend(econtent_type);
    body.extend(rest);
    let mut der = super::ber::header(0x30, body.len());
    der.extend(body);
    let signed_data = SignedData::from_ber(&der)
        .map_err(|e| Error::Malformed(format!("cannot read the signed-data: {e}")))?;
    Ok((signed_data, content.digests()))
}

/// What opening the layers of a large message needs (`decrypt`: those
/// inside its envelope; `verify`: all of them).
struct Opening<'a> {
    own: &'a [OwnIdentity],
    keyring: &'a Keyring<'a>,
    spill_dir: &'a Path,
}

/// A CMS layer read from a stream: its content went on to a spill.
enum Layer {
    /// Opaque signed-data, and the digests of its content.
    Signed(SignedData, Digests),
    /// Enveloped-data, or authEnveloped-data when true.
    Encrypted(bool),
}

/// The search for S/MIME parts made as a layer's content was spilled.
type NestedSearched = Searched<NestedSearch>;

/// What removing an S/MIME layer gave.
enum Removed {
    /// Its content (CRLF), to be opened in turn, and the search made as it
    /// was written, if one was.
    Spilled(Spill, Option<NestedSearched>),
    /// multipart/signed around content that is not S/MIME: the signed
    /// entity's header fields, and where its body is in the body of the
    /// entity the layer was removed from.
    Signed { inner: Headers, body: Range<u64> },
    /// Nothing: the entity, multipart/signed without a boundary, is not a
    /// layer but content (as [`framing::parse`] finds in memory).
    NotALayer,
}

impl Opening<'_> {
    /// Opens the entity (CRLF) in `spill`, what is left of a message with
    /// header fields `outer` after `layers`: in memory when it is small,
    /// else from the spill (with what `searched` found in it as it was
    /// written, when that was searched under the same header fields).
    fn open_spilled(
        &self,
        outer: Headers,
        spill: Spill,
        searched: Option<NestedSearched>,
        layers: Layers,
    ) -> Result<OpenedStream> {
        let mut spill = match spill.into_memory() {
            Ok(entity) => return self.open_in_memory(&outer, entity.to_vec(), layers),
            Err(spill) => spill,
        };
        let (inner, body_start, searched) = match spill.header_at(0) {
            // Bare text inside opaque signed-data: the body under the
            // outer header fields.
            Err(Error::Malformed(_)) if layers.bare_text_allowed => {
                (verify::bare_text_fields(&outer), 0, None)
            }
            Err(e) => return Err(verify::not_what_it_claims(e)),
            Ok((inner, body_start)) => {
                if layers.may_open_another() && verify::is_another_layer(&inner)? {
                    return self.open_smime_inside(outer, spill, &inner, body_start, layers);
                }
                (inner, body_start, searched)
            }
        };
        Self::content(outer, spill, &inner, body_start, searched, layers)
    }

    /// The content with header fields `inner` and its body at `body_start`
    /// in `spill`, inside `layers`: S/MIME parts in it (found by `searched`
    /// as it was written, when that was searched under the same header
    /// fields, else by reading it again) are covered by their signatures
    /// only in part.
    fn content(
        outer: Headers,
        mut spill: Spill,
        inner: &Headers,
        body_start: u64,
        searched: Option<NestedSearched>,
        mut layers: Layers,
    ) -> Result<OpenedStream> {
        let nested = match searched.and_then(|s| s.matching(inner, body_start)) {
            Some(found) => found.map(|search| search.parts),
            None => spill
                .reader(body_start)
                .map_err(|e| Error::io("reading the decrypted plaintext back", e))
                .and_then(|body| nested_in(body, inner, body_start)),
        }
        .map_err(verify::not_what_it_claims)?;
        layers.found_nested(&nested);
        let end = spill.len();
        Ok(OpenedStream {
            opened: layers.finish(&outer, inner, b""),
            body: Some((spill, body_start..end)),
        })
    }

    /// Opens the S/MIME entity with header fields `inner` and its body at
    /// `body_start` in `spill`, as [`Opening::open_spilled`].
    fn open_smime_inside(
        &self,
        outer: Headers,
        mut spill: Spill,
        inner: &Headers,
        body_start: u64,
        mut layers: Layers,
    ) -> Result<OpenedStream> {
        match self.remove_layer(&mut spill, inner, &mut layers)? {
            Removed::Spilled(next, searched) => {
                drop(spill);
                self.open_spilled(outer, next, searched, layers)
            }
            Removed::Signed { inner, body } => Ok(OpenedStream {
                opened: layers.finish(&outer, &inner, b""),
                body: Some((spill, body_start + body.start..body_start + body.end)),
            }),
            Removed::NotALayer => Self::content(outer, spill, inner, body_start, None, layers),
        }
    }

    /// Removes the S/MIME layer of the entity with header fields `inner`
    /// read from `source`, counting it in `layers` (left as they were when
    /// it is not a layer).
    fn remove_layer(
        &self,
        source: &mut impl Reread,
        inner: &Headers,
        layers: &mut Layers,
    ) -> Result<Removed> {
        if inner.content_type().mime == "multipart/signed" {
            let mut nested = Spill::new(self.spill_dir);
            let inside = layers.removed_any();
            let Some(checked) = signed_stream::check(source, inside, self.keyring, &mut nested)?
            else {
                return Ok(Removed::NotALayer);
            };
            layers.certificates.extend(checked.certificates);
            layers.signed(checked.signatures, false);
            if checked.nested {
                finish(&mut nested)?;
                return Ok(Removed::Spilled(nested, None));
            }
            return Ok(Removed::Signed {
                inner: checked.inner,
                body: checked.body,
            });
        }
        let (read, mut next, searched) = spill_searched(self.spill_dir, None, |content| {
            read_cms(source.read_again()?, "the content is not S/MIME", |ber| {
                read_content_info(ber, |ber, content_type| {
                    if content_type == oid::SIGNED_DATA {
                        let mut content = CrlfWriter::new(&mut *content);
                        let (signed_data, digests) =
                            read_signed_data(ber, content_type, None, &mut content)?;
                        Ok(Layer::Signed(signed_data, digests))
                    } else {
                        decrypt(ber, content_type, self.own, content).map(Layer::Encrypted)
                    }
                })
            })
        });
        let (_, layer) = read?;
        match layer {
            Layer::Encrypted(authenticated) => layers.decrypted(authenticated),
            Layer::Signed(signed_data, digests) => {
                let digests = complete_digests(source, &signed_data, digests)?;
                let reports = verify::check_signed_data(
                    &signed_data,
                    verify::Content::Digests(&digests),
                    self.keyring,
                    &mut layers.certificates,
                )?;
                layers.signed(reports, true);
            }
        }
        finish(&mut next)?;
        Ok(Removed::Spilled(next, Some(searched)))
    }

    fn open_in_memory(
        &self,
        outer: &Headers,
        entity: Vec<u8>,
        layers: Layers,
    ) -> Result<OpenedStream> {
        Ok(verify::open_inside(outer, entity, layers, self.own, self.keyring)?.into())
    }
}

/// Reads the EnvelopedData or AuthEnvelopedData (`content_type`) of a
/// ContentInfo from `ber`, decrypts its content to `plaintext` (CRLF, to
/// a spill) and checks it; returns whether it was authEnveloped-data.
fn decrypt<R: Read>(
    ber: &mut Ber<R>,
    content_type: ObjectIdentifier,
    own: &[OwnIdentity],
    plaintext: &mut dyn Write,
) -> Result<bool> {
    let authenticated = if content_type == oid::AUTH_ENVELOPED_DATA {
        true
    } else if content_type == oid::ENVELOPED_DATA {
        false
    } else {
        return Err(Error::Malformed(format!(
            "the CMS object is {content_type}, not an encrypted message"
        )));
    };
    let envelope = ber.open(0x30)?;
    let _version = ber.element(0x02)?;
    let mut next = ber.next(&envelope)?;
    if let Some(Header { tag: 0xa0, len }) = next {
        // OriginatorInfo: not needed.
        ber.skip(len)?;
        next = ber.next(&envelope)?;
    }
    let infos = match next {
        Some(Header { tag: 0x31, len }) => {
            let raw = ber.rest(0x31, len)?;
            RecipientInfos::from_ber(&raw)
                .map_err(malformed)?
                .0
                .into_vec()
        }
        _ => return Err(truncated()),
    };
    let content = ber.open(0x30)?;
    let _content_type: ObjectIdentifier = ber.decode(0x06)?;
    let algorithm: AlgorithmIdentifierOwned = ber.decode(0x30)?;
    // The MAC comes after the content; only its length is checked now.
    // The MAC comes after the content: GCM's must be 16 bytes, and is
    // checked when it arrives.
    let decryptor =
        envelope::content_decryptor(&infos, &algorithm, authenticated.then_some(16), own)?;
    drop(infos);
    let mut plaintext = Plaintext::new(decryptor, plaintext);
    match ber.next(&content)? {
        Some(Header {
            tag: 0x80,
            len: Some(len),
        }) => ber.copy(len, &mut plaintext)?,
        Some(Header { tag: 0xa0, len }) => ber.segments(len, &mut plaintext, 0)?,
        _ => {
            return Err(Error::Malformed(
                "the envelope has no encrypted content".into(),
            ))
        }
    }
    ber.close(&content)?;
    let mac = if authenticated {
        match ber.next(&envelope)? {
            Some(Header { tag: 0xa1, .. }) => {
                return Err(Error::Malformed(
                    "authenticated attributes in AuthEnvelopedData are not supported".into(),
                ))
            }
            Some(Header { tag: 0x04, len }) => {
                let raw = ber.rest(0x04, len)?;
                Some(OctetString::from_der(&raw).map_err(malformed)?)
            }
            _ => return Err(truncated()),
        }
    } else {
        None
    };
    // Unprotected or unauthenticated attributes: not needed.
    while let Some(Header { len, .. }) = ber.next(&envelope)? {
        ber.skip(len)?;
    }
    ber.close(&envelope)?;
    plaintext.finish(mac.as_ref().map(OctetString::as_bytes))?;
    Ok(authenticated)
}

fn malformed(e: der::Error) -> Error {
    Error::Malformed(format!("cannot read the S/MIME envelope: {e}"))
}

/// The error for `e`, met `doing` something with the CMS object: cut
/// short, not decoding as its Content-Transfer-Encoding says, or another.
fn read_failed(e: io::Error, doing: &str) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => truncated(),
        io::ErrorKind::InvalidData => Error::Malformed(format!("cannot read the S/MIME part: {e}")),
        _ => Error::io(doing, e),
    }
}

fn truncated() -> Error {
    Error::Malformed(
        "cannot read the S/MIME envelope: it is truncated or not an enveloped CMS object".into(),
    )
}

/// Ciphertext in, plaintext (CRLF) out to a spill: decrypted in batches
/// of whole blocks, the last block (CBC) or bytes (GCM) held back for
/// [`ContentDecryptor::finish`].
struct Plaintext<'a> {
    decryptor: Box<dyn ContentDecryptor>,
    buffer: Vec<u8>,
    out: CrlfWriter<&'a mut dyn Write>,
}

impl<'a> Plaintext<'a> {
    fn new(decryptor: Box<dyn ContentDecryptor>, out: &'a mut dyn Write) -> Self {
        Plaintext {
            decryptor,
            buffer: Vec::with_capacity(BATCH + 16),
            out: CrlfWriter::new(out),
        }
    }

    /// Decrypts what is buffered in whole blocks, holding back at least
    /// the last block (CBC's padding) for `finish`.
    fn drain(&mut self) -> io::Result<()> {
        let block = self.decryptor.block_size();
        let n = self.buffer.len().saturating_sub(block) / block * block;
        if n == 0 {
            return Ok(());
        }
        self.decryptor.update(&mut self.buffer[..n]);
        let written = self.out.write_all(&self.buffer[..n]);
        self.buffer[..n].fill(0);
        self.buffer.drain(..n);
        written
    }

    /// Decrypts the rest and checks it against `tag`.
    fn finish(mut self, tag: Option<&[u8]>) -> Result<()> {
        self.decryptor
            .finish(&mut self.buffer, tag)
            .map_err(|_| decryption_failed())?;
        self.out
            .write_all(&self.buffer)
            .map_err(|e| Error::io("holding the decrypted plaintext", e))?;
        self.buffer.fill(0);
        Ok(())
    }
}

impl Write for Plaintext<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BATCH.saturating_sub(self.buffer.len()).max(1);
        let take = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..take]);
        if self.buffer.len() >= BATCH {
            self.drain()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A BER element's identifier octet and length (`None`: indefinite).
#[derive(Debug, Clone, Copy)]
struct Header {
    tag: u8,
    len: Option<u64>,
}

/// A constructed element being read: where it ends (`None`: at its
/// end-of-contents octets).
struct Open {
    end: Option<u64>,
}

/// Reads BER from a stream, counting the octets read.
struct Ber<R> {
    input: R,
    position: u64,
    /// A header read ahead by [`Ber::next`] that was end-of-contents.
    eoc: bool,
}

impl<R: Read> Ber<R> {
    fn new(input: R) -> Self {
        Ber {
            input,
            position: 0,
            eoc: false,
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.input
            .read_exact(buf)
            .map_err(|e| read_failed(e, "reading the message"))?;
        self.position += buf.len() as u64;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8> {
        let mut b = [0u8];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// Reads an identifier and length; low tag numbers only.
    fn header(&mut self) -> Result<Header> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(truncated());
        }
        let first = self.byte()?;
        let len = match first {
            0x80 if tag & 0x20 != 0 => None,
            0x80 => return Err(truncated()),
            n if n < 0x80 => Some(u64::from(n)),
            n => {
                let count = n & 0x7f;
                if count > 8 {
                    return Err(truncated());
                }
                let mut len = 0u64;
                for _ in 0..count {
                    len = len << 8 | u64::from(self.byte()?);
                }
                Some(len)
            }
        };
        Ok(Header { tag, len })
    }

    /// Reads the header of a constructed element with `tag`.
    fn open(&mut self, tag: u8) -> Result<Open> {
        match self.header()? {
            Header { tag: t, len } if t == tag => Ok(Open {
                end: len.map(|l| self.position + l),
            }),
            _ => Err(truncated()),
        }
    }

    /// The next element's header inside `open`, or `None` at its end (its
    /// end-of-contents octets read).
    fn next(&mut self, open: &Open) -> Result<Option<Header>> {
        match open.end {
            Some(end) if self.position >= end => Ok(None),
            Some(_) => self.header().map(Some),
            None => match self.header()? {
                Header {
                    tag: 0,
                    len: Some(0),
                } => {
                    self.eoc = true;
                    Ok(None)
                }
                header => Ok(Some(header)),
            },
        }
    }

    /// Checks that `open` ends here, reading its end-of-contents octets.
    fn close(&mut self, open: &Open) -> Result<()> {
        if std::mem::take(&mut self.eoc) {
            return Ok(());
        }
        match open.end {
            Some(end) if end == self.position => Ok(()),
            Some(_) => Err(truncated()),
            None => match self.header()? {
                Header {
                    tag: 0,
                    len: Some(0),
                } => Ok(()),
                _ => Err(truncated()),
            },
        }
    }

    /// Checks that nothing follows.
    fn end(&mut self) -> Result<()> {
        let mut b = [0u8];
        match self.input.read(&mut b) {
            Ok(0) => Ok(()),
            Ok(_) => Err(Error::Malformed(
                "cannot read the S/MIME envelope: data follows its end".into(),
            )),
            Err(e) => Err(read_failed(e, "reading the message")),
        }
    }

    /// The whole element whose header (`tag`, `len`) was just read,
    /// re-encoded with that header; at most [`MAX_ELEMENT`] octets.
    fn rest(&mut self, tag: u8, len: Option<u64>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.content(len, &mut out, 0)?;
        let mut element = super::ber::header(tag, out.len());
        element.append(&mut out);
        Ok(element)
    }

    /// Appends the raw content octets of an element of length `len` to
    /// `out` (nested indefinite lengths kept as they are, with their
    /// end-of-contents octets).
    fn content(&mut self, len: Option<u64>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
        if depth > 16 {
            return Err(truncated());
        }
        match len {
            Some(len) => {
                if out.len() as u64 + len > MAX_ELEMENT {
                    return Err(Error::Malformed(
                        "cannot read the S/MIME envelope: an element before the content is larger than 1 MiB".into(),
                    ));
                }
                let start = out.len();
                out.resize(start + len as usize, 0);
                self.read_exact(&mut out[start..])
            }
            None => loop {
                let header = self.header()?;
                out.push(header.tag);
                match header.len {
                    None => {
                        out.push(0x80);
                        self.content(None, out, depth + 1)?;
                    }
                    Some(len) => {
                        let encoded = super::ber::header(0, len as usize);
                        out.extend_from_slice(&encoded[1..]);
                        if header.tag == 0 && len == 0 {
                            // The end-of-contents octets, kept only nested.
                            if depth == 0 {
                                out.truncate(out.len() - 2);
                            }
                            return Ok(());
                        }
                        self.content(Some(len), out, depth + 1)?;
                    }
                }
            },
        }
    }

    /// Skips the content of an element of length `len`.
    fn skip(&mut self, len: Option<u64>) -> Result<()> {
        self.content(len, &mut Vec::new(), 0)
    }

    /// Reads a whole element with `tag` and decodes it.
    fn decode<T: for<'a> Decode<'a, Error = der::Error>>(&mut self, tag: u8) -> Result<T> {
        let raw = self.element(tag)?;
        T::from_ber(&raw).map_err(malformed)
    }

    /// Reads a whole element with `tag`.
    fn element(&mut self, tag: u8) -> Result<Vec<u8>> {
        match self.header()? {
            Header { tag: t, len } if t == tag => self.rest(tag, len),
            _ => Err(truncated()),
        }
    }

    /// Copies `len` content octets to `out`.
    fn copy(&mut self, len: u64, out: &mut impl Write) -> Result<()> {
        let copied = io::copy(&mut (&mut self.input).take(len), out)
            .map_err(|e| read_failed(e, "decrypting the message"))?;
        self.position += copied;
        if copied < len {
            return Err(truncated());
        }
        Ok(())
    }

    /// Copies the segments of a constructed OCTET STRING of length `len`
    /// to `out`.
    fn segments(&mut self, len: Option<u64>, out: &mut impl Write, depth: usize) -> Result<()> {
        if depth > 16 {
            return Err(truncated());
        }
        let open = Open {
            end: len.map(|l| self.position + l),
        };
        while let Some(header) = self.next(&open)? {
            match header {
                Header {
                    tag: 0x04,
                    len: Some(len),
                } => self.copy(len, out)?,
                Header { tag: 0x24, len } => self.segments(len, out, depth + 1)?,
                _ => return Err(truncated()),
            }
        }
        self.close(&open)
    }
}

/// Sends what `body` reads in batches, then an error if there was one,
/// until the receiver is gone.
fn send_batches(mut body: impl Read, sender: &SyncSender<io::Result<Vec<u8>>>) {
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let batch = match (&mut body).take(BATCH as u64).read_to_end(&mut batch) {
            Ok(0) => return,
            Ok(_) => Ok(batch),
            Err(e) => Err(e),
        };
        let failed = batch.is_err();
        if sender.send(batch).is_err() || failed {
            return;
        }
    }
}

/// The batches [`send_batches`] sent from the reading thread, read in
/// order.
struct Decoded {
    receiver: Receiver<io::Result<Vec<u8>>>,
    batch: Vec<u8>,
    position: usize,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.batch.len() {
            match self.receiver.recv() {
                Ok(batch) => self.batch = batch?,
                Err(_) => return Ok(0),
            }
            self.position = 0;
        }
        let n = buf.len().min(self.batch.len() - self.position);
        buf[..n].copy_from_slice(&self.batch[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::transfer::{Encoder, Encoding};

    /// The CMS object of `message`, as [`read_cms`] hands it on.
    fn cms_of(message: &[u8]) -> Result<Vec<u8>> {
        let (_, cms) = read_cms(message, "not S/MIME", |ber| {
            let mut out = Vec::new();
            ber.input
                .read_to_end(&mut out)
                .map_err(|e| read_failed(e, "reading the message"))?;
            Ok(out)
        })?;
        Ok(cms)
    }

    /// `body` under an application/pkcs7-mime header section in
    /// `encoding`.
    fn in_encoding(encoding: &str, body: &[u8]) -> Vec<u8> {
        let mut message = format!(
            "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
        )
        .into_bytes();
        message.extend_from_slice(body);
        message
    }

    #[test]
    fn the_cms_object_is_read_in_any_transfer_encoding_and_strictly() {
        // Every byte value but LF (quoted-printable's line breaks are
        // CRLF, so a lone LF would come back as one).
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i * 7 + i / 251) as u8)
            .map(|b| if b == b'\n' { 0 } else { b })
            .collect();
        let encoded = |encoding| {
            let mut out = Vec::new();
            Encoder::new(encoding, data.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        for (encoding, body) in [
            ("base64", encoded(Encoding::Base64)),
            ("quoted-printable", encoded(Encoding::QuotedPrintable)),
            ("binary", data.clone()),
            ("8bit", data.clone()),
        ] {
            let cms = cms_of(&in_encoding(encoding, &body)).unwrap();
            assert!(cms == data, "{encoding}");
        }
        for bad in [&b"QQ"[..], b"QQ==QUJD", b"Q!==", b"QUJDRA"] {
            let error = cms_of(&in_encoding("base64", bad)).unwrap_err().to_string();
            assert!(
                error.contains("does not decode as its Content-Transfer-Encoding says"),
                "{:?}: {error}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn segments_of_any_form_are_joined() {
        // A constructed OCTET STRING of definite length holding a
        // primitive segment and a nested indefinite one with two more.
        let ber: Vec<u8> = [
            &[0x04, 0x02][..],
            b"ab",
            &[0x24, 0x80, 0x04, 0x01],
            b"c",
            &[0x04, 0x03],
            b"def",
            &[0x00, 0x00],
        ]
        .concat();
        let mut ber_reader = Ber::new(&ber[..]);
        let mut out = Vec::new();
        ber_reader
            .segments(Some(ber.len() as u64), &mut out, 0)
            .unwrap();
        assert_eq!(out, b"abcdef");
        ber_reader.end().unwrap();

        // Cut short, or with something that is not a segment: refused.
        for bad in [&ber[..ber.len() - 1], &[0x02, 0x01, 0x00][..]] {
            let mut reader = Ber::new(bad);
            assert!(reader
                .segments(Some(ber.len() as u64), &mut Vec::new(), 0)
                .is_err());
        }
    }
}
