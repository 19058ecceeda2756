//! `mailseal sendmail`: the sendmail command line that mutt, git
//! send-email, cron and PHP's mail() use; also run when the binary is
//! invoked under the name `sendmail`.

use mailseal::keys::normalize_address;
use mailseal::message::header::split_entity;
use mailseal::message::Headers;
use mailseal::seal::{self, Recipient};
use mailseal::{Error, Result};

use super::{read_input, send, Context};

/// Read a message on stdin and send it, sendmail style (sysexits codes).
///
/// The message is sealed per policy and submitted exactly as `mailseal
/// send` does. Without -t the recipients are the ADDR arguments; with -t
/// they are To, Cc and Bcc, plus any ADDR. Without -i a line holding a
/// single "." ends the message. Nothing is printed on success.
///
/// Examples:
///   mailseal sendmail -t -i < message.eml
///   mailseal sendmail -f alice@example.org bob@example.net < message.eml
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
    /// Sendmail option; -oi is -i, others are accepted and ignored.
    #[arg(short = 'o', value_name = "OPTION")]
    options: Vec<String>,
    /// Envelope sender (MAIL FROM).
    #[arg(short = 'f', value_name = "FROM")]
    from: Option<String>,
    /// Full name of the sender, used when the message has no From header.
    #[arg(short = 'F', value_name = "NAME")]
    full_name: Option<String>,
    /// Body type (7BIT, 8BITMIME): accepted and ignored, the relay's
    /// capabilities decide.
    #[arg(short = 'B', value_name = "TYPE")]
    body_type: Option<String>,
    /// Mode: only -bm (read a message and deliver it) is supported.
    #[arg(short = 'b', value_name = "MODE")]
    mode: Option<String>,
    /// Submit through [relay.NAME].
    #[arg(long, value_name = "NAME", default_value = "default")]
    relay: String,
    /// Recipients.
    #[arg(value_name = "ADDR")]
    addresses: Vec<String>,
}

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

pub fn run(context: &Context, args: Args) -> Result<u8> {
    if let Some(mode) = args.mode.as_deref().filter(|m| *m != "m") {
        return Err(Error::Usage(format!(
            "-b{mode} is not supported; only -bm (deliver a message)"
        )));
    }
    let ignore_dots = args.ignore_dots || args.options.iter().any(|o| o == "i");
    let input = read_input(None)?;
    let mut message = if ignore_dots {
        input.clone()
    } else {
        cut_at_dot_line(&input).to_vec()
    };
    let headers = Headers::parse(split_entity(&message).0)?;

    if headers.get("From").is_none() {
        let from = args.from.clone().ok_or_else(|| {
            Error::Usage("the message has no From header: add one or pass -f ADDR".into())
        })?;
        let field = match &args.full_name {
            Some(name) => format!(
                "From: \"{}\" <{from}>\r\n",
                name.replace(['"', '\\', '\r', '\n'], "")
            ),
            None => format!("From: <{from}>\r\n"),
        };
        message.splice(0..0, field.into_bytes());
    }
    let headers = Headers::parse(split_entity(&message).0)?;

    let recipients: Vec<Recipient> = if args.headers {
        let mut list = seal::recipients(&headers, &[]);
        for address in &args.addresses {
            let key = normalize_address(address);
            if !list.iter().any(|r| normalize_address(&r.address) == key) {
                list.push(Recipient {
                    address: address.clone(),
                    hidden: false,
                });
            }
        }
        list
    } else if args.addresses.is_empty() {
        Vec::new()
    } else {
        seal::recipients(&headers, &args.addresses)
    };
    if recipients.is_empty() {
        return Err(Error::Usage(
            "no recipients: name them as arguments or pass -t to read To, Cc and Bcc".into(),
        ));
    }
    send::deliver(context, &message, &args.relay, args.from, recipients, true)
}
