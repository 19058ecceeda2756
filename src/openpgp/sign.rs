//! `sign`: a message in, a PGP/MIME multipart/signed message out, streamed
//! so that memory stays flat whatever the body's size. What is signed is
//! byte for byte what is emitted.

use std::io::{self, Read, Seek, Write};
use std::sync::mpsc;

use sequoia_openpgp::armor;
use sequoia_openpgp::crypto::mpi::PublicKey;
use sequoia_openpgp::crypto::KeyPair;
use sequoia_openpgp::serialize::stream::{Armorer, Message, Signer};
use sequoia_openpgp::types::{Curve, HashAlgorithm};

use super::pgpmime;
use crate::message::stream::{from_start, scan_lines, EntityScan};
use crate::message::{mime, protect};
use crate::{Error, Result};

/// Signs `message` (LF or CRLF), held in memory, as [`sign_stream`] does.
pub fn sign_message(message: &[u8], signer: KeyPair, protect_headers: bool) -> Result<Vec<u8>> {
    let mut signed = Vec::with_capacity(message.len() + message.len() / 16 + 4096);
    sign_stream(
        &mut io::Cursor::new(message),
        signer,
        protect_headers,
        &mut signed,
    )?;
    Ok(signed)
}

/// Signs the message in `input` (LF or CRLF) with `signer` and writes the
/// multipart/signed message to `output`. With `protect_headers`, a copy of
/// the header fields is signed inside (RFC 9788, `hp="clear"`).
///
/// The input is read twice: once to check its MIME structure and find the
/// parts that need a transfer encoding to be signed (as
/// [`crate::message::transfer::seven_bit_safe`] does), then to copy,
/// encode and hash it. Memory stays flat whatever the size, except for a
/// base64 or quoted-printable part that is not safe as it is (lines too
/// long, trailing white space): that one part is re-encoded in memory.
pub fn sign_stream<R: Read + Seek>(
    input: &mut R,
    signer: KeyPair,
    protect_headers: bool,
    output: &mut dyn Write,
) -> Result<()> {
    let (headers, body) = from_start(input)?;
    let split = protect::for_signing(&headers, protect_headers);
    let mut scan = EntityScan::new(&split.inner)?;
    scan_lines(body, &mut scan)?;
    // Everything that can fail for a reason of the message or the key
    // fails before the first byte is written.
    let plan = scan.finish()?;
    let hash = hash_for(&signer);
    let mut signature = Vec::new();
    let signing = detached_signer(&mut signature, signer, hash)?;

    let (_, body) = from_start(input)?;
    let boundary = mime::new_boundary();
    let micalg = format!("pgp-{}", hash.to_string().to_lowercase());
    output
        .write_all(&pgpmime::signed_head(&split.outer, &boundary, &micalg))
        .map_err(write_error)?;
    sign_copy(signing, output, |entity| plan.write(body, entity))?;
    output
        .write_all(&pgpmime::signed_tail(&boundary, &signature))
        .map_err(write_error)
}

fn write_error(e: io::Error) -> Error {
    Error::io("writing the signed message", e)
}

/// SHA-256, or the longer hash an ECDSA key's curve needs: gpg and RFC 9580
/// (§5.2.3.1 for DSA-like truncation) refuse a digest shorter than the curve.
fn hash_for(signer: &KeyPair) -> HashAlgorithm {
    match signer.public().mpis() {
        PublicKey::ECDSA { curve, .. } => match curve {
            Curve::NistP384 | Curve::BrainpoolP384 => HashAlgorithm::SHA384,
            Curve::NistP521 | Curve::BrainpoolP512 => HashAlgorithm::SHA512,
            _ => HashAlgorithm::SHA256,
        },
        _ => HashAlgorithm::SHA256,
    }
}

/// A writer that makes an armored detached signature with `hash` over
/// what is written to it, into `armored` when finalized.
fn detached_signer(
    armored: &mut Vec<u8>,
    signer: KeyPair,
    hash: HashAlgorithm,
) -> Result<Message<'_>> {
    let engine = |e: anyhow::Error| Error::OpenPgp(e);
    let message = Message::new(armored);
    let message = Armorer::new(message)
        .kind(armor::Kind::Signature)
        .build()
        .map_err(engine)?;
    Signer::new(message, signer)
        .and_then(|s| s.hash_algo(hash))
        .and_then(|s| s.detached().build())
        .map_err(engine)
}

const CHUNK: usize = 64 * 1024;
/// Chunks queued for the hashing thread: enough for the two threads to
/// overlap, little enough to keep memory flat.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Runs `write`, whose bytes go to `output` while a second thread hashes
/// the same bytes into `signing` and finalizes it.
fn sign_copy(
    signing: Message<'_>,
    output: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (chunks, received) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let (recycle, recycled) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
        let hasher = scope.spawn(move || -> Result<()> {
            let mut signing = signing;
            for chunk in received {
                signing
                    .write_all(&chunk)
                    .map_err(|e| Error::io("signing", e))?;
                let _ = recycle.try_send(chunk);
            }
            signing.finalize().map_err(Error::OpenPgp)
        });
        let mut tee = Tee {
            output,
            chunks,
            recycled,
            buffer: Vec::with_capacity(CHUNK),
        };
        let written = write(&mut tee).and_then(|()| tee.send());
        drop(tee);
        let signed = hasher.join().expect("the hashing thread panicked");
        // A hashing failure explains a failed send; report it first.
        signed.and(
            written.map_err(|e| Error::io("reading the message or writing the signed message", e)),
        )
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
