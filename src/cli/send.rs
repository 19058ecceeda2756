//! `mailseal send`: seal a message per policy and submit it to a relay.
//! Also the delivery path of `mailseal sendmail`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use mailseal::agent::spool::{self, Copy, Entry, Request, Spool};
use mailseal::config::Technology;
use mailseal::message::header::read_headers;
use mailseal::posture::level::{Level, Warning};
use mailseal::posture::InboundSummary;
use mailseal::seal::{self, Recipient, Sealed, Sealer};
use mailseal::submit::{self, Body, Dsn, Options, Rejected, Settings, Transaction, Transport};
use mailseal::{Error, Result};
use serde::Serialize;

use super::{open_rereadable, Context};

/// Seal a message per policy and submit it to a relay over TLS.
///
/// The envelope sender is the From address (or -f); the recipients are To,
/// Cc and Bcc, or the -r addresses. The Bcc header is removed; the visible
/// recipients share one copy, and every Bcc recipient (and every -r
/// address not in To or Cc) gets a separately sealed copy in its own SMTP
/// transaction, so no copy names a Bcc recipient. Date and Message-ID are
/// added when missing, the same for every copy.
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
/// Recipients the relay refuses are reported one by one while the others
/// still get the message; then the exit code is 69 (75 when every refusal
/// was temporary), and the report names who already has it.
///
/// Examples:
///   mailseal send message.eml
///   mailseal send --relay work --json < message.eml
///   mailseal send -r bob@example.net -r carol@example.com message.eml
///   mailseal send -v message.eml     # show the SMTP dialogue
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
    /// Send to ADDR instead of To, Cc and Bcc (repeatable); an ADDR not in
    /// To or Cc is a Bcc recipient with a copy of its own.
    #[arg(short = 'r', long = "recipient", value_name = "ADDR")]
    recipients: Vec<String>,
    /// Show the SMTP dialogue and key discovery's HTTP requests and DNS
    /// queries on stderr (AUTH lines are [redacted]).
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let mut message = open_rereadable(args.file.as_deref())?;
    non_empty(&mut message)?;
    message
        .rewind()
        .map_err(|e| Error::io("reading the message", e))?;
    let (headers, _) = read_headers(&mut message)?;
    let recipients = seal::recipients(&headers, &args.recipients);
    deliver(
        context,
        &mut message,
        Delivery {
            relay: Some(&args.relay),
            from: args.from,
            recipients,
            silent: false,
            verbose: args.verbose,
            dsn: Dsn::default(),
            queue: false,
        },
    )
}

/// `input`, unless there is nothing in it.
pub fn non_empty(mut input: impl Read) -> Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| Error::io("reading the message", e))?;
        if n == 0 {
            return Err(Error::Malformed("empty input: there is no message".into()));
        }
        if !buf[..n].iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
    }
}

/// What happened to one recipient.
#[derive(Debug, Serialize)]
struct RecipientReport {
    address: String,
    bcc: bool,
    /// `encrypted+signed`, `encrypted`, `signed` or `plain`.
    protection: &'static str,
    technology: Option<Technology>,
    /// What the copy got end to end, as `status` says it.
    level: Level,
    /// `level` in words.
    level_text: &'static str,
    /// Why an end-to-end key is not verified.
    level_reason: Option<String>,
    /// The key the copy was encrypted to.
    fingerprint: Option<String>,
    warnings: Vec<Warning>,
    /// The recipient domain's inbound protection, when require_inbound
    /// had it checked.
    inbound: Option<InboundSummary>,
    /// The relay's reply to the copy this recipient was in.
    accepted: String,
}

#[derive(Debug, Serialize)]
struct Report {
    sender: String,
    transactions: usize,
    recipients: Vec<RecipientReport>,
    /// Recipients the relay refused.
    rejected: Vec<Rejected>,
    transport: Transport,
}

/// How one message goes out.
pub struct Delivery<'a> {
    /// Submit through `[relay.NAME]`; `None`: `default`, or when queued
    /// the agent's relay (`[agent] relay`).
    pub relay: Option<&'a str>,
    /// Envelope sender; `None`: the From address.
    pub from: Option<String>,
    pub recipients: Vec<Recipient>,
    /// Nothing on stdout or stderr on success (sendmail).
    pub silent: bool,
    /// The SMTP dialogue and discovery notes on stderr.
    pub verbose: bool,
    pub dsn: Dsn,
    /// Into the agent's queue (HOME/spool) instead of to the relay now.
    pub queue: bool,
}

/// One sealed copy, ready to go: what sealing made, and its bytes in an
/// unnamed temporary file (0600, gone when dropped), so that no copy is
/// held in memory however large the message.
struct SpooledCopy {
    sealed: Sealed,
    file: Arc<File>,
    size: u64,
}

impl SpooledCopy {
    fn body(&self) -> Body {
        Body::File {
            file: self.file.clone(),
            offset: 0,
            len: self.size,
        }
    }
}

/// Seals the message in `message` (read once per copy) per policy for the
/// recipients of `delivery` and submits it (or queues it).
pub fn deliver<R: Read + Seek>(
    context: &Context,
    message: &mut R,
    mut delivery: Delivery,
) -> Result<u8> {
    let io = |e| Error::io("reading the message", e);
    message.rewind().map_err(io)?;
    let (mut headers, rest) = read_headers(message)?;
    let body_start = message.stream_position().map_err(io)? - rest.len() as u64;
    let sender = delivery
        .from
        .take()
        .or_else(|| headers.addresses("From").into_iter().next())
        .ok_or_else(|| {
            Error::Usage("the message has no From address: add one or pass -f ADDR".into())
        })?;
    let recipients = std::mem::take(&mut delivery.recipients);
    if recipients.is_empty() {
        return Err(Error::Usage(
            "the message has no recipients: add To, Cc or Bcc".into(),
        ));
    }
    headers.retain(|f| !f.is("Bcc"));
    seal::complete_headers(&mut headers, &sender);

    // Plan and seal every copy before connecting: a missing key stops
    // everything with nothing sent.
    let store = context.cert_store()?;
    let own = context.secret_keys();
    let discovery = context.discovery(context.trace(delivery.verbose))?;
    let sealer = context.sealer(&store, &own, discovery.as_ref(), &sender)?;
    let copies: Result<Vec<SpooledCopy>> = sealer
        .copies(&recipients)
        .into_iter()
        .map(|group| seal_copy(&sealer, &headers, message, body_start, group))
        .collect();
    if !delivery.silent || delivery.verbose {
        context.discovery_notes(discovery.as_ref());
    }
    let copies = copies?;
    if delivery.verbose {
        for copy in &copies {
            for level in &copy.sealed.levels {
                context.note(&format!(
                    "mailseal: {}: {}",
                    level.address,
                    level.describe()
                ));
            }
        }
    }
    // A home that cannot be written to does not stop the delivery.
    if let Err(e) = sealer.remember_keys(copies.iter().flat_map(|c| &c.sealed.levels)) {
        context.note(&format!("mailseal: cannot remember the keys used: {e}"));
    }

    if delivery.queue {
        return enqueue(context, &sender, &copies, &delivery);
    }
    let relay = delivery.relay.unwrap_or("default");
    let settings = Settings::from_config(&context.config, &context.home.config_file(), relay)?;
    let transactions: Vec<Transaction> = copies
        .iter()
        .map(|c| Transaction {
            from: sender.clone(),
            to: c
                .sealed
                .recipients
                .iter()
                .map(|r| r.address.clone())
                .collect(),
            data: c.body(),
        })
        .collect();
    let options = Options {
        partial: true,
        dsn: delivery.dsn,
        trace: context.trace(delivery.verbose),
    };
    let outcome = submit::submit_blocking_with(&settings, &transactions, &options)?;
    if !outcome.accepted.is_empty() {
        // Hop 1 for `status`; a home that cannot be written to does not
        // fail a delivery that happened.
        if let Err(e) = submit::hop::record(&context.home, &outcome.transport) {
            if delivery.verbose {
                context.note(&format!("mailseal: cannot remember the relay's TLS: {e}"));
            }
        }
    }

    let mut reports = Vec::new();
    for SpooledCopy { sealed: copy, .. } in &copies {
        for (r, level) in copy.recipients.iter().zip(&copy.levels) {
            let accepted = outcome
                .accepted
                .iter()
                .find(|a| a.recipients.contains(&r.address));
            if let Some(accepted) = accepted {
                reports.push(RecipientReport {
                    address: r.address.clone(),
                    bcc: r.hidden,
                    protection: copy.sealing.as_str(),
                    technology: copy.technology,
                    level: level.level,
                    level_text: level.level.text(),
                    level_reason: level.reason.clone(),
                    fingerprint: level.fingerprint.clone(),
                    warnings: level.warnings.clone(),
                    inbound: level.inbound.clone(),
                    accepted: accepted.reply.clone(),
                });
            }
        }
    }
    let report = Report {
        sender,
        transactions: transactions.len(),
        recipients: reports,
        rejected: outcome.rejected,
        transport: outcome.transport,
    };
    if context.json {
        context.print_json(&report)?;
    } else if !delivery.silent {
        for r in &report.recipients {
            context.note(&format!(
                "mailseal: {}{}: {}, {} — {}",
                r.address,
                if r.bcc { " (bcc, own copy)" } else { "" },
                r.protection,
                r.level_text,
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
    refusals(&report)
}

/// Ok when the relay took every recipient; else every refusal on stderr
/// (even from sendmail, which is otherwise silent) and an error: 69 when
/// any refusal is permanent, 75 when all are temporary.
fn refusals(report: &Report) -> Result<u8> {
    if report.rejected.is_empty() {
        return Ok(0);
    }
    for r in &report.rejected {
        eprintln!("mailseal: {}: not accepted: {}", r.recipient, r.reason);
    }
    let refused: Vec<&str> = report
        .rejected
        .iter()
        .map(|r| r.recipient.as_str())
        .collect();
    let mut message = format!(
        "{} of {} recipients not accepted: {}",
        refused.len(),
        refused.len() + report.recipients.len(),
        refused.join(", ")
    );
    if !report.recipients.is_empty() {
        let done: Vec<&str> = report
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        message.push_str(&format!(
            " (already accepted, do not resend to: {})",
            done.join(", ")
        ));
    }
    Err(if report.rejected.iter().any(|r| r.permanent) {
        Error::Unavailable(message)
    } else {
        Error::Temporary(message)
    })
}

/// Puts the sealed copies into the agent's queue, durably, with the DSN
/// requests and relay of `delivery`, and tells a running agent to look.
fn enqueue(
    context: &Context,
    sender: &str,
    copies: &[SpooledCopy],
    delivery: &Delivery,
) -> Result<u8> {
    if let Some(relay) = delivery.relay {
        // Refused now rather than at every delivery attempt.
        submit::relay_named(&context.config, &context.home.config_file(), relay)?;
    }
    let spool = Spool::open(&context.home.spool_dir())?;
    let mut entry = Entry {
        id: String::new(),
        received: spool::now(),
        from: sender.to_string(),
        client: "sendmail".into(),
        user: None,
        copies: copies
            .iter()
            .map(|c| Copy::new(&c.sealed.recipients, c.sealed.sealing, c.size as usize))
            .collect(),
        dsn: delivery.dsn.clone(),
        relay: delivery.relay.map(str::to_string),
    };
    let mut data: Box<dyn Read> = Box::new(std::io::empty());
    for copy in copies {
        data = Box::new(data.chain(copy.file.as_ref()));
    }
    spool.enqueue_from(&mut entry, &mut data)?;
    let running = spool.is_locked();
    if running {
        spool.request(Request::Rescan)?;
    }
    if context.json {
        context.print_json(&entry)?;
    } else if !delivery.silent {
        context.note(&format!(
            "mailseal: queued as {}; {}",
            entry.id,
            if running {
                "the running agent delivers it"
            } else {
                "it goes out when `mailseal agent` runs or at `mailseal queue flush`"
            }
        ));
    }
    Ok(0)
}

/// Seals the copy for `group` from the body of `message` (from
/// `body_start`) into an unnamed temporary file.
fn seal_copy<R: Read + Seek>(
    sealer: &Sealer,
    headers: &mailseal::message::Headers,
    message: &mut R,
    body_start: u64,
    group: Vec<Recipient>,
) -> Result<SpooledCopy> {
    let io = |e| Error::io("spooling the sealed copy", e);
    message
        .seek(SeekFrom::Start(body_start))
        .map_err(|e| Error::io("reading the message", e))?;
    let mut file = tempfile::tempfile().map_err(io)?;
    let sealed = sealer.seal_to(headers, &mut BufReader::new(message), group, &mut file)?;
    let size = file.stream_position().map_err(io)?;
    file.rewind().map_err(io)?;
    Ok(SpooledCopy {
        sealed,
        file: Arc::new(file),
        size,
    })
}
