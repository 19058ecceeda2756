//! Every message of the corpus round-trips encrypt→decrypt to the same
//! bytes (CRLF canonical, Bcc removed) and sign→verify to the same content,
//! with OpenPGP and with S/MIME (where openssl also opens every message).

mod common;
#[path = "common/smime.rs"]
mod smime_pki;

use common::*;
use mail_parser::MessageParser;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(testdata("messages/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus has {} messages", files.len());
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

/// What decryption must give back: the message, CRLF, without Bcc fields,
/// and with the Content-Type a message without one implicitly has.
fn expected_after_decryption(original: &[u8]) -> Vec<u8> {
    let text = crlf(original);
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(text.len(), |p| p + 2);
    let (headers, body) = text.split_at(split);
    let mut out = Vec::new();
    let mut skipping = false;
    let mut has_content_type = false;
    for line in headers.split_inclusive(|&b| b == b'\n') {
        let continuation = line.starts_with(b" ") || line.starts_with(b"\t");
        if !continuation {
            let lower = String::from_utf8_lossy(line).to_ascii_lowercase();
            skipping = lower.starts_with("bcc:");
            has_content_type |= lower.starts_with("content-type:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    if !has_content_type {
        out.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    out.extend_from_slice(body);
    out
}

/// The decoded contents of every leaf part, line endings normalized.
fn leaf_contents(message: &[u8]) -> Vec<Vec<u8>> {
    let parsed = MessageParser::default().parse(message).expect("parses");
    parsed
        .parts
        .iter()
        .filter(|p| !p.is_multipart())
        .map(|p| {
            let mut data = p.contents().to_vec();
            data.retain(|&b| b != b'\r');
            while data.last() == Some(&b'\n') {
                data.pop();
            }
            data
        })
        .collect()
}

/// The bytes of the first part of a multipart/signed message.
fn signed_part(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let start = text.find("boundary=\"").unwrap() + 10;
    let boundary = &text[start..start + text[start..].find('"').unwrap()];
    let delimiter = format!("--{boundary}\r\n");
    let first = text.find(&delimiter).unwrap() + delimiter.len();
    let end = text[first..].find(&format!("\r\n--{boundary}")).unwrap() + first;
    message[first..end].to_vec()
}

#[test]
fn encrypt_then_decrypt_gives_back_every_byte() {
    let (alice, bob) = alice_and_bob();
    for (name, original) in corpus() {
        let sealed = alice
            .run(&["encrypt", "-r", "bob@example.net"], &original)
            .ok()
            .stdout;
        let sealed_text = String::from_utf8_lossy(&sealed);
        assert!(
            sealed_text.contains("Subject: [...]") || !sealed_text.contains("Subject:"),
            "{name}: outer subject not obscured"
        );
        let opened = bob.run(&["decrypt"], &sealed).ok();
        assert!(
            opened.stderr.contains("Good signature"),
            "{name}: {}",
            opened.stderr
        );
        assert_eq!(
            String::from_utf8_lossy(&opened.stdout),
            String::from_utf8_lossy(&expected_after_decryption(&original)),
            "{name}: decrypted message differs"
        );
    }
}

#[test]
fn sign_then_verify_keeps_the_content() {
    let (alice, bob) = alice_and_bob();
    for (name, original) in corpus() {
        let signed = alice.run(&["sign"], &original).ok().stdout;
        bob.run(&["verify"], &signed).ok();
        assert_signed_part_keeps_content(&name, &signed, &original);
    }
}

#[test]
fn smime_encrypt_then_decrypt_gives_back_every_byte() {
    let alice = smime_pki::home_with(&["alice"]);
    let bob = smime_pki::home_with(&["bob"]);
    let pki = smime_pki::pki();
    for (name, original) in corpus() {
        let sealed = alice
            .run(&["encrypt", "--smime", "-r", "bob@example.net"], &original)
            .ok()
            .stdout;
        let sealed_text = String::from_utf8_lossy(&sealed);
        assert!(
            sealed_text.contains("Subject: [...]") || !sealed_text.contains("Subject:"),
            "{name}: outer subject not obscured"
        );
        let opened = bob.run(&["decrypt"], &sealed).ok();
        assert!(
            opened.stderr.contains("Good signature"),
            "{name}: {}",
            opened.stderr
        );
        // The signature inside the encryption is a multipart/signed, whose
        // signed part is made 7-bit safe first: 8-bit parts come back
        // quoted-printable or base64, with the same content.
        let expected = expected_after_decryption(&original);
        let header_lines = |m: &[u8]| -> Vec<String> {
            let text = String::from_utf8_lossy(m).into_owned();
            let head = text.split("\r\n\r\n").next().unwrap().to_string();
            head.split("\r\n")
                .filter(|l| {
                    !l.to_ascii_lowercase()
                        .starts_with("content-transfer-encoding:")
                })
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            header_lines(&opened.stdout),
            header_lines(&expected),
            "{name}: header fields differ"
        );
        assert_eq!(
            leaf_contents(&opened.stdout),
            leaf_contents(&expected),
            "{name}: content differs"
        );
        // openssl opens it too, and the signature inside verifies.
        let decrypted = smime_pki::openssl_decrypt("bob", &sealed);
        smime_pki::assert_openssl_ok(&decrypted);
        let verified = smime_pki::openssl_cms(
            &["-verify", "-CAfile", &pki.path("ca.pem")],
            &decrypted.stdout,
        );
        smime_pki::assert_openssl_ok(&verified);
    }
}

#[test]
fn smime_sign_then_verify_keeps_the_content() {
    let alice = smime_pki::home_with(&["alice"]);
    let bob = smime_pki::home_with(&["bob"]);
    let pki = smime_pki::pki();
    for (name, original) in corpus() {
        let signed = alice.run(&["sign", "--smime"], &original).ok().stdout;
        bob.run(&["verify"], &signed).ok();
        let verified =
            smime_pki::openssl_cms(&["-verify", "-CAfile", &pki.path("ca.pem")], &signed);
        smime_pki::assert_openssl_ok(&verified);
        assert_signed_part_keeps_content(&name, &signed, &original);
    }
}

/// The signed part of `signed` is 7-bit safe in its body (raw UTF-8 header
/// fields, RFC 6532, stay as written as they are outside; every body line
/// must be 7-bit and short) and carries the content of `original`.
fn assert_signed_part_keeps_content(name: &str, signed: &[u8], original: &[u8]) {
    let part = signed_part(signed);
    let body_start = part.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        part[body_start..]
            .split(|&b| b == b'\n')
            .all(|l| l.len() <= 999 && l.is_ascii() && !l.starts_with(b"From ")),
        "{name}: signed body is not 7-bit safe"
    );
    assert_eq!(
        leaf_contents(&part),
        leaf_contents(original),
        "{name}: signed content differs"
    );
}
