//! Multipart bodies split on their boundary lines (RFC 2046 §5.1), without
//! touching a byte of the parts.

use std::io::{self, BufRead, Read};

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
        if let Some(close) = delimiter_line(&body[line_start..line_end], delimiter) {
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

/// Whether `line` (with its line break) is a delimiter line for
/// `delimiter` (`--boundary`): `Some(true)` for the closing one.
fn delimiter_line(line: &[u8], delimiter: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(delimiter)?;
    let close = rest.starts_with(b"--");
    let tail = if close { &rest[2..] } else { rest };
    tail.iter().all(|b| b" \t\r\n".contains(b)).then_some(close)
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

/// What a line of a multipart body is, for [`Delimiters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Before the first delimiter.
    Preamble,
    /// A delimiter: part number [`Delimiters::parts`] `- 1` starts after it.
    Delimiter,
    /// The closing delimiter.
    Close,
    /// A line of the part with this index (0 is the first part).
    Part(usize),
    /// After the closing delimiter.
    Epilogue,
}

/// [`split`] for a body read line by line, in constant memory: the same
/// rules for delimiter lines. A part's content is its lines without the
/// line break of its last one (see [`Multipart`]).
#[derive(Debug)]
pub struct Delimiters {
    boundary: String,
    delimiter: Vec<u8>,
    parts: usize,
    closed: bool,
}

impl Delimiters {
    /// For the multipart body with `boundary`.
    pub fn new(boundary: &str) -> Self {
        Delimiters {
            boundary: boundary.to_string(),
            delimiter: format!("--{boundary}").into_bytes(),
            parts: 0,
            closed: false,
        }
    }

    /// What `line` (with its line break, if any) is; a piece of a long
    /// line that does not start it (`starts_line` false) is never a
    /// delimiter.
    pub fn classify(&mut self, line: &[u8], starts_line: bool) -> Line {
        if self.closed {
            return Line::Epilogue;
        }
        let delimiter = starts_line
            .then(|| delimiter_line(line, &self.delimiter))
            .flatten();
        match delimiter {
            Some(true) => {
                self.closed = true;
                Line::Close
            }
            Some(false) => {
                self.parts += 1;
                Line::Delimiter
            }
            None if self.parts == 0 => Line::Preamble,
            None => Line::Part(self.parts - 1),
        }
    }

    /// Whether the closing delimiter was seen.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// How many parts have started.
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// At the end of the body: an error, as [`split`]'s, unless the body
    /// was closed.
    pub fn finish(&self) -> Result<()> {
        match (self.closed, self.parts) {
            (true, _) => Ok(()),
            (false, 0) => Err(no_delimiter(&self.boundary)),
            (false, _) => Err(truncated(&self.boundary)),
        }
    }
}

/// The lines of a stream, in pieces of at most [`Lines::MAX`] bytes, so
/// that a long line (or data with no line breaks) takes bounded memory.
/// A piece that lies whole in the reader's buffer is lent from there; only
/// one that crosses the buffer's end is copied.
pub struct Lines<R> {
    input: R,
    line: Vec<u8>,
    /// Bytes of the reader's buffer lent out as the last piece, consumed
    /// when the next is asked for.
    lent: usize,
    starts_line: bool,
}

impl<R: BufRead> Lines<R> {
    /// The longest piece of a line returned at once.
    pub const MAX: usize = 64 << 10;

    /// The lines of `input`.
    pub fn new(input: R) -> Self {
        Lines {
            input,
            line: Vec::new(),
            lent: 0,
            starts_line: true,
        }
    }

    /// The next line or piece of one (with its line break, if it has one
    /// here; a CRLF is never cut in two), and whether it starts a line;
    /// `None` at the end of the input.
    pub fn next_piece(&mut self) -> io::Result<Option<(&[u8], bool)>> {
        let starts_line = std::mem::replace(&mut self.starts_line, true);
        self.input.consume(std::mem::take(&mut self.lent));
        if let Some(len) = Self::piece_in(self.input.fill_buf()?) {
            self.lent = len;
            let piece = &self.input.fill_buf()?[..len];
            self.starts_line = piece.ends_with(b"\n");
            return Ok(Some((piece, starts_line)));
        }
        self.line.clear();
        let n = (&mut self.input)
            .take(Self::MAX as u64)
            .read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(None);
        }
        if self.line.ends_with(b"\r") && self.input.fill_buf()?.first() == Some(&b'\n') {
            self.input.consume(1);
            self.line.push(b'\n');
        }
        self.starts_line = self.line.ends_with(b"\n");
        Ok(Some((&self.line, starts_line)))
    }

    /// The length of the next piece if it lies whole in `buffer`: up to
    /// and with a line break within [`Lines::MAX`] bytes, or
    /// [`Lines::MAX`] bytes (one more if they end in CR and LF follows)
    /// when the buffer holds more.
    fn piece_in(buffer: &[u8]) -> Option<usize> {
        let window = &buffer[..buffer.len().min(Self::MAX)];
        if let Some(lf) = memchr::memchr(b'\n', window) {
            return Some(lf + 1);
        }
        match buffer.get(Self::MAX) {
            Some(b'\n') if window.ends_with(b"\r") => Some(Self::MAX + 1),
            Some(_) => Some(Self::MAX),
            None => None,
        }
    }
}

/// `line` split into its content and its line break (CRLF, LF or none).
pub fn split_eol(line: &[u8]) -> (&[u8], &[u8]) {
    let eol = if line.ends_with(b"\r\n") {
        2
    } else {
        usize::from(line.ends_with(b"\n"))
    };
    line.split_at(line.len() - eol)
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
pub(crate) mod tests {
    use super::*;

    /// The parts of `body` as [`Lines`] and [`Delimiters`] find them.
    fn streamed_parts(body: &[u8], boundary: &str) -> Result<Vec<Vec<u8>>> {
        let mut lines = Lines::new(body);
        let mut delimiters = Delimiters::new(boundary);
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut held: &[u8] = b"";
        while let Some((line, starts_line)) = lines.next_piece().unwrap() {
            match delimiters.classify(line, starts_line) {
                Line::Delimiter => {
                    parts.push(Vec::new());
                    held = b"";
                }
                Line::Part(index) => {
                    let (content, eol) = split_eol(line);
                    parts[index].extend_from_slice(held);
                    parts[index].extend_from_slice(content);
                    held = if eol == b"\r\n" {
                        b"\r\n"
                    } else if eol.is_empty() {
                        b""
                    } else {
                        b"\n"
                    };
                }
                Line::Close => break,
                Line::Preamble | Line::Epilogue => {}
            }
        }
        delimiters.finish()?;
        Ok(parts)
    }

    #[test]
    fn streamed_parts_are_split_parts() {
        let long = format!("{}\r\n--b-not\r\n", "x".repeat(3 * Lines::<&[u8]>::MAX + 7));
        let bodies: Vec<Vec<u8>> = vec![
            b"pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n\r\n--b--\r\nepi".to_vec(),
            b"--b\n\n--b\nx\n--b--".to_vec(),
            b"--b\r\n--b\r\n--b--\r\n".to_vec(),
            format!("--b\r\n{long}--b\r\n{long}\r\n--b--\r\n").into_bytes(),
            format!("--b\r\n{}--b\r\n--b--\r\n", "y".repeat(Lines::<&[u8]>::MAX)).into_bytes(),
            b"--b\r\nopen".to_vec(),
            b"no delimiter".to_vec(),
        ];
        for body in &bodies {
            let split =
                split(body, "b").map(|m| m.parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>());
            let streamed = streamed_parts(body, "b");
            match (split, streamed) {
                (Ok(a), Ok(b)) => assert!(a == b, "{}", String::from_utf8_lossy(body)),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("split {:?}, streamed {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    /// Every piece [`Lines`] yields from `input` read through a buffer of
    /// `capacity` bytes.
    fn pieces(input: &[u8], capacity: usize) -> Vec<(Vec<u8>, bool)> {
        let mut lines = Lines::new(io::BufReader::with_capacity(capacity, input));
        let mut pieces = Vec::new();
        while let Some((piece, starts_line)) = lines.next_piece().unwrap() {
            pieces.push((piece.to_vec(), starts_line));
        }
        pieces
    }

    #[test]
    fn pieces_do_not_depend_on_the_buffer() {
        const MAX: usize = Lines::<&[u8]>::MAX;
        let mut input = Vec::new();
        for (i, len) in [0, 1, 75, MAX - 2, MAX - 1, MAX, MAX + 1, 2 * MAX + 3]
            .into_iter()
            .enumerate()
        {
            input.extend(std::iter::repeat_n(b'a' + i as u8, len));
            input.extend_from_slice([b"\r\n".as_slice(), b"\n", b"\r", b"\rx\n"][i % 4]);
        }
        // A CR at the end of a longest piece, with and without LF after.
        input.extend(std::iter::repeat_n(b'y', MAX - 1));
        input.extend_from_slice(b"\r\n");
        input.extend(std::iter::repeat_n(b'z', MAX - 1));
        input.extend_from_slice(b"\rz\nno break at the end");
        let whole = pieces(&input, input.len());
        // What a piece is: all of the input, in order; each one ends a line
        // or is a longest piece (CRLF kept together), or ends the input.
        assert!(
            whole
                .iter()
                .flat_map(|(piece, _)| piece.clone())
                .collect::<Vec<u8>>()
                == input
        );
        let mut after_break = true;
        for (index, (piece, starts_line)) in whole.iter().enumerate() {
            assert_eq!(*starts_line, after_break, "piece {index}");
            after_break = piece.ends_with(b"\n");
            let longest =
                piece.len() == MAX || (piece.len() == MAX + 1 && piece.ends_with(b"\r\n"));
            assert!(
                after_break || longest || index + 1 == whole.len(),
                "piece {index}"
            );
            assert!(piece.len() <= MAX || longest, "piece {index}");
            assert!(!piece[..piece.len() - 1].contains(&b'\n'), "piece {index}");
        }
        for capacity in [1, 2, 77, MAX - 1, MAX, MAX + 1, MAX + 2, 3 * MAX] {
            assert!(pieces(&input, capacity) == whole, "capacity {capacity}");
        }
    }

    #[test]
    fn parts_exclude_the_break_before_the_delimiter() {
        let body = b"pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n\r\n--b--\r\nepi";
        let m = split(body, "b").unwrap();
        assert_eq!(m.preamble, b"pre");
        assert_eq!(m.parts, vec![&b"A: 1\r\n\r\none"[..], &b"\r\ntwo\r\n"[..]]);
        assert_eq!(m.epilogue, b"epi");
    }

    /// `levels` multiparts, each holding the next, around a text part.
    pub(crate) fn nested(levels: usize) -> Vec<u8> {
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
