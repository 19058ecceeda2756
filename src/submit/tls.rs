//! The TLS side of submission: rustls (ring provider) with TLS 1.2/1.3 and
//! rustls' default AEAD + (EC)DHE suites, the system's roots (webpki-roots,
//! the Mozilla bundle, where the system has none) plus the relay's and
//! `[network]`'s `ca_file`, hostname
//! verification, and an optional SPKI SHA-256 pin checked after the
//! handshake.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The system roots (webpki-roots where the system has none), read once
/// per process: a long-running process (the agent) does not parse the
/// system store again for every connection.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: std::sync::OnceLock<RootCertStore> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        // Unreadable system certificates are skipped; rustls rejects bad ones.
        let system = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(system.certs);
        if added == 0 {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

/// A client configuration trusting the system roots and `extra_ca_files`
/// (read each time).
pub fn client_config(extra_ca_files: &[&Path]) -> Result<Arc<ClientConfig>> {
    let mut roots = system_roots().clone();
    for path in extra_ca_files {
        let bad = |reason: String| Error::Config {
            path: path.to_path_buf(),
            message: reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(format!("cannot read the CA file: {e}")))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("unusable CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("the CA file holds no certificate".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::TlsRefused(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A parsed `pin = "sha256/BASE64"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    /// Parses `sha256/BASE64` (standard base64 of the SHA-256 of the DER
    /// SubjectPublicKeyInfo, as `openssl ... | openssl dgst -sha256 -binary |
    /// base64` prints it).
    pub fn parse(spec: &str) -> std::result::Result<Pin, String> {
        let b64 = spec
            .strip_prefix("sha256/")
            .ok_or_else(|| "pin must look like sha256/BASE64".to_string())?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("pin is not base64: {e}"))?;
        let hash: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "pin is not a SHA-256 (32 bytes)".to_string())?;
        Ok(Pin(hash))
    }
}

/// `sha256/BASE64` of the SubjectPublicKeyInfo of `cert`.
pub fn spki_pin(cert: &[u8]) -> Option<String> {
    use der::Encode;
    let spki = parse(cert)?
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    let hash = Sha256::digest(spki);
    Some(format!(
        "sha256/{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    ))
}

/// A DER X.509 certificate, parsed with `x509-cert`.
fn parse(cert: &[u8]) -> Option<x509_cert::Certificate> {
    use der::Decode;
    x509_cert::Certificate::from_der(cert).ok()
}

/// What `relay check` shows of one certificate in the server's chain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertInfo {
    /// The subject's common name, when it has one.
    pub subject: Option<String>,
    /// The issuer's common name, when it has one.
    pub issuer: Option<String>,
    /// End of validity, `YYYY-MM-DD HH:MM:SS UTC`.
    pub not_after: Option<String>,
}

/// Subject, issuer and expiry of a DER certificate (best effort: fields
/// that cannot be read are `None`).
pub fn cert_info(cert: &[u8]) -> CertInfo {
    let Some(cert) = parse(cert) else {
        return CertInfo {
            subject: None,
            issuer: None,
            not_after: None,
        };
    };
    let tbs = cert.tbs_certificate();
    let t = tbs.validity().not_after.to_date_time();
    CertInfo {
        subject: common_name(tbs.subject()),
        issuer: common_name(tbs.issuer()),
        not_after: Some(format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        )),
    }
}

/// The first commonName (2.5.4.3) in a Name.
fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    const CN: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("2.5.4.3");
    let value = &name.iter().find(|atv| atv.oid == CN)?.value;
    // DirectoryString: UTF8String, PrintableString, ... all carry text.
    Some(String::from_utf8_lossy(value.value()).into_owned())
}

/// `TLSv1.3`, `TLSv1.2`.
pub fn version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

/// A failed handshake in words, with what to change in `[relay.NAME]`
/// (`relay`): rustls and webpki errors are named after their internals
/// (`UnknownIssuer`, `CaUsedAsEndEntity`), which says nothing to a user.
pub fn explain(error: &std::io::Error, relay: &str) -> String {
    use rustls::{AlertDescription, CertificateError as C, Error as E};
    let table = format!("[relay.{relay}]");
    let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<E>()) else {
        return error.to_string();
    };
    let ca_fix = format!(
        "if you trust this relay, put the certificate of the CA that issued its certificate (PEM) in ca_file in {table}; pin = \"sha256/…\" then also ties it to that one key"
    );
    match tls {
        E::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => format!(
                "its certificate is issued by an authority that is neither in the system's roots nor in ca_file; {ca_fix}"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                "its certificate has expired; the relay's operator must renew it (check this machine's clock too)".into()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "its certificate is not valid yet; check this machine's clock".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                let presented = match cert {
                    C::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
                        // rustls words them `DnsName("mx.example")`.
                        let names: Vec<&str> = presented
                            .iter()
                            .map(|p| p.split('"').nth(1).unwrap_or(p))
                            .collect();
                        format!(" (it names {})", names.join(", "))
                    }
                    _ => String::new(),
                };
                format!(
                    "its certificate is not for this host name{presented}; set host in {table} to a name the certificate carries"
                )
            }
            C::Revoked => "its certificate has been revoked".into(),
            C::BadSignature | C::BadEncoding => {
                "its certificate is damaged or forged (bad signature or encoding)".into()
            }
            C::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => format!(
                "it presents a CA certificate (basicConstraints CA:TRUE) as its own, as `openssl req -x509` makes by default for a self-signed certificate; TLS clients refuse that even when it is in ca_file. Give the relay a certificate issued by that CA (and put the CA in ca_file in {table}), or a self-signed one made with -addext basicConstraints=critical,CA:FALSE (and put it in ca_file)"
            ),
            other => format!("its certificate is not acceptable ({other:?}); {ca_fix}"),
        },
        E::PeerIncompatible(why) => format!(
            "the relay offers nothing acceptable ({why:?}): mailseal speaks only TLS 1.2 and 1.3 with forward-secret AEAD ciphers; the relay needs upgrading"
        ),
        E::AlertReceived(AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure) => {
            "the relay refused every TLS version and cipher mailseal offers (only TLS 1.2 and 1.3 with forward-secret AEAD ciphers); the relay needs upgrading".into()
        }
        E::AlertReceived(alert) => format!("the relay ended the handshake with the alert {alert:?}"),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => format!(
            "the relay does not speak TLS here ({tls}): check port and tls (\"implicit\" for 465, \"starttls\" for 587) in {table}"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse() {
        let pin = format!(
            "sha256/{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        assert_eq!(Pin::parse(&pin).unwrap(), Pin([7u8; 32]));
        assert!(Pin::parse("md5/AAAA").is_err());
        assert!(Pin::parse("sha256/AAAA").is_err());
    }

    #[test]
    fn cert_info_and_pin_of_a_certificate() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["smtp.example.org".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "smtp.example.org");
        params.distinguished_name = dn;
        params.not_after = rcgen::date_time_ymd(2030, 12, 31);
        let cert = params.self_signed(&key).unwrap();
        let info = cert_info(cert.der());
        assert_eq!(info.subject.as_deref(), Some("smtp.example.org"));
        assert_eq!(info.issuer.as_deref(), Some("smtp.example.org"));
        assert_eq!(info.not_after.as_deref(), Some("2030-12-31 00:00:00 UTC"));
        let pin = spki_pin(cert.der()).unwrap();
        use rcgen::PublicKeyData;
        let expected = Sha256::digest(key.subject_public_key_info());
        assert_eq!(
            pin,
            format!(
                "sha256/{}",
                base64::engine::general_purpose::STANDARD.encode(expected)
            )
        );
    }

    #[test]
    fn garbage_has_no_spki() {
        assert_eq!(spki_pin(b"\x30\x03\x02\x01"), None);
        assert_eq!(spki_pin(b""), None);
    }
}
