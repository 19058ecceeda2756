//! The X.509 checks SMIMEA needs (x509-cert): the certificate must carry
//! the address (rfc822Name in subjectAltName, or emailAddress in the
//! subject when there is no SAN), be valid now, and allow key
//! encipherment or agreement when it restricts key usage. Path validation
//! to S/MIME trust anchors belongs to the S/MIME store.

use std::time::SystemTime;

use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::Certificate;

use crate::smime::certs::SmimeCert;

/// The DER SubjectPublicKeyInfo of a DER certificate.
pub fn spki_der(cert_der: &[u8]) -> Option<Vec<u8>> {
    let cert = Certificate::from_der(cert_der).ok()?;
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

/// Checks that `cert_der` may receive mail for `address` now.
pub fn check_recipient_cert(cert_der: &[u8], address: &str) -> Result<(), String> {
    let cert = Certificate::from_der(cert_der).map_err(|e| format!("not a certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let wanted = crate::keys::normalize_address(address);
    let found = SmimeCert::addresses_of(&cert);
    if !found.contains(&wanted) {
        return Err(format!(
            "the certificate is for {}, not {address}",
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

    fn cert(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn for_address(address: &str) -> rcgen::CertificateParams {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(address.try_into().unwrap())];
        params
    }

    #[test]
    fn the_address_must_match() {
        let der = cert(for_address("Bob@Example.org"));
        check_recipient_cert(&der, "bob@example.org").unwrap();
        let err = check_recipient_cert(&der, "eve@example.org").unwrap_err();
        assert!(err.contains("bob@example.org"), "{err}");
        assert!(spki_der(&der).is_some());
    }

    #[test]
    fn email_address_in_the_subject_counts_without_a_san() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String("carol@example.org".try_into().unwrap()),
        );
        check_recipient_cert(&cert(params), "carol@example.org").unwrap();
    }

    #[test]
    fn validity_and_key_usage_are_checked() {
        let mut params = for_address("bob@example.org");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        assert!(check_recipient_cert(&cert(params), "bob@example.org")
            .unwrap_err()
            .contains("expired"));
        let mut params = for_address("bob@example.org");
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        assert!(check_recipient_cert(&cert(params), "bob@example.org")
            .unwrap_err()
            .contains("key usage"));
    }

    /// Fuzz-style: every truncation and many bit flips of a real
    /// certificate are handled without a panic.
    #[test]
    fn truncated_and_flipped_certificates_do_not_panic() {
        let der = cert(for_address("bob@example.org"));
        for len in 0..der.len() {
            assert!(check_recipient_cert(&der[..len], "bob@example.org").is_err());
        }
        for i in 0..der.len() {
            let mut flipped = der.clone();
            flipped[i] ^= 0x5a;
            let _ = check_recipient_cert(&flipped, "bob@example.org");
            let _ = spki_der(&flipped);
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        for data in [&b""[..], b"\x30", b"\x30\x82\xff\xff", &[0u8; 4096][..]] {
            assert!(check_recipient_cert(data, "a@b.c").is_err());
            assert!(spki_der(data).is_none());
        }
    }
}
