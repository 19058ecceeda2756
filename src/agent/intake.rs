//! The decision made while the client waits at the end of DATA: parse the
//! message, plan its copies and seal each one through
//! [`crate::seal::Sealer`], exactly as `mailseal send` does. Envelope
//! recipients that are not in To or Cc are Bcc recipients
//! ([`seal::recipients`]): each gets a copy of its own, and the Bcc header
//! is removed.
//!
//! Null-sender mail (`MAIL FROM:<>`: bounces and other delivery reports)
//! is sealed like any other mail, with one exception so that a bounce is
//! never lost (an MTA discards a bounce that is refused): a delivery report
//! (`multipart/report`, RFC 6522) to a recipient that `require-encryption`
//! covers but who has no usable key is sent without the returned message
//! (the `message/*` and `text/rfc822-headers` parts are replaced by a
//! note), under encrypt-if-possible. Its human-readable and
//! machine-readable status parts go out; no content of the original
//! message does. Other null-sender mail is refused as usual.

use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use super::spool::Copy;
use crate::config::{Config, Protection};
use crate::discover::Discovery;
use crate::home::Home;
use crate::keys::{CertStore, SecretKeys, Unlocker};
use crate::message::header::{read_header_section, split_entity};
use crate::message::{mime, Headers};
use crate::posture::level::RecipientLevel;
use crate::seal::{self, Sealer};
use crate::{Error, Result};

/// What [`seal_message`] queued.
pub struct Intake {
    /// The From address.
    pub sender: String,
    /// The sealed copies, one after the other in the output.
    pub copies: Vec<Copy>,
    /// What each recipient's copy gets.
    pub levels: Vec<RecipientLevel>,
}

/// Seals `message` (an RFC 5322 message with CRLF line ends, read from
/// its start once per copy, so it need not be in memory) for the envelope
/// recipients `rcpts` under `[policy]`, writing the sealed copies one
/// after the other to `out`. Returns the sender, the copies (whose sizes
/// add up to what was written) and each recipient's level. An error means nothing may be
/// queued: [`Error::NoKey`] when policy requires encryption that is
/// impossible for a recipient.
pub fn seal_message<M: Read + Seek, W: Write + Seek + Send + Sync>(
    config: &Config,
    home: &Home,
    unlocker: &Unlocker,
    null_sender: bool,
    rcpts: &[String],
    message: &mut M,
    out: &mut W,
) -> Result<Intake> {
    let io = |e| Error::io("reading or writing the message being sealed", e);
    message.rewind().map_err(io)?;
    let (head, body_start) = read_header_section(message).map_err(io)?;
    let mut headers = Headers::parse(&head)?;
    let sender = headers
        .addresses("From")
        .into_iter()
        .next()
        .ok_or_else(|| Error::Malformed("the message has no From address".into()))?;
    let recipients = seal::recipients(&headers, rcpts);
    headers.retain(|f| !f.is("Bcc"));
    seal::complete_headers(&mut headers, &sender);

    let store = CertStore::open(&home.cert_dir(), &home.cert_index_file())?;
    let own = SecretKeys::new(&home.openpgp_key_dir());
    // Discovery runs its own runtime: this is called on a blocking thread.
    let discovery = if config.discovery.auto {
        Some(Discovery::new(home, config)?)
    } else {
        None
    };
    let sealer = Sealer::in_home(
        config,
        unlocker,
        home,
        &store,
        &own,
        discovery.as_ref(),
        &sender,
    )?;
    let report = null_sender && headers.content_type().mime == "multipart/report";
    let mut copies = Vec::new();
    let mut levels = Vec::new();
    for group in sealer.copies(&recipients) {
        let start = out.stream_position().map_err(io)?;
        message.seek(SeekFrom::Start(body_start)).map_err(io)?;
        let sealed = match sealer.seal_to(
            &headers,
            &mut BufReader::new(&mut *message),
            group.clone(),
            out,
        ) {
            Err(Error::NoKey { .. }) if report => {
                let relaxed = relaxed_policy(config);
                let sealer = Sealer::in_home(
                    &relaxed,
                    unlocker,
                    home,
                    &store,
                    &own,
                    discovery.as_ref(),
                    &sender,
                )?;
                let mut body = Vec::new();
                message.seek(SeekFrom::Start(body_start)).map_err(io)?;
                message.read_to_end(&mut body).map_err(io)?;
                let stripped = without_returned_message(&headers, &body)?;
                sealer.seal_to(&headers, &mut &stripped[..], group, out)?
            }
            sealed => sealed?,
        };
        let size = out.stream_position().map_err(io)? - start;
        copies.push(Copy::new(&sealed.recipients, sealed.sealing, size as usize));
        levels.extend(sealed.levels);
    }
    // Only for the "key changed" warning: not a reason to refuse mail.
    let _ = sealer.remember_keys(&levels);
    Ok(Intake {
        sender,
        copies,
        levels,
    })
}

/// `config` with every `require-encryption` turned into
/// `encrypt-if-possible`, and no `require_inbound`.
fn relaxed_policy(config: &Config) -> Config {
    let relax = |p: &mut Protection| {
        if *p == Protection::RequireEncryption {
            *p = Protection::EncryptIfPossible;
        }
    };
    let mut relaxed = config.clone();
    relax(&mut relaxed.policy.default);
    for entry in relaxed.policy.recipients.values_mut() {
        entry.require_inbound = None;
        if let Some(p) = entry.protection.as_mut() {
            relax(p);
        }
    }
    relaxed
}

/// The body of a `multipart/report` with the returned message (or its
/// headers) replaced by a note: what may go out without encryption.
fn without_returned_message(headers: &Headers, body: &[u8]) -> Result<Vec<u8>> {
    let content_type = headers.content_type();
    let boundary = content_type
        .param("boundary")
        .ok_or_else(|| Error::Malformed("multipart/report without a boundary".into()))?;
    let multipart = mime::split(body, boundary)?;
    let mut out = multipart.preamble.to_vec();
    let mut removed = false;
    for part in &multipart.parts {
        let (head, _) = split_entity(part);
        let mime = Headers::parse(head)?.content_type().mime;
        let status = [
            "message/delivery-status",
            "message/global-delivery-status",
            "message/disposition-notification",
        ];
        let returned = (mime.starts_with("message/") && !status.contains(&mime.as_str()))
            || mime == "text/rfc822-headers";
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        if returned {
            if !removed {
                out.extend_from_slice(RETURNED_NOTE);
            }
            removed = true;
        } else {
            out.extend_from_slice(part);
        }
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok(out)
}

/// What replaces the returned message of a report that cannot be encrypted.
const RETURNED_NOTE: &[u8] = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nThe returned message was removed by mailseal: policy requires encryption\r\nfor this recipient and there is no usable key, so no content of it is sent.\r\n";
