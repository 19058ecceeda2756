//! The agent's memory does not grow with the size of a message: its data
//! goes to the spool as it arrives, is sealed from there, and is delivered
//! from the queue file piece by piece. Measured as the growth of the agent
//! process's peak resident memory (VmHWM in /proc/PID/status), not time.

#[path = "common/agent_client.rs"]
mod client;
mod common;
#[path = "common/agent.rs"]
mod helpers;
#[path = "common/smtp.rs"]
mod smtp;

use std::time::Duration;

use common::Home;
use helpers::{spool_files, wait_for, AgentProc, Client};
use sha2::{Digest, Sha256};
use smtp::{CertKind, Mode, Server};

/// Under the 10 MB the test relay accepts (`SIZE 10000000`).
const MESSAGE_SIZE: usize = 9_000_000;

/// Peak resident memory of process `pid` so far, in bytes.
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// A message of at least `size` bytes, CRLF lines, some starting with a
/// dot (dot-stuffed on the wire, so unstuffing is part of what arrives).
fn message(subject: &str, size: usize) -> Vec<u8> {
    let mut data = format!(
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: {subject}\r\nDate: Mon, 07 Dec 2026 01:00:00 +0000\r\nMessage-ID: <{subject}@memory.example>\r\n\r\n"
    )
    .into_bytes();
    let mut n = 0u64;
    while data.len() < size {
        let dot = if n.is_multiple_of(7) { "." } else { "" };
        data.extend_from_slice(
            format!(
                "{dot}line {n:09} of a large message, {}\r\n",
                n * 2_654_435_761 % 1_000_003
            )
            .as_bytes(),
        );
        n += 1;
    }
    data
}

/// Sends `data` through `agent` and waits until `upstream` holds
/// `count` messages; returns the last one's data.
fn deliver(agent: &AgentProc, upstream: &Server, data: &[u8], count: usize) -> String {
    let mut client = Client::secure_login(agent.port, &agent.cert);
    let reply = client.message("alice@example.org", &["bob@example.net"], data);
    assert_eq!(reply.code, 250, "{reply:?}\n{}", agent.log());
    client.cmd("QUIT");
    assert!(
        wait_for(Duration::from_secs(60), || upstream.messages().len()
            == count),
        "not delivered:\n{}",
        agent.log()
    );
    upstream.messages().pop().expect("delivered").data
}

#[test]
fn a_large_message_passes_through_the_agent_in_bounded_memory() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = Home::new();
    helpers::write_config(&home, upstream.port, &upstream.ca_file, "plain", "");
    let mut agent = helpers::start(&home);

    // A small message first, so that every path has run once.
    let small = message("small", 4096);
    deliver(&agent, &upstream, &small, 1);
    let before = peak_rss(agent.pid());

    let large = message("large", MESSAGE_SIZE);
    let arrived = deliver(&agent, &upstream, &large, 2);
    let grown = peak_rss(agent.pid()).saturating_sub(before);
    assert_eq!(
        Sha256::digest(arrived.as_bytes()),
        Sha256::digest(&large),
        "the message arrived changed ({} bytes sent, {} arrived)",
        large.len(),
        arrived.len()
    );
    // Holding the message once (as the agent did, before it spooled data
    // as it arrived) would grow it by at least its size.
    assert!(
        grown < MESSAGE_SIZE / 4,
        "the agent's peak memory grew by {grown} bytes for a {MESSAGE_SIZE}-byte message"
    );
    assert!(spool_files(&home, "tmp").is_empty());
    agent.terminate();
}

#[test]
fn a_large_signed_only_copy_is_signed_in_bounded_memory() {
    // Bob has no key here and the policy is sign-only: the copy goes out
    // signed, in clear. Signing reads the message twice, from a temporary
    // file when it is larger than what is kept in memory.
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = Home::new();
    home.import_key("alice");
    helpers::write_config(&home, upstream.port, &upstream.ca_file, "sign-only", "");
    let mut agent = helpers::start(&home);

    deliver(&agent, &upstream, &message("small", 4096), 1);
    let before = peak_rss(agent.pid());

    let large = message("large", MESSAGE_SIZE);
    let arrived = deliver(&agent, &upstream, &large, 2);
    let grown = peak_rss(agent.pid()).saturating_sub(before);
    assert!(
        grown < MESSAGE_SIZE / 4,
        "the agent's peak memory grew by {grown} bytes to sign a {MESSAGE_SIZE}-byte message"
    );
    assert!(
        arrived.contains("multipart/signed") && arrived.len() > MESSAGE_SIZE,
        "not a signed copy of the message: {}",
        &arrived[..arrived.len().min(600)]
    );
    // Bob, who has Alice's certificate, finds the signature good.
    let bob = Home::new();
    bob.import_cert("alice");
    let verified = bob.run(&["verify"], arrived.as_bytes());
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert!(
        verified.stderr.contains("Good signature"),
        "{}",
        verified.stderr
    );
    // One changed byte in the signed text makes it bad.
    let tampered = arrived.replacen("line 000123456", "line 000123457", 1);
    assert_ne!(tampered, arrived);
    assert_eq!(bob.run(&["verify"], tampered.as_bytes()).code, 1);
    assert!(spool_files(&home, "tmp").is_empty());
    agent.terminate();
}

#[test]
fn a_client_leaving_mid_data_leaves_nothing_behind() {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = Home::new();
    helpers::write_config(&home, upstream.port, &upstream.ca_file, "plain", "");
    let mut agent = helpers::start(&home);
    let mut client = Client::secure_login(agent.port, &agent.cert);
    for (line, code) in [
        ("MAIL FROM:<alice@example.org>", 250),
        ("RCPT TO:<bob@example.net>", 250),
        ("DATA", 354),
    ] {
        assert_eq!(client.cmd(line).code, code, "{line}");
    }
    client.send(&message("half", 1_000_000));
    drop(client);
    assert!(
        wait_for(Duration::from_secs(10), || agent
            .log()
            .contains("client disconnected during DATA")),
        "{}",
        agent.log()
    );
    assert!(spool_files(&home, "tmp").is_empty());
    assert!(spool_files(&home, "queue").is_empty());
    assert!(upstream.messages().is_empty());
    agent.terminate();
}
