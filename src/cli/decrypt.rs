//! `mailseal decrypt`: PGP/MIME, inline PGP or S/MIME in, cleartext MIME out.

use std::io::Write;
use std::path::PathBuf;

use mailseal::openpgp::{self, verify::Keys};
use mailseal::output::Output;
use mailseal::{Error, Result};

use super::{read_input, Context};

/// Decrypt a message; report its signatures on stderr (or with --json).
///
/// OpenPGP (PGP/MIME, inline) and S/MIME are recognised by themselves.
/// Protected headers (RFC 9788) are restored. Nothing is written unless the
/// whole message decrypted and passed its integrity check.
///
/// Examples:
///   mailseal decrypt sealed.eml > message.eml
///   mailseal --json decrypt sealed.eml -o message.eml
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The message to decrypt [default: stdin].
    file: Option<PathBuf>,
    /// Write the cleartext message to OUT (only when everything succeeded).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// S/MIME: store the certificates of signatures that verified.
    #[arg(long)]
    import_certs: bool,
    /// S/MIME: release the content of CBC enveloped-data that carries no
    /// good signature, although anyone on the way may have changed it.
    #[arg(long)]
    allow_unauthenticated: bool,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let message = read_input(args.file.as_deref())?;
    if mailseal::smime::framing::is_smime(&mailseal::message::canon::to_crlf(&message))? {
        return super::smime::decrypt(
            context,
            &message,
            args.output.as_deref(),
            args.import_certs,
            args.allow_unauthenticated,
        );
    }
    let store = context.cert_store()?;
    let own = context.secret_keys().all()?;
    let keys = Keys {
        store: &store,
        own: &own,
        unlocker: &context.unlocker,
    };
    let opened = openpgp::decrypt_message(&message, &keys)?;
    let mut output = Output::open(args.output.as_deref())?;
    output
        .write_all(&opened.message)
        .map_err(|e| Error::io("writing the decrypted message", e))?;
    output.commit()?;
    if opened.signatures.is_empty() {
        context.note("mailseal: the message was not signed: nothing proves who sent it");
    }
    super::verify::report(context, &opened.signatures, args.output.is_none())?;
    Ok(0)
}
