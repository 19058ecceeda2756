//! Signing without encryption: `mailseal sign` ([`Sealer::sign_to`]) and
//! the copies the Sealer only signs. Both pick the sender's key the same
//! way and sign as a stream, reading the message twice (see
//! [`crate::openpgp::sign_stream`]), so memory stays flat at any size.

use std::io::{Cursor, Read, Seek, Write};

use sequoia_openpgp::crypto::KeyPair;

use super::Sealer;
use crate::config::Technology;
use crate::message::Headers;
use crate::smime::certs::OwnIdentity;
use crate::{openpgp, Error, Result};

/// What [`Sealer::sign_to`] made: the technology and the fingerprint of
/// the key (OpenPGP) or certificate (S/MIME) that signed.
#[derive(Debug)]
pub struct Signed {
    pub technology: Technology,
    pub signed_by: String,
}

/// One of the sender's signing keys, unlocked.
pub(super) enum SenderKey {
    Openpgp {
        fingerprint: String,
        keypair: Box<KeyPair>,
    },
    Smime(Box<OwnIdentity>),
}

impl SenderKey {
    pub(super) fn technology(&self) -> Technology {
        match self {
            SenderKey::Openpgp { .. } => Technology::Openpgp,
            SenderKey::Smime(_) => Technology::Smime,
        }
    }

    pub(super) fn fingerprint(&self) -> String {
        match self {
            SenderKey::Openpgp { fingerprint, .. } => fingerprint.clone(),
            SenderKey::Smime(identity) => identity.cert.fingerprint(),
        }
    }
}

/// A reader that can go back to its start.
pub(super) trait Rereadable: Read + Seek {}

impl<T: Read + Seek> Rereadable for T {}

impl Sealer<'_> {
    /// Signs the whole message in `input` (header and body; it is read
    /// twice) as the sender, and writes the multipart/signed message to
    /// `out`. The technology is the requested one, else `[policy] prefer`
    /// when the sender has a key of both; [`Error::NoKey`] when the sender
    /// has none.
    pub fn sign_to<R: Read + Seek>(&self, input: &mut R, out: &mut dyn Write) -> Result<Signed> {
        let Some(key) = self.sender_key()? else {
            let technology = match self.request.technology {
                Some(Technology::Openpgp) => "OpenPGP ",
                Some(Technology::Smime) => "S/MIME ",
                None => "",
            };
            return Err(Error::NoKey {
                recipient: self.sender.clone(),
                reason: format!(
                    "there is no usable own {technology}signing key for this address (see `mailseal key list`)"
                ),
            });
        };
        self.sign_with(key, input, out)
    }

    /// Signs `input` with `key`, as [`Sealer::sign_to`] does.
    pub(super) fn sign_with<R: Read + Seek>(
        &self,
        key: SenderKey,
        input: &mut R,
        out: &mut dyn Write,
    ) -> Result<Signed> {
        let signed = Signed {
            technology: key.technology(),
            signed_by: key.fingerprint(),
        };
        let protect_headers = self.config.policy.protect_headers;
        match key {
            SenderKey::Openpgp { keypair, .. } => {
                openpgp::sign_stream(input, *keypair, protect_headers, out)?
            }
            SenderKey::Smime(identity) => crate::smime::sign::sign_stream(
                input,
                &identity,
                protect_headers,
                crate::smime::settings::rsa_signature(&self.config.smime)?,
                out,
            )?,
        }
        Ok(signed)
    }

    /// The sender's signing key: of the requested technology only, else
    /// of the preferred one (`[policy] prefer`), else of the other.
    pub(super) fn sender_key(&self) -> Result<Option<SenderKey>> {
        let order = match self.request.technology {
            Some(technology) => vec![technology],
            None if self.config.policy.prefer == Technology::Smime => {
                vec![Technology::Smime, Technology::Openpgp]
            }
            None => vec![Technology::Openpgp, Technology::Smime],
        };
        for technology in order {
            let key = match technology {
                Technology::Openpgp => openpgp::signing_key(&self.sender_keys, self.unlocker)?.map(
                    |(cert, keypair)| SenderKey::Openpgp {
                        fingerprint: cert.fingerprint().to_hex(),
                        keypair: Box::new(keypair),
                    },
                ),
                Technology::Smime => self
                    .smime
                    .as_ref()
                    .and_then(|s| s.keyring().own_identity(&self.sender).cloned())
                    .map(|identity| SenderKey::Smime(Box::new(identity))),
            };
            if key.is_some() {
                return Ok(key);
            }
        }
        Ok(None)
    }
}

/// Bodies up to this size are signed from memory: small enough that the
/// agent, signing for many connections at once, stays small.
const IN_MEMORY: usize = 512 * 1024;

/// The message `headers` + `body` made re-readable for signing: in memory
/// up to [`IN_MEMORY`] bytes of body, else in an unnamed temporary file
/// (0600, gone when dropped). The copy it is for goes out signed only, in
/// clear.
pub(super) fn rereadable(headers: &Headers, body: &mut dyn Read) -> Result<Box<dyn Rereadable>> {
    let io = |e| Error::io("reading the message", e);
    let mut message = headers.to_bytes();
    message.extend_from_slice(b"\r\n");
    let limit = IN_MEMORY as u64;
    (&mut *body)
        .take(limit)
        .read_to_end(&mut message)
        .map_err(io)?;
    let mut rest = [0u8; 1];
    let n = body.read(&mut rest).map_err(io)?;
    if n == 0 {
        return Ok(Box::new(Cursor::new(message)));
    }
    let spool_error = |e| Error::io("copying the message to a temporary file", e);
    let mut file = tempfile::tempfile().map_err(spool_error)?;
    file.write_all(&message)
        .and_then(|()| file.write_all(&rest[..n]))
        .map_err(spool_error)?;
    drop(message);
    std::io::copy(body, &mut file).map_err(spool_error)?;
    Ok(Box::new(file))
}
