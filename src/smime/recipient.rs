//! Recipient infos: how the content-encryption key reaches each recipient.
//!
//! - RSA key transport (RFC 5652 §6.2.1) with PKCS#1 v1.5 (`rsaEncryption`)
//!   or RSAES-OAEP (RFC 8017, RFC 4055): written with SHA-256 and
//!   MGF1-SHA-256, read with the hash and MGF1 hash its parameters name
//!   (SHA-1, the default and openssl's, SHA-256, SHA-384, SHA-512);
//! - ECDH P-256 key agreement (RFC 5753 §3.1): ephemeral-static, the
//!   X9.63 KDF with SHA-256 over ECC-CMS-SharedInfo, AES-256 key wrap
//!   (RFC 3394; 3DES key wrap, RFC 3217, is read). Written by hand: `cms`'s KeyAgreeRecipientInfoBuilder
//!   wraps the key under an all-zero KEK.
//!
//! Opening never says why a key could not be recovered: RSA failures get
//! a random key instead (implicit rejection), so that every failure ends
//! as the same content-decryption error.

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::enveloped_data::{
    KeyAgreeRecipientIdentifier, KeyAgreeRecipientInfo, KeyTransRecipientInfo,
    OriginatorIdentifierOrKey, OriginatorPublicKey, RecipientEncryptedKey, RecipientIdentifier,
    RecipientInfo,
};
use der::asn1::{BitString, OctetString};
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::certs::{OwnIdentity, OwnKey, PublicKey, SmimeCert};
use super::oid;
use super::params::{self, Hash, OaepParams};
use crate::{Error, Result};

/// How a key is transported to an RSA recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyTransport {
    /// RSAES-PKCS1-v1_5: what Outlook, Thunderbird and Apple Mail all read.
    RsaPkcs1v15,
    /// RSAES-OAEP with SHA-256.
    RsaOaep,
}

impl KeyTransport {
    /// Parses the `smime.key_transport` setting.
    pub fn parse(name: &str) -> Option<KeyTransport> {
        match name.to_ascii_lowercase().as_str() {
            "rsa-pkcs1v15" | "pkcs1v15" | "rsa-v1.5" => Some(KeyTransport::RsaPkcs1v15),
            "rsa-oaep" | "oaep" => Some(KeyTransport::RsaOaep),
            _ => None,
        }
    }
}

/// ECC-CMS-SharedInfo (RFC 5753 §7.2).
#[derive(Clone, Debug, Sequence)]
struct EccCmsSharedInfo {
    key_info: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    entity_u_info: Option<OctetString>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    supp_pub_info: OctetString,
}

fn alg(oid: const_oid::ObjectIdentifier, parameters: Option<Any>) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters }
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    alg(oid::SHA256, Some(Any::null()))
}

fn encode_err(e: der::Error) -> Error {
    Error::Malformed(format!("cannot encode CMS structure: {e}"))
}

/// The recipient info that carries `cek` to `cert`.
pub fn recipient_info(
    cert: &SmimeCert,
    cek: &[u8; 32],
    transport: KeyTransport,
) -> Result<RecipientInfo> {
    let mut rng = super::rng();
    match cert.public_key()? {
        PublicKey::Rsa(public) => {
            let (key_enc_alg, encrypted) = match transport {
                KeyTransport::RsaPkcs1v15 => (
                    alg(oid::RSA_ENCRYPTION, Some(Any::null())),
                    public.encrypt(&mut rng, rsa::Pkcs1v15Encrypt, cek),
                ),
                KeyTransport::RsaOaep => {
                    let params = OaepParams {
                        hash: Some(sha256_alg()),
                        mask_gen: Some(alg(
                            oid::MGF1,
                            Some(Any::encode_from(&sha256_alg()).map_err(encode_err)?),
                        )),
                        p_source: None,
                    };
                    (
                        alg(
                            oid::RSAES_OAEP,
                            Some(Any::encode_from(&params).map_err(encode_err)?),
                        ),
                        public.encrypt(&mut rng, rsa::Oaep::<sha2_11::Sha256>::new(), cek),
                    )
                }
            };
            let encrypted = encrypted.map_err(|e| Error::NoKey {
                recipient: cert.addresses().join(", "),
                reason: format!("RSA encryption failed: {e}"),
            })?;
            Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
                version: CmsVersion::V0,
                rid: RecipientIdentifier::IssuerAndSerialNumber(cert.issuer_and_serial()),
                key_enc_alg,
                enc_key: OctetString::new(encrypted).map_err(encode_err)?,
            }))
        }
        PublicKey::P256(public) => {
            let ephemeral = p256::SecretKey::from_slice(&super::random_bytes::<32>())
                .or_else(|_| p256::SecretKey::from_slice(&super::random_bytes::<32>()))
                .map_err(|_| Error::Malformed("cannot make an ephemeral P-256 key".into()))?;
            let shared =
                p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), public.as_affine());
            let wrap_alg = alg(oid::AES256_WRAP, None);
            let kek = x963_kdf(
                oid::ECDH_SHA256_KDF,
                shared.raw_secret_bytes(),
                &wrap_alg,
                None,
                32,
            )?;
            let mut wrapped = [0u8; 40];
            aes_kw::KwAes256::new_from_slice(&kek)
                .expect("32-byte KEK")
                .wrap_key(&cek[..], &mut wrapped)
                .expect("40 bytes hold a wrapped 32-byte key");
            use p256::elliptic_curve::sec1::ToSec1Point;
            let point = ephemeral.public_key().to_sec1_point(false);
            Ok(RecipientInfo::Kari(KeyAgreeRecipientInfo {
                version: CmsVersion::V3,
                originator: OriginatorIdentifierOrKey::OriginatorKey(OriginatorPublicKey {
                    algorithm: alg(oid::EC_PUBLIC_KEY, None),
                    public_key: BitString::from_bytes(point.as_bytes()).map_err(encode_err)?,
                }),
                ukm: None,
                key_enc_alg: alg(
                    oid::ECDH_SHA256_KDF,
                    Some(Any::encode_from(&wrap_alg).map_err(encode_err)?),
                ),
                recipient_enc_keys: vec![RecipientEncryptedKey {
                    rid: KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(
                        cert.issuer_and_serial(),
                    ),
                    enc_key: OctetString::new(wrapped.to_vec()).map_err(encode_err)?,
                }],
            }))
        }
    }
}

use aes_kw::KeyInit as _;

/// The ANSI X9.63 KDF of RFC 5753 §3.1.2: Hash(Z || counter || SharedInfo)
/// for counter 1, 2, ... until `len` bytes.
pub(crate) fn x963_kdf(
    scheme: const_oid::ObjectIdentifier,
    z: &[u8],
    wrap_alg: &AlgorithmIdentifierOwned,
    ukm: Option<&OctetString>,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let shared_info = EccCmsSharedInfo {
        key_info: wrap_alg.clone(),
        entity_u_info: ukm.cloned(),
        supp_pub_info: OctetString::new(((len * 8) as u32).to_be_bytes().to_vec())
            .map_err(encode_err)?,
    }
    .to_der()
    .map_err(encode_err)?;
    let mut out = Zeroizing::new(Vec::new());
    let mut counter: u32 = 1;
    while out.len() < len {
        let block: Vec<u8> = if scheme == oid::ECDH_SHA256_KDF {
            kdf_block::<sha2_11::Sha256>(z, counter, &shared_info)
        } else if scheme == oid::ECDH_SHA1_KDF {
            // Read only: OpenSSL's default when no KDF digest is chosen.
            kdf_block::<sha1_011::Sha1>(z, counter, &shared_info)
        } else if scheme == oid::ECDH_SHA384_KDF {
            kdf_block::<sha2_11::Sha384>(z, counter, &shared_info)
        } else if scheme == oid::ECDH_SHA512_KDF {
            kdf_block::<sha2_11::Sha512>(z, counter, &shared_info)
        } else {
            return Err(unsupported_ecdh(format!(
                "key agreement scheme {scheme} (mailseal reads the stdDH schemes of RFC 5753)"
            )));
        };
        out.extend_from_slice(&block);
        counter += 1;
    }
    out.truncate(len);
    Ok(out)
}

/// One X9.63 KDF block: Hash(Z || counter || SharedInfo).
fn kdf_block<D: sha2_11::Digest>(z: &[u8], counter: u32, shared_info: &[u8]) -> Vec<u8> {
    D::new()
        .chain_update(z)
        .chain_update(counter.to_be_bytes())
        .chain_update(shared_info)
        .finalize()
        .to_vec()
}

/// Why no key was recovered: nothing is addressed to us (a clear error),
/// something is and it failed (reported like a damaged message), or it
/// uses parameters mailseal does not read (named, from public data only).
pub enum Unwrap {
    NotForUs,
    Failed,
    Unsupported(Error),
}

fn rid_matches(rid: &IssuerAndSerialNumber, cert: &SmimeCert) -> bool {
    *rid == cert.issuer_and_serial()
}

fn ski_matches(ski: &[u8], cert: &SmimeCert) -> bool {
    use x509_cert::ext::pkix::SubjectKeyIdentifier;
    matches!(
        cert.cert.tbs_certificate().get_extension::<SubjectKeyIdentifier>(),
        Ok(Some((_, id))) if id.0.as_bytes() == ski
    )
}

/// Recovers the content-encryption key from the recipient infos with one
/// of `own`. RSA v1.5 failures yield a random key of `key_len` bytes.
pub fn unwrap_content_key(
    infos: &[RecipientInfo],
    own: &[OwnIdentity],
    key_len: usize,
) -> std::result::Result<Zeroizing<Vec<u8>>, Unwrap> {
    let mut addressed_to_us = false;
    for info in infos {
        for identity in own {
            match info {
                RecipientInfo::Ktri(ktri) => {
                    let ours = match &ktri.rid {
                        RecipientIdentifier::IssuerAndSerialNumber(ias) => {
                            rid_matches(ias, &identity.cert)
                        }
                        RecipientIdentifier::SubjectKeyIdentifier(ski) => {
                            ski_matches(ski.0.as_bytes(), &identity.cert)
                        }
                    };
                    let OwnKey::Rsa(key) = &identity.key else {
                        continue;
                    };
                    if !ours {
                        continue;
                    }
                    addressed_to_us = true;
                    match rsa_unwrap(ktri, key, key_len) {
                        Ok(Some(cek)) => return Ok(cek),
                        Ok(None) => {}
                        Err(e) => return Err(Unwrap::Unsupported(e)),
                    }
                }
                RecipientInfo::Kari(kari) => {
                    let OwnKey::P256(key) = &identity.key else {
                        continue;
                    };
                    for rek in &kari.recipient_enc_keys {
                        let ours = match &rek.rid {
                            KeyAgreeRecipientIdentifier::IssuerAndSerialNumber(ias) => {
                                rid_matches(ias, &identity.cert)
                            }
                            KeyAgreeRecipientIdentifier::RKeyId(rkid) => ski_matches(
                                rkid.subject_key_identifier.0.as_bytes(),
                                &identity.cert,
                            ),
                        };
                        if !ours {
                            continue;
                        }
                        addressed_to_us = true;
                        match ecdh_unwrap(kari, rek, key) {
                            Ok(Some(cek)) => return Ok(cek),
                            Ok(None) => {}
                            Err(e) => return Err(Unwrap::Unsupported(e)),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if addressed_to_us {
        Err(Unwrap::Failed)
    } else {
        Err(Unwrap::NotForUs)
    }
}

/// The content key from an RSA recipient info: `Ok(None)` when it does
/// not decrypt, an error when its algorithm is one mailseal does not read.
fn rsa_unwrap(
    ktri: &KeyTransRecipientInfo,
    key: &rsa::RsaPrivateKey,
    key_len: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let mut rng = super::rng();
    let ciphertext = ktri.enc_key.as_bytes();
    let alg = ktri.key_enc_alg.oid;
    if alg == oid::RSA_ENCRYPTION {
        // Implicit rejection: a wrong padding gives a random key, so the
        // failure shows only later, as the same error as any other.
        let random = Zeroizing::new(super::random_bytes::<32>()[..key_len.min(32)].to_vec());
        return Ok(
            match key.decrypt_blinded(&mut rng, rsa::Pkcs1v15Encrypt, ciphertext) {
                Ok(cek) if cek.len() == key_len => Some(Zeroizing::new(cek)),
                _ => Some(random),
            },
        );
    }
    if alg == oid::RSAES_OAEP {
        let (hash, mgf) = params::oaep(ktri.key_enc_alg.parameters.as_ref())?;
        fn oaep<D, M>(key: &rsa::RsaPrivateKey, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>>
        where
            D: sha2_11::Digest + sha2_11::digest::FixedOutputReset,
            M: sha2_11::Digest + sha2_11::digest::FixedOutputReset,
        {
            key.decrypt_blinded(
                &mut super::rng(),
                rsa::Oaep::<D, M>::new_with_mgf_hash(),
                ciphertext,
            )
            .ok()
            .map(Zeroizing::new)
        }
        macro_rules! with_mgf {
            ($d:ty) => {
                match mgf {
                    Hash::Sha1 => oaep::<$d, sha1_011::Sha1>(key, ciphertext),
                    Hash::Sha256 => oaep::<$d, sha2_11::Sha256>(key, ciphertext),
                    Hash::Sha384 => oaep::<$d, sha2_11::Sha384>(key, ciphertext),
                    Hash::Sha512 => oaep::<$d, sha2_11::Sha512>(key, ciphertext),
                }
            };
        }
        return Ok(match hash {
            Hash::Sha1 => with_mgf!(sha1_011::Sha1),
            Hash::Sha256 => with_mgf!(sha2_11::Sha256),
            Hash::Sha384 => with_mgf!(sha2_11::Sha384),
            Hash::Sha512 => with_mgf!(sha2_11::Sha512),
        });
    }
    Err(Error::Unsupported {
        what: format!("the message's key is transported with {alg}; mailseal reads RSA PKCS#1 v1.5, RSAES-OAEP and ECDH"),
        hint: "ask the sender to encrypt with RSA (PKCS#1 v1.5 or OAEP) or ECDH".into(),
    })
}

fn unsupported_ecdh(what: String) -> Error {
    Error::Unsupported {
        what: format!("the message's ECDH recipient uses {what}"),
        hint: "ask the sender to encrypt with ephemeral-static ECDH (RFC 5753) and AES key wrap, as openssl cms does".into(),
    }
}

/// The content key from an ECDH recipient entry: `Ok(None)` when it does
/// not unwrap, an error when its parameters are ones mailseal does not read.
fn ecdh_unwrap(
    kari: &KeyAgreeRecipientInfo,
    rek: &RecipientEncryptedKey,
    key: &p256::SecretKey,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let OriginatorIdentifierOrKey::OriginatorKey(originator) = &kari.originator else {
        return Err(unsupported_ecdh(
            "an originator certificate (static-static ECDH)".into(),
        ));
    };
    let Ok(peer) = p256::PublicKey::from_sec1_bytes(originator.public_key.raw_bytes()) else {
        return Ok(None);
    };
    let Some(wrap_alg) = kari
        .key_enc_alg
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok())
    else {
        return Ok(None);
    };
    let kek_len = match wrap_alg.oid {
        o if o == oid::AES128_WRAP => 16,
        o if o == oid::AES192_WRAP => 24,
        o if o == oid::AES256_WRAP => 32,
        o if o == oid::DES_EDE3_WRAP => 24,
        other => return Err(unsupported_ecdh(format!("key wrap {other}"))),
    };
    let shared = p256::ecdh::diffie_hellman(key.to_nonzero_scalar(), peer.as_affine());
    let kek = x963_kdf(
        kari.key_enc_alg.oid,
        shared.raw_secret_bytes(),
        &wrap_alg,
        kari.ukm.as_ref(),
        kek_len,
    )?;
    Ok(if wrap_alg.oid == oid::DES_EDE3_WRAP {
        des3_unwrap(&kek, rek.enc_key.as_bytes())
    } else {
        aes_unwrap(&kek, rek.enc_key.as_bytes())
    })
}

/// Triple-DES key unwrap (RFC 3217 §3.2): what OpenSSL wraps a 3DES
/// content key with for an ECDH recipient (its default cipher). Read only.
fn des3_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use aes::cipher::{BlockModeDecrypt, KeyIvInit};
    const IV: [u8; 8] = [0x4a, 0xdd, 0xa2, 0x2c, 0x79, 0xe8, 0x21, 0x05];
    if wrapped.len() != 40 || kek.len() != 24 {
        return None;
    }
    let decrypt = |iv: &[u8], data: &mut [u8]| -> Option<()> {
        let mut cbc = cbc::Decryptor::<des::TdesEde3>::new_from_slices(kek, iv).ok()?;
        for block in data.chunks_exact_mut(8) {
            cbc.decrypt_block(block.try_into().ok()?);
        }
        Some(())
    };
    let mut temp = Zeroizing::new(wrapped.to_vec());
    decrypt(&IV, &mut temp)?;
    temp.reverse();
    let (iv, rest) = temp.split_at_mut(8);
    decrypt(iv, rest)?;
    let (cek, icv) = rest.split_at(24);
    use sha2_11::Digest;
    let check = sha1_011::Sha1::digest(cek);
    let diff = check[..8]
        .iter()
        .zip(icv)
        .fold(0u8, |a, (x, y)| a | (x ^ y));
    (diff == 0).then(|| Zeroizing::new(cek.to_vec()))
}

/// AES key unwrap (RFC 3394) with a 128-, 192- or 256-bit KEK.
pub(crate) fn aes_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return None;
    }
    let mut buf = Zeroizing::new(vec![0u8; wrapped.len() - 8]);
    let ok = match kek.len() {
        16 => aes_kw::KwAes128::new_from_slice(kek)
            .ok()?
            .unwrap_key(wrapped, &mut buf)
            .is_ok(),
        24 => aes_kw::KwAes192::new_from_slice(kek)
            .ok()?
            .unwrap_key(wrapped, &mut buf)
            .is_ok(),
        32 => aes_kw::KwAes256::new_from_slice(kek)
            .ok()?
            .unwrap_key(wrapped, &mut buf)
            .is_ok(),
        _ => false,
    };
    ok.then_some(buf)
}

/// Decodes the recipient infos inside a (BER) SET OF RecipientInfo.
pub fn decode_infos(set: &cms::enveloped_data::RecipientInfos) -> Vec<RecipientInfo> {
    set.0.iter().cloned().collect()
}

/// DER of one recipient info (for tests and the SET encoding).
pub fn encode_info(info: &RecipientInfo) -> Result<Vec<u8>> {
    info.to_der().map_err(encode_err)
}

/// Parses a DER recipient info.
pub fn parse_info(der: &[u8]) -> Result<RecipientInfo> {
    RecipientInfo::from_der(der).map_err(|e| Error::Malformed(format!("bad RecipientInfo: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smime::certs::OwnIdentity;

    /// A self-signed P-256 certificate for `address` and its own identity.
    fn p256_identity(address: &str) -> (SmimeCert, OwnIdentity) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(address.try_into().unwrap())];
        let cert = params.self_signed(&key).unwrap();
        let cert = SmimeCert::from_der(cert.der()).unwrap();
        let own = OwnKey::parse(&key.serialize_der()).unwrap();
        (
            cert.clone(),
            OwnIdentity {
                key: own,
                cert,
                chain: Vec::new(),
            },
        )
    }

    #[test]
    fn ecdh_key_is_not_wrapped_under_an_all_zero_kek() {
        let (cert, identity) = p256_identity("dave@example.net");
        let cek = [0x42u8; 32];
        let info = recipient_info(&cert, &cek, KeyTransport::RsaPkcs1v15).unwrap();
        let RecipientInfo::Kari(kari) = &info else {
            panic!("a P-256 recipient gets a KeyAgreeRecipientInfo")
        };
        let wrapped = kari.recipient_enc_keys[0].enc_key.as_bytes();
        assert_eq!(wrapped.len(), 40);
        // The bug in cms 0.3.0-rc.0's KeyAgreeRecipientInfoBuilder: the key
        // opened under an all-zero KEK. It must not, at any KEK size.
        for size in [16, 24, 32] {
            assert!(
                aes_unwrap(&vec![0u8; size], wrapped).is_none(),
                "the content key opens under an all-zero {size}-byte KEK"
            );
        }
        // The recipient's own key opens it.
        let opened = unwrap_content_key(std::slice::from_ref(&info), &[identity], 32)
            .ok()
            .expect("the recipient unwraps the key");
        assert_eq!(&opened[..], &cek);
        // RFC 5753 parameters: dhSinglePass-stdDH-sha256kdf-scheme with
        // AES-256 key wrap, an ephemeral uncompressed P-256 point.
        assert_eq!(kari.key_enc_alg.oid, oid::ECDH_SHA256_KDF);
        let wrap: AlgorithmIdentifierOwned = kari
            .key_enc_alg
            .parameters
            .as_ref()
            .unwrap()
            .decode_as()
            .unwrap();
        assert_eq!(wrap.oid, oid::AES256_WRAP);
        let OriginatorIdentifierOrKey::OriginatorKey(originator) = &kari.originator else {
            panic!("ephemeral-static: the originator is a public key")
        };
        assert_eq!(originator.public_key.raw_bytes().len(), 65);
        // Ephemeral: two encryptions use two different originator keys.
        let again = recipient_info(&cert, &cek, KeyTransport::RsaPkcs1v15).unwrap();
        assert_ne!(encode_info(&info).unwrap(), encode_info(&again).unwrap());
    }

    #[test]
    fn a_different_key_cannot_unwrap() {
        let (cert, _) = p256_identity("dave@example.net");
        let (_, other) = p256_identity("dave@example.net");
        let info = recipient_info(&cert, &[7u8; 32], KeyTransport::RsaPkcs1v15).unwrap();
        // Same address, different certificate: not addressed to `other`.
        assert!(matches!(
            unwrap_content_key(&[info], &[other], 32),
            Err(Unwrap::NotForUs)
        ));
    }
}
