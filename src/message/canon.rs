//! CRLF canonicalization (RFC 5322 line endings), streaming.

use std::io::{self, Write};

/// Converts every bare LF written through it into CRLF; CRLF passes as is.
pub struct CrlfWriter<W: Write> {
    inner: W,
    last_was_cr: bool,
}

impl<W: Write> CrlfWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        CrlfWriter {
            inner,
            last_was_cr: false,
        }
    }

    /// Returns the wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CrlfWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(pos) = memchr(b'\n', rest) {
            let preceded_by_cr = if pos == 0 {
                self.last_was_cr
            } else {
                rest[pos - 1] == b'\r'
            };
            if preceded_by_cr {
                self.inner.write_all(&rest[..=pos])?;
            } else {
                self.inner.write_all(&rest[..pos])?;
                self.inner.write_all(b"\r\n")?;
            }
            self.last_was_cr = false;
            rest = &rest[pos + 1..];
        }
        if !rest.is_empty() {
            self.inner.write_all(rest)?;
            self.last_was_cr = rest.ends_with(b"\r");
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// `data` with every bare LF turned into CRLF.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut w = CrlfWriter::new(&mut out);
    w.write_all(data).expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_lf_becomes_crlf_across_writes() {
        let mut out = Vec::new();
        let mut w = CrlfWriter::new(&mut out);
        w.write_all(b"a\nb\r").unwrap();
        w.write_all(b"\nc\n\n").unwrap();
        assert_eq!(out, b"a\r\nb\r\nc\r\n\r\n");
    }
}
