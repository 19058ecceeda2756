//! The two parts of a multipart/signed message (RFC 1847) found in one
//! pass in bounded memory, for OpenPGP (RFC 3156 §5) and S/MIME (RFC 8551
//! §3.5) alike: the signed part is located by its offsets, only its header
//! section and the signature part are kept; a second pass reads the signed
//! part again to hash it.

use std::io::{self, Read};
use std::ops::Range;

use super::header::{read_headers, MAX_HEADER_BYTES};
use super::stream::{scan_lines, Line, LineSink};
use super::{canon::CrlfReader, mime, Headers};
use crate::{Error, Result};

/// The largest signature part accepted (a signature with its certificate
/// chain is a few KiB; many signatures together stay far below this).
const MAX_SIGNATURE_PART: usize = 1 << 20;

/// Refuses a signature part of `len` bytes when it is larger than the
/// streaming check accepts, so that a message held in memory gets the
/// same answer.
pub(crate) fn check_signature_size(len: usize) -> Result<()> {
    if len > MAX_SIGNATURE_PART {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> Error {
    Error::Malformed(
        "the signed part's header section or the signature part of this multipart/signed message is larger than 1 MiB; is this an email message?".into(),
    )
}

/// A multipart/signed message found by a first pass over its body.
#[derive(Debug)]
pub struct SignedParts {
    /// The message's header fields.
    pub outer: Headers,
    /// The signed part's header section, without the blank line.
    pub inner_header: Vec<u8>,
    /// Where the signed part is in the (canonical) body, as [`mime::split`]
    /// delimits it.
    pub signed: Range<u64>,
    /// The signature part: its header section and body.
    pub signature: Vec<u8>,
}

impl SignedParts {
    /// Reads `message` (LF or CRLF, from its start) once: `None` when it is
    /// not multipart/signed with a `protocol` that `protocol` accepts (lower
    /// case), an error when it is one whose parts do not parse (as
    /// [`mime::split`] would say).
    pub fn scan(message: impl Read, protocol: impl Fn(&str) -> bool) -> Result<Option<Self>> {
        let (outer, body) = canonical(message)?;
        let content_type = outer.content_type();
        let accepted = protocol(
            &content_type
                .param("protocol")
                .unwrap_or("")
                .to_ascii_lowercase(),
        );
        let boundary = match content_type.param("boundary") {
            Some(boundary) if content_type.mime == "multipart/signed" && accepted => {
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
        Ok(Some(SignedParts {
            outer,
            inner_header: parts.inner_header,
            signed: parts.signed,
            signature: parts.signature,
        }))
    }

    /// The signed part's bytes in `message`, the message [`SignedParts::scan`]
    /// read, read again from its start.
    pub fn signed_part<R: Read>(&self, message: R) -> Result<io::Take<Body<R>>> {
        let (_, mut body) = canonical(message)?;
        io::copy(&mut (&mut body).take(self.signed.start), &mut io::sink())
            .map_err(|e| Error::io("reading the message", e))?;
        Ok(body.take(self.signed.end - self.signed.start))
    }

    /// Where the signed entity's body is in the (canonical) body of the
    /// message: after its header section and the blank line.
    pub fn signed_body(&self) -> Range<u64> {
        let start = self.signed.start + self.inner_header.len() as u64 + 2;
        start.min(self.signed.end)..self.signed.end
    }
}

/// The body of a message, canonicalized to CRLF.
pub type Body<R> = io::Chain<io::Cursor<Vec<u8>>, CrlfReader<R>>;

/// The header fields of `message` (LF or CRLF) and a reader of its body,
/// canonicalized to CRLF.
fn canonical<R: Read>(message: R) -> Result<(Headers, Body<R>)> {
    let mut reader = CrlfReader::new(message);
    let (headers, body_start) = read_headers(&mut reader)?;
    Ok((headers, io::Cursor::new(body_start).chain(reader)))
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
    signed: Range<u64>,
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
        if self.count == 1 && !self.inner_header_done {
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
                return Err(too_large());
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
