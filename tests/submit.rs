//! Submission: `mailseal send`, `mailseal sendmail` and `relay check`
//! against an in-process SMTP server on 127.0.0.1, asserting from the
//! server's own record what the client sent and whether TLS was up.
//!
//! Not tested: a server offering only TLS 1.0/1.1. rustls (client and
//! server) implements only TLS 1.2 and 1.3, so the test server cannot
//! speak the old versions; the client's refusal follows from building its
//! configuration with exactly TLS 1.3 and 1.2.

mod common;
#[path = "common/smtp.rs"]
mod smtp;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{header, key_ids, pkesk_recipients, run_bounded, Home, Run};
use smtp::{CertKind, Mode, Server, PASSWORD};

/// A home whose `[relay.default]` points at `server`.
fn home_for(server: &Server, tls: &str, policy: &str, extra: &str) -> Home {
    let home = Home::new();
    home.write(
        "config.toml",
        server.relay_config(tls, policy, extra).as_bytes(),
    );
    home
}

/// `mailseal --home HOME ARGS` with the relay password in TEST_PW (and
/// the most verbose logging any library might honour).
fn send(home: &Home, args: &[&str], stdin: &[u8]) -> Run {
    let mut command = home.command(args);
    command.env("TEST_PW", PASSWORD).env("RUST_LOG", "trace");
    run_bounded(command, stdin)
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nHi Bob,\r\n.leading dot\r\nbye\r\n";

/// sendmail arguments: DSN requests for a message to Bob.
const CRON_DSN: [&str; 8] = [
    "-N",
    "failure,delay",
    "-R",
    "hdrs",
    "-V",
    "cron+42",
    "-oi",
    "bob@example.net",
];

/// Asserts that `server` got one message to Bob with the DSN requests of
/// [`CRON_DSN`] on MAIL and RCPT.
#[track_caller]
fn assert_cron_dsn(server: &Server) {
    let line = |verb: &str| {
        server
            .events()
            .into_iter()
            .find(|e| e.line.starts_with(verb))
            .unwrap_or_else(|| panic!("no {verb}: {:?}", server.events()))
            .line
    };
    assert!(
        line("MAIL").ends_with(" RET=HDRS ENVID=cron+2B42"),
        "{}",
        line("MAIL")
    );
    assert_eq!(
        line("RCPT"),
        "RCPT TO:<bob@example.net> NOTIFY=FAILURE,DELAY"
    );
    assert_eq!(server.messages().len(), 1);
}

#[track_caller]
fn assert_no_password(run: &Run) {
    assert!(!run.stderr.contains(PASSWORD), "password in stderr");
    assert!(!run.stdout_text().contains(PASSWORD), "password in stdout");
}

#[test]
fn starttls_delivers_with_auth_inside_tls_and_ehlo_again() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["send", "--json"], MESSAGE).ok();
    assert_no_password(&run);

    let events = server.events();
    let starttls = events
        .iter()
        .position(|e| e.line == "STARTTLS")
        .expect("STARTTLS sent");
    assert!(!events[starttls].tls);
    assert!(events[..starttls]
        .iter()
        .all(|e| e.line.starts_with("EHLO")));
    assert!(events[starttls + 1..].iter().all(|e| e.tls), "{events:?}");
    assert!(
        events[starttls + 1].line.starts_with("EHLO"),
        "EHLO again after TLS"
    );
    let auth = events.iter().find(|e| e.line.starts_with("AUTH")).unwrap();
    assert!(auth.tls);

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].from, "alice@example.org");
    assert_eq!(messages[0].to, ["bob@example.net"]);
    assert!(messages[0].data.contains("\r\n.leading dot\r\n"));

    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let transport = &report["transport"];
    assert!(transport["tls_version"]
        .as_str()
        .unwrap()
        .starts_with("TLSv1."));
    assert!(!transport["cipher_suite"].as_str().unwrap().is_empty());
    assert_eq!(transport["server_name_verified"], "localhost");
    assert_eq!(transport["authenticated_as"], "alice");
    assert_eq!(report["recipients"][0]["protection"], "plain");
}

#[test]
fn implicit_tls_from_the_first_byte() {
    let server = Server::start(Mode::Implicit, CertKind::Good, None);
    let home = home_for(&server, "implicit", "plain", "");
    let run = send(&home, &["send"], MESSAGE).ok();
    assert!(run.stderr.contains("TLSv1.3"), "{}", run.stderr);
    assert!(server.events().iter().all(|e| e.tls));
    assert!(server.saw("AUTH PLAIN"));
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn stripped_starttls_sends_nothing() {
    let server = Server::start(Mode::Stripped, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    assert!(run.stderr.contains("STARTTLS"), "{}", run.stderr);
    assert_no_password(&run);
    server.assert_nothing_sent();
}

#[test]
fn starttls_refused_sends_nothing() {
    let server = Server::start(Mode::Refuses, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    assert!(run.stderr.contains("454"), "{}", run.stderr);
    server.assert_nothing_sent();
}

#[test]
fn data_injected_behind_the_starttls_reply_aborts() {
    let server = Server::start(Mode::Inject, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    // Normally caught as injection; if the bytes arrive late they break the
    // handshake instead. Either way nothing is sent.
    assert!(
        run.stderr.contains("injection") || run.stderr.contains("handshake"),
        "{}",
        run.stderr
    );
    server.assert_nothing_sent();
}

#[test]
fn auth_login_inside_tls() {
    let server = Server::start(Mode::LoginOnly, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    send(&home, &["send"], MESSAGE).ok();
    let events = server.events();
    let login = events.iter().position(|e| e.line == "AUTH LOGIN").unwrap();
    assert!(events[login..].iter().all(|e| e.tls));
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn oauth_tokens_from_the_password_source() {
    for mechanism in ["xoauth2", "oauthbearer"] {
        let server = Server::start(Mode::Starttls, CertKind::Good, None);
        let extra = format!("auth = \"{mechanism}\"");
        let home = home_for(&server, "starttls", "plain", &extra);
        send(&home, &["send"], MESSAGE).ok();
        let wanted = format!("AUTH {}", mechanism.to_ascii_uppercase());
        let auth = server
            .events()
            .into_iter()
            .find(|e| e.line.starts_with("AUTH"))
            .unwrap();
        assert!(auth.line.starts_with(&wanted) && auth.tls, "{auth:?}");
        assert_eq!(server.messages().len(), 1);

        // A rejected token: the error challenge is answered, then exit 77.
        let server = Server::start(Mode::Starttls, CertKind::Good, None);
        let home = home_for(&server, "starttls", "plain", &extra);
        let mut command = home.command(&["send"]);
        command.env("TEST_PW", "expired-token-1");
        let run = run_bounded(command, MESSAGE).expect_code(77);
        assert!(
            run.stderr.contains("535 5.7.8 token rejected"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("expired-token-1"));
        assert!(!server.saw("MAIL"));
    }

    // A mechanism the relay does not offer is refused before anything else.
    let server = Server::start(Mode::LoginOnly, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "auth = \"xoauth2\"");
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    assert!(run.stderr.contains("no AUTH XOAUTH2"), "{}", run.stderr);
    assert!(!server.saw("AUTH") && !server.saw("MAIL"));
}

#[test]
fn bad_certificates_are_refused_before_auth() {
    for (kind, mode, tls) in [
        (CertKind::UnknownCa, Mode::Starttls, "starttls"),
        (CertKind::WrongHost, Mode::Starttls, "starttls"),
        (CertKind::Expired, Mode::Starttls, "starttls"),
        (CertKind::UnknownCa, Mode::Implicit, "implicit"),
    ] {
        let server = Server::start(mode, kind, None);
        let home = home_for(&server, tls, "plain", "");
        let run = send(&home, &["send"], MESSAGE).expect_code(77);
        assert!(
            run.stderr.contains("certificate"),
            "{kind:?}: {}",
            run.stderr
        );
        server.assert_nothing_sent();
    }
}

#[test]
fn pin_mismatch_is_refused_and_a_match_works() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let wrong = "pin = \"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"";
    let home = home_for(&server, "starttls", "plain", wrong);
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    assert!(run.stderr.contains("pin"), "{}", run.stderr);
    server.assert_nothing_sent();

    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let right = format!("pin = \"{}\"", server.pin);
    let home = home_for(&server, "starttls", "plain", &right);
    let run = send(&home, &["send"], MESSAGE).ok();
    assert!(run.stderr.contains("pin matched"), "{}", run.stderr);
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn wrong_password_is_refused_without_showing_it() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let mut command = home.command(&["send", "--json"]);
    command.env("TEST_PW", "not-the-Pw-9911");
    let run = run_bounded(command, MESSAGE).expect_code(77);
    assert!(run.stderr.contains("535"), "{}", run.stderr);
    assert!(!run.stderr.contains("not-the-Pw-9911"));
    assert!(!run.stdout_text().contains("not-the-Pw-9911"));
    assert!(!server.saw("MAIL"));
}

#[test]
fn server_replies_map_to_exit_codes_without_retry() {
    for (failure, code, words) in [
        (
            ("RCPT", "451 4.3.0 try again later"),
            75,
            "451 4.3.0 try again later",
        ),
        (
            ("MAIL", "550 5.7.1 sender rejected"),
            69,
            "550 5.7.1 sender rejected",
        ),
        (
            ("DATA_END", "554 5.6.0 message refused"),
            69,
            "554 5.6.0 message refused",
        ),
        (
            ("DATA", "452 4.3.1 out of space"),
            75,
            "452 4.3.1 out of space",
        ),
    ] {
        let server = Server::start(Mode::Starttls, CertKind::Good, Some(failure));
        let home = home_for(&server, "starttls", "plain", "");
        let run = send(&home, &["send"], MESSAGE).expect_code(code);
        assert!(run.stderr.contains(words), "{failure:?}: {}", run.stderr);
        assert_eq!(server.record.lock().unwrap().connections, 1, "no retry");
        assert!(server.messages().is_empty());
        let mails = server
            .events()
            .iter()
            .filter(|e| e.line.starts_with("MAIL"))
            .count();
        assert_eq!(mails, 1, "no second attempt");
    }
}

#[test]
fn size_and_8bitmime_are_declared_and_smtputf8_required() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let message = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: s\r\n\r\nGrüße\r\n";
    send(&home, &["send"], message.as_bytes()).ok();
    let mail = server
        .events()
        .into_iter()
        .find(|e| e.line.starts_with("MAIL"))
        .unwrap();
    assert!(mail.line.contains(" SIZE="), "{}", mail.line);
    assert!(mail.line.contains(" BODY=8BITMIME"), "{}", mail.line);
    assert!(server.messages()[0].data.contains("Grüße"));

    // The test server does not offer SMTPUTF8.
    let message = "From: alice@example.org\r\nTo: jürgen@example.net\r\nSubject: s\r\n\r\nhi\r\n";
    let run = send(&home, &["send"], message.as_bytes()).expect_code(69);
    assert!(run.stderr.contains("SMTPUTF8"), "{}", run.stderr);
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn a_stalled_server_times_out() {
    let server = Server::start(Mode::Stall, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let started = Instant::now();
    let run = send(&home, &["send"], MESSAGE).expect_code(75);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(run.stderr.contains("within 2s"), "{}", run.stderr);
}

#[test]
fn bcc_recipients_get_their_own_copies() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let message = b"From: alice@example.org\r\nTo: bob@example.net\r\nBcc: carol@example.com, dave@example.com\r\nSubject: s\r\n\r\nbody\r\n";
    send(&home, &["send"], message).ok();
    let messages = server.messages();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[0].to, ["bob@example.net"]);
    assert_eq!(messages[1].to, ["carol@example.com"]);
    assert_eq!(messages[2].to, ["dave@example.com"]);
    for m in &messages {
        assert!(!m.data.to_ascii_lowercase().contains("bcc:"), "{}", m.data);
    }
    assert!(!messages[0].data.contains("carol") && !messages[0].data.contains("dave"));
    assert!(!messages[1].data.contains("dave"));
    assert!(!messages[2].data.contains("carol"));
}

#[test]
fn a_failed_bcc_copy_names_the_copies_already_accepted() {
    let failure = ("RCPT TO:<carol@example.com>", "550 5.1.1 no such user");
    let server = Server::start(Mode::Starttls, CertKind::Good, Some(failure));
    let home = home_for(&server, "starttls", "plain", "");
    let message = b"From: alice@example.org\r\nTo: bob@example.net\r\nBcc: carol@example.com\r\nSubject: s\r\n\r\nbody\r\n";
    let run = send(&home, &["send"], message).expect_code(69);
    assert!(
        run.stderr.contains("550 5.1.1 no such user"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("already accepted, do not resend to: bob@example.net"),
        "{}",
        run.stderr
    );
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.record.lock().unwrap().connections, 1);
}

#[test]
fn sendmail_full_name_when_there_is_no_from() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    send(
        &home,
        &[
            "sendmail",
            "-f",
            "alice@example.org",
            "-F",
            "Alice \"A\" Liddell",
            "bob@example.net",
        ],
        b"Subject: s\n\nbody\n",
    )
    .ok();
    let m = &server.messages()[0];
    assert!(
        m.data
            .starts_with("From: \"Alice A Liddell\" <alice@example.org>\r\n"),
        "{}",
        m.data
    );
    assert_eq!(m.to, ["bob@example.net"]);
}

#[test]
fn encrypted_send_opens_for_the_recipient() {
    let (alice, bob) = common::alice_and_bob();
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let config = home_for(&server, "starttls", "require-encryption", "");
    std::fs::copy(config.file("config.toml"), alice.file("config.toml")).unwrap();
    let message = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: secret plans\r\n\r\nmeet at noon\r\n";
    let run = send(&alice, &["send", "--json"], message).ok();
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["recipients"][0]["protection"], "encrypted+signed");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].data.contains("multipart/encrypted"));
    assert!(!messages[0].data.contains("meet at noon"));
    let opened = bob.run(&["decrypt"], messages[0].data.as_bytes()).ok();
    assert!(opened.stdout_text().contains("meet at noon"));
}

#[test]
fn require_encryption_without_a_key_sends_nothing() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "require-encryption", "");
    let run = send(&home, &["send"], MESSAGE).expect_code(67);
    assert!(run.stderr.contains("bob@example.net"), "{}", run.stderr);
    assert_eq!(server.record.lock().unwrap().connections, 0);
}

#[test]
fn sendmail_t_i_and_f() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let message = b"From: alice@example.org\nTo: bob@example.net\nCc: carol@example.com\nSubject: s\n\nline\n.\nafter the dot\n";
    let run = send(
        &home,
        &["sendmail", "-t", "-i", "-f", "bounces@example.org"],
        message,
    )
    .ok();
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "{}",
        run.stderr
    );
    let m = &server.messages()[0];
    assert_eq!(m.from, "bounces@example.org");
    assert_eq!(m.to, ["bob@example.net", "carol@example.com"]);
    assert!(m.data.contains("\r\n.\r\nafter the dot"), "{}", m.data);

    // Without -i a lone dot ends the message; recipients from arguments.
    send(&home, &["sendmail", "--", "dave@example.com"], message).ok();
    let m = &server.messages()[1];
    assert_eq!(m.to, ["dave@example.com"]);
    assert!(!m.data.contains("after the dot"));

    // -oi is -i.
    send(&home, &["sendmail", "-oi", "-t"], message).ok();
    assert!(server.messages()[2].data.contains("after the dot"));

    // What Debian's cron passes.
    send(
        &home,
        &[
            "sendmail",
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "-bm",
            "erin@example.com",
        ],
        message,
    )
    .ok();
    assert_eq!(server.messages()[3].to, ["erin@example.com"]);
    // An unknown mode is refused, naming it.
    let run = send(&home, &["sendmail", "-bx"], message).expect_code(64);
    assert!(run.stderr.contains("-bx"), "{}", run.stderr);

    // No recipients at all is a usage error.
    send(&home, &["sendmail"], message).expect_code(64);
}

#[test]
fn invoked_as_sendmail() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let bin = tempfile::tempdir().unwrap();
    let link = bin.path().join("sendmail");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mailseal"), &link).unwrap();
    let mut command = Command::new(&link);
    command
        .env("MAILSEAL_HOME", home.path())
        .env("TEST_PW", PASSWORD)
        .args(["-t", "-oi", "-f", "alice@example.org"]);
    run_bounded(command, b"To: bob@example.net\nSubject: cron\n\nhi\n").ok();
    let m = &server.messages()[0];
    assert_eq!(m.from, "alice@example.org");
    assert!(
        m.data.starts_with("From: <alice@example.org>\r\n"),
        "{}",
        m.data
    );
}

#[test]
fn passwords_from_env_and_command_never_show() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    for args in [
        &["send", "--json"][..],
        &["send"],
        &["relay", "check"],
        &["relay", "check", "--json"],
    ] {
        let run = send(&home, args, MESSAGE).ok();
        assert_no_password(&run);
    }

    let home = Home::new();
    home.write(
        "config.toml",
        format!(
            "[relay.default]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nusername = \"alice\"\npassword = \"command:printf {PASSWORD}\"\nca_file = \"{}\"\ntimeout_secs = 2\n[policy]\ndefault = \"plain\"\n",
            server.port,
            server.ca_file.display()
        )
        .as_bytes(),
    );
    let run = run_bounded(home.command(&["send", "--json"]), MESSAGE).ok();
    assert_no_password(&run);
    assert_eq!(server.messages().len(), 3);

    // A missing variable is a configuration error naming the variable.
    let run = run_bounded(
        home_for(&server, "starttls", "plain", "").command(&["send"]),
        MESSAGE,
    )
    .expect_code(78);
    assert!(run.stderr.contains("TEST_PW"), "{}", run.stderr);
}

#[test]
fn relay_check_reports_tls_and_login() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["relay", "check", "--json"], b"").ok();
    let t: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        t["auth_mechanisms"],
        serde_json::json!(["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"])
    );
    assert_eq!(t["authenticated_as"], "alice");
    assert_eq!(t["spki_pin"], server.pin.as_str());
    assert_eq!(t["certificate_chain"][0]["subject"], "localhost");
    assert_eq!(t["certificate_chain"][0]["issuer"], "mailseal test CA");
    assert!(t["certificate_chain"][0]["not_after"]
        .as_str()
        .unwrap()
        .ends_with(" UTC"));
    let run = send(&home, &["relay", "check"], b"").ok();
    assert!(run.stdout_text().contains("login:       ok as alice"));
    assert!(!server.saw("MAIL"));
}

#[test]
fn envelope_recipients_not_in_to_or_cc_are_bcc_with_copies_of_their_own() {
    let (alice, bob) = common::alice_and_bob();
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    alice.write(
        "config.toml",
        server
            .relay_config("starttls", "encrypt-if-possible", "")
            .as_bytes(),
    );
    let carol = Home::new();
    carol
        .run(&["key", "generate", "carol@example.com"], b"")
        .ok();
    carol.import_cert("alice");
    let carol_cert = carol
        .run(&["key", "export", "carol@example.com", "--public"], b"")
        .ok()
        .stdout;
    let carol_ids = key_ids(&carol_cert);
    // As mutt and git send-email hand it over: Bcc stripped, every
    // recipient an argument.
    let message = b"From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nSubject: plans\n\nmeet at noon\n";
    let sendmail = [
        "sendmail",
        "-oem",
        "-oi",
        "--",
        "bob@example.net",
        "carol@example.com",
    ];

    // Carol has no key: Bob's copy stays encrypted, Carol gets hers alone.
    send(&alice, &sendmail, message).ok();
    let m = server.messages();
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[0].to, ["bob@example.net"]);
    assert_eq!(m[1].to, ["carol@example.com"]);
    assert!(
        m[0].data.contains("multipart/encrypted"),
        "Bob's copy degraded: {}",
        m[0].data
    );
    assert!(!m[0].data.contains("carol"), "{}", m[0].data);
    let id = header(&m[0].data, "Message-ID").expect("a Message-ID was added");
    assert_eq!(header(&m[1].data, "Message-ID"), Some(id), "one Message-ID");
    assert!(header(&m[0].data, "Date").is_some());

    // Carol has a key: Bob's copy names none of her keys; both can read.
    alice.run(&["cert", "import"], &carol_cert).ok();
    let send_r = ["send", "-r", "bob@example.net", "-r", "carol@example.com"];
    for (n, args) in [&sendmail[..], &send_r[..]].into_iter().enumerate() {
        send(&alice, args, message).ok();
        let m = &server.messages()[2 + 2 * n..];
        assert_eq!(m.len(), 2, "{args:?}: {m:?}");
        assert_eq!(m[0].to, ["bob@example.net"], "{args:?}");
        assert_eq!(m[1].to, ["carol@example.com"], "{args:?}");
        for named in pkesk_recipients(&m[0].data).into_iter().flatten() {
            assert!(
                !carol_ids.contains(&named),
                "{args:?}: Bob's copy names Carol's key {named}"
            );
        }
        assert!(!m[0].data.contains("carol"), "{}", m[0].data);
        for (reader, copy) in [(&bob, &m[0]), (&carol, &m[1])] {
            let clear = reader.run(&["decrypt"], copy.data.as_bytes()).ok();
            let clear = clear.stdout_text();
            assert!(clear.contains("meet at noon"), "{args:?}: {clear}");
            assert!(!clear.contains("carol"), "{args:?}: {clear}");
        }
    }
}

#[test]
fn a_refused_recipient_does_not_stop_the_others() {
    let failure = ("RCPT TO:<carol@example.com>", "550 5.1.1 no such user");
    let server = Server::start(Mode::Starttls, CertKind::Good, Some(failure));
    let home = home_for(&server, "starttls", "plain", "");
    let message = b"From: alice@example.org\r\nTo: bob@example.net, carol@example.com, dave@example.com\r\nSubject: s\r\n\r\nbody\r\n";
    for args in [&["send"][..], &["sendmail", "-t"]] {
        let run = send(&home, args, message).expect_code(69);
        assert!(
            run.stderr.contains(
                "carol@example.com: not accepted: RCPT TO:<carol@example.com>: the relay answered 550 5.1.1 no such user"
            ),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(
                "1 of 3 recipients not accepted: carol@example.com (already accepted, do not resend to: bob@example.net, dave@example.com)"
            ),
            "{}",
            run.stderr
        );
    }
    let m = server.messages();
    assert_eq!(m.len(), 2);
    for m in &m {
        assert_eq!(m.to, ["bob@example.net", "dave@example.com"]);
    }
    let run = send(&home, &["send", "--json"], message).expect_code(69);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["rejected"][0]["recipient"], "carol@example.com");
    assert_eq!(report["rejected"][0]["permanent"], true);
    assert_eq!(report["recipients"].as_array().unwrap().len(), 2);

    // Only temporary refusals: 75.
    let failure = ("RCPT TO:<carol@example.com>", "450 4.2.1 mailbox busy");
    let server = Server::start(Mode::Starttls, CertKind::Good, Some(failure));
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["sendmail", "-t"], message).expect_code(75);
    assert!(
        run.stderr.contains("450 4.2.1 mailbox busy"),
        "{}",
        run.stderr
    );
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn sendmail_dsn_requests_reach_a_relay_that_offers_dsn() {
    let mut args = vec!["sendmail"];
    args.extend_from_slice(&CRON_DSN);
    let server = Server::start(Mode::Dsn, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    send(&home, &args, MESSAGE).ok();
    assert_cron_dsn(&server);

    // A relay without DSN gets none of it (it would refuse the message).
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    send(&home, &args, MESSAGE).ok();
    for e in server.events() {
        for param in ["NOTIFY=", "RET=", "ENVID="] {
            assert!(!e.line.contains(param), "{}", e.line);
        }
    }
    assert_eq!(server.messages().len(), 1);

    let run = send(
        &home,
        &["sendmail", "-N", "sometimes", "bob@example.net"],
        MESSAGE,
    )
    .expect_code(64);
    assert!(run.stderr.contains("-N sometimes"), "{}", run.stderr);
}

#[test]
fn verbose_shows_the_dialogue_with_auth_redacted() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for (mode, auth_lines) in [
        (Mode::Starttls, &["> AUTH PLAIN [redacted]"][..]),
        (
            Mode::LoginOnly,
            &["> AUTH LOGIN", "> [redacted]", "> [redacted]"][..],
        ),
    ] {
        let server = Server::start(mode, CertKind::Good, None);
        let home = home_for(&server, "starttls", "plain", "");
        for args in [
            &["send", "-v"][..],
            &["sendmail", "-v", "-t"],
            &["relay", "check", "-v"],
        ] {
            let run = send(&home, args, MESSAGE).ok();
            assert_no_password(&run);
            let err = &run.stderr;
            for secret in [
                b64(PASSWORD),
                b64(&format!("\0alice\0{PASSWORD}")),
                b64("alice"),
            ] {
                assert!(!err.contains(&secret), "{args:?}: {err}");
            }
            for wanted in [
                "> EHLO localhost",
                "< 220 ",
                "> STARTTLS",
                "* TLS TLSv1.",
                "< 235 2.7.0 ",
            ] {
                assert!(
                    err.contains(wanted),
                    "{args:?} {mode:?}: no {wanted:?} in\n{err}"
                );
            }
            let auth: Vec<&str> = err
                .lines()
                .filter(|l| l.starts_with("> AUTH") || l.starts_with("> [redacted]"))
                .collect();
            assert_eq!(auth, auth_lines, "{args:?}: {err}");
        }
    }
    // Without -v, sendmail says nothing.
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["sendmail", "-t"], MESSAGE).ok();
    assert!(
        run.stderr.is_empty() && run.stdout.is_empty(),
        "{}",
        run.stderr
    );
}

#[test]
fn sendmail_is_silent_and_discovery_notes_need_v() {
    // A keyserver that accepts connections and closes them: discovery for
    // Bob fails, which makes a note.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let keyserver = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            drop(stream);
        }
    });
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = Home::new();
    home.write(
        "config.toml",
        format!(
            "{}\n[discovery]\nmethods = [\"keyserver\"]\nkeyservers = [\"hkps://keys.example.net\"]\ntimeout_secs = 2\n[network]\nresolve = {{ \"keys.example.net:443\" = \"{keyserver}\" }}\n",
            server.relay_config("starttls", "encrypt-if-possible", "")
        )
        .as_bytes(),
    );
    let run = send(&home, &["sendmail", "-v", "-t"], MESSAGE).ok();
    assert!(
        run.stderr.contains("discovery for bob@example.net"),
        "{}",
        run.stderr
    );
    // -v also names what the copy got, in status's words.
    assert!(
        run.stderr
            .contains("mailseal: bob@example.net: transport only\n"),
        "{}",
        run.stderr
    );
    let run = send(&home, &["sendmail", "-t"], MESSAGE).ok();
    assert!(
        run.stderr.is_empty() && run.stdout.is_empty(),
        "{}",
        run.stderr
    );
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn tls_and_login_errors_say_what_to_do() {
    // A self-signed certificate that is a CA (openssl req -x509's default).
    let server = Server::start(Mode::Starttls, CertKind::SelfSigned, None);
    let home = home_for(&server, "starttls", "plain", "");
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    assert!(!run.stderr.contains("CaUsedAsEndEntity"), "{}", run.stderr);
    for words in ["CA:TRUE", "basicConstraints=critical,CA:FALSE", "ca_file"] {
        assert!(run.stderr.contains(words), "{words}: {}", run.stderr);
    }
    server.assert_nothing_sent();

    for (kind, words) in [
        (CertKind::UnknownCa, "ca_file in [relay.default]"),
        (CertKind::Expired, "its certificate has expired"),
        (
            CertKind::WrongHost,
            "not for this host name (it names mail.other.example); set host in [relay.default]",
        ),
    ] {
        let server = Server::start(Mode::Starttls, kind, None);
        let home = home_for(&server, "starttls", "plain", "");
        let run = send(&home, &["send"], MESSAGE).expect_code(77);
        assert!(run.stderr.contains(words), "{kind:?}: {}", run.stderr);
        assert!(!run.stderr.contains("Error"), "{kind:?}: {}", run.stderr);
    }

    // The login hint names the relay that refused.
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = Home::new();
    let config = server
        .relay_config("starttls", "plain", "")
        .replace("[relay.default]", "[relay.work]");
    home.write("config.toml", config.as_bytes());
    let mut command = home.command(&["send", "--relay", "work"]);
    command.env("TEST_PW", "not-the-Pw-9911");
    let run = run_bounded(command, MESSAGE).expect_code(77);
    assert!(
        run.stderr.contains("`mailseal secret set work`") && !run.stderr.contains("RELAY"),
        "{}",
        run.stderr
    );

    // The exit codes a sendmail caller sees are listed.
    let mut command = common::mailseal();
    command.arg("--help");
    let help = run_bounded(command, b"").ok().stdout_text();
    for code in ["69 not accepted", "75 temporary failure"] {
        assert!(help.contains(code), "{help}");
    }
}

#[test]
fn empty_input_says_so() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    for args in [
        &["send"][..],
        &["sendmail", "bob@example.net"],
        &["sendmail", "-t"],
    ] {
        for input in [&b""[..], b"\n\n"] {
            let run = send(&home, args, input).expect_code(65);
            assert!(
                run.stderr.contains("empty input"),
                "{args:?}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(server.record.lock().unwrap().connections, 0);
}

#[test]
fn sendmail_flags_are_accepted_or_refused_by_name() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let accepted: [&[&str]; 8] = [
        &["-oem"],
        &["-oee"],
        &["-odi"],
        &["-odb"],
        &["-om"],
        &["-B", "8BITMIME"],
        &["-B7BIT"],
        &["-r", "alice@example.org"],
    ];
    for flags in accepted {
        let mut args = vec!["sendmail"];
        args.extend_from_slice(flags);
        args.push("bob@example.net");
        send(&home, &args, MESSAGE).ok();
    }
    assert_eq!(server.messages().len(), accepted.len());
    for flag in ["-x", "-oQ", "-BBINARYMIME", "-bd"] {
        let run = send(&home, &["sendmail", flag, "bob@example.net"], MESSAGE).expect_code(64);
        assert!(run.stderr.contains(flag), "{flag}: {}", run.stderr);
    }
    assert_eq!(server.messages().len(), accepted.len());
}

#[test]
fn sendmail_queue_then_list_and_flush() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "[sendmail]\nqueue = true\n");
    let run = send(&home, &["sendmail", "-t"], MESSAGE).ok();
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "{}",
        run.stderr
    );
    assert_eq!(
        server.record.lock().unwrap().connections,
        0,
        "queued, not sent"
    );

    let listed = send(&home, &["sendmail", "-bp"], b"").ok();
    assert!(
        listed.stdout_text().contains("bob@example.net"),
        "{}",
        listed.stdout_text()
    );
    let bin = tempfile::tempdir().unwrap();
    let mailq = bin.path().join("mailq");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mailseal"), &mailq).unwrap();
    let mut command = Command::new(&mailq);
    command.env("MAILSEAL_HOME", home.path());
    let listed = run_bounded(command, b"").ok();
    assert!(
        listed.stdout_text().contains("bob@example.net"),
        "{}",
        listed.stdout_text()
    );

    // -q is sendmail's queue run here, not --quiet.
    send(&home, &["sendmail", "-q"], b"").ok();
    let m = server.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].to, ["bob@example.net"]);
    let listed = send(&home, &["sendmail", "-bp"], b"").ok();
    assert!(!listed.stdout_text().contains("bob@example.net"));
}

#[test]
fn sendmail_queue_keeps_dsn_requests_and_the_named_relay() {
    let default = Server::start(Mode::Starttls, CertKind::Good, None);
    let work = Server::start(Mode::Dsn, CertKind::Good, None);
    let work_relay = format!(
        "[relay.work]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nusername = \"alice\"\npassword = \"env:TEST_PW\"\nca_file = \"{}\"\ntimeout_secs = 2\n",
        work.port,
        work.ca_file.display()
    );
    let extra = format!("[sendmail]\nqueue = true\n{work_relay}");
    let home = home_for(&default, "starttls", "plain", &extra);
    let mut args = vec!["sendmail", "--relay", "work"];
    args.extend_from_slice(&CRON_DSN);
    send(&home, &args, MESSAGE).ok();
    assert_eq!(
        work.record.lock().unwrap().connections,
        0,
        "queued, not sent"
    );

    // A relay that does not exist is refused now, not at every attempt.
    let run = send(
        &home,
        &["sendmail", "--relay", "nosuch", "bob@example.net"],
        MESSAGE,
    )
    .expect_code(78);
    assert!(run.stderr.contains("[relay.nosuch]"), "{}", run.stderr);

    send(&home, &["sendmail", "-q"], b"").ok();
    assert_eq!(
        default.record.lock().unwrap().connections,
        0,
        "{:?}",
        default.events()
    );
    assert_cron_dsn(&work);
    let listed = send(&home, &["sendmail", "-bp"], b"").ok();
    assert!(
        !listed.stdout_text().contains("bob@example.net"),
        "{}",
        listed.stdout_text()
    );
}

/// `send` does not check the recipient domain's inbound transport, so a
/// `require_inbound` makes it require encryption: no key, nothing sent.
#[test]
fn send_fails_closed_when_require_inbound_cannot_be_checked() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = Home::new();
    // No DNS server answers (nothing listens on 127.0.0.1:9): the inbound
    // check cannot run, so the copy without a key is not sent.
    let config = server.relay_config("starttls", "plain", "")
        + "[policy.recipients]\n\"@example.net\" = { require_inbound = \"mta-sts\" }\n[discovery]\nmethods = [\"store\"]\ntimeout_secs = 1\n[network]\nnameservers = [\"127.0.0.1:9\"]\n";
    home.write("config.toml", config.as_bytes());
    let run = send(&home, &["send"], MESSAGE).expect_code(77);
    assert!(
        run.stderr.contains("not sending to bob@example.net without end-to-end encryption: there is no usable key, and require_inbound = \"mta-sts\" is not met: inbound mail to example.net not checked"),
        "{}",
        run.stderr
    );
    server.assert_nothing_sent();
    // Other domains keep their plain policy.
    let to_carol = String::from_utf8_lossy(MESSAGE).replace("bob@example.net", "carol@example.org");
    send(&home, &["send"], to_carol.as_bytes()).ok();
    assert_eq!(server.messages().len(), 1);
}

/// `mailseal status bob@example.net`: the hop-1 line, and its JSON.
fn hop1(home: &Home) -> (String, serde_json::Value) {
    let text = send(home, &["status", "bob@example.net"], b"").ok();
    let line = text
        .stdout_text()
        .lines()
        .find(|l| l.starts_with("hop 1: "))
        .unwrap_or_else(|| panic!("no hop-1 line: {}", text.stdout_text()))
        .to_string();
    let json = send(home, &["--json", "status", "bob@example.net"], b"").ok();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    (line, json[0]["hop1"].clone())
}

#[test]
fn status_shows_hop_1_of_the_last_delivery_through_the_relay() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let (line, json) = hop1(&home);
    assert_eq!(line, "hop 1: relay default: not used yet");
    assert_eq!(json["relay"], "default", "{json}");
    assert_eq!(json["configured"], true);
    assert_eq!(json["last"], serde_json::Value::Null);

    send(&home, &["send"], MESSAGE).ok();
    let (line, json) = hop1(&home);
    let prefix = format!(
        "hop 1: relay default (localhost:{}, STARTTLS): TLSv1.3 TLS13_",
        server.port
    );
    assert!(line.starts_with(&prefix), "{line}");
    assert!(
        line.contains(", certificate verified for localhost, last used 20"),
        "{line}"
    );
    let last = &json["last"];
    assert_eq!(last["host"], "localhost", "{json}");
    assert_eq!(last["port"], server.port);
    assert_eq!(last["mode"], "starttls");
    assert_eq!(last["tls_version"], "TLSv1.3");
    assert!(last["cipher_suite"].as_str().unwrap().starts_with("TLS13_"));
    assert_eq!(last["server_name_verified"], "localhost");
    assert!(
        line.ends_with(last["last_used"].as_str().unwrap()),
        "{line}"
    );

    // Private, like the rest of the home's state.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.file("relay-hops.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_failed_delivery_is_not_remembered_as_hop_1() {
    let server = Server::start(Mode::Refuses, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    send(&home, &["send"], MESSAGE).expect_code(77);
    let server = Server::start(
        Mode::Starttls,
        CertKind::Good,
        Some(("MAIL", "550 5.7.1 no")),
    );
    let home2 = home_for(&server, "starttls", "plain", "");
    send(&home2, &["send"], MESSAGE).expect_code(69);
    for home in [&home, &home2] {
        let (line, json) = hop1(home);
        assert_eq!(line, "hop 1: relay default: not used yet");
        assert_eq!(json["last"], serde_json::Value::Null);
        assert!(!home.file("relay-hops.json").exists());
    }
}

#[test]
fn relay_check_remembers_hop_1() {
    let server = Server::start(Mode::Implicit, CertKind::Good, None);
    let home = home_for(&server, "implicit", "plain", "");
    send(&home, &["relay", "check"], b"").ok();
    let (line, json) = hop1(&home);
    assert!(
        line.starts_with(&format!(
            "hop 1: relay default (localhost:{}, implicit TLS): TLSv1.3 ",
            server.port
        )),
        "{line}"
    );
    assert_eq!(json["last"]["mode"], "implicit", "{json}");
}

#[test]
fn a_queue_run_remembers_hop_1() {
    // Queued, then delivered by `queue flush` (the agent's worker).
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "[sendmail]\nqueue = true\n");
    send(&home, &["sendmail", "-t"], MESSAGE).ok();
    assert_eq!(hop1(&home).0, "hop 1: relay default: not used yet");
    send(&home, &["queue", "flush"], b"").ok();
    assert_eq!(server.messages().len(), 1);
    let (line, json) = hop1(&home);
    assert!(
        line.starts_with(&format!(
            "hop 1: relay default (localhost:{}, STARTTLS): TLSv1.3 ",
            server.port
        )),
        "{line}"
    );
    assert_eq!(json["last"]["server_name_verified"], "localhost", "{json}");
}

#[test]
fn a_large_message_is_sent_in_bounded_memory() {
    // `send` reads the message from its file and seals each copy into a
    // temporary file that the SMTP client reads piece by piece: its peak
    // memory for a 6 MiB message stays near that for a small one. (Holding
    // the message, its copy and the transaction's clone, as before, took
    // three times the message's size more.) The copy goes out as it is
    // (policy plain), so that what is measured is `send`'s own handling,
    // not the fixed buffers of the encryption pipeline.
    use common::measure::{body_sha256, large_message, run_measured};
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = home_for(&server, "starttls", "plain", "");
    let peak = |message: &[u8]| {
        let path = home.write("message.eml", message);
        let mut command = home.command(&["send", path.to_str().unwrap()]);
        command.env("TEST_PW", PASSWORD);
        let run = run_measured(command, std::process::Stdio::null(), |_| {});
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.peak_kib
    };
    let small = peak(MESSAGE);
    let large = large_message(6, "bob@example.net", None);
    let grown = peak(&large).saturating_sub(small);
    assert!(
        grown < 3 * 1024,
        "sending a 6 MiB message took {grown} KiB more at its peak than a small one"
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        body_sha256(messages[1].data.as_bytes()),
        body_sha256(&large),
        "the message arrived changed"
    );
}
