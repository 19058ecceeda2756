//! Shared test helpers: a scratch mailseal home, running the real binary,
//! and a scratch GnuPG home for interop with the real `gpg`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A file or directory under testdata/.
pub fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(path)
}

/// The output of a finished command.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with the captured output unless the command exited `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            code,
            "exit code {} (wanted {code})\nstderr:\n{}\nstdout:\n{}",
            self.code,
            self.stderr,
            String::from_utf8_lossy(&self.stdout)
        );
        self
    }

    /// Panics unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Run {
        self.expect_code(0)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `command` with `stdin` and collects its output.
pub fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Run {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    Run::from(output)
}

/// A `mailseal` command with none of its environment variables set.
pub fn mailseal() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailseal"));
    command
        .env_remove("MAILSEAL_HOME")
        .env_remove("MAILSEAL_PASSPHRASE")
        .env_remove("PGP_CERT_D");
    command
}

/// A scratch mailseal home in a temporary directory.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    /// A home whose config keeps key discovery off the network: tests must
    /// never reach a real resolver or keyserver.
    pub fn new() -> Home {
        let home = Home {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        home.write("config.toml", b"");
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file path inside the scratch directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A `mailseal --home HOME ARGS...` command with a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = mailseal();
        command.arg("--home").arg(self.path()).args(args);
        command
    }

    /// Runs mailseal with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_with_stdin(self.command(args), stdin)
    }

    /// Writes `data` to a file in the scratch directory (mode 0600). A
    /// `config.toml` without a [discovery] table gets one that allows the
    /// store only.
    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.file(name);
        let mut data = data.to_vec();
        if name == "config.toml" && !String::from_utf8_lossy(&data).contains("[discovery]") {
            data.extend_from_slice(b"\n[discovery]\nmethods = [\"store\"]\n");
        }
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// Imports one of the shipped test keys (testdata/keys/NAME.sec.asc).
    pub fn import_key(&self, name: &str) {
        let path = testdata(&format!("keys/{name}.sec.asc"));
        self.run(&["key", "import", path.to_str().unwrap()], b"")
            .ok();
    }

    /// Imports one of the shipped test certificates (testdata/keys/NAME.pub.asc).
    pub fn import_cert(&self, name: &str) {
        let path = testdata(&format!("keys/{name}.pub.asc"));
        self.run(&["cert", "import", path.to_str().unwrap()], b"")
            .ok();
    }
}

/// Alice (sender, with Bob's certificate) and Bob (recipient, with Alice's
/// certificate), from the shipped test keys.
pub fn alice_and_bob() -> (Home, Home) {
    let alice = Home::new();
    alice.import_key("alice");
    alice.import_cert("bob");
    let bob = Home::new();
    bob.import_key("bob");
    bob.import_cert("alice");
    (alice, bob)
}

/// A scratch GnuPG home driving the real `gpg` in batch mode.
pub struct Gpg {
    pub dir: tempfile::TempDir,
}

impl Gpg {
    pub fn new() -> Gpg {
        let dir = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(
            dir.path().join("gpg-agent.conf"),
            "allow-loopback-pinentry\n",
        )
        .unwrap();
        Gpg { dir }
    }

    /// Runs `gpg --batch ARGS...` with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut command = Command::new("gpg");
        command
            .env("GNUPGHOME", self.dir.path())
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
            .args(args);
        run_with_stdin(command, stdin)
    }

    /// Generates a key for `address` (`ed25519` or `rsa3072`), optionally
    /// with a passphrase; returns its fingerprint.
    pub fn generate(&self, address: &str, algo: &str, passphrase: Option<&str>) -> String {
        let pass = passphrase.unwrap_or("");
        let (primary, sub) = match algo {
            "ed25519" => ("ed25519", "cv25519"),
            _ => (algo, algo),
        };
        self.run(
            &[
                "--passphrase",
                pass,
                "--quick-gen-key",
                address,
                primary,
                "sign",
                "2y",
            ],
            b"",
        )
        .ok();
        let fpr = self.fingerprint(address);
        self.run(
            &[
                "--passphrase",
                pass,
                "--quick-add-key",
                &fpr,
                sub,
                "encr",
                "2y",
            ],
            b"",
        )
        .ok();
        fpr
    }

    /// The primary fingerprint of the key for `address`.
    pub fn fingerprint(&self, address: &str) -> String {
        let out = self
            .run(&["--with-colons", "--list-keys", address], b"")
            .ok()
            .stdout_text();
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("fingerprint")
            .to_string()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.dir.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// `data` with bare LF turned into CRLF.
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The body of the part of a multipart `message` that follows the line
/// `Content-Type: {content_type}` up to the next boundary line: for
/// extracting the armored data in tests.
pub fn armored_block(message: &[u8], label: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).expect("armor begin");
    let stop = text[start..].find(&end).expect("armor end") + start + end.len();
    text[start..stop].as_bytes().to_vec()
}

/// Runs the future `server` makes on a thread of its own (a current-thread
/// tokio runtime, so sockets are registered there), for at most `lifetime`.
pub fn spawn_server<F, Fut>(lifetime: std::time::Duration, server: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let _ = tokio::time::timeout(lifetime, server()).await;
        });
    });
}

/// Every command run with [`run_bounded`] must finish within this.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Runs `command` with `stdin`, killing it after [`LIMIT`].
pub fn run_bounded(mut command: Command, stdin: &[u8]) -> Run {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("{command:?} ran longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// The key IDs and fingerprints of the certificate(s) in `cert`.
pub fn key_ids(cert: &[u8]) -> Vec<String> {
    use sequoia_openpgp::parse::Parse;
    let cert = sequoia_openpgp::Cert::from_bytes(cert).unwrap();
    cert.keys()
        .flat_map(|k| [k.key().keyid().to_hex(), k.key().fingerprint().to_hex()])
        .collect()
}

/// The recipients named by the PKESK packets of an encrypted message
/// (`None` for a wildcard recipient).
pub fn pkesk_recipients(message: &str) -> Vec<Option<String>> {
    use sequoia_openpgp::packet::Packet;
    use sequoia_openpgp::parse::Parse;
    let block = armored_block(message.as_bytes(), "PGP MESSAGE");
    sequoia_openpgp::PacketPile::from_bytes(&block)
        .unwrap()
        .children()
        .filter_map(|p| match p {
            Packet::PKESK(pkesk) => Some(pkesk.recipient().map(|h| h.to_hex())),
            _ => None,
        })
        .collect()
}

/// The value of header field `name` (any case) in `message`'s outer header.
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let head = message.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (field, value) = l.split_once(": ")?;
        field.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// The boundary parameter of the top-level Content-Type of `message`.
pub fn boundary(message: &str) -> &str {
    let headers = &message[..message.find("\r\n\r\n").expect("header end")];
    let start = headers.find("boundary=\"").expect("boundary parameter") + "boundary=\"".len();
    let len = headers[start..].find('"').expect("boundary end quote");
    &headers[start..start + len]
}

/// The exact bytes signed in a multipart/signed `message`: from after the
/// first boundary line up to the CRLF before the next one.
pub fn signed_bytes(message: &str) -> &str {
    let delimiter = format!("\r\n--{}", boundary(message));
    let first = message
        .find(&format!("{delimiter}\r\n"))
        .expect("first boundary line");
    let start = first + delimiter.len() + 2;
    let len = message[start..]
        .find(&delimiter)
        .expect("second boundary line");
    &message[start..start + len]
}

pub mod measure;

/// A small deterministic random generator (xorshift64, as the unit tests'
/// `test_rng`): the same seed gives the same data on every run.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
