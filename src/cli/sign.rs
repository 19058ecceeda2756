//! `mailseal sign`: RFC 5322 in, PGP/MIME multipart/signed out.

use std::path::PathBuf;

use mailseal::message::canon::CrlfReader;
use mailseal::message::header::read_headers;
use mailseal::openpgp;
use mailseal::output::Output;
use mailseal::{seal, Error, Result};

use super::{open_rereadable, Context};

/// Sign a message (multipart/signed: PGP/MIME with micalg=pgp-sha256, or
/// S/MIME with --smime: application/pkcs7-signature, micalg=sha-256).
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
    /// Use OpenPGP (PGP/MIME) [default unless policy.prefer = "smime"].
    #[arg(long, conflicts_with = "smime")]
    openpgp: bool,
    /// Use S/MIME (multipart/signed, application/pkcs7-signature).
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
    let prefer_smime = context.config.policy.prefer == mailseal::config::Technology::Smime;
    if args.smime || (!args.openpgp && prefer_smime) {
        return super::smime::sign(context, &mut input, &sender, args.output.as_deref());
    }
    let own = context.secret_keys();
    let candidates = seal::sender_keys(&own, context.config.openpgp_identity(&sender), &sender)?;
    let Some((cert, keypair)) = openpgp::signing_key(&candidates, &context.unlocker)? else {
        return Err(Error::NoKey {
            recipient: sender,
            reason: "there is no usable own signing key for this address (see `mailseal key list`)"
                .into(),
        });
    };
    let fingerprint = cert.fingerprint().to_hex();
    let mut output = Output::open(args.output.as_deref())?;
    openpgp::sign_stream(
        &mut input,
        keypair,
        context.config.policy.protect_headers,
        &mut output,
    )?;
    output.commit()?;
    context.note(&format!("mailseal: signed by {fingerprint}"));
    Ok(0)
}
