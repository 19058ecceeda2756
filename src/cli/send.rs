//! `mailseal send`: seal a message per policy and submit it to a relay.
//! Also the delivery path of `mailseal sendmail`.

use std::path::PathBuf;

use mailseal::message::header::split_entity;
use mailseal::message::Headers;
use mailseal::seal::{self, Recipient, SealedCopy, Sealer};
use mailseal::submit::{self, Settings, Transaction, Transport};
use mailseal::{Error, Result};
use serde::Serialize;

use super::{read_input, Context};

/// Seal a message per policy and submit it to a relay over TLS.
///
/// The envelope sender is the From address (or -f); the recipients are To,
/// Cc and Bcc. The Bcc header is removed; the visible recipients share one
/// copy, and every Bcc recipient gets a separately sealed copy in its own
/// SMTP transaction, so no copy names a Bcc recipient.
///
/// Policy ([policy] default and [policy.recipients], strictest recipient of
/// a copy wins): require-encryption sends nothing unless every recipient of
/// every copy has a usable key (exit 67); encrypt-if-possible encrypts a
/// copy when all its recipients have keys and otherwise sends it signed
/// (when the sender has a key and [policy] sign is on) or as it is;
/// sign-only signs when it can; plain sends the message as it is.
///
/// The relay ([relay.NAME], default "default") is reached with STARTTLS or
/// implicit TLS, never in clear; login happens only inside verified TLS.
///
/// Examples:
///   mailseal send message.eml
///   mailseal send --relay work --json < message.eml
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The message to send [default: stdin].
    file: Option<PathBuf>,
    /// Submit through [relay.NAME].
    #[arg(long, value_name = "NAME", default_value = "default")]
    relay: String,
    /// Envelope sender (MAIL FROM) instead of the From address.
    #[arg(short = 'f', long = "from", value_name = "ADDR")]
    from: Option<String>,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let message = read_input(args.file.as_deref())?;
    let headers = Headers::parse(split_entity(&message).0)?;
    let recipients = seal::recipients(&headers, &[]);
    deliver(context, &message, &args.relay, args.from, recipients, false)
}

/// What happened to one recipient.
#[derive(Debug, Serialize)]
struct RecipientReport {
    address: String,
    bcc: bool,
    /// `encrypted+signed`, `encrypted`, `signed` or `plain`.
    protection: &'static str,
    technology: Option<&'static str>,
    /// The relay's reply to the copy this recipient was in.
    accepted: String,
}

#[derive(Debug, Serialize)]
struct Report {
    sender: String,
    transactions: usize,
    recipients: Vec<RecipientReport>,
    transport: Transport,
}

/// Seals `message` for `recipients` per policy and submits it through
/// relay `relay`. `silent` leaves stdout and stderr empty on success
/// (sendmail).
pub fn deliver(
    context: &Context,
    message: &[u8],
    relay: &str,
    from: Option<String>,
    recipients: Vec<Recipient>,
    silent: bool,
) -> Result<u8> {
    let (head, body) = split_entity(message);
    let mut headers = Headers::parse(head)?;
    let sender = from
        .or_else(|| headers.addresses("From").into_iter().next())
        .ok_or_else(|| {
            Error::Usage("the message has no From address: add one or pass -f ADDR".into())
        })?;
    if recipients.is_empty() {
        return Err(Error::Usage(
            "the message has no recipients: add To, Cc or Bcc".into(),
        ));
    }
    headers.retain(|f| !f.is("Bcc"));

    // Plan and seal every copy before connecting: a missing key stops
    // everything with nothing sent.
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let discovery = context.discovery()?;
    let sealer = Sealer::new(
        &context.config,
        &context.unlocker,
        &store,
        &own,
        discovery.as_ref(),
        &sender,
    )?
    .with_smime(seal::SmimeKeys::load(&context.home, &context.config)?);
    let copies: Result<Vec<SealedCopy>> = sealer
        .copies(&recipients)
        .into_iter()
        .map(|group| sealer.seal(&headers, body, group))
        .collect();
    context.discovery_notes(discovery.as_ref());
    let copies = copies?;

    let settings = Settings::from_config(&context.config, &context.home.config_file(), relay)?;
    let transactions: Vec<Transaction> = copies
        .iter()
        .map(|c| Transaction {
            from: sender.clone(),
            to: c.recipients.iter().map(|r| r.address.clone()).collect(),
            data: c.data.clone(),
        })
        .collect();
    let outcome = submit::submit_blocking(&settings, &transactions)?;

    let mut reports = Vec::new();
    for (copy, accepted) in copies.iter().zip(&outcome.accepted) {
        for r in &copy.recipients {
            reports.push(RecipientReport {
                address: r.address.clone(),
                bcc: r.hidden,
                protection: copy.sealing.as_str(),
                technology: copy.technology,
                accepted: accepted.reply.clone(),
            });
        }
    }
    let report = Report {
        sender,
        transactions: transactions.len(),
        recipients: reports,
        transport: outcome.transport,
    };
    if context.json {
        context.print_json(&report)?;
    } else if !silent {
        for r in &report.recipients {
            context.note(&format!(
                "mailseal: {}{}: {} — {}",
                r.address,
                if r.bcc { " (bcc, own copy)" } else { "" },
                r.protection,
                r.accepted
            ));
        }
        let t = &report.transport;
        context.note(&format!(
            "mailseal: via {}:{} ({}), {} {}, certificate verified for {}{}{}",
            t.host,
            t.port,
            t.mode,
            t.tls_version,
            t.cipher_suite,
            t.server_name_verified,
            if t.pin_checked { ", pin matched" } else { "" },
            t.authenticated_as
                .as_deref()
                .map(|u| format!(", logged in as {u}"))
                .unwrap_or_default()
        ));
    }
    Ok(0)
}
