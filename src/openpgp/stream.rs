//! `decrypt` of PGP/MIME in bounded memory: the message is read once, as a
//! stream (see [`super::ciphertext`]), and decrypted as it arrives.
//!
//! No plaintext is released before the whole message is authenticated:
//! until the MDC (SEIPDv1) or the final AEAD tag (SEIPDv2) and every check
//! passed, the plaintext waits in a [`Spill`] (memory up to
//! [`spill::IN_MEMORY`], beyond that a temporary file encrypted under a key
//! that only this process holds), and only then is it replayed to the
//! output. SEIPDv2 chunks are authenticated one by one and could be
//! released as they come, but they are not: only the final tag proves the
//! message was not cut short, the OpenPGP layer's signatures are checked
//! at its end, and the inner structure (protected header fields, an inner
//! multipart/signed) is known only once the whole plaintext is.
//!
//! Decrypted plaintext up to [`spill::IN_MEMORY`] gets exactly the checks
//! of [`super::decrypt_message`]. Larger plaintext gets its protected
//! header fields restored, the OpenPGP layer's signatures (RFC 3156 §6.2)
//! and an inner multipart/signed (§6.1) checked from the spill; signatures
//! deeper inside (in parts of a multipart, inline in text) are not looked
//! for, and the report says so.

use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sequoia_openpgp::parse::stream::DetachedVerifierBuilder;
use sequoia_openpgp::parse::Parse;

use super::decrypt::{decrypt_into, open_plaintext, restored, seipd_v1_too_short};
use super::verify::{bind_to_author, Helper, Keys};
use super::{ciphertext, pgpmime, policy, OpenOptions, SignatureReport, Verification};
use crate::message::canon::CrlfWriter;
use crate::message::header::split_entity;
use crate::message::mime::{split_eol, Delimiters, Line, Lines};
use crate::message::Headers;
use crate::spill::{self, Spill};
use crate::{Error, Result};

/// The plaintext sequoia holds back before releasing it to the spill.
const DECRYPT_BUFFER: usize = 1 << 20;
/// The largest detached signature part accepted in a large plaintext.
const MAX_SIGNATURE: u64 = 1 << 20;

/// A decrypted message whose integrity and structure were checked, ready
/// to be written out.
pub struct Decrypted {
    /// The signatures found inside, checked, and what they leave uncovered.
    pub verification: Verification,
    /// The header section (or, for small messages, all of the message).
    head: Vec<u8>,
    /// The body, still in the spill, and where it is there.
    body: Option<(Spill, u64, u64)>,
}

impl Decrypted {
    /// Writes the cleartext message (CRLF) to `output`.
    pub fn write_to(self, output: &mut dyn Write) -> io::Result<()> {
        output.write_all(&self.head)?;
        if let Some((mut spill, start, end)) = self.body {
            io::copy(&mut spill.reader(start)?.take(end - start), output)?;
        }
        Ok(())
    }
}

/// Whether `head`, the start of a message, is PGP/MIME multipart/encrypted
/// at its root (so [`decrypt_stream`] reads it).
pub fn is_pgpmime_encrypted(head: &[u8]) -> bool {
    let (header_bytes, _) = split_entity(head);
    Headers::parse(&crate::message::canon::to_crlf(header_bytes))
        .is_ok_and(|headers| pgpmime::encrypted_boundary(&headers).is_some())
}

/// Decrypts the PGP/MIME message read from `input` (of `size` bytes when
/// known: the decompression limit is reckoned from it, or else from the
/// input read so far) in bounded memory; plaintext waiting for its
/// authentication is spilled, encrypted, to a file in `spill_dir`.
pub fn decrypt_stream(
    input: impl Read + Send + Sync,
    size: Option<u64>,
    keys: &Keys,
    options: OpenOptions,
    spill_dir: &Path,
) -> Result<Decrypted> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let outer = ciphertext::read_header(&mut input)?;
    if outer.fields().is_empty() {
        return Err(Error::Malformed(
            "not an RFC 5322 message: it has no header fields".into(),
        ));
    }
    let boundary = pgpmime::encrypted_boundary(&outer).ok_or_else(|| {
        Error::Malformed("the message is not PGP/MIME encrypted (multipart/encrypted)".into())
    })?;
    let consumed = AtomicU64::new(0);
    let limit = || {
        let seen = size.unwrap_or(0).max(consumed.load(Ordering::Relaxed));
        options.plaintext_limit(usize::try_from(seen).unwrap_or(usize::MAX))
    };
    let mut spill = Spill::new(spill_dir);
    let signatures = std::thread::scope(|scope| -> Result<Vec<SignatureReport>> {
        let (mut chunks, reader) = ciphertext::spawn(scope, input, &boundary, &consumed);
        let decrypted = decrypt_chunks(&mut chunks, keys, options, &limit, &mut spill);
        // Stops the reader thread if it is still sending.
        drop(chunks);
        let read = reader.join().expect("the reading thread panicked");
        // A MIME error explains a failed decryption; report it first.
        read.and(decrypted)
    })?;
    spill
        .finish()
        .map_err(|e| Error::io("holding the decrypted plaintext", e))?;
    match spill.into_memory() {
        Ok(plaintext) => {
            let opened = open_plaintext(&outer, &plaintext, signatures, keys, options)?;
            Ok(Decrypted {
                verification: opened.verification,
                head: opened.message,
                body: None,
            })
        }
        Err(spill) => open_spilled(&outer, spill, signatures, keys),
    }
}

/// Decrypts the binary OpenPGP message `chunks` into `spill` (CRLF).
fn decrypt_chunks(
    chunks: &mut ciphertext::Chunks,
    keys: &Keys,
    options: OpenOptions,
    limit: &dyn Fn() -> u64,
    spill: &mut Spill,
) -> Result<Vec<SignatureReport>> {
    // Enough of the start to refuse what sequoia would panic on.
    let mut head = Vec::new();
    let mut want = 64 << 10;
    loop {
        let missing = want - head.len();
        let complete = (&mut *chunks)
            .take(missing as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io("reading the encrypted part", e))?
            < missing;
        if let Some(short) = seipd_v1_too_short(&head, complete) {
            short?;
            break;
        }
        want *= 2;
        if want > 64 << 20 {
            return Err(Error::Malformed(
                "the OpenPGP message starts with more than 32 MiB of packets before its encrypted data".into(),
            ));
        }
    }
    let mut sink = CrlfWriter::new(spill);
    decrypt_into(
        io::Cursor::new(head.clone()).chain(chunks),
        &head,
        keys,
        options,
        DECRYPT_BUFFER,
        limit,
        &mut sink,
    )
}

/// The decrypted message in `spill`, too large to hold: header fields
/// restored from the head of the plaintext, and the signatures over all of
/// it checked: the OpenPGP layer's and an inner multipart/signed's.
fn open_spilled(
    outer: &Headers,
    mut spill: Spill,
    mut signatures: Vec<SignatureReport>,
    keys: &Keys,
) -> Result<Decrypted> {
    let (inner, body_start) = spill.header_at(0)?;
    let (inner, body) = match pgpmime::signed_boundary(&inner) {
        Some(boundary) => {
            let signed = find_signed_part(&mut spill, body_start, &boundary)?;
            signatures.extend(verify_detached_in(&mut spill, &signed, keys)?);
            let (inner, start) = spill.header_at(signed.start)?;
            (inner, (start.min(signed.end), signed.end))
        }
        None => (inner, (body_start, spill.len())),
    };
    let mut verification = if signatures.is_empty() {
        Verification {
            signatures,
            unsigned_parts: vec![format!(
                "the body ({}), where signatures inside a decrypted message larger than {} MiB are not looked for",
                inner.content_type().mime,
                spill::IN_MEMORY >> 20
            )],
        }
    } else {
        Verification::covering(signatures)
    };
    bind_to_author(&mut verification.signatures, outer, &inner);
    Ok(Decrypted {
        verification,
        head: restored(outer, &inner).with_body(b""),
        body: Some((spill, body.0, body.1)),
    })
}

/// Where the signed part of the inner multipart/signed body at `offset`
/// is, and its signature.
struct SignedPart {
    start: u64,
    end: u64,
    signature: Vec<u8>,
}

/// Finds the two parts of the multipart/signed body with `boundary` at
/// `offset` in `spill` (by the rules of [`crate::message::mime::split`]),
/// keeping the signature part (undoing its transfer encoding).
fn find_signed_part(spill: &mut Spill, offset: u64, boundary: &str) -> Result<SignedPart> {
    let read_err = |e| Error::io("reading the decrypted plaintext back", e);
    let reader = BufReader::with_capacity(1 << 16, spill.reader(offset).map_err(read_err)?);
    let mut lines = Lines::new(reader);
    let mut delimiters = Delimiters::new(boundary);
    let mut position = offset;
    let (mut start, mut end) = (None, offset);
    let mut signature_part = Vec::new();
    loop {
        let Some((line, starts_line)) = lines.next_piece().map_err(read_err)? else {
            delimiters.finish()?;
            break;
        };
        let n = line.len() as u64;
        match delimiters.classify(line, starts_line) {
            Line::Delimiter if delimiters.parts() == 1 => start = Some(position + n),
            Line::Part(0) => end = position + split_eol(line).0.len() as u64,
            Line::Part(1) => {
                if signature_part.len() as u64 + n > MAX_SIGNATURE {
                    return Err(Error::Malformed(
                        "the signature part of the inner multipart/signed is larger than 1 MiB"
                            .into(),
                    ));
                }
                signature_part.extend_from_slice(line);
            }
            Line::Close => break,
            _ => {}
        }
        position += n;
    }
    if delimiters.parts() != 2 {
        return Err(Error::Malformed(format!(
            "multipart/signed must have 2 parts, this one has {}",
            delimiters.parts()
        )));
    }
    let start = start.expect("two parts started");
    // An empty first part ends where it starts.
    let end = end.max(start);
    // The signature part as `split` cuts it: without its last line break.
    let cut = signature_part.len() - split_eol(&signature_part).1.len();
    signature_part.truncate(cut);
    let (header_bytes, body) = split_entity(&signature_part);
    let headers = Headers::parse(header_bytes)?;
    let signature = crate::message::transfer::decode_body(&headers, body)
        .ok_or_else(|| {
            Error::Malformed(
                "the signature part does not decode as its Content-Transfer-Encoding says".into(),
            )
        })?
        .into_owned();
    Ok(SignedPart {
        start,
        end,
        signature,
    })
}

/// Checks the detached signature of `signed` over its part in `spill`.
fn verify_detached_in(
    spill: &mut Spill,
    signed: &SignedPart,
    keys: &Keys,
) -> Result<Vec<SignatureReport>> {
    let helper = Helper::new(keys, OpenOptions::default(), false);
    let mut verifier = DetachedVerifierBuilder::from_bytes(&signed.signature)
        .and_then(|b| b.with_policy(policy(), None, helper))
        .map_err(|e| Error::Malformed(format!("cannot read the signature: {e}")))?;
    let data = spill
        .reader(signed.start)
        .map_err(|e| Error::io("reading the decrypted plaintext back", e))?
        .take(signed.end - signed.start);
    verifier
        .verify_reader(data)
        .map_err(|e| Error::Malformed(format!("cannot check the signature: {e}")))?;
    Ok(verifier.into_helper().reports)
}
