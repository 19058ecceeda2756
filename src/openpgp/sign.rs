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
use crate::message::canon::CrlfReader;
use crate::message::header::read_headers;
use crate::message::stream::{scan_lines, EntityScan};
use crate::message::{mime, protect, transfer, Headers};
use crate::{Error, Result};

/// Signs `message` (LF or CRLF) with `signer`; [`sign_stream`] for a
/// message in memory.
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
/// The input is read twice: once to check its MIME structure and whether
/// its body is safe to sign as it is (see [`transfer::seven_bit_safe`]),
/// then to copy and hash it. Memory stays flat, except for a body that
/// needs re-encoding and is not a single part: that one is re-encoded in
/// memory.
pub fn sign_stream<R: Read + Seek>(
    input: &mut R,
    signer: KeyPair,
    protect_headers: bool,
    output: &mut dyn Write,
) -> Result<()> {
    let mut reader = rewound(input)?;
    let (headers, body_start) = read_headers(&mut reader)?;
    let split = protect::for_signing(&headers, protect_headers);
    let mut scan = EntityScan::new(&split.inner)?;
    scan_lines(io::Cursor::new(body_start).chain(reader), &mut scan)?;
    let leaf = scan.is_leaf();
    let safe = scan.finish()?;

    let mut reader = rewound(input)?;
    let (_, body_start) = read_headers(&mut reader)?;
    let mut body = io::Cursor::new(body_start).chain(reader);

    // Everything that can fail for a reason of the message or the key
    // fails before the first byte is written.
    let mut entity: Box<dyn Read + '_> = if safe {
        Box::new(io::Cursor::new(entity_head(&split.inner)).chain(body))
    } else if leaf && transfer::is_identity_encoded(&split.inner) {
        let (headers, encoding) = transfer::encoded_headers(&split.inner);
        Box::new(
            io::Cursor::new(entity_head(&headers)).chain(transfer::Encoder::new(encoding, body)),
        )
    } else {
        let mut whole = Vec::new();
        body.read_to_end(&mut whole)
            .map_err(|e| Error::io("reading the message", e))?;
        Box::new(io::Cursor::new(transfer::seven_bit_safe(
            &split.inner.with_body(&whole),
        )?))
    };
    let hash = hash_for(&signer);
    let mut signature = Vec::new();
    let signing = detached_signer(&mut signature, signer, hash)?;
    let boundary = mime::new_boundary();
    let micalg = format!("pgp-{}", hash.to_string().to_lowercase());
    output
        .write_all(&pgpmime::signed_head(&split.outer, &boundary, &micalg))
        .map_err(write_error)?;
    sign_copy(signing, &mut entity, output)?;
    output
        .write_all(&pgpmime::signed_tail(&boundary, &signature))
        .map_err(write_error)
}

/// The header section of an entity and the blank line after it.
fn entity_head(headers: &Headers) -> Vec<u8> {
    headers.with_body(b"")
}

/// `input` from its start, canonicalized to CRLF.
fn rewound<R: Read + Seek>(input: &mut R) -> Result<CrlfReader<&mut R>> {
    input
        .rewind()
        .map_err(|e| Error::io("reading the message", e))?;
    Ok(CrlfReader::new(input))
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

/// Copies `entity` to `output` while a second thread hashes the same bytes
/// into `signing` and finalizes it.
fn sign_copy(signing: Message<'_>, entity: &mut dyn Read, output: &mut dyn Write) -> Result<()> {
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
        let copied = (|| -> Result<()> {
            loop {
                let mut chunk = recycled
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
                chunk.resize(CHUNK, 0);
                let n = loop {
                    match entity.read(&mut chunk) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        read => break read.map_err(|e| Error::io("reading the message", e))?,
                    }
                };
                if n == 0 {
                    return Ok(());
                }
                chunk.truncate(n);
                output.write_all(&chunk).map_err(write_error)?;
                if chunks.send(chunk).is_err() {
                    // The hashing thread stopped; it says why.
                    return Ok(());
                }
            }
        })();
        drop(chunks);
        let signed = hasher.join().expect("the hashing thread panicked");
        copied.and(signed)
    })
}
