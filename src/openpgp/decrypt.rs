//! `decrypt`: PGP/MIME (RFC 3156 §6.1 and §6.2) and legacy inline PGP in,
//! the cleartext MIME message out, with protected headers restored.
//! Plaintext is released only after the integrity check passed.

use std::io::Read;

use sequoia_openpgp::parse::stream::DecryptorBuilder;
use sequoia_openpgp::parse::Parse;

use super::verify::{bind_to_author, bind_to_sender, find_armored, verify_detached, Helper, Keys};
use super::{pgpmime, policy, SignatureReport};
use crate::message::header::split_entity;
use crate::message::{canon, protect, Headers};
use crate::{Error, Result};

/// A decrypted message.
#[derive(Debug)]
pub struct Opened {
    /// The cleartext RFC 5322 message, CRLF.
    pub message: Vec<u8>,
    /// The signatures found inside, checked.
    pub signatures: Vec<SignatureReport>,
}

/// Decrypts `message` with the own keys in `keys`.
pub fn decrypt_message(message: &[u8], keys: &Keys) -> Result<Opened> {
    let message = canon::to_crlf(message);
    match pgpmime::parse(&message)? {
        pgpmime::Received::Encrypted { outer, ciphertext } => {
            let (plaintext, mut signatures) = decrypt_openpgp(ciphertext, keys)?;
            let plaintext = canon::to_crlf(&plaintext);
            // RFC 3156 §6.1: a multipart/signed inside the encryption.
            let entity = match pgpmime::parse(&plaintext)? {
                pgpmime::Received::Signed {
                    signed, signature, ..
                } => {
                    signatures.extend(verify_detached(signed, signature, keys)?);
                    signed.to_vec()
                }
                _ => plaintext.clone(),
            };
            let (inner_bytes, body) = split_entity(&entity);
            let inner = Headers::parse(inner_bytes)?;
            let restored = protect::restore(&outer, &inner);
            bind_to_author(&mut signatures, &outer, &inner);
            Ok(Opened {
                message: restored.with_body(body),
                signatures,
            })
        }
        pgpmime::Received::Other { headers, body } => {
            let Some((start, end)) = find_armored(body, "PGP MESSAGE") else {
                return Err(Error::Malformed(
                    "the message is not encrypted: it has neither a PGP/MIME part nor an inline PGP block".into(),
                ));
            };
            let (plaintext, mut signatures) = decrypt_openpgp(&body[start..end], keys)?;
            bind_to_sender(&mut signatures, &headers);
            let mut out = headers.to_bytes();
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body[..start]);
            out.extend_from_slice(&canon::to_crlf(&plaintext));
            out.extend_from_slice(&body[end..]);
            Ok(Opened {
                message: out,
                signatures,
            })
        }
        pgpmime::Received::Signed { .. } => Err(Error::Usage(
            "the message is signed, not encrypted: check it with `mailseal verify`".into(),
        )),
    }
}

/// Decrypts an OpenPGP message, holding all plaintext until the whole
/// message has been authenticated.
fn decrypt_openpgp(ciphertext: &[u8], keys: &Keys) -> Result<(Vec<u8>, Vec<SignatureReport>)> {
    let builder = DecryptorBuilder::from_bytes(ciphertext)
        .map_err(|e| Error::Malformed(format!("cannot read the OpenPGP message: {e}")))?;
    let helper = Helper::new(keys);
    let failure = helper.failure_slot();
    let mut decryptor = match builder.with_policy(policy(), None, helper) {
        Ok(decryptor) => decryptor,
        Err(e) => return Err(failure.take().unwrap_or_else(|| integrity_or_malformed(e))),
    };
    let mut plaintext = Vec::new();
    if let Err(e) = decryptor.read_to_end(&mut plaintext) {
        plaintext.fill(0);
        return Err(integrity_or_malformed(e.into()));
    }
    Ok((plaintext, decryptor.into_helper().reports))
}

fn integrity_or_malformed(e: anyhow::Error) -> Error {
    Error::Integrity(format!(
        "the encrypted data is damaged, truncated or was modified ({e}); no plaintext was released"
    ))
}
