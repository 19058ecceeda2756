//! `encrypt`: a message in, a PGP/MIME multipart/encrypted message out,
//! streamed so that memory stays flat whatever the body's size.

use std::io::{self, Read, Write};

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::crypto::KeyPair;
use sequoia_openpgp::serialize::stream::{
    Armorer, Encryptor, LiteralWriter, Message, Recipient, Signer,
};

use super::{pgpmime, policy, RecipientKeys};
use crate::message::canon::CrlfWriter;
use crate::message::{mime, protect, Headers};
use crate::{Error, Result};

/// How to encrypt.
#[derive(Debug, Clone, Copy)]
pub struct EncryptOptions {
    /// RFC 9788 header protection.
    pub protect_headers: bool,
}

/// Encrypts the message with `headers` and `body` to every key in
/// `recipients` (hidden ones with a wildcard key ID), signed by `signer`
/// when given (RFC 3156 §6.2), and writes the PGP/MIME message to `output`.
pub fn encrypt_message<W: Write + Send + Sync>(
    headers: &Headers,
    body: &mut dyn Read,
    recipients: &[RecipientKeys],
    signer: Option<KeyPair>,
    options: EncryptOptions,
    output: &mut W,
) -> Result<()> {
    let split = protect::for_encryption(headers, options.protect_headers);
    let boundary = mime::new_boundary();
    let engine = |e: anyhow::Error| Error::OpenPgp(e);
    let write_err = |e: io::Error| Error::io("writing the encrypted message", e);

    output
        .write_all(&pgpmime::encrypted_head(&split.outer, &boundary))
        .map_err(write_err)?;

    let mut openpgp_recipients = Vec::new();
    for recipient in recipients {
        let features = recipient
            .cert
            .with_policy(policy(), None)
            .ok()
            .and_then(|valid| valid.features());
        for key in &recipient.keys {
            let handle = (!recipient.hidden).then(|| key.key_handle());
            openpgp_recipients.push(Recipient::new(features.clone(), handle, *key));
        }
    }

    let message = Message::new(CrlfWriter::new(&mut *output));
    let message = Armorer::new(message).build().map_err(engine)?;
    let message = Encryptor::for_recipients(message, openpgp_recipients)
        .build()
        .map_err(engine)?;
    let message = match signer {
        Some(keypair) => Signer::new(message, keypair)
            .and_then(|s| s.build())
            .map_err(engine)?,
        None => message,
    };
    let literal = LiteralWriter::new(message).build().map_err(engine)?;
    let mut plaintext = CrlfWriter::new(literal);
    plaintext
        .write_all(&split.inner.to_bytes())
        .map_err(write_err)?;
    plaintext.write_all(b"\r\n").map_err(write_err)?;
    io::copy(body, &mut plaintext).map_err(|e| Error::io("reading the message body", e))?;
    plaintext.into_inner().finalize().map_err(engine)?;

    output
        .write_all(&pgpmime::encrypted_tail(&boundary))
        .map_err(write_err)
}
