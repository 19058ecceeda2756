//! X.509 certificates and own S/MIME keys: parsing (PEM, DER, bundles),
//! the addresses a certificate is for, and the stores under the home
//! (others' certificates, and own keys with their chains, 0600 in 0700).

use cms::cert::IssuerAndSerialNumber;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use super::{hex, oid};
use crate::{Error, Result};

/// A parsed certificate with its DER bytes.
#[derive(Debug, Clone)]
pub struct SmimeCert {
    pub der: Vec<u8>,
    pub cert: Certificate,
}

/// The public key of a recipient or signer.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::PublicKey),
}

impl SmimeCert {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<SmimeCert> {
        let cert = Certificate::from_der(der)
            .map_err(|e| Error::CertificateFile(format!("not an X.509 certificate: {e}")))?;
        Ok(SmimeCert {
            der: der.to_vec(),
            cert,
        })
    }

    /// SHA-256 of the DER encoding, lower-case hex: the certificate's ID.
    pub fn fingerprint(&self) -> String {
        hex(&Sha256::digest(&self.der))
    }

    /// The e-mail addresses the certificate is for: rfc822Name entries of
    /// subjectAltName, else the legacy emailAddress attributes of the
    /// subject; normalized to lower case.
    pub fn addresses(&self) -> Vec<String> {
        Self::addresses_of(&self.cert)
    }

    /// [`SmimeCert::addresses`] of a parsed certificate.
    pub fn addresses_of(cert: &Certificate) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(Some(san)) = cert.tbs_certificate().get_extension::<SubjectAltName>() {
            for name in san.1 .0 {
                if let GeneralName::Rfc822Name(address) = name {
                    out.push(address.as_str().to_lowercase());
                }
            }
        }
        if out.is_empty() {
            for atv in cert.tbs_certificate().subject().iter() {
                if atv.oid == oid::EMAIL_ADDRESS {
                    if let Ok(text) = der::asn1::Ia5StringRef::try_from(&atv.value) {
                        out.push(text.as_str().to_lowercase());
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether the certificate names `address` (case-insensitively).
    pub fn has_address(&self, address: &str) -> bool {
        let wanted = address.trim().to_lowercase();
        self.addresses().contains(&wanted)
    }

    /// The subject, as text.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// The issuer, as text.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// Issuer and serial number: how CMS names this certificate.
    pub fn issuer_and_serial(&self) -> IssuerAndSerialNumber {
        IssuerAndSerialNumber {
            issuer: self.cert.tbs_certificate().issuer().clone(),
            serial_number: self.cert.tbs_certificate().serial_number().clone(),
        }
    }

    /// The certificate's public key, when it is one mailseal can use.
    pub fn public_key(&self) -> Result<PublicKey> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        let algorithm = spki.algorithm.oid;
        if algorithm == oid::RSA_ENCRYPTION {
            let der = spki
                .to_der()
                .map_err(|e| Error::Malformed(format!("bad public key: {e}")))?;
            use rsa::pkcs8::DecodePublicKey;
            return rsa::RsaPublicKey::from_public_key_der(&der)
                .map(PublicKey::Rsa)
                .map_err(|e| Error::Malformed(format!("bad RSA public key: {e}")));
        }
        if algorithm == oid::EC_PUBLIC_KEY {
            return p256::PublicKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
                .map(PublicKey::P256)
                .map_err(|_| {
                    Error::Malformed(
                        "the EC public key is not on P-256 (the only curve mailseal uses)".into(),
                    )
                });
        }
        Err(Error::Malformed(format!(
            "unsupported public key algorithm {algorithm} (mailseal uses RSA and P-256)"
        )))
    }

    /// Validity as (not before, not after), seconds since the epoch.
    pub fn validity(&self) -> (std::time::SystemTime, std::time::SystemTime) {
        let v = self.cert.tbs_certificate().validity();
        (v.not_before.to_system_time(), v.not_after.to_system_time())
    }

    /// PEM text.
    pub fn to_pem(&self) -> String {
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &self.der)
            .expect("PEM encoding of a certificate")
    }
}

/// The PEM blocks in `data`, as (label, DER). Lenient as openssl is: any
/// line length (GlobalSign publishes 76 columns), CRLF or LF, white space
/// anywhere in the base64; RFC 1421 header lines (`Name: value`) are
/// skipped.
pub fn pem_blocks(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| Error::CertificateFile("a PEM block has no closing dashes".into()))?;
        let label = after[..label_end].trim();
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body.find(&end_marker).ok_or_else(|| {
            Error::CertificateFile(format!("the PEM block {label} has no END line"))
        })?;
        let base64: String = body[..end]
            .lines()
            .filter(|line| !line.contains(':'))
            .flat_map(|line| line.chars().filter(|c| !c.is_ascii_whitespace()))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&base64)
            .map_err(|e| Error::CertificateFile(format!("bad base64 in PEM block {label}: {e}")))?;
        out.push((label.to_string(), der));
        rest = &body[end + end_marker.len()..];
    }
    Ok(out)
}

/// Whether `data` looks like X.509 material (PEM certificate or key, or a
/// DER SEQUENCE that parses as a certificate).
pub fn looks_like_x509(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    text.contains("-----BEGIN CERTIFICATE-----")
        || text.contains("PRIVATE KEY-----")
        || Certificate::from_der(data).is_ok()
}

/// Every certificate in `data`: PEM (one or many) or a single DER one.
pub fn parse_certs(data: &[u8]) -> Result<Vec<SmimeCert>> {
    let blocks = pem_blocks(data)?;
    if blocks.is_empty() {
        return Ok(vec![SmimeCert::from_der(data)?]);
    }
    let certs = blocks
        .iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| SmimeCert::from_der(der))
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(Error::CertificateFile(
            "no CERTIFICATE block in the input".into(),
        ));
    }
    Ok(certs)
}

/// An own private key.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // few, long-lived values
pub enum OwnKey {
    Rsa(rsa::RsaPrivateKey),
    P256(p256::SecretKey),
}

impl std::fmt::Debug for OwnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OwnKey::Rsa(_) => "OwnKey::Rsa(..)",
            OwnKey::P256(_) => "OwnKey::P256(..)",
        })
    }
}

impl OwnKey {
    /// Parses an unencrypted PKCS#8, PKCS#1 (RSA) or SEC1 (EC) key, DER or
    /// a PEM block among others.
    pub fn parse(data: &[u8]) -> Result<OwnKey> {
        let blocks = pem_blocks(data)?;
        let (label, der) = match blocks.into_iter().find(|(l, _)| l.ends_with("PRIVATE KEY")) {
            Some(block) => block,
            None => ("PRIVATE KEY".to_string(), data.to_vec()),
        };
        let bad = |e: String| Error::CertificateFile(format!("cannot read the private key: {e}"));
        match label.as_str() {
            "PRIVATE KEY" => {
                let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(&der).map_err(|e| bad(e.to_string()))?;
                if info.algorithm.oid == oid::RSA_ENCRYPTION {
                    use rsa::pkcs8::DecodePrivateKey;
                    rsa::RsaPrivateKey::from_pkcs8_der(&der)
                        .map(OwnKey::Rsa)
                        .map_err(|e| bad(e.to_string()))
                } else {
                    use p256::pkcs8::DecodePrivateKey;
                    p256::SecretKey::from_pkcs8_der(&der)
                        .map(OwnKey::P256)
                        .map_err(|e| bad(format!("{e} (mailseal uses RSA and P-256 keys)")))
                }
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::RsaPrivateKey::from_pkcs1_der(&der)
                    .map(OwnKey::Rsa)
                    .map_err(|e| bad(e.to_string()))
            }
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                .map(OwnKey::P256)
                .map_err(|e| bad(e.to_string())),
            "ENCRYPTED PRIVATE KEY" => Err(Error::CertificateFile(
                "the private key is encrypted PKCS#8; import it as a .p12 file, or decrypt it first (openssl pkey)".into(),
            )),
            other => Err(bad(format!("unsupported PEM block {other}"))),
        }
    }

    /// PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let doc = match self {
            OwnKey::Rsa(k) => {
                use rsa::pkcs8::EncodePrivateKey;
                k.to_pkcs8_der()
            }
            OwnKey::P256(k) => {
                use p256::pkcs8::EncodePrivateKey;
                k.to_pkcs8_der()
            }
        }
        .map_err(|e| Error::Malformed(format!("cannot encode the private key: {e}")))?;
        Ok(zeroize::Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Whether `cert` carries this key's public half.
    pub fn matches(&self, cert: &SmimeCert) -> bool {
        match (self, cert.public_key()) {
            (OwnKey::Rsa(k), Ok(PublicKey::Rsa(p))) => k.as_ref() == &p,
            (OwnKey::P256(k), Ok(PublicKey::P256(p))) => k.public_key() == p,
            _ => false,
        }
    }

    /// A short algorithm name.
    pub fn algorithm(&self) -> String {
        match self {
            OwnKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                format!("RSA {} bits", k.n().bits())
            }
            OwnKey::P256(_) => "ECDSA/ECDH P-256".into(),
        }
    }
}

/// An own key with its certificate and the chain above it.
#[derive(Debug, Clone)]
pub struct OwnIdentity {
    pub key: OwnKey,
    pub cert: SmimeCert,
    pub chain: Vec<SmimeCert>,
}
