//! `mailseal encrypt`: RFC 5322 in, PGP/MIME multipart/encrypted or S/MIME
//! application/pkcs7-mime out.

use std::io::Read;
use std::path::{Path, PathBuf};

use mailseal::message::header::read_headers;
use mailseal::openpgp::{self, EncryptOptions};
use mailseal::output::Output;
use mailseal::{seal, Error, Result};

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
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let policy = &context.config.policy;
    if use_smime(context, &args, &recipients, &store, &own)? {
        let mut body = std::io::Cursor::new(body_start).chain(input);
        return super::smime::encrypt(
            context,
            &args.smime_args(),
            &headers,
            &recipients,
            &mut body,
        );
    }
    if args.bcc_copies.is_some() {
        return Err(Error::Usage(
            "--bcc-copies is for S/MIME; OpenPGP hides Bcc recipients in the one message".into(),
        ));
    }
    let sender = args
        .from
        .clone()
        .or_else(|| headers.addresses("From").into_iter().next());

    let sender_keys = match &sender {
        Some(address) => {
            seal::sender_keys(&own, context.config.openpgp_identity(address), address)?
        }
        None => Vec::new(),
    };
    let want_signature = args.sign || (!args.no_sign && policy.sign);
    let signer = if want_signature {
        openpgp::signing_key(&sender_keys, &context.unlocker)?
    } else {
        None
    };
    if args.sign && signer.is_none() {
        return Err(Error::NoKey {
            recipient: sender.unwrap_or_else(|| "the sender".into()),
            reason: "--sign was given but there is no usable own signing key for this address"
                .into(),
        });
    }

    let discovery = context.discovery(None)?;
    let candidates: Vec<Vec<_>> = recipients
        .iter()
        .map(|r| seal::candidate_certs(&store, &own, discovery.as_ref(), &r.address))
        .collect::<Result<_>>()?;
    context.discovery_notes(discovery.as_ref());
    let mut keys = recipients
        .iter()
        .zip(&candidates)
        .map(|(r, certs)| openpgp::encryption_keys(&r.address, certs, r.hidden))
        .collect::<Result<Vec<_>>>()?;
    if let (true, Some(sender)) = (policy.encrypt_to_self, &sender) {
        openpgp::add_encrypt_to_self(&mut keys, sender, &sender_keys);
    }

    let signed_by = signer.as_ref().map(|(cert, _)| cert.fingerprint().to_hex());
    let mut output = Output::open(args.output.as_deref())?;
    let mut body = std::io::Cursor::new(body_start).chain(input);
    openpgp::encrypt_message(
        &headers,
        &mut body,
        &keys,
        signer.map(|(_, pair)| pair),
        EncryptOptions {
            protect_headers: policy.protect_headers,
        },
        &mut output,
    )?;
    output.commit()?;

    let hidden = keys.iter().filter(|k| k.hidden).count();
    context.note(&format!(
        "mailseal: encrypted to {} recipient(s){}{}",
        keys.len(),
        if hidden > 0 {
            format!(", {hidden} hidden")
        } else {
            String::new()
        },
        signed_by
            .map(|f| format!("; signed by {f}"))
            .unwrap_or_else(|| "; not signed".into()),
    ));
    Ok(0)
}

impl Args {
    fn smime_args(&self) -> super::smime::EncryptArgs {
        super::smime::EncryptArgs {
            output: self.output.clone(),
            from: self.from.clone(),
            sign: self.sign,
            no_sign: self.no_sign,
            bcc_copies: self.bcc_copies.clone(),
            content_cipher: self.content_cipher.clone(),
            key_transport: self.key_transport.clone(),
        }
    }
}

/// Whether this message goes out as S/MIME.
fn use_smime(
    context: &Context,
    args: &Args,
    recipients: &[seal::Recipient],
    store: &mailseal::keys::CertStore,
    own: &mailseal::keys::SecretKeys,
) -> Result<bool> {
    if args.smime {
        return Ok(true);
    }
    if args.openpgp {
        return Ok(false);
    }
    let keyring = super::smime::Keys::load(context)?;
    let all_smime = recipients
        .iter()
        .all(|r| keyring.keyring().encryption_cert(&r.address).is_ok());
    if !all_smime {
        return Ok(false);
    }
    if context.config.policy.prefer == mailseal::config::Technology::Smime {
        return Ok(true);
    }
    let mut all_openpgp = true;
    for r in recipients {
        let certs = seal::candidate_certs(store, own, None, &r.address)?;
        all_openpgp &= openpgp::encryption_keys(&r.address, &certs, r.hidden).is_ok();
    }
    Ok(!all_openpgp)
}
