//! The `[smime]` settings, read into the types the engine uses.

use crate::config::Smime;
use crate::{Error, Result};

use super::certs::SmimeCert;
use super::{ContentCipher, KeyTransport, RsaSignature};

fn bad(message: String) -> Error {
    Error::Config {
        path: "config.toml".into(),
        message,
    }
}

/// The content cipher for a message to `recipients`: CBC when the setting
/// or any recipient's override asks for it (every recipient must read the
/// one copy), else GCM.
pub fn content_cipher(config: &Smime, recipients: &[String]) -> Result<ContentCipher> {
    let parse = |name: &str| {
        ContentCipher::parse(name).ok_or_else(|| {
            bad(format!(
                "smime content cipher {name:?}: use \"aes256-gcm\" or \"aes256-cbc\""
            ))
        })
    };
    let mut cipher = match &config.content_cipher {
        Some(name) => parse(name)?,
        None => ContentCipher::Aes256Gcm,
    };
    for address in recipients {
        let lower = address.to_lowercase();
        let domain = lower.rsplit_once('@').map(|(_, d)| format!("@{d}"));
        for (key, name) in &config.recipient_cipher {
            let key = key.to_lowercase();
            let applies = key == lower || Some(&key) == domain.as_ref();
            if applies && parse(name)? == ContentCipher::Aes256Cbc {
                cipher = ContentCipher::Aes256Cbc;
            }
        }
    }
    Ok(cipher)
}

/// The RSA key transport setting.
pub fn key_transport(config: &Smime) -> Result<KeyTransport> {
    match &config.key_transport {
        None => Ok(KeyTransport::RsaPkcs1v15),
        Some(name) => KeyTransport::parse(name).ok_or_else(|| {
            bad(format!(
                "smime.key_transport {name:?}: use \"rsa-pkcs1v15\" or \"rsa-oaep\""
            ))
        }),
    }
}

/// The trust anchors: the configured files, plus the system's roots when
/// `system_roots` is on.
pub fn trust_anchors(config: &Smime) -> Result<Vec<SmimeCert>> {
    let mut anchors = super::validate::load_anchors(&config.trust_anchors)?;
    if config.system_roots {
        for der in rustls_native_certs::load_native_certs().certs {
            if let Ok(cert) = SmimeCert::from_der(der.as_ref()) {
                anchors.push(cert);
            }
        }
    }
    Ok(anchors)
}

/// The RSA signature scheme setting.
pub fn rsa_signature(config: &Smime) -> Result<RsaSignature> {
    match config.rsa_signature.as_deref() {
        None | Some("pkcs1v15") | Some("rsa-pkcs1v15") => Ok(RsaSignature::Pkcs1v15),
        Some("pss") | Some("rsa-pss") => Ok(RsaSignature::Pss),
        Some(other) => Err(bad(format!(
            "smime.rsa_signature {other:?}: use \"rsa-pkcs1v15\" or \"rsa-pss\""
        ))),
    }
}
