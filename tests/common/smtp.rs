//! An in-process SMTP submission server for tests, on 127.0.0.1 port 0:
//! STARTTLS, implicit TLS, a STARTTLS-stripping attacker, a server that
//! refuses STARTTLS or stalls, and certificates from a test CA (good,
//! unknown CA, wrong host name, expired). It records every command line it
//! receives and whether TLS was up at that moment.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// The password the server accepts for user "alice".
pub const PASSWORD: &str = "s3cret-Pw-7781";

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain greeting, STARTTLS offered, AUTH only after TLS.
    Starttls,
    /// TLS from the first byte.
    Implicit,
    /// An attacker that strips STARTTLS and offers AUTH in clear.
    Stripped,
    /// STARTTLS offered but answered 454.
    Refuses,
    /// Accepts the connection and never says anything.
    Stall,
    /// Like `Starttls`, but sends a forged reply right behind its STARTTLS
    /// answer, in clear (response injection, CVE-2011-0411 style).
    Inject,
    /// Like `Starttls`, offering only AUTH LOGIN.
    LoginOnly,
    /// Like `Starttls`, also offering DSN (RFC 3461).
    Dsn,
}

/// Which certificate the server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    Good,
    UnknownCa,
    WrongHost,
    Expired,
    /// The test CA's own certificate as the server's (CA:TRUE, self-signed,
    /// in the CA file), as `openssl req -x509` makes by default.
    SelfSigned,
}

/// A scripted failure: when a command line starting with the first element
/// arrives (or `DATA_END` for the end of the message data), answer the
/// second instead.
pub type Failure = (&'static str, &'static str);

/// One command line as received.
#[derive(Debug, Clone)]
pub struct Event {
    pub line: String,
    pub tls: bool,
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct Record {
    pub events: Vec<Event>,
    pub messages: Vec<Received>,
    pub connections: usize,
}

/// A running test server.
pub struct Server {
    pub port: u16,
    pub record: Arc<Mutex<Record>>,
    /// The test CA that the client should trust.
    pub ca_file: PathBuf,
    /// `sha256/…` of the server certificate's public key.
    pub pin: String,
    _dir: tempfile::TempDir,
}

struct Options {
    mode: Mode,
    failure: Option<Failure>,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, CertificateDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (params, key, cert.der().clone())
}

impl Server {
    pub fn start(mode: Mode, cert: CertKind, failure: Option<Failure>) -> Server {
        Server::start_on(0, mode, cert, failure)
    }

    /// Like [`Server::start`], on 127.0.0.1:`port` (0: any free port), e.g.
    /// an upstream that comes back on the port it had.
    pub fn start_on(port: u16, mode: Mode, cert: CertKind, failure: Option<Failure>) -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (trusted_params, trusted_key, trusted_der) = ca("mailseal test CA");
        let ca_file = dir.path().join("ca.pem");
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(&trusted_der)
        );
        std::fs::write(&ca_file, pem).unwrap();

        let (issuer_params, issuer_key, issuer_der) = match cert {
            CertKind::UnknownCa => ca("some other CA"),
            _ => (trusted_params, trusted_key, trusted_der),
        };
        let host = if cert == CertKind::WrongHost {
            "mail.other.example"
        } else {
            "localhost"
        };
        let leaf_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, host);
        if cert == CertKind::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let issuer = Issuer::new(issuer_params, issuer_key);
        let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
        let self_signed = cert == CertKind::SelfSigned;
        let server_key: &KeyPair = if self_signed { issuer.key() } else { &leaf_key };
        let pin = format!(
            "sha256/{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(
                rcgen::PublicKeyData::subject_public_key_info(server_key)
            ))
        );
        let chain = if self_signed {
            vec![issuer_der]
        } else {
            vec![leaf.der().clone(), issuer_der]
        };
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let record = Arc::new(Mutex::new(Record::default()));
        let options = Arc::new(Options { mode, failure });
        let shared = record.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                // The server lives at most a minute.
                let _ = tokio::time::timeout(Duration::from_secs(60), async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            return;
                        };
                        shared.lock().unwrap().connections += 1;
                        let (acceptor, options, shared) =
                            (acceptor.clone(), options.clone(), shared.clone());
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(20),
                                connection(tcp, acceptor, options, shared),
                            )
                            .await;
                        });
                    }
                })
                .await;
            });
        });
        Server {
            port,
            record,
            ca_file,
            pin,
            _dir: dir,
        }
    }

    /// A config.toml whose `[relay.default]` points at this server (user
    /// alice, password from TEST_PW, this server's CA), `extra` added to
    /// the relay table, and `[policy] default = policy`.
    pub fn relay_config(&self, tls: &str, policy: &str, extra: &str) -> String {
        format!(
            "[relay.default]\nhost = \"localhost\"\nport = {}\ntls = \"{tls}\"\nusername = \"alice\"\npassword = \"env:TEST_PW\"\nca_file = \"{}\"\ntimeout_secs = 2\n{extra}\n[policy]\ndefault = \"{policy}\"\n",
            self.port,
            self.ca_file.display()
        )
    }

    /// Every command line received, with whether TLS was up.
    pub fn events(&self) -> Vec<Event> {
        self.record.lock().unwrap().events.clone()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.record.lock().unwrap().messages.clone()
    }

    /// Whether any command starting with `verb` arrived.
    pub fn saw(&self, verb: &str) -> bool {
        self.events()
            .iter()
            .any(|e| e.line.to_ascii_uppercase().starts_with(verb))
    }

    /// Panics if anything beyond EHLO/STARTTLS/QUIT arrived: no AUTH, MAIL,
    /// RCPT, DATA, no message.
    #[track_caller]
    pub fn assert_nothing_sent(&self) {
        for verb in ["AUTH", "MAIL", "RCPT", "DATA"] {
            assert!(!self.saw(verb), "server saw {verb}: {:?}", self.events());
        }
        for e in self.events() {
            let upper = e.line.to_ascii_uppercase();
            assert!(
                upper.starts_with("EHLO") || upper.starts_with("STARTTLS") || upper == "QUIT",
                "unexpected line {e:?}"
            );
            assert!(!e.line.contains(PASSWORD));
        }
        assert!(self.messages().is_empty());
    }
}

async fn connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    options: Arc<Options>,
    record: Arc<Mutex<Record>>,
) {
    match options.mode {
        Mode::Stall => tokio::time::sleep(Duration::from_secs(30)).await,
        Mode::Implicit => {
            if let Ok(tls) = acceptor.accept(tcp).await {
                session(tls, true, true, &options, &record).await;
            }
        }
        _ => {
            if let Some(tcp) = session(tcp, false, true, &options, &record).await {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    session(tls, true, false, &options, &record).await;
                }
            }
        }
    }
}

async fn read_line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Option<String> {
    let mut line = String::new();
    match io.read_line(&mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

/// Runs one session; returns the stream when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: bool,
    greet: bool,
    options: &Options,
    record: &Mutex<Record>,
) -> Option<S> {
    let mut io = BufReader::new(stream);
    macro_rules! say {
        ($text:expr) => {
            if io.get_mut().write_all($text.as_bytes()).await.is_err() {
                return None;
            }
        };
    }
    // A failure applies to the command lines that start with its verb (or
    // a longer prefix such as `RCPT TO:<carol@example.com>`).
    let failure = |line: &str| {
        options
            .failure
            .filter(|(v, _)| {
                line.to_ascii_uppercase()
                    .starts_with(&v.to_ascii_uppercase())
            })
            .map(|(_, r)| r)
    };
    if greet {
        say!("220 localhost ESMTP mailseal test server\r\n");
    }
    let mut envelope: Option<(String, Vec<String>)> = None;
    loop {
        let line = read_line(&mut io).await?;
        record.lock().unwrap().events.push(Event {
            line: line.clone(),
            tls,
        });
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if let Some(reply) = failure(&line) {
            say!(format!("{reply}\r\n"));
            continue;
        }
        match verb.as_str() {
            "EHLO" => {
                let mut caps = String::from("250-localhost greets you\r\n");
                if !tls
                    && matches!(
                        options.mode,
                        Mode::Starttls | Mode::Refuses | Mode::Inject | Mode::LoginOnly | Mode::Dsn
                    )
                {
                    caps.push_str("250-STARTTLS\r\n");
                }
                if tls && options.mode == Mode::Dsn {
                    caps.push_str("250-DSN\r\n");
                }
                if options.mode == Mode::LoginOnly && tls {
                    caps.push_str("250-AUTH LOGIN\r\n");
                } else if tls {
                    caps.push_str("250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER\r\n");
                } else if options.mode == Mode::Stripped {
                    caps.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                caps.push_str("250-SIZE 10000000\r\n250-8BITMIME\r\n250 PIPELINING\r\n");
                say!(caps);
            }
            "STARTTLS" => {
                if options.mode == Mode::Refuses {
                    say!("454 4.7.0 TLS not available due to temporary reason\r\n");
                } else if !tls && options.mode == Mode::Inject {
                    say!("220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN\r\n");
                    return Some(io.into_inner());
                } else if !tls
                    && matches!(options.mode, Mode::Starttls | Mode::LoginOnly | Mode::Dsn)
                {
                    say!("220 2.0.0 Ready to start TLS\r\n");
                    return Some(io.into_inner());
                } else {
                    say!("503 5.5.1 no\r\n");
                }
            }
            "AUTH" => {
                let words: Vec<&str> = line.split_whitespace().collect();
                let (user, pass) = match words.get(1).map(|m| m.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let token = match words.get(2) {
                            Some(t) => t.to_string(),
                            None => {
                                say!("334 \r\n");
                                read_line(&mut io).await?
                            }
                        };
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(token)
                            .unwrap_or_default();
                        let parts: Vec<String> = raw
                            .split(|b| *b == 0)
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                            .collect();
                        (
                            parts.get(1).cloned().unwrap_or_default(),
                            parts.get(2).cloned().unwrap_or_default(),
                        )
                    }
                    Some("LOGIN") => {
                        let decode = |s: String| {
                            String::from_utf8_lossy(
                                &base64::engine::general_purpose::STANDARD
                                    .decode(s)
                                    .unwrap_or_default(),
                            )
                            .into_owned()
                        };
                        say!("334 VXNlcm5hbWU6\r\n");
                        let user = decode(read_line(&mut io).await?);
                        say!("334 UGFzc3dvcmQ6\r\n");
                        let pass = decode(read_line(&mut io).await?);
                        (user, pass)
                    }
                    Some(mech @ ("XOAUTH2" | "OAUTHBEARER")) => {
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(words.get(2).unwrap_or(&""))
                            .unwrap_or_default();
                        let text = String::from_utf8_lossy(&raw).into_owned();
                        let ok_user = if mech == "XOAUTH2" {
                            "user=alice\x01"
                        } else {
                            "n,a=alice,\x01"
                        };
                        let good = text.starts_with(ok_user)
                            && text.ends_with(&format!("\x01auth=Bearer {PASSWORD}\x01\x01"));
                        if good {
                            say!("235 2.7.0 Accepted\r\n");
                        } else {
                            say!("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
                            read_line(&mut io).await?;
                            say!("535 5.7.8 token rejected\r\n");
                        }
                        continue;
                    }
                    _ => {
                        say!("504 5.5.4 unknown mechanism\r\n");
                        continue;
                    }
                };
                if user == "alice" && pass == PASSWORD {
                    say!("235 2.7.0 Authentication successful\r\n");
                } else {
                    say!("535 5.7.8 Authentication credentials invalid\r\n");
                }
            }
            "MAIL" => {
                let from = between_brackets(&line);
                envelope = Some((from, Vec::new()));
                say!("250 2.1.0 Sender ok\r\n");
            }
            "RCPT" => match envelope.as_mut() {
                Some((_, to)) => {
                    to.push(between_brackets(&line));
                    say!("250 2.1.5 Recipient ok\r\n");
                }
                None => say!("503 5.5.1 MAIL first\r\n"),
            },
            "DATA" => {
                say!("354 End data with <CR><LF>.<CR><LF>\r\n");
                let mut data = String::new();
                loop {
                    let line = read_line(&mut io).await?;
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                if let Some(reply) = failure("DATA_END") {
                    say!(format!("{reply}\r\n"));
                    continue;
                }
                let (from, to) = envelope.take().unwrap_or_default();
                let n = {
                    let mut record = record.lock().unwrap();
                    record.messages.push(Received { from, to, data });
                    record.messages.len()
                };
                say!(format!("250 2.0.0 Ok: queued as Q{n}\r\n"));
            }
            "RSET" => {
                envelope = None;
                say!("250 2.0.0 Ok\r\n");
            }
            "QUIT" => {
                say!("221 2.0.0 Bye\r\n");
                return None;
            }
            _ => say!("500 5.5.2 Error: command not recognized\r\n"),
        }
    }
}

fn between_brackets(line: &str) -> String {
    let start = line.find('<').map(|i| i + 1).unwrap_or(0);
    let end = line[start..]
        .find('>')
        .map(|i| i + start)
        .unwrap_or(line.len());
    line[start..end].to_string()
}
