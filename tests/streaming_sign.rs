//! `sign` and `verify` stream: a ~100 MB message is signed and verified
//! with the child's peak memory (from `/usr/bin/time`) under a bound, gpg
//! checks mailseal's big signature and mailseal checks gpg's, a flipped
//! byte anywhere in the signed part fails, and what is signed is byte for
//! byte what the in-memory construction (header protection, 7-bit
//! transfer encoding, the multipart/signed frame) gives. The same for
//! S/MIME (`sign --smime`), checked by `openssl cms -verify`. A base64
//! attachment in one line, or quoted-printable in long lines, is decoded
//! and encoded again in the same bounded memory, and what is sent passes
//! every mail system unchanged.

mod common;
#[path = "common/smime.rs"]
mod smime_pki;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{armored_block, crlf, testdata, Gpg, Home};
use mailseal::message::header::split_entity;
use mailseal::message::{canon, protect, transfer, Headers};
use mailseal::openpgp::pgpmime;

/// Peak resident memory allowed to a child handling a ~100 MB message.
const MAX_RSS_KIB: u64 = 64 * 1024;
/// About how large the big messages are.
const BIG: usize = 100 << 20;

/// A finished child: exit code, stderr, peak RSS in KiB.
struct Measured {
    code: i32,
    stderr: String,
    peak_kib: u64,
}

/// Runs `mailseal --home HOME ARGS...` under `/usr/bin/time`, with stdin
/// from `stdin` (or nothing) and stdout to `stdout` (or discarded).
fn measured(home: &Home, args: &[&str], stdin: Option<&Path>, stdout: Option<&Path>) -> Measured {
    let rss = home.file("rss");
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_mailseal"))
        .arg("--home")
        .arg(home.path())
        .args(args)
        .env_remove("MAILSEAL_HOME")
        .env_remove("MAILSEAL_PASSPHRASE")
        .env_remove("PGP_CERT_D")
        .stdin(stdin.map_or_else(Stdio::null, |p| File::open(p).unwrap().into()))
        .stdout(stdout.map_or_else(Stdio::null, |p| File::create(p).unwrap().into()))
        .stderr(Stdio::piped())
        .output()
        .expect("run /usr/bin/time");
    let peak_kib = std::fs::read_to_string(&rss)
        .expect("/usr/bin/time wrote the peak RSS")
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("a number of KiB");
    Measured {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        peak_kib,
    }
}

impl Measured {
    #[track_caller]
    fn expect(self, code: i32, what: &str) -> Measured {
        println!("{what}: exit {}, peak RSS {} KiB", self.code, self.peak_kib);
        assert_eq!(
            self.code, code,
            "{what}: exit {}\n{}",
            self.code, self.stderr
        );
        assert!(
            self.peak_kib <= MAX_RSS_KIB,
            "{what}: peak RSS {} KiB, over the {MAX_RSS_KIB} KiB bound",
            self.peak_kib
        );
        self
    }
}

/// Lines of pseudo-random base64, 76 characters each, about `size` bytes.
fn write_base64_lines(out: &mut impl Write, size: usize, seed: u64) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = common::XorShift(seed | 1);
    let mut line = [0u8; 78];
    line[76] = b'\r';
    line[77] = b'\n';
    for _ in 0..size / line.len() {
        for byte in &mut line[..76] {
            *byte = ALPHABET[(rng.next_u64() % 64) as usize];
        }
        out.write_all(&line).unwrap();
    }
}

/// A ~100 MB multipart/mixed message from Alice: a short text part and a
/// base64 attachment.
fn big_multipart(path: &Path) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    out.write_all(
        b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: big\r\n\
          MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n\r\n\
          --big\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThe attachment.\r\n\
          --big\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    )
    .unwrap();
    write_base64_lines(&mut out, BIG, 7);
    out.write_all(b"--big--\r\n").unwrap();
    out.flush().unwrap();
}

/// The boundary of a multipart/signed message.
fn boundary(message: &[u8]) -> String {
    let head = String::from_utf8_lossy(&message[..message.len().min(4096)]);
    let start = head.find("boundary=\"").expect("boundary") + 10;
    head[start..start + head[start..].find('"').unwrap()].to_string()
}

/// The signed part of a multipart/signed message (searched from both ends,
/// so that a large part is not scanned for delimiters).
fn signed_part(message: &[u8]) -> &[u8] {
    let delimiter = format!("--{}\r\n", boundary(message));
    let start = find(message, delimiter.as_bytes()).expect("first delimiter") + delimiter.len();
    let end = rfind(message, format!("\r\n{delimiter}").as_bytes()).expect("second delimiter");
    &message[start..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// A scratch GnuPG home that knows Alice's certificate (and, with
/// `secret`, her secret key).
fn gpg_with_alice(secret: bool) -> Gpg {
    let gpg = Gpg::new();
    let name = if secret {
        "alice.sec.asc"
    } else {
        "alice.pub.asc"
    };
    let key = testdata(&format!("keys/{name}"));
    gpg.run(&["--import", key.to_str().unwrap()], b"").ok();
    gpg
}

/// `gpg --verify SIG DATA` with the status lines on stderr.
#[track_caller]
fn gpg_verifies(gpg: &Gpg, signature: &Path, data: &Path) {
    let run = gpg.run(
        &[
            "--status-fd",
            "2",
            "--verify",
            signature.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        run.code == 0 && run.stderr.contains("[GNUPG:] GOODSIG"),
        "gpg --verify failed:\n{}",
        run.stderr
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn big_message_signs_and_verifies_in_bounded_memory_and_gpg_agrees() {
    let (alice, bob) = common::alice_and_bob();
    let input = alice.file("big.eml");
    big_multipart(&input);
    let signed_path = alice.file("signed.eml");
    measured(
        &alice,
        &["sign", path_str(&input)],
        None,
        Some(&signed_path),
    )
    .expect(0, "mailseal sign (file)");
    measured(&bob, &["verify", path_str(&signed_path)], None, None)
        .expect(0, "mailseal verify (file)");
    // Through pipes too: stdin is spooled, never held.
    measured(&bob, &["verify"], Some(&signed_path), None).expect(0, "mailseal verify (stdin)");

    let mut signed = std::fs::read(&signed_path).unwrap();
    let data = alice.file("data");
    std::fs::write(&data, signed_part(&signed)).unwrap();
    let signature = alice.file("data.sig");
    std::fs::write(&signature, armored_block(&signed, "PGP SIGNATURE")).unwrap();
    gpg_verifies(&gpg_with_alice(false), &signature, &data);
    drop(std::fs::remove_file(&data));

    // A byte changed anywhere in the signed part (its header section, the
    // middle, its last byte) fails.
    for at in tamper_offsets(&signed) {
        let original = signed[at];
        signed[at] = if original == b'A' { b'B' } else { b'A' };
        let tampered = bob.file("tampered.eml");
        std::fs::write(&tampered, &signed).unwrap();
        let run =
            measured(&bob, &["verify", path_str(&tampered)], None, None).expect(1, "tampered");
        assert!(
            run.stderr.contains("BAD signature"),
            "byte {at}: {}",
            run.stderr
        );
        signed[at] = original;
    }
}

#[test]
fn big_eight_bit_part_is_quoted_printable_in_bounded_memory() {
    let (alice, bob) = common::alice_and_bob();
    let input = alice.file("big.eml");
    let mut out = BufWriter::new(File::create(&input).unwrap());
    out.write_all(
        "From: alice@example.org\nTo: bob@example.net\nSubject: Grüße\n\
         Content-Type: multipart/mixed; boundary=\"m\"\n\n--m\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            .as_bytes(),
    )
    .unwrap();
    let line = "Grüße aus Köln, with a trailing space \nFrom here on\n".repeat(64);
    for _ in 0..BIG / line.len() {
        out.write_all(line.as_bytes()).unwrap();
    }
    out.write_all(b"--m\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n--m--\n")
        .unwrap();
    drop(out);
    let signed_path = alice.file("signed.eml");
    measured(&alice, &["sign"], Some(&input), Some(&signed_path))
        .expect(0, "mailseal sign (stdin, 8-bit part)");
    let signed = std::fs::read(&signed_path).unwrap();
    let part = signed_part(&signed);
    assert!(
        find(
            &part[..4096],
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe"
        )
        .is_some(),
        "{}",
        String::from_utf8_lossy(&part[..4096])
    );
    assert!(transfer::body_is_safe(split_entity(part).1));
    measured(&bob, &["verify", path_str(&signed_path)], None, None)
        .expect(0, "mailseal verify (quoted-printable)");
}

#[test]
fn big_gpg_signed_message_verifies_in_bounded_memory() {
    let gpg = gpg_with_alice(true);
    let bob = Home::new();
    bob.import_cert("alice");
    let entity = bob.file("entity");
    let mut out = BufWriter::new(File::create(&entity).unwrap());
    out.write_all(b"Content-Type: text/plain; charset=us-ascii\r\nFrom: alice@example.org\r\n\r\n")
        .unwrap();
    write_base64_lines(&mut out, BIG, 11);
    drop(out);
    let signature = gpg
        .run(
            &[
                "--armor",
                "--detach-sign",
                "--digest-algo",
                "SHA256",
                "-u",
                "alice@example.org",
                "-o",
                "-",
                path_str(&entity),
            ],
            b"",
        )
        .ok()
        .stdout;
    let message = bob.file("signed.eml");
    let mut out = BufWriter::new(File::create(&message).unwrap());
    out.write_all(&crlf(
        b"From: alice@example.org\nTo: bob@example.net\nSubject: signed by gpg\n\
              MIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha256;\n \
              protocol=\"application/pgp-signature\"; boundary=\"s\"\n\n--s\n",
    ))
    .unwrap();
    std::io::copy(&mut File::open(&entity).unwrap(), &mut out).unwrap();
    out.write_all(b"\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n")
        .unwrap();
    out.write_all(&crlf(&signature)).unwrap();
    out.write_all(b"\r\n--s--\r\n").unwrap();
    drop(out);
    drop(std::fs::remove_file(&entity));
    measured(&bob, &["verify"], Some(&message), None).expect(0, "mailseal verify of gpg's");
}

/// The corpus messages, with the sample message.
fn corpus() -> Vec<(String, PathBuf)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(testdata("messages/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.push(testdata("messages/hello.eml"));
    paths.sort();
    paths
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect()
}

#[test]
fn streamed_output_is_the_in_memory_construction_byte_for_byte() {
    let (alice, bob) = common::alice_and_bob();
    for protect_headers in [true, false] {
        alice.write(
            "config.toml",
            format!("[policy]\nprotect_headers = {protect_headers}\n").as_bytes(),
        );
        for (name, path) in corpus() {
            let original = canon::to_crlf(&std::fs::read(&path).unwrap());
            let (header_bytes, body) = split_entity(&original);
            let split =
                protect::for_signing(&Headers::parse(header_bytes).unwrap(), protect_headers);
            let entity = transfer::seven_bit_safe(&split.inner.with_body(body)).unwrap();
            let from_file = alice.run(&["sign", path_str(&path)], b"").ok().stdout;
            let from_stdin = alice
                .run(&["sign"], &std::fs::read(&path).unwrap())
                .ok()
                .stdout;
            for signed in [from_file, from_stdin] {
                let boundary = boundary(&signed);
                let mut expected = pgpmime::signed_head(&split.outer, &boundary, "pgp-sha256");
                expected.extend_from_slice(&entity);
                let mut signature = armored_block(&signed, "PGP SIGNATURE");
                signature.extend_from_slice(b"\n");
                expected.extend_from_slice(&pgpmime::signed_tail(&boundary, &signature));
                assert!(
                    signed == expected,
                    "{name} (protect_headers = {protect_headers}):\n{}\n---- expected ----\n{}",
                    String::from_utf8_lossy(&signed),
                    String::from_utf8_lossy(&expected)
                );
                bob.run(&["verify"], &signed).ok();
            }
        }
    }
}

/// `openssl cms -verify` of the S/MIME message in the file `signed`
/// against the test root: exit code and stderr.
fn openssl_verify(signed: &Path) -> (i32, String) {
    let output = Command::new("openssl")
        .args(["cms", "-verify", "-CAfile"])
        .arg(smime_pki::pki().path("ca.pem"))
        .arg("-in")
        .arg(signed)
        .args(["-out", "/dev/null"])
        .output()
        .expect("openssl runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn big_smime_message_signs_in_bounded_memory_and_openssl_verifies() {
    for signer in ["alice", "bob"] {
        let home = smime_pki::home_with(&[signer]);
        let address = format!(
            "{signer}@example.{}",
            if signer == "alice" { "org" } else { "net" }
        );
        let input = home.write(
            "big.eml",
            &common::measure::large_message(100, "erin@example.net", None),
        );
        let signed_path = home.file("signed.eml");
        measured(
            &home,
            &["sign", "--smime", "--from", &address, path_str(&input)],
            None,
            Some(&signed_path),
        )
        .expect(0, &format!("mailseal sign --smime as {signer} (file)"));
        drop(std::fs::remove_file(&input));
        let (code, stderr) = openssl_verify(&signed_path);
        assert_eq!(code, 0, "openssl cms -verify ({signer}):\n{stderr}");

        // A byte changed in the signed part's header section, middle or
        // last byte fails.
        let mut signed = std::fs::read(&signed_path).unwrap();
        for at in tamper_offsets(&signed) {
            let original = signed[at];
            signed[at] = if original == b'A' { b'B' } else { b'A' };
            let tampered = home.file("tampered.eml");
            std::fs::write(&tampered, &signed).unwrap();
            let (code, stderr) = openssl_verify(&tampered);
            assert_ne!(
                code, 0,
                "byte {at} changed, yet openssl verified:\n{stderr}"
            );
            signed[at] = original;
        }
    }
}

#[test]
fn smime_streamed_output_is_the_in_memory_construction_byte_for_byte() {
    use base64::Engine;
    let home = smime_pki::home_with(&["alice"]);
    let ca = smime_pki::pki().path("ca.pem");
    for protect_headers in [true, false] {
        home.write(
            "config.toml",
            format!(
                "[policy]\nprotect_headers = {protect_headers}\n[smime]\ntrust_anchors = [{ca:?}]\n"
            )
            .as_bytes(),
        );
        for (name, path) in corpus() {
            let original = canon::to_crlf(&std::fs::read(&path).unwrap());
            let (header_bytes, body) = split_entity(&original);
            let split =
                protect::for_signing(&Headers::parse(header_bytes).unwrap(), protect_headers);
            let entity = transfer::seven_bit_safe(&split.inner.with_body(body)).unwrap();
            let args = ["sign", "--smime", "--from", "alice@example.org"];
            let from_file = home
                .run(&[&args[..], &[path_str(&path)]].concat(), b"")
                .ok()
                .stdout;
            let from_stdin = home.run(&args, &std::fs::read(&path).unwrap()).ok().stdout;
            for signed in [from_file, from_stdin] {
                let boundary = boundary(&signed);
                // The signature as the message carries it, re-encoded the
                // way the in-memory construction wrapped it.
                let tail = &signed[signed_part(&signed).as_ptr() as usize
                    - signed.as_ptr() as usize
                    + signed_part(&signed).len()..];
                let b64: String = String::from_utf8_lossy(tail)
                    .split("\r\n\r\n")
                    .nth(1)
                    .unwrap()
                    .split("--")
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                let mut outer = split.outer.clone();
                outer.set("MIME-Version", "1.0");
                outer.push(mailseal::message::Field::new(
                    "Content-Type",
                    &format!("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n boundary=\"{boundary}\""),
                ));
                let mut body =
                    format!("This is an S/MIME signed message (RFC 8551)\r\n--{boundary}\r\n")
                        .into_bytes();
                body.extend_from_slice(&entity);
                body.extend_from_slice(
                    format!(
                        "\r\n--{boundary}\r\n\
                         Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
                         Content-Transfer-Encoding: base64\r\n\
                         Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
                         Content-Description: S/MIME Cryptographic Signature\r\n\
                         \r\n"
                    )
                    .as_bytes(),
                );
                for chunk in der.chunks(57) {
                    body.extend_from_slice(
                        base64::engine::general_purpose::STANDARD
                            .encode(chunk)
                            .as_bytes(),
                    );
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
                let expected = outer.with_body(&body);
                assert!(
                    signed == expected,
                    "{name} (protect_headers = {protect_headers}):\n{}\n---- expected ----\n{}",
                    String::from_utf8_lossy(&signed),
                    String::from_utf8_lossy(&expected)
                );
                let file = home.write("signed.eml", &signed);
                let (code, stderr) = openssl_verify(&file);
                assert_eq!(code, 0, "openssl cms -verify of {name}:\n{stderr}");
                home.run(&["verify"], &signed).ok();
            }
        }
    }
}

/// Where to change a byte of the signed part of `signed`: in its header
/// section, its middle and its last byte.
fn tamper_offsets(signed: &[u8]) -> [usize; 3] {
    let part = signed_part(signed);
    let start = part.as_ptr() as usize - signed.as_ptr() as usize;
    let len = part.len();
    [start + 2, start + len / 2, start + len - 1]
}

/// How the attachment of [`unsafe_attachment`] is encoded, unsafely.
#[derive(Clone, Copy, Debug)]
enum Unsafe {
    /// Base64 in one line, as some clients send it.
    Base64OneLine,
    /// Quoted-printable text in lines of about 3,000 characters, with
    /// trailing white space and "From " at line starts.
    QuotedPrintableLongLines,
}

/// A multipart/mixed message from Alice of about `size` bytes (CRLF): a
/// short text part and an attachment encoded as `how` says. Returns the
/// SHA-256 of the attachment's content for [`Unsafe::Base64OneLine`].
fn unsafe_attachment(path: &Path, size: usize, how: Unsafe) -> Option<Vec<u8>> {
    use base64::Engine;
    use sha2::Digest;
    let mut out = BufWriter::new(File::create(path).unwrap());
    let attachment: &[u8] = match how {
        Unsafe::Base64OneLine => {
            b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
              Content-Transfer-Encoding: base64\r\n\r\n"
        }
        Unsafe::QuotedPrintableLongLines => {
            b"Content-Type: text/plain; charset=utf-8\r\n\
              Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        }
    };
    out.write_all(
        b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: unsafe\r\n\
          MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n\r\n\
          --big\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThe attachment.\r\n\
          --big\r\n",
    )
    .unwrap();
    out.write_all(attachment).unwrap();
    let mut content = sha2::Sha256::new();
    let mut written = 0;
    match how {
        Unsafe::Base64OneLine => {
            let mut rng = common::XorShift(0x2545_f491_4f6c_dd1d);
            let mut raw = vec![0u8; 3 << 16];
            while written < size {
                for byte in raw.iter_mut() {
                    *byte = rng.next_u64() as u8;
                }
                content.update(&raw);
                let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
                out.write_all(encoded.as_bytes()).unwrap();
                written += encoded.len();
            }
        }
        Unsafe::QuotedPrintableLongLines => {
            let line = format!(
                "From {} \t\r\n",
                "Gr=C3=BC=C3=9Fe aus K=C3=B6ln, a=3Db = \t".repeat(80)
            );
            while written < size {
                out.write_all(line.as_bytes()).unwrap();
                written += line.len();
            }
        }
    }
    out.write_all(b"\r\n--big--\r\n").unwrap();
    out.flush().unwrap();
    matches!(how, Unsafe::Base64OneLine).then(|| content.finalize().to_vec())
}

/// The content of the base64 attachment in the signed part `part`.
fn attachment_sha256(part: &[u8]) -> Vec<u8> {
    use base64::Engine;
    use sha2::Digest;
    let start = find(part, b"name=\"data.bin\"").expect("the attachment");
    let start = start + find(&part[start..], b"\r\n\r\n").unwrap() + 4;
    let end = rfind(part, b"\r\n--big--").unwrap();
    let base64: Vec<u8> = part[start..end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let content = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .expect("the re-encoded attachment decodes");
    sha2::Sha256::digest(content).to_vec()
}

/// What is sent passes every mail system unchanged: each line at most 998
/// octets, 7-bit, without trailing white space or "From " at its start.
#[track_caller]
fn safe_to_send(signed: &[u8], what: &str) {
    let unsafe_line = signed
        .split(|&b| b == b'\n')
        .position(|line| !transfer::body_is_safe(line));
    assert_eq!(unsafe_line, None, "{what}: a line would not pass unchanged");
}

#[test]
fn big_unsafe_base64_and_quoted_printable_are_reencoded_in_bounded_memory() {
    let (alice, bob) = common::alice_and_bob();
    let gpg = gpg_with_alice(false);
    for how in [Unsafe::Base64OneLine, Unsafe::QuotedPrintableLongLines] {
        let input = alice.file("big.eml");
        let content = unsafe_attachment(&input, BIG, how);
        let signed_path = alice.file("signed.eml");
        measured(
            &alice,
            &["sign", path_str(&input)],
            None,
            Some(&signed_path),
        )
        .expect(0, &format!("mailseal sign ({how:?})"));
        drop(std::fs::remove_file(&input));
        measured(&bob, &["verify", path_str(&signed_path)], None, None)
            .expect(0, &format!("mailseal verify ({how:?})"));

        // gpg checks the signed part exactly as it was sent, and what was
        // sent passes unchanged; the content is the attachment's.
        let signed = std::fs::read(&signed_path).unwrap();
        drop(std::fs::remove_file(&signed_path));
        safe_to_send(&signed, &format!("{how:?}"));
        let part = signed_part(&signed);
        if let Some(content) = content {
            assert!(
                attachment_sha256(part) == content,
                "{how:?}: content changed"
            );
        } else {
            // Decoded, then encoded: not the quoted-printable re-encoded.
            let head = &part[..4096];
            assert!(
                find(
                    head,
                    b"quoted-printable\r\n\r\n=46rom Gr=C3=BC=C3=9Fe aus K=C3=B6ln, a=3Db ="
                )
                .is_some(),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let data = alice.file("data");
        std::fs::write(&data, part).unwrap();
        let signature = alice.file("data.sig");
        std::fs::write(&signature, armored_block(&signed, "PGP SIGNATURE")).unwrap();
        gpg_verifies(&gpg, &signature, &data);
        drop(std::fs::remove_file(&data));
    }
}

#[test]
fn unsafe_encoded_parts_sign_as_in_memory_byte_for_byte() {
    // Over the 4 MiB that large inputs are handled from, signed part by
    // part the same as by the in-memory rewrite, for either technology,
    // and inside S/MIME encryption (where the body waits in a spill).
    const TWIN: usize = 6 << 20;
    let (alice, _) = common::alice_and_bob();
    let smime = smime_pki::home_with(&["alice"]);
    let smime_bob = smime_pki::home_with(&["bob"]);
    let gpg = gpg_with_alice(false);
    let ca = smime_pki::pki().path("ca.pem");
    let config = format!("[policy]\nprotect_headers = true\n[smime]\ntrust_anchors = [{ca:?}]\n");
    for home in [&alice, &smime] {
        home.write("config.toml", config.as_bytes());
    }
    for how in [Unsafe::Base64OneLine, Unsafe::QuotedPrintableLongLines] {
        let input = alice.file("twin.eml");
        unsafe_attachment(&input, TWIN, how);
        let original = std::fs::read(&input).unwrap();
        let (header_bytes, body) = split_entity(&original);
        let split = protect::for_signing(&Headers::parse(header_bytes).unwrap(), true);
        let entity = transfer::seven_bit_safe(&split.inner.with_body(body)).unwrap();

        let signed = alice.run(&["sign", path_str(&input)], b"").ok().stdout;
        assert!(signed_part(&signed) == entity, "{how:?}: OpenPGP");
        safe_to_send(&signed, &format!("{how:?}: OpenPGP"));
        let data = alice.write("data", signed_part(&signed));
        let signature = alice.write("data.sig", &armored_block(&signed, "PGP SIGNATURE"));
        gpg_verifies(&gpg, &signature, &data);

        let args = ["sign", "--smime", "--from", "alice@example.org"];
        let signed = smime
            .run(&[&args[..], &[path_str(&input)]].concat(), b"")
            .ok()
            .stdout;
        assert!(signed_part(&signed) == entity, "{how:?}: S/MIME");
        safe_to_send(&signed, &format!("{how:?}: S/MIME"));
        let (code, stderr) = openssl_verify(&smime.write("signed.eml", &signed));
        assert_eq!(code, 0, "openssl cms -verify ({how:?}):\n{stderr}");

        let sealed = smime
            .run(&["encrypt", "--smime", "--sign", path_str(&input)], b"")
            .ok()
            .stdout;
        let opened = smime_bob.run(&["decrypt"], &sealed).ok();
        assert!(
            opened.stderr.contains("Good signature"),
            "{how:?}: {}",
            opened.stderr
        );
    }
}

#[test]
fn big_smime_one_line_base64_is_reencoded_in_bounded_memory() {
    let home = smime_pki::home_with(&["alice"]);
    let input = home.file("big.eml");
    let content = unsafe_attachment(&input, BIG, Unsafe::Base64OneLine).unwrap();
    let signed_path = home.file("signed.eml");
    measured(
        &home,
        &[
            "sign",
            "--smime",
            "--from",
            "alice@example.org",
            path_str(&input),
        ],
        None,
        Some(&signed_path),
    )
    .expect(0, "mailseal sign --smime (one-line base64)");
    drop(std::fs::remove_file(&input));
    let (code, stderr) = openssl_verify(&signed_path);
    assert_eq!(code, 0, "openssl cms -verify:\n{stderr}");
    let signed = std::fs::read(&signed_path).unwrap();
    safe_to_send(&signed, "S/MIME");
    assert!(attachment_sha256(signed_part(&signed)) == content);
}
