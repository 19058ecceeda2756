//! `mailseal verify`: exit 0 only when every signature is good.

use std::path::PathBuf;

use mailseal::openpgp::{self, verify::Keys, SignatureReport};
use mailseal::Result;

use super::{read_input, Context};

/// Check the signatures of a message.
///
/// Exits 0 only when the message is signed and every signature is good and
/// made by the sender (From); 1 otherwise, with the reason. OpenPGP and
/// S/MIME (multipart/signed and opaque signed-data) are recognised.
///
/// Examples:
///   mailseal verify signed.eml
///   mailseal --json verify signed.eml
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The message to check [default: stdin].
    file: Option<PathBuf>,
    /// S/MIME: store the certificates of signatures that verified.
    #[arg(long)]
    import_certs: bool,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let message = read_input(args.file.as_deref())?;
    let reports =
        if mailseal::smime::framing::is_smime(&mailseal::message::canon::to_crlf(&message))? {
            super::smime::verify(context, &message, args.import_certs)?
        } else {
            let store = context.cert_store()?;
            let own = context.secret_keys().all()?;
            let keys = Keys {
                store: &store,
                own: &own,
                unlocker: &context.unlocker,
            };
            openpgp::verify_message(&message, &keys)?
        };
    report(context, &reports, false)?;
    let all_good = !reports.is_empty() && reports.iter().all(SignatureReport::is_good);
    if !all_good && !context.json {
        eprintln!(
            "mailseal: verification failed: {}",
            if reports.is_empty() {
                "the message is not signed"
            } else {
                "not every signature is good"
            }
        );
    }
    Ok(if all_good { 0 } else { 1 })
}

/// Reports signatures: JSON on stdout with --json (unless stdout carries
/// the message), else one line each on stderr.
pub fn report(context: &Context, reports: &[SignatureReport], stdout_busy: bool) -> Result<()> {
    if context.json && !stdout_busy {
        return context.print_json(&serde_json::json!({ "signatures": reports }));
    }
    for r in reports {
        if context.json {
            eprintln!("{}", serde_json::to_string(r).expect("serializable"));
        } else {
            context.note(&format!("mailseal: {}", r.describe()));
        }
    }
    Ok(())
}
