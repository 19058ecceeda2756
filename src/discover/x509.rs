//! The X.509 checks SMIMEA needs (x509-cert): the certificate must carry
//! the address (rfc822Name in subjectAltName, or emailAddress in the
//! subject when there is no SAN), be valid now, and allow key
//! encipherment or agreement when it restricts key usage. Path validation
//! to S/MIME trust anchors belongs to the S/MIME store.

use std::time::SystemTime;

use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::Certificate;

/// emailAddress (PKCS #9), 1.2.840.113549.1.9.1.
const EMAIL_ADDRESS: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");

/// The DER SubjectPublicKeyInfo of a DER certificate.
pub fn spki_der(cert_der: &[u8]) -> Option<Vec<u8>> {
    let cert = Certificate::from_der(cert_der).ok()?;
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

/// The addresses a certificate is bound to, lowercased.
pub fn addresses(cert: &Certificate) -> Vec<String> {
    let tbs = cert.tbs_certificate();
    let mut out = Vec::new();
    if let Ok(Some((_, san))) = tbs.get_extension::<SubjectAltName>() {
        for name in san.0 {
            if let GeneralName::Rfc822Name(addr) = name {
                out.push(addr.as_str().to_lowercase());
            }
        }
        return out;
    }
    for atv in tbs.subject().iter() {
        if atv.oid == EMAIL_ADDRESS {
            let value = atv.value.value();
            out.push(String::from_utf8_lossy(value).to_lowercase());
        }
    }
    out
}

/// Checks that `cert_der` may receive mail for `address` now.
pub fn check_recipient_cert(cert_der: &[u8], address: &str) -> Result<(), String> {
    let cert = Certificate::from_der(cert_der).map_err(|e| format!("not a certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let wanted = crate::keys::normalize_address(address);
    let found = addresses(&cert);
    if !found.contains(&wanted) {
        return Err(format!(
            "the certificate is for {} , not {address}",
            if found.is_empty() {
                "no address".to_string()
            } else {
                found.join(", ")
            }
        ));
    }
    let now = SystemTime::now();
    let validity = tbs.validity();
    if validity.not_before.to_system_time() > now {
        return Err("the certificate is not valid yet".into());
    }
    if validity.not_after.to_system_time() < now {
        return Err("the certificate has expired".into());
    }
    if let Ok(Some((_, usage))) = tbs.get_extension::<KeyUsage>() {
        let usage: KeyUsage = usage;
        if !(usage.0.contains(KeyUsages::KeyEncipherment)
            || usage.0.contains(KeyUsages::KeyAgreement))
        {
            return Err("the certificate's key usage does not allow encryption".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_certificate() {
        for data in [&b""[..], b"\x30", b"\x30\x82\xff\xff", &[0u8; 4096][..]] {
            assert!(check_recipient_cert(data, "a@b.c").is_err());
            assert!(spki_der(data).is_none());
        }
    }
}
