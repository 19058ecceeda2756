//! `sign`: a message in, a PGP/MIME multipart/signed message out. What is
//! signed is byte for byte what is emitted.

use sequoia_openpgp::armor;
use sequoia_openpgp::crypto::mpi::PublicKey;
use sequoia_openpgp::crypto::KeyPair;
use sequoia_openpgp::serialize::stream::{Armorer, Message, Signer};
use sequoia_openpgp::types::{Curve, HashAlgorithm};
use std::io::Write;

use super::pgpmime;
use crate::message::header::split_entity;
use crate::message::{canon, mime, protect, transfer, Headers};
use crate::{Error, Result};

/// Signs `message` (LF or CRLF) with `signer`. With `protect_headers`, a
/// copy of the header fields is signed inside (RFC 9788, `hp="clear"`).
pub fn sign_message(message: &[u8], signer: KeyPair, protect_headers: bool) -> Result<Vec<u8>> {
    let message = canon::to_crlf(message);
    let (header_bytes, body) = split_entity(&message);
    let headers = Headers::parse(header_bytes)?;
    let split = protect::for_signing(&headers, protect_headers);
    let entity = transfer::seven_bit_safe(&split.inner.with_body(body))?;

    let hash = hash_for(&signer);
    let signature = detached_signature(&entity, signer, hash)?;
    Ok(pgpmime::signed_message(
        &split.outer,
        &mime::new_boundary(),
        &entity,
        &signature,
        &format!("pgp-{}", hash.to_string().to_lowercase()),
    ))
}

/// SHA-256, or the longer hash an ECDSA key's curve needs: gpg and RFC 9580
/// (§5.2.3.1 for DSA-like truncation) refuse a digest shorter than the curve.
fn hash_for(signer: &KeyPair) -> HashAlgorithm {
    match signer.public().mpis() {
        PublicKey::ECDSA { curve, .. } => match curve {
            Curve::NistP384 | Curve::BrainpoolP384 => HashAlgorithm::SHA384,
            Curve::NistP521 | Curve::BrainpoolP512 => HashAlgorithm::SHA512,
            _ => HashAlgorithm::SHA256,
        },
        _ => HashAlgorithm::SHA256,
    }
}

/// An armored detached signature over `data` with `hash`.
fn detached_signature(data: &[u8], signer: KeyPair, hash: HashAlgorithm) -> Result<Vec<u8>> {
    let engine = |e: anyhow::Error| Error::OpenPgp(e);
    let mut armored = Vec::new();
    let message = Message::new(&mut armored);
    let message = Armorer::new(message)
        .kind(armor::Kind::Signature)
        .build()
        .map_err(engine)?;
    let mut signer = Signer::new(message, signer)
        .and_then(|s| s.hash_algo(hash))
        .and_then(|s| s.detached().build())
        .map_err(engine)?;
    signer
        .write_all(data)
        .map_err(|e| Error::io("signing", e))?;
    signer.finalize().map_err(engine)?;
    Ok(armored)
}
