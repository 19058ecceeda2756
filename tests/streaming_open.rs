//! `mailseal decrypt` of large PGP/MIME and inline PGP messages: read as a
//! stream, in bounded memory (measured: the child's peak RSS), with nothing
//! released when the ciphertext was changed or an inline block is not the
//! whole body, and no plaintext on disk meanwhile.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use common::measure::{
    body_sha256, check_open_files, large_message, mixed_message, nested_multiparts, run_measured,
};
use common::{alice_and_bob, armored_block, Gpg, Home};

/// The most a decrypt of a large message may take, whatever its size.
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

/// Appears all through the plaintext of the generated messages.
const MARKER: &str = "STREAMING-OPEN-PLAINTEXT-MARKER";

/// [`large_message`] with [`MARKER`] lines.
fn marked_message(mib: usize, to: &str) -> Vec<u8> {
    large_message(mib, to, Some(MARKER))
}

/// Encrypts `message` from Alice to Bob with mailseal; returns the file.
fn sealed_by_mailseal(alice: &Home, message: &[u8], sign: bool) -> PathBuf {
    let plain = alice.write("plain.eml", message);
    let sealed = alice.file("sealed.eml");
    let mut args = vec![
        "encrypt",
        plain.to_str().unwrap(),
        "-o",
        sealed.to_str().unwrap(),
    ];
    if !sign {
        args.push("--no-sign");
    }
    alice.run(&args, b"").ok();
    std::fs::remove_file(plain).unwrap();
    sealed
}

/// Runs `bob decrypt ARGS` on `input` (as stdin), checking on every poll
/// that no file the child has open under `tmpdir` holds plaintext; returns
/// the result and how many spill files were seen and checked.
fn decrypt(
    bob: &Home,
    args: &[&str],
    input: &Path,
    tmpdir: &Path,
) -> (common::measure::Measured, usize) {
    let mut command = bob.command(&["decrypt"]);
    command.args(args).env("TMPDIR", tmpdir);
    let mut checked = 0;
    let measured = run_measured(command, Stdio::from(File::open(input).unwrap()), |pid| {
        checked += check_open_files(pid, tmpdir, MARKER);
    });
    (measured, checked)
}

#[test]
fn a_100_mb_message_decrypts_in_bounded_memory_with_no_plaintext_on_disk() {
    let (alice, bob) = alice_and_bob();
    let message = marked_message(100, "bob@example.net");
    let expected = body_sha256(&message);
    let sealed = sealed_by_mailseal(&alice, &message, true);
    drop(message);
    let tmp = tempfile::tempdir().unwrap();

    let (run, checked) = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_eq!(run.body_sha256, expected, "the decrypted body differs");
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
    assert!(checked > 0, "no spill file was seen while decrypting");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_large_message_from_gpg_decrypts_to_a_file_in_bounded_memory() {
    let bob = Home::new();
    bob.import_key("bob");
    let gpg = Gpg::new();
    let bob_cert = common::testdata("keys/bob.pub.asc");
    gpg.run(&["--import", bob_cert.to_str().unwrap()], b"").ok();
    let message = marked_message(32, "bob@example.net");
    let expected = body_sha256(&message);
    let ciphertext = gpg
        .run(
            &[
                "--trust-model",
                "always",
                "-z",
                "0",
                "-a",
                "-e",
                "-r",
                "bob@example.net",
            ],
            &message,
        )
        .ok()
        .stdout;
    let sealed = bob.write("sealed.eml", &pgp_mime(&ciphertext));
    let out = bob.file("out/message.eml");
    std::fs::create_dir(out.parent().unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    let (run, _) = decrypt(&bob, &["-o", out.to_str().unwrap()], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout_len, 0);
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
    assert_eq!(body_sha256(&std::fs::read(&out).unwrap()), expected);
    assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn a_changed_byte_in_a_large_message_releases_nothing() {
    let (alice, bob) = alice_and_bob();
    let message = marked_message(8, "bob@example.net");
    let sealed = std::fs::read(sealed_by_mailseal(&alice, &message, false)).unwrap();
    let block = armored_block(&sealed, "PGP MESSAGE");
    let binary = dearmor(&block);
    for (what, at) in [("last", binary.len() - 1), ("middle", binary.len() / 2)] {
        let mut changed = binary.clone();
        changed[at] ^= 0x01;
        let text = String::from_utf8_lossy(&sealed)
            .replace(std::str::from_utf8(&block).unwrap(), &armor(&changed));
        let input = bob.write("changed.eml", text.as_bytes());
        let tmp = tempfile::tempdir().unwrap();

        let (run, _) = decrypt(&bob, &[], &input, tmp.path());
        assert_ne!(run.code, 0, "{what} byte changed: {}", run.stderr);
        assert_eq!(
            run.stdout_len, 0,
            "{what} byte changed: plaintext on stdout"
        );

        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().join("message.eml");
        let (run, _) = decrypt(&bob, &["-o", out.to_str().unwrap()], &input, tmp.path());
        assert_ne!(run.code, 0, "{what} byte changed: {}", run.stderr);
        assert!(
            run.stderr.contains("no plaintext was released"),
            "{}",
            run.stderr
        );
        assert_eq!(
            std::fs::read_dir(out_dir.path()).unwrap().count(),
            0,
            "{what} byte changed: a file was left beside -o"
        );
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}

/// A PGP/MIME message around the armored `ciphertext`.
fn pgp_mime(ciphertext: &[u8]) -> Vec<u8> {
    let mut message = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: x\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\
        \r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n\
        --b\r\nContent-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    message.extend_from_slice(&common::crlf(ciphertext));
    message.extend_from_slice(b"\r\n--b--\r\n");
    message
}

/// The binary OpenPGP data of an armored block.
fn dearmor(block: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(block).unwrap();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .or_else(|| text.split("\n\n").nth(1))
        .unwrap();
    let base64: String = body
        .lines()
        .take_while(|l| !l.starts_with('=') && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(base64.trim())
        .unwrap()
}

/// `binary` armored as a PGP MESSAGE, without a checksum.
fn armor(binary: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(binary);
    let mut out = String::from("-----BEGIN PGP MESSAGE-----\r\n\r\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str("\r\n");
    }
    out.push_str("-----END PGP MESSAGE-----");
    out
}

#[test]
fn a_large_signed_then_encrypted_message_is_checked_from_the_spill() {
    // RFC 3156 §6.1: a multipart/signed inside the encryption, larger
    // than what is checked in memory.
    let (alice, bob) = alice_and_bob();
    let signed = signed_by_mailseal(&alice, &marked_message(6, "bob@example.net"));
    let mut forged = signed.clone();
    let at = forged.len() / 2;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    for (message, code) in [(signed, 0), (forged, 1)] {
        let sealed = sealed_by_mailseal(&alice, &message, false);
        let tmp = tempfile::tempdir().unwrap();
        let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
        assert_eq!(run.code, code, "{}", run.stderr);
        let verdict = if code == 0 {
            "Good signature"
        } else {
            "BAD signature"
        };
        assert!(run.stderr.contains(verdict), "{}", run.stderr);
        // The signed part's body, without the signature part.
        let body = &message[message.windows(4).position(|w| w == b"\r\n\r\n").unwrap()..];
        let first = String::from_utf8_lossy(body);
        let signed_part = first.split("\r\n--").nth(1).unwrap();
        let signed_body = &signed_part[signed_part.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(
            run.body_sha256,
            body_sha256(format!("\r\n\r\n{signed_body}").as_bytes())
        );
    }
}

/// Runs `bob verify INPUT` with `tmp` as its TMPDIR, checking the files it
/// has open there for plaintext; asserts a good signature, nothing on
/// stdout and a bounded peak; returns how many spill files were checked.
fn verify_good_in_bounded_memory(bob: &Home, input: &Path, tmp: &Path) -> usize {
    let mut command = bob.command(&["verify", input.to_str().unwrap()]);
    command.env("TMPDIR", tmp);
    let mut checked = 0;
    let run = run_measured(command, Stdio::null(), |pid| {
        checked += check_open_files(pid, tmp, MARKER);
    });
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_eq!(run.stdout_len, 0, "verify wrote something on stdout");
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "verify peaked at {} KiB",
        run.peak_kib
    );
    checked
}

#[test]
fn verify_of_a_100_mb_encrypted_message_streams_and_writes_no_plaintext() {
    let (alice, bob) = alice_and_bob();
    let sealed = sealed_by_mailseal(&alice, &marked_message(100, "bob@example.net"), true);
    let tmp = tempfile::tempdir().unwrap();
    let checked = verify_good_in_bounded_memory(&bob, &sealed, tmp.path());
    assert!(checked > 0, "no spill file was seen while verifying");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// Runs `bob verify` on `message`, written to `name`; asserts a bounded
/// peak.
fn verify_bounded(bob: &Home, name: &str, message: &[u8]) -> common::measure::Measured {
    let input = bob.write(name, message);
    let run = run_measured(
        bob.command(&["verify", input.to_str().unwrap()]),
        Stdio::null(),
        |_| {},
    );
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "{name}: verify peaked at {} KiB",
        run.peak_kib
    );
    run
}

/// gpg's inline PGP message from Alice (signed when `sign`) to Bob of
/// `plaintext`, with the header fields of a legacy inline message.
fn inline_from_gpg(plaintext: &[u8], sign: bool) -> Vec<u8> {
    let gpg = Gpg::new();
    for key in ["keys/alice.sec.asc", "keys/bob.pub.asc"] {
        gpg.run(&["--import", common::testdata(key).to_str().unwrap()], b"")
            .ok();
    }
    let mut args = vec![
        "--trust-model",
        "always",
        "-z",
        "0",
        "-a",
        "-u",
        "alice@example.org",
        "-r",
        "bob@example.net",
        "-e",
    ];
    if sign {
        args.push("-s");
    }
    let block = gpg.run(&args, plaintext).ok().stdout;
    let mut message = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: inline\r\n\
        Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        .to_vec();
    message.extend_from_slice(&common::crlf(&block));
    message
}

/// The text of a large generated message, with a line of UTF-8 in it.
fn large_text(mib: usize) -> Vec<u8> {
    let message = marked_message(mib, "bob@example.net");
    let start = message.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut text = "Grüße aus Köln\r\n".as_bytes().to_vec();
    text.extend_from_slice(&message[start..]);
    text
}

#[test]
fn a_large_inline_message_from_gpg_decrypts_and_verifies_in_bounded_memory() {
    let bob = Home::new();
    bob.import_key("bob");
    bob.import_cert("alice");
    let text = large_text(48);
    let expected = body_sha256(&[b"X: y\r\n\r\n".as_slice(), &text].concat());
    let input = bob.write("inline.eml", &inline_from_gpg(&text, true));
    drop(text);
    let tmp = tempfile::tempdir().unwrap();

    // The spill is beside the -o file.
    let out = bob.file("message.eml");
    let (run, _) = decrypt(&bob, &["-o", out.to_str().unwrap()], &input, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
    let decrypted = std::fs::read(&out).unwrap();
    assert_eq!(
        body_sha256(&decrypted),
        expected,
        "the decrypted text differs"
    );
    let head = String::from_utf8_lossy(&decrypted[..1024]);
    assert!(
        head.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Content-Transfer-Encoding: 8bit\r\n"),
        "{head}"
    );
    drop(decrypted);

    verify_good_in_bounded_memory(&bob, &input, tmp.path());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_large_inline_message_that_is_not_the_whole_body_or_was_changed_releases_nothing() {
    let bob = Home::new();
    bob.import_key("bob");
    let sealed = inline_from_gpg(&large_text(6), false);
    let (head, block) =
        sealed.split_at(sealed.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    let binary = dearmor(&armored_block(&sealed, "PGP MESSAGE"));
    let mut flipped = binary.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    let cases: [(&str, Vec<u8>, i32, &str); 4] = [
        (
            "text before",
            [
                head,
                b"Click <a href=\"https://evil.example/?".as_slice(),
                b"\r\n",
                block,
            ]
            .concat(),
            65,
            "nothing was decrypted",
        ),
        (
            "text after",
            [head, block, b"\r\n\">\r\n".as_slice()].concat(),
            65,
            "EFAIL",
        ),
        (
            "no end line",
            [head, &block[..block.len() - 30]].concat(),
            0,
            "",
        ),
        (
            "last byte changed",
            [head, armor(&flipped).as_bytes()].concat(),
            0,
            "no plaintext was released",
        ),
    ];
    for (what, message, code, says) in cases {
        let input = bob.write("changed.eml", &message);
        let tmp = tempfile::tempdir().unwrap();
        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().join("message.eml");
        for args in [vec![], vec!["-o", out.to_str().unwrap()]] {
            let (run, _) = decrypt(&bob, &args, &input, tmp.path());
            if code != 0 {
                assert_eq!(run.code, code, "{what}: {}", run.stderr);
            }
            assert_ne!(run.code, 0, "{what}: {}", run.stderr);
            assert!(run.stderr.contains(says), "{what}: {}", run.stderr);
            assert_eq!(run.stdout_len, 0, "{what}: plaintext on stdout");
            assert_eq!(
                std::fs::read_dir(out_dir.path()).unwrap().count(),
                0,
                "{what}: a file was left beside -o"
            );
            assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        }
    }
}

#[test]
fn a_large_multipart_message_with_an_encrypted_block_inside_is_refused_in_bounded_memory() {
    let bob = Home::new();
    bob.import_key("bob");
    let sealed = inline_from_gpg(b"secret\r\n", false);
    let block = armored_block(&sealed, "PGP MESSAGE");
    let text = large_text(100);
    let mut message = b"From: mallory@example.com\r\nTo: bob@example.net\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\n"
        .to_vec();
    message.extend_from_slice(&text);
    message.extend_from_slice(b"\r\n--m\r\nContent-Type: text/plain\r\n\r\n");
    message.extend_from_slice(&block);
    message.extend_from_slice(b"\r\n--m--\r\n");
    let input = bob.write("mixed.eml", &message);
    drop((text, message));
    let tmp = tempfile::tempdir().unwrap();

    let (run, _) = decrypt(&bob, &[], &input, tmp.path());
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(run.stderr.contains("EFAIL"), "{}", run.stderr);
    assert_eq!(run.stdout_len, 0);
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
}

#[test]
fn a_large_inline_signed_message_from_gpg_verifies_in_bounded_memory_and_cannot_lie() {
    let bob = Home::new();
    bob.import_cert("alice");
    let gpg = Gpg::new();
    gpg.run(
        &[
            "--import",
            common::testdata("keys/alice.sec.asc").to_str().unwrap(),
        ],
        b"",
    )
    .ok();
    // What the Cleartext Signature Framework changes: dash-escaped lines,
    // spaces and tabs at line ends, blank lines, a last line with none.
    let text = [
        b"-- \r\n- a dash\r\n-----BEGIN PGP SIGNATURE-----\r\nspaces   \r\ntab\t\r\n\r\n \r\n"
            .as_slice(),
        &large_text(40),
        b"last line with no line break  ",
    ]
    .concat();
    let header = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: signed\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\n";
    let verify = |name: &str, message: &[u8]| verify_bounded(&bob, name, message);
    for form in ["--sign", "--clearsign"] {
        let signed = gpg
            .run(&["-a", "-u", "alice@example.org", form], &text)
            .ok()
            .stdout;
        let message = [header.as_slice(), &common::crlf(&signed)].concat();

        let run = verify("signed.eml", &message);
        assert_eq!(run.code, 0, "{form}: {}", run.stderr);
        assert!(
            run.stderr.contains("Good signature"),
            "{form}: {}",
            run.stderr
        );

        let appended = [message.as_slice(), b"\r\nPS: send the money to mallory\r\n"].concat();
        let run = verify("appended.eml", &appended);
        assert_eq!(run.code, 1, "{form} with text after: {}", run.stderr);
        assert!(
            run.stderr.contains("text after the signed block"),
            "{}",
            run.stderr
        );

        let mut forged = message.clone();
        let at = forged.len() / 2;
        forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
        let run = verify("forged.eml", &forged);
        assert_ne!(run.code, 0, "{form} changed: {}", run.stderr);
        assert!(
            !run.stderr.contains("Good signature"),
            "{form} changed: {}",
            run.stderr
        );
    }
}

/// A small message signed by Alice with `mailseal sign`: a PGP/MIME
/// multipart/signed entity, to be a part of another message.
fn signed_part(alice: &Home) -> Vec<u8> {
    signed_by_mailseal(
        alice,
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: part\r\n\
          Content-Type: text/plain\r\n\r\nThe signed words.\r\n",
    )
}

/// `message` signed by Alice with `mailseal sign` (PGP/MIME).
fn signed_by_mailseal(alice: &Home, message: &[u8]) -> Vec<u8> {
    let plain = alice.write("to-sign.eml", message);
    let signed = alice.file("signed.eml");
    alice
        .run(
            &[
                "sign",
                plain.to_str().unwrap(),
                "-o",
                signed.to_str().unwrap(),
            ],
            b"",
        )
        .ok();
    std::fs::read(signed).unwrap()
}

#[test]
fn a_signature_on_one_part_of_a_large_message_is_a_failed_check_as_for_a_small_one() {
    // An attacker who makes the message large must not turn a signature
    // over one part into a passed check.
    let (alice, bob) = alice_and_bob();
    let part = signed_part(&alice);
    let mut forged = part.clone();
    let at = forged.windows(5).position(|w| w == b"words").unwrap();
    forged[at] = b'W';
    let mut reports = Vec::new();
    for mib in [1, 6] {
        let message = mixed_message(mib, "bob@example.net", Some(MARKER), &part);
        let sealed = sealed_by_mailseal(&alice, &message, false);
        let tmp = tempfile::tempdir().unwrap();
        let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
        assert_eq!(run.code, 1, "{mib} MiB: {}", run.stderr);
        assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("not covered by any signature: part 1 (text/plain)"),
            "{}",
            run.stderr
        );
        assert_eq!(run.body_sha256, body_sha256(&message));
        reports.push(run.stderr);

        // The nested signature is checked, not just found.
        let message = mixed_message(mib, "bob@example.net", Some(MARKER), &forged);
        let sealed = sealed_by_mailseal(&alice, &message, false);
        let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
        assert_eq!(run.code, 1, "{mib} MiB: {}", run.stderr);
        assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
    }
    assert_eq!(reports[0], reports[1], "small and large are reported alike");
}

/// Bob, with his key and Alice's certificate, and Alice's gpg.
fn bob_and_alice_gpg() -> (Home, Gpg) {
    let bob = Home::new();
    bob.import_key("bob");
    bob.import_cert("alice");
    (bob, alice_gpg())
}

/// What `check` gives for the small and for the large twin, which must be
/// alike (`case` names them in a failure); the large one's.
fn alike<I, T: PartialEq + std::fmt::Debug>(
    case: &str,
    twins: [I; 2],
    check: impl FnMut(I) -> T,
) -> T {
    let [small, large] = twins.map(check);
    assert_eq!(small, large, "{case}: small and large differ");
    large
}

/// A scratch gpg with Alice's secret key and Bob's certificate.
fn alice_gpg() -> Gpg {
    let gpg = Gpg::new();
    for key in ["keys/alice.sec.asc", "keys/bob.pub.asc"] {
        gpg.run(&["--import", common::testdata(key).to_str().unwrap()], b"")
            .ok();
    }
    gpg
}

/// `text` signed by Alice with gpg (`form`: `--clearsign` or `--sign`,
/// uncompressed), CRLF; made at one fixed time, so that the reports on
/// two signatures are alike.
fn signed_by_gpg(gpg: &Gpg, form: &str, text: &[u8]) -> Vec<u8> {
    let args = [
        "--faked-system-time",
        "20261206T120000!",
        "-z",
        "0",
        "-a",
        "-u",
        "alice@example.org",
        form,
    ];
    common::crlf(&gpg.run(&args, text).ok().stdout)
}

/// `message` encrypted (not signed) by gpg to Bob, in PGP/MIME.
fn encrypted_by_gpg(gpg: &Gpg, message: &[u8]) -> Vec<u8> {
    let args = [
        "--trust-model",
        "always",
        "-z",
        "0",
        "-a",
        "-e",
        "-r",
        "bob@example.net",
    ];
    pgp_mime(&gpg.run(&args, message).ok().stdout)
}

/// A text/plain part of `text` in the Content-Transfer-Encoding `cte`.
fn text_part(text: &[u8], cte: &str) -> Vec<u8> {
    let mut part = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    )
    .into_bytes();
    match cte {
        "quoted-printable" => part.extend_from_slice(&quoted_printable::encode(text)),
        "base64" => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            for line in encoded.as_bytes().chunks(76) {
                part.extend_from_slice(line);
                part.extend_from_slice(b"\r\n");
            }
        }
        _ => part.extend_from_slice(text),
    }
    part
}

/// A multipart/mixed message from Alice to Bob of the one `part`.
fn mixed_of(part: &[u8]) -> Vec<u8> {
    let mut message = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: inline\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
        --mixed\r\n"
        .to_vec();
    message.extend_from_slice(part);
    message.extend_from_slice(b"\r\n--mixed--\r\n");
    message
}

/// `data` with a letter or digit at or after its middle changed.
fn changed_in_middle(data: &[u8]) -> Vec<u8> {
    let mut changed = data.to_vec();
    let at = data.len() / 2
        + data[data.len() / 2..]
            .iter()
            .position(u8::is_ascii_alphanumeric)
            .unwrap();
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    changed
}

#[test]
fn an_inline_signed_text_in_a_large_part_is_checked_as_in_a_small_one() {
    // In a decrypted PGP/MIME message, a text part over 4 MiB holding a
    // gpg signed text gets the report its 1 MiB twin gets in memory,
    // whatever its transfer encoding.
    let (bob, gpg) = bob_and_alice_gpg();
    let tmp = tempfile::tempdir().unwrap();
    let texts = [1, 6].map(large_text);
    for form in ["--clearsign", "--sign"] {
        let signed = texts.each_ref().map(|text| signed_by_gpg(&gpg, form, text));
        for cte in ["8bit", "quoted-printable", "base64"] {
            alike(&format!("{form} {cte}"), signed.each_ref(), |signed| {
                let message = mixed_of(&text_part(signed, cte));
                let sealed = bob.write("sealed.eml", &encrypted_by_gpg(&gpg, &message));
                let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
                assert_eq!(run.code, 0, "{form} {cte}: {}", run.stderr);
                assert!(
                    run.stderr.contains("Good signature from alice@example.org"),
                    "{form} {cte}: {}",
                    run.stderr
                );
                assert_eq!(run.body_sha256, body_sha256(&message));
                run.stderr
            });
        }
    }
}

#[test]
fn a_large_inline_signed_text_that_was_changed_or_added_to_is_not_good() {
    // The attacker's edits of a signed text in a part over 4 MiB: each
    // is reported as for the 1 MiB twin checked in memory.
    let (bob, gpg) = bob_and_alice_gpg();
    let tmp = tempfile::tempdir().unwrap();
    let texts = [1, 6].map(large_text);
    let before = b"Dear Bob, the signed text below is from Alice: pay Mallory.\r\n".as_slice();
    let after = b"\r\nPS: send the money to mallory\r\n".as_slice();
    for form in ["--clearsign", "--sign"] {
        let signed = texts.each_ref().map(|text| signed_by_gpg(&gpg, form, text));
        type Edit = fn(&[u8], &[u8], &[u8]) -> Vec<u8>;
        let edits: [(&str, Edit, &str); 3] = [
            ("changed", |s, _, _| changed_in_middle(s), ""),
            (
                "text before",
                |s, before, _| [before, s].concat(),
                "text before the signed block in part 1 (text/plain)",
            ),
            (
                "text after",
                |s, _, after| [s, after].concat(),
                "text after the signed block in part 1 (text/plain)",
            ),
        ];
        for (what, edit, says) in edits {
            let (_, stderr) = alike(&format!("{form} {what}"), signed.each_ref(), |signed| {
                let message =
                    mixed_of(&text_part(&edit(signed, before, after), "quoted-printable"));
                let sealed = bob.write("sealed.eml", &encrypted_by_gpg(&gpg, &message));
                let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
                assert_ne!(run.code, 0, "{form} {what}: {}", run.stderr);
                assert!(run.stderr.contains(says), "{form} {what}: {}", run.stderr);
                (run.code, run.stderr)
            });
            if what == "changed" && form == "--clearsign" {
                assert!(stderr.contains("BAD signature"), "{stderr}");
            } else if what != "changed" {
                assert!(stderr.contains("Good signature"), "{stderr}");
            }
        }
    }
}

#[test]
fn a_100_mb_inline_signed_text_part_is_checked_in_bounded_memory() {
    let bob = Home::new();
    bob.import_key("bob");
    bob.import_cert("alice");
    let gpg = alice_gpg();
    let signed = signed_by_gpg(&gpg, "--clearsign", &large_text(100));
    let message = mixed_of(&text_part(&signed, "8bit"));
    drop(signed);
    let expected = body_sha256(&message);
    let sealed = bob.write("sealed.eml", &encrypted_by_gpg(&gpg, &message));
    drop(message);
    let tmp = tempfile::tempdir().unwrap();

    let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Good signature from alice@example.org"),
        "{}",
        run.stderr
    );
    assert_eq!(run.body_sha256, expected);
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
}

#[test]
fn verify_of_a_large_multipart_message_checks_an_inline_signed_part_as_for_a_small_one() {
    let bob = Home::new();
    bob.import_cert("alice");
    let gpg = alice_gpg();
    let texts = [1, 6].map(large_text);
    for form in ["--clearsign", "--sign"] {
        let signed = texts.each_ref().map(|text| signed_by_gpg(&gpg, form, text));
        for (what, tail, code) in [
            ("as signed", "", 0),
            ("text after", "\r\nPS: pay Mallory\r\n", 1),
        ] {
            alike(&format!("{form} {what}"), signed.each_ref(), |signed| {
                let part = text_part(&[signed, tail.as_bytes()].concat(), "base64");
                let run = verify_bounded(&bob, "mixed.eml", &mixed_of(&part));
                assert_eq!(run.code, code, "{form} {what}: {}", run.stderr);
                assert!(
                    run.stderr.contains("Good signature from alice@example.org"),
                    "{form} {what}: {}",
                    run.stderr
                );
                run.stderr
            });
        }
    }
}

#[test]
fn a_large_inline_pgp_text_with_a_signed_block_after_other_text_is_reported_as_a_small_one() {
    // Inline PGP: the decrypted text is the body; the text before the
    // clear-signed block is named, at any size.
    let (bob, gpg) = bob_and_alice_gpg();
    let tmp = tempfile::tempdir().unwrap();
    alike("inline PGP", [1, 6], |mib| {
        let body = [
            large_text(mib),
            signed_by_gpg(&gpg, "--clearsign", b"Pay Mallory.\r\n"),
        ]
        .concat();
        let args = [
            "--trust-model",
            "always",
            "-a",
            "-e",
            "-r",
            "bob@example.net",
        ];
        let armored = gpg.run(&args, &body).ok().stdout;
        let mut inline =
            b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: x\r\n\r\n".to_vec();
        inline.extend_from_slice(&common::crlf(&armored));
        let sealed = bob.write("inline.eml", &inline);
        let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
        assert_eq!(run.code, 1, "{mib} MiB: {}", run.stderr);
        assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("text before the signed block in the body (text/plain)"),
            "{}",
            run.stderr
        );
        run.stderr
    });
}

#[test]
fn a_deeply_nested_large_message_is_refused_in_bounded_memory() {
    let (alice, bob) = alice_and_bob();
    let message = mixed_message(
        6,
        "bob@example.net",
        Some(MARKER),
        &nested_multiparts(10_000),
    );
    let sealed = sealed_by_mailseal(&alice, &message, false);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("message.eml");
    let tmp = tempfile::tempdir().unwrap();

    for args in [vec![], vec!["-o", out.to_str().unwrap()]] {
        let (run, _) = decrypt(&bob, &args, &sealed, tmp.path());
        assert_eq!(run.code, 65, "{}", run.stderr);
        assert!(run.stderr.contains("levels deep"), "{}", run.stderr);
        assert_eq!(run.stdout_len, 0);
        assert!(
            run.peak_kib < PEAK_LIMIT_KIB,
            "decrypt peaked at {} KiB",
            run.peak_kib
        );
    }
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_100_mb_multipart_without_signatures_is_searched_in_bounded_memory() {
    let (alice, bob) = alice_and_bob();
    // Beside the text, 50,000 small parts, each named in the report.
    let mut attachments = b"Content-Type: multipart/mixed; boundary=p\r\n\r\n".to_vec();
    for _ in 0..50_000 {
        attachments
            .extend_from_slice(b"--p\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n");
    }
    attachments.extend_from_slice(b"--p--\r\n");
    let message = mixed_message(100, "bob@example.net", Some(MARKER), &attachments);
    let expected = body_sha256(&message);
    let sealed = sealed_by_mailseal(&alice, &message, false);
    drop(message);
    let tmp = tempfile::tempdir().unwrap();

    let (run, _) = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("the message was not signed"),
        "{}",
        run.stderr
    );
    assert_eq!(run.body_sha256, expected);
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
}

#[test]
fn verify_of_a_large_multipart_message_searches_its_parts_as_for_a_small_one() {
    // A signature over one part of a message that is not signed as a
    // whole: verify says so (exit 1) whatever the size, LF or CRLF, with
    // the signed part checked (a forged one is BAD).
    let (alice, bob) = alice_and_bob();
    let part = signed_part(&alice);
    let mut forged = part.clone();
    let at = forged.windows(5).position(|w| w == b"words").unwrap();
    forged[at] = b'W';
    let smime_part = b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n";
    let verify = |name: &str, message: &[u8]| verify_bounded(&bob, name, message);
    for (part, says) in [
        (part.as_slice(), "Good signature"),
        (forged.as_slice(), "BAD signature"),
        (smime_part.as_slice(), "only part of this message is signed"),
    ] {
        let mut reports = Vec::new();
        for mib in [1, 6] {
            let message = mixed_message(mib, "bob@example.net", None, part);
            let run = verify("mixed.eml", &message);
            assert_eq!(run.code, 1, "{mib} MiB: {}", run.stderr);
            assert!(run.stderr.contains(says), "{mib} MiB: {}", run.stderr);
            reports.push(run.stderr);
            let lf = String::from_utf8(message).unwrap().replace("\r\n", "\n");
            let run = verify("mixed-lf.eml", lf.as_bytes());
            assert_eq!(run.code, 1, "{mib} MiB, LF: {}", run.stderr);
            assert!(run.stderr.contains(says), "{mib} MiB, LF: {}", run.stderr);
        }
        assert_eq!(reports[0], reports[1], "small and large are reported alike");
    }
    let large = mixed_message(100, "bob@example.net", None, &part);
    let run = verify("large.eml", &large);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
}
