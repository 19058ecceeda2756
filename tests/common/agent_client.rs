//! A blocking SMTP client for talking to `mailseal agent` (including what
//! a correct client never would), the agent as a child process on
//! 127.0.0.1 port 0 (its address read from its first log line), and
//! polling with a deadline. Shared by tests/agent.rs and the benchmark
//! (examples/agent_bench.rs), so it depends on nothing of the test crate.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// The password clients log in to the agent with (`env:AGENT_PW`).
pub const AGENT_PASSWORD: &str = "agent-Pw-4410";
/// The agent's default user name.
pub const AGENT_USER: &str = "mailseal";

/// Polls `done` every 25 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A running `mailseal agent` child process.
pub struct AgentProc {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
    pub cert: PathBuf,
}

impl AgentProc {
    /// Runs `command` (a `mailseal --home HOME agent --listen
    /// 127.0.0.1:0`) with AGENT_PW set, and waits for it to listen.
    pub fn spawn(mut command: Command, home: &Path) -> AgentProc {
        command
            .env("AGENT_PW", AGENT_PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn mailseal agent");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                    let _ = tx.send(port.parse::<u16>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the agent did not start listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        AgentProc {
            child,
            port,
            log,
            cert: home.join("agent").join("cert.pem"),
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits (at most 40 s) for the exit code.
    pub fn terminate(&mut self) -> i32 {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the log reader catch up.
                std::thread::sleep(Duration::from_millis(50));
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                panic!("the agent did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The connection, before or after STARTTLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A reply: its code (0 when the connection ended) and all its text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

/// A blocking SMTP client with a 10 s timeout on every read.
pub struct Client {
    io: Option<BufReader<Stream>>,
}

impl Client {
    /// Connects and reads the greeting.
    pub fn connect(port: u16) -> (Client, Reply) {
        Self::try_connect(port).expect("connect to the agent")
    }

    /// Connects and reads the greeting, if the port takes connections.
    pub fn try_connect(port: u16) -> Option<(Client, Reply)> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        tcp.set_write_timeout(Some(Duration::from_secs(10))).ok()?;
        let mut client = Client {
            io: Some(BufReader::new(Stream::Plain(tcp))),
        };
        let greeting = client.reply();
        Some((client, greeting))
    }

    fn io(&mut self) -> &mut BufReader<Stream> {
        self.io.as_mut().unwrap()
    }

    /// Writes raw bytes (errors ignored: the server may have closed).
    pub fn send(&mut self, bytes: &[u8]) {
        let io = self.io().get_mut();
        let _ = io.write_all(bytes);
        let _ = io.flush();
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> Reply {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            match self.io().read_line(&mut line) {
                Ok(0) | Err(_) => return Reply { code: 0, text },
                Ok(_) => {}
            }
            text.push_str(&line);
            let bytes = line.as_bytes();
            if bytes.len() < 4 || bytes[3] != b'-' {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return Reply { code, text };
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// STARTTLS, trusting only the agent's certificate in `cert`, then EHLO.
    pub fn starttls(&mut self, cert: &Path) -> Reply {
        let reply = self.cmd("STARTTLS");
        assert_eq!(reply.code, 220, "{reply:?}");
        let io = self.io.take().unwrap();
        assert!(io.buffer().is_empty());
        let Stream::Plain(tcp) = io.into_inner() else {
            panic!("already TLS")
        };
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(cert).expect("agent certificate"))
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let conn = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.flush().unwrap();
        self.io = Some(BufReader::new(Stream::Tls(Box::new(tls))));
        self.cmd("EHLO client.example")
    }

    /// EHLO, STARTTLS, EHLO, AUTH PLAIN as the agent user.
    pub fn secure_login(port: u16, cert: &Path) -> Client {
        let (mut client, greeting) = Client::connect(port);
        assert_eq!(greeting.code, 220, "{greeting:?}");
        assert_eq!(client.cmd("EHLO client.example").code, 250);
        let ehlo = client.starttls(cert);
        assert!(ehlo.text.contains("AUTH PLAIN LOGIN"), "{ehlo:?}");
        let reply = client.login(AGENT_USER, AGENT_PASSWORD);
        assert_eq!(reply.code, 235, "{reply:?}");
        client
    }

    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.cmd(&format!("AUTH PLAIN {token}"))
    }

    /// MAIL, RCPT per recipient, DATA, the data dot-stuffed and ended;
    /// the first reply that is not a success, or the final one.
    pub fn message(&mut self, from: &str, rcpts: &[&str], data: &[u8]) -> Reply {
        let reply = self.cmd(&format!("MAIL FROM:<{from}>"));
        if reply.code != 250 {
            return reply;
        }
        for rcpt in rcpts {
            let reply = self.cmd(&format!("RCPT TO:<{rcpt}>"));
            if reply.code != 250 {
                return reply;
            }
        }
        let reply = self.cmd("DATA");
        if reply.code != 354 {
            return reply;
        }
        self.send(&dot_stuff(data));
        self.send(b".\r\n");
        self.reply()
    }
}

/// Doubles leading dots (the data must end with CRLF).
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut at_start = true;
    for &b in data {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out
}
