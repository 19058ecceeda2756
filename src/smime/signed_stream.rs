//! An S/MIME multipart/signed message (RFC 8551 §3.5) checked in bounded
//! memory: a first pass finds its parts, keeping only the signed part's
//! header section and the signature; a second pass hashes the signed part,
//! with every digest algorithm its signers name, as it is read again. The
//! checks are those of [`super::open_message`]: the signer's certificate
//! chain, signing time and message-digest attribute, and the binding of a
//! good signature to the From address.
//!
//! A signed entity that is S/MIME itself is copied, as it is hashed, to a
//! spill to be opened further (by [`super::stream`], layer by layer). A
//! signer that signed the content without signed attributes is checked
//! against the digest of the signed part, as the others. The parts of
//! a large signed entity are not searched for S/MIME parts or MIME errors:
//! the signature covers all of them, so they do not change its report.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::ops::Range;

use super::certs::SmimeCert;
use super::framing;
use super::plan::Keyring;
use super::verify::{self, Content};
use crate::message::signed_parts::SignedParts;
use crate::message::Headers;
use crate::openpgp::SignatureReport;
use crate::spill::Spill;
use crate::{Error, Result};

/// A message that can be read again from its start.
pub trait Reread {
    /// A reader of the message from its start.
    fn read_again(&mut self) -> Result<Box<dyn Read + Send + '_>>;
}

impl Reread for File {
    fn read_again(&mut self) -> Result<Box<dyn Read + Send + '_>> {
        self.rewind()
            .map_err(|e| Error::io("reading the message", e))?;
        Ok(Box::new(self))
    }
}

impl Reread for Spill {
    fn read_again(&mut self) -> Result<Box<dyn Read + Send + '_>> {
        let reader = self
            .reader(0)
            .map_err(|e| Error::io("reading the decrypted plaintext back", e))?;
        Ok(Box::new(reader))
    }
}

/// The signatures of a multipart/signed message, checked.
#[derive(Debug)]
pub struct Checked {
    /// The signed entity's header fields.
    pub inner: Headers,
    /// Where the signed entity's body is in the (canonical) body of the
    /// message.
    pub body: Range<u64>,
    /// Reports on every signature, not yet bound to the author.
    pub signatures: Vec<SignatureReport>,
    /// Certificates carried by signatures that verified.
    pub certificates: Vec<SmimeCert>,
    /// Whether the signed entity is S/MIME itself, to be opened further.
    pub nested: bool,
}

/// Checks `message` (LF or CRLF) if it is S/MIME multipart/signed at its
/// top level, without binding the signatures to the author (the caller
/// does, against the innermost entity); `inside` a layer around it when
/// it was decrypted or signed. A signed entity that is S/MIME itself is
/// copied to `nested`, as it is hashed, to be opened further
/// ([`Checked::nested`]). `None` when it is something else; errors as
/// [`super::open_message`] gives them.
pub(super) fn check(
    message: &mut impl Reread,
    inside: bool,
    keyring: &Keyring,
    nested: &mut Spill,
) -> Result<Option<Checked>> {
    // Inside a decrypted layer, framing that does not parse is content that
    // is not what it claims to be.
    let framing_error = |e| {
        if inside {
            verify::not_what_it_claims(e)
        } else {
            e
        }
    };
    let Some(parts) = SignedParts::scan(message.read_again()?, framing::is_pkcs7_signature)
        .map_err(framing_error)?
    else {
        return Ok(None);
    };
    let signature = framing::signature_body(&parts.signature).map_err(framing_error)?;
    let signed_data = verify::parse_signed_data(&signature)?;
    let inner = Headers::parse(&parts.inner_header).map_err(verify::not_what_it_claims)?;
    let open_further = verify::is_another_layer(&inner)?;
    let hashes = verify::digest_algorithms(&signed_data);
    let mut hashers: Vec<_> = hashes.iter().map(|h| h.hasher()).collect();
    let mut copy = open_further.then_some(nested);
    let mut signed = parts.signed_part(message.read_again()?)?;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match signed.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the message", e)),
        };
        for hasher in &mut hashers {
            hasher.update(&buffer[..n]);
        }
        if let Some(copy) = &mut copy {
            copy.write_all(&buffer[..n])
                .map_err(|e| Error::io("holding the signed content", e))?;
        }
    }
    buffer.fill(0);
    let digests: Vec<_> = hashes
        .into_iter()
        .zip(hashers.into_iter().map(|h| h.finish()))
        .collect();
    let mut certificates = Vec::new();
    let signatures = verify::check_signed_data(
        &signed_data,
        Content::Digests(&digests),
        keyring,
        &mut certificates,
    )?;
    Ok(Some(Checked {
        body: parts.signed_body(),
        inner,
        nested: copy.is_some(),
        signatures,
        certificates,
    }))
}
