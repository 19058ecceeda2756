//! The ASCII armor (RFC 9580 §6.2) of a large OpenPGP message undone on
//! the reading thread of [`super::ciphertext`].

use std::io::{self, BufReader, Read};

use base64::Engine;

use crate::message::mime::{split_eol, Lines};

/// Base64 decoded per block of at least this many characters.
const BLOCK: usize = 256 << 10;

/// Where undoing the armor is.
#[derive(PartialEq, Eq)]
enum Armor {
    /// Looking for the `-----BEGIN PGP ...-----` line.
    Seeking,
    /// In the armor header lines.
    Headers,
    /// In the base64 data.
    Data,
    /// After the data (checksum and end lines, and whatever follows).
    Done,
}

/// The ASCII armor (RFC 9580 §6.2) of an OpenPGP message undone, line by
/// line with large base64 blocks: as tolerant as sequoia's reader (text
/// before the armor is skipped, the armor header lines are optional, the
/// CRC24 checksum is ignored as RFC 9580 says) and several times faster.
pub(super) struct Dearmor<R> {
    lines: Lines<BufReader<R>>,
    state: Armor,
    base64: Vec<u8>,
    out: Vec<u8>,
    position: usize,
}

/// Base64 with or without the final padding.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

impl<R: Read> Dearmor<R> {
    pub(super) fn new(input: R) -> Self {
        Dearmor {
            lines: Lines::new(BufReader::with_capacity(1 << 16, input)),
            state: Armor::Seeking,
            base64: Vec::new(),
            out: Vec::new(),
            position: 0,
        }
    }

    /// Reads lines until there is output or the armor ended.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.position = 0;
        while self.out.is_empty() && self.state != Armor::Done {
            let Some((line, starts_line)) = self.lines.next_piece()? else {
                if self.state == Armor::Seeking {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the encrypted part holds no armored OpenPGP message",
                    ));
                }
                self.state = Armor::Done;
                break;
            };
            let text = split_eol(line).0;
            match self.state {
                Armor::Seeking => {
                    if starts_line && text.starts_with(b"-----BEGIN PGP ") {
                        self.state = Armor::Headers;
                    }
                    continue;
                }
                Armor::Headers if !starts_line => continue,
                Armor::Headers if text.trim_ascii().is_empty() => {
                    self.state = Armor::Data;
                    continue;
                }
                Armor::Headers if text.contains(&b':') => continue,
                Armor::Headers => self.state = Armor::Data,
                Armor::Data | Armor::Done => {}
            }
            if starts_line && (text.starts_with(b"-----") || text.starts_with(b"=")) {
                self.state = Armor::Done;
            } else if memchr::memchr2(b' ', b'\t', text).is_none() {
                self.base64.extend_from_slice(text);
            } else {
                self.base64
                    .extend(text.iter().filter(|b| !b.is_ascii_whitespace()));
            }
            let whole = if self.state == Armor::Done {
                self.base64.len()
            } else if self.base64.len() >= BLOCK {
                self.base64.len() / 4 * 4
            } else {
                0
            };
            if whole > 0 {
                BASE64
                    .decode_vec(&self.base64[..whole], &mut self.out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.base64.drain(..whole);
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Dearmor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position == self.out.len() && self.state != Armor::Done {
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.position);
        buf[..n].copy_from_slice(&self.out[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sequoia_openpgp::armor;
    use std::io::Write;

    /// `data` armored by sequoia, with `comment` as an armor header.
    fn armored(data: &[u8], comment: Option<&str>) -> Vec<u8> {
        let headers: Vec<(&str, &str)> = comment.iter().map(|c| ("Comment", *c)).collect();
        let mut writer =
            armor::Writer::with_headers(Vec::new(), armor::Kind::Message, headers).unwrap();
        writer.write_all(data).unwrap();
        writer.finalize().unwrap()
    }

    fn dearmored(text: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Dearmor::new(text).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn dearmors_what_sequoia_does() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for len in [1, 2, 3, 4, 100, data.len()] {
            let data = &data[..len];
            let text = armored(data, Some("a comment"));
            assert_eq!(dearmored(&text).unwrap(), data, "len {len}");
            // Text before the armor, no armor headers, CRLF, no checksum.
            let plain = String::from_utf8(armored(data, None)).unwrap();
            let no_crc: Vec<&str> = plain.lines().filter(|l| !l.starts_with('=')).collect();
            let text = format!("junk\r\n\r\n{}\r\n", no_crc.join("\r\n"));
            assert_eq!(dearmored(text.as_bytes()).unwrap(), data, "len {len}");
        }
        assert!(dearmored(b"no armor here\n").is_err());
        let broken = b"-----BEGIN PGP MESSAGE-----\n\nwA*=\n-----END PGP MESSAGE-----\n";
        assert!(dearmored(broken).is_err());
    }
}
