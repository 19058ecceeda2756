//! SMTP submission that cannot be downgraded.
//!
//! A small hand-written client on tokio + tokio-rustls rather than
//! mail-send: the safety properties are then visible in the types instead
//! of resting on "only ever call `connect()`", and every stage can carry
//! its own timeout. The guarantees:
//!
//! - A relay is [`Tls::Starttls`] or [`Tls::Implicit`]; there is no
//!   plaintext mode to fall back to.
//! - Before TLS the only type is [`PlainConnection`], which can read the
//!   greeting, send EHLO and STARTTLS, and nothing else: it has no method
//!   that sends AUTH, MAIL, RCPT or DATA. Those are methods of
//!   [`TlsSession`], which exists only after a verified handshake.
//! - If STARTTLS is not advertised, is refused, or the handshake or the
//!   certificate check fails, the client sends nothing more and fails with
//!   [`Error::TlsRefused`] (exit 77). Bytes the server sent after its
//!   STARTTLS reply (response injection) also abort.
//! - After STARTTLS, whatever was learned in clear is dropped with the
//!   plain connection and EHLO is sent again.
//! - Every read, write, the connect and the handshake have a timeout.
//!   4xx replies are [`Error::Temporary`] (exit 75), 5xx
//!   [`Error::Unavailable`] (exit 69), with the server's words. Nothing is
//!   retried, so nothing is sent twice.
//! - The password is a [`Secret`]; no error or report includes a command
//!   line that carried it.
//!
//! Commands are sent one at a time (PIPELINING is not used: it would save
//! round trips but make a half-accepted transaction harder to reason about).
//!
//! [`submit_with`] adds what the sendmail interface needs: partial delivery
//! (recipients the relay refuses are reported, the others still get the
//! message), DSN parameters when the relay offers DSN, and a [`Trace`] of
//! the dialogue for `-v`, with AUTH lines shown as `[redacted]`.

mod body;
pub mod hop;
pub(crate) mod reply;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

pub use body::Body;
pub use reply::Reply;
pub use tls::{cert_info, spki_pin, CertInfo, Pin};

use body::Stuffed;

use crate::config::{Config, Tls};
use crate::secrets::{self, Secret};
use crate::{Error, Result};

/// How long each stage may take when the relay sets no `timeout_secs`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything needed to reach and log in to one relay.
#[derive(Debug)]
pub struct Settings {
    /// The relay's name in the configuration (`[relay.NAME]`).
    pub name: String,
    /// Host name: connected to, sent as SNI and verified in the certificate.
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The AUTH mechanism to use (upper case); `None`: PLAIN, else LOGIN.
    pub auth: Option<String>,
    pub ca_files: Vec<PathBuf>,
    pub pin: Option<Pin>,
    pub timeout: Duration,
    /// Connect here instead of resolving `host` (`[network] resolve`).
    pub connect_to: Option<String>,
}

/// `[relay.NAME]` of `config` (read from `config_path`), or the error
/// that names what is missing.
pub fn relay_named<'a>(
    config: &'a Config,
    config_path: &Path,
    name: &str,
) -> Result<&'a crate::config::Relay> {
    config.relay.get(name).ok_or_else(|| Error::Config {
        path: config_path.to_path_buf(),
        message: format!("there is no [relay.{name}]"),
    })
}

impl Settings {
    /// The settings of relay `name` from `config`, fetching its password.
    pub fn from_config(config: &Config, config_path: &Path, name: &str) -> Result<Settings> {
        let relay = relay_named(config, config_path, name)?;
        let bad = |message: String| Error::Config {
            path: config_path.to_path_buf(),
            message,
        };
        let port = relay.port.unwrap_or(match relay.tls {
            Tls::Starttls => 587,
            Tls::Implicit => 465,
        });
        let pin = relay
            .pin
            .as_deref()
            .map(Pin::parse)
            .transpose()
            .map_err(|e| bad(format!("[relay.{name}] {e}")))?;
        if relay.password.is_some() && relay.username.is_none() {
            return Err(bad(format!(
                "[relay.{name}] has a password but no username"
            )));
        }
        let auth = match relay.auth.as_deref().map(str::to_ascii_uppercase) {
            None => None,
            Some(m) if ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"].contains(&m.as_str()) => {
                Some(m)
            }
            Some(other) => {
                return Err(bad(format!(
                    "[relay.{name}] auth = {other:?}: use plain, login, xoauth2 or oauthbearer"
                )))
            }
        };
        let password = match &relay.username {
            Some(_) => secrets::relay_password(name, relay.password.as_deref())?,
            None => None,
        };
        if relay.username.is_some() && password.is_none() {
            return Err(bad(format!(
                "[relay.{name}] has a username but no password source"
            )));
        }
        let mut ca_files: Vec<PathBuf> = relay.ca_file.iter().cloned().collect();
        ca_files.extend(config.network.ca_file.iter().cloned());
        let connect_to = config
            .network
            .resolve
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&format!("{}:{port}", relay.host)))
            .map(|(_, v)| v.clone());
        Ok(Settings {
            name: name.to_string(),
            host: relay.host.clone(),
            port,
            tls: relay.tls,
            username: relay.username.clone(),
            password,
            auth,
            ca_files,
            pin,
            timeout: relay
                .timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_TIMEOUT),
            connect_to,
        })
    }
}

/// Receives a network dialogue line by line (`> ` sent, `< ` received,
/// `* ` what the client did, such as the TLS handshake): SMTP here, HTTP
/// requests and DNS queries in [`crate::discover`]. Credentials never
/// reach it: AUTH lines are `[redacted]`, message data is summarized.
pub type Trace = Arc<dyn Fn(&str) + Send + Sync>;

/// Delivery status notification requests (RFC 3461), passed to the relay
/// only when it offers DSN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dsn {
    /// NOTIFY for every recipient: `NEVER`, or some of `SUCCESS`,
    /// `FAILURE`, `DELAY` separated by commas.
    pub notify: Option<String>,
    /// RET: `FULL` or `HDRS`.
    pub ret: Option<String>,
    /// ENVID, the sender's identifier for the transaction (plain text; it
    /// is xtext-encoded on the wire).
    pub envid: Option<String>,
}

impl Dsn {
    /// Checks and normalizes the parts (upper case); an error names the
    /// bad value.
    pub fn new(notify: Option<&str>, ret: Option<&str>, envid: Option<&str>) -> Result<Dsn> {
        let notify = notify
            .map(|n| {
                let words: Vec<String> = n
                    .split(',')
                    .map(|w| w.trim().to_ascii_uppercase())
                    .collect();
                let known = |w: &String| ["SUCCESS", "FAILURE", "DELAY"].contains(&w.as_str());
                let ok = words == ["NEVER"] || words.iter().all(known);
                ok.then(|| words.join(",")).ok_or_else(|| {
                    Error::Usage(format!(
                        "-N {n}: use never, or some of success,failure,delay"
                    ))
                })
            })
            .transpose()?;
        let ret = ret
            .map(|r| match r.to_ascii_uppercase().as_str() {
                v @ ("FULL" | "HDRS") => Ok(v.to_string()),
                _ => Err(Error::Usage(format!("-R {r}: use full or hdrs"))),
            })
            .transpose()?;
        if let Some(id) = envid {
            if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_graphic()) {
                return Err(Error::Usage(format!(
                    "-V {id:?}: an envelope id is 1 to 100 printable ASCII characters"
                )));
            }
        }
        Ok(Dsn {
            notify,
            ret,
            envid: envid.map(str::to_string),
        })
    }

    /// Whether nothing is requested.
    pub fn is_empty(&self) -> bool {
        self == &Dsn::default()
    }
}

/// xtext (RFC 3461 §4): `+`, `=` and anything outside `!`..`~` as `+HH`.
fn xtext(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// How [`submit_with`] behaves beyond the relay's settings.
#[derive(Clone, Default)]
pub struct Options {
    /// Deliver to the recipients the relay accepts even when it refuses
    /// some (they are listed in [`Outcome::rejected`]), and go on with the
    /// next transaction after a refused one. Off: the first refusal ends
    /// the submission with an error.
    pub partial: bool,
    /// DSN requests for every transaction.
    pub dsn: Dsn,
    /// Where the dialogue goes (`-v`).
    pub trace: Option<Trace>,
}

/// One mail transaction: envelope and the exact bytes to send.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub from: String,
    pub to: Vec<String>,
    pub data: Body,
}

/// What the connection to the relay was like.
#[derive(Debug, Clone, Serialize)]
pub struct Transport {
    pub relay: String,
    pub host: String,
    pub port: u16,
    /// `starttls` or `implicit`.
    pub mode: &'static str,
    pub tls_version: String,
    pub cipher_suite: String,
    /// The name the certificate was verified for.
    pub server_name_verified: String,
    /// `sha256/…` of the server certificate's public key (for `pin`).
    pub spki_pin: Option<String>,
    /// Whether a configured pin was checked (and matched).
    pub pin_checked: bool,
    /// Certificates the server presented, its own first.
    pub certificate_chain: Vec<CertInfo>,
    /// AUTH mechanisms offered after TLS.
    pub auth_mechanisms: Vec<String>,
    /// Logged in as this user (never the password).
    pub authenticated_as: Option<String>,
}

/// A transaction the relay accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub recipients: Vec<String>,
    /// The relay's final reply to the message data.
    pub reply: String,
}

/// A recipient the relay did not take (only with [`Options::partial`]).
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub recipient: String,
    /// What went wrong, with the relay's words.
    pub reason: String,
    /// 5xx: sending again will not help.
    pub permanent: bool,
}

/// The result of a submission.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub transport: Transport,
    pub accepted: Vec<Accepted>,
    /// Recipients refused (only with [`Options::partial`]).
    pub rejected: Vec<Rejected>,
}

/// Submits `transactions` over one connection; any refusal fails the
/// submission, and no transaction is retried.
pub fn submit_blocking(settings: &Settings, transactions: &[Transaction]) -> Result<Outcome> {
    runtime()?.block_on(submit(settings, transactions))
}

/// [`submit_with`], blocking.
pub fn submit_blocking_with(
    settings: &Settings,
    transactions: &[Transaction],
    options: &Options,
) -> Result<Outcome> {
    runtime()?.block_on(submit_with(settings, transactions, options))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the network runtime", e))
}

/// Submits `transactions` over one connection to the relay; any refusal
/// fails the submission.
pub async fn submit(settings: &Settings, transactions: &[Transaction]) -> Result<Outcome> {
    submit_with(settings, transactions, &Options::default()).await
}

/// Submits `transactions` over one connection to the relay, as `options`
/// say. Without [`Options::partial`] the first refusal ends it with an
/// error that names the transactions already accepted.
pub async fn submit_with(
    settings: &Settings,
    transactions: &[Transaction],
    options: &Options,
) -> Result<Outcome> {
    for tx in transactions {
        // An empty sender is the null reverse-path `<>` (bounces).
        let from = std::iter::once(&tx.from).filter(|f| !f.is_empty());
        for address in from.chain(&tx.to) {
            check_address(address)?;
        }
        if tx.to.is_empty() {
            return Err(Error::Usage("a transaction has no recipients".into()));
        }
    }
    let mut session = open(settings, options.trace.clone()).await?;
    session.login(settings).await?;
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (i, tx) in transactions.iter().enumerate() {
        match session.send(tx, options).await {
            Ok(sent) => {
                rejected.extend(sent.rejected);
                if let Some(reply) = sent.reply {
                    accepted.push(Accepted {
                        recipients: sent.accepted,
                        reply: reply.text(),
                    });
                }
            }
            Err(e) if options.partial => {
                // The whole transaction failed; the next one may still go
                // through, unless the connection itself is gone.
                let reason = reason(&e);
                let permanent = matches!(e, Error::Unavailable(_) | Error::Usage(_));
                let lost = if session.wire.broken {
                    &transactions[i..]
                } else {
                    std::slice::from_ref(tx)
                };
                for recipient in lost.iter().flat_map(|t| &t.to) {
                    rejected.push(Rejected {
                        recipient: recipient.clone(),
                        reason: reason.clone(),
                        permanent,
                    });
                }
                if session.wire.broken {
                    break;
                }
            }
            Err(e) => return Err(with_progress(e, &accepted)),
        }
    }
    session.quit().await;
    Ok(Outcome {
        transport: session.transport,
        accepted,
        rejected,
    })
}

/// Connects, checks TLS and logs in (when configured), without sending
/// mail: `mailseal relay check`.
pub fn check_blocking(settings: &Settings, trace: Option<Trace>) -> Result<Transport> {
    runtime()?.block_on(async {
        let mut session = open(settings, trace).await?;
        session.login(settings).await?;
        session.quit().await;
        Ok(session.transport)
    })
}

/// A TLS session per the relay's mode.
async fn open(settings: &Settings, trace: Option<Trace>) -> Result<TlsSession> {
    let ca_files: Vec<&Path> = settings.ca_files.iter().map(PathBuf::as_path).collect();
    let config = tls::client_config(&ca_files)?;
    match settings.tls {
        Tls::Starttls => {
            PlainConnection::connect(settings, trace)
                .await?
                .starttls(settings, config)
                .await
        }
        Tls::Implicit => {
            let tcp = tcp_connect(settings).await?;
            let mut session =
                TlsSession::handshake(settings, config, tcp, "implicit", trace).await?;
            let greeting = session.wire.reply("greeting").await?;
            expect(&greeting, "greeting", |c| c == 220)?;
            session.ehlo().await?;
            Ok(session)
        }
    }
}

/// Refuses addresses that could smuggle SMTP syntax.
fn check_address(address: &str) -> Result<()> {
    let bad = address.is_empty()
        || address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>');
    if bad {
        return Err(Error::Usage(format!("not a usable address: {address:?}")));
    }
    Ok(())
}

/// Why a recipient was not accepted, without the error's own prefix
/// ("not accepted: …") that the report line already says.
fn reason(error: &Error) -> String {
    match error {
        Error::Temporary(m) | Error::Unavailable(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Adds to a failure which earlier transactions were already accepted.
fn with_progress(error: Error, accepted: &[Accepted]) -> Error {
    if accepted.is_empty() {
        return error;
    }
    let done: Vec<String> = accepted.iter().flat_map(|a| a.recipients.clone()).collect();
    let note = format!(" (already accepted, do not resend to: {})", done.join(", "));
    match error {
        Error::Temporary(m) => Error::Temporary(m + &note),
        Error::Unavailable(m) => Error::Unavailable(m + &note),
        Error::AuthRefused { relay, message } => Error::AuthRefused {
            relay,
            message: message + &note,
        },
        Error::TlsRefused(m) => Error::TlsRefused(m + &note),
        other => other,
    }
}

async fn tcp_connect(settings: &Settings) -> Result<TcpStream> {
    let target = settings
        .connect_to
        .clone()
        .unwrap_or_else(|| format!("{}:{}", settings.host, settings.port));
    let stage = format!("connecting to {target}");
    match tokio::time::timeout(settings.timeout, TcpStream::connect(&target)).await {
        Ok(Ok(tcp)) => Ok(tcp),
        Ok(Err(e)) => Err(Error::Temporary(format!("{stage}: {e}"))),
        Err(_) => Err(Error::Temporary(format!(
            "{stage}: no connection within {}s",
            settings.timeout.as_secs()
        ))),
    }
}

/// Maps a reply that is not the one wanted to the error its class calls for.
fn expect(reply: &Reply, stage: &str, ok: impl Fn(u16) -> bool) -> Result<()> {
    if ok(reply.code) {
        return Ok(());
    }
    let message = format!("{stage}: the relay answered {}", reply.text());
    Err(if reply.is_transient() {
        Error::Temporary(message)
    } else {
        Error::Unavailable(message)
    })
}

/// A buffered connection with a timeout on every read and write.
struct Wire<S> {
    io: BufReader<S>,
    timeout: Duration,
    trace: Option<Trace>,
    /// A read or write failed or timed out: nothing more can be said.
    broken: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    fn new(stream: S, timeout: Duration, trace: Option<Trace>) -> Self {
        Wire {
            io: BufReader::new(stream),
            timeout,
            trace,
            broken: false,
        }
    }

    fn trace(&self, line: &str) {
        if let Some(trace) = &self.trace {
            trace(line);
        }
    }

    fn timed_out(&self, stage: &str) -> Error {
        Error::Temporary(format!(
            "{stage}: no answer from the relay within {}s",
            self.timeout.as_secs()
        ))
    }

    async fn reply(&mut self, stage: &str) -> Result<Reply> {
        let read = tokio::time::timeout(self.timeout, reply::read_reply(&mut self.io)).await;
        let result = match read {
            Err(_) => Err(self.timed_out(stage)),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(reply::ReadError::Closed)) => Err(Error::Temporary(format!(
                "{stage}: the relay closed the connection"
            ))),
            Ok(Err(reply::ReadError::Io(e))) => Err(Error::Temporary(format!("{stage}: {e}"))),
            Ok(Err(reply::ReadError::Malformed(m))) => {
                Err(Error::Unavailable(format!("{stage}: {m}")))
            }
        };
        match &result {
            Ok(reply) => {
                let last = reply.lines.len().saturating_sub(1);
                for (i, line) in reply.lines.iter().enumerate() {
                    match (&reply.enhanced, i == last) {
                        (Some(e), true) => self.trace(&format!("< {} {e} {line}", reply.code)),
                        (None, true) => self.trace(&format!("< {} {line}", reply.code)),
                        (_, false) => self.trace(&format!("< {}-{line}", reply.code)),
                    }
                }
            }
            Err(e) => {
                self.broken = true;
                self.trace(&format!("* {e}"));
            }
        }
        result
    }

    /// Writes `bytes`; `stage` names it in errors (never the bytes).
    async fn write(&mut self, bytes: &[u8], stage: &str) -> Result<()> {
        let stream = self.io.get_mut();
        let io = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        let result = match tokio::time::timeout(self.timeout, io).await {
            Err(_) => Err(self.timed_out(stage)),
            Ok(Err(e)) => Err(Error::Temporary(format!("{stage}: {e}"))),
            Ok(Ok(())) => Ok(()),
        };
        self.broken |= result.is_err();
        result
    }

    async fn command(&mut self, line: &str, stage: &str) -> Result<Reply> {
        self.command_shown(line, line, stage).await
    }

    /// Sends `line` and reads the reply; the trace shows `shown` instead
    /// (for lines that carry credentials).
    async fn command_shown(&mut self, line: &str, shown: &str, stage: &str) -> Result<Reply> {
        self.trace(&format!("> {shown}"));
        self.write(format!("{line}\r\n").as_bytes(), stage).await?;
        self.reply(stage).await
    }
}

/// What the server announced in its EHLO reply.
#[derive(Debug, Default)]
struct Capabilities {
    starttls: bool,
    auth: Vec<String>,
    size: Option<u64>,
    eight_bit_mime: bool,
    smtputf8: bool,
    dsn: bool,
}

impl Capabilities {
    fn parse(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "AUTH" => caps.auth.extend(words.map(|w| w.to_ascii_uppercase())),
                "SIZE" => caps.size = words.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0),
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "DSN" => caps.dsn = true,
                _ => {}
            }
        }
        caps
    }
}

const EHLO: &str = "EHLO localhost";

/// A connection before TLS. It can greet, EHLO and ask for STARTTLS; it has
/// no way to send credentials or mail.
pub struct PlainConnection {
    wire: Wire<TcpStream>,
}

impl PlainConnection {
    async fn connect(settings: &Settings, trace: Option<Trace>) -> Result<PlainConnection> {
        let tcp = tcp_connect(settings).await?;
        Ok(PlainConnection {
            wire: Wire::new(tcp, settings.timeout, trace),
        })
    }

    /// Greeting, EHLO, STARTTLS (which must be advertised and accepted),
    /// handshake, and EHLO again inside TLS.
    async fn starttls(
        mut self,
        settings: &Settings,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<TlsSession> {
        let greeting = self.wire.reply("greeting").await?;
        expect(&greeting, "greeting", |c| c == 220)?;
        let ehlo = self.wire.command(EHLO, "EHLO").await?;
        expect(&ehlo, "EHLO", |c| c == 250)?;
        if !Capabilities::parse(&ehlo).starttls {
            return Err(Error::TlsRefused(format!(
                "{} does not offer STARTTLS (or something on the path removed it)",
                settings.host
            )));
        }
        let reply = self.wire.command("STARTTLS", "STARTTLS").await?;
        if reply.code != 220 {
            return Err(Error::TlsRefused(format!(
                "{} answered STARTTLS with {}",
                settings.host,
                reply.text()
            )));
        }
        if !self.wire.io.buffer().is_empty() {
            return Err(Error::TlsRefused(
                "the relay sent data after its STARTTLS reply, before TLS (injection)".into(),
            ));
        }
        // Everything learned in clear goes away with the plain connection.
        let trace = self.wire.trace.take();
        let tcp = self.wire.io.into_inner();
        let mut session = TlsSession::handshake(settings, config, tcp, "starttls", trace).await?;
        session.ehlo().await?;
        Ok(session)
    }
}

/// What became of one transaction.
#[derive(Default)]
struct Sent {
    /// The final reply to the data; `None` when every recipient was refused.
    reply: Option<Reply>,
    accepted: Vec<String>,
    rejected: Vec<Rejected>,
}

/// A verified TLS session: the only place AUTH, MAIL, RCPT and DATA exist.
pub struct TlsSession {
    wire: Wire<TlsStream<TcpStream>>,
    caps: Capabilities,
    transport: Transport,
}

impl TlsSession {
    async fn handshake(
        settings: &Settings,
        config: Arc<rustls::ClientConfig>,
        tcp: TcpStream,
        mode: &'static str,
        trace: Option<Trace>,
    ) -> Result<TlsSession> {
        let name = ServerName::try_from(settings.host.clone()).map_err(|e| {
            Error::TlsRefused(format!(
                "{:?} is not a valid server name: {e}",
                settings.host
            ))
        })?;
        let connector = TlsConnector::from(config);
        let stream =
            match tokio::time::timeout(settings.timeout, connector.connect(name, tcp)).await {
                Err(_) => {
                    return Err(Error::TlsRefused(format!(
                        "TLS handshake with {} did not finish within {}s",
                        settings.host,
                        settings.timeout.as_secs()
                    )))
                }
                Ok(Err(e)) => {
                    return Err(Error::TlsRefused(format!(
                        "TLS handshake with {} failed: {}",
                        settings.host,
                        tls::explain(&e, &settings.name)
                    )))
                }
                Ok(Ok(stream)) => stream,
            };
        let (_, conn) = stream.get_ref();
        let chain = conn.peer_certificates().unwrap_or_default();
        let spki = chain.first().and_then(|c| spki_pin(c));
        if let Some(pin) = &settings.pin {
            let wanted = format!(
                "sha256/{}",
                base64::engine::general_purpose::STANDARD.encode(pin.0)
            );
            if spki.as_deref() != Some(wanted.as_str()) {
                return Err(Error::TlsRefused(format!(
                    "the certificate of {} does not match the configured pin (it has {})",
                    settings.host,
                    spki.as_deref().unwrap_or("no readable public key")
                )));
            }
        }
        let transport = Transport {
            relay: settings.name.clone(),
            host: settings.host.clone(),
            port: settings.port,
            mode,
            tls_version: conn
                .protocol_version()
                .map(tls::version_name)
                .unwrap_or_default(),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            server_name_verified: settings.host.clone(),
            spki_pin: spki,
            pin_checked: settings.pin.is_some(),
            certificate_chain: chain.iter().map(|c| cert_info(c)).collect(),
            auth_mechanisms: Vec::new(),
            authenticated_as: None,
        };
        let wire = Wire::new(stream, settings.timeout, trace);
        wire.trace(&format!(
            "* TLS {} {}, certificate verified for {}{}",
            transport.tls_version,
            transport.cipher_suite,
            transport.server_name_verified,
            if transport.pin_checked {
                ", pin matched"
            } else {
                ""
            }
        ));
        Ok(TlsSession {
            wire,
            caps: Capabilities::default(),
            transport,
        })
    }

    async fn ehlo(&mut self) -> Result<()> {
        let reply = self.wire.command(EHLO, "EHLO").await?;
        expect(&reply, "EHLO", |c| c == 250)?;
        self.caps = Capabilities::parse(&reply);
        self.transport.auth_mechanisms = self.caps.auth.clone();
        Ok(())
    }

    /// Logs in with PLAIN or LOGIN when the relay has a username.
    async fn login(&mut self, settings: &Settings) -> Result<()> {
        let (Some(user), Some(password)) = (&settings.username, &settings.password) else {
            return Ok(());
        };
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let auth_error = |reply: &Reply| {
            let message = format!("the relay answered {}", reply.text());
            if reply.is_transient() {
                Error::Temporary(format!("AUTH: {message}"))
            } else {
                Error::AuthRefused {
                    relay: settings.name.clone(),
                    message,
                }
            }
        };
        let offered = |m: &str| self.caps.auth.iter().any(|o| o == m);
        let mechanism = match &settings.auth {
            Some(m) if offered(m) => m.as_str(),
            None if offered("PLAIN") => "PLAIN",
            None if offered("LOGIN") => "LOGIN",
            wanted => {
                return Err(Error::AuthRefused {
                    relay: settings.name.clone(),
                    message: format!(
                        "{} offers no AUTH {} inside TLS (offered: {})",
                        settings.host,
                        wanted.as_deref().unwrap_or("PLAIN or LOGIN"),
                        if self.caps.auth.is_empty() {
                            "none".to_string()
                        } else {
                            self.caps.auth.join(" ")
                        }
                    ),
                });
            }
        };
        let stage = format!("AUTH {mechanism}");
        const REDACTED: &str = "[redacted]";
        let reply = match mechanism {
            "LOGIN" => {
                let reply = self.wire.command("AUTH LOGIN", &stage).await?;
                if reply.code != 334 {
                    return Err(auth_error(&reply));
                }
                let reply = self
                    .wire
                    .command_shown(&b64(user.as_bytes()), REDACTED, &stage)
                    .await?;
                if reply.code != 334 {
                    return Err(auth_error(&reply));
                }
                self.wire
                    .command_shown(&b64(password.expose().as_bytes()), REDACTED, &stage)
                    .await?
            }
            _ => {
                let token = match mechanism {
                    "XOAUTH2" => {
                        format!("user={user}\x01auth=Bearer {}\x01\x01", password.expose())
                    }
                    "OAUTHBEARER" => format!(
                        "n,a={},\x01auth=Bearer {}\x01\x01",
                        user.replace('=', "=3D").replace(',', "=2C"),
                        password.expose()
                    ),
                    _ => format!("\0{user}\0{}", password.expose()),
                };
                let reply = self
                    .wire
                    .command_shown(
                        &format!("{stage} {}", b64(token.as_bytes())),
                        &format!("{stage} {REDACTED}"),
                        &stage,
                    )
                    .await?;
                if reply.code == 334 {
                    // An OAuth error challenge: acknowledge it to get the
                    // final reply (RFC 7628 §3.2.3).
                    let ack = if mechanism == "OAUTHBEARER" {
                        "AQ=="
                    } else {
                        ""
                    };
                    self.wire.command(ack, &stage).await?
                } else {
                    reply
                }
            }
        };
        if reply.code != 235 {
            return Err(auth_error(&reply));
        }
        self.transport.authenticated_as = Some(user.clone());
        Ok(())
    }

    /// One transaction: MAIL, RCPT for each recipient, DATA. Refused
    /// recipients end it with an error unless `options.partial`: then the
    /// others still get the message, and with none left it is abandoned.
    async fn send(&mut self, tx: &Transaction, options: &Options) -> Result<Sent> {
        // A first pass for what MAIL FROM declares; the data is sent in a
        // second one.
        let unreadable = |e| Error::io("reading the message to send", e);
        let (mut wire_size, mut eight_bit) = (0u64, false);
        let mut pass = Stuffed::new(&tx.data);
        while let Some(piece) = pass.next().await.map_err(unreadable)? {
            wire_size += piece.len() as u64;
            eight_bit |= piece.iter().any(|b| *b >= 0x80);
        }
        let mut params = String::new();
        if let Some(limit) = self.caps.size {
            if wire_size > limit {
                return Err(Error::Unavailable(format!(
                    "the message is {wire_size} bytes; the relay accepts at most {limit}"
                )));
            }
            params.push_str(&format!(" SIZE={wire_size}"));
        }
        if self.caps.eight_bit_mime && eight_bit {
            params.push_str(" BODY=8BITMIME");
        }
        let non_ascii = std::iter::once(&tx.from)
            .chain(&tx.to)
            .any(|a| !a.is_ascii());
        if non_ascii {
            if !self.caps.smtputf8 {
                return Err(Error::Unavailable(
                    "an address is not ASCII and the relay does not offer SMTPUTF8".into(),
                ));
            }
            params.push_str(" SMTPUTF8");
        }
        let dsn = &options.dsn;
        let use_dsn = self.caps.dsn && !dsn.is_empty();
        if !self.caps.dsn && !dsn.is_empty() {
            self.wire
                .trace("* the relay does not offer DSN: NOTIFY, RET and ENVID are left out");
        }
        if use_dsn {
            if let Some(ret) = &dsn.ret {
                params.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = &dsn.envid {
                params.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        let reply = self
            .wire
            .command(&format!("MAIL FROM:<{}>{params}", tx.from), "MAIL FROM")
            .await?;
        expect(&reply, "MAIL FROM", |c| c == 250)?;
        let notify = match (&dsn.notify, use_dsn) {
            (Some(n), true) => format!(" NOTIFY={n}"),
            _ => String::new(),
        };
        let mut sent = Sent::default();
        for rcpt in &tx.to {
            let stage = format!("RCPT TO:<{rcpt}>");
            let reply = self
                .wire
                .command(&format!("{stage}{notify}"), &stage)
                .await?;
            match expect(&reply, &stage, |c| c == 250 || c == 251) {
                Ok(()) => sent.accepted.push(rcpt.clone()),
                Err(e) if options.partial => sent.rejected.push(Rejected {
                    recipient: rcpt.clone(),
                    reason: reason(&e),
                    permanent: !reply.is_transient(),
                }),
                Err(e) => {
                    // Leave the transaction so nothing is half-delivered.
                    let _ = self.wire.command("RSET", "RSET").await;
                    return Err(e);
                }
            }
        }
        if sent.accepted.is_empty() {
            let _ = self.wire.command("RSET", "RSET").await;
            return Ok(sent);
        }
        let reply = self.wire.command("DATA", "DATA").await?;
        expect(&reply, "DATA", |c| c == 354)?;
        self.wire
            .trace(&format!("> [message: {} bytes]", tx.data.size()));
        // In pieces, so the timeout bounds a stall, not the size of the
        // message.
        let mut pass = Stuffed::new(&tx.data);
        while let Some(piece) = pass.next().await.map_err(unreadable)? {
            self.wire.write(&piece, "message data").await?;
        }
        let reply = self.wire.reply("end of data").await?;
        expect(&reply, "end of data", |c| c == 250)?;
        sent.reply = Some(reply);
        Ok(sent)
    }

    async fn quit(&mut self) {
        let _ = self.wire.command("QUIT", "QUIT").await;
        let _ = tokio::time::timeout(self.wire.timeout, self.wire.io.get_mut().shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smuggling_addresses_are_refused() {
        assert!(check_address("a@b").is_ok());
        for bad in ["a@b>\r\nRCPT TO:<c@d", "a b@c", "", "<a@b>"] {
            assert_eq!(check_address(bad).unwrap_err().exit_code(), 64, "{bad:?}");
        }
    }

    #[test]
    fn capabilities_are_parsed() {
        let reply = Reply::parse(&[
            "250-mx hello".into(),
            "250-AUTH PLAIN login".into(),
            "250-SIZE 1000".into(),
            "250 8BITMIME".into(),
        ])
        .unwrap();
        let caps = Capabilities::parse(&reply);
        assert!(!caps.starttls);
        assert_eq!(caps.auth, ["PLAIN", "LOGIN"]);
        assert_eq!(caps.size, Some(1000));
        assert!(caps.eight_bit_mime);
        assert!(!caps.dsn);
    }

    #[test]
    fn dsn_values_are_checked_and_envid_is_xtext() {
        let dsn = Dsn::new(Some("success, Failure"), Some("hdrs"), Some("a+b=c")).unwrap();
        assert_eq!(dsn.notify.as_deref(), Some("SUCCESS,FAILURE"));
        assert_eq!(dsn.ret.as_deref(), Some("HDRS"));
        assert_eq!(xtext(dsn.envid.as_deref().unwrap()), "a+2Bb+3Dc");
        for (n, r, v) in [
            (Some("never,success"), None, None),
            (Some("sometimes"), None, None),
            (None, Some("all"), None),
            (None, None, Some("two words")),
        ] {
            assert_eq!(Dsn::new(n, r, v).unwrap_err().exit_code(), 64);
        }
    }
}
