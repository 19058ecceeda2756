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

/// The most data worth handling on one thread: for less, starting a
/// second thread costs more than it saves. An [`Offloaded`] sink takes
/// this much on the writing thread; `encrypt` seals a body this small on
/// one thread.
pub const ONE_THREAD_MOST: usize = 256 * 1024;

/// A sink (a hash) fed on the writing thread while little has come, then
/// on a thread of its own through a [`chunk_channel`], so that a short
/// input pays for no thread and a long one gets a second core.
pub struct Offloaded<S> {
    state: Offload<S>,
    in_flight: usize,
}

enum Offload<S> {
    /// At most [`ONE_THREAD_MOST`] octets so far.
    Here(S, usize),
    Thread {
        chunks: ChunkSender,
        thread: std::thread::JoinHandle<io::Result<S>>,
    },
    /// No thread could be started for it.
    Lost,
}

impl<S: Write + Send + 'static> Offloaded<S> {
    /// Feeds `sink`; once on its thread, at most `in_flight` chunks wait.
    pub fn new(sink: S, in_flight: usize) -> Self {
        Offloaded {
            state: Offload::Here(sink, 0),
            in_flight,
        }
    }

    /// The sink, fed with everything written. Its own error comes first:
    /// that explains a failed write.
    pub fn finish(self) -> io::Result<S> {
        match self.state {
            Offload::Here(sink, _) => Ok(sink),
            Offload::Thread { chunks, thread } => {
                let sent = chunks.finish();
                let fed = joined(thread.join())?;
                sent.map(|()| fed)
            }
            Offload::Lost => Err(lost()),
        }
    }

    /// Starts the thread that feeds `sink` from now on.
    fn offload(sink: S, in_flight: usize) -> io::Result<Offload<S>> {
        let (chunks, received) = chunk_channel(in_flight);
        let thread = std::thread::Builder::new().spawn(move || {
            let mut sink = sink;
            received.for_each(|chunk| sink.write_all(chunk))?;
            Ok(sink)
        })?;
        Ok(Offload::Thread { chunks, thread })
    }
}

fn lost() -> io::Error {
    io::Error::other("no thread could be started for hashing")
}

impl<S: Write + Send + 'static> Write for Offloaded<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Offload::Here(sink, written) = &mut self.state {
            if *written + buf.len() <= ONE_THREAD_MOST {
                sink.write_all(buf)?;
                *written += buf.len();
                return Ok(buf.len());
            }
            if let Offload::Here(sink, _) = std::mem::replace(&mut self.state, Offload::Lost) {
                self.state = Self::offload(sink, self.in_flight)?;
            }
        }
        match &mut self.state {
            Offload::Thread { chunks, .. } => chunks.write(buf),
            _ => Err(lost()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that takes `room` octets, then fails.
    struct Cramped {
        got: Vec<u8>,
        room: usize,
    }

    impl Write for Cramped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.got.len() + buf.len() > self.room {
                return Err(io::Error::other("full"));
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Everything written reaches the sink in order, whether it was fed
    /// here, on its thread, or first here and then there, whatever the
    /// writes' sizes; only more than [`ONE_THREAD_MOST`] octets start a thread.
    #[test]
    fn an_offloaded_sink_gets_everything_here_or_on_its_thread() {
        let most = ONE_THREAD_MOST;
        for len in [0, 1, most - 1, most, most + 1, 3 * most + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, most - 3, most, 2 * most + 1] {
                let mut sink = Offloaded::new(Vec::new(), 4);
                for part in data.chunks(piece) {
                    sink.write_all(part).unwrap();
                }
                let threaded = matches!(sink.state, Offload::Thread { .. });
                assert_eq!(threaded, len > most, "{len} octets in {piece}");
                assert!(sink.finish().unwrap() == data, "{len} octets in {piece}");
            }
        }
    }

    /// A sink's error is reported, from here or from its thread, and
    /// before the failed writes it explains.
    #[test]
    fn an_offloaded_sinks_error_is_reported() {
        for room in [10, ONE_THREAD_MOST + 10] {
            let mut sink = Offloaded::new(
                Cramped {
                    got: Vec::new(),
                    room,
                },
                4,
            );
            let written = vec![7; 2 * ONE_THREAD_MOST]
                .chunks(1000)
                .try_for_each(|part| sink.write_all(part));
            let error = sink.finish().err().or(written.err()).expect("an error");
            assert_eq!(error.to_string(), "full", "room {room}");
        }
    }
}
