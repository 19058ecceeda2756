//! multipart/signed (RFC 1847) made as a stream, for either technology:
//! the entity is read twice, once to check its MIME structure and plan
//! the transfer encodings that make it safe to sign, then to copy and
//! encode it while a second thread hashes exactly the bytes emitted. What
//! differs between PGP/MIME and S/MIME is a [`Detached`] signature.

use std::io::{self, BufRead, Read, Seek, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use super::stream::{from_start, scan_lines, EntityScan};
use super::{mime, protect, Field, Headers};
use crate::{Error, Result};

/// A detached signature technology for multipart/signed.
pub trait Detached {
    /// What hashes the signed entity (on the second thread).
    type Hash: Write + Send;
    /// The first line of the preamble, for readers that do not know MIME.
    const PREAMBLE: &'static str;

    /// The multipart/signed Content-Type value (protocol, micalg) with
    /// `boundary`.
    fn content_type(&self, boundary: &str) -> String;
    /// A new hash for the signed entity; fails here, before any output,
    /// when the key cannot sign.
    fn hash(&self) -> Result<Self::Hash>;
    /// The signature part (header fields and body, without the line break
    /// before the closing delimiter) over what `hash` was fed.
    fn finish(self, hash: Self::Hash) -> Result<Vec<u8>>;
}

/// Signs the message in `input` (LF or CRLF) and writes the
/// multipart/signed message to `output`. With `protect_headers`, a copy of
/// the header fields is signed inside (RFC 9788, `hp="clear"`).
///
/// Memory stays flat whatever the size, except for a base64 or
/// quoted-printable part that is not safe as it is (lines too long,
/// trailing white space): that one part is re-encoded in memory.
pub fn sign_stream<R: Read + Seek>(
    input: &mut R,
    signature: impl Detached,
    protect_headers: bool,
    output: &mut dyn Write,
) -> Result<()> {
    let (headers, _) = from_start(input)?;
    let split = protect::for_signing(&headers, protect_headers);
    let mut outer = split.outer;
    outer.set("MIME-Version", "1.0");
    sign_entity(input, message_body, &split.inner, &outer, signature, output)
}

/// The body of the message in `input`, canonicalized to CRLF, from its
/// start.
fn message_body<R: Read + Seek>(input: &mut R) -> Result<Box<dyn BufRead + '_>> {
    Ok(Box::new(from_start(input)?.1))
}

/// Writes `outer` with a multipart/signed Content-Type, then the entity
/// made of `inner` and the (CRLF canonical) body that `body` reads from
/// `input` from its start, made safe to sign, then its signature.
pub fn sign_entity<R, D: Detached>(
    input: &mut R,
    body: fn(&mut R) -> Result<Box<dyn BufRead + '_>>,
    inner: &Headers,
    outer: &Headers,
    signature: D,
    output: &mut dyn Write,
) -> Result<()> {
    let mut scan = EntityScan::new(inner)?;
    scan_lines(body(input)?, &mut scan)?;
    // Everything that can fail for a reason of the message or the key
    // fails before the first byte is written.
    let plan = scan.finish()?;
    let hash = signature.hash()?;

    let boundary = mime::new_boundary();
    let content_type = signature.content_type(&boundary);
    output
        .write_all(&head(outer, &content_type, D::PREAMBLE, &boundary))
        .map_err(write_error)?;
    let entity = body(input)?;
    let hash = hash_copy(hash, output, |out| plan.write(entity, out))?;
    let part = signature.finish(hash)?;
    output
        .write_all(&tail(&boundary, &part))
        .map_err(write_error)
}

fn write_error(e: io::Error) -> Error {
    Error::io("writing the signed message", e)
}

/// The multipart/signed message up to the signed entity: `outer` with the
/// Content-Type, the preamble and the first delimiter.
pub fn head(outer: &Headers, content_type: &str, preamble: &str, boundary: &str) -> Vec<u8> {
    let mut headers = outer.clone();
    headers.push(Field::new("Content-Type", content_type));
    let mut out = headers.to_bytes();
    out.extend_from_slice(format!("\r\n{preamble}\r\n--{boundary}\r\n").as_bytes());
    out
}

/// The multipart/signed message after the signed entity: the signature
/// `part` between its delimiters.
pub fn tail(boundary: &str, part: &[u8]) -> Vec<u8> {
    let mut out = format!("\r\n--{boundary}\r\n").into_bytes();
    out.extend_from_slice(part);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

const CHUNK: usize = 64 * 1024;
/// Chunks queued for the hashing thread: enough for the two threads to
/// overlap, little enough to keep memory flat.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Runs `write`, whose bytes go to `output` while a second thread feeds
/// the same bytes to `hash`; returns the fed hash.
fn hash_copy<H: Write + Send>(
    hash: H,
    output: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<H> {
    std::thread::scope(|scope| {
        let (chunks, received) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
        let hasher = scope.spawn(move || -> Result<H> {
            let mut hash = hash;
            for chunk in received {
                hash.write_all(&chunk)
                    .map_err(|e| Error::io("signing", e))?;
                let _ = recycle.try_send(chunk);
            }
            Ok(hash)
        });
        let mut tee = Tee {
            output,
            chunks,
            recycled,
            buffer: Vec::with_capacity(CHUNK),
        };
        let written = write(&mut tee).and_then(|()| tee.send());
        drop(tee);
        let hashed = hasher.join().expect("the hashing thread panicked");
        // A hashing failure explains a failed send; report it first.
        let hash = hashed?;
        written.map_err(|e| Error::io("reading the message or writing the signed message", e))?;
        Ok(hash)
    })
}

/// Writes to `output` and hands the same bytes, in chunks, to the hashing
/// thread, reusing the buffers it gives back.
struct Tee<'a> {
    output: &'a mut dyn Write,
    chunks: mpsc::SyncSender<Vec<u8>>,
    recycled: mpsc::Receiver<Vec<u8>>,
    buffer: Vec<u8>,
}

impl Tee<'_> {
    /// Writes and hands over what is buffered.
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.output.write_all(&self.buffer)?;
        let mut next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        next.clear();
        let chunk = std::mem::replace(&mut self.buffer, next);
        self.chunks
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "signing stopped"))
    }
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let taken = buf.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..taken]);
        if self.buffer.len() == CHUNK {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `produce` on a second thread and hands what it writes to `consume`
/// as a reader, in bounded memory. `consume` starts only once `produce`
/// wrote something, so an error before its first byte (a malformed
/// message, a key that cannot sign) comes before `consume` writes
/// anything. A reader whose producer failed gets an error, never an early
/// end; the producer's error is the one returned.
pub fn piped<T>(
    produce: impl FnOnce(&mut dyn Write) -> Result<()> + Send,
    consume: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<T> {
    let hung_up = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let hung_up = &hung_up;
        let producer = scope.spawn(move || {
            let mut writer = PipeWriter { sender, hung_up };
            produce(&mut writer)?;
            // The end: writes never send an empty chunk.
            let _ = writer.sender.send(Vec::new());
            Ok(())
        });
        let Ok(first) = receiver.recv() else {
            return producer
                .join()
                .expect("the signing thread panicked")
                .and(Err(Error::Malformed(
                    "signing stopped before its first byte".into(),
                )));
        };
        let mut reader = PipeReader {
            receiver,
            ended: first.is_empty(),
            chunk: first,
            at: 0,
        };
        let consumed = consume(&mut reader);
        drop(reader);
        let produced = producer.join().expect("the signing thread panicked");
        // A producer that failed because the consumer stopped reading
        // explains nothing: the consumer's error does.
        if hung_up.load(Ordering::Relaxed) {
            return consumed;
        }
        produced.and(consumed)
    })
}

struct PipeWriter<'a> {
    sender: mpsc::SyncSender<Vec<u8>>,
    hung_up: &'a AtomicBool,
}

impl Write for PipeWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.sender.send(buf.to_vec()).map_err(|_| {
            self.hung_up.store(true, Ordering::Relaxed);
            io::Error::new(io::ErrorKind::BrokenPipe, "the reading side stopped")
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    receiver: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() && !self.ended {
            self.chunk = self
                .receiver
                .recv()
                .map_err(|_| io::Error::new(io::ErrorKind::UnexpectedEof, "signing stopped"))?;
            self.at = 0;
            self.ended = self.chunk.is_empty();
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piped_hands_everything_over() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let got = piped(
            |out| {
                for chunk in data.chunks(70_000) {
                    out.write_all(chunk).map_err(|e| Error::io("test", e))?;
                }
                Ok(())
            },
            |input| {
                let mut got = Vec::new();
                input
                    .read_to_end(&mut got)
                    .map_err(|e| Error::io("test", e))?;
                Ok(got)
            },
        )
        .unwrap();
        assert!(got == data);
    }

    #[test]
    fn piped_reports_the_producers_error_and_never_an_early_end() {
        // Before the first byte: the consumer does not start.
        let mut started = false;
        let result = piped(
            |_| Err(Error::Malformed("bad message".into())),
            |_| {
                started = true;
                Ok(())
            },
        );
        assert!(!started);
        assert!(result.unwrap_err().to_string().contains("bad message"));
        // Midway: the consumer's read fails; the producer's error wins.
        let mut read = Vec::new();
        let result = piped(
            |out| {
                out.write_all(b"half").map_err(|e| Error::io("test", e))?;
                Err(Error::Malformed("bad key".into()))
            },
            |input| {
                input
                    .read_to_end(&mut read)
                    .map_err(|e| Error::io("reading", e))
            },
        );
        assert!(result.unwrap_err().to_string().contains("bad key"));
        assert_eq!(read, b"half");
        // The consumer fails: its error, not the producer's hang-up.
        let result: Result<()> = piped(
            |out| loop {
                out.write_all(&[0; 4096])
                    .map_err(|e| Error::io("writing", e))?;
            },
            |_| Err(Error::Malformed("cannot write".into())),
        );
        assert!(result.unwrap_err().to_string().contains("cannot write"));
    }
}
