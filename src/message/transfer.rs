//! Making a MIME entity safe to sign (RFC 3156 §3 and §5): every line
//! 7-bit, at most 998 octets, without trailing white space and not starting
//! with "From ", so that no mail system on the way changes a signed byte.

use std::borrow::Cow;

use base64::Engine;

use super::header::{split_entity, Headers};
use super::mime;
use crate::Result;

const MAX_LINE: usize = 998;
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
    let mut headers = Headers::parse(header_bytes)?;
    let content_type = headers.content_type();
    let new_body = if let (true, Some(boundary)) =
        (content_type.is_multipart(), content_type.param("boundary"))
    {
        rebuild_multipart(body, boundary)?
    } else if content_type.mime == "message/rfc822" {
        rewrite(body)?
    } else {
        let decoded = decode_body(&headers, body).map_or_else(|| body.to_vec(), Cow::into_owned);
        if content_type.mime.starts_with("text/") {
            headers.set("Content-Transfer-Encoding", "quoted-printable");
            quoted_printable_encode(&decoded)
        } else {
            headers.set("Content-Transfer-Encoding", "base64");
            base64_lines(&decoded)
        }
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
    let encoding = headers
        .get("Content-Transfer-Encoding")
        .map(|f| f.value().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "quoted-printable" => quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
            .ok()
            .map(Cow::Owned),
        "base64" => base64_decode_lenient(body).map(Cow::Owned),
        _ => Some(Cow::Borrowed(body)),
    }
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

/// Base64 in lines of 76 characters, CRLF-terminated.
pub fn base64_lines(data: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for chunk in encoded.as_bytes().chunks(QP_LINE) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7) that also protects "From " at a line
/// start and trailing white space; CRLF in `data` are hard line breaks.
pub fn quoted_printable_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let is_last = index + 1 == lines.len();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (pos, &byte) in line.iter().enumerate() {
            let at_end = pos + 1 == line.len();
            let literal = match byte {
                b'=' => false,
                b' ' | b'\t' => !at_end,
                b'F' if width == 0 && line[pos..].starts_with(b"From ") => false,
                b'.' if width == 0 && at_end => false,
                33..=126 => true,
                _ => false,
            };
            let piece_len = if literal { 1 } else { 3 };
            if width + piece_len > QP_LINE - 1 {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            if literal {
                out.push(byte);
            } else {
                out.extend_from_slice(format!("={byte:02X}").as_bytes());
            }
            width += piece_len;
        }
        if !is_last {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
