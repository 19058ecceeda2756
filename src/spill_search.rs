//! The search of a large plaintext's MIME parts, made on a thread of its
//! own as the plaintext is written to its [`Spill`], instead of one more
//! pass over the spill once it is written: a [`walk::Visitor`] walks it
//! from what [`SpillTee`] hands over through a bounded pipe of chunks.
//! The caller uses what the search found only when it was made under
//! header fields that walk as the ones it opens the plaintext with, from
//! the same offset ([`Searched::matching`]); else it walks the spill.

use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use crate::chunks::{chunk_channel, ChunkSender};
use crate::message::header::read_header_fields;
use crate::message::{transfer, walk, Headers};
use crate::spill::Spill;
use crate::Result;

/// Chunks of plaintext queued for the search: enough to let the threads
/// overlap, little enough to keep memory flat.
const SEARCH_CHUNKS: usize = 16;

/// Runs `write` with a [`SpillTee`] into a new spill in `spill_dir` whose
/// parts a `V` searches as they are written (under `top`, else under the
/// header section the plaintext starts with); returns what `write`
/// returned, the spill (not finished) and the search.
pub fn spill_searched<V, T>(
    spill_dir: &Path,
    top: Option<Headers>,
    write: impl FnOnce(&mut SpillTee) -> T,
) -> (T, Spill, Searched<V>)
where
    V: walk::Visitor + Default + Send,
{
    std::thread::scope(|scope| {
        let (to_search, search_chunks) = chunk_channel(SEARCH_CHUNKS);
        let searcher = scope.spawn(move || search_stream(search_chunks.into_reader(), top));
        let mut tee = SpillTee {
            spill: Spill::new(spill_dir),
            search: to_search,
        };
        let written = write(&mut tee);
        let SpillTee { spill, search } = tee;
        // The search reads to the end of what was written.
        let _ = search.finish();
        (written, spill, crate::chunks::joined(searcher.join()))
    })
}

/// Writes the plaintext to the spill and hands it to the search.
pub struct SpillTee {
    spill: Spill,
    search: ChunkSender,
}

impl Write for SpillTee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A search that stopped (on an error it keeps) takes no more.
        let _ = self.search.write_all(buf);
        self.spill.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.spill.flush()
    }
}

/// The search of the parts of a plaintext read from `input` (CRLF), made
/// as it is written: under `top`, else under the header section it
/// starts with.
pub fn search_stream<V: walk::Visitor + Default>(
    input: impl Read,
    top: Option<Headers>,
) -> Searched<V> {
    let mut input = BufReader::with_capacity(
        1 << 16,
        CountingReader {
            inner: input,
            read: 0,
        },
    );
    let top = match top {
        Some(top) => Ok(top),
        None => read_header_fields(&mut input),
    };
    let base = input.get_ref().read - input.buffer().len() as u64;
    let result = top.and_then(|top| {
        let mut search = V::default();
        walk::walk(&mut input, base, top.clone(), &mut search).map(|()| (top, search))
    });
    // Whatever is left is read, so the writing side never waits.
    let _ = io::copy(&mut input, &mut io::sink());
    Searched { base, result }
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A search made as the plaintext was written: where the body started,
/// and the header fields it was made under with what it found.
pub struct Searched<V> {
    base: u64,
    result: Result<(Headers, V)>,
}

impl<V> Searched<V> {
    /// What it found, if it was made under header fields that walk the
    /// way `head` does, from `base`.
    pub fn matching(self, head: &Headers, base: u64) -> Option<Result<V>> {
        // What the walk looks at: the type, the boundary, the encoding.
        let walks_as = |h: &Headers| {
            let content_type = h.content_type();
            let encoding = (!transfer::is_identity_encoded(h)).then(|| {
                h.get("Content-Transfer-Encoding")
                    .map(|f| f.value().to_ascii_lowercase())
            });
            (
                content_type.mime.clone(),
                content_type.param("boundary").map(str::to_string),
                encoding,
            )
        };
        let same = |top: &Headers| walks_as(top) == walks_as(head);
        match self.result {
            Ok((top, _)) if self.base != base || !same(&top) => None,
            Ok((_, search)) => Some(Ok(search)),
            // An error before the walk began: the walk from the spill says
            // what is wrong, if anything.
            Err(_) if self.base != base => None,
            Err(e) => Some(Err(e)),
        }
    }
}
