//! MIME read as a stream of lines in bounded memory: what [`super::mime`]
//! and [`super::transfer`] learn from a whole body in memory, learned one
//! line at a time, whatever the length of the lines or of the body.

use std::io::Read;

use super::header::{Headers, MAX_HEADER_BYTES};
use super::mime::{self, MAX_DEPTH};
use crate::{Error, Result};

/// Bytes kept of each line's start, for matching boundary delimiters (RFC
/// 2046 boundaries have at most 70 characters).
const HEAD: usize = 1024;

/// The longest line [`super::transfer::body_is_safe`] accepts.
const MAX_LINE: usize = 998;

/// What is known about one line of a CRLF canonical stream, bounded
/// whatever the line's length.
#[derive(Debug, Default)]
pub struct Line {
    len: usize,
    head: Vec<u8>,
    last_non_space: Option<usize>,
    eight_bit_or_nul: bool,
    carriage_returns: usize,
    tail: [u8; 3],
}

impl Line {
    fn push(&mut self, piece: &[u8]) {
        let room = HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&piece[..piece.len().min(room)]);
        if let Some(at) = piece.iter().rposition(|b| !b" \t\r\n".contains(b)) {
            self.last_non_space = Some(self.len + at);
        }
        self.eight_bit_or_nul |= piece.iter().any(|&b| b == 0 || b >= 0x80);
        self.carriage_returns += memchr::memchr_iter(b'\r', piece).count();
        for &b in &piece[piece.len().saturating_sub(3)..] {
            self.tail = [self.tail[1], self.tail[2], b];
        }
        self.len += piece.len();
    }

    fn clear(&mut self) {
        self.len = 0;
        self.head.clear();
        self.last_non_space = None;
        self.eight_bit_or_nul = false;
        self.carriage_returns = 0;
        self.tail = [0; 3];
    }

    /// The line's length in bytes, line break included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the line is empty (only at the end of a stream).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the line is nothing but its CRLF.
    pub fn is_blank(&self) -> bool {
        self.head == b"\r\n"
    }

    /// Whether the line passes any mail system unchanged, as
    /// [`super::transfer::body_is_safe`] judges each line.
    pub fn is_safe(&self) -> bool {
        let mut end = self.len;
        let mut last = self.tail.len();
        if self.tail[last - 1] == b'\n' && end > 0 {
            end -= 1;
            last -= 1;
        }
        let mut stripped_cr = 0;
        if end > 0 && self.tail[last - 1] == b'\r' {
            end -= 1;
            last -= 1;
            stripped_cr = 1;
        }
        let ends_in_space = end > 0 && matches!(self.tail[last - 1], b' ' | b'\t');
        end <= MAX_LINE
            && !self.eight_bit_or_nul
            && self.carriage_returns == stripped_cr
            && !ends_in_space
            && !self.head.starts_with(b"From ")
    }

    /// `Some(close)` when this line is the delimiter `--BOUNDARY` (close:
    /// `--BOUNDARY--`), optionally followed by white space, as
    /// [`mime::split`] finds them.
    pub fn delimiter(&self, delimiter: &[u8]) -> Option<bool> {
        let rest = self.head.strip_prefix(delimiter)?;
        let close = rest.starts_with(b"--");
        let tail_start = delimiter.len() + if close { 2 } else { 0 };
        self.last_non_space
            .is_none_or(|at| at < tail_start)
            .then_some(close)
    }
}

/// What consumes a stream line by line.
pub trait LineSink {
    /// The next bytes of the current line (a line may come in pieces).
    fn piece(&mut self, bytes: &[u8]) -> Result<()>;
    /// The current line ended: with its LF, or at the end of the stream.
    fn line(&mut self, line: &Line) -> Result<()>;
}

/// Reads `reader` (CRLF canonical) to its end, handing each line to `sink`.
pub fn scan_lines(mut reader: impl Read, sink: &mut impl LineSink) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Line::default();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the message", e)),
        };
        let mut at = 0;
        for lf in memchr::memchr_iter(b'\n', &buf[..n]) {
            let piece = &buf[at..=lf];
            line.push(piece);
            sink.piece(piece)?;
            sink.line(&line)?;
            line.clear();
            at = lf + 1;
        }
        if at < n {
            line.push(&buf[at..n]);
            sink.piece(&buf[at..n])?;
        }
    }
    if !line.is_empty() {
        sink.line(&line)?;
    }
    Ok(())
}

/// An entity being read.
#[derive(Debug)]
enum Frame {
    /// Its header section (in [`EntityScan::block`]).
    Headers { depth: usize },
    /// A multipart body.
    Multipart {
        delimiter: Vec<u8>,
        depth: usize,
        opened: bool,
        closed: bool,
    },
    /// A message/rfc822 body: the next frame is the enclosed message.
    Rfc822,
    /// Anything else.
    Leaf,
}

impl Frame {
    /// The frame for a body with `headers` at `depth`, and whether an
    /// enclosed message (message/rfc822) starts with it.
    fn for_body(headers: &Headers, depth: usize) -> (Frame, bool) {
        let content_type = headers.content_type();
        match (content_type.is_multipart(), content_type.param("boundary")) {
            (true, Some(boundary)) => (
                Frame::Multipart {
                    delimiter: format!("--{boundary}").into_bytes(),
                    depth,
                    opened: false,
                    closed: false,
                },
                false,
            ),
            _ if content_type.mime == "message/rfc822" => (Frame::Rfc822, true),
            _ => (Frame::Leaf, false),
        }
    }
}

/// The body of an entity checked as it streams past: the MIME structure
/// [`mime::walk`] would refuse (a multipart without its delimiters or its
/// closing line, nesting deeper than [`MAX_DEPTH`]) is an error, and
/// [`EntityScan::body_is_safe`] tells what [`super::transfer::body_is_safe`]
/// would say of the whole body.
#[derive(Debug)]
pub struct EntityScan {
    frames: Vec<Frame>,
    block: Vec<u8>,
    line_start: usize,
    safe: bool,
}

impl EntityScan {
    /// A scan of the body of the entity whose header fields are `headers`.
    pub fn new(headers: &Headers) -> Result<EntityScan> {
        let mut scan = EntityScan {
            frames: Vec::new(),
            block: Vec::new(),
            line_start: 0,
            safe: true,
        };
        scan.open_body(headers, 0)?;
        Ok(scan)
    }

    /// Whether the body is a leaf: neither a multipart nor message/rfc822.
    pub fn is_leaf(&self) -> bool {
        matches!(self.frames.first(), Some(Frame::Leaf))
    }

    /// Ends the scan at the end of the body: whether every line of it is
    /// safe, or the error for MIME that [`mime::walk`] would refuse.
    pub fn finish(mut self) -> Result<bool> {
        self.end_frames(0)?;
        Ok(self.safe)
    }

    fn open_body(&mut self, headers: &Headers, depth: usize) -> Result<()> {
        let (frame, encloses) = Frame::for_body(headers, depth);
        self.frames.push(frame);
        if encloses {
            self.open_child(depth)?;
        }
        Ok(())
    }

    /// A part or enclosed message of the entity at `depth` starts.
    fn open_child(&mut self, depth: usize) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(mime::too_deep());
        }
        self.block.clear();
        self.line_start = 0;
        self.frames.push(Frame::Headers { depth: depth + 1 });
        Ok(())
    }

    /// Ends the frames from index `from` on, outermost first, with the
    /// errors [`mime::walk`] gives for them.
    fn end_frames(&mut self, from: usize) -> Result<()> {
        let ended: Vec<Frame> = self.frames.drain(from..).collect();
        for frame in ended {
            match frame {
                Frame::Headers { depth } => {
                    // An entity without a blank line is all header section.
                    if let Ok(headers) = Headers::parse(&self.block) {
                        let content_type = headers.content_type();
                        if let (true, Some(boundary)) =
                            (content_type.is_multipart(), content_type.param("boundary"))
                        {
                            return Err(mime::no_delimiter(boundary));
                        }
                        if content_type.mime == "message/rfc822" && depth >= MAX_DEPTH {
                            return Err(mime::too_deep());
                        }
                    }
                }
                Frame::Multipart {
                    delimiter, opened, ..
                } if !opened => {
                    return Err(mime::no_delimiter(&String::from_utf8_lossy(
                        &delimiter[2..],
                    )))
                }
                Frame::Multipart {
                    delimiter, closed, ..
                } if !closed => {
                    return Err(mime::truncated(&String::from_utf8_lossy(&delimiter[2..])))
                }
                _ => {}
            }
        }
        self.block.clear();
        Ok(())
    }
}

impl LineSink for EntityScan {
    fn piece(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(Frame::Headers { .. }) = self.frames.last() {
            if self.block.len() + bytes.len() > MAX_HEADER_BYTES {
                return Err(Error::Malformed(
                    "a MIME part's header section is larger than 1 MiB; is this an email message?"
                        .into(),
                ));
            }
            self.block.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn line(&mut self, line: &Line) -> Result<()> {
        self.safe &= line.is_safe();
        let found = self
            .frames
            .iter()
            .enumerate()
            .find_map(|(index, frame)| match frame {
                Frame::Multipart {
                    delimiter,
                    closed: false,
                    depth,
                    ..
                } => line
                    .delimiter(delimiter)
                    .map(|close| (index, close, *depth)),
                _ => None,
            });
        if let Some((index, close, depth)) = found {
            self.block.truncate(self.line_start);
            self.end_frames(index + 1)?;
            if let Some(Frame::Multipart { opened, closed, .. }) = self.frames.last_mut() {
                *opened = true;
                *closed = close;
            }
            if !close {
                self.open_child(depth)?;
            }
            return Ok(());
        }
        if let Some(&Frame::Headers { depth }) = self.frames.last() {
            if line.is_blank() {
                self.block.truncate(self.line_start);
                self.frames.pop();
                // A part whose header section does not parse is text.
                match Headers::parse(&self.block) {
                    Ok(headers) => self.open_body(&headers, depth)?,
                    Err(_) => self.frames.push(Frame::Leaf),
                }
                self.block.clear();
            }
            self.line_start = self.block.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header::split_entity;
    use crate::message::transfer;

    /// The streaming verdict on `entity` (CRLF), read `step` bytes at a time.
    fn scan(entity: &[u8], step: usize) -> Result<bool> {
        let (header_bytes, body) = split_entity(entity);
        let mut scan = EntityScan::new(&Headers::parse(header_bytes)?)?;
        scan_lines(Trickle(body, step), &mut scan)?;
        scan.finish()
    }

    /// A reader that returns at most `.1` bytes per read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn agrees(entity: &[u8]) {
        let (_, body) = split_entity(entity);
        let streamed = scan(entity, 3).map_err(|e| e.to_string());
        let expected = mime::walk(entity, |_| true)
            .map(|_| transfer::body_is_safe(body))
            .map_err(|e| e.to_string());
        assert_eq!(
            streamed.is_ok(),
            expected.is_ok(),
            "{:?}: {streamed:?} vs {expected:?}",
            String::from_utf8_lossy(entity)
        );
        if let (Ok(s), Ok(e)) = (&streamed, &expected) {
            assert_eq!(s, e, "{:?}", String::from_utf8_lossy(entity));
        }
    }

    #[test]
    fn agrees_with_the_in_memory_checks() {
        let cases: &[&str] = &[
            "Content-Type: text/plain\r\n\r\nhello\r\n",
            "Content-Type: text/plain\r\n\r\nFrom me\r\n",
            "Content-Type: text/plain\r\n\r\ntrailing \r\n",
            "Content-Type: text/plain\r\n\r\nbare\rcr\r\n",
            "Content-Type: text/plain\r\n\r\nend\r",
            "Content-Type: text/plain\r\n\r\n8bit \u{e9}\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b \r\n\r\ntwo\r\n--b--\r\nepi",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--b--\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n--b--\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\nafter\r\n--b--\r\n",
            "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nx\r\n--z--\r\n",
            "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nx\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nnot a header\r\n\r\nFrom x\r\n--b--\r\n",
        ];
        for case in cases {
            agrees(case.as_bytes());
        }
    }

    #[test]
    fn pieces_and_long_lines_do_not_matter() {
        let long = format!(
            "Content-Type: text/plain\r\n\r\n{}\r\nok\r\n",
            "x".repeat(5000)
        );
        assert!(!scan(long.as_bytes(), 7).unwrap());
        let entity = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b--\r\n";
        for step in [1, 2, 3, 50] {
            assert!(scan(entity, step).unwrap());
        }
    }

    #[test]
    fn nesting_is_limited() {
        let mut entity = b"Content-Type: text/plain\r\n\r\nleaf\r\n".to_vec();
        for level in 0..=MAX_DEPTH {
            let mut outer =
                format!("Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n")
                    .into_bytes();
            outer.extend_from_slice(&entity);
            outer.extend_from_slice(format!("\r\n--b{level}--\r\n").as_bytes());
            entity = outer;
        }
        assert_eq!(scan(&entity, 4096).unwrap_err().exit_code(), 65);
    }
}
