//! Multipart bodies split on their boundary lines (RFC 2046 §5.1), without
//! touching a byte of the parts.

use super::header::{split_entity, Headers};
use crate::{Error, Result};

/// The deepest MIME nesting (multiparts and message/rfc822 together) that
/// is accepted, about what mail clients allow; deeper input is refused as
/// malformed rather than walked (DESIGN §2.12).
pub const MAX_DEPTH: usize = 100;

/// The error for input nested deeper than [`MAX_DEPTH`].
pub fn too_deep() -> Error {
    Error::Malformed(format!(
        "the message nests MIME parts more than {MAX_DEPTH} levels deep; no mail client shows such a message, and mailseal refuses it"
    ))
}

/// One entity of a MIME tree.
#[derive(Debug)]
pub struct Entity<'a> {
    /// Where it is: empty for the top, `2.1` for the first part of the
    /// second part (a message/rfc822 body counts as part 1).
    pub path: String,
    /// Its header fields.
    pub headers: Headers,
    /// Its body, as written.
    pub body: &'a [u8],
}

/// Every entity of the MIME tree of `entity` (CRLF canonical), parents
/// before children, going into the multiparts and message/rfc822 entities
/// for which `descend` is true. Iterative and depth-limited: input nested
/// deeper than [`MAX_DEPTH`] is an error, and the work is at most
/// [`MAX_DEPTH`] passes over the input.
pub fn walk<'a>(entity: &'a [u8], descend: impl Fn(&Entity) -> bool) -> Result<Vec<Entity<'a>>> {
    let mut found = Vec::new();
    let mut pending = vec![(String::new(), 0usize, entity)];
    while let Some((path, depth, bytes)) = pending.pop() {
        let (header_bytes, body) = split_entity(bytes);
        // A part without a readable header section is text (RFC 2046
        // §5.1.1 defaults); only the top must be an entity.
        let entity = match Headers::parse(header_bytes) {
            Ok(headers) => Entity {
                path,
                headers,
                body,
            },
            Err(e) if path.is_empty() => return Err(e),
            Err(_) => Entity {
                path,
                headers: Headers::default(),
                body: bytes,
            },
        };
        let content_type = entity.headers.content_type();
        let children: Vec<&[u8]> = if !descend(&entity) {
            Vec::new()
        } else if let (true, Some(boundary)) =
            (content_type.is_multipart(), content_type.param("boundary"))
        {
            split(body, boundary)?.parts
        } else if content_type.mime == "message/rfc822" {
            vec![body]
        } else {
            Vec::new()
        };
        if !children.is_empty() && depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        for (index, child) in children.iter().enumerate().rev() {
            let path = if entity.path.is_empty() {
                format!("{}", index + 1)
            } else {
                format!("{}.{}", entity.path, index + 1)
            };
            pending.push((path, depth + 1, *child));
        }
        found.push(entity);
    }
    Ok(found)
}

/// A multipart body: the parts exactly as written, each without the line
/// break that precedes the next delimiter (that break belongs to the
/// delimiter, RFC 2046 §5.1.1).
#[derive(Debug)]
pub struct Multipart<'a> {
    pub preamble: &'a [u8],
    pub parts: Vec<&'a [u8]>,
    pub epilogue: &'a [u8],
}

/// Splits `body` on `--boundary` lines.
pub fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Multipart<'a>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // Positions: (start of the line break before the delimiter, start of the
    // next part, is_close).
    let mut marks: Vec<(usize, usize, bool)> = Vec::new();
    let mut line_start = 0;
    while line_start <= body.len() {
        let line_end = body[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| line_start + p + 1);
        let line = &body[line_start..line_end];
        if let Some(rest) = line.strip_prefix(delimiter) {
            let close = rest.starts_with(b"--");
            let tail = if close { &rest[2..] } else { rest };
            if tail.iter().all(|b| b" \t\r\n".contains(b)) {
                let break_start = if line_start >= 2 && body[line_start - 2] == b'\r' {
                    line_start - 2
                } else {
                    line_start.saturating_sub(1)
                };
                marks.push((break_start, line_end, close));
                if close {
                    break;
                }
            }
        }
        if line_end == body.len() {
            break;
        }
        line_start = line_end;
    }
    let Some(&(first_break, _, _)) = marks.first() else {
        return Err(no_delimiter(boundary));
    };
    let preamble = &body[..first_break];
    let mut parts = Vec::new();
    for pair in marks.windows(2) {
        let (_, part_start, close) = pair[0];
        if close {
            break;
        }
        parts.push(&body[part_start..pair[1].0.max(part_start)]);
    }
    let &(_, after_last, closed) = marks.last().expect("non-empty");
    if !closed {
        return Err(truncated(boundary));
    }
    Ok(Multipart {
        preamble,
        parts,
        epilogue: &body[after_last..],
    })
}

/// The error for a multipart body without any `--boundary` line.
pub fn no_delimiter(boundary: &str) -> Error {
    Error::Malformed(format!(
        "multipart body has no boundary line \"--{boundary}\""
    ))
}

/// The error for a multipart body without its closing `--boundary--` line.
pub fn truncated(boundary: &str) -> Error {
    Error::Malformed(format!(
        "multipart body is truncated: no closing \"--{boundary}--\" line"
    ))
}

/// A fresh boundary that cannot occur in base64 or quoted-printable text
/// (it contains "=_" and is random).
pub fn new_boundary() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("=_mailseal_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_exclude_the_break_before_the_delimiter() {
        let body = b"pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n\r\n--b--\r\nepi";
        let m = split(body, "b").unwrap();
        assert_eq!(m.preamble, b"pre");
        assert_eq!(m.parts, vec![&b"A: 1\r\n\r\none"[..], &b"\r\ntwo\r\n"[..]]);
        assert_eq!(m.epilogue, b"epi");
    }

    /// `levels` multiparts, each holding the next, around a text part.
    fn nested(levels: usize) -> Vec<u8> {
        let mut message = b"Content-Type: text/plain\r\n\r\nleaf\r\n".to_vec();
        for level in 0..levels {
            let mut outer =
                format!("Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n")
                    .into_bytes();
            outer.extend_from_slice(&message);
            outer.extend_from_slice(format!("\r\n--b{level}--\r\n").as_bytes());
            message = outer;
        }
        message
    }

    #[test]
    fn walk_names_parts_and_stops_at_the_depth_limit() {
        let message = nested(2);
        let paths: Vec<String> = walk(&message, |_| true)
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, vec!["", "1", "1.1"]);
        assert!(walk(&nested(MAX_DEPTH), |_| true).is_ok());
        let err = walk(&nested(MAX_DEPTH + 1), |_| true).unwrap_err();
        assert_eq!(err.exit_code(), 65);
        assert_eq!(walk(&nested(MAX_DEPTH + 1), |_| false).unwrap().len(), 1);
    }

    #[test]
    fn missing_close_is_truncation() {
        assert!(split(b"--b\r\nx\r\n", "b").is_err());
        assert!(split(b"no delimiters", "b").is_err());
    }
}
