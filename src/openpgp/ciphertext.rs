//! The OpenPGP message inside a PGP/MIME multipart/encrypted message, or
//! the inline PGP message that is a whole body, read as a stream: a reader
//! thread takes the MIME structure apart line by line (the same rules as
//! [`pgpmime::parse`]), undoes the part's Content-Transfer-Encoding and the
//! ASCII armor, and hands binary chunks to the decrypting thread, so the
//! two halves of the work each get a core.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

use crate::message::header::MAX_HEADER_BYTES;
use crate::message::mime::{split_eol, Delimiters, Line, Lines};
use crate::message::transfer::Decoder;
use crate::message::{canon, Headers};
use crate::{Error, Result};

/// Binary OpenPGP bytes per chunk handed to the decrypting thread.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the threads.
const IN_FLIGHT: usize = 4;
/// Decoded bytes gathered before the dearmoring reads them.
const FILL: usize = 64 << 10;
/// Where the OpenPGP message is in a message's body.
pub enum Framing {
    /// PGP/MIME: the second part of the multipart/encrypted body with this
    /// boundary.
    PgpMime(String),
    /// Inline PGP: an armored PGP MESSAGE that is all of the body (white
    /// space aside), whose Content-Transfer-Encoding the header fields say.
    Inline(Headers),
}

/// Reads the rest of a message from `input` (after its header section) on
/// a second thread, sending the binary OpenPGP message `framing` says
/// where to find to the returned reader. `consumed` counts the input bytes
/// read so far. The thread's result says whether the MIME structure was
/// whole; it ends early when the reader is dropped.
pub fn spawn<'scope, R: BufRead + Send + Sync + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    input: R,
    framing: Framing,
    consumed: &'scope AtomicU64,
) -> (Chunks, std::thread::ScopedJoinHandle<'scope, Result<()>>) {
    let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let thread = scope.spawn(move || {
        let inline = matches!(framing, Framing::Inline(_));
        let mut part = EncryptedPart::new(input, framing, consumed);
        let sent = if inline {
            let mut dearmored = super::dearmor::Dearmor::whole(&mut part);
            pump(&mut dearmored, &sender)
        } else {
            send_binary(&mut part, &sender)
        };
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

/// The body of a message whose header section was read from `input`,
/// whose header fields are `headers`, with its Content-Transfer-Encoding
/// undone; `consumed` counts the input bytes read.
pub fn inline_body<'a, R: BufRead + Send + Sync + 'a>(
    input: R,
    headers: Headers,
    consumed: &'a AtomicU64,
) -> impl Read + Send + Sync + 'a {
    EncryptedPart::new(input, Framing::Inline(headers), consumed)
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
            Err(e) => return Err(read_failure(e)),
        }
    }
    Ok(filled)
}

/// The error a failed read of the OpenPGP message stands for: the one the
/// armor check carries (an inline message that is not whole), or damage.
fn read_failure(e: io::Error) -> Error {
    let damaged = |e: &dyn std::fmt::Display| {
        Error::Integrity(format!(
            "the encrypted data is damaged, truncated or was modified ({e}); no plaintext was released"
        ))
    };
    if !e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return damaged(&e);
    }
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(error)) => *error,
        Some(Err(other)) => damaged(&other),
        None => unreachable!("checked above"),
    }
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

/// The body of the encrypted part of a multipart/encrypted body, or the
/// whole body of an inline PGP message, its Content-Transfer-Encoding
/// undone, as a reader. An error in the MIME structure ends the stream and
/// is kept in `error`.
struct EncryptedPart<'a, R> {
    lines: Lines<R>,
    /// The multipart/encrypted body's; `None` for an inline body.
    delimiters: Option<Delimiters>,
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
    fn new(input: R, framing: Framing, consumed: &'a AtomicU64) -> Self {
        let (delimiters, state, decoder) = match framing {
            Framing::PgpMime(boundary) => (
                Some(Delimiters::new(&boundary)),
                State::Before,
                Decoder::Identity,
            ),
            Framing::Inline(headers) => (None, State::Body, Decoder::for_headers(&headers)),
        };
        EncryptedPart {
            lines: Lines::new(input),
            delimiters,
            consumed,
            state,
            decoder,
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
                let Some(delimiters) = delimiters else {
                    // An inline body ends with the input.
                    decoder.end(out).map_err(|_| undecodable())?;
                    *state = State::After;
                    break;
                };
                // Not closed, so this is an error.
                return Err(delimiters.finish().err().unwrap_or_else(no_encrypted_part));
            };
            consumed.fetch_add(line.len() as u64, Ordering::Relaxed);
            let Some(delimiters) = delimiters.as_mut() else {
                decode_line(decoder, held, line, out)?;
                continue;
            };
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
                    } else if raw.len() + line.len() > MAX_HEADER_BYTES {
                        return Err(Error::Malformed(
                            "the encrypted part's header section is larger than 1 MiB".into(),
                        ));
                    } else {
                        raw.extend_from_slice(line);
                    }
                }
                (State::Body, Line::Part(_)) => decode_line(decoder, held, line, out)?,
                // The part ended: a header section without a blank line
                // is all header (no body), as for `split_entity`.
                (State::Header(_) | State::Body, _) => {
                    decoder.end(out).map_err(|_| undecodable())?;
                    *state = State::After;
                }
                (State::After, _) => unreachable!("the loop ends after the part"),
            }
        }
        Ok(())
    }

    /// Reads on to the closing delimiter (the epilogue is not read); an
    /// inline body was read to its end.
    fn finish(mut self) -> Result<()> {
        let Some(delimiters) = self.delimiters.as_mut() else {
            return Ok(());
        };
        while !delimiters.closed() {
            let Some((line, starts_line)) = self
                .lines
                .next_piece()
                .map_err(|e| Error::io("reading the message", e))?
            else {
                return delimiters.finish();
            };
            self.consumed
                .fetch_add(line.len() as u64, Ordering::Relaxed);
            delimiters.classify(line, starts_line);
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

/// Decodes the body `line` into `out`, holding back its line break, which
/// is content only if another body line follows (`held`, the one before).
fn decode_line(
    decoder: &mut Decoder,
    held: &mut Vec<u8>,
    line: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let (content, eol) = split_eol(line);
    decoder.decode(held, out).map_err(|_| undecodable())?;
    decoder.decode(content, out).map_err(|_| undecodable())?;
    held.clear();
    held.extend_from_slice(eol);
    Ok(())
}

fn no_encrypted_part() -> Error {
    Error::Malformed("multipart/encrypted has no encrypted part".into())
}

fn undecodable() -> Error {
    Error::Malformed(
        "the encrypted part does not decode as its Content-Transfer-Encoding says".into(),
    )
}
