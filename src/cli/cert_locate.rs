//! `mailseal cert locate`: find, validate and import certificates.

use mailseal::discover::{Discovery, Located, Method, Options, Status};
use mailseal::keys::smime::Provenance;
use mailseal::{Error, Result};

use super::Context;

/// Find certificates for addresses (store, WKD, DANE, keyservers), check
/// that they are bound to the address and usable now, and import them with
/// where they came from.
///
/// Methods run in the order of [discovery] methods (default: store, wkd,
/// dane, keyserver) or --method; the first usable certificate wins. A key
/// from a keyserver that does not verify addresses, or one that differs
/// from the key stored for the address, is reported and not imported
/// unless --accept is given. Lookups are remembered for [discovery]
/// cache_ttl_secs (hits) and negative_ttl_secs (misses); --refresh asks
/// again.
///
/// Exit codes: 0 every address has a usable key; 67 none found (or only an
/// unverified one); 77 the key changed.
///
/// Examples:
///   mailseal cert locate bob@example.net
///   mailseal cert locate --method wkd,dane --json bob@example.net carol@example.org
///   mailseal cert locate --accept bob@example.net
///   mailseal cert locate -v bob@example.net
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The addresses to look up.
    #[arg(required = true, value_name = "ADDR")]
    addresses: Vec<String>,
    /// Methods to try, in order (comma-separated: store, wkd, dane,
    /// keyserver) [default: [discovery] methods].
    #[arg(long, value_delimiter = ',', value_name = "METHODS")]
    method: Vec<String>,
    /// Import a key from an unverifying keyserver, or one that replaces the
    /// stored key for the address.
    #[arg(long)]
    accept: bool,
    /// Ignore remembered lookups and ask again.
    #[arg(long)]
    refresh: bool,
    /// Show every HTTP request and DNS query, and what it returned, on
    /// stderr.
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let discovery =
        Discovery::new(&context.home, &context.config)?.traced(context.trace(args.verbose));
    let methods = if args.method.is_empty() {
        discovery.methods().to_vec()
    } else {
        Method::parse_list(&args.method).map_err(Error::Usage)?
    };
    let options = Options {
        methods,
        accept: args.accept,
        refresh: args.refresh,
    };
    let mut results = Vec::new();
    let mut with_smime = Vec::new();
    for address in &args.addresses {
        let located = discovery.locate(address, &options)?;
        if !context.json {
            context.note(&describe(&located));
        }
        results.push(located);
        if options.methods.contains(&Method::Dane) {
            for (fingerprint, source) in import_smimea(context, &discovery, address)? {
                context.note(&format!(
                    "{address}: stored X.509 certificate {fingerprint} from SMIMEA {source}"
                ));
                with_smime.push(address.clone());
            }
        }
    }
    if context.json {
        context.print_json(&results)?;
    }
    // An address with an S/MIME certificate from SMIMEA is found even
    // when no OpenPGP certificate was.
    let failure = results
        .iter()
        .filter(|l| !(l.status == Status::NotFound && with_smime.contains(&l.address)))
        .find_map(Located::error);
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// Stores the DNSSEC-validated SMIMEA certificates for `address` in the
/// X.509 store, with their provenance. They are still path-validated
/// against `[smime] trust_anchors` whenever they are used.
fn import_smimea(
    context: &Context,
    discovery: &Discovery,
    address: &str,
) -> Result<Vec<(String, String)>> {
    let Ok((answer, found)) = discovery.smimea(address)? else {
        return Ok(Vec::new());
    };
    let store = context.smime_certs();
    let provenance = Provenance {
        method: "smimea".into(),
        source: format!("{} (DNSSEC {})", found.source, found.dnssec),
        time: found.fetched_at.clone(),
    };
    let mut stored = Vec::new();
    for cert in &answer.certificates {
        let (cert, _) = store.insert_der(&cert.der, &provenance)?;
        stored.push((cert.fingerprint(), found.source.clone()));
    }
    Ok(stored)
}

/// One or two lines for people.
fn describe(l: &Located) -> String {
    let fpr = l.fingerprint.as_deref().unwrap_or_default();
    let source = l
        .provenance
        .as_ref()
        .map(|p| p.describe())
        .unwrap_or_else(|| "the store".into());
    match l.status {
        Status::InStore => format!("{}: {fpr} in the store (from {source})", l.address),
        Status::Imported if !l.previous.is_empty() => format!(
            "{}: imported {fpr} from {source}, replacing {}",
            l.address,
            l.previous.join(", ")
        ),
        Status::Imported => format!("{}: imported {fpr} from {source}", l.address),
        Status::Unverified => format!(
            "{}: {fpr} from {source} is unverified: not imported",
            l.address
        ),
        Status::Changed => format!(
            "{}: {source} offers {fpr}, but the store has {}: not imported",
            l.address,
            l.previous.join(", ")
        ),
        Status::NotFound => format!("{}: not found ({})", l.address, l.tried_text()),
    }
}
