//! Delivery: queued messages go to the relay through [`crate::submit`]
//! (its TLS guarantees unchanged: STARTTLS or implicit TLS, verified, AUTH
//! only inside TLS), one SMTP transaction per copy.
//!
//! - Accepted: the copy is recorded as delivered; when all are, the
//!   message leaves the queue.
//! - Temporary (4xx, network, timeout, TLS refused or stripped, login
//!   refused, local trouble): the message stays queued with the reason,
//!   and is retried after an exponentially growing delay.
//! - Permanent (5xx, an address the client cannot send to) or older than
//!   the maximum age: the message moves to `failed/` with the reason.
//!
//! At least once: if the agent dies after the relay's 250 and before the
//! delivery is recorded, that copy is sent again at the next start.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::spool::{now, Entry, Request, Spool, State, Status};
use super::{Log, Retry};
use crate::config::Config;
use crate::message::header::{read_header_section, split_entity};
use crate::submit::{self, Body, Settings, Transaction};
use crate::Error;

/// What became of one delivery attempt of a message.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every copy accepted; gone from the queue.
    Delivered,
    /// Still queued; next attempt at this time.
    Deferred { next: u64, reason: String },
    /// Moved to `failed/`.
    Failed { reason: String },
    /// Not in the queue (dropped meanwhile).
    Gone,
    /// Stopped: the relay accepted a copy but that could not be recorded
    /// (disk full?), so another attempt would send it again. Not retried
    /// until `mailseal queue retry ID` or a restart.
    Held { reason: String },
}

/// Delivers queued messages.
pub struct Worker {
    pub spool: Arc<Spool>,
    /// Where and how often to deliver; replaced as a whole when the agent
    /// reloads its configuration (SIGHUP).
    pub route: RwLock<Route>,
    pub concurrency: usize,
    pub log: Log,
    /// Queues a delivery report to the sender of a message that failed for
    /// good ([`super::dsn`]); none: no reports.
    pub bounce: Option<Bounce>,
    /// Where hop 1 of each successful delivery is remembered
    /// ([`submit::hop`]); none: not remembered.
    pub hops: Option<Arc<submit::hop::Recorder>>,
}

/// Queues a report on a failed message (its entry, the header section of
/// each copy, its final state) and returns the report's queue id.
pub type Bounce =
    Arc<dyn Fn(&Entry, &[Vec<u8>], &State) -> crate::Result<Option<String>> + Send + Sync>;

/// The relay queued mail goes to, and how failed attempts are retried.
#[derive(Clone)]
pub struct Route {
    pub relay: Arc<Settings>,
    pub retry: Retry,
    /// The configuration, for a message queued for another relay
    /// (`sendmail --relay NAME`), and where it was read from.
    pub config: Arc<Config>,
    pub config_path: PathBuf,
}

impl Route {
    /// The relay for `entry`: the one it names, else the agent's. Another
    /// relay's settings (and password) are fetched for each attempt, so a
    /// configuration fixed and reloaded applies at the next one.
    async fn relay_for(&self, entry: &Entry) -> Result<Arc<Settings>, Error> {
        match &entry.relay {
            Some(name) if *name != self.relay.name => {
                let (config, path, name) =
                    (self.config.clone(), self.config_path.clone(), name.clone());
                tokio::task::spawn_blocking(move || Settings::from_config(&config, &path, &name))
                    .await
                    .map_err(|e| Error::Temporary(format!("looking up the relay: {e}")))?
                    .map(Arc::new)
            }
            _ => Ok(self.relay.clone()),
        }
    }
}

/// How often the worker looks for due messages and flush requests.
const TICK: Duration = Duration::from_millis(500);
/// How often the queue directory is read again (for `queue retry`/`drop`).
const RESCAN: Duration = Duration::from_secs(15);
/// How long in-flight deliveries may run on after shutdown was asked for.
const GRACE: Duration = Duration::from_secs(20);

impl Worker {
    /// Runs until `shutdown` turns true: new messages arrive on `incoming`,
    /// the rest is found by reading the queue directory.
    pub async fn run(
        self: Arc<Self>,
        mut incoming: mpsc::UnboundedReceiver<String>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut due: BTreeMap<String, u64> = BTreeMap::new();
        let mut in_flight: HashSet<String> = HashSet::new();
        // Flushed: delivered now, whatever their stored next attempt says.
        let mut forced: HashSet<String> = HashSet::new();
        // Held: a delivery that could not be recorded; not retried until
        // `queue retry` or a restart (see `Outcome::Held`).
        let mut held: HashSet<String> = HashSet::new();
        let mut tasks: JoinSet<(String, Outcome)> = JoinSet::new();
        let mut last_scan: Option<Instant> = None;
        let mut tick = tokio::time::interval(TICK);
        loop {
            let request = self.spool.take_request();
            if request.is_some() || last_scan.is_none_or(|t| t.elapsed() >= RESCAN) {
                let flush = request == Some(Request::Flush);
                if request == Some(Request::Rescan) {
                    held.clear();
                }
                due = self.scan().await;
                due.retain(|id, _| !held.contains(id));
                if flush {
                    forced.extend(due.keys().cloned());
                    forced.extend(in_flight.iter().cloned());
                }
                forced.retain(|id| due.contains_key(id) || in_flight.contains(id));
                for id in &forced {
                    if let Some(at) = due.get_mut(id) {
                        *at = 0;
                    }
                }
                last_scan = Some(Instant::now());
            }
            let time = now();
            let ready: Vec<String> = due
                .iter()
                .filter(|(id, at)| **at <= time && !in_flight.contains(*id))
                .map(|(id, _)| id.clone())
                .take(self.concurrency.saturating_sub(in_flight.len()))
                .collect();
            for id in ready {
                due.remove(&id);
                in_flight.insert(id.clone());
                let force = forced.remove(&id);
                let worker = self.clone();
                tasks.spawn(async move {
                    let outcome = worker.deliver(&id, force).await;
                    (id, outcome)
                });
            }
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(id) = incoming.recv() => { due.insert(id, 0); }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok((id, outcome)) = done {
                        in_flight.remove(&id);
                        match outcome {
                            // Flushed while this attempt ran: once more now.
                            Outcome::Deferred { next, .. } => {
                                let at = if forced.contains(&id) { 0 } else { next };
                                due.insert(id, at);
                            }
                            Outcome::Held { .. } => {
                                held.insert(id);
                            }
                            _ => {}
                        }
                    }
                }
                _ = tick.tick() => {}
            }
        }
        // Let deliveries in flight finish, so that what the relay accepted
        // is recorded; whatever is cut off stays queued.
        let _ =
            tokio::time::timeout(GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
    }

    /// Queued ids with their next attempt times.
    async fn scan(&self) -> BTreeMap<String, u64> {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || {
            let ids = spool.ids(Status::Queued).unwrap_or_default();
            ids.into_iter()
                .map(|id| {
                    let next = spool.state(Status::Queued, &id).next_attempt;
                    (id, next)
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// One delivery attempt of message `id`: every copy not yet accepted.
    pub async fn deliver(&self, id: &str, forced: bool) -> Outcome {
        let spool = self.spool.clone();
        let owned = id.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            let status = spool.find(&owned).ok();
            if status != Some(Status::Queued) {
                return None;
            }
            let state = spool.state(Status::Queued, &owned);
            let opened = spool
                .open_message(Status::Queued, &owned)
                .and_then(|(entry, bodies)| {
                    let heads = copy_heads(&bodies)
                        .map_err(|e| Error::io(format!("reading queued message {owned}"), e))?;
                    Ok((entry, bodies, heads))
                });
            Some((opened, state))
        })
        .await
        .ok()
        .flatten();
        let Some((loaded, mut state)) = loaded else {
            return Outcome::Gone;
        };
        if !forced && state.next_attempt > now() {
            return Outcome::Deferred {
                next: state.next_attempt,
                reason: state.last_error.unwrap_or_default(),
            };
        }
        let (entry, copies, heads) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                let reason = format!("unreadable queue file: {e}");
                return self.finish_failed(id, state, reason, None).await;
            }
        };
        // One route for the whole attempt, even if a reload comes meanwhile.
        let route = self.route.read().expect("route lock").clone();
        let retry = route.retry;
        let relay = route.relay_for(&entry).await;
        let options = submit::Options {
            dsn: entry.dsn.clone(),
            ..submit::Options::default()
        };
        let total = entry.copies.len();
        for (index, (copy, data)) in entry.copies.iter().zip(copies).enumerate() {
            if state.delivered.contains(&index) {
                continue;
            }
            let tx = Transaction {
                from: entry.from.clone(),
                to: copy.to.clone(),
                data,
            };
            let started = Instant::now();
            state.attempts += 1;
            state.last_attempt = Some(now());
            let (result, via) = match &relay {
                Ok(relay) => (
                    submit::submit_with(relay, std::slice::from_ref(&tx), &options).await,
                    relay.name.as_str(),
                ),
                Err(e) => (
                    Err(Error::Temporary(e.to_string())),
                    entry.relay.as_deref().unwrap_or_default(),
                ),
            };
            let took = started.elapsed().as_millis();
            let label = format!(
                "delivery {id} copy {}/{total} to {} via {via}",
                index + 1,
                copy.to.join(","),
            );
            match result {
                Ok(outcome) => {
                    let reply = outcome
                        .accepted
                        .first()
                        .map(|a| a.reply.clone())
                        .unwrap_or_default();
                    (self.log)(&format!(
                        "{label}: accepted in {took} ms ({}, {}): {}",
                        outcome.transport.tls_version,
                        outcome.transport.cipher_suite,
                        one_line(&reply)
                    ));
                    if let Some(recorder) = self.hops.clone() {
                        // Best effort, off the async threads; a write at
                        // most once a minute per relay unless the TLS seen
                        // changed.
                        let (log, transport) = (self.log.clone(), outcome.transport.clone());
                        let _ = tokio::task::spawn_blocking(move || {
                            if let Err(e) = recorder.record(&transport) {
                                log(&format!(
                                    "cannot remember hop 1 of relay {}: {e}",
                                    transport.relay
                                ));
                            }
                        })
                        .await;
                    }
                    state.delivered.push(index);
                    state.last_error = None;
                    if state.delivered.len() < total {
                        // Recorded durably, so a crash does not resend it;
                        // if it cannot be, stop rather than resend later.
                        let (spool, owned, saved) =
                            (self.spool.clone(), id.to_string(), state.clone());
                        let saved = tokio::task::spawn_blocking(move || {
                            spool.save_state(Status::Queued, &owned, &saved, true)
                        })
                        .await;
                        if let Some(e) = failure(saved) {
                            return self.hold(id, index + 1, &e);
                        }
                    }
                }
                Err(error) => {
                    let reason = one_line(&error.to_string());
                    let permanent = is_permanent(&error);
                    let since = state.retried_at.unwrap_or(entry.received);
                    let expired = now().saturating_sub(since) >= retry.max_age.as_secs();
                    state.last_error = Some(reason.clone());
                    if permanent || expired {
                        let why = if permanent {
                            reason
                        } else {
                            format!(
                                "not delivered within {} ({} attempts); last error: {reason}",
                                humantime::format_duration(retry.max_age),
                                state.attempts
                            )
                        };
                        (self.log)(&format!("{label}: failed for good after {took} ms: {why}"));
                        return self
                            .finish_failed(id, state, why, Some((entry, heads)))
                            .await;
                    }
                    let delay = retry.delay(state.attempts);
                    state.next_attempt = now() + delay.as_secs();
                    (self.log)(&format!(
                        "{label}: deferred after {took} ms, retry in {}: {reason}",
                        humantime::format_duration(delay)
                    ));
                    let (spool, owned, saved) = (self.spool.clone(), id.to_string(), state.clone());
                    let saved = tokio::task::spawn_blocking(move || {
                        spool.save_state(Status::Queued, &owned, &saved, false)
                    })
                    .await;
                    if let Some(e) = failure(saved) {
                        (self.log)(&format!(
                            "delivery {id}: cannot record the attempt ({e}); it is retried as planned"
                        ));
                    }
                    return Outcome::Deferred {
                        next: state.next_attempt,
                        reason,
                    };
                }
            }
        }
        let (spool, owned) = (self.spool.clone(), id.to_string());
        let done = tokio::task::spawn_blocking(move || spool.complete(&owned)).await;
        if let Some(e) = failure(done) {
            return self.hold(id, total, &e);
        }
        Outcome::Delivered
    }

    /// Stops delivering `id` after copy `copy` was accepted but could not
    /// be recorded, and says so.
    fn hold(&self, id: &str, copy: usize, error: &str) -> Outcome {
        let reason = format!(
            "copy {copy} was accepted by the relay, but that could not be recorded ({error}); delivery of this message is stopped so that nothing is sent twice: free disk space and check the spool, then `mailseal queue retry {id}` sends the copies not recorded as delivered (again), or `mailseal queue drop {id}`"
        );
        (self.log)(&format!("delivery {id}: HELD: {reason}"));
        Outcome::Held { reason }
    }

    /// Moves `id` to `failed/`, after queueing a delivery report to its
    /// sender when `original` (its entry and the copies' headers) is known.
    async fn finish_failed(
        &self,
        id: &str,
        mut state: State,
        reason: String,
        original: Option<(Entry, Vec<Vec<u8>>)>,
    ) -> Outcome {
        state.failed = Some(reason.clone());
        let (spool, owned, bounce, log) = (
            self.spool.clone(),
            id.to_string(),
            self.bounce.clone(),
            self.log.clone(),
        );
        let moved = tokio::task::spawn_blocking(move || {
            if let (Some(bounce), Some((entry, heads))) = (bounce, original) {
                match bounce(&entry, &heads, &state) {
                    Ok(Some(report)) => {
                        log(&format!(
                            "delivery {owned}: delivery report to <{}> queued as {report}",
                            entry.from
                        ));
                        state.report = Some(report);
                    }
                    Ok(None) => {}
                    Err(e) => log(&format!(
                        "delivery {owned}: cannot queue a delivery report to <{}>: {e}",
                        entry.from
                    )),
                }
            }
            spool.fail(&owned, &state)
        })
        .await;
        if let Some(e) = failure(moved) {
            (self.log)(&format!("delivery {id}: cannot move it to failed/: {e}"));
        }
        Outcome::Failed { reason }
    }
}

/// The header section of each copy, for a delivery report.
fn copy_heads(bodies: &[Body]) -> std::io::Result<Vec<Vec<u8>>> {
    use std::io::{Read, Seek, SeekFrom};
    bodies
        .iter()
        .map(|body| match body {
            Body::Bytes(data) => Ok(split_entity(data).0.to_vec()),
            Body::File { file, offset, len } => {
                let mut file: &std::fs::File = file;
                file.seek(SeekFrom::Start(*offset))?;
                read_header_section(&mut file.take(*len)).map(|(head, _)| head)
            }
        })
        .collect()
}

/// The error of a spool operation run on the blocking pool, if it failed.
fn failure(result: Result<crate::Result<()>, tokio::task::JoinError>) -> Option<String> {
    match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(format!("internal error: {e}")),
    }
}

/// Whether retrying cannot help: the relay refused the message itself.
fn is_permanent(error: &Error) -> bool {
    matches!(error, Error::Unavailable(_) | Error::Usage(_))
}

/// `text` on one line (relay replies may span several).
pub fn one_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > 500 {
        let mut cut = 500;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}
