//! Real mail clients against `mailseal agent`: msmtp, mutt (smtp_url),
//! git send-email and Python's smtplib, over STARTTLS and implicit TLS.
//! None of them is asked to "accept" the agent's self-signed certificate:
//! each is given the agent's certificate file (HOME/agent/cert.pem) as its
//! CA file, which is how they are set up in real life too. What arrives
//! is checked on the upstream side (tests/common/smtp.rs).
//!
//! Postfix as a client of the agent runs in tests/postfix.rs.

#[path = "common/agent_client.rs"]
mod client;
mod common;
#[path = "common/agent.rs"]
mod helpers;
#[path = "common/smtp.rs"]
mod smtp;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{armored_block, Gpg, Home};
use helpers::{implicit_port, wait_for, AgentProc, AGENT_PASSWORD, AGENT_USER};
use smtp::{CertKind, Mode, Server};

/// A home with Alice's key and Bob's certificate whose agent relays to
/// `upstream` and also listens for implicit TLS.
fn agent_home(upstream: &Server, policy: &str, agent: &str) -> Home {
    let home = Home::new();
    helpers::write_config(
        &home,
        upstream.port,
        &upstream.ca_file,
        policy,
        &format!("listen_implicit = \"127.0.0.1:0\"\n{agent}"),
    );
    home.import_key("alice");
    home.import_cert("bob");
    home
}

/// Runs `command` with `stdin`, for at most 60 s.
fn run(mut command: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the client is installed (.ci/run)");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let id = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    if !wait_for(Duration::from_secs(60), || waiter.is_finished()) {
        let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
    }
    waiter.join().unwrap()
}

#[track_caller]
fn assert_ok(output: &Output, agent: &AgentProc) {
    assert!(
        output.status.success(),
        "client failed ({}):\nstdout: {}\nstderr: {}\nagent:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        agent.log()
    );
}

/// Waits until `upstream` has `n` messages.
#[track_caller]
fn delivered(upstream: &Server, agent: &AgentProc, n: usize) -> Vec<smtp::Received> {
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() >= n),
        "{} of {n} delivered:\n{}",
        upstream.messages().len(),
        agent.log()
    );
    upstream.messages()
}

#[test]
fn msmtp_over_starttls_and_implicit_tls() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "encrypt-if-possible", "");
    let agent = helpers::start(&home);
    let implicit = implicit_port(&agent);
    let msmtprc = home.write("msmtprc", b"# empty: all settings on the command line\n");
    for (port, starttls, subject) in [
        (agent.port, "on", "msmtp starttls"),
        (implicit, "off", "msmtp implicit"),
    ] {
        let mut msmtp = Command::new("msmtp");
        msmtp.arg("-C").arg(&msmtprc).args([
            "--host=127.0.0.1",
            &format!("--port={port}"),
            "--tls=on",
            &format!("--tls-starttls={starttls}"),
            &format!("--tls-trust-file={}", agent.cert.display()),
            "--auth=plain",
            &format!("--user={AGENT_USER}"),
            &format!("--passwordeval=printf %s {AGENT_PASSWORD}"),
            "--from=alice@example.org",
            "--",
            "bob@example.net",
        ]);
        let message = format!(
            "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: {subject}\r\n\r\nHello from msmtp\r\n"
        );
        assert_ok(&run(msmtp, message.as_bytes()), &agent);
    }
    let messages = delivered(&upstream, &agent, 2);
    for m in &messages {
        assert_eq!(m.to, ["bob@example.net"]);
        assert_eq!(m.from, "alice@example.org");
        assert!(m.data.contains("multipart/encrypted"), "{}", m.data);
        assert!(!m.data.contains("Hello from msmtp"));
    }
    let log = agent.log();
    assert!(log.contains(": tls, user mailseal"), "{log}");
    assert!(log.contains(": implicit tls, user mailseal"), "{log}");
}

/// Carol's key, made by gpg; returns her encryption subkey's key ID.
fn carol(home: &Home, gpg: &Gpg) -> String {
    gpg.generate("carol@example.com", "ed25519", None);
    let cert = gpg
        .run(&["--export", "--armor", "carol@example.com"], b"")
        .ok();
    home.run(&["cert", "import"], &cert.stdout).ok();
    let keys = gpg
        .run(&["--with-colons", "--list-keys", "carol@example.com"], b"")
        .ok()
        .stdout_text();
    keys.lines()
        .find(|l| l.starts_with("sub:"))
        .and_then(|l| l.split(':').nth(4))
        .expect("encryption subkey")
        .to_string()
}

/// The recipients (key ID or fingerprint, upper-case hex) of the PKESK
/// packets of a PGP/MIME message (gpg 2.2 cannot parse v6 PKESKs).
fn recipients_of(message: &str) -> Vec<String> {
    use sequoia_openpgp::parse::Parse;
    use sequoia_openpgp::{Packet, PacketPile};
    let armored = armored_block(message.as_bytes(), "PGP MESSAGE");
    let pile = PacketPile::from_bytes(&armored).expect("an OpenPGP message");
    pile.children()
        .filter_map(|p| match p {
            Packet::PKESK(pkesk) => Some(
                pkesk
                    .recipient()
                    .map(|r| format!("{r:X}"))
                    .unwrap_or_else(|| "wildcard".into()),
            ),
            _ => None,
        })
        .collect()
}

#[test]
fn mutt_smtp_url_with_a_bcc_recipient_who_gets_a_copy_of_their_own() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "encrypt-if-possible", "");
    let gpg = Gpg::new();
    let carol_key = carol(&home, &gpg);
    let agent = helpers::start(&home);
    let muttrc = home.write(
        "muttrc",
        format!(
            "set from = \"alice@example.org\"\n\
             set realname = \"Alice\"\n\
             set smtp_url = \"smtp://{AGENT_USER}@127.0.0.1:{port}/\"\n\
             set smtp_pass = \"{AGENT_PASSWORD}\"\n\
             set smtp_authenticators = \"plain\"\n\
             set ssl_starttls = yes\n\
             set ssl_force_tls = yes\n\
             set ssl_ca_certificates_file = \"{cert}\"\n\
             set certificate_file = \"{certs}\"\n\
             set copy = no\n\
             set record = \"\"\n",
            port = agent.port,
            cert = agent.cert.display(),
            certs = home.file("mutt-certificates").display(),
        )
        .as_bytes(),
    );
    let mut mutt = Command::new("mutt");
    mutt.env("HOME", home.path())
        .env("TERM", "dumb")
        .arg("-n")
        .arg("-F")
        .arg(&muttrc)
        .args([
            "-s",
            "via mutt",
            "-b",
            "carol@example.com",
            "--",
            "bob@example.net",
        ]);
    assert_ok(&run(mutt, b"Hello from mutt\n"), &agent);

    let messages = delivered(&upstream, &agent, 2);
    let to_bob = messages
        .iter()
        .find(|m| m.to == ["bob@example.net"])
        .expect("Bob's copy");
    let to_carol = messages
        .iter()
        .find(|m| m.to == ["carol@example.com"])
        .expect("Carol's own copy");
    assert!(
        to_bob.data.contains("multipart/encrypted"),
        "{}",
        to_bob.data
    );
    assert!(
        to_carol.data.contains("multipart/encrypted"),
        "{}",
        to_carol.data
    );
    assert!(
        !to_bob.data.to_lowercase().contains("carol"),
        "{}",
        to_bob.data
    );
    let bob_ids = recipients_of(&to_bob.data);
    assert!(!bob_ids.is_empty(), "no PKESK in Bob's copy");
    let carol_key = carol_key.to_uppercase();
    assert!(
        !bob_ids.iter().any(|id| id.contains(&carol_key)),
        "Carol's key ID {carol_key} in Bob's copy: {bob_ids:?}"
    );
    let carol_ids = recipients_of(&to_carol.data);
    assert!(
        carol_ids.iter().any(|id| id.contains(&carol_key)),
        "{carol_key} not in {carol_ids:?}"
    );
}

const PATCH: &str = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n\
From: Alice <alice@example.org>\n\
Date: Tue, 1 Dec 2026 06:00:00 +0000\n\
Subject: [PATCH] seal the patch\n\
\n\
Hello from git send-email.\n\
---\n\
 a.txt | 1 +\n\
 1 file changed, 1 insertion(+)\n\
\n\
diff --git a/a.txt b/a.txt\n\
index e69de29..d00491f 100644\n\
--- a/a.txt\n\
+++ b/a.txt\n\
@@ -0,0 +1 @@\n\
+1\n\
-- \n\
2.39.5\n\
\n";

#[test]
fn git_send_email_over_starttls_and_ssl() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    // git send-email logs in with Perl's Authen::SASL (Debian's
    // libauthen-sasl-perl, which .ci/run installs).
    let home = agent_home(&upstream, "encrypt-if-possible", "");
    let agent = helpers::start(&home);
    let implicit = implicit_port(&agent);
    let patch = home.write("0001-seal-the-patch.patch", PATCH.as_bytes());
    for (port, encryption) in [(agent.port, "tls"), (implicit, "ssl")] {
        let mut git = Command::new("/usr/bin/git");
        git.current_dir(home.path())
            .env("HOME", home.path())
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.org")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.org")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args([
                "send-email",
                "--smtp-server=127.0.0.1",
                &format!("--smtp-server-port={port}"),
                &format!("--smtp-encryption={encryption}"),
                &format!("--smtp-ssl-cert-path={}", agent.cert.display()),
                "--smtp-domain=localhost",
                &format!("--smtp-user={AGENT_USER}"),
                &format!("--smtp-pass={AGENT_PASSWORD}"),
                "--from=Alice <alice@example.org>",
                "--to=bob@example.net",
                "--confirm=never",
                "--suppress-cc=all",
                "--no-annotate",
                "--quiet",
            ])
            .arg(&patch);
        assert_ok(&run(git, b""), &agent);
    }
    let messages = delivered(&upstream, &agent, 2);
    for m in &messages {
        assert_eq!(m.to, ["bob@example.net"]);
        assert!(m.data.contains("multipart/encrypted"), "{}", m.data);
        assert!(!m.data.contains("Hello from git send-email"));
    }
    let log = agent.log();
    assert!(log.contains(": tls,"), "{log}");
    assert!(log.contains(": implicit tls,"), "{log}");
}

#[test]
fn python_smtplib_relays_a_bounce_with_the_null_sender() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "require-encryption", "");
    let agent = helpers::start(&home);
    // What Postfix sends for a bounce: MAIL FROM:<>, a multipart/report.
    let script = format!(
        r#"
import smtplib, ssl, sys
bounce = sys.stdin.buffer.read()
context = ssl.create_default_context(cafile={cert:?})
with smtplib.SMTP("127.0.0.1", {port}, timeout=30) as s:
    s.starttls(context=context)
    s.login({user:?}, {password:?})
    s.sendmail("", ["carol@example.com"], bounce)
"#,
        cert = agent.cert.display().to_string(),
        port = agent.port,
        user = AGENT_USER,
        password = AGENT_PASSWORD,
    );
    let mut python = Command::new("/usr/bin/python3");
    python.args(["-c", &script]);
    let bounce = b"From: MAILER-DAEMON@host.example (Mail Delivery System)\r\nTo: carol@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B2\"\r\n\r\n--B2\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n--B2\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; host.example\r\n\r\nFinal-Recipient: rfc822; nobody@host.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B2\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: carol@example.com\r\nSubject: private subject line\r\n\r\n--B2--\r\n";
    assert_ok(&run(python, bounce), &agent);
    let messages = delivered(&upstream, &agent, 1);
    let m = &messages[0];
    assert_eq!(m.from, "");
    assert!(upstream.saw("MAIL FROM:<>"), "{:?}", upstream.events());
    assert_eq!(m.to, ["carol@example.com"]);
    assert!(m.data.contains("Status: 5.1.1"), "{}", m.data);
    assert!(!m.data.contains("private subject line"), "{}", m.data);
}
