//! Interoperability with the real GnuPG (`gpg` 2.2): messages sealed by
//! mailseal open in gpg, and messages made with gpg open in mailseal.

mod common;
use common::*;

use std::path::Path;

const HELLO_BODY: &str = "this is a short test message for mailseal.";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A scratch GnuPG home holding Alice's shipped public key.
fn gpg_with_alice_cert() -> Gpg {
    let gpg = Gpg::new();
    let alice = testdata("keys/alice.pub.asc");
    gpg.run(&["--import", path_str(&alice)], b"").ok();
    gpg
}

/// The armored public key for `address` from `gpg`.
fn export_cert(gpg: &Gpg, address: &str) -> Vec<u8> {
    gpg.run(&["--armor", "--export", address], b"").ok().stdout
}

/// The `[GNUPG:]` status keywords gpg wrote to stderr (`--status-fd 2`).
fn status_keywords(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[GNUPG:] "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[track_caller]
fn assert_status(run: &Run, keywords: &[&str]) {
    let seen = status_keywords(run);
    for keyword in keywords {
        assert!(
            seen.contains(keyword),
            "gpg status lacks {keyword}\nstderr:\n{}",
            run.stderr
        );
    }
    for bad in ["BADSIG", "ERRSIG", "DECRYPTION_FAILED"] {
        assert!(
            !seen.contains(&bad),
            "gpg reported {bad}\nstderr:\n{}",
            run.stderr
        );
    }
}

/// A PGP/MIME (RFC 3156 §4) message around gpg's armored `ciphertext`.
fn pgp_mime_message(ciphertext: &[u8]) -> Vec<u8> {
    let mut message = crlf(
        b"From: alice@example.org\n\
          To: bob@example.net\n\
          Subject: x\n\
          MIME-Version: 1.0\n\
          Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\n \
          boundary=\"b\"\n\
          \n\
          --b\n\
          Content-Type: application/pgp-encrypted\n\
          \n\
          Version: 1\n\
          \n\
          --b\n\
          Content-Type: application/octet-stream\n\
          \n",
    );
    message.extend_from_slice(&crlf(ciphertext));
    message.extend_from_slice(b"\r\n--b--\r\n");
    message
}

/// mailseal (Alice, shipped key) signs and encrypts hello.eml to a gpg-made
/// Bob key of `algo`; gpg decrypts it and checks Alice's signature.
fn gpg_decrypts_mailseal(algo: &str) {
    let gpg = gpg_with_alice_cert();
    gpg.generate("bob@example.net", algo, None);
    let alice = Home::new();
    alice.import_key("alice");
    alice
        .run(&["cert", "import"], &export_cert(&gpg, "bob@example.net"))
        .ok();

    let hello = testdata("messages/hello.eml");
    let sealed = alice.run(&["encrypt", path_str(&hello)], b"").ok();
    let decrypted = gpg
        .run(
            &["--status-fd", "2", "--decrypt"],
            &armored_block(&sealed.stdout, "PGP MESSAGE"),
        )
        .ok();
    assert_status(
        &decrypted,
        &["DECRYPTION_OKAY", "GOODMDC", "GOODSIG", "VALIDSIG"],
    );
    let plaintext = decrypted.stdout_text();
    assert!(
        plaintext.contains("Subject: Hello from mailseal"),
        "inner headers missing:\n{plaintext}"
    );
    assert!(plaintext.contains(HELLO_BODY), "body missing:\n{plaintext}");
    assert!(
        plaintext.contains("hp=\"cipher\""),
        "no hp=\"cipher\" on the protected entity:\n{plaintext}"
    );
}

#[test]
fn gpg_decrypts_and_verifies_mailseal_encryption_ed25519() {
    gpg_decrypts_mailseal("ed25519");
}

#[test]
fn gpg_decrypts_mailseal_encryption_rsa3072() {
    gpg_decrypts_mailseal("rsa3072");
}

/// Bodies just under and over the size mailseal encrypts on one thread
/// (256 KiB; above it, armoring and the MDC's hashing each move to a
/// thread of their own), and one of several times that: gpg decrypts each,
/// finds the MDC good, and gets every byte of the body.
#[test]
fn gpg_decrypts_mailseal_encryption_around_the_one_thread_size() {
    let gpg = Gpg::new();
    gpg.generate("bob@example.net", "ed25519", None);
    let alice = Home::new();
    alice.import_key("alice");
    alice
        .run(&["cert", "import"], &export_cert(&gpg, "bob@example.net"))
        .ok();
    for size in [256 * 1024 - 40, 256 * 1024 + 40, 900 * 1024] {
        let line =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab\r\n";
        let mut body: Vec<u8> = line.iter().copied().cycle().take(size).collect();
        body.truncate(size - size % line.len());
        let mut message =
            b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: size\r\n\r\n".to_vec();
        message.extend_from_slice(&body);
        let file = alice.write("size.eml", &message);
        let sealed = alice
            .run(&["encrypt", "--no-sign", path_str(&file)], b"")
            .ok();
        let decrypted = gpg
            .run(
                &["--status-fd", "2", "--decrypt"],
                &armored_block(&sealed.stdout, "PGP MESSAGE"),
            )
            .ok();
        assert_status(&decrypted, &["DECRYPTION_OKAY", "GOODMDC"]);
        assert!(
            decrypted.stdout.ends_with(&body),
            "{size}: the body gpg decrypted differs"
        );
    }
}

// Brainpool keys work only with the OpenSSL backend (the default one
// refuses them at import: tests/interop_openpgp.rs); CI runs this file
// with `--no-default-features --features crypto-openssl` too.

#[cfg(feature = "crypto-openssl")]
#[test]
fn gpg_decrypts_mailseal_encryption_to_brainpool() {
    gpg_decrypts_mailseal("brainpoolP256r1");
}

#[cfg(feature = "crypto-openssl")]
#[test]
fn mailseal_decrypts_and_verifies_gpg_brainpool() {
    mailseal_decrypts_gpg(
        "brainpoolP384r1",
        "brainpoolP256r1",
        &["--armor", "--export-secret-keys"],
    );
}

#[test]
fn gpg_verifies_mailseal_multipart_signed_exact_bytes() {
    let gpg = gpg_with_alice_cert();
    let alice = Home::new();
    alice.import_key("alice");
    for name in [
        "hello.eml",
        "corpus/05-utf8-body-8bit.eml",
        "corpus/09-trailing-whitespace.eml",
        "corpus/10-long-line.eml",
        "corpus/11-from-dot-dash-lines.eml",
    ] {
        let input = testdata(&format!("messages/{name}"));
        let signed = alice.run(&["sign", path_str(&input)], b"").ok();
        let message = String::from_utf8(signed.stdout).expect("signed message is UTF-8");
        assert!(
            message.contains("micalg=pgp-sha256")
                && message.contains("protocol=\"application/pgp-signature\""),
            "{name}: not multipart/signed with pgp-sha256:\n{message}"
        );
        let data = signed_bytes(&message);
        assert!(
            data.is_ascii(),
            "{name}: signed entity is not 7-bit:\n{data}"
        );
        for (i, line) in data.split("\r\n").enumerate() {
            assert!(
                !line.contains('\r') && !line.contains('\n'),
                "{name}: bare CR or LF in signed line {i}: {line:?}"
            );
            assert!(
                line.len() <= 998,
                "{name}: signed line {i} is {} octets long",
                line.len()
            );
        }

        let data_file = alice.write("data", data.as_bytes());
        let sig_file = alice.write(
            "data.sig",
            &armored_block(message.as_bytes(), "PGP SIGNATURE"),
        );
        let verified = gpg.run(
            &[
                "--status-fd",
                "2",
                "--verify",
                path_str(&sig_file),
                path_str(&data_file),
            ],
            b"",
        );
        assert_eq!(
            verified.code, 0,
            "{name}: gpg --verify failed:\n{}",
            verified.stderr
        );
        assert_status(&verified, &["GOODSIG", "VALIDSIG"]);
    }
}

/// A mailseal home with Bob's gpg-made secret key, exported with
/// `gpg EXPORT_ARGS... bob@example.net`.
fn mailseal_bob_from_gpg(gpg: &Gpg, export_args: &[&str]) -> Home {
    let bob = Home::new();
    let mut args = export_args.to_vec();
    args.push("bob@example.net");
    let secret = gpg.run(&args, b"").ok().stdout;
    bob.run(&["key", "import"], &secret).ok();
    bob
}

/// gpg signs (Alice, an `alice_algo` key) and encrypts (to Bob) a PGP/MIME
/// message; mailseal decrypts it and reports Alice's good signature.
fn mailseal_decrypts_gpg(alice_algo: &str, bob_algo: &str, secret_export_args: &[&str]) {
    let gpg = Gpg::new();
    gpg.generate("alice@example.org", alice_algo, None);
    gpg.generate("bob@example.net", bob_algo, None);
    let bob = mailseal_bob_from_gpg(&gpg, secret_export_args);
    bob.run(&["cert", "import"], &export_cert(&gpg, "alice@example.org"))
        .ok();

    let inner = "Content-Type: text/plain; charset=utf-8\r\n\r\nHallo Bob, grüße!\r\n";
    let ciphertext = gpg
        .run(
            &[
                "--armor",
                "--sign",
                "--encrypt",
                "-r",
                "bob@example.net",
                "-u",
                "alice@example.org",
            ],
            inner.as_bytes(),
        )
        .ok()
        .stdout;
    let sealed = bob.write("sealed.eml", &pgp_mime_message(&ciphertext));

    let decrypted = bob.run(&["decrypt", path_str(&sealed)], b"").ok();
    assert!(
        decrypted.stdout_text().contains("grüße"),
        "plaintext missing:\n{}",
        decrypted.stdout_text()
    );
    assert!(
        decrypted.stderr.contains("Good signature"),
        "no good signature reported:\n{}",
        decrypted.stderr
    );

    let out = bob.file("out.eml");
    let report = bob
        .run(
            &["--json", "decrypt", path_str(&sealed), "-o", path_str(&out)],
            b"",
        )
        .ok();
    let json: serde_json::Value =
        serde_json::from_slice(&report.stdout).expect("decrypt --json prints JSON");
    assert_eq!(
        json["signatures"][0]["status"], "good",
        "signature report: {json}"
    );
    assert_eq!(
        json["signatures"][0]["addresses"][0], "alice@example.org",
        "signer address: {json}"
    );
    let written = std::fs::read_to_string(&out).expect("decrypt -o writes OUT");
    assert!(
        written.contains("grüße"),
        "OUT lacks the plaintext:\n{written}"
    );
}

#[test]
fn mailseal_decrypts_gpg_pgp_mime_ed25519() {
    mailseal_decrypts_gpg("ed25519", "ed25519", &["--armor", "--export-secret-keys"]);
}

#[test]
fn mailseal_decrypts_gpg_rsa3072() {
    mailseal_decrypts_gpg("ed25519", "rsa3072", &["--export-secret-keys"]);
}

#[test]
fn gpg_multipart_signed_verifies_in_mailseal() {
    let gpg = Gpg::new();
    gpg.generate("alice@example.org", "ed25519", None);
    let bob = Home::new();
    bob.run(&["cert", "import"], &export_cert(&gpg, "alice@example.org"))
        .ok();

    let entity = "Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned by gpg.\r\n";
    let signature = gpg
        .run(
            &[
                "--armor",
                "--detach-sign",
                "--digest-algo",
                "SHA256",
                "-u",
                "alice@example.org",
            ],
            entity.as_bytes(),
        )
        .ok()
        .stdout;
    let message = |entity: &str| {
        let mut message = crlf(
            b"From: alice@example.org\n\
              To: bob@example.net\n\
              Subject: signed by gpg\n\
              MIME-Version: 1.0\n\
              Content-Type: multipart/signed; micalg=pgp-sha256;\n \
              protocol=\"application/pgp-signature\"; boundary=\"s\"\n\
              \n\
              --s\n",
        );
        message.extend_from_slice(entity.as_bytes());
        message.extend_from_slice(b"\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n");
        message.extend_from_slice(&crlf(&signature));
        message.extend_from_slice(b"\r\n--s--\r\n");
        message
    };

    bob.run(&["verify"], &message(entity)).ok();
    let tampered = entity.replace("Signed by gpg.", "Signed by gpG.");
    bob.run(&["verify"], &message(&tampered)).expect_code(1);
}

#[test]
fn passphrase_protected_gpg_key() {
    let gpg = Gpg::new();
    gpg.generate("bob@example.net", "ed25519", Some("correct horse"));
    let bob = mailseal_bob_from_gpg(
        &gpg,
        &[
            "--passphrase",
            "correct horse",
            "--armor",
            "--export-secret-keys",
        ],
    );

    let inner = "Content-Type: text/plain; charset=utf-8\r\n\r\nFor Bob only.\r\n";
    let ciphertext = gpg
        .run(
            &["--armor", "--encrypt", "-r", "bob@example.net"],
            inner.as_bytes(),
        )
        .ok()
        .stdout;
    let sealed = bob.write("sealed.eml", &pgp_mime_message(&ciphertext));
    let sealed = path_str(&sealed);

    let refused = bob.run(&["decrypt", sealed], b"").expect_code(77);
    assert!(refused.stdout.is_empty(), "output without a passphrase");
    assert!(
        refused.stderr.contains("no passphrase was given"),
        "refusal does not mention the passphrase:\n{}",
        refused.stderr
    );

    let good = bob.write("good-pass", b"correct horse\n");
    let decrypted = bob
        .run(
            &["--passphrase-file", path_str(&good), "decrypt", sealed],
            b"",
        )
        .ok();
    assert!(
        decrypted.stdout_text().contains("For Bob only."),
        "plaintext missing:\n{}",
        decrypted.stdout_text()
    );

    let wrong = bob.write("wrong-pass", b"battery staple\n");
    let refused = bob
        .run(
            &["--passphrase-file", path_str(&wrong), "decrypt", sealed],
            b"",
        )
        .expect_code(77);
    assert!(refused.stdout.is_empty(), "output with a wrong passphrase");
    assert!(
        refused.stderr.contains("wrong"),
        "refusal does not say the passphrase is wrong:\n{}",
        refused.stderr
    );

    let output = bob
        .command(&["decrypt", sealed])
        .env("MAILSEAL_PASSPHRASE", "correct horse")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run mailseal");
    assert_eq!(
        output.status.code(),
        Some(0),
        "MAILSEAL_PASSPHRASE not used:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("For Bob only."));

    let readable = bob.write("readable-pass", b"correct horse\n");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let refused = bob
        .run(
            &["--passphrase-file", path_str(&readable), "decrypt", sealed],
            b"",
        )
        .expect_code(77);
    assert!(
        refused.stdout.is_empty(),
        "output with a world-readable passphrase file"
    );
    assert!(
        refused.stderr.contains("mode"),
        "refusal does not name the file mode:\n{}",
        refused.stderr
    );
}

#[test]
fn gpg_inline_pgp_message_decrypts() {
    let gpg = Gpg::new();
    gpg.generate("bob@example.net", "ed25519", None);
    let bob = mailseal_bob_from_gpg(&gpg, &["--armor", "--export-secret-keys"]);

    let ciphertext = gpg
        .run(
            &["--armor", "--encrypt", "-r", "bob@example.net"],
            b"Inline PGP still works.\n",
        )
        .ok()
        .stdout;
    let mut message = crlf(
        b"From: alice@example.org\n\
          To: bob@example.net\n\
          Subject: inline\n\
          MIME-Version: 1.0\n\
          Content-Type: text/plain; charset=us-ascii\n\
          \n",
    );
    message.extend_from_slice(&crlf(&ciphertext));
    let decrypted = bob.run(&["decrypt"], &message).ok();
    let text = decrypted.stdout_text();
    let body = &text[text
        .find("\r\n\r\n")
        .or_else(|| text.find("\n\n"))
        .expect("body")..];
    assert!(
        body.contains("Inline PGP still works."),
        "plaintext not in the body:\n{text}"
    );
    assert!(
        !text.contains("-----BEGIN PGP MESSAGE-----"),
        "armor left in the output:\n{text}"
    );
}
