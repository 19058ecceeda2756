//! CRLF canonicalization (RFC 5322 line endings), streaming.

use std::io::{self, BufRead, Read, Write};

/// Converts every bare LF written through it into CRLF; CRLF passes as is.
/// Each `write` reaches the inner writer as one `write_all`, so that long
/// streams of short lines do not turn into millions of small writes.
pub struct CrlfWriter<W: Write> {
    inner: W,
    last_was_cr: bool,
    scratch: Vec<u8>,
}

impl<W: Write> CrlfWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        CrlfWriter {
            inner,
            last_was_cr: false,
            scratch: Vec::new(),
        }
    }

    /// Returns the wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for CrlfWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.scratch.clear();
        let mut copied = 0;
        let mut inserted = false;
        for lf in memchr::memchr_iter(b'\n', buf) {
            let preceded_by_cr = if lf == 0 {
                self.last_was_cr
            } else {
                buf[lf - 1] == b'\r'
            };
            if !preceded_by_cr {
                self.scratch.reserve(buf.len() - copied + 64);
                self.scratch.extend_from_slice(&buf[copied..lf]);
                self.scratch.extend_from_slice(b"\r");
                copied = lf;
                inserted = true;
            }
        }
        self.last_was_cr = buf.ends_with(b"\r");
        if !inserted {
            self.inner.write_all(buf)?;
        } else {
            self.scratch.extend_from_slice(&buf[copied..]);
            self.inner.write_all(&self.scratch)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads `inner` with every bare LF turned into CRLF: the same bytes as
/// [`CrlfWriter`] would write, read in bounded memory. Input that is
/// already CRLF passes without being copied again.
pub struct CrlfReader<R: Read> {
    inner: R,
    last_was_cr: bool,
    /// Where `inner` is read to; at least [`RAW`] bytes long.
    raw: Vec<u8>,
    /// Canonical bytes, of which `at..` are not read yet.
    pending: Vec<u8>,
    at: usize,
}

/// Bytes read from the inner reader at a time.
const RAW: usize = 64 * 1024;

impl<R: Read> CrlfReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        CrlfReader {
            inner,
            last_was_cr: false,
            raw: vec![0; RAW],
            pending: Vec::with_capacity(RAW + RAW / 32),
            at: 0,
        }
    }
}

impl<R: Read> BufRead for CrlfReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at == self.pending.len() {
            let n = match self.inner.read(&mut self.raw) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            self.at = 0;
            let mut copied = 0;
            let mut inserted = false;
            for lf in memchr::memchr_iter(b'\n', &self.raw[..n]) {
                let preceded_by_cr = if lf == 0 {
                    self.last_was_cr
                } else {
                    self.raw[lf - 1] == b'\r'
                };
                if !preceded_by_cr {
                    if !inserted {
                        self.pending.clear();
                        inserted = true;
                    }
                    self.pending.extend_from_slice(&self.raw[copied..lf]);
                    self.pending.push(b'\r');
                    copied = lf;
                }
            }
            self.last_was_cr = self.raw[n - 1] == b'\r';
            if inserted {
                self.pending.extend_from_slice(&self.raw[copied..n]);
            } else {
                // The bytes read are the canonical ones: no copy.
                std::mem::swap(&mut self.raw, &mut self.pending);
                self.pending.truncate(n);
                if self.raw.len() < RAW {
                    self.raw.resize(RAW, 0);
                }
            }
        }
        Ok(&self.pending[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.pending.len());
    }
}

impl<R: Read> Read for CrlfReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
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

    #[test]
    fn reader_matches_writer_across_reads() {
        let data = b"a\nb\r\n\n\r\nc\r\rd\n".repeat(10_000);
        let mut read = Vec::new();
        CrlfReader::new(io::Cursor::new(&data))
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, to_crlf(&data));
    }

    #[test]
    fn lone_lf_at_the_start_of_a_write() {
        assert_eq!(to_crlf(b"\n"), b"\r\n");
        assert_eq!(to_crlf(b"\nx\r\ny\n"), b"\r\nx\r\ny\r\n");
    }
}
