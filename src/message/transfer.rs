//! Making a MIME entity safe to sign (RFC 3156 §3 and §5): every line
//! 7-bit, at most 998 octets, without trailing white space and not starting
//! with "From ", so that no mail system on the way changes a signed byte.

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use base64::Engine;

use super::header::{split_entity, Headers};
use super::mime;
use crate::Result;

/// The longest line (without its line break) that is safe to sign.
pub(crate) const MAX_LINE: usize = 998;
const QP_LINE: usize = 76;

/// Rewrites `entity` (CRLF canonical) so that its body survives transport
/// unchanged. Parts that are already safe keep every byte; unsafe leaves are
/// re-encoded as quoted-printable (text) or base64 (anything else).
/// MIME that does not parse, or nests deeper than [`mime::MAX_DEPTH`], is
/// refused.
pub fn seven_bit_safe(entity: &[u8]) -> Result<Vec<u8>> {
    mime::walk(entity, |_| true)?;
    rewrite(entity)
}

/// [`seven_bit_safe`] of an entity whose nesting was checked.
fn rewrite(entity: &[u8]) -> Result<Vec<u8>> {
    let (header_bytes, body) = split_entity(entity);
    if body_is_safe(body) {
        return Ok(entity.to_vec());
    }
    let headers = Headers::parse(header_bytes)?;
    let content_type = headers.content_type();
    let new_body = if let (true, Some(boundary)) =
        (content_type.is_multipart(), content_type.param("boundary"))
    {
        rebuild_multipart(body, boundary)?
    } else if content_type.mime == "message/rfc822" {
        rewrite(body)?
    } else {
        return Ok(reencode_leaf(&headers, body));
    };
    Ok(headers.with_body(&new_body))
}

fn rebuild_multipart(body: &[u8], boundary: &str) -> Result<Vec<u8>> {
    let multipart = mime::split(body, boundary)?;
    let mut out = Vec::with_capacity(body.len() * 4 / 3);
    if !multipart.preamble.is_empty() && body_is_safe(multipart.preamble) {
        out.extend_from_slice(multipart.preamble);
        out.extend_from_slice(b"\r\n");
    }
    for part in &multipart.parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(&rewrite(part)?);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    if body_is_safe(multipart.epilogue) {
        out.extend_from_slice(multipart.epilogue);
    }
    Ok(out)
}

/// A leaf entity with `headers` and `body`, its body decoded (when
/// [`Decoding`] decodes it) and encoded again as [`encoded_headers`] says;
/// a body that does not decode is encoded as it is. The streamed rewrite
/// ([`super::stream::Plan`]) does the same with the same pieces.
pub fn reencode_leaf(headers: &Headers, body: &[u8]) -> Vec<u8> {
    let (new_headers, encoding) = encoded_headers(headers);
    let mut new_body = Vec::new();
    let decoded = Encoder::new(encoding, Decoding::new(Decoder::for_headers(headers), body))
        .read_to_end(&mut new_body);
    if decoded.is_err() {
        new_body.clear();
        Encoder::new(encoding, body)
            .read_to_end(&mut new_body)
            .expect("a body in memory reads");
    }
    new_headers.with_body(&new_body)
}

/// Whether every line of `body` passes through any mail system unchanged.
pub fn body_is_safe(body: &[u8]) -> bool {
    body.split(|&b| b == b'\n').all(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.len() <= MAX_LINE
            && line.iter().all(|&b| b != 0 && b != b'\r' && b < 0x80)
            && !line.ends_with(b" ")
            && !line.ends_with(b"\t")
            && !line.starts_with(b"From ")
    })
}

/// The body of a leaf entity with its Content-Transfer-Encoding (base64 or
/// quoted-printable) undone; `None` when it does not decode.
pub fn decode_body<'a>(headers: &Headers, body: &'a [u8]) -> Option<Cow<'a, [u8]>> {
    match encoding_name(headers).as_str() {
        "quoted-printable" => quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
            .ok()
            .map(Cow::Owned),
        "base64" => base64_decode_lenient(body).map(Cow::Owned),
        _ => Some(Cow::Borrowed(body)),
    }
}

/// The body of an entity whose Content-Transfer-Encoding cannot be undone.
#[derive(Debug)]
pub struct Undecodable;

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the body does not decode as its Content-Transfer-Encoding says")
    }
}

impl std::error::Error for Undecodable {}

/// Undoes a Content-Transfer-Encoding piece by piece, as [`decode_body`]
/// does for a whole body (strict about base64 after its padding).
pub enum Decoder {
    Identity,
    /// Base64 characters not yet decoded (fewer than 4), and whether the
    /// padding was seen.
    Base64 {
        pending: Vec<u8>,
        padded: bool,
    },
    /// The current line, up to its line break.
    QuotedPrintable(Vec<u8>),
}

impl Decoder {
    /// The decoder for the body of an entity with `headers`.
    pub fn for_headers(headers: &Headers) -> Self {
        match encoding_name(headers).as_str() {
            "base64" => Decoder::Base64 {
                pending: Vec::new(),
                padded: false,
            },
            "quoted-printable" => Decoder::QuotedPrintable(Vec::new()),
            _ => Decoder::Identity,
        }
    }

    /// Decodes the next piece of the body, `data`, appending to `out`.
    pub fn decode(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), Undecodable> {
        match self {
            Decoder::Identity => out.extend_from_slice(data),
            Decoder::Base64 { pending, padded } => {
                pending.extend(data.iter().filter(|b| !b.is_ascii_whitespace()));
                let whole = pending.len() / 4 * 4;
                if whole > 0 {
                    if *padded {
                        return Err(Undecodable);
                    }
                    *padded = pending[..whole].contains(&b'=');
                    base64::engine::general_purpose::STANDARD
                        .decode_vec(&pending[..whole], out)
                        .map_err(|_| Undecodable)?;
                    pending.drain(..whole);
                }
            }
            Decoder::QuotedPrintable(line) => {
                // Taken so that an unfinished line is cut exactly when it
                // grows past LONG_QP_LINE, however the body is read.
                let mut data = data;
                while !data.is_empty() {
                    let room = data.len().min(LONG_QP_LINE + 1 - line.len());
                    let take = memchr::memrchr(b'\n', &data[..room]).map_or(room, |lf| lf + 1);
                    line.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if line.ends_with(b"\n") {
                        Self::quoted_printable(line, out)?;
                    } else if line.len() > LONG_QP_LINE {
                        Self::quoted_printable_start(line, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// At the end of the body.
    pub fn end(&mut self, out: &mut Vec<u8>) -> std::result::Result<(), Undecodable> {
        match self {
            Decoder::Identity => Ok(()),
            Decoder::Base64 { pending, .. } if pending.is_empty() => Ok(()),
            Decoder::Base64 { .. } => Err(Undecodable),
            Decoder::QuotedPrintable(line) => Self::quoted_printable(line, out),
        }
    }

    /// Decodes the start of the unfinished `line`, up to where nothing
    /// that follows can change it: not into white space, which is dropped
    /// if the line ends there, nor into an escape. A line of only white
    /// space and escapes this long is refused, as it could not be held;
    /// what is left is shorter than `line`.
    fn quoted_printable_start(
        line: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), Undecodable> {
        let mut cut = line.len();
        loop {
            while cut > 0 && matches!(line[cut - 1], b' ' | b'\t' | b'\r') {
                cut -= 1;
            }
            let tail = cut.saturating_sub(2);
            match line[tail..cut].iter().position(|&b| b == b'=') {
                Some(at) => cut = tail + at,
                None => break,
            }
        }
        if cut == 0 {
            return Err(Undecodable);
        }
        let decoded = quoted_printable::decode(&line[..cut], quoted_printable::ParseMode::Robust)
            .map_err(|_| Undecodable)?;
        out.extend_from_slice(&decoded);
        line.drain(..cut);
        Ok(())
    }

    fn quoted_printable(
        line: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), Undecodable> {
        let decoded = quoted_printable::decode(&line[..], quoted_printable::ParseMode::Robust)
            .map_err(|_| Undecodable)?;
        out.extend_from_slice(&decoded);
        line.clear();
        Ok(())
    }
}

/// A quoted-printable line (RFC 2045 allows 76 characters) longer than
/// this is decoded before its end arrives (short in tests, so that they
/// cut lines everywhere).
pub(crate) const LONG_QP_LINE: usize = if cfg!(test) { 100 } else { 64 * 1024 };
/// Encoded bytes decoded at a time by [`Decoding`].
const DECODE_BATCH: usize = 64 * 1024;

/// Reads the content of a body from `input`, its Content-Transfer-Encoding
/// undone by `decoder` as it is read, in bounded memory. A body that does
/// not decode gives an error of kind [`io::ErrorKind::InvalidData`].
pub struct Decoding<R> {
    input: R,
    decoder: Decoder,
    out: Vec<u8>,
    at: usize,
    ended: bool,
}

impl<R: BufRead> Decoding<R> {
    /// Decodes what `input` yields with `decoder`.
    pub fn new(decoder: Decoder, input: R) -> Self {
        Decoding {
            input,
            decoder,
            out: Vec::with_capacity(DECODE_BATCH),
            at: 0,
            ended: false,
        }
    }

    fn undecodable() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, Undecodable)
    }
}

impl<R: BufRead> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() && !self.ended {
            self.out.clear();
            self.at = 0;
            let chunk = match self.input.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                chunk => chunk?,
            };
            if chunk.is_empty() {
                self.ended = true;
                self.decoder
                    .end(&mut self.out)
                    .map_err(|_| Self::undecodable())?;
                continue;
            }
            let n = chunk.len().min(DECODE_BATCH);
            self.decoder
                .decode(&chunk[..n], &mut self.out)
                .map_err(|_| Self::undecodable())?;
            self.input.consume(n);
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The Content-Transfer-Encoding of an entity, lowercase; empty if none.
fn encoding_name(headers: &Headers) -> String {
    headers
        .get("Content-Transfer-Encoding")
        .map(|f| f.value().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Whether the body of an entity with `headers` is its content as it is
/// (no base64 or quoted-printable to undo).
pub fn is_identity_encoded(headers: &Headers) -> bool {
    !matches!(
        encoding_name(headers).as_str(),
        "quoted-printable" | "base64"
    )
}

/// How an unsafe leaf body is re-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Text.
    QuotedPrintable,
    /// Anything else.
    Base64,
}

/// The header fields of a leaf entity whose body gets re-encoded (its
/// Content-Transfer-Encoding set), and the encoding.
pub fn encoded_headers(headers: &Headers) -> (Headers, Encoding) {
    let mut headers = headers.clone();
    let encoding = if headers.content_type().mime.starts_with("text/") {
        headers.set("Content-Transfer-Encoding", "quoted-printable");
        Encoding::QuotedPrintable
    } else {
        headers.set("Content-Transfer-Encoding", "base64");
        Encoding::Base64
    };
    (headers, encoding)
}

fn base64_decode_lenient(body: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

/// Input bytes per line of base64 (76 characters).
const BASE64_LINE_INPUT: usize = QP_LINE / 4 * 3;

fn base64_line(input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + input.len().div_ceil(3) * 4, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(input, &mut out[start..])
        .expect("sized for the input");
    out.truncate(start + written);
    out.extend_from_slice(b"\r\n");
}

/// Bytes of a line held back by [`Encoder`] until the line goes on or
/// ends: enough to see "From " and the line's end.
const QP_LOOKAHEAD: usize = 6;

/// Encodes `line[..upto]` (a line without its break, or the start of one
/// when `upto` is at least [`QP_LOOKAHEAD`] short of its known end),
/// `width` being the characters already on the current output line.
fn qp_line(line: &[u8], upto: usize, width: &mut usize, out: &mut Vec<u8>) {
    for (pos, &byte) in line[..upto].iter().enumerate() {
        let at_end = pos + 1 == line.len();
        let literal = match byte {
            b'=' => false,
            b' ' | b'\t' => !at_end,
            b'F' if *width == 0 && line[pos..].starts_with(b"From ") => false,
            b'.' if *width == 0 && at_end => false,
            33..=126 => true,
            _ => false,
        };
        let piece_len = if literal { 1 } else { 3 };
        if *width + piece_len > QP_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            *width = 0;
        }
        if literal {
            out.push(byte);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(&[
                b'=',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        }
        *width += piece_len;
    }
}

/// Reads `inner` encoded as `encoding`, in bounded memory: base64 in lines
/// of 76 characters, or quoted-printable (RFC 2045 §6.7) that also protects
/// "From " at a line start and trailing white space, CRLF in the input
/// being hard line breaks.
pub struct Encoder<R: Read> {
    inner: R,
    encoding: Encoding,
    /// Input not encoded yet: the current line (quoted-printable) or less
    /// than a line's worth (base64).
    pending: Vec<u8>,
    width: usize,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> Encoder<R> {
    /// Encodes what `inner` yields.
    pub fn new(encoding: Encoding, inner: R) -> Self {
        Encoder {
            inner,
            encoding,
            pending: Vec::new(),
            width: 0,
            out: Vec::new(),
            at: 0,
            done: false,
        }
    }

    /// Encodes `input` (or, at the end, what is pending) into `self.out`.
    fn encode(&mut self, input: &[u8], end: bool) {
        self.pending.extend_from_slice(input);
        match self.encoding {
            Encoding::Base64 => {
                let whole = if end {
                    self.pending.len()
                } else {
                    self.pending.len() / BASE64_LINE_INPUT * BASE64_LINE_INPUT
                };
                for line in self.pending[..whole].chunks(BASE64_LINE_INPUT) {
                    base64_line(line, &mut self.out);
                }
                self.pending.drain(..whole);
            }
            Encoding::QuotedPrintable => {
                let mut start = 0;
                for lf in memchr::memchr_iter(b'\n', &self.pending) {
                    let line = &self.pending[start..lf];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    qp_line(line, line.len(), &mut self.width, &mut self.out);
                    self.out.extend_from_slice(b"\r\n");
                    self.width = 0;
                    start = lf + 1;
                }
                let rest = &self.pending[start..];
                if end {
                    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
                    qp_line(rest, rest.len(), &mut self.width, &mut self.out);
                    self.pending.clear();
                } else {
                    let upto = rest.len().saturating_sub(QP_LOOKAHEAD);
                    qp_line(rest, upto, &mut self.width, &mut self.out);
                    self.pending.drain(..start + upto);
                }
            }
        }
    }
}

impl<R: Read> Read for Encoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut input = [0u8; 16 * 1024];
        while self.at == self.out.len() && !self.done {
            self.out.clear();
            self.at = 0;
            let n = match self.inner.read(&mut input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                read => read?,
            };
            self.done = n == 0;
            self.encode(&input[..n], self.done);
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64 in lines of 76 characters, CRLF-terminated, of a whole body:
    /// what [`Encoder`] must give.
    fn base64_lines(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 3 * 4 + data.len() / 28 + 8);
        for line in data.chunks(BASE64_LINE_INPUT) {
            base64_line(line, &mut out);
        }
        out
    }

    /// Quoted-printable (RFC 2045 §6.7) of a whole body that also protects
    /// "From " at a line start and trailing white space, CRLF in `data` being
    /// hard line breaks: what [`Encoder`] must give.
    fn quoted_printable_encode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + data.len() / 8);
        let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        for (index, line) in lines.iter().enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            qp_line(line, line.len(), &mut 0, &mut out);
            if index + 1 < lines.len() {
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    #[test]
    fn qp_protects_from_and_trailing_space_and_round_trips() {
        let text = "From here\r\nend with space \r\nnon-ascii: é\r\n".as_bytes();
        let encoded = quoted_printable_encode(text);
        assert!(
            body_is_safe(&encoded),
            "{}",
            String::from_utf8_lossy(&encoded)
        );
        let decoded =
            quoted_printable::decode(&encoded, quoted_printable::ParseMode::Strict).unwrap();
        assert_eq!(decoded, text);
    }

    #[test]
    fn streaming_encoder_matches_the_whole_encoders() {
        let mut data = "From x\r\nend \r\n.\r\nGr\u{fc}\u{df}e =\r\n\rFrom "
            .repeat(3000)
            .into_bytes();
        data.extend(std::iter::repeat_n(b'y', 70_000));
        data.extend_from_slice(b" .\r");
        for (encoding, whole) in [
            (Encoding::QuotedPrintable, quoted_printable_encode(&data)),
            (Encoding::Base64, base64_lines(&data)),
        ] {
            let mut streamed = Vec::new();
            Encoder::new(encoding, data.as_slice())
                .read_to_end(&mut streamed)
                .unwrap();
            assert!(streamed == whole, "{encoding:?}");
        }
    }

    /// The body decoded by [`Decoding`], read through a buffer of
    /// `capacity` bytes.
    fn decoded_in_pieces(encoding: &str, body: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
        let headers =
            Headers::parse(format!("Content-Transfer-Encoding: {encoding}\r\n").as_bytes())
                .unwrap();
        let mut out = Vec::new();
        Decoding::new(
            Decoder::for_headers(&headers),
            io::BufReader::with_capacity(capacity, body),
        )
        .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decoding_in_pieces_matches_the_whole_body_decoders() {
        // Lines far longer than the longest held, with escapes, soft
        // breaks and white space wherever a piece may end.
        let mut qp = Vec::new();
        for i in 0..40_000 {
            qp.extend_from_slice(match i % 7 {
                0 => b"ab=41 ".as_slice(),
                1 => b"==3D\t",
                2 => b"x  =",
                3 => b"=C3=A9 \t ",
                4 => b"plain",
                5 => b"=4",
                _ => b"1=",
            });
            if i % 15_000 == 0 {
                qp.extend_from_slice(b"y \r\n");
            }
        }
        let base64 = base64_lines(&qp);
        let headers = |encoding: &str| {
            Headers::parse(format!("Content-Transfer-Encoding: {encoding}\r\n").as_bytes()).unwrap()
        };
        for (encoding, body) in [
            ("quoted-printable", &qp),
            ("base64", &base64),
            ("8bit", &qp),
        ] {
            let whole = decode_body(&headers(encoding), body).unwrap();
            for capacity in [7, 1000, 1 << 17] {
                let streamed = decoded_in_pieces(encoding, body, capacity).unwrap();
                assert!(streamed == *whole, "{encoding} in pieces of {capacity}");
            }
        }
    }

    #[test]
    fn decoding_refuses_what_does_not_decode() {
        for (encoding, body) in [
            ("base64", b"QUJD\r\nRA==\r\nRQ==\r\n".to_vec()),
            ("base64", b"QUJDRA\r\n".to_vec()),
            ("base64", b"QU*D\r\n".to_vec()),
            // White space this long cannot be held until its line ends.
            ("quoted-printable", vec![b' '; LONG_QP_LINE * 2]),
        ] {
            let error = decoded_in_pieces(encoding, &body, 4096).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{encoding}");
        }
    }

    #[test]
    fn what_decodes_does_not_depend_on_read_sizes() {
        // Lines of white space and escapes around the longest held, ended
        // in every way: each decodes, or is refused, whatever the reads.
        for len in [
            LONG_QP_LINE - 1,
            LONG_QP_LINE,
            LONG_QP_LINE + 1,
            3 * LONG_QP_LINE,
        ] {
            for (fill, end) in [
                (" ", "\r\n"),
                ("\t =", "x\r\n"),
                ("=A ", "=\r\n"),
                (" ", ""),
            ] {
                let mut body = fill.repeat(len).into_bytes();
                body.truncate(len);
                body.extend_from_slice(end.as_bytes());
                body.extend_from_slice(b"next line\r\n");
                let whole = decoded_in_pieces("quoted-printable", &body, body.len()).ok();
                for capacity in [1, 7, LONG_QP_LINE - 1, LONG_QP_LINE + 2] {
                    let pieces = decoded_in_pieces("quoted-printable", &body, capacity).ok();
                    assert!(pieces == whole, "{len} x {fill:?} {end:?} in {capacity}");
                }
            }
        }
    }

    #[test]
    fn reencode_leaf_decodes_what_decode_body_decodes() {
        let long_qp = format!("caf=C3=A9 \r\n{}x=\r\ny \r\n", "a=3Db ".repeat(200));
        for (encoding, body) in [
            ("base64", "QUJD".repeat(800)),
            ("base64", format!("{}\r\nRA==\r\n", "QUJD".repeat(19))),
            ("base64", "QU*D\r\n".to_string()),
            ("base64", "QUJDRA\r\n".to_string()),
            ("base64", "QQ==\r\nQUJD\r\n".to_string()),
            ("quoted-printable", long_qp),
            ("quoted-printable", "From =C3=A9 \r\n=3".to_string()),
        ] {
            for content_type in ["text/plain", "image/png"] {
                let headers = Headers::parse(
                    format!(
                        "Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n"
                    )
                    .as_bytes(),
                )
                .unwrap();
                let content = decode_body(&headers, body.as_bytes())
                    .map_or_else(|| body.as_bytes().to_vec(), Cow::into_owned);
                let (new_headers, encoding) = encoded_headers(&headers);
                let expected = new_headers.with_body(&match encoding {
                    Encoding::QuotedPrintable => quoted_printable_encode(&content),
                    Encoding::Base64 => base64_lines(&content),
                });
                let got = reencode_leaf(&headers, body.as_bytes());
                assert!(got == expected, "{content_type}, {encoding:?}: {body:?}");
            }
        }
    }

    #[test]
    fn long_lines_get_soft_breaks() {
        let text = vec![b'x'; 3000];
        let encoded = quoted_printable_encode(&text);
        assert!(body_is_safe(&encoded));
        assert!(encoded.split(|&b| b == b'\n').all(|l| l.len() <= 77));
    }

    #[test]
    fn safe_entity_is_untouched() {
        let entity = b"Content-Type: text/plain\r\n\r\nhello\r\n";
        assert_eq!(seven_bit_safe(entity).unwrap(), entity);
    }

    #[test]
    fn eight_bit_leaf_in_multipart_is_encoded() {
        let entity = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n\u{1}\u{2}é\r\n--b--\r\n";
        let safe = seven_bit_safe(entity.as_bytes()).unwrap();
        let (_, body) = split_entity(&safe);
        assert!(body_is_safe(body), "{}", String::from_utf8_lossy(&safe));
        let text = String::from_utf8(safe).unwrap();
        assert!(text.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe"));
        assert!(text.contains("Content-Transfer-Encoding: base64"));
    }
}
