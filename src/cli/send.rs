//! `mailseal send`: seal a message per policy and submit it to a relay.
//! Also the delivery path of `mailseal sendmail`.

use std::path::PathBuf;

use mailseal::config::Protection;
use mailseal::discover::Discovery;
use mailseal::keys::{CertStore, SecretKeys};
use mailseal::message::header::split_entity;
use mailseal::message::Headers;
use mailseal::openpgp::{self, EncryptOptions, RecipientKeys};
use mailseal::seal::{self, Recipient};
use mailseal::submit::{self, Settings, Transaction, Transport};
use mailseal::{Error, Result};
use sequoia_openpgp::cert::Cert;
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

/// One copy to send: its recipients, sealed bytes and protection.
struct Copy {
    recipients: Vec<Recipient>,
    data: Vec<u8>,
    protection: &'static str,
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
    let mut groups: Vec<Vec<Recipient>> = Vec::new();
    let visible: Vec<Recipient> = recipients.iter().filter(|r| !r.hidden).cloned().collect();
    if !visible.is_empty() {
        groups.push(visible);
    }
    groups.extend(
        recipients
            .iter()
            .filter(|r| r.hidden)
            .map(|r| vec![r.clone()]),
    );
    let sealer = Sealer::new(context, &sender)?;
    let copies: Vec<Copy> = groups
        .into_iter()
        .map(|group| sealer.seal(&headers, body, group))
        .collect::<Result<_>>()?;

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
                protection: copy.protection,
                technology: (copy.protection != "plain").then_some("openpgp"),
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

/// Keys and policy for sealing the copies of one message.
struct Sealer<'a> {
    context: &'a Context,
    store: CertStore,
    own: SecretKeys,
    discovery: Option<Discovery>,
    sender: String,
    /// The sender's own keys: they sign, and are encrypted to (to self).
    sender_keys: Vec<Cert>,
}

impl<'a> Sealer<'a> {
    fn new(context: &'a Context, sender: &str) -> Result<Sealer<'a>> {
        let own = context.secret_keys();
        let sender_keys = seal::sender_keys(&own, context.config.openpgp_identity(sender), sender)?;
        Ok(Sealer {
            context,
            store: context.cert_store()?,
            own,
            discovery: context.discovery()?,
            sender: sender.to_string(),
            sender_keys,
        })
    }

    fn seal(&self, headers: &Headers, body: &[u8], group: Vec<Recipient>) -> Result<Copy> {
        let policy = &self.context.config.policy;
        let rank = |p: Protection| match p {
            Protection::RequireEncryption => 3,
            Protection::EncryptIfPossible => 2,
            Protection::SignOnly => 1,
            Protection::Plain => 0,
        };
        let strictest = group
            .iter()
            .map(|r| policy.protection_for(&r.address))
            .max_by_key(|p| rank(*p))
            .unwrap_or(policy.default);

        if rank(strictest) >= 2 {
            let candidates: Vec<Vec<Cert>> = group
                .iter()
                .map(|r| {
                    seal::candidate_certs(
                        &self.store,
                        &self.own,
                        self.discovery.as_ref(),
                        &r.address,
                    )
                })
                .collect::<Result<_>>()?;
            self.context.discovery_notes(self.discovery.as_ref());
            let keys: Result<Vec<RecipientKeys>> = group
                .iter()
                .zip(&candidates)
                .map(|(r, certs)| openpgp::encryption_keys(&r.address, certs, false))
                .collect();
            match keys {
                Ok(keys) => return self.encrypt(headers, body, keys, group),
                Err(e) if strictest == Protection::RequireEncryption => return Err(e),
                Err(_) => {}
            }
        }
        if rank(strictest) >= 1 && policy.sign {
            if let Some((_, keypair)) =
                openpgp::signing_key(&self.sender_keys, &self.context.unlocker)?
            {
                let message = headers.with_body(body);
                let data = openpgp::sign_message(&message, keypair, policy.protect_headers)?;
                return Ok(Copy {
                    recipients: group,
                    data,
                    protection: "signed",
                });
            }
        }
        let data = headers.with_body(body);
        Ok(Copy {
            recipients: group,
            data,
            protection: "plain",
        })
    }

    fn encrypt<'k>(
        &'k self,
        headers: &Headers,
        body: &[u8],
        mut keys: Vec<RecipientKeys<'k>>,
        group: Vec<Recipient>,
    ) -> Result<Copy> {
        let policy = &self.context.config.policy;
        if policy.encrypt_to_self {
            openpgp::add_encrypt_to_self(&mut keys, &self.sender, &self.sender_keys);
        }
        let signer = if policy.sign {
            openpgp::signing_key(&self.sender_keys, &self.context.unlocker)?
        } else {
            None
        };
        let signed = signer.is_some();
        let mut data = Vec::new();
        openpgp::encrypt_message(
            headers,
            &mut std::io::Cursor::new(body),
            &keys,
            signer.map(|(_, pair)| pair),
            EncryptOptions {
                protect_headers: policy.protect_headers,
            },
            &mut data,
        )?;
        Ok(Copy {
            recipients: group,
            data,
            protection: if signed {
                "encrypted+signed"
            } else {
                "encrypted"
            },
        })
    }
}
