//! Signing: a detached SignedData (RFC 5652 §5, RFC 8551 §2) in a
//! multipart/signed with protocol application/pkcs7-signature and
//! micalg=sha-256. Signed attributes: content-type, message-digest,
//! signing-time and SMIMECapabilities; the certificates are the signer's
//! and its chain (clients do not fetch intermediates). What is signed is
//! byte for byte what is emitted.

use std::io::{self, BufRead, Read, Seek, Write};

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
use crate::message::signing::{self, Detached};
use crate::message::Headers;
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

/// A detached SignedData (DER ContentInfo) by `signer` over content whose
/// SHA-256 is `digest`.
fn sign_digest(digest: &[u8], signer: &OwnIdentity, rsa_scheme: RsaSignature) -> Result<Vec<u8>> {
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
            Any::encode_from(&OctetString::new(digest).map_err(encode_err)?).map_err(encode_err)?,
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

/// Signs the message in `input` (LF or CRLF) as `signer` and writes the
/// S/MIME multipart/signed message to `output`, streamed as
/// [`signing::sign_stream`] does. With `protect_headers`, a copy of the
/// header fields is signed inside (RFC 9788, `hp="clear"`).
pub fn sign_stream<R: Read + Seek>(
    input: &mut R,
    signer: &OwnIdentity,
    protect_headers: bool,
    rsa: RsaSignature,
    output: &mut dyn Write,
) -> Result<()> {
    let signature = SmimeSignature { signer, rsa };
    signing::sign_stream(input, signature, protect_headers, output)
}

/// Writes the entity of `inner` and the CRLF canonical body that `body`
/// reads from `input` (from its start, twice) as an S/MIME multipart/signed
/// entity whose only header field is its Content-Type.
pub fn sign_entity<R>(
    input: &mut R,
    body: fn(&mut R) -> Result<Box<dyn BufRead + '_>>,
    inner: &Headers,
    signer: &OwnIdentity,
    rsa: RsaSignature,
    output: &mut dyn Write,
) -> Result<()> {
    let signature = SmimeSignature { signer, rsa };
    signing::sign_entity(input, body, inner, &Headers::default(), signature, output)
}

/// A detached SignedData with SHA-256 (RFC 8551 §3.5).
struct SmimeSignature<'a> {
    signer: &'a OwnIdentity,
    rsa: RsaSignature,
}

impl Detached for SmimeSignature<'_> {
    type Hash = Sha256Writer;
    const PREAMBLE: &'static str = "This is an S/MIME signed message (RFC 8551)";

    fn content_type(&self, boundary: &str) -> String {
        format!(
            "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n boundary=\"{boundary}\""
        )
    }

    fn hash(&self) -> Result<Sha256Writer> {
        Ok(Sha256Writer(sha2_11::Sha256::new()))
    }

    fn finish(self, hash: Sha256Writer) -> Result<Vec<u8>> {
        let der = sign_digest(&hash.0.finalize(), self.signer, self.rsa)?;
        let mut part = b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
             Content-Description: S/MIME Cryptographic Signature\r\n\
             \r\n"
            .to_vec();
        for (i, chunk) in der.chunks(57).enumerate() {
            if i > 0 {
                part.extend_from_slice(b"\r\n");
            }
            part.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(chunk)
                    .as_bytes(),
            );
        }
        Ok(part)
    }
}

/// SHA-256 fed through [`Write`].
struct Sha256Writer(sha2_11::Sha256);

impl Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Parses a DER SignedData ContentInfo (for tests).
pub fn parse_signed_data(der: &[u8]) -> Result<SignedData> {
    let info = ContentInfo::from_der(der).map_err(|e| Error::Malformed(e.to_string()))?;
    info.content
        .decode_as::<SignedData>()
        .map_err(|e| Error::Malformed(e.to_string()))
}
