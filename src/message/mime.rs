//! Multipart bodies split on their boundary lines (RFC 2046 §5.1), without
//! touching a byte of the parts.

use crate::{Error, Result};

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
        return Err(Error::Malformed(format!(
            "multipart body has no boundary line \"--{boundary}\""
        )));
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
        return Err(Error::Malformed(format!(
            "multipart body is truncated: no closing \"--{boundary}--\" line"
        )));
    }
    Ok(Multipart {
        preamble,
        parts,
        epilogue: &body[after_last..],
    })
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

    #[test]
    fn missing_close_is_truncation() {
        assert!(split(b"--b\r\nx\r\n", "b").is_err());
        assert!(split(b"no delimiters", "b").is_err());
    }
}
