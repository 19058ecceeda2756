//! `mailseal status`: what protection a message to each address would get,
//! and (`--domain`) the DNS and HTTPS posture of mail domains.

use std::collections::HashMap;
use std::time::SystemTime;

use mailseal::config::{Protection, RequireInbound, Technology};
use mailseal::discover::{Discovery, Located, Method, Options, Provenance, Status};
use mailseal::keys::last_used::LastUsed;
use mailseal::keys::SecretKeys;
use mailseal::posture::level::{self, Level, Warning, WarningKind};
use mailseal::posture::{
    Checker, DomainReport, Inbound, InboundSummary, SenderReport, Status as CheckStatus,
};
use mailseal::submit::hop::{self, Hop};
use mailseal::{openpgp, seal, Result};
use serde::Serialize;

use super::paint::{Painter, Tone};
use super::Context;

/// Show, per recipient, what protection a message would get and why.
///
/// For each address: the protection level of its copy, in one vocabulary
/// shared with --json:
///   end-to-end, verified key   encrypted to a key whose source verifies
///                              the address (WKD, DNSSEC-validated DANE,
///                              a verifying VKS keyserver), or to an S/MIME
///                              certificate that validates to [smime]
///                              trust_anchors
///   end-to-end                 encrypted to a key of weaker provenance
///                              (imported by hand, or from an HKP
///                              keyserver), with the reason
///   signed only                no usable key; signed (policy signs and
///                              the sender has a signing key)
///   transport only             no usable key and not signed: only TLS
///                              protects it on each hop
/// then the [policy] that applies (and its require_inbound), where the key
/// came from, and warnings (a key that expires within 30 days, an
/// unverified source). A key missing from the store is looked up when
/// [discovery] auto is on (a key found is imported, as sealing would).
/// For a copy that is signed only or transport only, the recipient
/// domain's inbound mail is checked (MX, MTA-STS, DANE) and summarised
/// as "protected by DANE", "protected by MTA-STS (enforce)" or "can be
/// downgraded"; this needs the network, so it runs only when [discovery]
/// auto is on with a method beyond store, or when [policy.recipients]
/// asks for require_inbound. A copy refused by require_inbound (or by
/// require-encryption) has the verdict refuse and the reason.
///
/// Then hop 1, mailseal to the relay [relay.default]: the TLS version,
/// cipher suite and verified certificate name of the last successful
/// submission through it (by send, sendmail, the agent or `relay check`),
/// or "not used yet". In --json it is each recipient's hop1 object.
///
/// With --from ADDR, a line for the sender's own domain follows: SPF,
/// DMARC, DKIM and BIMI, each ok, weak, missing or invalid, and a line
/// with what to fix for each that is not sound (--json: from_domain);
/// like the inbound checks, only when [discovery] may use the network.
///
/// Recipients are listed riskiest first (refused, transport only, signed
/// only, end-to-end); --json keeps the order given. On a terminal the
/// verdicts are coloured (red: exposed or refused, yellow: a gap, green:
/// verified); NO_COLOR=1 turns colour off.
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
///   mailseal status --from alice@example.org --json bob@example.net carol@example.org
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
    /// The sender whose signing key decides "signed only" [default: any
    /// own key counts]; its domain's SPF, DMARC, DKIM and BIMI are
    /// checked too.
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
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
    /// The [policy.recipients] require_inbound for this address.
    require_inbound: Option<RequireInbound>,
    /// `encrypt`, `sign`, `plain` or `refuse`.
    verdict: &'static str,
    /// What the copy gets; `None` only when it is refused.
    level: Option<Level>,
    /// The level in words.
    level_text: Option<&'static str>,
    /// Why an end-to-end key is not verified.
    level_reason: Option<String>,
    warnings: Vec<Warning>,
    technology: Option<Technology>,
    fingerprint: Option<String>,
    /// `store`, or the discovery method that found the key.
    found_by: Option<String>,
    provenance: Option<Provenance>,
    /// The own key that certified the recipient's key for the address
    /// (which makes it a verified key).
    certified_by: Option<String>,
    /// The recipient domain's inbound protection, for a copy that is not
    /// encrypted end to end (when it was checked).
    inbound: Option<InboundSummary>,
    reason: String,
    /// Hop 1: mailseal to the relay the copy would be submitted through.
    hop1: Hop1,
    /// The sender checks of the --from address's domain (SPF, DMARC,
    /// DKIM, BIMI); null without --from. The same for every recipient.
    from_domain: Option<FromDomain>,
}

/// The sender checks of the From domain.
#[derive(Clone, Serialize)]
struct FromDomain {
    domain: String,
    /// `None` when the checks did not run (`not_checked` says why).
    checks: Option<SenderReport>,
    not_checked: Option<String>,
}

impl FromDomain {
    /// Checks the domain of `from` when the network may be used
    /// (`networked`, as for the recipients' inbound checks).
    fn of(checker: &Checker, from: &str, networked: bool) -> Option<FromDomain> {
        let (_, domain) = from.rsplit_once('@')?;
        let domain = domain.to_ascii_lowercase();
        let checked = if networked {
            checker.sender(&domain).map_err(|e| e.to_string())
        } else {
            Err(format!(
                "[discovery] uses only the store, so nothing goes to the network; `mailseal status --domain {domain}` checks it"
            ))
        };
        Some(match checked {
            Ok(checks) => FromDomain {
                domain,
                checks: Some(checks),
                not_checked: None,
            },
            Err(why) => FromDomain {
                domain,
                checks: None,
                not_checked: Some(why),
            },
        })
    }

    /// `from example.org: SPF ok, DMARC weak, …`, then a line for each
    /// check that is not sound, with what to fix.
    fn lines(&self, paint: Painter) -> String {
        let Some(checks) = &self.checks else {
            return format!(
                "from {}: not checked ({})\n",
                self.domain,
                self.not_checked.as_deref().unwrap_or_default()
            );
        };
        let lines = checks.lines();
        let summary: Vec<String> = [
            checks.spf.line(),
            checks.dmarc.line(),
            checks.dkim.line(),
            checks.bimi.line(),
        ]
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l.check,
                paint.paint(status_tone(l.status), l.status.label())
            )
        })
        .collect();
        let mut out = format!("from {}: {}\n", self.domain, summary.join(", "));
        for line in lines.iter().filter(|l| l.status < CheckStatus::Ok) {
            let status = paint.paint(status_tone(line.status), line.status.label());
            out.push_str(&format!("    {} {status}: {}", line.check, line.text));
            if let Some(fix) = &line.fix {
                out.push_str(&format!("; fix: {fix}"));
            }
            out.push('\n');
        }
        out
    }
}

/// The relay a message would be submitted through and its last use.
#[derive(Clone, Serialize)]
struct Hop1 {
    /// The relay name ([relay.NAME]).
    relay: String,
    /// Whether config.toml has [relay.NAME].
    configured: bool,
    /// The last successful submission through it; `None`: not used yet.
    last: Option<Hop>,
}

impl Hop1 {
    /// The relay `send` uses without --relay.
    fn of(context: &Context) -> Hop1 {
        let relay = "default".to_string();
        Hop1 {
            configured: context.config.relay.contains_key(&relay),
            last: hop::load(&context.home).remove(&relay),
            relay,
        }
    }

    /// `hop 1: relay NAME (HOST:PORT, STARTTLS): TLSv1.3 …`.
    fn line(&self) -> String {
        match (&self.last, self.configured) {
            (Some(last), _) => format!("hop 1: relay {} ({}\n", self.relay, last.describe()),
            (None, true) => format!("hop 1: relay {}: not used yet\n", self.relay),
            (None, false) => format!(
                "hop 1: relay {}: not configured ([relay.{}] in config.toml)\n",
                self.relay, self.relay
            ),
        }
    }
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let domains = if args.domains.is_empty() {
        Vec::new()
    } else {
        Checker::new(&context.config)
            .cached_in(context.home.mta_sts_cache_file())
            .traced(context.trace(args.verbose))
            .check(&args.domains)?
    };
    let reports = if args.addresses.is_empty() {
        Vec::new()
    } else {
        recipients(context, &args)?
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
    let paint = Painter::for_stdout();
    // Riskiest first: refused, transport only, signed only, end-to-end.
    let mut by_risk: Vec<&Report> = reports.iter().collect();
    by_risk.sort_by_key(|r| std::cmp::Reverse(r.level.map(|l| l as u8 + 1).unwrap_or(u8::MAX)));
    for r in by_risk {
        print!("{}", human_recipient(r, paint));
    }
    if let Some(r) = reports.first() {
        print!("{}", r.hop1.line());
        if let Some(from) = &r.from_domain {
            print!("{}", from.lines(paint));
        }
    }
    for d in &domains {
        print!("{}", human(d, paint));
    }
    Ok(0)
}

/// The human report of one recipient: the level on the first line, then
/// the policy, the key and the warnings.
fn human_recipient(r: &Report, paint: Painter) -> String {
    let inbound_tone = |i: &InboundSummary| match i.summary {
        Some(Inbound::CanBeDowngraded) | None => Tone::Bad,
        Some(_) => Tone::Caution,
    };
    let tone = match (r.level, &r.inbound) {
        (None, _) => Tone::Bad,
        (Some(Level::EndToEndVerifiedKey), _) if r.warnings.is_empty() => Tone::Good,
        (Some(level), _) if level.end_to_end() => Tone::Caution,
        (Some(_), Some(inbound)) => inbound_tone(inbound),
        (Some(_), None) => Tone::Bad,
    };
    let headline = match (r.level, &r.inbound) {
        (None, _) => "refused: nothing would be sent".to_string(),
        (Some(level), _) if level.end_to_end() => {
            let technology = match r.technology {
                Some(Technology::Smime) => "S/MIME",
                _ => "OpenPGP",
            };
            match &r.level_reason {
                Some(why) => format!("{level} ({technology}): {why}"),
                None => format!("{level} ({technology})"),
            }
        }
        (Some(level), Some(inbound)) => format!(
            "{level}; inbound mail to {} {}",
            inbound.domain, inbound.summary_text
        ),
        (Some(level), None) => level.to_string(),
    };
    let mut out = format!("{}: {}\n", r.address, paint.paint(tone, &headline));
    let require = r
        .require_inbound
        .map(|q| format!(", require_inbound {}", q.name()))
        .unwrap_or_default();
    out.push_str(&format!("    policy {}{require}; {}\n", r.policy, r.reason));
    if let Some(p) = &r.provenance {
        out.push_str(&format!(
            "    key {} via {}\n",
            r.fingerprint.as_deref().unwrap_or_default(),
            p.describe()
        ));
    } else if let (Some(f), Some(by)) = (&r.fingerprint, &r.certified_by) {
        out.push_str(&format!("    key {f}, certified by your key {by}\n"));
    } else if let Some(f) = &r.fingerprint {
        out.push_str(&format!("    key {f}\n"));
    }
    if r.level.is_none() {
        if let Some(inbound) = &r.inbound {
            out.push_str(&format!(
                "    inbound mail to {} {}\n",
                inbound.domain, inbound.summary_text
            ));
        }
    }
    for w in &r.warnings {
        // An unverified source is already the reason on the first line.
        if w.kind != WarningKind::UnverifiedSource {
            let warning = paint.paint(Tone::Caution, &format!("warning: {}", w.text));
            out.push_str(&format!("    {warning}\n"));
        }
    }
    out
}

/// The human report of one domain: a summary line, then one line per
/// check, riskiest first.
fn human(report: &DomainReport, paint: Painter) -> String {
    let mut out = format!(
        "{}: inbound mail {}\n",
        report.domain, report.inbound.summary_text
    );
    for line in report.lines() {
        out.push_str(&format!(
            "  {} {:<8} {}",
            paint.paint(
                status_tone(line.status),
                &format!("{:<8}", line.status.label())
            ),
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

/// How a check's status reads: broken or missing is bad, weak is a gap.
fn status_tone(status: CheckStatus) -> Tone {
    match status {
        CheckStatus::Invalid | CheckStatus::Error | CheckStatus::Missing => Tone::Bad,
        CheckStatus::Weak => Tone::Caution,
        CheckStatus::Ok | CheckStatus::Absent => Tone::Good,
    }
}

fn recipients(context: &Context, args: &Args) -> Result<Vec<Report>> {
    let config = &context.config;
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let discovery = Discovery::new(&context.home, config)?;
    let smime = seal::SmimeKeys::load(&context.home, config).ok();
    let signer = has_signing_key(context, &own, smime.as_ref(), args.from.as_deref())?;
    let networked = discovery.auto() && discovery.methods().iter().any(|m| *m != Method::Store);
    let checker = Checker::new(config)
        .cached_in(context.home.mta_sts_cache_file())
        .traced(context.trace(args.verbose));
    let mut inbound_cache: HashMap<String, InboundSummary> = HashMap::new();
    let now = SystemTime::now();
    let hop1 = Hop1::of(context);
    let from_domain = args
        .from
        .as_deref()
        .and_then(|from| FromDomain::of(&checker, from, networked));
    let last_used = LastUsed::load(&context.home.last_used_keys_file());
    let own_certs = own.all()?;
    let mut reports = Vec::new();
    for address in &args.addresses {
        let policy = config.policy.protection_for(address);
        let require_inbound = config.policy.require_inbound_for(address);
        let mut certs = seal::candidate_certs(&store, &own_certs, None, address)?;
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
        let smime_cert = smime
            .as_ref()
            .and_then(|s| s.keyring().encryption_cert(address).ok());
        let use_smime =
            smime_cert.is_some() && (keys.is_none() || config.policy.prefer == Technology::Smime);
        if let (Some(_), true, false) = (&keys, reason.is_empty(), use_smime) {
            reason = match found_by.as_deref() {
                Some("store") | None => "a usable OpenPGP key in the store".to_string(),
                Some(method) => format!("a usable OpenPGP key, found via {method}"),
            };
        }
        if use_smime {
            reason = "an S/MIME certificate that validates to a configured trust anchor".into();
            found_by = Some("store".into());
        }
        let has_key = keys.is_some() || smime_cert.is_some();
        let sign = if config.policy.sign && signer {
            "sign"
        } else {
            "plain"
        };
        let mut verdict = match (policy, has_key) {
            (Protection::Plain, _) => "plain",
            (Protection::SignOnly, _) => sign,
            (_, true) => "encrypt",
            (Protection::RequireEncryption, false) => "refuse",
            (Protection::EncryptIfPossible, false) => sign,
        };
        let encrypting = verdict == "encrypt";

        // The key, its provenance for this address, and what that makes
        // of the copy: the levels sealing reports.
        let last_used = last_used.get(address);
        let mut certified_by = None;
        let (technology, fingerprint, record, mut level, mut warnings) = match (&smime_cert, &keys)
        {
            (Some(cert), _) if use_smime => {
                let l = level::smime_level(
                    address,
                    cert.fingerprint(),
                    cert.validity().1,
                    last_used,
                    now,
                );
                (
                    Technology::Smime,
                    l.fingerprint,
                    None,
                    Some((l.level, None)),
                    l.warnings,
                )
            }
            (_, Some(k)) => {
                // Loaded after the lookup, which may just have recorded it.
                let provenance = discovery.provenance();
                let (l, record) =
                    level::openpgp_level(address, k.cert, &own_certs, &provenance, last_used, now);
                let fingerprint = l.fingerprint.clone();
                certified_by = l.certified_by;
                (
                    Technology::Openpgp,
                    fingerprint,
                    record,
                    Some((l.level, l.reason)),
                    l.warnings,
                )
            }
            _ => (Technology::Openpgp, None, None, None, Vec::new()),
        };
        if !encrypting {
            let unencrypted = if verdict == "sign" {
                Level::SignedOnly
            } else {
                Level::TransportOnly
            };
            level = Some((unencrypted, None));
            warnings.clear();
        }
        warnings.extend(level::revoked_warnings(&certs));
        if verdict == "refuse" {
            level = None;
        }

        // A copy that is not encrypted: how exposed is it on its way in?
        let mut inbound = None;
        let wanted = require_inbound.is_some() || (networked && verdict != "refuse");
        if !encrypting && wanted {
            if let Some((_, domain)) = address.rsplit_once('@') {
                let domain = domain.to_ascii_lowercase();
                let summary = inbound_cache
                    .entry(domain.clone())
                    .or_insert_with(|| checker.inbound_summary(&domain))
                    .clone();
                inbound = Some(summary);
            }
        }
        // As sealing decides: a copy that is not encrypted goes out only
        // when the recipient domain meets require_inbound.
        if let (Some(required), false, false) = (require_inbound, encrypting, verdict == "refuse") {
            let met = inbound
                .as_ref()
                .and_then(|i| i.summary)
                .is_some_and(|s| required.met_by(s));
            let seen = inbound
                .as_ref()
                .map(InboundSummary::describe)
                .unwrap_or_else(|| "the recipient domain is not known".into());
            let prefix = if met {
                format!("require_inbound = \"{}\" is met: {seen}", required.name())
            } else {
                verdict = "refuse";
                level = None;
                format!(
                    "require_inbound = \"{}\" refuses a copy that is not encrypted: {seen}",
                    required.name()
                )
            };
            reason = if reason.is_empty() {
                prefix
            } else {
                format!("{prefix}; {reason}")
            };
        }
        let level_reason = level.as_ref().and_then(|(_, why)| why.clone());
        let level = level.map(|(l, _)| l);
        reports.push(Report {
            address: address.clone(),
            policy,
            require_inbound,
            verdict,
            level,
            level_text: level.map(Level::text),
            level_reason,
            warnings,
            technology: encrypting.then_some(technology),
            fingerprint,
            found_by,
            provenance: record,
            inbound,
            reason,
            certified_by: certified_by.filter(|_| encrypting),
            hop1: hop1.clone(),
            from_domain: from_domain.clone(),
        });
    }
    Ok(reports)
}

/// Whether the sender (`from`, else any own identity) has a key to sign
/// with: OpenPGP or S/MIME.
fn has_signing_key(
    context: &Context,
    own: &SecretKeys,
    smime: Option<&seal::SmimeKeys>,
    from: Option<&str>,
) -> Result<bool> {
    let openpgp = match from {
        Some(from) => {
            !seal::sender_keys(&own.all()?, context.config.openpgp_identity(from), from)?.is_empty()
        }
        None => !own.all()?.is_empty(),
    };
    let smime = smime.is_some_and(|s| match from {
        Some(from) => s.keyring().own_identity(from).is_some(),
        None => !s.own.is_empty(),
    });
    Ok(openpgp || smime)
}

fn explain(located: &Located) -> String {
    match located.error() {
        Some(e) => e.to_string(),
        None => located.tried_text(),
    }
}
