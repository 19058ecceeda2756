//! The OpenPGP message inside a PGP/MIME multipart/encrypted message, read
//! as a stream: a reader thread takes the MIME structure apart line by line
//! (the same rules as [`pgpmime::parse`]), undoes the part's
//! Content-Transfer-Encoding and the ASCII armor, and hands binary chunks
//! to the decrypting thread, so the two halves of the work each get a core.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

use base64::Engine;

use crate::message::mime::{split_eol, Delimiters, Line, Lines};
use crate::message::{canon, Headers};
use crate::{Error, Result};

/// Binary OpenPGP bytes per chunk handed to the decrypting thread.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the threads.
const IN_FLIGHT: usize = 4;
/// Decoded bytes gathered before the dearmoring reads them.
const FILL: usize = 64 << 10;
/// The most a header section (the message's or the encrypted part's) may
/// take.
const MAX_HEADER: usize = 1 << 20;

/// Reads the header section of `input` (a message or a MIME part) up to
/// and including the blank line: the fields, CRLF canonical.
pub fn read_header(input: &mut impl BufRead) -> Result<Headers> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        let n = (&mut *input)
            .take((MAX_HEADER + 1 - start) as u64)
            .read_until(b'\n', &mut raw)
            .map_err(|e| Error::io("reading the message", e))?;
        if raw.len() > MAX_HEADER {
            return Err(Error::Malformed(format!(
                "a header section is larger than {} KiB",
                MAX_HEADER >> 10
            )));
        }
        let line = &raw[start..];
        if n == 0 || line == b"\r\n" || line == b"\n" {
            raw.truncate(start);
            return Headers::parse(&canon::to_crlf(&raw));
        }
    }
}

/// Reads the rest of a multipart/encrypted message from `input` (after its
/// header section) on a second thread, sending the binary OpenPGP message
/// of its encrypted part to the returned reader. `consumed` counts the
/// input bytes read so far. The thread's result says whether the MIME
/// structure was whole; it ends early when the reader is dropped.
pub fn spawn<'scope, R: BufRead + Send + Sync + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    input: R,
    boundary: &str,
    consumed: &'scope AtomicU64,
) -> (Chunks, std::thread::ScopedJoinHandle<'scope, Result<()>>) {
    let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let boundary = boundary.to_string();
    let thread = scope.spawn(move || {
        let mut part = EncryptedPart::new(input, &boundary, consumed);
        let sent = send_binary(&mut part, &sender);
        // A MIME error explains a failed read; report it first.
        match (part.error.take(), sent) {
            (Some(e), _) => Err(e),
            (None, Ok(Sent::All)) => part.finish(),
            // The decrypting side stopped; it says why.
            (None, Ok(Sent::Stopped)) => Ok(()),
            (None, Err(e)) => Err(e),
        }
    });
    (
        Chunks {
            receiver: Mutex::new(receiver),
            chunk: Vec::new(),
            position: 0,
        },
        thread,
    )
}

/// How far sending went.
enum Sent {
    All,
    /// The receiving end was dropped.
    Stopped,
}

/// Sends the binary OpenPGP message of `part`: dearmored unless it is
/// binary already (its first byte is a packet tag, as sequoia decides).
fn send_binary(
    part: &mut (impl Read + Send + Sync),
    sender: &mpsc::SyncSender<Vec<u8>>,
) -> Result<Sent> {
    let mut first = vec![0u8; CHUNK];
    let n = read_full(part, &mut first)?;
    first.truncate(n);
    if first.first().is_some_and(|b| b & 0x80 != 0) {
        if sender.send(first).is_err() {
            return Ok(Sent::Stopped);
        }
        return pump(part, sender);
    }
    let mut dearmored = super::dearmor::Dearmor::new(io::Cursor::new(first).chain(part));
    pump(&mut dearmored, sender)
}

/// Sends everything `reader` yields, in chunks.
fn pump(reader: &mut impl Read, sender: &mpsc::SyncSender<Vec<u8>>) -> Result<Sent> {
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let n = read_full(reader, &mut chunk)?;
        if n == 0 {
            return Ok(Sent::All);
        }
        chunk.truncate(n);
        if sender.send(chunk).is_err() {
            return Ok(Sent::Stopped);
        }
    }
}

/// Fills `buf` as far as `reader` goes.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Integrity(format!(
                    "the encrypted data is damaged, truncated or was modified ({e}); no plaintext was released"
                )))
            }
        }
    }
    Ok(filled)
}

/// The decrypting thread's end: the chunks as one stream.
pub struct Chunks {
    receiver: Mutex<mpsc::Receiver<Vec<u8>>>,
    chunk: Vec<u8>,
    position: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.chunk.len() {
            let receiver = self.receiver.get_mut().unwrap_or_else(|e| e.into_inner());
            match receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.position = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.position);
        buf[..n].copy_from_slice(&self.chunk[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

/// Where reading the multipart body is.
enum State {
    /// Before the encrypted (second) part.
    Before,
    /// In the encrypted part's header section (the bytes so far).
    Header(Vec<u8>),
    /// In its body.
    Body,
    /// After it, up to the closing delimiter.
    After,
}

/// The body of the encrypted part of a multipart/encrypted body, its
/// Content-Transfer-Encoding undone, as a reader. An error in the MIME
/// structure ends the stream and is kept in `error`.
struct EncryptedPart<'a, R> {
    lines: Lines<R>,
    delimiters: Delimiters,
    consumed: &'a AtomicU64,
    state: State,
    decoder: Decoder,
    /// The line break of the last body line, not yet known to be content.
    held: Vec<u8>,
    out: Vec<u8>,
    position: usize,
    error: Option<Error>,
}

impl<'a, R: BufRead> EncryptedPart<'a, R> {
    fn new(input: R, boundary: &str, consumed: &'a AtomicU64) -> Self {
        EncryptedPart {
            lines: Lines::new(input),
            delimiters: Delimiters::new(boundary),
            consumed,
            state: State::Before,
            decoder: Decoder::Identity,
            held: Vec::new(),
            out: Vec::new(),
            position: 0,
            error: None,
        }
    }

    /// Reads lines until there is decoded output or the encrypted part
    /// ended.
    fn fill(&mut self) -> Result<()> {
        let EncryptedPart {
            lines,
            delimiters,
            consumed,
            state,
            decoder,
            held,
            out,
            ..
        } = self;
        out.clear();
        self.position = 0;
        while out.len() < FILL && !matches!(state, State::After) {
            let Some((line, starts_line)) = lines
                .next_piece()
                .map_err(|e| Error::io("reading the message", e))?
            else {
                // Not closed, so this is an error.
                return Err(delimiters.finish().err().unwrap_or_else(no_encrypted_part));
            };
            consumed.fetch_add(line.len() as u64, Ordering::Relaxed);
            let kind = delimiters.classify(line, starts_line);
            match (&mut *state, kind) {
                (State::Before, Line::Delimiter) if delimiters.parts() == 2 => {
                    *state = State::Header(Vec::new());
                }
                (State::Before, Line::Close) => return Err(no_encrypted_part()),
                (State::Before, _) => {}
                (State::Header(raw), Line::Part(_)) => {
                    if starts_line && (line == b"\r\n" || line == b"\n") {
                        let headers = Headers::parse(&canon::to_crlf(raw))?;
                        *decoder = Decoder::for_headers(&headers);
                        *state = State::Body;
                    } else if raw.len() + line.len() > MAX_HEADER {
                        return Err(Error::Malformed(
                            "the encrypted part's header section is larger than 1 MiB".into(),
                        ));
                    } else {
                        raw.extend_from_slice(line);
                    }
                }
                (State::Body, Line::Part(_)) => {
                    let (content, eol) = split_eol(line);
                    decoder.decode(held, out)?;
                    decoder.decode(content, out)?;
                    held.clear();
                    held.extend_from_slice(eol);
                }
                // The part ended: a header section without a blank line
                // is all header (no body), as for `split_entity`.
                (State::Header(_) | State::Body, _) => {
                    decoder.end(out)?;
                    *state = State::After;
                }
                (State::After, _) => unreachable!("the loop ends after the part"),
            }
        }
        Ok(())
    }

    /// Reads on to the closing delimiter (the epilogue is not read).
    fn finish(mut self) -> Result<()> {
        while !self.delimiters.closed() {
            let Some((line, starts_line)) = self
                .lines
                .next_piece()
                .map_err(|e| Error::io("reading the message", e))?
            else {
                return self.delimiters.finish();
            };
            self.consumed
                .fetch_add(line.len() as u64, Ordering::Relaxed);
            self.delimiters.classify(line, starts_line);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for EncryptedPart<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.out.len() && self.error.is_none() {
            if let Err(e) = self.fill() {
                self.error = Some(e);
            }
        }
        if let Some(e) = &self.error {
            return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
        }
        let n = buf.len().min(self.out.len() - self.position);
        buf[..n].copy_from_slice(&self.out[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

fn no_encrypted_part() -> Error {
    Error::Malformed("multipart/encrypted has no encrypted part".into())
}

fn undecodable() -> Error {
    Error::Malformed(
        "the encrypted part does not decode as its Content-Transfer-Encoding says".into(),
    )
}

/// Undoes a Content-Transfer-Encoding piece by piece, as
/// [`crate::message::transfer::decode_body`] does for a whole body.
enum Decoder {
    Identity,
    /// Base64 characters not yet decoded (fewer than 4), and whether the
    /// padding was seen.
    Base64 {
        pending: Vec<u8>,
        padded: bool,
    },
    /// The current line, up to its line break.
    QuotedPrintable(Vec<u8>),
}

impl Decoder {
    fn for_headers(headers: &Headers) -> Self {
        let encoding = headers
            .get("Content-Transfer-Encoding")
            .map(|f| f.value().to_ascii_lowercase())
            .unwrap_or_default();
        match encoding.as_str() {
            "base64" => Decoder::Base64 {
                pending: Vec::new(),
                padded: false,
            },
            "quoted-printable" => Decoder::QuotedPrintable(Vec::new()),
            _ => Decoder::Identity,
        }
    }

    fn decode(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self {
            Decoder::Identity => out.extend_from_slice(data),
            Decoder::Base64 { pending, padded } => {
                pending.extend(data.iter().filter(|b| !b.is_ascii_whitespace()));
                let whole = pending.len() / 4 * 4;
                if whole > 0 {
                    if *padded {
                        return Err(undecodable());
                    }
                    *padded = pending[..whole].contains(&b'=');
                    base64::engine::general_purpose::STANDARD
                        .decode_vec(&pending[..whole], out)
                        .map_err(|_| undecodable())?;
                    pending.drain(..whole);
                }
            }
            Decoder::QuotedPrintable(line) => {
                line.extend_from_slice(data);
                if line.ends_with(b"\n") {
                    Self::quoted_printable(line, out)?;
                }
            }
        }
        Ok(())
    }

    /// At the end of the part.
    fn end(&mut self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Decoder::Identity => Ok(()),
            Decoder::Base64 { pending, .. } if pending.is_empty() => Ok(()),
            Decoder::Base64 { .. } => Err(undecodable()),
            Decoder::QuotedPrintable(line) => Self::quoted_printable(line, out),
        }
    }

    fn quoted_printable(line: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<()> {
        let decoded = quoted_printable::decode(&line[..], quoted_printable::ParseMode::Robust)
            .map_err(|_| undecodable())?;
        out.extend_from_slice(&decoded);
        line.clear();
        Ok(())
    }
}
