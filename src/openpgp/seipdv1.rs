//! The SEIPDv1 packet (RFC 9580 §5.13.1: AES-256-CFB with a modification
//! detection code, the data packet gpg 2.2 reads), written as a stream.
//!
//! Sequoia's own writer hashes for the MDC with SHA-1 collision detection,
//! which guards *checking* a hash someone else made but adds nothing to a
//! hash we make of our own plaintext, and it took most of a large
//! encryption's time. This writer makes the same packet with plain SHA-1
//! (SHA-NI where the CPU has it): the integrity protection is unchanged.
//! The hashing runs on a thread of its own, beside the encryption, once
//! the plaintext is more than a few hundred KiB.

use std::io::{self, Write};

use sequoia_openpgp::crypto::symmetric::{BlockCipherMode, Encryptor, PaddingMode};
use sequoia_openpgp::crypto::{self, SessionKey};
use sequoia_openpgp::types::SymmetricAlgorithm;
use sha1::{Digest, Sha1};

use crate::chunks::Offloaded;

/// The data cipher of every SEIPDv1 packet written here.
pub const CIPHER: SymmetricAlgorithm = SymmetricAlgorithm::AES256;

/// The MDC packet's header: new-format tag 19, length 20.
const MDC_HEADER: [u8; 2] = [0xD3, 0x14];

/// Encrypts what is written to it into a SEIPDv1 packet on the inner
/// writer; [`Seipdv1Writer::finish`] appends the MDC and ends the packet.
pub struct Seipdv1Writer<W: Write> {
    cfb: Encryptor<PartialBodies<W>>,
    mdc: MdcHasher,
}

impl<W: Write> Seipdv1Writer<W> {
    /// Starts the packet on `inner`, encrypted with `session_key` (a
    /// [`CIPHER`] key), and writes the random prefix.
    pub fn new(mut inner: W, session_key: &SessionKey) -> io::Result<Self> {
        // New-format packet tag 18, then the version.
        inner.write_all(&[0xD2])?;
        let mut body = PartialBodies::new(inner);
        body.write_all(&[1])?;
        let cfb = Encryptor::new(
            CIPHER,
            BlockCipherMode::CFB,
            PaddingMode::None,
            session_key,
            None,
            body,
        )
        .map_err(io::Error::other)?;
        let mut writer = Seipdv1Writer {
            cfb,
            mdc: MdcHasher::new(),
        };
        // A random block, its last two octets repeated (the quick check).
        let mut prefix = [0u8; 18];
        crypto::random(&mut prefix[..16]).map_err(io::Error::other)?;
        prefix.copy_within(14..16, 16);
        writer.write_all(&prefix)?;
        Ok(writer)
    }

    /// Appends the MDC packet, ends the SEIPDv1 packet and returns the
    /// inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.mdc.update(&MDC_HEADER)?;
        let digest = self.mdc.digest()?;
        self.cfb.write_all(&MDC_HEADER)?;
        self.cfb.write_all(&digest)?;
        self.cfb.finalize().map_err(io::Error::other)?.finish()
    }
}

impl<W: Write> Write for Seipdv1Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.cfb.write(buf)?;
        self.mdc.update(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.cfb.flush()
    }
}

/// The MDC's SHA-1 of everything encrypted, hashed beside the encryption
/// once there is enough of it.
struct MdcHasher(Offloaded<Sha1>);

/// 1 MiB of plaintext may wait for the hashing thread.
const HASH_CHUNKS_IN_FLIGHT: usize = 16;

impl MdcHasher {
    fn new() -> Self {
        MdcHasher(Offloaded::new(Sha1::new(), HASH_CHUNKS_IN_FLIGHT))
    }

    fn update(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }

    fn digest(self) -> io::Result<[u8; 20]> {
        Ok(self.0.finish()?.finalize().into())
    }
}

/// log2 of the partial body length: 64 KiB pieces.
const PIECE_BITS: u32 = 16;
const PIECE: usize = 1 << PIECE_BITS;

/// Writes a packet body of unknown length as partial body lengths
/// (RFC 9580 §4.2.1.4): full pieces of [`PIECE`] octets, then the rest
/// with a definite length.
struct PartialBodies<W: Write> {
    inner: W,
    piece: Vec<u8>,
}

impl<W: Write> PartialBodies<W> {
    fn new(inner: W) -> Self {
        PartialBodies {
            inner,
            piece: Vec::with_capacity(PIECE),
        }
    }

    /// Writes the last piece and returns the inner writer.
    fn finish(mut self) -> io::Result<W> {
        let n = self.piece.len();
        // A definite length (RFC 9580 §4.2.1.1-3).
        match n {
            0..=191 => self.inner.write_all(&[n as u8])?,
            192..=8383 => {
                let m = n - 192;
                self.inner
                    .write_all(&[(m >> 8) as u8 + 192, (m & 0xFF) as u8])?
            }
            _ => {
                let mut header = [0xFF, 0, 0, 0, 0];
                header[1..].copy_from_slice(&(n as u32).to_be_bytes());
                self.inner.write_all(&header)?
            }
        }
        self.inner.write_all(&self.piece)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for PartialBodies<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Fill the piece; it is written only once more data follows, so
        // that the last octets always go out with a definite length.
        if self.piece.len() == PIECE && !buf.is_empty() {
            self.inner.write_all(&[0xE0 | PIECE_BITS as u8])?;
            self.inner.write_all(&self.piece)?;
            self.piece.clear();
        }
        let taken = buf.len().min(PIECE - self.piece.len());
        self.piece.extend_from_slice(&buf[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body lengths of a packet made of `len` octets, read back.
    fn body_lengths(len: usize) -> Vec<usize> {
        let mut writer = PartialBodies::new(Vec::new());
        writer.write_all(&vec![7u8; len]).unwrap();
        let out = writer.finish().unwrap();
        let mut lengths = Vec::new();
        let mut at = 0;
        loop {
            let (n, header, last) = match out[at] {
                b @ 0..=191 => (b as usize, 1, true),
                b @ 192..=223 => (
                    ((b as usize - 192) << 8) + out[at + 1] as usize + 192,
                    2,
                    true,
                ),
                b @ 224..=254 => (1 << (b & 0x1F), 1, false),
                _ => (
                    u32::from_be_bytes(out[at + 1..at + 5].try_into().unwrap()) as usize,
                    5,
                    true,
                ),
            };
            assert!(out[at + header..at + header + n].iter().all(|&b| b == 7));
            lengths.push(n);
            at += header + n;
            if last {
                assert_eq!(at, out.len());
                return lengths;
            }
        }
    }

    #[test]
    fn partial_bodies_end_with_a_definite_length() {
        assert_eq!(body_lengths(0), [0]);
        assert_eq!(body_lengths(191), [191]);
        assert_eq!(body_lengths(192), [192]);
        assert_eq!(body_lengths(8383), [8383]);
        assert_eq!(body_lengths(8384), [8384]);
        assert_eq!(body_lengths(PIECE), [PIECE]);
        assert_eq!(body_lengths(PIECE + 1), [PIECE, 1]);
        assert_eq!(body_lengths(3 * PIECE + 9000), [PIECE, PIECE, PIECE, 9000]);
    }
}
