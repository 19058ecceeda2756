//! Benchmark of `mailseal agent` (DESIGN.md §7: ≥ 300 messages/s sealed
//! and queued, 4 KB messages, 50 concurrent clients). Run it with
//! `benches/agent.sh`, which builds the release binary and passes it in
//! MAILSEAL_BIN.
//!
//! Every client keeps one connection (EHLO, STARTTLS, AUTH once) and sends
//! its messages one after the other; each message is encrypted to Bob and
//! signed by Alice (the shipped test keys). Two phases, each with a fresh
//! home and agent:
//!
//! 1. sealed and queued: the relay accepts connections and never answers,
//!    so every message is sealed, written to the queue and fsynced, while
//!    the agent's few delivery attempts (8 at a time) hang until the end;
//! 2. end to end: the relay is an in-process STARTTLS server
//!    (tests/common/smtp.rs); the clock stops when it holds every message.
//!
//! Reported: messages per second, the p50/p99 latency of the 250 reply
//! (from the client's final "." to the reply), and the agent's peak
//! resident memory (VmHWM). `CLIENTS=20 MESSAGES=1 SIZE=24000000` measures
//! the memory of 20 concurrent 24 MB messages; `END_TO_END=0` skips phase
//! 2 (its relay takes at most 10 MB).

#[path = "../tests/common/agent_client.rs"]
mod client;
#[path = "../tests/common/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{wait_for, AgentProc, Client};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mailseal(bin: &Path, home: &Path, args: &[&str]) {
    let status = Command::new(bin)
        .arg("--home")
        .arg(home)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run mailseal");
    assert!(status.success(), "mailseal {args:?} failed");
}

/// A home with Alice's key and Bob's certificate whose relay is
/// localhost:`port`.
fn home(bin: &Path, root: &Path, name: &str, port: u16, ca_file: &Path, retry: u64) -> PathBuf {
    let home = root.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let config = format!(
        "[relay.default]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\nusername = \"alice\"\npassword = \"env:TEST_PW\"\nca_file = \"{}\"\ntimeout_secs = 10\n\n[agent]\npassword = \"env:AGENT_PW\"\nretry_min_secs = {retry}\ndeliveries = 8\n\n[policy]\ndefault = \"encrypt-if-possible\"\n",
        ca_file.display()
    );
    let path = home.join("config.toml");
    std::fs::write(&path, config).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys");
    mailseal(
        bin,
        &home,
        &[
            "key",
            "import",
            data.join("alice.sec.asc").to_str().unwrap(),
        ],
    );
    mailseal(
        bin,
        &home,
        &["cert", "import", data.join("bob.pub.asc").to_str().unwrap()],
    );
    home
}

fn start(bin: &Path, home: &Path) -> AgentProc {
    let mut command = Command::new(bin);
    command
        .arg("--home")
        .arg(home)
        .args(["--quiet", "agent", "--listen", "127.0.0.1:0"])
        .env("TEST_PW", smtp::PASSWORD);
    AgentProc::spawn(command, home)
}

/// A 4 KB message (headers and body).
fn message(client: usize, n: usize, size: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: benchmark {client}/{n}\r\nMessage-ID: <b{client}.{n}@bench.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    let line = "The quick brown fox jumps over the lazy dog, again and again.\r\n";
    while text.len() + line.len() <= size {
        text.push_str(line);
    }
    text.into_bytes()
}

/// `clients` connections sending `per_client` messages each; returns the
/// wall time and every message's 250 latency.
fn submit_all(
    agent: &AgentProc,
    clients: usize,
    per_client: usize,
    size: usize,
) -> (Duration, Vec<Duration>) {
    let (port, cert) = (agent.port, Arc::new(agent.cert.clone()));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let cert = cert.clone();
            std::thread::spawn(move || {
                let mut client = Client::secure_login(port, &cert);
                let mut latencies = Vec::with_capacity(per_client);
                for n in 0..per_client {
                    let data = client::dot_stuff(&message(c, n, size));
                    for (line, code) in [
                        ("MAIL FROM:<alice@example.org>", 250),
                        ("RCPT TO:<bob@example.net>", 250),
                        ("DATA", 354),
                    ] {
                        let reply = client.cmd(line);
                        assert_eq!(reply.code, code, "{line}: {reply:?}");
                    }
                    client.send(&data);
                    let sent = Instant::now();
                    client.send(b".\r\n");
                    let reply = client.reply();
                    latencies.push(sent.elapsed());
                    assert_eq!(reply.code, 250, "{reply:?}");
                }
                client.cmd("QUIT");
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect();
    let elapsed = started.elapsed();
    latencies.sort();
    (elapsed, latencies)
}

/// Peak resident memory of the process `pid` so far, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU seconds (user + system) the process `pid` has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let bin =
        PathBuf::from(std::env::var("MAILSEAL_BIN").expect("MAILSEAL_BIN: the release mailseal"));
    let clients = env_number("CLIENTS", 50);
    let per_client = env_number("MESSAGES", 40);
    let size = env_number("SIZE", 4096);
    let total = clients * per_client;
    let root = tempfile::tempdir().unwrap();
    println!(
        "mailseal agent benchmark: {clients} clients x {per_client} messages of {size} bytes, encrypted+signed; {} CPUs",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    // 1. Sealed and queued: the relay takes connections and never answers,
    // so the agent's few delivery attempts hang and the rest waits.
    let stalling = smtp::Server::start(smtp::Mode::Stall, smtp::CertKind::Good, None);
    let queued_home = home(
        &bin,
        root.path(),
        "queued",
        stalling.port,
        &stalling.ca_file,
        3600,
    );
    let mut agent = start(&bin, &queued_home);
    let cpu_before = cpu_seconds(agent.pid());
    let (elapsed, latencies) = submit_all(&agent, clients, per_client, size);
    let cpu = cpu_seconds(agent.pid()) - cpu_before;
    let peak = peak_rss_mib(agent.pid());
    agent.terminate();
    println!(
        "sealed and queued: {total} messages in {:.2} s = {:.0} msg/s; 250 latency p50 {:.1} ms, p99 {:.1} ms; agent CPU {:.2} ms/message; agent peak RSS {peak:.0} MiB",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        cpu * 1000.0 / total as f64
    );

    if env_number("END_TO_END", 1) == 0 {
        return;
    }

    // 2. End to end, to a local STARTTLS relay.
    let upstream = smtp::Server::start(smtp::Mode::Starttls, smtp::CertKind::Good, None);
    let e2e_home = home(
        &bin,
        root.path(),
        "e2e",
        upstream.port,
        &upstream.ca_file,
        1,
    );
    let mut agent = start(&bin, &e2e_home);
    let started = Instant::now();
    let (submitted, latencies) = submit_all(&agent, clients, per_client, size);
    let all = wait_for(Duration::from_secs(50), || {
        upstream.messages().len() >= total
    });
    let elapsed = started.elapsed();
    let peak = peak_rss_mib(agent.pid());
    agent.terminate();
    assert!(
        all,
        "only {} of {total} delivered",
        upstream.messages().len()
    );
    println!(
        "end to end: {total} messages submitted in {:.2} s ({:.0} msg/s, 250 latency p50 {:.1} ms, p99 {:.1} ms) and all delivered after {:.2} s = {:.0} msg/s; agent peak RSS {peak:.0} MiB",
        submitted.as_secs_f64(),
        total as f64 / submitted.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}
