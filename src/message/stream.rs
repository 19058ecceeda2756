//! MIME read as a stream of lines in bounded memory: what [`super::mime`]
//! and [`super::transfer`] learn from a whole body in memory, learned one
//! line at a time, whatever the length of the lines or of the body.

use std::io::{self, BufRead, Read, Seek, Write};
use std::ops::Range;

use super::canon::CrlfReader;
use super::header::{read_headers, Headers, MAX_HEADER_BYTES};
use super::mime::{self, MAX_DEPTH};
use super::transfer::{self, Decoder, Decoding, Encoder, Encoding, MAX_LINE};
use crate::{Error, Result};

/// Bytes kept of each line's start, for matching boundary delimiters (RFC
/// 2046 boundaries have at most 70 characters).
const HEAD: usize = 1024;
/// A line that starts so is not safe: mail systems may change it.
const FROM: &[u8] = b"From ";

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
    /// The next bytes of the line.
    fn push(&mut self, piece: &[u8]) {
        let (eight_bit_or_nul, carriage_returns) = classify(piece);
        self.push_classified(piece, eight_bit_or_nul, carriage_returns);
    }

    /// A whole line ending in CRLF, its only CR, from a block that
    /// [`eight_bit_or_nul`] found clean.
    fn push_plain(&mut self, line: &[u8]) {
        self.push_classified(line, false, 1);
    }

    fn push_classified(&mut self, piece: &[u8], eight_bit_or_nul: bool, carriage_returns: usize) {
        // Only a line that starts with "--" can be a delimiter; of the
        // others, the start says whether it is "From " or blank.
        let mut rest = piece;
        if self.head.len() < 2 {
            let taken = rest.len().min(2 - self.head.len());
            self.head.extend_from_slice(&rest[..taken]);
            rest = &rest[taken..];
        }
        let keep = if self.head.starts_with(b"--") {
            HEAD
        } else {
            FROM.len()
        };
        let room = keep.saturating_sub(self.head.len());
        self.head.extend_from_slice(&rest[..rest.len().min(room)]);
        if let Some(at) = piece
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.last_non_space = Some(self.len + at);
        }
        self.eight_bit_or_nul |= eight_bit_or_nul;
        self.carriage_returns += carriage_returns;
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

    /// Whether the line is empty (only at the end of a stream).
    fn is_empty(&self) -> bool {
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
            && !self.head.starts_with(FROM)
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

/// Whether `bytes` hold an 8-bit or NUL byte, and how many CRs.
fn classify(bytes: &[u8]) -> (bool, usize) {
    (
        eight_bit_or_nul(bytes),
        memchr::memchr_iter(b'\r', bytes).count(),
    )
}

/// Whether `bytes` hold an 8-bit or NUL byte (a branch-free pass that the
/// compiler vectorizes).
fn eight_bit_or_nul(bytes: &[u8]) -> bool {
    let (mut high, mut nul) = (0u8, 0u8);
    for &b in bytes {
        high |= b;
        nul |= u8::from(b == 0);
    }
    high >= 0x80 || nul != 0
}

/// Passes `len` bytes of `body` to `output` (fewer if it ends first).
pub fn pass(body: &mut dyn BufRead, mut len: u64, output: &mut dyn Write) -> io::Result<()> {
    while len > 0 {
        let buf = match body.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let n = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        output.write_all(&buf[..n])?;
        body.consume(n);
        len -= n as u64;
    }
    Ok(())
}

/// The message in `input` read from its start, canonicalized to CRLF: its
/// header fields, and a reader of the body that follows them.
pub fn from_start<R: Read + Seek>(input: &mut R) -> Result<(Headers, impl BufRead + '_)> {
    input
        .rewind()
        .map_err(|e| Error::io("reading the message", e))?;
    let mut reader = CrlfReader::new(input);
    let (headers, body_start) = read_headers(&mut reader)?;
    Ok((headers, io::Cursor::new(body_start).chain(reader)))
}

/// Reads `body` on from offset `at` to `to`, discarding what it reads.
fn skip_to(body: &mut dyn BufRead, at: &mut u64, to: u64) -> io::Result<()> {
    pass(body, to.saturating_sub(*at), &mut io::sink())?;
    *at = to;
    Ok(())
}

/// What consumes a stream line by line.
pub trait LineSink {
    /// The next bytes of the current line (a line may come in pieces).
    fn piece(&mut self, bytes: &[u8]) -> Result<()>;
    /// The current line ended: with its LF, or at the end of the stream.
    fn line(&mut self, line: &Line) -> Result<()>;
}

/// Reads `reader` (CRLF canonical) to its end, handing each line to `sink`.
pub fn scan_lines(mut reader: impl BufRead, sink: &mut impl LineSink) -> Result<()> {
    let mut line = Line::default();
    loop {
        let buf = match reader.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the message", e)),
        };
        let n = buf.len();
        // Most lines of most messages are short, 7-bit and end in their
        // only CR: those need no look at each byte.
        let clean = !eight_bit_or_nul(buf);
        let mut at = 0;
        for lf in memchr::memchr_iter(b'\n', buf) {
            let piece = &buf[at..=lf];
            if clean
                && line.is_empty()
                && memchr::memchr(b'\r', piece).map(|cr| cr + 2) == Some(piece.len())
            {
                line.push_plain(piece);
            } else {
                line.push(piece);
            }
            sink.piece(piece)?;
            sink.line(&line)?;
            line.clear();
            at = lf + 1;
        }
        if at < n {
            line.push(&buf[at..n]);
            sink.piece(&buf[at..n])?;
        }
        reader.consume(n);
    }
    if !line.is_empty() {
        sink.line(&line)?;
    }
    Ok(())
}

/// One entity of the scanned body, as far as its re-encoding needs it.
/// Offsets count bytes of the (canonical) body stream.
#[derive(Debug)]
struct Node {
    start: u64,
    body_start: u64,
    end: u64,
    /// Its header fields; an error for a part whose header section does not
    /// parse (it is text then, and only an error when it must be rewritten).
    headers: Result<Headers>,
    /// Whether every line of its body is safe.
    safe: bool,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Leaf,
    Multipart(Box<Multipart>),
    /// message/rfc822: the enclosed message.
    Rfc822(Option<Box<Node>>),
}

/// A multipart body: its delimiters, and where its preamble, parts and
/// epilogue are.
#[derive(Debug)]
struct Multipart {
    boundary: String,
    delimiter: Vec<u8>,
    opened: bool,
    closed: bool,
    preamble_end: u64,
    preamble_safe: bool,
    parts: Vec<Node>,
    epilogue_start: u64,
    epilogue_safe: bool,
}

/// An entity being read: still in its header section, or in its body.
#[derive(Debug)]
struct Open {
    node: Node,
    depth: usize,
    in_headers: bool,
}

impl Open {
    fn multipart(&mut self) -> Option<&mut Multipart> {
        match &mut self.node.kind {
            Kind::Multipart(multipart) if !self.in_headers => Some(multipart),
            _ => None,
        }
    }
}

/// What to write for the body of an entity so that it is safe to sign, as
/// [`super::transfer::seven_bit_safe`] rewrites it: ranges of the body
/// stream copied as they are or re-encoded, and bytes in between.
#[derive(Debug)]
pub struct Plan(Vec<Op>);

#[derive(Debug)]
enum Op {
    Insert(Vec<u8>),
    Copy(Range<u64>),
    /// A leaf body without transfer encoding, or one whose base64 or
    /// quoted-printable does not decode, encoded as it streams.
    Encode(Range<u64>, Encoding),
    /// A base64 or quoted-printable leaf body that is not safe, decoded as
    /// its header fields say and encoded again as it streams.
    Reencode(Range<u64>, Headers, Encoding),
}

impl Plan {
    /// Whether the plan writes `head` and then the `len` bytes of the body
    /// as they are: the entity needs no change to be signed.
    pub fn is_verbatim(&self, head: &[u8], len: u64) -> bool {
        matches!(self.0.as_slice(), [Op::Insert(h), Op::Copy(r)] if h == head && *r == (0..len))
    }

    /// Finds the base64 or quoted-printable bodies to re-encode that do
    /// not decode, reading the body stream the plan was made from (which
    /// `open` opens) once if there are any, and not at all otherwise: such
    /// a body is encoded as it is, as [`transfer::reencode_leaf`] does.
    /// Until then, [`Plan::write`] fails on it.
    pub fn find_undecodable<B: BufRead>(&mut self, open: impl FnOnce() -> Result<B>) -> Result<()> {
        let mut reencoded = self
            .0
            .iter_mut()
            .filter(|op| matches!(op, Op::Reencode(..)))
            .peekable();
        if reencoded.peek().is_none() {
            return Ok(());
        }
        let read_error = |e| Error::io("reading the message", e);
        let mut body = open()?;
        let mut at = 0;
        for op in reencoded {
            let Op::Reencode(range, headers, encoding) = op else {
                unreachable!("only re-encoded bodies are checked")
            };
            skip_to(&mut body, &mut at, range.start).map_err(read_error)?;
            let mut part = (&mut body).take(range.end - range.start);
            let decoded = io::copy(
                &mut Decoding::new(Decoder::for_headers(headers), &mut part),
                &mut io::sink(),
            );
            at = range.end - part.limit();
            match decoded {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    *op = Op::Encode(range.clone(), *encoding);
                }
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(())
    }

    /// Writes the entity: `headers`, then what the plan makes of `body`
    /// (the body stream the plan was made from, read once).
    pub fn write(&self, mut body: impl BufRead, output: &mut dyn Write) -> io::Result<()> {
        let mut at = 0;
        for op in &self.0 {
            match op {
                Op::Insert(bytes) => output.write_all(bytes)?,
                Op::Copy(range) => {
                    skip_to(&mut body, &mut at, range.start)?;
                    pass(&mut body, range.end - range.start, output)?;
                    at = range.end;
                }
                Op::Encode(range, encoding) => {
                    skip_to(&mut body, &mut at, range.start)?;
                    let part = (&mut body).take(range.end - range.start);
                    io::copy(&mut Encoder::new(*encoding, part), output)?;
                    at = range.end;
                }
                Op::Reencode(range, headers, encoding) => {
                    skip_to(&mut body, &mut at, range.start)?;
                    let part = (&mut body).take(range.end - range.start);
                    let decoded = Decoding::new(Decoder::for_headers(headers), part);
                    io::copy(&mut Encoder::new(*encoding, decoded), output)?;
                    at = range.end;
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, node: &Node, top: Option<&Headers>) -> Result<()> {
        let head = match top {
            Some(headers) => Op::Insert(headers.with_body(b"")),
            None => Op::Copy(node.start..node.body_start),
        };
        if node.safe {
            self.0.push(head);
            self.0.push(Op::Copy(node.body_start..node.end));
            return Ok(());
        }
        let headers = match (top, &node.headers) {
            (Some(headers), _) | (None, Ok(headers)) => headers,
            (None, Err(e)) => return Err(Error::Malformed(e.to_string())),
        };
        match &node.kind {
            Kind::Multipart(multipart) => {
                self.0.push(head);
                if multipart.preamble_end > node.body_start && multipart.preamble_safe {
                    self.0
                        .push(Op::Copy(node.body_start..multipart.preamble_end));
                    self.0.push(Op::Insert(b"\r\n".to_vec()));
                }
                let boundary = &multipart.boundary;
                for part in &multipart.parts {
                    self.0
                        .push(Op::Insert(format!("--{boundary}\r\n").into_bytes()));
                    self.add(part, None)?;
                    self.0.push(Op::Insert(b"\r\n".to_vec()));
                }
                self.0
                    .push(Op::Insert(format!("--{boundary}--\r\n").into_bytes()));
                if multipart.epilogue_safe {
                    // The closing line's break may be the parent's.
                    let start = multipart.epilogue_start.min(node.end);
                    self.0.push(Op::Copy(start..node.end));
                }
            }
            Kind::Rfc822(enclosed) => {
                self.0.push(head);
                if let Some(enclosed) = enclosed {
                    self.add(enclosed, None)?;
                }
            }
            Kind::Leaf => {
                let (new_headers, encoding) = transfer::encoded_headers(headers);
                self.0.push(Op::Insert(new_headers.with_body(b"")));
                let body = node.body_start..node.end;
                self.0.push(if transfer::is_identity_encoded(headers) {
                    Op::Encode(body, encoding)
                } else {
                    Op::Reencode(body, headers.clone(), encoding)
                });
            }
        }
        Ok(())
    }
}

/// The body of an entity checked as it streams past: the MIME structure
/// [`mime::walk`] would refuse (a multipart without its delimiters or its
/// closing line, nesting deeper than [`MAX_DEPTH`]) is an error, and the
/// result is the [`Plan`] that makes it safe to sign. What the scan keeps
/// is bounded by the number of parts, not their size.
#[derive(Debug)]
pub struct EntityScan {
    headers: Headers,
    open: Vec<Open>,
    block: Vec<u8>,
    offset: u64,
    line_start: u64,
    block_line_start: usize,
}

impl EntityScan {
    /// A scan of the body of the entity whose header fields are `headers`.
    pub fn new(headers: &Headers) -> Result<EntityScan> {
        let mut scan = EntityScan {
            headers: headers.clone(),
            open: Vec::new(),
            block: Vec::new(),
            offset: 0,
            line_start: 0,
            block_line_start: 0,
        };
        let node = Node {
            start: 0,
            body_start: 0,
            end: 0,
            headers: Ok(headers.clone()),
            safe: true,
            kind: Kind::Leaf,
        };
        scan.open.push(Open {
            node,
            depth: 0,
            in_headers: false,
        });
        scan.open_body(headers.clone())?;
        Ok(scan)
    }

    /// Ends the scan at the end of the body: the plan that makes the entity
    /// safe to sign (once [`Plan::find_undecodable`] ran), or the error for
    /// MIME that [`mime::walk`] would refuse (or that cannot be rewritten).
    pub fn finish(mut self) -> Result<Plan> {
        let top = self.end_entities(0, self.offset)?.expect("the top entity");
        let mut plan = Plan(Vec::new());
        plan.add(&top, Some(&self.headers))?;
        Ok(plan)
    }

    /// The innermost open entity has read its header section: its body
    /// starts.
    fn open_body(&mut self, headers: Headers) -> Result<()> {
        let content_type = headers.content_type();
        let open = self.open.last_mut().expect("an open entity");
        let (depth, body_start) = (open.depth, open.node.body_start);
        open.node.kind = match (content_type.is_multipart(), content_type.param("boundary")) {
            (true, Some(boundary)) => Kind::Multipart(Box::new(Multipart {
                boundary: boundary.to_string(),
                delimiter: format!("--{boundary}").into_bytes(),
                opened: false,
                closed: false,
                preamble_end: body_start,
                preamble_safe: true,
                parts: Vec::new(),
                epilogue_start: body_start,
                epilogue_safe: true,
            })),
            _ if content_type.mime == "message/rfc822" => Kind::Rfc822(None),
            _ => Kind::Leaf,
        };
        open.node.headers = Ok(headers);
        if matches!(open.node.kind, Kind::Rfc822(_)) {
            self.open_child(depth, body_start)?;
        }
        Ok(())
    }

    /// A part or enclosed message of the entity at `depth` starts at `start`.
    fn open_child(&mut self, depth: usize, start: u64) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(mime::too_deep());
        }
        self.block.clear();
        self.block_line_start = 0;
        self.open.push(Open {
            node: Node {
                start,
                body_start: start,
                end: start,
                headers: Ok(Headers::default()),
                safe: true,
                kind: Kind::Leaf,
            },
            depth: depth + 1,
            in_headers: true,
        });
        Ok(())
    }

    /// Ends the open entities from index `from` on at offset `end`: checks
    /// them outermost first, with the errors [`mime::walk`] gives, then
    /// hands each to its parent. Returns the entity at `from` when it has
    /// no parent.
    fn end_entities(&mut self, from: usize, end: u64) -> Result<Option<Node>> {
        for open in &mut self.open[from..] {
            if open.in_headers {
                // An entity without a blank line is all header section.
                open.node.headers = Headers::parse(&self.block);
                if let Ok(headers) = &open.node.headers {
                    let content_type = headers.content_type();
                    if let (true, Some(boundary)) =
                        (content_type.is_multipart(), content_type.param("boundary"))
                    {
                        return Err(mime::no_delimiter(boundary));
                    }
                    if content_type.mime == "message/rfc822" && open.depth >= MAX_DEPTH {
                        return Err(mime::too_deep());
                    }
                }
                open.node.body_start = end;
            }
            if let Some(multipart) = open.multipart() {
                if !multipart.opened {
                    return Err(mime::no_delimiter(&multipart.boundary));
                }
                if !multipart.closed {
                    return Err(mime::truncated(&multipart.boundary));
                }
            }
        }
        self.block.clear();
        while self.open.len() > from {
            let mut node = self.open.pop().expect("open").node;
            // A part that ends before its blank line is all header section.
            node.start = node.start.min(end);
            node.body_start = node.body_start.min(end);
            node.end = end;
            if node.safe {
                // Copied as it is: its structure is no longer needed.
                node.kind = Kind::Leaf;
            }
            match self.open.last_mut().map(|o| &mut o.node.kind) {
                Some(Kind::Multipart(multipart)) => multipart.parts.push(node),
                Some(Kind::Rfc822(enclosed)) => *enclosed = Some(Box::new(node)),
                Some(Kind::Leaf) => unreachable!("a leaf has no children"),
                None => return Ok(Some(node)),
            }
        }
        Ok(None)
    }
}

impl LineSink for EntityScan {
    fn piece(&mut self, bytes: &[u8]) -> Result<()> {
        self.offset += bytes.len() as u64;
        if self.open.last().is_some_and(|o| o.in_headers) {
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
        let (line_start, line_end) = (self.line_start, self.offset);
        self.line_start = line_end;
        let safe = line.is_safe();
        let found = self.open.iter_mut().enumerate().find_map(|(index, open)| {
            let depth = open.depth;
            let multipart = open.multipart().filter(|m| !m.closed)?;
            line.delimiter(&multipart.delimiter)
                .map(|close| (index, close, depth))
        });
        if let Some((index, close, depth)) = found {
            for open in &mut self.open[..=index] {
                open.node.safe &= safe;
            }
            self.block.truncate(self.block_line_start);
            let parent = &self.open[index].node;
            let break_start = if line_start > parent.body_start {
                line_start - 2
            } else {
                line_start
            };
            let part_end = match self.open.get(index + 1) {
                Some(child) => break_start.max(child.node.start),
                None => break_start,
            };
            if self.open.len() > index + 1 {
                self.end_entities(index + 1, part_end)?;
            }
            let multipart = self.open[index].multipart().expect("a multipart");
            if !multipart.opened {
                multipart.preamble_end = break_start;
            }
            multipart.opened = true;
            if close {
                multipart.closed = true;
                multipart.epilogue_start = line_end;
            } else {
                self.open_child(depth, line_end)?;
            }
            return Ok(());
        }
        let in_headers = self.open.last().is_some_and(|o| o.in_headers);
        let own = self.open.len() - usize::from(in_headers);
        if !safe {
            for open in &mut self.open[..own] {
                open.node.safe = false;
                if let Some(multipart) = open.multipart() {
                    if !multipart.opened {
                        multipart.preamble_safe = false;
                    } else if multipart.closed {
                        multipart.epilogue_safe = false;
                    }
                }
            }
        }
        if in_headers {
            if line.is_blank() {
                self.block.truncate(self.block_line_start);
                let open = self.open.last_mut().expect("an entity in its headers");
                open.in_headers = false;
                open.node.body_start = line_end;
                // A part whose header section does not parse is text.
                match Headers::parse(&self.block) {
                    Ok(headers) => self.open_body(headers)?,
                    Err(e) => open.node.headers = Err(e),
                }
                self.block.clear();
            }
            self.block_line_start = self.block.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header::split_entity;

    /// `entity` (CRLF) made safe to sign by the streaming scan and plan,
    /// its body read `step` bytes at a time.
    fn streamed(entity: &[u8], step: usize) -> Result<Vec<u8>> {
        let (header_bytes, body) = split_entity(entity);
        let mut scan = EntityScan::new(&Headers::parse(header_bytes)?)?;
        scan_lines(
            io::BufReader::with_capacity(step, Trickle(body, step)),
            &mut scan,
        )?;
        let mut plan = scan.finish()?;
        let pieces = || io::BufReader::with_capacity(step, Trickle(body, step));
        plan.find_undecodable(|| Ok(pieces()))?;
        let mut out = Vec::new();
        plan.write(pieces(), &mut out).unwrap();
        Ok(out)
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

    #[track_caller]
    fn agrees(entity: &[u8]) {
        let whole = transfer::seven_bit_safe(entity).map_err(|e| e.to_string());
        for step in [1, 3, 64 * 1024] {
            let streamed = streamed(entity, step).map_err(|e| e.to_string());
            let show = |r: &std::result::Result<Vec<u8>, String>| match r {
                Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Err(e) => format!("error: {e}"),
            };
            assert!(
                streamed.is_ok() == whole.is_ok() && streamed.as_ref().ok() == whole.as_ref().ok(),
                "{:?}\n--- streamed ---\n{}\n--- in memory ---\n{}",
                String::from_utf8_lossy(entity),
                show(&streamed),
                show(&whole)
            );
        }
    }

    #[test]
    fn agrees_with_the_in_memory_rewrite() {
        let cases: &[&str] = &[
            "Content-Type: text/plain\r\n\r\nhello\r\n",
            "Content-Type: text/plain\r\n\r\nFrom me\r\n",
            "Content-Type: text/plain\r\n\r\ntrailing \r\n",
            "Content-Type: text/plain\r\n\r\nbare\rcr\r\n",
            "Content-Type: text/plain\r\n\r\nend\r",
            "Content-Type: text/plain\r\n\r\n8bit \u{e9}\r\n",
            "Content-Type: application/octet-stream\r\n\r\n\u{1}\u{2}\r\n",
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g \r\n",
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFrom =C3=A9\r\n",
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
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nnot a header\r\n\r\nsafe\r\n--b\r\n\r\nFrom x\r\n--b--\r\n",
            // Unsafe parts among safe ones, preambles and epilogues safe or
            // not, transport padding, nesting, parts without a body.
            "Content-Type: multipart/mixed; boundary=b\r\n\r\npre \u{e9}\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\u{fc}\u{df}e\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\nepi \r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nFrom here \r\n--c\r\nContent-Type: text/html\r\n\r\n<p>ok</p>\r\n--c--\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n\u{e9}t\u{e9}\r\n--b--\r\nepilogue\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\nX: y\r\n\r\n--b\r\n\r\n\u{e9}\r\n--b--",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\n\u{e9}\r\n--c--\r\n--b--\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\n\u{e9}\r\n--c--\r\n\u{e9}\r\n--b--\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b \r\n\r\nx\r\n--b--\r\n",
        ];
        for case in cases {
            agrees(case.as_bytes());
        }
    }

    #[test]
    fn long_lines_are_encoded_whatever_the_pieces() {
        agrees(
            format!(
                "Content-Type: text/plain\r\n\r\n{}\r\nok\r\n",
                "x".repeat(5000)
            )
            .as_bytes(),
        );
        agrees(
            format!(
                "Content-Type: image/png\r\n\r\n{}\r\nok",
                "\u{ff}".repeat(5000)
            )
            .as_bytes(),
        );
    }

    /// Base64 or quoted-printable leaf bodies that are not safe as they
    /// are, and whether they decode: one base64 line far over 998
    /// characters, base64 that does not decode (a bad character, a missing
    /// one, data after the padding), quoted-printable with trailing white
    /// space and a line over 998 characters, and with a line of only white
    /// space longer than a batch of [`Decoding`], which refuses it.
    fn unsafe_encoded_bodies() -> Vec<(&'static str, String, bool)> {
        vec![
            ("base64", format!("{}\r\n", "QUJD".repeat(800)), true),
            ("base64", format!("{}QU*D\r\n", "QUJD".repeat(300)), false),
            ("base64", "QUJD RA \r\n".to_string(), false),
            (
                "base64",
                format!("QQ==\r\n{}\r\n", "QUJD".repeat(300)),
                false,
            ),
            (
                "quoted-printable",
                format!("caf=C3=A9 \r\n{}x=\r\ny \r\n", "a=3Db ".repeat(200)),
                true,
            ),
            (
                "quoted-printable",
                format!("{}\r\nFrom x\r\n", " ".repeat(70_000)),
                false,
            ),
        ]
    }

    #[test]
    fn unsafe_base64_and_quoted_printable_are_reencoded_as_they_stream() {
        for (encoding, body, decodes) in unsafe_encoded_bodies() {
            let leaf = format!(
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}"
            );
            let text = leaf.replace("application/octet-stream", "text/plain");
            for entity in [&leaf, &text] {
                agrees(entity.as_bytes());
                // Safe to sign, and what a reader decodes is the content
                // (or, when it does not decode, the body as it was).
                let rewritten = transfer::seven_bit_safe(entity.as_bytes()).unwrap();
                let (header_bytes, new_body) = split_entity(&rewritten);
                assert!(transfer::body_is_safe(new_body), "{entity:?}");
                let headers = Headers::parse(header_bytes).unwrap();
                let content = transfer::decode_body(&headers, new_body).unwrap();
                let (header_bytes, body) = split_entity(entity.as_bytes());
                let expected = if decodes {
                    transfer::decode_body(&Headers::parse(header_bytes).unwrap(), body).unwrap()
                } else {
                    body.into()
                };
                assert!(content == expected, "{entity:?}");
            }
            agrees(format!("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nsafe\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n{text}\r\n--c\r\n{leaf}--c--\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n{leaf}\r\n--b--\r\n").as_bytes());
        }
    }

    #[test]
    fn agrees_on_random_mime() {
        let long_lines: Vec<String> = unsafe_encoded_bodies()
            .into_iter()
            .map(|(_, body, _)| body)
            .filter(|body| body.len() < 10_000)
            .collect();
        let long_lines: Vec<&str> = long_lines.iter().map(String::as_str).collect();
        const LINES: &[&str] = &[
            "--b\r\n",
            "--b--\r\n",
            "--b \r\n",
            "--c\r\n",
            "--c--\r\n",
            "\r\n",
            "Content-Type: multipart/mixed; boundary=c\r\n",
            "Content-Type: message/rfc822\r\n",
            "Content-Type: text/plain\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
            "not a header\r\n",
            "text\r\n",
            "From here\r\n",
            "trailing \r\n",
            "\u{e9}t\u{e9}\r\n",
            "=C3=A9 x\r\n",
            "AAEC\r\n",
            "bare\rcr\r\n",
            "QU*D\r\n",
            "end",
        ];
        let lines = [LINES, &long_lines].concat();
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: usize| rng.below(n);
        for _ in 0..3000 {
            let mut entity = String::from("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
            for _ in 0..next(24) {
                entity.push_str(lines[next(lines.len())]);
            }
            agrees(entity.as_bytes());
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
        assert_eq!(streamed(&entity, 4096).unwrap_err().exit_code(), 65);
    }
}
