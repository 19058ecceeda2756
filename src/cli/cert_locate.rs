//! `mailseal cert locate`: find, validate and import certificates.

use mailseal::discover::{Discovery, Located, Method, Options, Status};
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
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let discovery = Discovery::new(&context.home, &context.config)?;
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
    for address in &args.addresses {
        let located = discovery.locate(address, &options)?;
        if !context.json {
            context.note(&describe(&located));
        }
        results.push(located);
    }
    if context.json {
        context.print_json(&results)?;
    }
    match results.iter().find_map(Located::error) {
        Some(e) => Err(e),
        None => Ok(0),
    }
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
