//! Where decrypted plaintext waits until it may be released: in memory up
//! to [`IN_MEMORY`] bytes, beyond that in an unnamed temporary file
//! (O_TMPFILE or created and unlinked at once, mode 0600) that is itself
//! encrypted with AES-256-GCM under a random key that exists only in this
//! process's memory (a sequoia `SessionKey`: wiped when dropped). Neither
//! memory nor the disk ever holds more than [`IN_MEMORY`] bytes of
//! plaintext.
//!
//! On disk the plaintext is cut into [`CHUNK`]-byte chunks, each sealed
//! with its index as the nonce (the last one flagged, so the file cannot
//! be cut short at a chunk boundary unnoticed) and followed by its tag.
//! Sequoia's AEAD does the sealing: its code is optimized even in debug
//! builds of mailseal, where generic AES code would be compiled unoptimized.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sequoia_openpgp::crypto::SessionKey;
use sequoia_openpgp::types::{AEADAlgorithm, SymmetricAlgorithm};
use zeroize::Zeroizing;

use crate::message::header::{split_entity, MAX_HEADER_BYTES};
use crate::message::Headers;

/// Plaintext up to this size stays in memory; larger plaintext goes to an
/// encrypted temporary file.
pub const IN_MEMORY: usize = 4 << 20;

/// Plaintext bytes per sealed chunk on disk.
const CHUNK: usize = 64 << 10;
const TAG: usize = 16;

/// A write-once, read-many store for plaintext; see the module doc.
pub struct Spill {
    memory: Zeroizing<Vec<u8>>,
    sealed: Option<Box<Sealed>>,
    dir: PathBuf,
    in_memory: usize,
    len: u64,
}

/// The encrypted file and the state to append to it.
struct Sealed {
    file: File,
    key: SessionKey,
    /// Plaintext of the chunk being filled.
    pending: Zeroizing<Vec<u8>>,
    /// The sealed chunk being written.
    out: Vec<u8>,
    chunks: u64,
    /// Plaintext bytes written, sealed or pending.
    written: u64,
    finished: bool,
}

impl Spill {
    /// An empty spill whose file, if one is needed, is created in `dir`.
    pub fn new(dir: &Path) -> Spill {
        Spill::with_limit(dir, IN_MEMORY)
    }

    fn with_limit(dir: &Path, in_memory: usize) -> Spill {
        Spill {
            memory: Zeroizing::new(Vec::new()),
            sealed: None,
            dir: dir.to_path_buf(),
            in_memory,
            len: 0,
        }
    }

    /// How many plaintext bytes were written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The plaintext, when all of it is in memory (after [`Spill::finish`]).
    pub fn into_memory(self) -> std::result::Result<Zeroizing<Vec<u8>>, Spill> {
        if self.sealed.is_none() {
            Ok(self.memory)
        } else {
            Err(self)
        }
    }

    /// Seals the last chunk; nothing may be written after this.
    pub fn finish(&mut self) -> io::Result<()> {
        match &mut self.sealed {
            Some(sealed) if !sealed.finished => {
                sealed.seal_pending(true)?;
                sealed.finished = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Reads the plaintext from byte `offset` on (after [`Spill::finish`]).
    pub fn reader(&mut self, offset: u64) -> io::Result<SpillReader<'_>> {
        let offset = offset.min(self.len);
        let source = match &mut self.sealed {
            None => Source::Memory(&self.memory[offset as usize..]),
            Some(sealed) => {
                if !sealed.finished {
                    return Err(io::Error::other(
                        "the spill was read before it was finished",
                    ));
                }
                let index = offset / CHUNK as u64;
                sealed
                    .file
                    .seek(SeekFrom::Start(index * (CHUNK + TAG) as u64))?;
                Source::File {
                    sealed,
                    index,
                    skip: (offset % CHUNK as u64) as usize,
                    buffer: Zeroizing::new(Vec::with_capacity(CHUNK + TAG)),
                    position: 0,
                }
            }
        };
        Ok(SpillReader {
            source,
            remaining: self.len - offset,
        })
    }

    /// The header section of the entity at `offset` (after
    /// [`Spill::finish`]), and where its body starts; at most
    /// [`MAX_HEADER_BYTES`] bytes are read to find it.
    pub fn header_at(&mut self, offset: u64) -> crate::Result<(Headers, u64)> {
        let mut head = Vec::new();
        self.reader(offset)
            .and_then(|r| r.take(MAX_HEADER_BYTES as u64).read_to_end(&mut head))
            .map_err(|e| crate::Error::io("reading the decrypted plaintext back", e))?;
        let (header_bytes, body) = split_entity(&head);
        if body.is_empty() && head.len() == MAX_HEADER_BYTES {
            return Err(crate::Error::Malformed(format!(
                "the decrypted message has no end to its header section in its first {} KiB",
                MAX_HEADER_BYTES >> 10
            )));
        }
        let headers = Headers::parse(header_bytes)?;
        Ok((headers, offset + (head.len() - body.len()) as u64))
    }

    fn start_file(&mut self) -> io::Result<()> {
        let file = tempfile::tempfile_in(&self.dir)?;
        let key = SessionKey::new(32).map_err(|e| io::Error::other(e.to_string()))?;
        let mut sealed = Sealed {
            file,
            key,
            pending: Zeroizing::new(Vec::with_capacity(CHUNK)),
            out: Vec::with_capacity(CHUNK + TAG),
            chunks: 0,
            written: self.len,
            finished: false,
        };
        // Wiped when dropped.
        let memory = std::mem::take(&mut self.memory);
        let mut chunks = memory.chunks_exact(CHUNK);
        for chunk in &mut chunks {
            sealed.seal(chunk, false)?;
        }
        sealed.pending.extend_from_slice(chunks.remainder());
        self.sealed = Some(Box::new(sealed));
        Ok(())
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.sealed.is_none() {
            if self.memory.len() + buf.len() <= self.in_memory {
                // Never reallocated: no copy of plaintext is left unwiped.
                if self.memory.capacity() < self.in_memory {
                    self.memory.reserve_exact(self.in_memory);
                }
                self.memory.extend_from_slice(buf);
                self.len += buf.len() as u64;
                return Ok(buf.len());
            }
            self.start_file()?;
        }
        let sealed = self.sealed.as_mut().expect("started above");
        if sealed.finished {
            return Err(io::Error::other(
                "the spill was written after it was finished",
            ));
        }
        let mut rest = buf;
        while !rest.is_empty() {
            let take = (CHUNK - sealed.pending.len()).min(rest.len());
            sealed.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if sealed.pending.len() == CHUNK {
                sealed.seal_pending(false)?;
            }
        }
        self.len += buf.len() as u64;
        sealed.written = self.len;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The nonce of chunk `index`: its number, and whether it is the last.
fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[0] = u8::from(last);
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    nonce
}

/// Runs AES-256-GCM over one chunk: sealing when `encrypt`, else opening
/// (and checking its tag).
fn gcm(
    key: &SessionKey,
    nonce: &[u8],
    encrypt: bool,
    dst: &mut [u8],
    src: &[u8],
) -> io::Result<()> {
    let context = AEADAlgorithm::GCM.context(SymmetricAlgorithm::AES256, key, b"", nonce);
    let done = if encrypt {
        context.and_then(|c| c.for_encryption()?.encrypt_seal(dst, src))
    } else {
        context.and_then(|c| c.for_decryption()?.decrypt_verify(dst, src))
    };
    done.map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            if encrypt {
                "cannot encrypt the spill file"
            } else {
                "the spill file was modified"
            },
        )
    })
}

impl Sealed {
    /// Encrypts the next chunk, `plaintext`, and appends it and its tag to
    /// the file.
    fn seal(&mut self, plaintext: &[u8], last: bool) -> io::Result<()> {
        self.out.resize(plaintext.len() + TAG, 0);
        gcm(
            &self.key,
            &nonce(self.chunks, last),
            true,
            &mut self.out,
            plaintext,
        )?;
        self.file.write_all(&self.out)?;
        self.chunks += 1;
        Ok(())
    }

    /// Seals the pending chunk, and wipes it.
    fn seal_pending(&mut self, last: bool) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.pending);
        let sealed = self.seal(&pending, last);
        pending.fill(0);
        pending.clear();
        self.pending = pending;
        sealed
    }
}

/// Reads a [`Spill`]'s plaintext back, checking every chunk.
pub struct SpillReader<'a> {
    source: Source<'a>,
    remaining: u64,
}

enum Source<'a> {
    Memory(&'a [u8]),
    File {
        sealed: &'a mut Sealed,
        index: u64,
        /// Bytes at the start of the next chunk that are not wanted.
        skip: usize,
        /// The current chunk's plaintext, and how far it was read.
        buffer: Zeroizing<Vec<u8>>,
        position: usize,
    },
}

impl Read for SpillReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.source {
            Source::Memory(data) => {
                let n = buf.len().min(data.len());
                buf[..n].copy_from_slice(&data[..n]);
                *data = &data[n..];
                n
            }
            Source::File {
                sealed,
                index,
                skip,
                buffer,
                position,
            } => {
                if *position == buffer.len() {
                    let last = *index + 1 == sealed.chunks;
                    let size = if last {
                        (sealed.written - *index * CHUNK as u64) as usize
                    } else {
                        CHUNK
                    };
                    sealed.out.resize(size + TAG, 0);
                    sealed.file.read_exact(&mut sealed.out)?;
                    buffer.resize(size, 0);
                    gcm(
                        &sealed.key,
                        &nonce(*index, last),
                        false,
                        buffer,
                        &sealed.out,
                    )?;
                    *index += 1;
                    *position = std::mem::take(skip);
                }
                let n = buf.len().min(buffer.len() - *position);
                buf[..n].copy_from_slice(&buffer[*position..*position + n]);
                *position += n;
                n
            }
        };
        let n = n.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Content that can be read again from any offset: the plaintext in a
/// [`Spill`], or a message in a file ([`CanonicalFile`]).
pub trait ReadFrom {
    /// A reader of the content from `offset` on.
    fn read_from(&mut self, offset: u64) -> io::Result<Box<dyn Read + Send + Sync + '_>>;
}

impl ReadFrom for Spill {
    fn read_from(&mut self, offset: u64) -> io::Result<Box<dyn Read + Send + Sync + '_>> {
        Ok(Box::new(self.reader(offset)?))
    }
}

/// A message in a file, read as its CRLF canonical form (offsets count
/// canonical bytes; each read starts again from the start of the file).
pub struct CanonicalFile<'a>(pub &'a mut File);

impl ReadFrom for CanonicalFile<'_> {
    fn read_from(&mut self, offset: u64) -> io::Result<Box<dyn Read + Send + Sync + '_>> {
        self.0.rewind()?;
        let mut canonical = crate::message::canon::CrlfReader::new(&mut *self.0);
        io::copy(&mut (&mut canonical).take(offset), &mut io::sink())?;
        Ok(Box::new(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        let marker = b"PLAINTEXT-MARKER ";
        (0..len).map(|i| marker[i % marker.len()]).collect()
    }

    fn on_disk(spill: &Spill) -> Vec<u8> {
        let mut file = spill.sealed.as_ref().unwrap().file.try_clone().unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn round_trips_from_every_offset() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            let data = pattern(len);
            let mut spill = Spill::with_limit(dir.path(), 1000);
            for piece in data.chunks(7777) {
                spill.write_all(piece).unwrap();
            }
            spill.finish().unwrap();
            assert_eq!(spill.len(), len as u64);
            for offset in [0, 1, 999, CHUNK, CHUNK + 3, len] {
                let offset = offset.min(len);
                let mut back = Vec::new();
                spill
                    .reader(offset as u64)
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap();
                assert!(back == data[offset..], "len {len}, offset {offset}");
            }
            assert_eq!(spill.into_memory().is_ok(), len <= 1000);
        }
    }

    #[test]
    fn the_file_holds_no_plaintext_and_tampering_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(5 * CHUNK / 2);
        let mut spill = Spill::with_limit(dir.path(), 1000);
        spill.write_all(&data).unwrap();
        spill.finish().unwrap();
        let disk = on_disk(&spill);
        assert_eq!(disk.len(), data.len() + 3 * TAG);
        assert!(!disk.windows(16).any(|w| w == b"PLAINTEXT-MARKER"));
        // The file has no name: nothing in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        use std::os::unix::fs::FileExt;
        let file = &spill.sealed.as_ref().unwrap().file;
        file.write_at(&[disk[CHUNK + TAG + 5] ^ 1], (CHUNK + TAG + 5) as u64)
            .unwrap();
        let mut back = Vec::new();
        let err = spill.reader(0).unwrap().read_to_end(&mut back).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
