//! Inputs the fuzz targets (fuzz/, README "Fuzzing") found crashing, each
//! replayed through the command a user would run. The inputs live in the
//! fuzz corpus, so the fuzzers keep exercising them too.

mod common;

use common::*;

/// A fuzz corpus file.
fn corpus(target: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Found by `openpgp`: a PGP/MIME message whose PKESK opens with Alice's
/// key but whose SEIPDv1 packet is cut short (fewer bytes than the cipher
/// block, its 2-byte quick check and an MDC). sequoia-openpgp 2.4.2 panics
/// on it (parse.rs:6367, `data_consume_hard(bl + 2).unwrap()`), so
/// `decrypt` died with a panic instead of reporting damaged data.
#[test]
fn truncated_encrypted_data_is_an_error_not_a_panic() {
    let home = Home::new();
    home.import_key("alice");
    let run = home.run(
        &["decrypt"],
        &corpus("openpgp", "crash-truncated-seipd-panic"),
    );
    assert!(
        !run.stderr.contains("panicked"),
        "decrypt panicked:\n{}",
        run.stderr
    );
    let run = run.expect_code(65);
    assert!(run.stdout.is_empty(), "no plaintext may be released");
}
