//! Signing: a detached SignedData (RFC 5652 §5, RFC 8551 §2) in a
//! multipart/signed with protocol application/pkcs7-signature and
//! micalg=sha-256. Signed attributes: content-type, message-digest,
//! signing-time and SMIMECapabilities; the certificates are the signer's
//! and its chain (clients do not fetch intermediates). What is signed is
//! byte for byte what is emitted.

use base64::Engine;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use sha2_11::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

use super::certs::{OwnIdentity, OwnKey};
use super::oid;
use super::validate::{ECDSA_WITH_SHA256, RSASSA_PSS, SHA256_WITH_RSA};
use crate::message::header::split_entity;
use crate::message::{canon, mime, protect, transfer, Field, Headers};
use crate::{Error, Result};

pub(crate) const CONTENT_TYPE: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub(crate) const MESSAGE_DIGEST: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub(crate) const SIGNING_TIME: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const SMIME_CAPABILITIES: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.15");

/// The RSA signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaSignature {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what every client verifies.
    Pkcs1v15,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    Pss,
}

fn encode_err(e: der::Error) -> Error {
    Error::Malformed(format!("cannot encode CMS structure: {e}"))
}

fn attribute(oid: const_oid::ObjectIdentifier, value: Any) -> Result<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(encode_err)?;
    Ok(Attribute { oid, values })
}

fn alg(oid: const_oid::ObjectIdentifier, parameters: Option<Any>) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters }
}

/// A detached SignedData (DER ContentInfo) over `content` by `signer`.
pub fn sign_detached(
    content: &[u8],
    signer: &OwnIdentity,
    rsa_scheme: RsaSignature,
) -> Result<Vec<u8>> {
    let digest = sha2_11::Sha256::digest(content);
    let capabilities: Vec<AlgorithmIdentifierOwned> = vec![
        alg(oid::AES256_GCM, None),
        alg(oid::AES128_GCM, None),
        alg(oid::AES256_CBC, None),
        alg(oid::AES128_CBC, None),
    ];
    let now = std::time::SystemTime::now();
    let time = x509_cert::time::Time::try_from(now).map_err(encode_err)?;
    let mut signed_attrs = SetOfVec::new();
    signed_attrs
        .insert(attribute(
            CONTENT_TYPE,
            Any::encode_from(&oid::DATA).map_err(encode_err)?,
        )?)
        .map_err(encode_err)?;
    signed_attrs
        .insert(attribute(
            SIGNING_TIME,
            Any::encode_from(&time).map_err(encode_err)?,
        )?)
        .map_err(encode_err)?;
    signed_attrs
        .insert(attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(encode_err)?)
                .map_err(encode_err)?,
        )?)
        .map_err(encode_err)?;
    signed_attrs
        .insert(attribute(
            SMIME_CAPABILITIES,
            Any::encode_from(&capabilities).map_err(encode_err)?,
        )?)
        .map_err(encode_err)?;
    let to_sign = signed_attrs.to_der().map_err(encode_err)?;

    let sha256 = alg(oid::SHA256, None);
    let (signature_algorithm, signature) = match &signer.key {
        OwnKey::Rsa(key) => {
            let mut rng = super::rng();
            let hashed = sha2_11::Sha256::digest(&to_sign);
            match rsa_scheme {
                RsaSignature::Pkcs1v15 => (
                    alg(SHA256_WITH_RSA, Some(Any::null())),
                    key.sign_with_rng(
                        &mut rng,
                        rsa::Pkcs1v15Sign::new::<sha2_11::Sha256>(),
                        &hashed,
                    ),
                ),
                RsaSignature::Pss => (
                    alg(RSASSA_PSS, Some(super::params::pss_sha256()?)),
                    key.sign_with_rng(&mut rng, rsa::Pss::<sha2_11::Sha256>::new(), &hashed),
                ),
            }
        }
        OwnKey::P256(key) => {
            use p256::ecdsa::signature::Signer;
            let signing = p256::ecdsa::SigningKey::from(key);
            let sig: p256::ecdsa::Signature = signing.sign(&to_sign);
            (
                alg(ECDSA_WITH_SHA256, None),
                Ok(sig.to_der().as_bytes().to_vec()),
            )
        }
    };
    let signature = signature.map_err(|e| Error::Malformed(format!("signing failed: {e}")))?;

    let mut certificates = SetOfVec::new();
    for cert in std::iter::once(&signer.cert).chain(signer.chain.iter()) {
        certificates
            .insert(cms::cert::CertificateChoices::Certificate(
                cert.cert.clone(),
            ))
            .map_err(encode_err)?;
    }
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms
        .insert(sha256.clone())
        .map_err(encode_err)?;
    let mut signer_infos = SetOfVec::new();
    signer_infos
        .insert(SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(signer.cert.issuer_and_serial()),
            digest_alg: sha256,
            signed_attrs: Some(signed_attrs),
            signature_algorithm,
            signature: OctetString::new(signature).map_err(encode_err)?,
            unsigned_attrs: None,
        })
        .map_err(encode_err)?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oid::DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certificates)),
        crls: None,
        signer_infos: SignerInfos(signer_infos),
    };
    let info = ContentInfo {
        content_type: oid::SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encode_err)?,
    };
    info.to_der().map_err(encode_err)
}

/// The body of a multipart/signed around `entity` (which is emitted byte
/// for byte) and its detached signature; returns the Content-Type value
/// and the body.
pub fn multipart_signed(entity: &[u8], signature_der: &[u8]) -> (String, Vec<u8>) {
    let boundary = mime::new_boundary();
    let content_type = format!(
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n boundary=\"{boundary}\""
    );
    let mut out = Vec::with_capacity(entity.len() + signature_der.len() * 2 + 512);
    out.extend_from_slice(
        format!("This is an S/MIME signed message (RFC 8551)\r\n--{boundary}\r\n").as_bytes(),
    );
    out.extend_from_slice(entity);
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\n\
             Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
             Content-Description: S/MIME Cryptographic Signature\r\n\
             \r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(&base64_lines(signature_der));
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (content_type, out)
}

fn base64_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(57) {
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(chunk)
                .as_bytes(),
        );
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The inner entity (headers and body, made 7-bit safe) and its
/// multipart/signed wrapping, for `message` split per `protect_headers`.
pub fn signed_entity(
    inner: &Headers,
    body: &[u8],
    signer: &OwnIdentity,
    rsa: RsaSignature,
) -> Result<Vec<u8>> {
    let entity = transfer::seven_bit_safe(&inner.with_body(body))?;
    let signature = sign_detached(&entity, signer, rsa)?;
    let (content_type, body) = multipart_signed(&entity, &signature);
    let mut headers = Headers::default();
    headers.push(Field::new("Content-Type", &content_type));
    Ok(headers.with_body(&body))
}

/// Signs `message` (LF or CRLF): multipart/signed out. With
/// `protect_headers`, a copy of the header fields is signed inside
/// (RFC 9788, `hp="clear"`).
pub fn sign_message(
    message: &[u8],
    signer: &OwnIdentity,
    protect_headers: bool,
    rsa: RsaSignature,
) -> Result<Vec<u8>> {
    let message = canon::to_crlf(message);
    let (header_bytes, body) = split_entity(&message);
    let headers = Headers::parse(header_bytes)?;
    let split = protect::for_signing(&headers, protect_headers);
    let entity = transfer::seven_bit_safe(&split.inner.with_body(body))?;
    let signature = sign_detached(&entity, signer, rsa)?;
    let (content_type, body) = multipart_signed(&entity, &signature);
    let mut outer = split.outer.clone();
    outer.set("MIME-Version", "1.0");
    outer.push(Field::new("Content-Type", &content_type));
    Ok(outer.with_body(&body))
}

/// Parses a DER SignedData ContentInfo (for tests).
pub fn parse_signed_data(der: &[u8]) -> Result<SignedData> {
    let info = ContentInfo::from_der(der).map_err(|e| Error::Malformed(e.to_string()))?;
    info.content
        .decode_as::<SignedData>()
        .map_err(|e| Error::Malformed(e.to_string()))
}
