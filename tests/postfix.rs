//! Postfix 3.7 in front of `mailseal agent`, as README "Postfix in front
//! of the agent" sets it up: Postfix relays through the agent
//! (`relayhost`), pins the agent's certificate
//! (`smtp_tls_security_level = fingerprint`), and the agent relays to the
//! upstream test server (tests/common/smtp.rs).
//!
//! Each test runs a private Postfix instance: its own configuration,
//! queue and log in a temporary directory, Unix-domain services only (no
//! listening port), mail injected with Postfix's own `sendmail -C`. Debian's
//! system instance is never configured or started. Postfix's master must
//! run as root, so these tests need root (CI runs as root); they fail, not
//! skip, without it.

#[path = "common/agent_client.rs"]
mod client;
mod common;
#[path = "common/agent.rs"]
mod helpers;
#[path = "common/smtp.rs"]
mod smtp;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{run_bounded, Home};
use helpers::{wait_for, AgentProc};
use smtp::{CertKind, Mode, Received, Server};

/// The services of Debian's master.cf that a relay-only Postfix uses, none
/// chrooted and none listening on a port.
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// A running private Postfix instance; stopped when dropped.
struct Postfix {
    dir: tempfile::TempDir,
}

impl Postfix {
    /// Starts Postfix relaying everything to the agent at
    /// `[127.0.0.1]:agent_port`, trusting exactly the certificate whose
    /// SHA-256 fingerprint is `fingerprint`.
    fn start(agent_port: u16, fingerprint: &str) -> Postfix {
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "tests/postfix.rs runs a private Postfix instance, whose master must run as root: run the tests as root (as CI does)"
        );
        assert!(
            Path::new("/usr/sbin/postfix").exists(),
            "Postfix is not installed: run .ci/run (it installs Debian's postfix without configuring it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        // Postfix's daemons (user postfix) must reach the queue.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        std::fs::create_dir(path.join("queue")).unwrap();
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
myhostname = postfix.test.example
mydomain = test.example
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
local_transport = error:no local delivery
relayhost = [127.0.0.1]:{agent_port}
smtp_tls_security_level = fingerprint
smtp_tls_fingerprint_digest = sha256
smtp_tls_fingerprint_cert_match = {fingerprint}
smtp_tls_loglevel = 1
",
            dir = path.display(),
        );
        std::fs::write(path.join("main.cf"), main_cf).unwrap();
        std::fs::write(path.join("master.cf"), MASTER_CF).unwrap();
        let postfix = Postfix { dir };
        let start = postfix.control("start");
        assert_eq!(
            start.code,
            0,
            "postfix start: {}\n{}",
            start.stderr,
            postfix.log()
        );
        postfix
    }

    /// `postfix -c DIR COMMAND`.
    fn control(&self, command: &str) -> common::Run {
        let mut postfix = Command::new("/usr/sbin/postfix");
        postfix.arg("-c").arg(self.dir.path()).arg(command);
        run_bounded(postfix, b"")
    }

    /// Injects `message` with Postfix's sendmail, as a local program would.
    fn sendmail(&self, sender: &str, recipient: &str, message: &[u8]) {
        let mut sendmail = Command::new("/usr/sbin/sendmail");
        sendmail
            .arg("-C")
            .arg(self.dir.path())
            .args(["-f", sender, "-i", "--", recipient]);
        let run = run_bounded(sendmail, message);
        assert_eq!(run.code, 0, "Postfix's sendmail: {}", run.stderr);
    }

    /// Postfix's log so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.control("stop");
    }
}

/// The SHA-256 fingerprint of the agent's certificate as `mailseal agent
/// info` gives it (`AB:CD:...`), which is what Postfix's
/// `smtp_tls_fingerprint_cert_match` takes.
fn agent_fingerprint(home: &Home) -> String {
    let run = home.run(&["agent", "info", "--json"], b"").ok();
    let info: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    info["certificate_sha256"].as_str().unwrap().to_string()
}

/// A home with Alice's key and Bob's certificate whose agent relays to
/// `upstream` under `require-encryption` and takes mail from Postfix
/// without a login (allowed on loopback only).
fn agent_home(upstream: &Server) -> Home {
    let home = Home::new();
    helpers::write_config(
        &home,
        upstream.port,
        &upstream.ca_file,
        "require-encryption",
        "auth = \"none\"\n",
    );
    home.import_key("alice");
    home.import_cert("bob");
    home
}

/// Postfix → agent → upstream: Postfix pins `pin`, or when `None` the
/// agent's real certificate.
fn chain(pin: Option<String>) -> (Server, Home, AgentProc, Postfix) {
    let upstream = Server::start(Mode::Starttls, CertKind::Good, None);
    let home = agent_home(&upstream);
    let agent = helpers::start(&home);
    let pin = pin.unwrap_or_else(|| agent_fingerprint(&home));
    let postfix = Postfix::start(agent.port, &pin);
    (upstream, home, agent, postfix)
}

/// Waits until `upstream` has `n` messages.
#[track_caller]
fn delivered(upstream: &Server, agent: &AgentProc, postfix: &Postfix, n: usize) -> Vec<Received> {
    assert!(
        wait_for(Duration::from_secs(30), || upstream.messages().len() >= n),
        "{} of {n} delivered\nagent:\n{}\npostfix:\n{}",
        upstream.messages().len(),
        agent.log(),
        postfix.log()
    );
    upstream.messages()
}

const TO_BOB: &[u8] = b"From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: Through Postfix\n\nThe quarterly numbers, sealed by the agent behind Postfix.\n";

#[test]
fn postfix_relays_through_the_agent_which_seals_over_pinned_tls() {
    let (upstream, _home, agent, postfix) = chain(None);

    postfix.sendmail("alice@example.org", "bob@example.net", TO_BOB);
    let messages = delivered(&upstream, &agent, &postfix, 1);
    let m = &messages[0];
    assert_eq!(m.from, "alice@example.org");
    assert_eq!(m.to, ["bob@example.net"]);
    assert!(m.data.contains("multipart/encrypted"), "{}", m.data);
    assert!(!m.data.contains("quarterly numbers"), "{}", m.data);
    // Postfix spoke TLS to the agent (it pins the agent's certificate) and
    // says it delivered.
    assert!(agent.log().contains(": tls,"), "{}", agent.log());
    assert!(
        wait_for(Duration::from_secs(10), || postfix
            .log()
            .contains("status=sent")),
        "{}",
        postfix.log()
    );
    assert!(
        postfix
            .log()
            .contains("Verified TLS connection established"),
        "{}",
        postfix.log()
    );
}

#[test]
fn a_refused_message_comes_back_as_a_bounce_with_the_null_sender() {
    let (upstream, _home, agent, postfix) = chain(None);

    // No key for nobody@example.net: the agent refuses (require-encryption),
    // Postfix bounces to the envelope sender through the agent again.
    // Alice has a key, so her bounce is encrypted to her; Carol has none,
    // so hers goes out without the returned message (README "Agent").
    let secret = b"Subject: Payroll\nFrom: Alice <alice@example.org>\nTo: nobody@example.net\n\nThe payroll figures that must not leak.\n";
    postfix.sendmail("alice@example.org", "nobody@example.net", secret);
    postfix.sendmail("carol@example.com", "nobody@example.net", secret);

    let messages = delivered(&upstream, &agent, &postfix, 2);
    assert!(
        !upstream.saw("RCPT TO:<nobody@example.net>"),
        "{:?}",
        upstream.events()
    );
    assert!(upstream.saw("MAIL FROM:<>"), "{:?}", upstream.events());
    for m in &messages {
        assert_eq!(m.from, "", "a bounce keeps the null sender");
        assert!(!m.data.contains("payroll figures"), "{}", m.data);
    }
    let to_alice = messages.iter().find(|m| m.to == ["alice@example.org"]);
    let to_alice = to_alice.expect("Alice's bounce");
    assert!(
        to_alice.data.contains("multipart/encrypted"),
        "{}",
        to_alice.data
    );
    let to_carol = messages.iter().find(|m| m.to == ["carol@example.com"]);
    let to_carol = to_carol.expect("Carol's bounce");
    assert!(
        to_carol.data.contains("multipart/report"),
        "{}",
        to_carol.data
    );
    assert!(
        to_carol.data.contains("nobody@example.net"),
        "{}",
        to_carol.data
    );
    assert!(
        !to_carol.data.contains("Subject: Payroll"),
        "{}",
        to_carol.data
    );
    assert!(
        postfix.log().contains("status=bounced"),
        "{}",
        postfix.log()
    );
}

#[test]
fn postfix_sends_nothing_to_an_agent_whose_certificate_it_does_not_pin() {
    // Someone else's certificate on the agent's port looks like this.
    let (upstream, home, agent, postfix) = chain(Some(vec!["00"; 32].join(":")));

    postfix.sendmail("alice@example.org", "bob@example.net", TO_BOB);
    assert!(
        wait_for(Duration::from_secs(30), || postfix
            .log()
            .contains("status=deferred")),
        "{}",
        postfix.log()
    );
    assert!(
        postfix.log().contains("Server certificate not verified"),
        "{}",
        postfix.log()
    );
    assert!(upstream.messages().is_empty(), "{:?}", upstream.messages());
    assert!(
        helpers::spool_files(&home, "queue").is_empty(),
        "{}",
        agent.log()
    );
}
