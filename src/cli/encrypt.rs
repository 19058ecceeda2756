//! `mailseal encrypt`: RFC 5322 in, PGP/MIME multipart/encrypted or S/MIME
//! application/pkcs7-mime out.

use std::io::Read;
use std::path::{Path, PathBuf};

use mailseal::config::Technology;
use mailseal::message::header::read_headers;
use mailseal::message::Headers;
use mailseal::output::Output;
use mailseal::seal::{self, Recipient, Request, Sealed, Sealer, Signing};
use mailseal::smime::{ContentCipher, KeyTransport};
use mailseal::{Error, Result};

use super::Context;

/// Encrypt a message for its recipients (PGP/MIME, RFC 3156, or S/MIME 4.0,
/// RFC 8551).
///
/// Recipients are taken from To, Cc and Bcc unless -r is given. Bcc
/// recipients are removed from the output; with OpenPGP they are encrypted
/// to with hidden key IDs (named only when a Bcc recipient is the message's
/// one recipient besides you: rnp and PGPy cannot open hidden ones). S/MIME names every recipient's certificate, so a
/// message with Bcc needs --bcc-copies DIR: one separate copy per Bcc
/// recipient. The message is signed when the sender (From or --from) has a
/// secret key, unless --no-sign. The real Subject and other headers travel
/// inside the encryption (RFC 9788); the outer Subject reads "[...]".
///
/// Without --openpgp or --smime, S/MIME is used when every recipient has a
/// valid S/MIME certificate and either policy.prefer is "smime" or not
/// every recipient has an OpenPGP certificate.
///
/// Examples:
///   mailseal encrypt message.eml > sealed.eml
///   mailseal encrypt -r bob@example.net -o sealed.eml < message.eml
///   mailseal encrypt --smime --bcc-copies bcc/ message.eml -o sealed.eml
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The message to encrypt [default: stdin].
    file: Option<PathBuf>,
    /// Write the sealed message to OUT (only when everything succeeded).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Encrypt to ADDR instead of the message's To, Cc and Bcc (repeatable).
    #[arg(short = 'r', long = "recipient", value_name = "ADDR")]
    recipients: Vec<String>,
    /// Sign as ADDR instead of the From address.
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// Require a signature (fail if the sender has no secret key).
    #[arg(long, conflicts_with = "no_sign")]
    sign: bool,
    /// Do not sign.
    #[arg(long)]
    no_sign: bool,
    /// Use OpenPGP (PGP/MIME).
    #[arg(long, conflicts_with = "smime")]
    openpgp: bool,
    /// Use S/MIME (application/pkcs7-mime).
    #[arg(long)]
    smime: bool,
    /// S/MIME: write one separately encrypted copy per Bcc recipient to DIR
    /// (DIR/ADDRESS.eml); without it a message with Bcc is refused.
    #[arg(long, value_name = "DIR")]
    bcc_copies: Option<PathBuf>,
    /// S/MIME content cipher: aes256-gcm (authEnveloped-data, default) or
    /// aes256-cbc (enveloped-data, for old clients) [default: smime.content_cipher].
    #[arg(long, value_name = "CIPHER")]
    content_cipher: Option<String>,
    /// S/MIME RSA key transport: rsa-pkcs1v15 (default) or rsa-oaep
    /// [default: smime.key_transport].
    #[arg(long, value_name = "SCHEME")]
    key_transport: Option<String>,
}

/// Opens FILE, or stdin when it is absent or `-`.
fn open_input(path: Option<&Path>) -> Result<Box<dyn Read>> {
    match path.filter(|p| *p != Path::new("-")) {
        Some(path) => std::fs::File::open(path)
            .map(|f| Box::new(std::io::BufReader::with_capacity(1 << 16, f)) as Box<dyn Read>)
            .map_err(|source| Error::InputMissing {
                path: path.to_path_buf(),
                source,
            }),
        None => Ok(Box::new(std::io::stdin().lock())),
    }
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let mut input = open_input(args.file.as_deref())?;
    let (headers, body_start) = read_headers(&mut input)?;
    let recipients = seal::recipients(&headers, &args.recipients);
    if recipients.is_empty() {
        return Err(Error::Usage(
            "the message has no recipients: add To, Cc or Bcc, or name them with -r ADDR".into(),
        ));
    }
    let sender = args
        .from
        .clone()
        .or_else(|| headers.addresses("From").into_iter().next())
        .unwrap_or_default();
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let discovery = context.discovery(None)?;
    let sealer = context
        .sealer(&store, &own, discovery.as_ref(), &sender)?
        .with_request(args.request()?);
    let mut body = std::io::Cursor::new(body_start).chain(input);
    let technology = sealer.technology_for(&recipients);
    let sealed = match technology {
        Technology::Openpgp => encrypt_openpgp(&sealer, &args, &headers, recipients, &mut body),
        Technology::Smime => encrypt_smime(&sealer, &args, &headers, recipients, &mut body),
    };
    context.discovery_notes(discovery.as_ref());
    let sealed = sealed?;
    if let Err(e) = sealer.remember_keys(sealed.iter().flat_map(|s| &s.levels)) {
        context.note(&format!("mailseal: cannot remember the keys used: {e}"));
    }
    let main = &sealed[0];
    let signed = main
        .signed_by
        .as_ref()
        .map(|f| format!("; signed by {f}"))
        .unwrap_or_else(|| "; not signed".into());
    context.note(&match technology {
        Technology::Openpgp => {
            let hidden = main.recipients.iter().filter(|r| r.hidden).count();
            format!(
                "mailseal: encrypted to {} recipient(s){}{signed}",
                main.encrypted_to,
                if hidden > 0 {
                    format!(", {hidden} hidden")
                } else {
                    String::new()
                },
            )
        }
        Technology::Smime => format!(
            "mailseal: S/MIME, encrypted to {} certificate(s){}{signed}",
            main.encrypted_to,
            match sealed.len() - 1 {
                0 => String::new(),
                n => format!(", plus {n} separate Bcc copie(s)"),
            },
        ),
    });
    Ok(0)
}

/// One PGP/MIME message for every recipient, Bcc recipients hidden in it.
fn encrypt_openpgp(
    sealer: &Sealer,
    args: &Args,
    headers: &Headers,
    recipients: Vec<Recipient>,
    body: &mut dyn Read,
) -> Result<Vec<Sealed>> {
    if args.bcc_copies.is_some() {
        return Err(Error::Usage(
            "--bcc-copies is for S/MIME; OpenPGP hides Bcc recipients in the one message".into(),
        ));
    }
    Ok(vec![seal_one(sealer, args, headers, recipients, body)?])
}

/// The one sealed message to all of `recipients`, to --output.
fn seal_one(
    sealer: &Sealer,
    args: &Args,
    headers: &Headers,
    recipients: Vec<Recipient>,
    body: &mut dyn Read,
) -> Result<Sealed> {
    let mut output = Output::open(args.output.as_deref())?;
    let sealed = sealer.seal_to(headers, body, recipients, &mut output)?;
    output.commit()?;
    Ok(sealed)
}

/// S/MIME names every recipient's certificate: the visible recipients
/// share the message, and each Bcc recipient gets a copy of its own in
/// --bcc-copies DIR.
fn encrypt_smime(
    sealer: &Sealer,
    args: &Args,
    headers: &Headers,
    recipients: Vec<Recipient>,
    body: &mut dyn Read,
) -> Result<Vec<Sealed>> {
    let hidden: Vec<&str> = recipients
        .iter()
        .filter(|r| r.hidden)
        .map(|r| r.address.as_str())
        .collect();
    let Some(dir) = args.bcc_copies.as_deref().filter(|_| !hidden.is_empty()) else {
        if !hidden.is_empty() {
            return Err(Error::Usage(format!(
                "the message has Bcc recipients ({}): an S/MIME message names the certificate of every recipient it is encrypted to, so each Bcc recipient needs a separate copy; give --bcc-copies DIR to write one file per Bcc recipient, or remove the Bcc",
                hidden.join(", ")
            )));
        }
        return Ok(vec![seal_one(sealer, args, headers, recipients, body)?]);
    };
    // Every copy needs the body: read it once.
    let mut data = Vec::new();
    body.read_to_end(&mut data)
        .map_err(|e| Error::io("reading the message body", e))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let (visible, bcc): (Vec<Recipient>, Vec<Recipient>) =
        recipients.into_iter().partition(|r| !r.hidden);
    let mut outputs = vec![Output::open(args.output.as_deref())?];
    let mut sealed =
        vec![sealer.seal_to(headers, &mut data.as_slice(), visible, &mut outputs[0])?];
    for r in bcc {
        let mut copy = Output::open(Some(&dir.join(copy_name(&r.address))))?;
        sealed.push(sealer.seal_to(headers, &mut data.as_slice(), vec![r], &mut copy)?);
        outputs.push(copy);
    }
    for output in outputs {
        output.commit()?;
    }
    Ok(sealed)
}

/// A file name for a Bcc copy: the address with anything but letters,
/// digits and `@._+-` replaced.
fn copy_name(address: &str) -> String {
    let safe: String = address
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.eml")
}

impl Args {
    /// What the flags ask of sealing.
    fn request(&self) -> Result<Request> {
        let smime_cipher = parsed(
            "--content-cipher",
            &self.content_cipher,
            ContentCipher::parse,
            "aes256-gcm or aes256-cbc",
        )?;
        let smime_transport = parsed(
            "--key-transport",
            &self.key_transport,
            KeyTransport::parse,
            "rsa-pkcs1v15 or rsa-oaep",
        )?;
        Ok(Request {
            require_encryption: true,
            technology: match (self.openpgp, self.smime) {
                (true, _) => Some(Technology::Openpgp),
                (_, true) => Some(Technology::Smime),
                _ => None,
            },
            signing: match (self.sign, self.no_sign) {
                (true, _) => Signing::Require,
                (_, true) => Signing::Never,
                _ => Signing::Policy,
            },
            smime_cipher,
            smime_transport,
        })
    }
}

/// The value of `flag`, if given, read by `parse`; a usage error naming
/// the `choices` when it is not one of them.
fn parsed<T>(
    flag: &str,
    value: &Option<String>,
    parse: impl Fn(&str) -> Option<T>,
    choices: &str,
) -> Result<Option<T>> {
    value
        .as_deref()
        .map(|name| {
            parse(name).ok_or_else(|| Error::Usage(format!("{flag} {name:?}: use {choices}")))
        })
        .transpose()
}
