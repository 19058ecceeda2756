//! Unlocking passphrase-protected secret keys. Sources, in order:
//! `--passphrase-file`, `MAILSEAL_PASSPHRASE`, the OS keyring (service
//! `mailseal`, account `openpgp:FINGERPRINT`), and a prompt — the prompt
//! only when stdin is a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use sequoia_openpgp::crypto::{KeyPair, Password};
use sequoia_openpgp::packet::key::{SecretParts, UnspecifiedRole};
use sequoia_openpgp::packet::Key;

use crate::home::read_private_file;
use crate::secrets::keyring_secret;
use crate::{Error, Result};

/// The environment variable that may hold a key passphrase.
pub const PASSPHRASE_ENV: &str = "MAILSEAL_PASSPHRASE";

/// Turns secret keys into usable key pairs, asking for passphrases where
/// needed.
#[derive(Debug, Clone, Default)]
pub struct Unlocker {
    /// A file whose first line is the passphrase (`--passphrase-file`).
    pub passphrase_file: Option<PathBuf>,
}

/// Where a passphrase came from, for error messages.
#[derive(Debug, Clone, Copy)]
enum Source {
    File,
    Environment,
    Keyring,
    Prompt,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::File => "the passphrase from --passphrase-file is wrong",
            Source::Environment => "the passphrase in MAILSEAL_PASSPHRASE is wrong",
            Source::Keyring => "the passphrase stored in the OS keyring is wrong",
            Source::Prompt => "wrong passphrase",
        }
    }
}

impl Unlocker {
    /// A key pair for `key`, decrypting its secret if it is protected.
    pub fn unlock(&self, key: &Key<SecretParts, UnspecifiedRole>) -> Result<KeyPair> {
        let fingerprint = key.fingerprint().to_hex();
        if key.has_unencrypted_secret() {
            return key.clone().into_keypair().map_err(Error::OpenPgp);
        }
        let (source, password) = self.passphrase_for(&fingerprint)?;
        key.clone()
            .decrypt_secret(&password)
            .and_then(|k| k.into_keypair())
            .map_err(|_| Error::Passphrase {
                fingerprint,
                reason: source.describe().into(),
            })
    }

    /// The first line of `--passphrase-file`, when one was given.
    pub fn passphrase_from_file(&self) -> Result<Option<Password>> {
        let Some(path) = &self.passphrase_file else {
            return Ok(None);
        };
        let data = read_private_file(path)?;
        let text = String::from_utf8_lossy(&data);
        Ok(Some(text.lines().next().unwrap_or("").into()))
    }

    /// A password for something that is not an OpenPGP key (a PKCS#12
    /// file): `--passphrase-file`, `MAILSEAL_PASSPHRASE`, the keyring
    /// (account `ACCOUNT`), or a prompt on a terminal.
    pub fn secret_for(&self, account: &str, what: &str) -> Result<zeroize::Zeroizing<String>> {
        if let Some(path) = &self.passphrase_file {
            let data = read_private_file(path)?;
            let text = String::from_utf8_lossy(&data);
            return Ok(zeroize::Zeroizing::new(
                text.lines().next().unwrap_or("").to_string(),
            ));
        }
        if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
            return Ok(zeroize::Zeroizing::new(value));
        }
        if let Some(value) = keyring_secret(account) {
            return Ok(zeroize::Zeroizing::new(value.expose().to_string()));
        }
        if std::io::stdin().is_terminal() {
            let value = rpassword::prompt_password(format!("Password for the {what}: "))
                .map_err(|e| Error::io("reading the password", e))?;
            return Ok(zeroize::Zeroizing::new(value));
        }
        Err(Error::Passphrase {
            fingerprint: what.to_string(),
            reason: "it is password-protected and no password was given (stdin is not a terminal, so there is no prompt)".into(),
        })
    }

    fn passphrase_for(&self, fingerprint: &str) -> Result<(Source, Password)> {
        if let Some(password) = self.passphrase_from_file()? {
            return Ok((Source::File, password));
        }
        if let Ok(value) = std::env::var(PASSPHRASE_ENV) {
            return Ok((Source::Environment, value.as_str().into()));
        }
        if let Some(value) = keyring_secret(&format!("openpgp:{fingerprint}")) {
            return Ok((Source::Keyring, value.expose().into()));
        }
        if std::io::stdin().is_terminal() {
            let value =
                rpassword::prompt_password(format!("Passphrase for OpenPGP key {fingerprint}: "))
                    .map_err(|e| Error::io("reading the passphrase", e))?;
            return Ok((Source::Prompt, value.as_str().into()));
        }
        Err(Error::Passphrase {
            fingerprint: fingerprint.to_string(),
            reason: "it is passphrase-protected and no passphrase was given (stdin is not a terminal, so there is no prompt)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sequoia_openpgp::cert::CertBuilder;

    #[test]
    fn keyring_passphrase_unlocks_a_protected_key() {
        let (cert, _) = CertBuilder::general_purpose(Some("<k@example.org>"))
            .set_password(Some("keyring secret".into()))
            .generate()
            .unwrap();
        let key = cert
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .role_into_unspecified();
        keyring_core::set_default_store(keyring_core::mock::Store::new().unwrap());
        keyring_core::Entry::new(
            crate::secrets::KEYRING_SERVICE,
            &format!("openpgp:{}", key.fingerprint().to_hex()),
        )
        .unwrap()
        .set_password("keyring secret")
        .unwrap();
        assert!(Unlocker::default().unlock(&key).is_ok());
    }
}
