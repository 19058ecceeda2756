//! Bad input gets a clear message, the DESIGN.md exit code, and no partial
//! plaintext (DESIGN.md §2, invariants 5 and 7).

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use sequoia_openpgp::armor;
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::serialize::Serialize;
use sequoia_openpgp::types::{Features, ReasonForRevocation};

fn hello() -> Vec<u8> {
    std::fs::read(testdata("messages/hello.eml")).unwrap()
}

/// A message with a body large enough to be decrypted in several chunks.
fn big_message() -> Vec<u8> {
    let mut message = b"From: alice@example.org\nTo: bob@example.net\nSubject: big\n\n".to_vec();
    for i in 0..20_000 {
        message.extend_from_slice(format!("line {i} of a long secret body\n").as_bytes());
    }
    message
}

/// Flips one bit in the middle of the encrypted data and re-armors it, so
/// that only the integrity check can notice.
fn flip_bit_in_ciphertext(sealed: &[u8]) -> Vec<u8> {
    let block = armored_block(sealed, "PGP MESSAGE");
    let mut binary = Vec::new();
    std::io::copy(
        &mut armor::Reader::from_bytes(
            &block,
            armor::ReaderMode::Tolerant(Some(armor::Kind::Message)),
        ),
        &mut binary,
    )
    .unwrap();
    let middle = binary.len() * 2 / 3;
    binary[middle] ^= 0x04;
    let mut rearmored = Vec::new();
    let mut writer = armor::Writer::new(&mut rearmored, armor::Kind::Message).unwrap();
    std::io::Write::write_all(&mut writer, &binary).unwrap();
    writer.finalize().unwrap();
    let text = String::from_utf8_lossy(sealed);
    let block_text = String::from_utf8_lossy(&block);
    let rearmored = String::from_utf8_lossy(&rearmored).replace('\n', "\r\n");
    text.replace(block_text.as_ref(), &rearmored).into_bytes()
}

#[test]
fn text_that_is_not_a_message_is_malformed() {
    let home = Home::new();
    home.import_cert("bob");
    let run = home
        .run(&["encrypt"], b"just some text\nwithout any headers\n")
        .expect_code(65);
    assert!(
        run.stderr.contains("not an RFC 5322 message"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = home.run(&["decrypt"], b"hello\n").expect_code(65);
    assert!(run.stdout.is_empty());
}

#[test]
fn truncated_ciphertext_releases_nothing() {
    let (alice, bob) = alice_and_bob();
    let sealed = alice.run(&["encrypt"], &big_message()).ok().stdout;
    let truncated = &sealed[..sealed.len() * 3 / 5];
    let run = bob.run(&["decrypt"], truncated).expect_code(65);
    assert!(run.stdout.is_empty(), "partial plaintext was released");
}

#[test]
fn flipped_bit_fails_integrity_seipd_v2() {
    let (alice, bob) = alice_and_bob();
    let sealed = alice.run(&["encrypt"], &big_message()).ok().stdout;
    let out = bob.file("clear.eml");
    let run = bob
        .run(
            &["decrypt", "-o", out.to_str().unwrap()],
            &flip_bit_in_ciphertext(&sealed),
        )
        .expect_code(65);
    assert!(run.stdout.is_empty());
    assert!(
        !out.exists(),
        "an output file appeared after an integrity failure"
    );
    assert!(
        run.stderr.contains("no plaintext was released"),
        "{}",
        run.stderr
    );
}

#[test]
fn flipped_bit_fails_integrity_seipd_v1() {
    // A recipient that, like gpg 2.2, only supports SEIPDv1 (with MDC).
    let (cert, _) = CertBuilder::general_purpose(Some("<dave@example.org>"))
        .set_features(Features::empty().set_seipdv1())
        .unwrap()
        .generate()
        .unwrap();
    let dave = Home::new();
    let mut tsk = Vec::new();
    cert.as_tsk().armored().serialize(&mut tsk).unwrap();
    dave.run(&["key", "import"], &tsk).ok();
    let alice = Home::new();
    alice.import_key("alice");
    let mut public = Vec::new();
    cert.armored().serialize(&mut public).unwrap();
    alice.run(&["cert", "import"], &public).ok();

    let mut message = big_message();
    message = String::from_utf8(message)
        .unwrap()
        .replace("bob@example.net", "dave@example.org")
        .into_bytes();
    let sealed = alice.run(&["encrypt", "--no-sign"], &message).ok().stdout;
    dave.run(&["decrypt"], &sealed).ok();
    let run = dave
        .run(&["decrypt"], &flip_bit_in_ciphertext(&sealed))
        .expect_code(65);
    assert!(
        run.stdout.is_empty(),
        "unauthenticated plaintext was released"
    );
}

#[test]
fn signature_by_unknown_key_fails() {
    let (alice, _) = alice_and_bob();
    let stranger = Home::new();
    let signed = alice.run(&["sign"], &hello()).ok().stdout;
    let run = stranger.run(&["verify"], &signed).expect_code(1);
    assert!(run.stderr.contains("unknown"), "{}", run.stderr);
}

#[test]
fn tampered_signed_part_fails() {
    let (alice, bob) = alice_and_bob();
    let signed = String::from_utf8(alice.run(&["sign"], &hello()).ok().stdout).unwrap();
    let tampered = signed.replace("short test message", "short test massage");
    assert_ne!(tampered, signed);
    let run = bob.run(&["verify"], tampered.as_bytes()).expect_code(1);
    assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
}

#[test]
fn signature_by_someone_else_than_the_sender_fails() {
    let (alice, bob) = alice_and_bob();
    let forged = String::from_utf8(hello()).unwrap().replace(
        "From: Alice <alice@example.org>",
        "From: Mallory <mallory@example.org>",
    );
    let signed = alice
        .run(&["sign", "--from", "alice@example.org"], forged.as_bytes())
        .ok()
        .stdout;
    let run = bob.run(&["verify"], &signed).expect_code(1);
    assert!(run.stderr.contains("is not the author"), "{}", run.stderr);
}

#[test]
fn recipient_without_key_is_named_and_nothing_is_written() {
    let (alice, _) = alice_and_bob();
    let message = String::from_utf8(hello()).unwrap().replace(
        "To: Bob <bob@example.net>",
        "To: Bob <bob@example.net>, nobody@example.com",
    );
    let out = alice.file("sealed.eml");
    let run = alice
        .run(
            &["encrypt", "-o", out.to_str().unwrap()],
            message.as_bytes(),
        )
        .expect_code(67);
    assert!(run.stderr.contains("nobody@example.com"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(!out.exists());
}

fn import_generated(home: &Home, cert: &sequoia_openpgp::Cert) {
    let mut public = Vec::new();
    cert.armored().serialize(&mut public).unwrap();
    home.run(&["cert", "import"], &public).ok();
}

#[test]
fn expired_recipient_key_is_refused() {
    let (cert, _) = CertBuilder::general_purpose(Some("<old@example.org>"))
        .set_creation_time(SystemTime::now() - Duration::from_secs(3 * 86400))
        .set_validity_period(Duration::from_secs(86400))
        .generate()
        .unwrap();
    let alice = Home::new();
    import_generated(&alice, &cert);
    let run = alice
        .run(&["encrypt", "-r", "old@example.org"], &hello())
        .expect_code(67);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn revoked_recipient_key_is_refused() {
    let (cert, revocation) = CertBuilder::general_purpose(Some("<gone@example.org>"))
        .generate()
        .unwrap();
    let _ = ReasonForRevocation::KeyCompromised;
    let (cert, _) = cert.insert_packets(revocation).unwrap();
    let alice = Home::new();
    import_generated(&alice, &cert);
    let run = alice
        .run(&["encrypt", "-r", "gone@example.org"], &hello())
        .expect_code(67);
    assert!(run.stderr.contains("revoked"), "{}", run.stderr);
}

#[test]
fn wrong_or_missing_passphrase_is_refused() {
    let bob = Home::new();
    let pass = bob.write("pass", b"right passphrase\n");
    bob.run(
        &[
            "--passphrase-file",
            pass.to_str().unwrap(),
            "key",
            "generate",
            "bob@example.net",
        ],
        b"",
    )
    .ok();
    let cert = bob
        .run(&["key", "export", "bob@example.net", "--public"], b"")
        .ok()
        .stdout;
    let alice = Home::new();
    alice.run(&["cert", "import"], &cert).ok();
    let sealed = alice.run(&["encrypt"], &hello()).ok().stdout;

    let run = bob.run(&["decrypt"], &sealed).expect_code(77);
    assert!(
        run.stderr.contains("no passphrase was given"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let wrong = bob.write("wrong", b"wrong passphrase\n");
    let run = bob
        .run(
            &["--passphrase-file", wrong.to_str().unwrap(), "decrypt"],
            &sealed,
        )
        .expect_code(77);
    assert!(run.stderr.contains("wrong"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    bob.run(
        &["--passphrase-file", pass.to_str().unwrap(), "decrypt"],
        &sealed,
    )
    .ok();
}

#[test]
fn unusable_home_is_a_configuration_error() {
    let scratch = Home::new();
    let file = scratch.write("not-a-dir", b"x");
    let output = mailseal()
        .args(["--home", file.to_str().unwrap(), "cert", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a directory"));
}

#[test]
fn bad_configuration_names_the_line() {
    let home = Home::new();
    home.write(
        "config.toml",
        b"[policy]\nsign = true\nencrypt_too_self = false\n",
    );
    let run = home.run(&["cert", "list"], b"").expect_code(78);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stderr.contains("encrypt_too_self"), "{}", run.stderr);
}

#[test]
fn secret_key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (alice, _) = alice_and_bob();
    let dir = alice.path().join("keys/openpgp");
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::set_permissions(
            entry.unwrap().path(),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let run = alice.run(&["sign"], &hello()).expect_code(77);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
}
