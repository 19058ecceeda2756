//! Bcc recipients are never revealed: no Bcc field and no key ID of theirs
//! in the output, yet they can decrypt (DESIGN.md §2, invariant 6).

mod common;

use common::*;
use sequoia_openpgp::packet::Packet;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::PacketPile;

const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\n\
To: Bob <bob@example.net>\n\
Bcc: Carol <carol@example.com>\n\
Subject: quarterly numbers\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
The numbers are in.\n";

#[test]
fn bcc_recipient_is_hidden_but_can_decrypt() {
    let (alice, bob) = alice_and_bob();
    let carol = Home::new();
    carol
        .run(&["key", "generate", "carol@example.com"], b"")
        .ok();
    let carol_cert = carol
        .run(&["key", "export", "carol@example.com", "--public"], b"")
        .ok()
        .stdout;
    alice.run(&["cert", "import"], &carol_cert).ok();
    carol.import_cert("alice");

    let sealed = alice.run(&["encrypt"], MESSAGE).ok().stdout;
    let text = String::from_utf8_lossy(&sealed).to_ascii_lowercase();
    assert!(
        !text.contains("carol"),
        "the output names the Bcc recipient"
    );
    assert!(!text.contains("bcc:"), "the output has a Bcc field");

    let cert = sequoia_openpgp::Cert::from_bytes(&carol_cert).unwrap();
    let carol_ids: Vec<String> = cert
        .keys()
        .flat_map(|k| [k.key().keyid().to_hex(), k.key().fingerprint().to_hex()])
        .collect();
    let pile = PacketPile::from_bytes(&armored_block(&sealed, "PGP MESSAGE")).unwrap();
    let mut wildcards = 0;
    for packet in pile.children() {
        if let Packet::PKESK(pkesk) = packet {
            match pkesk.recipient() {
                Some(handle) => assert!(
                    !carol_ids.contains(&handle.to_hex()),
                    "a PKESK names Carol's key {handle}"
                ),
                None => wildcards += 1,
            }
        }
    }
    assert_eq!(wildcards, 1, "Carol's key must be a wildcard recipient");
    assert!(!String::from_utf8_lossy(&sealed).contains(&carol_ids[0]));

    for (reader, name) in [(&carol, "carol"), (&bob, "bob")] {
        let opened = reader.run(&["decrypt"], &sealed).ok();
        let clear = opened.stdout_text();
        assert!(
            clear.contains("The numbers are in."),
            "{name} cannot read it"
        );
        assert!(
            !clear.to_ascii_lowercase().contains("bcc:"),
            "{name} sees a Bcc field"
        );
        assert!(
            clear.contains("Subject: quarterly numbers"),
            "{name}: subject not restored"
        );
    }
}
