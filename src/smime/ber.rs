//! Writing the streamed parts of a CMS message: indefinite-length BER
//! around the encrypted content, which goes out as a series of primitive
//! OCTET STRING chunks (X.690 §8.7.3.2), then base64 in 76-column CRLF
//! lines. Nothing here holds more than one chunk of the message.
//!
//! Reading: the encapsulated content of a SignedData, which streaming
//! signers (gpgsm, `openssl cms -sign -nodetach -stream`) send as a
//! constructed, indefinite-length OCTET STRING whose segments are joined.

use std::io::{self, Write};

use base64::Engine;

use super::cipher::ContentEncryptor;

/// Size of one encrypted content chunk (a multiple of the AES block).
pub const CHUNK: usize = 64 * 1024;

/// End-of-contents octets closing an indefinite length.
pub const EOC: [u8; 2] = [0, 0];

/// A definite-length DER/BER header for `tag` and `len` content octets.
pub fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out
}

/// An indefinite-length header for a constructed `tag`.
pub fn open(tag: u8) -> [u8; 2] {
    [tag, 0x80]
}

/// Base64 in lines of 76 characters ending in CRLF (RFC 2045 §6.8).
pub struct Base64Lines<W: Write> {
    inner: W,
    pending: Vec<u8>,
    encoded: Vec<u8>,
}

/// Raw bytes per base64 line.
const LINE_RAW: usize = 57;
/// Lines encoded at a time.
const LINES_PER_BATCH: usize = 1024;

impl<W: Write> Base64Lines<W> {
    pub fn new(inner: W) -> Self {
        Base64Lines {
            inner,
            pending: Vec::with_capacity(LINE_RAW * LINES_PER_BATCH),
            encoded: Vec::with_capacity(78 * LINES_PER_BATCH),
        }
    }

    fn emit(&mut self, data: &[u8]) -> io::Result<()> {
        self.encoded.clear();
        let mut line = [0u8; 76];
        for chunk in data.chunks(LINE_RAW) {
            let n = base64::engine::general_purpose::STANDARD
                .encode_slice(chunk, &mut line)
                .expect("76 bytes hold one line");
            self.encoded.extend_from_slice(&line[..n]);
            self.encoded.extend_from_slice(b"\r\n");
        }
        self.inner.write_all(&self.encoded)
    }

    /// Writes what is left and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            self.emit(&pending)?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for Base64Lines<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let written = buf.len();
        let batch = LINE_RAW * LINES_PER_BATCH;
        if !self.pending.is_empty() {
            let take = buf.len().min(batch - self.pending.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() == batch {
                let pending = std::mem::take(&mut self.pending);
                self.emit(&pending)?;
                self.pending = pending;
                self.pending.clear();
            }
        }
        while buf.len() >= batch {
            self.emit(&buf[..batch])?;
            buf = &buf[batch..];
        }
        self.pending.extend_from_slice(buf);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Takes plaintext, encrypts it in chunks and writes each chunk as a
/// primitive OCTET STRING to `out`.
pub struct ContentWriter<W: Write> {
    out: W,
    encryptor: ContentEncryptor,
    buffer: Vec<u8>,
}

impl<W: Write> ContentWriter<W> {
    pub fn new(out: W, encryptor: ContentEncryptor) -> Self {
        ContentWriter {
            out,
            encryptor,
            buffer: Vec::with_capacity(CHUNK + 16),
        }
    }

    fn emit(out: &mut W, data: &[u8]) -> io::Result<()> {
        out.write_all(&header(0x04, data.len()))?;
        out.write_all(data)
    }

    /// Encrypts and writes the last chunk; returns the writer and the GCM
    /// tag, if any.
    pub fn finish(mut self) -> io::Result<(W, Option<[u8; 16]>)> {
        let tag = self.encryptor.finish(&mut self.buffer);
        if !self.buffer.is_empty() {
            Self::emit(&mut self.out, &self.buffer)?;
        }
        Ok((self.out, tag))
    }
}

impl<W: Write> Write for ContentWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = buf.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..take]);
        if self.buffer.len() == CHUNK {
            self.encryptor.update(&mut self.buffer);
            Self::emit(&mut self.out, &self.buffer)?;
            self.buffer.clear();
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// EncapsulatedContentInfo (RFC 5652 §5.2), read with BER rules so that a
/// constructed OCTET STRING arrives as its joined segments (`cms` keeps
/// it as an `Any` whose value still holds the segment headers).
#[derive(der::Sequence)]
struct EncapsulatedContent {
    _content_type: der::asn1::ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    content: Option<der::asn1::OctetString>,
}

/// The encapsulated content of the BER SignedData `signed_data` (the
/// value of a ContentInfo's content), or `None` when it is detached.
pub fn encapsulated_content(signed_data: &[u8]) -> der::Result<Option<Vec<u8>>> {
    use der::{Any, Decode, Reader, SliceReader};
    let mut reader = SliceReader::new_with_encoding_rules(signed_data, der::EncodingRules::Ber)?;
    let content = reader.sequence(|r| -> der::Result<_> {
        let _version = Any::decode(r)?;
        let _digest_algorithms = Any::decode(r)?;
        let encapsulated = EncapsulatedContent::decode(r)?;
        while !r.is_finished() {
            Any::decode(r)?;
        }
        Ok(encapsulated.content)
    })?;
    Ok(content.map(|c| c.into_bytes().into_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructed_content_is_joined() {
        // SignedData { 1, {}, { data, [0] { OCTET STRING (constructed,
        // indefinite) "Hello," " world" } }, {} }
        let ber: Vec<u8> = [
            &[0x30, 0x80, 0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x80][..],
            &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
            ],
            &[0xa0, 0x80, 0x24, 0x80],
            &[0x04, 0x06],
            b"Hello,",
            &[0x04, 0x06],
            b" world",
            &[0, 0, 0, 0, 0, 0, 0x31, 0x00, 0, 0],
        ]
        .concat();
        assert_eq!(
            encapsulated_content(&ber).unwrap().as_deref(),
            Some(&b"Hello, world"[..])
        );
    }

    #[test]
    fn base64_lines_are_76_columns() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut w = Base64Lines::new(Vec::new());
        for piece in data.chunks(1000) {
            w.write_all(piece).unwrap();
        }
        let out = w.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.split("\r\n").all(|l| l.len() <= 76));
        let joined: String = text.split("\r\n").collect();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
            data
        );
    }

    #[test]
    fn headers_use_the_shortest_length() {
        assert_eq!(header(4, 5), vec![4, 5]);
        assert_eq!(header(4, 200), vec![4, 0x81, 200]);
        assert_eq!(header(4, 65536), vec![4, 0x83, 1, 0, 0]);
    }
}
