//! A PGP/MIME multipart/signed message (RFC 3156 §5) checked in bounded
//! memory: a first pass finds its parts, keeping only the signed part's
//! header section and the signature; a second pass hashes the signed
//! part's bytes as they are read again.

use std::io::{self, Read, Seek};

use super::pgpmime;
use super::verify::{verify_signed, Keys, Verification};
use crate::message::header::MAX_HEADER_BYTES;
use crate::message::stream::{from_start, scan_lines, Line, LineSink};
use crate::message::{mime, Headers};
use crate::{Error, Result};

/// The largest signature part accepted (a signature is a few hundred
/// bytes; many signatures together stay far below this).
const MAX_SIGNATURE_PART: usize = 1 << 20;

/// A multipart/signed message found by a first pass over the input.
#[derive(Debug)]
pub struct SignedStream {
    outer: Headers,
    inner_header: Vec<u8>,
    /// Where the signed part is in the (canonical) body.
    signed: std::ops::Range<u64>,
    signature: Vec<u8>,
}

impl SignedStream {
    /// Reads `input` (LF or CRLF) once: `None` when it is not an OpenPGP
    /// multipart/signed message at its top level (read it whole with
    /// [`super::verify_message`] then), an error when it is one that does
    /// not parse (as [`pgpmime::parse`] would say).
    pub fn scan<R: Read + Seek>(input: &mut R) -> Result<Option<SignedStream>> {
        let (outer, body) = from_start(input)?;
        let content_type = outer.content_type();
        let protocol = content_type.param("protocol").unwrap_or("");
        let boundary = match content_type.param("boundary") {
            Some(boundary)
                if content_type.mime == "multipart/signed"
                    && protocol.eq_ignore_ascii_case("application/pgp-signature") =>
            {
                boundary.to_string()
            }
            _ => return Ok(None),
        };
        let mut parts = Parts::new(&boundary);
        scan_lines(body, &mut parts)?;
        if !parts.closed {
            return Err(if parts.count == 0 {
                mime::no_delimiter(&boundary)
            } else {
                mime::truncated(&boundary)
            });
        }
        if parts.count != 2 {
            return Err(Error::Malformed(format!(
                "multipart/signed must have 2 parts, this one has {}",
                parts.count
            )));
        }
        let signature = pgpmime::decoded_body(&parts.signature, "the signature part")?.into_owned();
        Ok(Some(SignedStream {
            outer,
            inner_header: parts.inner_header,
            signed: parts.signed,
            signature,
        }))
    }

    /// Checks the signatures over the signed part of `input` (the input
    /// [`SignedStream::scan`] read) and binds them to the author, as
    /// [`super::verify_message`] does.
    pub fn verify<R: Read + Seek + Send + Sync>(
        self,
        input: &mut R,
        keys: &Keys,
    ) -> Result<Verification> {
        let (_, mut body) = from_start(input)?;
        io::copy(&mut (&mut body).take(self.signed.start), &mut io::sink())
            .map_err(|e| Error::io("reading the message", e))?;
        let signed = body.take(self.signed.end - self.signed.start);
        verify_signed(
            signed,
            &self.inner_header,
            &self.outer,
            &self.signature,
            keys,
        )
    }
}

/// The parts of a multipart body as they stream past, split as
/// [`mime::split`] splits them.
struct Parts {
    delimiter: Vec<u8>,
    /// Body bytes seen, and where the current line started.
    offset: u64,
    line_start: u64,
    /// Parts started so far, and whether the closing delimiter was seen.
    count: usize,
    closed: bool,
    signed: std::ops::Range<u64>,
    inner_header: Vec<u8>,
    inner_header_done: bool,
    signature: Vec<u8>,
    /// Where the current line starts in the buffer being filled.
    mark: usize,
}

impl Parts {
    fn new(boundary: &str) -> Parts {
        Parts {
            delimiter: format!("--{boundary}").into_bytes(),
            offset: 0,
            line_start: 0,
            count: 0,
            closed: false,
            signed: 0..0,
            inner_header: Vec::new(),
            inner_header_done: false,
            signature: Vec::new(),
            mark: 0,
        }
    }

    /// The buffer the current line goes to: the signed part's header
    /// section, the signature part, or none.
    fn buffer(&mut self) -> Option<&mut Vec<u8>> {
        match self.count {
            _ if self.closed => None,
            1 if !self.inner_header_done => Some(&mut self.inner_header),
            2 => Some(&mut self.signature),
            _ => None,
        }
    }

    /// Ends the current part before the delimiter line that starts at
    /// `self.line_start`: the line break before it belongs to the delimiter.
    fn end_part(&mut self) {
        let part_end = self.line_start.saturating_sub(2);
        if self.count == 1 {
            self.signed.end = part_end.max(self.signed.start);
        }
        let mark = self.mark;
        if let Some(buffer) = self.buffer() {
            buffer.truncate(mark);
            if buffer.ends_with(b"\r\n") {
                buffer.truncate(buffer.len() - 2);
            }
        }
        if self.count == 1 {
            self.inner_header_done = true;
        }
    }
}

impl LineSink for Parts {
    fn piece(&mut self, bytes: &[u8]) -> Result<()> {
        self.offset += bytes.len() as u64;
        let limit = if self.count == 1 {
            MAX_HEADER_BYTES
        } else {
            MAX_SIGNATURE_PART
        };
        if let Some(buffer) = self.buffer() {
            if buffer.len() + bytes.len() > limit {
                return Err(Error::Malformed(
                    "the signed part's header section or the signature part of this multipart/signed message is larger than 1 MiB; is this an email message?".into(),
                ));
            }
            buffer.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn line(&mut self, line: &Line) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        if let Some(close) = line.delimiter(&self.delimiter) {
            if self.count > 0 {
                self.end_part();
            }
            if close {
                self.closed = true;
            } else {
                self.count += 1;
                if self.count == 1 {
                    self.signed.start = self.offset;
                }
            }
            self.mark = 0;
        } else if self.count == 1 && !self.inner_header_done && line.is_blank() {
            self.inner_header.truncate(self.mark);
            self.inner_header_done = true;
        } else if let Some(buffer) = self.buffer() {
            self.mark = buffer.len();
        }
        self.line_start = self.offset;
        Ok(())
    }
}
