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

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Home, Run};
use smtp::{CertKind, Mode, Server, PASSWORD};

/// Every command run here must finish within this.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs `command` with `stdin`, killing it after [`LIMIT`].
fn run_bounded(mut command: Command, stdin: &[u8]) -> Run {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("mailseal ran longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// A home whose `[relay.default]` points at `server`.
fn home_for(server: &Server, tls: &str, policy: &str, extra: &str) -> Home {
    let home = Home::new();
    home.write(
        "config.toml",
        format!(
            "[relay.default]\nhost = \"localhost\"\nport = {}\ntls = \"{tls}\"\nusername = \"alice\"\npassword = \"env:TEST_PW\"\nca_file = \"{}\"\ntimeout_secs = 2\n{extra}\n[policy]\ndefault = \"{policy}\"\n",
            server.port,
            server.ca_file.display()
        )
        .as_bytes(),
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
    send(&home, &["sendmail", "-bs"], message).expect_code(64);

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
