//! The agent's SMTP server: the accept loop, signals, and one session per
//! connection.
//!
//! Commands are parsed by smtp-proto (`Request::parse`), message data is
//! read and dot-unstuffed by its `DataReceiver`, which ends the data only
//! at CRLF "." CRLF (so `LF.LF` smuggling does not end it). The data goes
//! to an unnamed file in the spool as it arrives ([`Spool::scratch`]), so
//! a session holds a few buffers in memory, not its message. The loop
//! around them is written here: state, limits, STARTTLS, AUTH, replies.
//! Replies to pipelined commands are collected and written when the
//! client's input is used up (RFC 2920).
//!
//! Around the sessions: an optional implicit-TLS listener, SIGHUP (reload
//! the configuration as a whole, or keep the old one), a total time limit
//! per connection, failed logins counted per client address across
//! connections, and sealing on a thread of its own (large stack, panics
//! caught) so that one message cannot take the agent down.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use smtp_proto::Request;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::spool::{Entry, Spool, Status};
use super::worker::{one_line, Route, Worker};
use super::{address_file, credentials, intake, tls, Agent, Credentials, Log, Settings};
use crate::config::Config;
use crate::home::{check_own_dir, create_private_dir, write_private_file, Home};
use crate::keys::{normalize_address, Unlocker};
use crate::{Error, Result};

/// How long open sessions may take to finish after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Messages written to the queue at once; their fsyncs are still shared.
const WRITERS: usize = 4;
/// Delay after a failed login.
const AUTH_FAILURE_DELAY: Duration = Duration::from_millis(250);
/// Failed logins from one address (across its connections) before it must
/// wait between attempts; the wait doubles with each further failure.
const FREE_AUTH_FAILURES: u32 = 3;
/// The longest such wait.
const MAX_AUTH_BLOCK: Duration = Duration::from_secs(15 * 60);
/// Buffer between a session and its spool file during DATA.
const SPOOL_WRITE_BUFFER: usize = 64 * 1024;
/// Stack of a sealing thread: deeply nested MIME must not overflow it.
const SEAL_STACK: usize = 256 << 20;

/// What a reload (SIGHUP) replaces as a whole: sessions take a snapshot
/// when they start.
struct Current {
    settings: Settings,
    credentials: Option<Credentials>,
    config: Arc<Config>,
}

/// Failed logins from one client address.
#[derive(Default)]
struct Failures {
    count: u32,
    /// No login attempt is looked at before this.
    blocked_until: Option<tokio::time::Instant>,
    last: Option<tokio::time::Instant>,
}

/// What every session shares.
struct Shared {
    current: Arc<std::sync::RwLock<Arc<Current>>>,
    acceptor: TlsAcceptor,
    home: Home,
    unlocker: Unlocker,
    spool: Arc<Spool>,
    log: Log,
    verbose: bool,
    queued: mpsc::UnboundedSender<String>,
    shutdown: watch::Receiver<bool>,
    /// Bounds the messages written to the queue at once (many writers in
    /// one directory spin on its lock). Sealing is not bounded here: with
    /// key discovery it waits on the network.
    writing: tokio::sync::Semaphore,
    failed_logins: std::sync::Mutex<HashMap<IpAddr, Failures>>,
}

impl Shared {
    fn current(&self) -> Arc<Current> {
        self.current.read().expect("current lock").clone()
    }
}

/// Starts everything and runs until SIGTERM or SIGINT.
pub(super) fn run(agent: Agent) -> Result<()> {
    let Agent {
        home,
        config,
        unlocker,
        settings,
        log,
        verbose,
        listen_override,
    } = agent;
    let config_path = home.config_file();
    let credentials = credentials(&settings, &config_path)?;
    let relay = Arc::new(crate::submit::Settings::from_config(
        &config,
        &config_path,
        &settings.relay,
    )?);
    let spool = Arc::new(Spool::open(&home.spool_dir())?);
    let _lock = spool.lock()?.ok_or_else(|| Error::Home {
        path: spool.root().to_path_buf(),
        reason: "another mailseal agent (or `queue flush`) is using this queue".into(),
    })?;
    let queued = spool.recover()?;
    create_private_dir(&home.agent_dir())?;
    check_own_dir(&home.agent_dir())?;
    let cert = tls::ensure(
        &home.agent_dir(),
        &settings.hostname,
        Some(settings.listen.ip()),
    )?;
    let acceptor = TlsAcceptor::from(cert.server_config()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the agent's runtime", e))?;

    runtime.block_on(async move {
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| Error::io(format!("listening on {}", settings.listen), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listening address", e))?;
        let implicit = match settings.listen_implicit {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::io(format!("listening on {addr} (implicit TLS)"), e))?,
            ),
            None => None,
        };
        write_private_file(&address_file(&home), format!("{local}\n").as_bytes())?;
        log(&format!(
            "listening on {local} (STARTTLS{}, {}); relay {} ({}:{}); {queued} queued; certificate SHA-256 {}",
            if settings.require_tls { " required" } else { "" },
            if credentials.is_some() { "AUTH required" } else { "no AUTH: loopback only" },
            relay.name,
            relay.host,
            relay.port,
            cert.fingerprint()
        ));
        if let Some(implicit) = &implicit {
            if let Ok(addr) = implicit.local_addr() {
                log(&format!("implicit TLS on {addr}"));
            }
        }

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (queued_tx, queued_rx) = mpsc::unbounded_channel();
        let hostname = settings.hostname.clone();
        let current = Arc::new(std::sync::RwLock::new(Arc::new(Current {
            settings,
            credentials,
            config,
        })));
        let settings = current.read().expect("current lock").settings.clone();
        let bounce = {
            let (current, queued) = (current.clone(), queued_tx.clone());
            super::bounce(
                spool.clone(),
                home.clone(),
                unlocker.clone(),
                hostname,
                move || current.read().expect("current lock").config.clone(),
                move |id| {
                    let _ = queued.send(id);
                },
            )
        };
        let worker = Arc::new(Worker {
            spool: spool.clone(),
            route: std::sync::RwLock::new(Route {
                relay,
                retry: settings.retry,
                config: current.read().expect("current lock").config.clone(),
                config_path: home.config_file(),
            }),
            concurrency: settings.deliveries,
            log: log.clone(),
            bounce: Some(bounce),
            hops: Some(Arc::new(crate::submit::hop::Recorder::new(
            home.relay_hops_file(),
        ))),
        });
        let worker_task = tokio::spawn(worker.clone().run(queued_rx, shutdown_rx.clone()));
        let max_connections = settings.limits.max_connections;
        let shared = Arc::new(Shared {
            current,
            acceptor,
            home: home.clone(),
            unlocker,
            spool: spool.clone(),
            log: log.clone(),
            verbose,
            queued: queued_tx,
            shutdown: shutdown_rx,
            writing: tokio::sync::Semaphore::new(WRITERS),
            failed_logins: std::sync::Mutex::new(HashMap::new()),
        });

        let mut terminate = signal(SignalKind::terminate())
            .map_err(|e| Error::io("installing the SIGTERM handler", e))?;
        let mut interrupt = signal(SignalKind::interrupt())
            .map_err(|e| Error::io("installing the SIGINT handler", e))?;
        let mut hangup = signal(SignalKind::hangup())
            .map_err(|e| Error::io("installing the SIGHUP handler", e))?;
        let mut sessions = JoinSet::new();
        let why = loop {
            let accepted = tokio::select! {
                _ = terminate.recv() => break "SIGTERM",
                _ = interrupt.recv() => break "SIGINT",
                _ = hangup.recv() => {
                    reload(&shared, &worker, listen_override.as_deref()).await;
                    continue;
                }
                Some(done) = sessions.join_next(), if !sessions.is_empty() => {
                    if let Err(e) = done {
                        if e.is_panic() {
                            log("a connection ended with an internal error (panic); the agent goes on, nothing of it was queued unless it was answered 250");
                        }
                    }
                    continue;
                }
                accepted = listener.accept() => accepted.map(|(tcp, peer)| (tcp, peer, false)),
                accepted = async {
                    match &implicit {
                        Some(l) => l.accept().await,
                        None => std::future::pending().await,
                    }
                } => accepted.map(|(tcp, peer)| (tcp, peer, true)),
            };
            match accepted {
                Ok((tcp, peer, implicit_tls)) => {
                    if sessions.len() >= max_connections {
                        log(&format!("connection {peer}: refused, {max_connections} connections already open"));
                        if !implicit_tls {
                            tokio::spawn(async move {
                                let mut tcp = tcp;
                                let _ = tokio::time::timeout(
                                    Duration::from_secs(5),
                                    tcp.write_all(b"421 4.7.0 Too many connections, try again later\r\n"),
                                )
                                .await;
                            });
                        }
                        continue;
                    }
                    sessions.spawn(serve(shared.clone(), tcp, peer, implicit_tls));
                }
                Err(e) => {
                    log(&format!("accepting a connection failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        log(&format!(
            "{why}: stopping; no new connections, {} open ones finish their transaction or get 421",
            sessions.len()
        ));
        drop(listener);
        drop(implicit);
        let _ = shutdown_tx.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        sessions.abort_all();
        let _ = worker_task.await;
        let _ = std::fs::remove_file(address_file(&home));
        let left = spool.ids(Status::Queued).map(|i| i.len()).unwrap_or(0);
        log(&format!("stopped; {left} messages queued"));
        Ok(())
    })
}

/// SIGHUP: reads the configuration again and, only if all of it is good
/// (settings, agent password, relay and its password), puts it in place
/// at once; otherwise logs why and keeps the old one. Connections already
/// open finish with the configuration they started with.
async fn reload(shared: &Arc<Shared>, worker: &Arc<Worker>, listen: Option<&str>) {
    let home = shared.home.clone();
    let listen = listen.map(str::to_string);
    let loaded =
        tokio::task::spawn_blocking(move || -> Result<(Current, Arc<crate::submit::Settings>)> {
            let path = home.config_file();
            let config = home.load_config()?;
            let settings = Settings::from_config(&config, &path, listen.as_deref())?;
            let credentials = credentials(&settings, &path)?;
            let relay = crate::submit::Settings::from_config(&config, &path, &settings.relay)?;
            Ok((
                Current {
                    settings,
                    credentials,
                    config: Arc::new(config),
                },
                Arc::new(relay),
            ))
        })
        .await;
    let (current, relay) = match loaded {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(e)) => {
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            (shared.log)(&format!(
                "SIGHUP: the new configuration is not used, the previous one stays in force: {e}{hint}"
            ));
            return;
        }
        Err(e) => {
            (shared.log)(&format!(
                "SIGHUP: reload failed ({e}); the previous configuration stays in force"
            ));
            return;
        }
    };
    let old = shared.current();
    let mut restart = Vec::new();
    if current.settings.listen != old.settings.listen
        || current.settings.listen_implicit != old.settings.listen_implicit
    {
        restart.push("listen addresses");
    }
    if current.settings.hostname != old.settings.hostname {
        restart.push("hostname");
    }
    if current.settings.deliveries != old.settings.deliveries {
        restart.push("deliveries");
    }
    let summary = format!(
        "SIGHUP: configuration reloaded: policy {:?}, relay {} ({}:{}), agent password from {}",
        current.config.policy.default,
        relay.name,
        relay.host,
        relay.port,
        match &current.settings.access {
            super::Access::Open => "nowhere (no AUTH)".to_string(),
            super::Access::Password { source, .. } =>
                source.split(':').next().unwrap_or("").to_string(),
        }
    );
    *worker.route.write().expect("route lock") = Route {
        relay,
        retry: current.settings.retry,
        config: current.config.clone(),
        config_path: shared.home.config_file(),
    };
    *shared.current.write().expect("current lock") = Arc::new(current);
    let note = if restart.is_empty() {
        String::new()
    } else {
        format!(
            "; changes to {} take effect at the next start",
            restart.join(", ")
        )
    };
    (shared.log)(&format!("{summary}{note}"));
}

/// How a conversation ended.
enum Next {
    Close(String),
    StartTls,
}

/// One line from the client.
enum Line {
    Ok(Vec<u8>),
    TooLong,
    Eof,
    Failed(std::io::Error),
}

/// How the message data ended.
enum DataEnd {
    Complete(Received),
    TooBig,
    /// The spool file could not be written; the data was read to its end.
    Unwritable(std::io::Error),
    Eof,
    TimedOut,
    Failed,
}

/// Message data read in full, dot-unstuffed, in a spool file.
struct Received {
    file: std::fs::File,
    len: usize,
    /// What SMTP does not allow in it ([`DataCheck`]).
    problem: Option<&'static str>,
}

struct Envelope {
    from: String,
    rcpts: Vec<String>,
}

struct Session {
    shared: Arc<Shared>,
    /// The configuration this connection started with.
    cur: Arc<Current>,
    peer: SocketAddr,
    tls: bool,
    helo: Option<String>,
    user: Option<String>,
    envelope: Option<Envelope>,
    commands: usize,
    errors: usize,
    auth_failures: usize,
    /// When the connection must end, however active it is.
    deadline: tokio::time::Instant,
    /// Replies not yet written.
    out: Vec<u8>,
    /// What happened, for the connection's log line.
    queued: Vec<String>,
    refused: Vec<String>,
}

async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr, implicit_tls: bool) {
    let _ = tcp.set_nodelay(true);
    let cur = shared.current();
    let limits = cur.settings.limits.clone();
    let mut session = Session {
        shared: shared.clone(),
        cur: cur.clone(),
        peer,
        tls: false,
        helo: None,
        user: None,
        envelope: None,
        commands: 0,
        errors: 0,
        auth_failures: 0,
        deadline: tokio::time::Instant::now() + limits.session_timeout,
        out: Vec::new(),
        queued: Vec::new(),
        refused: Vec::new(),
    };
    let greeting = format!("{} ESMTP mailseal agent ready", cur.settings.hostname);
    let end = if implicit_tls {
        match tokio::time::timeout(limits.idle_timeout, shared.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => {
                session.tls = true;
                session.reply(220, &greeting);
                let mut io = BufReader::new(stream);
                let why = match session.converse(&mut io).await {
                    Next::Close(why) => why,
                    Next::StartTls => "STARTTLS inside TLS".into(),
                };
                let _ = io.get_mut().shutdown().await;
                why
            }
            Ok(Err(e)) => format!("TLS handshake failed: {e}"),
            Err(_) => "TLS handshake timed out".into(),
        }
    } else {
        session.reply(220, &greeting);
        let mut plain = BufReader::new(tcp);
        match session.converse(&mut plain).await {
            Next::Close(why) => {
                let _ = plain.get_mut().shutdown().await;
                why
            }
            Next::StartTls => {
                let tcp = plain.into_inner();
                match tokio::time::timeout(limits.idle_timeout, shared.acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        // RFC 3207: forget everything from before TLS.
                        session.tls = true;
                        session.helo = None;
                        session.user = None;
                        session.envelope = None;
                        let mut io = BufReader::new(stream);
                        let why = match session.converse(&mut io).await {
                            Next::Close(why) => why,
                            Next::StartTls => "STARTTLS again".into(),
                        };
                        let _ = io.get_mut().shutdown().await;
                        why
                    }
                    Ok(Err(e)) => format!("TLS handshake failed: {e}"),
                    Err(_) => "TLS handshake timed out".into(),
                }
            }
        }
    };
    (shared.log)(&format!(
        "connection {peer}: {}{}, {} commands, queued [{}], refused [{}], closed: {end}",
        match (session.tls, implicit_tls) {
            (true, true) => "implicit tls",
            (true, false) => "tls",
            _ => "plain",
        },
        session
            .user
            .as_deref()
            .map(|u| format!(", user {u}"))
            .unwrap_or_default(),
        session.commands,
        session.queued.join(" "),
        session.refused.join("; ")
    ));
}

impl Session {
    fn reply(&mut self, code: u16, text: &str) {
        let line = format!("{code} {}", one_line(text));
        self.dialogue("S", &line);
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn multiline(&mut self, code: u16, lines: &[String]) {
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            let line = format!("{code}{sep}{line}");
            self.dialogue("S", &line);
            self.out.extend_from_slice(line.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// With `-v`: one line of the SMTP dialogue (`C` client, `S` server).
    /// Callers pass AUTH data and message data already redacted.
    fn dialogue(&self, who: &str, line: &str) {
        if self.shared.verbose {
            (self.shared.log)(&format!(
                "connection {}: {who}: {}",
                self.peer,
                one_line(line)
            ));
        }
    }

    /// When the next read or write must be done: the idle timeout, or the
    /// end of the session's total time if that comes first.
    fn time_limit(&self) -> tokio::time::Instant {
        (tokio::time::Instant::now() + self.cur.settings.limits.idle_timeout).min(self.deadline)
    }

    /// Whether the session's total time is up.
    fn expired(&self) -> bool {
        tokio::time::Instant::now() >= self.deadline
    }

    /// A reply to a bad command; too many of them end the connection.
    fn error(&mut self, code: u16, text: &str) -> Option<Next> {
        self.reply(code, text);
        self.errors += 1;
        if self.errors >= self.cur.settings.limits.max_errors {
            self.reply(421, "4.7.0 Too many errors, closing the connection");
            return Some(Next::Close("too many errors".into()));
        }
        None
    }

    async fn flush<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let out = std::mem::take(&mut self.out);
        let write = async {
            io.get_mut().write_all(&out).await?;
            io.get_mut().flush().await
        };
        matches!(
            tokio::time::timeout_at(self.time_limit(), write).await,
            Ok(Ok(()))
        )
    }

    async fn read_line<S: AsyncRead + Unpin>(&self, io: &mut BufReader<S>) -> Option<Line> {
        let max = self.cur.settings.limits.max_line;
        let read = async {
            let mut line = Vec::new();
            let mut too_long = false;
            loop {
                let buf = match io.fill_buf().await {
                    Ok(buf) => buf,
                    // A TLS peer that closes without close_notify.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Line::Eof,
                    Err(e) => return Line::Failed(e),
                };
                if buf.is_empty() {
                    return Line::Eof;
                }
                let (used, done) = match memchr::memchr(b'\n', buf) {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if !too_long {
                    line.extend_from_slice(&buf[..used]);
                    if line.len() > max {
                        too_long = true;
                        line = Vec::new();
                    }
                }
                io.consume(used);
                if done {
                    return if too_long {
                        Line::TooLong
                    } else {
                        Line::Ok(line)
                    };
                }
            }
        };
        tokio::time::timeout_at(self.time_limit(), read).await.ok()
    }

    /// Ends a connection that has lasted longer than its total time.
    async fn too_long<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>) -> Next {
        let limit = self.cur.settings.limits.session_timeout.as_secs();
        self.reply(
            421,
            &format!("4.4.2 Connection time limit ({limit}s) reached, closing; nothing unfinished was queued"),
        );
        self.flush(io).await;
        Next::Close(format!("session time limit of {limit}s reached"))
    }

    /// Reads and answers commands until the connection ends or STARTTLS.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>) -> Next {
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            if io.buffer().is_empty() && !self.flush(io).await {
                return Next::Close("cannot write to the client".into());
            }
            let line = tokio::select! {
                biased;
                _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {
                    self.reply(421, "4.3.2 mailseal agent shutting down, try again later");
                    self.flush(io).await;
                    return Next::Close("agent shutting down".into());
                }
                line = self.read_line(io) => line,
            };
            let line = match line {
                None if self.expired() => return self.too_long(io).await,
                None => {
                    self.reply(421, "4.4.2 Idle for too long, closing the connection");
                    self.flush(io).await;
                    return Next::Close("idle timeout".into());
                }
                Some(Line::Eof) => {
                    return Next::Close(if self.envelope.is_some() {
                        "client disconnected in a transaction (nothing queued)".into()
                    } else {
                        "client disconnected".into()
                    })
                }
                Some(Line::Failed(e)) => return Next::Close(format!("read error: {e}")),
                Some(Line::TooLong) => {
                    if let Some(next) = self.error(500, "5.5.2 Line too long") {
                        self.flush(io).await;
                        return next;
                    }
                    continue;
                }
                Some(Line::Ok(line)) => line,
            };
            if self.shared.verbose {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                let words: Vec<&str> = text.splitn(3, ' ').collect();
                if words[0].eq_ignore_ascii_case("AUTH") && words.len() > 2 {
                    self.dialogue("C", &format!("{} {} [redacted]", words[0], words[1]));
                } else {
                    self.dialogue("C", text);
                }
            }
            self.commands += 1;
            if self.commands > self.cur.settings.limits.max_commands {
                self.reply(421, "4.7.0 Too many commands, closing the connection");
                self.flush(io).await;
                return Next::Close("too many commands".into());
            }
            if let Some(next) = self.command(io, &line).await {
                self.flush(io).await;
                return next;
            }
        }
    }

    async fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        line: &[u8],
    ) -> Option<Next> {
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request.into_owned(),
            Err(e) => {
                use smtp_proto::Error as E;
                return match e {
                    E::UnknownCommand => self.error(500, "5.5.2 Command not recognized"),
                    E::InvalidSenderAddress => self.error(553, "5.1.7 Bad sender address syntax"),
                    E::InvalidRecipientAddress => {
                        self.error(553, "5.1.3 Bad recipient address syntax")
                    }
                    E::SyntaxError { syntax } => {
                        self.error(501, &format!("5.5.4 Syntax: {syntax}"))
                    }
                    E::InvalidParameter { param } => {
                        self.error(501, &format!("5.5.4 Invalid parameter {param}"))
                    }
                    E::UnsupportedParameter { param } => {
                        let param: String = param.chars().take(40).collect();
                        self.error(555, &format!("5.5.4 Unsupported parameter {param}"))
                    }
                    _ => self.error(500, "5.5.2 Syntax error"),
                };
            }
        };
        let settings = &self.cur.settings;
        let limits = settings.limits.clone();
        match request {
            Request::Ehlo { host } => {
                self.helo = Some(host.clone());
                self.envelope = None;
                let mut lines = vec![
                    format!("{} greets {}", settings.hostname, one_line(&host)),
                    "PIPELINING".into(),
                    format!("SIZE {}", limits.max_message_size),
                    "8BITMIME".into(),
                    "SMTPUTF8".into(),
                    "ENHANCEDSTATUSCODES".into(),
                ];
                if !self.tls {
                    lines.push("STARTTLS".into());
                }
                if self.auth_offered() {
                    lines.push("AUTH PLAIN LOGIN".into());
                }
                self.multiline(250, &lines);
                None
            }
            Request::Helo { host } => {
                self.helo = Some(host);
                self.envelope = None;
                let text = settings.hostname.clone();
                self.reply(250, &text);
                None
            }
            Request::StartTls => {
                if self.tls {
                    return self.error(503, "5.5.1 TLS is already active");
                }
                if !io.buffer().is_empty() {
                    self.reply(
                        554,
                        "5.5.0 Commands were sent behind STARTTLS before TLS started; closing",
                    );
                    return Some(Next::Close("data sent behind STARTTLS (injection)".into()));
                }
                self.reply(220, "2.0.0 Ready to start TLS");
                if !self.flush(io).await {
                    return Some(Next::Close("cannot write to the client".into()));
                }
                Some(Next::StartTls)
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(io, mechanism, initial_response).await,
            Request::Mail { from } => {
                if self.helo.is_none() {
                    return self.error(503, "5.5.1 Send EHLO first");
                }
                if settings.require_tls && !self.tls {
                    return self.error(530, "5.7.0 Must issue a STARTTLS command first");
                }
                if self.cur.credentials.is_some() && self.user.is_none() {
                    return self.error(530, "5.7.0 Authentication required");
                }
                if self.envelope.is_some() {
                    return self.error(503, "5.5.1 Nested MAIL command");
                }
                if from.size > limits.max_message_size {
                    return self.error(
                        552,
                        &format!(
                            "5.3.4 Message size exceeds the limit of {} bytes",
                            limits.max_message_size
                        ),
                    );
                }
                if !from.address.is_empty() && !usable_address(&from.address) {
                    return self.error(553, "5.1.7 Bad sender address");
                }
                self.envelope = Some(Envelope {
                    from: from.address,
                    rcpts: Vec::new(),
                });
                self.reply(250, "2.1.0 Sender ok");
                None
            }
            Request::Rcpt { to } => {
                let Some(envelope) = self.envelope.as_mut() else {
                    return self.error(503, "5.5.1 Need MAIL first");
                };
                if to.address.is_empty() || !usable_address(&to.address) {
                    return self.error(553, "5.1.3 Bad recipient address");
                }
                if envelope.rcpts.len() >= limits.max_recipients {
                    let text = format!(
                        "4.5.3 Too many recipients (at most {} per message)",
                        limits.max_recipients
                    );
                    self.reply(452, &text);
                    return None;
                }
                let key = normalize_address(&to.address);
                if !envelope.rcpts.iter().any(|r| normalize_address(r) == key) {
                    envelope.rcpts.push(to.address);
                }
                self.reply(250, "2.1.5 Recipient ok");
                None
            }
            Request::Data => self.data(io).await,
            Request::Bdat { .. } => {
                self.reply(502, "5.5.1 BDAT is not supported (no CHUNKING); closing");
                Some(Next::Close("BDAT without CHUNKING".into()))
            }
            Request::Rset => {
                self.envelope = None;
                self.reply(250, "2.0.0 Ok");
                None
            }
            Request::Noop { .. } => {
                self.reply(250, "2.0.0 Ok");
                None
            }
            Request::Quit => {
                self.reply(221, "2.0.0 Bye");
                Some(Next::Close("quit".into()))
            }
            Request::Vrfy { .. } => {
                self.reply(252, "2.5.0 Cannot VRFY; send the message and see");
                None
            }
            _ => self.error(502, "5.5.1 Command not implemented"),
        }
    }

    /// How long the client's address must still wait before a login
    /// attempt is looked at, if it must.
    fn auth_blocked(&self) -> Option<Duration> {
        let logins = self.shared.failed_logins.lock().expect("failed logins");
        let until = logins.get(&self.peer.ip())?.blocked_until?;
        until.checked_duration_since(tokio::time::Instant::now())
    }

    /// Records a failed login from the client's address: how many there
    /// were, and the wait imposed before the next attempt (doubling after
    /// the first few, across connections). Failures are forgotten after
    /// the longest wait without one.
    fn auth_failed(&self) -> (u32, Option<Duration>) {
        let now = tokio::time::Instant::now();
        let mut logins = self.shared.failed_logins.lock().expect("failed logins");
        logins.retain(|_, f| {
            f.last
                .is_some_and(|t| now.duration_since(t) < MAX_AUTH_BLOCK)
        });
        let failures = logins.entry(self.peer.ip()).or_default();
        failures.count += 1;
        failures.last = Some(now);
        let wait = failures
            .count
            .checked_sub(FREE_AUTH_FAILURES)
            .filter(|n| *n > 0)
            .map(|n| Duration::from_secs(1u64 << (n - 1).min(20)).min(MAX_AUTH_BLOCK));
        failures.blocked_until = wait.map(|w| now + w);
        (failures.count, wait)
    }

    fn auth_offered(&self) -> bool {
        self.cur.credentials.is_some()
            && self.user.is_none()
            && (self.tls || !self.cur.settings.require_tls)
    }

    /// Sends a 334 challenge and reads the answer; `Err` ends the session,
    /// `Ok(None)` means the client cancelled (already answered).
    async fn challenge<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        text: &str,
    ) -> Result<Option<String>, Next> {
        self.reply(334, text);
        if !self.flush(io).await {
            return Err(Next::Close("cannot write to the client".into()));
        }
        match self.read_line(io).await {
            Some(Line::Ok(line)) => {
                self.dialogue("C", "[redacted]");
                let answer = String::from_utf8_lossy(&line).trim().to_string();
                if answer == "*" {
                    self.reply(501, "5.0.0 Authentication cancelled");
                    return Ok(None);
                }
                Ok(Some(answer))
            }
            Some(Line::TooLong) => {
                self.reply(500, "5.5.6 Authentication exchange line too long");
                Ok(None)
            }
            None => {
                self.reply(421, "4.4.2 Idle for too long, closing the connection");
                Err(Next::Close("idle timeout during AUTH".into()))
            }
            Some(_) => Err(Next::Close("client disconnected during AUTH".into())),
        }
    }

    async fn auth<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        mechanism: u64,
        initial: String,
    ) -> Option<Next> {
        let Some(credentials) = self.cur.credentials.clone() else {
            return self.error(503, "5.5.1 Authentication is not enabled here");
        };
        if self.helo.is_none() {
            return self.error(503, "5.5.1 Send EHLO first");
        }
        if self.user.is_some() {
            return self.error(503, "5.5.1 Already authenticated");
        }
        if self.envelope.is_some() {
            return self.error(503, "5.5.1 Not during a mail transaction");
        }
        if self.cur.settings.require_tls && !self.tls {
            return self.error(530, "5.7.0 Must issue a STARTTLS command first");
        }
        if let Some(wait) = self.auth_blocked() {
            let secs = wait.as_secs().max(1);
            (self.shared.log)(&format!(
                "connection {}: login attempt refused: too many failed logins from {}; next attempt allowed in {secs}s",
                self.peer,
                self.peer.ip()
            ));
            self.reply(
                454,
                &format!(
                    "4.7.0 Too many failed logins from your address; try again in {secs} seconds"
                ),
            );
            return Some(Next::Close(
                "login refused: too many failed logins from this address".into(),
            ));
        }
        let decode = |text: &str| -> Option<Vec<u8>> {
            if text == "=" {
                return Some(Vec::new());
            }
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        };
        let (user, password) = match mechanism {
            smtp_proto::AUTH_PLAIN => {
                let token = if initial.is_empty() {
                    match self.challenge(io, "").await {
                        Ok(Some(t)) => t,
                        Ok(None) => return None,
                        Err(next) => return Some(next),
                    }
                } else {
                    initial
                };
                let Some(raw) = decode(&token) else {
                    return self.error(501, "5.5.2 Cannot decode the AUTH PLAIN response");
                };
                let parts: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
                if parts.len() != 3 || (!parts[0].is_empty() && parts[0] != parts[1]) {
                    return self.error(501, "5.5.2 Malformed AUTH PLAIN response");
                }
                (parts[1].to_vec(), parts[2].to_vec())
            }
            smtp_proto::AUTH_LOGIN => {
                let user = if initial.is_empty() {
                    match self.challenge(io, "VXNlcm5hbWU6").await {
                        Ok(Some(t)) => t,
                        Ok(None) => return None,
                        Err(next) => return Some(next),
                    }
                } else {
                    initial
                };
                let password = match self.challenge(io, "UGFzc3dvcmQ6").await {
                    Ok(Some(t)) => t,
                    Ok(None) => return None,
                    Err(next) => return Some(next),
                };
                match (decode(&user), decode(&password)) {
                    (Some(u), Some(p)) => (u, p),
                    _ => return self.error(501, "5.5.2 Cannot decode the AUTH LOGIN response"),
                }
            }
            _ => {
                return self.error(
                    504,
                    "5.5.4 Unrecognized authentication type; use PLAIN or LOGIN",
                )
            }
        };
        let user_ok = same(&user, credentials.username.as_bytes());
        let password_ok = same(&password, credentials.password.expose().as_bytes());
        if user_ok & password_ok {
            self.shared
                .failed_logins
                .lock()
                .expect("failed logins")
                .remove(&self.peer.ip());
            self.user = Some(credentials.username.clone());
            self.reply(235, "2.7.0 Authentication successful");
            return None;
        }
        self.auth_failures += 1;
        let (count, wait) = self.auth_failed();
        let shown: String = String::from_utf8_lossy(&user).chars().take(64).collect();
        (self.shared.log)(&format!(
            "connection {}: login failed for user {:?}: {}; {count} failed logins from {}{}",
            self.peer,
            one_line(&shown),
            if user_ok {
                "wrong password"
            } else {
                "unknown user"
            },
            self.peer.ip(),
            match wait {
                Some(wait) => format!(", next attempt allowed in {}s", wait.as_secs().max(1)),
                None => String::new(),
            }
        ));
        tokio::time::sleep(AUTH_FAILURE_DELAY).await;
        if self.auth_failures >= self.cur.settings.limits.max_auth_failures {
            self.reply(421, "4.7.0 Too many failed logins, closing the connection");
            return Some(Next::Close("too many failed logins".into()));
        }
        self.reply(535, "5.7.8 Authentication credentials invalid");
        None
    }

    async fn data<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
    ) -> Option<Next> {
        match &self.envelope {
            None => return self.error(503, "5.5.1 Need MAIL first"),
            Some(e) if e.rcpts.is_empty() => return self.error(554, "5.5.1 No valid recipients"),
            Some(_) => {}
        }
        if !io.buffer().is_empty() {
            // RFC 2920: DATA ends a pipelined group; the message may only
            // follow the 354 reply.
            self.envelope = None;
            self.reply(
                554,
                "5.5.0 Message data sent before the 354 reply (not allowed with PIPELINING); closing",
            );
            return Some(Next::Close("pipelining violation: data before 354".into()));
        }
        let envelope = self.envelope.take().expect("checked above");
        let file = match self.shared.spool.scratch() {
            Ok(file) => file,
            Err(e) => return self.unwritable(&e.to_string()),
        };
        self.reply(354, "End data with <CR><LF>.<CR><LF>");
        if !self.flush(io).await {
            return Some(Next::Close("cannot write to the client".into()));
        }
        let limits = self.cur.settings.limits.clone();
        let received = match self.receive(io, limits.max_message_size, file).await {
            DataEnd::Complete(received) => {
                self.dialogue("C", &format!("[message data, {} bytes]", received.len));
                received
            }
            DataEnd::Unwritable(e) => return self.unwritable(&e.to_string()),
            DataEnd::TooBig => {
                let text = format!(
                    "5.3.4 Message too big (at most {} bytes); nothing was queued",
                    limits.max_message_size
                );
                self.refused.push("552 too big".into());
                self.reply(552, &text);
                return None;
            }
            DataEnd::Eof => {
                return Some(Next::Close(
                    "client disconnected during DATA (nothing queued)".into(),
                ))
            }
            DataEnd::TimedOut if self.expired() => return Some(self.too_long(io).await),
            DataEnd::TimedOut => {
                self.reply(
                    421,
                    "4.4.2 Idle for too long during DATA, closing (nothing queued)",
                );
                return Some(Next::Close(
                    "idle timeout during DATA (nothing queued)".into(),
                ));
            }
            DataEnd::Failed => {
                return Some(Next::Close(
                    "read error during DATA (nothing queued)".into(),
                ))
            }
        };
        if let Some(problem) = received.problem {
            self.refused.push(format!("554 {problem}"));
            self.reply(554, &format!("5.6.0 {problem}; nothing was queued"));
            return None;
        }
        let (code, text) = self.accept(envelope, received.file).await;
        self.reply(code, &text);
        None
    }

    /// The reply when the spool cannot take the message data.
    fn unwritable(&mut self, why: &str) -> Option<Next> {
        (self.shared.log)(&format!(
            "connection {}: cannot write the message data to the spool: {why}",
            self.peer
        ));
        self.refused.push("451 cannot queue".into());
        self.reply(
            451,
            "4.3.0 Cannot write the queue; nothing was queued, try again later",
        );
        None
    }

    /// Reads message data up to CRLF.CRLF, dot-unstuffed, into `file`;
    /// beyond `max` bytes (or after a write error) the rest is read and
    /// thrown away.
    async fn receive<S: AsyncRead + Unpin>(
        &self,
        io: &mut BufReader<S>,
        max: usize,
        file: std::fs::File,
    ) -> DataEnd {
        let mut out = SpoolWriter::new(file);
        let mut chunk = Vec::with_capacity(16 * 1024);
        let (mut len, mut check) = (0, DataCheck::default());
        let mut write_error = None;
        let mut receiver = DataReceiver::new();
        // The data starts at the beginning of a line: a lone "." ends it.
        receiver.ingest(&mut b"\r\n".iter(), &mut Vec::new());
        let mut discard: Option<DummyDataReceiver> = None;
        loop {
            let buf = match tokio::time::timeout_at(self.time_limit(), io.fill_buf()).await {
                Err(_) => return DataEnd::TimedOut,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return DataEnd::Eof,
                Ok(Err(_)) => return DataEnd::Failed,
                Ok(Ok(buf)) => buf,
            };
            if buf.is_empty() {
                return DataEnd::Eof;
            }
            let mut bytes = buf.iter();
            let done = match &mut discard {
                Some(d) => d.ingest(&mut bytes),
                None => receiver.ingest(&mut bytes, &mut chunk),
            };
            let used = buf.len() - bytes.as_slice().len();
            io.consume(used);
            if discard.is_none() {
                len += chunk.len();
                check.feed(&chunk);
                let written = if len > max {
                    Ok(())
                } else {
                    out.write_all(&chunk).await
                };
                if let Err(e) = written {
                    write_error = Some(e);
                }
                if len > max || write_error.is_some() {
                    discard = Some(DummyDataReceiver::new_data(&receiver));
                }
                chunk.clear();
            }
            if done {
                return match (write_error, discard) {
                    (Some(e), _) => DataEnd::Unwritable(e),
                    (None, Some(_)) => DataEnd::TooBig,
                    (None, None) => match out.finish().await {
                        Ok(file) => DataEnd::Complete(Received {
                            file,
                            len,
                            problem: check.finish(),
                        }),
                        Err(e) => DataEnd::Unwritable(e),
                    },
                };
            }
        }
    }

    /// Seals and queues a complete message (in `message`, a spool file);
    /// the reply for the client.
    async fn accept(&mut self, envelope: Envelope, mut message: std::fs::File) -> (u16, String) {
        let (shared, cur) = (self.shared.clone(), self.cur.clone());
        let rcpts = envelope.rcpts.clone();
        let null_sender = envelope.from.is_empty();
        let limit = cur.settings.limits.seal_timeout;
        let sealing = seal_isolated(move || -> Result<_> {
            let mut sealed = std::io::BufWriter::new(shared.spool.scratch()?);
            let intake = intake::seal_message(
                &cur.config,
                &shared.home,
                &shared.unlocker,
                null_sender,
                &rcpts,
                &mut message,
                &mut sealed,
            )?;
            let sealed = sealed
                .into_inner()
                .map_err(|e| Error::io("writing the sealed message", e.into_error()))?;
            Ok((intake, sealed))
        });
        let (intake, mut sealed) = match tokio::time::timeout(limit, sealing).await {
            Err(_) => {
                self.refused.push("451 sealing timed out".into());
                return (
                    451,
                    format!(
                        "4.4.3 Sealing did not finish within {}s; nothing was queued, try again later",
                        limit.as_secs()
                    ),
                );
            }
            Ok(Err(why)) => {
                (self.shared.log)(&format!(
                    "connection {}: sealing failed with an internal error ({why}); the agent goes on, nothing was queued",
                    self.peer
                ));
                self.refused.push("451 internal error".into());
                return (
                    451,
                    "4.3.0 Internal error while sealing; nothing was queued".into(),
                );
            }
            Ok(Ok(Err(e))) => {
                let (code, text) = refusal(&e);
                self.refused.push(format!("{code} {text}"));
                return (code, text);
            }
            Ok(Ok(Ok(sealed))) => sealed,
        };
        let mut entry = Entry {
            id: String::new(),
            received: super::spool::now(),
            // `<>` stays `<>` (RFC 5321 4.5.5): a bounce must not bounce.
            from: envelope.from,
            client: self.peer.to_string(),
            user: self.user.clone(),
            copies: intake.copies,
            dsn: crate::submit::Dsn::default(),
            relay: None,
        };
        let mut sealings: Vec<&str> = entry.copies.iter().map(|c| c.sealing.as_str()).collect();
        sealings.dedup();
        let summary = format!(
            "{} cop{}, {}",
            entry.copies.len(),
            if entry.copies.len() == 1 { "y" } else { "ies" },
            sealings.join("/")
        );
        let levels: Vec<String> = intake
            .levels
            .iter()
            .map(|l| format!("{}: {}", l.address, l.describe()))
            .collect();
        let spool = self.shared.spool.clone();
        let _permit = self.shared.writing.acquire().await;
        let queued = tokio::task::spawn_blocking(move || {
            use std::io::Seek as _;
            sealed
                .rewind()
                .map_err(|e| Error::io("reading the sealed message", e))?;
            spool
                .enqueue_from(&mut entry, &mut sealed)
                .map(|()| entry.id)
        })
        .await;
        match queued {
            Ok(Ok(id)) => {
                (self.shared.log)(&format!(
                    "connection {}: {id}: {}",
                    self.peer,
                    levels.join("; ")
                ));
                let _ = self.shared.queued.send(id.clone());
                self.queued.push(id.clone());
                (250, format!("2.0.0 Ok: queued as {id} ({summary})"))
            }
            Ok(Err(e)) => {
                (self.shared.log)(&format!("connection {}: cannot queue: {e}", self.peer));
                self.refused.push("451 cannot queue".into());
                (
                    451,
                    "4.3.0 Cannot write the queue; nothing was queued, try again later".into(),
                )
            }
            Err(_) => (451, "4.3.0 Internal error while queueing".into()),
        }
    }
}

/// A spool file written from a session: the data collects in a buffer
/// that is written on a blocking thread when full.
struct SpoolWriter {
    /// None after a failed write.
    file: Option<std::fs::File>,
    buf: Vec<u8>,
}

impl SpoolWriter {
    fn new(file: std::fs::File) -> SpoolWriter {
        SpoolWriter {
            file: Some(file),
            buf: Vec::with_capacity(SPOOL_WRITE_BUFFER),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= SPOOL_WRITE_BUFFER {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("an earlier write failed"))?;
        let buf = std::mem::take(&mut self.buf);
        let (file, mut buf, written) = tokio::task::spawn_blocking(move || {
            let written = file.write_all(&buf);
            (file, buf, written)
        })
        .await
        .map_err(std::io::Error::other)?;
        written?;
        buf.clear();
        (self.file, self.buf) = (Some(file), buf);
        Ok(())
    }

    /// Writes what is left; the file.
    async fn finish(mut self) -> std::io::Result<std::fs::File> {
        self.flush().await?;
        Ok(self.file.take().expect("flushed"))
    }
}

/// Runs `seal` on a thread of its own with a large stack (deeply nested
/// MIME recurses), catching a panic: one bad message must not take the
/// agent down. `Err` says what went wrong inside.
async fn seal_isolated<T: Send + 'static>(
    seal: impl FnOnce() -> T + Send + 'static,
) -> std::result::Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("mailseal-seal".into())
        .stack_size(SEAL_STACK)
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(seal));
            let _ = tx.send(result.map_err(|panic| {
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into())
            }));
        })
        .map_err(|e| format!("cannot start a sealing thread: {e}"))?;
    match rx.await {
        Ok(Ok(sealed)) => Ok(sealed),
        Ok(Err(panic)) => Err(format!("panic: {panic}")),
        Err(_) => Err("the sealing thread ended without a result".into()),
    }
}

/// The reply for a message that cannot be sealed.
fn refusal(error: &Error) -> (u16, String) {
    match error {
        Error::NoKey { recipient, reason } => (
            550,
            format!(
                "5.7.1 <{recipient}>: policy requires encryption, but there is no usable key ({reason}); nothing was queued or sent"
            ),
        ),
        Error::InboundUnprotected { recipient, reason } => (
            550,
            format!("5.7.1 <{recipient}>: {reason}; nothing was queued or sent"),
        ),
        Error::Malformed(m) => (554, format!("5.6.0 Malformed message: {m}")),
        Error::Usage(m) => (554, format!("5.6.0 {m}")),
        other => (
            451,
            format!("4.3.0 The message could not be sealed ({other}); nothing was queued, try again later"),
        ),
    }
}

/// Finds in message data, fed piece by piece as it arrives, what SMTP
/// does not allow: NUL bytes, a CR or LF that is not part of CRLF, lines
/// over 998 characters.
#[derive(Default)]
struct DataCheck {
    nul: bool,
    bare_cr: bool,
    /// The first bare LF or overlong line.
    line: Option<&'static str>,
    /// Bytes of the current line so far (after the last LF).
    line_len: usize,
    /// The last byte fed.
    last: Option<u8>,
}

const BARE_LF: &str = "The message has a bare LF; SMTP needs CRLF line ends (RFC 5321 2.3.8)";
const BARE_CR: &str = "The message has a bare CR; SMTP needs CRLF line ends (RFC 5321 2.3.8)";
const LONG_LINE: &str = "A line is longer than 998 characters (RFC 5322 2.1.1)";
const NUL: &str = "The message contains NUL bytes";

impl DataCheck {
    fn feed(&mut self, data: &[u8]) {
        let Some(&first) = data.first() else {
            return;
        };
        self.nul |= memchr::memchr(0, data).is_some();
        if self.last == Some(b'\r') && first != b'\n' {
            self.bare_cr = true;
        }
        let mut line_start = 0;
        for at in memchr::memchr2_iter(b'\r', b'\n', data) {
            if data[at] == b'\r' {
                self.bare_cr |= data.get(at + 1).is_some_and(|b| *b != b'\n');
                continue;
            }
            let before = if at == 0 {
                self.last
            } else {
                Some(data[at - 1])
            };
            // The line without its CRLF.
            let length = (self.line_len + at - line_start).saturating_sub(1);
            if self.line.is_none() && before != Some(b'\r') {
                self.line = Some(BARE_LF);
            } else if self.line.is_none() && length > 998 {
                self.line = Some(LONG_LINE);
            }
            self.line_len = 0;
            line_start = at + 1;
        }
        self.line_len += data.len() - line_start;
        self.last = data.last().copied();
    }

    /// The first problem found, if any, once all the data was fed.
    fn finish(mut self) -> Option<&'static str> {
        if self.line.is_none() && self.line_len > 998 {
            self.line = Some(LONG_LINE);
        }
        self.bare_cr |= self.last == Some(b'\r');
        if self.nul {
            Some(NUL)
        } else if self.line.is_some() {
            self.line
        } else {
            self.bare_cr.then_some(BARE_CR)
        }
    }
}

/// Whether an address can go into an SMTP command unchanged.
fn usable_address(address: &str) -> bool {
    !address.is_empty()
        && address.len() <= 256
        && !address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
}

/// Compares secrets without an early exit on the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problem [`DataCheck`] finds in `data`, which must be the same
    /// however the data is cut into pieces.
    fn bad_data(data: &[u8]) -> Option<&'static str> {
        let whole = {
            let mut check = DataCheck::default();
            check.feed(data);
            check.finish()
        };
        for piece in [1, 2, 3, 7] {
            let mut check = DataCheck::default();
            data.chunks(piece).for_each(|p| check.feed(p));
            assert_eq!(check.finish(), whole, "in pieces of {piece}: {data:?}");
        }
        whole
    }

    #[test]
    fn data_rules() {
        assert_eq!(bad_data(b"a: b\r\n\r\nbody\r\n"), None);
        assert_eq!(bad_data(b""), None);
        assert!(bad_data(b"a: b\r\n\r\nbo\0dy\r\n").unwrap().contains("NUL"));
        assert!(bad_data(b"a: b\n\r\nbody\r\n").unwrap().contains("bare LF"));
        assert!(bad_data(b"\na: b\r\n").unwrap().contains("bare LF"));
        assert!(bad_data(b"a: b\r\n\r\nbo\rdy\r\n")
            .unwrap()
            .contains("bare CR"));
        assert!(bad_data(b"a: b\r\n\r\nbody\r").unwrap().contains("bare CR"));
        let long = format!("a: b\r\n\r\n{}\r\n", "x".repeat(999));
        assert!(bad_data(long.as_bytes()).unwrap().contains("998"));
        let ok = format!("a: b\r\n\r\n{}\r\n", "x".repeat(998));
        assert_eq!(bad_data(ok.as_bytes()), None);
        let long_last = format!("a: b\r\n\r\n{}", "x".repeat(999));
        assert!(bad_data(long_last.as_bytes()).unwrap().contains("998"));
        let ok_last = format!("a: b\r\n\r\n{}", "x".repeat(998));
        assert_eq!(bad_data(ok_last.as_bytes()), None);
        // NUL first, then the first line problem, then a bare CR.
        let all = format!("a\rb\r\n{}\r\nc\nd\0\r\n", "x".repeat(999));
        assert!(bad_data(all.as_bytes()).unwrap().contains("NUL"));
        let lines = format!("a\rb\r\n{}\r\nc\n\r\n", "x".repeat(999));
        assert!(bad_data(lines.as_bytes()).unwrap().contains("998"));
    }

    #[test]
    fn a_copy_that_may_not_go_out_is_refused_for_good() {
        let (code, text) = refusal(&Error::InboundUnprotected {
            recipient: "carol@example.org".into(),
            reason: "require_inbound = \"dane\" is not met".into(),
        });
        assert_eq!(code, 550);
        assert!(text.starts_with("5.7.1 <carol@example.org>: require_inbound"));
    }

    #[test]
    fn addresses_that_could_smuggle_commands_are_refused() {
        assert!(usable_address("a@b"));
        assert!(!usable_address("a b@c"));
        assert!(!usable_address("a@b\r\nRCPT"));
    }

    #[test]
    fn secrets_compare() {
        assert!(same(b"pw", b"pw"));
        assert!(!same(b"pw", b"pW"));
    }
}
