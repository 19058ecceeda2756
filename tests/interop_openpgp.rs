//! The OpenPGP interop matrix (issue 14): mailseal against the real gpg,
//! rnp (Thunderbird's engine), sq, sqop and PGPy, with keys each peer makes
//! by default (Ed25519/Cv25519, RSA, NIST P-256/P-384 where it can) and
//! mailseal's own v4 key, in every direction: mailseal encrypts+signs and
//! the peer decrypts+verifies; mailseal signs and the peer verifies; the
//! peer encrypts+signs with its defaults (and compression variants, text
//! mode, several recipients, hidden key IDs) and mailseal decrypts+verifies;
//! the peer signs inline, cleartext and detached and mailseal verifies; the
//! peer's secret keys (passphrase-protected where the peer can do that
//! without a terminal) go through `mailseal key import`. Brainpool keys must
//! be refused at import with a clear error.
//!
//! Each test prints its peer's rows of the matrix (cell → pass/FAIL) and
//! fails listing every failing cell. Cells a peer cannot do are in README's
//! Interop table, not here.

mod common;
#[path = "common/smtp.rs"]
mod smtp;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use sequoia_openpgp::parse::Parse;

/// Every peer command gets at most this long (coreutils `timeout`).
const PEER_TIMEOUT_SECS: &str = "120";

/// `program` under `timeout`, so no wait in this file is unbounded.
fn bounded(program: &str) -> Command {
    let mut command = Command::new("timeout");
    command.args(["-k", "5", PEER_TIMEOUT_SECS, program]);
    command
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Fails with the command's output unless it exited 0.
fn succeeded(what: &str, run: Run) -> Result<Run, String> {
    if run.code == 0 {
        Ok(run)
    } else {
        Err(format!(
            "{what} exited {}: {}",
            run.code,
            run.stderr.trim().lines().last().unwrap_or("")
        ))
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// One peer's rows of the matrix.
struct Matrix {
    peer: &'static str,
    cells: Vec<(String, Result<(), String>)>,
}

impl Matrix {
    fn new(peer: &'static str) -> Matrix {
        Matrix {
            peer,
            cells: Vec::new(),
        }
    }

    /// Runs one cell and records its result.
    fn cell(&mut self, name: String, run: impl FnOnce() -> Result<(), String>) {
        let result = run();
        self.cells.push((name, result));
    }

    /// Prints the rows and fails listing every failing cell.
    fn finish(self) {
        let mut table = String::new();
        for (name, result) in &self.cells {
            let verdict = match result {
                Ok(()) => "pass".to_string(),
                Err(e) => format!("FAIL  {e}"),
            };
            table.push_str(&format!("{:<8} {:<58} {verdict}\n", self.peer, name));
        }
        println!("{table}");
        let failed: Vec<String> = self
            .cells
            .iter()
            .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {} {} cells failed:\n{}\n\nmatrix:\n{table}",
            failed.len(),
            self.cells.len(),
            self.peer,
            failed.join("\n")
        );
    }
}

/// Key types the peers make.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Cv25519,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
    Brainpool,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Cv25519 => "cv25519",
            Kind::Rsa3072 => "rsa3072",
            Kind::Rsa4096 => "rsa4096",
            Kind::P256 => "p256",
            Kind::P384 => "p384",
            Kind::Brainpool => "brainpool",
        }
    }
}

/// How a peer encrypts+signs, beyond its defaults.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Variant {
    Default,
    /// zip, zlib, bzip2 or none.
    Compression(&'static str),
    Text,
    ThrowKeyIds,
}

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::Default => "defaults".into(),
            Variant::Compression(c) => format!("compression {c}"),
            Variant::Text => "text mode".into(),
            Variant::ThrowKeyIds => "hidden key IDs".into(),
        }
    }
}

/// Signature forms.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Form {
    Detached,
    Inline,
    Cleartext,
}

/// A peer's key: its files and what identifies it.
struct Key {
    kind: Kind,
    address: String,
    fingerprint: String,
    cert: PathBuf,
    secret: PathBuf,
    passphrase: Option<String>,
}

/// What every peer can be asked to do. Certificates and keys are files.
trait Peer {
    /// Makes a key of `kind` for `address`, protected when the peer can do
    /// that without a terminal.
    fn generate(&self, kind: Kind, address: &str) -> Result<Key, String>;
    /// Learns someone else's certificate (stateful peers).
    fn learn(&self, cert: &Path) -> Result<(), String>;
    /// Decrypts with `key` and checks a good signature by `signer`; returns
    /// the plaintext.
    fn decrypt_verify(&self, key: &Key, signer: &Key, ciphertext: &[u8])
        -> Result<Vec<u8>, String>;
    /// Checks a good detached signature by `signer` over `data`.
    fn verify_detached(&self, signer: &Key, data: &[u8], signature: &[u8]) -> Result<(), String>;
    /// Signs with `key` and encrypts to `recipients`, armored.
    fn encrypt_sign(
        &self,
        key: &Key,
        recipients: &[&Key],
        plaintext: &[u8],
        variant: Variant,
    ) -> Result<Vec<u8>, String>;
    /// Signs `data` with `key` in `form`, armored.
    fn sign(&self, key: &Key, data: &[u8], form: Form) -> Result<Vec<u8>, String>;
}

/// A scratch directory for a peer's files.
fn scratch(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("tempdir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// The primary fingerprint (upper-case hex) of the certificate in `path`.
fn fingerprint_of(path: &Path) -> Result<String, String> {
    let cert = sequoia_openpgp::Cert::from_file(path).map_err(|e| format!("{e}"))?;
    Ok(cert.fingerprint().to_hex())
}

/// The key IDs (lower-case hex) of every key in the certificate in `path`.
fn key_ids(path: &Path) -> Result<Vec<String>, String> {
    let cert = sequoia_openpgp::Cert::from_file(path).map_err(|e| format!("{e}"))?;
    Ok(cert
        .keys()
        .map(|k| k.key().keyid().to_hex().to_lowercase())
        .collect())
}

// ---------------------------------------------------------------- gpg

struct GpgPeer {
    gpg: Gpg,
}

impl GpgPeer {
    fn run(&self, key: Option<&Key>, args: &[&str], stdin: &[u8]) -> Run {
        let pass = key.and_then(|k| k.passphrase.as_deref()).unwrap_or("");
        let mut all = vec!["--status-fd", "2", "--trust-model", "always"];
        all.extend(["--passphrase", pass]);
        all.extend(args);
        let mut command = bounded("gpg");
        command
            .env("GNUPGHOME", self.gpg.dir.path())
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
            .args(all);
        run_with_stdin(command, stdin)
    }

    /// The `[GNUPG:]` status lines gpg wrote.
    fn status_ok(run: &Run, wanted: &[&str], fingerprint: &str) -> Result<(), String> {
        let status: Vec<&str> = run
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("[GNUPG:] "))
            .collect();
        for bad in [
            "BADSIG",
            "ERRSIG",
            "DECRYPTION_FAILED",
            "EXPSIG",
            "REVKEYSIG",
        ] {
            if status.iter().any(|l| l.starts_with(bad)) {
                return Err(format!("gpg status {bad}"));
            }
        }
        for keyword in wanted {
            if !status.iter().any(|l| l.starts_with(keyword)) {
                return Err(format!("gpg status lacks {keyword}"));
            }
        }
        check(
            status
                .iter()
                .any(|l| l.starts_with("VALIDSIG") && l.ends_with(fingerprint)),
            || format!("no VALIDSIG by {fingerprint}"),
        )
    }
}

impl Peer for GpgPeer {
    fn generate(&self, kind: Kind, address: &str) -> Result<Key, String> {
        let passphrase = format!("gpg pass {}", kind.name());
        let algo = match kind {
            Kind::Cv25519 => "ed25519",
            Kind::Rsa3072 => "rsa3072",
            Kind::Rsa4096 => "rsa4096",
            Kind::P256 => "nistp256",
            Kind::P384 => "nistp384",
            Kind::Brainpool => "brainpoolP256r1",
        };
        let fingerprint = self.gpg.generate(address, algo, Some(&passphrase));
        let dir = self.gpg.dir.path();
        let mut key = Key {
            kind,
            address: address.into(),
            fingerprint,
            cert: dir.join(format!("{address}.pub.asc")),
            secret: dir.join(format!("{address}.sec.asc")),
            passphrase: Some(passphrase),
        };
        let cert = succeeded(
            "gpg --export",
            self.run(None, &["--armor", "--export", address], b""),
        )?;
        std::fs::write(&key.cert, cert.stdout).unwrap();
        let secret = succeeded(
            "gpg --export-secret-keys",
            self.run(
                Some(&key),
                &["--armor", "--export-secret-keys", address],
                b"",
            ),
        )?;
        std::fs::write(&key.secret, secret.stdout).unwrap();
        key.fingerprint = key.fingerprint.to_uppercase();
        Ok(key)
    }

    fn learn(&self, cert: &Path) -> Result<(), String> {
        succeeded(
            "gpg --import",
            self.run(None, &["--import", path_str(cert)], b""),
        )
        .map(drop)
    }

    fn decrypt_verify(
        &self,
        key: &Key,
        signer: &Key,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let run = self.run(Some(key), &["--decrypt"], ciphertext);
        Self::status_ok(&run, &["DECRYPTION_OKAY", "GOODSIG"], &signer.fingerprint)?;
        Ok(succeeded("gpg --decrypt", run)?.stdout)
    }

    fn verify_detached(&self, signer: &Key, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let dir = self.gpg.dir.path();
        let data = write(dir, "data", data);
        let sig = write(dir, "data.sig", signature);
        let run = self.run(None, &["--verify", path_str(&sig), path_str(&data)], b"");
        Self::status_ok(&run, &["GOODSIG"], &signer.fingerprint)?;
        succeeded("gpg --verify", run).map(drop)
    }

    fn encrypt_sign(
        &self,
        key: &Key,
        recipients: &[&Key],
        plaintext: &[u8],
        variant: Variant,
    ) -> Result<Vec<u8>, String> {
        let mut args = vec!["--armor", "--sign", "--encrypt", "-u", &key.address];
        for r in recipients {
            args.extend(["-r", r.address.as_str()]);
        }
        match variant {
            Variant::Default => {}
            Variant::Compression(algo) => args.extend(["--compress-algo", algo]),
            Variant::Text => args.push("--textmode"),
            Variant::ThrowKeyIds => args.push("--throw-keyids"),
        }
        Ok(succeeded(
            "gpg --sign --encrypt",
            self.run(Some(key), &args, plaintext),
        )?
        .stdout)
    }

    fn sign(&self, key: &Key, data: &[u8], form: Form) -> Result<Vec<u8>, String> {
        let mode: &[&str] = match form {
            Form::Detached => &["--armor", "--detach-sign"],
            Form::Inline => &["--armor", "--sign"],
            Form::Cleartext => &["--clearsign"],
        };
        let mut args = vec!["-u", key.address.as_str()];
        args.extend(mode);
        Ok(succeeded("gpg sign", self.run(Some(key), &args, data))?.stdout)
    }
}

// ---------------------------------------------------------------- rnp

struct Rnp {
    dir: tempfile::TempDir,
}

impl Rnp {
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn run(&self, program: &str, key: Option<&Key>, args: &[&str], stdin: &[u8]) -> Run {
        let mut command = bounded(program);
        command
            .arg("--homedir")
            .arg(self.home())
            .arg("--notty")
            .args([
                "--password",
                key.and_then(|k| k.passphrase.as_deref()).unwrap_or(""),
            ])
            .args(args);
        run_with_stdin(command, stdin)
    }

    /// rnp's own success markers for a good signature by `signer`.
    fn signature_ok(run: &Run, signer: &Key) -> Result<(), String> {
        check(run.stderr.contains("Good signature"), || {
            "no \"Good signature\"".into()
        })?;
        check(
            run.stderr.contains("Signature(s) verified successfully"),
            || "no \"Signature(s) verified successfully\"".into(),
        )?;
        let ids = key_ids(&signer.cert)?;
        check(ids.iter().any(|id| run.stderr.contains(id)), || {
            format!("signer {} not named", signer.fingerprint)
        })
    }

    fn input(&self, name: &str, data: &[u8]) -> PathBuf {
        write(self.dir.path(), name, data)
    }
}

impl Peer for Rnp {
    fn generate(&self, kind: Kind, address: &str) -> Result<Key, String> {
        std::fs::create_dir_all(self.home()).unwrap();
        let choice = match kind {
            Kind::Cv25519 => "22\n",
            Kind::Rsa3072 => "1\n3072\n",
            Kind::Rsa4096 => "1\n4096\n",
            Kind::P256 => "19\n1\n",
            Kind::P384 => "19\n2\n",
            Kind::Brainpool => "19\n4\n",
        };
        let passphrase = format!("rnp pass {}", kind.name());
        let mut key = Key {
            kind,
            address: address.into(),
            fingerprint: String::new(),
            cert: self.dir.path().join(format!("{address}.pub.asc")),
            secret: self.dir.path().join(format!("{address}.sec.asc")),
            passphrase: Some(passphrase),
        };
        let user_id = format!("rnp {} <{address}>", kind.name());
        succeeded(
            "rnpkeys --generate-key",
            self.run(
                "rnpkeys",
                Some(&key),
                &["--generate-key", "--expert", "--userid", &user_id],
                choice.as_bytes(),
            ),
        )?;
        let cert = succeeded(
            "rnpkeys --export-key",
            self.run("rnpkeys", None, &["--export-key", address], b""),
        )?;
        std::fs::write(&key.cert, cert.stdout).unwrap();
        let secret = succeeded(
            "rnpkeys --export-key --secret",
            self.run(
                "rnpkeys",
                Some(&key),
                &["--export-key", "--secret", address],
                b"",
            ),
        )?;
        std::fs::write(&key.secret, secret.stdout).unwrap();
        key.fingerprint = fingerprint_of(&key.cert)?;
        Ok(key)
    }

    fn learn(&self, cert: &Path) -> Result<(), String> {
        std::fs::create_dir_all(self.home()).unwrap();
        succeeded(
            "rnpkeys --import",
            self.run("rnpkeys", None, &["--import", path_str(cert)], b""),
        )
        .map(drop)
    }

    fn decrypt_verify(
        &self,
        key: &Key,
        signer: &Key,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let input = self.input("in.asc", ciphertext);
        let run = self.run(
            "rnp",
            Some(key),
            &["--decrypt", path_str(&input), "--output", "-"],
            b"",
        );
        let run = succeeded("rnp --decrypt", run)?;
        Self::signature_ok(&run, signer)?;
        Ok(run.stdout)
    }

    fn verify_detached(&self, signer: &Key, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let data = self.input("data", data);
        let sig = self.input("data.asc", signature);
        let run = self.run(
            "rnp",
            None,
            &["--verify", path_str(&sig), "--source", path_str(&data)],
            b"",
        );
        Self::signature_ok(&succeeded("rnp --verify", run)?, signer)
    }

    fn encrypt_sign(
        &self,
        key: &Key,
        recipients: &[&Key],
        plaintext: &[u8],
        variant: Variant,
    ) -> Result<Vec<u8>, String> {
        let input = self.input("plain", plaintext);
        let mut args = vec!["--encrypt", "--sign", "--armor", "-u", &key.address];
        for r in recipients {
            args.extend(["-r", r.address.as_str()]);
        }
        match variant {
            Variant::Default => {}
            Variant::Compression("none") => args.extend(["-z", "0"]),
            Variant::Compression("zip") => args.push("--zip"),
            Variant::Compression("zlib") => args.push("--zlib"),
            Variant::Compression("bzip2") => args.push("--bzip"),
            other => return Err(format!("rnp cannot do {other:?}")),
        }
        args.extend([path_str(&input), "--output", "-"]);
        Ok(succeeded(
            "rnp --encrypt --sign",
            self.run("rnp", Some(key), &args, b""),
        )?
        .stdout)
    }

    fn sign(&self, key: &Key, data: &[u8], form: Form) -> Result<Vec<u8>, String> {
        let input = self.input("tosign", data);
        let mode: &[&str] = match form {
            Form::Detached => &["--sign", "--detach", "--armor"],
            Form::Inline => &["--sign", "--armor"],
            Form::Cleartext => &["--clearsign"],
        };
        let mut args = vec!["-u", key.address.as_str()];
        args.extend(mode);
        args.extend([path_str(&input), "--output", "-"]);
        Ok(succeeded("rnp sign", self.run("rnp", Some(key), &args, b""))?.stdout)
    }
}

// ---------------------------------------------------------------- sq 0.27

/// sq 0.27 asks for key passwords on a terminal only: its keys stay
/// unprotected here.
struct Sq {
    dir: tempfile::TempDir,
}

impl Sq {
    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut command = bounded("sq");
        command.args(args);
        run_with_stdin(command, stdin)
    }
}

impl Peer for Sq {
    fn generate(&self, kind: Kind, address: &str) -> Result<Key, String> {
        let suite = match kind {
            Kind::Cv25519 => "cv25519",
            Kind::Rsa3072 => "rsa3k",
            Kind::Rsa4096 => "rsa4k",
            other => return Err(format!("sq cannot make {other:?} keys")),
        };
        let dir = self.dir.path();
        let secret = dir.join(format!("{address}.sec.asc"));
        let cert = dir.join(format!("{address}.pub.asc"));
        succeeded(
            "sq key generate",
            self.run(
                &[
                    "key",
                    "generate",
                    "--userid",
                    &format!("sq {} <{address}>", kind.name()),
                    "--cipher-suite",
                    suite,
                    "--export",
                    path_str(&secret),
                ],
                b"",
            ),
        )?;
        let public = succeeded(
            "sq key extract-cert",
            self.run(&["key", "extract-cert", path_str(&secret)], b""),
        )?;
        std::fs::write(&cert, public.stdout).unwrap();
        Ok(Key {
            kind,
            address: address.into(),
            fingerprint: fingerprint_of(&cert)?,
            cert,
            secret,
            passphrase: None,
        })
    }

    fn learn(&self, _cert: &Path) -> Result<(), String> {
        Ok(())
    }

    fn decrypt_verify(
        &self,
        key: &Key,
        signer: &Key,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let run = self.run(
            &[
                "decrypt",
                "--recipient-key",
                path_str(&key.secret),
                "--signer-cert",
                path_str(&signer.cert),
            ],
            ciphertext,
        );
        let run = succeeded("sq decrypt", run)?;
        check(run.stderr.contains("Good signature from"), || {
            "no \"Good signature from\"".into()
        })?;
        Ok(run.stdout)
    }

    fn verify_detached(&self, signer: &Key, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let sig = write(self.dir.path(), "data.sig", signature);
        let run = self.run(
            &[
                "verify",
                "--detached",
                path_str(&sig),
                "--signer-cert",
                path_str(&signer.cert),
            ],
            data,
        );
        let run = succeeded("sq verify", run)?;
        check(run.stderr.contains("Good signature from"), || {
            "no \"Good signature from\"".into()
        })
    }

    fn encrypt_sign(
        &self,
        key: &Key,
        recipients: &[&Key],
        plaintext: &[u8],
        variant: Variant,
    ) -> Result<Vec<u8>, String> {
        let mut args = vec!["encrypt", "--signer-key", path_str(&key.secret)];
        for r in recipients {
            args.extend(["--recipient-cert", path_str(&r.cert)]);
        }
        match variant {
            Variant::Default => {}
            Variant::Compression(algo) => args.extend(["--compression", algo]),
            other => return Err(format!("sq cannot do {other:?}")),
        }
        Ok(succeeded("sq encrypt", self.run(&args, plaintext))?.stdout)
    }

    fn sign(&self, key: &Key, data: &[u8], form: Form) -> Result<Vec<u8>, String> {
        let mut args = vec!["sign", "--signer-key", path_str(&key.secret)];
        match form {
            Form::Detached => args.push("--detached"),
            Form::Inline => {}
            Form::Cleartext => args.push("--cleartext-signature"),
        }
        Ok(succeeded("sq sign", self.run(&args, data))?.stdout)
    }
}

// ---------------------------------------------------------------- sqop

/// sqop (SOP): keys only of its default type, protected with a password
/// file (`--with-key-password`).
struct Sqop {
    dir: tempfile::TempDir,
}

impl Sqop {
    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut command = bounded("sqop");
        command.current_dir(self.dir.path()).args(args);
        run_with_stdin(command, stdin)
    }

    fn password_file(&self, key: &Key) -> String {
        let path = write(
            self.dir.path(),
            "key-password",
            key.passphrase.as_deref().unwrap_or("").as_bytes(),
        );
        format!("--with-key-password={}", path_str(&path))
    }

    /// SOP VERIFICATIONS lines: "DATE SIGNING-FPR PRIMARY-FPR ...".
    fn verified_by(out: &str, signer: &Key) -> Result<(), String> {
        check(
            out.lines()
                .any(|l| l.split_whitespace().nth(2) == Some(signer.fingerprint.as_str())),
            || format!("no verification by {}: {out:?}", signer.fingerprint),
        )
    }
}

impl Peer for Sqop {
    fn generate(&self, kind: Kind, address: &str) -> Result<Key, String> {
        if kind != Kind::Cv25519 {
            return Err(format!(
                "sqop makes only its default key type, not {kind:?}"
            ));
        }
        let dir = self.dir.path();
        let mut key = Key {
            kind,
            address: address.into(),
            fingerprint: String::new(),
            cert: dir.join(format!("{address}.pub.asc")),
            secret: dir.join(format!("{address}.sec.asc")),
            passphrase: Some("sqop pass".into()),
        };
        let password = self.password_file(&key);
        let secret = succeeded(
            "sqop generate-key",
            self.run(
                &["generate-key", &password, &format!("sqop <{address}>")],
                b"",
            ),
        )?;
        std::fs::write(&key.secret, &secret.stdout).unwrap();
        let cert = succeeded(
            "sqop extract-cert",
            self.run(&["extract-cert"], &secret.stdout),
        )?;
        std::fs::write(&key.cert, cert.stdout).unwrap();
        key.fingerprint = fingerprint_of(&key.cert)?;
        Ok(key)
    }

    fn learn(&self, _cert: &Path) -> Result<(), String> {
        Ok(())
    }

    fn decrypt_verify(
        &self,
        key: &Key,
        signer: &Key,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let verifications = self.dir.path().join("verifications");
        let _ = std::fs::remove_file(&verifications);
        let run = self.run(
            &[
                "decrypt",
                &self.password_file(key),
                &format!("--verifications-out={}", path_str(&verifications)),
                &format!("--verify-with={}", path_str(&signer.cert)),
                path_str(&key.secret),
            ],
            ciphertext,
        );
        let run = succeeded("sqop decrypt", run)?;
        let out = std::fs::read_to_string(&verifications).unwrap_or_default();
        Self::verified_by(&out, signer)?;
        Ok(run.stdout)
    }

    fn verify_detached(&self, signer: &Key, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let sig = write(self.dir.path(), "data.sig", signature);
        let run = self.run(&["verify", path_str(&sig), path_str(&signer.cert)], data);
        Self::verified_by(&succeeded("sqop verify", run)?.stdout_text(), signer)
    }

    fn encrypt_sign(
        &self,
        key: &Key,
        recipients: &[&Key],
        plaintext: &[u8],
        variant: Variant,
    ) -> Result<Vec<u8>, String> {
        let sign_with = format!("--sign-with={}", path_str(&key.secret));
        let mut args = vec!["encrypt".to_string(), sign_with, self.password_file(key)];
        match variant {
            Variant::Default => {}
            Variant::Text => args.push("--as=text".into()),
            other => return Err(format!("sqop cannot do {other:?}")),
        }
        args.extend(recipients.iter().map(|r| path_str(&r.cert).to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(succeeded("sqop encrypt", self.run(&args, plaintext))?.stdout)
    }

    fn sign(&self, key: &Key, data: &[u8], form: Form) -> Result<Vec<u8>, String> {
        let password = self.password_file(key);
        let args: Vec<&str> = match form {
            Form::Detached => vec!["sign", &password],
            Form::Inline => vec!["inline-sign", "--as=text", &password],
            Form::Cleartext => vec!["inline-sign", "--as=clearsigned", &password],
        };
        let mut args = args;
        args.push(path_str(&key.secret));
        Ok(succeeded("sqop sign", self.run(&args, data))?.stdout)
    }
}

// ---------------------------------------------------------------- PGPy

/// PGPy 0.6 through testdata/interop/pgpy_peer.py and Debian's python3.
struct Pgpy {
    dir: tempfile::TempDir,
}

impl Pgpy {
    fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut command = bounded("/usr/bin/python3");
        command.arg(testdata("interop/pgpy_peer.py")).args(args);
        run_with_stdin(command, stdin)
    }

    fn verified_by(run: &Run, signer: &Key) -> Result<(), String> {
        check(
            run.stderr
                .contains(&format!("VERIFIED {}", signer.fingerprint)),
            || format!("no verification by {}", signer.fingerprint),
        )
    }
}

impl Peer for Pgpy {
    fn generate(&self, kind: Kind, address: &str) -> Result<Key, String> {
        let dir = self.dir.path();
        let mut key = Key {
            kind,
            address: address.into(),
            fingerprint: String::new(),
            cert: dir.join(format!("{address}.pub.asc")),
            secret: dir.join(format!("{address}.sec.asc")),
            passphrase: Some(format!("pgpy pass {}", kind.name())),
        };
        succeeded(
            "pgpy gen",
            self.run(
                &[
                    "gen",
                    kind.name(),
                    address,
                    key.passphrase.as_deref().unwrap_or(""),
                    path_str(&key.secret),
                    path_str(&key.cert),
                ],
                b"",
            ),
        )?;
        key.fingerprint = fingerprint_of(&key.cert)?;
        Ok(key)
    }

    fn learn(&self, _cert: &Path) -> Result<(), String> {
        Ok(())
    }

    fn decrypt_verify(
        &self,
        key: &Key,
        signer: &Key,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let run = self.run(
            &[
                "decrypt",
                path_str(&key.secret),
                key.passphrase.as_deref().unwrap_or(""),
                path_str(&signer.cert),
            ],
            ciphertext,
        );
        let run = succeeded("pgpy decrypt", run)?;
        Self::verified_by(&run, signer)?;
        Ok(run.stdout)
    }

    fn verify_detached(&self, signer: &Key, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let data = write(self.dir.path(), "data", data);
        let sig = write(self.dir.path(), "data.sig", signature);
        let run = self.run(
            &[
                "verify",
                path_str(&signer.cert),
                path_str(&sig),
                path_str(&data),
            ],
            b"",
        );
        Self::verified_by(&succeeded("pgpy verify", run)?, signer)
    }

    fn encrypt_sign(
        &self,
        key: &Key,
        recipients: &[&Key],
        plaintext: &[u8],
        variant: Variant,
    ) -> Result<Vec<u8>, String> {
        let (compression, form) = match variant {
            Variant::Default => ("default", "b"),
            Variant::Compression("none") => ("Uncompressed", "b"),
            Variant::Compression("zip") => ("ZIP", "b"),
            Variant::Compression("zlib") => ("ZLIB", "b"),
            Variant::Compression("bzip2") => ("BZ2", "b"),
            Variant::Text => ("default", "t"),
            other => return Err(format!("PGPy cannot do {other:?}")),
        };
        let mut args = vec![
            "encrypt",
            path_str(&key.secret),
            key.passphrase.as_deref().unwrap_or(""),
            compression,
            form,
        ];
        args.extend(recipients.iter().map(|r| path_str(&r.cert)));
        Ok(succeeded("pgpy encrypt", self.run(&args, plaintext))?.stdout)
    }

    fn sign(&self, key: &Key, data: &[u8], form: Form) -> Result<Vec<u8>, String> {
        let form = match form {
            Form::Detached => "detached",
            Form::Inline => "inline",
            Form::Cleartext => "cleartext",
        };
        let args = [
            "sign",
            path_str(&key.secret),
            key.passphrase.as_deref().unwrap_or(""),
            form,
        ];
        Ok(succeeded("pgpy sign", self.run(&args, data))?.stdout)
    }
}

// ---------------------------------------------------------------- mailseal side

/// A mailseal home with an own key, as a [`Key`] so that peers can use it.
struct Mailseal {
    home: Home,
    key: Key,
}

impl Mailseal {
    /// A home with a key made by `mailseal key generate` (v4 default),
    /// exported so that peers can verify it and use its secret.
    fn generate(address: &str) -> Mailseal {
        let home = Home::new();
        home.run(&["key", "generate", address], b"").ok();
        let cert = home.write(
            "own.pub.asc",
            &home
                .run(&["key", "export", address, "--public"], b"")
                .ok()
                .stdout,
        );
        let secret = home.write(
            "own.sec.asc",
            &home.run(&["key", "export", address], b"").ok().stdout,
        );
        let fingerprint = fingerprint_of(&cert).expect("mailseal's own certificate parses");
        Mailseal {
            home,
            key: Key {
                kind: Kind::Cv25519,
                address: address.into(),
                fingerprint,
                cert,
                secret,
                passphrase: None,
            },
        }
    }

    /// Runs mailseal, with `key`'s passphrase in a file when it has one.
    fn run(&self, key: Option<&Key>, args: &[&str], stdin: &[u8]) -> Run {
        let mut all: Vec<String> = Vec::new();
        if let Some(pass) = key.and_then(|k| k.passphrase.as_deref()) {
            let file = self.home.write("passphrase", pass.as_bytes());
            all.extend(["--passphrase-file".into(), path_str(&file).to_string()]);
        }
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.home.run(&all, stdin)
    }

    fn import(&self, what: &str, file: &Path) -> Result<(), String> {
        succeeded(
            &format!("mailseal {what} import"),
            self.run(None, &[what, "import", path_str(file)], b""),
        )
        .map(drop)
    }

    /// Decrypts a PGP/MIME message from `signer`, checking the plaintext
    /// and mailseal's report of a good signature by `signer`.
    fn decrypt_verify(
        &self,
        key: Option<&Key>,
        signer: &Key,
        message: &[u8],
        expected: &str,
    ) -> Result<(), String> {
        let run = succeeded("mailseal decrypt", self.run(key, &["decrypt"], message))?;
        check(run.stdout_text().contains(expected), || {
            format!("plaintext lacks {expected:?}")
        })?;
        good_signature(&run, signer)
    }

    fn verify(&self, signer: &Key, message: &[u8]) -> Result<(), String> {
        let run = succeeded("mailseal verify", self.run(None, &["verify"], message))?;
        good_signature(&run, signer)
    }
}

/// mailseal's report of a good signature by `signer`'s certificate.
fn good_signature(run: &Run, signer: &Key) -> Result<(), String> {
    check(
        run.stderr.contains(&format!(
            "Good signature from {} ({}",
            signer.address, signer.fingerprint
        )),
        || {
            format!(
                "no good signature by {}: {}",
                signer.address,
                run.stderr.trim()
            )
        },
    )
}

/// A message from `from` to `to`, as a mail client hands it to mailseal.
fn message(from: &str, to: &str, bcc: &str, text: &str) -> Vec<u8> {
    let mut m = format!("From: <{from}>\r\n");
    if !to.is_empty() {
        m.push_str(&format!("To: <{to}>\r\n"));
    }
    if !bcc.is_empty() {
        m.push_str(&format!("Bcc: <{bcc}>\r\n"));
    }
    m.push_str(&format!(
        "Subject: interop\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ));
    m.into_bytes()
}

/// A PGP/MIME (RFC 3156 §4) message around a peer's armored `ciphertext`.
fn pgp_mime(from: &str, ciphertext: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: <{from}>\r\nTo: <{from}>\r\nSubject: interop\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\
         \r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n\
         --b\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&crlf(ciphertext));
    m.extend_from_slice(b"\r\n--b--\r\n");
    m
}

/// A PGP/MIME multipart/signed message around `entity` and a peer's
/// detached `signature`.
fn pgp_signed(from: &str, entity: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: <{from}>\r\nTo: <{from}>\r\nSubject: interop\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\
         \r\n--s\r\n"
    )
    .into_bytes();
    m.extend_from_slice(entity);
    m.extend_from_slice(b"\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n");
    m.extend_from_slice(&crlf(signature));
    m.extend_from_slice(b"\r\n--s--\r\n");
    m
}

/// A plain message whose body is a peer's inline-signed or cleartext-signed
/// text (legacy inline PGP).
fn inline_message(from: &str, armored: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "From: <{from}>\r\nTo: <{from}>\r\nSubject: interop\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(&crlf(armored));
    m
}

/// The inner MIME entity a peer encrypts or signs.
fn entity(text: &str) -> Vec<u8> {
    format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").into_bytes()
}

// ---------------------------------------------------------------- the matrix

/// What a peer can do beyond the basic cells.
struct Abilities {
    kinds: &'static [Kind],
    variants: &'static [Variant],
    /// Opens a message whose PKESK for it has a wildcard key ID.
    wildcard: bool,
    /// Can make brainpool keys (to check that mailseal refuses them).
    brainpool: bool,
}

/// Runs every cell for `peer` and fails listing the failing ones.
fn matrix(name: &'static str, peer: &dyn Peer, abilities: Abilities) {
    let mut m = Matrix::new(name);
    let domain = format!("{}.example.org", name.to_lowercase());
    // mailseal's own v4 key: signs what mailseal sends, and receives what
    // the peer sends to several recipients.
    let own = Mailseal::generate(&format!("ms@{domain}"));
    m.cell("learns mailseal's v4 certificate".into(), || {
        peer.learn(&own.key.cert)
    });

    let mut keys = Vec::new();
    for &kind in abilities.kinds {
        let address = format!("{}@{domain}", kind.name());
        match peer.generate(kind, &address) {
            Ok(key) => keys.push(key),
            Err(e) => m.cell(format!("{} key generation", kind.name()), || Err(e)),
        }
    }

    for key in &keys {
        let k = key.kind.name();
        // A home holding the peer's secret key, as a user moving to mailseal.
        let moved = Mailseal {
            home: Home::new(),
            key: Key {
                kind: key.kind,
                address: key.address.clone(),
                fingerprint: key.fingerprint.clone(),
                cert: key.cert.clone(),
                secret: key.secret.clone(),
                passphrase: key.passphrase.clone(),
            },
        };
        let protected = if key.passphrase.is_some() {
            " (protected)"
        } else {
            ""
        };
        let imported = moved.import("key", &key.secret);
        m.cell(
            format!("{k}: key import of its secret key{protected}"),
            || imported.clone(),
        );
        m.cell(format!("{k}: cert import into mailseal"), || {
            own.import("cert", &key.cert)
        });
        let _ = moved.import("cert", &own.key.cert);

        m.cell(
            format!("{k}: mailseal encrypt+sign → {name} decrypt+verify"),
            || {
                let text = format!("to {k} from mailseal, grüße");
                let sealed = succeeded(
                    "mailseal encrypt",
                    own.run(
                        None,
                        &["encrypt"],
                        &message(&own.key.address, &key.address, "", &text),
                    ),
                )?;
                let plain = peer.decrypt_verify(
                    key,
                    &own.key,
                    &armored_block(&sealed.stdout, "PGP MESSAGE"),
                )?;
                check(String::from_utf8_lossy(&plain).contains(&text), || {
                    "plaintext differs".into()
                })
            },
        );

        m.cell(
            format!("{k}: mailseal sign with the imported key → {name} verify"),
            || {
                imported.clone()?;
                let signed = succeeded(
                    "mailseal sign",
                    moved.run(
                        Some(key),
                        &["sign"],
                        &message(&key.address, &own.key.address, "", "signed by mailseal"),
                    ),
                )?;
                let text = signed.stdout_text();
                peer.verify_detached(
                    key,
                    signed_bytes(&text).as_bytes(),
                    &armored_block(text.as_bytes(), "PGP SIGNATURE"),
                )
            },
        );

        m.cell(
            format!("{k}: {name} encrypt+sign (defaults) → mailseal decrypt+verify"),
            || {
                imported.clone()?;
                let text = format!("from {name} {k} to itself");
                let ciphertext =
                    peer.encrypt_sign(key, &[key], &entity(&text), Variant::Default)?;
                moved.decrypt_verify(Some(key), key, &pgp_mime(&key.address, &ciphertext), &text)
            },
        );

        m.cell(
            format!("{k}: {name} detached signature → mailseal verify"),
            || {
                let data = entity(&format!("signed detached by {name} {k}"));
                let signature = peer.sign(key, &data, Form::Detached)?;
                own.verify(key, &pgp_signed(&key.address, &data, &signature))
            },
        );
    }

    if let Some(key) = keys.first() {
        let k = key.kind.name();
        for &variant in abilities.variants {
            m.cell(
                format!(
                    "{k}: {name} encrypt+sign ({}), to it and mailseal → mailseal decrypt+verify",
                    variant.name()
                ),
                || {
                    let text = format!("from {name} with {}", variant.name());
                    let ciphertext =
                        peer.encrypt_sign(key, &[key, &own.key], &entity(&text), variant)?;
                    own.decrypt_verify(None, key, &pgp_mime(&key.address, &ciphertext), &text)
                },
            );
        }
        for form in [Form::Inline, Form::Cleartext] {
            m.cell(
                format!("{k}: {name} {form:?} signature → mailseal verify"),
                || {
                    let text = format!("signed {form:?} by {name}");
                    let armored = peer.sign(key, format!("{text}\r\n").as_bytes(), form)?;
                    own.verify(key, &inline_message(&key.address, &armored))
                },
            );
        }
        // Issue 14 item 1: mail to a mailseal-made v4 key stays readable when
        // its secret moves to the peer.
        m.cell(
            format!("mailseal v4 secret key moved to {name} → {name} decrypts mail to it"),
            || {
                peer.learn(&own.key.secret)?;
                let text = "to mailseal's own key";
                let sealed = succeeded(
                    "mailseal encrypt",
                    own.run(
                        None,
                        &["encrypt"],
                        &message(&own.key.address, &own.key.address, "", text),
                    ),
                )?;
                let plain = peer.decrypt_verify(
                    &own.key,
                    &own.key,
                    &armored_block(&sealed.stdout, "PGP MESSAGE"),
                )?;
                check(String::from_utf8_lossy(&plain).contains(text), || {
                    "plaintext differs".into()
                })
            },
        );
        // Issue 14 item 7: a copy addressed to one Bcc recipient alone names
        // its key, so peers that cannot try every key open it.
        m.cell(
            format!("{k}: mailseal copy for one Bcc recipient → {name} decrypt+verify"),
            || {
                let text = "a Bcc copy";
                let sealed = succeeded(
                    "mailseal encrypt",
                    own.run(
                        None,
                        &["encrypt"],
                        &message(&own.key.address, "", &key.address, text),
                    ),
                )?;
                let plain = peer.decrypt_verify(
                    key,
                    &own.key,
                    &armored_block(&sealed.stdout, "PGP MESSAGE"),
                )?;
                check(String::from_utf8_lossy(&plain).contains(text), || {
                    "plaintext differs".into()
                })
            },
        );
        if abilities.wildcard {
            m.cell(
                format!("{k}: mailseal To + hidden Bcc (wildcard key ID) → {name} decrypt+verify"),
                || {
                    let text = "a shared copy with a hidden recipient";
                    let sealed = succeeded(
                        "mailseal encrypt",
                        own.run(
                            None,
                            &["encrypt"],
                            &message(&own.key.address, &own.key.address, &key.address, text),
                        ),
                    )?;
                    let plain = peer.decrypt_verify(
                        key,
                        &own.key,
                        &armored_block(&sealed.stdout, "PGP MESSAGE"),
                    )?;
                    check(String::from_utf8_lossy(&plain).contains(text), || {
                        "plaintext differs".into()
                    })
                },
            );
        }
    }

    if abilities.brainpool {
        let address = format!("brainpool@{domain}");
        m.cell(
            "brainpool: cert import and key import refused, naming the curve".to_string(),
            || {
                let key = peer.generate(Kind::Brainpool, &address)?;
                let home = Home::new();
                for (what, file) in [("cert", &key.cert), ("key", &key.secret)] {
                    let run = home.run(&[what, "import", path_str(file)], b"");
                    check(
                        run.code == 65
                            && run.stderr.contains("brainpoolP256r1")
                            && run.stderr.contains("crypto-openssl"),
                        || format!("{what} import: exit {}: {}", run.code, run.stderr.trim()),
                    )?;
                }
                let listed = home.run(&["cert", "list"], b"").stdout_text()
                    + &home.run(&["key", "list"], b"").stdout_text();
                check(!listed.contains(&key.fingerprint), || {
                    "the key was stored anyway".into()
                })
            },
        );
    }
    m.finish();
}

const COMPRESSIONS: [Variant; 4] = [
    Variant::Compression("none"),
    Variant::Compression("zip"),
    Variant::Compression("zlib"),
    Variant::Compression("bzip2"),
];

#[test]
fn gpg() {
    let peer = GpgPeer { gpg: Gpg::new() };
    matrix(
        "gpg",
        &peer,
        Abilities {
            kinds: &[
                Kind::Cv25519,
                Kind::Rsa3072,
                Kind::Rsa4096,
                Kind::P256,
                Kind::P384,
            ],
            variants: &[
                Variant::Default,
                COMPRESSIONS[0],
                COMPRESSIONS[1],
                COMPRESSIONS[2],
                COMPRESSIONS[3],
                Variant::Text,
                Variant::ThrowKeyIds,
            ],
            wildcard: true,
            brainpool: true,
        },
    );
}

#[test]
fn rnp() {
    let peer = Rnp {
        dir: scratch("rnp"),
    };
    matrix(
        "rnp",
        &peer,
        Abilities {
            kinds: &[Kind::Cv25519, Kind::Rsa3072, Kind::P256, Kind::P384],
            variants: &[
                Variant::Default,
                COMPRESSIONS[0],
                COMPRESSIONS[1],
                COMPRESSIONS[2],
                COMPRESSIONS[3],
            ],
            wildcard: false,
            brainpool: true,
        },
    );
}

#[test]
fn sq() {
    let peer = Sq { dir: scratch("sq") };
    matrix(
        "sq",
        &peer,
        Abilities {
            kinds: &[Kind::Cv25519, Kind::Rsa3072, Kind::Rsa4096],
            variants: &[
                Variant::Default,
                COMPRESSIONS[0],
                COMPRESSIONS[1],
                COMPRESSIONS[2],
                COMPRESSIONS[3],
            ],
            wildcard: true,
            brainpool: false,
        },
    );
}

#[test]
fn sqop() {
    let peer = Sqop {
        dir: scratch("sqop"),
    };
    matrix(
        "sqop",
        &peer,
        Abilities {
            kinds: &[Kind::Cv25519],
            variants: &[Variant::Default, Variant::Text],
            wildcard: true,
            brainpool: false,
        },
    );
}

#[test]
fn pgpy() {
    let peer = Pgpy {
        dir: scratch("pgpy"),
    };
    matrix(
        "PGPy",
        &peer,
        Abilities {
            kinds: &[
                Kind::Cv25519,
                Kind::Rsa3072,
                Kind::Rsa4096,
                Kind::P256,
                Kind::P384,
            ],
            variants: &[
                Variant::Default,
                COMPRESSIONS[0],
                COMPRESSIONS[1],
                COMPRESSIONS[2],
                COMPRESSIONS[3],
                Variant::Text,
            ],
            wildcard: false,
            brainpool: true,
        },
    );
}

/// `cert import` and `key import` take several files and `-` for stdin, as
/// gpg and sq do, and report each file; a failing file does not stop the
/// others, and the exit code is that of the failure (issue 14 item 14).
#[test]
fn import_takes_several_files_and_stdin() {
    let home = Home::new();
    let alice = testdata("keys/alice.pub.asc");
    let x509 = testdata("smime/rfc9216/alice.crt");
    let bob = std::fs::read(testdata("keys/bob.pub.asc")).unwrap();
    let run = home
        .run(
            &["cert", "import", path_str(&alice), path_str(&x509), "-"],
            &bob,
        )
        .ok();
    for file in [path_str(&alice), "-:"] {
        assert!(
            run.stderr.contains(file),
            "no report for {file}:\n{}",
            run.stderr
        );
    }
    let listed = home.run(&["cert", "list"], b"").ok().stdout_text();
    for (who, fingerprint) in [
        ("alice", fingerprint_of(&alice).unwrap()),
        (
            "bob",
            fingerprint_of(&testdata("keys/bob.pub.asc")).unwrap(),
        ),
    ] {
        assert!(
            listed.contains(&fingerprint),
            "{who} not imported:\n{listed}"
        );
    }
    assert!(
        listed.contains("alice@smime.example"),
        "the X.509 certificate was not imported:\n{listed}"
    );

    let missing = home.file("missing.asc");
    let other = Home::new();
    let run = other
        .run(
            &["cert", "import", path_str(&missing), path_str(&alice)],
            b"",
        )
        .expect_code(66);
    assert!(run.stderr.contains("missing.asc"), "{}", run.stderr);
    let listed = other.run(&["cert", "list"], b"").ok().stdout_text();
    assert!(
        listed.contains(&fingerprint_of(&alice).unwrap()),
        "a missing file stopped the next one:\n{listed}"
    );
    other
        .run(&["cert", "import", "-", "-"], b"")
        .expect_code(64);

    let keys = Home::new();
    keys.run(
        &[
            "key",
            "import",
            path_str(&testdata("keys/alice.sec.asc")),
            path_str(&testdata("keys/bob.sec.asc")),
        ],
        b"",
    )
    .ok();
    let listed = keys.run(&["key", "list"], b"").ok().stdout_text();
    for name in ["alice", "bob"] {
        let fingerprint = fingerprint_of(&testdata(&format!("keys/{name}.pub.asc"))).unwrap();
        assert!(
            listed.contains(&fingerprint),
            "{name}'s key not imported:\n{listed}"
        );
    }
}

/// `send` makes one copy per Bcc recipient, addressed to that recipient
/// alone: it names the recipient's key, so rnp (Thunderbird's engine) and PGPy, which
/// cannot open a wildcard key ID, read it (issue 14 item 7).
#[test]
fn send_bcc_copies_open_in_rnp_and_pgpy() {
    let server = smtp::Server::start(smtp::Mode::Starttls, smtp::CertKind::Good, None);
    let own = Mailseal::generate("ms@send.example.org");
    own.home.write(
        "config.toml",
        format!(
            "[relay.default]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nusername = \"alice\"\npassword = \"env:TEST_PW\"\nca_file = \"{}\"\ntimeout_secs = 5\n[policy]\ndefault = \"require-encryption\"\n",
            server.port,
            server.ca_file.display()
        )
        .as_bytes(),
    );
    let rnp = Rnp {
        dir: scratch("rnp"),
    };
    let pgpy = Pgpy {
        dir: scratch("pgpy"),
    };
    let peers: [(&dyn Peer, Key); 2] = [
        (
            &rnp,
            rnp.generate(Kind::Cv25519, "bcc@rnp.example.org").unwrap(),
        ),
        (
            &pgpy,
            pgpy.generate(Kind::Cv25519, "bcc@pgpy.example.org")
                .unwrap(),
        ),
    ];
    rnp.learn(&own.key.cert).unwrap();
    for (_, key) in &peers {
        own.import("cert", &key.cert).unwrap();
    }
    let text = "for the Bcc recipients";
    let mut message = format!(
        "From: <{0}>\r\nTo: <{0}>\r\nBcc: <{1}>, <{2}>\r\n",
        own.key.address, peers[0].1.address, peers[1].1.address
    )
    .into_bytes();
    message.extend_from_slice(&entity(text));
    let mut command = bounded(env!("CARGO_BIN_EXE_mailseal"));
    command
        .arg("--home")
        .arg(own.home.path())
        .arg("send")
        .env("TEST_PW", smtp::PASSWORD);
    let run = run_with_stdin(command, &message).ok();
    let received = server.messages();
    for (peer, key) in &peers {
        let copy = received
            .iter()
            .find(|m| m.to == [key.address.clone()])
            .unwrap_or_else(|| {
                panic!(
                    "no copy for {} alone: {received:?}\n{}",
                    key.address, run.stderr
                )
            });
        let plain = peer
            .decrypt_verify(
                key,
                &own.key,
                &armored_block(copy.data.as_bytes(), "PGP MESSAGE"),
            )
            .unwrap_or_else(|e| panic!("{} cannot open its Bcc copy: {e}", key.address));
        assert!(String::from_utf8_lossy(&plain).contains(text));
    }
}
