//! Own secret keys: one OpenPGP TSK file per key under `keys/openpgp/`,
//! mode 0600 in a 0700 directory. Protected keys stay encrypted at rest.

use std::fs;
use std::path::{Path, PathBuf};

use sequoia_openpgp::cert::Cert;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::serialize::SerializeInto;
use sequoia_openpgp::KeyHandle;

use super::normalize_address;
use crate::home::{read_private_file, write_private_file};
use crate::{Error, Result};

/// The directory of own secret keys.
pub struct SecretKeys {
    dir: PathBuf,
}

impl SecretKeys {
    /// The store in `dir` (created on first write).
    pub fn new(dir: &Path) -> SecretKeys {
        SecretKeys {
            dir: dir.to_path_buf(),
        }
    }

    fn path_for(&self, cert: &Cert) -> PathBuf {
        self.dir
            .join(format!("{}.pgp", cert.fingerprint().to_hex()))
    }

    /// Stores `tsk`, merging with a copy already present.
    pub fn insert(&self, tsk: &Cert) -> Result<()> {
        if !tsk.is_tsk() {
            return Err(Error::Malformed(format!(
                "{} has no secret key material; to import someone else's certificate use `mailseal cert import`",
                tsk.fingerprint()
            )));
        }
        super::check_supported(tsk)?;
        let path = self.path_for(tsk);
        let merged = match self.read(&path)? {
            Some(existing) => existing
                .merge_public_and_secret(tsk.clone())
                .map_err(Error::OpenPgp)?,
            None => tsk.clone(),
        };
        let bytes = merged.as_tsk().to_vec().map_err(Error::OpenPgp)?;
        write_private_file(&path, &bytes)
    }

    fn read(&self, path: &Path) -> Result<Option<Cert>> {
        if !path.exists() {
            return Ok(None);
        }
        let data = read_private_file(path)?;
        Cert::from_bytes(&data)
            .map(Some)
            .map_err(|e| Error::Malformed(format!("{}: {e}", path.display())))
    }

    /// Every own key.
    pub fn all(&self) -> Result<Vec<Cert>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", self.dir.display()), e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pgp"))
            .collect();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| self.read(p).transpose())
            .collect()
    }

    /// Own keys matching `query`: a fingerprint, key ID or address.
    pub fn find(&self, query: &str) -> Result<Vec<Cert>> {
        let all = self.all()?;
        Ok(matching(&all, query)?.into_iter().cloned().collect())
    }

    /// Removes the key file for `cert`.
    pub fn remove(&self, cert: &Cert) -> Result<()> {
        let path = self.path_for(cert);
        fs::remove_file(&path).map_err(|e| Error::io(format!("removing {}", path.display()), e))
    }
}

/// The certificates among `certs` matching `query`: a fingerprint, key ID
/// or address (one of the user IDs the certificate binds now).
pub fn matching<'c>(certs: &'c [Cert], query: &str) -> Result<Vec<&'c Cert>> {
    if query.contains('@') {
        let wanted = normalize_address(query);
        return Ok(certs
            .iter()
            .filter(|c| super::addresses(c).contains(&wanted))
            .collect());
    }
    let handle: KeyHandle = query.parse().map_err(|_| {
        Error::Usage(format!(
            "{query:?} is neither an address, a fingerprint nor a key ID"
        ))
    })?;
    Ok(certs
        .iter()
        .filter(|c| c.keys().any(|k| k.key().key_handle().aliases(&handle)))
        .collect())
}
