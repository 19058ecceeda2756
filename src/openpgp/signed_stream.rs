//! Signed messages checked in bounded memory. A PGP/MIME multipart/signed
//! message (RFC 3156 §5): a first pass finds its parts, keeping only the
//! signed part's header section and the signature; a second pass hashes
//! the signed part's bytes as they are read again. An inline signed body
//! ([`verify_inline`]): read once, the signed text hashed as it streams
//! past and not kept. A clear-signed body ([`verify_clearsigned`]): a
//! first pass finds the signature after the text, a second hashes the
//! text in the form the signature covers (sequoia's own reader of the
//! Cleartext Signature Framework holds all of the text in memory).

use std::io::{self, BufReader, Read, Seek};
use std::sync::atomic::AtomicU64;

use super::verify::{
    bind_to_sender, verify_detached_reader, verify_inline_into, verify_signed, Keys, Verification,
};
use super::{ciphertext, pgpmime, OpenOptions, SignatureReport};
use crate::message::header::read_header_fields;
use crate::message::mime::{split_eol, Lines};
use crate::message::signed_parts::SignedParts;
use crate::message::Headers;
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
    let headers = read_header_fields(&mut input)?;
    let consumed = AtomicU64::new(0);
    let mut body = BlockEnd::new(ciphertext::inline_body(input, headers.clone(), &consumed));
    let limit = options.plaintext_limit(usize::try_from(size.unwrap_or(0)).unwrap_or(usize::MAX));
    let signatures = verify_inline_into(&mut body, 1 << 20, limit, keys, options, &mut io::sink())?;
    io::copy(&mut body, &mut io::sink()).map_err(|e| Error::io("reading the message", e))?;
    Ok(inline_verification(signatures, &headers, body.text_after))
}

/// The verdict on an inline signed body with the header fields `headers`:
/// `signatures` bound to the author, and text after the block, if there
/// was some, named as unsigned.
fn inline_verification(
    mut signatures: Vec<SignatureReport>,
    headers: &Headers,
    text_after: bool,
) -> Verification {
    bind_to_sender(&mut signatures, headers);
    let unsigned_parts = if text_after {
        vec![format!(
            "text after the signed block in the body ({})",
            headers.content_type().mime
        )]
    } else {
        Vec::new()
    };
    Verification {
        signatures,
        unsigned_parts,
    }
}

/// The most a clear-signed body's signature block may take.
const MAX_SIGNATURE: usize = 1 << 20;

/// Checks the message read from `input`, whose body is not multipart and
/// starts, white space aside, with clear-signed text (RFC 9580 §7), as
/// [`super::verify_message`] does, in two passes over `input`.
pub fn verify_clearsigned<R: Read + Seek + Send + Sync>(
    input: &mut R,
    keys: &Keys,
) -> Result<Verification> {
    let (headers, mut lines) = body_lines(input)?;
    let (signature, text_after) = find_signature(&mut lines)?;
    drop(lines);
    let (_, lines) = body_lines(input)?;
    let signatures = verify_signed_text(lines, &signature, keys)?;
    Ok(inline_verification(signatures, &headers, text_after))
}

/// Checks `signature` over the clear-signed text read as `lines` (the
/// lines [`find_signature`] read), in the form the signature covers.
pub(super) fn verify_signed_text(
    lines: Lines<impl io::BufRead + Send + Sync>,
    signature: &[u8],
    keys: &Keys,
) -> Result<Vec<SignatureReport>> {
    verify_detached_reader(SignedText::new(lines), signature, keys)
}

/// The header fields of the message in `input`, read from its start, and
/// the lines of its body, its Content-Transfer-Encoding undone.
fn body_lines<R: Read + Seek + Send + Sync>(
    input: &mut R,
) -> Result<(Headers, Lines<BufReader<impl Read + Send + Sync + '_>>)> {
    let mut input = BufReader::with_capacity(1 << 16, from_start(input)?);
    let headers = read_header_fields(&mut input)?;
    // The count of bytes read is for decrypting's limit; not needed here.
    static UNCOUNTED: AtomicU64 = AtomicU64::new(0);
    let body = ciphertext::inline_body(input, headers.clone(), &UNCOUNTED);
    Ok((headers, Lines::new(BufReader::with_capacity(1 << 16, body))))
}

/// Reads the clear-signed body in `lines` through: its armored signature
/// block, and whether anything but white space follows it.
pub(super) fn find_signature(lines: &mut Lines<impl io::BufRead>) -> Result<(Vec<u8>, bool)> {
    let read_err = |e| Error::io("reading the message", e);
    let mut signature = Vec::new();
    let mut in_signature = false;
    let mut ended = false;
    let mut text_after = false;
    while let Some((line, starts_line)) = lines.next_piece().map_err(read_err)? {
        let text = split_eol(line).0.trim_ascii();
        if ended {
            text_after |= !text.is_empty();
        } else if in_signature {
            if signature.len() + line.len() > MAX_SIGNATURE {
                return Err(Error::Malformed(
                    "the signature block of the clear-signed text is larger than 1 MiB".into(),
                ));
            }
            signature.extend_from_slice(line);
            ended = starts_line && text == b"-----END PGP SIGNATURE-----";
        } else if starts_line && text == b"-----BEGIN PGP SIGNATURE-----" {
            in_signature = true;
            signature.extend_from_slice(line);
        }
    }
    if !ended {
        return Err(Error::Malformed(
            "the clear-signed text has no complete signature block after it".into(),
        ));
    }
    Ok((signature, text_after))
}

/// Where reading clear-signed text is.
#[derive(PartialEq, Eq)]
enum Csf {
    /// Before the `BEGIN PGP SIGNED MESSAGE` line.
    Before,
    /// In the armor header lines (`Hash: ...`) up to the blank line.
    Headers,
    /// In the text.
    Text,
    /// At the `BEGIN PGP SIGNATURE` line: the text ended.
    Done,
}

/// The text of a clear-signed body in the form its signature covers (RFC
/// 9580 §7.2): the dash-escaping undone, spaces and tabs at line ends
/// removed, lines ended with CRLF but for the last, as sequoia's reader
/// makes it.
struct SignedText<R> {
    lines: Lines<R>,
    state: Csf,
    /// Spaces and tabs at the end of the last piece, written only if the
    /// line goes on.
    blanks: Vec<u8>,
    /// Whether a line was written (so the next starts with a CRLF).
    wrote_line: bool,
    out: Vec<u8>,
    position: usize,
}

impl<R: io::BufRead> SignedText<R> {
    fn new(lines: Lines<R>) -> Self {
        SignedText {
            lines,
            state: Csf::Before,
            blanks: Vec::new(),
            wrote_line: false,
            out: Vec::new(),
            position: 0,
        }
    }

    /// Reads lines until there is output or the text ended.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.position = 0;
        while self.out.len() < 1 << 16 && self.state != Csf::Done {
            let Some((piece, starts_line)) = self.lines.next_piece()? else {
                self.state = Csf::Done;
                break;
            };
            let (mut content, eol) = split_eol(piece);
            match self.state {
                Csf::Before => {
                    if starts_line && content.trim_ascii() == b"-----BEGIN PGP SIGNED MESSAGE-----"
                    {
                        self.state = Csf::Headers;
                    }
                    continue;
                }
                Csf::Headers => {
                    if starts_line && content.trim_ascii().is_empty() {
                        self.state = Csf::Text;
                    }
                    continue;
                }
                Csf::Text | Csf::Done => {}
            }
            if starts_line {
                if content.starts_with(b"-----BEGIN PGP SIGNATURE") {
                    self.state = Csf::Done;
                    break;
                }
                if self.wrote_line {
                    self.out.extend_from_slice(b"\r\n");
                }
                self.wrote_line = true;
                self.blanks.clear();
                if let Some(rest) = content.strip_prefix(b"- ") {
                    content = rest;
                }
            }
            let kept = content
                .iter()
                .rposition(|b| !matches!(b, b' ' | b'\t'))
                .map_or(0, |last| last + 1);
            if kept > 0 {
                self.out.append(&mut self.blanks);
                self.out.extend_from_slice(&content[..kept]);
            }
            if eol.is_empty() {
                self.blanks.extend_from_slice(&content[kept..]);
            }
        }
        Ok(())
    }
}

impl<R: io::BufRead> Read for SignedText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.out.len() && self.state != Csf::Done {
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.position);
        buf[..n].copy_from_slice(&self.out[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
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
