//! `mailseal decrypt`: PGP/MIME, inline PGP or S/MIME in, cleartext MIME out.

use std::path::{Path, PathBuf};

use mailseal::open::Decrypted;
use mailseal::openpgp::Verification;
use mailseal::output::Output;
use mailseal::{Error, Result};

use super::{open_input, Context};

/// Decrypt a message; report its signatures on stderr (or with --json).
///
/// OpenPGP (PGP/MIME, inline) and S/MIME are recognised by themselves.
/// Protected headers (RFC 9788) are restored. Nothing is written unless the
/// whole message decrypted and passed its integrity check. PGP/MIME and
/// S/MIME (enveloped or authEnveloped, in any transfer encoding) messages
/// of 4 MiB or more are decrypted as a stream in bounded memory; their
/// plaintext waits for the check in a temporary file that is itself
/// encrypted, in $TMPDIR or beside OUT. Only a message encrypted as a whole is opened: an encrypted part inside other content
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
    let (input, size) = open_input(args.file.as_deref())?;
    let spill_dir = match args.output.as_deref().and_then(|p| p.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => std::env::temp_dir(),
    };
    let decrypted = context
        .opener(args.open.options(), &spill_dir)
        .decrypt(input, size)?;
    match decrypted {
        Decrypted::OpenPgp {
            verification,
            message,
        } => {
            write_output(args.output.as_deref(), |out| message.write_to(out))?;
            report(context, &verification, args.output.is_none())
        }
        Decrypted::Smime(opened) => super::smime::release(
            context,
            opened,
            args.output.as_deref(),
            args.import_certs,
            args.allow_unauthenticated,
        ),
    }
}

/// Writes the decrypted message to OUT or stdout; OUT appears only when
/// all of it was written.
fn write_output(
    path: Option<&Path>,
    write: impl FnOnce(&mut Output) -> std::io::Result<()>,
) -> Result<()> {
    let mut output = Output::open(path)?;
    write(&mut output).map_err(|e| Error::io("writing the decrypted message", e))?;
    output.commit()
}

/// Reports the signatures and picks the exit code.
fn report(context: &Context, verification: &Verification, stdout_busy: bool) -> Result<u8> {
    if verification.signatures.is_empty() {
        context.note("mailseal: the message was not signed: nothing proves who sent it");
    }
    super::verify::report_verification(context, verification, stdout_busy)?;
    // As with S/MIME (and gpg): a signature that is there but does not
    // vouch for the whole message from its author is a failed check.
    let signed = !verification.signatures.is_empty();
    Ok(if signed && !verification.is_good() {
        1
    } else {
        0
    })
}
