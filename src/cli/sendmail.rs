//! `mailseal sendmail`: the sendmail command line that mutt, git
//! send-email, cron, PHP's mail() and Symfony use; also run when the binary
//! is invoked under the name `sendmail` (or `mailq`, which lists the queue).

use std::io::{BufRead, Read, Write};

use mailseal::config::Aliases;
use mailseal::message::header::split_entity;
use mailseal::message::Headers;
use mailseal::seal;
use mailseal::submit::Dsn;
use mailseal::{Error, Result};

use super::send::{self, Delivery};
use super::{queue, read_input, Context};

/// Read a message on stdin and send it, sendmail style (sysexits codes).
///
/// The message is sealed per policy and submitted as `mailseal send` does.
/// Without -t the recipients are the ADDR arguments; with -t they are To,
/// Cc and Bcc, plus any ADDR. An ADDR that is not in To or Cc is a Bcc
/// recipient (mutt and git send-email pass Bcc this way): it gets a copy of
/// its own, in its own SMTP transaction, that names no other recipient.
/// Local names (no @) go through [sendmail] aliases. Without -i a line
/// holding a single "." ends the message. A message with no header at all
/// is taken as a body. Date and Message-ID are added when missing. The
/// envelope sender is -f, else the From address when it has a domain, else
/// [sendmail] from ("%U" the login name, "%H" the host name), which also
/// becomes the From field when there is none (with -F as the name).
/// Nothing is printed on success.
///
/// With [sendmail] queue = true, or while `mailseal agent` runs on this
/// home, the sealed message goes into the agent's queue (exit 0 once it is
/// on disk) and the agent delivers it, retrying while the relay is down,
/// with its DSN requests (-N, -R, -V), through --relay NAME if given, else
/// [agent] relay. Otherwise it is submitted now: a relay that is down is exit 75, a recipient the relay refuses is
/// reported on stderr while the others still get the message, and the exit
/// code is 69 (75 when every refusal was temporary); errors are never
/// mailed back.
///
/// Modes: -bm (the default) delivers the message on stdin; -bs speaks SMTP
/// on stdin and stdout (as Symfony's sendmail transport expects), each
/// message delivered as above before the reply to its data; -bp (or the
/// name `mailq`) lists the agent's queue; -q (also -q30m and the like, the
/// interval is ignored) delivers the queue now, as `mailseal queue flush`.
/// After `sendmail`, -q is this, not --quiet.
///
/// Accepted and ignored: -oem, -oee, -oep, -oeq, -oew (error reporting:
/// mailseal reports on stderr and in the exit code, never by mail), -odi,
/// -odb, -odq (delivery mode), -om (me too), -B 7BIT|8BITMIME (the relay's
/// capabilities decide). Any other flag or -o option is refused (exit 64).
///
/// Examples:
///   mailseal sendmail -t -i < message.eml
///   mailseal sendmail -oem -oi -- bob@example.net carol@example.com < message.eml
///   mailseal sendmail -f alice@example.org -N failure,delay bob@example.net < message.eml
///   echo "disk full" | mailseal sendmail root
///   mailseal sendmail -bs
///   ln -s "$(command -v mailseal)" ~/bin/sendmail
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Take recipients from the To, Cc and Bcc headers.
    #[arg(short = 't')]
    headers: bool,
    /// Do not treat a line with a single "." as the end of the message.
    #[arg(short = 'i')]
    ignore_dots: bool,
    /// Sendmail option: -oi is -i; -oem, -oee, -oep, -oeq, -oew, -odi,
    /// -odb, -odq and -om are accepted and ignored.
    #[arg(short = 'o', value_name = "OPTION")]
    options: Vec<String>,
    /// Envelope sender (MAIL FROM); -r is the old name.
    #[arg(short = 'f', short_alias = 'r', value_name = "FROM")]
    from: Option<String>,
    /// Full name of the sender, used when the message has no From header.
    #[arg(short = 'F', value_name = "NAME")]
    full_name: Option<String>,
    /// Body type (7BIT, 8BITMIME): accepted; the relay's capabilities decide.
    #[arg(short = 'B', value_name = "TYPE")]
    body_type: Option<String>,
    /// Mode: m (deliver the message on stdin, the default), s (SMTP on
    /// stdin/stdout), p (list the queue).
    #[arg(short = 'b', value_name = "MODE")]
    mode: Option<String>,
    /// DSN: when to notify the sender: never, or some of
    /// success,failure,delay (passed on when the relay offers DSN).
    #[arg(short = 'N', value_name = "WHEN")]
    notify: Option<String>,
    /// DSN: what a notification returns: full or hdrs.
    #[arg(short = 'R', value_name = "RET")]
    ret: Option<String>,
    /// DSN: an envelope id for notifications.
    #[arg(short = 'V', value_name = "ENVID")]
    envid: Option<String>,
    /// Show the SMTP dialogue and key discovery on stderr (AUTH lines are
    /// [redacted]).
    #[arg(short = 'v')]
    verbose: bool,
    /// What -q becomes: deliver the agent's queue now.
    #[arg(long = "queue-run", hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "", value_name = "INTERVAL")]
    queue_run: Option<String>,
    /// Submit through [relay.NAME] [default: default; queued: [agent]
    /// relay].
    #[arg(long, value_name = "NAME")]
    relay: Option<String>,
    /// Recipients.
    #[arg(value_name = "ADDR")]
    addresses: Vec<String>,
}

/// `-o` options that change nothing here (see the command's help).
const IGNORED_OPTIONS: &[&str] = &["em", "ee", "ep", "eq", "ew", "di", "db", "dq", "m"];

/// `data` up to a line holding a single ".", if there is one.
fn cut_at_dot_line(data: &[u8]) -> &[u8] {
    let mut start = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let trimmed = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if trimmed == b"." {
            return &data[..start];
        }
        start += line.len();
    }
    data
}

/// Whether `data` starts with a header field (`Name:`): if not, the whole
/// input is a body (as msmtp takes it).
fn starts_with_header(data: &[u8]) -> bool {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let colon = first.iter().position(|&b| b == b':');
    colon.is_some_and(|c| {
        c > 0
            && first[..c]
                .iter()
                .all(|&b| (33..=126).contains(&b) && b != b':')
    })
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let ignore_dots = check_options(&args)?;
    let dsn = Dsn::new(
        args.notify.as_deref(),
        args.ret.as_deref(),
        args.envid.as_deref(),
    )?;
    if args.queue_run.is_some() {
        return queue::run(context, queue::Command::Flush);
    }
    match args.mode.as_deref().unwrap_or("m") {
        "m" => {}
        "p" => return queue::run(context, queue::Command::List),
        "s" => return smtp_session(context, &args, dsn),
        mode => {
            return Err(Error::Usage(format!(
                "-b{mode} is not supported; use -bm (deliver a message), -bs (SMTP on stdin/stdout) or -bp (list the queue)"
            )))
        }
    }
    let input = read_input(None)?;
    send::non_empty(&input[..])?;
    let message = if ignore_dots {
        input
    } else {
        cut_at_dot_line(&input).to_vec()
    };
    let aliases = context.config.sendmail.aliases()?;
    let (message, headers) = complete_message(context, &args, message)?;
    let mut envelope: Vec<String> = Vec::new();
    if args.headers {
        for name in ["To", "Cc", "Bcc"] {
            envelope.extend(headers.addresses(name));
        }
    }
    envelope.extend(args.addresses.iter().cloned());
    if envelope.is_empty() {
        return Err(Error::Usage(
            "no recipients: name them as arguments or pass -t to read To, Cc and Bcc".into(),
        ));
    }
    let recipients = expand_recipients(&aliases, &headers, &envelope);
    send::deliver(
        context,
        &mut std::io::Cursor::new(message),
        Delivery {
            relay: args.relay.as_deref(),
            from: envelope_sender(context, &args, &headers)?,
            recipients,
            silent: true,
            verbose: args.verbose,
            dsn,
            queue: queue_mode(context),
        },
    )
}

/// Checks -o, -B; returns whether lone dots are data (-i, -oi).
fn check_options(args: &Args) -> Result<bool> {
    for option in &args.options {
        if option != "i" && !IGNORED_OPTIONS.contains(&option.as_str()) {
            return Err(Error::Usage(format!(
                "-o{option} is not a sendmail option mailseal knows (known: -oi, -o{})",
                IGNORED_OPTIONS.join(", -o")
            )));
        }
    }
    if let Some(body) = &args.body_type {
        if !["7BIT", "8BITMIME"].contains(&body.to_ascii_uppercase().as_str()) {
            return Err(Error::Usage(format!("-B{body}: use -B7BIT or -B8BITMIME")));
        }
    }
    Ok(args.ignore_dots || args.options.iter().any(|o| o == "i"))
}

/// The envelope sender: -f; else the From address (left to delivery)
/// when it has a domain; else [sendmail] from; else nothing (delivery then
/// uses the From address as it is, such as cron's local `root`).
fn envelope_sender(context: &Context, args: &Args, headers: &Headers) -> Result<Option<String>> {
    if let Some(from) = &args.from {
        return Ok(Some(from.clone()));
    }
    if headers
        .addresses("From")
        .first()
        .is_some_and(|a| a.contains('@'))
    {
        return Ok(None);
    }
    context.config.sendmail.sender(&context.home.config_file())
}

/// Whether the message goes into the agent's queue: `[sendmail] queue`, or
/// an agent running on this home (it holds the spool's lock).
fn queue_mode(context: &Context) -> bool {
    let spool = context.home.spool_dir();
    context.config.sendmail.queue
        || (spool.join("lock").exists()
            && mailseal::agent::spool::Spool::open(&spool).is_ok_and(|s| s.is_locked()))
}

/// A body without headers gets an empty header section; a message without
/// From gets one from -f or [sendmail] from (named by -F). Returns the
/// message and its headers.
fn complete_message(
    context: &Context,
    args: &Args,
    mut message: Vec<u8>,
) -> Result<(Vec<u8>, Headers)> {
    if !starts_with_header(&message) {
        message.splice(0..0, *b"\r\n");
    }
    let headers = Headers::parse(split_entity(&message).0)?;
    if headers.get("From").is_some() {
        return Ok((message, headers));
    }
    let from = envelope_sender(context, args, &headers)?.ok_or_else(|| {
        Error::Usage(
            "the message has no From header: add one, pass -f ADDR, or set [sendmail] from".into(),
        )
    })?;
    let field = match &args.full_name {
        Some(name) => format!(
            "From: \"{}\" <{from}>\r\n",
            name.replace(['"', '\\', '\r', '\n'], "")
        ),
        None => format!("From: <{from}>\r\n"),
    };
    message.splice(0..0, field.into_bytes());
    let headers = Headers::parse(split_entity(&message).0)?;
    Ok((message, headers))
}

/// The envelope with local names replaced by their aliases; an address is
/// a Bcc recipient unless To or Cc names it (or a local name that stands
/// for it).
fn expand_recipients(
    aliases: &Aliases,
    headers: &Headers,
    envelope: &[String],
) -> Vec<seal::Recipient> {
    let expand =
        |list: &[String]| -> Vec<String> { list.iter().flat_map(|a| aliases.expand(a)).collect() };
    seal::envelope_recipients(
        &expand(envelope),
        &expand(&seal::visible_addresses(headers)),
    )
}

/// The most a message given with -bs may hold.
const MAX_SMTP_MESSAGE: usize = 64 << 20;

/// `-bs`: SMTP on stdin and stdout, for one local client (no TLS, no AUTH:
/// whoever can run this command can send anyway). Each message is sealed
/// and delivered (or queued) before its data is answered; the reply says
/// what happened.
fn smtp_session(context: &Context, args: &Args, dsn: Dsn) -> Result<u8> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = std::io::stdout().lock();
    let say = |output: &mut std::io::StdoutLock, text: &str| -> Result<()> {
        output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| Error::io("writing to stdout", e))
    };
    say(&mut output, "220 localhost ESMTP mailseal\r\n")?;
    let aliases = context.config.sendmail.aliases()?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let mut line = Vec::new();
        let read = input
            .by_ref()
            .take(4096)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("reading stdin", e))?;
        if read == 0 {
            return Ok(0);
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        let request = smtp_proto::Request::parse(&mut line.iter()).map(|r| r.into_owned());
        use smtp_proto::Request as R;
        let reply: String = match request {
            Ok(R::Ehlo { .. }) => {
                (from, rcpts) = (None, Vec::new());
                "250-localhost\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n".into()
            }
            Ok(R::Helo { .. }) | Ok(R::Rset) => {
                (from, rcpts) = (None, Vec::new());
                "250 2.0.0 Ok\r\n".into()
            }
            Ok(R::Noop { .. }) => "250 2.0.0 Ok\r\n".into(),
            Ok(R::Quit) => {
                say(&mut output, "221 2.0.0 Bye\r\n")?;
                return Ok(0);
            }
            Ok(R::Mail { from: mail }) => {
                from = Some(mail.address);
                rcpts.clear();
                "250 2.1.0 Ok\r\n".into()
            }
            Ok(R::Rcpt { to }) if from.is_some() => {
                rcpts.push(to.address);
                "250 2.1.5 Ok\r\n".into()
            }
            Ok(R::Rcpt { .. }) => "503 5.5.1 MAIL first\r\n".into(),
            Ok(R::Data) if rcpts.is_empty() => "503 5.5.1 RCPT first\r\n".into(),
            Ok(R::Data) => {
                say(&mut output, "354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let data = read_data(&mut input)?;
                let envelope = (from.take().unwrap_or_default(), std::mem::take(&mut rcpts));
                match data {
                    None => "552 5.3.4 Message too big; nothing was sent\r\n".into(),
                    Some(data) => {
                        let result = deliver_smtp(context, args, &dsn, &aliases, envelope, data);
                        smtp_reply(result)
                    }
                }
            }
            Ok(_) => "502 5.5.1 Command not implemented\r\n".into(),
            Err(_) => "500 5.5.2 Syntax error\r\n".into(),
        };
        say(&mut output, &reply)?;
    }
}

/// The message data up to the lone dot, unstuffed; `None` when it exceeds
/// [`MAX_SMTP_MESSAGE`] (read to its end anyway, so the session goes on).
fn read_data(input: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("reading stdin", e))?;
        if read == 0 {
            return Err(Error::Malformed(
                "stdin ended inside the message data (no line with a single \".\")".into(),
            ));
        }
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(&line);
        if content == b"." {
            return Ok((!too_big).then_some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        too_big |= data.len() + line.len() > MAX_SMTP_MESSAGE;
        if !too_big {
            data.extend_from_slice(line);
        }
    }
}

/// Delivers one message given over `-bs`.
fn deliver_smtp(
    context: &Context,
    args: &Args,
    dsn: &Dsn,
    aliases: &Aliases,
    (from, rcpts): (String, Vec<String>),
    data: Vec<u8>,
) -> Result<u8> {
    send::non_empty(&data[..])?;
    let (message, headers) = complete_message(context, args, data)?;
    let sender = Some(from).filter(|f| !f.is_empty());
    send::deliver(
        context,
        &mut std::io::Cursor::new(message),
        Delivery {
            relay: args.relay.as_deref(),
            from: match sender {
                Some(from) => Some(from),
                None => envelope_sender(context, args, &headers)?,
            },
            recipients: expand_recipients(aliases, &headers, &rcpts),
            silent: true,
            verbose: args.verbose,
            dsn: dsn.clone(),
            queue: queue_mode(context),
        },
    )
}

/// The SMTP reply to a message's data: 250, 451 for what may work later,
/// 554 for the rest, with the error's words.
fn smtp_reply(result: Result<u8>) -> String {
    match result {
        Ok(_) => "250 2.0.0 Ok: sent\r\n".into(),
        Err(e) => {
            let words: String = e
                .to_string()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if e.exit_code() == 75 {
                format!("451 4.3.0 {words}\r\n")
            } else {
                format!("554 5.0.0 {words}\r\n")
            }
        }
    }
}
