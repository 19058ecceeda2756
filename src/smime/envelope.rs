//! Encrypting (streaming, indefinite-length BER) and decrypting
//! EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083).

use std::io::{self, Read, Write};

use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::ContentInfo;
use cms::enveloped_data::{EncryptedContentInfo, EnvelopedData, RecipientInfo};
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;

use super::ber::{self, Base64Lines, ContentWriter, EOC};
use super::certs::{OwnIdentity, SmimeCert};
pub use super::cipher::ContentCipher;
use super::cipher::{self, ContentEncryptor};
use super::framing;
use super::oid;
pub use super::recipient::KeyTransport;
use super::recipient::{self, Unwrap};
use crate::message::canon::CrlfWriter;
use crate::message::{protect, Headers};
use crate::{Error, Result};

/// How to encrypt.
#[derive(Debug, Clone, Copy)]
pub struct EncryptOptions {
    /// RFC 9788 header protection.
    pub protect_headers: bool,
    /// GCM (AuthEnvelopedData) or CBC (EnvelopedData).
    pub cipher: ContentCipher,
    /// RSA key transport.
    pub transport: KeyTransport,
    /// RSA signature scheme, when signing inside.
    pub rsa_signature: super::RsaSignature,
}

/// GCMParameters (RFC 5084 §3.2).
#[derive(Clone, Debug, Sequence)]
struct GcmParameters {
    nonce: OctetString,
    #[asn1(optional = "true")]
    icv_len: Option<u8>,
}

fn encode_err(e: der::Error) -> Error {
    Error::Malformed(format!("cannot encode CMS structure: {e}"))
}

/// Encrypts the message with `headers` and `body` to every certificate in
/// `recipients` (the sender's own last) and writes the application/pkcs7-mime message to `output`.
/// The body is streamed: memory use does not grow with its size.
pub fn encrypt_message<W: Write>(
    headers: &Headers,
    body: &mut dyn Read,
    recipients: &[SmimeCert],
    options: EncryptOptions,
    output: &mut W,
) -> Result<()> {
    let split = protect::for_encryption(headers, options.protect_headers);
    let mut inner = split.inner.to_bytes();
    inner.extend_from_slice(b"\r\n");
    let authenticated = options.cipher == ContentCipher::Aes256Gcm;
    output
        .write_all(&framing::pkcs7_mime_head(
            &split.outer,
            framing::smime_type_name(authenticated),
        ))
        .map_err(|e| Error::io("writing the encrypted message", e))?;
    encrypt_cms(&inner, body, recipients, options, output)
}

/// Writes the base64 CMS object (ContentInfo) with `prefix` then `body` as
/// content, CRLF-canonicalized, to `output`.
pub fn encrypt_cms<W: Write>(
    prefix: &[u8],
    body: &mut dyn Read,
    recipients: &[SmimeCert],
    options: EncryptOptions,
    output: &mut W,
) -> Result<()> {
    let write_err = |e: io::Error| Error::io("writing the encrypted message", e);
    let cek = cipher::new_content_key();
    let infos = recipients
        .iter()
        .map(|r| recipient::recipient_info(r, &cek, options.transport))
        .collect::<Result<Vec<RecipientInfo>>>()?;
    // In the order given (BER allows any order in a SET OF): addressed
    // recipients first, the sender's own copy last, because gpgsm 2.2
    // exits 2 when the first RecipientInfo is not for its key.
    let encoded = infos
        .iter()
        .map(|i| i.to_der().map_err(encode_err))
        .collect::<Result<Vec<_>>>()?;
    let set_len = encoded.iter().map(Vec::len).sum();
    let mut head = Vec::new();
    let authenticated = options.cipher == ContentCipher::Aes256Gcm;
    let (content_type, version) = if authenticated {
        (oid::AUTH_ENVELOPED_DATA, 0u8)
    } else {
        let any_kari = infos.iter().any(|i| matches!(i, RecipientInfo::Kari(_)));
        (oid::ENVELOPED_DATA, if any_kari { 2 } else { 0 })
    };
    head.extend_from_slice(&ber::open(0x30)); // ContentInfo
    head.extend_from_slice(&content_type.to_der().map_err(encode_err)?);
    head.extend_from_slice(&ber::open(0xa0)); // [0] EXPLICIT content
    head.extend_from_slice(&ber::open(0x30)); // (Auth)EnvelopedData
    head.extend_from_slice(&[0x02, 0x01, version]);
    head.extend_from_slice(&ber::header(0x31, set_len));
    for e in &encoded {
        head.extend_from_slice(e);
    }
    head.extend_from_slice(&ber::open(0x30)); // EncryptedContentInfo
    head.extend_from_slice(&oid::DATA.to_der().map_err(encode_err)?);
    let encryptor = if authenticated {
        let nonce = super::random_bytes::<12>();
        let params = GcmParameters {
            nonce: OctetString::new(nonce.to_vec()).map_err(encode_err)?,
            icv_len: Some(16),
        };
        let alg = AlgorithmIdentifierOwned {
            oid: oid::AES256_GCM,
            parameters: Some(Any::encode_from(&params).map_err(encode_err)?),
        };
        head.extend_from_slice(&alg.to_der().map_err(encode_err)?);
        ContentEncryptor::gcm(&cek, &nonce)
    } else {
        let iv = super::random_bytes::<16>();
        let alg = AlgorithmIdentifierOwned {
            oid: oid::AES256_CBC,
            parameters: Some(
                Any::encode_from(&OctetString::new(iv.to_vec()).map_err(encode_err)?)
                    .map_err(encode_err)?,
            ),
        };
        head.extend_from_slice(&alg.to_der().map_err(encode_err)?);
        ContentEncryptor::cbc(&cek, &iv)
    };
    head.extend_from_slice(&ber::open(0xa0)); // [0] IMPLICIT OCTET STRING, constructed

    let mut b64 = Base64Lines::new(&mut *output);
    b64.write_all(&head).map_err(write_err)?;
    let mut plain = CrlfWriter::new(ContentWriter::new(b64, encryptor));
    plain.write_all(prefix).map_err(write_err)?;
    io::copy(body, &mut plain).map_err(|e| Error::io("reading the message body", e))?;
    let (mut b64, tag) = plain.into_inner().finish().map_err(write_err)?;
    let mut tail = Vec::new();
    tail.extend_from_slice(&EOC); // encrypted content
    tail.extend_from_slice(&EOC); // EncryptedContentInfo
    if let Some(tag) = tag {
        tail.extend_from_slice(&ber::header(0x04, 16));
        tail.extend_from_slice(&tag);
    }
    tail.extend_from_slice(&EOC); // (Auth)EnvelopedData
    tail.extend_from_slice(&EOC); // [0]
    tail.extend_from_slice(&EOC); // ContentInfo
    b64.write_all(&tail).map_err(write_err)?;
    b64.finish().map_err(write_err)?;
    Ok(())
}

/// The one error every decryption failure after key lookup becomes, so
/// that nothing about padding or keys leaks (no oracle).
pub fn decryption_failed() -> Error {
    Error::Integrity(
        "the S/MIME message could not be decrypted: it is damaged, truncated or was modified, or its key was not made for this certificate; no plaintext was released".into(),
    )
}

/// Parses a BER or DER ContentInfo.
pub fn parse_content_info(data: &[u8]) -> Result<(const_oid::ObjectIdentifier, Vec<u8>)> {
    let info = ContentInfo::from_ber(data).map_err(|e| {
        Error::Malformed(format!("not a CMS object (truncated or garbage DER?): {e}"))
    })?;
    let content = info
        .content
        .to_der()
        .map_err(|e| Error::Malformed(format!("bad CMS content: {e}")))?;
    Ok((info.content_type, content))
}

/// Decrypts a CMS EnvelopedData or AuthEnvelopedData object (`content_type`
/// and its BER `content`) with one of `own`; the plaintext is returned only
/// when it decrypted and, for GCM, authenticated.
pub fn decrypt_cms(
    content_type: const_oid::ObjectIdentifier,
    content: Vec<u8>,
    own: &[OwnIdentity],
) -> Result<Vec<u8>> {
    let malformed =
        |e: der::Error| Error::Malformed(format!("cannot read the S/MIME envelope: {e}"));
    let (infos, eci, mac): (Vec<RecipientInfo>, EncryptedContentInfo, Option<Vec<u8>>) =
        if content_type == oid::AUTH_ENVELOPED_DATA {
            let data = AuthEnvelopedData::from_ber(&content).map_err(malformed)?;
            drop(content);
            if data.auth_attrs.is_some() {
                return Err(Error::Malformed(
                    "authenticated attributes in AuthEnvelopedData are not supported".into(),
                ));
            }
            (
                data.recip_infos.0.into_vec(),
                data.auth_encrypted_content_info,
                Some(data.mac.as_bytes().to_vec()),
            )
        } else if content_type == oid::ENVELOPED_DATA {
            let data = EnvelopedData::from_ber(&content).map_err(malformed)?;
            drop(content);
            (data.recip_infos.0.into_vec(), data.encrypted_content, None)
        } else {
            return Err(Error::Malformed(format!(
                "the CMS object is {content_type}, not an encrypted message"
            )));
        };
    let decryptor = content_decryptor(
        &infos,
        &eci.content_enc_alg,
        mac.as_ref().map(Vec::len),
        own,
    )?;
    let mut data = eci
        .encrypted_content
        .map(|c| c.into_bytes().into_vec())
        .ok_or_else(|| Error::Malformed("the envelope has no encrypted content".into()))?;
    decryptor
        .finish(&mut data, mac.as_deref())
        .map_err(|cipher::OpenFailed| decryption_failed())?;
    Ok(data)
}

/// The decryptor for an envelope's content, encrypted with `alg` under
/// the content key that one of `infos` holds for one of `own`.
/// `mac_len` is the length of AuthEnvelopedData's MAC (`None` for
/// EnvelopedData), which must be what the algorithm's parameters say.
pub fn content_decryptor(
    infos: &[RecipientInfo],
    alg: &AlgorithmIdentifierOwned,
    mac_len: Option<usize>,
    own: &[OwnIdentity],
) -> Result<Box<dyn cipher::ContentDecryptor>> {
    let algorithm = cipher::ContentAlgorithm::from_oid(alg.oid)?;
    if algorithm.is_authenticated() != mac_len.is_some() {
        return Err(Error::Malformed(
            "the content cipher does not match the envelope type".into(),
        ));
    }
    let cek = match recipient::unwrap_content_key(infos, own, algorithm.key_len()) {
        Ok(cek) => cek,
        Err(Unwrap::NotForUs) => {
            return Err(Error::NoSecretKey(if own.is_empty() {
                "there is no own S/MIME key; the message is encrypted with S/MIME".into()
            } else {
                "the message is not encrypted to any own S/MIME certificate".into()
            }))
        }
        Err(Unwrap::Failed) => return Err(decryption_failed()),
        Err(Unwrap::Unsupported(e)) => return Err(e),
    };
    let params = alg.parameters.as_ref().ok_or_else(decryption_failed)?;
    let iv = match mac_len {
        Some(mac_len) => {
            let params: GcmParameters = params.decode_as().map_err(|_| decryption_failed())?;
            if params.icv_len.unwrap_or(12) as usize != mac_len {
                return Err(decryption_failed());
            }
            params.nonce
        }
        None => params.decode_as().map_err(|_| decryption_failed())?,
    };
    cipher::content_decryptor(algorithm, &cek, iv.as_bytes()).map_err(|_| decryption_failed())
}

/// A decrypted message: the restored cleartext and the inner entity's
/// bytes (which may themselves be signed).
#[derive(Debug)]
pub struct Decrypted {
    /// The outer header fields.
    pub outer: Headers,
    /// The decrypted entity, CRLF.
    pub entity: Vec<u8>,
}

/// Decrypts an application/pkcs7-mime enveloped message.
pub fn decrypt_message(message: &[u8], own: &[OwnIdentity]) -> Result<Decrypted> {
    let message = crate::message::canon::to_crlf(message);
    match framing::parse(&message)? {
        framing::Received::Pkcs7Mime { outer, cms, .. } => {
            let (content_type, content) = parse_content_info(&cms)?;
            drop(cms);
            let plaintext = decrypt_cms(content_type, content, own)?;
            Ok(Decrypted {
                outer,
                entity: crate::message::canon::to_crlf(&plaintext),
            })
        }
        _ => Err(Error::Malformed(
            "the message is not S/MIME encrypted".into(),
        )),
    }
}

/// The cleartext message: protected headers restored (RFC 9788).
pub fn restore(outer: &Headers, entity: &[u8]) -> Result<Vec<u8>> {
    let (inner_bytes, body) = crate::message::header::split_entity(entity);
    let inner = Headers::parse(inner_bytes)?;
    Ok(protect::restore(outer, &inner).with_body(body))
}
