//! A PGP/MIME multipart/signed message (RFC 3156 §5) checked in bounded
//! memory: a first pass finds its parts, keeping only the signed part's
//! header section and the signature; a second pass hashes the signed
//! part's bytes as they are read again.

use std::io::{Read, Seek};

use super::pgpmime;
use super::verify::{verify_signed, Keys, Verification};
use crate::message::signed_parts::SignedParts;
use crate::{Error, Result};

/// A multipart/signed message found by a first pass over the input.
#[derive(Debug)]
pub struct SignedStream {
    parts: SignedParts,
    signature: Vec<u8>,
}

impl SignedStream {
    /// Reads `input` (LF or CRLF) once: `None` when it is not an OpenPGP
    /// multipart/signed message at its top level (read it whole with
    /// [`super::verify_message`] then), an error when it is one that does
    /// not parse (as [`pgpmime::parse`] would say).
    pub fn scan<R: Read + Seek>(input: &mut R) -> Result<Option<SignedStream>> {
        let Some(parts) = SignedParts::scan(from_start(input)?, |protocol| {
            protocol == "application/pgp-signature"
        })?
        else {
            return Ok(None);
        };
        let signature = pgpmime::decoded_body(&parts.signature, "the signature part")?.into_owned();
        Ok(Some(SignedStream { parts, signature }))
    }

    /// Checks the signatures over the signed part of `input` (the input
    /// [`SignedStream::scan`] read) and binds them to the author, as
    /// [`super::verify_message`] does.
    pub fn verify<R: Read + Seek + Send + Sync>(
        self,
        input: &mut R,
        keys: &Keys,
    ) -> Result<Verification> {
        let signed = self.parts.signed_part(from_start(input)?)?;
        verify_signed(
            signed,
            &self.parts.inner_header,
            &self.parts.outer,
            &self.signature,
            keys,
        )
    }
}

/// `input`, rewound to its start.
fn from_start<R: Seek>(input: &mut R) -> Result<&mut R> {
    input
        .rewind()
        .map_err(|e| Error::io("reading the message", e))?;
    Ok(input)
}
