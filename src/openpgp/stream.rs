//! `decrypt` of PGP/MIME and inline PGP in bounded memory: the message is
//! read once, as a stream (see [`super::ciphertext`]), and decrypted as it
//! arrives. An inline PGP message is opened only when its armored block is
//! the whole body, as [`super::decrypt_message`] requires (EFAIL): text
//! before the block is refused before anything is decrypted, text after it
//! before anything is released.
//!
//! No plaintext is released before the whole message is authenticated:
//! until the MDC (SEIPDv1) or the final AEAD tag (SEIPDv2) and every check
//! passed, the plaintext waits in a [`Spill`] (memory up to
//! [`spill::IN_MEMORY`], beyond that a temporary file encrypted under a key
//! that only this process holds), and only then is it replayed to the
//! output. SEIPDv2 chunks are authenticated one by one and could be
//! released as they come, but they are not: only the final tag proves the
//! message was not cut short, the OpenPGP layer's signatures are checked
//! at its end, and the inner structure (protected header fields, an inner
//! multipart/signed) is known only once the whole plaintext is.
//!
//! Decrypted plaintext up to [`spill::IN_MEMORY`] gets exactly the checks
//! of [`super::decrypt_message`]. Larger plaintext gets its protected
//! header fields restored, the OpenPGP layer's signatures (RFC 3156 §6.2)
//! and an inner multipart/signed (§6.1) checked from the spill; without
//! them, the signatures deeper inside (multipart/signed parts, inline
//! signed text) are looked for as the plaintext is written to the spill
//! ([`crate::spill_search`]) and checked as for a small message
//! ([`spilled_verification`]), so that a message does not get another
//! verdict by being made large.

use std::io::{self, BufReader, Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use base64::Engine;

use super::ciphertext::Framing;
use super::decrypt::{
    decrypt_into, embedded, inline_headers, not_encrypted, open_inline, open_plaintext, restored,
    seipd_v1_too_short, TextKind,
};
use super::inline_block::Armor;
use super::spilled_inline::{self, PartText, TextPart};
use super::verify::{bind_to_author, verify_detached_reader, verify_entity, Keys};
use super::{ciphertext, pgpmime, OpenOptions, SignatureReport, Verification};
use crate::message::canon::CrlfWriter;
use crate::message::header::{read_header_fields, split_entity};
use crate::message::mime::{split_eol, Delimiters, Line, Lines};
use crate::message::transfer::Decoder;
use crate::message::{walk, Headers};
use crate::spill::{self, ReadFrom, Spill};
use crate::spill_search::{spill_searched, Searched};
use crate::{Error, Result};

/// The plaintext sequoia holds back before releasing it to the spill.
const DECRYPT_BUFFER: usize = 1 << 20;
/// The largest detached signature part accepted in a large plaintext.
const MAX_SIGNATURE: u64 = 1 << 20;

/// A decrypted message whose integrity and structure were checked, ready
/// to be written out.
pub struct Decrypted {
    /// The signatures found inside, checked, and what they leave uncovered.
    pub verification: Verification,
    /// The header section (or, for small messages, all of the message).
    head: Vec<u8>,
    /// The body, still in the spill, and where it is there.
    body: Option<(Spill, u64, u64)>,
}

impl Decrypted {
    /// Writes the cleartext message (CRLF) to `output`.
    pub fn write_to(self, output: &mut dyn Write) -> io::Result<()> {
        output.write_all(&self.head)?;
        if let Some((mut spill, start, end)) = self.body {
            io::copy(&mut spill.reader(start)?.take(end - start), output)?;
        }
        Ok(())
    }
}

/// Whether a message with the header fields `headers` is one
/// [`decrypt_stream`] reads: PGP/MIME multipart/encrypted, or a body that
/// is not multipart (inline PGP, refused unless it is one armored PGP
/// MESSAGE).
pub fn reads(headers: &Headers) -> bool {
    pgpmime::encrypted_boundary(headers).is_some() || !headers.content_type().is_multipart()
}

/// What a message is, from its header fields and the start of its body,
/// for `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PGP/MIME multipart/encrypted, or a body that is not multipart and
    /// starts, white space aside, with an armored encrypted message.
    Encrypted,
    /// A body that is not multipart and starts with an armored signed
    /// message (`gpg --armor --sign`).
    InlineSigned,
    /// A body that is not multipart and starts with clear-signed text.
    ClearSigned,
}

impl Kind {
    /// What the message with the header fields `headers`, whose body
    /// starts with `body_head`, is; `None` for anything else.
    pub fn of(headers: &Headers, body_head: &[u8]) -> Option<Kind> {
        if pgpmime::encrypted_boundary(headers).is_some() {
            return Some(Kind::Encrypted);
        }
        if headers.content_type().is_multipart() {
            return None;
        }
        let mut text = Vec::new();
        let mut decoder = Decoder::for_headers(headers);
        // Whole lines, for quoted-printable and the armor.
        let start = &body_head[..body_head.len().min(4 << 10)];
        let start = memchr::memrchr(b'\n', start).map_or(start, |end| &start[..=end]);
        decoder.decode(start, &mut text).ok()?;
        let text = text.trim_ascii_start();
        if text.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----") {
            return Some(Kind::ClearSigned);
        }
        if !text.starts_with(b"-----BEGIN PGP MESSAGE-----") {
            return None;
        }
        // The first line of base64 data: after the BEGIN line and any
        // armor header lines.
        let data = text
            .split(|&b| b == b'\n')
            .skip(1)
            .map(<[u8]>::trim_ascii)
            .find(|line| !line.is_empty() && !line.contains(&b':'))?;
        let first = base64::engine::general_purpose::STANDARD
            .decode(data.get(..4)?)
            .ok()?;
        // The first packet's tag, in either header format.
        let tag = if first[0] & 0x40 != 0 {
            first[0] & 0x3f
        } else {
            (first[0] >> 2) & 0x0f
        };
        // PKESK, SKESK, SED, SEIPD, OCB-encrypted data.
        let encrypted = matches!(tag, 1 | 3 | 9 | 18 | 20);
        Some(if encrypted {
            Kind::Encrypted
        } else {
            Kind::InlineSigned
        })
    }
}

/// Why the rest of a message, read from `input`, is not decrypted when its
/// body is multipart but not multipart/encrypted: the error
/// [`super::decrypt_message`] gives, found in bounded memory.
pub fn why_not_decrypted(mut input: impl Read) -> Error {
    const NEEDLES: [&[u8]; 2] = [b"-----begin pgp message-----", b"application/pgp-encrypted"];
    let keep = NEEDLES.iter().map(|n| n.len() - 1).max().unwrap_or(0);
    let mut window = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => return not_encrypted(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Error::io("reading the message", e),
        };
        window.extend(chunk[..n].iter().map(u8::to_ascii_lowercase));
        if NEEDLES
            .iter()
            .any(|needle| memchr::memmem::find(&window, needle).is_some())
        {
            return embedded();
        }
        window.drain(..window.len().saturating_sub(keep));
    }
}

/// Decrypts the PGP/MIME or inline PGP message read from `input` (of
/// `size` bytes when known: the decompression limit is reckoned from it,
/// or else from the input read so far) in bounded memory; plaintext
/// waiting for its authentication is spilled, encrypted, to a file in
/// `spill_dir`.
pub fn decrypt_stream(
    input: impl Read + Send + Sync,
    size: Option<u64>,
    keys: &Keys,
    options: OpenOptions,
    spill_dir: &Path,
) -> Result<Decrypted> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let outer = read_header_fields(&mut input)?;
    if outer.fields().is_empty() {
        return Err(Error::Malformed(
            "not an RFC 5322 message: it has no header fields".into(),
        ));
    }
    let framing = match pgpmime::encrypted_boundary(&outer) {
        Some(boundary) => Framing::PgpMime(boundary),
        None if outer.content_type().is_multipart() => return Err(not_encrypted()),
        None => Framing::Inline(outer.clone()),
    };
    let inline = matches!(framing, Framing::Inline(_));
    let consumed = AtomicU64::new(0);
    let limit = || {
        let seen = size.unwrap_or(0).max(consumed.load(Ordering::Relaxed));
        options.plaintext_limit(usize::try_from(seen).unwrap_or(usize::MAX))
    };
    // The search of the plaintext's parts (for a plaintext too large to
    // hold) runs on a thread of its own as the plaintext is written.
    let top = inline.then(|| inline_headers(&outer, TextKind::default()));
    let (decrypted, mut spill, searched) = spill_searched::<Search, _>(spill_dir, top, |tee| {
        std::thread::scope(|scope| {
            let mut sink = TextLearner {
                inner: CrlfWriter::new(tee),
                kind: TextKind::default(),
            };
            let (mut chunks, reader) = ciphertext::spawn(scope, input, framing, &consumed);
            let decrypted = decrypt_chunks(&mut chunks, keys, options, &limit, &mut sink);
            // Stops the reader thread if it is still sending.
            drop(chunks);
            let read = crate::chunks::joined(reader.join());
            // A MIME error explains a failed decryption; report it first.
            read.and(decrypted)
                .map(|signatures| (signatures, sink.kind.end()))
        })
    });
    let (signatures, text) = decrypted?;
    spill
        .finish()
        .map_err(|e| Error::io("holding the decrypted plaintext", e))?;
    match (spill.into_memory(), inline) {
        (Ok(plaintext), false) => {
            let opened = open_plaintext(&outer, &plaintext, signatures, keys, options)?;
            Ok(Decrypted {
                verification: opened.verification,
                head: opened.message,
                body: None,
            })
        }
        (Ok(plaintext), true) => {
            let opened = open_inline(&outer, &plaintext, text, signatures, keys, options)?;
            Ok(Decrypted {
                verification: opened.verification,
                head: opened.message,
                body: None,
            })
        }
        (Err(spill), false) => open_spilled(&outer, spill, signatures, searched, keys, options),
        (Err(mut spill), true) => {
            let headers = inline_headers(&outer, text);
            let end = spill.len();
            let mut verification = spilled_verification(
                signatures,
                Some(searched),
                &mut spill,
                (&headers, 0..end),
                keys,
                options,
            )?;
            bind_to_author(&mut verification.signatures, &headers, &headers);
            Ok(Decrypted {
                verification,
                head: headers.with_body(b""),
                body: Some((spill, 0, end)),
            })
        }
    }
}

/// A writer that learns what the text written through it is.
struct TextLearner<W> {
    inner: W,
    kind: TextKind,
}

impl<W: Write> Write for TextLearner<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.kind.learn(buf);
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts the binary OpenPGP message `chunks` into `sink`.
fn decrypt_chunks(
    chunks: &mut ciphertext::Chunks,
    keys: &Keys,
    options: OpenOptions,
    limit: &dyn Fn() -> u64,
    sink: &mut dyn Write,
) -> Result<Vec<SignatureReport>> {
    // Enough of the start to refuse what sequoia would panic on.
    let mut head = Vec::new();
    let mut want = 64 << 10;
    loop {
        let missing = want - head.len();
        let complete = (&mut *chunks)
            .take(missing as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io("reading the encrypted part", e))?
            < missing;
        if let Some(short) = seipd_v1_too_short(&head, complete) {
            short?;
            break;
        }
        want *= 2;
        if want > 64 << 20 {
            return Err(Error::Malformed(
                "the OpenPGP message starts with more than 32 MiB of packets before its encrypted data".into(),
            ));
        }
    }
    decrypt_into(
        io::Cursor::new(head.clone()).chain(chunks),
        &head,
        keys,
        options,
        DECRYPT_BUFFER,
        limit,
        sink,
    )
}

/// The decrypted message in `spill`, too large to hold: header fields
/// restored from the head of the plaintext, and the signatures in it
/// checked: the OpenPGP layer's, an inner multipart/signed's, or else
/// those inside ([`spilled_verification`]).
fn open_spilled(
    outer: &Headers,
    mut spill: Spill,
    mut signatures: Vec<SignatureReport>,
    searched: Searched<Search>,
    keys: &Keys,
    options: OpenOptions,
) -> Result<Decrypted> {
    let (inner, body_start) = spill.header_at(0)?;
    let (inner, body) = match pgpmime::signed_boundary(&inner) {
        Some(boundary) => {
            let whole = body_start..spill.len();
            let signed = find_signed_part(&mut spill, whole, &boundary)?;
            signatures.extend(verify_detached_in(&mut spill, &signed, keys)?);
            let (inner, start) = spill.header_at(signed.start)?;
            (inner, start.min(signed.end)..signed.end)
        }
        None => (inner, body_start..spill.len()),
    };
    let head = restored(outer, &inner);
    let mut verification = spilled_verification(
        signatures,
        Some(searched),
        &mut spill,
        (&head, body.clone()),
        keys,
        options,
    )?;
    bind_to_author(&mut verification.signatures, outer, &inner);
    Ok(Decrypted {
        verification,
        head: head.with_body(b""),
        body: Some((spill, body.start, body.end)),
    })
}

/// The verification of a decrypted message too large to hold, whose
/// header fields are `head` and whose body is at `body` in `spill`: the
/// OpenPGP layer's `signatures` cover all of it; without them, the
/// signatures inside are looked for and checked as
/// [`super::verify::verify_entity`] does for a small message (nested
/// PGP/MIME multipart/signed parts, inline signed text), naming what they
/// leave uncovered. A text part up to [`spill::IN_MEMORY`] is read into
/// memory and checked by `verify_entity` itself; a larger one is checked
/// as a stream ([`spilled_inline::verify_text_part`]), alike but for one
/// case that cannot be read in bounded memory: a quoted-printable text
/// with a line of more than 64 KiB of white space, whose block is reported
/// as a bad signature that was not checked.
pub fn spilled_verification(
    signatures: Vec<SignatureReport>,
    searched: Option<Searched<Search>>,
    spill: &mut dyn ReadFrom,
    (head, body): (&Headers, Range<u64>),
    keys: &Keys,
    options: OpenOptions,
) -> Result<Verification> {
    if !signatures.is_empty() {
        return Ok(Verification::covering(signatures));
    }
    let search = match searched.and_then(|s| s.matching(head, body.start)) {
        Some(search) => search?,
        None => {
            let mut search = Search::default();
            let reader = spill
                .read_from(body.start)
                .map_err(read_back_error)?
                .take(body.end - body.start);
            walk::walk(
                BufReader::with_capacity(1 << 16, reader),
                body.start,
                head.clone(),
                &mut search,
            )?;
            search
        }
    };
    let mut verification = Verification::default();
    for finding in search.findings {
        match finding {
            Finding::Unsigned(described) => verification.unsigned_parts.push(described),
            Finding::Signed { boundary, body } => {
                let signed = find_signed_part(spill, body, &boundary)?;
                let reports = verify_detached_in(spill, &signed, keys)?;
                verification.signatures.extend(reports);
            }
            Finding::Inline { depth, part } => {
                let found = if part.body.end - part.body.start > spill::IN_MEMORY as u64 {
                    spilled_inline::verify_text_part(spill, &part, keys, options)?
                } else {
                    let mut entity = part.headers.with_body(b"");
                    spill
                        .read_from(part.body.start)
                        .and_then(|r| {
                            r.take(part.body.end - part.body.start)
                                .read_to_end(&mut entity)
                        })
                        .map_err(read_back_error)?;
                    verify_entity(&entity, &part.name, keys, options, depth)?
                };
                verification.signatures.extend(found.signatures);
                verification.unsigned_parts.extend(found.unsigned_parts);
            }
        }
    }
    Ok(verification)
}

/// What `verify_entity` (in [`super::verify`]) would look at in a large
/// plaintext, found in one pass over it, in order.
#[derive(Default)]
pub struct Search {
    findings: Vec<Finding>,
    /// The scan of the text part being read.
    text: Option<TextScan>,
}

enum Finding {
    /// A part a reader sees that no signature can cover, described.
    Unsigned(String),
    /// A PGP/MIME multipart/signed part with `boundary`, its body at `body`.
    Signed { boundary: String, body: Range<u64> },
    /// A text part that may hold an inline signed block, `depth`
    /// entities deep.
    Inline { depth: usize, part: TextPart },
}

impl walk::Visitor for Search {
    fn descend(&self, headers: &Headers) -> bool {
        // As verify_entity: into multiparts, but not into multipart/signed
        // (checked as a whole) or message/rfc822 (a leaf).
        let content_type = headers.content_type();
        content_type.is_multipart() && content_type.mime != "multipart/signed"
    }

    fn start(&mut self, headers: &Headers) {
        self.text = headers
            .content_type()
            .mime
            .starts_with("text/")
            .then(|| TextScan::new(headers));
    }

    fn body(&mut self, piece: &[u8]) {
        if let Some(text) = &mut self.text {
            text.take(piece);
        }
    }

    fn leaf(&mut self, leaf: walk::Leaf) -> Result<()> {
        let headers = leaf.headers?;
        let text = self.text.take();
        let name = if leaf.path.is_empty() {
            "the body".to_string()
        } else {
            format!("part {}", leaf.path)
        };
        let content_type = headers.content_type();
        let described = format!("{name} ({})", content_type.mime);
        let finding = match (content_type.mime.as_str(), content_type.param("boundary")) {
            ("multipart/signed", Some(_)) => Some(match pgpmime::signed_boundary(&headers) {
                Some(boundary) => Finding::Signed {
                    boundary,
                    body: leaf.body,
                },
                None => Finding::Unsigned(described),
            }),
            (mime, _) if mime.starts_with("text/") => {
                let scanned = text.expect("a text part was scanned").end();
                if scanned.armored {
                    Some(Finding::Inline {
                        depth: leaf.depth,
                        part: TextPart {
                            name,
                            headers,
                            body: leaf.body,
                            text: scanned.text,
                        },
                    })
                } else {
                    (!scanned.blank).then_some(Finding::Unsigned(described))
                }
            }
            _ => (!leaf.body.is_empty()).then_some(Finding::Unsigned(described)),
        };
        self.findings.extend(finding);
        Ok(())
    }
}

/// The first lines of the inline OpenPGP blocks
/// [`super::verify::find_inline`] looks for.
const INLINE_MARKERS: [&[u8]; 2] = [Armor::ClearSigned.begin(), Armor::Message.begin()];

/// A text part's body read as it streams past: whether it holds the
/// start of an inline OpenPGP block, as written or with its transfer
/// encoding undone, and whether it is blank.
struct TextScan {
    raw: MarkerScan,
    /// The decoder and the decoded text's scan, or, once the body did
    /// not decode, what its text is instead.
    decoded: std::result::Result<(Decoder, MarkerScan), PartText>,
    scratch: Vec<u8>,
}

/// What [`TextScan`] learnt of a text part.
struct ScannedText {
    /// Whether it holds an inline block's first line.
    armored: bool,
    blank: bool,
    text: PartText,
}

impl TextScan {
    fn new(headers: &Headers) -> Self {
        TextScan {
            raw: MarkerScan::default(),
            decoded: Ok((Decoder::for_headers(headers), MarkerScan::default())),
            scratch: Vec::new(),
        }
    }

    fn take(&mut self, piece: &[u8]) {
        self.raw.take(piece);
        let Ok((decoder, scan)) = &mut self.decoded else {
            return;
        };
        match decoder.decode(piece, &mut self.scratch) {
            Ok(()) => scan.take(&self.scratch),
            Err(_) => self.decoded = Err(Self::undecoded(decoder)),
        }
        self.scratch.clear();
    }

    /// What the text of a body that `decoder` failed on is: as written
    /// when it is base64 (as [`transfer::decode_body`] then takes it),
    /// but quoted-printable always decodes in memory, only not always in
    /// bounded memory.
    fn undecoded(decoder: &Decoder) -> PartText {
        match decoder {
            Decoder::QuotedPrintable(_) => PartText::Undecodable,
            Decoder::Identity | Decoder::Base64 { .. } => PartText::AsWritten,
        }
    }

    fn end(mut self) -> ScannedText {
        let decoded =
            self.decoded.and_then(
                |(mut decoder, mut scan)| match decoder.end(&mut self.scratch) {
                    Ok(()) => {
                        scan.take(&self.scratch);
                        Ok(scan)
                    }
                    Err(_) => Err(Self::undecoded(&decoder)),
                },
            );
        let armored = self.raw.found || decoded.as_ref().is_ok_and(|scan| scan.found);
        let blank = decoded.as_ref().unwrap_or(&self.raw).blank;
        ScannedText {
            armored,
            blank,
            text: decoded.map_or_else(|text| text, |_| PartText::Decoded),
        }
    }
}

/// Looks for [`INLINE_MARKERS`] in text given piece by piece.
struct MarkerScan {
    found: bool,
    blank: bool,
    /// The end of the text so far, where a marker may start.
    tail: Vec<u8>,
}

impl Default for MarkerScan {
    fn default() -> Self {
        MarkerScan {
            found: false,
            blank: true,
            tail: Vec::new(),
        }
    }
}

impl MarkerScan {
    fn take(&mut self, piece: &[u8]) {
        static FINDERS: LazyLock<Vec<memchr::memmem::Finder<'static>>> = LazyLock::new(|| {
            INLINE_MARKERS
                .iter()
                .map(memchr::memmem::Finder::new)
                .collect()
        });
        if self.blank {
            self.blank = piece.iter().all(u8::is_ascii_whitespace);
        }
        if self.found {
            return;
        }
        // A marker across the end of the text before and this piece, or
        // in the piece.
        let keep = INLINE_MARKERS.iter().map(|m| m.len()).max().unwrap_or(1) - 1;
        self.tail.extend_from_slice(&piece[..piece.len().min(keep)]);
        // Every marker starts with a dash: most text has none to look at.
        let dash = |text: &[u8]| memchr::memchr(b'-', text).is_some();
        self.found = (dash(&self.tail) || dash(piece))
            && FINDERS
                .iter()
                .any(|finder| finder.find(&self.tail).is_some() || finder.find(piece).is_some());
        if piece.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&piece[piece.len() - keep..]);
        } else {
            let cut = self.tail.len().saturating_sub(keep);
            self.tail.drain(..cut);
        }
    }
}

/// Where the signed part of the inner multipart/signed body at `offset`
/// is, and its signature.
struct SignedPart {
    start: u64,
    end: u64,
    signature: Vec<u8>,
}

/// Finds the two parts of the multipart/signed body with `boundary` at
/// `body` in `spill` (by the rules of [`crate::message::mime::split`]),
/// keeping the signature part (undoing its transfer encoding).
fn find_signed_part(
    source: &mut dyn ReadFrom,
    body: Range<u64>,
    boundary: &str,
) -> Result<SignedPart> {
    let read_err = read_back_error;
    let offset = body.start;
    let reader = source
        .read_from(offset)
        .map_err(read_err)?
        .take(body.end - body.start);
    let reader = BufReader::with_capacity(1 << 16, reader);
    let mut lines = Lines::new(reader);
    let mut delimiters = Delimiters::new(boundary);
    let mut position = offset;
    let (mut start, mut end) = (None, offset);
    let mut signature_part = Vec::new();
    loop {
        let Some((line, starts_line)) = lines.next_piece().map_err(read_err)? else {
            delimiters.finish()?;
            break;
        };
        let n = line.len() as u64;
        match delimiters.classify(line, starts_line) {
            Line::Delimiter if delimiters.parts() == 1 => start = Some(position + n),
            Line::Part(0) => end = position + split_eol(line).0.len() as u64,
            Line::Part(1) => {
                if signature_part.len() as u64 + n > MAX_SIGNATURE {
                    return Err(Error::Malformed(
                        "the signature part of the inner multipart/signed is larger than 1 MiB"
                            .into(),
                    ));
                }
                signature_part.extend_from_slice(line);
            }
            Line::Close => break,
            _ => {}
        }
        position += n;
    }
    if delimiters.parts() != 2 {
        return Err(Error::Malformed(format!(
            "multipart/signed must have 2 parts, this one has {}",
            delimiters.parts()
        )));
    }
    let start = start.expect("two parts started");
    // An empty first part ends where it starts.
    let end = end.max(start);
    // The signature part as `split` cuts it: without its last line break.
    let cut = signature_part.len() - split_eol(&signature_part).1.len();
    signature_part.truncate(cut);
    let (header_bytes, body) = split_entity(&signature_part);
    let headers = Headers::parse(header_bytes)?;
    let signature = crate::message::transfer::decode_body(&headers, body)
        .ok_or_else(|| {
            Error::Malformed(
                "the signature part does not decode as its Content-Transfer-Encoding says".into(),
            )
        })?
        .into_owned();
    Ok(SignedPart {
        start,
        end,
        signature,
    })
}

/// Checks the detached signature of `signed` over its part in `source`.
fn verify_detached_in(
    source: &mut dyn ReadFrom,
    signed: &SignedPart,
    keys: &Keys,
) -> Result<Vec<SignatureReport>> {
    let data = source
        .read_from(signed.start)
        .map_err(read_back_error)?
        .take(signed.end - signed.start);
    verify_detached_reader(data, &signed.signature, keys)
}

pub(super) fn read_back_error(e: io::Error) -> Error {
    Error::io("reading the message back", e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{CertStore, Unlocker};

    /// An empty certificate store, no own keys and no passphrase.
    struct NoKeys(CertStore, Unlocker);

    impl NoKeys {
        fn new(dir: &Path) -> NoKeys {
            let store = CertStore::open(dir, &dir.join("index")).unwrap();
            NoKeys(
                store,
                Unlocker {
                    passphrase_file: None,
                },
            )
        }

        fn keys(&self) -> Keys<'_> {
            Keys {
                store: &self.0,
                own: &[],
                unlocker: &self.1,
            }
        }
    }

    /// `entity` (CRLF) spilled in `dir`: the spill, the entity's header
    /// fields and where its body lies.
    fn spilled(dir: &Path, entity: &str) -> (Spill, Headers, Range<u64>) {
        let mut spill = Spill::new(dir);
        spill.write_all(entity.as_bytes()).unwrap();
        spill.finish().unwrap();
        let (headers, body_start) = spill.header_at(0).unwrap();
        let end = spill.len();
        (spill, headers, body_start..end)
    }

    #[test]
    fn a_large_block_that_cannot_be_decoded_in_bounded_memory_is_a_failed_check() {
        // Quoted-printable white space that long may be dropped (at the
        // line's end) or kept: the text is not known until the line ends.
        let head =
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
        let block = "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n\
            -----BEGIN PGP SIGNATURE-----\r\n\r\nwnUEARYKAB0WIQQ=\r\n-----END PGP SIGNATURE-----\r\n";
        let filler = "filler\r\n".repeat(spill::IN_MEMORY / 8);
        let dir = tempfile::tempdir().unwrap();
        let no_keys = NoKeys::new(dir.path());
        let longest = crate::message::transfer::LONG_QP_LINE;
        for (spaces, refused) in [(longest / 2, false), (longest * 2, true)] {
            let entity = format!("{head}{}x\r\n{block}{filler}", " ".repeat(spaces));
            let (mut spill, headers, body) = spilled(dir.path(), &entity);
            let found = spilled_verification(
                Vec::new(),
                None,
                &mut spill,
                (&headers, body),
                &no_keys.keys(),
                OpenOptions::default(),
            );
            if !refused {
                // The block is checked (and its signature does not parse).
                assert!(found.is_err(), "{:?}", found.map(|v| v.signatures));
                continue;
            }
            let found = found.unwrap();
            let [report] = found.signatures.as_slice() else {
                panic!("{:?}", found.signatures);
            };
            assert!(!report.is_good());
            assert!(
                report
                    .describe()
                    .contains("the body (text/plain) holds an inline OpenPGP block")
                    && report.describe().contains("not checked"),
                "{}",
                report.describe()
            );
        }
    }

    /// What [`spilled_verification`] finds in `entity` (CRLF), and what
    /// [`verify_entity`] finds in memory; errors as their messages.
    fn both(entity: &str) -> [std::result::Result<Vec<String>, String>; 2] {
        let dir = tempfile::tempdir().unwrap();
        let no_keys = NoKeys::new(dir.path());
        let keys = no_keys.keys();
        let options = OpenOptions::default();
        let in_memory = verify_entity(entity.as_bytes(), "the body", &keys, options, 0);
        let (mut spill, head, body) = spilled(dir.path(), entity);
        let shown = |found: Result<Verification>| {
            found
                .map(|v| {
                    assert!(v.signatures.is_empty());
                    v.unsigned_parts
                })
                .map_err(|e| e.to_string())
        };
        // The search made as the plaintext is written, and the walk of
        // the spill, find the same.
        let searched = crate::spill_search::search_stream::<Search>(entity.as_bytes(), None);
        let mut found = [Some(searched), None].map(|searched| {
            shown(spilled_verification(
                Vec::new(),
                searched,
                &mut spill,
                (&head, body.clone()),
                &keys,
                options,
            ))
        });
        assert_eq!(found[0], found[1], "{entity}");
        [
            std::mem::replace(&mut found[0], Ok(Vec::new())),
            shown(in_memory),
        ]
    }

    #[test]
    fn finds_what_a_small_message_shows() {
        let deep = (0..=crate::message::mime::MAX_DEPTH).fold("text\r\n".to_string(), |inner, level| {
            format!("Content-Type: multipart/mixed; boundary=d{level}\r\n\r\n--d{level}\r\n{inner}\r\n--d{level}--\r\n")
        });
        let cases = [
            "Content-Type: text/plain\r\n\r\nhello\r\n".to_string(),
            "Content-Type: text/plain\r\n\r\n \r\n\t\r\n".into(),
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nICAgCg==\r\n".into(),
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=2D=2D=2D=2D=2DBEGIN PGP MESSAGE-----\r\nno end\r\n".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\npre\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--a\r\nContent-Type: application/pdf\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nplain\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\ninner\r\n--b--\r\n--a\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s\r\n\r\n--s\r\n\r\nx\r\n--s--\r\n--a--\r\nepilogue\r\n".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\ntruncated\r\n".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nnot a header\r\n\r\nbody\r\n--a--\r\n".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=s\r\n\r\n--s\r\n\r\nsigned\r\n--a\r\n\r\n--s--\r\n--a--\r\n".into(),
            "Content-Type: text/plain\r\n\r\nbefore\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nx\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n".into(),
            deep,
        ];
        for case in &cases {
            let [streamed, in_memory] = both(case);
            assert_eq!(streamed, in_memory, "{case}");
        }
        // Random structures: the same parts, or both refused (with several
        // faults, a signed part's is met after the walk's own).
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let case = walk::line_soup(&mut rng);
            match both(&case) {
                [Err(_), Err(_)] => {}
                [streamed, in_memory] => assert_eq!(streamed, in_memory, "{case:?}"),
            }
        }
    }
}
