//! `mailseal verify`: exit 0 only when every signature is good and covers
//! the whole message.

use std::path::PathBuf;

use mailseal::openpgp::{OpenOptions, SignatureReport, Verification};
use mailseal::Result;

use super::{open_rereadable, Context};

/// Check the signatures of a message.
///
/// Exits 0 only when the message is signed, every signature is good and
/// made by the sender (From), and the signatures cover everything a reader
/// sees; 1 otherwise, with the reason ("only part of this message is
/// signed" names the parts outside). OpenPGP (multipart/signed, inline
/// signed and clear-signed text, signed and encrypted messages) and S/MIME
/// (multipart/signed and opaque signed-data) are recognised.
///
/// Examples:
///   mailseal verify signed.eml
///   mailseal --json verify signed.eml
///   mailseal verify inline-signed.eml   (gpg --clearsign, gpg --armor --sign)
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The message to check [default: stdin].
    file: Option<PathBuf>,
    /// S/MIME: store the certificates of signatures that verified.
    #[arg(long)]
    import_certs: bool,
    #[command(flatten)]
    open: OpenArgs,
}

/// Limits for opening OpenPGP data (decrypt and verify).
#[derive(clap::Args)]
pub struct OpenArgs {
    /// Refuse OpenPGP data that decompresses to more than SIZE bytes (K, M,
    /// G suffixes) [default: 100 times the input, at least 64M, at most 1G
    /// unless the input is larger].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_decompressed: Option<u64>,
    /// Also read data encrypted with the legacy ciphers CAST5, 3DES and
    /// IDEA (old archives; mailseal never writes them).
    #[arg(long)]
    allow_legacy: bool,
}

impl OpenArgs {
    /// The library's options.
    pub fn options(&self) -> OpenOptions {
        OpenOptions {
            max_decompressed: self.max_decompressed,
            allow_legacy: self.allow_legacy,
        }
    }
}

/// A size in bytes, optionally with a K, M or G (binary) suffix.
fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 10),
        Some((at, 'm' | 'M')) => (&text[..at], 20),
        Some((at, 'g' | 'G')) => (&text[..at], 30),
        _ => (text, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{text:?} is not a size: use bytes or a number with K, M or G"))
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let mut input = open_rereadable(args.file.as_deref())?;
    let verified = context
        .opener(args.open.options(), &std::env::temp_dir())
        .verify(&mut input)?;
    if args.import_certs && !verified.certificates.is_empty() {
        super::smime::import_certs(context, &verified.certificates)?;
    }
    let verification = verified.verification;
    report_verification(context, &verification, false)?;
    let good = verification.is_good();
    if !good && !context.json {
        let reason = if verification.signatures.is_empty() {
            "the message is not signed"
        } else if verification.signatures.iter().all(SignatureReport::is_good) {
            "only part of this message is signed"
        } else {
            "not every signature is good"
        };
        eprintln!("mailseal: verification failed: {reason}");
    }
    Ok(if good { 0 } else { 1 })
}

/// Reports signatures: JSON on stdout with --json (unless stdout carries
/// the message), else one line each on stderr.
pub fn report(context: &Context, reports: &[SignatureReport], stdout_busy: bool) -> Result<()> {
    report_verification(
        context,
        &Verification {
            signatures: reports.to_vec(),
            unsigned_parts: Vec::new(),
        },
        stdout_busy,
    )
}

/// Reports signatures and, when they leave content uncovered, which: JSON
/// (`signatures`, `unsigned_parts`) on stdout with --json (unless stdout
/// carries the message), else lines on stderr.
pub fn report_verification(
    context: &Context,
    verification: &Verification,
    stdout_busy: bool,
) -> Result<()> {
    if context.json && !stdout_busy {
        return context.print_json(verification);
    }
    for r in &verification.signatures {
        if context.json {
            eprintln!("{}", serde_json::to_string(r).expect("serializable"));
        } else {
            context.note(&format!("mailseal: {}", r.describe()));
        }
    }
    if verification.is_partial() {
        if context.json {
            let parts = serde_json::json!({ "unsigned_parts": verification.unsigned_parts });
            eprintln!("{parts}");
        } else {
            context.note(&format!(
                "mailseal: only part of this message is signed; not covered by any signature: {}",
                verification.unsigned_parts.join("; ")
            ));
        }
    }
    Ok(())
}
