//! `mailseal status ADDR`: the protection level of each recipient's copy
//! (end-to-end, verified key / end-to-end / signed only / transport only)
//! with its provenance and warnings, the recipient domain's inbound
//! summary for copies that are not encrypted, and `require_inbound`
//! refusals. Servers run on 127.0.0.1 only.

mod common;
#[path = "common/dns.rs"]
mod common_dns;
#[path = "common/https.rs"]
mod common_https;
#[path = "common/smtp.rs"]
mod smtp;

use std::time::Duration;

use common::*;
use common_dns::{Dns, Entry, Signing};
use common_https::{Https, Reply};
use hickory_server::proto::rr::rdata::{MX, TXT};
use hickory_server::proto::rr::{Name, RData};
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::serialize::SerializeInto;
use serde_json::Value;

const WKD_HOST: &str = "openpgpkey.example.org";
/// The last line of `status` in a home without a relay: hop 1.
const NO_RELAY: &str = "hop 1: relay default: not configured ([relay.default] in config.toml)\n";
const STS_HOST: &str = "mta-sts.example.org";
const STS_PATH: &str = "/.well-known/mta-sts.txt";

fn txt(name: &str, text: &str) -> Entry {
    (
        name.to_string(),
        RData::TXT(TXT::new(vec![text.to_string()])),
    )
}

fn mx(name: &str, host: &str) -> Entry {
    (
        name.to_string(),
        RData::MX(MX::new(10, Name::from_ascii(host).unwrap())),
    )
}

/// example.org's mail goes to mx1.example.org and it has an MTA-STS
/// record; the policy itself is routed by each test.
fn with_mta_sts() -> Vec<Entry> {
    vec![
        mx("example.org.", "mx1.example.org."),
        txt("_mta-sts.example.org.", "v=STSv1; id=20240101T01"),
    ]
}

fn sts_policy(mode: &str) -> Reply {
    Reply::Typed(
        "text/plain",
        format!("version: STSv1\r\nmode: {mode}\r\nmx: *.example.org\r\nmax_age: 86400\r\n")
            .into_bytes(),
    )
}

fn cert_for(userid: &str, validity: Option<Duration>) -> Cert {
    CertBuilder::general_purpose(Some(userid))
        .set_validity_period(validity)
        .generate()
        .unwrap()
        .0
}

/// A DNS server for example.org, an HTTPS server for its WKD and MTA-STS
/// hosts, and a home whose config points at both.
struct World {
    https: Https,
    _dns: Dns,
    home: Home,
}

impl World {
    /// `methods`: the [discovery] methods; `extra`: more config at the end.
    fn new(records: Vec<Entry>, methods: &str, extra: &str) -> World {
        let https = Https::start(&[WKD_HOST, STS_HOST]);
        let dns = Dns::start("example.org.", records, Signing::Trusted);
        let home = Home::new();
        let config = format!(
            "[discovery]\nmethods = [{methods}]\ntimeout_secs = 2\ndnssec_trust_anchor = {:?}\n[network]\nca_file = {:?}\nnameservers = [{:?}]\n[network.resolve]\n{}\n{extra}\n",
            dns.trust_anchor,
            https.ca_file,
            dns.address(),
            https.resolve_toml(&[WKD_HOST, STS_HOST]),
        );
        home.write("config.toml", config.as_bytes());
        World {
            https,
            _dns: dns,
            home,
        }
    }
}

fn status_json(home: &Home, args: &[&str]) -> Value {
    let mut all = vec!["--json", "status"];
    all.extend_from_slice(args);
    let run = home.run(&all, b"").ok();
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", run.stdout_text(), run.stderr))
}

fn status_text(home: &Home, args: &[&str]) -> String {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    home.run(&all, b"").ok().stdout_text()
}

/// The primary key of `cert` (made with its secrets) as a signer.
fn keypair(cert: &Cert) -> sequoia_openpgp::crypto::KeyPair {
    cert.primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap()
}

fn import(home: &Home, cert: &Cert) {
    let path = home.write("import.pgp", &cert.armored().to_vec().unwrap());
    home.run(&["cert", "import", path.to_str().unwrap()], b"")
        .ok();
}

#[test]
fn a_key_imported_by_hand_is_end_to_end_with_the_reason() {
    let home = Home::new();
    home.import_cert("bob");
    let out = status_json(&home, &["bob@example.net"]);
    let r = &out[0];
    assert_eq!(r["verdict"], "encrypt", "{r}");
    assert_eq!(r["level"], "end_to_end");
    assert_eq!(r["level_text"], "end-to-end");
    assert!(r["level_reason"]
        .as_str()
        .unwrap()
        .contains("imported by hand"));
    assert_eq!(r["warnings"][0]["kind"], "unverified_source", "{r}");
    assert_eq!(r["provenance"], Value::Null);
    assert_eq!(r["inbound"], Value::Null);
    assert_eq!(r["policy"], "encrypt-if-possible");
    let fpr = r["fingerprint"].as_str().unwrap();

    let expected = format!(
        "\
bob@example.net: end-to-end (OpenPGP): the key was imported by hand: no source verified that it belongs to this address
    policy encrypt-if-possible; a usable OpenPGP key in the store
    key {fpr}
{NO_RELAY}"
    );
    assert_eq!(status_text(&home, &["bob@example.net"]), expected);
}

#[test]
fn a_key_found_by_wkd_is_a_verified_key() {
    let world = World::new(vec![], "\"store\", \"wkd\"", "");
    let bob = cert_for("Bob <bob@example.org>", None);
    let url = sequoia_net::wkd::Url::from("bob@example.org").unwrap();
    let advanced = url.to_url(sequoia_net::wkd::Variant::Advanced).unwrap();
    let path = format!("{}?{}", advanced.path(), advanced.query().unwrap());
    world
        .https
        .route(WKD_HOST, &path, Reply::Body(bob.to_vec().unwrap()));

    // The human report first: this lookup imports the key.
    let text = status_text(&world.home, &["bob@example.org"]);
    let out = status_json(&world.home, &["bob@example.org"]);
    let r = &out[0];
    assert_eq!(r["verdict"], "encrypt", "{r}");
    assert_eq!(r["level"], "end_to_end_verified_key");
    assert_eq!(r["level_text"], "end-to-end, verified key");
    assert_eq!(r["level_reason"], Value::Null);
    assert_eq!(r["warnings"], Value::Array(vec![]));
    assert_eq!(r["technology"], "openpgp");
    // Now from the store, still verified by its provenance.
    assert_eq!(r["found_by"], "store");
    let p = &r["provenance"];
    assert_eq!(p["method"], "wkd", "{r}");
    assert_eq!(p["verifies_address"], true);
    let fpr = bob.fingerprint().to_hex();
    assert_eq!(r["fingerprint"], fpr.as_str());

    let expected = format!(
        "\
bob@example.org: end-to-end, verified key (OpenPGP)
    policy encrypt-if-possible; a usable OpenPGP key, found via wkd
    key {fpr} via wkd {} at {}
{NO_RELAY}",
        p["source"].as_str().unwrap(),
        p["fetched_at"].as_str().unwrap()
    );
    assert_eq!(text, expected);
}

#[test]
fn without_a_key_the_copy_is_signed_only_or_transport_only() {
    let home = Home::new();
    let r = &status_json(&home, &["carol@example.net"])[0];
    assert_eq!(r["verdict"], "plain", "{r}");
    assert_eq!(r["level"], "transport_only");
    assert_eq!(r["level_text"], "transport only");
    assert_eq!(r["technology"], Value::Null);
    // [discovery] methods = ["store"]: no inbound check on the network.
    assert_eq!(r["inbound"], Value::Null);
    let reason = r["reason"].as_str().unwrap().to_string();
    assert_eq!(
        status_text(&home, &["carol@example.net"]),
        format!("carol@example.net: transport only\n    policy encrypt-if-possible; {reason}\n{NO_RELAY}")
    );

    // With a signing key, the same copy is signed.
    home.import_key("alice");
    let r = &status_json(&home, &["carol@example.net"])[0];
    assert_eq!(r["verdict"], "sign", "{r}");
    assert_eq!(r["level"], "signed_only");
    assert_eq!(
        status_text(&home, &["carol@example.net"]),
        format!(
            "carol@example.net: signed only\n    policy encrypt-if-possible; {reason}\n{NO_RELAY}"
        )
    );
    // ... unless the sender named has none.
    let r = &status_json(
        &home,
        &["--from", "nobody@example.org", "carol@example.net"],
    )[0];
    assert_eq!(r["level"], "transport_only", "{r}");
    let r = &status_json(&home, &["--from", "alice@example.org", "carol@example.net"])[0];
    assert_eq!(r["level"], "signed_only", "{r}");

    // Policy in the config's own spelling.
    home.write(
        "config.toml",
        b"[policy.recipients]\n\"@example.net\" = \"plain\"\n",
    );
    home.import_cert("bob");
    let text = status_text(&home, &["bob@example.net"]);
    assert!(
        text.starts_with("bob@example.net: transport only\n    policy plain; "),
        "{text}"
    );
}

#[test]
fn a_copy_without_a_key_shows_how_exposed_it_is_on_the_way_in() {
    // No MTA-STS, no DANE: can be downgraded.
    let world = World::new(
        vec![mx("example.org.", "mx1.example.org.")],
        "\"store\", \"wkd\"",
        "",
    );
    let r = &status_json(&world.home, &["carol@example.org"])[0];
    assert_eq!(r["level"], "transport_only", "{r}");
    assert_eq!(r["inbound"]["domain"], "example.org");
    assert_eq!(r["inbound"]["summary"], "can_be_downgraded");
    let text = status_text(&world.home, &["carol@example.org"]);
    assert!(
        text.starts_with("carol@example.org: transport only; inbound mail to example.org can be downgraded (no MTA-STS policy and no DNSSEC-signed TLSA records)\n"),
        "{text}"
    );

    // MTA-STS enforce.
    let world = World::new(with_mta_sts(), "\"store\", \"wkd\"", "");
    world.https.route(STS_HOST, STS_PATH, sts_policy("enforce"));
    let r = &status_json(&world.home, &["carol@example.org"])[0];
    assert_eq!(r["inbound"]["summary"], "protected_by_mta_sts", "{r}");
    assert_eq!(
        r["inbound"]["summary_text"],
        "protected by MTA-STS (enforce)"
    );
}

#[test]
fn a_key_expiring_within_30_days_is_warned_about() {
    let home = Home::new();
    let dave = cert_for(
        "Dave <dave@example.net>",
        Some(Duration::from_secs(10 * 86_400)),
    );
    import(&home, &dave);
    let r = &status_json(&home, &["dave@example.net"])[0];
    assert_eq!(r["level"], "end_to_end", "{r}");
    let warnings = r["warnings"].as_array().unwrap();
    let expiry = warnings
        .iter()
        .find(|w| w["kind"] == "expires_soon")
        .unwrap_or_else(|| panic!("{r}"));
    let text = expiry["text"].as_str().unwrap();
    assert!(text.starts_with("the key expires in 9 days ("), "{text}");
    let human = status_text(&home, &["dave@example.net"]);
    assert!(
        human.ends_with(&format!("    warning: {text}\n{NO_RELAY}")),
        "{human}"
    );

    // A key valid for a year: no warning.
    let erin = cert_for("erin@example.net", Some(Duration::from_secs(365 * 86_400)));
    import(&home, &erin);
    let r = &status_json(&home, &["erin@example.net"])[0];
    assert!(
        !r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "expires_soon"),
        "{r}"
    );
}

#[test]
fn require_inbound_refuses_a_copy_to_a_domain_that_can_be_downgraded() {
    let require = |what: &str| {
        format!("[policy.recipients]\n\"@example.org\" = {{ require_inbound = \"{what}\" }}\n")
    };
    // Only the store: the check runs anyway because the policy asks for it.
    let world = World::new(with_mta_sts(), "\"store\"", &require("mta-sts"));
    world.https.route(STS_HOST, STS_PATH, sts_policy("testing"));
    let r = &status_json(&world.home, &["carol@example.org"])[0];
    assert_eq!(r["verdict"], "refuse", "{r}");
    assert_eq!(r["level"], Value::Null);
    assert_eq!(r["require_inbound"], "mta-sts");
    assert_eq!(r["inbound"]["summary"], "can_be_downgraded");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("require_inbound = \"mta-sts\" refuses a copy that is not encrypted: inbound mail to example.org can be downgraded (MTA-STS is in testing mode"),
        "{reason}"
    );
    let text = status_text(&world.home, &["carol@example.org"]);
    let expected = format!(
        "\
carol@example.org: refused: nothing would be sent
    policy encrypt-if-possible, require_inbound mta-sts; {reason}
    inbound mail to example.org can be downgraded (MTA-STS is in testing mode, which only reports failures)
{NO_RELAY}"
    );
    assert_eq!(text, expected);

    // A recipient with a key is encrypted: require_inbound does not apply.
    let bob = cert_for("bob@example.org", None);
    import(&world.home, &bob);
    let r = &status_json(&world.home, &["bob@example.org"])[0];
    assert_eq!(r["verdict"], "encrypt", "{r}");
    assert_eq!(r["inbound"], Value::Null);

    // MTA-STS enforce meets "mta-sts": the copy goes out, transport only,
    // and says why.
    let world = World::new(with_mta_sts(), "\"store\"", &require("mta-sts"));
    world.https.route(STS_HOST, STS_PATH, sts_policy("enforce"));
    let r = &status_json(&world.home, &["carol@example.org"])[0];
    assert_eq!(r["verdict"], "plain", "{r}");
    assert_eq!(r["level"], "transport_only");
    assert_eq!(r["inbound"]["summary"], "protected_by_mta_sts");
    assert!(
        r["reason"].as_str().unwrap().starts_with(
            "require_inbound = \"mta-sts\" is met: inbound mail to example.org protected by MTA-STS (enforce)"
        ),
        "{r}"
    );

    // ... but not "dane".
    let world = World::new(with_mta_sts(), "\"store\"", &require("dane"));
    world.https.route(STS_HOST, STS_PATH, sts_policy("enforce"));
    let r = &status_json(&world.home, &["carol@example.org"])[0];
    assert_eq!(r["verdict"], "refuse", "{r}");
    assert!(r["reason"]
        .as_str()
        .unwrap()
        .starts_with("require_inbound = \"dane\" refuses"));
}

/// `mailseal send MESSAGE` with the relay password, and `--json` first
/// when `json`.
fn send(home: &Home, json: bool, message: &[u8]) -> Run {
    let mut args = vec!["send", "-v"];
    if json {
        args.insert(0, "--json");
    }
    let mut command = home.command(&args);
    command.env("TEST_PW", smtp::PASSWORD);
    run_bounded(command, message)
}

const TO_CAROL: &[u8] =
    b"From: alice@example.net\r\nTo: carol@example.org\r\nSubject: s\r\n\r\nhello\r\n";

#[test]
fn sending_enforces_require_inbound_and_reports_the_level_of_each_copy() {
    let require = "[policy.recipients]\n\"@example.org\" = { require_inbound = \"mta-sts\" }\n";
    let server = smtp::Server::start(smtp::Mode::Starttls, smtp::CertKind::Good, None);
    let relay = server.relay_config("starttls", "encrypt-if-possible", "");

    // MTA-STS in testing mode can be downgraded: refused, nothing sent.
    let world = World::new(with_mta_sts(), "\"store\"", &format!("{relay}{require}"));
    world.https.route(STS_HOST, STS_PATH, sts_policy("testing"));
    let run = send(&world.home, false, TO_CAROL);
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert!(
        run.stderr.contains("not sending to carol@example.org without end-to-end encryption: there is no usable key, and require_inbound = \"mta-sts\" is not met: inbound mail to example.org can be downgraded (MTA-STS is in testing mode"),
        "{}",
        run.stderr
    );
    server.assert_nothing_sent();

    // Enforce meets it: the copy goes out, transport only, and says so.
    let world = World::new(with_mta_sts(), "\"store\"", &format!("{relay}{require}"));
    world.https.route(STS_HOST, STS_PATH, sts_policy("enforce"));
    let run = send(&world.home, true, TO_CAROL);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let r = &report["recipients"][0];
    assert_eq!(r["level"], "transport_only", "{r}");
    assert_eq!(r["inbound"]["summary"], "protected_by_mta_sts", "{r}");
    assert!(
        run.stderr.contains("mailseal: carol@example.org: transport only; inbound mail to example.org protected by MTA-STS (enforce)"),
        "{}",
        run.stderr
    );
    assert_eq!(server.messages().len(), 1);

    // A recipient with a key imported by hand: end-to-end, with the
    // reason; the key is remembered, and a different one is warned about.
    let bob = cert_for("bob@example.org", None);
    import(&world.home, &bob);
    let to_bob = b"From: alice@example.net\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nhi\r\n";
    let run = send(&world.home, true, to_bob);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let r = &report["recipients"][0];
    assert_eq!(r["level"], "end_to_end", "{r}");
    assert_eq!(r["level_text"], "end-to-end");
    assert_eq!(r["fingerprint"], bob.fingerprint().to_hex());
    assert!(r["level_reason"]
        .as_str()
        .unwrap()
        .starts_with("the key was imported by hand"));
    assert_eq!(r["warnings"][0]["kind"], "unverified_source", "{r}");
    let remembered =
        std::fs::read_to_string(world.home.path().join("recipient-keys.json")).unwrap();
    assert!(
        remembered.contains(&bob.fingerprint().to_hex()),
        "{remembered}"
    );

    world.home.write(
        "recipient-keys.json",
        br#"{"bob@example.org": "0123456789ABCDEF0123456789ABCDEF01234567"}"#,
    );
    let r = &status_json(&world.home, &["bob@example.org"])[0];
    assert_eq!(r["warnings"][1]["kind"], "key_changed", "{r}");
    let run = send(&world.home, false, to_bob);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("mailseal: bob@example.org: end-to-end (the key was imported by hand: no source verified that it belongs to this address); warning: the key changed since the last message sealed to this address (it was 0123456789ABCDEF0123456789ABCDEF01234567)"), "{}", run.stderr);
}

#[test]
fn json_fields_of_a_recipient() {
    let home = Home::new();
    let r = &status_json(&home, &["carol@example.net"])[0];
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "address",
            "certified_by",
            "fingerprint",
            "found_by",
            "from_domain",
            "hop1",
            "inbound",
            "level",
            "level_reason",
            "level_text",
            "policy",
            "provenance",
            "reason",
            "require_inbound",
            "technology",
            "verdict",
            "warnings"
        ]
    );
    // Hop 1: the relay send would use, and its last successful use.
    assert_eq!(
        r["hop1"],
        serde_json::json!({"relay": "default", "configured": false, "last": null})
    );
}

#[test]
fn the_from_domain_gets_a_line_and_recipients_come_riskiest_first() {
    let records = vec![
        mx("example.org.", "mx1.example.org."),
        txt("example.org.", "v=spf1 mx -all"),
        txt("_dmarc.example.org.", "v=DMARC1; p=none"),
    ];
    // The From domain is checked only when the network may be used.
    let home = Home::new();
    let text = status_text(&home, &["--from", "alice@example.org", "carol@example.net"]);
    assert!(
        text.ends_with("from example.org: not checked ([discovery] uses only the store, so nothing goes to the network; `mailseal status --domain example.org` checks it)\n"),
        "{text}"
    );
    let world = World::new(records, "\"store\", \"wkd\"", "");
    let bob = cert_for("bob@example.org", None);
    import(&world.home, &bob);
    let text = status_text(
        &world.home,
        &[
            "--from",
            "alice@example.org",
            "bob@example.org",
            "carol@example.org",
        ],
    );
    // carol (transport only) before bob (end-to-end), given the other way.
    let carol = text.find("carol@example.org: transport only").expect(&text);
    let bob_at = text.find("bob@example.org: end-to-end").expect(&text);
    assert!(carol < bob_at, "{text}");
    let from = &text[text.find("from example.org:").expect(&text)..];
    assert!(
        from.starts_with(
            "from example.org: SPF ok, DMARC weak, DKIM missing, BIMI absent\n    DKIM missing: "
        ),
        "{from}"
    );
    assert!(from.contains("    DMARC weak: "), "{from}");
    let r = &status_json(
        &world.home,
        &["--from", "alice@example.org", "carol@example.org"],
    )[0];
    assert_eq!(r["from_domain"]["domain"], "example.org", "{r}");
    assert_eq!(r["from_domain"]["checks"]["dmarc"]["status"], "weak", "{r}");

    // Colour on a terminal (util-linux `script` gives the child one),
    // none with NO_COLOR set to anything but "" or with TERM=dumb.
    let on_terminal = |no_color: Option<&str>, term: &str| {
        let line = format!(
            "{} --home {} status carol@example.org",
            env!("CARGO_BIN_EXE_mailseal"),
            world.home.path().display()
        );
        let mut command = std::process::Command::new("script");
        command.args(["-qec", &line, "/dev/null"]).env("TERM", term);
        match no_color {
            Some(value) => command.env("NO_COLOR", value),
            None => command.env_remove("NO_COLOR"),
        };
        run_bounded(command, b"").ok().stdout_text()
    };
    for (no_color, term) in [(None, "xterm"), (Some(""), "xterm")] {
        let coloured = on_terminal(no_color, term);
        assert!(
            coloured.contains("carol@example.org: \x1b[31mtransport only"),
            "{no_color:?} {term}: {coloured:?}"
        );
    }
    for (no_color, term) in [(Some("1"), "xterm"), (None, "dumb")] {
        let plain = on_terminal(no_color, term);
        assert!(!plain.contains('\x1b'), "{no_color:?} {term}: {plain:?}");
        assert!(
            plain.contains("carol@example.org: transport only"),
            "{plain:?}"
        );
    }
}

#[test]
fn a_key_the_user_certified_is_a_verified_key() {
    use sequoia_openpgp::packet::UserID;
    use sequoia_openpgp::parse::Parse;
    use sequoia_openpgp::types::SignatureType;
    let home = Home::new();
    home.import_key("alice");
    let alice = Cert::from_file(testdata("keys/alice.sec.asc")).unwrap();
    let mut certifier = keypair(&alice);
    let bob = cert_for("bob@example.org", None);
    let userid = UserID::from("bob@example.org");
    let certification = userid
        .certify(
            &mut certifier,
            &bob,
            SignatureType::GenericCertification,
            None,
            None,
        )
        .unwrap();
    let (certified, _) = bob
        .clone()
        .insert_packets(vec![
            sequoia_openpgp::Packet::from(userid),
            certification.into(),
        ])
        .unwrap();
    import(&home, &certified);
    let r = &status_json(&home, &["bob@example.org"])[0];
    assert_eq!(r["level"], "end_to_end_verified_key", "{r}");
    assert_eq!(r["certified_by"], alice.fingerprint().to_hex(), "{r}");
    let text = status_text(&home, &["bob@example.org"]);
    assert!(
        text.contains(&format!(
            "    key {}, certified by your key {}\n",
            bob.fingerprint().to_hex(),
            alice.fingerprint().to_hex()
        )),
        "{text}"
    );

    // A certification by a key that is not the user's vouches for nothing.
    let home = Home::new();
    home.import_key("alice");
    let mallory = cert_for("mallory@example.net", None);
    let mut forger = keypair(&mallory);
    let userid = UserID::from("bob@example.org");
    let forged = userid
        .certify(
            &mut forger,
            &bob,
            SignatureType::GenericCertification,
            None,
            None,
        )
        .unwrap();
    let (forged, _) = bob
        .insert_packets(vec![sequoia_openpgp::Packet::from(userid), forged.into()])
        .unwrap();
    import(&home, &forged);
    let r = &status_json(&home, &["bob@example.org"])[0];
    assert_eq!(r["level"], "end_to_end", "{r}");
    assert_eq!(r["certified_by"], Value::Null);
}

#[test]
fn a_revoked_key_is_not_used_and_is_warned_about() {
    use sequoia_openpgp::types::ReasonForRevocation;
    let carol = cert_for("carol@example.org", None);
    let mut signer = keypair(&carol);
    let revocation = carol
        .revoke(&mut signer, ReasonForRevocation::KeyCompromised, b"lost")
        .unwrap();
    let (revoked, _) = carol.insert_packets(revocation).unwrap();
    let server = smtp::Server::start(smtp::Mode::Starttls, smtp::CertKind::Good, None);
    let home = Home::new();
    home.write(
        "config.toml",
        server
            .relay_config("starttls", "encrypt-if-possible", "")
            .as_bytes(),
    );
    import(&home, &revoked);
    let r = &status_json(&home, &["carol@example.org"])[0];
    assert_eq!(r["level"], "transport_only", "{r}");
    assert_eq!(r["warnings"][0]["kind"], "revoked", "{r}");
    let warning = format!(
        "warning: certificate {} for this address is revoked; no mail is encrypted to it",
        revoked.fingerprint()
    );
    let text = status_text(&home, &["carol@example.org"]);
    assert!(text.contains(&format!("    {warning}\n")), "{text}");
    let run = send(&home, false, TO_CAROL);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "mailseal: carol@example.org: transport only; {warning}"
        )),
        "{}",
        run.stderr
    );
    let sent = &server.messages()[0].data;
    assert!(!sent.contains("multipart/encrypted"), "{sent}");
}
