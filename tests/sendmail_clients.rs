//! `mailseal sendmail` as the programs that call sendmail use it: mutt in
//! batch mode, git send-email with --sendmail-cmd, cron's exact call,
//! Symfony's `sendmail -bs`, and a sendmail call while `mailseal agent`
//! runs. Each asserts on the receiving SMTP server (tests/common/smtp.rs):
//! who got which copy, that a visible copy names no key of a Bcc recipient
//! (the PKESK packets are parsed), and that Date and Message-ID are there.

#[path = "common/agent_client.rs"]
mod client;
mod common;
#[path = "common/agent.rs"]
mod helpers;
#[path = "common/smtp.rs"]
mod smtp;

use std::process::Command;
use std::time::Duration;

use common::{header, key_ids, pkesk_recipients, run_bounded, Home};
use smtp::{CertKind, Mode, Received, Server, PASSWORD};

/// Alice's home (her key; Bob's and Carol's certificates) submitting to
/// `server` under encrypt-if-possible, with `extra` appended to the
/// configuration; Bob's and Carol's homes, and Carol's key IDs.
struct People {
    alice: Home,
    bob: Home,
    carol: Home,
    carol_ids: Vec<String>,
}

fn people(server: &Server, extra: &str) -> People {
    let (alice, bob) = common::alice_and_bob();
    let carol = Home::new();
    carol
        .run(&["key", "generate", "carol@example.com"], b"")
        .ok();
    carol.import_cert("alice");
    let cert = carol
        .run(&["key", "export", "carol@example.com", "--public"], b"")
        .ok()
        .stdout;
    alice.run(&["cert", "import"], &cert).ok();
    let config = server.relay_config("starttls", "encrypt-if-possible", "") + extra;
    alice.write("config.toml", config.as_bytes());
    People {
        alice,
        bob,
        carol,
        carol_ids: key_ids(&cert),
    }
}

/// The shell words that run `mailseal --home HOME sendmail`.
fn sendmail_command(home: &Home) -> String {
    format!(
        "{} --home {} sendmail",
        env!("CARGO_BIN_EXE_mailseal"),
        home.path().display()
    )
}

/// Checks what mutt and git send-email produce: one encrypted copy for
/// Bob naming none of Carol's keys, one for Carol alone, sharing one
/// Message-ID, each readable by its recipient.
#[track_caller]
fn assert_bob_and_bcc_carol(p: &People, messages: &[Received], body: &str) {
    assert_eq!(messages.len(), 2, "{messages:?}");
    let (bob, carol) = (&messages[0], &messages[1]);
    assert_eq!(bob.to, ["bob@example.net"]);
    assert_eq!(carol.to, ["carol@example.com"]);
    assert_eq!(bob.from, "alice@example.org");
    assert!(bob.data.contains("multipart/encrypted"), "{}", bob.data);
    for named in pkesk_recipients(&bob.data).into_iter().flatten() {
        assert!(
            !p.carol_ids.contains(&named),
            "Bob's copy names Carol's key {named}"
        );
    }
    assert!(
        !bob.data.to_ascii_lowercase().contains("carol"),
        "{}",
        bob.data
    );
    let id = header(&bob.data, "Message-ID").expect("Message-ID");
    assert_eq!(header(&carol.data, "Message-ID"), Some(id));
    assert!(header(&bob.data, "Date").is_some());
    for (reader, copy) in [(&p.bob, bob), (&p.carol, carol)] {
        let clear = reader.run(&["decrypt"], copy.data.as_bytes()).ok();
        let clear = clear.stdout_text();
        assert!(clear.contains(body), "{clear}");
        assert!(!clear.to_ascii_lowercase().contains("bcc"), "{clear}");
    }
    let bob_clear = p
        .bob
        .run(&["decrypt"], bob.data.as_bytes())
        .ok()
        .stdout_text();
    assert!(!bob_clear.contains("carol"), "{bob_clear}");
}

#[test]
fn mutt_batch_mode_with_bcc() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let p = people(&server, "");
    let dir = tempfile::tempdir().unwrap();
    let muttrc = dir.path().join("muttrc");
    std::fs::write(
        &muttrc,
        format!(
            "set sendmail=\"{}\"\nset from=\"Alice <alice@example.org>\"\nset use_envelope_from=yes\nset hostname=example.org\nset record=\"\"\nset copy=no\nset charset=utf-8\nset send_charset=utf-8\n",
            sendmail_command(&p.alice)
        ),
    )
    .unwrap();
    let mut mutt = Command::new("mutt");
    mutt.env("HOME", dir.path())
        .env("TEST_PW", PASSWORD)
        .env("MAIL", dir.path().join("mbox"))
        .args(["-n", "-F"])
        .arg(&muttrc)
        .args([
            "-s",
            "minutes",
            "-b",
            "carol@example.com",
            "bob@example.net",
        ]);
    run_bounded(mutt, b"The minutes are attached in spirit.\n").ok();
    assert_bob_and_bcc_carol(
        &p,
        &server.messages(),
        "The minutes are attached in spirit.",
    );
}

#[test]
fn git_send_email_with_sendmail_cmd_and_bcc() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let p = people(&server, "");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let git = |args: &[&str]| {
        let mut command = Command::new("/usr/bin/git");
        command
            .current_dir(&repo)
            .env("HOME", dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.org")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.org")
            .env("TEST_PW", PASSWORD)
            .args(args);
        run_bounded(command, b"").ok()
    };
    std::fs::create_dir(&repo).unwrap();
    git(&["init", "-q"]);
    std::fs::write(repo.join("README"), "Fix the frobnicator.\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "Fix the frobnicator"]);
    git(&["format-patch", "-1", "-o", "out"]);
    let patch = std::fs::read_dir(repo.join("out"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    git(&[
        "send-email",
        &format!("--sendmail-cmd={}", sendmail_command(&p.alice)),
        "--from=Alice <alice@example.org>",
        "--to=bob@example.net",
        "--bcc=carol@example.com",
        "--confirm=never",
        "--suppress-cc=all",
        "--quiet",
        patch.to_str().unwrap(),
    ]);
    assert_bob_and_bcc_carol(&p, &server.messages(), "Fix the frobnicator.");
}

/// An aliases file that sends root's mail to Dave.
fn aliases(home: &Home) -> String {
    let path = home.write("aliases", b"# local names\nroot: dave@example.com\n");
    format!(
        "\n[sendmail]\nfrom = \"%U@example.org\"\naliases = \"{}\"\n",
        path.display()
    )
}

#[test]
fn cron_call_with_alias_default_sender_and_added_headers() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let p = people(&server, "");
    let extra = aliases(&p.alice);
    let config = server.relay_config("starttls", "encrypt-if-possible", "") + &extra;
    p.alice.write("config.toml", config.as_bytes());
    // What Debian's cron writes, without Date or Message-ID.
    let message = b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> /usr/local/bin/backup\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\nbackup failed: disk full\n";
    let cron = |stdin: &[u8], args: &[&str]| {
        let mut command = p.alice.command(&["sendmail"]);
        command
            .args(args)
            .env("TEST_PW", PASSWORD)
            .env("LOGNAME", "alice")
            .env("USER", "alice");
        run_bounded(command, stdin)
    };
    let run = cron(
        message,
        &["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
    )
    .ok();
    assert!(
        run.stderr.is_empty() && run.stdout.is_empty(),
        "{}",
        run.stderr
    );
    let m = &server.messages()[0];
    assert_eq!(m.to, ["dave@example.com"]);
    // The local From `root` gives way to [sendmail] from = "%U@example.org".
    assert_eq!(m.from, "alice@example.org");
    assert!(header(&m.data, "Message-ID").is_some_and(|id| id.ends_with("@example.org>")));
    assert!(header(&m.data, "Date").is_some(), "{}", m.data);
    assert!(m.data.contains("backup failed: disk full"), "{}", m.data);

    // A body with no header at all, as `echo ... | sendmail root`.
    cron(b"disk full on /var\n", &["root"]).ok();
    let m = &server.messages()[1];
    assert_eq!(m.to, ["dave@example.com"]);
    assert_eq!(header(&m.data, "From"), Some("<alice@example.org>"));
    assert!(header(&m.data, "Date").is_some() && header(&m.data, "Message-ID").is_some());
    assert!(
        m.data.contains("\r\n\r\ndisk full on /var\r\n"),
        "{}",
        m.data
    );
}

#[test]
fn symfony_style_sendmail_bs() {
    let server = Server::start(Mode::Starttls, CertKind::Good, None);
    let p = people(&server, "");
    // Symfony waits for each reply; a pipelined script is answered the same.
    let session = b"EHLO [127.0.0.1]\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\nFrom: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: order 17\r\n\r\nYour order has shipped.\r\n..and a line with a dot\r\n.\r\nQUIT\r\n";
    let mut command = p.alice.command(&["sendmail", "-bs"]);
    command.env("TEST_PW", PASSWORD);
    let run = run_bounded(command, session).ok();
    let replies: Vec<String> = run
        .stdout_text()
        .lines()
        .map(|l| l.chars().take(3).collect())
        .collect();
    assert_eq!(
        replies,
        ["220", "250", "250", "250", "250", "250", "250", "354", "250", "221"],
        "{}",
        run.stdout_text()
    );
    assert!(run.stdout_text().contains("250 2.0.0 Ok: sent"));
    assert_bob_and_bcc_carol(&p, &server.messages(), "Your order has shipped.");
    let clear = p
        .bob
        .run(&["decrypt"], server.messages()[0].data.as_bytes())
        .ok()
        .stdout_text();
    assert!(
        clear.lines().any(|l| l == ".and a line with a dot"),
        "{clear}"
    );
    // The Message-ID mailseal added is inside the encryption too.
    let id = header(&server.messages()[0].data, "Message-ID")
        .unwrap()
        .to_string();
    assert!(clear.contains(&format!("Message-ID: {id}")), "{clear}");

    // A refusal is the reply to the data; the session goes on.
    let session = b"HELO x\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n\r\n.\r\nQUIT\r\n";
    let mut command = p.alice.command(&["sendmail", "-bs"]);
    command.env("TEST_PW", PASSWORD);
    let run = run_bounded(command, session).ok();
    assert!(
        run.stdout_text()
            .contains("554 5.0.0 malformed input: empty input"),
        "{}",
        run.stdout_text()
    );
    assert!(run.stdout_text().ends_with("221 2.0.0 Bye\r\n"));
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn sendmail_hands_mail_to_a_running_agent() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let p = people(&upstream, "\n[agent]\npassword = \"env:AGENT_PW\"\n");
    let mut agent = helpers::start(&p.alice);
    let message = b"From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: via the agent\n\nqueued, then delivered\n";
    let mut command = p.alice.command(&["sendmail", "-oi", "-t"]);
    command.env("TEST_PW", PASSWORD);
    let run = run_bounded(command, message).ok();
    assert!(
        run.stderr.is_empty() && run.stdout.is_empty(),
        "{}",
        run.stderr
    );
    assert!(
        helpers::wait_for(Duration::from_secs(20), || upstream.messages().len() == 1),
        "not delivered:\n{}",
        agent.log()
    );
    // The agent delivered it from its queue (it logs after the relay's
    // reply, so the line may come a moment after the message).
    assert!(
        helpers::wait_for(Duration::from_secs(5), || agent
            .log()
            .contains("to bob@example.net via default: accepted")),
        "{}",
        agent.log()
    );
    assert!(upstream.messages()[0].data.contains("multipart/encrypted"));
    agent.terminate();
}
