//! A test PKI made with the openssl CLI (a root, a second untrusted
//! root, leaf certificates, an expired one), homes that trust it, and a
//! runner for `openssl cms`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::common::{Home, Run};

pub fn openssl(args: &[&str], dir: &Path) -> Run {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.code, 0, "openssl {args:?} failed:\n{}", run.stderr);
    run
}

/// Test certificates and keys: `NAME.pem` and `NAME.key` in `dir`.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }
}

fn leaf(dir: &Path, name: &str, address: &str, key: &[&str], usage: &str, ca: &str, days: &str) {
    let ext = format!(
        "subjectAltName=email:{address}\nkeyUsage=critical,digitalSignature,{usage}\nextendedKeyUsage=emailProtection\nbasicConstraints=CA:FALSE\n"
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    let mut args = vec!["req", "-new", "-nodes"];
    args.extend_from_slice(key);
    let keyout = format!("{name}.key");
    let csr = format!("{name}.csr");
    let subject = format!("/CN={name}");
    args.extend_from_slice(&["-keyout", &keyout, "-out", &csr, "-subj", &subject]);
    openssl(&args, dir);
    let ca_pem = format!("{ca}.pem");
    let ca_key = format!("{ca}.key");
    let out = format!("{name}.pem");
    let extfile = format!("{name}.ext");
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &out,
            "-days",
            days,
            "-extfile",
            &extfile,
        ],
        dir,
    );
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("smime-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rsa2048: &[&str] = &["-newkey", "rsa:2048"];
        let rsa3072: &[&str] = &["-newkey", "rsa:3072"];
        let p256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        for (ca, cn) in [("ca", "mailseal Test Root"), ("rogue", "Untrusted Root")] {
            openssl(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "3650",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
                &dir,
            );
        }
        leaf(
            &dir,
            "alice",
            "alice@example.org",
            p256,
            "keyAgreement",
            "ca",
            "365",
        );
        leaf(
            &dir,
            "bob",
            "bob@example.net",
            rsa2048,
            "keyEncipherment",
            "ca",
            "365",
        );
        leaf(
            &dir,
            "carol",
            "carol@example.net",
            rsa3072,
            "keyEncipherment",
            "ca",
            "365",
        );
        leaf(
            &dir,
            "dave",
            "dave@example.net",
            p256,
            "keyAgreement",
            "ca",
            "365",
        );
        leaf(
            &dir,
            "erin",
            "erin@example.net",
            rsa2048,
            "keyEncipherment",
            "ca",
            "365",
        );
        leaf(
            &dir,
            "mallory",
            "mallory@example.net",
            rsa2048,
            "keyEncipherment",
            "rogue",
            "365",
        );
        leaf(
            &dir,
            "old",
            "old@example.net",
            rsa2048,
            "keyEncipherment",
            "ca",
            "-1",
        );
        Pki { dir }
    })
}

/// A home trusting the test root, holding `own`'s key and everyone's
/// certificates.
pub fn home_with(own: &[&str]) -> Home {
    let pki = pki();
    let home = Home::new();
    home.write(
        "config.toml",
        format!("[smime]\ntrust_anchors = [{:?}]\n", pki.path("ca.pem")).as_bytes(),
    );
    for name in own {
        let mut bundle = pki.read(&format!("{name}.key"));
        bundle.extend(pki.read(&format!("{name}.pem")));
        home.run(&["key", "import"], &bundle).ok();
    }
    for name in ["alice", "bob", "carol", "dave", "erin", "mallory", "old"] {
        home.run(&["cert", "import", &pki.path(&format!("{name}.pem"))], b"")
            .ok();
    }
    home
}

/// Runs `openssl cms ARGS` on `input` in the PKI directory.
pub fn openssl_cms(args: &[&str], input: &[u8]) -> Run {
    openssl_tool("cms", args, input)
}

/// Runs `openssl TOOL ARGS` (`cms` or `smime`) on `input` in the PKI
/// directory.
pub fn openssl_tool(tool: &str, args: &[&str], input: &[u8]) -> Run {
    let pki = pki();
    let file = pki.dir.join(format!(
        "in-{}-{:?}.eml",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&file, input).unwrap();
    // -in first: `openssl smime -encrypt` takes certificates as the
    // arguments after its options.
    let mut full = vec![tool, "-in", file.to_str().unwrap()];
    full.extend_from_slice(args);
    let output = Command::new("openssl")
        .args(&full)
        .current_dir(&pki.dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[track_caller]
/// `openssl cms -decrypt` of `sealed` with the PKI's NAME key.
pub fn openssl_decrypt(name: &str, sealed: &[u8]) -> Run {
    let pki = pki();
    openssl_cms(
        &[
            "-decrypt",
            "-recip",
            &pki.path(&format!("{name}.pem")),
            "-inkey",
            &pki.path(&format!("{name}.key")),
        ],
        sealed,
    )
}

pub fn assert_openssl_ok(run: &Run) {
    assert_eq!(run.code, 0, "openssl failed:\n{}", run.stderr);
}

/// `message` signed by the PKI's NAME with `openssl cms -sign` (detached
/// unless `extra` says `-nodetach`).
pub fn openssl_signed(name: &str, message: &[u8], extra: &[&str]) -> Vec<u8> {
    let pki = pki();
    let cert = pki.path(&format!("{name}.pem"));
    let key = pki.path(&format!("{name}.key"));
    let mut args = vec!["-sign", "-signer", cert.as_str(), "-inkey", key.as_str()];
    args.extend_from_slice(extra);
    let signed = openssl_cms(&args, message);
    assert_openssl_ok(&signed);
    signed.stdout
}

/// The passphrase of the PKCS#12 files given to gpgsm.
const GPGSM_PASSPHRASE: &str = "gpgsm test";

/// A scratch gpgsm home trusting the test root, without CRL checks; the
/// PKI's certificates and, on request, secret keys imported.
pub struct Gpgsm {
    pub home: tempfile::TempDir,
}

impl Gpgsm {
    pub fn new() -> Gpgsm {
        // Short, under /tmp: gpg-agent's socket path has a length limit.
        let home = tempfile::Builder::new()
            .prefix("gpgsm")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::write(
            home.path().join("gpgsm.conf"),
            "disable-crl-checks\ndisable-policy-checks\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join("gpg-agent.conf"),
            "allow-loopback-pinentry\n",
        )
        .unwrap();
        let gpgsm = Gpgsm { home };
        let pki = pki();
        let mut import = vec![pki.path("ca.pem")];
        for name in ["alice", "bob", "carol", "dave", "erin"] {
            import.push(pki.path(&format!("{name}.pem")));
        }
        let mut args = vec!["--import"];
        args.extend(import.iter().map(String::as_str));
        gpgsm.run(&args);
        let list = gpgsm
            .run(&["--with-colons", "--list-keys", "CN=mailseal Test Root"])
            .stdout_text();
        let fpr = list
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .map(str::to_string)
            .unwrap();
        std::fs::write(
            gpgsm.home.path().join("trustlist.txt"),
            format!("{fpr} S relax\n"),
        )
        .unwrap();
        gpgsm
    }

    /// Imports the PKI's NAME secret key (as a PKCS#12 file gpgsm 2.2
    /// reads: PBE-SHA1-3DES, MAC SHA-1).
    pub fn import_secret(&self, name: &str) {
        let pki = pki();
        let p12 = self.home.path().join(format!("{name}.p12"));
        let export = || {
            openssl(
                &[
                    "pkcs12",
                    "-export",
                    "-certpbe",
                    "PBE-SHA1-3DES",
                    "-keypbe",
                    "PBE-SHA1-3DES",
                    "-macalg",
                    "sha1",
                    "-inkey",
                    &format!("{name}.key"),
                    "-in",
                    &format!("{name}.pem"),
                    "-passout",
                    &format!("pass:{GPGSM_PASSPHRASE}"),
                    "-out",
                    p12.to_str().unwrap(),
                ],
                &pki.dir,
            )
        };
        // gpgsm starts gpg-agent on first use and gives up when it is slow
        // to come up (a loaded machine), and once (in a CI run) could not
        // decrypt the file with the passphrase it was given: try again with
        // a fresh agent and a fresh file before failing.
        let imported = |run: &Run| {
            ["secret keys imported: 1", "secret keys unchanged: 1"]
                .iter()
                .any(|s| run.stderr.contains(s))
        };
        export();
        let mut run = self.run(&["--import", p12.to_str().unwrap()]);
        for _ in 0..3 {
            if imported(&run) {
                break;
            }
            let _ = Command::new("gpgconf")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["--kill", "gpg-agent"])
                .status();
            std::thread::sleep(std::time::Duration::from_secs(1));
            export();
            run = self.run(&["--import", p12.to_str().unwrap()]);
        }
        assert!(
            imported(&run),
            "gpgsm did not import {name}'s key:\n{}",
            run.stderr
        );
    }

    /// Runs `gpgsm --batch --status-fd 2 ARGS`, giving the PKCS#12
    /// passphrase when asked (loopback pinentry on stdin).
    pub fn run(&self, args: &[&str]) -> Run {
        use std::io::Write;
        let mut child = Command::new("gpgsm")
            .arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--status-fd",
                "2",
                "--pinentry-mode",
                "loopback",
                "--passphrase-fd",
                "0",
            ])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = writeln!(stdin, "{GPGSM_PASSPHRASE}");
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Writes `data` to a file in the gpgsm home and returns its path.
    pub fn file(&self, name: &str, data: &[u8]) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, data).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Gpgsm {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .output();
    }
}
