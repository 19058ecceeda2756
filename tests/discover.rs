//! Key discovery against servers on 127.0.0.1: WKD (advanced and direct),
//! VKS and HKP keyservers over HTTPS with a test CA, DANE OPENPGPKEY and
//! SMIMEA from a DNSSEC-signed test zone; what is found, what is refused,
//! provenance and the cache.

mod common;
#[path = "common/dns.rs"]
mod common_dns;
#[path = "common/https.rs"]
mod common_https;
#[path = "common/smtp.rs"]
mod smtp;

use std::time::{Duration, Instant};

use common::*;
use common_dns::{openpgpkey, smimea, Dns, Signing};
use common_https::{Https, Reply};
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::serialize::SerializeInto;
use serde_json::Value;

const BOB: &str = "bob@example.org";
const HOSTS: &[&str] = &[
    "openpgpkey.example.org",
    "example.org",
    "keys.example",
    "pgp.example",
];

/// Bob's WKD hash (z-base-32 of SHA-1 of "bob").
fn wkd_hash() -> String {
    let url = sequoia_net::wkd::Url::from(BOB).unwrap();
    let direct = url.to_url(sequoia_net::wkd::Variant::Direct).unwrap();
    direct.path().rsplit('/').next().unwrap().to_string()
}

fn advanced_path() -> String {
    format!(
        "/.well-known/openpgpkey/example.org/hu/{}?l=bob",
        wkd_hash()
    )
}

fn direct_path() -> String {
    format!("/.well-known/openpgpkey/hu/{}?l=bob", wkd_hash())
}

/// A fresh certificate for `userid` with an encryption subkey.
fn cert_for(userid: &str) -> Cert {
    CertBuilder::general_purpose(Some(userid))
        .generate()
        .unwrap()
        .0
}

fn bytes(cert: &Cert) -> Vec<u8> {
    cert.to_vec().unwrap()
}

/// A test world: an HTTPS server for every host, a DNS server for
/// example.org, and a home whose config points at both.
struct World {
    https: Https,
    _dns: Dns,
    home: Home,
}

impl World {
    fn new(methods: &str, dns_records: Vec<common_dns::Entry>, signing: Signing) -> World {
        Self::with(methods, dns_records, signing, HOSTS, "")
    }

    /// `resolved`: the hosts sent to the HTTPS server; `extra`: more
    /// [discovery] lines.
    fn with(
        methods: &str,
        dns_records: Vec<common_dns::Entry>,
        signing: Signing,
        resolved: &[&str],
        extra: &str,
    ) -> World {
        let https = Https::start(HOSTS);
        let dns = Dns::start("example.org.", dns_records, signing);
        let home = Home::new();
        let config = format!(
            "[discovery]\nmethods = [{methods}]\nkeyservers = [\"vks+https://keys.example\", \"hkps://pgp.example\"]\ntimeout_secs = 2\ndnssec_trust_anchor = {:?}\n{extra}\n[network]\nca_file = {:?}\nnameservers = [{:?}]\n[network.resolve]\n{}",
            dns.trust_anchor,
            https.ca_file,
            dns.address(),
            https.resolve_toml(resolved),
        );
        home.write("config.toml", config.as_bytes());
        World {
            https,
            _dns: dns,
            home,
        }
    }

    /// Answers Bob's WKD advanced-method URL with `reply`.
    fn wkd(&self, reply: Reply) {
        self.https
            .route("openpgpkey.example.org", &advanced_path(), reply);
    }

    fn locate(&self, args: &[&str]) -> Run {
        let mut all = vec!["--json", "cert", "locate"];
        all.extend_from_slice(args);
        self.home.run(&all, b"")
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", run.stdout_text(), run.stderr))
}

fn cert_list(home: &Home) -> Value {
    json(&home.run(&["--json", "cert", "list"], b"").ok())
}

#[test]
fn wkd_advanced_method_finds_and_imports_with_provenance() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let bob = cert_for("Bob <bob@example.org>");
    world.wkd(Reply::Body(bytes(&bob)));
    let run = world.locate(&[BOB]).ok();
    let out = json(&run);
    assert_eq!(out[0]["status"], "imported", "{out}");
    assert_eq!(out[0]["fingerprint"], bob.fingerprint().to_hex());
    assert_eq!(out[0]["provenance"]["method"], "wkd");
    assert!(out[0]["provenance"]["source"]
        .as_str()
        .unwrap()
        .starts_with("https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"));

    let list = cert_list(&world.home);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let prov = &list[0]["provenance"][0];
    assert_eq!(prov["method"], "wkd");
    assert_eq!(prov["address"], BOB);
    assert_eq!(prov["verifies_address"], true);
    assert_eq!(prov["dnssec"], "none");
    assert!(prov["fetched_at"].as_str().unwrap().starts_with("20"));
    let human = world.home.run(&["cert", "list"], b"").ok().stdout_text();
    assert!(
        human.contains("via wkd https://openpgpkey.example.org/"),
        "{human}"
    );
}

#[test]
fn wkd_falls_back_to_direct_when_the_advanced_host_does_not_resolve() {
    // openpgpkey.example.org is not resolved statically, and the test zone
    // has no such name: the advanced method fails in DNS.
    let world = World::with("\"wkd\"", vec![], Signing::Trusted, &["example.org"], "");
    let bob = cert_for("bob@example.org");
    world
        .https
        .route("example.org", &direct_path(), Reply::Body(bytes(&bob)));
    let out = json(&world.locate(&[BOB]).ok());
    assert_eq!(out[0]["status"], "imported", "{out}");
    assert!(out[0]["provenance"]["source"]
        .as_str()
        .unwrap()
        .starts_with("https://example.org/.well-known/openpgpkey/hu/"));
    assert_eq!(world.https.count(), 1);
}

#[test]
fn wkd_miss_falls_through_to_dane() {
    let bob = cert_for("bob@example.org");
    let name = dane_name("_openpgpkey");
    let world = World::new(
        "\"store\", \"wkd\", \"dane\", \"keyserver\"",
        vec![(name.clone(), openpgpkey(&bytes(&bob)))],
        Signing::Trusted,
    );
    let out = json(&world.locate(&[BOB]).ok());
    assert_eq!(out[0]["status"], "imported", "{out}");
    assert_eq!(out[0]["provenance"]["method"], "dane");
    assert_eq!(out[0]["provenance"]["source"], name);
    assert_eq!(out[0]["provenance"]["dnssec"], "secure");
    let tried: Vec<&str> = out[0]["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["method"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["store", "wkd", "dane"]);
    // WKD was asked (advanced, 404) and the keyserver never.
    let requests = world.https.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].starts_with("openpgpkey.example.org "));
}

#[test]
fn wkd_and_dane_miss_fall_through_to_a_verifying_keyserver() {
    let world = World::new("\"wkd\", \"dane\", \"keyserver\"", vec![], Signing::Trusted);
    let bob = cert_for("bob@example.org");
    world.https.route(
        "keys.example",
        "/vks/v1/by-email/bob@example.org",
        Reply::Body(bytes(&bob)),
    );
    let out = json(&world.locate(&[BOB]).ok());
    assert_eq!(out[0]["status"], "imported", "{out}");
    assert_eq!(out[0]["provenance"]["method"], "keyserver");
    assert_eq!(out[0]["provenance"]["verifies_address"], true);
    assert_eq!(
        out[0]["provenance"]["source"],
        "https://keys.example/vks/v1/by-email/bob@example.org"
    );
}

#[test]
fn dane_alone_finds_a_dnssec_validated_key() {
    let bob = cert_for("bob@example.org");
    let world = World::new(
        "\"dane\"",
        vec![(dane_name("_openpgpkey"), openpgpkey(&bytes(&bob)))],
        Signing::Trusted,
    );
    let out = json(&world.locate(&[BOB]).ok());
    assert_eq!(out[0]["status"], "imported", "{out}");
    assert_eq!(out[0]["fingerprint"], bob.fingerprint().to_hex());
    assert_eq!(world.https.count(), 0);
}

#[test]
fn dane_without_valid_dnssec_is_refused() {
    for signing in [Signing::Unsigned, Signing::WrongKey] {
        let bob = cert_for("bob@example.org");
        let world = World::new(
            "\"dane\"",
            vec![(dane_name("_openpgpkey"), openpgpkey(&bytes(&bob)))],
            signing,
        );
        let run = world.locate(&[BOB]).expect_code(67);
        let out = json(&run);
        assert_eq!(out[0]["status"], "not-found", "{out}");
        let text = out[0]["tried"][0]["outcome"].as_str().unwrap().to_string();
        assert!(text.contains("DNSSEC"), "{signing:?}: {text}");
        assert!(cert_list(&world.home).as_array().unwrap().is_empty());
    }
}

#[test]
fn hkp_results_are_unverified_until_accepted() {
    let world = World::new("\"keyserver\"", vec![], Signing::Trusted);
    let bob = cert_for("bob@example.org");
    world.https.route(
        "pgp.example",
        "/pks/lookup?op=get&options=mr&search=bob@example.org",
        Reply::Body(bytes(&bob)),
    );
    let run = world.locate(&[BOB]).expect_code(67);
    assert!(run.stderr.contains("unverified"), "{}", run.stderr);
    assert!(run.stderr.contains("--accept"), "{}", run.stderr);
    assert_eq!(json(&run)[0]["status"], "unverified");
    assert!(cert_list(&world.home).as_array().unwrap().is_empty());

    let out = json(&world.locate(&["--accept", BOB]).ok());
    assert_eq!(out[0]["status"], "imported", "{out}");
    let prov = &cert_list(&world.home)[0]["provenance"][0];
    assert_eq!(prov["verifies_address"], false);
    assert_eq!(prov["accepted"], true);
}

/// Runs a WKD lookup that must be refused, and checks that nothing was
/// imported and the reason says `expected`.
fn refused(world: &World, expected: &str) {
    let run = world.locate(&["--method", "wkd", BOB]).expect_code(67);
    let out = json(&run);
    assert_eq!(out[0]["status"], "not-found", "{out}");
    let text = out[0]["tried"].to_string();
    assert!(text.contains(expected), "wanted {expected:?} in {text}");
    assert!(cert_list(&world.home).as_array().unwrap().is_empty());
}

#[test]
fn wkd_key_without_the_address_is_refused() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let mallory = cert_for("Bob <bob@example.org.evil.example>");
    world.wkd(Reply::Body(bytes(&mallory)));
    refused(&world, "no valid user ID for bob@example.org");
}

#[test]
fn wkd_redirect_to_http_is_refused() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    world.https.route(
        "openpgpkey.example.org",
        &advanced_path(),
        Reply::Redirect(format!("http://example.org{}", direct_path())),
    );
    refused(&world, "is not https");
}

#[test]
fn wkd_response_over_the_size_cap_is_refused() {
    let world = World::with(
        "\"wkd\"",
        vec![],
        Signing::Trusted,
        HOSTS,
        "max_response_bytes = 100000",
    );
    world.wkd(Reply::Huge(1 << 20));
    refused(&world, "larger than 100000 bytes");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    world.wkd(Reply::Stall);
    let start = Instant::now();
    refused(&world, "timed out after 2 s");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn garbage_and_truncated_responses_are_refused() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let bob = bytes(&cert_for("bob@example.org"));
    for body in [
        b"<html>hello</html>".to_vec(),
        bob[..bob.len() / 3].to_vec(),
        vec![0x99; 5000],
    ] {
        world.wkd(Reply::Body(body));
        let run = world
            .locate(&["--refresh", "--method", "wkd", BOB])
            .expect_code(67);
        assert_eq!(json(&run)[0]["status"], "not-found");
    }
    assert!(cert_list(&world.home).as_array().unwrap().is_empty());
}

#[test]
fn expired_and_revoked_keys_are_refused() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let long_ago = std::time::SystemTime::now() - Duration::from_secs(3 * 365 * 86400);
    let expired = CertBuilder::general_purpose(Some("bob@example.org"))
        .set_creation_time(long_ago)
        .set_validity_period(Duration::from_secs(86400))
        .generate()
        .unwrap()
        .0;
    world.wkd(Reply::Body(bytes(&expired)));
    refused(&world, "expired");

    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let (cert, revocation) = CertBuilder::general_purpose(Some("bob@example.org"))
        .generate()
        .unwrap();
    let revoked = cert.insert_packets(revocation).unwrap().0;
    world.wkd(Reply::Body(bytes(&revoked)));
    refused(&world, "revoked");
}

#[test]
fn a_changed_key_is_reported_and_needs_accept() {
    let world = World::new("\"store\", \"wkd\"", vec![], Signing::Trusted);
    let old = cert_for("bob@example.org");
    let new = cert_for("bob@example.org");
    let old_file = world.home.write("old.pgp", &bytes(&old));
    world
        .home
        .run(&["cert", "import", old_file.to_str().unwrap()], b"")
        .ok();
    world.wkd(Reply::Body(bytes(&new)));

    // The store answers first: no lookup at all.
    assert_eq!(json(&world.locate(&[BOB]).ok())[0]["status"], "in-store");
    assert_eq!(world.https.count(), 0);

    let run = world.locate(&["--method", "wkd", BOB]).expect_code(77);
    assert!(run.stderr.contains("has changed"), "{}", run.stderr);
    assert!(run.stderr.contains("--accept"), "{}", run.stderr);
    let out = json(&run);
    assert_eq!(out[0]["status"], "changed");
    assert_eq!(out[0]["previous"][0], old.fingerprint().to_hex());
    let list = cert_list(&world.home);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["fingerprint"], old.fingerprint().to_hex());

    let out = json(&world.locate(&["--method", "wkd", "--accept", BOB]).ok());
    assert_eq!(out[0]["status"], "imported", "{out}");
    let list = cert_list(&world.home);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["fingerprint"], new.fingerprint().to_hex());
    assert_eq!(list[0]["provenance"][0]["accepted"], true);
}

#[test]
fn the_cache_prevents_repeated_lookups() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let bob = cert_for("bob@example.org");
    world.wkd(Reply::Body(bytes(&bob)));
    world.locate(&[BOB]).ok();
    assert_eq!(world.https.count(), 1);
    let out = json(&world.locate(&[BOB]).ok());
    assert_eq!(out[0]["status"], "in-store", "{out}");
    assert_eq!(out[0]["provenance"]["method"], "wkd");
    assert_eq!(world.https.count(), 1, "a hit within the TTL asks nobody");

    // A miss is remembered too.
    let carol = "carol@example.org";
    world.locate(&[carol]).expect_code(67);
    let after_first = world.https.count();
    assert!(after_first > 1);
    let run = world.locate(&[carol]).expect_code(67);
    assert!(
        run.stdout_text().contains("remembered"),
        "{}",
        run.stdout_text()
    );
    assert_eq!(
        world.https.count(),
        after_first,
        "a miss within the TTL asks nobody"
    );
    world.locate(&["--refresh", carol]).expect_code(67);
    assert!(world.https.count() > after_first);

    // Encrypting to many recipients' copies: no lookups either.
    for _ in 0..3 {
        world
            .home
            .run(
                &["encrypt", "-r", carol, "--no-sign"],
                b"From: a@example.net\nTo: carol@example.org\n\nhi\n",
            )
            .expect_code(67);
    }
    assert!(world.https.count() <= after_first + 2);
}

#[test]
fn encrypt_discovers_a_missing_key_and_status_explains() {
    let world = World::new("\"store\", \"wkd\"", vec![], Signing::Trusted);
    let bob = cert_for("bob@example.org");
    world.wkd(Reply::Body(bytes(&bob)));

    let status = json(&world.home.run(&["--json", "status", BOB], b"").ok());
    assert_eq!(status[0]["verdict"], "encrypt", "{status}");
    assert_eq!(status[0]["found_by"], "wkd");
    assert_eq!(status[0]["provenance"]["method"], "wkd");

    let run = world
        .home
        .run(
            &["encrypt", "--no-sign"],
            b"From: a@example.net\nTo: bob@example.org\nSubject: s\n\nhi\n",
        )
        .ok();
    assert!(run.stdout_text().contains("multipart/encrypted"));

    let status = world
        .home
        .run(&["status", BOB, "nobody@example.org"], b"")
        .ok()
        .stdout_text();
    assert!(
        status.contains("bob@example.org: end-to-end, verified key (OpenPGP)"),
        "{status}"
    );
    assert!(status.contains("via wkd"), "{status}");
    assert!(
        status.contains("nobody@example.org: transport only; inbound mail to example.org"),
        "{status}"
    );
}

#[test]
fn encrypt_without_auto_discovery_does_not_look() {
    let world = World::with("\"wkd\"", vec![], Signing::Trusted, HOSTS, "auto = false");
    let bob = cert_for("bob@example.org");
    world.wkd(Reply::Body(bytes(&bob)));
    world
        .home
        .run(
            &["encrypt", "--no-sign"],
            b"From: a@example.net\nTo: bob@example.org\n\nhi\n",
        )
        .expect_code(67);
    assert_eq!(world.https.count(), 0);
}

#[test]
fn smimea_gives_a_validated_certificate_bound_to_the_address() {
    let good = smime_cert("bob@example.org", false);
    let other = smime_cert("eve@example.org", false);
    let expired = smime_cert("bob@example.org", true);
    let world = World::new(
        "\"dane\"",
        vec![
            (dane_name("_smimecert"), smimea(3, 0, 0, &good)),
            (dane_name("_smimecert"), smimea(3, 0, 0, &other)),
            (dane_name("_smimecert"), smimea(3, 0, 0, &expired)),
            (dane_name("_smimecert"), smimea(2, 0, 0, b"some CA")),
        ],
        Signing::Trusted,
    );
    let home = mailseal::home::Home::locate(Some(world.home.path().to_path_buf())).unwrap();
    let config = home.load_config().unwrap();
    let discovery = mailseal::discover::Discovery::new(&home, &config).unwrap();
    let (answer, provenance) = discovery.smimea(BOB).unwrap().unwrap();
    assert_eq!(answer.certificates.len(), 1, "{:?}", answer.skipped);
    assert_eq!(answer.certificates[0].der, good);
    assert!(!answer.certificates[0].needs_pkix);
    assert_eq!(answer.records.len(), 4);
    assert!(answer.records.iter().any(|r| r.matches(&good)));
    assert_eq!(answer.skipped.len(), 3, "{:?}", answer.skipped);
    assert_eq!(provenance.method, "smimea");
    assert_eq!(provenance.dnssec, "secure");

    // `cert locate` stores the good one in the X.509 store with its
    // provenance, though no OpenPGP certificate was found.
    let run = world.home.run(&["cert", "locate", BOB], b"").ok();
    assert!(run.stderr.contains("from SMIMEA"), "{}", run.stderr);
    let list = world.home.run(&["--json", "cert", "list"], b"").ok();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let smime: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["technology"] == "smime")
        .collect();
    assert_eq!(smime.len(), 1, "{list}");
    assert!(smime[0].to_string().contains("smimea"), "{list}");

    // The same records without DNSSEC are refused.
    let unsigned = World::new(
        "\"dane\"",
        vec![(dane_name("_smimecert"), smimea(3, 0, 0, &good))],
        Signing::Unsigned,
    );
    let home = mailseal::home::Home::locate(Some(unsigned.home.path().to_path_buf())).unwrap();
    let config = home.load_config().unwrap();
    let discovery = mailseal::discover::Discovery::new(&home, &config).unwrap();
    let reason = discovery.smimea(BOB).unwrap().unwrap_err();
    assert!(reason.contains("DNSSEC"), "{reason}");
}

/// `HASH._LABEL.example.org.` for bob.
fn dane_name(label: &str) -> String {
    mailseal::discover::dane::owner_name(BOB, label).unwrap()
}

/// A DER S/MIME certificate for `address` from a throwaway CA.
fn smime_cert(address: &str, expired: bool) -> Vec<u8> {
    use rcgen::{CertificateParams, KeyPair, KeyUsagePurpose, SanType};
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![SanType::Rfc822Name(address.try_into().unwrap())];
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn only_the_user_id_for_the_address_is_imported_and_state_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let bob = CertBuilder::general_purpose(Some("Bob <bob@example.org>"))
        .add_userid("Bob <bob@work.example>")
        .generate()
        .unwrap()
        .0;
    world.wkd(Reply::Body(bytes(&bob)));
    let run = world.home.run(&["cert", "locate", BOB], b"").ok();
    assert!(
        run.stderr.contains(&format!(
            "imported {} from wkd https://openpgpkey.example.org/",
            bob.fingerprint().to_hex()
        )),
        "{}",
        run.stderr
    );
    let list = cert_list(&world.home);
    assert_eq!(list[0]["user_ids"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["user_ids"][0], "Bob <bob@example.org>");
    for name in ["provenance.json", "discovery-cache.json"] {
        let mode = std::fs::metadata(world.home.file(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[test]
fn an_untrusted_https_certificate_is_refused() {
    let https = Https::start(HOSTS);
    let home = Home::new();
    // No ca_file: the test CA is not trusted. The DNS server is never
    // reached because the host is resolved statically.
    let config = format!(
        "[discovery]\nmethods = [\"wkd\"]\ntimeout_secs = 2\n[network]\nnameservers = [\"127.0.0.1:9\"]\n[network.resolve]\n{}",
        https.resolve_toml(HOSTS)
    );
    home.write("config.toml", config.as_bytes());
    https.route(
        "openpgpkey.example.org",
        &advanced_path(),
        Reply::Body(bytes(&cert_for(BOB))),
    );
    let run = home
        .run(&["--json", "cert", "locate", BOB], b"")
        .expect_code(67);
    let text = json(&run)[0]["tried"].to_string();
    assert!(text.contains("certificate"), "{text}");
    assert!(cert_list(&home).as_array().unwrap().is_empty());
}

#[test]
fn disabled_methods_send_nothing() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    world.locate(&[BOB]).expect_code(67);
    let requests = world.https.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("openpgpkey.example.org "),
        "{requests:?}"
    );

    let world = World::new("\"store\"", vec![], Signing::Trusted);
    let run = world.locate(&[BOB]).expect_code(67);
    assert_eq!(world.https.count(), 0);
    assert_eq!(json(&run)[0]["tried"][0]["method"], "store");

    let run = world.locate(&["--method", "ldap", BOB]).expect_code(64);
    assert!(run.stderr.contains("ldap"), "{}", run.stderr);
}

#[test]
fn send_encrypts_to_a_discovered_key_under_require_encryption() {
    let server = smtp::Server::start(smtp::Mode::Starttls, smtp::CertKind::Good, None);
    let world = World::new("\"store\", \"wkd\"", vec![], Signing::Trusted);
    let bob = cert_for(BOB);
    world.wkd(Reply::Body(bytes(&bob)));
    let discovery = std::fs::read_to_string(world.home.file("config.toml")).unwrap();
    let config = format!(
        "[relay.default]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nusername = \"alice\"\npassword = \"command:echo {}\"\nca_file = {:?}\ntimeout_secs = 5\n[policy]\ndefault = \"require-encryption\"\n{discovery}",
        server.port,
        smtp::PASSWORD,
        server.ca_file,
    );
    world.home.write("config.toml", config.as_bytes());
    let run = world
        .home
        .run(
            &["send"],
            b"From: alice@example.net\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nhi\r\n",
        )
        .ok();
    assert!(
        run.stderr
            .contains("found a key for bob@example.org via wkd"),
        "{}",
        run.stderr
    );
    let messages = server.record.lock().unwrap().messages.clone();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].data.contains("multipart/encrypted"),
        "{}",
        messages[0].data
    );
    assert_eq!(world.https.count(), 1);
}

#[test]
fn a_dns_server_that_never_answers_times_out() {
    // A socket that takes queries and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let home = Home::new();
    let config = format!(
        "[discovery]\nmethods = [\"dane\"]\ntimeout_secs = 1\n[network]\nnameservers = [\"{}\"]\n",
        silent.local_addr().unwrap()
    );
    home.write("config.toml", config.as_bytes());
    let start = Instant::now();
    let run = home
        .run(&["--json", "cert", "locate", BOB], b"")
        .expect_code(67);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let text = json(&run)[0]["tried"].to_string();
    assert!(
        text.contains("in time") || text.contains("timed out"),
        "{text}"
    );
}

#[test]
fn the_newest_valid_certificate_wins() {
    let world = World::new("\"wkd\"", vec![], Signing::Trusted);
    let day_ago = std::time::SystemTime::now() - Duration::from_secs(86400);
    let older = CertBuilder::general_purpose(Some("bob@example.org"))
        .set_creation_time(day_ago)
        .generate()
        .unwrap()
        .0;
    let newer = cert_for("bob@example.org");
    let stranger = cert_for("someone@else.example");
    let mut body = bytes(&older);
    body.extend(bytes(&newer));
    body.extend(bytes(&stranger));
    world.wkd(Reply::Body(body));
    let out = json(&world.locate(&[BOB]).ok());
    assert_eq!(out[0]["fingerprint"], newer.fingerprint().to_hex(), "{out}");
    assert_eq!(cert_list(&world.home).as_array().unwrap().len(), 1);
}

#[test]
fn a_dane_record_that_is_not_a_key_is_refused() {
    let world = World::new(
        "\"dane\"",
        vec![(dane_name("_openpgpkey"), openpgpkey(b"\x99\x01garbage"))],
        Signing::Trusted,
    );
    let run = world.locate(&[BOB]).expect_code(67);
    let text = json(&run)[0]["tried"].to_string();
    assert!(text.contains("_openpgpkey.example.org"), "{text}");
}

#[test]
fn verbose_shows_every_request_and_query_with_its_outcome() {
    let bob = cert_for("bob@example.org");
    let name = dane_name("_openpgpkey");
    let world = World::new(
        "\"wkd\", \"dane\"",
        vec![(name.clone(), openpgpkey(&bytes(&bob)))],
        Signing::Trusted,
    );
    let run = world.locate(&["-v", BOB]).ok();
    assert_eq!(json(&run)[0]["provenance"]["method"], "dane");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let advanced = format!("> GET https://openpgpkey.example.org{}", advanced_path());
    assert!(lines.contains(&advanced.as_str()), "{}", run.stderr);
    assert!(
        lines.iter().any(|l| l.starts_with("< not found (HTTP 404")),
        "{}",
        run.stderr
    );
    assert!(
        lines.contains(&format!("> DNS {name} OPENPGPKEY").as_str()),
        "{}",
        run.stderr
    );
    assert!(
        lines.contains(&"< 1 record(s), DNSSEC Secure"),
        "{}",
        run.stderr
    );
    // Without -v, none of it.
    let quiet = world.locate(&["--refresh", BOB]).ok();
    assert!(!quiet.stderr.contains("> GET"), "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("> DNS"), "{}", quiet.stderr);
}
