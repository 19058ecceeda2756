//! multipart/signed (RFC 1847) made as a stream, for either technology:
//! the entity is read twice, once to check its MIME structure and plan
//! the transfer encodings that make it safe to sign, then to copy and
//! encode it while exactly the bytes emitted are hashed (on a second
//! thread when there are more than a few hundred KiB of them). A
//! base64 or quoted-printable part that must be re-encoded costs one more
//! read in between, to learn whether it decodes. What differs between
//! PGP/MIME and S/MIME is a [`Detached`] signature.

use std::io::{self, BufRead, Read, Seek, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use super::stream::{from_start, pass, scan_lines, EntityScan};
use super::{mime, protect, Field, Headers};
use crate::chunks::Offloaded;
use crate::{Error, Result};

/// A detached signature technology for multipart/signed.
pub trait Detached {
    /// What hashes the signed entity (on a second thread for a large one).
    type Hash: Write + Send + 'static;
    /// The first line of the preamble, for readers that do not know MIME.
    const PREAMBLE: &'static str;

    /// The multipart/signed Content-Type value (protocol, micalg) with
    /// `boundary`.
    fn content_type(&self, boundary: &str) -> String;
    /// A new hash for the signed entity; a key that cannot sign fails here
    /// (OpenPGP) or at [`Detached::finish`] (S/MIME).
    fn hash(&self) -> Result<Self::Hash>;
    /// The signature part (header fields and body, without the line break
    /// before the closing delimiter) over what `hash` was fed.
    fn finish(self, hash: Self::Hash) -> Result<Vec<u8>>;
}

/// Signs the message in `input` (LF or CRLF) and writes the
/// multipart/signed message to `output`. With `protect_headers`, a copy of
/// the header fields is signed inside (RFC 9788, `hp="clear"`).
///
/// Memory stays flat whatever the size, also when a base64 or
/// quoted-printable part is not safe as it is (lines too long, trailing
/// white space) and is decoded and encoded again.
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
    // Pass 1 checks the structure and plans the encodings; meanwhile the
    // second thread hashes the entity as it would be if the plan changes
    // nothing, which is the common case: then pass 2 only copies.
    let entity_head = inner.with_body(b"");
    let mut scan = EntityScan::new(inner)?;
    let mut scanned = Ok(());
    let mut body_len = 0;
    let reader = body(input)?;
    let speculative = Checked::new(signature.hash()?);
    let speculative = hash_copy(speculative, &mut io::sink(), |tee| {
        tee.write_all(&entity_head)?;
        let mut reader = Counted {
            inner: reader,
            tee,
            len: &mut body_len,
        };
        scanned = scan_lines(&mut reader, &mut scan);
        Ok(())
    })?;
    scanned?;
    // Everything that can fail for a reason of the message or the key
    // fails before the first byte is written.
    let mut plan = scan.finish()?;
    plan.find_undecodable(|| body(input))?;
    let verbatim = plan.is_verbatim(&entity_head, body_len);
    let hash = if verbatim {
        None
    } else {
        Some(signature.hash()?)
    };

    let mut entity = body(input)?;
    let boundary = mime::new_boundary();
    let content_type = signature.content_type(&boundary);
    output
        .write_all(&head(outer, &content_type, D::PREAMBLE, &boundary))
        .map_err(write_error)?;
    let hash = match hash {
        None => {
            let mut copy = Checked::new(&mut *output);
            copy.write_all(&entity_head).map_err(write_error)?;
            pass(&mut entity, body_len, &mut copy)
                .map_err(|e| Error::io("reading the message or writing the signed message", e))?;
            // The input is read twice: what was hashed must be what was
            // copied, or the signature would not match the message.
            if copy.crc.finalize() != speculative.crc.finalize() {
                return Err(Error::Malformed(
                    "the message changed while it was being signed; sign it again".into(),
                ));
            }
            speculative.inner
        }
        Some(hash) => hash_copy(hash, output, |out| plan.write(entity, out))?,
    };
    let part = signature.finish(hash)?;
    output
        .write_all(&tail(&boundary, &part))
        .map_err(write_error)
}

/// A writer that also keeps a CRC-32 of what went through it: enough to
/// notice that a file changed between two reads, which is all it is for.
struct Checked<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W> Checked<W> {
    fn new(inner: W) -> Self {
        Checked {
            inner,
            crc: crc32fast::Hasher::new(),
        }
    }
}

impl<W: Write> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader of the body that hands what is consumed to `tee` and counts it.
struct Counted<'a, R> {
    inner: R,
    tee: &'a mut dyn Write,
    len: &'a mut u64,
}

impl<R: BufRead> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tee.write_all(&buf[..n])?;
        *self.len += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            // `consume` cannot fail: a failed hand-over shows as a hash
            // thread that stopped, which `hash_copy` reports.
            let _ = self.tee.write_all(&buf[..n]);
        }
        *self.len += n as u64;
        self.inner.consume(n);
    }
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

/// Chunks of 64 KiB queued for the hashing thread: enough for the two
/// threads to overlap, little enough to keep memory flat.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Runs `write`, whose bytes go to `output` and are fed to `hash` (on a
/// second thread once there are more than a few hundred KiB); returns
/// the fed hash.
fn hash_copy<H: Write + Send + 'static>(
    hash: H,
    output: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<H> {
    let mut tee = Tee {
        output,
        hash: Offloaded::new(hash, CHUNKS_IN_FLIGHT),
    };
    let written = write(&mut tee);
    // A hashing failure explains a failed write; report it first.
    let hash = tee.hash.finish().map_err(|e| Error::io("signing", e))?;
    written.map_err(|e| Error::io("reading the message or writing the signed message", e))?;
    Ok(hash)
}

/// Writes to `output` and feeds the same bytes to the hash.
struct Tee<'a, H> {
    output: &'a mut dyn Write,
    hash: Offloaded<H>,
}

impl<H: Write + Send + 'static> Write for Tee<'_, H> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let taken = self.hash.write(buf)?;
        self.output.write_all(&buf[..taken])?;
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
            return crate::chunks::joined(producer.join()).and(Err(Error::Malformed(
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
        let produced = crate::chunks::joined(producer.join());
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
    use base64::Engine;
    use sha2::Digest;

    /// A "signature" that is the hex SHA-256 of what it was fed.
    struct Sha256Signature;

    impl Detached for Sha256Signature {
        type Hash = sha2::Sha256;
        const PREAMBLE: &'static str = "test";

        fn content_type(&self, boundary: &str) -> String {
            format!("multipart/signed; protocol=\"test\"; boundary=\"{boundary}\"")
        }

        fn hash(&self) -> Result<sha2::Sha256> {
            Ok(sha2::Sha256::new())
        }

        fn finish(self, hash: sha2::Sha256) -> Result<Vec<u8>> {
            Ok(hash
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes())
        }
    }

    /// The signed entity and the signature part of a signed message.
    fn entity_and_signature(signed: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let text = String::from_utf8(signed.to_vec()).unwrap();
        let boundary = text
            .split("boundary=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let delimiter = format!("\r\n--{boundary}\r\n");
        let start = text.find(&format!("--{boundary}\r\n")).unwrap() + boundary.len() + 4;
        let end = start + text[start..].find(&delimiter).unwrap();
        let signature = &text[end + delimiter.len()..];
        let signature = &signature[..signature.find("\r\n--").unwrap()];
        (
            text.as_bytes()[start..end].to_vec(),
            signature.as_bytes().to_vec(),
        )
    }

    #[test]
    fn what_is_hashed_is_what_is_emitted_whether_or_not_the_entity_changes() {
        let safe = b"From: a@example.org\r\nSubject: s\r\n\r\nplain text\r\n".to_vec();
        let unsafe_ = "From: a@example.org\nSubject: s\n\nnon-ASCII t\u{e9}xt \nFrom here\n"
            .as_bytes()
            .to_vec();
        for message in [safe, unsafe_] {
            for protect in [false, true] {
                let mut signed = Vec::new();
                sign_stream(
                    &mut io::Cursor::new(&message),
                    Sha256Signature,
                    protect,
                    &mut signed,
                )
                .unwrap();
                let (entity, signature) = entity_and_signature(&signed);
                let expected: String = sha2::Sha256::digest(&entity)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(String::from_utf8(signature).unwrap(), expected);
            }
        }
    }

    /// Takes `room` bytes, then fails.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "full"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_output_that_fails_is_an_error_not_a_hang() {
        // Non-ASCII text is re-encoded: the copy and the hash run together.
        let mut message = "From: a@example.org\nSubject: s\n\n".as_bytes().to_vec();
        for _ in 0..50_000 {
            message.extend_from_slice("t\u{e9}xt\n".as_bytes());
        }
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let result = sign_stream(
                &mut io::Cursor::new(message),
                Sha256Signature,
                false,
                &mut Full { room: 100_000 },
            );
            let _ = done.send(result.is_err());
        });
        let failed = finished
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("signing hung when its output failed");
        assert!(failed);
    }

    /// A message whose body changes after it was read `reads` times from
    /// its start.
    struct Changing {
        data: io::Cursor<Vec<u8>>,
        rewinds: usize,
        change_at: usize,
    }

    impl Read for Changing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.data.read(buf)
        }
    }

    impl Seek for Changing {
        fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
            self.rewinds += 1;
            if self.rewinds == self.change_at {
                let last = self.data.get_ref().len() - 3;
                self.data.get_mut()[last] ^= 1;
            }
            self.data.seek(to)
        }
    }

    #[test]
    fn a_message_that_changes_between_the_reads_is_not_signed() {
        let message = b"From: a@example.org\r\nSubject: s\r\n\r\nplain text\r\n".to_vec();
        // Read for its header, for the plan, then for the copy.
        let mut unchanged = Changing {
            data: io::Cursor::new(message.clone()),
            rewinds: 0,
            change_at: usize::MAX,
        };
        sign_stream(&mut unchanged, Sha256Signature, false, &mut Vec::new()).unwrap();
        assert_eq!(unchanged.rewinds, 3);
        let mut changing = Changing {
            data: io::Cursor::new(message),
            rewinds: 0,
            change_at: 3,
        };
        let err = sign_stream(&mut changing, Sha256Signature, false, &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("changed while it was being signed"),
            "{err}"
        );
    }

    #[test]
    fn a_reencoded_part_that_stops_decoding_between_the_reads_is_not_signed() {
        // Its trailing white space makes the base64 part unsafe; the last
        // change turns "QUJD " into "QUJD!", which does not decode.
        let message = b"From: a@example.org\r\nContent-Type: image/png\r\n\
                        Content-Transfer-Encoding: base64\r\n\r\nQUJD \r\nQUJD \r\n"
            .to_vec();
        let changing = |change_at| Changing {
            data: io::Cursor::new(message.clone()),
            rewinds: 0,
            change_at,
        };
        // Read for its header, for the plan, to check that the part
        // decodes, then for the copy.
        let mut unchanged = changing(usize::MAX);
        let mut signed = Vec::new();
        sign_stream(&mut unchanged, Sha256Signature, false, &mut signed).unwrap();
        assert_eq!(unchanged.rewinds, 4);
        let (entity, _) = entity_and_signature(&signed);
        assert!(entity.ends_with(b"\r\n\r\nQUJDQUJD\r\n"));
        // Changed before the check: encoded as it is, and signed as sent.
        let mut signed = Vec::new();
        sign_stream(&mut changing(3), Sha256Signature, false, &mut signed).unwrap();
        let (entity, signature) = entity_and_signature(&signed);
        let raw = base64::engine::general_purpose::STANDARD.encode(b"QUJD \r\nQUJD!\r\n");
        assert!(entity.ends_with(format!("\r\n\r\n{raw}\r\n").as_bytes()));
        let expected: String = sha2::Sha256::digest(&entity)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(String::from_utf8(signature).unwrap(), expected);
        // Changed after the check: an error, not a signature of
        // something else.
        let err =
            sign_stream(&mut changing(4), Sha256Signature, false, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("does not decode"), "{err}");
    }

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
