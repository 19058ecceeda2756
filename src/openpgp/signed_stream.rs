//! Signed messages checked in bounded memory. A PGP/MIME multipart/signed
//! message (RFC 3156 §5): a first pass finds its parts, keeping only the
//! signed part's header section and the signature; a second pass hashes
//! the signed part's bytes as they are read again. An inline signed or
//! clear-signed body ([`verify_inline`]): read once, the signed text
//! hashed as it streams past and not kept.

use std::io::{self, BufReader, Read, Seek};
use std::sync::atomic::AtomicU64;

use sequoia_openpgp::parse::stream::VerifierBuilder;
use sequoia_openpgp::parse::Parse;

use super::verify::{bind_to_sender, too_large, verify_signed, Helper, Keys, Verification};
use super::{ciphertext, pgpmime, policy, OpenOptions};
use crate::message::signed_parts::SignedParts;
use crate::{Error, Result};

/// A multipart/signed message found by a first pass over the input.
#[derive(Debug)]
pub struct SignedStream {
    parts: SignedParts,
    signature: Vec<u8>,
}

impl SignedStream {
    /// Reads `input` (LF or CRLF) once: `None` when it is not an OpenPGP
    /// multipart/signed message at its top level (read it whole with
    /// [`super::verify_message`] then), an error when it is one that does
    /// not parse (as [`pgpmime::parse`] would say).
    pub fn scan<R: Read + Seek>(input: &mut R) -> Result<Option<SignedStream>> {
        let Some(parts) = SignedParts::scan(from_start(input)?, |protocol| {
            protocol == "application/pgp-signature"
        })?
        else {
            return Ok(None);
        };
        let signature = pgpmime::decoded_body(&parts.signature, "the signature part")?.into_owned();
        Ok(Some(SignedStream { parts, signature }))
    }

    /// Checks the signatures over the signed part of `input` (the input
    /// [`SignedStream::scan`] read) and binds them to the author, as
    /// [`super::verify_message`] does.
    pub fn verify<R: Read + Seek + Send + Sync>(
        self,
        input: &mut R,
        keys: &Keys,
    ) -> Result<Verification> {
        let signed = self.parts.signed_part(from_start(input)?)?;
        verify_signed(
            signed,
            &self.parts.inner_header,
            &self.parts.outer,
            &self.signature,
            keys,
        )
    }
}

/// `input`, rewound to its start.
fn from_start<R: Seek>(input: &mut R) -> Result<&mut R> {
    input
        .rewind()
        .map_err(|e| Error::io("reading the message", e))?;
    Ok(input)
}

/// Checks the message read from `input` (of `size` bytes when known, which
/// sets the decompression limit), whose body is not multipart and starts,
/// white space aside, with an inline signed or clear-signed OpenPGP block,
/// as [`super::verify_message`] does: the signatures, bound to the author,
/// and any text after the block named as unsigned.
pub fn verify_inline(
    input: impl Read + Send + Sync,
    size: Option<u64>,
    keys: &Keys,
    options: OpenOptions,
) -> Result<Verification> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let headers = ciphertext::read_header(&mut input)?;
    let consumed = AtomicU64::new(0);
    let mut body = BlockEnd::new(ciphertext::inline_body(input, headers.clone(), &consumed));
    let limit = options.plaintext_limit(usize::try_from(size.unwrap_or(0)).unwrap_or(usize::MAX));
    let helper = Helper::new(keys, options, false);
    let failure = helper.failure_slot();
    let unreadable = |e: &dyn std::fmt::Display| {
        failure
            .take()
            .unwrap_or_else(|| Error::Malformed(format!("cannot check the signed text: {e}")))
    };
    let mut verifier = match VerifierBuilder::from_reader(&mut body)
        .map(|b| b.buffer_size(1 << 20))
        .and_then(|b| b.with_policy(policy(), None, helper))
    {
        Ok(verifier) => verifier,
        Err(e) => return Err(unreadable(&e)),
    };
    let text = io::copy(&mut (&mut verifier).take(limit + 1), &mut io::sink())
        .map_err(|e| unreadable(&e))?;
    if text > limit {
        return Err(too_large(limit));
    }
    let mut signatures = verifier.into_helper().reports;
    io::copy(&mut body, &mut io::sink()).map_err(|e| Error::io("reading the message", e))?;
    bind_to_sender(&mut signatures, &headers);
    let unsigned_parts = if body.text_after {
        vec![format!(
            "text after the signed block in the body ({})",
            headers.content_type().mime
        )]
    } else {
        Vec::new()
    };
    Ok(Verification {
        signatures,
        unsigned_parts,
    })
}

/// The lines an armored block (signed message or clear-signed text) ends
/// with.
const END_LINES: [&[u8]; 2] = [b"-----END PGP SIGNATURE-----", b"-----END PGP MESSAGE-----"];

/// A reader that watches for the end of the armored block it carries and
/// whether anything but white space follows.
struct BlockEnd<R> {
    inner: R,
    ended: bool,
    text_after: bool,
    /// The start of the current line (enough to tell an END line).
    line: Vec<u8>,
    /// Whether the current line is white space so far.
    blank: bool,
}

impl<R: Read> BlockEnd<R> {
    fn new(inner: R) -> Self {
        BlockEnd {
            inner,
            ended: false,
            text_after: false,
            line: Vec::new(),
            blank: true,
        }
    }

    fn see(&mut self, mut data: &[u8]) {
        const KEEP: usize = 64;
        while !data.is_empty() {
            let newline = memchr::memchr(b'\n', data);
            let piece = &data[..newline.map_or(data.len(), |at| at + 1)];
            if self.ended {
                self.blank &= piece.iter().all(u8::is_ascii_whitespace);
            } else if self.line.len() < KEEP {
                let room = KEEP - self.line.len();
                self.line.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            if newline.is_some() {
                self.end_line();
            }
            data = &data[piece.len()..];
        }
    }

    fn end_line(&mut self) {
        if self.ended {
            self.text_after |= !self.blank;
        } else if END_LINES.contains(&self.line.trim_ascii()) {
            self.ended = true;
        }
        self.line.clear();
        self.blank = true;
    }
}

impl<R: Read> Read for BlockEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.end_line();
        }
        self.see(&buf[..n]);
        Ok(n)
    }
}
