//! `mailseal decrypt`: PGP/MIME, inline PGP or S/MIME in, cleartext MIME out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use mailseal::openpgp::{self, verify, Verification};
use mailseal::output::Output;
use mailseal::{Error, Result};

use super::{open_input, Context};

/// Decrypt a message; report its signatures on stderr (or with --json).
///
/// OpenPGP (PGP/MIME, inline) and S/MIME are recognised by themselves.
/// Protected headers (RFC 9788) are restored. Nothing is written unless the
/// whole message decrypted and passed its integrity check. PGP/MIME and
/// S/MIME (base64 enveloped or authEnveloped) messages of 4 MiB or more are
/// decrypted as a stream in bounded memory; their plaintext waits for the
/// check in a temporary file that is itself encrypted, in $TMPDIR or beside
/// OUT. Only a message
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
    let (mut input, size) = open_input(args.file.as_deref())?;
    let mut message = Vec::new();
    (&mut input)
        .take(STREAM_FROM as u64)
        .read_to_end(&mut message)
        .map_err(|e| Error::io("reading the message", e))?;
    let large = message.len() == STREAM_FROM;
    let spill_dir = || match args.output.as_deref().and_then(|p| p.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => std::env::temp_dir(),
    };
    if large && mailseal::smime::stream::is_enveloped(&message) {
        let input = std::io::Cursor::new(message).chain(input);
        return super::smime::decrypt_stream(
            context,
            input,
            &spill_dir(),
            args.output.as_deref(),
            args.import_certs,
            args.allow_unauthenticated,
        );
    }
    if large && openpgp::stream::is_pgpmime_encrypted(&message) {
        let keys = Keys::of(context)?;
        let input = std::io::Cursor::new(message).chain(input);
        let mut decrypted = openpgp::decrypt_stream(
            input,
            size,
            &keys.borrow(context),
            args.open.options(),
            &spill_dir(),
        )?;
        let verification = std::mem::take(&mut decrypted.verification);
        write_output(args.output.as_deref(), |out| decrypted.write_to(out))?;
        return report(context, &verification, args.output.is_none());
    }
    input
        .read_to_end(&mut message)
        .map_err(|e| Error::io("reading the message", e))?;
    if mailseal::smime::framing::is_smime(&mailseal::message::canon::to_crlf(&message))? {
        return super::smime::decrypt(
            context,
            &message,
            args.output.as_deref(),
            args.import_certs,
            args.allow_unauthenticated,
        );
    }
    let keys = Keys::of(context)?;
    let opened = openpgp::decrypt_message(&message, &keys.borrow(context), args.open.options())?;
    write_output(args.output.as_deref(), |out| out.write_all(&opened.message))?;
    report(context, &opened.verification, args.output.is_none())
}

/// PGP/MIME and S/MIME enveloped messages from this size on are decrypted
/// as a stream, in bounded memory; smaller ones (and every other kind) are
/// read whole.
const STREAM_FROM: usize = mailseal::spill::IN_MEMORY;

/// The certificate store and own keys, loaded.
struct Keys {
    store: mailseal::keys::CertStore,
    own: Vec<sequoia_openpgp::Cert>,
}

impl Keys {
    fn of(context: &Context) -> Result<Keys> {
        Ok(Keys {
            store: context.cert_store()?,
            own: context.secret_keys().all()?,
        })
    }

    fn borrow<'a>(&'a self, context: &'a Context) -> verify::Keys<'a> {
        verify::Keys {
            store: &self.store,
            own: &self.own,
            unlocker: &context.unlocker,
        }
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
