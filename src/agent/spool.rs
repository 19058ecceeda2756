//! The durable queue (spool) in `HOME/spool/`:
//!
//! ```text
//! tmp/ID          being written; never answered 250; removed at start
//! tmp/ (unnamed)  a message arriving during DATA and its sealed copies:
//!                 O_TMPFILE files that vanish when closed or on a crash
//! queue/ID.msg    accepted (250 sent): envelope + sealed copies, immutable
//! queue/ID.state  delivery state (attempts, next attempt, last error,
//!                 copies already delivered), replaced atomically
//! failed/ID.msg   permanently failed (5xx, expired), with failed/ID.state
//! lock            held (flock) by the running agent
//! flush, rescan   requests from `mailseal queue flush` / `queue retry`
//! ```
//!
//! The spool and its directories must be real directories (not symbolic
//! links) owned by the user and not writable by others; the lock file is
//! opened without following a link. Anything else is refused at start.
//!
//! Accepting a message: its data goes to an unnamed file in `tmp/` as it
//! arrives ([`Spool::scratch`]), is sealed into another one, and then
//! ([`Spool::enqueue_from`]): write `tmp/ID`, fsync it, rename it to
//! `queue/ID.msg`, fsync `queue/` — only then does the client get 250. The
//! directory fsync is shared by the messages renamed while the previous one
//! ran (group commit), so many clients cost few fsyncs, and nobody is
//! answered before the fsync that covers their rename has returned.
//!
//! One file holds every copy of a message (the visible recipients' copy and
//! one per Bcc recipient), so a message is queued whole or not at all.
//! Every later state change is an atomic rename: a crash at any point
//! leaves either the old or the new state, never a half-written file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::home::{check_own_dir, create_private_dir};
use crate::seal::{Recipient, Sealing};
use crate::submit::{Body, Dsn};
use crate::{Error, Result};

const MAGIC: &str = "mailseal-spool 1\n";

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One copy of a message as queued: its envelope recipients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Copy {
    pub to: Vec<String>,
    /// A Bcc recipient's own copy.
    pub bcc: bool,
    /// `encrypted+signed`, `encrypted`, `signed` or `plain`.
    pub sealing: String,
    /// Length of the sealed bytes.
    pub size: usize,
}

impl Copy {
    /// A copy of `size` sealed bytes for `recipients`.
    pub fn new(recipients: &[Recipient], sealing: Sealing, size: usize) -> Copy {
        Copy {
            to: recipients.iter().map(|r| r.address.clone()).collect(),
            bcc: recipients.iter().any(|r| r.hidden),
            sealing: sealing.as_str().into(),
            size,
        }
    }
}

/// What a queued message is: envelope, origin and its copies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// When the agent accepted it (seconds since the epoch).
    pub received: u64,
    /// Envelope sender for the relay.
    pub from: String,
    /// The client's address and login.
    pub client: String,
    pub user: Option<String>,
    pub copies: Vec<Copy>,
    /// DSN requests passed to the relay (`sendmail -N/-R/-V`).
    #[serde(default, skip_serializing_if = "Dsn::is_empty")]
    pub dsn: Dsn,
    /// The `[relay.NAME]` to deliver through (`sendmail --relay`); none:
    /// the agent's relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
}

/// The changing part: delivery attempts and their outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub attempts: u32,
    /// Not before this time (seconds since the epoch); 0: now.
    pub next_attempt: u64,
    pub last_attempt: Option<u64>,
    pub last_error: Option<String>,
    /// Indexes of copies the relay has accepted.
    pub delivered: Vec<usize>,
    /// Why the message is in `failed/`.
    pub failed: Option<String>,
    /// Set by `queue retry` on a failed message: the maximum age counts
    /// from here.
    pub retried_at: Option<u64>,
    /// The queue id of the delivery report sent to the sender when the
    /// message failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Failed,
}

/// A message as `queue list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub entry: Entry,
    pub status: Status,
    #[serde(flatten)]
    pub state: State,
    /// Why the queue file cannot be read (its header is corrupt): the
    /// message was accepted but cannot be described or delivered as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

/// The spool directory.
pub struct Spool {
    root: PathBuf,
    tmp: PathBuf,
    queue: PathBuf,
    failed: PathBuf,
    dir_sync: GroupSync,
}

impl Spool {
    /// Opens the spool in `root`, creating its directories (0700), and
    /// refuses directories that are symbolic links, belong to someone else
    /// or are writable by others.
    pub fn open(root: &Path) -> Result<Spool> {
        let spool = Spool {
            root: root.to_path_buf(),
            tmp: root.join("tmp"),
            queue: root.join("queue"),
            failed: root.join("failed"),
            dir_sync: GroupSync::default(),
        };
        create_private_dir(root)?;
        check_own_dir(root)?;
        for dir in [&spool.tmp, &spool.queue, &spool.failed] {
            create_private_dir(dir)?;
            check_own_dir(dir)?;
        }
        Ok(spool)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, status: Status) -> &Path {
        match status {
            Status::Queued => &self.queue,
            Status::Failed => &self.failed,
        }
    }

    fn msg_path(&self, status: Status, id: &str) -> PathBuf {
        self.dir(status).join(format!("{id}.msg"))
    }

    fn state_path(&self, status: Status, id: &str) -> PathBuf {
        self.dir(status).join(format!("{id}.state"))
    }

    /// Takes the spool's lock, held while the returned file is open, so
    /// that one agent (or one `queue flush`) delivers from it at a time.
    pub fn lock(&self) -> Result<Option<File>> {
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::Home {
                    path: path.clone(),
                    reason: "it is a symbolic link; mailseal does not follow links in its spool: remove it and start again".into(),
                },
                _ => Error::io(format!("opening {}", path.display()), e),
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => {
                Err(Error::io(format!("locking {}", path.display()), e))
            }
        }
    }

    /// Whether a running agent holds the lock.
    pub fn is_locked(&self) -> bool {
        matches!(self.lock(), Ok(None))
    }

    /// An unnamed file in `tmp/` (O_TMPFILE, 0600) for a message while it
    /// arrives or is sealed: it vanishes when closed, so a client that
    /// leaves mid-DATA, a refusal or a crash leaves nothing behind.
    pub fn scratch(&self) -> Result<File> {
        use std::os::unix::fs::PermissionsExt;
        // O_TMPFILE takes the process's umask: 0600 whatever it is.
        tempfile::tempfile_in(&self.tmp)
            .and_then(|file| {
                file.set_permissions(fs::Permissions::from_mode(0o600))?;
                Ok(file)
            })
            .map_err(|e| Error::io(format!("creating a file in {}", self.tmp.display()), e))
    }

    /// Queues `entry` with the sealed bytes of each of its copies, durably:
    /// when this returns Ok the message survives a crash. Sets `entry.id`.
    pub fn enqueue(&self, entry: &mut Entry, copies: &[&[u8]]) -> Result<()> {
        self.write_queued(entry, |file| {
            copies.iter().try_for_each(|data| file.write_all(data))
        })
    }

    /// [`Spool::enqueue`] with the copies' bytes, one after the other,
    /// read from `copies`, which must hold exactly their sizes.
    pub fn enqueue_from(&self, entry: &mut Entry, copies: &mut impl Read) -> Result<()> {
        let expected: u64 = entry.copies.iter().map(|c| c.size as u64).sum();
        self.write_queued(entry, |file| {
            let copied = std::io::copy(copies, file)?;
            if copied != expected {
                return Err(std::io::Error::other(format!(
                    "the sealed copies hold {copied} bytes, not {expected}"
                )));
            }
            Ok(())
        })
    }

    /// Writes the queue file of `entry` (header, then `copies`), fsyncs it
    /// and moves it into `queue/`, fsyncing that too.
    fn write_queued(
        &self,
        entry: &mut Entry,
        copies: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<()> {
        entry.id = new_id();
        let tmp = self.tmp.join(&entry.id);
        let context = || format!("queueing {}", tmp.display());
        let header = serde_json::to_string(&entry).expect("serializable");
        let write = || -> std::io::Result<()> {
            let mut file = create_private(&tmp)?;
            let mut head = Vec::with_capacity(MAGIC.len() + header.len() + 1);
            head.extend_from_slice(MAGIC.as_bytes());
            head.extend_from_slice(header.as_bytes());
            head.push(b'\n');
            file.write_all(&head)?;
            copies(&mut file)?;
            file.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(context(), e));
        }
        let target = self.msg_path(Status::Queued, &entry.id);
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(context(), e));
        }
        self.dir_sync.sync(&self.queue).map_err(|e| {
            // Not known to be durable: take it back, so that it is neither
            // answered 250 nor delivered.
            let _ = fs::remove_file(&target);
            Error::io(format!("syncing {}", self.queue.display()), e)
        })
    }

    /// The ids in `queue/` or `failed/`, oldest first.
    pub fn ids(&self, status: Status) -> Result<Vec<String>> {
        let dir = self.dir(status);
        let mut ids: Vec<String> = fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".msg"))
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Opens message `id`: its entry and each copy's bytes as a [`Body`]
    /// that is read from the file while it is sent.
    pub fn open_message(&self, status: Status, id: &str) -> Result<(Entry, Vec<Body>)> {
        let (entry, file, mut offset) = self.read_entry(status, id)?;
        let path = self.msg_path(status, id);
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        // Sizes come from the file: a damaged one may claim any number.
        let sizes = entry
            .copies
            .iter()
            .try_fold(0u64, |sum, c| sum.checked_add(c.size as u64));
        if sizes.and_then(|s| s.checked_add(offset)) != Some(len) {
            return Err(Error::Malformed(format!(
                "{} is not a spool file (its copies hold {} bytes, not {})",
                path.display(),
                len.saturating_sub(offset),
                sizes.map_or("more than 2^64".to_string(), |s| s.to_string())
            )));
        }
        let file = std::sync::Arc::new(file);
        let bodies = entry
            .copies
            .iter()
            .map(|copy| {
                let body = Body::File {
                    file: file.clone(),
                    offset,
                    len: copy.size as u64,
                };
                offset += copy.size as u64;
                body
            })
            .collect();
        Ok((entry, bodies))
    }

    /// The entry of message `id` without reading its copies' bytes.
    pub fn entry(&self, status: Status, id: &str) -> Result<Entry> {
        self.read_entry(status, id).map(|(entry, _, _)| entry)
    }

    /// The entry of message `id`, its open file and where the copies start.
    fn read_entry(&self, status: Status, id: &str) -> Result<(Entry, File, u64)> {
        use std::io::{BufRead, BufReader};
        let path = self.msg_path(status, id);
        let file =
            File::open(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let mut reader = BufReader::new(&file);
        let mut magic = String::new();
        let mut header = String::new();
        let ok = reader.read_line(&mut magic).is_ok()
            && magic == MAGIC
            && reader.read_line(&mut header).is_ok()
            && header.ends_with('\n');
        let entry = ok
            .then(|| serde_json::from_str(header.trim_end()).ok())
            .flatten()
            .ok_or_else(|| Error::Malformed(format!("{} is not a spool file", path.display())))?;
        let start = (magic.len() + header.len()) as u64;
        Ok((entry, file, start))
    }

    /// The delivery state of `id` (default when there is none yet).
    pub fn state(&self, status: Status, id: &str) -> State {
        fs::read(self.state_path(status, id))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default()
    }

    /// Replaces the state of `id` atomically (temporary file, rename).
    /// `durable` also fsyncs, for states whose loss would resend mail.
    pub fn save_state(&self, status: Status, id: &str, state: &State, durable: bool) -> Result<()> {
        let target = self.state_path(status, id);
        let tmp = self.tmp.join(format!("{id}.state.{}", new_id()));
        let data = serde_json::to_vec(state).expect("serializable");
        let write = || -> std::io::Result<()> {
            let mut file = create_private(&tmp)?;
            file.write_all(&data)?;
            if durable {
                file.sync_all()?;
            }
            fs::rename(&tmp, &target)?;
            if durable {
                self.dir_sync.sync(self.dir(status))?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("writing {}", target.display()), e)
        })
    }

    /// Removes a delivered message (its file first: a crash in between
    /// leaves only a stale state file, removed at the next start).
    pub fn complete(&self, id: &str) -> Result<()> {
        let path = self.msg_path(Status::Queued, id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing {}", path.display()), e)),
        }
        let _ = fs::remove_file(self.state_path(Status::Queued, id));
        Ok(())
    }

    /// Moves `id` to `failed/` with `state` (which says why).
    pub fn fail(&self, id: &str, state: &State) -> Result<()> {
        self.save_state(Status::Failed, id, state, true)?;
        let from = self.msg_path(Status::Queued, id);
        let to = self.msg_path(Status::Failed, id);
        fs::rename(&from, &to)
            .map_err(|e| Error::io(format!("moving {} to failed/", from.display()), e))?;
        let _ = fs::remove_file(self.state_path(Status::Queued, id));
        self.dir_sync
            .sync(&self.failed)
            .map_err(|e| Error::io(format!("syncing {}", self.failed.display()), e))
    }

    /// Where message `id` is, if it exists.
    pub fn find(&self, id: &str) -> Result<Status> {
        if !valid_id(id) {
            return Err(Error::Usage(format!(
                "{id:?} is not a queue id (see `mailseal queue list`)"
            )));
        }
        for status in [Status::Queued, Status::Failed] {
            if self.msg_path(status, id).exists() {
                return Ok(status);
            }
        }
        Err(Error::NotFound(format!("no message {id} in the queue")))
    }

    /// `queue retry ID`: a failed message goes back into the queue (its
    /// maximum age counting from now); a queued one is due now.
    pub fn retry(&self, id: &str) -> Result<Status> {
        let status = self.find(id)?;
        let mut state = self.state(status, id);
        state.next_attempt = 0;
        if status == Status::Failed {
            state.failed = None;
            state.retried_at = Some(now());
            self.save_state(Status::Queued, id, &state, true)?;
            let from = self.msg_path(Status::Failed, id);
            fs::rename(&from, self.msg_path(Status::Queued, id)).map_err(|e| {
                Error::io(format!("moving {} back to the queue", from.display()), e)
            })?;
            let _ = fs::remove_file(self.state_path(Status::Failed, id));
            self.dir_sync
                .sync(&self.queue)
                .map_err(|e| Error::io(format!("syncing {}", self.queue.display()), e))?;
        } else {
            self.save_state(Status::Queued, id, &state, false)?;
        }
        Ok(status)
    }

    /// `queue drop ID`: removes the message for good.
    pub fn remove(&self, id: &str) -> Result<Status> {
        let status = self.find(id)?;
        let path = self.msg_path(status, id);
        fs::remove_file(&path).map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        let _ = fs::remove_file(self.state_path(status, id));
        Ok(status)
    }

    /// Every message with its state, queued first, oldest first.
    pub fn list(&self) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        for status in [Status::Queued, Status::Failed] {
            for id in self.ids(status)? {
                let (entry, damaged) = match self.entry(status, &id) {
                    Ok(entry) => (entry, None),
                    // Gone meanwhile (delivered): skip.
                    Err(_) if !self.msg_path(status, &id).exists() => continue,
                    // Accepted once, so never hidden: listed as damaged.
                    Err(e) => (self.damaged_entry(status, &id), Some(e.to_string())),
                };
                let state = self.state(status, &id);
                out.push(Listed {
                    entry,
                    status,
                    state,
                    damaged,
                });
            }
        }
        Ok(out)
    }

    /// What is known of a queue file whose header cannot be read: its id
    /// and, from the file's time, when it arrived.
    fn damaged_entry(&self, status: Status, id: &str) -> Entry {
        let received = fs::metadata(self.msg_path(status, id))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Entry {
            id: id.to_string(),
            received,
            from: String::new(),
            client: String::new(),
            user: None,
            copies: Vec::new(),
            dsn: Dsn::default(),
            relay: None,
        }
    }

    /// Asks the running agent to retry everything now (`flush`), or to
    /// read the queue again, e.g. after `queue retry` (`rescan`).
    pub fn request(&self, what: Request) -> Result<()> {
        let path = self.root.join(what.file());
        fs::write(&path, b"").map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// The strongest request left since the last call (and forgets it).
    pub fn take_request(&self) -> Option<Request> {
        let flush = fs::remove_file(self.root.join(Request::Flush.file())).is_ok();
        let rescan = fs::remove_file(self.root.join(Request::Rescan.file())).is_ok();
        match (flush, rescan) {
            (true, _) => Some(Request::Flush),
            (false, true) => Some(Request::Rescan),
            _ => None,
        }
    }

    /// Cleans up after a crash: files in `tmp/` were never answered 250 and
    /// go; state files without their message go. Returns how many
    /// messages are queued.
    pub fn recover(&self) -> Result<usize> {
        if let Ok(entries) = fs::read_dir(&self.tmp) {
            for entry in entries.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        for status in [Status::Queued, Status::Failed] {
            let dir = self.dir(status);
            if let Ok(entries) = fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".state")) else {
                        continue;
                    };
                    if !self.msg_path(status, id).exists() {
                        let _ = fs::remove_file(entry.path());
                    }
                }
            }
        }
        Ok(self.ids(Status::Queued)?.len())
    }
}

/// What `mailseal queue` can ask of a running agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Retry every queued message now.
    Flush,
    /// Read the queue directory again (a message was retried).
    Rescan,
}

impl Request {
    fn file(self) -> &'static str {
        match self {
            Request::Flush => "flush",
            Request::Rescan => "rescan",
        }
    }
}

/// Creates `path`, which must not exist yet, with mode 0600.
fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// A new queue id: milliseconds since the epoch and 32 random bits, in
/// hex, so ids sort by arrival.
fn new_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).expect("the OS random number generator");
    format!("{millis:011x}{:08x}", u32::from_be_bytes(random))
}

/// Whether `id` looks like one of ours (no path tricks).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// fsync of a directory shared between callers (group commit): a caller
/// returns once an fsync that started after its call began has finished.
#[derive(Default)]
struct GroupSync {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Default)]
struct SyncState {
    /// Tickets handed out.
    requested: u64,
    /// Every ticket up to this one is covered by a finished fsync.
    synced: u64,
    running: bool,
}

impl GroupSync {
    fn sync(&self, dir: &Path) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("sync state");
        state.requested += 1;
        let ticket = state.requested;
        loop {
            if state.synced >= ticket {
                return Ok(());
            }
            if !state.running {
                // Lead: one fsync for every ticket handed out so far.
                state.running = true;
                let covers = state.requested;
                drop(state);
                let result = File::open(dir).and_then(|d| d.sync_all());
                state = self.state.lock().expect("sync state");
                state.running = false;
                if result.is_ok() {
                    state.synced = state.synced.max(covers);
                }
                self.done.notify_all();
                result?;
                continue;
            }
            state = self.done.wait(state).expect("sync state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(copies: &[&[u8]]) -> Entry {
        Entry {
            id: String::new(),
            received: now(),
            from: "a@x".into(),
            client: "127.0.0.1:1".into(),
            user: None,
            copies: copies
                .iter()
                .map(|c| Copy {
                    to: vec!["b@y".into()],
                    bcc: false,
                    sealing: "plain".into(),
                    size: c.len(),
                })
                .collect(),
            dsn: Dsn::default(),
            relay: None,
        }
    }

    #[test]
    fn queued_messages_round_trip_and_fail_and_retry() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let copies: [&[u8]; 2] = [b"one\r\n", b"two\r\n\r\n"];
        let mut e = entry(&copies);
        spool.enqueue(&mut e, &copies).unwrap();
        assert!(valid_id(&e.id));
        let (loaded, bodies) = spool.open_message(Status::Queued, &e.id).unwrap();
        assert_eq!(loaded.id, e.id);
        let data: Vec<Vec<u8>> = bodies.iter().map(read_body).collect();
        assert_eq!(data, [b"one\r\n".to_vec(), b"two\r\n\r\n".to_vec()]);

        let state = State {
            failed: Some("550 no".into()),
            ..State::default()
        };
        spool.fail(&e.id, &state).unwrap();
        assert_eq!(spool.find(&e.id).unwrap(), Status::Failed);
        assert_eq!(
            spool.list().unwrap()[0].state.failed.as_deref(),
            Some("550 no")
        );
        spool.retry(&e.id).unwrap();
        assert_eq!(spool.find(&e.id).unwrap(), Status::Queued);
        assert!(spool.state(Status::Queued, &e.id).retried_at.is_some());
        spool.remove(&e.id).unwrap();
        assert!(spool.list().unwrap().is_empty());
    }

    /// The bytes of a copy as the spool hands it out.
    fn read_body(body: &Body) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let Body::File { file, offset, len } = body else {
            panic!("a copy in memory")
        };
        let mut data = vec![0; *len as usize];
        file.read_exact_at(&mut data, *offset).unwrap();
        data
    }

    #[test]
    fn truncated_files_and_odd_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let copies: [&[u8]; 1] = [b"one\r\n"];
        let mut e = entry(&copies);
        spool.enqueue(&mut e, &copies).unwrap();
        let path = dir.path().join(format!("queue/{}.msg", e.id));
        let whole = fs::read(&path).unwrap();
        fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        assert!(spool.open_message(Status::Queued, &e.id).is_err());
        fs::write(&path, b"mailseal-spool 1\n{}\n").unwrap();
        assert!(spool.open_message(Status::Queued, &e.id).is_err());
        // Found by the spool fuzz target: sizes that overflow when added.
        let huge = fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus/spool/crash-copy-size-overflow"),
        )
        .unwrap();
        fs::write(&path, huge).unwrap();
        assert!(spool.open_message(Status::Queued, &e.id).is_err());
        assert_eq!(spool.find("../x").unwrap_err().exit_code(), 64);
    }

    #[test]
    fn scratch_files_are_private_and_nameless() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let mut file = spool.scratch().unwrap();
        file.write_all(b"data").unwrap();
        let mode = file.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn recovery_removes_unfinished_files() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        fs::write(dir.path().join("tmp/abc"), b"half").unwrap();
        fs::write(dir.path().join("queue/abc.state"), b"{}").unwrap();
        assert_eq!(spool.recover().unwrap(), 0);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(dir.path().join("queue")).unwrap().count(), 0);
    }

    #[test]
    fn group_sync_serves_concurrent_callers() {
        let dir = tempfile::tempdir().unwrap();
        let sync = std::sync::Arc::new(GroupSync::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (sync, path) = (sync.clone(), dir.path().to_path_buf());
                std::thread::spawn(move || sync.sync(&path).unwrap())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let state = sync.state.lock().unwrap();
        assert_eq!(state.synced, 8);
    }
}
