//! `mailseal status`: what protection a message to each address would get,
//! and (`--domain`) the DNS and HTTPS posture of mail domains.

use mailseal::config::Protection;
use mailseal::discover::{Discovery, Located, Options, Provenance, Status};
use mailseal::posture::{Checker, DomainReport};
use mailseal::{openpgp, seal, Result};
use serde::Serialize;

use super::Context;

/// Show, per recipient, what protection a message would get and why.
///
/// For each address: the [policy] that applies, whether a usable OpenPGP
/// key is in the store (and where it came from), and otherwise what key
/// discovery finds (when [discovery] auto is on; a key it finds is
/// imported, as sealing would). The verdict is what encrypt and send
/// would do: encrypt, sign only, send as is, or refuse.
///
/// With --domain DOMAIN, also checks a mail domain in DNS and over HTTPS:
/// how its inbound mail is protected in transit (MX, MTA-STS policy,
/// DANE TLSA records and their DNSSEC status, TLS-RPT), summarised as
/// "protected by DANE", "protected by MTA-STS (enforce)" or "can be
/// downgraded"; and how it authenticates the mail it sends (SPF and its
/// all qualifier, DMARC p/sp/pct/rua, DKIM keys under [domain]
/// dkim_selectors or common selectors, BIMI). One line per check, the
/// riskiest first, each with what to fix; --json gives every field.
///
/// Exit status: 0 when the checks ran, however weak the domain is; 75
/// when they could not run (the DNS servers did not answer).
///
/// Examples:
///   mailseal status bob@example.net
///   mailseal status --json bob@example.net carol@example.org
///   mailseal status --domain example.org
///   mailseal status --json --domain example.org --domain example.net
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The recipients to check.
    #[arg(required_unless_present = "domains", value_name = "ADDR")]
    addresses: Vec<String>,
    /// A mail domain whose DNS and HTTPS posture to check (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// Show every DNS query and HTTP request of the domain checks, and
    /// what it returned, on stderr.
    #[arg(short, long)]
    verbose: bool,
}

/// The JSON of `status` with --domain.
#[derive(Serialize)]
struct Combined<'a> {
    recipients: &'a [Report],
    domains: &'a [DomainReport],
}

#[derive(Serialize)]
struct Report {
    address: String,
    /// The [policy] protection for this address.
    policy: Protection,
    /// `encrypt`, `sign`, `plain` or `refuse`.
    verdict: &'static str,
    technology: Option<&'static str>,
    fingerprint: Option<String>,
    /// `store`, or the discovery method that found the key.
    found_by: Option<String>,
    provenance: Option<Provenance>,
    reason: String,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let domains = if args.domains.is_empty() {
        Vec::new()
    } else {
        Checker::new(&context.config)
            .traced(context.trace(args.verbose))
            .check(&args.domains)?
    };
    let reports = if args.addresses.is_empty() {
        Vec::new()
    } else {
        recipients(context, &args.addresses)?
    };
    if context.json {
        if args.domains.is_empty() {
            context.print_json(&reports)?;
        } else {
            context.print_json(&Combined {
                recipients: &reports,
                domains: &domains,
            })?;
        }
        return Ok(0);
    }
    for r in &reports {
        let what = match r.verdict {
            "encrypt" => "encrypted (OpenPGP)".to_string(),
            "sign" => "signed, not encrypted (when you have a signing key)".to_string(),
            "plain" => "sent as it is".to_string(),
            _ => "refused: nothing would be sent".to_string(),
        };
        println!("{}: {what}", r.address);
        println!("    policy {:?}; {}", r.policy, r.reason);
        if let Some(p) = &r.provenance {
            println!(
                "    key {} via {}",
                r.fingerprint.as_deref().unwrap_or_default(),
                p.describe()
            );
        } else if let Some(f) = &r.fingerprint {
            println!("    key {f}");
        }
    }
    for d in &domains {
        print!("{}", human(d));
    }
    Ok(0)
}

/// The human report of one domain: a summary line, then one line per
/// check, riskiest first.
fn human(report: &DomainReport) -> String {
    let mut out = format!(
        "{}: inbound mail {}\n",
        report.domain, report.inbound.summary_text
    );
    for line in report.lines() {
        out.push_str(&format!(
            "  {:<8} {:<8} {}",
            line.status.label(),
            line.check,
            line.text
        ));
        if let Some(fix) = &line.fix {
            out.push_str(&format!("; fix: {fix}"));
        }
        out.push('\n');
    }
    out
}

fn recipients(context: &Context, addresses: &[String]) -> Result<Vec<Report>> {
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let discovery = Discovery::new(&context.home, &context.config)?;
    let mut reports = Vec::new();
    for address in addresses {
        let policy = context.config.policy.protection_for(address);
        let mut certs = seal::candidate_certs(&store, &own, None, address)?;
        let mut found_by = None;
        let mut reason = String::new();
        if openpgp::encryption_keys(address, &certs, false).is_ok() {
            found_by = Some("store".to_string());
        } else if discovery.auto() {
            let located = discovery.locate(
                address,
                &Options {
                    methods: discovery.methods().to_vec(),
                    accept: false,
                    refresh: false,
                },
            )?;
            if located.usable() {
                found_by = Some(match located.status {
                    Status::InStore => "store".to_string(),
                    _ => located
                        .provenance
                        .as_ref()
                        .map(|p| p.method.clone())
                        .unwrap_or_default(),
                });
                certs.extend(located.cert.clone());
            } else {
                reason = explain(&located);
            }
        } else {
            reason = "no usable key in the store, and [discovery] auto is off".into();
        }
        let keys = openpgp::encryption_keys(address, &certs, false).ok();
        if let (Some(_), true) = (&keys, reason.is_empty()) {
            reason = match found_by.as_deref() {
                Some("store") | None => "a usable OpenPGP key in the store".to_string(),
                Some(method) => format!("a usable OpenPGP key, found via {method}"),
            };
        }
        let fingerprint = keys.as_ref().map(|k| k.cert.fingerprint().to_hex());
        let has_key = keys.is_some();
        let sign = if context.config.policy.sign {
            "sign"
        } else {
            "plain"
        };
        let verdict = match (policy, has_key) {
            (Protection::Plain, _) => "plain",
            (Protection::SignOnly, _) => sign,
            (_, true) => "encrypt",
            (Protection::RequireEncryption, false) => "refuse",
            (Protection::EncryptIfPossible, false) => sign,
        };
        reports.push(Report {
            address: address.clone(),
            policy,
            verdict,
            technology: (verdict == "encrypt").then_some("openpgp"),
            provenance: fingerprint
                .as_deref()
                .and_then(|f| discovery.provenance().get(f).last().cloned()),
            fingerprint,
            found_by,
            reason,
        });
    }
    Ok(reports)
}

fn explain(located: &Located) -> String {
    match located.error() {
        Some(e) => e.to_string(),
        None => located.tried_text(),
    }
}
