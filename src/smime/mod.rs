//! S/MIME 4.0 (RFC 8551): AuthEnvelopedData (AES-256-GCM) and EnvelopedData
//! (AES-256-CBC) with RSA key transport (PKCS#1 v1.5 or OAEP-SHA256) and
//! ECDH P-256 key agreement (RFC 5753), the application/pkcs7-mime framing,
//! and the certificates and own keys they use. What other clients send is
//! read as well (never written): 3DES and AES-128/192, OAEP and PSS with
//! the hashes their parameters name, segmented signed content.
//!
//! The ASN.1 types come from the `cms` and `x509-cert` crates and the
//! primitives from RustCrypto. Hand-written here, and why:
//! - the streaming writer for the outer layers (indefinite-length BER), so
//!   a large message is never held in memory: `cms` only encodes DER from
//!   a complete value;
//! - streaming AES-GCM (CTR + GHASH), because `aes-gcm` seals whole buffers;
//! - the ECDH recipient (RFC 5753), because `cms`'s
//!   `KeyAgreeRecipientInfoBuilder` wraps the content key under an all-zero
//!   key-encryption key;
//! - RSA-OAEP recipients and all decryption and recipient matching, which
//!   `cms` does not provide;
//! - lenient PEM (any line length, CRLF, trailing blanks), because `der`'s
//!   PEM decoder insists on 64-column lines, and the PKCS#12 iteration
//!   check, because `p12-keystore` derives keys before saying how costly.

pub mod ber;
pub mod certs;
pub mod cipher;
pub mod envelope;
pub mod framing;
pub mod generate;
pub mod params;
pub mod pkcs12;
pub mod plan;
pub mod recipient;
pub mod settings;
pub mod sign;
pub mod signed_stream;
pub mod stream;
pub mod validate;
pub mod verify;

pub use certs::{OwnKey, SmimeCert};
pub use envelope::{decrypt_message, encrypt_message, ContentCipher, EncryptOptions, KeyTransport};
pub use sign::{sign_stream, RsaSignature};
pub use verify::{open_message, Opened};

use std::io::{Read, Write};

use crate::spill::Spill;

/// Encrypts the message to `recipients`, first signing it inside the
/// encryption (multipart/signed) when `signer` is given.
pub fn seal_message<W: Write>(
    headers: &crate::message::Headers,
    body: &mut dyn Read,
    recipients: &[SmimeCert],
    signer: Option<&certs::OwnIdentity>,
    options: EncryptOptions,
    output: &mut W,
) -> crate::Result<()> {
    let Some(signer) = signer else {
        return encrypt_message(headers, body, recipients, options, output);
    };
    let split = crate::message::protect::for_encryption(headers, options.protect_headers);
    // Signing reads the body twice: once to plan the transfer encodings,
    // once to hash what is emitted. The body waits, canonicalized, in a
    // spill: in memory while small, else in a temporary file that is
    // itself encrypted (this is the plaintext of an encrypted message);
    // the signed entity streams into the encryption.
    let io_error = |e| crate::Error::io("keeping the message body for signing", e);
    let mut data = crate::message::canon::CrlfWriter::new(Spill::new(&std::env::temp_dir()));
    std::io::copy(body, &mut data).map_err(io_error)?;
    let mut data = data.into_inner();
    data.finish().map_err(io_error)?;
    let rsa = options.rsa_signature;
    crate::message::signing::piped(
        |signed| sign::sign_entity(&mut data, rewound, &split.inner, signer, rsa, signed),
        |signed| {
            output
                .write_all(&framing::pkcs7_mime_head(
                    &split.outer,
                    framing::smime_type_name(options.cipher == ContentCipher::Aes256Gcm),
                ))
                .map_err(|e| crate::Error::io("writing the encrypted message", e))?;
            envelope::encrypt_cms(&[], signed, recipients, options, output)
        },
    )
}

/// `body` from its start.
fn rewound(body: &mut Spill) -> crate::Result<Box<dyn std::io::BufRead + '_>> {
    let reader = body
        .reader(0)
        .map_err(|e| crate::Error::io("reading the message body back", e))?;
    Ok(Box::new(std::io::BufReader::with_capacity(
        64 * 1024,
        reader,
    )))
}

/// Object identifiers used here.
pub mod oid {
    use const_oid::ObjectIdentifier as Oid;

    pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const ENVELOPED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.3");
    pub const AUTH_ENVELOPED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.23");
    pub const AES256_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.42");
    pub const AES128_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.2");
    pub const AES192_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.22");
    pub const AES192_GCM: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.26");
    /// des-ede3-cbc (read only)
    pub const DES_EDE3_CBC: Oid = Oid::new_unwrap("1.2.840.113549.3.7");
    pub const AES256_GCM: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.46");
    pub const AES128_GCM: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.6");
    pub const AES128_WRAP: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.5");
    pub const AES192_WRAP: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.25");
    pub const AES256_WRAP: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.45");
    /// id-alg-CMS3DESwrap (RFC 3217, read only)
    pub const DES_EDE3_WRAP: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.3.6");
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const RSAES_OAEP: Oid = Oid::new_unwrap("1.2.840.113549.1.1.7");
    pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    /// dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753)
    pub const ECDH_SHA256_KDF: Oid = Oid::new_unwrap("1.3.132.1.11.1");
    /// dhSinglePass-stdDH-sha1kdf-scheme (read only)
    pub const ECDH_SHA1_KDF: Oid = Oid::new_unwrap("1.3.133.16.840.63.0.2");
    pub const ECDH_SHA384_KDF: Oid = Oid::new_unwrap("1.3.132.1.11.2");
    pub const ECDH_SHA512_KDF: Oid = Oid::new_unwrap("1.3.132.1.11.3");
    pub const EMAIL_ADDRESS: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");
}

/// A cryptographically secure RNG for the RustCrypto crates of the
/// `rand_core` 0.10 generation.
pub(crate) fn rng() -> rsa::rand_core::UnwrapErr<getrandom_04::SysRng> {
    rsa::rand_core::UnwrapErr(getrandom_04::SysRng)
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

/// Lower-case hex.
pub(crate) fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
