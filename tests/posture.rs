//! `mailseal status --domain`: the DNS and HTTPS posture of mail domains
//! (MX, MTA-STS, DANE, TLS-RPT, SPF, DMARC, DKIM, BIMI), checked against
//! a DNS server and an HTTPS server on 127.0.0.1.

mod common;
#[path = "common/dns.rs"]
mod common_dns;
#[path = "common/https.rs"]
mod common_https;

use base64::Engine as _;
use common::*;
use common_dns::{Dns, Entry, Signing, Zone};
use common_https::{Https, Reply};
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_server::proto::rr::rdata::{MX, TLSA, TXT};
use hickory_server::proto::rr::{Name, RData};
use serde_json::Value;

const POLICY_HOST: &str = "mta-sts.example.org";
const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// A TXT record, in strings of at most 255 bytes as DNS needs.
fn txt(name: &str, text: &str) -> Entry {
    let strings = text
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    (name.to_string(), RData::TXT(TXT::new(strings)))
}

fn mx(name: &str, preference: u16, host: &str) -> Entry {
    (
        name.to_string(),
        RData::MX(MX::new(preference, Name::from_ascii(host).unwrap())),
    )
}

fn tlsa(host: &str) -> Entry {
    (
        format!("_25._tcp.{host}"),
        RData::TLSA(TLSA::new(
            CertUsage::from(3),
            Selector::from(1),
            Matching::from(1),
            vec![0xab; 32],
        )),
    )
}

fn policy(mode: &str) -> Reply {
    Reply::Typed(
        "text/plain; charset=utf-8",
        format!("version: STSv1\r\nmode: {mode}\r\nmx: *.example.org\r\nmax_age: 86400\r\n")
            .into_bytes(),
    )
}

/// A DNS server for example.org, an HTTPS server for its MTA-STS host,
/// and a home whose config points at both.
struct World {
    https: Https,
    dns: Dns,
    home: Home,
}

impl World {
    fn new(records: Vec<Entry>, signing: Signing, extra: &str) -> World {
        World::serving(Dns::start("example.org.", records, signing), extra)
    }

    /// A world whose DNS server is `dns`.
    fn serving(dns: Dns, extra: &str) -> World {
        let world = World {
            https: Https::start(&[POLICY_HOST]),
            dns,
            home: Home::new(),
        };
        world.write_config(extra);
        world
    }

    fn write_config(&self, extra: &str) {
        let config = format!(
            "[discovery]\ntimeout_secs = 2\ndnssec_trust_anchor = {:?}\n{extra}\n[network]\nca_file = {:?}\nnameservers = [{:?}]\n[network.resolve]\n{}",
            self.dns.trust_anchor,
            self.https.ca_file,
            self.dns.address(),
            self.https.resolve_toml(&[POLICY_HOST]),
        );
        self.home.write("config.toml", config.as_bytes());
    }

    /// Points the home at a new DNS server for example.org with `records`
    /// (the HTTPS server and the home stay).
    fn republish(&mut self, records: Vec<Entry>) {
        self.dns = Dns::start("example.org.", records, Signing::Trusted);
        self.write_config("");
    }

    /// An attacker publishes a new MTA-STS id and answers the policy fetch
    /// with a redirect.
    fn redirect_to_attacker(&mut self) {
        self.republish(vec![mx1(), sts_record("20240202T02")]);
        self.https.route(
            POLICY_HOST,
            POLICY_PATH,
            Reply::Redirect("https://attacker.example/".into()),
        );
    }

    /// `status --json --domain DOMAIN`, which keeps MTA-STS policies in
    /// the home's cache: the report of `domain`.
    fn cached_check(&self, domain: &str) -> Value {
        self.json(&[domain]).remove(0)
    }

    /// `status --json --domain D...`: the domain reports.
    fn json(&self, domains: &[&str]) -> Vec<Value> {
        let mut args = vec!["--json", "status"];
        for d in domains {
            args.extend(["--domain", d]);
        }
        let run = self.home.run(&args, b"").ok();
        let out: Value = serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", run.stdout_text(), run.stderr));
        assert_eq!(out["recipients"], Value::Array(vec![]), "{out}");
        out["domains"].as_array().unwrap().clone()
    }
}

/// The records of a domain whose mail goes to mx1.example.org, with an
/// MTA-STS record.
fn inbound(extra: Vec<Entry>) -> Vec<Entry> {
    let mut records = vec![
        mx("example.org.", 10, "mx1.example.org."),
        txt("_mta-sts.example.org.", "v=STSv1; id=20240101T01"),
    ];
    records.extend(extra);
    records
}

#[test]
fn mta_sts_modes_decide_the_summary() {
    for (mode, summary, status) in [
        ("enforce", "protected_by_mta_sts", "ok"),
        ("testing", "can_be_downgraded", "weak"),
        ("none", "can_be_downgraded", "weak"),
    ] {
        let world = World::new(inbound(vec![]), Signing::Trusted, "");
        world.https.route(POLICY_HOST, POLICY_PATH, policy(mode));
        let d = &world.json(&["example.org"])[0];
        let sts = &d["inbound"]["mta_sts"];
        assert_eq!(sts["status"], status, "{mode}: {sts}");
        assert_eq!(sts["id"], "20240101T01");
        assert_eq!(sts["policy"]["mode"], mode);
        assert_eq!(sts["policy"]["version"], "STSv1");
        assert_eq!(sts["policy"]["max_age"], 86400);
        assert_eq!(sts["policy"]["mx"][0], "*.example.org");
        assert_eq!(sts["mx_matches"][0]["host"], "mx1.example.org");
        assert_eq!(sts["mx_matches"][0]["matches"], true);
        assert_eq!(d["inbound"]["summary"], summary, "{mode}: {d}");
        let text = d["inbound"]["summary_text"].as_str().unwrap();
        match mode {
            "enforce" => assert_eq!(text, "protected by MTA-STS (enforce)"),
            "testing" => assert!(text.contains("testing mode"), "{text}"),
            _ => assert!(text.contains("mode none"), "{text}"),
        }
        assert_eq!(
            *world.https.requests.lock().unwrap(),
            [format!("{POLICY_HOST} {POLICY_PATH}")]
        );
    }
}

#[test]
fn mta_sts_absent_fetches_nothing() {
    let world = World::new(
        vec![mx("example.org.", 10, "mx1.example.org.")],
        Signing::Trusted,
        "",
    );
    let d = &world.json(&["example.org"])[0];
    assert_eq!(d["inbound"]["mta_sts"]["status"], "missing", "{d}");
    assert_eq!(d["inbound"]["mta_sts"]["policy"], Value::Null);
    assert_eq!(d["inbound"]["summary"], "can_be_downgraded");
    assert_eq!(world.https.count(), 0);
}

#[test]
fn invalid_mta_sts_is_reported_with_the_reason() {
    // Served as application/octet-stream.
    let world = World::new(inbound(vec![]), Signing::Trusted, "");
    world.https.route(
        POLICY_HOST,
        POLICY_PATH,
        Reply::Body(b"version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 86400\n".to_vec()),
    );
    let d = &world.json(&["example.org"])[0];
    let sts = &d["inbound"]["mta_sts"];
    assert_eq!(sts["status"], "invalid", "{sts}");
    assert!(
        sts["error"].as_str().unwrap().contains("not text/plain"),
        "{sts}"
    );
    assert_eq!(d["inbound"]["summary"], "can_be_downgraded");
    assert!(d["inbound"]["summary_text"]
        .as_str()
        .unwrap()
        .contains("invalid"));

    // A redirect, even to a valid policy on the same host, is not followed.
    let world = World::new(inbound(vec![]), Signing::Trusted, "");
    world.https.route(
        POLICY_HOST,
        POLICY_PATH,
        Reply::Redirect(format!("https://{POLICY_HOST}/policy.txt")),
    );
    world
        .https
        .route(POLICY_HOST, "/policy.txt", policy("enforce"));
    let sts = &world.json(&["example.org"])[0]["inbound"]["mta_sts"];
    assert_eq!(sts["status"], "invalid", "{sts}");
    assert!(sts["error"].as_str().unwrap().contains("redirect"), "{sts}");
    assert_eq!(world.https.count(), 1);

    // A TXT record without id: the policy is not even fetched.
    let world = World::new(
        vec![
            mx("example.org.", 10, "mx1.example.org."),
            txt("_mta-sts.example.org.", "v=STSv1;"),
        ],
        Signing::Trusted,
        "",
    );
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("enforce"));
    let sts = &world.json(&["example.org"])[0]["inbound"]["mta_sts"];
    assert_eq!(sts["status"], "invalid", "{sts}");
    assert!(sts["error"].as_str().unwrap().contains("no id"), "{sts}");
    assert_eq!(world.https.count(), 0);

    // A policy with a bad mode.
    let world = World::new(inbound(vec![]), Signing::Trusted, "");
    world.https.route(
        POLICY_HOST,
        POLICY_PATH,
        Reply::Typed(
            "text/plain",
            b"version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n".to_vec(),
        ),
    );
    let sts = &world.json(&["example.org"])[0]["inbound"]["mta_sts"];
    assert_eq!(sts["status"], "invalid", "{sts}");
    assert!(sts["error"].as_str().unwrap().contains("mode"), "{sts}");
}

fn sts_record(id: &str) -> Entry {
    txt("_mta-sts.example.org.", &format!("v=STSv1; id={id}"))
}

fn mx1() -> Entry {
    mx("example.org.", 10, "mx1.example.org.")
}

#[test]
fn mta_sts_policies_are_cached_by_id() {
    let mut world = World::new(inbound(vec![]), Signing::Trusted, "");
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("enforce"));
    let d = world.cached_check("example.org");
    assert_eq!(d["inbound"]["mta_sts"]["cached"], Value::Null, "{d}");
    assert_eq!(
        d["inbound"]["summary_text"],
        "protected by MTA-STS (enforce)"
    );
    assert_eq!(world.https.count(), 1);
    let file: Value =
        serde_json::from_slice(&std::fs::read(world.home.file("mta-sts-cache.json")).unwrap())
            .unwrap();
    assert_eq!(file["domains"]["example.org"]["id"], "20240101T01");
    assert_eq!(file["domains"]["example.org"]["policy"]["mode"], "enforce");

    // The server now serves another policy, but the id is the same: the
    // cached policy stands and nothing is fetched.
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("testing"));
    let sts = &world.cached_check("example.org")["inbound"]["mta_sts"];
    assert_eq!(sts["policy"]["mode"], "enforce", "{sts}");
    assert_eq!(sts["cached"]["id"], "20240101T01");
    assert_eq!(sts["cached"]["reason"], "the id is unchanged");
    assert_eq!(world.https.count(), 1);

    // A new id: the policy is fetched again, and the new one shown.
    world.republish(vec![mx1(), sts_record("20240202T02")]);
    let d = world.cached_check("example.org");
    let sts = &d["inbound"]["mta_sts"];
    assert_eq!(sts["policy"]["mode"], "testing", "{sts}");
    assert_eq!(sts["id"], "20240202T02");
    assert_eq!(sts["cached"], Value::Null);
    assert_eq!(d["inbound"]["summary"], "can_be_downgraded");
    assert_eq!(world.https.count(), 2);
}

#[test]
fn a_cached_enforce_policy_stands_when_the_live_one_is_blocked() {
    let mut world = World::new(inbound(vec![]), Signing::Trusted, "");
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("enforce"));
    world.cached_check("example.org");

    // An attacker changes the id and answers the fetch with a redirect.
    world.redirect_to_attacker();
    let d = world.cached_check("example.org");
    let sts = &d["inbound"]["mta_sts"];
    assert_eq!(sts["status"], "ok", "{sts}");
    assert_eq!(sts["policy"]["mode"], "enforce");
    assert_eq!(sts["error"], Value::Null);
    assert_eq!(sts["cached"]["id"], "20240101T01");
    let reason = sts["cached"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("no live policy ("), "{reason}");
    assert!(reason.contains("redirect"), "{reason}");
    assert_eq!(d["inbound"]["summary"], "protected_by_mta_sts");
    assert_eq!(
        d["inbound"]["summary_text"],
        "protected by MTA-STS (enforce, cached policy)"
    );
    assert_eq!(world.https.count(), 2);

    // ... or strips the TXT record.
    world.republish(vec![mx1()]);
    let d = world.cached_check("example.org");
    let sts = &d["inbound"]["mta_sts"];
    assert_eq!(sts["records"], Value::Array(vec![]), "{sts}");
    assert_eq!(
        sts["cached"]["reason"],
        "no live policy (no _mta-sts TXT record)"
    );
    assert_eq!(d["inbound"]["summary"], "protected_by_mta_sts");
}

#[test]
fn an_expired_cached_policy_is_not_used() {
    let mut world = World::new(inbound(vec![]), Signing::Trusted, "");
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("enforce"));
    world.cached_check("example.org");
    // Age the entry past its max_age (86400 s).
    let path = world.home.file("mta-sts-cache.json");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let fetched = file["domains"]["example.org"]["fetched_at"]
        .as_u64()
        .unwrap();
    file["domains"]["example.org"]["fetched_at"] = (fetched - 86_401).into();
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();

    // The id is unchanged, but the policy expired: it is fetched again.
    let sts = &world.cached_check("example.org")["inbound"]["mta_sts"];
    assert_eq!(sts["cached"], Value::Null, "{sts}");
    assert_eq!(world.https.count(), 2);

    // Expired again, and the live policy is blocked: no protection.
    let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let fetched = file["domains"]["example.org"]["fetched_at"]
        .as_u64()
        .unwrap();
    file["domains"]["example.org"]["fetched_at"] = (fetched - 86_401).into();
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    world.redirect_to_attacker();
    let d = world.cached_check("example.org");
    let sts = &d["inbound"]["mta_sts"];
    assert_eq!(sts["status"], "invalid", "{sts}");
    assert_eq!(sts["cached"], Value::Null);
    assert_eq!(sts["policy"], Value::Null);
    assert_eq!(d["inbound"]["summary"], "can_be_downgraded");
}

#[test]
fn signed_tlsa_for_every_mx_is_protected_by_dane() {
    let world = World::new(
        inbound(vec![tlsa("mx1.example.org.")]),
        Signing::Trusted,
        "",
    );
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("testing"));
    let d = &world.json(&["example.org"])[0];
    let dane = &d["inbound"]["dane"];
    assert_eq!(dane["status"], "ok", "{dane}");
    assert_eq!(dane["hosts"][0]["mx"], "mx1.example.org");
    assert_eq!(dane["hosts"][0]["name"], "_25._tcp.mx1.example.org");
    assert_eq!(dane["hosts"][0]["dnssec"], "secure");
    assert_eq!(d["inbound"]["mx"]["dnssec"], "secure");
    assert_eq!(
        dane["hosts"][0]["records"][0],
        format!("3 1 1 {}", "ab".repeat(32))
    );
    assert_eq!(d["inbound"]["summary"], "protected_by_dane");
    assert_eq!(d["inbound"]["summary_text"], "protected by DANE");
}

#[test]
fn tlsa_without_valid_dnssec_does_not_protect() {
    // The test trust anchor says example.org is signed, so an unsigned
    // copy of the zone is bogus too (a real unsigned zone is insecure).
    for (signing, dnssec) in [(Signing::Unsigned, "bogus"), (Signing::WrongKey, "bogus")] {
        let world = World::new(inbound(vec![tlsa("mx1.example.org.")]), signing, "");
        world
            .https
            .route(POLICY_HOST, POLICY_PATH, policy("enforce"));
        let d = &world.json(&["example.org"])[0];
        let dane = &d["inbound"]["dane"];
        assert_eq!(dane["hosts"][0]["dnssec"], dnssec, "{signing:?}: {dane}");
        assert_eq!(dane["status"], "invalid", "{signing:?}: {dane}");
        assert_eq!(d["inbound"]["mx"]["dnssec"], "bogus");
        assert!(dane["hosts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("DNSSEC"));
        // MTA-STS still protects (its TXT needs no DNSSEC).
        assert_eq!(d["inbound"]["summary"], "protected_by_mta_sts", "{d}");
    }
}

/// example.net's mail goes to mx1.example.org, in the signed
/// example.org, whose TLSA record for that host validates.
fn mx_in_another_zone(net: Signing) -> World {
    let dns = Dns::start_zones(
        vec![
            Zone {
                origin: "example.net.".into(),
                records: vec![mx("example.net.", 10, "mx1.example.org.")],
                signing: net,
            },
            Zone {
                origin: "example.org.".into(),
                records: vec![tlsa("mx1.example.org.")],
                signing: Signing::Trusted,
            },
        ],
        false,
    );
    World::serving(dns, "")
}

#[test]
fn tlsa_counts_only_when_the_mx_answer_is_dnssec_secure() {
    let d = &mx_in_another_zone(Signing::Trusted).json(&["example.net"])[0];
    assert_eq!(d["inbound"]["mx"]["dnssec"], "secure", "{d}");
    assert_eq!(d["inbound"]["dane"]["status"], "ok");
    assert_eq!(d["inbound"]["summary"], "protected_by_dane");

    // The TLSA record is still secure, but the MX answer is not: an
    // unsigned example.net (which the test harness, without a signed
    // parent to prove it insecure, sees as bogus) or one signed with a key
    // that does not validate.
    for signing in [Signing::Unsigned, Signing::WrongKey] {
        let d = &mx_in_another_zone(signing).json(&["example.net"])[0];
        let (mx, dane) = (&d["inbound"]["mx"], &d["inbound"]["dane"]);
        assert_eq!(mx["dnssec"], "bogus", "{signing:?}: {mx}");
        assert_eq!(mx["status"], "invalid", "{mx}");
        assert_eq!(mx["records"][0]["host"], "mx1.example.org", "{mx}");
        assert_eq!(dane["hosts"][0]["dnssec"], "secure", "{dane}");
        assert_eq!(dane["status"], "invalid", "{dane}");
        assert!(
            dane["error"].as_str().unwrap().contains(
                "the MX records are not DNSSEC-secure (bogus), so senders ignore the TLSA records"
            ),
            "{dane}"
        );
        assert_eq!(d["inbound"]["summary"], "can_be_downgraded", "{d}");
        assert_eq!(
            d["inbound"]["summary_text"],
            "can be downgraded (no MTA-STS policy, and the TLSA records do not count: the MX records are not DNSSEC-secure)"
        );
    }
}

#[test]
fn tlsa_under_an_insecure_delegation_does_not_protect() {
    // unsigned.example.org is delegated from the signed example.org
    // without a DS record: provably insecure. Its MX points at
    // mx1.example.org, whose TLSA record is DNSSEC-secure.
    let dns = Dns::start_zones(
        vec![
            Zone {
                origin: "example.org.".into(),
                records: vec![tlsa("mx1.example.org.")],
                signing: Signing::Trusted,
            },
            Zone {
                origin: "unsigned.example.org.".into(),
                records: vec![mx("unsigned.example.org.", 10, "mx1.example.org.")],
                signing: Signing::Unsigned,
            },
        ],
        false,
    );
    let world = World::serving(dns, "");
    let d = &world.json(&["unsigned.example.org"])[0];
    let (mx, dane) = (&d["inbound"]["mx"], &d["inbound"]["dane"]);
    assert_eq!(mx["dnssec"], "insecure", "{mx}");
    assert_eq!(mx["status"], "ok", "{mx}");
    assert_eq!(dane["hosts"][0]["dnssec"], "secure", "{dane}");
    assert_eq!(dane["status"], "weak", "{dane}");
    assert_eq!(
        dane["error"],
        "the MX records are not DNSSEC-secure (insecure), so senders ignore the TLSA records (RFC 7672 §2.2.1)"
    );
    assert_eq!(d["inbound"]["summary"], "can_be_downgraded", "{d}");
    assert_eq!(
        d["inbound"]["summary_text"],
        "can be downgraded (no MTA-STS policy, and the TLSA records do not count: the MX records are not DNSSEC-secure)"
    );
    let run = world
        .home
        .run(&["status", "--domain", "unsigned.example.org"], b"")
        .ok();
    let text = run.stdout_text();
    assert!(
        text.contains("  ok       MX       10 mx1.example.org (not DNSSEC-signed)\n"),
        "{text}"
    );
    assert!(
        text.contains("  weak     DANE     mx1.example.org: DNSSEC-secure TLSA; the MX records are not DNSSEC-secure (insecure)"),
        "{text}"
    );
}

#[test]
fn spf_variants() {
    let world = World::new(
        vec![
            txt("soft.example.org.", "v=spf1 mx ~all"),
            txt("hard.example.org.", "v=spf1 mx -all"),
            txt("hard.example.org.", "some-verification=abc"),
            txt("two.example.org.", "v=spf1 mx -all"),
            txt("two.example.org.", "v=spf1 a -all"),
            txt("none.example.org.", "google-site-verification=xyz"),
        ],
        Signing::Trusted,
        "",
    );
    let out = world.json(&[
        "none.example.org",
        "soft.example.org",
        "hard.example.org",
        "two.example.org",
    ]);
    let spf: Vec<&Value> = out.iter().map(|d| &d["sender"]["spf"]).collect();
    assert_eq!(spf[0]["status"], "missing", "{}", spf[0]);
    assert_eq!(spf[0]["records"], Value::Array(vec![]));
    assert_eq!(spf[1]["status"], "weak");
    assert_eq!(spf[1]["all"], "~all");
    assert_eq!(spf[1]["records"][0], "v=spf1 mx ~all");
    assert_eq!(spf[2]["status"], "ok", "{}", spf[2]);
    assert_eq!(spf[2]["all"], "-all");
    assert_eq!(spf[2]["records"].as_array().unwrap().len(), 1);
    assert_eq!(spf[3]["status"], "invalid", "{}", spf[3]);
    assert_eq!(spf[3]["records"].as_array().unwrap().len(), 2);
    assert!(spf[3]["error"].as_str().unwrap().contains("2 SPF records"));
    for s in spf {
        assert!(s["protects_against"]
            .as_str()
            .unwrap()
            .contains("envelope sender"));
    }
}

#[test]
fn dmarc_variants() {
    let world =
        World::new(
            vec![
            txt("_dmarc.monitor.example.org.", "v=DMARC1; p=none; rua=mailto:d@example.org"),
            txt(
                "_dmarc.strict.example.org.",
                "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org,mailto:e@example.net",
            ),
            txt("_dmarc.partial.example.org.", "v=DMARC1; p=quarantine; pct=20"),
            txt("_dmarc.broken.example.org.", "v=DMARC1; p=maybe"),
        ],
            Signing::Trusted,
            "",
        );
    let out = world.json(&[
        "missing.example.org",
        "monitor.example.org",
        "strict.example.org",
        "partial.example.org",
        "broken.example.org",
    ]);
    let dmarc: Vec<&Value> = out.iter().map(|d| &d["sender"]["dmarc"]).collect();
    assert_eq!(dmarc[0]["status"], "missing");
    assert!(dmarc[0]["fix"]
        .as_str()
        .unwrap()
        .contains("_dmarc.missing.example.org"));
    assert_eq!(dmarc[1]["status"], "weak");
    assert_eq!(dmarc[1]["p"], "none");
    assert_eq!(dmarc[1]["rua"][0], "mailto:d@example.org");
    assert_eq!(dmarc[2]["status"], "ok", "{}", dmarc[2]);
    assert_eq!(dmarc[2]["p"], "reject");
    assert_eq!(dmarc[2]["sp"], "quarantine");
    assert_eq!(dmarc[2]["pct"], 100);
    assert_eq!(dmarc[2]["rua"].as_array().unwrap().len(), 2);
    assert_eq!(dmarc[3]["status"], "weak");
    assert_eq!(dmarc[3]["pct"], 20);
    assert_eq!(dmarc[4]["status"], "invalid", "{}", dmarc[4]);
    assert!(dmarc[4]["error"].as_str().unwrap().contains("p=maybe"));
    assert_eq!(dmarc[4]["p"], Value::Null);
}

#[test]
fn dmarc_is_inherited_from_the_nearest_parent_with_a_record() {
    let world = World::new(
        vec![
            txt(
                "_dmarc.example.org.",
                "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org",
            ),
            txt("_dmarc.own.example.org.", "v=DMARC1; p=none"),
            txt("_dmarc.dept.example.org.", "v=DMARC1; p=reject"),
        ],
        Signing::Trusted,
        "",
    );
    let out = world.json(&[
        "a.b.example.org",
        "own.example.org",
        "x.dept.example.org",
        "example.org",
    ]);
    let dmarc: Vec<&Value> = out.iter().map(|d| &d["sender"]["dmarc"]).collect();
    // No record at _dmarc.a.b nor _dmarc.b: example.org's sp applies.
    assert_eq!(dmarc[0]["status"], "ok", "{}", dmarc[0]);
    assert_eq!(dmarc[0]["inherited_from"], "example.org");
    assert_eq!(dmarc[0]["p"], "reject");
    assert_eq!(dmarc[0]["sp"], "quarantine");
    assert_eq!(dmarc[0]["policy"], "quarantine");
    assert_eq!(
        dmarc[0]["records"][0],
        "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org"
    );
    // Its own record wins over the parent's.
    assert_eq!(dmarc[1]["status"], "weak", "{}", dmarc[1]);
    assert_eq!(dmarc[1]["inherited_from"], Value::Null);
    assert_eq!(dmarc[1]["policy"], "none");
    // The nearest parent with a record, without sp: its p applies.
    assert_eq!(
        dmarc[2]["inherited_from"], "dept.example.org",
        "{}",
        dmarc[2]
    );
    assert_eq!(dmarc[2]["policy"], "reject");
    assert_eq!(dmarc[2]["sp"], Value::Null);
    // The organizational domain itself: its p.
    assert_eq!(dmarc[3]["inherited_from"], Value::Null);
    assert_eq!(dmarc[3]["policy"], "reject");

    let run = world
        .home
        .run(&["status", "--domain", "a.b.example.org"], b"")
        .ok();
    assert!(
        run.stdout_text().contains(
            "DMARC    p=reject sp=quarantine pct=100, reports to mailto:d@example.org; inherited from example.org, so quarantine applies\n"
        ),
        "{}",
        run.stdout_text()
    );

    // A parent whose sp=none leaves the subdomain monitored only.
    let world = World::new(
        vec![txt("_dmarc.example.org.", "v=DMARC1; p=reject; sp=none")],
        Signing::Trusted,
        "",
    );
    let dmarc = &world.json(&["sub.example.org"])[0]["sender"]["dmarc"];
    assert_eq!(dmarc["status"], "weak", "{dmarc}");
    assert_eq!(dmarc["policy"], "none");
    assert!(dmarc["fix"].as_str().unwrap().contains(
        "set sp=quarantine or sp=reject there, or publish a record at _dmarc.sub.example.org"
    ));
}

/// Alice's RSA key from RFC 9216, as base64 SubjectPublicKeyInfo.
fn rsa_2048_spki() -> String {
    let pem = std::fs::read_to_string(testdata("smime/rfc9216/alice.crt")).unwrap();
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let spki = mailseal::discover::x509::spki_der(&der).unwrap();
    base64::engine::general_purpose::STANDARD.encode(spki)
}

#[test]
fn dkim_keys_are_found_with_their_size() {
    let key = rsa_2048_spki();
    let world = World::new(
        vec![
            txt(
                "default._domainkey.common.example.org.",
                &format!("v=DKIM1; k=rsa; p={key}"),
            ),
            txt(
                "mine._domainkey.own.example.org.",
                &format!("v=DKIM1; k=rsa; p={key}"),
            ),
            txt("old._domainkey.own.example.org.", "v=DKIM1; p="),
        ],
        Signing::Trusted,
        "",
    );
    let out = world.json(&["common.example.org", "own.example.org", "none.example.org"]);
    let common = &out[0]["sender"]["dkim"];
    assert_eq!(common["status"], "ok", "{common}");
    assert_eq!(common["keys"][0]["selector"], "default");
    assert_eq!(
        common["keys"][0]["name"],
        "default._domainkey.common.example.org"
    );
    assert_eq!(common["keys"][0]["key_type"], "rsa");
    assert_eq!(common["keys"][0]["bits"], 2048);
    assert_eq!(common["keys"][0]["revoked"], false);
    assert_eq!(common["selectors_tried"].as_array().unwrap().len(), 9);
    // "mine" is not a common selector.
    assert_eq!(out[1]["sender"]["dkim"]["status"], "missing");
    let none = &out[2]["sender"]["dkim"];
    assert_eq!(none["status"], "missing");
    assert_eq!(none["keys"], Value::Array(vec![]));
    assert!(none["fix"].as_str().unwrap().contains("dkim_selectors"));

    // Selectors from [domain] dkim_selectors.
    let world = World::new(
        vec![
            txt(
                "mine._domainkey.own.example.org.",
                &format!("v=DKIM1; k=rsa; p={key}"),
            ),
            txt("old._domainkey.own.example.org.", "v=DKIM1; p="),
        ],
        Signing::Trusted,
        "[domain]\ndkim_selectors = [\"mine\", \"old\"]\n",
    );
    let dkim = &world.json(&["own.example.org"])[0]["sender"]["dkim"];
    assert_eq!(dkim["status"], "ok", "{dkim}");
    assert_eq!(dkim["selectors_tried"], serde_json::json!(["mine", "old"]));
    assert_eq!(dkim["keys"][0]["bits"], 2048);
    assert_eq!(dkim["keys"][1]["revoked"], true);
}

/// A fresh public key from `openssl genpkey ARGS`, as DER
/// SubjectPublicKeyInfo.
fn openssl_public_key(args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let status = std::process::Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn dkim_key_sizes_decide_the_status() {
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let rsa = |bits: u32| {
        b64(&openssl_public_key(&[
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
        ]))
    };
    // RFC 8463: the Ed25519 key itself, the last 32 bytes of its SPKI.
    let ed25519 = openssl_public_key(&["-algorithm", "ed25519"]);
    let ed25519 = b64(&ed25519[ed25519.len() - 32..]);
    let world = World::new(
        vec![
            txt(
                "default._domainkey.tiny.example.org.",
                &format!("v=DKIM1; k=rsa; p={}", rsa(512)),
            ),
            txt(
                "default._domainkey.small.example.org.",
                &format!("v=DKIM1; k=rsa; p={}", rsa(1024)),
            ),
            txt(
                "default._domainkey.good.example.org.",
                &format!("v=DKIM1; k=rsa; p={}", rsa(2048)),
            ),
            txt(
                "default._domainkey.ed.example.org.",
                &format!("v=DKIM1; k=ed25519; p={ed25519}"),
            ),
        ],
        Signing::Trusted,
        "[domain]\ndkim_selectors = [\"default\"]\n",
    );
    let out = world.json(&[
        "tiny.example.org",
        "small.example.org",
        "good.example.org",
        "ed.example.org",
    ]);
    let dkim: Vec<&Value> = out.iter().map(|d| &d["sender"]["dkim"]).collect();
    for (d, (status, key_type, bits)) in dkim.iter().zip([
        ("invalid", "rsa", 512),
        ("weak", "rsa", 1024),
        ("ok", "rsa", 2048),
        ("ok", "ed25519", 256),
    ]) {
        assert_eq!(d["status"], status, "{d}");
        assert_eq!(d["keys"][0]["key_type"], key_type, "{d}");
        assert_eq!(d["keys"][0]["bits"], bits, "{d}");
        assert_eq!(d["keys"][0]["error"], Value::Null, "{d}");
    }
    assert!(dkim[0]["fix"].as_str().unwrap().contains("under 1024 bits"));
    assert!(dkim[1]["fix"].as_str().unwrap().contains("2048"));
    assert_eq!(dkim[2]["fix"], Value::Null);
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_json_schema_is_stable() {
    let world = World::new(inbound(vec![]), Signing::Trusted, "");
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("enforce"));
    let d = &world.json(&["example.org"])[0];
    assert_eq!(keys(d), ["domain", "inbound", "sender"]);
    assert_eq!(d["domain"], "example.org");
    let inbound = &d["inbound"];
    assert_eq!(
        keys(inbound),
        [
            "dane",
            "mta_sts",
            "mx",
            "summary",
            "summary_text",
            "tls_rpt"
        ]
    );
    assert_eq!(
        keys(&inbound["mx"]),
        ["dnssec", "error", "fix", "hosts", "null_mx", "records", "status"]
    );
    assert_eq!(inbound["mx"]["records"][0]["preference"], 10);
    assert_eq!(inbound["mx"]["records"][0]["host"], "mx1.example.org");
    assert_eq!(
        keys(&inbound["mta_sts"]),
        [
            "cached",
            "error",
            "fix",
            "id",
            "mx_matches",
            "policy",
            "policy_url",
            "protects_against",
            "records",
            "status"
        ]
    );
    assert_eq!(
        inbound["mta_sts"]["policy_url"],
        "https://mta-sts.example.org/.well-known/mta-sts.txt"
    );
    assert_eq!(
        keys(&inbound["dane"]),
        ["error", "fix", "hosts", "protects_against", "status"]
    );
    assert_eq!(
        keys(&inbound["dane"]["hosts"][0]),
        ["dnssec", "error", "mx", "name", "records"]
    );
    assert_eq!(inbound["dane"]["hosts"][0]["dnssec"], "absent");
    assert_eq!(
        keys(&inbound["tls_rpt"]),
        [
            "error",
            "fix",
            "protects_against",
            "records",
            "rua",
            "status"
        ]
    );
    let sender = &d["sender"];
    assert_eq!(keys(sender), ["bimi", "dkim", "dmarc", "spf"]);
    assert_eq!(
        keys(&sender["spf"]),
        [
            "all",
            "error",
            "fix",
            "protects_against",
            "records",
            "status"
        ]
    );
    assert_eq!(
        keys(&sender["dmarc"]),
        [
            "error",
            "fix",
            "inherited_from",
            "p",
            "pct",
            "policy",
            "protects_against",
            "records",
            "rua",
            "sp",
            "status"
        ]
    );
    assert_eq!(
        keys(&sender["dkim"]),
        [
            "error",
            "fix",
            "keys",
            "protects_against",
            "selectors_tried",
            "status"
        ]
    );
    assert_eq!(
        keys(&sender["bimi"]),
        ["error", "logo", "records", "status"]
    );
    assert_eq!(sender["bimi"]["status"], "absent");
}

#[test]
fn human_output_snapshot() {
    let world = World::new(
        inbound(vec![
            txt(
                "_smtp._tls.example.org.",
                "v=TLSRPTv1; rua=mailto:tls@example.org",
            ),
            txt("example.org.", "v=spf1 mx ~all"),
            txt(
                "_dmarc.example.org.",
                "v=DMARC1; p=reject; rua=mailto:d@example.org",
            ),
            txt(
                "default._bimi.example.org.",
                "v=BIMI1; l=https://example.org/logo.svg",
            ),
        ]),
        Signing::Trusted,
        "",
    );
    world
        .https
        .route(POLICY_HOST, POLICY_PATH, policy("testing"));
    let run = world
        .home
        .run(&["status", "--domain", "Example.ORG."], b"")
        .ok();
    let expected = "\
example.org: inbound mail can be downgraded (MTA-STS is in testing mode, which only reports failures)
  missing  DANE     no TLSA record for any MX; fix: sign the MX hosts' zone with DNSSEC and publish \"3 1 1 SHA256-OF-KEY\" TLSA records at _25._tcp.MX
  missing  DKIM     no key at selectors default, selector1, selector2, google, k1, mail, dkim, s1, s2; fix: sign outgoing mail with DKIM and publish the key at SELECTOR._domainkey.example.org, or name your selectors in [domain] dkim_selectors (only common ones were tried)
  weak     MTA-STS  mode testing (failures are only reported), max_age 86400, covers 1 of 1 MX; fix: once TLS-RPT reports show no failures, change the policy to mode: enforce (and its id)
  weak     SPF      ~all: v=spf1 mx ~all; fix: once every sending server is listed, end the record with -all
  ok       MX       10 mx1.example.org (DNSSEC-secure)
  ok       TLS-RPT  reports to mailto:tls@example.org
  ok       DMARC    p=reject pct=100, reports to mailto:d@example.org
  ok       BIMI     logo https://example.org/logo.svg
";
    assert_eq!(run.stdout_text(), expected);
}

#[test]
fn addresses_and_domains_together() {
    let world = World::new(vec![], Signing::Trusted, "auto = false");
    let run = world
        .home
        .run(
            &[
                "--json",
                "status",
                "bob@example.org",
                "--domain",
                "example.org",
            ],
            b"",
        )
        .ok();
    let out: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(keys(&out), ["domains", "recipients"]);
    assert_eq!(out["recipients"][0]["address"], "bob@example.org");
    assert_eq!(out["domains"][0]["domain"], "example.org");
    assert_eq!(out["domains"][0]["inbound"]["mx"]["status"], "missing");
    // Without --domain the JSON is the list of recipients, as before.
    let run = world
        .home
        .run(&["--json", "status", "bob@example.org"], b"")
        .ok();
    let out: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(out.is_array(), "{out}");
}

#[test]
fn unreachable_dns_servers_exit_75() {
    // A socket that takes queries and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let home = Home::new();
    let config = format!(
        "[discovery]\ntimeout_secs = 1\n[network]\nnameservers = [\"{}\"]\n",
        silent.local_addr().unwrap()
    );
    home.write("config.toml", config.as_bytes());
    let run = home
        .run(&["status", "--domain", "example.org"], b"")
        .expect_code(75);
    assert!(
        run.stderr.contains("cannot check example.org"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_domain_is_a_usage_error() {
    let home = Home::new();
    home.run(&["status", "--domain", "bob@example.org"], b"")
        .expect_code(64);
    home.run(&["status"], b"").expect_code(64);
}
