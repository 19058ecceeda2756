//! ASCII armor for an encrypted message (RFC 9580 §6.2), streamed, with
//! CRLF line ends as a MIME part needs them.
//!
//! The same text sequoia's armor writer and a CRLF pass make, in one pass
//! and several times faster: sequoia computes the CRC-24 a byte at a time,
//! which took a third of a large encryption's time; here it is computed
//! eight bytes at a time.

use std::io::{self, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const BEGIN: &[u8] = b"-----BEGIN PGP MESSAGE-----\r\n\r\n";
const END: &[u8] = b"-----END PGP MESSAGE-----\r\n";
/// Octets per armor line: 64 base64 characters.
const LINE: usize = 48;

/// Armors the binary OpenPGP message written to it onto the inner writer;
/// [`MessageArmorer::finish`] writes the last line, the checksum (when
/// asked for) and the end line.
pub struct MessageArmorer<W: Write> {
    inner: W,
    crc: Option<Crc24>,
    /// Fewer than [`LINE`] octets waiting for the rest of their line.
    carry: Vec<u8>,
    text: Vec<u8>,
}

impl<W: Write> MessageArmorer<W> {
    /// Writes the begin line to `inner`. `checksum`: end with the CRC-24
    /// line, which RFC 4880 readers expect and RFC 9580 leaves out.
    pub fn new(mut inner: W, checksum: bool) -> io::Result<Self> {
        inner.write_all(BEGIN)?;
        Ok(MessageArmorer {
            inner,
            crc: checksum.then(Crc24::new),
            carry: Vec::with_capacity(LINE),
            text: Vec::new(),
        })
    }

    /// Ends the armor and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.text.clear();
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            push_line(&mut self.text, &carry);
        }
        if let Some(crc) = &self.crc {
            self.text.push(b'=');
            push_line(&mut self.text, &crc.value().to_be_bytes()[1..]);
        }
        self.text.extend_from_slice(END);
        self.inner.write_all(&self.text)?;
        Ok(self.inner)
    }
}

/// Appends `data` (at most [`LINE`] octets) in base64 and a CRLF.
fn push_line(text: &mut Vec<u8>, data: &[u8]) {
    let mut line = [0u8; 64];
    let n = STANDARD
        .encode_slice(data, &mut line)
        .expect("a line's base64 fits in 64 characters");
    text.extend_from_slice(&line[..n]);
    text.extend_from_slice(b"\r\n");
}

impl<W: Write> Write for MessageArmorer<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let taken = buf.len();
        if let Some(crc) = &mut self.crc {
            crc.update(buf);
        }
        self.text.clear();
        if !self.carry.is_empty() {
            let n = buf.len().min(LINE - self.carry.len());
            self.carry.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.carry.len() < LINE {
                return Ok(taken);
            }
            push_line(&mut self.text, &self.carry);
            self.carry.clear();
        }
        let lines = buf.chunks_exact(LINE);
        let rest = lines.remainder();
        self.text.reserve(lines.len() * (64 + 2));
        for line in lines {
            push_line(&mut self.text, line);
        }
        self.carry.extend_from_slice(rest);
        self.inner.write_all(&self.text)?;
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The armor checksum, CRC-24 (RFC 9580 §6.1), computed with eight tables
/// ("slicing by eight"): the register sits in the top 24 bits of a u32.
struct Crc24 {
    register: u32,
}

const CRC24_INIT: u32 = 0xB704CE;
const CRC24_POLY: u32 = 0x864CFB;

/// `TABLES[k][b]`: the register's change for byte `b` followed by `k`
/// zero bytes.
static TABLES: [[u32; 256]; 8] = crc24_tables();

const fn crc24_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut r = (b as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ (CRC24_POLY << 8)
            } else {
                r << 1
            };
            bit += 1;
        }
        tables[0][b] = r;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let previous = tables[k - 1][b];
            tables[k][b] = (previous << 8) ^ tables[0][(previous >> 24) as usize];
            b += 1;
        }
        k += 1;
    }
    tables
}

impl Crc24 {
    fn new() -> Self {
        Crc24 {
            register: CRC24_INIT << 8,
        }
    }

    fn update(&mut self, data: &[u8]) {
        let t = &TABLES;
        let mut r = self.register;
        let mut blocks = data.chunks_exact(8);
        for block in &mut blocks {
            let high = r ^ u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
            r = t[7][(high >> 24) as usize]
                ^ t[6][(high >> 16) as usize & 0xFF]
                ^ t[5][(high >> 8) as usize & 0xFF]
                ^ t[4][high as usize & 0xFF]
                ^ t[3][block[4] as usize]
                ^ t[2][block[5] as usize]
                ^ t[1][block[6] as usize]
                ^ t[0][block[7] as usize];
        }
        for &byte in blocks.remainder() {
            r = (r << 8) ^ t[0][((r >> 24) as u8 ^ byte) as usize];
        }
        self.register = r;
    }

    fn value(&self) -> u32 {
        self.register >> 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sequoia_openpgp::armor;

    /// The CRC-24 a bit at a time, as RFC 9580 §6.1 gives it.
    fn crc24_bitwise(data: &[u8]) -> u32 {
        let mut crc = CRC24_INIT;
        for &byte in data {
            crc ^= (byte as u32) << 16;
            for _ in 0..8 {
                crc <<= 1;
                if crc & 0x100_0000 != 0 {
                    crc ^= CRC24_POLY;
                }
            }
        }
        crc & 0xFF_FFFF
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7919 % 251) as u8).collect()
    }

    #[test]
    fn crc24_matches_the_bitwise_definition() {
        for len in [0, 1, 7, 8, 9, 100, 4099] {
            let data = sample(len);
            let mut crc = Crc24::new();
            let (a, b) = data.split_at(len / 3);
            crc.update(a);
            crc.update(b);
            assert_eq!(crc.value(), crc24_bitwise(&data), "{len} bytes");
        }
    }

    /// What sequoia's armor writer makes, with CRLF line ends.
    fn sequoia_armor(data: &[u8], checksum: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = armor::Writer::new(&mut out, armor::Kind::Message).unwrap();
        let profile = if checksum {
            sequoia_openpgp::Profile::RFC4880
        } else {
            sequoia_openpgp::Profile::RFC9580
        };
        writer.set_profile(profile).unwrap();
        writer.write_all(data).unwrap();
        writer.finalize().unwrap();
        crate::message::canon::to_crlf(&out)
    }

    #[test]
    fn armor_matches_sequoias_in_any_pieces() {
        // From 1: sequoia writes nothing at all for an empty message.
        for len in [1, 47, 48, 49, 96, 1000, 70_000] {
            for checksum in [true, false] {
                let data = sample(len);
                let mut armorer = MessageArmorer::new(Vec::new(), checksum).unwrap();
                for piece in data.chunks(37) {
                    armorer.write_all(piece).unwrap();
                }
                let ours = armorer.finish().unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(sequoia_armor(&data, checksum)).unwrap(),
                    "{len} bytes, checksum {checksum}"
                );
            }
        }
    }
}
