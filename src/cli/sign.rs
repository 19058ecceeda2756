//! `mailseal sign`: RFC 5322 in, PGP/MIME multipart/signed out.

use std::path::PathBuf;

use mailseal::config::Technology;
use mailseal::message::canon::CrlfReader;
use mailseal::message::header::read_headers;
use mailseal::output::Output;
use mailseal::seal::{Request, Signing};
use mailseal::{Error, Result};

use super::{open_rereadable, Context};

/// Sign a message (multipart/signed: PGP/MIME with micalg=pgp-sha256, or
/// S/MIME with --smime: application/pkcs7-signature, micalg=sha-256).
///
/// Without --openpgp or --smime, the sender's key of the technology that
/// `[policy] prefer` names signs, else its key of the other. The message
/// is read twice (three times when a base64 or quoted-printable part must
/// be re-encoded) and not held whole, so memory stays flat at any size
/// (stdin is first copied to an unnamed temporary file).
///
/// Parts that could be changed in transit (8-bit text, long lines, trailing
/// white space, "From " at a line start) are re-encoded as quoted-printable
/// or base64 first, so the signed bytes are exactly the bytes sent.
///
/// Examples:
///   mailseal sign message.eml > signed.eml
///   mailseal sign --from alice@example.org -o signed.eml message.eml
///   mailseal sign --smime message.eml > signed.eml
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The message to sign [default: stdin].
    file: Option<PathBuf>,
    /// Write the signed message to OUT (only when everything succeeded).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Sign as ADDR instead of the From address.
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// Use OpenPGP (PGP/MIME) only.
    #[arg(long, conflicts_with = "smime")]
    openpgp: bool,
    /// Use S/MIME (multipart/signed, application/pkcs7-signature) only.
    #[arg(long)]
    smime: bool,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let mut input = open_rereadable(args.file.as_deref())?;
    let (headers, _) = read_headers(&mut CrlfReader::new(&mut input))?;
    let sender = args
        .from
        .or_else(|| headers.addresses("From").into_iter().next())
        .ok_or_else(|| {
            Error::Usage("the message has no From address: add one or pass --from ADDR".into())
        })?;
    let technology = match (args.openpgp, args.smime) {
        (true, _) => Some(Technology::Openpgp),
        (_, true) => Some(Technology::Smime),
        _ => None,
    };
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let sealer = context
        .sealer(&store, &own, None, &sender)?
        .with_request(Request {
            technology,
            signing: Signing::Require,
            ..Request::default()
        });
    let mut output = Output::open(args.output.as_deref())?;
    let signed = sealer.sign_to(&mut input, &mut output)?;
    output.commit()?;
    context.note(&format!(
        "mailseal: {}signed by {}",
        match signed.technology {
            Technology::Openpgp => "",
            Technology::Smime => "S/MIME ",
        },
        signed.signed_by
    ));
    Ok(0)
}
