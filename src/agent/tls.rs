//! The agent's local TLS certificate (STARTTLS and implicit TLS): a
//! self-signed ECDSA P-256 certificate for the agent's host name,
//! `127.0.0.1` and `::1` (and the listen address), generated with rcgen on
//! first start and kept in the home (`agent/cert.pem`, `agent/key.pem`,
//! both 0600). Mail clients are given `cert.pem` as their CA file;
//! `mailseal agent info` shows its path and SHA-256 fingerprint.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::home::{read_private_file, write_private_file};
use crate::submit::spki_pin;
use crate::{Error, Result};

/// The certificate and key of the agent.
pub struct LocalCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl LocalCert {
    /// `AB:CD:…`, the SHA-256 fingerprint mail clients show.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.cert.as_ref())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// `sha256/…` of the public key (for clients that pin).
    pub fn spki_pin(&self) -> Option<String> {
        spki_pin(&self.cert)
    }

    /// A rustls server configuration presenting this certificate: TLS 1.2
    /// and 1.3 with rustls' safe defaults, ring provider.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![self.cert.clone()], self.key.clone_key())
        })
        .map_err(|e| Error::Home {
            path: self.cert_file.clone(),
            reason: format!("unusable TLS certificate or key: {e}"),
        })?;
        Ok(Arc::new(config))
    }
}

/// Loads the certificate from `dir`, generating it first when it is not
/// there. `extra_ip` (the listen address) is added to a new certificate.
pub fn ensure(dir: &Path, hostname: &str, extra_ip: Option<IpAddr>) -> Result<LocalCert> {
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    if !cert_file.exists() || !key_file.exists() {
        generate(&cert_file, &key_file, hostname, extra_ip)?;
    }
    let bad = |path: &Path, reason: String| Error::Home {
        path: path.to_path_buf(),
        reason,
    };
    let cert_pem = std::fs::read(&cert_file).map_err(|e| bad(&cert_file, e.to_string()))?;
    let cert = CertificateDer::from_pem_slice(&cert_pem)
        .map_err(|e| bad(&cert_file, format!("not a PEM certificate: {e}")))?;
    let key_pem = read_private_file(&key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| bad(&key_file, format!("not a PEM private key: {e}")))?;
    Ok(LocalCert {
        cert_file,
        key_file,
        cert,
        key,
    })
}

fn generate(
    cert_file: &Path,
    key_file: &Path,
    hostname: &str,
    extra_ip: Option<IpAddr>,
) -> Result<()> {
    let failed = |e: rcgen::Error| Error::Home {
        path: cert_file.to_path_buf(),
        reason: format!("cannot generate the agent's certificate: {e}"),
    };
    let mut names = vec![hostname.to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(ip) = extra_ip.filter(|ip| !ip.is_unspecified()) {
        if !names.contains(&ip.to_string()) {
            names.push(ip.to_string());
        }
    }
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(names).map_err(failed)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("mailseal agent on {hostname}"),
    );
    let year = 1970
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let cert = params.self_signed(&key).map_err(failed)?;
    write_private_file(key_file, key.serialize_pem().as_bytes())?;
    write_private_file(cert_file, cert.pem().as_bytes())
}
