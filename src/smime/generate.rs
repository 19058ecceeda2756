//! New own S/MIME keys: a P-256 key, a self-signed certificate for it
//! (usable for testing and for encrypt-to-self) and a PKCS#10 request for
//! a CA, made with `rcgen`.

use super::certs::{OwnIdentity, OwnKey, SmimeCert};
use crate::{Error, Result};

/// A generated key with its self-signed certificate and CSR.
pub struct Generated {
    pub identity: OwnIdentity,
    pub csr_pem: String,
}

fn err(e: rcgen::Error) -> Error {
    Error::Malformed(format!("cannot make the certificate: {e}"))
}

/// Makes a P-256 key for `address`.
pub fn self_signed(address: &str, name: Option<&str>) -> Result<Generated> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name.unwrap_or(address));
    params.distinguished_name = dn;
    params.subject_alt_names =
        vec![rcgen::SanType::Rfc822Name(address.try_into().map_err(
            |_| Error::Usage(format!("{address:?} is not an e-mail address")),
        )?)];
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::EmailProtection];
    let now = std::time::SystemTime::now();
    params.not_before = now.into();
    params.not_after = (now + std::time::Duration::from_secs(2 * 365 * 24 * 3600)).into();
    let csr_pem = params
        .serialize_request(&key)
        .and_then(|r| r.pem())
        .map_err(err)?;
    let cert = params.self_signed(&key).map_err(err)?;
    Ok(Generated {
        identity: OwnIdentity {
            key: OwnKey::parse(&key.serialize_der())?,
            cert: SmimeCert::from_der(cert.der())?,
            chain: Vec::new(),
        },
        csr_pem,
    })
}
