//! The MIME tree of an entity too large to hold, walked as it is read:
//! one pass over the body, in bounded memory, finding the entities
//! [`super::mime::walk`] finds in memory (the same paths, the same
//! errors for a broken multipart or nesting deeper than
//! [`mime::MAX_DEPTH`]), without a copy of any body.

use std::io::BufRead;
use std::ops::Range;

use super::header::Headers;
use super::mime::{self, split_eol, Delimiters, Line, Lines};
use crate::{Error, Result};

/// The largest header section of a part, and the most boundary text the
/// multiparts open at once may hold together.
pub const MAX_HEADER: usize = 1 << 20;

/// The most leaves a walk finds: what its visitors keep about each grows
/// with their number, and no mail client shows a message with as many.
pub const MAX_LEAVES: usize = 100_000;

/// An entity the walk did not go into.
#[derive(Debug)]
pub struct Leaf {
    /// Where it is, as [`mime::Entity::path`].
    pub path: String,
    /// How many entities it is inside (0 for the top).
    pub depth: usize,
    /// Its header fields; an error when a part's header section does not
    /// parse (its body is then all of the part, as [`mime::walk`] takes it).
    pub headers: Result<Headers>,
    /// Where its body is, as [`mime::split`] cuts it.
    pub body: Range<u64>,
}

/// What a [`walk`] does with the entities it finds.
pub trait Visitor {
    /// Whether to go into the multipart (with a boundary) or
    /// message/rfc822 entity with `headers`.
    fn descend(&self, headers: &Headers) -> bool;

    /// A leaf whose header fields parse starts; its body follows in
    /// pieces through [`Visitor::body`].
    fn start(&mut self, _headers: &Headers) {}

    /// The next piece of the body of the leaf that started last.
    fn body(&mut self, _piece: &[u8]) {}

    /// A leaf ends (after the last piece of its body); an error fails the
    /// walk (see [`walk`]).
    fn leaf(&mut self, leaf: Leaf) -> Result<()>;
}

/// Walks the entity with the header fields `top` whose body `input` reads,
/// starting at offset `base`, handing its leaves to `visitor` in order.
/// Broken multiparts and too deep nesting are the errors
/// [`mime::walk`] gives; header sections are bounded by [`MAX_HEADER`],
/// and more than [`MAX_LEAVES`] leaves are an error. A broken multipart's
/// error, or the visitor's for a leaf, does not stop the walk at once: a
/// multipart around it may turn out broken too, and the error returned is
/// the one of the entity that starts first, as [`mime::walk`] meets them.
pub fn walk(
    input: impl BufRead,
    base: u64,
    top: Headers,
    visitor: &mut impl Visitor,
) -> Result<()> {
    let mut walker = Walker {
        visitor,
        open: Vec::new(),
        boundaries: 0,
        leaves: 0,
        fault: None,
        current: Current::Between,
    };
    let run = || -> Result<()> {
        walker.entity(String::new(), 0, Ok(top), base, (base, base))?;
        let mut lines = Lines::new(input);
        let mut position = base;
        while let Some((line, starts_line)) = lines
            .next_piece()
            .map_err(|e| Error::io("reading the decrypted plaintext back", e))?
        {
            walker.line(line, starts_line, position)?;
            position += line.len() as u64;
        }
        walker.close_above(None, true)
    };
    let walked = run();
    // The first fault in document order, as mime::walk meets them.
    match (walker.fault, walked) {
        (Some((_, fault)), _) => Err(fault),
        (None, walked) => walked,
    }
}

/// An entity the walk went into.
struct Open {
    path: String,
    start: u64,
    depth: usize,
    /// A multipart's delimiters; `None` for message/rfc822.
    delimiters: Option<Delimiters>,
    boundary_len: usize,
}

/// Where the walk is inside the innermost open entity.
enum Current {
    /// In a multipart's preamble or epilogue, or between its parts.
    Between,
    /// In the header section of the entity that starts at `start`.
    Header {
        path: String,
        depth: usize,
        start: u64,
        bytes: Vec<u8>,
    },
    /// In the body of a leaf: `end` is where its content ends so far,
    /// `line_end` where its last line (with its break `held`) ends.
    Body {
        leaf: Leaf,
        end: u64,
        line_end: u64,
        held: &'static [u8],
    },
}

struct Walker<'v, V> {
    visitor: &'v mut V,
    open: Vec<Open>,
    /// Boundary bytes held by `open`.
    boundaries: usize,
    /// Leaves found so far.
    leaves: usize,
    /// The first fault found in a multipart or a leaf (by where the entity
    /// starts: the one [`mime::walk`] would meet first), while the walk
    /// goes on to find any earlier one.
    fault: Option<(u64, Error)>,
    current: Current,
}

impl<V: Visitor> Walker<'_, V> {
    /// Enters the entity at `start` whose header section's content ends at
    /// `header_end` and whose body starts at `body_start` (after the blank
    /// line, if there is one).
    fn entity(
        &mut self,
        path: String,
        depth: usize,
        headers: Result<Headers>,
        start: u64,
        (header_end, body_start): (u64, u64),
    ) -> Result<()> {
        let content_type = match &headers {
            Ok(fields) if self.visitor.descend(fields) => Some(fields.content_type()),
            _ => None,
        };
        if let Some(boundary) = content_type
            .as_ref()
            .filter(|ct| ct.is_multipart())
            .and_then(|ct| ct.param("boundary"))
        {
            self.boundaries += boundary.len();
            if self.boundaries > MAX_HEADER {
                return Err(Error::Malformed(format!(
                    "the boundaries of the multiparts around part {path} are longer than {} KiB together; no mail client writes such a message",
                    MAX_HEADER >> 10
                )));
            }
            self.open.push(Open {
                delimiters: Some(Delimiters::new(boundary)),
                boundary_len: boundary.len(),
                path,
                start,
                depth,
            });
            self.current = Current::Between;
        } else if content_type.is_some_and(|ct| ct.mime == "message/rfc822") {
            if depth >= mime::MAX_DEPTH {
                return Err(mime::too_deep());
            }
            self.current = Current::Header {
                path: child(&path, 1),
                depth: depth + 1,
                start: body_start,
                bytes: Vec::new(),
            };
            self.open.push(Open {
                path,
                start,
                depth,
                delimiters: None,
                boundary_len: 0,
            });
        } else {
            // A part whose header section does not parse is all body.
            let (body, end) = match &headers {
                Ok(fields) => {
                    self.visitor.start(fields);
                    (body_start..body_start, body_start)
                }
                Err(_) => (start..start, header_end),
            };
            self.current = Current::Body {
                leaf: Leaf {
                    path,
                    depth,
                    headers,
                    body,
                },
                end,
                line_end: body_start,
                held: b"",
            };
        }
        Ok(())
    }

    /// Takes the line (or piece of one) at `position`.
    fn line(&mut self, line: &[u8], starts_line: bool, position: u64) -> Result<()> {
        // The outermost multipart that knows the line decides what it is.
        for index in 0..self.open.len() {
            let Some(delimiters) = &mut self.open[index].delimiters else {
                continue;
            };
            match delimiters.classify(line, starts_line) {
                Line::Part(_) => continue,
                Line::Preamble | Line::Epilogue => return Ok(()),
                Line::Close => {
                    self.close_above(Some(index), false)?;
                    self.current = Current::Between;
                    return Ok(());
                }
                Line::Delimiter => {
                    let parts = delimiters.parts();
                    self.close_above(Some(index), false)?;
                    let parent = &self.open[index];
                    if parent.depth >= mime::MAX_DEPTH {
                        return Err(mime::too_deep());
                    }
                    self.current = Current::Header {
                        path: child(&parent.path, parts),
                        depth: parent.depth + 1,
                        start: position + line.len() as u64,
                        bytes: Vec::new(),
                    };
                    return Ok(());
                }
            }
        }
        self.feed(line, starts_line, position)
    }

    /// Takes a line of the innermost entity.
    fn feed(&mut self, line: &[u8], starts_line: bool, position: u64) -> Result<()> {
        let end = position + line.len() as u64;
        let blank = starts_line && matches!(line, b"\r\n" | b"\n");
        match &mut self.current {
            Current::Between => Ok(()),
            Current::Header { .. } if blank => {
                let Current::Header {
                    path,
                    depth,
                    start,
                    bytes,
                } = std::mem::replace(&mut self.current, Current::Between)
                else {
                    unreachable!("matched above")
                };
                let ends = (position, end);
                self.entity(path, depth, Headers::parse(&bytes), start, ends)
            }
            Current::Header { path, bytes, .. } => {
                if bytes.len() + line.len() > MAX_HEADER {
                    return Err(Error::Malformed(format!(
                        "the header section of part {path} is larger than {} KiB",
                        MAX_HEADER >> 10
                    )));
                }
                bytes.extend_from_slice(line);
                Ok(())
            }
            Current::Body {
                leaf,
                end: content_end,
                line_end,
                held,
            } => {
                let (content, eol) = split_eol(line);
                if leaf.headers.is_ok() {
                    if !held.is_empty() {
                        self.visitor.body(held);
                    }
                    self.visitor.body(content);
                }
                *held = match eol {
                    b"\r\n" => b"\r\n",
                    b"\n" => b"\n",
                    _ => b"",
                };
                *content_end = position + content.len() as u64;
                *line_end = end;
                Ok(())
            }
        }
    }

    /// Ends the current entity and every open one inside the one at
    /// `keep` (all of them for `None`); at the end of the input (`eof`) a
    /// body keeps its last line break, before a delimiter it does not.
    fn close_above(&mut self, keep: Option<usize>, eof: bool) -> Result<()> {
        self.end_current(eof)?;
        let keep = keep.map_or(0, |index| index + 1);
        while self.open.len() > keep {
            self.pop();
        }
        Ok(())
    }

    /// Leaves the innermost open entity, noting the fault of a multipart
    /// that did not close.
    fn pop(&mut self) {
        let open = self.open.pop().expect("an entity is open");
        self.boundaries -= open.boundary_len;
        if let Some(Err(e)) = open.delimiters.map(|d| d.finish()) {
            self.note_fault(open.start, e);
        }
    }

    /// Keeps `error`, at `start`, when it comes before any fault found.
    fn note_fault(&mut self, start: u64, error: Error) {
        if self.fault.as_ref().is_none_or(|(first, _)| start < *first) {
            self.fault = Some((start, error));
        }
    }

    /// Ends the current entity (a header section that ends with its part
    /// is all of the part, with an empty body).
    fn end_current(&mut self, eof: bool) -> Result<()> {
        loop {
            match std::mem::replace(&mut self.current, Current::Between) {
                Current::Between => return Ok(()),
                Current::Header {
                    path,
                    depth,
                    start,
                    mut bytes,
                } => {
                    if !eof {
                        let cut = bytes.len() - split_eol(&bytes).1.len();
                        bytes.truncate(cut);
                    }
                    let end = start + bytes.len() as u64;
                    self.entity(path, depth, Headers::parse(&bytes), start, (end, end))?;
                    if matches!(self.current, Current::Between) {
                        // A multipart without a body: its delimiters say
                        // what is wrong.
                        self.pop();
                        return Ok(());
                    }
                }
                Current::Body {
                    mut leaf,
                    end,
                    line_end,
                    held,
                } => {
                    let end = if eof {
                        if leaf.headers.is_ok() && !held.is_empty() {
                            self.visitor.body(held);
                        }
                        line_end
                    } else {
                        end
                    };
                    leaf.body.end = end.max(leaf.body.start);
                    self.leaves += 1;
                    if self.leaves > MAX_LEAVES {
                        return Err(Error::Malformed(format!(
                            "the message has more than {MAX_LEAVES} MIME parts; no mail client shows such a message, and mailseal refuses it"
                        )));
                    }
                    let start = leaf.body.start;
                    if let Err(e) = self.visitor.leaf(leaf) {
                        self.note_fault(start, e);
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// A random entity of lines that make and break multiparts, for tests
/// that compare a walk with [`mime::walk`].
#[cfg(test)]
pub(crate) fn line_soup(rng: &mut crate::test_rng::XorShift) -> String {
    const PIECES: [&str; 18] = [
        "--a \r\n",
        "--a",
        "Content-Type: multipart/alternative; boundary=\"b\"\n",
        "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n",
        "Content-Type: multipart/mixed; boundary=a\r\n",
        "Content-Type: message/rfc822\r\n",
        "Content-Type: text/plain\r\n",
        "\r\n",
        "\n",
        "--a\r\n",
        "--a--\r\n",
        "--b\n",
        "--b--",
        "text\r\n",
        "not a header\r\n",
        " folded\r\n",
        "\r",
        "Content-Transfer-Encoding: base64\r\n",
    ];
    let mut next = || rng.next_u64();
    let mut entity = String::from("Content-Type: multipart/mixed; boundary=a\r\n\r\n");
    for _ in 0..next() % 40 {
        entity.push_str(PIECES[(next() >> 32) as usize % PIECES.len()]);
    }
    entity
}

/// The path of part `index` (from 1) of the entity at `parent`.
fn child(parent: &str, index: usize) -> String {
    if parent.is_empty() {
        index.to_string()
    } else {
        format!("{parent}.{index}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::header::split_entity;

    /// Records the leaves and their bodies as the pieces give them.
    #[derive(Default)]
    struct Record {
        leaves: Vec<(String, Option<Vec<u8>>, Range<u64>)>,
        body: Vec<u8>,
    }

    impl Visitor for Record {
        fn descend(&self, _: &Headers) -> bool {
            true
        }
        fn start(&mut self, _: &Headers) {
            self.body.clear();
        }
        fn body(&mut self, piece: &[u8]) {
            self.body.extend_from_slice(piece);
        }
        fn leaf(&mut self, leaf: Leaf) -> Result<()> {
            let body = leaf.headers.is_ok().then(|| std::mem::take(&mut self.body));
            self.leaves.push((leaf.path, body, leaf.body));
            Ok(())
        }
    }

    /// The leaves of `entity` as [`walk`] finds them, checked against
    /// [`mime::walk`]: the same paths, bodies and errors.
    fn check(entity: &[u8]) -> Result<Vec<String>> {
        let (header_bytes, body) = split_entity(entity);
        let base = (entity.len() - body.len()) as u64;
        let mut record = Record::default();
        let streamed = walk(
            body,
            base,
            Headers::parse(header_bytes).unwrap(),
            &mut record,
        );
        let in_memory = mime::walk(entity, |_| true);
        let in_memory = match (streamed, in_memory) {
            (Ok(()), Ok(found)) => found,
            (Err(a), Err(b)) => {
                assert_eq!(
                    a.to_string(),
                    b.to_string(),
                    "{:?}",
                    String::from_utf8_lossy(entity)
                );
                return Err(a);
            }
            (a, b) => panic!("streamed {a:?}, in memory {:?}", b.map(|_| ())),
        };
        let leaves: Vec<_> = in_memory
            .iter()
            .filter(|e| {
                let ct = e.headers.content_type();
                !(ct.is_multipart() && ct.param("boundary").is_some()
                    || ct.mime == "message/rfc822")
            })
            .collect();
        assert_eq!(leaves.len(), record.leaves.len());
        for (found, (path, body, range)) in leaves.iter().zip(&record.leaves) {
            assert_eq!(&found.path, path);
            if let Some(body) = body {
                assert_eq!(body.as_slice(), found.body, "part {path}");
            }
            if found.body.is_empty() {
                assert!(range.is_empty(), "part {path}");
            } else {
                let at = (found.body.as_ptr() as usize - entity.as_ptr() as usize) as u64;
                assert_eq!(
                    *range,
                    at..at + found.body.len() as u64,
                    "part {path} of {:?}",
                    String::from_utf8_lossy(entity)
                );
            }
        }
        Ok(record.leaves.into_iter().map(|l| l.0).collect())
    }

    #[test]
    fn finds_the_leaves_mime_walk_finds() {
        let long = "x".repeat(3 * Lines::<&[u8]>::MAX + 5);
        let messages = [
            "Content-Type: text/plain\r\n\r\nhello\r\nworld\r\n".to_string(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\npre\r\n--a\r\nContent-Type: text/plain\r\n\r\none\r\n--a\r\n\r\ntwo\r\n\r\n--a--\r\nepi\r\n".into(),
            format!("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\n{long}\r\n--b\r\nX: y\r\n\r\n--b--\r\nafter\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\ninner\r\n--a\r\nno header\r\n\r\nbody\r\n--a\r\nOnly: headers\r\n--a\r\n--a--\r\n"),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n--a--\r\n".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--a--\r\n".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nopen".into(),
            "Content-Type: multipart/mixed; boundary=a\r\n\r\nno delimiter\r\n".into(),
            "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nz\r\n--c--\r\n".into(),
        ];
        for message in &messages {
            let _ = check(message.as_bytes());
        }
        let paths = check(messages[2].as_bytes()).unwrap();
        assert_eq!(paths, ["1.1", "1.2", "2.1", "3", "4", "5"]);
    }

    #[test]
    fn finds_what_mime_walk_finds_in_random_mime() {
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let _ = check(line_soup(&mut rng).as_bytes());
        }
    }

    use crate::message::mime::tests::nested;

    #[test]
    fn stops_at_the_depth_limit() {
        assert!(check(&nested(mime::MAX_DEPTH)).is_ok());
        let err = check(&nested(mime::MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(err.exit_code(), 65);
    }

    #[test]
    fn leaves_are_bounded() {
        let parts = |count: usize| {
            let mut body = "--a\r\n\r\nx\r\n".repeat(count);
            body.push_str("--a--\r\n");
            let top = Headers::parse(b"Content-Type: multipart/mixed; boundary=a\r\n").unwrap();
            walk(body.as_bytes(), 0, top, &mut Record::default())
        };
        assert!(parts(MAX_LEAVES).is_ok());
        let err = parts(MAX_LEAVES + 1).unwrap_err();
        assert!(err.to_string().contains("MIME parts"), "{err}");
    }

    #[test]
    fn header_sections_are_bounded() {
        let mut message = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n".to_vec();
        for _ in 0..=MAX_HEADER / 16 {
            message.extend_from_slice(b"X-Filler: 0123\r\n");
        }
        message.extend_from_slice(b"\r\nbody\r\n--a--\r\n");
        let (header_bytes, body) = split_entity(&message);
        let err = walk(
            body,
            0,
            Headers::parse(header_bytes).unwrap(),
            &mut Record::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
