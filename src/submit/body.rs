//! The message bytes of a transaction, and their dot-stuffed form on the
//! wire (RFC 5321 4.5.2), produced piece by piece: a message read from
//! the agent's queue is never all in memory.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes read from a file at a time.
const PIECE: u64 = 64 * 1024;

/// The exact bytes of a transaction's message.
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `offset`, read piece by piece while they
    /// are sent.
    File {
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
}

impl From<Vec<u8>> for Body {
    fn from(data: Vec<u8>) -> Body {
        Body::Bytes(data)
    }
}

impl Body {
    /// Length in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Body::Bytes(data) => data.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// Up to [`PIECE`] bytes from `at` (which is below the size).
    async fn piece(&self, at: u64) -> std::io::Result<Vec<u8>> {
        let n = (self.size() - at).min(PIECE);
        match self {
            Body::Bytes(data) => Ok(data[at as usize..(at + n) as usize].to_vec()),
            Body::File { file, offset, .. } => {
                let (file, from) = (file.clone(), offset + at);
                tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; n as usize];
                    file.read_exact_at(&mut buf, from).map(|()| buf)
                })
                .await
                .map_err(std::io::Error::other)?
            }
        }
    }
}

/// The pieces of a body as sent after DATA: CRLF line ends (a bare CR or
/// LF becomes CRLF), leading dots doubled, and the final `.` line.
pub(super) struct Stuffed<'a> {
    body: &'a Body,
    at: u64,
    /// None once the final line was given.
    stuffer: Option<DotStuffer>,
}

impl<'a> Stuffed<'a> {
    pub(super) fn new(body: &'a Body) -> Stuffed<'a> {
        Stuffed {
            body,
            at: 0,
            stuffer: Some(DotStuffer::default()),
        }
    }

    /// The next piece; None after the last.
    pub(super) async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        if self.at < self.body.size() {
            let piece = self.body.piece(self.at).await?;
            self.at += piece.len() as u64;
            if let Some(stuffer) = self.stuffer.as_mut() {
                stuffer.push(&piece, &mut out);
            }
        } else {
            match self.stuffer.take() {
                Some(stuffer) => stuffer.end(&mut out),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

/// Dot-stuffing state between pieces.
struct DotStuffer {
    at_line_start: bool,
    /// The last byte read.
    last: Option<u8>,
    /// A CR was read last: whether it is a bare CR depends on what follows.
    cr_pending: bool,
}

impl Default for DotStuffer {
    fn default() -> DotStuffer {
        DotStuffer {
            at_line_start: true,
            last: None,
            cr_pending: false,
        }
    }
}

impl DotStuffer {
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.reserve(data.len() + data.len() / 50 + 5);
        for &b in data {
            if std::mem::take(&mut self.cr_pending) {
                if b == b'\n' {
                    out.push(b'\r');
                    self.at_line_start = false;
                } else {
                    // A bare CR becomes a line end too.
                    out.extend_from_slice(b"\r\n");
                    self.at_line_start = true;
                }
            }
            let last = self.last.replace(b);
            if b == b'\r' {
                self.cr_pending = true;
                continue;
            }
            if self.at_line_start && b == b'.' {
                out.push(b'.');
            }
            if b == b'\n' && last != Some(b'\r') {
                out.push(b'\r');
            }
            out.push(b);
            self.at_line_start = b == b'\n';
        }
    }

    fn end(mut self, out: &mut Vec<u8>) {
        if self.cr_pending {
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
        }
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data` dot-stuffed, checked to be the same in pieces of any size.
    fn dot_stuff(data: &[u8]) -> Vec<u8> {
        let mut whole = Vec::new();
        let mut stuffer = DotStuffer::default();
        stuffer.push(data, &mut whole);
        stuffer.end(&mut whole);
        for size in [1, 2, 3] {
            let mut pieces = Vec::new();
            let mut stuffer = DotStuffer::default();
            data.chunks(size).for_each(|p| stuffer.push(p, &mut pieces));
            stuffer.end(&mut pieces);
            assert_eq!(pieces, whole, "in pieces of {size}: {data:?}");
        }
        whole
    }

    #[test]
    fn dot_stuffing_and_line_ends() {
        assert_eq!(dot_stuff(b"a\n.b\n..\nc"), b"a\r\n..b\r\n...\r\nc\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"a\r.b\r\nc\r"), b"a\r\n..b\r\nc\r\n.\r\n");
        assert_eq!(dot_stuff(b"\r\n.\r\n"), b"\r\n..\r\n.\r\n");
    }

    #[tokio::test]
    async fn file_bodies_are_read_in_pieces() {
        let mut tmp = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3 * PIECE + 5).map(|i| b'a' + (i % 26) as u8).collect();
        std::io::Write::write_all(&mut tmp, b"xx").unwrap();
        std::io::Write::write_all(&mut tmp, &data).unwrap();
        let body = Body::File {
            file: Arc::new(tmp),
            offset: 2,
            len: data.len() as u64,
        };
        let mut stuffed = Stuffed::new(&body);
        let mut sent = Vec::new();
        while let Some(piece) = stuffed.next().await.unwrap() {
            sent.extend_from_slice(&piece);
        }
        let mut expected = data.clone();
        expected.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(sent, expected);
    }
}
