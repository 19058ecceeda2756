//! Certificate checks before encrypting to a certificate or trusting a
//! signature made with it: a path to a configured trust anchor (RFC 5280
//! §6, simplified: names chain, signatures verify, CA certificates have
//! basicConstraints cA and keyCertSign), validity periods, keyUsage and the
//! emailProtection EKU where present, and the address in the rfc822Name
//! SAN (or legacy emailAddress). Every failure names the check.
//!
//! Hand-written because certval 0.2 pins an rsa release candidate that
//! conflicts with the one used here; it handles the profile S/MIME needs
//! (no policy, name-constraint or revocation processing: see SECURITY.md).

use std::time::SystemTime;

use const_oid::ObjectIdentifier as Oid;
use der::Encode;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use super::certs::{PublicKey, SmimeCert};
use super::params::Hash;
use super::verify::Content;
use crate::{Error, Result};

const EMAIL_PROTECTION: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
const ANY_EKU: Oid = Oid::new_unwrap("2.5.29.37.0");
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
pub const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
pub const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");

/// What a certificate is about to be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Encrypt,
    Sign,
}

/// Verifies `signature` over `message` with `key` under `algorithm`.
/// `digest` is the SignerInfo's digestAlgorithm: it names the hash when
/// `algorithm` is a bare key algorithm (`rsaEncryption`, which OpenSSL
/// writes, or `id-ecPublicKey`); certificates pass `None`.
pub fn verify_signature(
    key: &PublicKey,
    algorithm: Oid,
    parameters: Option<&der::Any>,
    digest: Option<Hash>,
    message: &[u8],
    signature: &[u8],
) -> std::result::Result<(), String> {
    verify_signature_over(
        key,
        algorithm,
        parameters,
        digest,
        Content::Bytes(message),
        signature,
    )
}

/// [`verify_signature`] over `signed`: a message, or the digests of one
/// computed as it streamed past (content signed without signed
/// attributes, read as a stream).
pub(super) fn verify_signature_over(
    key: &PublicKey,
    algorithm: Oid,
    parameters: Option<&der::Any>,
    digest: Option<Hash>,
    signed: Content,
    signature: &[u8],
) -> std::result::Result<(), String> {
    if algorithm == RSASSA_PSS {
        return match key {
            PublicKey::Rsa(public) => verify_pss(public, parameters, signed, signature),
            PublicKey::P256(_) => Err("an RSA-PSS signature from a P-256 key".into()),
        };
    }
    let (family, hash) = signature_hash(algorithm, digest)?;
    let hashed = digest_of(signed, hash)?;
    let verified = match (key, family) {
        (PublicKey::Rsa(public), Family::Rsa) => {
            use rsa::Pkcs1v15Sign;
            let scheme = match hash {
                Hash::Sha256 => Pkcs1v15Sign::new::<sha2_11::Sha256>(),
                Hash::Sha384 => Pkcs1v15Sign::new::<sha2_11::Sha384>(),
                Hash::Sha512 => Pkcs1v15Sign::new::<sha2_11::Sha512>(),
                Hash::Sha1 => unreachable!("signature_hash refuses SHA-1"),
            };
            public.verify(scheme, &hashed, signature).is_ok()
        }
        (PublicKey::P256(public), Family::Ecdsa) => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let sig = p256::ecdsa::Signature::from_der(signature)
                .map_err(|_| "the ECDSA signature is malformed".to_string())?;
            // A longer hash is truncated to the curve's size (FIPS 186-5).
            p256::ecdsa::VerifyingKey::from(public)
                .verify_prehash(&hashed, &sig)
                .is_ok()
        }
        (PublicKey::Rsa(_), Family::Ecdsa) => {
            return Err(format!(
                "an ECDSA signature algorithm ({algorithm}) for an RSA key"
            ))
        }
        (PublicKey::P256(_), Family::Rsa) => {
            return Err(format!(
                "an RSA signature algorithm ({algorithm}) for a P-256 key"
            ))
        }
    };
    if verified {
        Ok(())
    } else {
        Err("the signature does not verify".to_string())
    }
}

/// The key type a signature algorithm needs.
enum Family {
    Rsa,
    Ecdsa,
}

/// The key type and hash of `algorithm`: named by the algorithm itself
/// (sha384WithRSAEncryption, ecdsa-with-SHA384) or, for a bare key
/// algorithm, by `digest`. SHA-1 is refused (RFC 8551 §2.1 deprecates it).
fn signature_hash(
    algorithm: Oid,
    digest: Option<Hash>,
) -> std::result::Result<(Family, Hash), String> {
    let (family, hash) = match algorithm {
        a if a == SHA256_WITH_RSA => (Family::Rsa, Some(Hash::Sha256)),
        a if a == SHA384_WITH_RSA => (Family::Rsa, Some(Hash::Sha384)),
        a if a == SHA512_WITH_RSA => (Family::Rsa, Some(Hash::Sha512)),
        a if a == super::oid::RSA_ENCRYPTION => (Family::Rsa, digest),
        a if a == ECDSA_WITH_SHA256 => (Family::Ecdsa, Some(Hash::Sha256)),
        a if a == ECDSA_WITH_SHA384 => (Family::Ecdsa, Some(Hash::Sha384)),
        a if a == ECDSA_WITH_SHA512 => (Family::Ecdsa, Some(Hash::Sha512)),
        a if a == super::oid::EC_PUBLIC_KEY => (Family::Ecdsa, digest),
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    match hash {
        None => Err(format!(
            "the signature algorithm {algorithm} names no digest"
        )),
        Some(Hash::Sha1) => Err("SHA-1 signatures are not accepted".into()),
        Some(hash) => Ok((family, hash)),
    }
}

/// RSASSA-PSS with the hash, MGF1 hash and salt length its parameters
/// name (OpenSSL signs with the longest salt the key allows by default).
fn verify_pss(
    public: &rsa::RsaPublicKey,
    parameters: Option<&der::Any>,
    signed: Content,
    signature: &[u8],
) -> std::result::Result<(), String> {
    let (hash, salt_len) = super::params::pss(parameters)?;
    fn scheme<D: sha2_11::Digest>(salt_len: usize) -> rsa::Pss<D> {
        rsa::Pss {
            blinded: false,
            digest: D::new(),
            salt_len: Some(salt_len),
        }
    }
    let hashed = digest_of(signed, hash)?;
    match hash {
        Hash::Sha1 => public.verify(scheme::<sha1_011::Sha1>(salt_len), &hashed, signature),
        Hash::Sha256 => public.verify(scheme::<sha2_11::Sha256>(salt_len), &hashed, signature),
        Hash::Sha384 => public.verify(scheme::<sha2_11::Sha384>(salt_len), &hashed, signature),
        Hash::Sha512 => public.verify(scheme::<sha2_11::Sha512>(salt_len), &hashed, signature),
    }
    .map_err(|_| "the signature does not verify".to_string())
}

/// The digest by `hash` of what `signed` is.
fn digest_of(signed: Content, hash: Hash) -> std::result::Result<Vec<u8>, String> {
    signed
        .digest(hash)
        .ok_or_else(|| format!("the content was not hashed with {hash:?} as it was read"))
}

fn check_time(cert: &SmimeCert, now: SystemTime, what: &str) -> std::result::Result<(), String> {
    let (not_before, not_after) = cert.validity();
    let show = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    if now > not_after {
        return Err(format!(
            "validity: {what} {} expired on {}",
            cert.subject(),
            show(not_after)
        ));
    }
    if now < not_before {
        return Err(format!(
            "validity: {what} {} is not valid before {}",
            cert.subject(),
            show(not_before)
        ));
    }
    Ok(())
}

fn key_usage(cert: &SmimeCert) -> Option<KeyUsage> {
    cert.cert
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .ok()
        .flatten()
        .map(|(_, ku)| ku)
}

fn check_leaf(cert: &SmimeCert, usage: Usage) -> std::result::Result<(), String> {
    if let Some(ku) = key_usage(cert) {
        let ok = match (usage, cert.public_key()) {
            (Usage::Sign, _) => ku.digital_signature() || ku.non_repudiation(),
            (Usage::Encrypt, Ok(PublicKey::P256(_))) => ku.key_agreement(),
            (Usage::Encrypt, _) => ku.key_encipherment(),
        };
        if !ok {
            return Err(format!(
                "keyUsage: the certificate of {} does not allow {}",
                cert.subject(),
                if usage == Usage::Sign {
                    "signing"
                } else {
                    "encryption"
                }
            ));
        }
    }
    if let Ok(Some((_, eku))) = cert
        .cert
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
    {
        if !eku
            .0
            .iter()
            .any(|o| *o == EMAIL_PROTECTION || *o == ANY_EKU)
        {
            return Err(format!(
                "extendedKeyUsage: the certificate of {} is not for e-mail protection",
                cert.subject()
            ));
        }
    }
    Ok(())
}

fn check_ca(cert: &SmimeCert) -> std::result::Result<(), String> {
    let is_ca = matches!(
        cert.cert.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, bc))) if bc.ca
    );
    if !is_ca {
        return Err(format!(
            "basicConstraints: {} is not a CA certificate",
            cert.subject()
        ));
    }
    if let Some(ku) = key_usage(cert) {
        if !ku.0.contains(KeyUsages::KeyCertSign) {
            return Err(format!(
                "keyUsage: CA {} may not sign certificates",
                cert.subject()
            ));
        }
    }
    Ok(())
}

fn signed_by(child: &SmimeCert, issuer: &SmimeCert) -> std::result::Result<(), String> {
    let tbs = child
        .cert
        .tbs_certificate()
        .to_der()
        .map_err(|e| format!("cannot encode the certificate: {e}"))?;
    let key = issuer
        .public_key()
        .map_err(|e| format!("the key of issuer {} cannot be used: {e}", issuer.subject()))?;
    let alg = child.cert.signature_algorithm();
    verify_signature(
        &key,
        alg.oid,
        alg.parameters.as_ref(),
        None,
        &tbs,
        child.cert.signature().raw_bytes(),
    )
    .map_err(|e| {
        format!(
            "signature: {} on the certificate of {}: {e}",
            issuer.subject(),
            child.subject()
        )
    })
}

/// Checks `cert` for `usage` by `address` (when given) at `now`, building a
/// path through `intermediates` to one of `anchors`. Returns the chain
/// (end entity first, anchor last).
pub fn validate(
    cert: &SmimeCert,
    address: Option<&str>,
    usage: Usage,
    intermediates: &[SmimeCert],
    anchors: &[SmimeCert],
    now: SystemTime,
) -> Result<Vec<SmimeCert>> {
    let fail = |check: String| Error::Untrusted {
        subject: cert.subject(),
        check,
    };
    if let Some(address) = address {
        if !cert.has_address(address) {
            let have = cert.addresses();
            return Err(fail(format!(
                "address: the certificate is for {}, not {address}",
                if have.is_empty() {
                    "no e-mail address".to_string()
                } else {
                    have.join(", ")
                }
            )));
        }
    }
    check_time(cert, now, "certificate").map_err(fail)?;
    check_leaf(cert, usage).map_err(fail)?;
    if anchors.is_empty() {
        return Err(fail(
            "path: no trust anchors are configured (set smime.trust_anchors in config.toml)".into(),
        ));
    }
    let mut chain = vec![cert.clone()];
    let mut current = cert.clone();
    for _ in 0..8 {
        if anchors.iter().any(|a| a.der == current.der) {
            return Ok(chain);
        }
        let issuer_name = current.cert.tbs_certificate().issuer().clone();
        let mut last_error = None;
        let candidates = anchors
            .iter()
            .map(|a| (a, true))
            .chain(intermediates.iter().map(|i| (i, false)))
            .filter(|(c, _)| {
                *c.cert.tbs_certificate().subject() == issuer_name && c.der != current.der
            });
        let mut next = None;
        for (candidate, is_anchor) in candidates {
            match signed_by(&current, candidate) {
                Ok(()) => {
                    next = Some((candidate.clone(), is_anchor));
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let Some((issuer, is_anchor)) = next else {
            return Err(fail(last_error.unwrap_or_else(|| {
                format!("path: no trusted issuer {issuer_name} (the root is not among smime.trust_anchors)")
            })));
        };
        if !is_anchor {
            check_time(&issuer, now, "intermediate CA").map_err(fail)?;
            check_ca(&issuer).map_err(fail)?;
        } else {
            check_time(&issuer, now, "trust anchor").map_err(fail)?;
        }
        chain.push(issuer.clone());
        if is_anchor {
            return Ok(chain);
        }
        current = issuer;
    }
    Err(fail("path: the chain is longer than 8 certificates".into()))
}

/// Loads the trust anchors named in the configuration.
pub fn load_anchors(paths: &[std::path::PathBuf]) -> Result<Vec<SmimeCert>> {
    let mut out = Vec::new();
    for path in paths {
        let data = std::fs::read(path).map_err(|e| Error::Config {
            path: path.clone(),
            message: format!("cannot read this smime.trust_anchors file: {e}"),
        })?;
        out.extend(super::certs::parse_certs(&data).map_err(|e| Error::Config {
            path: path.clone(),
            message: format!("not a certificate file: {e}"),
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature is checked with the hash it was made with, and only
    /// that: relabelling the SignerInfo's digest, or naming SHA-1 or no
    /// digest at all, fails.
    #[test]
    fn rsa_encryption_signatures_use_the_named_digest_only() {
        use super::super::certs::OwnKey;
        use sha2_11::Digest;
        let pem = include_bytes!("../../testdata/smime/rfc9216/alice.key");
        let OwnKey::Rsa(private) = OwnKey::parse(pem).unwrap() else {
            panic!("alice.key is RSA");
        };
        let message = b"signed attributes";
        let signature = private
            .sign(
                rsa::Pkcs1v15Sign::new::<sha2_11::Sha384>(),
                &sha2_11::Sha384::digest(message),
            )
            .unwrap();
        let key = PublicKey::Rsa(private.to_public_key());
        let rsa_encryption = super::super::oid::RSA_ENCRYPTION;
        let check =
            |digest| verify_signature(&key, rsa_encryption, None, digest, message, &signature);
        assert_eq!(check(Some(Hash::Sha384)), Ok(()));
        for wrong in [
            Some(Hash::Sha256),
            Some(Hash::Sha512),
            Some(Hash::Sha1),
            None,
        ] {
            assert!(check(wrong).is_err(), "{wrong:?}");
        }
        // The algorithm's own hash wins over the SignerInfo's digest.
        let named = |algorithm| {
            verify_signature(
                &key,
                algorithm,
                None,
                Some(Hash::Sha384),
                message,
                &signature,
            )
        };
        assert_eq!(named(SHA384_WITH_RSA), Ok(()));
        assert!(named(SHA256_WITH_RSA).is_err());
        assert!(named(ECDSA_WITH_SHA384).is_err());
        assert!(verify_signature(
            &key,
            rsa_encryption,
            None,
            Some(Hash::Sha384),
            b"other",
            &signature
        )
        .is_err());
    }

    fn self_signed(address: &str, ca: bool) -> SmimeCert {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(address.try_into().unwrap())];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        SmimeCert::from_der(params.self_signed(&key).unwrap().der()).unwrap()
    }

    #[test]
    fn each_failure_names_its_check() {
        let cert = self_signed("a@example.org", false);
        let now = SystemTime::now();
        let check = |r: Result<Vec<SmimeCert>>| match r {
            Err(Error::Untrusted { check, .. }) => check,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let anchors = std::slice::from_ref(&cert);
        assert!(check(validate(
            &cert,
            Some("b@example.org"),
            Usage::Encrypt,
            &[],
            anchors,
            now
        ))
        .starts_with("address:"));
        assert!(check(validate(
            &cert,
            Some("a@example.org"),
            Usage::Encrypt,
            &[],
            &[],
            now
        ))
        .starts_with("path:"));
        let later = now + std::time::Duration::from_secs(3600 * 24 * 365 * 200);
        assert!(
            check(validate(&cert, None, Usage::Sign, &[], anchors, later)).starts_with("validity:")
        );
        // A root with the issuer's name but another key: the signature
        // along the chain does not verify.
        let other_root = self_signed("root@example.org", true);
        assert!(
            check(validate(&cert, None, Usage::Sign, &[], &[other_root], now))
                .starts_with("signature:")
        );
        // A pinned anchor is a path of one.
        assert_eq!(
            validate(&cert, Some("A@example.org"), Usage::Sign, &[], anchors, now)
                .unwrap()
                .len(),
            1
        );
    }
}
