//! The decision made while the client waits at the end of DATA: parse the
//! message, plan its copies and seal each one through
//! [`crate::seal::Sealer`], exactly as `mailseal send` does. Envelope
//! recipients that are not in To or Cc are Bcc recipients
//! ([`seal::recipients`]): each gets a copy of its own, and the Bcc header
//! is removed.

use crate::config::Config;
use crate::discover::Discovery;
use crate::home::Home;
use crate::keys::{CertStore, SecretKeys, Unlocker};
use crate::message::header::split_entity;
use crate::message::Headers;
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

    let store = CertStore::open(&home.cert_dir(), &home.cert_index_file())?;
    let own = SecretKeys::new(&home.openpgp_key_dir());
    // Discovery runs its own runtime: this is called on a blocking thread.
    let discovery = if config.discovery.auto {
        Some(Discovery::new(home, config)?)
    } else {
        None
    };
    let sealer = Sealer::new(config, unlocker, &store, &own, discovery.as_ref(), &sender)?
        .with_smime(seal::SmimeKeys::load(home, config)?);
    let copies = sealer
        .copies(&recipients)
        .into_iter()
        .map(|group| sealer.seal(&headers, body, group))
        .collect::<Result<Vec<_>>>()?;
    Ok((sender, copies))
}
