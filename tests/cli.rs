//! The command line contract: completions kept fresh, usage errors,
//! listing, exporting and removing, the README demo.

mod common;

use common::*;

#[test]
fn committed_completions_are_fresh() {
    let home = Home::new();
    for (shell, file) in [
        ("bash", "mailseal.bash"),
        ("zsh", "_mailseal"),
        ("fish", "mailseal.fish"),
    ] {
        let generated = home.run(&["completions", shell], b"").ok().stdout;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(file);
        if std::env::var_os("MAILSEAL_UPDATE_COMPLETIONS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "completions/{file} is stale: run `MAILSEAL_UPDATE_COMPLETIONS=1 cargo test --test cli` and commit it"
        );
    }
}

#[test]
fn committed_manual_pages_are_fresh() {
    let home = Home::new();
    let generated = tempfile::tempdir().unwrap();
    home.run(&["man", generated.path().to_str().unwrap()], b"")
        .ok();
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    if std::env::var_os("MAILSEAL_UPDATE_COMPLETIONS").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        std::fs::create_dir_all(&committed).unwrap();
        for entry in std::fs::read_dir(generated.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), committed.join(entry.file_name())).unwrap();
        }
    }
    let names = |dir: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        names(&committed),
        names(generated.path()),
        "man/ is stale: run `MAILSEAL_UPDATE_COMPLETIONS=1 cargo test --test cli` and commit it"
    );
    for name in names(generated.path()) {
        assert!(
            std::fs::read(committed.join(&name)).unwrap() == std::fs::read(generated.path().join(&name)).unwrap(),
            "man/{name:?} is stale: run `MAILSEAL_UPDATE_COMPLETIONS=1 cargo test --test cli` and commit it"
        );
    }
    let config = std::fs::read_to_string(generated.path().join("mailseal-config.5")).unwrap();
    assert!(config.starts_with(".TH MAILSEAL-CONFIG 5"), "{config}");
    assert!(
        config.contains(".SH [POLICY]: WHAT PROTECTION MESSAGES GET\n"),
        "{config}"
    );
    assert!(
        config.contains(".TP\n\\fBencrypt_to_self\\fR\n"),
        "{config}"
    );
    assert!(
        !config.contains("| key |") && !config.contains("\\-\\-\\-"),
        "{config}"
    );
    for page in [
        "mailseal.1",
        "mailseal-encrypt.1",
        "mailseal-key-generate.1",
        "mailseal-sendmail.1",
    ] {
        assert!(generated.path().join(page).exists(), "{page} missing");
    }
}

#[test]
fn unknown_option_is_a_usage_error() {
    Home::new()
        .run(&["encrypt", "--frobnicate"], b"")
        .expect_code(64);
}

#[test]
fn message_without_recipients_is_a_usage_error() {
    let home = Home::new();
    let run = home
        .run(&["encrypt"], b"From: a@example.org\nSubject: x\n\nbody\n")
        .expect_code(64);
    assert!(run.stderr.contains("-r ADDR"), "{}", run.stderr);
}

#[test]
fn missing_input_file() {
    Home::new()
        .run(&["encrypt", "/nonexistent/message.eml"], b"")
        .expect_code(66);
}

#[test]
fn keys_and_certs_list_export_and_remove() {
    let (alice, _) = alice_and_bob();
    let keys: serde_json::Value =
        serde_json::from_slice(&alice.run(&["key", "list", "--json"], b"").ok().stdout).unwrap();
    assert_eq!(keys[0]["secret"], true);
    assert!(keys[0]["user_ids"][0]
        .as_str()
        .unwrap()
        .contains("alice@example.org"));

    let certs: serde_json::Value =
        serde_json::from_slice(&alice.run(&["--json", "cert", "list"], b"").ok().stdout).unwrap();
    assert_eq!(certs.as_array().unwrap().len(), 1);
    assert_eq!(certs[0]["status"], "valid");
    assert_eq!(certs[0]["secret"], false);

    let exported = alice
        .run(&["cert", "export", "bob@example.net"], b"")
        .ok()
        .stdout_text();
    assert!(exported.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    let secret = alice
        .run(&["key", "export", "alice@example.org"], b"")
        .ok()
        .stdout_text();
    assert!(secret.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));

    // Re-importing is recognised as unchanged.
    let again = alice
        .run(&["--json", "cert", "import"], exported.as_bytes())
        .ok();
    assert!(
        again.stdout_text().contains("unchanged"),
        "{}",
        again.stdout_text()
    );

    let fpr = certs[0]["fingerprint"].as_str().unwrap();
    alice.run(&["cert", "remove", fpr], b"").ok();
    alice
        .run(&["cert", "export", "bob@example.net"], b"")
        .expect_code(66);
    let run = alice.run(
        &["encrypt", "-r", "bob@example.net"],
        &std::fs::read(testdata("messages/hello.eml")).unwrap(),
    );
    run.expect_code(67);
}

#[test]
fn many_certificates_are_found_through_the_index() {
    let home = Home::new();
    let mut bundle = Vec::new();
    for i in 0..40 {
        let (cert, _) = sequoia_openpgp::cert::CertBuilder::general_purpose(Some(format!(
            "<user{i}@example.org>"
        )))
        .generate()
        .unwrap();
        sequoia_openpgp::serialize::Serialize::serialize(&cert, &mut bundle).unwrap();
    }
    home.run(&["cert", "import"], &bundle).ok();
    // A stale index (another tool changed the directory) is rebuilt.
    std::fs::remove_file(home.path().join("cert-index")).unwrap();
    let message =
        b"From: me@example.org\nTo: user17@example.org, user33@example.org\nSubject: s\n\nhi\n";
    let run = home.run(&["encrypt"], message).ok();
    assert!(
        run.stderr.contains("encrypted to 2 recipient(s)"),
        "{}",
        run.stderr
    );
}

#[test]
fn readme_demo_encrypts_to_the_shipped_certificate() {
    let demo = testdata("demo-home");
    let output = mailseal()
        .args(["--home", demo.to_str().unwrap(), "encrypt"])
        .arg(testdata("messages/hello.eml"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("multipart/encrypted"));
    assert!(text.contains("Subject: [...]"));
}

#[test]
fn secret_material_is_private_at_rest() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    home.run(&["key", "generate", "me@example.org"], b"").ok();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = home.path().join("keys/openpgp");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&home.path().join("keys")), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);
    // A world-readable passphrase file is refused too.
    let pass = home.write("pass", b"secret\n");
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    home.run(
        &[
            "--passphrase-file",
            pass.to_str().unwrap(),
            "key",
            "generate",
            "you@example.org",
        ],
        b"",
    )
    .expect_code(77);
}

#[test]
fn pgp_cert_d_is_shared_with_other_tools() {
    let home = Home::new();
    let shared = tempfile::tempdir().unwrap();
    let mut import = home.command(&["cert", "import"]);
    import.env("PGP_CERT_D", shared.path());
    let output = import
        .stdin(std::process::Stdio::from(
            std::fs::File::open(testdata("keys/bob.pub.asc")).unwrap(),
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stored: Vec<_> = walk(shared.path());
    assert_eq!(
        stored.len(),
        1,
        "one certificate file in $PGP_CERT_D: {stored:?}"
    );
    assert!(
        !home.path().join("certs").exists(),
        "the home's own store was used"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.file_name().is_some_and(|n| n.len() >= 38) {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_sender_can_read_her_own_sent_copy() {
    let (alice, _) = alice_and_bob();
    let hello = std::fs::read(testdata("messages/hello.eml")).unwrap();
    let sealed = alice.run(&["encrypt"], &hello).ok().stdout;
    let opened = alice.run(&["decrypt"], &sealed).ok().stdout_text();
    assert!(opened.contains("Subject: Hello from mailseal"));

    alice.write("config.toml", b"[policy]\nencrypt_to_self = false\n");
    let sealed = alice.run(&["encrypt"], &hello).ok().stdout;
    alice.run(&["decrypt"], &sealed).expect_code(67);
}
