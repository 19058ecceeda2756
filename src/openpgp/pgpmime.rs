//! The PGP/MIME envelopes of RFC 3156: building multipart/encrypted and
//! multipart/signed messages, and taking received ones apart.

use std::borrow::Cow;

use crate::message::header::split_entity;
use crate::message::{canon, mime, signing, transfer, Field, Headers};
use crate::{Error, Result};

/// The header fields and opening of a multipart/encrypted message, up to
/// where the armored OpenPGP message starts.
pub fn encrypted_head(outer: &Headers, boundary: &str) -> Vec<u8> {
    let mut headers = outer.clone();
    headers.set("MIME-Version", "1.0");
    headers.push(Field::new(
        "Content-Type",
        &format!("multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n boundary=\"{boundary}\""),
    ));
    let mut out = headers.to_bytes();
    out.extend_from_slice(
        format!(
            "\r\nThis is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n\
             --{boundary}\r\n\
             Content-Type: application/pgp-encrypted\r\n\
             Content-Description: PGP/MIME version identification\r\n\
             \r\n\
             Version: 1\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
             Content-Description: OpenPGP encrypted message\r\n\
             Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\
             \r\n"
        )
        .as_bytes(),
    );
    out
}

/// The end of a multipart/encrypted message, after the armored message.
pub fn encrypted_tail(boundary: &str) -> Vec<u8> {
    format!("\r\n--{boundary}--\r\n").into_bytes()
}

/// The preamble of a PGP/MIME multipart/signed message.
pub const SIGNED_PREAMBLE: &str = "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)";

/// The Content-Type value of a multipart/signed message whose signature is
/// made with the hash `micalg` names (`pgp-sha256`).
pub fn signed_content_type(micalg: &str, boundary: &str) -> String {
    format!("multipart/signed; micalg={micalg};\r\n protocol=\"application/pgp-signature\";\r\n boundary=\"{boundary}\"")
}

/// The header fields and opening of a multipart/signed message whose
/// signature is made with the hash `micalg` names (`pgp-sha256`), up to
/// where the signed entity starts.
pub fn signed_head(outer: &Headers, boundary: &str, micalg: &str) -> Vec<u8> {
    let mut headers = outer.clone();
    headers.set("MIME-Version", "1.0");
    let content_type = signed_content_type(micalg, boundary);
    signing::head(&headers, &content_type, SIGNED_PREAMBLE, boundary)
}

/// The end of a multipart/signed message after the signed entity: the
/// armored detached `signature`.
pub fn signed_tail(boundary: &str, signature: &[u8]) -> Vec<u8> {
    signing::tail(boundary, &signature_part(signature))
}

/// The part that holds the armored detached `signature`.
pub fn signature_part(signature: &[u8]) -> Vec<u8> {
    let mut out = b"Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\
         Content-Description: OpenPGP digital signature\r\n\
         Content-Disposition: attachment; filename=\"signature.asc\"\r\n\
         \r\n"
        .to_vec();
    out.extend_from_slice(&canon::to_crlf(signature));
    out
}

/// A received message, taken apart.
#[derive(Debug)]
pub enum Received<'a> {
    /// multipart/encrypted: the outer fields and the OpenPGP message
    /// (transfer encoding undone).
    Encrypted {
        outer: Headers,
        ciphertext: Cow<'a, [u8]>,
    },
    /// multipart/signed: the outer fields, the signed bytes, the signature
    /// (transfer encoding undone).
    Signed {
        outer: Headers,
        signed: &'a [u8],
        signature: Cow<'a, [u8]>,
    },
    /// Anything else; it may hold inline PGP.
    Other { headers: Headers, body: &'a [u8] },
}

/// Takes apart `message`, which must already be CRLF canonical.
pub fn parse(message: &[u8]) -> Result<Received<'_>> {
    let (header_bytes, body) = split_entity(message);
    let headers = Headers::parse(header_bytes)?;
    if headers.fields().is_empty() {
        return Err(Error::Malformed(
            "not an RFC 5322 message: it has no header fields".into(),
        ));
    }
    if let Some(boundary) = encrypted_boundary(&headers) {
        let parts = mime::split(body, &boundary)?.parts;
        let payload = parts
            .get(1)
            .ok_or_else(|| Error::Malformed("multipart/encrypted has no encrypted part".into()))?;
        return Ok(Received::Encrypted {
            outer: headers,
            ciphertext: decoded_body(payload, "the encrypted part")?,
        });
    }
    if let Some(boundary) = signed_boundary(&headers) {
        let parts = mime::split(body, &boundary)?.parts;
        if parts.len() != 2 {
            return Err(Error::Malformed(format!(
                "multipart/signed must have 2 parts, this one has {}",
                parts.len()
            )));
        }
        return Ok(Received::Signed {
            outer: headers,
            signed: parts[0],
            signature: decoded_body(parts[1], "the signature part")?,
        });
    }
    Ok(Received::Other { headers, body })
}

/// The boundary of a PGP/MIME multipart/encrypted entity with `headers`.
pub fn encrypted_boundary(headers: &Headers) -> Option<String> {
    boundary_of(headers, "multipart/encrypted", "application/pgp-encrypted")
}

/// The boundary of a PGP/MIME multipart/signed entity with `headers`.
pub fn signed_boundary(headers: &Headers) -> Option<String> {
    boundary_of(headers, "multipart/signed", "application/pgp-signature")
}

/// The boundary of `headers`' entity when it is of type `mime` with the
/// `protocol` parameter (compared without case).
fn boundary_of(headers: &Headers, mime: &str, protocol: &str) -> Option<String> {
    let content_type = headers.content_type();
    let matches = content_type.mime == mime
        && content_type
            .param("protocol")
            .is_some_and(|p| p.eq_ignore_ascii_case(protocol));
    matches
        .then(|| content_type.param("boundary").map(str::to_string))
        .flatten()
}

/// The body of the MIME part `entity`, its Content-Transfer-Encoding
/// (base64, quoted-printable; some clients use them on these parts) undone.
pub(super) fn decoded_body<'a>(entity: &'a [u8], what: &str) -> Result<Cow<'a, [u8]>> {
    let (header_bytes, body) = split_entity(entity);
    let headers = Headers::parse(header_bytes)?;
    transfer::decode_body(&headers, body).ok_or_else(|| {
        Error::Malformed(format!(
            "{what} does not decode as its Content-Transfer-Encoding says"
        ))
    })
}
