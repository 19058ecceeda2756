//! `encrypt`: a message in, a PGP/MIME multipart/encrypted message out,
//! streamed so that memory stays flat whatever the body's size. A body
//! over 256 KiB is encrypted and armored on two threads (and a SEIPDv1
//! packet's MDC hashed on a third); a smaller one on one.

use std::io::{self, Read, Write};

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::crypto::{KeyPair, SessionKey};
use sequoia_openpgp::packet::key::{PublicParts, UnspecifiedRole};
use sequoia_openpgp::packet::pkesk::PKESK3;
use sequoia_openpgp::packet::Key;
use sequoia_openpgp::serialize::stream::{Encryptor, LiteralWriter, Message, Recipient, Signer};
use sequoia_openpgp::serialize::Serialize;
use sequoia_openpgp::types::Features;
use sequoia_openpgp::{KeyHandle, Packet};

use super::ascii_armor::MessageArmorer;
use super::seipdv1::{self, Seipdv1Writer};
use super::{pgpmime, policy, RecipientKeys};
use crate::chunks::{chunk_channel, ONE_THREAD_MOST};
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
/// `recipients`, signed by `signer` when given (RFC 3156 §6.2), and writes
/// the PGP/MIME message to `output`.
///
/// Hidden (Bcc) recipients get a wildcard key ID when the message has other
/// recipients, so those cannot learn who else can read it. A copy addressed
/// to one hidden recipient alone (besides the sender's own keys), as `send`,
/// `sendmail` and the agent make for every Bcc recipient, names its key:
/// nobody else receives that copy, and rnp (Thunderbird's engine) and PGPy cannot
/// open a wildcard PKESK.
///
/// The data packet is SEIPDv2 only when every key's certificate announces
/// it in its Features subpacket; otherwise SEIPDv1 (MDC) with an armor
/// checksum, which gpg 2.2, rnp and sq 0.27 read.
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
    let write_err = |e: io::Error| Error::io("writing the encrypted message", e);

    output
        .write_all(&pgpmime::encrypted_head(&split.outer, &boundary))
        .map_err(write_err)?;

    let others = recipients.iter().filter(|r| !r.own).count();
    let mut keys = Vec::new();
    let mut all_support_seipdv2 = true;
    for recipient in recipients {
        let features = announced_features(recipient.cert);
        all_support_seipdv2 &= features.supports_seipdv2();
        let named = !recipient.hidden || others == 1;
        for key in &recipient.keys {
            let handle = named.then(|| key.key_handle());
            keys.push((features.clone(), handle, *key));
        }
    }
    // SEIPDv1 goes with the armor checksum of RFC 4880, SEIPDv2 without
    // (RFC 9580).
    let checksum = !all_support_seipdv2;
    let seal = |sink: &mut dyn WriteSync, body: &mut dyn Read| {
        if all_support_seipdv2 {
            let recipients = keys.iter().map(|(features, handle, key)| {
                Recipient::new(features.clone(), handle.clone(), *key)
            });
            seal_into_seipdv2(sink, recipients, signer, &split.inner, body)
        } else {
            let keys = keys.iter().map(|(_, handle, key)| (handle, *key));
            seal_into_seipdv1(sink, keys, signer, &split.inner, body)
        }
    };

    // A small body is encrypted and armored on this thread: a second
    // thread would cost more than it saves.
    let mut head = Vec::new();
    body.take(ONE_THREAD_MOST as u64 + 1)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("reading the message body", e))?;
    let small = head.len() <= ONE_THREAD_MOST;
    let mut body = (&head[..]).chain(body);
    if small {
        let mut armor = MessageArmorer::new(&mut *output, checksum).map_err(write_err)?;
        seal(&mut armor, &mut body)?;
        armor.finish().map_err(write_err)?;
    } else {
        // Encryption runs here, armoring (base64, CRLF) on a second
        // thread: the two halves of the work each get a core.
        let armored_output = &mut *output;
        std::thread::scope(|scope| -> Result<()> {
            let (mut sender, received) = chunk_channel(CHUNKS_IN_FLIGHT);
            let armorer = scope.spawn(move || -> Result<()> {
                let mut armor = MessageArmorer::new(armored_output, checksum).map_err(write_err)?;
                received
                    .for_each(|chunk| armor.write_all(chunk))
                    .map_err(write_err)?;
                armor.finish().map_err(write_err)?;
                Ok(())
            });
            let sent =
                seal(&mut sender, &mut body).and_then(|()| sender.finish().map_err(write_err));
            let armored = crate::chunks::joined(armorer.join());
            // An armoring failure explains a failed send; report it first.
            armored.and(sent)
        })?;
    }

    output
        .write_all(&pgpmime::encrypted_tail(&boundary))
        .map_err(write_err)
}

/// The features `cert` announces. Sequoia takes a missing Features
/// subpacket to mean SEIPDv2 support; RFC 9580 §5.2.3.32 says the opposite
/// (rnp 0.16 and many older keys have none), so it means SEIPDv1 here.
fn announced_features(cert: &Cert) -> Features {
    cert.with_policy(policy(), None)
        .ok()
        .and_then(|valid| valid.features())
        .unwrap_or_else(|| Features::empty().set_seipdv1())
}

/// Encrypts (and signs) the inner entity, headers then body, into `sink`
/// as PKESKv6 packets and a SEIPDv2 packet (sequoia's encryptor).
fn seal_into_seipdv2<'k>(
    sink: &mut dyn WriteSync,
    recipients: impl IntoIterator<Item = Recipient<'k>>,
    signer: Option<KeyPair>,
    inner: &Headers,
    body: &mut dyn Read,
) -> Result<()> {
    let message = Encryptor::for_recipients(Message::new(sink), recipients)
        .build()
        .map_err(Error::OpenPgp)?;
    write_plaintext(message, signer, inner, body)
}

/// Encrypts (and signs) the inner entity, headers then body, into `sink`
/// as PKESKv3 packets to `keys` (each named by its handle, or hidden) and a
/// SEIPDv1 packet (our [`Seipdv1Writer`], faster than sequoia's).
fn seal_into_seipdv1<'k>(
    sink: &mut dyn WriteSync,
    keys: impl IntoIterator<Item = (&'k Option<KeyHandle>, &'k Key<PublicParts, UnspecifiedRole>)>,
    signer: Option<KeyPair>,
    inner: &Headers,
    body: &mut dyn Read,
) -> Result<()> {
    let write_err = |e: io::Error| Error::io("encrypting the message", e);
    let session_key = SessionKey::new(seipdv1::CIPHER.key_size().map_err(Error::OpenPgp)?)
        .map_err(Error::OpenPgp)?;
    for (handle, key) in keys {
        let mut pkesk =
            PKESK3::for_recipient(seipdv1::CIPHER, &session_key, key).map_err(Error::OpenPgp)?;
        pkesk.set_recipient(handle.clone().map(Into::into));
        Packet::PKESK(pkesk.into())
            .serialize(sink)
            .map_err(Error::OpenPgp)?;
    }
    let mut encrypted = Seipdv1Writer::new(sink, &session_key).map_err(write_err)?;
    write_plaintext(Message::new(&mut encrypted), signer, inner, body)?;
    encrypted.finish().map_err(write_err)?;
    Ok(())
}

/// Writes the inner entity, headers then body, as a literal data packet
/// (signed by `signer`, when given) into `message`, and finalizes it.
fn write_plaintext(
    message: Message,
    signer: Option<KeyPair>,
    inner: &Headers,
    body: &mut dyn Read,
) -> Result<()> {
    let engine = |e: anyhow::Error| Error::OpenPgp(e);
    let write_err = |e: io::Error| Error::io("encrypting the message", e);
    let message = match signer {
        Some(keypair) => Signer::new(message, keypair)
            .and_then(|s| s.build())
            .map_err(engine)?,
        None => message,
    };
    let literal = LiteralWriter::new(message).build().map_err(engine)?;
    let mut plaintext = CrlfWriter::new(literal);
    plaintext.write_all(&inner.to_bytes()).map_err(write_err)?;
    plaintext.write_all(b"\r\n").map_err(write_err)?;
    io::copy(body, &mut plaintext).map_err(|e| Error::io("reading the message body", e))?;
    plaintext.into_inner().finalize().map_err(engine)
}

/// A writer sequoia's message writers accept.
trait WriteSync: Write + Send + Sync {}
impl<W: Write + Send + Sync> WriteSync for W {}

/// Enough to take one of sequoia's 4 MiB bursts while the armoring thread
/// works on the previous one; this is what lets the two threads overlap.
const CHUNKS_IN_FLIGHT: usize = 64;
