//! `sign`: a message in, a PGP/MIME multipart/signed message out, streamed
//! so that memory stays flat whatever the body's size. What is signed is
//! byte for byte what is emitted.

use std::io::{self, Read, Seek, Write};
use std::sync::{Arc, Mutex};

use sequoia_openpgp::armor;
use sequoia_openpgp::crypto::mpi::PublicKey;
use sequoia_openpgp::crypto::KeyPair;
use sequoia_openpgp::serialize::stream::{Armorer, Message, Signer};
use sequoia_openpgp::types::{Curve, HashAlgorithm};

use super::pgpmime;
use crate::message::signing::{self, Detached};
use crate::{Error, Result};

/// Signs the message in `input` (LF or CRLF) with `signer` and writes the
/// PGP/MIME multipart/signed message to `output`, streamed as
/// [`signing::sign_stream`] does. With `protect_headers`, a copy of the
/// header fields is signed inside (RFC 9788, `hp="clear"`).
pub fn sign_stream<R: Read + Seek>(
    input: &mut R,
    signer: KeyPair,
    protect_headers: bool,
    output: &mut dyn Write,
) -> Result<()> {
    let hash = hash_for(&signer);
    let signature = PgpSignature {
        signer,
        hash,
        armored: Shared::default(),
    };
    signing::sign_stream(input, signature, protect_headers, output)
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

/// An armored OpenPGP detached signature (RFC 3156 §5).
struct PgpSignature {
    signer: KeyPair,
    hash: HashAlgorithm,
    /// Where the signature is armored as the hash is finalized.
    armored: Shared,
}

impl Detached for PgpSignature {
    type Hash = Message<'static>;
    const PREAMBLE: &'static str = pgpmime::SIGNED_PREAMBLE;

    fn content_type(&self, boundary: &str) -> String {
        let micalg = format!("pgp-{}", self.hash.to_string().to_lowercase());
        pgpmime::signed_content_type(&micalg, boundary)
    }

    fn hash(&self) -> Result<Message<'static>> {
        let engine = |e: anyhow::Error| Error::OpenPgp(e);
        let message = Message::new(self.armored.clone());
        let message = Armorer::new(message)
            .kind(armor::Kind::Signature)
            .build()
            .map_err(engine)?;
        Signer::new(message, self.signer.clone())
            .and_then(|s| s.hash_algo(self.hash))
            .and_then(|s| s.detached().build())
            .map_err(engine)
    }

    fn finish(self, hash: Message<'static>) -> Result<Vec<u8>> {
        hash.finalize().map_err(Error::OpenPgp)?;
        let armored = std::mem::take(&mut *self.armored.0.lock().expect("not poisoned"));
        Ok(pgpmime::signature_part(&armored))
    }
}

/// A buffer that the signing writer owns a handle to and that is read
/// after it is finalized.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
