//! `mailseal decrypt` of large S/MIME messages: read as a stream, in
//! bounded memory (measured: the child's peak RSS), with nothing released
//! when the ciphertext or the GCM tag was changed, and CBC content held
//! back until a signature inside authenticated it.

mod common;
#[path = "common/smime.rs"]
mod smime_pki;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use common::measure::{
    body_sha256, large_message, mixed_message, nested_multiparts, run_measured, Measured,
};
use common::Home;
use smime_pki::{home_with, pki, Gpgsm};

/// The most a decrypt of a large message may take, whatever its size.
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

/// [`large_message`] to Bob.
fn to_bob(mib: usize) -> Vec<u8> {
    large_message(mib, "bob@example.net", None)
}

/// Runs `openssl cms -in IN -out OUT ARGS` in the PKI directory.
fn openssl_file(args: &[&str], input: &Path, output: &Path) {
    let status = Command::new("openssl")
        .arg("cms")
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(output)
        .args(args)
        .current_dir(&pki().dir)
        .status()
        .unwrap();
    assert!(status.success(), "openssl cms {args:?} failed");
}

/// `message` encrypted to Bob by `openssl cms -encrypt` with `cipher`
/// (none: openssl's default), signed by Alice first (opaque signed-data
/// inside) when `sign`.
fn sealed_by_openssl(home: &Home, message: &[u8], cipher: &[&str], sign: bool) -> PathBuf {
    let pki = pki();
    let plain = home.write("plain.eml", message);
    let content = if sign {
        let signed = home.file("signed.eml");
        openssl_file(
            &[
                "-sign",
                "-nodetach",
                "-signer",
                &pki.path("alice.pem"),
                "-inkey",
                &pki.path("alice.key"),
            ],
            &plain,
            &signed,
        );
        std::fs::remove_file(&plain).unwrap();
        signed
    } else {
        plain
    };
    let sealed = encrypted_by_openssl(home, &content, cipher);
    std::fs::remove_file(content).unwrap();
    sealed
}

/// The file `content` encrypted to Bob by `openssl cms -encrypt` with
/// `cipher` (none: openssl's default), written to `sealed.eml`.
fn encrypted_by_openssl(home: &Home, content: &Path, cipher: &[&str]) -> PathBuf {
    let sealed = home.file("sealed.eml");
    let bob = pki().path("bob.pem");
    let mut args = vec!["-encrypt"];
    args.extend_from_slice(cipher);
    args.push(&bob);
    openssl_file(&args, content, &sealed);
    sealed
}

/// Runs `home decrypt ARGS` on the file `input` (as stdin), spilling to
/// `tmpdir`.
fn decrypt(home: &Home, args: &[&str], input: &Path, tmpdir: &Path) -> Measured {
    let mut command = home.command(&["decrypt"]);
    command.args(args).env("TMPDIR", tmpdir);
    run_measured(command, Stdio::from(File::open(input).unwrap()), |_| {})
}

#[track_caller]
fn assert_bounded(run: &Measured) {
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "decrypt peaked at {} KiB",
        run.peak_kib
    );
}

#[test]
fn a_100_mb_message_from_openssl_gcm_decrypts_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let message = to_bob(100);
    let expected = body_sha256(&message);
    let sealed = sealed_by_openssl(&bob, &message, &["-aes-256-gcm"], false);
    drop(message);
    let tmp = tempfile::tempdir().unwrap();

    let run = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("the message was not signed"),
        "{}",
        run.stderr
    );
    assert_eq!(run.body_sha256, expected, "the decrypted body differs");
    assert_bounded(&run);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_large_message_from_mailseal_decrypts_to_a_file_in_bounded_memory() {
    let alice = home_with(&["alice"]);
    let bob = home_with(&["bob"]);
    let message = to_bob(24);
    let expected = body_sha256(&message);
    let plain = alice.write("plain.eml", &message);
    drop(message);
    let sealed = alice.file("sealed.eml");
    alice
        .run(
            &[
                "encrypt",
                "--smime",
                "--no-sign",
                plain.to_str().unwrap(),
                "-o",
                sealed.to_str().unwrap(),
            ],
            b"",
        )
        .ok();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("message.eml");

    let run = decrypt(
        &bob,
        &["-o", out.to_str().unwrap()],
        &sealed,
        out_dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout_len, 0);
    assert_bounded(&run);
    assert_eq!(body_sha256(&std::fs::read(&out).unwrap()), expected);
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 1);
}

/// The header section and the decoded CMS object of an
/// application/pkcs7-mime message.
fn take_apart(sealed: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (end, skip) = sealed
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| sealed.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
        .unwrap();
    let body: Vec<u8> = sealed[end + skip..]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    (sealed[..end + skip].to_vec(), der)
}

/// `head` and `der` in base64, as a message again.
fn put_together(head: &[u8], der: &[u8]) -> Vec<u8> {
    let mut out = head.to_vec();
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn a_changed_byte_in_the_content_or_the_tag_releases_nothing() {
    let bob = home_with(&["bob"]);
    let message = to_bob(8);
    let sealed =
        std::fs::read(sealed_by_openssl(&bob, &message, &["-aes-256-gcm"], false)).unwrap();
    let (head, der) = take_apart(&sealed);
    // The MAC: the last OCTET STRING of 16 bytes.
    let tail = der.len() - 64;
    let mac = tail
        + der[tail..]
            .windows(2)
            .rposition(|w| w == [0x04, 0x10])
            .expect("a 16-byte MAC near the end")
        + 2;
    for (what, at) in [("content", der.len() / 2), ("tag", mac + 15)] {
        let mut changed = der.clone();
        changed[at] ^= 0x01;
        let input = bob.write("changed.eml", &put_together(&head, &changed));
        let tmp = tempfile::tempdir().unwrap();

        let run = decrypt(&bob, &[], &input, tmp.path());
        assert_ne!(run.code, 0, "{what} changed: {}", run.stderr);
        assert_eq!(run.stdout_len, 0, "{what} changed: plaintext on stdout");
        assert!(
            run.stderr.contains("no plaintext was released"),
            "{what} changed: {}",
            run.stderr
        );

        let out_dir = tempfile::tempdir().unwrap();
        let out = out_dir.path().join("message.eml");
        let run = decrypt(&bob, &["-o", out.to_str().unwrap()], &input, tmp.path());
        assert_ne!(run.code, 0, "{what} changed: {}", run.stderr);
        assert_eq!(
            std::fs::read_dir(out_dir.path()).unwrap().count(),
            0,
            "{what} changed: a file was left beside -o"
        );
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}

#[test]
fn large_cbc_content_is_released_only_when_a_signature_inside_covers_it() {
    let bob = home_with(&["bob"]);
    let message = to_bob(8);
    let expected = body_sha256(&message);
    let tmp = tempfile::tempdir().unwrap();

    // Signed, then encrypted: the signature authenticates the content.
    let sealed = sealed_by_openssl(&bob, &message, &["-aes256"], true);
    let run = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_eq!(run.body_sha256, expected);

    // Not signed: refused, unless allowed.
    let sealed = sealed_by_openssl(&bob, &message, &["-aes256"], false);
    let run = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert_eq!(run.stdout_len, 0);
    let run = decrypt(&bob, &["--allow-unauthenticated"], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("not integrity-protected"),
        "{}",
        run.stderr
    );
    assert_eq!(run.body_sha256, expected);
    assert_bounded(&run);

    // Signed, then encrypted, and a byte of the ciphertext changed: the
    // signature does not cover what decrypted; nothing is released.
    let signed = std::fs::read(sealed_by_openssl(&bob, &message, &["-aes256"], true)).unwrap();
    let (head, mut der) = take_apart(&signed);
    let middle = der.len() / 2;
    der[middle] ^= 0x01;
    let input = bob.write("changed.eml", &put_together(&head, &der));
    let run = decrypt(&bob, &[], &input, tmp.path());
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout_len, 0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// `message` signed by Alice with `openssl cms -sign` (multipart/signed,
/// or opaque signed-data with `-nodetach` in `extra`; From/To/Subject on
/// the outer header), written to `signed.eml`.
fn signed_by_openssl(home: &Home, message: &[u8], extra: &[&str]) -> PathBuf {
    let pki = pki();
    let plain = home.write("plain.eml", message);
    let signed = home.file("signed.eml");
    let (cert, key) = (pki.path("alice.pem"), pki.path("alice.key"));
    let mut args = vec![
        "-sign",
        "-signer",
        &cert,
        "-inkey",
        &key,
        "-from",
        "alice@example.org",
        "-to",
        "bob@example.net",
        "-subject",
        "large",
    ];
    args.extend_from_slice(extra);
    openssl_file(&args, &plain, &signed);
    std::fs::remove_file(&plain).unwrap();
    signed
}

/// Changes the first letter or digit from the middle of the file at
/// `path` on to another one (valid base64 still).
fn flip_middle(path: &Path) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let middle = file.metadata().unwrap().len() / 2;
    let mut at = middle;
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at)).unwrap();
    loop {
        file.read_exact(&mut byte).unwrap();
        if byte[0].is_ascii_alphanumeric() {
            break;
        }
        at += 1;
        assert!(at - middle < 64, "not in the content");
    }
    byte[0] = if byte[0] == b'A' { b'B' } else { b'A' };
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&byte).unwrap();
}

/// Runs `home verify FILE`.
fn verify(home: &Home, input: &Path) -> Measured {
    let command = home.command(&["verify", input.to_str().unwrap()]);
    run_measured(command, Stdio::null(), |_| {})
}

#[test]
fn a_100_mb_multipart_signed_from_openssl_verifies_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let signed = signed_by_openssl(&bob, &to_bob(100), &[]);

    let run = verify(&bob, &signed);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_bounded(&run);

    // One byte of the signed part changed: a bad signature, exit 1.
    flip_middle(&signed);
    let run = verify(&bob, &signed);
    assert_digest_mismatch(&run);
    assert_bounded(&run);
}

#[test]
fn a_large_multipart_signed_binds_the_signature_to_the_from_address() {
    let bob = home_with(&["bob"]);
    // Signed by Alice, but the message says it is from Carol.
    let message = String::from_utf8(to_bob(8)).unwrap().replacen(
        "From: alice@example.org",
        "From: carol@example.org",
        1,
    );
    let signed = signed_by_openssl(&bob, message.as_bytes(), &[]);

    let run = verify(&bob, &signed);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
}

#[test]
fn a_large_message_signed_then_encrypted_by_openssl_is_checked_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let message = to_bob(100);
    let expected = body_sha256(&message);
    let signed = signed_by_openssl(&bob, &message, &[]);
    drop(message);
    let tmp = tempfile::tempdir().unwrap();
    let encrypt = |signed: &Path| encrypted_by_openssl(&bob, signed, &["-aes-256-cbc"]);

    // CBC, authenticated by the good multipart/signed signature inside.
    let run = decrypt(&bob, &[], &encrypt(&signed), tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_eq!(run.body_sha256, expected, "the decrypted body differs");
    assert_bounded(&run);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    // The signed content changed before the encryption: the signature
    // does not cover it, so the CBC content is withheld.
    flip_middle(&signed);
    let run = decrypt(&bob, &[], &encrypt(&signed), tmp.path());
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
    assert_eq!(run.stdout_len, 0, "unauthenticated plaintext on stdout");
    assert_bounded(&run);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_100_mb_opaque_signed_data_from_openssl_verifies_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let signed = signed_by_openssl(&bob, &to_bob(100), &["-nodetach"]);

    let run = verify(&bob, &signed);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_eq!(run.stdout_len, 0);
    assert_bounded(&run);

    // One byte of the encapsulated content changed: a bad signature, exit
    // 1, and nothing of the content anywhere.
    flip_middle(&signed);
    let run = verify(&bob, &signed);
    assert_digest_mismatch(&run);
    assert_eq!(run.stdout_len, 0);
    assert_bounded(&run);
}

/// A failed verify (exit 1) that says the signed content was changed.
#[track_caller]
fn assert_digest_mismatch(run: &Measured) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
    assert!(
        run.stderr.contains("message digest mismatch"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_large_message_is_signed_inside_its_encryption_in_bounded_memory() {
    // Signing reads the body twice; while it waits, it is kept in a
    // temporary file that is itself encrypted, never in clear on disk, and
    // never whole in memory.
    const MARKER: &str = "SIGNED-INSIDE-ENCRYPTION-MARKER";
    let alice = home_with(&["alice"]);
    let bob = home_with(&["bob"]);
    let message = large_message(100, "bob@example.net", Some(MARKER));
    let expected = body_sha256(&message);
    let plain = alice.write("plain.eml", &message);
    drop(message);
    let sealed = alice.file("sealed.eml");
    let tmp = tempfile::tempdir().unwrap();
    let mut command = alice.command(&[
        "encrypt",
        "--smime",
        "--sign",
        plain.to_str().unwrap(),
        "-o",
        sealed.to_str().unwrap(),
    ]);
    command.env("TMPDIR", tmp.path());
    let mut checked = 0;
    let run = run_measured(command, Stdio::null(), |pid| {
        checked += common::measure::check_open_files(pid, tmp.path(), MARKER);
    });
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("signed by"), "{}", run.stderr);
    assert!(
        run.peak_kib < PEAK_LIMIT_KIB,
        "encrypt --smime --sign peaked at {} KiB",
        run.peak_kib
    );
    assert!(checked > 0, "the body never waited in a temporary file");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    std::fs::remove_file(&plain).unwrap();

    let run = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
    assert_eq!(run.body_sha256, expected, "the decrypted body differs");
}

#[test]
fn large_content_signed_without_signed_attributes_is_checked_as_a_stream() {
    // openssl -noattr signs the content itself: the signature covers the
    // digest of the content, computed as it streams past and not kept,
    // opaque and detached alike; a changed byte is BAD.
    let bob = home_with(&["bob"]);
    for form in [&["-nodetach", "-noattr"][..], &["-noattr"]] {
        let signed = signed_by_openssl(&bob, &to_bob(100), form);
        let run = verify(&bob, &signed);
        assert_eq!(run.code, 0, "{form:?}: {}", run.stderr);
        assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
        assert_bounded(&run);
        flip_middle(&signed);
        let run = verify(&bob, &signed);
        assert_eq!(run.code, 1, "{form:?} changed: {}", run.stderr);
        assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
        assert_bounded(&run);
        std::fs::remove_file(signed).unwrap();
    }
}

/// A line in the large messages, to look for plaintext on disk.
const MARKER: &str = "OPAQUE-SIGNED-INSIDE-MARKER";

/// The header section (up to the blank line) of `message`.
fn header_section(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header section");
    &message[..end + 4]
}

/// Runs `command` with `stdin`, spilling to `tmpdir`, checking that no
/// file the child holds open there has the content in clear, that none
/// is left behind, and that when it succeeds, the content waited in a
/// spill there.
fn run_watched(mut command: Command, stdin: Stdio, tmpdir: &Path) -> Measured {
    command.env("TMPDIR", tmpdir);
    let mut checked = 0;
    let run = run_measured(command, stdin, |pid| {
        checked += common::measure::check_open_files(pid, tmpdir, MARKER);
    });
    assert_eq!(
        std::fs::read_dir(tmpdir).unwrap().count(),
        0,
        "a file was left in TMPDIR"
    );
    if run.code == 0 {
        assert!(checked > 0, "the content never waited in a spill");
    }
    run
}

/// [`decrypt`] of `input` to stdout, watched by [`run_watched`].
fn decrypt_watched(home: &Home, input: &Path, tmpdir: &Path) -> Measured {
    let stdin = Stdio::from(File::open(input).unwrap());
    run_watched(home.command(&["decrypt"]), stdin, tmpdir)
}

#[test]
fn a_100_mb_message_signed_then_encrypted_by_openssl_opens_from_the_spill() {
    // `openssl cms -sign -nodetach | openssl cms -encrypt`: the opaque
    // signed-data inside is read from the spill as a stream, its content
    // hashed as it goes to a second spill and released after the check.
    let bob = home_with(&["bob"]);
    let tmp = tempfile::tempdir().unwrap();
    for cipher in [&[][..], &["-aes-256-gcm"]] {
        // The same message, small enough to be opened in memory: the
        // reference for the header section and the report.
        let small = large_message(1, "bob@example.net", Some(MARKER));
        let sealed = sealed_by_openssl(&bob, &small, cipher, true);
        let reference = bob.run(&["decrypt"], &std::fs::read(&sealed).unwrap());
        assert_eq!(reference.code, 0, "{cipher:?}: {}", reference.stderr);
        assert!(reference.stderr.contains("Good signature"));

        let message = large_message(100, "bob@example.net", Some(MARKER));
        let expected = body_sha256(&message);
        let sealed = sealed_by_openssl(&bob, &message, cipher, true);
        drop(message);
        let run = decrypt_watched(&bob, &sealed, tmp.path());
        assert_eq!(run.code, 0, "{cipher:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Good signature from alice@example.org"),
            "{cipher:?}: {}",
            run.stderr
        );
        assert_bounded(&run);
        assert_eq!(run.body_sha256, expected, "{cipher:?}: the body differs");
        assert_eq!(
            run.head,
            header_section(&reference.stdout),
            "{cipher:?}: the header section differs from the one opened in memory"
        );
    }
}

#[test]
fn changed_content_inside_large_opaque_signed_data_is_a_bad_signature() {
    // The attacker changes the signed content, then encrypts it again: a
    // bad signature, exit 1; with CBC, which nothing else authenticates,
    // nothing is released.
    let bob = home_with(&["bob"]);
    let tmp = tempfile::tempdir().unwrap();
    let message = large_message(24, "bob@example.net", Some(MARKER));
    let signed = signed_by_openssl(&bob, &message, &["-nodetach"]);
    drop(message);
    flip_middle(&signed);

    let sealed = encrypted_by_openssl(&bob, &signed, &["-aes-256-gcm"]);
    let run = decrypt_watched(&bob, &sealed, tmp.path());
    assert_digest_mismatch(&run);
    assert_bounded(&run);

    let sealed = encrypted_by_openssl(&bob, &signed, &[]);
    let run = decrypt_watched(&bob, &sealed, tmp.path());
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
    assert_eq!(run.stdout_len, 0, "unauthenticated plaintext on stdout");
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("message.eml");
    let run = decrypt(&bob, &["-o", out.to_str().unwrap()], &sealed, tmp.path());
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "unauthenticated plaintext was written"
    );
}

#[test]
fn large_opaque_signed_data_inside_binds_the_signature_to_the_from_address() {
    // Signed by Alice, but the message inside says it is from Carol.
    let bob = home_with(&["bob"]);
    let message = String::from_utf8(to_bob(8)).unwrap().replacen(
        "From: alice@example.org",
        "From: carol@example.org",
        1,
    );
    let sealed = sealed_by_openssl(&bob, message.as_bytes(), &["-aes-256-gcm"], true);
    let tmp = tempfile::tempdir().unwrap();

    let run = decrypt(&bob, &[], &sealed, tmp.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("BAD signature"), "{}", run.stderr);
    assert!(run.stderr.contains("carol@example.org"), "{}", run.stderr);
}

/// `signed` (an opaque signed-data message) with the SHA-256 in its
/// digestAlgorithms set, which the signature does not cover, changed to
/// SHA-384: the signer still names SHA-256.
fn without_the_signers_digest_in_the_set(home: &Home, signed: &Path) -> PathBuf {
    const SHA256: [u8; 11] = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    let (head, mut der) = take_apart(&std::fs::read(signed).unwrap());
    let at = der[..64]
        .windows(SHA256.len())
        .position(|w| w == SHA256)
        .expect("SHA-256 in the digestAlgorithms set");
    der[at + SHA256.len() - 1] = 0x02;
    home.write("changed-set.eml", &put_together(&head, &der))
}

#[test]
fn a_signer_digest_missing_from_the_set_is_checked_alike_in_memory_and_streaming() {
    let bob = home_with(&["bob"]);
    let tmp = tempfile::tempdir().unwrap();
    for mib in [1, 8] {
        let message = to_bob(mib);
        let expected = body_sha256(&message);
        let signed = signed_by_openssl(&bob, &message, &["-nodetach"]);
        let changed = without_the_signers_digest_in_the_set(&bob, &signed);

        let run = verify(&bob, &changed);
        assert_eq!(run.code, 0, "{mib} MiB: {}", run.stderr);
        assert!(run.stderr.contains("Good signature"), "{}", run.stderr);

        let sealed = encrypted_by_openssl(&bob, &changed, &["-aes-256-gcm"]);
        let run = decrypt(&bob, &[], &sealed, tmp.path());
        assert_eq!(run.code, 0, "{mib} MiB: {}", run.stderr);
        assert!(run.stderr.contains("Good signature"), "{}", run.stderr);
        assert_eq!(run.body_sha256, expected);

        // And the content changed too: the digest computed for the
        // signer's algorithm is checked, not taken for granted.
        flip_middle(&changed);
        let run = verify(&bob, &changed);
        assert_digest_mismatch(&run);
        let sealed = encrypted_by_openssl(&bob, &changed, &["-aes-256-gcm"]);
        let run = decrypt(&bob, &[], &sealed, tmp.path());
        assert_digest_mismatch(&run);
    }
}

#[test]
fn layers_inside_a_large_envelope_open_from_spills() {
    // Signed opaque, signed again as multipart/signed, encrypted; and
    // encrypted twice: every layer is opened from a spill.
    let bob = home_with(&["bob"]);
    let tmp = tempfile::tempdir().unwrap();
    let message = large_message(24, "bob@example.net", Some(MARKER));
    let expected = body_sha256(&message);
    let opaque = signed_by_openssl(&bob, &message, &["-nodetach"]);
    let twice = bob.file("twice.eml");
    std::fs::rename(&opaque, &twice).unwrap();
    let signed = signed_by_openssl(&bob, &std::fs::read(&twice).unwrap(), &[]);
    let sealed = encrypted_by_openssl(&bob, &signed, &["-aes-256-gcm"]);
    let run = decrypt_watched(&bob, &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("Good signature").count(),
        2,
        "{}",
        run.stderr
    );
    assert_bounded(&run);
    assert_eq!(run.body_sha256, expected);

    let plain = bob.write("plain.eml", &message);
    let inner = encrypted_by_openssl(&bob, &plain, &["-aes-256-gcm"]);
    let inner_copy = bob.file("inner.eml");
    std::fs::rename(&inner, &inner_copy).unwrap();
    let sealed = encrypted_by_openssl(&bob, &inner_copy, &["-aes-256-gcm"]);
    let run = decrypt_watched(&bob, &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_bounded(&run);
    assert_eq!(run.body_sha256, expected);
}

/// Runs `gpgsm ARGS -o OUT INPUT`; what it wrote (DER).
fn gpgsm_output(gpgsm: &Gpgsm, args: &[&str], input: &str) -> Vec<u8> {
    let out = gpgsm.home.path().join("out.p7m");
    let _ = std::fs::remove_file(&out);
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", out.to_str().unwrap(), input]);
    let run = gpgsm.run(&all);
    assert_eq!(run.code, 0, "gpgsm {args:?}: {}", run.stderr);
    std::fs::read(&out).unwrap()
}

#[test]
fn a_large_message_signed_then_encrypted_by_gpgsm_opens_from_the_spill() {
    // gpgsm 2.2 signs opaque (indefinite lengths, the content in
    // segments) and encrypts with CBC: the good signature inside
    // authenticates the content, which is released from the spill. Bob
    // signs (gpgsm 2.2 does not read Alice's P-256 key) to himself.
    let bob = home_with(&["bob"]);
    let gpgsm = Gpgsm::new();
    gpgsm.import_secret("bob");
    let message = String::from_utf8(large_message(24, "bob@example.net", Some(MARKER)))
        .unwrap()
        .replacen("From: alice@example.org", "From: bob@example.net", 1)
        .into_bytes();
    let expected = body_sha256(&message);
    let plain = gpgsm.file("plain.eml", &message);
    drop(message);
    let der = gpgsm_output(&gpgsm, &["-u", "bob@example.net", "--sign"], &plain);
    let signed = gpgsm.file(
        "signed.eml",
        &put_together(
            b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            &der,
        ),
    );
    let der = gpgsm_output(&gpgsm, &["-r", "bob@example.net", "--encrypt"], &signed);
    let sealed = bob.write(
        "sealed.eml",
        &put_together(
            b"To: bob@example.net\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            &der,
        ),
    );
    let tmp = tempfile::tempdir().unwrap();

    let run = decrypt_watched(&bob, &sealed, tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Good signature from bob@example.net"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("not integrity-protected"),
        "{}",
        run.stderr
    );
    assert_bounded(&run);
    assert_eq!(run.body_sha256, expected);
}

#[test]
fn a_signature_part_over_1_mib_is_refused_in_memory_as_in_a_stream() {
    let bob = home_with(&["bob"]);
    for mib in [1, 8] {
        let signed = std::fs::read_to_string(signed_by_openssl(&bob, &to_bob(mib), &[])).unwrap();
        let start = signed.find("boundary=\"").unwrap() + "boundary=\"".len();
        let boundary = &signed[start..start + signed[start..].find('"').unwrap()];
        let close = signed.rfind(&format!("--{boundary}--")).unwrap();
        let padding = format!("{}\r\n", "A".repeat(76)).repeat((1 << 20) / 78 + 1);
        let padded = [&signed[..close], &padding, &signed[close..]].concat();
        let input = bob.write("padded.eml", padded.as_bytes());

        let run = verify(&bob, &input);
        assert_ne!(run.code, 0, "{mib} MiB: {}", run.stderr);
        assert!(
            run.stderr.contains("larger than 1 MiB"),
            "{mib} MiB: {}",
            run.stderr
        );
    }
}

/// `message` signed opaque by Alice, then signed again by her around that
/// (opaque with `-nodetach` in `outer`, else multipart/signed); when
/// `flip`, a byte of the inner signed content is changed before the
/// second signature.
fn signed_twice(home: &Home, message: &[u8], outer: &[&str], flip: bool) -> PathBuf {
    let opaque = signed_by_openssl(home, message, &["-nodetach"]);
    if flip {
        flip_middle(&opaque);
    }
    let inner = home.file("inner.eml");
    std::fs::rename(&opaque, &inner).unwrap();
    let twice = signed_by_openssl(home, &std::fs::read(&inner).unwrap(), outer);
    std::fs::remove_file(inner).unwrap();
    twice
}

/// [`verify`] of `input`, watched by [`run_watched`]: it writes nothing.
fn verify_watched(home: &Home, input: &Path, tmpdir: &Path) -> Measured {
    let command = home.command(&["verify", input.to_str().unwrap()]);
    let run = run_watched(command, Stdio::null(), tmpdir);
    assert_eq!(run.stdout_len, 0, "verify wrote content");
    run
}

/// The report lines of a verify run, signing times left out (the small
/// twin was signed at another second).
fn reports(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|line| match line.find(" made ") {
            Some(at) => line[..at].to_string(),
            None => line.to_string(),
        })
        .collect()
}

/// Verifies the small twin (`make(1 MiB message)`) in memory and the large
/// one (`make(mib)`) as a stream: the same exit code and reports; the
/// large run, bounded.
#[track_caller]
fn assert_twins(home: &Home, mib: usize, make: impl Fn(&[u8]) -> PathBuf) -> Measured {
    let tmp = tempfile::tempdir().unwrap();
    let small = make(&large_message(1, "bob@example.net", Some(MARKER)));
    let reference = verify(home, &small);
    let large = make(&large_message(mib, "bob@example.net", Some(MARKER)));
    let run = verify_watched(home, &large, tmp.path());
    std::fs::remove_file(large).unwrap();
    assert_eq!(
        (run.code, reports(&run.stderr)),
        (reference.code, reports(&reference.stderr)),
        "streaming differs from in memory"
    );
    assert_bounded(&run);
    run
}

#[test]
fn a_100_mb_message_signed_twice_verifies_both_layers_in_bounded_memory() {
    // Opaque signed-data inside opaque signed-data, and inside
    // multipart/signed: both signatures good, as in memory.
    let bob = home_with(&["bob"]);
    for outer in [&["-nodetach"][..], &[]] {
        let run = assert_twins(&bob, 100, |m| signed_twice(&bob, m, outer, false));
        assert_eq!(run.code, 0, "{outer:?}: {}", run.stderr);
        assert_eq!(
            run.stderr
                .matches("Good signature from alice@example.org")
                .count(),
            2,
            "{outer:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn changed_content_inside_a_large_message_signed_twice_is_a_bad_signature() {
    // The inner content changed, then signed again around it (a good
    // outer signature, as anyone can make over what they received): the
    // inner signature is still checked, BAD, exit 1.
    let bob = home_with(&["bob"]);
    for outer in [&["-nodetach"][..], &[]] {
        let run = assert_twins(&bob, 24, |m| signed_twice(&bob, m, outer, true));
        assert_digest_mismatch(&run);
        assert_eq!(
            run.stderr.matches("Good signature").count(),
            1,
            "{outer:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn an_envelope_inside_a_large_signed_message_is_opened_as_in_memory() {
    // sign(encrypt(x)), opaque and multipart/signed: Bob, who holds the
    // key, gets the signature and what is inside; Carol, who does not,
    // the error the small twin gives.
    let bob = home_with(&["bob"]);
    let carol = home_with(&["carol"]);
    for outer in [&["-nodetach"][..], &[]] {
        let sign_encrypted = |home: &Home, message: &[u8]| {
            let plain = home.write("plain.eml", message);
            let sealed = encrypted_by_openssl(home, &plain, &["-aes-256-gcm"]);
            std::fs::remove_file(plain).unwrap();
            let inner = home.file("inner.eml");
            std::fs::rename(sealed, &inner).unwrap();
            let signed = signed_by_openssl(home, &std::fs::read(&inner).unwrap(), outer);
            std::fs::remove_file(inner).unwrap();
            signed
        };
        let run = assert_twins(&bob, 24, |m| sign_encrypted(&bob, m));
        assert_eq!(run.code, 0, "{outer:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Good signature from alice@example.org"),
            "{outer:?}: {}",
            run.stderr
        );
        let run = assert_twins(&carol, 24, |m| sign_encrypted(&carol, m));
        assert_ne!(run.code, 0, "{outer:?}: {}", run.stderr);
    }
}

#[test]
fn a_signature_on_one_part_of_a_large_message_is_a_failed_check_as_for_a_small_one() {
    // An attacker who makes the message large must not turn a signature
    // over one part into a passed check.
    let bob = home_with(&["bob"]);
    let signed = signed_by_openssl(
        &bob,
        b"Content-Type: text/plain\r\n\r\nThe signed words.\r\n",
        &[],
    );
    let part = common::crlf(&std::fs::read(signed).unwrap());
    let mut reports = Vec::new();
    for mib in [1, 6] {
        let message = mixed_message(mib, "bob@example.net", None, &part);
        let sealed = sealed_by_openssl(&bob, &message, &["-aes-256-gcm"], false);
        let tmp = tempfile::tempdir().unwrap();
        let run = decrypt(&bob, &[], &sealed, tmp.path());
        assert_eq!(run.code, 1, "{mib} MiB: {}", run.stderr);
        assert!(
            run.stderr
                .contains("only part of this message is signed: the S/MIME part 2 is signed"),
            "{}",
            run.stderr
        );
        assert_eq!(run.body_sha256, body_sha256(&message));
        assert_bounded(&run);
        reports.push(run.stderr);
    }
    assert_eq!(reports[0], reports[1], "small and large are reported alike");
}

#[test]
fn a_deeply_nested_large_message_is_refused_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let message = mixed_message(6, "bob@example.net", None, &nested_multiparts(10_000));
    let sealed = sealed_by_openssl(&bob, &message, &["-aes-256-gcm"], false);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("message.eml");
    let tmp = tempfile::tempdir().unwrap();

    for args in [vec![], vec!["-o", out.to_str().unwrap()]] {
        let run = decrypt(&bob, &args, &sealed, tmp.path());
        assert_eq!(run.code, 65, "{}", run.stderr);
        assert!(run.stderr.contains("levels deep"), "{}", run.stderr);
        assert_eq!(run.stdout_len, 0);
        assert_bounded(&run);
    }
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// `content` made into a CMS object by `openssl cms ARGS -binary -outform
/// DER` (the content taken as it is), the DER under `head` (a header
/// section, with its blank line) as the body, written to `name`.
fn der_message(home: &Home, content: &Path, args: &[&str], head: &str, name: &str) -> PathBuf {
    let der = home.file("object.der");
    let mut all = vec!["-binary", "-outform", "DER"];
    all.extend_from_slice(args);
    openssl_file(&all, content, &der);
    let message = home.file(name);
    let mut out = File::create(&message).unwrap();
    std::io::Write::write_all(&mut out, head.as_bytes()).unwrap();
    std::io::copy(&mut File::open(&der).unwrap(), &mut out).unwrap();
    std::fs::remove_file(der).unwrap();
    message
}

/// The header section of an application/pkcs7-mime message of
/// `smime_type` in the transfer encoding `encoding`.
fn pkcs7_head(smime_type: &str, encoding: &str) -> String {
    format!(
        "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: large\r\nMIME-Version: 1.0\r\n\
         Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
}

/// `message` encrypted to Bob (AES-256-GCM) by openssl, the DER as the
/// body in Content-Transfer-Encoding binary.
fn binary_envelope(home: &Home, message: &[u8]) -> PathBuf {
    let plain = home.write("plain.eml", message);
    let bob = pki().path("bob.pem");
    let head = pkcs7_head("authEnveloped-data", "binary");
    let sealed = der_message(
        home,
        &plain,
        &["-encrypt", "-aes-256-gcm", &bob],
        &head,
        "sealed.eml",
    );
    std::fs::remove_file(plain).unwrap();
    sealed
}

/// Decrypts the small twin (`make(1 MiB message)`) in memory and the large
/// one (`make(mib)`) as a stream: the same exit code and stderr, the
/// content on stdout when it succeeds; the large run, bounded.
#[track_caller]
fn assert_decrypt_twins(home: &Home, mib: usize, make: impl Fn(&[u8]) -> PathBuf) -> Measured {
    let tmp = tempfile::tempdir().unwrap();
    let small = large_message(1, "bob@example.net", Some(MARKER));
    let sealed = make(&small);
    let reference = decrypt(home, &[], &sealed, tmp.path());
    if reference.code == 0 {
        assert_eq!(reference.body_sha256, body_sha256(&small), "in memory");
    }
    let message = large_message(mib, "bob@example.net", Some(MARKER));
    let expected = body_sha256(&message);
    let sealed = make(&message);
    drop(message);
    let run = decrypt_watched(home, &sealed, tmp.path());
    std::fs::remove_file(sealed).unwrap();
    assert_eq!(
        (run.code, reports(&run.stderr)),
        (reference.code, reports(&reference.stderr)),
        "streaming differs from in memory"
    );
    if run.code == 0 {
        assert_eq!(run.body_sha256, expected, "the decrypted body differs");
    }
    assert_bounded(&run);
    run
}

#[test]
fn a_100_mb_envelope_in_binary_transfer_encoding_decrypts_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let run = assert_decrypt_twins(&bob, 100, |m| binary_envelope(&bob, m));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("the message was not signed"),
        "{}",
        run.stderr
    );
}

/// Decrypts `input` to stdout and with `-o`: refused with exit `code` and
/// a message holding `says`; nothing on stdout, no file beside -o, none
/// left in TMPDIR; bounded. Returns the stderr.
#[track_caller]
fn assert_nothing_released(home: &Home, input: &Path, code: i32, says: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let run = decrypt(home, &[], input, tmp.path());
    assert_eq!(run.code, code, "{}", run.stderr);
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert_eq!(run.stdout_len, 0, "plaintext on stdout");
    assert_bounded(&run);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("message.eml");
    let to_file = decrypt(home, &["-o", out.to_str().unwrap()], input, tmp.path());
    assert_eq!(to_file.code, code, "{}", to_file.stderr);
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "a file was left beside -o"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    run.stderr
}

#[test]
fn a_changed_cut_or_undecodable_envelope_in_any_encoding_releases_nothing() {
    let bob = home_with(&["bob"]);
    let mut stderr = Vec::new();
    for mib in [1, 8] {
        let sealed = std::fs::read(binary_envelope(&bob, &to_bob(mib))).unwrap();
        // The last byte of the ciphertext: just before the 16-byte MAC.
        let tail = sealed.len() - 64;
        let mac = tail
            + sealed[tail..]
                .windows(2)
                .rposition(|w| w == [0x04, 0x10])
                .expect("a 16-byte MAC near the end");
        let mut changed = sealed.clone();
        changed[mac - 1] ^= 0x01;
        let changed = bob.write("changed.eml", &changed);
        let cut = bob.write("cut.eml", &sealed[..sealed.len() * 3 / 4]);
        // The same CMS object in base64, with a character that is not.
        let head_end = sealed.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut base64 = pkcs7_head("authEnveloped-data", "base64").into_bytes();
        let mut body = base64::engine::general_purpose::STANDARD
            .encode(&sealed[head_end..])
            .into_bytes();
        let middle = body.len() / 2;
        body[middle] = b'*';
        for line in body.chunks(76) {
            base64.extend_from_slice(line);
            base64.extend_from_slice(b"\r\n");
        }
        let undecodable = bob.write("undecodable.eml", &base64);
        // Cut short: refused alike, in other words (the parsers differ).
        assert_nothing_released(&bob, &cut, 65, "truncated");
        stderr.push([
            assert_nothing_released(&bob, &changed, 65, "no plaintext was released"),
            assert_nothing_released(
                &bob,
                &undecodable,
                65,
                "does not decode as its Content-Transfer-Encoding says",
            ),
        ]);
    }
    assert_eq!(stderr[0], stderr[1], "small and large are refused alike");
}

/// `message` signed by Alice as opaque signed-data by openssl, the DER as
/// the body in Content-Transfer-Encoding binary.
fn binary_signed_data(home: &Home, message: &[u8]) -> PathBuf {
    let pki = pki();
    let plain = home.write("plain.eml", message);
    let (cert, key) = (pki.path("alice.pem"), pki.path("alice.key"));
    let head = pkcs7_head("signed-data", "binary");
    let signed = der_message(
        home,
        &plain,
        &["-sign", "-nodetach", "-signer", &cert, "-inkey", &key],
        &head,
        "signed.eml",
    );
    std::fs::remove_file(plain).unwrap();
    signed
}

#[test]
fn a_100_mb_signed_data_in_binary_transfer_encoding_verifies_in_bounded_memory() {
    let bob = home_with(&["bob"]);
    let run = assert_twins(&bob, 100, |m| binary_signed_data(&bob, m));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Good signature from alice@example.org"),
        "{}",
        run.stderr
    );

    // A byte of the content changed: BAD, as in memory.
    let run = assert_twins(&bob, 24, |m| {
        let signed = binary_signed_data(&bob, m);
        flip_middle(&signed);
        signed
    });
    assert_digest_mismatch(&run);
}

/// Binary data in quoted-printable: every byte that is not printable
/// escaped (line breaks too), soft line breaks every 72 characters.
fn quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let mut width = 0;
    for &byte in data {
        if width >= 72 {
            out.extend_from_slice(b"=\r\n");
            width = 0;
        }
        if (33..=126).contains(&byte) && byte != b'=' {
            out.push(byte);
            width += 1;
        } else {
            out.extend_from_slice(format!("={byte:02X}").as_bytes());
            width += 3;
        }
    }
    out
}

#[test]
fn a_layer_in_quoted_printable_inside_a_large_envelope_opens_as_in_memory() {
    // Opaque signed-data in quoted-printable, encrypted: the inner layer
    // is read from the spill as a stream; changed, it is BAD as in memory.
    let bob = home_with(&["bob"]);
    for flip in [false, true] {
        let run = assert_decrypt_twins(&bob, 24, |m| {
            let signed = binary_signed_data(&bob, m);
            if flip {
                flip_middle(&signed);
            }
            let der = std::fs::read(&signed).unwrap();
            let head_end = der.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let mut inner = pkcs7_head("signed-data", "quoted-printable").into_bytes();
            inner.extend_from_slice(&quoted_printable(&der[head_end..]));
            std::fs::write(&signed, inner).unwrap();
            let sealed = encrypted_by_openssl(&bob, &signed, &["-aes-256-gcm"]);
            std::fs::remove_file(signed).unwrap();
            sealed
        });
        if flip {
            assert_digest_mismatch(&run);
        } else {
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(
                run.stderr.contains("Good signature from alice@example.org"),
                "{}",
                run.stderr
            );
        }
    }
}

/// `message` with its Content-Type made S/MIME multipart/signed without a
/// boundary parameter: it does not split into parts, so it is content,
/// not a layer to remove.
fn signed_without_boundary(message: &[u8]) -> Vec<u8> {
    let text = "Content-Type: text/plain\r\n";
    let at = message
        .windows(text.len())
        .position(|w| w == text.as_bytes())
        .expect("the message has a text/plain Content-Type");
    [
        &message[..at],
        b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256\r\n",
        &message[at + text.len()..],
    ]
    .concat()
}

#[test]
fn multipart_signed_without_a_boundary_is_content_in_bounded_memory() {
    // Inside an envelope and at the top: opened as a small one is, never
    // read whole into memory.
    let bob = home_with(&["bob"]);
    let run = assert_decrypt_twins(&bob, 80, |m| {
        let plain = bob.write("plain.eml", &signed_without_boundary(m));
        let sealed = encrypted_by_openssl(&bob, &plain, &["-aes-256-gcm"]);
        std::fs::remove_file(plain).unwrap();
        sealed
    });
    assert_ne!(run.stderr, "", "the verdict is reported");
    let run = assert_twins(&bob, 80, |m| {
        bob.write("unsplit.eml", &signed_without_boundary(m))
    });
    assert_ne!(run.code, 0, "{}", run.stderr);
}
