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

use crate::config::{Config, Protection};
use crate::discover::Discovery;
use crate::home::Home;
use crate::keys::{CertStore, SecretKeys, Unlocker};
use crate::message::header::split_entity;
use crate::message::{mime, Headers};
use crate::seal::{self, SealedCopy, Sealer};
use crate::{Error, Result};

/// Seals `data` (an RFC 5322 message with CRLF line ends) for the envelope
/// recipients `rcpts` under `[policy]`. An error means nothing may be
/// queued: [`Error::NoKey`] when policy requires encryption that is
/// impossible for a recipient.
pub fn seal_message(
    config: &Config,
    home: &Home,
    unlocker: &Unlocker,
    null_sender: bool,
    rcpts: &[String],
    data: &[u8],
) -> Result<(String, Vec<SealedCopy>)> {
    let (head, body) = split_entity(data);
    let mut headers = Headers::parse(head)?;
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
    let sealer = Sealer::new(config, unlocker, &store, &own, discovery.as_ref(), &sender)?
        .with_smime(seal::SmimeKeys::load(home, config)?)
        .with_records(home);
    let report = null_sender && headers.content_type().mime == "multipart/report";
    let mut copies = Vec::new();
    for group in sealer.copies(&recipients) {
        match sealer.seal(&headers, body, group.clone()) {
            Err(Error::NoKey { .. }) if report => {
                let relaxed = relaxed_policy(config);
                let sealer = Sealer::new(
                    &relaxed,
                    unlocker,
                    &store,
                    &own,
                    discovery.as_ref(),
                    &sender,
                )?
                .with_smime(seal::SmimeKeys::load(home, &relaxed)?)
                .with_records(home);
                let stripped = without_returned_message(&headers, body)?;
                copies.push(sealer.seal(&headers, &stripped, group)?);
            }
            sealed => copies.push(sealed?),
        }
    }
    // Only for the "key changed" warning: not a reason to refuse mail.
    let _ = sealer.remember_keys(&copies);
    Ok((sender, copies))
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
