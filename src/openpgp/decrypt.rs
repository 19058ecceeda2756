//! `decrypt`: PGP/MIME (RFC 3156 §6.1 and §6.2) and legacy inline PGP in,
//! the cleartext MIME message out, with protected headers restored.
//! Plaintext is released only after the integrity check passed, and only
//! when the encrypted data is the whole message: it is never spliced into
//! content that was not encrypted (EFAIL). [`super::stream`] opens large
//! PGP/MIME messages in bounded memory with the same core.

use std::io::{Read, Write};

use sequoia_openpgp::packet::Tag;
use sequoia_openpgp::parse::stream::DecryptorBuilder;
use sequoia_openpgp::parse::Parse;
use zeroize::Zeroizing;

use super::inline_block::Armor;
use super::verify::{
    bind_to_author, buffer_size, cipher_refused, draft_aead_refused, find_armored, is_whole,
    packet_tags, too_large, verify_detached, verify_entity, Helper, Keys,
};
use super::{pgpmime, reading_policy, OpenOptions, SignatureReport, Verification};
use crate::message::header::split_entity;
use crate::message::{canon, protect, transfer, Headers};
use crate::{Error, Result};

/// A decrypted message.
#[derive(Debug)]
pub struct Opened {
    /// The cleartext RFC 5322 message, CRLF.
    pub message: Vec<u8>,
    /// The signatures found inside, checked, and what they leave uncovered.
    pub verification: Verification,
}

/// Decrypts `message` with the own keys in `keys`. Only a message that is
/// encrypted as a whole is opened: multipart/encrypted at the root, or an
/// inline PGP message that is the entire body (white space aside).
pub fn decrypt_message(message: &[u8], keys: &Keys, options: OpenOptions) -> Result<Opened> {
    let message = canon::to_crlf(message);
    match pgpmime::parse(&message)? {
        pgpmime::Received::Encrypted { outer, ciphertext } => {
            let (plaintext, signatures) = decrypt_openpgp(&ciphertext, keys, options)?;
            open_plaintext(
                &outer,
                &canon::to_crlf(&plaintext),
                signatures,
                keys,
                options,
            )
        }
        pgpmime::Received::Other { headers, body } => {
            let content_type = headers.content_type();
            let text = (!content_type.is_multipart())
                .then(|| transfer::decode_body(&headers, body))
                .flatten();
            let block = text.as_deref().and_then(|text| {
                find_armored(text, Armor::Message)
                    .filter(|&bounds| is_whole(text, bounds))
                    .map(|(start, end)| &text[start..end])
            });
            let Some(block) = block else {
                return Err(not_whole(body, text.as_deref()));
            };
            let (plaintext, signatures) = decrypt_openpgp(block, keys, options)?;
            let plaintext = canon::to_crlf(&plaintext);
            let text = TextKind::of(&plaintext);
            open_inline(&headers, &plaintext, text, signatures, keys, options)
        }
        pgpmime::Received::Signed { .. } => Err(Error::Usage(
            "the message is signed, not encrypted: check it with `mailseal verify`".into(),
        )),
    }
}

/// The decrypted inline PGP message whose header fields are `headers`:
/// `plaintext` (CRLF, which is `text`) and the OpenPGP layer's
/// `signatures`, or else signatures inside it, checked.
pub(super) fn open_inline(
    headers: &Headers,
    plaintext: &[u8],
    text: TextKind,
    signatures: Vec<SignatureReport>,
    keys: &Keys,
    options: OpenOptions,
) -> Result<Opened> {
    let headers = inline_headers(headers, text);
    let message = headers.with_body(plaintext);
    opened(message, signatures, (&headers, &headers), keys, options)
}

/// The header fields of a decrypted inline PGP message, from its
/// `headers` and what its plaintext is: inline PGP carries text, shown as
/// text (never as the HTML the outer header may claim), in UTF-8 when it
/// is, else in the charset the header named.
pub(super) fn inline_headers(headers: &Headers, text: TextKind) -> Headers {
    let mut headers = headers.clone();
    let charset = match headers.content_type().param("charset") {
        _ if text.utf8 => "utf-8".to_string(),
        Some(charset) => charset.to_string(),
        None => "unknown-8bit".to_string(),
    };
    headers.set("MIME-Version", "1.0");
    headers.set("Content-Type", &format!("text/plain; charset={charset}"));
    headers.set(
        "Content-Transfer-Encoding",
        if text.ascii { "7bit" } else { "8bit" },
    );
    headers
}

/// What a plaintext is, as text: learnt all at once ([`TextKind::of`]) or
/// piece by piece as it is written ([`TextKind::learn`]).
#[derive(Debug, Clone, Copy)]
pub struct TextKind {
    pub ascii: bool,
    pub utf8: bool,
    /// The start of a UTF-8 sequence that the next piece may complete.
    pending: ([u8; 4], usize),
}

impl Default for TextKind {
    fn default() -> Self {
        TextKind {
            ascii: true,
            utf8: true,
            pending: ([0; 4], 0),
        }
    }
}

impl TextKind {
    /// What `text` is.
    pub fn of(text: &[u8]) -> TextKind {
        let mut kind = TextKind::default();
        kind.learn(text);
        kind.end()
    }

    /// Takes in the next piece of the text.
    pub fn learn(&mut self, mut piece: &[u8]) {
        self.ascii &= piece.is_ascii();
        if !self.utf8 || self.ascii {
            return;
        }
        while self.pending.1 > 0 && !piece.is_empty() {
            let (bytes, len) = &mut self.pending;
            bytes[*len] = piece[0];
            *len += 1;
            piece = &piece[1..];
            match std::str::from_utf8(&bytes[..*len]) {
                Ok(_) => *len = 0,
                Err(e) if e.error_len().is_none() && *len < 4 => {}
                Err(_) => {
                    self.utf8 = false;
                    return;
                }
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                let rest = &piece[e.valid_up_to()..];
                self.pending.0[..rest.len()].copy_from_slice(rest);
                self.pending.1 = rest.len();
            }
            Err(_) => self.utf8 = false,
        }
    }

    /// What the text was, once all of it was taken in.
    pub fn end(mut self) -> TextKind {
        self.utf8 &= self.pending.1 == 0;
        self
    }
}

/// The message in the decrypted PGP/MIME `plaintext` (CRLF) that came
/// with the `outer` header fields and the OpenPGP layer's `signatures`:
/// an inner multipart/signed (RFC 3156 §6.1) checked and unwrapped,
/// protected header fields restored, signatures inside looked for.
pub(super) fn open_plaintext(
    outer: &Headers,
    plaintext: &[u8],
    mut signatures: Vec<SignatureReport>,
    keys: &Keys,
    options: OpenOptions,
) -> Result<Opened> {
    let signed_entity = match pgpmime::parse(plaintext)? {
        pgpmime::Received::Signed {
            signed, signature, ..
        } => {
            signatures.extend(verify_detached(signed, &signature, keys)?);
            Some(signed)
        }
        _ => None,
    };
    let entity = signed_entity.unwrap_or(plaintext);
    let (inner_bytes, body) = split_entity(entity);
    let inner = Headers::parse(inner_bytes)?;
    let message = restored(outer, &inner).with_body(body);
    opened(message, signatures, (outer, &inner), keys, options)
}

/// The header fields of the decrypted message: `outer` with the protected
/// fields of `inner` restored (RFC 9788), and a MIME-Version.
pub(super) fn restored(outer: &Headers, inner: &Headers) -> Headers {
    let mut restored = protect::restore(outer, inner);
    if restored.get("MIME-Version").is_none() {
        restored.set("MIME-Version", "1.0");
    }
    restored
}

/// The decrypted `message` with its signature report: the OpenPGP
/// layer's signatures cover all of it; without them, signatures inside
/// (multipart/signed parts, inline clear-signed text) are looked for and
/// checked, naming whatever they leave uncovered. Plaintext whose structure
/// cannot be read (too deeply nested, a broken multipart or inline
/// signature) is an error, as it is for S/MIME: nothing is released.
fn opened(
    message: Vec<u8>,
    signatures: Vec<SignatureReport>,
    (outer, inner): (&Headers, &Headers),
    keys: &Keys,
    options: OpenOptions,
) -> Result<Opened> {
    let mut verification = if signatures.is_empty() {
        verify_entity(&message, "the body", keys, options, 0)?
    } else {
        Verification::covering(signatures)
    };
    bind_to_author(&mut verification.signatures, outer, inner);
    Ok(Opened {
        message,
        verification,
    })
}

/// Why a message that is not encrypted as a whole is not opened.
fn not_whole(body: &[u8], text: Option<&[u8]>) -> Error {
    let contains = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    let embedded_block = [Some(body), text].into_iter().flatten().any(|data| {
        contains(data, b"-----BEGIN PGP MESSAGE-----")
            || contains(data, b"application/pgp-encrypted")
    });
    if embedded_block {
        embedded()
    } else {
        not_encrypted()
    }
}

/// A message with no encrypted part.
pub(super) fn not_encrypted() -> Error {
    Error::Malformed(
        "the message is not encrypted: it has neither a PGP/MIME part nor an inline PGP block"
            .into(),
    )
}

/// A message whose encrypted part is embedded in other content (EFAIL).
pub(super) fn embedded() -> Error {
    Error::Refused {
        reason: "its encrypted part is embedded in content that was not encrypted (text, HTML or MIME parts around it that anyone could have added); decrypting it there could hand the plaintext to whoever wrote them (EFAIL); nothing was decrypted".into(),
        hint: "mailseal decrypts only a message encrypted as a whole (PGP/MIME, or an inline PGP message that is the entire body); ask the sender to send it again with PGP/MIME, or, if you trust it, copy the PGP MESSAGE block alone into a new message and decrypt that".into(),
    }
}

/// Decrypts an OpenPGP message, holding all plaintext until the whole
/// message has been authenticated, within the limits of `options`.
fn decrypt_openpgp(
    ciphertext: &[u8],
    keys: &Keys,
    options: OpenOptions,
) -> Result<(Vec<u8>, Vec<SignatureReport>)> {
    let limit = options.plaintext_limit(ciphertext.len());
    if let Some(short) = seipd_v1_too_short(ciphertext, true) {
        short?;
    }
    let mut plaintext = Zeroizing::new(Vec::new());
    let reports = decrypt_into(
        ciphertext,
        ciphertext,
        keys,
        options,
        buffer_size(limit),
        &|| limit,
        &mut *plaintext,
    )?;
    Ok((std::mem::take(&mut *plaintext), reports))
}

/// Decrypts the OpenPGP message `ciphertext` (which starts with `head`),
/// writing the plaintext to `sink` as it comes, and returns the signature
/// reports. `sink` is not authenticated plaintext until this returned
/// `Ok`: sequoia releases data before the MDC or final AEAD tag is checked
/// (after holding `buffer` bytes), and fails the last read if the check
/// fails. More than `limit()` bytes of plaintext are refused.
pub(super) fn decrypt_into(
    ciphertext: impl Read + Send + Sync,
    head: &[u8],
    keys: &Keys,
    options: OpenOptions,
    buffer: usize,
    limit: &dyn Fn() -> u64,
    sink: &mut dyn Write,
) -> Result<Vec<SignatureReport>> {
    let builder = DecryptorBuilder::from_reader(ciphertext)
        .map_err(|e| Error::Malformed(format!("cannot read the OpenPGP message: {e}")))?
        .buffer_size(buffer);
    let helper = Helper::new(keys, options, true);
    let failure = helper.failure_slot();
    let failed = |e: anyhow::Error| failure.take().unwrap_or_else(|| unreadable(e, head));
    let mut decryptor = builder
        .with_policy(reading_policy(options.allow_legacy), None, helper)
        .map_err(failed)?;
    let mut chunk = Zeroizing::new(vec![0u8; 64 << 10]);
    let mut total = 0u64;
    loop {
        let n = match decryptor.read(&mut chunk) {
            Ok(0) => return Ok(decryptor.into_helper().reports),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(e.into())),
        };
        total += n as u64;
        if total > limit() {
            return Err(too_large(limit()));
        }
        sink.write_all(&chunk[..n])
            .map_err(|e| Error::io("holding the decrypted plaintext", e))?;
    }
}

/// The shortest SEIPDv1 body of any real message: the largest cipher
/// block (16), its 2-byte quick check, and the 22-byte MDC packet.
const MIN_SEIPD_V1_BODY: u64 = 16 + 2 + 22;

/// Refuses encrypted data (SEIPDv1) too short to hold its prefix and MDC
/// before anything decrypts it: sequoia-openpgp 2.4 panics on such a
/// packet once the session key is known (parse.rs, `data_consume_hard(bl +
/// 2).unwrap()`), found by the `openpgp` fuzz target. `ciphertext` is the
/// whole message when `complete`, else its start: `None` when the start
/// does not tell yet.
pub(super) fn seipd_v1_too_short(ciphertext: &[u8], complete: bool) -> Option<Result<()>> {
    use sequoia_openpgp::packet::{Packet, SEIP};
    use sequoia_openpgp::parse::{PacketParser, PacketParserResult};
    let undecided = if complete { Some(Ok(())) } else { None };
    let Ok(mut ppr) = PacketParser::from_bytes(ciphertext) else {
        return undecided;
    };
    while let PacketParserResult::Some(mut pp) = ppr {
        match pp.packet {
            Packet::SEIP(SEIP::V1(_)) => {
                let available = std::io::copy(
                    &mut Read::take(&mut pp, MIN_SEIPD_V1_BODY),
                    &mut std::io::sink(),
                )
                .unwrap_or(0);
                if available >= MIN_SEIPD_V1_BODY {
                    return Some(Ok(()));
                }
                return complete.then(|| {
                    Err(Error::Integrity(format!(
                        "the encrypted data is truncated ({available} bytes, fewer than any encrypted message has); no plaintext was released"
                    )))
                });
            }
            // The first container that is not SEIPDv1 is what is
            // decrypted; a start that reaches it has told enough.
            _ if !complete && matches!(pp.packet.tag(), Tag::SEIP | Tag::AED | Tag::SED) => {
                return Some(Ok(()))
            }
            _ => {}
        }
        match pp.next() {
            Ok((_, next)) => ppr = next,
            Err(_) => return undecided,
        }
    }
    undecided
}

/// The error for the OpenPGP message starting with `ciphertext` that
/// sequoia refused: a policy refusal says what was refused; anything else
/// is damage.
fn unreadable(e: anyhow::Error, ciphertext: &[u8]) -> Error {
    match e.downcast_ref::<sequoia_openpgp::Error>() {
        Some(sequoia_openpgp::Error::UnsupportedSymmetricAlgorithm(cipher)) => {
            cipher_refused(*cipher)
        }
        Some(sequoia_openpgp::Error::PolicyViolation(..))
            if packet_tags(ciphertext, |tags| tags.len() >= 64).contains(&Tag::AED) =>
        {
            draft_aead_refused()
        }
        Some(sequoia_openpgp::Error::PolicyViolation(what, _)) => Error::AlgorithmRefused {
            reason: format!(
                "the message uses {what}, which mailseal's security policy refuses (e.g. encryption without integrity protection); nothing was released"
            ),
            hint: "ask the sender to send it again with a current OpenPGP program (AES with integrity protection)".into(),
        },
        _ => Error::Integrity(format!(
            "the encrypted data is damaged, truncated or was modified ({e}); no plaintext was released"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::TextKind;

    #[test]
    fn text_learnt_in_pieces_is_what_it_is_whole() {
        let texts: [&[u8]; 6] = [
            b"plain ascii\r\n",
            "Grüße, 東京, 🦀\r\n".as_bytes(),
            b"latin-1 \xfc\r\n",
            b"cut short \xe6\x9d",
            b"\xf0\x9f\xa6",
            b"",
        ];
        for text in texts {
            let whole = TextKind::of(text);
            assert_eq!(whole.utf8, std::str::from_utf8(text).is_ok(), "{text:?}");
            assert_eq!(whole.ascii, text.is_ascii(), "{text:?}");
            for size in 1..4 {
                let mut kind = TextKind::default();
                text.chunks(size).for_each(|piece| kind.learn(piece));
                let kind = kind.end();
                assert_eq!(
                    (kind.ascii, kind.utf8),
                    (whole.ascii, whole.utf8),
                    "{text:?} in pieces of {size}"
                );
            }
        }
    }
}
