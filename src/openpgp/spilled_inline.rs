//! An inline signed block in a text part too large to hold, checked from
//! content that can be read again (the spill of a decrypted message, a
//! message file) as [`super::verify::verify_entity`] checks a small one,
//! in bounded memory: a first pass over the part's text (its transfer
//! encoding undone) finds the block and the text around it, a second
//! reads just enough of the block to tell an encrypted one, and the block
//! is then checked as it is read again: a signed message once, clear-
//! signed text in the two passes of [`super::signed_stream`].

use std::io::{self, BufReader, Read};
use std::ops::Range;

use super::inline_block::{text_verification, Armor, BlockFinder};
use super::signed_stream::{find_signature, verify_signed_text};
use super::stream::read_back_error;
use super::verify::{buffer_size, is_encrypted, verify_inline_into, Keys};
use super::{OpenOptions, SignatureReport, SignatureStatus, Verification};
use crate::message::mime::Lines;
use crate::message::transfer::{Decoder, Decoding};
use crate::message::Headers;
use crate::spill::ReadFrom;
use crate::Result;

/// What the text of a part is, as the pass that found it learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartText {
    /// The body with its Content-Transfer-Encoding undone (none to undo,
    /// or it decoded).
    Decoded,
    /// The body as written: it is base64 that does not decode (a small
    /// part's text is then its body as written, too).
    AsWritten,
    /// Quoted-printable that cannot be decoded in bounded memory (a line
    /// of more than 64 KiB of white space, see
    /// [`crate::message::transfer::Decoder`]); a small part's is decoded.
    Undecodable,
}

/// A text part in the source, as the search found it.
pub struct TextPart {
    /// Where it is ("part 2", "the body").
    pub name: String,
    pub headers: Headers,
    pub body: Range<u64>,
    pub text: PartText,
}

/// The signed message (not clear-signed text) sequoia holds back before
/// releasing its text: no more than the limit allows.
const MESSAGE_BUFFER: usize = 1 << 20;

/// Checks the inline signed block in `part` of `source`, naming the text
/// around it as [`super::verify::verify_entity`] does. A part whose text
/// cannot be had in bounded memory ([`PartText::Undecodable`]) is not
/// checked: its report is a bad signature that says so.
pub fn verify_text_part(
    source: &mut dyn ReadFrom,
    part: &TextPart,
    keys: &Keys,
    options: OpenOptions,
) -> Result<Verification> {
    let described = format!("{} ({})", part.name, part.headers.content_type().mime);
    if part.text == PartText::Undecodable {
        return Ok(Verification::covering(vec![not_checked(&described)]));
    }
    let mut finder = BlockFinder::default();
    let mut text = text_of(source, part)?;
    let mut piece = vec![0u8; 1 << 16];
    loop {
        match text.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => finder.take(&piece[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_back_error(e)),
        }
    }
    drop(text);
    let mut layout = finder.layout();
    if let Some((_, block)) = &layout.block {
        if is_encrypted(block_of(source, part, block)?) {
            layout.block = None;
        }
    }
    text_verification(&described, layout, |armor, block| match armor {
        Armor::Message => {
            let limit = options
                .plaintext_limit(usize::try_from(block.end - block.start).unwrap_or(usize::MAX));
            verify_inline_into(
                block_of(source, part, &block)?,
                buffer_size(limit).min(MESSAGE_BUFFER),
                limit,
                keys,
                options,
                &mut io::sink(),
            )
        }
        Armor::ClearSigned => {
            let (signature, _) = find_signature(&mut lines(block_of(source, part, &block)?))?;
            verify_signed_text(lines(block_of(source, part, &block)?), &signature, keys)
        }
    })
}

/// The text of `part`, read from `source`.
fn text_of<'a>(
    source: &'a mut dyn ReadFrom,
    part: &TextPart,
) -> Result<Box<dyn Read + Send + Sync + 'a>> {
    let body = source
        .read_from(part.body.start)
        .map_err(read_back_error)?
        .take(part.body.end - part.body.start);
    let body = BufReader::with_capacity(1 << 16, body);
    Ok(match part.text {
        PartText::Decoded => Box::new(Decoding::new(Decoder::for_headers(&part.headers), body)),
        PartText::AsWritten | PartText::Undecodable => Box::new(body),
    })
}

/// The bytes at `block` in the text of `part`, read from `source`.
fn block_of<'a>(
    source: &'a mut dyn ReadFrom,
    part: &TextPart,
    block: &Range<u64>,
) -> Result<impl Read + Send + Sync + 'a> {
    let mut text = text_of(source, part)?;
    io::copy(&mut (&mut text).take(block.start), &mut io::sink()).map_err(read_back_error)?;
    Ok(text.take(block.end - block.start))
}

fn lines<R: Read>(input: R) -> Lines<BufReader<R>> {
    Lines::new(BufReader::with_capacity(1 << 16, input))
}

/// The report on the inline block in the text part `described` whose
/// text cannot be had in bounded memory.
fn not_checked(described: &str) -> SignatureReport {
    SignatureReport {
        status: SignatureStatus::Bad {
            reason: format!(
                "{described} holds an inline OpenPGP block, but its quoted-printable text has a line of more than 64 KiB of white space, which cannot be decoded in bounded memory, so its signature was not checked; save the part, decode it, and check it with `gpg --verify`"
            ),
        },
        signer: None,
        addresses: Vec::new(),
        created: None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use base64::Engine;
    use sequoia_openpgp::cert::{Cert, CertBuilder};
    use sequoia_openpgp::serialize::stream::{Armorer, LiteralWriter, Message, Signer};

    use super::*;
    use crate::keys::{CertStore, Unlocker};
    use crate::openpgp::policy;
    use crate::openpgp::verify::verify_entity;
    use crate::spill::Spill;

    /// `text` signed with `cert`'s key: clear-signed, or as an armored
    /// signed message.
    fn signed(cert: &Cert, text: &[u8], clear: bool) -> Vec<u8> {
        let key = cert.keys().secret().with_policy(policy(), None);
        let keypair = key
            .for_signing()
            .next()
            .unwrap()
            .key()
            .clone()
            .into_keypair()
            .unwrap();
        let mut out = Vec::new();
        let message = Message::new(&mut out);
        if clear {
            let mut signer = Signer::new(message, keypair)
                .unwrap()
                .cleartext()
                .build()
                .unwrap();
            signer.write_all(text).unwrap();
            signer.finalize().unwrap();
        } else {
            let message = Armorer::new(message).build().unwrap();
            let signer = Signer::new(message, keypair).unwrap().build().unwrap();
            let mut literal = LiteralWriter::new(signer).build().unwrap();
            literal.write_all(text).unwrap();
            literal.finalize().unwrap();
        }
        crate::message::canon::to_crlf(&out)
    }

    /// A verification as text, or the error's.
    fn shown(found: Result<Verification>) -> std::result::Result<String, String> {
        found
            .map(|v| {
                let reports: Vec<String> = v.signatures.iter().map(|r| r.describe()).collect();
                format!("{reports:?} {:?}", v.unsigned_parts)
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_text_part_read_as_a_stream_gets_the_verdict_it_gets_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = CertStore::open(dir.path(), &dir.path().join("index")).unwrap();
        let cert = CertBuilder::general_purpose(Some("a@example.org"))
            .generate()
            .unwrap()
            .0;
        store.insert(&cert).unwrap();
        let unlocker = Unlocker {
            passphrase_file: None,
        };
        let keys = Keys {
            store: &store,
            own: &[],
            unlocker: &unlocker,
        };
        let options = OpenOptions::default();
        let text = b"- a dash\r\n-----BEGIN PGP SIGNATURE-----\r\nspaces  \r\n\r\nend \t";
        let blocks: Vec<Vec<u8>> = [true, false]
            .into_iter()
            .flat_map(|clear| {
                let block = signed(&cert, text, clear);
                let at = block.len() / 2;
                let mut changed = block.clone();
                changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
                [block, changed]
            })
            .collect();
        let around: [(&[u8], &[u8]); 6] = [
            (b"", b""),
            (b" \r\n\t", b"\r\n \r\n"),
            (b"before\r\n", b""),
            (b"", b"\r\nafter"),
            (
                b"-----BEGIN PGP MESSAGE-----\r\n\r\nwcBMA\r\n-----END PGP MESSAGE-----\r\n",
                b"",
            ),
            (b"", b"\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\n\r\nx\r\n"),
        ];
        let mut good = 0;
        for block in &blocks {
            for (before, after) in around {
                let content = [before, block, after].concat();
                for encoding in ["7bit", "quoted-printable", "base64"] {
                    let body = match encoding {
                        "quoted-printable" => quoted_printable::encode(&content),
                        "base64" => base64::engine::general_purpose::STANDARD
                            .encode(&content)
                            .into_bytes(),
                        _ => content.clone(),
                    };
                    let entity = [
                        format!("Content-Type: text/plain\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n").as_bytes(),
                        &body,
                    ]
                    .concat();
                    let in_memory = shown(verify_entity(&entity, "part 1", &keys, options, 1));
                    let mut spill = Spill::new(dir.path());
                    spill.write_all(&entity).unwrap();
                    spill.finish().unwrap();
                    let (headers, start) = spill.header_at(0).unwrap();
                    let part = TextPart {
                        name: "part 1".into(),
                        headers,
                        body: start..spill.len(),
                        text: PartText::Decoded,
                    };
                    let streamed = shown(verify_text_part(&mut spill, &part, &keys, options));
                    let case = String::from_utf8_lossy(&entity);
                    match (&in_memory, &streamed) {
                        // A block that does not parse: an error either
                        // way, in words of its own.
                        (Err(_), Err(_)) => {}
                        _ => assert_eq!(in_memory, streamed, "{case}"),
                    }
                    good += usize::from(in_memory.is_ok_and(|v| v.contains("Good signature")));
                }
            }
        }
        assert!(good > 0, "no case had a good signature");
    }
}
