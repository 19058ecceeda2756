//! Where a command's result goes: stdout, or a file that appears only when
//! the whole command succeeded.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A destination for a command's output.
pub enum Output {
    /// Standard output.
    Stdout(io::BufWriter<io::Stdout>),
    /// A temporary file beside `path`, renamed onto it by [`Output::commit`].
    File {
        tmp: io::BufWriter<tempfile::NamedTempFile>,
        path: PathBuf,
    },
}

impl Output {
    /// Opens `path`, or stdout when `path` is `None` or `-`.
    pub fn open(path: Option<&Path>) -> Result<Output> {
        match path.filter(|p| *p != Path::new("-")) {
            None => Ok(Output::Stdout(io::BufWriter::with_capacity(
                1 << 16,
                io::stdout(),
            ))),
            Some(path) => {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let tmp = tempfile::NamedTempFile::new_in(dir)
                    .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
                Ok(Output::File {
                    tmp: io::BufWriter::with_capacity(1 << 16, tmp),
                    path: path.to_path_buf(),
                })
            }
        }
    }

    /// Flushes and, for a file, moves it into place. Dropping an `Output`
    /// without committing removes the temporary file.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush().map_err(|e| Error::io("writing to stdout", e)),
            Output::File { tmp, path } => {
                let context = format!("writing {}", path.display());
                let tmp = tmp
                    .into_inner()
                    .map_err(|e| Error::io(&context, e.into_error()))?;
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| Error::io(&context, e))?;
                tmp.persist(&path)
                    .map(drop)
                    .map_err(|e| Error::io(context, e.error))
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File { tmp, .. } => tmp.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::File { tmp, .. } => tmp.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { tmp, .. } => tmp.flush(),
        }
    }
}
