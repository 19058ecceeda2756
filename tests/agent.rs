//! `mailseal agent` end to end: the agent runs as a child process on
//! 127.0.0.1 (port 0) and delivers to the in-process upstream server of
//! tests/common/smtp.rs, whose own record says what arrived and how.
//! Clients: mailseal's own SMTP client (the Rust client), `swaks` (a real
//! third-party client) and a raw client that can misbehave.

#[path = "common/agent_client.rs"]
mod client;
mod common;
#[path = "common/agent.rs"]
mod helpers;
#[path = "common/smime.rs"]
mod smime_pki;
#[path = "common/smtp.rs"]
mod smtp;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{armored_block, header, testdata, Gpg, Home};
use helpers::{queue_json, spool_files, wait_for, AgentProc, Client, AGENT_PASSWORD, AGENT_USER};
use mailseal::agent::spool::{Spool, Status};
use mailseal::config::Tls;
use mailseal::secrets::Secret;
use mailseal::submit::{self, Transaction};
use smtp::{CertKind, Mode, Server};

/// A home whose agent delivers to `upstream`, with the agent password in
/// AGENT_PW and the relay password in TEST_PW.
fn agent_home(upstream: &Server, policy: &str, agent_extra: &str) -> Home {
    let home = Home::new();
    write_config(&home, upstream.port, &upstream.ca_file, policy, agent_extra);
    home
}

fn write_config(
    home: &Home,
    port: u16,
    ca_file: &std::path::Path,
    policy: &str,
    agent_extra: &str,
) {
    helpers::write_config(
        home,
        port,
        ca_file,
        policy,
        &format!("retry_min_secs = 1\nretry_max_secs = 2\n{agent_extra}"),
    );
}

/// mailseal's SMTP client pointed at the agent: STARTTLS trusting the
/// agent's own certificate, AUTH as the agent user.
fn client_settings(agent: &AgentProc) -> submit::Settings {
    submit::Settings {
        name: "agent".into(),
        host: "localhost".into(),
        port: agent.port,
        tls: Tls::Starttls,
        username: Some(AGENT_USER.into()),
        password: Some(Secret::new(AGENT_PASSWORD.into())),
        auth: None,
        ca_files: vec![agent.cert.clone()],
        pin: None,
        timeout: Duration::from_secs(30),
        connect_to: Some(format!("127.0.0.1:{}", agent.port)),
    }
}

const TO_BOB: &[u8] = b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: through the agent\r\nMessage-ID: <agent-e2e@example.org>\r\n\r\nHello Bob, sealed by the agent.\r\n";

#[test]
fn rust_client_to_agent_to_upstream_sealed_and_gpg_decrypts() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "encrypt-if-possible", "");
    home.import_key("alice");
    // Bob's key made by gpg (gpg 2.2 reads SEIPDv1 only, which such a key
    // asks for); gpg also knows Alice's certificate, to check her signature.
    let gpg = Gpg::new();
    gpg.generate("bob@example.net", "ed25519", None);
    gpg.run(
        &["--import", testdata("keys/alice.pub.asc").to_str().unwrap()],
        b"",
    )
    .ok();
    let bob_cert = gpg
        .run(&["--export", "--armor", "bob@example.net"], b"")
        .ok();
    home.run(&["cert", "import"], &bob_cert.stdout).ok();
    let mut agent = helpers::start(&home);

    // Alice is an envelope recipient not named in the headers: a Bcc,
    // with a copy of her own.
    let tx = Transaction {
        from: "alice@example.org".into(),
        to: vec!["bob@example.net".into(), "alice@example.org".into()],
        data: TO_BOB.to_vec().into(),
    };
    let outcome =
        submit::submit_blocking(&client_settings(&agent), &[tx]).expect("the agent accepts");
    let reply = &outcome.accepted[0].reply;
    assert!(
        reply.contains("queued as") && reply.contains("2 copies"),
        "{reply}"
    );
    assert!(outcome.transport.tls_version.starts_with("TLSv1."));
    assert_eq!(
        outcome.transport.authenticated_as.as_deref(),
        Some(AGENT_USER)
    );

    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() == 2),
        "not delivered:\n{}",
        agent.log()
    );
    let messages = upstream.messages();
    for m in &messages {
        assert!(m.data.contains("multipart/encrypted"), "{}", m.data);
        assert!(
            !m.data.to_ascii_lowercase().contains("\nbcc:"),
            "{}",
            m.data
        );
        assert!(!m.data.contains("Hello Bob"), "cleartext body upstream");
    }
    let to_bob = messages
        .iter()
        .find(|m| m.to == ["bob@example.net"])
        .unwrap();
    messages
        .iter()
        .find(|m| m.to == ["alice@example.org"])
        .expect("Bcc copy");
    // The log names what each copy got, in status's words.
    assert!(
        wait_for(Duration::from_secs(5), || agent.log().contains(
            "bob@example.net: end-to-end (the key was imported by hand"
        )),
        "{}",
        agent.log()
    );
    // Relay login happened inside TLS only.
    let events = upstream.events();
    assert!(events.iter().any(|e| e.line.starts_with("AUTH")));
    assert!(events
        .iter()
        .filter(|e| e.line.starts_with("AUTH"))
        .all(|e| e.tls));

    // The real gpg, holding Bob's key, decrypts and checks Alice's signature.
    let opened = gpg
        .run(
            &["--status-fd", "2", "--decrypt"],
            &armored_block(to_bob.data.as_bytes(), "PGP MESSAGE"),
        )
        .ok();
    assert!(
        opened.stderr.contains("DECRYPTION_OKAY"),
        "{}",
        opened.stderr
    );
    assert!(opened.stderr.contains("GOODSIG"), "{}", opened.stderr);
    assert!(opened
        .stdout_text()
        .contains("Hello Bob, sealed by the agent."));

    assert!(wait_for(Duration::from_secs(10), || queue_json(&home)
        .as_array()
        .unwrap()
        .is_empty()));
    assert_eq!(agent.terminate(), 0);
    let log = agent.log();
    assert!(
        log.contains("copy 1/2") && log.contains("accepted"),
        "{log}"
    );
    assert!(log.contains("stopped; 0 messages queued"), "{log}");
    for secret in [AGENT_PASSWORD, smtp::PASSWORD, "Hello Bob"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(!home.path().join("agent/address").exists());
}

#[test]
fn swaks_submits_through_starttls_and_auth() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "encrypt-if-possible", "");
    home.import_key("alice");
    home.import_cert("bob");
    let agent = helpers::start(&home);
    let port = agent.port.to_string();
    let cert = agent.cert.to_str().unwrap().to_string();
    let output = Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            &cert,
            "--auth",
            "PLAIN",
            "--auth-user",
            AGENT_USER,
            "--auth-password",
            AGENT_PASSWORD,
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.net",
            "--header",
            "Subject: via swaks",
            "--body",
            "Hello from swaks",
            "--timeout",
            "20",
        ])
        .output()
        .expect("swaks is installed (.ci/run installs it)");
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "swaks failed:\n{transcript}\n{}",
        agent.log()
    );
    assert!(
        transcript.contains("<~  250 2.0.0 Ok: queued as"),
        "{transcript}"
    );
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() == 1),
        "{}",
        agent.log()
    );
    let m = &upstream.messages()[0];
    assert_eq!(m.to, ["bob@example.net"]);
    assert!(m.data.contains("multipart/encrypted"), "{}", m.data);
    assert!(!m.data.contains("Hello from swaks"));
}

#[test]
fn missing_date_and_message_id_are_added_once_for_every_copy() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    // Carol is a Bcc recipient (not in To/Cc): a copy of her own.
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net", "carol@example.com"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: no date\r\n\r\nhello\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() == 2),
        "not delivered:\n{}",
        agent.log()
    );
    let ids: Vec<String> = upstream
        .messages()
        .iter()
        .map(|m| {
            assert!(header(&m.data, "Date").is_some(), "{}", m.data);
            header(&m.data, "Message-ID")
                .expect("Message-ID added")
                .to_string()
        })
        .collect();
    assert_eq!(
        ids[0], ids[1],
        "the copies of one message share one Message-ID"
    );
    assert!(ids[0].ends_with("@example.org>"), "{}", ids[0]);
}

#[test]
fn require_encryption_without_a_key_is_refused_with_550_and_nothing_leaves() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "require-encryption", "");
    home.import_key("alice");
    let agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["carol@example.com"],
        b"From: alice@example.org\r\nTo: carol@example.com\r\nSubject: secret\r\n\r\nfor carol\r\n",
    );
    assert_eq!(reply.code, 550, "{reply:?}");
    assert!(
        reply.text.contains("5.7.1 <carol@example.com>"),
        "{reply:?}"
    );
    assert!(reply.text.contains("no usable key"), "{reply:?}");
    // The session goes on.
    assert_eq!(client.cmd("NOOP").code, 250);
    assert_eq!(client.cmd("QUIT").code, 221);

    assert!(queue_json(&home).as_array().unwrap().is_empty());
    assert!(spool_files(&home, "queue").is_empty());
    assert!(spool_files(&home, "tmp").is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(upstream.record.lock().unwrap().connections, 0);
    assert!(upstream.messages().is_empty());
    assert!(wait_for(Duration::from_secs(5), || agent
        .log()
        .contains("refused [550")));
}

#[test]
fn stripping_upstream_keeps_mail_queued_with_the_reason_until_a_good_relay() {
    let attacker = Server::start(Mode::Stripped, CertKind::Good, None);
    let home = agent_home(&attacker, "plain", "");
    let mut agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: s\r\n\r\nnot for attackers\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");

    let deferred = wait_for(Duration::from_secs(15), || {
        let q = queue_json(&home);
        q[0]["attempts"].as_u64().unwrap_or(0) >= 2
            && q[0]["last_error"]
                .as_str()
                .unwrap_or("")
                .contains("STARTTLS")
    });
    assert!(deferred, "{}\n{}", queue_json(&home), agent.log());
    attacker.assert_nothing_sent();
    let list = home.run(&["queue", "list"], b"").ok().stdout_text();
    assert!(
        list.contains("queued") && list.contains("last error"),
        "{list}"
    );
    assert!(list.contains("does not offer STARTTLS"), "{list}");
    assert!(agent.log().contains("deferred"), "{}", agent.log());

    // Stopped and restarted elsewhere: the message is still there, and
    // `queue flush` (no agent running) delivers it to a good relay.
    assert_eq!(agent.terminate(), 0);
    assert_eq!(queue_json(&home).as_array().unwrap().len(), 1);
    let good = Server::start(Mode::Starttls, CertKind::Good, None);
    write_config(&home, good.port, &good.ca_file, "plain", "");
    let mut flush = home.command(&["queue", "flush"]);
    flush
        .env("TEST_PW", smtp::PASSWORD)
        .env("AGENT_PW", AGENT_PASSWORD);
    let out = flush.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(good.messages().len(), 1);
    assert!(good.messages()[0].data.contains("not for attackers"));
    assert!(queue_json(&home).as_array().unwrap().is_empty());
    attacker.assert_nothing_sent();
}

/// Submits one message to `agent` and waits until the worker gave up on it.
fn queue_one_until_failed(agent: &AgentProc, home: &Home) {
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\n\r\nx\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(
        wait_for(Duration::from_secs(15), || queue_json(home)[0]["status"]
            == "failed"),
        "{}",
        agent.log()
    );
}

#[test]
fn permanent_failure_goes_to_failed_then_retry_and_drop() {
    let upstream = Server::start(
        Mode::Starttls,
        CertKind::Good,
        Some(("DATA_END", "554 5.7.1 no thanks")),
    );
    let home = agent_home(&upstream, "plain", "");
    let mut agent = helpers::start(&home);
    queue_one_until_failed(&agent, &home);
    let q = queue_json(&home);
    assert!(
        q[0]["failed"]
            .as_str()
            .unwrap()
            .contains("554 5.7.1 no thanks"),
        "{q}"
    );
    assert_eq!(agent.terminate(), 0);
    let id = q[0]["id"].as_str().unwrap().to_string();
    assert!(spool_files(&home, "failed").contains(&format!("{id}.msg")));

    home.run(&["queue", "retry", &id], b"").ok();
    assert_eq!(queue_json(&home)[0]["status"], "queued");
    home.run(&["queue", "drop", &id], b"").ok();
    // What is left is the delivery report to Alice (which the relay
    // refused too; a report never gets a report of its own).
    let left = queue_json(&home);
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["from"], "", "{left}");
    assert_eq!(
        left[0]["client"],
        format!("delivery report on {id}"),
        "{left}"
    );
    assert_eq!(q[0]["report"], left[0]["id"], "{q}");
    home.run(&["queue", "drop", &id], b"").expect_code(66);
    home.run(&["queue", "drop", "../../etc"], b"")
        .expect_code(64);
}

#[test]
fn agent_refuses_to_start_exposed() {
    let relay = "[relay.default]\nhost = \"localhost\"\ntls = \"starttls\"\n[agent]\n";
    // Nothing is bound: the checks come first.
    for (agent, listen, why) in [
        // AUTH possible before STARTTLS off loopback.
        (
            "password = \"env:AGENT_PW\"\n",
            "192.0.2.1:1587",
            "require_tls",
        ),
        // No login off loopback.
        (
            "auth = \"none\"\nrequire_tls = true\n",
            "192.0.2.1:1587",
            "loopback",
        ),
        // The agent password must be obtainable before it listens.
        (
            "password = \"env:NOT_SET_ANYWHERE\"\n",
            "127.0.0.1:0",
            "NOT_SET_ANYWHERE",
        ),
    ] {
        let home = Home::new();
        home.write("config.toml", format!("{relay}{agent}").as_bytes());
        let run = home
            .run(&["agent", "--listen", listen], b"")
            .expect_code(78);
        assert!(run.stderr.contains(why), "{}", run.stderr);
    }
}

#[test]
fn agent_info_says_what_to_type_but_not_the_password() {
    let home = Home::new();
    home.write(
        "config.toml",
        b"[relay.default]\nhost = \"localhost\"\ntls = \"starttls\"\n[agent]\npassword = \"env:AGENT_PW\"\nusername = \"me\"\n",
    );
    let mut command = home.command(&["agent", "info"]);
    command.env("AGENT_PW", AGENT_PASSWORD);
    let out = command.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("user name:       me"), "{text}");
    assert!(text.contains("environment variable AGENT_PW"), "{text}");
    assert!(text.contains("port:            1587"), "{text}");
    assert!(text.contains("STARTTLS"), "{text}");
    assert!(!text.contains(AGENT_PASSWORD));
    let info: serde_json::Value =
        serde_json::from_slice(&home.run(&["--json", "agent", "info"], b"").ok().stdout).unwrap();
    let fingerprint = info["certificate_sha256"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 32 * 3 - 1);
    assert!(text.contains(fingerprint));
    // The key is private; the certificate is kept for the next start.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path().join("agent/key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again: serde_json::Value =
        serde_json::from_slice(&home.run(&["--json", "agent", "info"], b"").ok().stdout).unwrap();
    assert_eq!(again["certificate_sha256"], info["certificate_sha256"]);
    assert_eq!(info["running"], false);
}

#[test]
fn limits_and_bad_input() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(
        &upstream,
        "plain",
        "max_message_size = 10000\nmax_recipients = 3\nidle_timeout_secs = 2\nrequire_tls = true\n",
    );
    let agent = helpers::start(&home);
    let (port, cert) = (agent.port, agent.cert.clone());
    let message = |body: &str| {
        format!("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: t\r\n\r\n{body}\r\n")
    };

    // Commands before EHLO.
    let (mut c, _) = Client::connect(port);
    assert_eq!(c.cmd("MAIL FROM:<alice@example.org>").code, 503);
    assert_eq!(c.cmd("RCPT TO:<bob@example.net>").code, 503);
    assert_eq!(c.cmd("DATA").code, 503);

    // require_tls: no AUTH offered or accepted before STARTTLS, no mail.
    let ehlo = c.cmd("EHLO client.example");
    assert!(
        ehlo.text.contains("STARTTLS") && !ehlo.text.contains("AUTH"),
        "{ehlo:?}"
    );
    assert_eq!(c.login(AGENT_USER, AGENT_PASSWORD).code, 530);
    assert_eq!(c.cmd("MAIL FROM:<alice@example.org>").code, 530);
    // After STARTTLS, still no mail without AUTH; a wrong password is 535.
    let ehlo = c.starttls(&cert);
    assert!(
        ehlo.text.contains("AUTH PLAIN LOGIN") && !ehlo.text.contains("STARTTLS"),
        "{ehlo:?}"
    );
    assert_eq!(c.cmd("MAIL FROM:<alice@example.org>").code, 530);
    assert_eq!(c.login(AGENT_USER, "wrong").code, 535);
    assert_eq!(c.login(AGENT_USER, "wrong").code, 535);
    assert_eq!(c.login(AGENT_USER, "wrong").code, 421);
    assert_eq!(c.reply().code, 0, "closed after three failed logins");

    let mut c = Client::secure_login(port, &cert);
    // SIZE announced too big.
    let reply = c.cmd("MAIL FROM:<alice@example.org> SIZE=20000");
    assert_eq!(reply.code, 552, "{reply:?}");
    // Too many recipients.
    assert_eq!(c.cmd("MAIL FROM:<alice@example.org>").code, 250);
    for rcpt in ["a@example.net", "b@example.net", "c@example.net"] {
        assert_eq!(c.cmd(&format!("RCPT TO:<{rcpt}>")).code, 250);
    }
    let reply = c.cmd("RCPT TO:<d@example.net>");
    assert_eq!(reply.code, 452, "{reply:?}");
    assert_eq!(c.cmd("RSET").code, 250);
    // Oversized data: 552 at the end, and the session goes on.
    let big = message(&"0123456789abcdef\r\n".repeat(1000));
    let reply = c.message("alice@example.org", &["bob@example.net"], big.as_bytes());
    assert_eq!(reply.code, 552, "{reply:?}");
    assert_eq!(c.cmd("NOOP").code, 250);
    // Bare LF and NUL.
    let reply = c.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\n\r\nbare\nLF\r\n",
    );
    assert!(
        reply.code == 554 && reply.text.contains("bare LF"),
        "{reply:?}"
    );
    let reply = c.message(
        "alice@example.org",
        &["bob@example.net"],
        message("nul\0").as_bytes(),
    );
    assert!(reply.code == 554 && reply.text.contains("NUL"), "{reply:?}");
    // A bad address cannot smuggle anything.
    assert_eq!(c.cmd("MAIL FROM:<alice@example.org>").code, 250);
    let reply = c.cmd("RCPT TO:<\"a b\"@example.net>");
    assert_eq!(reply.code, 553, "{reply:?}");
    assert_eq!(c.cmd("RSET").code, 250);
    // An over-long command line.
    assert_eq!(c.cmd(&format!("NOOP {}", "x".repeat(5000))).code, 500);
    // Correct pipelining: one write, replies in order; this one is delivered.
    c.send(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n");
    assert_eq!(c.reply().code, 250);
    assert_eq!(c.reply().code, 250);
    assert_eq!(c.reply().code, 354);
    c.send(message("pipelined and fine").as_bytes());
    c.send(b".\r\n");
    let reply = c.reply();
    assert_eq!(reply.code, 250, "{reply:?}");
    // Pipelining abuse: message data before the 354.
    c.send(
        format!(
            "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n{}.\r\n",
            message("too early")
        )
        .as_bytes(),
    );
    assert_eq!(c.reply().code, 250);
    assert_eq!(c.reply().code, 250);
    let reply = c.reply();
    assert_eq!(reply.code, 554, "{reply:?}");
    assert_eq!(c.reply().code, 0, "closed");

    // Commands behind STARTTLS in the same packet (injection).
    let (mut c, _) = Client::connect(port);
    c.cmd("EHLO client.example");
    c.send(b"STARTTLS\r\nEHLO evil.example\r\n");
    assert_eq!(c.reply().code, 554);
    assert_eq!(c.reply().code, 0);

    // A client that disconnects in the middle of DATA.
    let mut c = Client::secure_login(port, &cert);
    assert_eq!(c.cmd("MAIL FROM:<alice@example.org>").code, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@example.net>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send(b"From: alice@example.org\r\nTo: bob@example.net\r\n\r\nhalf a mess");
    drop(c);

    // Garbage: ten wrong commands end the connection.
    let (mut c, _) = Client::connect(port);
    let mut last = 0;
    for _ in 0..12 {
        c.send(b"FROB\r\n");
    }
    for _ in 0..12 {
        last = c.reply().code;
        if last == 421 || last == 0 {
            break;
        }
    }
    assert_eq!(last, 421);
    // BDAT is not offered.
    let mut c = Client::secure_login(port, &cert);
    assert_eq!(c.cmd("BDAT 10 LAST").code, 502);
    // Silence: 421 after the idle timeout.
    let (mut c, _) = Client::connect(port);
    let started = Instant::now();
    let reply = c.reply();
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(8));

    // Exactly the one good message arrives; nothing else was queued.
    assert!(wait_for(Duration::from_secs(15), || upstream
        .messages()
        .len()
        == 1));
    assert!(wait_for(Duration::from_secs(10), || queue_json(&home)
        .as_array()
        .unwrap()
        .is_empty()));
    std::thread::sleep(Duration::from_millis(500));
    let messages = upstream.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].data.contains("pipelined and fine"));
    assert!(spool_files(&home, "tmp").is_empty());
    let log = agent.log();
    assert!(
        log.contains("client disconnected during DATA (nothing queued)"),
        "{log}"
    );
    assert!(log.contains("too many failed logins"), "{log}");
    assert!(!log.contains(AGENT_PASSWORD));
}

#[test]
fn fifty_clients_twenty_messages_each_delivered_exactly_once() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "encrypt-if-possible", "deliveries = 8\n");
    home.import_key("alice");
    home.import_cert("bob");
    let mut agent = helpers::start(&home);
    let settings = Arc::new(client_settings(&agent));
    let clients: Vec<_> = (0..50)
        .map(|c| {
            let settings = settings.clone();
            std::thread::spawn(move || {
                let transactions: Vec<Transaction> = (0..20)
                    .map(|m| Transaction {
                        from: "alice@example.org".into(),
                        to: vec!["bob@example.net".into()],
                        data: format!(
                            "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: load\r\nMessage-ID: <c{c}m{m}@load.example>\r\n\r\nmessage {m} of client {c}\r\n"
                        )
                        .into_bytes()
                        .into(),
                    })
                    .collect();
                submit::submit_blocking(&settings, &transactions)
            })
        })
        .collect();
    for client in clients {
        let outcome = client.join().unwrap().expect("accepted");
        assert_eq!(outcome.accepted.len(), 20);
    }
    assert!(
        wait_for(Duration::from_secs(40), || upstream.messages().len()
            >= 1000),
        "{} of 1000 delivered\n{}",
        upstream.messages().len(),
        agent.log()
    );
    assert!(wait_for(Duration::from_secs(10), || queue_json(&home)
        .as_array()
        .unwrap()
        .is_empty()));
    std::thread::sleep(Duration::from_millis(500));
    let messages = upstream.messages();
    assert_eq!(messages.len(), 1000);
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| {
            assert!(m.data.contains("multipart/encrypted"));
            let at = m.data.find("Message-ID: <").expect("Message-ID outside");
            m.data[at..].lines().next().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1000, "duplicates or losses");
    assert_eq!(agent.terminate(), 0);
}

/// What a crash-test client knows about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// The end of the data was never sent: must never be delivered.
    NotSent,
    /// The end of the data was sent but no reply came (the agent died):
    /// either way is right (the SMTP duplicate window, RFC 1047).
    InDoubt,
    /// 250: must be delivered at least once.
    Accepted,
    /// Another reply: must not be delivered.
    Refused,
}

fn crash_client(port: u16, token: &str, size: usize) -> Fate {
    let Some((mut c, greeting)) = Client::try_connect(port) else {
        return Fate::NotSent;
    };
    if greeting.code != 220
        || c.cmd("EHLO crash.example").code != 250
        || c.cmd("MAIL FROM:<alice@example.org>").code != 250
        || c.cmd("RCPT TO:<bob@example.net>").code != 250
        || c.cmd("DATA").code != 354
    {
        return Fate::NotSent;
    }
    let message = format!(
        "From: alice@example.org\r\nTo: bob@example.net\r\nX-Crash-Token: {token}\r\n\r\n{}",
        "padding line of the crash test message\r\n".repeat(size / 40)
    );
    for chunk in message.as_bytes().chunks(message.len() / 4 + 1) {
        c.send(chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    c.send(b".\r\n");
    match c.reply().code {
        250 => Fate::Accepted,
        0 => Fate::InDoubt,
        _ => Fate::Refused,
    }
}

#[test]
fn crash_safety_kill_9_at_random_moments_and_restart() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "auth = \"none\"\n");
    let fates: Arc<Mutex<HashMap<String, Fate>>> = Arc::default();
    let initial_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut rng = common::XorShift(initial_seed);
    let mut random = move |below: u64| rng.next_u64() % below;
    let spool = Spool::open(&home.path().join("spool")).unwrap();
    for round in 0..5 {
        let mut agent = helpers::start(&home);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..6)
            .map(|c| {
                let (stop, fates, port) = (stop.clone(), fates.clone(), agent.port);
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let token = format!("r{round}c{c}n{n}");
                        let fate = crash_client(port, &token, 20_000 + 10_000 * c);
                        fates.lock().unwrap().insert(token, fate);
                        n += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + random(600)));
        agent.kill9();
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
        // Whatever the moment, everything in queue/ is whole.
        for id in spool.ids(Status::Queued).unwrap() {
            if let Err(e) = spool.open_message(Status::Queued, &id) {
                // Delivered and removed in between is fine; broken is not.
                assert!(
                    !home.path().join(format!("spool/queue/{id}.msg")).exists(),
                    "half-written {id} (seed {initial_seed}): {e}"
                );
            }
        }
    }
    // A last start delivers what is left.
    let mut agent = helpers::start(&home);
    let fates = fates.lock().unwrap().clone();
    let token_of = |data: &str| {
        data.split("X-Crash-Token: ")
            .nth(1)
            .and_then(|rest| rest.split("\r\n").next())
            .map(str::to_string)
    };
    let accepted: HashSet<&String> = fates
        .iter()
        .filter(|(_, f)| **f == Fate::Accepted)
        .map(|(t, _)| t)
        .collect();
    let all_in = wait_for(Duration::from_secs(30), || {
        let got: HashSet<String> = upstream
            .messages()
            .iter()
            .filter_map(|m| token_of(&m.data))
            .collect();
        accepted.iter().all(|t| got.contains(*t)) && spool.ids(Status::Queued).unwrap().is_empty()
    });
    assert!(
        all_in,
        "seed {initial_seed}: accepted mail missing\n{}",
        agent.log()
    );
    assert_eq!(agent.terminate(), 0);
    assert!(spool_files(&home, "tmp").is_empty());
    assert!(spool_files(&home, "queue").is_empty());

    let mut delivered: HashMap<String, usize> = HashMap::new();
    for m in upstream.messages() {
        *delivered
            .entry(token_of(&m.data).expect("token"))
            .or_default() += 1;
    }
    for (token, fate) in &fates {
        match fate {
            Fate::Accepted => assert!(delivered.contains_key(token)),
            Fate::NotSent | Fate::Refused => assert!(
                !delivered.contains_key(token),
                "seed {initial_seed}: {token} ({fate:?}) was delivered"
            ),
            Fate::InDoubt => {}
        }
    }
    let count = |f: Fate| fates.values().filter(|x| **x == f).count();
    eprintln!(
        "crash test (seed {initial_seed}): {} accepted, {} in doubt, {} not sent, {} refused; {} delivered, {} duplicates",
        count(Fate::Accepted),
        count(Fate::InDoubt),
        count(Fate::NotSent),
        count(Fate::Refused),
        delivered.len(),
        delivered.values().filter(|n| **n > 1).count()
    );
    assert!(count(Fate::Accepted) > 0);
}

#[test]
fn sigterm_finishes_the_transaction_in_progress_and_421s_the_rest() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let mut agent = helpers::start(&home);
    let port = agent.port;
    let mut busy = Client::secure_login(port, &agent.cert);
    let mut idle = Client::secure_login(port, &agent.cert);
    assert_eq!(busy.cmd("MAIL FROM:<alice@example.org>").code, 250);
    assert_eq!(busy.cmd("RCPT TO:<bob@example.net>").code, 250);
    assert_eq!(busy.cmd("DATA").code, 354);
    busy.send(
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: last one\r\n\r\nfirst half, ",
    );

    let pid = agent.pid().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    // The idle session is told at once; no new connections are taken.
    let reply = idle.reply();
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(wait_for(Duration::from_secs(5), || Client::try_connect(
        port
    )
    .is_none()));
    // The transaction in progress completes.
    busy.send(b"second half\r\n.\r\n");
    let reply = busy.reply();
    assert_eq!(reply.code, 250, "{reply:?}");
    assert_eq!(busy.cmd("NOOP").code, 421);
    assert_eq!(agent.terminate(), 0);
    let log = agent.log();
    assert!(log.contains("SIGTERM: stopping"), "{log}");
    // Delivered before the agent stopped, or still queued for the next start.
    let delivered = upstream.messages().len();
    let queued = queue_json(&home).as_array().unwrap().len();
    assert_eq!(delivered + queued, 1, "{log}");
    assert!(spool_files(&home, "tmp").is_empty());
}

#[test]
fn auth_login_8bitmime_and_smtputf8() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let agent = helpers::start(&home);
    let (mut c, _) = Client::connect(agent.port);
    let ehlo = c.cmd("EHLO client.example");
    for capability in [
        "PIPELINING",
        "SIZE 26214400",
        "8BITMIME",
        "SMTPUTF8",
        "STARTTLS",
    ] {
        assert!(ehlo.text.contains(capability), "{ehlo:?}");
    }
    c.starttls(&agent.cert);
    assert_eq!(c.cmd("AUTH LOGIN").code, 334);
    assert_eq!(c.cmd(&b64(AGENT_USER)).code, 334);
    let reply = c.cmd(&b64(AGENT_PASSWORD));
    assert_eq!(reply.code, 235, "{reply:?}");
    assert_eq!(c.cmd("AUTH LOGIN").code, 503, "no second login");
    let reply = c.cmd("MAIL FROM:<alice@example.org> BODY=8BITMIME SMTPUTF8");
    assert_eq!(reply.code, 250, "{reply:?}");
    assert_eq!(c.cmd("RCPT TO:<bob@example.net>").code, 250);
    assert_eq!(c.cmd("DATA").code, 354);
    c.send("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: grüße\r\n\r\nGrüße aus Köln\r\n.\r\n".as_bytes());
    assert_eq!(c.reply().code, 250);
    assert!(wait_for(Duration::from_secs(15), || upstream
        .messages()
        .len()
        == 1));
    assert!(upstream.messages()[0].data.contains("Grüße aus Köln"));
}

#[test]
fn messages_older_than_max_age_go_to_failed_with_the_last_error() {
    let refusing = Server::start(Mode::Refuses, CertKind::Good, None);
    let home = agent_home(&refusing, "plain", "max_age = \"1s\"\n");
    let mut agent = helpers::start(&home);
    let info: serde_json::Value =
        serde_json::from_slice(&home.run(&["--json", "agent", "info"], b"").ok().stdout).unwrap();
    assert_eq!(info["running"], true);
    assert_eq!(info["listening_on"], format!("127.0.0.1:{}", agent.port));
    queue_one_until_failed(&agent, &home);
    let reason = queue_json(&home)[0]["failed"].as_str().unwrap().to_string();
    assert!(reason.contains("not delivered within 1s"), "{reason}");
    assert!(reason.contains("454"), "{reason}");
    refusing.assert_nothing_sent();
    assert_eq!(agent.terminate(), 0);
}

#[test]
fn smime_recipient_gets_smime_through_the_agent_and_openssl_opens_it() {
    let pki = smime_pki::pki();
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    // Alice holds an S/MIME key; Carol has only an X.509 certificate.
    let home = smime_pki::home_with(&["alice"]);
    write_config(
        &home,
        upstream.port,
        &upstream.ca_file,
        "require-encryption",
        "",
    );
    let config = home.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[smime]\ntrust_anchors = [{:?}]\n",
        pki.path("ca.pem")
    ));
    std::fs::write(&config, text).unwrap();
    let mut agent = helpers::start(&home);

    let tx = Transaction {
        from: "alice@example.org".into(),
        to: vec!["carol@example.net".into()],
        data: b"From: alice@example.org\r\nTo: carol@example.net\r\nSubject: s/mime via agent\r\n\r\nHello Carol, sealed by the agent.\r\n".to_vec().into(),
    };
    submit::submit_blocking(&client_settings(&agent), &[tx]).expect("the agent accepts");
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() == 1),
        "not delivered:\n{}",
        agent.log()
    );
    let sealed = upstream.messages().remove(0);
    assert!(
        sealed.data.contains("application/pkcs7-mime"),
        "{}",
        sealed.data
    );
    assert!(!sealed.data.contains("Hello Carol"), "cleartext upstream");
    let opened = smime_pki::openssl_decrypt("carol", sealed.data.as_bytes());
    smime_pki::assert_openssl_ok(&opened);
    assert!(opened
        .stdout_text()
        .contains("Hello Carol, sealed by the agent."));
    // A certificate that validates to the trust anchor is a verified key,
    // in the log and in status alike.
    assert!(
        wait_for(Duration::from_secs(5), || agent
            .log()
            .contains("carol@example.net: end-to-end, verified key")),
        "{}",
        agent.log()
    );
    let status = home.run(&["status", "carol@example.net"], b"").ok();
    assert!(
        status
            .stdout_text()
            .starts_with("carol@example.net: end-to-end, verified key (S/MIME)\n"),
        "{}",
        status.stdout_text()
    );
    assert_eq!(agent.terminate(), 0);
}

/// A port on 127.0.0.1 that nothing listens on (for now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `signal` (e.g. "-HUP") to the agent.
fn signal(agent: &AgentProc, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &agent.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn flush_delivers_now_with_the_agent_running_after_kill_9_and_the_upstream_back() {
    // The relay is down, and the next retry is an hour away.
    let port = free_port();
    let ca = tempfile::tempdir().unwrap();
    let home = Home::new();
    // The CA of the upstream that comes back is not known yet: write the
    // configuration once it is, before the agent restarts.
    let hour = "retry_min_secs = 3600\nretry_max_secs = 3600\n";
    helpers::write_config(&home, port, &ca.path().join("none.pem"), "plain", hour);
    let mut agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: flush\r\n\r\nflushed\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(
        wait_for(Duration::from_secs(20), || {
            queue_json(&home)[0]["attempts"].as_u64().unwrap_or(0) >= 1
        }),
        "{}",
        agent.log()
    );
    agent.kill9();

    let upstream = Server::start_on(port, Mode::Starttls, CertKind::Good, None);
    helpers::write_config(&home, port, &upstream.ca_file, "plain", hour);
    let agent = helpers::start(&home);
    // Due in an hour: the restarted agent leaves it alone.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(upstream.messages().is_empty(), "{}", agent.log());

    let flush = home.run(&["queue", "flush"], b"").ok();
    assert!(
        flush.stderr.contains("asked the running agent"),
        "{}",
        flush.stderr
    );
    assert!(
        wait_for(Duration::from_secs(10), || upstream.messages().len() == 1),
        "the flush did not deliver:\n{}\n{}",
        queue_json(&home),
        agent.log()
    );
    assert!(upstream.messages()[0].data.contains("flushed"));
    assert!(wait_for(Duration::from_secs(10), || queue_json(&home)
        .as_array()
        .unwrap()
        .is_empty()));
}

/// A bounce as Postfix writes it: a report with the returned message.
const BOUNCE: &[u8] = b"From: MAILER-DAEMON@host.example (Mail Delivery System)\r\nTo: carol@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B1\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n--B1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; host.example\r\n\r\nFinal-Recipient: rfc822; nobody@host.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B1\r\nContent-Type: message/rfc822\r\n\r\nFrom: carol@example.com\r\nTo: nobody@host.example\r\nSubject: the returned one\r\n\r\nsecret original body\r\n\r\n--B1--\r\n";

#[test]
fn null_sender_stays_null_and_bounces_are_not_lost_under_require_encryption() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "require-encryption", "");
    let agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    // Carol has no key: the report goes out without the returned message.
    let reply = client.message("", &["carol@example.com"], BOUNCE);
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() == 1),
        "{}",
        agent.log()
    );
    let m = upstream.messages().remove(0);
    assert_eq!(m.from, "", "the null sender must stay <>");
    assert!(upstream.saw("MAIL FROM:<>"), "{:?}", upstream.events());
    assert!(m.data.contains("Status: 5.1.1"), "{}", m.data);
    assert!(m.data.contains("could not be delivered"), "{}", m.data);
    assert!(
        m.data.contains("The returned message was removed"),
        "{}",
        m.data
    );
    assert!(!m.data.contains("secret original body"), "{}", m.data);
    assert!(!m.data.contains("the returned one"), "{}", m.data);

    // Null-sender mail that is not a report follows the policy.
    let reply = client.message(
        "",
        &["carol@example.com"],
        b"From: MAILER-DAEMON@host.example\r\nTo: carol@example.com\r\nSubject: not a report\r\n\r\nsecret\r\n",
    );
    assert_eq!(reply.code, 550, "{reply:?}");
}

#[test]
fn sighup_reloads_the_policy_and_keeps_the_old_one_when_the_new_is_bad() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let mut agent = helpers::start(&home);
    let to_carol =
        b"From: alice@example.org\r\nTo: carol@example.com\r\nSubject: s\r\n\r\nfor carol\r\n";
    let send = |agent: &AgentProc| {
        Client::secure_login(agent.port, &agent.cert).message(
            "alice@example.org",
            &["carol@example.com"],
            to_carol,
        )
    };
    assert_eq!(send(&agent).code, 250);

    write_config(
        &home,
        upstream.port,
        &upstream.ca_file,
        "require-encryption",
        "",
    );
    signal(&agent, "-HUP");
    assert!(
        wait_for(Duration::from_secs(10), || agent.log().contains(
            "SIGHUP: configuration reloaded: policy RequireEncryption"
        )),
        "{}",
        agent.log()
    );
    assert_eq!(send(&agent).code, 550);

    // A broken file: logged, and the policy in force stays.
    home.write("config.toml", b"[policy]\ndefault = \"bogus\"\n");
    signal(&agent, "-HUP");
    assert!(
        wait_for(Duration::from_secs(10), || agent
            .log()
            .contains("the previous one stays in force")),
        "{}",
        agent.log()
    );
    assert!(agent.log().contains("bogus"), "{}", agent.log());
    assert_eq!(send(&agent).code, 550);
    // A relay password that cannot be had counts as broken too.
    write_config(&home, upstream.port, &upstream.ca_file, "plain", "");
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    home.write(
        "config.toml",
        config
            .replace("env:TEST_PW", "env:NOT_SET_ANYWHERE")
            .as_bytes(),
    );
    signal(&agent, "-HUP");
    assert!(
        wait_for(Duration::from_secs(10), || agent
            .log()
            .matches("the previous one stays in force")
            .count()
            == 2),
        "{}",
        agent.log()
    );
    assert_eq!(send(&agent).code, 550);
    assert_eq!(agent.terminate(), 0);
}

#[test]
fn failed_logins_are_logged_and_slowed_down_across_connections() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let agent = helpers::start(&home);
    // Three connections, three wrong passwords each (loopback: AUTH is
    // offered before STARTTLS).
    let mut refused = None;
    'outer: for _ in 0..3 {
        let (mut client, _) = Client::connect(agent.port);
        client.cmd("EHLO brute.example");
        for _ in 0..3 {
            let reply = client.login("mailseal", "guess");
            if reply.code == 454 {
                refused = Some(reply);
                break 'outer;
            }
            if reply.code != 535 {
                break;
            }
        }
    }
    // By now the address must wait, even with the right password.
    let reply = match refused {
        Some(reply) => reply,
        None => {
            let (mut client, _) = Client::connect(agent.port);
            client.cmd("EHLO brute.example");
            client.login(AGENT_USER, AGENT_PASSWORD)
        }
    };
    assert_eq!(reply.code, 454, "{reply:?}\n{}", agent.log());
    assert!(reply.text.contains("try again in"), "{reply:?}");
    // The log reader may be a moment behind the reply.
    wait_for(Duration::from_secs(5), || {
        agent.log().contains("login attempt refused")
    });
    let log = agent.log();
    assert!(
        log.contains("login failed for user \"mailseal\": wrong password"),
        "{log}"
    );
    assert!(log.contains("failed logins from 127.0.0.1"), "{log}");
    assert!(log.contains("login attempt refused"), "{log}");
    assert!(!log.contains("guess"), "{log}");
    let (mut client, _) = Client::connect(agent.port);
    client.cmd("EHLO brute.example");
    let reply = client.login("nobody", "x");
    if reply.code == 535 {
        assert!(agent.log().contains("user \"nobody\": unknown user"));
    }
}

#[test]
fn a_session_ends_at_its_total_time_limit_however_busy() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "session_timeout_secs = 2\n");
    let agent = helpers::start(&home);
    let (mut client, _) = Client::connect(agent.port);
    // A NOOP loop never idles; at most 10 s of it.
    let mut last = None;
    for _ in 0..100 {
        let reply = client.cmd("NOOP");
        if reply.code != 250 {
            last = Some(reply);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let reply = last.expect("the NOOP loop was never cut off");
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(reply.text.contains("time limit"), "{reply:?}");
    assert!(
        wait_for(Duration::from_secs(5), || agent
            .log()
            .contains("session time limit of 2s reached")),
        "{}",
        agent.log()
    );
    // A slowloris DATA is cut off the same way.
    let mut client = Client::secure_login(agent.port, &agent.cert);
    assert_eq!(client.cmd("MAIL FROM:<alice@example.org>").code, 250);
    assert_eq!(client.cmd("RCPT TO:<bob@example.net>").code, 250);
    assert_eq!(client.cmd("DATA").code, 354);
    let mut end = None;
    for _ in 0..100 {
        client.send(b"X-Slow: 1\r\n");
        std::thread::sleep(Duration::from_millis(100));
        if agent.log().matches("session time limit").count() >= 2 {
            end = Some(client.reply());
            break;
        }
    }
    let reply = end.expect("the slow DATA was never cut off");
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(upstream.messages().is_empty());
}

#[test]
fn implicit_tls_listener_takes_submissions() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "listen_implicit = \"127.0.0.1:0\"\n");
    let agent = helpers::start(&home);
    let port = helpers::implicit_port(&agent);
    let mut settings = client_settings(&agent);
    settings.tls = Tls::Implicit;
    settings.port = port;
    settings.connect_to = Some(format!("127.0.0.1:{port}"));
    let tx = Transaction {
        from: "alice@example.org".into(),
        to: vec!["bob@example.net".into()],
        data: b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: ssl\r\n\r\nover implicit TLS\r\n".to_vec().into(),
    };
    let outcome = submit::submit_blocking(&settings, &[tx]).expect("implicit TLS submission");
    assert!(outcome.transport.tls_version.starts_with("TLSv1."));
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().len() == 1),
        "{}",
        agent.log()
    );
    assert!(wait_for(Duration::from_secs(5), || agent
        .log()
        .contains(": implicit tls, user mailseal")));
}

#[test]
fn verbose_log_shows_the_dialogue_with_auth_redacted_and_every_line_has_a_time() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let mut command = home.command(&["agent", "-v", "--listen", "127.0.0.1:0"]);
    command.env("TEST_PW", smtp::PASSWORD);
    let mut agent = AgentProc::spawn(command, home.path());
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: v\r\n\r\nbody-not-logged\r\n",
    );
    assert_eq!(reply.code, 250);
    client.cmd("QUIT");
    assert!(wait_for(Duration::from_secs(20), || upstream
        .messages()
        .len()
        == 1));
    assert_eq!(agent.terminate(), 0);
    let log = agent.log();
    assert!(log.contains(": C: AUTH PLAIN [redacted]"), "{log}");
    assert!(log.contains(": S: 235 2.7.0"), "{log}");
    assert!(log.contains(": C: MAIL FROM:<alice@example.org>"), "{log}");
    assert!(log.contains(": C: [message data, "), "{log}");
    assert!(!log.contains("body-not-logged"), "{log}");
    assert!(!log.contains(AGENT_PASSWORD) && !log.contains(smtp::PASSWORD));
    let token = base64_plain(AGENT_USER, AGENT_PASSWORD);
    assert!(!log.contains(&token), "{log}");
    for line in log.lines().filter(|l| l.contains("mailseal agent:")) {
        // 2026-12-01T06:48:42.123Z mailseal agent: ...
        let stamp = line.split(' ').next().unwrap();
        assert!(
            stamp.len() == 24 && stamp.as_bytes()[10] == b'T' && stamp.ends_with('Z'),
            "no RFC 3339 time: {line}"
        );
    }
}

fn base64_plain(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

#[test]
fn log_file_gets_the_log() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream, "plain", "");
    let log_file = home.file("agent.log");
    let mut child = home
        .command(&[
            "agent",
            "--listen",
            "127.0.0.1:0",
            "--log-file",
            log_file.to_str().unwrap(),
        ])
        .env("AGENT_PW", AGENT_PASSWORD)
        .env("TEST_PW", smtp::PASSWORD)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log_file).unwrap_or_default();
    let listening = wait_for(Duration::from_secs(30), || {
        read().contains("listening on 127.0.0.1:")
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let done = wait_for(Duration::from_secs(40), || {
        child.try_wait().unwrap().is_some()
    });
    if !done {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    assert!(listening, "{}", read());
    assert!(read().contains("stopped; 0 messages queued"), "{}", read());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0);
}

#[test]
fn deeply_nested_mime_does_not_take_the_agent_down() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    // Sealing may take long (the MIME walk is quadratic in a debug build);
    // what matters is how it ends, not when.
    let home = agent_home(
        &upstream,
        "encrypt-if-possible",
        "seal_timeout_secs = 600\n",
    );
    home.import_key("alice");
    home.import_cert("bob");
    let agent = helpers::start(&home);
    // 3,000 nested multiparts around 8-bit text, which signing re-encodes:
    // deep enough to overflow a 2 MiB thread stack.
    let depth = 3_000;
    let mut message =
        b"From: alice@example.org\r\nTo: carol@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
            .to_vec();
    for i in 0..depth {
        message.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    message.extend_from_slice(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ndeep inside \u{e9}\r\n"
            .as_bytes(),
    );
    for i in (0..depth).rev() {
        message.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    // Carol has no key: the message is signed.
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message("alice@example.org", &["carol@example.com"], &message);
    // Sealed, refused as too deep, or still sealing when the client gives
    // up (code 0): any answer, as long as the agent lives on.
    assert!(
        matches!(reply.code, 250 | 451 | 554 | 0),
        "{reply:?}\n{}",
        agent.log()
    );
    drop(client);
    assert!(
        wait_for(Duration::from_secs(300), || {
            let log = agent.log();
            log.contains("closed:") || log.contains("overflowed")
        }) && agent.log().contains("closed:"),
        "the deep message's connection never ended (the agent died?):\n{}",
        agent.log()
    );
    let mut next = Client::secure_login(agent.port, &agent.cert);
    let reply = next.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: next\r\n\r\nthe next client\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}\n{}", agent.log());
    assert!(
        wait_for(Duration::from_secs(20), || upstream.messages().iter().any(
            |m| m.to == ["bob@example.net"] && m.data.contains("multipart/encrypted")
        )),
        "{}",
        agent.log()
    );
}

#[test]
fn a_delivery_that_cannot_be_recorded_stops_instead_of_sending_twice() {
    // Copy 1 (Bob) is accepted, Carol (a Bcc: copy 2) is deferred by the
    // relay, and recording copy 1 fails: the message must not be sent to
    // Bob again at the retry.
    let upstream = Server::start(
        Mode::Starttls,
        CertKind::Good,
        Some(("RCPT TO:<carol", "451 4.3.0 try later")),
    );
    let port = free_port();
    let home = Home::new();
    write_config(&home, port, &upstream.ca_file, "plain", "");
    let mut agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net", "carol@example.com"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: once\r\n\r\nonly once\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let id = queue_json(&home)[0]["id"].as_str().unwrap().to_string();
    assert!(wait_for(Duration::from_secs(20), || {
        queue_json(&home)[0]["attempts"].as_u64().unwrap_or(0) >= 1
    }));
    assert_eq!(agent.terminate(), 0);
    // The state cannot be replaced any more: a non-empty directory where
    // the state file goes (works for root too, unlike a read-only mode).
    let state = home.path().join(format!("spool/queue/{id}.state"));
    let _ = std::fs::remove_file(&state);
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("x"), b"").unwrap();
    write_config(&home, upstream.port, &upstream.ca_file, "plain", "");
    let agent = helpers::start(&home);
    assert!(
        wait_for(Duration::from_secs(20), || agent.log().contains("HELD")),
        "{}",
        agent.log()
    );
    // Retries (every 1-2 s) and a flush do not send Bob's copy again.
    home.run(&["queue", "flush"], b"").ok();
    std::thread::sleep(Duration::from_secs(4));
    let to_bob = upstream
        .messages()
        .iter()
        .filter(|m| m.to == ["bob@example.net"])
        .count();
    assert_eq!(to_bob, 1, "{}", agent.log());
    let log = agent.log();
    assert!(log.contains("could not be recorded"), "{log}");
    assert!(log.contains(&format!("mailseal queue retry {id}")), "{log}");
    assert_eq!(queue_json(&home)[0]["id"], id.as_str());
}

#[test]
fn queue_list_shows_a_queue_file_with_a_corrupt_header_as_damaged() {
    let home = Home::new();
    let queue = home.path().join("spool/queue");
    std::fs::create_dir_all(&queue).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for dir in ["spool", "spool/queue"] {
        std::fs::set_permissions(
            home.path().join(dir),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
    }
    let id = "19ab3c0f2e1a4b5c6d7";
    std::fs::write(
        queue.join(format!("{id}.msg")),
        b"mailseal-spool 1\n{\"id\": broken\nFrom: a\r\n\r\nx\r\n",
    )
    .unwrap();
    let list = home.run(&["queue", "list"], b"").ok().stdout_text();
    assert!(list.contains(id) && list.contains("DAMAGED"), "{list}");
    let json = queue_json(&home);
    assert_eq!(json[0]["id"], id);
    assert!(json[0]["damaged"]
        .as_str()
        .unwrap()
        .contains("not a spool file"));
}

#[test]
fn symlinked_spool_paths_are_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(elsewhere.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for name in ["queue", "tmp", "lock"] {
        let upstream_port = free_port();
        let home = Home::new();
        write_config(&home, upstream_port, &home.file("none.pem"), "plain", "");
        // The agent makes its spool once.
        home.run(&["queue", "list"], b"").ok();
        let path = home.path().join("spool").join(name);
        if path.is_dir() {
            std::fs::remove_dir(&path).unwrap();
        } else {
            let _ = std::fs::remove_file(&path);
        }
        std::os::unix::fs::symlink(elsewhere.path(), &path).unwrap();
        let mut command = home.command(&["agent", "--listen", "127.0.0.1:0"]);
        command
            .env("AGENT_PW", AGENT_PASSWORD)
            .env("TEST_PW", smtp::PASSWORD);
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{name}: {stderr}");
        assert!(stderr.contains("symbolic link"), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("spool/{name}")),
            "{name}: {stderr}"
        );
    }
    // Nothing was written through the links.
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn permanent_failure_sends_the_sender_a_signed_delivery_report() {
    let upstream = Server::start(
        Mode::Starttls,
        CertKind::Good,
        Some(("RCPT TO:<bob", "550 5.1.1 <bob@example.net>: no such user")),
    );
    let home = agent_home(&upstream, "encrypt-if-possible", "");
    home.import_key("alice");
    home.import_cert("bob");
    let agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message(
        "alice@example.org",
        &["bob@example.net"],
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: to nobody\r\n\r\nnot delivered\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(
        wait_for(Duration::from_secs(20), || upstream
            .messages()
            .iter()
            .any(|m| m.to == ["alice@example.org"])),
        "{}",
        agent.log()
    );
    let report = upstream.messages().remove(0);
    assert_eq!(report.from, "", "reports go out with the null sender");
    assert!(upstream.saw("MAIL FROM:<>"));
    // Alice has a key: the report is sealed to her and signed by it.
    assert!(
        report.data.contains("multipart/encrypted"),
        "{}",
        report.data
    );
    let opened = home.run(&["decrypt"], report.data.as_bytes()).ok();
    let text = opened.stdout_text();
    assert!(text.contains("multipart/report"), "{text}");
    assert!(text.contains("report-type=delivery-status"), "{text}");
    assert!(
        text.contains("Final-Recipient: rfc822; bob@example.net"),
        "{text}"
    );
    assert!(text.contains("Action: failed"), "{text}");
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1"), "{text}");
    assert!(text.contains("text/rfc822-headers"), "{text}");
    assert!(
        opened.stderr.to_lowercase().contains("good signature"),
        "{}",
        opened.stderr
    );

    // The failed message stays listed, with the report (the report is
    // queued, and may be delivered, before the message moves to failed/).
    let listed = || home.run(&["queue", "list"], b"").ok().stdout_text();
    assert!(
        wait_for(Duration::from_secs(10), || {
            let list = listed();
            list.contains("FAILED") && list.contains("delivery report")
        }),
        "{}",
        listed()
    );

    // A bounce that fails gets no report of its own (never to <>).
    let reply = client.message("", &["bob@example.net"], BOUNCE);
    assert_eq!(reply.code, 250, "{reply:?}");
    assert!(wait_for(Duration::from_secs(20), || {
        queue_json(&home)
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["status"] == "failed")
            .count()
            == 2
    }));
    std::thread::sleep(Duration::from_secs(2));
    let to_alice = upstream
        .messages()
        .iter()
        .filter(|m| m.to == ["alice@example.org"])
        .count();
    assert_eq!(to_alice, 1, "{}", agent.log());
}
