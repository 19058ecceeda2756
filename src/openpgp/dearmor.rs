//! The ASCII armor (RFC 9580 §6.2) of a large OpenPGP message undone on
//! the reading thread of [`super::ciphertext`].

use std::io::{self, BufReader, Read};

use base64::Engine;

use super::decrypt::{embedded, not_encrypted};
use crate::message::mime::{split_eol, Lines};
use crate::Error;

/// The armor line that starts an encrypted message.
const BEGIN_MESSAGE: &[u8] = b"-----BEGIN PGP MESSAGE-----";
/// The armor line that ends it.
const END_MESSAGE: &[u8] = b"-----END PGP MESSAGE-----";

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
    /// Whether the armored message must be all of the input (an inline
    /// PGP body): see [`Dearmor::whole`].
    whole: bool,
    /// Whether text other than white space came before the armor.
    text_before: bool,
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
            whole: false,
            text_before: false,
            base64: Vec::new(),
            out: Vec::new(),
            position: 0,
        }
    }

    /// Undoes the armor of an encrypted message that must be the whole
    /// input, white space aside, as an inline PGP body must be to be
    /// decrypted (EFAIL; see `decrypt::not_whole`): text before its
    /// `BEGIN PGP MESSAGE` line, or after its `END PGP MESSAGE` line,
    /// fails the read with the [`Error`] `decrypt_message` gives, before
    /// anything is decrypted for text before, before any plaintext is
    /// released for text after.
    pub(super) fn whole(input: R) -> Self {
        Dearmor {
            whole: true,
            ..Dearmor::new(input)
        }
    }

    /// Reads lines until there is output or the armor ended.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.position = 0;
        while self.out.is_empty() && self.state != Armor::Done {
            let Some((line, starts_line)) = self.lines.next_piece()? else {
                if self.state == Armor::Seeking {
                    if self.whole {
                        return Err(io::Error::other(not_encrypted()));
                    }
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
                Armor::Seeking if self.whole => {
                    if starts_line && text.trim_ascii() == BEGIN_MESSAGE {
                        if self.text_before {
                            return Err(io::Error::other(embedded()));
                        }
                        self.state = Armor::Headers;
                    } else if !text.trim_ascii().is_empty() {
                        self.text_before = true;
                    }
                    continue;
                }
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
                if self.whole {
                    let first = text.to_vec();
                    self.check_rest(&first)?;
                }
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

impl<R: Read> Dearmor<R> {
    /// For [`Dearmor::whole`]: reads the rest of the input, from the line
    /// `first` that ended the base64 data, which must be a checksum line
    /// and the END line, or the END line, then nothing but white space.
    fn check_rest(&mut self, first: &[u8]) -> io::Result<()> {
        let mut ended = false;
        let mut checksum = false;
        let mut line = first.to_vec();
        // A line of the input, as pieces of at most a `Lines` maximum.
        loop {
            let text = line.trim_ascii();
            let fits = if ended {
                text.is_empty()
            } else if text == END_MESSAGE {
                ended = true;
                true
            } else {
                let first_checksum = !checksum && text.starts_with(b"=");
                checksum = true;
                first_checksum
            };
            if !fits {
                return Err(io::Error::other(embedded()));
            }
            match self.lines.next_piece()? {
                Some((piece, _)) => {
                    line.clear();
                    line.extend_from_slice(split_eol(piece).0);
                }
                None if ended => return Ok(()),
                None => return Err(io::Error::other(truncated_armor())),
            }
        }
    }
}

/// An inline PGP message whose armor has no END line.
fn truncated_armor() -> Error {
    Error::Malformed(
        "the inline PGP message has no END PGP MESSAGE line: it was cut short; nothing was released"
            .into(),
    )
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

    #[test]
    fn a_whole_armor_must_be_all_of_the_input() {
        let data = b"the OpenPGP message".as_slice();
        let block = String::from_utf8(armored(data, Some("c"))).unwrap();
        let whole = |text: &str| {
            let mut out = Vec::new();
            Dearmor::whole(text.as_bytes())
                .read_to_end(&mut out)
                .map(|_| out)
                .map_err(|e| *e.into_inner().unwrap().downcast::<Error>().unwrap())
        };
        assert_eq!(whole(&format!("\r\n \r\n{block}\r\n\r\n")).unwrap(), data);
        let refused = |text: String| matches!(whole(&text), Err(Error::Refused { .. }));
        assert!(refused(format!("<a href=\"x?\n{block}")));
        assert!(refused(format!("{block}\">\n")));
        assert!(refused(format!("{block}{block}")));
        assert!(refused(
            block.replace("-----END PGP MESSAGE-----", "trailing")
        ));
        for not_encrypted in [
            "plain text\n".to_string(),
            block.replace("PGP MESSAGE", "PGP SIGNED MESSAGE"),
        ] {
            assert!(matches!(
                whole(&not_encrypted),
                Err(Error::Malformed(m)) if m.contains("not encrypted")
            ));
        }
        let cut = &block[..block.find("-----END").unwrap()];
        assert!(matches!(whole(cut), Err(Error::Malformed(m)) if m.contains("cut short")));
    }
}
