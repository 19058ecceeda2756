//! Header sections as written: fields keep their exact bytes (folding and
//! all), with CRLF line endings.

use std::io::{BufRead, Read};

use mail_parser::{Addr, HeaderName, MessageParser};

use super::canon::to_crlf;
use crate::{Error, Result};

/// Longest header section accepted before the body.
pub(crate) const MAX_HEADER_BYTES: usize = 1 << 20;

/// One header field, `Name: value` plus any folded lines and the final CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    name: String,
    raw: Vec<u8>,
}

impl Field {
    /// A new field `name: value`.
    pub fn new(name: &str, value: &str) -> Field {
        Field {
            name: name.to_string(),
            raw: format!("{name}: {value}\r\n").into_bytes(),
        }
    }

    /// The field name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this field is called `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The whole field, CRLF-terminated.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The value with folding undone and surrounding white space trimmed.
    pub fn value(&self) -> String {
        let value = &self.raw[self.name.len() + 1..];
        let unfolded: Vec<u8> = value
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect();
        String::from_utf8_lossy(&unfolded).trim().to_string()
    }
}

/// A header section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Field>,
}

impl Headers {
    /// Parses a header section (without the blank line that ends it).
    pub fn parse(block: &[u8]) -> Result<Headers> {
        let block = to_crlf(block);
        let mut fields: Vec<Field> = Vec::new();
        for (number, line) in block.split_inclusive(|&b| b == b'\n').enumerate() {
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                match fields.last_mut() {
                    Some(field) => field.raw.extend_from_slice(line),
                    None => return Err(not_a_header(number, line)),
                }
                continue;
            }
            let colon = line.iter().position(|&b| b == b':');
            let name = colon.map(|c| &line[..c]).filter(|n| {
                !n.is_empty() && n.iter().all(|&b| (33..=126).contains(&b) && b != b':')
            });
            match name {
                Some(name) => fields.push(Field {
                    name: String::from_utf8_lossy(name).into_owned(),
                    raw: line.to_vec(),
                }),
                None => return Err(not_a_header(number, line)),
            }
        }
        if let Some(last) = fields.last_mut() {
            if !last.raw.ends_with(b"\n") {
                last.raw.extend_from_slice(b"\r\n");
            }
        }
        Ok(Headers { fields })
    }

    /// All fields in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The first field called `name`.
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.is(name))
    }

    /// Appends a field.
    pub fn push(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// Keeps only the fields for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Field) -> bool) {
        self.fields.retain(keep);
    }

    /// Replaces the first field called `name` (or appends one).
    pub fn set(&mut self, name: &str, value: &str) {
        let field = Field::new(name, value);
        match self.fields.iter_mut().find(|f| f.is(name)) {
            Some(existing) => *existing = field,
            None => self.fields.push(field),
        }
    }

    /// The section as bytes, every field CRLF-terminated, no blank line.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.fields
            .iter()
            .flat_map(|f| f.raw.iter().copied())
            .collect()
    }

    /// An entity: this section, the blank line, then `body`.
    pub fn with_body(&self, body: &[u8]) -> Vec<u8> {
        let mut entity = self.to_bytes();
        entity.reserve(body.len() + 2);
        entity.extend_from_slice(b"\r\n");
        entity.extend_from_slice(body);
        entity
    }

    /// The addresses in every field called `name` (groups flattened),
    /// lowercased domain kept as written.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        self.mailboxes(name)
            .into_iter()
            .flatten()
            .filter_map(|m| m.address.filter(|a| a.contains('@')))
            .collect()
    }

    /// The entries of each field called `name`, one list per field (groups
    /// flattened); a field whose value is no address list gives an empty
    /// list.
    pub fn mailboxes(&self, name: &str) -> Vec<Vec<Mailbox>> {
        self.fields
            .iter()
            .filter(|f| f.is(name))
            .map(|field| {
                let mut raw = field.raw.clone();
                raw.extend_from_slice(b"\r\n");
                let parsed = MessageParser::new().parse_headers(&raw);
                parsed
                    .as_ref()
                    .and_then(|m| m.headers().first())
                    .and_then(|h| h.value().as_address())
                    .map(|address| address.iter().map(Mailbox::from).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The MIME type of this entity (lowercase `type/subtype`) and the value
    /// of parameter `param`; `text/plain` when there is no Content-Type.
    pub fn content_type(&self) -> ContentType {
        self.parsed_content_type()
            .unwrap_or_else(ContentType::default_text)
    }

    /// Like [`Headers::content_type`], but a Content-Type field that cannot
    /// be read, or a multipart type without a boundary, is an error rather
    /// than plain text: for content that must be what it claims to be.
    pub fn declared_content_type(&self) -> Result<ContentType> {
        let Some(field) = self.get("Content-Type") else {
            return Ok(ContentType::default_text());
        };
        match self.parsed_content_type() {
            Some(ct)
                if !ct.mime.ends_with('/')
                    && (!ct.is_multipart() || ct.param("boundary").is_some()) =>
            {
                Ok(ct)
            }
            _ => Err(Error::Malformed(format!(
                "unreadable Content-Type field: {:?}",
                field.value().chars().take(80).collect::<String>()
            ))),
        }
    }

    /// The first Content-Type field as mail-parser reads it.
    fn parsed_content_type(&self) -> Option<ContentType> {
        let mut raw = self.get("Content-Type")?.raw.clone();
        raw.extend_from_slice(b"\r\n");
        let parsed = MessageParser::new().parse_headers(&raw)?;
        let ct = parsed
            .header(HeaderName::ContentType)
            .and_then(|v| v.as_content_type())?;
        Some(ContentType {
            mime: format!(
                "{}/{}",
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase()
            ),
            params: ct
                .attributes()
                .unwrap_or_default()
                .iter()
                .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
                .collect(),
        })
    }
}

/// One entry of an address field: the display name (comments included,
/// encoded words decoded) and the address, as mail-parser reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: Option<String>,
}

impl From<&Addr<'_>> for Mailbox {
    fn from(addr: &Addr<'_>) -> Mailbox {
        Mailbox {
            name: addr.name().map(str::to_string),
            address: addr.address().map(str::to_string),
        }
    }
}

/// A parsed Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Lowercase `type/subtype`.
    pub mime: String,
    /// Parameters, names lowercased.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    fn default_text() -> Self {
        ContentType {
            mime: "text/plain".into(),
            params: vec![("charset".into(), "us-ascii".into())],
        }
    }

    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a `multipart/*` type.
    pub fn is_multipart(&self) -> bool {
        self.mime.starts_with("multipart/")
    }
}

fn not_a_header(number: usize, line: &[u8]) -> Error {
    let shown: String = String::from_utf8_lossy(line)
        .trim_end()
        .chars()
        .take(60)
        .collect();
    Error::Malformed(format!(
        "not an RFC 5322 message: line {} of the header section is not a header field: {shown:?}",
        number + 1
    ))
}

/// Splits an entity into its header section and body. The blank line
/// between them belongs to neither; an entity with no blank line is all
/// headers.
pub fn split_entity(entity: &[u8]) -> (&[u8], &[u8]) {
    match find_header_end(entity) {
        Some((headers_end, body_start)) => (&entity[..headers_end], &entity[body_start..]),
        None => (entity, &[]),
    }
}

/// The header section of the entity `reader` reads and where its body
/// starts (as [`split_entity`] splits), reading no further than the blank
/// line needs (in doubling steps, so a long header section is not scanned
/// again and again).
pub fn read_header_section(reader: &mut impl Read) -> std::io::Result<(Vec<u8>, u64)> {
    let mut data = Vec::new();
    let mut step = 64 * 1024;
    loop {
        let read = reader.by_ref().take(step).read_to_end(&mut data)?;
        let (head, body) = split_entity(&data);
        let found = head.len() + body.len() < data.len();
        if found || (read as u64) < step {
            let (head_len, body_start) = (head.len(), data.len() - body.len());
            data.truncate(head_len);
            return Ok((data, body_start as u64));
        }
        step = data.len() as u64;
    }
}

/// Finds the blank line: returns (end of headers incl. last EOL, start of body).
fn find_header_end(data: &[u8]) -> Option<(usize, usize)> {
    if data.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if data.starts_with(b"\n") {
        return Some((0, 1));
    }
    let mut i = 0;
    while let Some(pos) = data[i..].iter().position(|&b| b == b'\n') {
        let eol = i + pos;
        let next = &data[eol + 1..];
        if next.starts_with(b"\r\n") {
            return Some((eol + 1, eol + 3));
        }
        if next.starts_with(b"\n") {
            return Some((eol + 1, eol + 2));
        }
        i = eol + 1;
    }
    None
}

/// Reads the header section of `input` (a message or a MIME part) up to
/// and including the blank line, leaving `input` at the body's first
/// byte: the fields, CRLF canonical.
pub fn read_header_fields(input: &mut impl BufRead) -> Result<Headers> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        let n = (&mut *input)
            .take((MAX_HEADER_BYTES + 1 - start) as u64)
            .read_until(b'\n', &mut raw)
            .map_err(|e| Error::io("reading the message", e))?;
        if raw.len() > MAX_HEADER_BYTES {
            return Err(Error::Malformed(format!(
                "a header section is larger than {} KiB",
                MAX_HEADER_BYTES >> 10
            )));
        }
        let line = &raw[start..];
        if n == 0 || line == b"\r\n" || line == b"\n" {
            raw.truncate(start);
            return Headers::parse(&to_crlf(&raw));
        }
    }
}

/// Reads the header section from `reader`, leaving the body unread except
/// for the bytes returned as the second element (which start the body).
pub fn read_headers(reader: &mut impl Read) -> Result<(Headers, Vec<u8>)> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some((headers_end, body_start)) = find_header_end(&buf) {
            let headers = Headers::parse(&buf[..headers_end])?;
            return Ok((headers, buf[body_start..].to_vec()));
        }
        if buf.len() > MAX_HEADER_BYTES {
            return Err(Error::Malformed(
                "the header section is larger than 1 MiB; is this an email message?".into(),
            ));
        }
        let n = reader
            .read(&mut chunk)
            .map_err(|e| Error::io("reading the message", e))?;
        if n == 0 {
            return Ok((Headers::parse(&buf)?, Vec::new()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_fields_keep_their_bytes() {
        let h = Headers::parse(b"To: a@x,\n  b@y\nSubject: hi\n").unwrap();
        assert_eq!(h.fields().len(), 2);
        assert_eq!(h.get("to").unwrap().raw(), b"To: a@x,\r\n  b@y\r\n");
        assert_eq!(h.addresses("To"), vec!["a@x", "b@y"]);
    }

    #[test]
    fn header_sections_read_from_a_stream_split_as_in_memory() {
        let long = format!("X-Long: {}\r\n\r\nbody", "y".repeat(200_000));
        let cases: [&[u8]; 6] = [
            b"a: b\r\n\r\nbody\r\n",
            b"\r\nbody",
            b"a: b\nc: d\n\nbody",
            b"a: b\r\n",
            b"",
            long.as_bytes(),
        ];
        for data in cases {
            let (head, body) = split_entity(data);
            let (read, start) = read_header_section(&mut &data[..]).unwrap();
            assert_eq!(read, head);
            assert_eq!(&data[start as usize..], body);
        }
    }

    #[test]
    fn text_is_not_a_header_section() {
        let err = Headers::parse(b"hello world\n").unwrap_err();
        assert_eq!(err.exit_code(), 65);
    }

    #[test]
    fn content_type_parameters() {
        let h = Headers::parse(b"Content-Type: Multipart/Mixed;\n boundary=\"b 1\"\n").unwrap();
        let ct = h.content_type();
        assert_eq!(ct.mime, "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some("b 1"));
    }

    #[test]
    fn split_on_first_blank_line() {
        let (h, b) = split_entity(b"A: 1\r\n\r\nbody\r\n\r\nmore");
        assert_eq!(h, b"A: 1\r\n");
        assert_eq!(b, b"body\r\n\r\nmore");
    }
}
