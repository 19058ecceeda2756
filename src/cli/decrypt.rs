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
/// whole message decrypted and passed its integrity check. Only a message
/// encrypted as a whole is opened: an encrypted part inside other content
/// is refused (exit 65, EFAIL), as are OpenPGP data that was never
/// encrypted and decompression bombs. Exits 1 (after writing the output)
/// when the message is signed but a signature is bad, is not the author's,
/// or covers only part of the message.
///
/// Examples:
///   mailseal decrypt sealed.eml > message.eml
///   mailseal --json decrypt sealed.eml -o message.eml
///   mailseal decrypt --allow-legacy archived-cast5.eml
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
    #[command(flatten)]
    open: super::verify::OpenArgs,
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
    let opened = openpgp::decrypt_message(&message, &keys, args.open.options())?;
    let mut output = Output::open(args.output.as_deref())?;
    output
        .write_all(&opened.message)
        .map_err(|e| Error::io("writing the decrypted message", e))?;
    output.commit()?;
    if opened.verification.signatures.is_empty() {
        context.note("mailseal: the message was not signed: nothing proves who sent it");
    }
    super::verify::report_verification(context, &opened.verification, args.output.is_none())?;
    // As with S/MIME (and gpg): a signature that is there but does not
    // vouch for the whole message from its author is a failed check.
    let signed = !opened.verification.signatures.is_empty();
    Ok(if signed && !opened.verification.is_good() {
        1
    } else {
        0
    })
}
