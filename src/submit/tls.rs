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
    let spki = spki_of(cert)?;
    let hash = Sha256::digest(spki);
    Some(format!(
        "sha256/{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    ))
}

/// One DER TLV: (tag, whole element, contents, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn tlv(data: &[u8]) -> Option<Tlv<'_>> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *data.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = data.get(..end)?;
    Some((tag, whole, &whole[header..], &data[end..]))
}

/// The DER SubjectPublicKeyInfo inside an X.509 certificate.
fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    // serial, signature algorithm, issuer, validity, subject, then the SPKI.
    tbs_fields(cert)?
        .get(5)
        .copied()
        .filter(|spki| spki.first() == Some(&0x30))
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
    let fields = tbs_fields(cert);
    let get = |i: usize| fields.as_ref().and_then(|f| f.get(i).copied());
    CertInfo {
        subject: get(4).and_then(common_name),
        issuer: get(2).and_then(common_name),
        not_after: get(3).and_then(|validity| {
            let (_, _, times, _) = tlv(validity)?;
            let (_, _, _, rest) = tlv(times)?;
            let (tag, _, time, _) = tlv(rest)?;
            format_time(tag, time)
        }),
    }
}

/// The elements of TBSCertificate after the version: serial, signature
/// algorithm, issuer, validity, subject, subjectPublicKeyInfo, ...
fn tbs_fields(cert: &[u8]) -> Option<Vec<&[u8]>> {
    let (0x30, _, certificate, _) = tlv(cert)? else {
        return None;
    };
    let (0x30, _, tbs, _) = tlv(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.3;
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (_, whole, _, next) = tlv(rest)?;
        out.push(whole);
        rest = next;
    }
    Some(out)
}

/// The first commonName (2.5.4.3) in a DER Name.
fn common_name(name: &[u8]) -> Option<String> {
    let (0x30, _, mut rdns, _) = tlv(name)? else {
        return None;
    };
    while !rdns.is_empty() {
        let (_, _, set, next) = tlv(rdns)?;
        let (_, _, attribute, _) = tlv(set)?;
        let (_, _, oid, value) = tlv(attribute)?;
        if oid == [0x55, 0x04, 0x03] {
            let (_, _, text, _) = tlv(value)?;
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        rdns = next;
    }
    None
}

/// UTCTime (0x17) or GeneralizedTime (0x18) as `YYYY-MM-DD HH:MM:SS UTC`.
fn format_time(tag: u8, time: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(time).ok()?;
    let full = match tag {
        0x17 if text.len() >= 12 => {
            let yy: u32 = text[..2].parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    if full.len() < 14 || !full[..14].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{} {}:{}:{} UTC",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    ))
}

/// `TLSv1.3`, `TLSv1.2`.
pub fn version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
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
    fn times_format() {
        assert_eq!(
            format_time(0x17, b"301231235959Z").as_deref(),
            Some("2030-12-31 23:59:59 UTC")
        );
        assert_eq!(
            format_time(0x18, b"20500101000000Z").as_deref(),
            Some("2050-01-01 00:00:00 UTC")
        );
        assert_eq!(format_time(0x17, b"junk"), None);
    }

    #[test]
    fn garbage_has_no_spki() {
        assert_eq!(spki_pin(b"\x30\x03\x02\x01"), None);
        assert_eq!(spki_pin(b""), None);
    }
}
