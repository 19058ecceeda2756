//! The S/MIME interop matrix (issue 14): the real `openssl cms`,
//! `openssl smime` and `gpgsm` (2.2) with their defaults first, then
//! GCM/CBC/OAEP/PSS/ECDH/-stream/-nodetach variants, RSA and P-256 keys,
//! both ways. Each cell asserts the other side's own success markers: the
//! peer's exit code and "Verification successful" / `[GNUPG:] GOODSIG`
//! and the decrypted body, or mailseal's exit code, body and "Good
//! signature from ADDRESS". The matrix is printed (peer × cell →
//! pass/FAIL) so that a failure names its cell; cells a peer cannot do
//! are printed with the reason and listed in README's interop table.

mod common;
use common::*;
#[path = "common/smime.rs"]
mod smime_pki;
use smime_pki::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

const BODY: &str = "Interop body: 100 EUR, and some UTF-8 is not needed.";

/// A cleartext message from `from` to `to`, CRLF.
fn message(from: &str, to: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: interop matrix\r\nDate: Tue, 01 Dec 2026 07:00:00 +0000\r\nMessage-ID: <interop@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{BODY}\r\n"
    )
    .into_bytes()
}

/// Results of one direction of the matrix.
struct Matrix {
    title: &'static str,
    rows: Vec<(&'static str, String, Result<(), String>)>,
    cannot: Vec<(&'static str, &'static str, &'static str)>,
}

impl Matrix {
    fn new(title: &'static str) -> Matrix {
        Matrix {
            title,
            rows: Vec::new(),
            cannot: Vec::new(),
        }
    }

    /// Runs one cell; a panic inside is that cell's failure.
    fn cell(&mut self, peer: &'static str, cell: &str, check: impl FnOnce() -> Result<(), String>) {
        let result = catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|panic| {
            Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into()))
        });
        self.rows.push((peer, cell.to_string(), result));
    }

    /// A cell the peer cannot do, and why.
    fn cannot(&mut self, peer: &'static str, cell: &'static str, reason: &'static str) {
        self.cannot.push((peer, cell, reason));
    }

    /// Prints the matrix and fails if any cell failed.
    fn finish(self) {
        println!("\n== S/MIME interop: {} ==", self.title);
        for (peer, cell, result) in &self.rows {
            match result {
                Ok(()) => println!("{peer:<14} {cell:<58} pass"),
                Err(e) => println!("{peer:<14} {cell:<58} FAIL: {e}"),
            }
        }
        for (peer, cell, reason) in &self.cannot {
            println!("{peer:<14} {cell:<58} n/a: {reason}");
        }
        let failed: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, _, r)| r.is_err())
            .map(|(p, c, _)| format!("{p} × {c}"))
            .collect();
        println!(
            "{} cells run, {} failed, {} not possible for the peer",
            self.rows.len(),
            failed.len(),
            self.cannot.len()
        );
        assert!(failed.is_empty(), "failed cells: {failed:#?}");
    }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// The peer's run succeeded (exit 0), else its stderr.
fn peer_ok(what: &str, run: &Run) -> Result<(), String> {
    ensure(run.code == 0, || {
        format!("{what} exited {}: {}", run.code, run.stderr.trim())
    })
}

/// mailseal opened `sealed` (exit 0), the body came out, and the
/// signature is good and from `signer` (when given).
fn mailseal_opens(
    home: &Home,
    command: &str,
    sealed: &[u8],
    signer: Option<&str>,
) -> Result<(), String> {
    let run = home.run(&[command], sealed);
    ensure(run.code == 0, || {
        format!(
            "mailseal {command} exited {}: {}",
            run.code,
            run.stderr.trim()
        )
    })?;
    if command == "decrypt" {
        let plain = run.stdout_text();
        ensure(plain.contains(BODY), || {
            format!("body missing from {plain:?}")
        })?;
    }
    if let Some(signer) = signer {
        ensure(
            run.stderr
                .contains(&format!("Good signature from {signer}")),
            || format!("no good signature from {signer}: {}", run.stderr.trim()),
        )?;
    }
    Ok(())
}

/// `openssl TOOL -sign` by the PKI's `signer` with `extra` options.
fn openssl_sign(tool: &str, signer: &str, extra: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    let pki = pki();
    let cert = pki.path(&format!("{signer}.pem"));
    let key = pki.path(&format!("{signer}.key"));
    let mut args = vec!["-sign", "-signer", cert.as_str(), "-inkey", key.as_str()];
    args.extend_from_slice(extra);
    let run = openssl_tool(tool, &args, input);
    peer_ok(&format!("openssl {tool} -sign"), &run)?;
    Ok(run.stdout)
}

/// `openssl TOOL -encrypt` to the PKI's `recipient` with `cipher` (none:
/// the tool's default) and `keyopts` (after -recip, where openssl wants
/// them), adding From/To/Subject to the outer header.
fn openssl_encrypt(
    tool: &str,
    recipient: &str,
    cipher: Option<&str>,
    keyopts: &[&str],
    input: &[u8],
) -> Result<Vec<u8>, String> {
    let pki = pki();
    let cert = pki.path(&format!("{recipient}.pem"));
    let to = format!("{recipient}@example.net");
    let mut args = vec![
        "-encrypt",
        "-from",
        "bob@example.net",
        "-to",
        &to,
        "-subject",
        "interop",
    ];
    args.extend(cipher);
    if tool == "cms" {
        args.extend_from_slice(&["-recip", cert.as_str()]);
        args.extend_from_slice(keyopts);
    } else {
        args.push(cert.as_str());
    }
    let run = openssl_tool(tool, &args, input);
    peer_ok(&format!("openssl {tool} -encrypt"), &run)?;
    Ok(run.stdout)
}

/// A gpgsm-made CMS object (binary) as an application/pkcs7-mime entity.
fn pkcs7_mime(der: &[u8], smime_type: &str, headers: &str) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: String = b64
        .as_bytes()
        .chunks(76)
        .map(|l| format!("{}\r\n", std::str::from_utf8(l).unwrap()))
        .collect();
    format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n{lines}"
    )
    .into_bytes()
}

const OUTER: &str = "From: bob@example.net\r\nTo: erin@example.net\r\nSubject: interop\r\n";

#[test]
fn peers_seal_mailseal_opens() {
    let erin = home_with(&["erin"]);
    let dave = home_with(&["dave"]);
    let carol = home_with(&["carol"]);
    let mut m = Matrix::new("peer seals, mailseal opens");
    let from_bob = message("bob@example.net", "erin@example.net");
    let from_alice = message("alice@example.org", "erin@example.net");

    // Encryption cells carry the peer's own signature inside (what a mail
    // client sends), so the signer is checked too.
    for tool in ["cms", "smime"] {
        let peer: &'static str = if tool == "cms" {
            "openssl cms"
        } else {
            "openssl smime"
        };
        let mut cells: Vec<(&str, &str, Option<&str>, Vec<&str>)> = vec![
            (
                "encrypt defaults (3DES, RSA PKCS#1 v1.5) + sign",
                "erin",
                None,
                vec![],
            ),
            (
                "encrypt -aes128 (CBC) + sign",
                "erin",
                Some("-aes128"),
                vec![],
            ),
            (
                "encrypt -aes192 (CBC) + sign",
                "erin",
                Some("-aes192"),
                vec![],
            ),
            (
                "encrypt -aes256 (CBC) + sign",
                "erin",
                Some("-aes256"),
                vec![],
            ),
            ("encrypt defaults to RSA-3072 + sign", "carol", None, vec![]),
        ];
        if tool == "cms" {
            cells.extend([
                (
                    "encrypt -aes-128-gcm + sign",
                    "erin",
                    Some("-aes-128-gcm"),
                    vec![],
                ),
                (
                    "encrypt -aes-256-gcm + sign",
                    "erin",
                    Some("-aes-256-gcm"),
                    vec![],
                ),
                (
                    "encrypt OAEP defaults (SHA-1, MGF1-SHA-1) + sign",
                    "erin",
                    None,
                    vec!["-keyopt", "rsa_padding_mode:oaep"],
                ),
                (
                    "encrypt OAEP SHA-256/MGF1-SHA-256 -aes-256-gcm + sign",
                    "erin",
                    Some("-aes-256-gcm"),
                    vec![
                        "-keyopt",
                        "rsa_padding_mode:oaep",
                        "-keyopt",
                        "rsa_oaep_md:sha256",
                        "-keyopt",
                        "rsa_mgf1_md:sha256",
                    ],
                ),
                (
                    "encrypt OAEP SHA-384/MGF1-SHA-1 + sign",
                    "erin",
                    Some("-aes256"),
                    vec![
                        "-keyopt",
                        "rsa_padding_mode:oaep",
                        "-keyopt",
                        "rsa_oaep_md:sha384",
                    ],
                ),
                (
                    "encrypt OAEP SHA-512/MGF1-SHA-512 + sign",
                    "erin",
                    Some("-aes256"),
                    vec![
                        "-keyopt",
                        "rsa_padding_mode:oaep",
                        "-keyopt",
                        "rsa_oaep_md:sha512",
                        "-keyopt",
                        "rsa_mgf1_md:sha512",
                    ],
                ),
                (
                    "encrypt defaults to P-256 (ECDH, 3DES) + sign",
                    "dave",
                    None,
                    vec![],
                ),
                (
                    "encrypt P-256 (ECDH) -aes-256-gcm + sign",
                    "dave",
                    Some("-aes-256-gcm"),
                    vec![],
                ),
            ]);
        }
        for (cell, recipient, cipher, keyopts) in cells {
            let home = match recipient {
                "dave" => &dave,
                "carol" => &carol,
                _ => &erin,
            };
            let to = format!("{recipient}@example.net");
            m.cell(peer, cell, || {
                let signed = openssl_sign(tool, "bob", &[], &message("bob@example.net", &to))?;
                let sealed = openssl_encrypt(tool, recipient, cipher, &keyopts, &signed)?;
                mailseal_opens(home, "decrypt", &sealed, Some("bob@example.net"))
            });
        }
        let mut signs: Vec<(&str, &str, Vec<&str>)> = vec![
            ("sign defaults (detached, RSA)", "bob", vec![]),
            ("sign -nodetach (opaque)", "bob", vec!["-nodetach"]),
            (
                "sign -nodetach -stream (constructed content)",
                "bob",
                vec!["-nodetach", "-stream"],
            ),
            ("sign -stream (detached)", "bob", vec!["-stream"]),
            ("sign defaults, P-256 (ECDSA)", "alice", vec![]),
            (
                "sign -nodetach -stream, P-256",
                "alice",
                vec!["-nodetach", "-stream"],
            ),
            // rsaEncryption SignerInfos: the digest is the one named.
            ("sign -md sha384 (RSA)", "bob", vec!["-md", "sha384"]),
            ("sign -md sha512 (RSA)", "bob", vec!["-md", "sha512"]),
            // ecdsa-with-SHA384/512 over P-256 (hash truncated, FIPS 186).
            ("sign -md sha384, P-256", "alice", vec!["-md", "sha384"]),
            ("sign -md sha512, P-256", "alice", vec!["-md", "sha512"]),
        ];
        if tool == "cms" {
            signs.extend([
                (
                    "sign RSA-PSS defaults (max salt)",
                    "bob",
                    vec!["-keyopt", "rsa_padding_mode:pss"],
                ),
                (
                    "sign RSA-PSS salt = digest, -nodetach",
                    "bob",
                    vec![
                        "-nodetach",
                        "-keyopt",
                        "rsa_padding_mode:pss",
                        "-keyopt",
                        "rsa_pss_saltlen:digest",
                    ],
                ),
            ]);
        }
        for (cell, signer, extra) in signs {
            let (input, address) = if signer == "alice" {
                (&from_alice, "alice@example.org")
            } else {
                (&from_bob, "bob@example.net")
            };
            m.cell(peer, cell, || {
                let signed = openssl_sign(tool, signer, &extra, input)?;
                mailseal_opens(&erin, "verify", &signed, Some(address))
            });
        }
    }
    m.cannot(
        "openssl smime",
        "AES-GCM (authEnveloped-data)",
        "PKCS#7 has no AuthEnvelopedData; `openssl smime -encrypt -aes-256-gcm` fails",
    );
    m.cannot(
        "openssl smime",
        "RSA-OAEP, RSA-PSS",
        "`openssl smime` has no -keyopt",
    );
    m.cannot(
        "openssl smime",
        "encrypt to P-256 (ECDH)",
        "PKCS#7 has no key agreement: \"encryption not supported for this key type\"",
    );

    // gpgsm 2.2: bob signs, erin receives.
    let gpgsm = Gpgsm::new();
    gpgsm.import_secret("bob");
    let inner = gpgsm.file("inner.eml", &from_bob);
    let opaque = |extra: &[&str]| -> Result<Vec<u8>, String> {
        let out = gpgsm.home.path().join("signed.p7m");
        let _ = std::fs::remove_file(&out);
        let mut args = vec![
            "-u",
            "bob@example.net",
            "--sign",
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(&inner);
        let run = gpgsm.run(&args);
        peer_ok("gpgsm --sign", &run)?;
        ensure(run.stderr.contains("[GNUPG:] SIG_CREATED"), || {
            run.stderr.clone()
        })?;
        Ok(std::fs::read(&out).unwrap())
    };
    m.cell(
        "gpgsm 2.2",
        "sign defaults (opaque, constructed content)",
        || {
            let der = opaque(&[])?;
            mailseal_opens(
                &erin,
                "verify",
                &pkcs7_mime(&der, "signed-data", OUTER),
                Some("bob@example.net"),
            )
        },
    );
    m.cell("gpgsm 2.2", "sign --detach (multipart/signed)", || {
        use base64::Engine;
        let (_, body) = from_bob.split_at(
            from_bob.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4,
        );
        let part = format!("Content-Type: text/plain; charset=us-ascii\r\n\r\n{}", String::from_utf8_lossy(body));
        let part_file = gpgsm.file("part.txt", part.as_bytes());
        let out = gpgsm.home.path().join("detached.p7s");
        let _ = std::fs::remove_file(&out);
        let run = gpgsm.run(&["-u", "bob@example.net", "--detach-sign", "-o", out.to_str().unwrap(), &part_file]);
        peer_ok("gpgsm --detach-sign", &run)?;
        let sig = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&out).unwrap());
        let message = format!(
            "{OUTER}MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b1\"\r\n\r\n--b1\r\n{part}\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n{sig}\r\n--b1--\r\n"
        );
        mailseal_opens(&erin, "verify", message.as_bytes(), Some("bob@example.net"))
    });
    for (cell, cipher) in [
        ("encrypt defaults (AES-128-CBC) + sign", None),
        ("encrypt --cipher-algo AES192 + sign", Some("AES192")),
        ("encrypt --cipher-algo AES256 + sign", Some("AES256")),
    ] {
        m.cell("gpgsm 2.2", cell, || {
            // What a gpgsm-based client sends: the signed-data as a MIME
            // entity, encrypted.
            let signed = pkcs7_mime(&opaque(&[])?, "signed-data", "");
            let entity = gpgsm.file("entity.eml", &signed);
            let out = gpgsm.home.path().join("enc.p7m");
            let _ = std::fs::remove_file(&out);
            let mut args = vec![
                "-r",
                "erin@example.net",
                "--encrypt",
                "-o",
                out.to_str().unwrap(),
            ];
            if let Some(c) = cipher {
                args.extend_from_slice(&["--cipher-algo", c]);
            }
            args.push(&entity);
            let run = gpgsm.run(&args);
            peer_ok("gpgsm --encrypt", &run)?;
            let sealed = pkcs7_mime(&std::fs::read(&out).unwrap(), "enveloped-data", OUTER);
            mailseal_opens(&erin, "decrypt", &sealed, Some("bob@example.net"))
        });
    }
    m.cannot("gpgsm 2.2", "AES-GCM", "gpgsm 2.2 writes only CBC");
    m.cannot(
        "gpgsm 2.2",
        "RSA-OAEP, RSA-PSS",
        "gpgsm 2.2 writes only PKCS#1 v1.5 key transport and signatures",
    );
    m.cannot(
        "gpgsm 2.2",
        "P-256 keys (ECDH, ECDSA)",
        "gpgsm 2.2.40 crashes importing a P-256 PKCS#12 key (SIGSEGV)",
    );
    m.finish();
}

/// The decrypted bytes contain the message (protected headers and body).
fn has_message(what: &str, plain: &str) -> Result<(), String> {
    ensure(
        plain.contains(BODY) && plain.contains("Subject: interop matrix"),
        || format!("{what}: the message is not in {plain:?}"),
    )
}

#[test]
fn mailseal_seals_peers_open() {
    let pki = pki();
    let ca = pki.path("ca.pem");
    let mut m = Matrix::new("mailseal seals, peer opens");
    let bob = home_with(&["bob"]);
    let alice = home_with(&["alice"]);
    let bob_pss = home_with(&["bob"]);
    bob_pss.write(
        "config.toml",
        format!("[smime]\ntrust_anchors = [{ca:?}]\nrsa_signature = \"rsa-pss\"\n").as_bytes(),
    );
    let homes = |signer: &str| match signer {
        "alice" => (&alice, "alice@example.org"),
        "bob-pss" => (&bob_pss, "bob@example.net"),
        _ => (&bob, "bob@example.net"),
    };
    // (cell, signer, recipient, extra mailseal options)
    let encrypt_cells: &[(&str, &str, &str, &[&str])] = &[
        (
            "decrypt+verify defaults (AES-256-GCM, RSA v1.5)",
            "bob",
            "erin",
            &[],
        ),
        (
            "decrypt+verify AES-256-CBC",
            "bob",
            "erin",
            &["--content-cipher", "aes256-cbc"],
        ),
        (
            "decrypt+verify RSA-OAEP (SHA-256), GCM",
            "bob",
            "erin",
            &["--key-transport", "rsa-oaep"],
        ),
        (
            "decrypt+verify RSA-OAEP, CBC",
            "bob",
            "erin",
            &[
                "--key-transport",
                "rsa-oaep",
                "--content-cipher",
                "aes256-cbc",
            ],
        ),
        ("decrypt+verify RSA-3072 recipient", "bob", "carol", &[]),
        (
            "decrypt+verify P-256 recipient (ECDH), GCM",
            "bob",
            "dave",
            &[],
        ),
        (
            "decrypt+verify P-256 recipient (ECDH), CBC",
            "bob",
            "dave",
            &["--content-cipher", "aes256-cbc"],
        ),
        (
            "decrypt+verify P-256 signer (ECDSA), CBC",
            "alice",
            "erin",
            &["--content-cipher", "aes256-cbc"],
        ),
        (
            "decrypt+verify RSA-PSS signer, CBC",
            "bob-pss",
            "erin",
            &["--content-cipher", "aes256-cbc"],
        ),
    ];
    for tool in ["cms", "smime"] {
        let peer: &'static str = if tool == "cms" {
            "openssl cms"
        } else {
            "openssl smime"
        };
        for (cell, signer, recipient, extra) in encrypt_cells {
            let gcm = !extra.contains(&"aes256-cbc");
            // Listed below as not possible: GCM, OAEP, P-256 recipients
            // (a P-256 sender's own copy too), PSS.
            let p256 = *recipient == "dave" || *signer == "alice";
            if tool == "smime"
                && (gcm || extra.contains(&"rsa-oaep") || p256 || *signer == "bob-pss")
            {
                continue;
            }
            let (home, from) = homes(signer);
            m.cell(peer, cell, || {
                let to = format!("{recipient}@example.net");
                let mut args = vec!["encrypt", "--smime", "--sign"];
                args.extend_from_slice(extra);
                let sealed = home.run(&args, &message(from, &to));
                ensure(sealed.code == 0, || sealed.stderr.clone())?;
                let opened = openssl_tool(
                    tool,
                    &[
                        "-decrypt",
                        "-recip",
                        &pki.path(&format!("{recipient}.pem")),
                        "-inkey",
                        &pki.path(&format!("{recipient}.key")),
                    ],
                    &sealed.stdout,
                );
                peer_ok(&format!("openssl {tool} -decrypt"), &opened)?;
                let verified = openssl_tool(tool, &["-verify", "-CAfile", &ca], &opened.stdout);
                peer_ok(&format!("openssl {tool} -verify"), &verified)?;
                ensure(verified.stderr.contains("Verification successful"), || {
                    verified.stderr.clone()
                })?;
                has_message(&format!("openssl {tool}"), &verified.stdout_text())
            });
        }
        let mut sign_cells = vec![
            ("verify sign defaults (RSA)", "bob"),
            ("verify sign, P-256 (ECDSA)", "alice"),
        ];
        if tool == "cms" {
            sign_cells.push(("verify sign RSA-PSS", "bob-pss"));
        }
        for (cell, signer) in sign_cells {
            let (home, from) = homes(signer);
            m.cell(peer, cell, || {
                let signed = home.run(&["sign", "--smime"], &message(from, "erin@example.net"));
                ensure(signed.code == 0, || signed.stderr.clone())?;
                let verified = openssl_tool(tool, &["-verify", "-CAfile", &ca], &signed.stdout);
                peer_ok(&format!("openssl {tool} -verify"), &verified)?;
                ensure(verified.stderr.contains("Verification successful"), || {
                    verified.stderr.clone()
                })?;
                has_message(&format!("openssl {tool}"), &verified.stdout_text())
            });
        }
    }
    m.cannot(
        "openssl smime",
        "AES-GCM (mailseal's default)",
        "PKCS#7 has no AuthEnvelopedData",
    );
    m.cannot(
        "openssl smime",
        "RSA-OAEP recipients",
        "PKCS#7 decrypts RSA PKCS#1 v1.5 only",
    );
    m.cannot(
        "openssl smime",
        "P-256 recipients (ECDH), a P-256 sender's own copy included",
        "PKCS#7 cannot parse a KeyAgreeRecipientInfo (\"wrong tag ... PKCS7_RECIP_INFO\")",
    );
    m.cannot(
        "openssl smime",
        "RSA-PSS signatures",
        "verifies through PKCS#7, which checks PKCS#1 v1.5 signatures only",
    );

    // gpgsm 2.2 as erin: decrypts, then checks the signature inside.
    let gpgsm = Gpgsm::new();
    gpgsm.import_secret("erin");
    let gpgsm_verify = |entity: &[u8]| -> Result<(), String> {
        // Split the multipart/signed that mailseal made: the first part's
        // exact bytes and the base64 signature.
        use base64::Engine;
        let text = String::from_utf8_lossy(entity).into_owned();
        let boundary = text
            .split("boundary=\"")
            .nth(1)
            .and_then(|b| b.split('"').next())
            .ok_or("no multipart/signed inside")?;
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        let signed_part = &parts[1]["\r\n".len()..parts[1].len() - 2];
        has_message("gpgsm", signed_part)?;
        let signature: String = parts[2]
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .map_err(|e| e.to_string())?;
        let content = gpgsm.file("signed.part", signed_part.as_bytes());
        let sig = gpgsm.file("sig.p7s", &signature);
        let run = gpgsm.run(&["--verify", &sig, &content]);
        peer_ok("gpgsm --verify", &run)?;
        ensure(
            run.stderr.contains("[GNUPG:] GOODSIG") && run.stderr.contains("TRUST_FULLY"),
            || run.stderr.clone(),
        )
    };
    for (cell, signer, extra) in [
        (
            "decrypt+verify AES-256-CBC, RSA (encrypt-to-self listed last)",
            "bob",
            &["--content-cipher", "aes256-cbc"][..],
        ),
        (
            "decrypt AES-256-CBC from a P-256 sender (ECDH to self)",
            "alice",
            &["--content-cipher", "aes256-cbc", "--no-sign"][..],
        ),
    ] {
        let (home, from) = homes(signer);
        m.cell("gpgsm 2.2", cell, || {
            let sealed = home.run(
                &[&["encrypt", "--smime"][..], extra].concat(),
                &message(from, "erin@example.net"),
            );
            ensure(sealed.code == 0, || sealed.stderr.clone())?;
            // gpgsm reads the bare base64 CMS object.
            let text = String::from_utf8_lossy(&sealed.stdout).into_owned();
            let b64: String = text
                .split_once("\r\n\r\n")
                .map(|(_, b)| b)
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| e.to_string())?;
            let input = gpgsm.file("sealed.p7m", &der);
            let run = gpgsm.run(&["--decrypt", &input]);
            peer_ok("gpgsm --decrypt", &run)?;
            ensure(run.stderr.contains("[GNUPG:] DECRYPTION_OKAY"), || {
                run.stderr.clone()
            })?;
            if signer == "alice" {
                has_message("gpgsm", &run.stdout_text())
            } else {
                gpgsm_verify(&run.stdout)
            }
        });
    }
    m.cell("gpgsm 2.2", "verify sign defaults (RSA, detached)", || {
        let signed = bob.run(
            &["sign", "--smime"],
            &message("bob@example.net", "erin@example.net"),
        );
        ensure(signed.code == 0, || signed.stderr.clone())?;
        gpgsm_verify(&signed.stdout)
    });
    m.cannot(
        "gpgsm 2.2",
        "AES-GCM (mailseal's default)",
        "gpgsm 2.2 reads no AuthEnvelopedData (\"Buffer too short\")",
    );
    m.cannot(
        "gpgsm 2.2",
        "RSA-OAEP recipients",
        "gpgsm 2.2 fails to decrypt RSA-OAEP (DECRYPTION_FAILED)",
    );
    m.cannot(
        "gpgsm 2.2",
        "RSA-PSS signatures",
        "gpgsm 2.2 reports BADSIG for openssl's RSASSA-PSS signatures",
    );
    m.cannot(
        "gpgsm 2.2",
        "P-256 recipients and signers",
        "gpgsm 2.2.40 crashes importing a P-256 PKCS#12 key (SIGSEGV)",
    );
    m.finish();
}
