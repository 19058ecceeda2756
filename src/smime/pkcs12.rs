//! PKCS#12 (.p12/.pfx) files, the way CAs hand out S/MIME keys, read with
//! `p12-keystore` (OpenSSL 3 default PBES2/AES and `-legacy` RC2/3DES).

use super::certs::{OwnKey, SmimeCert};
use crate::{Error, Result};

/// The private key and every certificate in a PKCS#12 file.
pub fn parse(data: &[u8], password: &str) -> Result<(OwnKey, Vec<SmimeCert>)> {
    let store = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) | p12_keystore::error::Error::UnpadError => {
            Error::Passphrase {
                fingerprint: "PKCS#12 file".into(),
                reason: "wrong password (the file's integrity check failed)".into(),
            }
        }
        other => Error::Malformed(format!("cannot read the PKCS#12 file: {other}")),
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| Error::Malformed("the PKCS#12 file holds no private key".into()))?;
    let key = OwnKey::parse(chain.key())?;
    let mut certs = chain
        .chain()
        .iter()
        .map(|c| SmimeCert::from_der(c.as_der()))
        .collect::<Result<Vec<_>>>()?;
    for (_, entry) in store.entries() {
        if let p12_keystore::KeyStoreEntry::Certificate(c) = entry {
            let cert = SmimeCert::from_der(c.as_der())?;
            if !certs.iter().any(|x| x.der == cert.der) {
                certs.push(cert);
            }
        }
    }
    Ok((key, certs))
}
