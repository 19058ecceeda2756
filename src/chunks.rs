//! Bytes handed from one thread to another in 64 KiB chunks through a
//! bounded channel, the buffers going back to be reused, so that a
//! pipeline's stages each get a core and memory stays flat.

use std::io::{self, Write};
use std::sync::{mpsc, Mutex};

const CHUNK: usize = 64 * 1024;

/// The value of a joined worker thread; a panic there is a bug, carried
/// on into the joining thread as it was (not masked as an error).
pub fn joined<T>(result: std::thread::Result<T>) -> T {
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A bounded pipe: the [`ChunkSender`] writes, the [`ChunkReceiver`] reads
/// on another thread; at most `in_flight` chunks wait between them.
pub fn chunk_channel(in_flight: usize) -> (ChunkSender, ChunkReceiver) {
    let (chunks, received) = mpsc::sync_channel(in_flight);
    let (recycle, recycled) = mpsc::sync_channel(in_flight + 2);
    let sender = ChunkSender {
        channel: chunks,
        recycled: Mutex::new(recycled),
        buffer: Vec::with_capacity(CHUNK),
    };
    (sender, ChunkReceiver { received, recycle })
}

/// The writing end of [`chunk_channel`].
pub struct ChunkSender {
    channel: mpsc::SyncSender<Vec<u8>>,
    // A Mutex only because sequoia needs a Sync writer; it is never contended.
    recycled: Mutex<mpsc::Receiver<Vec<u8>>>,
    buffer: Vec<u8>,
}

impl ChunkSender {
    fn send_buffer(&mut self) -> io::Result<()> {
        let next = self
            .recycled
            .get_mut()
            .ok()
            .and_then(|r| r.try_recv().ok())
            .unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let chunk = std::mem::replace(&mut self.buffer, next);
        self.channel
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the output stopped"))
    }

    /// Sends what is left; dropping `self` then ends the receiver's loop.
    pub fn finish(mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

impl Write for ChunkSender {
    /// Takes at most what fits in the current chunk: sequoia writes in
    /// bursts of up to 4 MiB, which must not all queue up at once.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let taken = buf.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..taken]);
        if self.buffer.len() == CHUNK {
            self.send_buffer()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reading end of [`chunk_channel`].
pub struct ChunkReceiver {
    received: mpsc::Receiver<Vec<u8>>,
    recycle: mpsc::SyncSender<Vec<u8>>,
}

impl ChunkReceiver {
    /// The chunks as one stream, which ends when the sender is gone.
    pub fn into_reader(self) -> ChunkReader {
        ChunkReader {
            receiver: self,
            chunk: Vec::new(),
            at: 0,
        }
    }

    /// Hands every chunk to `f`, in order, until the sender is gone.
    pub fn for_each<E>(self, mut f: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        for mut chunk in self.received {
            f(&chunk)?;
            chunk.clear();
            let _ = self.recycle.try_send(chunk);
        }
        Ok(())
    }
}

/// The chunks of a [`ChunkReceiver`] read as one stream.
pub struct ChunkReader {
    receiver: ChunkReceiver,
    chunk: Vec<u8>,
    at: usize,
}

impl io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            let Ok(next) = self.receiver.received.recv() else {
                return Ok(0);
            };
            let mut done = std::mem::replace(&mut self.chunk, next);
            done.clear();
            let _ = self.receiver.recycle.try_send(done);
            self.at = 0;
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
