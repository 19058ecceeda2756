//! Deeply nested MIME (issue 10 item 8): 10,000 nested multiparts or
//! message/rfc822 entities neither overflow the stack nor take quadratic
//! time in `sign`, `encrypt`, `verify` and `decrypt`: MIME deeper than 100
//! levels is refused with exit 65, and ordinary nesting still works. The
//! messages are generated here, not committed.

mod common;
use common::*;
#[path = "common/smime.rs"]
mod smime_pki;
use smime_pki::*;

const DEEP: usize = 10_000;

/// A message whose body nests `levels` containers around an 8-bit text
/// (so that signing has to rewrite the innermost part): multiparts, or
/// message/rfc822 entities.
fn nested(levels: usize, rfc822: bool) -> Vec<u8> {
    let mut entity = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus der Tiefe\r\n"
        .as_bytes()
        .to_vec();
    for level in 0..levels {
        let mut outer = if rfc822 {
            b"Content-Type: message/rfc822\r\n\r\n".to_vec()
        } else {
            format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n")
                .into_bytes()
        };
        outer.extend_from_slice(&entity);
        if !rfc822 {
            outer.extend_from_slice(format!("\r\n--b{level}--\r\n").as_bytes());
        }
        entity = outer;
    }
    let mut message =
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
            .to_vec();
    message.extend_from_slice(&entity);
    message
}

fn assert_refused(run: Run, what: &str) {
    assert_eq!(run.code, 65, "{what}: {}", run.stderr);
    assert!(run.stderr.contains("levels deep"), "{what}: {}", run.stderr);
    assert!(run.stdout.is_empty(), "{what}");
}

#[test]
fn deep_mime_is_refused_by_every_message_command() {
    let (alice, bob) = alice_and_bob();
    let smime = home_with(&["alice"]);
    for rfc822 in [false, true] {
        let deep = nested(DEEP, rfc822);
        let kind = if rfc822 {
            "message/rfc822"
        } else {
            "multipart"
        };
        assert_refused(
            alice.run(&["sign", "--openpgp"], &deep),
            &format!("sign {kind}"),
        );
        assert_refused(
            smime.run(&["sign", "--smime"], &deep),
            &format!("sign --smime {kind}"),
        );
        assert_refused(
            smime.run(
                &["encrypt", "--smime", "--sign", "-r", "bob@example.net"],
                &deep,
            ),
            &format!("encrypt --smime --sign {kind}"),
        );
        assert_refused(bob.run(&["verify"], &deep), &format!("verify {kind}"));
        assert_refused(bob.run(&["decrypt"], &deep), &format!("decrypt {kind}"));
        // OpenPGP encrypts (and signs inside the encryption) without
        // walking the body; opening the result must not crash either.
        for sign in ["--sign", "--no-sign"] {
            let sealed = alice
                .run(
                    &["encrypt", "--openpgp", sign, "-r", "bob@example.net"],
                    &deep,
                )
                .ok()
                .stdout;
            let opened = bob.run(&["decrypt"], &sealed);
            assert!(
                opened.code == 0 || (opened.code == 65 && opened.stderr.contains("levels deep")),
                "decrypt of encrypted {kind} ({sign}): exit {} {}",
                opened.code,
                opened.stderr
            );
        }
    }
    // S/MIME: an encrypted deep message is refused when opened.
    let bob_smime = home_with(&["bob"]);
    let sealed = smime
        .run(
            &["encrypt", "--smime", "--no-sign", "-r", "bob@example.net"],
            &nested(DEEP, false),
        )
        .ok()
        .stdout;
    assert_refused(bob_smime.run(&["decrypt"], &sealed), "decrypt --smime");
}

#[test]
fn ordinary_nesting_still_signs_and_verifies() {
    let (alice, bob) = alice_and_bob();
    for rfc822 in [false, true] {
        let signed = alice
            .run(&["sign", "--openpgp"], &nested(50, rfc822))
            .ok()
            .stdout;
        bob.run(&["verify"], &signed).ok();
    }
}
